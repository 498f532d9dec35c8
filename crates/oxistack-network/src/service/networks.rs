//! Networks: their segments (flat or VXLAN), sharing, and what keeps them
//! from being deleted.

use oxistack_auth::{Action, AuthContext};
use oxistack_db::rusqlite::Connection;
use oxistack_netplane::DEVICE_OWNER_DHCP;

use super::access::{self, DESCRIPTION_MAX, found, owner, require_owner, scope, update_text};
use super::{dhcp, quotas};
use crate::errors::{NetworkError, authorize, conflict, invalid_input};
use crate::kind::Kind;
use crate::model::{Network, NetworkType, Standard};
use crate::store::{self, Prefilter};
use crate::wire::{NetworkCreate, NetworkUpdate};

/// The largest VXLAN identifier (24 bits).
const MAX_VNI: u32 = (1 << 24) - 1;
/// MTUs: a flat network carries full frames; VXLAN's 50 bytes of
/// encapsulation come out of a 1500-byte underlay.
const FLAT_MTU: u32 = 1500;
const VXLAN_MTU: u32 = 1450;
/// The smallest MTU IPv4 allows.
const MIN_MTU: u32 = 68;

fn max_mtu(network_type: NetworkType) -> u32 {
    match network_type {
        NetworkType::Flat => FLAT_MTU,
        NetworkType::Vxlan => VXLAN_MTU,
    }
}

pub fn create(
    conn: &Connection,
    caller: &AuthContext,
    request: NetworkCreate,
) -> Result<Network, NetworkError> {
    let project = owner(caller, request.project_id, request.tenant_id)?;
    // Asking for the default (not shared, not external) needs no privilege.
    if request.shared == Some(true) {
        authorize(caller, Action::ShareNetwork)?;
    }
    if request.external == Some(true) {
        authorize(caller, Action::CreateExternalNetwork)?;
    }
    let provider_given = request.network_type.is_some()
        || request.physical_network.is_some()
        || request.segmentation_id.is_some();
    if provider_given {
        authorize(caller, Action::SetNetworkProvider)?;
    }
    let name = access::name(request.name)?;
    let description = access::text("description", request.description, DESCRIPTION_MAX)?;
    let (network_type, physical_network, segmentation_id) = segment(
        conn,
        request.network_type.as_deref(),
        request.physical_network,
        request.segmentation_id,
    )?;
    let mtu = checked_mtu(network_type, request.mtu)?;
    quotas::check(conn, &project, Kind::Network)?;
    let network = Network {
        std: Standard::new(&project, description),
        name,
        admin_state_up: request.admin_state_up.unwrap_or(true),
        shared: request.shared.unwrap_or(false),
        external: request.external.unwrap_or(false),
        mtu,
        port_security_enabled: request.port_security_enabled.unwrap_or(true),
        network_type,
        physical_network,
        segmentation_id,
        availability_zone_hints: access::availability_zone_hints(request.availability_zone_hints)?,
        subnet_ids: Vec::new(),
    };
    store::networks::save(conn, &network)?;
    Ok(network)
}

/// The segment a new network gets: the provider attributes asked for, or a
/// VXLAN network with the lowest free identifier.
fn segment(
    conn: &Connection,
    network_type: Option<&str>,
    physical_network: Option<String>,
    segmentation_id: Option<u32>,
) -> Result<(NetworkType, Option<String>, Option<u32>), NetworkError> {
    let network_type = match network_type {
        None if physical_network.is_some() || segmentation_id.is_some() => {
            return Err(invalid_input(
                "provider:network_type",
                "it is required with provider:physical_network or provider:segmentation_id",
            ));
        }
        None => NetworkType::Vxlan,
        Some(text) => NetworkType::parse(text).ok_or_else(|| {
            invalid_input(
                "provider:network_type",
                format!("network type '{text}' is not supported; use flat or vxlan"),
            )
        })?,
    };
    match network_type {
        NetworkType::Flat => {
            let Some(physical_network) = physical_network.filter(|p| !p.is_empty()) else {
                return Err(invalid_input(
                    "provider:physical_network",
                    "a flat network needs the physical network it is carried on",
                ));
            };
            if segmentation_id.is_some() {
                return Err(invalid_input(
                    "provider:segmentation_id",
                    "a flat network has no segmentation id",
                ));
            }
            if store::networks::segment_taken(conn, network_type, Some(&physical_network), None)? {
                return Err(conflict(
                    "FlatNetworkInUse",
                    format!(
                        "Unable to create the flat network. Physical network {physical_network} is in use."
                    ),
                ));
            }
            Ok((network_type, Some(physical_network), None))
        }
        NetworkType::Vxlan => {
            if physical_network.is_some() {
                return Err(invalid_input(
                    "provider:physical_network",
                    "a VXLAN network is not carried on a physical network",
                ));
            }
            let vni = match segmentation_id {
                None => store::networks::free_vni(conn)?,
                Some(vni @ 1..=MAX_VNI) => {
                    if store::networks::segment_taken(conn, network_type, None, Some(vni))? {
                        return Err(conflict(
                            "TunnelIdInUse",
                            format!("Unable to create the network. The tunnel ID {vni} is in use."),
                        ));
                    }
                    vni
                }
                Some(other) => {
                    return Err(invalid_input(
                        "provider:segmentation_id",
                        format!("{other} is not a VXLAN identifier (1 to {MAX_VNI})"),
                    ));
                }
            };
            Ok((network_type, None, Some(vni)))
        }
    }
}

fn checked_mtu(network_type: NetworkType, requested: Option<u32>) -> Result<u32, NetworkError> {
    let max = max_mtu(network_type);
    match requested {
        None => Ok(max),
        Some(mtu) if (MIN_MTU..=max).contains(&mtu) => Ok(mtu),
        Some(mtu) => Err(invalid_input(
            "mtu",
            format!(
                "{mtu} is not possible on a {} network; use {MIN_MTU} to {max}",
                network_type.as_str()
            ),
        )),
    }
}

pub fn update(
    conn: &Connection,
    caller: &AuthContext,
    id: &str,
    request: NetworkUpdate,
) -> Result<(), NetworkError> {
    let mut network = load(conn, caller, id)?;
    require_owner(caller, &network.std.project_id)?;
    access::update_name(&mut network.name, request.name)?;
    update_text(
        &mut network.std.description,
        "description",
        request.description,
        DESCRIPTION_MAX,
    )?;
    if let Some(shared) = request.shared.filter(|s| *s != network.shared) {
        authorize(caller, Action::ShareNetwork)?;
        if !shared && other_projects_use(conn, &network)? {
            return Err(conflict(
                "InvalidSharedSetting",
                format!(
                    "Unable to reconfigure sharing settings for network {id}. Multiple tenants are using it."
                ),
            ));
        }
        network.shared = shared;
    }
    if let Some(external) = request.external.filter(|e| *e != network.external) {
        authorize(caller, Action::CreateExternalNetwork)?;
        if !external
            && store::ports::on_network(conn, id, &[DEVICE_OWNER_DHCP])?
                .iter()
                .any(|p| p.is_network_owned())
        {
            return Err(conflict(
                "ExternalNetworkInUse",
                format!(
                    "External network {id} cannot be made internal: router gateways or floating IPs use it."
                ),
            ));
        }
        network.external = external;
    }
    if request.mtu.is_some() {
        network.mtu = checked_mtu(network.network_type, request.mtu)?;
    }
    if let Some(up) = request.admin_state_up {
        network.admin_state_up = up;
    }
    if let Some(enabled) = request.port_security_enabled {
        network.port_security_enabled = enabled;
    }
    network.std.touch();
    store::networks::save(conn, &network)
}

/// Whether other projects' own ports (not routers' or floating IPs') are
/// on the network.
fn other_projects_use(conn: &Connection, network: &Network) -> Result<bool, NetworkError> {
    Ok(store::ports::on_network(conn, &network.std.id, &[])?
        .iter()
        .any(|port| !port.is_network_owned() && port.std.project_id != network.std.project_id))
}

/// Deletes a network and its subnets. Its DHCP port goes with it, and so
/// do the floating IPs of an external network that forward nowhere, as in
/// Neutron; any other port (an instance's, a router's, an associated
/// floating IP's) keeps it in use.
pub fn delete(conn: &Connection, caller: &AuthContext, id: &str) -> Result<(), NetworkError> {
    let network = load(conn, caller, id)?;
    require_owner(caller, &network.std.project_id)?;
    for floating_ip in store::floating_ips::on_network(conn, id)? {
        if floating_ip.association.is_none() {
            store::floating_ips::remove(conn, &floating_ip)?;
        }
    }
    if !store::ports::on_network(conn, id, &[DEVICE_OWNER_DHCP])?.is_empty() {
        return Err(conflict(
            "NetworkInUse",
            format!(
                "Unable to complete operation on network {id}. There are one or more ports still in use on the network."
            ),
        ));
    }
    dhcp::remove(conn, id)?;
    for subnet in &network.subnet_ids {
        store::delete(conn, "subnets", subnet)?;
    }
    store::delete(conn, "networks", id)
}

/// The network `id` if the caller can see it.
pub fn load(conn: &Connection, caller: &AuthContext, id: &str) -> Result<Network, NetworkError> {
    found(
        store::networks::list(conn, scope(caller), &Prefilter::id(id))?,
        Kind::Network,
        id,
    )
}

/// The network `id`, whoever owns it: for the service's own bookkeeping.
pub fn get(conn: &Connection, id: &str) -> Result<Network, NetworkError> {
    found(
        store::networks::list(conn, store::Scope::All, &Prefilter::id(id))?,
        Kind::Network,
        id,
    )
}
