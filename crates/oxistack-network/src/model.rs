//! The networking resources as the service reasons about them.

use std::net::{IpAddr, Ipv4Addr};

use chrono::{DateTime, Utc};
use ipnet::{IpNet, Ipv4Net};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use oxistack_db::time::{parse_storage_time, storage_time};
pub use oxistack_http::time::wire_time;

/// What every resource has: Neutron's "standard attributes".
#[derive(Debug, Clone, PartialEq)]
pub struct Standard {
    /// Creation order (the row's rowid): the default list order.
    pub seq: i64,
    pub id: String,
    /// The owning project; empty for ports the cloud itself owns (router
    /// gateways, floating IP reservations), as Neutron leaves them.
    pub project_id: String,
    pub description: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub revision_number: i64,
    pub tags: Vec<String>,
}

impl Standard {
    pub fn new(project_id: &str, description: String) -> Standard {
        let now = Utc::now();
        Standard {
            seq: 0,
            id: uuid::Uuid::new_v4().to_string(),
            project_id: project_id.to_owned(),
            description,
            created_at: now,
            updated_at: now,
            revision_number: 0,
            tags: Vec::new(),
        }
    }

    /// Marks a change: a new revision, updated now.
    pub fn touch(&mut self) {
        self.revision_number += 1;
        self.updated_at = Utc::now();
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkType {
    Flat,
    Vxlan,
}

impl NetworkType {
    pub fn as_str(self) -> &'static str {
        match self {
            NetworkType::Flat => "flat",
            NetworkType::Vxlan => "vxlan",
        }
    }

    pub fn parse(text: &str) -> Option<NetworkType> {
        match text {
            "flat" => Some(NetworkType::Flat),
            "vxlan" => Some(NetworkType::Vxlan),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    pub std: Standard,
    pub name: String,
    pub admin_state_up: bool,
    pub shared: bool,
    pub external: bool,
    pub mtu: u32,
    pub port_security_enabled: bool,
    pub network_type: NetworkType,
    /// Set for flat networks.
    pub physical_network: Option<String>,
    /// The VNI of a VXLAN network.
    pub segmentation_id: Option<u32>,
    pub availability_zone_hints: Vec<String>,
    /// Ids of the network's subnets (loaded, not stored here).
    pub subnet_ids: Vec<String>,
}

/// An inclusive range of addresses a subnet allocates from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pool {
    pub start: Ipv4Addr,
    pub end: Ipv4Addr,
}

impl Pool {
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        self.start <= ip && ip <= self.end
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    pub destination: Ipv4Net,
    pub nexthop: Ipv4Addr,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Subnet {
    pub std: Standard,
    pub name: String,
    pub network_id: String,
    pub cidr: Ipv4Net,
    pub gateway_ip: Option<Ipv4Addr>,
    pub allocation_pools: Vec<Pool>,
    pub dns_nameservers: Vec<IpAddr>,
    pub host_routes: Vec<Route>,
    pub enable_dhcp: bool,
    /// Whether its network is external (loaded, not stored here).
    pub external: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixedIp {
    pub subnet_id: String,
    pub ip_address: Ipv4Addr,
}

/// An address a port may send from besides its own: a single address or a
/// prefix, with the MAC it comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressPair {
    /// As the client gave it, normalised: `10.0.0.5` or `10.0.0.0/24`.
    pub ip_address: String,
    pub mac_address: String,
}

impl AddressPair {
    pub fn prefix(&self) -> Option<IpNet> {
        self.ip_address
            .parse::<IpNet>()
            .or_else(|_| self.ip_address.parse::<IpAddr>().map(IpNet::from))
            .ok()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    pub host_id: String,
    pub profile: Map<String, Value>,
    pub vnic_type: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Port {
    pub std: Standard,
    pub name: String,
    pub network_id: String,
    pub mac_address: String,
    pub admin_state_up: bool,
    pub device_id: String,
    pub device_owner: String,
    pub fixed_ips: Vec<FixedIp>,
    /// Security group ids, in the order given.
    pub security_groups: Vec<String>,
    pub port_security_enabled: bool,
    pub allowed_address_pairs: Vec<AddressPair>,
    pub binding: Binding,
    /// Created by a service for its device (compute for a server, load
    /// balancing for a load balancer), and so deleted with it, rather
    /// than made by a user and passed in. Stored as `created_by_compute`,
    /// the column's name from before load balancers.
    pub created_by_service: bool,
    /// A load balancer's leg on one of its members' subnets rather than
    /// its VIP: the data plane gives only the VIP the default route.
    pub load_balancer_member: bool,
}

impl Port {
    pub fn status(&self) -> &'static str {
        port_status(self.admin_state_up, &self.device_id)
    }

    /// Ports the cloud's own devices hold (routers, DHCP, floating IPs).
    pub fn is_network_owned(&self) -> bool {
        self.device_owner.starts_with("network:")
    }
}

/// Neutron's port status: a port is up once something is plugged in.
pub fn port_status(admin_state_up: bool, device_id: &str) -> &'static str {
    if admin_state_up && !device_id.is_empty() {
        "ACTIVE"
    } else {
        "DOWN"
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Gateway {
    pub network_id: String,
    pub port_id: String,
    pub enable_snat: bool,
    /// The gateway port's addresses (loaded).
    pub external_fixed_ips: Vec<FixedIp>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Router {
    pub std: Standard,
    pub name: String,
    pub admin_state_up: bool,
    pub gateway: Option<Gateway>,
    pub routes: Vec<Route>,
    pub availability_zone_hints: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FloatingIp {
    pub std: Standard,
    pub floating_network_id: String,
    /// The port reserving the address on the external network.
    pub floating_port_id: String,
    pub floating_ip_address: Ipv4Addr,
    pub association: Option<Association>,
}

/// Where a floating IP forwards to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Association {
    pub port_id: String,
    pub fixed_ip_address: Ipv4Addr,
    /// The router connecting the port's subnet to the floating network.
    pub router_id: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SecurityGroup {
    pub std: Standard,
    pub name: String,
    /// The project's `default` group, which cannot be renamed or deleted.
    pub is_default: bool,
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Ingress,
    Egress,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        }
    }

    pub fn parse(text: &str) -> Option<Direction> {
        match text {
            "ingress" => Some(Direction::Ingress),
            "egress" => Some(Direction::Egress),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EtherType {
    Ipv4,
    Ipv6,
}

impl EtherType {
    pub fn as_str(self) -> &'static str {
        match self {
            EtherType::Ipv4 => "IPv4",
            EtherType::Ipv6 => "IPv6",
        }
    }

    /// `IPv4` or `IPv6`, in any case (clients differ).
    pub fn parse(text: &str) -> Option<EtherType> {
        match text.to_ascii_lowercase().as_str() {
            "ipv4" => Some(EtherType::Ipv4),
            "ipv6" => Some(EtherType::Ipv6),
            _ => None,
        }
    }

    /// The address family of prefixes the rule may name.
    pub fn matches(self, net: &IpNet) -> bool {
        matches!(
            (self, net),
            (EtherType::Ipv4, IpNet::V4(_)) | (EtherType::Ipv6, IpNet::V6(_))
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub std: Standard,
    pub security_group_id: String,
    pub direction: Direction,
    pub ethertype: EtherType,
    /// A protocol name in lower case (`tcp`) or a number (`132`); `None`
    /// for any protocol.
    pub protocol: Option<String>,
    /// Ports for port-based protocols; ICMP type and code for ICMP.
    pub port_range_min: Option<u16>,
    pub port_range_max: Option<u16>,
    /// Normalised to its network address.
    pub remote_ip_prefix: Option<IpNet>,
    pub remote_group_id: Option<String>,
}
