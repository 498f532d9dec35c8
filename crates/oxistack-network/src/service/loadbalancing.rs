//! What the load-balancer service needs, one method per method of the
//! `oxistack_contracts::LoadBalancerNetworking` contract; src/contracts.rs
//! implements the contract with them.
//!
//! A load balancer's ports are ordinary ports with device_owner `Octavia`
//! and device_id `lb-<id>`, as Octavia makes them, so the port API lists
//! them, floating IPs attach to them as to an instance's, and the data
//! plane plugs them all into the load balancer's namespace. The VIP port
//! counts against the load balancer's project quota, as Octavia's does;
//! the legs on member subnets (Octavia plugs its amphorae into those,
//! from the service project) do not.
//!
//! Each load balancer gets its own security group, named `lb-<id>` as
//! Octavia names it, opening exactly its listeners' ports. Octavia keeps
//! it in its service project; here it belongs to the load balancer's
//! project (oxistack has no service project for it), so the project sees
//! it in its list. Its id is the load balancer's id, which finds it
//! without a search by name a user could confuse with a group of the
//! same name (ids are UUIDs, unique across the networking tables).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;
use oxistack_auth::{Action, AuthContext};
use oxistack_contracts::{DEVICE_OWNER_LOADBALANCER, ListenerOpening, VipPort, VipRequest};
use oxistack_db::rusqlite::Connection;
use oxistack_netplane::LOAD_BALANCER_DEVICE_PREFIX;
use serde_json::Map;

use super::addresses::{self, Wanted};
use super::{NetworkService, networks, port_records, ports, quotas, security_groups, subnets};
use crate::errors::{NetworkError, authorize, conflict, invalid_input, missing};
use crate::kind::Kind;
use crate::model::{Binding, Direction, EtherType, FixedIp, Network, Port, Rule, Standard, Subnet};
use crate::rules;
use crate::store::{self, Prefilter, Scope};
use crate::wire::{FixedIpRequest, PortUpdate};

/// Neutron's error type for a port another device holds.
const PORT_IN_USE: &str = "PortInUse";

impl NetworkService {
    /// Creates the VIP port of a load balancer (or binds the caller's
    /// port), with the load balancer's security group, which opens
    /// nothing yet. Octavia's precedence: a port, else a subnet, else the
    /// network's subnet holding the address (or its first subnet).
    pub async fn create_vip(
        &self,
        caller: &AuthContext,
        request: VipRequest,
    ) -> Result<VipPort, NetworkError> {
        authorize(caller, Action::CreateNetworking)?;
        if request.load_balancer_id.is_empty() || request.project_id.is_empty() {
            return Err(invalid_input(
                "load_balancer",
                "a load balancer id and project are needed",
            ));
        }
        let address = match request.address {
            None => None,
            Some(IpAddr::V4(address)) => Some(address),
            Some(IpAddr::V6(address)) => {
                return Err(invalid_input(
                    "vip_address",
                    format!("{address}: subnets are IPv4"),
                ));
            }
        };
        let caller = Arc::new(caller.clone());
        let host = self.host.clone();
        self.change(move |conn| {
            let lb_id = request.load_balancer_id.as_str();
            if !load_balancer_ports(conn, lb_id)?.is_empty() {
                return Err(conflict(
                    PORT_IN_USE,
                    format!("Load balancer {lb_id} already has a VIP port."),
                ));
            }
            let group = security_groups::insert_group(
                conn,
                Standard {
                    id: lb_id.to_owned(),
                    ..Standard::new(
                        &request.project_id,
                        format!("Security group for load balancer {lb_id}"),
                    )
                },
                oxistack_contracts::vip_device_id(lb_id),
            )?;
            let mut port = match &request.port_id {
                Some(port_id) => {
                    adopted_port(conn, &caller, port_id, request.subnet_id.as_deref())?
                }
                None => {
                    let network = match (&request.subnet_id, &request.network_id) {
                        (Some(subnet_id), _) => {
                            let subnet = subnets::load(conn, &caller, subnet_id)?;
                            networks::get(conn, &subnet.network_id)?
                        }
                        (None, Some(network_id)) => networks::load(conn, &caller, network_id)?,
                        (None, None) => {
                            return Err(invalid_input(
                                "vip",
                                "one of vip_port_id, vip_subnet_id or vip_network_id is needed",
                            ));
                        }
                    };
                    let subnet = match &request.subnet_id {
                        Some(subnet_id) => subnet_id.clone(),
                        None => first_subnet(conn, &network, address)?.std.id,
                    };
                    quotas::check(conn, &request.project_id, Kind::Port)?;
                    let wanted = FixedIpRequest {
                        subnet_id: Some(subnet),
                        ip_address: address,
                    };
                    let mut port =
                        new_port(conn, &network, &request.project_id, lb_id, wanted, &host)?;
                    port.name = format!("octavia-lb-{lb_id}");
                    port
                }
            };
            if let Some(address) = address
                && !port.fixed_ips.iter().any(|ip| ip.ip_address == address)
            {
                return Err(invalid_input(
                    "vip_address",
                    format!("port {} does not have address {address}", port.std.id),
                ));
            }
            port.device_id = oxistack_contracts::vip_device_id(lb_id);
            port.device_owner = DEVICE_OWNER_LOADBALANCER.to_owned();
            port.binding.host_id = host;
            port.security_groups = if port.port_security_enabled {
                vec![group.std.id]
            } else {
                Vec::new()
            };
            port.std.touch();
            store::ports::save(conn, &port)?;
            let vip = vip_address(&port, address)?;
            Ok(VipPort {
                port_id: port.std.id.clone(),
                network_id: port.network_id.clone(),
                subnet_id: vip.subnet_id.clone(),
                address: IpAddr::V4(vip.ip_address),
                created: port.created_by_service,
            })
        })
        .await
    }

    /// Makes the load balancer's group allow exactly `openings` in (each
    /// allowed prefix, or everyone), and everything out, as Neutron's
    /// default egress rules do. Rules that stay keep their ids.
    pub async fn set_openings(
        &self,
        load_balancer_id: &str,
        openings: Vec<ListenerOpening>,
    ) -> Result<(), NetworkError> {
        let lb_id = load_balancer_id.to_owned();
        self.change(move |conn| {
            let group = lb_group(conn, &lb_id)?;
            let mut wanted: BTreeMap<String, Rule> = BTreeMap::new();
            let mut add = |rule: Rule| {
                wanted.entry(rules::fingerprint(&rule)).or_insert(rule);
            };
            for ethertype in [EtherType::Ipv4, EtherType::Ipv6] {
                add(group_rule(
                    &group.std,
                    Direction::Egress,
                    ethertype,
                    None,
                    None,
                ));
            }
            for opening in &openings {
                if !matches!(opening.protocol, "tcp" | "udp") || opening.port == 0 {
                    return Err(invalid_input(
                        "listener",
                        format!("{}/{} cannot be opened", opening.protocol, opening.port),
                    ));
                }
                let everyone = [IpNet::V4(Default::default())];
                let sources = if opening.allowed_cidrs.is_empty() {
                    &everyone[..]
                } else {
                    &opening.allowed_cidrs[..]
                };
                for source in sources {
                    let ethertype = match source {
                        IpNet::V4(_) => EtherType::Ipv4,
                        IpNet::V6(_) => EtherType::Ipv6,
                    };
                    add(group_rule(
                        &group.std,
                        Direction::Ingress,
                        ethertype,
                        Some((opening.protocol, opening.port)),
                        Some(source.trunc()),
                    ));
                }
            }
            let mut changed = false;
            for rule in &group.rules {
                if wanted.remove(&rules::fingerprint(rule)).is_none() {
                    store::delete(conn, "security_group_rules", &rule.std.id)?;
                    changed = true;
                }
            }
            for rule in wanted.into_values() {
                store::security_groups::insert_rule(conn, &rule)?;
                changed = true;
            }
            if changed {
                store::touch(conn, "security_groups", &group.std.id)?;
            }
            Ok(())
        })
        .await
    }

    /// Gives the load balancer one port on each of `subnet_ids` other than
    /// its VIP's, in its group, and deletes its member-subnet ports on
    /// subnets no longer listed. Unknown subnets are refused.
    pub async fn set_member_subnets(
        &self,
        load_balancer_id: &str,
        subnet_ids: Vec<String>,
    ) -> Result<(), NetworkError> {
        let lb_id = load_balancer_id.to_owned();
        let host = self.host.clone();
        self.change(move |conn| {
            let group = lb_group(conn, &lb_id)?;
            let (members, vips): (Vec<Port>, Vec<Port>) = load_balancer_ports(conn, &lb_id)?
                .into_iter()
                .partition(|p| p.load_balancer_member);
            let on_subnet = |ports: &[Port], subnet_id: &str| {
                ports
                    .iter()
                    .any(|p| p.fixed_ips.iter().any(|ip| ip.subnet_id == subnet_id))
            };
            for subnet_id in &subnet_ids {
                if on_subnet(&vips, subnet_id) || on_subnet(&members, subnet_id) {
                    continue;
                }
                let subnet = store::subnets::list(conn, Scope::All, &Prefilter::id(subnet_id))?
                    .pop()
                    .ok_or_else(|| {
                        invalid_input("member", format!("subnet {subnet_id} does not exist"))
                    })?;
                let network = networks::get(conn, &subnet.network_id)?;
                let wanted = FixedIpRequest {
                    subnet_id: Some(subnet.std.id),
                    ip_address: None,
                };
                let mut port =
                    new_port(conn, &network, &group.std.project_id, &lb_id, wanted, &host)?;
                port.name = format!("octavia-lb-member-{lb_id}");
                port.load_balancer_member = true;
                if port.port_security_enabled {
                    port.security_groups = vec![group.std.id.clone()];
                }
                store::ports::save(conn, &port)?;
            }
            for port in members {
                let listed = port
                    .fixed_ips
                    .iter()
                    .any(|ip| subnet_ids.contains(&ip.subnet_id));
                if !listed {
                    port_records::remove(conn, &port)?;
                }
            }
            Ok(())
        })
        .await
    }

    /// Deletes the load balancer's ports (a VIP port the user passed in is
    /// unbound and goes back to its project's `default` group), the
    /// floating IP associations on them and its group. Idempotent.
    pub async fn release_load_balancer(&self, load_balancer_id: &str) -> Result<(), NetworkError> {
        let lb_id = load_balancer_id.to_owned();
        self.change(move |conn| {
            for mut port in load_balancer_ports(conn, &lb_id)? {
                port.security_groups.retain(|group| group != &lb_id);
                if !port.created_by_service
                    && port.port_security_enabled
                    && port.security_groups.is_empty()
                {
                    let default = security_groups::ensure_default(conn, &port.std.project_id)?;
                    port.security_groups.push(default);
                }
                port_records::detach(conn, port)?;
            }
            let group = store::security_groups::list(conn, Scope::All, &Prefilter::id(&lb_id))?;
            if !group.is_empty() {
                store::delete(conn, "security_groups", &lb_id)?;
            }
            Ok(())
        })
        .await
    }

    /// The network of subnet `subnet_id`, if the caller can see it.
    pub async fn subnet_network(
        &self,
        caller: &AuthContext,
        subnet_id: &str,
    ) -> Result<String, NetworkError> {
        authorize(caller, Action::ReadNetworking)?;
        let (caller, subnet_id) = (Arc::new(caller.clone()), subnet_id.to_owned());
        self.db
            .read(move |conn| Ok(subnets::load(conn, &caller, &subnet_id)?.network_id))
            .await
    }
}

/// The refusal to delete (`verb`: "deleted") or rebind a load
/// balancer's port through the port API.
pub fn port_in_use(port: &Port, verb: &str) -> NetworkError {
    conflict(
        PORT_IN_USE,
        format!(
            "Port {} cannot be {verb} directly via the port API: it is in use by load balancer {} (device owner {}). Delete the load balancer instead.",
            port.std.id,
            port.device_id
                .strip_prefix(LOAD_BALANCER_DEVICE_PREFIX)
                .unwrap_or(&port.device_id),
            port.device_owner
        ),
    )
}

/// Only the load-balancer service makes load balancers' ports: a port
/// made through the port API with their device owner would be plugged
/// into the namespace of whichever load balancer its device_id names.
pub fn refuse_owner(device_owner: &str) -> Result<(), NetworkError> {
    if device_owner == DEVICE_OWNER_LOADBALANCER {
        return Err(invalid_input(
            "device_owner",
            format!(
                "{DEVICE_OWNER_LOADBALANCER} is reserved for the ports of load balancers, which the load-balancer service makes"
            ),
        ));
    }
    Ok(())
}

/// A load balancer's port keeps its device through the port API, and no
/// other port becomes one (see [`refuse_owner`]).
pub fn refuse_rebinding(port: &Port, request: &PortUpdate) -> Result<(), NetworkError> {
    let rebinds = |field: &Option<String>, current: &str| {
        field.as_deref().is_some_and(|value| value != current)
    };
    if port.device_owner != DEVICE_OWNER_LOADBALANCER {
        return refuse_owner(request.device_owner.as_deref().unwrap_or_default());
    }
    if rebinds(&request.device_id, &port.device_id)
        || rebinds(&request.device_owner, &port.device_owner)
    {
        return Err(port_in_use(port, "changed"));
    }
    Ok(())
}

/// Every port of load balancer `lb_id`.
fn load_balancer_ports(conn: &Connection, lb_id: &str) -> Result<Vec<Port>, NetworkError> {
    let mut ports = store::ports::list(
        conn,
        Scope::All,
        &Prefilter::new().with("device_id", vec![oxistack_contracts::vip_device_id(lb_id)]),
    )?;
    ports.retain(|port| port.device_owner == DEVICE_OWNER_LOADBALANCER);
    Ok(ports)
}

/// The load balancer's security group (its id is the load balancer's).
fn lb_group(conn: &Connection, lb_id: &str) -> Result<crate::model::SecurityGroup, NetworkError> {
    store::security_groups::list(conn, Scope::All, &Prefilter::id(lb_id))?
        .pop()
        .ok_or_else(|| {
            missing(
                "SecurityGroupNotFound",
                format!("Load balancer {lb_id} has no security group: it has no VIP port."),
            )
        })
}

/// The caller's unbound port `port_id`, to become a VIP (on `subnet_id`,
/// if given).
fn adopted_port(
    conn: &Connection,
    caller: &AuthContext,
    port_id: &str,
    subnet_id: Option<&str>,
) -> Result<Port, NetworkError> {
    let port = ports::load(conn, caller, port_id)?;
    if !port.device_id.is_empty() || !port.device_owner.is_empty() {
        return Err(conflict(
            PORT_IN_USE,
            format!(
                "Unable to complete operation for network {}. The port {port_id} is in use by {}.",
                port.network_id,
                if port.device_id.is_empty() {
                    &port.device_owner
                } else {
                    &port.device_id
                }
            ),
        ));
    }
    if let Some(subnet_id) = subnet_id
        && !port.fixed_ips.iter().any(|ip| ip.subnet_id == subnet_id)
    {
        return Err(invalid_input(
            "vip_subnet_id",
            format!("port {port_id} has no address on subnet {subnet_id}"),
        ));
    }
    Ok(port)
}

/// The network's subnet for a VIP: the one holding `address`, else the
/// first (all subnets are IPv4).
fn first_subnet(
    conn: &Connection,
    network: &Network,
    address: Option<std::net::Ipv4Addr>,
) -> Result<Subnet, NetworkError> {
    let mut subnets = store::subnets::of_network(conn, &network.std.id)?;
    let holding = address.and_then(|a| subnets.iter().position(|s| s.cidr.contains(&a)));
    match holding {
        Some(index) => Ok(subnets.swap_remove(index)),
        None if subnets.is_empty() => Err(invalid_input(
            "vip_network_id",
            format!("network {} has no subnet", network.std.id),
        )),
        None => Ok(subnets.swap_remove(0)),
    }
}

/// A new port of load balancer `lb_id` on `network`, owned by `project`,
/// with the address `wanted` asks for (refused if taken); not yet saved.
fn new_port(
    conn: &Connection,
    network: &Network,
    project: &str,
    lb_id: &str,
    wanted: FixedIpRequest,
    host: &str,
) -> Result<Port, NetworkError> {
    let subnets = store::subnets::of_network(conn, &network.std.id)?;
    let fixed_ips = addresses::resolve(
        conn,
        Wanted {
            network_id: &network.std.id,
            subnets: &subnets,
            requested: Some(&[wanted]),
            current: &[],
            gateway_allowed: false,
        },
    )?;
    Ok(Port {
        std: Standard::new(project, String::new()),
        name: String::new(),
        network_id: network.std.id.clone(),
        mac_address: port_records::free_mac(conn, &network.std.id)?,
        admin_state_up: true,
        device_id: oxistack_contracts::vip_device_id(lb_id),
        device_owner: DEVICE_OWNER_LOADBALANCER.to_owned(),
        fixed_ips,
        security_groups: Vec::new(),
        port_security_enabled: network.port_security_enabled,
        allowed_address_pairs: Vec::new(),
        binding: Binding {
            host_id: host.to_owned(),
            profile: Map::new(),
            vnic_type: "normal".to_owned(),
        },
        created_by_service: true,
        load_balancer_member: false,
    })
}

/// The VIP's fixed IP: `address` if given (checked before), else the
/// port's first.
fn vip_address(port: &Port, address: Option<std::net::Ipv4Addr>) -> Result<&FixedIp, NetworkError> {
    port.fixed_ips
        .iter()
        .find(|ip| address.is_none_or(|a| a == ip.ip_address))
        .ok_or_else(|| {
            invalid_input(
                "vip_port_id",
                format!("port {} has no IPv4 address", port.std.id),
            )
        })
}

/// A rule of the load balancer's group: any protocol, or one protocol to
/// one port, from (ingress) or to (egress) `remote`.
fn group_rule(
    group: &Standard,
    direction: Direction,
    ethertype: EtherType,
    protocol_port: Option<(&str, u16)>,
    remote: Option<IpNet>,
) -> Rule {
    Rule {
        std: Standard::new(&group.project_id, String::new()),
        security_group_id: group.id.clone(),
        direction,
        ethertype,
        protocol: protocol_port.map(|(protocol, _)| protocol.to_owned()),
        port_range_min: protocol_port.map(|(_, port)| port),
        port_range_max: protocol_port.map(|(_, port)| port),
        remote_ip_prefix: remote,
        remote_group_id: None,
    }
}
