//! Neutron's security groups and anti-spoofing for the fabric namespace,
//! rendered as one `nft -f` script from the [`NetworkState`].
//!
//! The fabric holds one Linux bridge per network with `nf_call_iptables`
//! on, so bridged IPv4 frames also cross the `inet` family's hooks, where
//! conntrack works, but where the in and out devices are always the
//! bridge, never the port. The `bridge` family's hooks see the ports, but
//! have no conntrack of their own. Hence two tables:
//!
//! - `table bridge oxistack-spoof` ([`ANTI_SPOOFING_TABLE`]), stateless:
//!   a frame an instance sends must carry its MAC and one of its
//!   addresses (fixed IPs, allowed address pairs), as ARP or IPv4; it may
//!   ask for DHCP but not answer it. Everything else is dropped (IPv6
//!   included: the data plane is IPv4-only). The chain also marks the
//!   frame with the port's number (`meta mark`), which is how the `inet`
//!   table learns which port sent a packet.
//! - `table inet oxistack-sg` ([`SECURITY_GROUP_TABLE`]), stateful: each
//!   bridge gets its own conntrack zone, so tenants' overlapping address
//!   spaces never share conntrack entries; replies are accepted; a new
//!   packet from a filtered port must pass that port's egress chain (found
//!   by the mark) and, when it goes to a filtered port, that port's
//!   ingress chain (found by the bridge and the destination MAC).
//!
//! Why the mark and the MAC rather than source and destination addresses,
//! the obvious keys in a table that cannot see ports: allowed address
//! pairs overlap in practice. Two instances sharing a VRRP address both
//! list it as a pair, and a pair may be a prefix covering other ports'
//! addresses. Keyed by address, such ports would share, or fight over,
//! one map entry; the mark names the sending port exactly, and a frame's
//! destination MAC names the receiving one (pairs default to the port's
//! own MAC).
//!
//! Only instances' ports (`device_owner` `compute:*`) and load balancers'
//! legs (`Octavia`) with port security on are filtered; routers', DHCP
//! servers' and floating IPs' legs are trusted. Security group rules for IPv6 are ignored, as the data plane
//! carries no IPv6. Rules the API would have rejected (ports without a
//! protocol that has them, an IPv6 prefix in an IPv4 rule) allow nothing.
//!
//! The script replaces both tables in one transaction, so packets see
//! either the old ruleset or the new one, and applying it twice leaves
//! the same ruleset. Connections a removed rule allowed stay established
//! until they end or time out.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::process::Stdio;

use ipnet::IpNet;
use oxistack_netplane::{
    DataPlaneError, Direction, EtherType, NetworkState, Port, PortMatch, Remote, SecurityGroup,
    SecurityGroupRule,
};

use crate::naming;
use crate::plan::is_endpoint_port;

/// The `inet` table holding the security groups.
pub const SECURITY_GROUP_TABLE: &str = "oxistack-sg";
/// The `bridge` table holding the anti-spoofing rules.
pub const ANTI_SPOOFING_TABLE: &str = "oxistack-spoof";

/// Conntrack zones are 16-bit; networks get one in `1..=ZONE_COUNT`,
/// leaving zone 0 (the default) and the top of the range to others.
const ZONE_COUNT: u32 = 65_000;

/// IP protocols whose rules may match destination ports: TCP, UDP, DCCP,
/// SCTP and UDP-Lite, whose headers all start with the two ports.
const PROTOCOLS_WITH_PORTS: [u8; 5] = [6, 17, 33, 132, 136];
const ICMP: u8 = 1;

/// The conntrack zone of every network in `state`, by network id.
///
/// A zone must not change while a network exists, or its connections
/// would be forgotten on the next apply; so it is derived from the id
/// alone: FNV-1a of the id, reduced to `1..=65000`. Two networks landing
/// on one zone are settled in the order of their ids (the state's order):
/// the later one takes the next free zone. So a network's zone only moves
/// if a network with a smaller id arrives and collides with it, which
/// costs it its conntrack entries once, never its isolation.
pub fn conntrack_zones(state: &NetworkState) -> BTreeMap<String, u16> {
    let mut ids: Vec<&str> = state.networks.iter().map(|n| n.id.as_str()).collect();
    ids.sort_unstable();
    let mut taken = BTreeSet::new();
    let mut zones = BTreeMap::new();
    for id in ids {
        let mut slot = fnv1a(id) % ZONE_COUNT;
        while !taken.insert(slot) {
            slot = (slot + 1) % ZONE_COUNT;
        }
        let zone = u16::try_from(slot + 1).expect("zones stay below 65001");
        zones.insert(id.to_owned(), zone);
    }
    zones
}

/// 32-bit FNV-1a: tiny, and fixed forever, unlike std's hashers.
fn fnv1a(text: &str) -> u32 {
    text.bytes().fold(0x811c_9dc5, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    })
}

/// A complete `nft -f` script that replaces the fabric's two tables with
/// the security groups and anti-spoofing rules `state` asks for.
pub fn fabric_ruleset(state: &NetworkState) -> String {
    let ports = filtered_ports(state);
    let groups: BTreeMap<&str, &SecurityGroup> = state
        .security_groups
        .iter()
        .map(|group| (group.id.as_str(), group))
        .collect();
    let rules: Vec<Vec<&SecurityGroupRule>> = ports
        .iter()
        .map(|port| ipv4_rules(port.port, &groups))
        .collect();
    let remote_groups = number_remote_groups(&rules);

    let mut script = String::new();
    script.push_str("# The fabric's security groups and anti-spoofing, generated by oxistack.\n");
    script.push_str("# Replaced as a whole on every apply: do not edit.\n");
    replace_table(&mut script, "inet", SECURITY_GROUP_TABLE, |body| {
        render_remote_group_sets(body, state, &remote_groups);
        render_zone_chain(body, state);
        render_forward_chain(body, &ports);
        for (port, rules) in ports.iter().zip(&rules) {
            render_port_rules(body, port, rules, Direction::Egress, &remote_groups);
            render_port_rules(body, port, rules, Direction::Ingress, &remote_groups);
        }
    });
    replace_table(&mut script, "bridge", ANTI_SPOOFING_TABLE, |body| {
        render_spoofing_chains(body, &ports);
    });
    script
}

/// Loads `script` with `nft -f -` inside `namespace`.
pub fn apply_ruleset(namespace: &str, script: &str) -> Result<(), DataPlaneError> {
    run_nft(namespace, &["-f", "-"], script)
}

/// Runs `nft` with `args` in `namespace`, feeding it `script` on stdin.
fn run_nft(namespace: &str, args: &[&str], script: &str) -> Result<(), DataPlaneError> {
    let command = format!("nft {} (in namespace {namespace})", args.join(" "));
    let mut child = oxistack_netns::command_in(namespace, "nft")
        .map_err(|e| DataPlaneError::Unavailable(e.to_string()))?
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| DataPlaneError::Io {
            context: format!("starting {command}"),
            source,
        })?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    // nft reads all its input before it acts. If it quits early anyway,
    // the pipe breaks, and its exit status and stderr say why.
    if let Err(source) = stdin.write_all(script.as_bytes())
        && source.kind() != std::io::ErrorKind::BrokenPipe
    {
        return Err(DataPlaneError::Io {
            context: format!("writing the script to {command}"),
            source,
        });
    }
    drop(stdin);
    let output = child
        .wait_with_output()
        .map_err(|source| DataPlaneError::Io {
            context: format!("waiting for {command}"),
            source,
        })?;
    if output.status.success() {
        Ok(())
    } else {
        Err(DataPlaneError::Command {
            command,
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        })
    }
}

/// An endpoint's port (an instance's or a load balancer's) the fabric
/// filters, with what it may send from.
struct FilteredPort<'a> {
    port: &'a Port,
    /// Names the port's chains and is the mark its frames carry from the
    /// bridge table to the inet table; from 1, as mark 0 means unmarked.
    number: usize,
    /// The port's MAC, normalised; `None` if it is malformed, which
    /// leaves the port able to send nothing.
    mac: Option<String>,
    /// The addresses the port may send from, by the MAC it must send them
    /// with: its fixed IPs with its own MAC, each pair with the pair's.
    sources: BTreeMap<String, Vec<Ipv4Range>>,
}

impl FilteredPort<'_> {
    fn comment(&self) -> String {
        quoted(&format!("port {}", self.port.id))
    }

    /// Every MAC the port may send from.
    fn macs(&self) -> BTreeSet<&str> {
        self.mac
            .iter()
            .chain(self.sources.keys())
            .map(String::as_str)
            .collect()
    }
}

fn filtered_ports(state: &NetworkState) -> Vec<FilteredPort<'_>> {
    state
        .ports
        .iter()
        .filter(|port| port.port_security_enabled && is_endpoint_port(port))
        .enumerate()
        .map(|(index, port)| {
            let mac = normalized_mac(&port.mac_address);
            let mut sources: BTreeMap<String, Vec<Ipv4Range>> = BTreeMap::new();
            if let Some(mac) = &mac {
                let fixed = port
                    .fixed_ips
                    .iter()
                    .filter_map(|ip| Ipv4Range::of_address(ip.ip_address));
                sources.entry(mac.clone()).or_default().extend(fixed);
            }
            for pair in &port.allowed_address_pairs {
                // Neutron fills in the port's MAC for a pair given without one.
                let pair_mac = if pair.mac_address.is_empty() {
                    mac.clone()
                } else {
                    normalized_mac(&pair.mac_address)
                };
                if let (Some(pair_mac), Some(range)) =
                    (pair_mac, Ipv4Range::of_net(pair.ip_address))
                {
                    sources.entry(pair_mac).or_default().push(range);
                }
            }
            sources.retain(|_, ranges| !ranges.is_empty());
            for ranges in sources.values_mut() {
                *ranges = merged(std::mem::take(ranges));
            }
            FilteredPort {
                port,
                number: index + 1,
                mac,
                sources,
            }
        })
        .collect()
}

/// The IPv4 rules of every group of `port` (repeats vanish when they are
/// rendered). A group the state lacks contributes nothing.
fn ipv4_rules<'a>(
    port: &Port,
    groups: &BTreeMap<&str, &'a SecurityGroup>,
) -> Vec<&'a SecurityGroupRule> {
    port.security_group_ids
        .iter()
        .filter_map(|id| groups.get(id.as_str()))
        .flat_map(|group| &group.rules)
        .filter(|rule| rule.ethertype == EtherType::Ipv4)
        .collect()
}

/// Numbers the groups that rules name as their remote, for the names of
/// their address sets (`sg_<n>`), in the order of their ids.
fn number_remote_groups<'a>(rules: &[Vec<&'a SecurityGroupRule>]) -> BTreeMap<&'a str, usize> {
    let ids: BTreeSet<&str> = rules
        .iter()
        .flatten()
        .filter_map(|rule| match &rule.remote {
            Remote::Group(id) => Some(id.as_str()),
            Remote::Any | Remote::Prefix(_) => None,
        })
        .collect();
    ids.into_iter().zip(1..).collect()
}

/// Appends the idiom that atomically replaces a table: create it in case
/// it is missing, so the delete cannot fail, then delete and refill it.
fn replace_table(script: &mut String, family: &str, name: &str, body: impl FnOnce(&mut String)) {
    let _ = writeln!(script, "table {family} {name} {{}}");
    let _ = writeln!(script, "delete table {family} {name}");
    let _ = writeln!(script, "table {family} {name} {{");
    body(script);
    script.push_str("}\n");
}

/// One set per remote group: the fixed IPv4s and pair prefixes of the
/// group's members, the ports with port security that list it.
fn render_remote_group_sets(
    script: &mut String,
    state: &NetworkState,
    remote_groups: &BTreeMap<&str, usize>,
) {
    let mut members: BTreeMap<&str, Vec<Ipv4Range>> = BTreeMap::new();
    for port in state.ports.iter().filter(|port| port.port_security_enabled) {
        let addresses: Vec<Ipv4Range> = port
            .fixed_ips
            .iter()
            .filter_map(|ip| Ipv4Range::of_address(ip.ip_address))
            .chain(
                port.allowed_address_pairs
                    .iter()
                    .filter_map(|pair| Ipv4Range::of_net(pair.ip_address)),
            )
            .collect();
        for group in &port.security_group_ids {
            if remote_groups.contains_key(group.as_str()) {
                members.entry(group).or_default().extend(&addresses);
            }
        }
    }
    for (group, number) in remote_groups {
        let _ = writeln!(script, "\tset sg_{number} {{");
        let _ = writeln!(script, "\t\ttype ipv4_addr; flags interval;");
        let _ = writeln!(
            script,
            "\t\tcomment {};",
            quoted(&format!("security group {group}"))
        );
        let addresses = merged(members.remove(group).unwrap_or_default());
        if !addresses.is_empty() {
            let _ = writeln!(script, "\t\telements = {{ {} }}", joined(&addresses));
        }
        script.push_str("\t}\n");
    }
}

/// Puts each bridge's traffic in its network's conntrack zone before
/// conntrack sees it (priority raw). Replies come back over the same
/// bridge, so both directions of a connection share the zone.
fn render_zone_chain(script: &mut String, state: &NetworkState) {
    script.push_str("\tchain zones {\n");
    script.push_str("\t\ttype filter hook prerouting priority raw; policy accept;\n");
    let zones: Vec<String> = conntrack_zones(state)
        .iter()
        .map(|(network, zone)| format!("{} : {zone}", quoted(&naming::bridge(network))))
        .collect();
    if !zones.is_empty() {
        let _ = writeln!(
            script,
            "\t\tct zone set iifname map {{ {} }}",
            zones.join(", ")
        );
    }
    script.push_str("\t}\n");
}

/// Replies pass; a new packet from a filtered port passes its egress
/// chain, one to a filtered port its ingress chain; the rest, between
/// trusted legs, passes.
fn render_forward_chain(script: &mut String, ports: &[FilteredPort]) {
    script.push_str("\tchain forward {\n");
    script.push_str("\t\ttype filter hook forward priority filter; policy accept;\n");
    script.push_str("\t\tct state established,related accept\n");
    script.push_str("\t\tct state invalid drop\n");
    if ports.is_empty() {
        script.push_str("\t}\n");
        return;
    }
    let egress: Vec<String> = ports
        .iter()
        .map(|port| format!("{} : jump egress_{}", port.number, port.number))
        .collect();
    let _ = writeln!(script, "\t\tmeta mark vmap {{ {} }}", egress.join(", "));
    // A MAC two ports claim on one bridge (a pair naming another port's
    // MAC) leads to the first port's chain: a map key has one value.
    let mut ingress: BTreeMap<(String, &str), usize> = BTreeMap::new();
    for port in ports {
        let bridge = naming::bridge(&port.port.network_id);
        for mac in port.macs() {
            ingress.entry((bridge.clone(), mac)).or_insert(port.number);
        }
    }
    if !ingress.is_empty() {
        let entries: Vec<String> = ingress
            .iter()
            .map(|((bridge, mac), number)| {
                format!("{} . {mac} : jump ingress_{number}", quoted(bridge))
            })
            .collect();
        let _ = writeln!(
            script,
            "\t\toifname . ether daddr vmap {{ {} }}",
            entries.join(", ")
        );
    }
    script.push_str("\t}\n");
}

/// A port's egress or ingress chain: its groups' rules as an allow list.
/// Egress rules `return`, so a packet to another filtered port still
/// meets that port's ingress chain; ingress rules accept.
fn render_port_rules(
    script: &mut String,
    port: &FilteredPort,
    rules: &[&SecurityGroupRule],
    direction: Direction,
    remote_groups: &BTreeMap<&str, usize>,
) {
    let (chain, verdict) = match direction {
        Direction::Egress => ("egress", "return"),
        Direction::Ingress => ("ingress", "accept"),
    };
    let _ = writeln!(script, "\tchain {chain}_{} {{", port.number);
    let _ = writeln!(script, "\t\tcomment {};", port.comment());
    match direction {
        // As Neutron does: an instance may always ask for an address,
        // and always hear the answer.
        Direction::Egress => script.push_str("\t\tudp sport 68 udp dport 67 return\n"),
        Direction::Ingress => {
            // Unfiltered legs may send IPv6 over the bridge; no group
            // rule here is meant for it.
            script.push_str("\t\tmeta nfproto ipv6 drop\n");
            script.push_str("\t\tudp sport 67 udp dport 68 accept\n");
        }
    }
    // Allow lists need no order; sorted, equal states give equal scripts.
    let matches: BTreeSet<String> = rules
        .iter()
        .filter(|rule| rule.direction == direction)
        .filter_map(|rule| rule_match(rule, remote_groups))
        .collect();
    for matched in matches {
        if matched.is_empty() {
            let _ = writeln!(script, "\t\t{verdict}");
        } else {
            let _ = writeln!(script, "\t\t{matched} {verdict}");
        }
    }
    script.push_str("\t\tdrop\n\t}\n");
}

/// What an IPv4 rule matches, as nft expressions ("" for everything), or
/// `None` if it cannot be expressed and so allows nothing.
fn rule_match(rule: &SecurityGroupRule, remote_groups: &BTreeMap<&str, usize>) -> Option<String> {
    let mut parts = Vec::new();
    match (rule.protocol, rule.destination) {
        (None, PortMatch::Any) => {}
        (Some(protocol), PortMatch::Any) => parts.push(format!("meta l4proto {protocol}")),
        (Some(protocol), PortMatch::Ports { min, max })
            if PROTOCOLS_WITH_PORTS.contains(&protocol) && min <= max =>
        {
            let ports = if min == max {
                min.to_string()
            } else {
                format!("{min}-{max}")
            };
            parts.push(format!("meta l4proto {protocol} th dport {ports}"));
        }
        (Some(ICMP), PortMatch::Icmp { icmp_type, code }) => {
            parts.push(format!("icmp type {icmp_type}"));
            if let Some(code) = code {
                parts.push(format!("icmp code {code}"));
            }
        }
        _ => return None,
    }
    let remote_address = match rule.direction {
        Direction::Ingress => "ip saddr",
        Direction::Egress => "ip daddr",
    };
    match &rule.remote {
        Remote::Any => {}
        Remote::Prefix(IpNet::V4(prefix)) if prefix.prefix_len() == 0 => {}
        Remote::Prefix(IpNet::V4(prefix)) => {
            parts.push(format!("{remote_address} {}", prefix.trunc()));
        }
        Remote::Prefix(IpNet::V6(_)) => return None,
        Remote::Group(group) => parts.push(format!(
            "{remote_address} @sg_{}",
            remote_groups[group.as_str()]
        )),
    }
    Some(parts.join(" "))
}

/// The bridge table: each filtered port's frames go through its chain.
fn render_spoofing_chains(script: &mut String, ports: &[FilteredPort]) {
    script.push_str("\tchain prerouting {\n");
    script.push_str("\t\ttype filter hook prerouting priority filter; policy accept;\n");
    if !ports.is_empty() {
        let entries: Vec<String> = ports
            .iter()
            .map(|port| {
                let device = naming::port_device(&port.port.id);
                format!("{} : jump port_{}", quoted(&device), port.number)
            })
            .collect();
        let _ = writeln!(script, "\t\tiifname vmap {{ {} }}", entries.join(", "));
    }
    script.push_str("\t}\n");
    for port in ports {
        render_spoofing_chain(script, port);
    }
}

/// What one instance may send: ARP and IPv4 from its own (MAC, address)
/// pairs, and DHCP requests; nothing else, and no DHCP answers.
fn render_spoofing_chain(script: &mut String, port: &FilteredPort) {
    let _ = writeln!(script, "\tchain port_{} {{", port.number);
    let _ = writeln!(script, "\t\tcomment {};", port.comment());
    let _ = writeln!(script, "\t\tmeta mark set {}", port.number);
    let macs = port.macs();
    if !macs.is_empty() {
        let macs: Vec<&str> = macs.into_iter().collect();
        let _ = writeln!(script, "\t\tether saddr != {{ {} }} drop", macs.join(", "));
        // ARP probes (RFC 5227) announce no address: sender 0.0.0.0.
        let mut arp_sources = port.sources.clone();
        if let Some(mac) = &port.mac {
            let ranges = arp_sources.entry(mac.clone()).or_default();
            ranges.push(Ipv4Range::single(Ipv4Addr::UNSPECIFIED));
            *ranges = merged(std::mem::take(ranges));
        }
        let _ = writeln!(
            script,
            "\t\tarp saddr ether . arp saddr ip {{ {} }} accept",
            mac_address_elements(&arp_sources)
        );
        script.push_str("\t\tudp sport 67 drop comment \"instances do not serve DHCP\"\n");
        script.push_str(
            "\t\tip saddr 0.0.0.0 ip daddr 255.255.255.255 udp sport 68 udp dport 67 accept\n",
        );
        if !port.sources.is_empty() {
            let _ = writeln!(
                script,
                "\t\tether saddr . ip saddr {{ {} }} accept",
                mac_address_elements(&port.sources)
            );
        }
    }
    script.push_str("\t\tdrop\n\t}\n");
}

/// `mac . range` set elements.
fn mac_address_elements(sources: &BTreeMap<String, Vec<Ipv4Range>>) -> String {
    let elements: Vec<String> = sources
        .iter()
        .flat_map(|(mac, ranges)| ranges.iter().map(move |range| format!("{mac} . {range}")))
        .collect();
    elements.join(", ")
}

/// `aa:bb:cc:dd:ee:ff` in lower case, or `None` if `text` is no MAC: a
/// malformed MAC must not break the script for every other port.
fn normalized_mac(text: &str) -> Option<String> {
    let [a, b, c, d, e, f] = crate::leases::parse_mac(text)?;
    Some(format!("{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{f:02x}"))
}

/// A string literal for nft; quotes and backslashes, which would end or
/// escape it, are dropped (ids are UUIDs, so nothing real is lost).
fn quoted(text: &str) -> String {
    let clean: String = text
        .chars()
        .filter(|c| !matches!(c, '"' | '\\' | '\n'))
        .collect();
    format!("\"{clean}\"")
}

fn joined(ranges: &[Ipv4Range]) -> String {
    ranges
        .iter()
        .map(Ipv4Range::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Inclusive IPv4 range. Interval sets reject overlapping elements, and
/// a pair's prefix may well cover a fixed IP, so ranges are merged before
/// they become elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Ipv4Range {
    first: u32,
    last: u32,
}

impl Ipv4Range {
    fn single(address: Ipv4Addr) -> Ipv4Range {
        let address = u32::from(address);
        Ipv4Range {
            first: address,
            last: address,
        }
    }

    fn of_address(address: IpAddr) -> Option<Ipv4Range> {
        match address {
            IpAddr::V4(address) => Some(Ipv4Range::single(address)),
            IpAddr::V6(_) => None,
        }
    }

    fn of_net(net: IpNet) -> Option<Ipv4Range> {
        match net {
            IpNet::V4(net) => Some(Ipv4Range {
                first: u32::from(net.network()),
                last: u32::from(net.broadcast()),
            }),
            IpNet::V6(_) => None,
        }
    }
}

/// Written as nft lists it: an address, a prefix, or `first-last`.
impl fmt::Display for Ipv4Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let first = Ipv4Addr::from(self.first);
        if self.first == self.last {
            return write!(f, "{first}");
        }
        let size = u64::from(self.last) - u64::from(self.first) + 1;
        if size.is_power_of_two() && u64::from(self.first) % size == 0 {
            write!(f, "{first}/{}", 32 - size.trailing_zeros())
        } else {
            write!(f, "{first}-{}", Ipv4Addr::from(self.last))
        }
    }
}

/// `ranges` sorted, with overlapping and adjacent ones joined.
fn merged(mut ranges: Vec<Ipv4Range>) -> Vec<Ipv4Range> {
    ranges.sort_unstable();
    let mut result: Vec<Ipv4Range> = Vec::with_capacity(ranges.len());
    for range in ranges {
        match result.last_mut() {
            Some(last) if u64::from(range.first) <= u64::from(last.last) + 1 => {
                last.last = last.last.max(range.last);
            }
            _ => result.push(range),
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Instant;

    use oxistack_netplane::{AddressPair, FixedIp, Network, Segment};

    use super::*;

    const NETWORK: &str = "11111111-2222-3333-4444-555555555555";
    const VM1: &str = "aaaa0001-0000-0000-0000-000000000000";
    const VM2: &str = "aaaa0002-0000-0000-0000-000000000000";
    const ROUTER_LEG: &str = "aaaa0003-0000-0000-0000-000000000000";
    const UNSECURED_VM: &str = "aaaa0004-0000-0000-0000-000000000000";

    fn network(id: &str) -> Network {
        Network {
            id: id.into(),
            name: "net".into(),
            admin_state_up: true,
            mtu: 1450,
            segment: Segment::Vxlan { vni: 7 },
            external: false,
        }
    }

    fn port(id: &str, owner: &str, mac: &str, ip: &str, groups: &[&str]) -> Port {
        Port {
            id: id.into(),
            network_id: NETWORK.into(),
            mac_address: mac.into(),
            admin_state_up: true,
            fixed_ips: vec![FixedIp {
                subnet_id: "subnet".into(),
                ip_address: ip.parse().unwrap(),
            }],
            device_id: "device".into(),
            device_owner: owner.into(),
            security_group_ids: groups.iter().map(|g| g.to_string()).collect(),
            port_security_enabled: !groups.is_empty(),
            allowed_address_pairs: Vec::new(),
        }
    }

    fn rule(
        id: &str,
        direction: Direction,
        protocol: Option<u8>,
        destination: PortMatch,
        remote: Remote,
    ) -> SecurityGroupRule {
        SecurityGroupRule {
            id: id.into(),
            direction,
            ethertype: EtherType::Ipv4,
            protocol,
            destination,
            remote,
        }
    }

    /// Two instances in different groups (one with address pairs), a
    /// router leg and an instance without port security.
    fn fixture() -> NetworkState {
        let mut vm2 = port(
            VM2,
            "compute:nova",
            "FA:16:3E:00:00:02",
            "10.0.0.12",
            &["sg-web"],
        );
        vm2.allowed_address_pairs = vec![
            AddressPair {
                ip_address: "10.0.0.100/32".parse().unwrap(),
                mac_address: String::new(),
            },
            AddressPair {
                ip_address: "10.0.1.0/24".parse().unwrap(),
                mac_address: "fa:16:3e:00:00:99".into(),
            },
            // Inside the prefix above: merged into it.
            AddressPair {
                ip_address: "10.0.1.7/32".parse().unwrap(),
                mac_address: "fa:16:3e:00:00:99".into(),
            },
        ];
        let mut ipv6_rule = rule(
            "r-v6",
            Direction::Ingress,
            Some(6),
            PortMatch::Ports { min: 443, max: 443 },
            Remote::Any,
        );
        ipv6_rule.ethertype = EtherType::Ipv6;
        NetworkState {
            networks: vec![network(NETWORK)],
            ports: vec![
                port(
                    VM1,
                    "compute:nova",
                    "fa:16:3e:00:00:01",
                    "10.0.0.11",
                    &["sg-default"],
                ),
                vm2,
                port(
                    ROUTER_LEG,
                    "network:router_interface",
                    "fa:16:3e:00:00:03",
                    "10.0.0.1",
                    &[],
                ),
                port(
                    UNSECURED_VM,
                    "compute:nova",
                    "fa:16:3e:00:00:04",
                    "10.0.0.14",
                    &[],
                ),
            ],
            security_groups: vec![
                SecurityGroup {
                    id: "sg-default".into(),
                    rules: vec![
                        rule(
                            "r-in",
                            Direction::Ingress,
                            None,
                            PortMatch::Any,
                            Remote::Group("sg-default".into()),
                        ),
                        rule(
                            "r-out",
                            Direction::Egress,
                            None,
                            PortMatch::Any,
                            Remote::Any,
                        ),
                    ],
                },
                SecurityGroup {
                    id: "sg-web".into(),
                    rules: vec![
                        rule(
                            "r-http",
                            Direction::Ingress,
                            Some(6),
                            PortMatch::Ports { min: 80, max: 81 },
                            Remote::Prefix("0.0.0.0/0".parse().unwrap()),
                        ),
                        rule(
                            "r-ping",
                            Direction::Ingress,
                            Some(1),
                            PortMatch::Icmp {
                                icmp_type: 8,
                                code: Some(0),
                            },
                            Remote::Prefix("10.0.0.0/8".parse().unwrap()),
                        ),
                        rule(
                            "r-ssh",
                            Direction::Ingress,
                            Some(6),
                            PortMatch::Ports { min: 22, max: 22 },
                            Remote::Group("sg-default".into()),
                        ),
                        rule(
                            "r-nobody",
                            Direction::Ingress,
                            Some(17),
                            PortMatch::Ports { min: 53, max: 53 },
                            Remote::Group("sg-empty".into()),
                        ),
                        rule(
                            "r-dns",
                            Direction::Egress,
                            Some(17),
                            PortMatch::Ports { min: 53, max: 53 },
                            Remote::Prefix("10.0.0.0/24".parse().unwrap()),
                        ),
                        ipv6_rule,
                    ],
                },
            ],
            ..NetworkState::default()
        }
    }

    /// The lines of `script` that contain `needle`.
    fn lines_with<'a>(script: &'a str, needle: &str) -> Vec<&'a str> {
        script
            .lines()
            .filter(|line| line.contains(needle))
            .map(str::trim)
            .collect()
    }

    /// The body of chain `name` in `script`.
    fn chain<'a>(script: &'a str, name: &str) -> &'a str {
        let start = script
            .find(&format!("\tchain {name} {{"))
            .unwrap_or_else(|| panic!("no chain {name} in\n{script}"));
        let end = start + script[start..].find("\n\t}\n").unwrap();
        &script[start..end]
    }

    #[test]
    fn instances_are_dispatched_to_their_chains() {
        let script = fabric_ruleset(&fixture());
        let bridge = naming::bridge(NETWORK);
        assert_eq!(
            lines_with(&script, "iifname vmap"),
            [r#"iifname vmap { "tapaaaa0001-00" : jump port_1, "tapaaaa0002-00" : jump port_2 }"#]
        );
        assert_eq!(
            lines_with(&script, "meta mark vmap"),
            ["meta mark vmap { 1 : jump egress_1, 2 : jump egress_2 }"]
        );
        assert_eq!(
            lines_with(&script, "oifname . ether daddr vmap"),
            [format!(
                "oifname . ether daddr vmap {{ \"{bridge}\" . fa:16:3e:00:00:01 : jump ingress_1, \
                 \"{bridge}\" . fa:16:3e:00:00:02 : jump ingress_2, \
                 \"{bridge}\" . fa:16:3e:00:00:99 : jump ingress_2 }}"
            )]
        );
        let zone = conntrack_zones(&fixture())[NETWORK];
        assert_eq!(
            lines_with(&script, "ct zone set"),
            [format!(
                "ct zone set iifname map {{ \"{bridge}\" : {zone} }}"
            )]
        );
        // Neither the router's leg nor the port without port security.
        assert!(!script.contains("aaaa0003"), "{script}");
        assert!(!script.contains("aaaa0004"), "{script}");
        assert!(!script.contains("00:00:03") && !script.contains("00:00:04"));
    }

    #[test]
    fn group_rules_become_allow_lists() {
        let script = fabric_ruleset(&fixture());
        let web_ingress = chain(&script, "ingress_2");
        for line in [
            "meta l4proto 6 th dport 80-81 accept",
            "icmp type 8 icmp code 0 ip saddr 10.0.0.0/8 accept",
            "meta l4proto 6 th dport 22 ip saddr @sg_1 accept",
            "meta l4proto 17 th dport 53 ip saddr @sg_2 accept",
            "udp sport 67 udp dport 68 accept",
        ] {
            assert!(
                web_ingress.contains(&format!("\t\t{line}\n")),
                "{line} in {web_ingress}"
            );
        }
        assert!(web_ingress.ends_with("\t\tdrop"), "{web_ingress}");
        assert!(!script.contains("443"), "IPv6 rules are ignored");
        let web_egress = chain(&script, "egress_2");
        assert!(
            web_egress.contains("\t\tmeta l4proto 17 th dport 53 ip daddr 10.0.0.0/24 return\n")
        );
        assert!(web_egress.contains("\t\tudp sport 68 udp dport 67 return\n"));
        assert!(web_egress.ends_with("\t\tdrop"), "{web_egress}");
        // The default group: its members in, everything out.
        assert!(chain(&script, "ingress_1").contains("\t\tip saddr @sg_1 accept\n"));
        assert!(chain(&script, "egress_1").contains("\t\treturn\n"));
    }

    #[test]
    fn remote_groups_are_sets_of_their_members() {
        let script = fabric_ruleset(&fixture());
        let sets: Vec<&str> = script.split("\tset ").skip(1).collect();
        assert_eq!(sets.len(), 2, "{script}");
        assert!(sets[0].starts_with("sg_1 {"));
        assert!(sets[0].contains("comment \"security group sg-default\";"));
        assert!(sets[0].contains("elements = { 10.0.0.11 }"), "{}", sets[0]);
        // A group without members matches nothing.
        assert!(sets[1].starts_with("sg_2 {"));
        assert!(sets[1].contains("sg-empty") && !sets[1].contains("elements"));
    }

    #[test]
    fn instances_send_only_from_their_addresses() {
        let script = fabric_ruleset(&fixture());
        let vm2 = chain(&script, "port_2");
        for line in [
            "meta mark set 2",
            "ether saddr != { fa:16:3e:00:00:02, fa:16:3e:00:00:99 } drop",
            "arp saddr ether . arp saddr ip { fa:16:3e:00:00:02 . 0.0.0.0, \
             fa:16:3e:00:00:02 . 10.0.0.12, fa:16:3e:00:00:02 . 10.0.0.100, \
             fa:16:3e:00:00:99 . 10.0.1.0/24 } accept",
            "ether saddr . ip saddr { fa:16:3e:00:00:02 . 10.0.0.12, \
             fa:16:3e:00:00:02 . 10.0.0.100, fa:16:3e:00:00:99 . 10.0.1.0/24 } accept",
            "ip saddr 0.0.0.0 ip daddr 255.255.255.255 udp sport 68 udp dport 67 accept",
        ] {
            assert!(vm2.contains(&format!("\t\t{line}\n")), "{line} in {vm2}");
        }
        assert!(vm2.ends_with("\t\tdrop"));
        // DHCP answers are dropped before any address is allowed.
        assert!(
            vm2.find("udp sport 67 drop").unwrap() < vm2.find("ether saddr . ip saddr").unwrap()
        );
    }

    #[test]
    fn a_port_with_a_malformed_mac_may_send_nothing() {
        let mut state = fixture();
        state.ports[0].mac_address = "fa:16:3e:00:00".into();
        let script = fabric_ruleset(&state);
        assert_eq!(
            chain(&script, "port_1"),
            "\tchain port_1 {\n\t\tcomment \"port aaaa0001-0000-0000-0000-000000000000\";\n\t\tmeta mark set 1\n\t\tdrop"
        );
        assert_eq!(
            normalized_mac("0:1:a:B:cc:DD").as_deref(),
            Some("00:01:0a:0b:cc:dd")
        );
        for bad in [
            "",
            "fa:16:3e:00:00:0g",
            "fa:16:3e:00:00:001",
            "+f:16:3e:00:00:01",
        ] {
            assert_eq!(normalized_mac(bad), None, "{bad}");
        }
    }

    #[test]
    fn ranges_merge_and_print_as_nft_does() {
        let range = |net: &str| Ipv4Range::of_net(net.parse().unwrap()).unwrap();
        let ranges = merged(vec![
            range("10.0.0.8/29"),
            range("10.0.0.0/29"),
            range("10.0.0.3/32"),
            range("10.0.1.5/32"),
            range("10.0.1.7/32"),
        ]);
        assert_eq!(joined(&ranges), "10.0.0.0/28, 10.0.1.5, 10.0.1.7");
        assert_eq!(
            merged(vec![range("0.0.0.0/0"), range("255.255.255.255/32")]).len(),
            1
        );
        assert_eq!(joined(&[range("0.0.0.0/0")]), "0.0.0.0/0");
        let odd = Ipv4Range {
            first: u32::from(Ipv4Addr::new(10, 0, 0, 1)),
            last: u32::from(Ipv4Addr::new(10, 0, 0, 2)),
        };
        assert_eq!(odd.to_string(), "10.0.0.1-10.0.0.2");
    }

    #[test]
    fn zones_are_stable_distinct_and_in_range() {
        // Among 3000 ids some share a hash slot; find the first pair.
        let ids: Vec<String> = (0..3000).map(|i| format!("net-{i:04}")).collect();
        let mut first_in_slot: BTreeMap<u32, &str> = BTreeMap::new();
        let (earlier, later) = ids
            .iter()
            .find_map(|id| {
                let slot = fnv1a(id) % ZONE_COUNT;
                first_in_slot
                    .insert(slot, id)
                    .map(|other| (other, id.as_str()))
            })
            .expect("a collision among 3000 ids");
        let state = |ids: &[&str]| NetworkState {
            networks: ids.iter().map(|id| network(id)).collect(),
            ..NetworkState::default()
        };
        let zones = conntrack_zones(&state(&[later, earlier]));
        let slot = fnv1a(earlier) % ZONE_COUNT;
        assert_eq!(u32::from(zones[earlier]), slot + 1);
        assert_eq!(u32::from(zones[later]), (slot + 1) % ZONE_COUNT + 1);
        // Another network does not move them.
        let more = conntrack_zones(&state(&[earlier, later, "zzz"]));
        assert_eq!((more[earlier], more[later]), (zones[earlier], zones[later]));
        let all: Vec<&str> = ids.iter().map(String::as_str).collect();
        let zones = conntrack_zones(&state(&all));
        let distinct: BTreeSet<u16> = zones.values().copied().collect();
        assert_eq!(distinct.len(), ids.len());
        assert!(distinct.iter().all(|zone| (1..=65_000).contains(zone)));
    }

    /// 50 instances, each in a group of 20 rules of every kind, with pairs.
    fn large_state() -> NetworkState {
        let mut state = NetworkState {
            networks: vec![network(NETWORK)],
            ..NetworkState::default()
        };
        for g in 0..10 {
            let rules = (0..20u16)
                .map(|r| {
                    let remote = match r % 3 {
                        0 => Remote::Any,
                        1 => Remote::Prefix(format!("172.16.{r}.0/24").parse().unwrap()),
                        _ => Remote::Group(format!("sg-{:02}", (g + 1) % 10)),
                    };
                    let (protocol, destination) = match r % 4 {
                        0 => (
                            Some(6),
                            PortMatch::Ports {
                                min: 1000 + r,
                                max: 2000 + r,
                            },
                        ),
                        1 => (Some(17), PortMatch::Ports { min: r, max: r }),
                        2 => (
                            Some(1),
                            PortMatch::Icmp {
                                icmp_type: 8,
                                code: None,
                            },
                        ),
                        _ => (Some(47), PortMatch::Any),
                    };
                    let direction = if r % 5 == 0 {
                        Direction::Egress
                    } else {
                        Direction::Ingress
                    };
                    rule(
                        &format!("r-{g}-{r}"),
                        direction,
                        protocol,
                        destination,
                        remote,
                    )
                })
                .collect();
            state.security_groups.push(SecurityGroup {
                id: format!("sg-{g:02}"),
                rules,
            });
        }
        for p in 0..50 {
            let mut port = port(
                &format!("port-{p:02}-0000-0000-0000-000000000000"),
                "compute:nova",
                &format!("fa:16:3e:00:01:{p:02x}"),
                &format!("10.0.{}.{}", p / 200, p % 200 + 10),
                &[&format!("sg-{:02}", p % 10)],
            );
            port.allowed_address_pairs.push(AddressPair {
                ip_address: "10.9.9.9/32".parse().unwrap(),
                mac_address: String::new(),
            });
            state.ports.push(port);
        }
        state
    }

    #[test]
    fn fifty_ports_of_twenty_rules_render_quickly() {
        let state = large_state();
        // The best of a few runs, so a busy machine does not fail it.
        let elapsed = (0..5)
            .map(|_| {
                let start = Instant::now();
                fabric_ruleset(&state);
                start.elapsed()
            })
            .min()
            .unwrap();
        let script = fabric_ruleset(&state);
        println!(
            "rendered 50 ports x 20 rules ({} bytes) in {elapsed:?}",
            script.len()
        );
        assert!(elapsed.as_millis() < 10, "{elapsed:?}");
        assert_eq!(script.matches("jump egress_").count(), 50);
        assert_eq!(fabric_ruleset(&state), script, "rendering is deterministic");
    }

    /// A namespace of its own, deleted when dropped.
    struct ThrowawayNamespace(String);

    impl ThrowawayNamespace {
        fn new() -> ThrowawayNamespace {
            static COUNT: AtomicUsize = AtomicUsize::new(0);
            let name = format!(
                "oxfw-unit-{}-{}",
                std::process::id(),
                COUNT.fetch_add(1, Ordering::Relaxed)
            );
            oxistack_netns::create(&name).unwrap();
            ThrowawayNamespace(name)
        }
    }

    impl Drop for ThrowawayNamespace {
        fn drop(&mut self) {
            let _ = oxistack_netns::delete(&self.0);
        }
    }

    /// Needs root.
    #[test]
    fn nft_accepts_the_scripts() {
        let namespace = ThrowawayNamespace::new();
        for (what, state) in [
            ("empty", NetworkState::default()),
            ("fixture", fixture()),
            ("large", large_state()),
        ] {
            let script = fabric_ruleset(&state);
            if let Err(e) = run_nft(&namespace.0, &["-c", "-f", "-"], &script) {
                panic!("{what}: {e}\n{script}");
            }
        }
        // Check mode really checks.
        let broken = fabric_ruleset(&fixture()).replace("jump port_2", "jump port_9");
        assert!(run_nft(&namespace.0, &["-c", "-f", "-"], &broken).is_err());
    }

    /// Needs root.
    #[test]
    fn applying_loads_the_tables_and_reports_failures() {
        let namespace = ThrowawayNamespace::new();
        let list = || {
            let output = oxistack_netns::command_in(&namespace.0, "nft")
                .unwrap()
                .args(["list", "ruleset"])
                .output()
                .unwrap();
            String::from_utf8(output.stdout).unwrap()
        };
        let script = fabric_ruleset(&large_state());
        let start = Instant::now();
        apply_ruleset(&namespace.0, &script).unwrap();
        println!("loaded 50 ports x 20 rules in {:?}", start.elapsed());
        let loaded = list();
        assert_eq!(loaded.matches("chain egress_").count(), 50, "{loaded}");
        // Empty state: both tables stay, empty of ports.
        apply_ruleset(&namespace.0, &fabric_ruleset(&NetworkState::default())).unwrap();
        let empty = list();
        assert!(
            empty.contains("table inet oxistack-sg {")
                && empty.contains("table bridge oxistack-spoof {")
        );
        assert!(!empty.contains("egress_"), "{empty}");
        match apply_ruleset(&namespace.0, "table inet oxistack-sg { chain c { bogus } }") {
            Err(DataPlaneError::Command { stderr, .. }) => {
                assert!(stderr.contains("bogus"), "{stderr}")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(list(), empty, "a failed script changes nothing");
        assert!(matches!(
            apply_ruleset("oxfw-no-such-namespace", &script),
            Err(DataPlaneError::Unavailable(_))
        ));
    }
}
