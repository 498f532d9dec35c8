//! Routers: their external gateway, interfaces on internal subnets, and
//! static routes.

use oxistack_auth::{Action, AuthContext};
use oxistack_db::rusqlite::Connection;
use oxistack_netplane::{DEVICE_OWNER_ROUTER_GATEWAY, DEVICE_OWNER_ROUTER_INTERFACE};

use super::access::{self, DESCRIPTION_MAX, found, owner, require_owner, scope, update_text};
use super::addresses::{self, Wanted};
use super::{networks, port_records, ports, quotas, subnets};
use crate::errors::{NetworkError, authorize, bad_request, conflict, invalid_input, missing};
use crate::kind::Kind;
use crate::model::{Gateway, Port, Route, Router, Standard, Subnet};
use crate::store::{self, Prefilter, Scope};
use crate::wire::{
    self, ExtraRoutes, GatewayRequest, InterfaceInfo, InterfaceRequest, RouterCreate, RouterUpdate,
};

/// Neutron's default `max_routes`.
const MAX_ROUTES: usize = 30;

pub fn create(
    conn: &Connection,
    caller: &AuthContext,
    request: RouterCreate,
) -> Result<Router, NetworkError> {
    let project = owner(caller, request.project_id, request.tenant_id)?;
    refuse_modes(caller, request.distributed, request.ha)?;
    quotas::check(conn, &project, Kind::Router)?;
    let mut router = Router {
        std: Standard::new(
            &project,
            access::text("description", request.description, DESCRIPTION_MAX)?,
        ),
        name: access::name(request.name)?,
        admin_state_up: request.admin_state_up.unwrap_or(true),
        gateway: None,
        routes: Vec::new(),
        availability_zone_hints: access::availability_zone_hints(request.availability_zone_hints)?,
    };
    if let Some(Some(gateway)) = request.external_gateway_info {
        set_gateway(conn, caller, &mut router, gateway)?;
    }
    store::routers::save(conn, &router)?;
    Ok(router)
}

/// Distributed and HA routers are Neutron deployment modes with no meaning
/// on one host: asking for them is refused rather than ignored. Choosing
/// the mode at all is the administrator's, as Neutron's policy has it.
fn refuse_modes(
    caller: &AuthContext,
    distributed: Option<bool>,
    ha: Option<bool>,
) -> Result<(), NetworkError> {
    if distributed.is_some() || ha.is_some() {
        authorize(caller, Action::SetRouterMode)?;
    }
    for (field, on) in [("distributed", distributed), ("ha", ha)] {
        if on == Some(true) {
            return Err(invalid_input(
                field,
                "only centralized, non-HA routers exist here",
            ));
        }
    }
    Ok(())
}

pub fn update(
    conn: &Connection,
    caller: &AuthContext,
    id: &str,
    request: RouterUpdate,
) -> Result<(), NetworkError> {
    let mut router = load(conn, caller, id)?;
    require_owner(caller, &router.std.project_id)?;
    refuse_modes(caller, request.distributed, request.ha)?;
    access::update_name(&mut router.name, request.name)?;
    update_text(
        &mut router.std.description,
        "description",
        request.description,
        DESCRIPTION_MAX,
    )?;
    if let Some(up) = request.admin_state_up {
        router.admin_state_up = up;
    }
    match request.external_gateway_info {
        None => {}
        Some(None) => clear_gateway(conn, &mut router)?,
        Some(Some(gateway)) => set_gateway(conn, caller, &mut router, gateway)?,
    }
    if let Some(routes) = request.routes {
        let routes = routes
            .iter()
            .map(|r| wire::route(r, "routes"))
            .collect::<Result<Vec<_>, _>>()?;
        router.routes = checked_routes(conn, &router, routes)?;
    }
    router.std.touch();
    store::routers::save(conn, &router)
}

/// Points the router's gateway at an external network, creating its
/// gateway port there; `{}` removes the gateway.
fn set_gateway(
    conn: &Connection,
    caller: &AuthContext,
    router: &mut Router,
    request: GatewayRequest,
) -> Result<(), NetworkError> {
    let Some(network_id) = request.network_id else {
        // Only an empty `{}` means "no gateway"; details without the
        // network they are for are a mistake, as Neutron's key check says.
        if request.enable_snat.is_some() || request.external_fixed_ips.is_some() {
            return Err(invalid_input(
                "external_gateway_info",
                "network_id is required with enable_snat or external_fixed_ips",
            ));
        }
        return clear_gateway(conn, router);
    };
    if request.enable_snat.is_some() || request.external_fixed_ips.is_some() {
        authorize(caller, Action::SetRouterGatewayDetails)?;
    }
    let network = networks::load(conn, caller, &network_id)?;
    if !network.external {
        return Err(bad_request(
            "BadRequest",
            format!("Bad router request: Network {network_id} is not an external network."),
        ));
    }
    let enable_snat = request.enable_snat.unwrap_or(true);
    if let Some(gateway) = &mut router.gateway
        && gateway.network_id == network_id
    {
        gateway.enable_snat = enable_snat;
        if let Some(requested) = request.external_fixed_ips {
            let mut port = gateway_port(conn, gateway)?;
            let subnets = store::subnets::of_network(conn, &network_id)?;
            port.fixed_ips = addresses::resolve(
                conn,
                Wanted {
                    network_id: &network_id,
                    subnets: &subnets,
                    requested: Some(&requested),
                    current: &port.fixed_ips,
                    gateway_allowed: false,
                },
            )?;
            port.std.touch();
            store::ports::save(conn, &port)?;
            gateway.external_fixed_ips = port.fixed_ips;
        }
        return Ok(());
    }
    clear_gateway(conn, router)?;
    let subnets = store::subnets::of_network(conn, &network_id)?;
    let fixed_ips = addresses::resolve(
        conn,
        Wanted {
            network_id: &network_id,
            subnets: &subnets,
            requested: request.external_fixed_ips.as_deref(),
            current: &[],
            gateway_allowed: false,
        },
    )?;
    // Gateway ports belong to no project, as in Neutron: the cloud owns
    // the external network's addresses.
    let port = port_records::service_port(
        conn,
        &network,
        "",
        DEVICE_OWNER_ROUTER_GATEWAY,
        &router.std.id,
        fixed_ips,
    )?;
    store::ports::save(conn, &port)?;
    router.gateway = Some(Gateway {
        network_id,
        port_id: port.std.id.clone(),
        enable_snat,
        external_fixed_ips: port.fixed_ips,
    });
    Ok(())
}

fn clear_gateway(conn: &Connection, router: &mut Router) -> Result<(), NetworkError> {
    let Some(gateway) = router.gateway.take() else {
        return Ok(());
    };
    if !store::floating_ips::through_router(conn, &router.std.id)?.is_empty() {
        return Err(conflict(
            "RouterExternalGatewayInUseByFloatingIp",
            format!(
                "Gateway {} of router {} cannot be removed: floating IPs need it.",
                gateway.network_id, router.std.id
            ),
        ));
    }
    for route in &router.routes {
        if on_subnets(conn, &gateway.external_fixed_ips, route)? {
            return Err(conflict(
                "RouterInterfaceInUseByRoute",
                format!(
                    "Gateway of router {} cannot be removed: the route to {} goes through it.",
                    router.std.id, route.destination
                ),
            ));
        }
    }
    port_records::remove(conn, &gateway_port(conn, &gateway)?)
}

fn gateway_port(conn: &Connection, gateway: &Gateway) -> Result<Port, NetworkError> {
    found(
        store::ports::list(conn, Scope::All, &Prefilter::id(&gateway.port_id))?,
        Kind::Port,
        &gateway.port_id,
    )
}

/// Whether the route's nexthop is on the subnet of one of `addresses`.
fn on_subnets(
    conn: &Connection,
    addresses: &[crate::model::FixedIp],
    route: &Route,
) -> Result<bool, NetworkError> {
    for address in addresses {
        let subnet = subnet(conn, &address.subnet_id)?;
        if subnet.cidr.contains(&route.nexthop) {
            return Ok(true);
        }
    }
    Ok(false)
}

fn subnet(conn: &Connection, id: &str) -> Result<Subnet, NetworkError> {
    found(
        store::subnets::list(conn, Scope::All, &Prefilter::id(id))?,
        Kind::Subnet,
        id,
    )
}

/// The router's interface ports, on its internal subnets.
fn interfaces(conn: &Connection, router_id: &str) -> Result<Vec<Port>, NetworkError> {
    store::ports::list(
        conn,
        Scope::All,
        &Prefilter::new()
            .with("device_id", vec![router_id.to_owned()])
            .with(
                "device_owner",
                vec![DEVICE_OWNER_ROUTER_INTERFACE.to_owned()],
            ),
    )
}

/// Each route must lead somewhere the router is connected to: its nexthop
/// on one of its subnets, and not the router's own address.
fn checked_routes(
    conn: &Connection,
    router: &Router,
    routes: Vec<Route>,
) -> Result<Vec<Route>, NetworkError> {
    if routes.len() > MAX_ROUTES {
        return Err(bad_request(
            "RoutesExhausted",
            format!(
                "Unable to complete operation for {}. The number of routes exceeds the maximum {MAX_ROUTES}.",
                router.std.id
            ),
        ));
    }
    let mut addresses: Vec<crate::model::FixedIp> = interfaces(conn, &router.std.id)?
        .into_iter()
        .flat_map(|port| port.fixed_ips)
        .collect();
    if let Some(gateway) = &router.gateway {
        addresses.extend(gateway.external_fixed_ips.iter().cloned());
    }
    let mut checked: Vec<Route> = Vec::new();
    for route in routes {
        let invalid = |why: &str| {
            bad_request(
                "InvalidRoutes",
                format!(
                    "Invalid format for routes: {} via {}, {why}.",
                    route.destination, route.nexthop
                ),
            )
        };
        if addresses.iter().any(|a| a.ip_address == route.nexthop) {
            return Err(invalid("the nexthop is used by the router"));
        }
        if !on_subnets(conn, &addresses, &route)? {
            return Err(invalid("the nexthop is not connected with the router"));
        }
        if !checked.contains(&route) {
            checked.push(route);
        }
    }
    Ok(checked)
}

/// `add_extraroutes` (`add`) or `remove_extraroutes`: routes are added to
/// or taken from the router's; removing a route it does not have is fine.
pub fn change_routes(
    conn: &Connection,
    caller: &AuthContext,
    id: &str,
    request: ExtraRoutes,
    add: bool,
) -> Result<(), NetworkError> {
    let mut router = load(conn, caller, id)?;
    require_owner(caller, &router.std.project_id)?;
    let changed = request
        .routes
        .iter()
        .map(|r| wire::route(r, "router.routes"))
        .collect::<Result<Vec<_>, _>>()?;
    let routes = if add {
        router.routes.iter().chain(&changed).copied().collect()
    } else {
        router
            .routes
            .iter()
            .filter(|r| !changed.contains(r))
            .copied()
            .collect()
    };
    router.routes = checked_routes(conn, &router, routes)?;
    router.std.touch();
    store::routers::save(conn, &router)
}

/// Deletes a router with no interfaces; its gateway port goes with it.
pub fn delete(conn: &Connection, caller: &AuthContext, id: &str) -> Result<(), NetworkError> {
    let mut router = load(conn, caller, id)?;
    require_owner(caller, &router.std.project_id)?;
    if !interfaces(conn, id)?.is_empty() {
        return Err(conflict(
            "RouterInUse",
            format!("Router {id} still has ports"),
        ));
    }
    router.routes.clear();
    clear_gateway(conn, &mut router)?;
    store::delete(conn, "routers", id)
}

/// Connects the router to an internal subnet: on a new port holding the
/// subnet's gateway address, or on a given port with one address.
pub fn add_interface(
    conn: &Connection,
    caller: &AuthContext,
    id: &str,
    request: InterfaceRequest,
) -> Result<InterfaceInfo, NetworkError> {
    let mut router = load(conn, caller, id)?;
    require_owner(caller, &router.std.project_id)?;
    let port = match (request.subnet_id, request.port_id) {
        (Some(_), Some(_)) => {
            return Err(bad_request(
                "BadRequest",
                "Bad router request: Cannot specify both subnet-id and port-id",
            ));
        }
        (None, None) => {
            return Err(bad_request(
                "BadRequest",
                "Bad router request: Either subnet_id or port_id must be specified",
            ));
        }
        (Some(subnet_id), None) => {
            let subnet = subnets::load(conn, caller, &subnet_id)?;
            check_attachable(conn, &router, &subnet)?;
            let Some(gateway_ip) = subnet.gateway_ip else {
                return Err(bad_request(
                    "BadRequest",
                    format!("Bad router request: Subnet {subnet_id} does not have a gateway IP"),
                ));
            };
            let network = networks::get(conn, &subnet.network_id)?;
            let subnets = store::subnets::of_network(conn, &network.std.id)?;
            let fixed_ips = addresses::resolve(
                conn,
                Wanted {
                    network_id: &network.std.id,
                    subnets: &subnets,
                    requested: Some(&[crate::wire::FixedIpRequest {
                        subnet_id: Some(subnet_id),
                        ip_address: Some(gateway_ip),
                    }]),
                    current: &[],
                    gateway_allowed: true,
                },
            )?;
            port_records::service_port(
                conn,
                &network,
                &router.std.project_id,
                DEVICE_OWNER_ROUTER_INTERFACE,
                id,
                fixed_ips,
            )?
        }
        (None, Some(port_id)) => {
            let mut port = ports::load(conn, caller, &port_id)?;
            if !port.device_id.is_empty() {
                return Err(conflict(
                    "PortInUse",
                    format!(
                        "Unable to complete operation for network {}. The port {port_id} is in use by {}.",
                        port.network_id, port.device_id
                    ),
                ));
            }
            let [fixed_ip] = port.fixed_ips.as_slice() else {
                return Err(bad_request(
                    "BadRequest",
                    format!(
                        "Bad router request: Port {port_id} must have exactly one fixed IP to be a router interface"
                    ),
                ));
            };
            let subnet = subnet(conn, &fixed_ip.subnet_id)?;
            check_attachable(conn, &router, &subnet)?;
            port.device_id = id.to_owned();
            port.device_owner = DEVICE_OWNER_ROUTER_INTERFACE.to_owned();
            port.security_groups.clear();
            port.std.touch();
            port
        }
    };
    store::ports::save(conn, &port)?;
    router.std.touch();
    store::routers::save(conn, &router)?;
    Ok(interface_info(&router, &port))
}

/// A subnet can join a router if it is internal, not joined yet, and does
/// not overlap the router's other subnets.
fn check_attachable(
    conn: &Connection,
    router: &Router,
    subnet: &Subnet,
) -> Result<(), NetworkError> {
    if networks::get(conn, &subnet.network_id)?.external {
        return Err(bad_request(
            "BadRequest",
            format!(
                "Bad router request: subnet {} is on an external network; set it as the router's gateway instead.",
                subnet.std.id
            ),
        ));
    }
    for port in interfaces(conn, &router.std.id)? {
        for fixed_ip in &port.fixed_ips {
            if fixed_ip.subnet_id == subnet.std.id {
                return Err(bad_request(
                    "BadRequest",
                    format!(
                        "Bad router request: Router already has a port on subnet {}.",
                        subnet.std.id
                    ),
                ));
            }
            let other = self::subnet(conn, &fixed_ip.subnet_id)?;
            if other.cidr.contains(&subnet.cidr.network())
                || subnet.cidr.contains(&other.cidr.network())
            {
                return Err(bad_request(
                    "BadRequest",
                    format!(
                        "Bad router request: Cidr {} of subnet {} overlaps with cidr {} of subnet {}.",
                        subnet.cidr, subnet.std.id, other.cidr, other.std.id
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Disconnects the router from a subnet (or removes the given interface
/// port): refused while floating IPs or routes depend on it.
pub fn remove_interface(
    conn: &Connection,
    caller: &AuthContext,
    id: &str,
    request: InterfaceRequest,
) -> Result<InterfaceInfo, NetworkError> {
    let mut router = load(conn, caller, id)?;
    require_owner(caller, &router.std.project_id)?;
    let interfaces = interfaces(conn, id)?;
    let port = match (&request.subnet_id, &request.port_id) {
        (None, None) => {
            return Err(bad_request(
                "BadRequest",
                "Bad router request: Either subnet_id or port_id must be specified",
            ));
        }
        (subnet_id, Some(port_id)) => {
            let port = interfaces
                .into_iter()
                .find(|p| &p.std.id == port_id)
                .ok_or_else(|| {
                    missing(
                        "RouterInterfaceNotFound",
                        format!("Router {id} does not have an interface with id {port_id}"),
                    )
                })?;
            if let Some(subnet_id) = subnet_id
                && ports::address_on(&port, subnet_id).is_none()
            {
                return Err(bad_request(
                    "SubnetMismatchForPort",
                    format!("Subnet {subnet_id} does not match with port {port_id}"),
                ));
            }
            port
        }
        (Some(subnet_id), None) => interfaces
            .into_iter()
            .find(|p| ports::address_on(p, subnet_id).is_some())
            .ok_or_else(|| {
                missing(
                    "RouterInterfaceNotFoundForSubnet",
                    format!("Router {id} has no interface on subnet {subnet_id}"),
                )
            })?,
    };
    for fixed_ip in &port.fixed_ips {
        let subnet = subnet(conn, &fixed_ip.subnet_id)?;
        let floating = store::floating_ips::through_router(conn, id)?;
        if floating
            .iter()
            .filter_map(|f| f.association.as_ref())
            .any(|a| subnet.cidr.contains(&a.fixed_ip_address))
        {
            return Err(conflict(
                "RouterInterfaceInUseByFloatingIP",
                format!(
                    "Router interface for subnet {} on router {id} cannot be deleted, as it is required by one or more floating IPs.",
                    subnet.std.id
                ),
            ));
        }
        if let Some(route) = router
            .routes
            .iter()
            .find(|r| subnet.cidr.contains(&r.nexthop))
        {
            return Err(conflict(
                "RouterInterfaceInUseByRoute",
                format!(
                    "Router interface for subnet {} on router {id} cannot be deleted, as it is required by the route to {}.",
                    subnet.std.id, route.destination
                ),
            ));
        }
    }
    port_records::remove(conn, &port)?;
    router.std.touch();
    store::routers::save(conn, &router)?;
    Ok(interface_info(&router, &port))
}

fn interface_info(router: &Router, port: &Port) -> InterfaceInfo {
    let subnet_ids: Vec<String> = port
        .fixed_ips
        .iter()
        .map(|ip| ip.subnet_id.clone())
        .collect();
    InterfaceInfo {
        id: router.std.id.clone(),
        project_id: router.std.project_id.clone(),
        tenant_id: router.std.project_id.clone(),
        port_id: port.std.id.clone(),
        network_id: port.network_id.clone(),
        subnet_id: subnet_ids.first().cloned().unwrap_or_default(),
        subnet_ids,
    }
}

/// The router `id` if the caller can see it.
pub fn load(conn: &Connection, caller: &AuthContext, id: &str) -> Result<Router, NetworkError> {
    found(
        store::routers::list(conn, scope(caller), &Prefilter::id(id))?,
        Kind::Router,
        id,
    )
}
