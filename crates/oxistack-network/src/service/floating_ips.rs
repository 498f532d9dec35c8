//! Floating IPs: addresses of an external network, forwarded to a port's
//! fixed IP by the router connecting the two.

use std::net::Ipv4Addr;

use oxistack_auth::{Action, AuthContext};
use oxistack_db::rusqlite::Connection;
use oxistack_netplane::DEVICE_OWNER_FLOATING_IP;

use super::access::{self, DESCRIPTION_MAX, found, owner, require_owner, scope, update_text};
use super::addresses::{self, Wanted};
use super::{networks, port_records, ports, quotas};
use crate::errors::{NetworkError, authorize, bad_request, conflict, missing};
use crate::kind::Kind;
use crate::model::{Association, FloatingIp, Standard};
use crate::store::{self, Prefilter};
use crate::wire::{FixedIpRequest, FloatingIpCreate, FloatingIpUpdate};

pub fn create(
    conn: &Connection,
    caller: &AuthContext,
    request: FloatingIpCreate,
) -> Result<FloatingIp, NetworkError> {
    let project = owner(caller, request.project_id, request.tenant_id)?;
    let network = networks::load(conn, caller, &request.floating_network_id)?;
    if !network.external {
        return Err(bad_request(
            "BadRequest",
            format!(
                "Bad floatingip request: Network {} is not a valid external network.",
                network.std.id
            ),
        ));
    }
    // Picking the address on the cloud's external network is for its owner.
    if request.floating_ip_address.is_some()
        && caller.project_id() != Some(network.std.project_id.as_str())
    {
        authorize(caller, Action::ActOnOtherProjectsNetworking)?;
    }
    quotas::check(conn, &project, Kind::FloatingIp)?;
    let mut floating_ip = FloatingIp {
        std: Standard::new(
            &project,
            access::text("description", request.description, DESCRIPTION_MAX)?,
        ),
        floating_network_id: network.std.id.clone(),
        floating_port_id: String::new(),
        floating_ip_address: Ipv4Addr::UNSPECIFIED,
        association: None,
    };
    let subnets = store::subnets::of_network(conn, &network.std.id)?;
    let requested =
        (request.subnet_id.is_some() || request.floating_ip_address.is_some()).then(|| {
            vec![FixedIpRequest {
                subnet_id: request.subnet_id,
                ip_address: request.floating_ip_address,
            }]
        });
    let fixed_ips = addresses::resolve(
        conn,
        Wanted {
            network_id: &network.std.id,
            subnets: &subnets,
            requested: requested.as_deref(),
            current: &[],
            gateway_allowed: false,
        },
    )?;
    let Some(address) = fixed_ips.first().map(|ip| ip.ip_address) else {
        return Err(conflict(
            "IpAddressGenerationFailure",
            format!(
                "No more IP addresses available on network {}: it has no subnet.",
                network.std.id
            ),
        ));
    };
    // The address is reserved by a port of no project, as in Neutron.
    let port = port_records::service_port(
        conn,
        &network,
        "",
        DEVICE_OWNER_FLOATING_IP,
        &floating_ip.std.id,
        fixed_ips,
    )?;
    store::ports::save(conn, &port)?;
    floating_ip.floating_port_id = port.std.id;
    floating_ip.floating_ip_address = address;
    if let Some(port_id) = request.port_id {
        floating_ip.association = Some(association(
            conn,
            caller,
            &floating_ip,
            &port_id,
            request.fixed_ip_address,
        )?);
    }
    store::floating_ips::save(conn, &floating_ip)?;
    Ok(floating_ip)
}

pub fn update(
    conn: &Connection,
    caller: &AuthContext,
    id: &str,
    request: FloatingIpUpdate,
) -> Result<(), NetworkError> {
    let mut floating_ip = load(conn, caller, id)?;
    require_owner(caller, &floating_ip.std.project_id)?;
    update_text(
        &mut floating_ip.std.description,
        "description",
        request.description,
        DESCRIPTION_MAX,
    )?;
    match request.port_id {
        None => {}
        Some(None) => floating_ip.association = None,
        Some(Some(port_id)) => {
            floating_ip.association = Some(association(
                conn,
                caller,
                &floating_ip,
                &port_id,
                request.fixed_ip_address,
            )?);
        }
    }
    floating_ip.std.touch();
    store::floating_ips::save(conn, &floating_ip)
}

/// Where the floating IP would forward to on `port_id`: one of its fixed
/// IPs, through the router connecting that fixed IP's subnet to the
/// floating IP's network.
pub fn association(
    conn: &Connection,
    caller: &AuthContext,
    floating_ip: &FloatingIp,
    port_id: &str,
    fixed_ip_address: Option<Ipv4Addr>,
) -> Result<Association, NetworkError> {
    let port = ports::load(conn, caller, port_id)?;
    let fixed_ip = match fixed_ip_address {
        Some(address) => port
            .fixed_ips
            .iter()
            .find(|ip| ip.ip_address == address)
            .ok_or_else(|| {
                bad_request(
                    "BadRequest",
                    format!(
                        "Bad floatingip request: Port {port_id} does not have fixed ip {address}."
                    ),
                )
            })?,
        None => match port.fixed_ips.as_slice() {
            [only] => only,
            [] => {
                return Err(bad_request(
                    "BadRequest",
                    format!(
                        "Bad floatingip request: Port {port_id} does not have any IPv4 address."
                    ),
                ));
            }
            _ => {
                return Err(bad_request(
                    "BadRequest",
                    format!(
                        "Bad floatingip request: Port {port_id} has multiple fixed IPv4 addresses. Must provide a specific IPv4 address when assigning a floating IP."
                    ),
                ));
            }
        },
    };
    let taken = store::floating_ips::of_ports(conn, vec![port_id.to_owned()])?
        .into_iter()
        .find(|other| {
            other.std.id != floating_ip.std.id
                && other
                    .association
                    .as_ref()
                    .is_some_and(|a| a.fixed_ip_address == fixed_ip.ip_address)
        });
    if let Some(other) = taken {
        return Err(conflict(
            "FloatingIPPortAlreadyAssociated",
            format!(
                "Cannot associate floating IP {} ({}) with port {port_id} using fixed IP {}, as that fixed IP already has a floating IP on external network {}.",
                floating_ip.floating_ip_address,
                floating_ip.std.id,
                fixed_ip.ip_address,
                other.floating_network_id
            ),
        ));
    }
    let router_id = store::routers::connecting(conn, &fixed_ip.subnet_id, &floating_ip.floating_network_id)?
        .ok_or_else(|| {
            missing("ExternalGatewayForFloatingIPNotFound", format!(
                "External network {} is not reachable from subnet {}. Therefore, cannot associate Port {port_id} with a Floating IP.",
                floating_ip.floating_network_id, fixed_ip.subnet_id
            ))
        })?;
    Ok(Association {
        port_id: port_id.to_owned(),
        fixed_ip_address: fixed_ip.ip_address,
        router_id,
    })
}

/// Releases a floating IP and its address.
pub fn delete(conn: &Connection, caller: &AuthContext, id: &str) -> Result<(), NetworkError> {
    let floating_ip = load(conn, caller, id)?;
    require_owner(caller, &floating_ip.std.project_id)?;
    store::floating_ips::remove(conn, &floating_ip)
}

/// The floating IP `id` if the caller can see it.
pub fn load(conn: &Connection, caller: &AuthContext, id: &str) -> Result<FloatingIp, NetworkError> {
    found(
        store::floating_ips::list(conn, scope(caller), &Prefilter::id(id))?,
        Kind::FloatingIp,
        id,
    )
}
