//! Each network's DHCP port: the address its DHCP server answers from on
//! every subnet with DHCP enabled, as Neutron's DHCP agent keeps one.

use oxistack_db::rusqlite::Connection;
use oxistack_netplane::DEVICE_OWNER_DHCP;

use super::{addresses, port_records};
use crate::errors::NetworkError;
use crate::model::{FixedIp, Network};
use crate::store::{self, Prefilter, Scope};

/// Gives the network's DHCP port an address on each subnet with DHCP and
/// none on the others; removes the port when no subnet has DHCP.
pub fn sync(conn: &Connection, network: &Network) -> Result<(), NetworkError> {
    let subnets: Vec<_> = store::subnets::of_network(conn, &network.std.id)?
        .into_iter()
        .filter(|subnet| subnet.enable_dhcp)
        .collect();
    let existing = port_of(conn, &network.std.id)?;
    if subnets.is_empty() {
        return match existing {
            Some(port) => port_records::remove(conn, &port),
            None => Ok(()),
        };
    }
    let held = existing
        .as_ref()
        .map_or(&[][..], |port| port.fixed_ips.as_slice());
    let mut fixed_ips = Vec::new();
    for subnet in &subnets {
        let fixed_ip = match held.iter().find(|ip| ip.subnet_id == subnet.std.id) {
            Some(kept) => kept.clone(),
            None => FixedIp {
                subnet_id: subnet.std.id.clone(),
                ip_address: addresses::next_free(conn, subnet, &[])?,
            },
        };
        fixed_ips.push(fixed_ip);
    }
    let port = match existing {
        Some(port) if port.fixed_ips == fixed_ips => return Ok(()),
        Some(mut port) => {
            port.fixed_ips = fixed_ips;
            port.std.touch();
            port
        }
        None => port_records::service_port(
            conn,
            network,
            &network.std.project_id,
            DEVICE_OWNER_DHCP,
            &format!("dhcp-{}", network.std.id),
            fixed_ips,
        )?,
    };
    store::ports::save(conn, &port)
}

/// Removes the network's DHCP port, if any.
pub fn remove(conn: &Connection, network_id: &str) -> Result<(), NetworkError> {
    match port_of(conn, network_id)? {
        Some(port) => port_records::remove(conn, &port),
        None => Ok(()),
    }
}

fn port_of(
    conn: &Connection,
    network_id: &str,
) -> Result<Option<crate::model::Port>, NetworkError> {
    Ok(store::ports::list(
        conn,
        Scope::All,
        &Prefilter::new()
            .with("network_id", vec![network_id.to_owned()])
            .with("device_owner", vec![DEVICE_OWNER_DHCP.to_owned()]),
    )?
    .pop())
}
