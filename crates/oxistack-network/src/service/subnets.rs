//! Subnets: CIDR, gateway, allocation pools, DNS servers and host routes.

use std::net::IpAddr;

use oxistack_auth::AuthContext;
use oxistack_db::rusqlite::Connection;
use oxistack_netplane::DEVICE_OWNER_DHCP;

use super::access::{self, DESCRIPTION_MAX, found, owner, require_owner, scope, update_text};
use super::{dhcp, networks, quotas};
use crate::errors::{NetworkError, bad_request, conflict, invalid_input};
use crate::ipam;
use crate::kind::Kind;
use crate::model::{Pool, Route, Standard, Subnet};
use crate::store::{self, Prefilter};
use crate::wire::{self, PoolRequest, RouteRequest, SubnetCreate, SubnetUpdate};

/// Neutron's defaults for `max_dns_nameservers` and `max_subnet_host_routes`.
const MAX_DNS_NAMESERVERS: usize = 5;
const MAX_HOST_ROUTES: usize = 20;

pub fn create(
    conn: &Connection,
    caller: &AuthContext,
    request: SubnetCreate,
) -> Result<Subnet, NetworkError> {
    let network = networks::load(conn, caller, &request.network_id)?;
    let project = owner(caller, request.project_id, request.tenant_id)?;
    require_owner(caller, &network.std.project_id)?;
    match request.ip_version {
        None | Some(4) => {}
        Some(6) => {
            return Err(invalid_input(
                "ip_version",
                "IPv6 subnets are not supported here; use 4",
            ));
        }
        Some(other) => {
            return Err(invalid_input(
                "ip_version",
                format!("{other} is not 4 or 6"),
            ));
        }
    }
    for (field, mode) in [
        ("ipv6_ra_mode", &request.ipv6_ra_mode),
        ("ipv6_address_mode", &request.ipv6_address_mode),
    ] {
        if mode.is_some() {
            return Err(invalid_input(
                field,
                "IPv6 modes apply to IPv6 subnets only",
            ));
        }
    }
    let Some(cidr) = request.cidr else {
        return Err(bad_request(
            "BadRequest",
            "Bad subnets request: a cidr must be given (subnet pools are not supported).",
        ));
    };
    let cidr = ipam::parse_cidr(&cidr)?;
    let siblings = store::subnets::of_network(conn, &network.std.id)?;
    if let Some(other) = siblings
        .iter()
        .find(|s| s.cidr.contains(&cidr.network()) || cidr.contains(&s.cidr.network()))
    {
        return Err(invalid_input(
            "cidr",
            format!(
                "requested subnet with cidr {cidr} for network {} overlaps with another subnet, {} ({})",
                network.std.id, other.std.id, other.cidr
            ),
        ));
    }
    let gateway_ip = match request.gateway_ip {
        None => Some(ipam::default_gateway(&cidr)),
        Some(gateway) => gateway,
    };
    let allocation_pools = match request.allocation_pools {
        Some(pools) => pools.iter().map(pool).collect(),
        None => ipam::default_pools(&cidr, gateway_ip),
    };
    ipam::validate_layout(&cidr, gateway_ip, &allocation_pools)?;
    quotas::check(conn, &project, Kind::Subnet)?;
    let subnet = Subnet {
        std: Standard::new(
            &project,
            access::text("description", request.description, DESCRIPTION_MAX)?,
        ),
        name: access::name(request.name)?,
        network_id: network.std.id.clone(),
        cidr,
        gateway_ip,
        allocation_pools,
        dns_nameservers: nameservers(request.dns_nameservers.unwrap_or_default())?,
        host_routes: host_routes(request.host_routes.unwrap_or_default())?,
        enable_dhcp: request.enable_dhcp.unwrap_or(true),
        external: network.external,
    };
    store::subnets::save(conn, &subnet)?;
    dhcp::sync(conn, &network)?;
    Ok(subnet)
}

fn pool(request: &PoolRequest) -> Pool {
    Pool {
        start: request.start,
        end: request.end,
    }
}

fn nameservers(servers: Vec<IpAddr>) -> Result<Vec<IpAddr>, NetworkError> {
    if servers.len() > MAX_DNS_NAMESERVERS {
        return Err(bad_request(
            "DNSNameServersExhausted",
            format!("A subnet may have at most {MAX_DNS_NAMESERVERS} DNS nameservers."),
        ));
    }
    if let Some(twice) = servers
        .iter()
        .enumerate()
        .find(|(i, s)| servers[..*i].contains(s))
    {
        return Err(invalid_input(
            "dns_nameservers",
            format!("duplicate nameserver {}", twice.1),
        ));
    }
    Ok(servers)
}

fn host_routes(requests: Vec<RouteRequest>) -> Result<Vec<Route>, NetworkError> {
    if requests.len() > MAX_HOST_ROUTES {
        return Err(bad_request(
            "HostRoutesExhausted",
            format!("A subnet may have at most {MAX_HOST_ROUTES} host routes."),
        ));
    }
    let mut routes: Vec<Route> = Vec::new();
    for request in &requests {
        let route = wire::route(request, "host_routes")?;
        if routes.contains(&route) {
            return Err(invalid_input(
                "host_routes",
                format!(
                    "duplicate route to {} via {}",
                    route.destination, route.nexthop
                ),
            ));
        }
        routes.push(route);
    }
    Ok(routes)
}

pub fn update(
    conn: &Connection,
    caller: &AuthContext,
    id: &str,
    request: SubnetUpdate,
) -> Result<(), NetworkError> {
    let mut subnet = load(conn, caller, id)?;
    require_owner(caller, &subnet.std.project_id)?;
    access::update_name(&mut subnet.name, request.name)?;
    update_text(
        &mut subnet.std.description,
        "description",
        request.description,
        DESCRIPTION_MAX,
    )?;
    if let Some(gateway) = request.gateway_ip
        && gateway != subnet.gateway_ip
    {
        if let Some(ip) = gateway {
            let held = store::ports::address_in_use(
                conn,
                &crate::model::FixedIp {
                    subnet_id: subnet.std.id.clone(),
                    ip_address: ip,
                },
            )?;
            if let Some(port) = held {
                return Err(conflict(
                    "GatewayIpInUse",
                    format!("Gateway IP {ip} is in use by port {port}, and cannot be the gateway."),
                ));
            }
        }
        subnet.gateway_ip = gateway;
    }
    if let Some(pools) = request.allocation_pools {
        subnet.allocation_pools = pools.iter().map(pool).collect();
    }
    ipam::validate_layout(&subnet.cidr, subnet.gateway_ip, &subnet.allocation_pools)?;
    if let Some(servers) = request.dns_nameservers {
        subnet.dns_nameservers = nameservers(servers)?;
    }
    if let Some(routes) = request.host_routes {
        subnet.host_routes = host_routes(routes)?;
    }
    let dhcp_changed = request
        .enable_dhcp
        .is_some_and(|enabled| enabled != subnet.enable_dhcp);
    if let Some(enabled) = request.enable_dhcp {
        subnet.enable_dhcp = enabled;
    }
    subnet.std.touch();
    store::subnets::save(conn, &subnet)?;
    if dhcp_changed {
        let network = networks::get(conn, &subnet.network_id)?;
        dhcp::sync(conn, &network)?;
    }
    Ok(())
}

/// Deletes a subnet no port has an address on, but the DHCP port.
pub fn delete(conn: &Connection, caller: &AuthContext, id: &str) -> Result<(), NetworkError> {
    let subnet = load(conn, caller, id)?;
    require_owner(caller, &subnet.std.project_id)?;
    if !store::subnets::ports_using(conn, id, &[DEVICE_OWNER_DHCP])?.is_empty() {
        return Err(conflict(
            "SubnetInUse",
            format!(
                "Unable to complete operation on subnet {id}: One or more ports have an IP allocation from this subnet."
            ),
        ));
    }
    let network = networks::get(conn, &subnet.network_id)?;
    // Take the DHCP server's address off the subnet before it goes.
    let mut without = subnet.clone();
    without.enable_dhcp = false;
    store::subnets::save(conn, &without)?;
    dhcp::sync(conn, &network)?;
    store::delete(conn, "subnets", id)
}

/// The subnet `id` if the caller can see it.
pub fn load(conn: &Connection, caller: &AuthContext, id: &str) -> Result<Subnet, NetworkError> {
    found(
        store::subnets::list(conn, scope(caller), &Prefilter::id(id))?,
        Kind::Subnet,
        id,
    )
}
