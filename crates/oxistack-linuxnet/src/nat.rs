//! A router's address translation, as one nftables table replaced
//! atomically: floating IPs (DNAT in, SNAT out) and, with SNAT enabled,
//! the internal subnets masqueraded behind the gateway address.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use oxistack_netplane::DataPlaneError;

use crate::command::Runner;
use crate::nftables;

/// The table's name, in the `ip` family of the router's namespace.
pub(crate) const TABLE: &str = "oxistack-nat";
const FLOATING_TO_FIXED: &str = "floating_to_fixed";
const FIXED_TO_FLOATING: &str = "fixed_to_floating";

/// What a router with a gateway translates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Nat {
    /// The router's leg on the external network (`qg-...`).
    pub gateway_device: String,
    /// Where the internal subnets' traffic is masqueraded to; `None`
    /// without SNAT.
    pub snat_address: Option<Ipv4Addr>,
    pub internal_subnets: Vec<Ipv4Net>,
    /// Associated floating IPs: floating → fixed.
    pub floating: BTreeMap<Ipv4Addr, Ipv4Addr>,
}

/// The `nft -f` script that makes the router's table exactly `nat`; with
/// `None` (no gateway) it only removes the table.
pub(crate) fn render(nat: Option<&Nat>) -> String {
    // Declaring the table first makes the delete succeed when it does not
    // exist yet; both happen in the same transaction as the new table.
    let mut script = format!("table ip {TABLE}\ndelete table ip {TABLE}\n");
    let Some(nat) = nat else {
        return script;
    };
    let gateway = &nat.gateway_device;
    let mut fixed_to_floating: BTreeMap<Ipv4Addr, Ipv4Addr> = BTreeMap::new();
    for (floating, fixed) in &nat.floating {
        // One fixed address can have one floating IP (Neutron refuses
        // more); the lowest wins should a state say otherwise.
        fixed_to_floating.entry(*fixed).or_insert(*floating);
    }
    let _ = writeln!(script, "table ip {TABLE} {{");
    write_map(&mut script, FLOATING_TO_FIXED, &nat.floating);
    write_map(&mut script, FIXED_TO_FLOATING, &fixed_to_floating);
    // Floating IPs are translated whichever side they are reached from:
    // the external network, an internal subnet (so instances reach each
    // other's floating IPs) or the router itself.
    let _ = write!(
        script,
        "\tchain prerouting {{\n\
         \t\ttype nat hook prerouting priority dstnat; policy accept;\n\
         \t\tdnat to ip daddr map @{FLOATING_TO_FIXED}\n\
         \t}}\n\
         \tchain output {{\n\
         \t\ttype nat hook output priority -100; policy accept;\n\
         \t\tdnat to ip daddr map @{FLOATING_TO_FIXED}\n\
         \t}}\n\
         \tchain postrouting {{\n\
         \t\ttype nat hook postrouting priority srcnat; policy accept;\n\
         \t\toifname \"{gateway}\" snat to ip saddr map @{FIXED_TO_FLOATING}\n"
    );
    // An instance reaching a floating IP of its own subnet would get the
    // answer straight from its neighbour, from the wrong address: such
    // internal → floating → internal traffic leaves from the router.
    let _ = writeln!(
        script,
        "\t\tiifname != \"{gateway}\" oifname != \"{gateway}\" ct status dnat masquerade"
    );
    if let Some(address) = nat.snat_address
        && !nat.internal_subnets.is_empty()
    {
        let subnets: Vec<String> = nat.internal_subnets.iter().map(|s| s.to_string()).collect();
        let _ = writeln!(
            script,
            "\t\toifname \"{gateway}\" ip saddr {{ {} }} snat to {address}",
            subnets.join(", ")
        );
    }
    script.push_str("\t}\n}\n");
    script
}

fn write_map(script: &mut String, name: &str, pairs: &BTreeMap<Ipv4Addr, Ipv4Addr>) {
    let _ = write!(script, "\tmap {name} {{\n\t\ttype ipv4_addr : ipv4_addr\n");
    if !pairs.is_empty() {
        let elements: Vec<String> = pairs.iter().map(|(k, v)| format!("{k} : {v}")).collect();
        let _ = writeln!(script, "\t\telements = {{ {} }}", elements.join(", "));
    }
    script.push_str("\t}\n");
}

/// The floating → fixed pairs the router's loaded table translates.
pub(crate) async fn loaded_floating(
    runner: &Runner,
    namespace: &str,
) -> Result<BTreeMap<Ipv4Addr, Ipv4Addr>, DataPlaneError> {
    let listing =
        nftables::list(runner, namespace, &["map", "ip", TABLE, FLOATING_TO_FIXED]).await?;
    Ok(listing
        .iter()
        .filter_map(|object| object.get("map")?.get("elem")?.as_array())
        .flatten()
        .filter_map(|pair| {
            let pair = pair.as_array()?;
            let floating = pair.first()?.as_str()?.parse().ok()?;
            let fixed = pair.get(1)?.as_str()?.parse().ok()?;
            Some((floating, fixed))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_floating_ips_and_snat() {
        let nat = Nat {
            gateway_device: "qg-1".into(),
            snat_address: Some("172.24.4.10".parse().unwrap()),
            internal_subnets: vec![
                "10.0.0.0/24".parse().unwrap(),
                "10.1.0.0/24".parse().unwrap(),
            ],
            floating: [("172.24.4.20".parse().unwrap(), "10.0.0.5".parse().unwrap())].into(),
        };
        let script = render(Some(&nat));
        assert!(script.starts_with("table ip oxistack-nat\ndelete table ip oxistack-nat\n"));
        assert!(script.contains("map floating_to_fixed {\n\t\ttype ipv4_addr : ipv4_addr\n\t\telements = { 172.24.4.20 : 10.0.0.5 }"));
        assert!(script.contains("elements = { 10.0.0.5 : 172.24.4.20 }"));
        assert!(script.contains(
            "oifname \"qg-1\" ip saddr { 10.0.0.0/24, 10.1.0.0/24 } snat to 172.24.4.10"
        ));
        // Floating SNAT comes before the subnets' SNAT.
        assert!(script.find("saddr map").unwrap() < script.find("snat to 172.24.4.10").unwrap());
    }

    #[test]
    fn without_snat_or_gateway_less_is_rendered() {
        let nat = Nat {
            gateway_device: "qg-1".into(),
            snat_address: None,
            internal_subnets: vec!["10.0.0.0/24".parse().unwrap()],
            floating: BTreeMap::new(),
        };
        let script = render(Some(&nat));
        assert!(!script.contains("snat to 1"));
        assert!(!script.contains("elements"));
        assert_eq!(
            render(None),
            "table ip oxistack-nat\ndelete table ip oxistack-nat\n"
        );
    }
}
