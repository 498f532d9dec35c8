//! Choosing a port's fixed IPs on its network's subnets.

use std::net::Ipv4Addr;

use oxistack_db::rusqlite::Connection;

use crate::errors::{NetworkError, conflict, invalid_input};
use crate::ipam;
use crate::model::{FixedIp, Subnet};
use crate::store;
use crate::wire::FixedIpRequest;

/// The lowest free address of the subnet's pools, not counting `pending`
/// (chosen earlier in the same request); 409 when none is left.
pub fn next_free(
    conn: &Connection,
    subnet: &Subnet,
    pending: &[Ipv4Addr],
) -> Result<Ipv4Addr, NetworkError> {
    let mut taken = store::subnets::allocated(conn, &subnet.std.id)?;
    taken.extend(pending);
    ipam::first_free(&subnet.allocation_pools, &taken).ok_or_else(|| exhausted(&subnet.network_id))
}

/// Neutron's type for a network without a free address.
const EXHAUSTED: &str = "IpAddressGenerationFailure";

fn exhausted(network_id: &str) -> NetworkError {
    conflict(
        EXHAUSTED,
        format!("No more IP addresses available on network {network_id}."),
    )
}

/// What a port's addresses should be.
pub struct Wanted<'a> {
    pub network_id: &'a str,
    /// The network's subnets.
    pub subnets: &'a [Subnet],
    /// The addresses asked for; `None` for "one address, from the first
    /// subnet that has one free".
    pub requested: Option<&'a [FixedIpRequest]>,
    /// The port's current addresses, which it may keep.
    pub current: &'a [FixedIp],
    /// Router interfaces take their subnet's gateway address.
    pub gateway_allowed: bool,
}

/// Resolves the addresses a port asks for against its network's subnets:
/// a subnet alone gets its next free address (or the one the port already
/// has there), an address alone is looked up in the subnets, and an
/// address must be free unless the port holds it already.
pub fn resolve(conn: &Connection, wanted: Wanted<'_>) -> Result<Vec<FixedIp>, NetworkError> {
    let Some(requested) = wanted.requested else {
        return match wanted.subnets.first() {
            None => Ok(Vec::new()),
            Some(_) => {
                for subnet in wanted.subnets {
                    match next_free(conn, subnet, &[]) {
                        Ok(ip) => {
                            return Ok(vec![FixedIp {
                                subnet_id: subnet.std.id.clone(),
                                ip_address: ip,
                            }]);
                        }
                        Err(NetworkError::Conflict {
                            kind: EXHAUSTED, ..
                        }) => continue,
                        Err(e) => return Err(e),
                    }
                }
                Err(exhausted(wanted.network_id))
            }
        };
    };
    let mut chosen: Vec<FixedIp> = Vec::new();
    for request in requested {
        let subnet = match (&request.subnet_id, request.ip_address) {
            (Some(subnet_id), _) => wanted
                .subnets
                .iter()
                .find(|s| &s.std.id == subnet_id)
                .ok_or_else(|| {
                    invalid_input(
                        "fixed_ips",
                        format!(
                            "subnet {subnet_id} is not a subnet of network {}",
                            wanted.network_id
                        ),
                    )
                })?,
            (None, Some(ip)) => wanted
                .subnets
                .iter()
                .find(|s| s.cidr.contains(&ip))
                .ok_or_else(|| {
                    invalid_input(
                        "fixed_ips",
                        format!("{ip} is on no subnet of network {}", wanted.network_id),
                    )
                })?,
            (None, None) => {
                return Err(invalid_input(
                    "fixed_ips",
                    "each entry needs a subnet_id, an ip_address or both",
                ));
            }
        };
        let fixed_ip = match request.ip_address {
            Some(ip) => {
                check_address(subnet, ip, wanted.gateway_allowed)?;
                let fixed_ip = FixedIp {
                    subnet_id: subnet.std.id.clone(),
                    ip_address: ip,
                };
                let held = wanted.current.contains(&fixed_ip);
                if !held && store::ports::address_in_use(conn, &fixed_ip)?.is_some() {
                    return Err(store::ports::address_taken(wanted.network_id, &fixed_ip));
                }
                fixed_ip
            }
            None => {
                let kept = wanted
                    .current
                    .iter()
                    .find(|ip| ip.subnet_id == subnet.std.id && !chosen.contains(ip));
                match kept {
                    Some(kept) => kept.clone(),
                    None => {
                        let pending: Vec<Ipv4Addr> = chosen.iter().map(|c| c.ip_address).collect();
                        FixedIp {
                            subnet_id: subnet.std.id.clone(),
                            ip_address: next_free(conn, subnet, &pending)?,
                        }
                    }
                }
            }
        };
        if chosen.contains(&fixed_ip) {
            return Err(invalid_input(
                "fixed_ips",
                format!("{} is asked for twice", fixed_ip.ip_address),
            ));
        }
        chosen.push(fixed_ip);
    }
    Ok(chosen)
}

/// A specific address must be a host address of its subnet, and only a
/// router interface may take the gateway's.
fn check_address(subnet: &Subnet, ip: Ipv4Addr, gateway_allowed: bool) -> Result<(), NetworkError> {
    if !ipam::is_host_address(&subnet.cidr, ip) {
        return Err(invalid_input(
            "fixed_ips",
            format!(
                "{ip} is not a host address of subnet {} ({})",
                subnet.std.id, subnet.cidr
            ),
        ));
    }
    if subnet.gateway_ip == Some(ip) && !gateway_allowed {
        return Err(invalid_input(
            "fixed_ips",
            format!("{ip} is the gateway of subnet {}", subnet.std.id),
        ));
    }
    Ok(())
}
