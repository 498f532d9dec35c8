//! Port records made and removed below the port API's checks: the ports
//! of the cloud's own devices (router legs, DHCP servers, floating IP
//! reservations), the free MAC every new port needs, removing a port
//! with the floating IPs on it, and detaching a port from its device. The port API, DHCP, routers and floating
//! IPs all build on these, so they depend on nothing above the store.

use oxistack_db::rusqlite::Connection;
use serde_json::Map;

use crate::errors::NetworkError;
use crate::ipam;
use crate::model::{Binding, FixedIp, Network, Port, Standard};
use crate::store::{self, Prefilter};

/// A port for one of the cloud's own devices (a router's leg, a DHCP
/// server, a floating IP's reservation): no security groups, no filtering.
pub fn service_port(
    conn: &Connection,
    network: &Network,
    project_id: &str,
    device_owner: &str,
    device_id: &str,
    fixed_ips: Vec<FixedIp>,
) -> Result<Port, NetworkError> {
    Ok(Port {
        std: Standard::new(project_id, String::new()),
        name: String::new(),
        network_id: network.std.id.clone(),
        mac_address: free_mac(conn, &network.std.id)?,
        admin_state_up: true,
        device_id: device_id.to_owned(),
        device_owner: device_owner.to_owned(),
        fixed_ips,
        security_groups: Vec::new(),
        port_security_enabled: false,
        allowed_address_pairs: Vec::new(),
        binding: Binding {
            host_id: String::new(),
            profile: Map::new(),
            vnic_type: "normal".to_owned(),
        },
        created_by_service: false,
        load_balancer_member: false,
    })
}

/// A random MAC no port of the network has.
pub fn free_mac(conn: &Connection, network_id: &str) -> Result<String, NetworkError> {
    // 2^24 addresses per network: a collision is rare, several in a row
    // mean something is badly wrong.
    for _ in 0..16 {
        let mac = ipam::random_mac();
        let taken = !store::ports::list(
            conn,
            store::Scope::All,
            &Prefilter::new()
                .with("network_id", vec![network_id.to_owned()])
                .with("mac_address", vec![mac.clone()]),
        )?
        .is_empty();
        if !taken {
            return Ok(mac);
        }
    }
    Err(NetworkError::Internal(format!(
        "no free MAC address found for network {network_id}"
    )))
}

/// Deletes a port, disassociating the floating IPs on it.
pub fn remove(conn: &Connection, port: &Port) -> Result<(), NetworkError> {
    disassociate_floating_ips(conn, &port.std.id)?;
    store::delete(conn, "ports", &port.std.id)
}

pub fn disassociate_floating_ips(conn: &Connection, port_id: &str) -> Result<(), NetworkError> {
    for mut floating_ip in store::floating_ips::of_ports(conn, vec![port_id.to_owned()])? {
        floating_ip.association = None;
        floating_ip.std.touch();
        store::floating_ips::save(conn, &floating_ip)?;
    }
    Ok(())
}

/// Detaches a port from its device (a server, a load balancer): the
/// service's own ports are deleted, a user's port is unbound and kept.
/// Either way no floating IP stays on it; a floating IP itself stays, as
/// when Neutron deletes a port.
pub fn detach(conn: &Connection, mut port: Port) -> Result<(), NetworkError> {
    if port.created_by_service {
        return remove(conn, &port);
    }
    disassociate_floating_ips(conn, &port.std.id)?;
    port.device_id.clear();
    port.device_owner.clear();
    port.binding.host_id.clear();
    port.std.touch();
    store::ports::save(conn, &port)
}
