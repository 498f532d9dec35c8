//! Ports: addresses, MACs, security groups, port security and bindings.

use oxistack_auth::{Action, AuthContext};
use oxistack_contracts::DEVICE_OWNER_LOADBALANCER;
use oxistack_db::rusqlite::Connection;
use oxistack_netplane::{
    DEVICE_OWNER_DHCP, DEVICE_OWNER_FLOATING_IP, DEVICE_OWNER_ROUTER_GATEWAY,
    DEVICE_OWNER_ROUTER_INTERFACE,
};
use serde_json::Map;

use super::access::{
    self, DESCRIPTION_MAX, NAME_MAX, found, owner, require_owner, scope, update_text,
};
use super::addresses::{self, Wanted};
use super::port_records::free_mac;
use super::port_records::remove;
use super::{networks, quotas, security_groups};
use crate::errors::{NetworkError, authorize, bad_request, conflict, invalid_input};
use crate::ipam;
use crate::kind::Kind;
use crate::model::{AddressPair, Binding, FixedIp, Port, Standard};
use crate::store::{self, Prefilter};
use crate::wire::{AddressPairRequest, PortCreate, PortUpdate};

/// Neutron's limit on allowed address pairs per port.
const MAX_ADDRESS_PAIRS: usize = 10;
/// `binding:vnic_type` values Neutron knows.
const VNIC_TYPES: [&str; 10] = [
    "normal",
    "direct",
    "macvtap",
    "baremetal",
    "direct-physical",
    "virtio-forwarder",
    "smart-nic",
    "vdpa",
    "accelerator-direct",
    "remote-managed",
];
/// Ports whose lifecycle belongs to a router, a floating IP or the DHCP
/// server: they go away with those, never through the port API.
const SERVICE_OWNERS: [&str; 4] = [
    DEVICE_OWNER_ROUTER_INTERFACE,
    DEVICE_OWNER_ROUTER_GATEWAY,
    DEVICE_OWNER_FLOATING_IP,
    DEVICE_OWNER_DHCP,
];

/// Who asks for a port.
#[derive(Debug, Clone, Copy)]
pub enum Origin<'a> {
    /// A client of the API.
    Api,
    /// The compute service, for a server on `host`: the port is bound
    /// there and deleted with the server.
    Compute { host: &'a str },
}

pub fn create(
    conn: &Connection,
    caller: &AuthContext,
    request: PortCreate,
    origin: Origin<'_>,
) -> Result<Port, NetworkError> {
    let network = networks::load(conn, caller, &request.network_id)?;
    let project = owner(caller, request.project_id, request.tenant_id)?;
    if network.std.project_id != project && !network.shared {
        authorize(caller, Action::ActOnOtherProjectsNetworking)?;
    }
    let device_owner = access::text("device_owner", request.device_owner, NAME_MAX)?;
    super::loadbalancing::refuse_owner(&device_owner)?;
    // Choosing addresses, MACs or a network device owner is for the
    // network's owner (and the administrator).
    let picks_details = request.mac_address.is_some()
        || device_owner.starts_with("network:")
        || request
            .fixed_ips
            .as_ref()
            .is_some_and(|ips| ips.iter().any(|ip| ip.ip_address.is_some()));
    if picks_details && caller.project_id() != Some(network.std.project_id.as_str()) {
        authorize(caller, Action::ActOnOtherProjectsNetworking)?;
    }
    let binding = match origin {
        Origin::Api => {
            // Clients that send the defaults (no host, no profile) ask for
            // nothing privileged.
            let binds = request
                .binding_host_id
                .as_deref()
                .is_some_and(|h| !h.is_empty())
                || request
                    .binding_profile
                    .as_ref()
                    .is_some_and(|p| !p.is_empty());
            if binds {
                authorize(caller, Action::SetPortBinding)?;
            }
            Binding {
                host_id: access::text("binding:host_id", request.binding_host_id, NAME_MAX)?,
                profile: request.binding_profile.unwrap_or_default(),
                vnic_type: vnic_type(request.binding_vnic_type)?,
            }
        }
        Origin::Compute { host } => Binding {
            host_id: host.to_owned(),
            profile: Map::new(),
            vnic_type: vnic_type(request.binding_vnic_type)?,
        },
    };
    quotas::check(conn, &project, Kind::Port)?;
    let mac_address = match request.mac_address {
        Some(mac) => ipam::normalize_mac(&mac).ok_or_else(|| {
            invalid_input(
                "mac_address",
                format!("'{mac}' is not a unicast MAC address"),
            )
        })?,
        None => free_mac(conn, &network.std.id)?,
    };
    let subnets = store::subnets::of_network(conn, &network.std.id)?;
    let fixed_ips = addresses::resolve(
        conn,
        Wanted {
            network_id: &network.std.id,
            subnets: &subnets,
            requested: request.fixed_ips.as_deref(),
            current: &[],
            gateway_allowed: device_owner == DEVICE_OWNER_ROUTER_INTERFACE,
        },
    )?;
    let port_security_enabled = request
        .port_security_enabled
        .unwrap_or(network.port_security_enabled);
    let security_groups = match request.security_groups {
        Some(groups) if !groups.is_empty() && !port_security_enabled => {
            return Err(bad_request(
                "PortSecurityAndIPRequiredForSecurityGroups",
                "Port security must be enabled and the port must have an IP address to use security groups.",
            ));
        }
        Some(groups) => checked_groups(conn, &project, groups)?,
        None if !port_security_enabled || device_owner.starts_with("network:") => Vec::new(),
        None => vec![security_groups::ensure_default(conn, &project)?],
    };
    let allowed_address_pairs = address_pairs(
        request.allowed_address_pairs,
        &mac_address,
        port_security_enabled,
    )?;
    let port = Port {
        std: Standard::new(
            &project,
            access::text("description", request.description, DESCRIPTION_MAX)?,
        ),
        name: access::name(request.name)?,
        network_id: network.std.id.clone(),
        mac_address,
        admin_state_up: request.admin_state_up.unwrap_or(true),
        device_id: access::text("device_id", request.device_id, NAME_MAX)?,
        device_owner,
        fixed_ips,
        security_groups,
        port_security_enabled,
        allowed_address_pairs,
        binding,
        created_by_service: matches!(origin, Origin::Compute { .. }),
        load_balancer_member: false,
    };
    store::ports::save(conn, &port)?;
    Ok(port)
}

fn vnic_type(requested: Option<String>) -> Result<String, NetworkError> {
    match requested {
        None => Ok("normal".to_owned()),
        Some(vnic) if VNIC_TYPES.contains(&vnic.as_str()) => Ok(vnic),
        Some(vnic) => Err(invalid_input(
            "binding:vnic_type",
            format!("'{vnic}' is not one of {}", VNIC_TYPES.join(", ")),
        )),
    }
}

/// Security groups a port of `project` may use: that project's, each once.
pub fn checked_groups(
    conn: &Connection,
    project: &str,
    groups: Vec<String>,
) -> Result<Vec<String>, NetworkError> {
    let known = store::security_groups::of_project(conn, project, &groups)?;
    let mut checked: Vec<String> = Vec::new();
    for group in groups {
        if !known.contains(&group) {
            return Err(Kind::SecurityGroup.not_found(&group));
        }
        if !checked.contains(&group) {
            checked.push(group);
        }
    }
    Ok(checked)
}

fn address_pairs(
    requested: Option<Vec<AddressPairRequest>>,
    port_mac: &str,
    port_security_enabled: bool,
) -> Result<Vec<AddressPair>, NetworkError> {
    let requested = requested.unwrap_or_default();
    if !requested.is_empty() && !port_security_enabled {
        return Err(conflict(
            "AddressPairAndPortSecurityRequired",
            "Port security must be enabled to have allowed address pairs on a port.",
        ));
    }
    if requested.len() > MAX_ADDRESS_PAIRS {
        return Err(bad_request(
            "AllowedAddressPairExhausted",
            format!("A port may have at most {MAX_ADDRESS_PAIRS} allowed address pairs."),
        ));
    }
    let mut pairs: Vec<AddressPair> = Vec::new();
    for request in requested {
        let ip_address = match (
            request.ip_address.parse::<ipnet::IpNet>(),
            request.ip_address.parse::<std::net::IpAddr>(),
        ) {
            (_, Ok(ip)) => ip.to_string(),
            (Ok(net), _) => net.trunc().to_string(),
            _ => {
                return Err(invalid_input(
                    "allowed_address_pairs",
                    format!("'{}' is not an IP address or prefix", request.ip_address),
                ));
            }
        };
        let mac_address = match request.mac_address {
            None => port_mac.to_owned(),
            Some(mac) => ipam::normalize_mac(&mac).ok_or_else(|| {
                invalid_input(
                    "allowed_address_pairs",
                    format!("'{mac}' is not a unicast MAC address"),
                )
            })?,
        };
        let pair = AddressPair {
            ip_address,
            mac_address,
        };
        if pairs.contains(&pair) {
            return Err(bad_request(
                "DuplicateAddressPairInRequest",
                format!(
                    "The address pair {} {} is given twice.",
                    pair.ip_address, pair.mac_address
                ),
            ));
        }
        pairs.push(pair);
    }
    Ok(pairs)
}

pub fn update(
    conn: &Connection,
    caller: &AuthContext,
    id: &str,
    request: PortUpdate,
) -> Result<(), NetworkError> {
    let mut port = load(conn, caller, id)?;
    require_owner(caller, &port.std.project_id)?;
    super::loadbalancing::refuse_rebinding(&port, &request)?;
    let network = networks::get(conn, &port.network_id)?;
    let owns_network = caller.project_id() == Some(network.std.project_id.as_str());
    let picks_addresses = request
        .fixed_ips
        .as_ref()
        .is_some_and(|ips| ips.iter().any(|ip| ip.ip_address.is_some()));
    let network_owner = request
        .device_owner
        .as_deref()
        .is_some_and(|o| o.starts_with("network:"));
    if (picks_addresses || network_owner) && !owns_network {
        authorize(caller, Action::ActOnOtherProjectsNetworking)?;
    }
    access::update_name(&mut port.name, request.name)?;
    update_text(
        &mut port.std.description,
        "description",
        request.description,
        DESCRIPTION_MAX,
    )?;
    update_text(
        &mut port.device_id,
        "device_id",
        request.device_id,
        NAME_MAX,
    )?;
    update_text(
        &mut port.device_owner,
        "device_owner",
        request.device_owner,
        NAME_MAX,
    )?;
    if let Some(up) = request.admin_state_up {
        port.admin_state_up = up;
    }
    if let Some(mac) = request.mac_address {
        authorize(caller, Action::ActOnOtherProjectsNetworking)?;
        if !port.binding.host_id.is_empty() {
            return Err(conflict(
                "PortBound",
                format!(
                    "Unable to change the MAC address of port {id}: it is bound to host {}.",
                    port.binding.host_id
                ),
            ));
        }
        port.mac_address = ipam::normalize_mac(&mac).ok_or_else(|| {
            invalid_input(
                "mac_address",
                format!("'{mac}' is not a unicast MAC address"),
            )
        })?;
    }
    if request.binding_host_id.is_some() || request.binding_profile.is_some() {
        authorize(caller, Action::SetPortBinding)?;
    }
    update_text(
        &mut port.binding.host_id,
        "binding:host_id",
        request.binding_host_id,
        NAME_MAX,
    )?;
    if let Some(profile) = request.binding_profile {
        port.binding.profile = profile;
    }
    if request.binding_vnic_type.is_some() {
        port.binding.vnic_type = vnic_type(request.binding_vnic_type)?;
    }
    if let Some(requested) = request.fixed_ips {
        let subnets = store::subnets::of_network(conn, &port.network_id)?;
        port.fixed_ips = addresses::resolve(
            conn,
            Wanted {
                network_id: &port.network_id,
                subnets: &subnets,
                requested: Some(&requested),
                current: &port.fixed_ips,
                gateway_allowed: port.device_owner == DEVICE_OWNER_ROUTER_INTERFACE,
            },
        )?;
        keep_floating_ips_valid(conn, &port)?;
    }
    if let Some(groups) = request.security_groups {
        port.security_groups = checked_groups(conn, &port.std.project_id, groups)?;
    }
    if let Some(enabled) = request.port_security_enabled {
        port.port_security_enabled = enabled;
    }
    if let Some(pairs) = request.allowed_address_pairs {
        port.allowed_address_pairs =
            address_pairs(Some(pairs), &port.mac_address, port.port_security_enabled)?;
    }
    if !port.port_security_enabled {
        if !port.security_groups.is_empty() {
            return Err(conflict(
                "PortSecurityPortHasSecurityGroup",
                "Port has security group associated. Cannot disable port security until the security groups are removed.",
            ));
        }
        if !port.allowed_address_pairs.is_empty() {
            return Err(conflict(
                "AddressPairAndPortSecurityRequired",
                "Port has allowed address pairs. Cannot disable port security until they are removed.",
            ));
        }
    }
    port.std.touch();
    store::ports::save(conn, &port)
}

/// A floating IP stays on a fixed IP the port keeps; changing the port's
/// addresses from under one is refused.
fn keep_floating_ips_valid(conn: &Connection, port: &Port) -> Result<(), NetworkError> {
    for floating_ip in store::floating_ips::of_ports(conn, vec![port.std.id.clone()])? {
        let Some(association) = &floating_ip.association else {
            continue;
        };
        if !port
            .fixed_ips
            .iter()
            .any(|ip| ip.ip_address == association.fixed_ip_address)
        {
            return Err(conflict(
                "FloatingIPPortAlreadyAssociated",
                format!(
                    "Fixed IP {} of port {} has floating IP {}: disassociate it first.",
                    association.fixed_ip_address, port.std.id, floating_ip.floating_ip_address
                ),
            ));
        }
    }
    Ok(())
}

pub fn delete(conn: &Connection, caller: &AuthContext, id: &str) -> Result<(), NetworkError> {
    let port = load(conn, caller, id)?;
    require_owner(caller, &port.std.project_id)?;
    if SERVICE_OWNERS.contains(&port.device_owner.as_str()) {
        return Err(conflict(
            "ServicePortInUse",
            format!(
                "Port {id} cannot be deleted directly via the port API: has device owner {}.",
                port.device_owner
            ),
        ));
    }
    if port.device_owner == DEVICE_OWNER_LOADBALANCER {
        return Err(super::loadbalancing::port_in_use(&port, "deleted"));
    }
    remove(conn, &port)
}

/// The port `id` if the caller can see it.
pub fn load(conn: &Connection, caller: &AuthContext, id: &str) -> Result<Port, NetworkError> {
    found(
        store::ports::list(conn, scope(caller), &Prefilter::id(id))?,
        Kind::Port,
        id,
    )
}

/// A port's first fixed IP on a subnet, as routers and floating IPs use.
pub fn address_on<'a>(port: &'a Port, subnet_id: &str) -> Option<&'a FixedIp> {
    port.fixed_ips.iter().find(|ip| ip.subnet_id == subnet_id)
}
