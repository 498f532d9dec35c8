//! IP address management: subnet CIDRs, allocation pools, picking free
//! addresses, and MAC addresses. Subnets are IPv4.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use rand::Rng;

use crate::errors::{NetworkError, bad_request, conflict, invalid_input};
use crate::model::Pool;

/// The longest prefix a subnet may have: a /30 still has room for a
/// gateway and one more address.
const LONGEST_PREFIX: u8 = 30;

/// The OpenStack MAC prefix Neutron allocates from (`base_mac`).
const MAC_PREFIX: [u8; 3] = [0xfa, 0x16, 0x3e];

/// Parses a subnet CIDR, refusing host bits (`10.0.0.1/24`) as Neutron
/// does, since they usually mean a typo.
pub fn parse_cidr(text: &str) -> Result<Ipv4Net, NetworkError> {
    let net: Ipv4Net = text.parse().map_err(|_| {
        invalid_input(
            "cidr",
            format!("'{text}' is not an IPv4 CIDR such as 10.0.0.0/24"),
        )
    })?;
    if net.network() != net.addr() {
        return Err(invalid_input(
            "cidr",
            format!("'{text}' has host bits set; use '{}'", net.trunc()),
        ));
    }
    if net.prefix_len() == 0 || net.prefix_len() > LONGEST_PREFIX {
        return Err(invalid_input(
            "cidr",
            format!(
                "'{text}' is not usable as a subnet; the prefix length must be 1 to {LONGEST_PREFIX}"
            ),
        ));
    }
    Ok(net)
}

/// The first and last address of `net` an interface may have: all but the
/// network and broadcast addresses.
pub fn host_range(net: &Ipv4Net) -> Pool {
    Pool {
        start: next(net.network()),
        end: previous(net.broadcast()),
    }
}

pub fn is_host_address(net: &Ipv4Net, ip: Ipv4Addr) -> bool {
    host_range(net).contains(ip)
}

/// Neutron's default gateway: the first host address.
pub fn default_gateway(net: &Ipv4Net) -> Ipv4Addr {
    host_range(net).start
}

/// Every host address but the gateway's.
pub fn default_pools(net: &Ipv4Net, gateway: Option<Ipv4Addr>) -> Vec<Pool> {
    let hosts = host_range(net);
    match gateway.filter(|gw| hosts.contains(*gw)) {
        None => vec![hosts],
        Some(gw) => [
            Pool {
                start: hosts.start,
                end: previous(gw),
            },
            Pool {
                start: next(gw),
                end: hosts.end,
            },
        ]
        .into_iter()
        .filter(|pool| gw != hosts.start || pool.start > gw)
        .filter(|pool| gw != hosts.end || pool.end < gw)
        .collect(),
    }
}

/// Checks a subnet's gateway and pools against its CIDR and each other.
pub fn validate_layout(
    net: &Ipv4Net,
    gateway: Option<Ipv4Addr>,
    pools: &[Pool],
) -> Result<(), NetworkError> {
    if let Some(gw) = gateway
        && !is_host_address(net, gw)
    {
        return Err(invalid_input(
            "gateway_ip",
            format!("{gw} is not a host address of the subnet {net}"),
        ));
    }
    let hosts = host_range(net);
    for pool in pools {
        if pool.start > pool.end {
            return Err(bad_request(
                "InvalidAllocationPool",
                format!(
                    "The allocation pool {}-{} is invalid: its start is after its end.",
                    pool.start, pool.end
                ),
            ));
        }
        if !hosts.contains(pool.start) || !hosts.contains(pool.end) {
            return Err(bad_request(
                "OutOfBoundsAllocationPool",
                format!(
                    "The allocation pool {}-{} spans beyond the host addresses of the subnet {net} ({}-{}).",
                    pool.start, pool.end, hosts.start, hosts.end
                ),
            ));
        }
        if let Some(gw) = gateway.filter(|gw| pool.contains(*gw)) {
            return Err(conflict(
                "GatewayConflictWithAllocationPools",
                format!(
                    "The gateway IP {gw} conflicts with the allocation pool {}-{}.",
                    pool.start, pool.end
                ),
            ));
        }
    }
    let mut sorted = pools.to_vec();
    sorted.sort_by_key(|pool| pool.start);
    if let Some(pair) = sorted.windows(2).find(|pair| pair[1].start <= pair[0].end) {
        return Err(conflict(
            "OverlappingAllocationPools",
            format!(
                "The allocation pools {}-{} and {}-{} overlap.",
                pair[0].start, pair[0].end, pair[1].start, pair[1].end
            ),
        ));
    }
    Ok(())
}

/// The lowest address of `pools` not in `taken`.
pub fn first_free(pools: &[Pool], taken: &BTreeSet<Ipv4Addr>) -> Option<Ipv4Addr> {
    let mut sorted = pools.to_vec();
    sorted.sort_by_key(|pool| pool.start);
    sorted.iter().find_map(|pool| {
        let mut candidate = pool.start;
        for used in taken.range(pool.start..=pool.end) {
            if *used != candidate {
                break;
            }
            if candidate == pool.end {
                return None;
            }
            candidate = next(candidate);
        }
        Some(candidate)
    })
}

/// A random MAC address with OpenStack's prefix, as Neutron allocates.
pub fn random_mac() -> String {
    let suffix: [u8; 3] = rand::thread_rng().r#gen();
    MAC_PREFIX
        .iter()
        .chain(&suffix)
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// A unicast MAC address in lower-case colon form, or `None`.
pub fn normalize_mac(text: &str) -> Option<String> {
    let octets: Vec<u8> = text
        .split([':', '-'])
        .map(|part| {
            (part.len() == 2)
                .then(|| u8::from_str_radix(part, 16).ok())
                .flatten()
        })
        .collect::<Option<_>>()?;
    let multicast = octets.first().is_some_and(|first| first & 1 == 1);
    (octets.len() == 6 && !multicast && octets.iter().any(|b| *b != 0)).then(|| {
        octets
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    })
}

fn next(ip: Ipv4Addr) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(ip).saturating_add(1))
}

fn previous(ip: Ipv4Addr) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(ip).saturating_sub(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> Ipv4Addr {
        text.parse().unwrap()
    }

    fn pool(start: &str, end: &str) -> Pool {
        Pool {
            start: ip(start),
            end: ip(end),
        }
    }

    #[test]
    fn cidrs_must_be_network_addresses_of_usable_size() {
        assert_eq!(
            parse_cidr("10.0.0.0/26").unwrap().to_string(),
            "10.0.0.0/26"
        );
        for bad in [
            "10.0.0.1/24",
            "10.0.0.0",
            "10.0.0.0/31",
            "0.0.0.0/0",
            "fd00::/64",
            "x",
        ] {
            let err = oxistack_http::ApiError::from(parse_cidr(bad).unwrap_err());
            assert_eq!(
                (err.status.as_u16(), err.kind),
                (400, Some("InvalidInput")),
                "{bad}"
            );
        }
        assert!(
            parse_cidr("10.0.0.1/24")
                .unwrap_err()
                .to_string()
                .contains("10.0.0.0/24")
        );
    }

    #[test]
    fn default_pools_skip_the_gateway() {
        let net = parse_cidr("10.0.0.0/26").unwrap();
        assert_eq!(default_gateway(&net), ip("10.0.0.1"));
        assert_eq!(
            default_pools(&net, Some(ip("10.0.0.1"))),
            [pool("10.0.0.2", "10.0.0.62")]
        );
        assert_eq!(
            default_pools(&net, Some(ip("10.0.0.10"))),
            [pool("10.0.0.1", "10.0.0.9"), pool("10.0.0.11", "10.0.0.62")]
        );
        assert_eq!(
            default_pools(&net, Some(ip("10.0.0.62"))),
            [pool("10.0.0.1", "10.0.0.61")]
        );
        assert_eq!(default_pools(&net, None), [pool("10.0.0.1", "10.0.0.62")]);
    }

    #[test]
    fn layouts_are_checked() {
        let net = parse_cidr("10.0.0.0/24").unwrap();
        let gw = Some(ip("10.0.0.1"));
        assert!(validate_layout(&net, gw, &[pool("10.0.0.2", "10.0.0.254")]).is_ok());
        let kind =
            |pools: &[Pool], gw| validate_layout(&net, gw, pools).unwrap_err().neutron_type();
        assert_eq!(
            kind(&[pool("10.0.0.9", "10.0.0.2")], gw),
            Some("InvalidAllocationPool")
        );
        assert_eq!(
            kind(&[pool("10.0.0.2", "10.0.1.2")], gw),
            Some("OutOfBoundsAllocationPool")
        );
        assert_eq!(
            kind(&[pool("10.0.0.0", "10.0.0.9")], None),
            Some("OutOfBoundsAllocationPool")
        );
        assert_eq!(
            kind(&[pool("10.0.0.1", "10.0.0.9")], gw),
            Some("GatewayConflictWithAllocationPools")
        );
        assert_eq!(
            kind(
                &[pool("10.0.0.2", "10.0.0.9"), pool("10.0.0.9", "10.0.0.20")],
                gw
            ),
            Some("OverlappingAllocationPools")
        );
        assert_eq!(kind(&[], Some(ip("10.0.1.1"))), Some("InvalidInput"));
    }

    #[test]
    fn the_lowest_free_address_is_picked() {
        let pools = [pool("10.0.0.10", "10.0.0.12"), pool("10.0.0.2", "10.0.0.3")];
        let mut taken = BTreeSet::new();
        assert_eq!(first_free(&pools, &taken), Some(ip("10.0.0.2")));
        taken.extend([ip("10.0.0.2"), ip("10.0.0.3"), ip("10.0.0.11")]);
        assert_eq!(first_free(&pools, &taken), Some(ip("10.0.0.10")));
        taken.insert(ip("10.0.0.10"));
        assert_eq!(first_free(&pools, &taken), Some(ip("10.0.0.12")));
        taken.insert(ip("10.0.0.12"));
        assert_eq!(first_free(&pools, &taken), None);
    }

    #[test]
    fn macs() {
        let mac = random_mac();
        assert!(mac.starts_with("fa:16:3e:") && mac.len() == 17, "{mac}");
        assert_eq!(normalize_mac(&mac), Some(mac));
        assert_eq!(
            normalize_mac("FA-16-3E-00-00-01").as_deref(),
            Some("fa:16:3e:00:00:01")
        );
        for bad in [
            "01:00:5e:00:00:01",
            "00:00:00:00:00:00",
            "fa:16:3e:00:00",
            "fa:16:3e:00:00:0g",
        ] {
            assert_eq!(normalize_mac(bad), None, "{bad}");
        }
    }
}
