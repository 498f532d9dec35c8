//! The networking service as the compute service uses it: the types of
//! [`NetworkService`](crate::NetworkService)'s compute-facing methods,
//! field for field those of compute's `Networking` interface, so that the
//! binary adapts one onto the other without either crate knowing the other.

use std::net::IpAddr;

use serde::Deserialize;

/// The `device_owner` of servers' ports.
pub const DEVICE_OWNER_COMPUTE: &str = "compute:nova";

/// A port to create for a server.
#[derive(Debug, Clone)]
pub struct PortRequest {
    /// Network id; the caller must be able to see the network.
    pub network_id: String,
    /// A specific fixed address, else one is allocated.
    pub fixed_ip: Option<IpAddr>,
    /// Security group ids; empty means the project's `default` group.
    pub security_group_ids: Vec<String>,
    /// The server id.
    pub device_id: String,
}

/// A server's port as compute shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSummary {
    pub id: String,
    pub network_id: String,
    pub network_name: String,
    pub mac_address: String,
    pub fixed_ips: Vec<FixedIp>,
    pub floating_ips: Vec<IpAddr>,
    /// Names of the port's security groups.
    pub security_groups: Vec<String>,
    /// Neutron's port status, `ACTIVE` or `DOWN`.
    pub status: String,
    /// True if compute created the port (and so deletes it with the
    /// server); false for a port a user made and passed in.
    pub created_by_compute: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct FixedIp {
    pub subnet_id: String,
    pub ip_address: IpAddr,
}

/// A network a project could boot on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkSummary {
    pub id: String,
    pub name: String,
}
