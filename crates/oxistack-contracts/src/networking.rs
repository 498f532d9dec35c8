//! What networking offers compute: usable networks, ports for servers,
//! their security groups and floating IPs, and a synchronous pass of the
//! host's data plane before an instance starts.

use std::collections::HashMap;
use std::net::IpAddr;

use futures_util::future::BoxFuture;
use oxistack_auth::AuthContext;
use serde::Deserialize;

use crate::ContractError;

/// The `device_owner` Nova gives the ports of its servers.
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

/// A server's port as compute shows it: in `addresses`, os-interface and
/// the instance's NICs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSummary {
    pub id: String,
    pub network_id: String,
    pub network_name: String,
    pub mac_address: String,
    pub fixed_ips: Vec<FixedIp>,
    pub floating_ips: Vec<IpAddr>,
    /// Names of the port's security groups (Nova shows names).
    pub security_groups: Vec<String>,
    /// Neutron's port status, e.g. `ACTIVE` or `DOWN`.
    pub status: String,
    /// True if compute created the port (and so deletes it with the server);
    /// false for a port the user made and passed in, which is only unbound.
    pub created_by_compute: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct FixedIp {
    pub subnet_id: String,
    pub ip_address: IpAddr,
}

/// A network a project could boot on, for `networks: "auto"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkSummary {
    pub id: String,
    pub name: String,
}

/// A security group of a server's ports, with its rules, as networking
/// holds it; compute renders it in Nova's shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityGroupDetail {
    pub id: String,
    pub name: String,
    pub description: String,
    pub project_id: String,
    pub rules: Vec<SecurityGroupRuleDetail>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityGroupRuleDetail {
    pub id: String,
    /// True for `ingress`, the only rules Nova shows.
    pub ingress: bool,
    /// A protocol name (`tcp`) or number; `None` for any protocol.
    pub protocol: Option<String>,
    pub port_range_min: Option<u16>,
    pub port_range_max: Option<u16>,
    /// A CIDR, e.g. `0.0.0.0/0`.
    pub remote_ip_prefix: Option<String>,
    /// The group the rule admits traffic from, if it names one.
    pub remote_group: Option<RemoteGroup>,
}

/// The group a rule admits traffic from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteGroup {
    pub name: String,
    pub project_id: String,
}

/// The networking service as compute uses it. What the caller cannot see
/// is [`ContractError::NotFound`]; conflicts such as an exhausted
/// allocation pool are [`ContractError::Conflict`].
pub trait Networking: Send + Sync + 'static {
    /// Non-external networks the caller's project may attach servers to:
    /// its own and shared ones.
    fn usable_networks<'a>(
        &'a self,
        caller: &'a AuthContext,
    ) -> BoxFuture<'a, Result<Vec<NetworkSummary>, ContractError>>;

    /// Of the networks `ids`, those the caller may attach a server to by
    /// naming them (an administrator: any); unknown ones are left out.
    fn attachable_networks<'a>(
        &'a self,
        caller: &'a AuthContext,
        ids: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<NetworkSummary>, ContractError>>;

    /// Resolves security group names or ids, as the caller sees them, to ids.
    fn resolve_security_groups<'a>(
        &'a self,
        caller: &'a AuthContext,
        names_or_ids: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<String>, ContractError>>;

    /// Creates a port for a server, owned by the caller's project, with
    /// device_owner [`DEVICE_OWNER_COMPUTE`].
    fn create_port<'a>(
        &'a self,
        caller: &'a AuthContext,
        request: PortRequest,
    ) -> BoxFuture<'a, Result<PortSummary, ContractError>>;

    /// Binds a port the caller can see and that is not in use to a server.
    fn bind_port<'a>(
        &'a self,
        caller: &'a AuthContext,
        port_id: &'a str,
        device_id: &'a str,
    ) -> BoxFuture<'a, Result<PortSummary, ContractError>>;

    /// Detaches one port from a server: deleted if compute created it,
    /// unbound otherwise. Its floating IPs are disassociated.
    fn release_port<'a>(
        &'a self,
        device_id: &'a str,
        port_id: &'a str,
    ) -> BoxFuture<'a, Result<(), ContractError>>;

    /// Detaches every port of a server, as [`Networking::release_port`].
    fn release_ports<'a>(&'a self, device_id: &'a str) -> BoxFuture<'a, Result<(), ContractError>>;

    /// The ports of many servers at once (one query, for server lists).
    fn ports_of<'a>(
        &'a self,
        device_ids: &'a [String],
    ) -> BoxFuture<'a, Result<HashMap<String, Vec<PortSummary>>, ContractError>>;

    /// Adds a security group (name or id) to every port of a server.
    fn add_security_group<'a>(
        &'a self,
        caller: &'a AuthContext,
        device_id: &'a str,
        group: &'a str,
    ) -> BoxFuture<'a, Result<(), ContractError>>;

    /// The security groups of a server's ports, each once, with their
    /// rules. Not checked against a caller: compute asks only about a
    /// server the caller may see.
    fn server_security_groups<'a>(
        &'a self,
        device_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<SecurityGroupDetail>, ContractError>>;

    /// Removes a security group (name or id) from every port of a server;
    /// not found if no port has it.
    fn remove_security_group<'a>(
        &'a self,
        caller: &'a AuthContext,
        device_id: &'a str,
        group: &'a str,
    ) -> BoxFuture<'a, Result<(), ContractError>>;

    /// Associates the caller's floating IP `address` with a server's port
    /// (the one holding `fixed_address`, else the first).
    fn associate_floating_ip<'a>(
        &'a self,
        caller: &'a AuthContext,
        device_id: &'a str,
        address: IpAddr,
        fixed_address: Option<IpAddr>,
    ) -> BoxFuture<'a, Result<(), ContractError>>;

    /// Disassociates floating IP `address` from a server.
    fn disassociate_floating_ip<'a>(
        &'a self,
        caller: &'a AuthContext,
        device_id: &'a str,
        address: IpAddr,
    ) -> BoxFuture<'a, Result<(), ContractError>>;

    /// Brings the host's network in line with the ports as they are now
    /// and waits for it, so that a server's tap devices exist on their
    /// networks before its instance starts.
    fn sync_host<'a>(&'a self) -> BoxFuture<'a, Result<(), ContractError>>;
}
