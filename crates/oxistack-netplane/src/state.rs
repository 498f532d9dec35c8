//! The desired state of the host's network: a plain snapshot, complete on
//! its own, so a reconciler needs nothing else to realise it. Collections
//! are sorted by id, so equal states compare equal.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::{DEVICE_OWNER_LOADBALANCER, LOAD_BALANCER_DEVICE_PREFIX};

/// Everything the data plane should realise.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkState {
    pub networks: Vec<Network>,
    pub subnets: Vec<Subnet>,
    pub ports: Vec<Port>,
    pub routers: Vec<Router>,
    pub floating_ips: Vec<FloatingIp>,
    pub security_groups: Vec<SecurityGroup>,
    pub load_balancers: Vec<LoadBalancer>,
}

/// A layer-2 network: one bridge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    pub id: String,
    /// For logs and device descriptions only.
    pub name: String,
    /// When false, no traffic is forwarded on the network.
    pub admin_state_up: bool,
    pub mtu: u32,
    pub segment: Segment,
    /// Floating IPs and router gateways come from external networks.
    pub external: bool,
}

/// How a network is carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Untagged on the host's physical network of that name (the external
    /// network, possibly bridged onto a NIC).
    Flat { physical_network: String },
    /// A tenant network isolated by a VXLAN identifier.
    Vxlan { vni: u32 },
}

/// An IP subnet on a network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subnet {
    pub id: String,
    pub network_id: String,
    pub cidr: IpNet,
    /// The router address instances use; `None` for a subnet without one.
    pub gateway_ip: Option<IpAddr>,
    /// Handed out by DHCP.
    pub dns_nameservers: Vec<IpAddr>,
    /// Extra routes handed out by DHCP (option 121).
    pub host_routes: Vec<Route>,
    /// Whether a DHCP server answers on the subnet. Its address is the
    /// fixed IP on this subnet of the network's `network:dhcp` port.
    pub enable_dhcp: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub destination: IpNet,
    pub nexthop: IpAddr,
}

/// A port: an instance's NIC, a router's leg, a DHCP server's address, a
/// floating IP's reservation or a load balancer's leg, told apart by
/// `device_owner` (see the `DEVICE_OWNER_*` constants; instances' ports
/// are `compute:*`). An
/// instance's tap device is named `tap` + the first 11 characters of the
/// port id, as Nova and Neutron name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port {
    pub id: String,
    pub network_id: String,
    pub mac_address: String,
    /// When false, the port forwards no traffic.
    pub admin_state_up: bool,
    pub fixed_ips: Vec<FixedIp>,
    /// The instance (or router, or network for DHCP) the port belongs to;
    /// the metadata proxy answers an instance by its port's address.
    pub device_id: String,
    pub device_owner: String,
    /// Ids of the groups whose rules apply; empty with port security off.
    pub security_group_ids: Vec<String>,
    /// When false, the port is not filtered at all: no security groups,
    /// no anti-spoofing.
    pub port_security_enabled: bool,
    /// Further (address, MAC) pairs the port may send from, on top of its
    /// fixed IPs and MAC, e.g. a VIP moved between instances.
    pub allowed_address_pairs: Vec<AddressPair>,
}

impl Port {
    /// The load balancer the port belongs to: the id in its device_id
    /// `lb-<id>` when its device_owner is [`DEVICE_OWNER_LOADBALANCER`].
    pub fn load_balancer_id(&self) -> Option<&str> {
        if self.device_owner != DEVICE_OWNER_LOADBALANCER {
            return None;
        }
        self.device_id
            .strip_prefix(LOAD_BALANCER_DEVICE_PREFIX)
            .filter(|id| !id.is_empty())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixedIp {
    pub subnet_id: String,
    pub ip_address: IpAddr,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressPair {
    /// A single address (`/32`) or a whole prefix.
    pub ip_address: IpNet,
    pub mac_address: String,
}

/// A router: one network namespace connecting its interfaces' subnets and,
/// through its gateway, the external network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Router {
    pub id: String,
    pub admin_state_up: bool,
    pub gateway: Option<RouterGateway>,
    pub interfaces: Vec<RouterInterface>,
    /// Static routes, each nexthop on a connected subnet.
    pub routes: Vec<Route>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterGateway {
    pub network_id: String,
    pub port_id: String,
    pub mac_address: String,
    /// The router's external addresses, with their subnets' prefixes.
    pub addresses: Vec<IpNet>,
    /// The external subnet's gateway: the router's default route.
    pub default_route: Option<IpAddr>,
    /// Whether traffic from the interfaces' subnets is masqueraded behind
    /// the gateway address (floating IPs are translated either way).
    pub enable_snat: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterInterface {
    pub port_id: String,
    pub network_id: String,
    pub subnet_id: String,
    pub mac_address: String,
    /// The router's address on the subnet, with the subnet's prefix
    /// (usually the subnet's gateway, e.g. `10.0.0.1/26`).
    pub address: IpNet,
}

/// A load balancer with ports on the networks: its ports (those whose
/// [`Port::load_balancer_id`] is `id`: the VIP and one per member subnet)
/// share one network namespace, where the load-balancer proxy serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadBalancer {
    pub id: String,
    /// The VIP port: the gateway of its subnet is the namespace's default
    /// route (ports on member subnets reach those subnets directly).
    pub vip_port_id: String,
}

/// A floating IP: destination and source NAT in its router between the
/// floating address and the fixed address, when associated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FloatingIp {
    pub id: String,
    pub floating_ip_address: IpAddr,
    pub floating_network_id: String,
    /// All three set when associated, all `None` otherwise.
    pub port_id: Option<String>,
    pub fixed_ip_address: Option<IpAddr>,
    pub router_id: Option<String>,
}

/// A stateful set of allow rules: traffic a port's groups do not allow is
/// dropped; replies to allowed traffic are allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityGroup {
    pub id: String,
    pub rules: Vec<SecurityGroupRule>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityGroupRule {
    pub id: String,
    pub direction: Direction,
    pub ethertype: EtherType,
    /// IP protocol number; `None` matches every protocol. ICMP for IPv6
    /// rules is 58.
    pub protocol: Option<u8>,
    pub destination: PortMatch,
    pub remote: Remote,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Traffic arriving at the port.
    Ingress,
    /// Traffic leaving the port.
    Egress,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EtherType {
    Ipv4,
    Ipv6,
}

/// What of the protocol's header a rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortMatch {
    Any,
    /// Destination ports `min..=max` (TCP, UDP, SCTP, DCCP, UDP-Lite).
    Ports {
        min: u16,
        max: u16,
    },
    /// An ICMP type, and optionally a code.
    Icmp {
        icmp_type: u8,
        code: Option<u8>,
    },
}

/// The other end of the traffic a rule allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Remote {
    Any,
    /// Addresses in a prefix (source for ingress, destination for egress).
    Prefix(IpNet),
    /// The fixed IPs and allowed address pairs of the ports in a security
    /// group (of the rule's ethertype).
    Group(String),
}
