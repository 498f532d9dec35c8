//! The DHCP leases of one network, derived from its ports: every fixed
//! IPv4 address on a DHCP-enabled subnet of a port that is not the
//! network's own (`network:*`) gets a static lease, as Neutron's dnsmasq
//! hosts file does.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use ipnet::{IpNet, Ipv4Net};
use oxistack_dhcp::{Lease, LeaseTable};
use oxistack_netplane::{DataPlaneError, Network, NetworkState, Port, Subnet};

/// Where guests reach the metadata service; routed to the DHCP port.
pub(crate) const METADATA_ADDRESS: Ipv4Addr = Ipv4Addr::new(169, 254, 169, 254);
/// Neutron's default `dns_domain`.
const DOMAIN: &str = "openstacklocal";
/// Neutron's default `dhcp_lease_duration`.
const LEASE_TIME: Duration = Duration::from_secs(24 * 60 * 60);

/// The leases of `network`, whose DHCP port is `dhcp_port`. Ports with a
/// MAC that does not parse are reported and left out.
pub(crate) fn leases(
    state: &NetworkState,
    network: &Network,
    dhcp_port: &Port,
    errors: &mut Vec<DataPlaneError>,
) -> LeaseTable {
    let subnets: BTreeMap<&str, &Subnet> = state
        .subnets
        .iter()
        .filter(|s| s.network_id == network.id && s.enable_dhcp)
        .map(|s| (s.id.as_str(), s))
        .collect();
    let mut table = LeaseTable::new();
    let clients = state
        .ports
        .iter()
        .filter(|p| p.network_id == network.id && !p.device_owner.starts_with("network:"));
    for port in clients {
        let Some(mac) = parse_mac(&port.mac_address) else {
            errors.push(DataPlaneError::InconsistentState(format!(
                "port {} has an invalid MAC address {:?}",
                port.id, port.mac_address
            )));
            continue;
        };
        // A DHCP server hands a MAC one address: the first fixed IPv4 on a
        // DHCP-enabled subnet, as dnsmasq does with one host entry.
        let lease = port.fixed_ips.iter().find_map(|fixed| {
            let IpAddr::V4(address) = fixed.ip_address else {
                return None;
            };
            let subnet = subnets.get(fixed.subnet_id.as_str())?;
            Some(lease(network, subnet, dhcp_port, mac, address))
        });
        if let Some(lease) = lease {
            table.insert(mac, lease);
        }
    }
    table
}

fn lease(
    network: &Network,
    subnet: &Subnet,
    dhcp_port: &Port,
    mac: [u8; 6],
    address: Ipv4Addr,
) -> Lease {
    let mut classless_routes: Vec<(Ipv4Net, Ipv4Addr)> = subnet
        .host_routes
        .iter()
        .filter_map(|route| match (route.destination, route.nexthop) {
            (IpNet::V4(destination), IpAddr::V4(nexthop)) => Some((destination, nexthop)),
            _ => None,
        })
        .collect();
    if let Some(server) = address_on(dhcp_port, &subnet.id) {
        classless_routes.push((Ipv4Net::from(METADATA_ADDRESS), server));
    }
    Lease {
        mac,
        address,
        prefix_len: subnet.cidr.prefix_len(),
        router: match subnet.gateway_ip {
            Some(IpAddr::V4(gateway)) => Some(gateway),
            _ => None,
        },
        dns_servers: subnet
            .dns_nameservers
            .iter()
            .filter_map(|server| match server {
                IpAddr::V4(server) => Some(*server),
                IpAddr::V6(_) => None,
            })
            .collect(),
        classless_routes,
        mtu: u16::try_from(network.mtu).ok(),
        hostname: Some(format!("host-{}", address.to_string().replace('.', "-"))),
        domain_name: Some(DOMAIN.to_owned()),
        lease_time: LEASE_TIME,
    }
}

/// The IPv4 address `port` holds on `subnet_id`.
pub(crate) fn address_on(port: &Port, subnet_id: &str) -> Option<Ipv4Addr> {
    port.fixed_ips
        .iter()
        .find_map(|fixed| match fixed.ip_address {
            IpAddr::V4(address) if fixed.subnet_id == subnet_id => Some(address),
            _ => None,
        })
}

/// `fa:16:3e:01:02:03` → bytes: six octets of one or two hex digits,
/// in either case; anything else is no MAC.
pub(crate) fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = text.split(':');
    for byte in &mut mac {
        let part = parts.next()?;
        // `from_str_radix` alone would take a sign and leading zeros.
        if !matches!(part.len(), 1 | 2) || !part.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        *byte = u8::from_str_radix(part, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

#[cfg(test)]
mod tests {
    use oxistack_netplane::{FixedIp, Route, Segment};

    use super::*;

    fn port(id: &str, owner: &str, mac: &str, subnet: &str, ip: &str) -> Port {
        Port {
            id: id.into(),
            network_id: "net".into(),
            mac_address: mac.into(),
            admin_state_up: true,
            fixed_ips: vec![FixedIp {
                subnet_id: subnet.into(),
                ip_address: ip.parse().unwrap(),
            }],
            device_id: "dev".into(),
            device_owner: owner.into(),
            security_group_ids: vec![],
            port_security_enabled: false,
            allowed_address_pairs: vec![],
        }
    }

    #[test]
    fn instances_get_leases_with_the_subnets_settings() {
        let network = Network {
            id: "net".into(),
            name: "private".into(),
            admin_state_up: true,
            mtu: 1450,
            segment: Segment::Vxlan { vni: 7 },
            external: false,
        };
        let dhcp = port("d", "network:dhcp", "fa:16:3e:00:00:02", "sub", "10.0.0.2");
        let state = NetworkState {
            networks: vec![network.clone()],
            subnets: vec![Subnet {
                id: "sub".into(),
                network_id: "net".into(),
                cidr: "10.0.0.0/24".parse().unwrap(),
                gateway_ip: Some("10.0.0.1".parse().unwrap()),
                dns_nameservers: vec!["192.0.2.53".parse().unwrap()],
                host_routes: vec![Route {
                    destination: "10.9.0.0/16".parse().unwrap(),
                    nexthop: "10.0.0.3".parse().unwrap(),
                }],
                enable_dhcp: true,
            }],
            ports: vec![
                port("a", "compute:nova", "fa:16:3e:00:00:05", "sub", "10.0.0.5"),
                dhcp.clone(),
                port(
                    "r",
                    "network:router_interface",
                    "fa:16:3e:00:00:01",
                    "sub",
                    "10.0.0.1",
                ),
                port("x", "compute:nova", "not-a-mac", "sub", "10.0.0.9"),
            ],
            ..NetworkState::default()
        };
        let mut errors = Vec::new();
        let table = leases(&state, &network, &dhcp, &mut errors);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(table.len(), 1);
        let lease = &table[&[0xfa, 0x16, 0x3e, 0, 0, 5]];
        assert_eq!(lease.address, Ipv4Addr::new(10, 0, 0, 5));
        assert_eq!(lease.prefix_len, 24);
        assert_eq!(lease.router, Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(lease.dns_servers, [Ipv4Addr::new(192, 0, 2, 53)]);
        assert_eq!(lease.mtu, Some(1450));
        assert_eq!(lease.hostname.as_deref(), Some("host-10-0-0-5"));
        assert_eq!(
            lease.classless_routes,
            [
                ("10.9.0.0/16".parse().unwrap(), Ipv4Addr::new(10, 0, 0, 3)),
                (
                    "169.254.169.254/32".parse().unwrap(),
                    Ipv4Addr::new(10, 0, 0, 2)
                ),
            ]
        );
    }

    #[test]
    fn macs_parse_strictly() {
        assert_eq!(
            parse_mac("FA:16:3e:00:00:0a"),
            Some([0xfa, 0x16, 0x3e, 0, 0, 10])
        );
        assert_eq!(parse_mac("fa:16:3e:00:00"), None);
        assert_eq!(parse_mac("fa:16:3e:00:00:0a:01"), None);
    }
}
