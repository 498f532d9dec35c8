//! What the kernel should hold for a [`NetworkState`], worked out before
//! anything is touched: bridges, instance devices, veth legs of routers,
//! DHCP servers, load balancers and the uplink, each with the names
//! `naming` gives them.
//! Contradictions in the state become errors here, and the rest of the
//! plan is still applied.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};

use ipnet::{IpNet, Ipv4Net};
use oxistack_dhcp::LeaseTable;
use oxistack_netplane::{
    DEVICE_OWNER_DHCP, DataPlaneError, Network, NetworkState, Port, Router, Segment,
};

use crate::ExternalMode;
use crate::leases::{self, METADATA_ADDRESS};
use crate::links::VethLeg;
use crate::naming::{self, Namespaces};
use crate::nat::Nat;
use crate::observe::StaticRoute;

/// The physical network the host's uplink carries, as DevStack and the
/// networking service's bootstrap name it.
pub(crate) const UPLINK_PHYSICAL_NETWORK: &str = "public";

/// `device_owner` prefix of instances' ports.
const INSTANCE_OWNER_PREFIX: &str = "compute:";

/// Whether `port` belongs to an instance that exists: the ports that get
/// a tap and that the metadata service answers for.
pub(crate) fn is_bound_instance_port(port: &Port) -> bool {
    port.device_owner.starts_with(INSTANCE_OWNER_PREFIX) && !port.device_id.is_empty()
}

/// Whether the fabric filters `port` as a tenant's endpoint (security
/// groups, anti-spoofing): an instance's port or a load balancer's.
pub(crate) fn is_endpoint_port(port: &Port) -> bool {
    port.device_owner.starts_with(INSTANCE_OWNER_PREFIX) || port.load_balancer_id().is_some()
}

#[derive(Debug)]
pub(crate) struct Plan {
    pub bridges: Vec<BridgePlan>,
    pub uplink: Option<UplinkPlan>,
    pub instance_ports: Vec<InstancePort>,
    pub routers: Vec<RouterPlan>,
    pub dhcp: Vec<DhcpPlan>,
    pub load_balancers: Vec<LoadBalancerPlan>,
    /// Parts of the state that cannot be realised; returned after the
    /// rest has been applied.
    pub errors: Vec<DataPlaneError>,
}

#[derive(Debug)]
pub(crate) struct BridgePlan {
    pub name: String,
    pub mtu: u32,
    pub up: bool,
}

#[derive(Debug)]
pub(crate) enum UplinkPlan {
    /// The outside namespace's LAN leg on the uplink network's bridge.
    Sandbox(VethLeg),
    /// A veth from the uplink network's bridge to the host's interface.
    Bridged {
        interface: String,
        bridge: String,
        mtu: u32,
    },
}

/// An instance's tap (or whatever device of that name stands in for it).
#[derive(Debug)]
pub(crate) struct InstancePort {
    pub device: String,
    pub bridge: String,
    pub mtu: u32,
    pub up: bool,
}

#[derive(Debug)]
pub(crate) struct RouterPlan {
    pub id: String,
    pub namespace: String,
    pub legs: Vec<VethLeg>,
    pub routes: BTreeSet<StaticRoute>,
    /// `None` without a gateway: no translation at all.
    pub nat: Option<Nat>,
}

#[derive(Debug)]
pub(crate) struct DhcpPlan {
    pub network_id: String,
    pub namespace: String,
    pub leg: VethLeg,
    /// The DHCP port's address the server answers from.
    pub server_id: Ipv4Addr,
    pub leases: LeaseTable,
}

/// A load balancer's namespace: one leg per port, the VIP's subnet
/// gateway as its default route.
#[derive(Debug)]
pub(crate) struct LoadBalancerPlan {
    pub id: String,
    pub namespace: String,
    pub legs: Vec<VethLeg>,
    pub routes: BTreeSet<StaticRoute>,
}

impl Plan {
    /// Every device name the fabric namespace should hold besides the
    /// bridges.
    pub fn fabric_port_devices(&self) -> BTreeSet<&str> {
        let mut devices: BTreeSet<&str> = self
            .instance_ports
            .iter()
            .map(|p| p.device.as_str())
            .collect();
        devices.extend(
            self.routers
                .iter()
                .flat_map(|r| &r.legs)
                .chain(self.dhcp.iter().map(|d| &d.leg))
                .chain(self.load_balancers.iter().flat_map(|lb| &lb.legs))
                .map(|leg| leg.fabric_device.as_str()),
        );
        devices
    }
}

pub(crate) fn plan(state: &NetworkState, names: &Namespaces, external: &ExternalMode) -> Plan {
    let networks: BTreeMap<&str, &Network> =
        state.networks.iter().map(|n| (n.id.as_str(), n)).collect();
    let mut errors = Vec::new();
    let bridges = state
        .networks
        .iter()
        .map(|n| BridgePlan {
            name: naming::bridge(&n.id),
            mtu: n.mtu,
            up: n.admin_state_up,
        })
        .collect();
    let uplink = uplink_network(state, &mut errors).map(|network| match external {
        ExternalMode::Sandbox { lan_address } => UplinkPlan::Sandbox(VethLeg {
            fabric_device: naming::SANDBOX_UPLINK_DEVICE.to_owned(),
            bridge: naming::bridge(&network.id),
            mtu: network.mtu,
            up: true,
            inner_namespace: names.outside(),
            inner_device: naming::OUTSIDE_LAN_DEVICE.to_owned(),
            inner_mac: None,
            inner_addresses: BTreeSet::from([*lan_address]),
        }),
        ExternalMode::Bridged { interface } => UplinkPlan::Bridged {
            interface: interface.clone(),
            bridge: naming::bridge(&network.id),
            mtu: network.mtu,
        },
    });

    let mut instance_ports = Vec::new();
    for port in &state.ports {
        if !is_bound_instance_port(port) {
            continue;
        }
        let Some(network) = lookup(&networks, &port.network_id, "port", &port.id, &mut errors)
        else {
            continue;
        };
        instance_ports.push(InstancePort {
            device: naming::port_device(&port.id),
            bridge: naming::bridge(&network.id),
            mtu: network.mtu,
            up: port.admin_state_up,
        });
    }

    let routers = state
        .routers
        .iter()
        .map(|router| router_plan(state, router, &networks, names, &mut errors))
        .collect();
    let dhcp = state
        .networks
        .iter()
        .filter_map(|network| dhcp_plan(state, network, names, &mut errors))
        .collect();
    let load_balancers = load_balancer_plans(state, &networks, names, &mut errors);
    Plan {
        bridges,
        uplink,
        instance_ports,
        routers,
        dhcp,
        load_balancers,
        errors,
    }
}

fn lookup<'s>(
    networks: &BTreeMap<&str, &'s Network>,
    network_id: &str,
    what: &str,
    id: &str,
    errors: &mut Vec<DataPlaneError>,
) -> Option<&'s Network> {
    let network = networks.get(network_id).copied();
    if network.is_none() {
        errors.push(DataPlaneError::InconsistentState(format!(
            "{what} {id} is on network {network_id}, which the state does not contain"
        )));
    }
    network
}

/// The flat network on the uplink's physical network that gets the
/// uplink: an external one first, then the lowest id. Other flat networks
/// are realised as isolated bridges and reported as unsupported.
fn uplink_network<'s>(
    state: &'s NetworkState,
    errors: &mut Vec<DataPlaneError>,
) -> Option<&'s Network> {
    let flat = |n: &&'s Network| match &n.segment {
        Segment::Flat { physical_network } => Some(physical_network.as_str()),
        Segment::Vxlan { .. } => None,
    };
    let chosen = state
        .networks
        .iter()
        .filter(|n| flat(n) == Some(UPLINK_PHYSICAL_NETWORK))
        .min_by_key(|n| (!n.external, n.id.as_str()));
    for network in &state.networks {
        let Some(physical_network) = flat(&network) else {
            continue;
        };
        if chosen.is_some_and(|c| c.id == network.id) {
            continue;
        }
        let why = match chosen {
            Some(c) if physical_network == UPLINK_PHYSICAL_NETWORK => format!(
                "network {} already has the uplink of physical network {physical_network}",
                c.id
            ),
            _ => format!(
                "this host has an uplink for physical network {UPLINK_PHYSICAL_NETWORK} only"
            ),
        };
        errors.push(DataPlaneError::Unsupported(format!(
            "flat network {} ({}) is an isolated bridge: {why}",
            network.id, network.name
        )));
    }
    chosen
}

fn router_plan(
    state: &NetworkState,
    router: &Router,
    networks: &BTreeMap<&str, &Network>,
    names: &Namespaces,
    errors: &mut Vec<DataPlaneError>,
) -> RouterPlan {
    let namespace = names.router(&router.id);
    let mut legs = Vec::new();
    for interface in &router.interfaces {
        let Some(network) = lookup(
            networks,
            &interface.network_id,
            "router interface",
            &interface.port_id,
            errors,
        ) else {
            continue;
        };
        legs.push(VethLeg {
            fabric_device: naming::port_device(&interface.port_id),
            bridge: naming::bridge(&network.id),
            mtu: network.mtu,
            up: router.admin_state_up,
            inner_namespace: namespace.clone(),
            inner_device: naming::router_interface_device(&interface.port_id),
            inner_mac: Some(interface.mac_address.clone()),
            inner_addresses: BTreeSet::from([interface.address]),
        });
    }
    let floating: BTreeMap<Ipv4Addr, Ipv4Addr> = state
        .floating_ips
        .iter()
        .filter(|f| f.router_id.as_deref() == Some(router.id.as_str()) && f.port_id.is_some())
        .filter_map(|f| match (f.floating_ip_address, f.fixed_ip_address?) {
            (IpAddr::V4(floating), IpAddr::V4(fixed)) => Some((floating, fixed)),
            _ => None,
        })
        .collect();
    let mut routes: BTreeSet<StaticRoute> = router
        .routes
        .iter()
        .map(|r| StaticRoute {
            destination: r.destination,
            via: r.nexthop,
        })
        .collect();
    let mut nat = None;
    match &router.gateway {
        Some(gateway) => {
            if let Some(network) = lookup(
                networks,
                &gateway.network_id,
                "router gateway",
                &gateway.port_id,
                errors,
            ) {
                let device = naming::router_gateway_device(&gateway.port_id);
                let mut addresses: BTreeSet<IpNet> = gateway.addresses.iter().copied().collect();
                // The router answers ARP for its floating IPs on the
                // external network because they are its addresses.
                addresses.extend(floating.keys().map(|f| IpNet::V4(Ipv4Net::from(*f))));
                legs.push(VethLeg {
                    fabric_device: naming::port_device(&gateway.port_id),
                    bridge: naming::bridge(&network.id),
                    mtu: network.mtu,
                    up: router.admin_state_up,
                    inner_namespace: namespace.clone(),
                    inner_device: device.clone(),
                    inner_mac: Some(gateway.mac_address.clone()),
                    inner_addresses: addresses,
                });
                routes.extend(gateway.default_route.map(default_route));
                let snat_address = gateway
                    .enable_snat
                    .then(|| {
                        gateway.addresses.iter().find_map(|a| match a {
                            IpNet::V4(a) => Some(a.addr()),
                            IpNet::V6(_) => None,
                        })
                    })
                    .flatten();
                let internal_subnets = router
                    .interfaces
                    .iter()
                    .filter_map(|i| match i.address {
                        IpNet::V4(a) => Some(a.trunc()),
                        IpNet::V6(_) => None,
                    })
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect();
                nat = Some(Nat {
                    gateway_device: device,
                    snat_address,
                    internal_subnets,
                    floating,
                });
            }
        }
        None if !floating.is_empty() => {
            errors.push(DataPlaneError::InconsistentState(format!(
                "router {} has floating IPs but no gateway",
                router.id
            )));
        }
        None => {}
    }
    RouterPlan {
        id: router.id.clone(),
        namespace,
        legs,
        routes,
        nat,
    }
}

/// One namespace per load balancer holding its ports, each a veth leg
/// with the port's MAC and its addresses with their subnets' prefixes.
fn load_balancer_plans(
    state: &NetworkState,
    networks: &BTreeMap<&str, &Network>,
    names: &Namespaces,
    errors: &mut Vec<DataPlaneError>,
) -> Vec<LoadBalancerPlan> {
    let mut plans: BTreeMap<&str, LoadBalancerPlan> = BTreeMap::new();
    for port in &state.ports {
        let Some(id) = port.load_balancer_id() else {
            continue;
        };
        let Some(network) = lookup(networks, &port.network_id, "port", &port.id, errors) else {
            continue;
        };
        let plan = plans.entry(id).or_insert_with(|| LoadBalancerPlan {
            id: id.to_owned(),
            namespace: names.load_balancer(id),
            legs: Vec::new(),
            routes: BTreeSet::new(),
        });
        let subnets = port.fixed_ips.iter().filter_map(|fixed| {
            Some((
                fixed,
                state.subnets.iter().find(|s| s.id == fixed.subnet_id)?,
            ))
        });
        let is_vip = state
            .load_balancers
            .iter()
            .any(|lb| lb.id == id && lb.vip_port_id == port.id);
        if is_vip {
            let gateway = subnets.clone().find_map(|(_, subnet)| subnet.gateway_ip);
            plan.routes.extend(gateway.map(default_route));
        }
        plan.legs.push(VethLeg {
            fabric_device: naming::port_device(&port.id),
            bridge: naming::bridge(&network.id),
            mtu: network.mtu,
            up: port.admin_state_up,
            inner_namespace: plan.namespace.clone(),
            inner_device: naming::load_balancer_device(&port.id),
            inner_mac: Some(port.mac_address.clone()),
            inner_addresses: subnets
                .filter_map(|(fixed, subnet)| {
                    IpNet::new(fixed.ip_address, subnet.cidr.prefix_len()).ok()
                })
                .collect(),
        });
    }
    plans.into_values().collect()
}

/// The default route of `via`'s family through it.
fn default_route(via: IpAddr) -> StaticRoute {
    let destination = match via {
        IpAddr::V4(_) => IpNet::V4(Ipv4Net::default()),
        IpAddr::V6(_) => IpNet::V6(Default::default()),
    };
    StaticRoute { destination, via }
}

/// A DHCP server for `network` if it has a DHCP port and a subnet with
/// DHCP enabled.
fn dhcp_plan(
    state: &NetworkState,
    network: &Network,
    names: &Namespaces,
    errors: &mut Vec<DataPlaneError>,
) -> Option<DhcpPlan> {
    let enabled: Vec<_> = state
        .subnets
        .iter()
        .filter(|s| s.network_id == network.id && s.enable_dhcp)
        .collect();
    // States list ports by id: the first DHCP port serves the network.
    let port = state
        .ports
        .iter()
        .find(|p| p.network_id == network.id && p.device_owner == DEVICE_OWNER_DHCP)?;
    if enabled.is_empty() {
        return None;
    }
    let Some(server_id) = enabled.iter().find_map(|s| leases::address_on(port, &s.id)) else {
        errors.push(DataPlaneError::InconsistentState(format!(
            "DHCP port {} has no IPv4 address on a DHCP-enabled subnet of network {}",
            port.id, network.id
        )));
        return None;
    };
    let mut addresses: BTreeSet<IpNet> = port
        .fixed_ips
        .iter()
        .filter_map(|fixed| {
            let subnet = state.subnets.iter().find(|s| s.id == fixed.subnet_id)?;
            IpNet::new(fixed.ip_address, subnet.cidr.prefix_len()).ok()
        })
        .collect();
    // Metadata lives on the DHCP port, so the guest's route to it via the
    // port's address works and on-link ARP for it is answered too.
    addresses.insert(IpNet::V4(Ipv4Net::from(METADATA_ADDRESS)));
    let namespace = names.dhcp(&network.id);
    Some(DhcpPlan {
        network_id: network.id.clone(),
        leg: VethLeg {
            fabric_device: naming::port_device(&port.id),
            bridge: naming::bridge(&network.id),
            mtu: network.mtu,
            up: true,
            inner_namespace: namespace.clone(),
            inner_device: naming::dhcp_device(&port.id),
            inner_mac: Some(port.mac_address.clone()),
            inner_addresses: addresses,
        },
        namespace,
        server_id,
        leases: leases::leases(state, network, port, errors),
    })
}
