//! What exists in a namespace, read with one JSON dump per question
//! (`ip -j -d addr show`, `ip -j route show table all`), so a converged
//! apply costs a handful of processes however many ports there are.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ipnet::IpNet;
use oxistack_netplane::DataPlaneError;
use serde::Deserialize;

use crate::command::{Cmd, Runner};

/// One network device as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Link {
    /// `linkinfo.info_kind`: `bridge`, `veth`, `tun`, ... (`None` for lo).
    pub kind: Option<String>,
    pub master: Option<String>,
    pub mtu: u32,
    /// Administratively up (`UP` among the flags).
    pub up: bool,
    /// Lowercase MAC.
    pub mac: Option<String>,
    /// Addresses, without IPv6 link-local ones (the kernel makes those).
    pub addresses: BTreeSet<IpNet>,
    /// For bridges: the per-bridge `nf_call_iptables` option.
    pub nf_call_iptables: Option<bool>,
}

/// The devices of a namespace, by name.
pub(crate) type Links = BTreeMap<String, Link>;

#[derive(Deserialize)]
struct RawLink {
    ifname: String,
    #[serde(default)]
    flags: Vec<String>,
    mtu: u32,
    master: Option<String>,
    address: Option<String>,
    linkinfo: Option<RawLinkInfo>,
    #[serde(default)]
    addr_info: Vec<RawAddress>,
}

#[derive(Deserialize)]
struct RawLinkInfo {
    info_kind: Option<String>,
    info_data: Option<RawLinkData>,
}

#[derive(Deserialize)]
struct RawLinkData {
    nf_call_iptables: Option<u8>,
}

#[derive(Deserialize)]
struct RawAddress {
    local: IpAddr,
    prefixlen: u8,
    scope: Option<String>,
}

/// The devices in `namespace` with their addresses.
pub(crate) async fn links(runner: &Runner, namespace: &str) -> Result<Links, DataPlaneError> {
    let json = runner
        .query(Cmd::ip(namespace).args(["-j", "-d", "addr", "show"]))
        .await?;
    parse_links(&json).map_err(|e| unparsable(namespace, "ip -j -d addr show", e))
}

/// Devices in the namespace oxistack runs in (bridged uplink only).
pub(crate) async fn root_links(runner: &Runner) -> Result<Links, DataPlaneError> {
    let json = runner
        .query(Cmd::ip_root().args(["-j", "-d", "link", "show"]))
        .await?;
    parse_links(&json).map_err(|e| unparsable("(host)", "ip -j -d link show", e))
}

fn unparsable(namespace: &str, what: &str, error: serde_json::Error) -> DataPlaneError {
    DataPlaneError::Io {
        context: format!("reading `{what}` of namespace {namespace}"),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, error),
    }
}

fn parse_links(json: &str) -> Result<Links, serde_json::Error> {
    let raw: Vec<RawLink> = serde_json::from_str(json)?;
    Ok(raw
        .into_iter()
        .map(|link| {
            let addresses = link
                .addr_info
                .iter()
                .filter(|a| !(a.local.is_ipv6() && a.scope.as_deref() == Some("link")))
                .filter_map(|a| IpNet::new(a.local, a.prefixlen).ok())
                .collect();
            let (kind, nf_call_iptables) = match link.linkinfo {
                Some(info) => (
                    info.info_kind,
                    info.info_data
                        .and_then(|d| d.nf_call_iptables)
                        .map(|v| v == 1),
                ),
                None => (None, None),
            };
            (
                link.ifname,
                Link {
                    kind,
                    master: link.master,
                    mtu: link.mtu,
                    up: link.flags.iter().any(|f| f == "UP"),
                    mac: link.address.map(|m| m.to_ascii_lowercase()),
                    addresses,
                    nf_call_iptables,
                },
            )
        })
        .collect())
}

/// A route the data plane manages: `proto static` in the main table.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct StaticRoute {
    pub destination: IpNet,
    pub via: IpAddr,
}

#[derive(Deserialize)]
struct RawRoute {
    dst: String,
    gateway: Option<IpAddr>,
    protocol: Option<String>,
    table: Option<String>,
}

/// The `proto static` routes of the main tables (IPv4 and IPv6) of
/// `namespace`: the ones the data plane added. Connected routes (`proto
/// kernel`) are the kernel's business.
pub(crate) async fn static_routes(
    runner: &Runner,
    namespace: &str,
) -> Result<BTreeSet<StaticRoute>, DataPlaneError> {
    let json = runner
        .query(Cmd::ip(namespace).args(["-j", "route", "show", "table", "all"]))
        .await?;
    parse_static_routes(&json).map_err(|e| unparsable(namespace, "ip -j route show", e))
}

fn parse_static_routes(json: &str) -> Result<BTreeSet<StaticRoute>, serde_json::Error> {
    let raw: Vec<RawRoute> = serde_json::from_str(json)?;
    Ok(raw
        .into_iter()
        // Routes of the main table carry no `table` field.
        .filter(|r| r.table.is_none() && r.protocol.as_deref() == Some("static"))
        .filter_map(|r| {
            let via = r.gateway?;
            let destination = parse_destination(&r.dst, via)?;
            Some(StaticRoute { destination, via })
        })
        .collect())
}

/// `default`, `10.9.0.0/16` or a bare host address, in the next hop's
/// family.
fn parse_destination(dst: &str, via: IpAddr) -> Option<IpNet> {
    if dst == "default" {
        return Some(match via {
            IpAddr::V4(_) => IpNet::V4(Default::default()),
            IpAddr::V6(_) => IpNet::V6(Default::default()),
        });
    }
    dst.parse::<IpNet>()
        .ok()
        .or_else(|| dst.parse::<IpAddr>().ok().map(IpNet::from))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_read_from_ip_json() {
        let json = r#"[{"ifindex":2,"ifname":"brq1","flags":["BROADCAST","UP"],"mtu":1450,
            "address":"AA:BB:CC:DD:EE:FF","linkinfo":{"info_kind":"bridge","info_data":{"nf_call_iptables":1}},
            "addr_info":[]},
            {"ifindex":3,"ifname":"qr-1","flags":["BROADCAST"],"mtu":1500,"master":"brq1",
            "linkinfo":{"info_kind":"veth"},"addr_info":[
              {"family":"inet","local":"10.0.0.1","prefixlen":24,"scope":"global"},
              {"family":"inet6","local":"fe80::1","prefixlen":64,"scope":"link"}]}]"#;
        let links = parse_links(json).unwrap();
        let bridge = &links["brq1"];
        assert!(bridge.up);
        assert_eq!(bridge.kind.as_deref(), Some("bridge"));
        assert_eq!(bridge.nf_call_iptables, Some(true));
        assert_eq!(bridge.mac.as_deref(), Some("aa:bb:cc:dd:ee:ff"));
        let leg = &links["qr-1"];
        assert!(!leg.up);
        assert_eq!(leg.master.as_deref(), Some("brq1"));
        assert_eq!(
            leg.addresses
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>(),
            ["10.0.0.1/24"]
        );
    }

    #[test]
    fn only_static_main_table_routes_are_managed() {
        let json = r#"[{"dst":"default","gateway":"172.24.4.1","dev":"qg-1","protocol":"static","flags":[]},
            {"dst":"10.0.0.0/24","dev":"qr-1","protocol":"kernel","scope":"link","flags":[]},
            {"dst":"10.9.0.5","gateway":"10.0.0.3","dev":"qr-1","protocol":"static","flags":[]},
            {"dst":"default","gateway":"2001:db8::1","dev":"qg-1","protocol":"static","flags":[]},
            {"type":"local","dst":"10.0.0.1","dev":"qr-1","table":"local","protocol":"kernel","flags":[]},
            {"dst":"10.8.0.0/16","gateway":"10.0.0.4","dev":"qr-1","flags":[]}]"#;
        let routes: Vec<String> = parse_static_routes(json)
            .unwrap()
            .into_iter()
            .map(|r| format!("{} via {}", r.destination, r.via))
            .collect();
        assert_eq!(
            routes,
            [
                "0.0.0.0/0 via 172.24.4.1",
                "10.9.0.5/32 via 10.0.0.3",
                "::/0 via 2001:db8::1"
            ]
        );
    }
}
