//! What networking offers the load-balancer service: the VIP port a load
//! balancer answers on, the ports it gets on its members' other subnets
//! (as Octavia plugs an amphora into them), and the security group that
//! opens exactly its listeners' ports.
//!
//! Every port made here has device_owner [`DEVICE_OWNER_LOADBALANCER`] and
//! device_id `lb-<load balancer id>` ([`vip_device_id`]), so the network
//! data plane puts them all into the load balancer's namespace, and
//! `openstack port list --device-id lb-$LB_ID` finds the VIP as in the
//! seed. Networking refuses to delete such a port, or change its device,
//! through its own API, and no port API request may make one.

use std::net::IpAddr;

use futures_util::future::BoxFuture;
use ipnet::IpNet;
use oxistack_auth::AuthContext;

use crate::ContractError;

/// The `device_owner` Octavia gives its VIP ports.
pub const DEVICE_OWNER_LOADBALANCER: &str = "Octavia";

/// The `device_id` of every port of load balancer `lb_id`.
pub fn vip_device_id(lb_id: &str) -> String {
    format!("lb-{lb_id}")
}

/// Where a load balancer's VIP goes, as its create request names it. At
/// least one of the three ids is set; Octavia's precedence applies: a
/// port is used as it is, else the subnet, else the network's first
/// subnet (of the address's family when an address is given).
#[derive(Debug, Clone, Default)]
pub struct VipRequest {
    pub load_balancer_id: String,
    /// The project the load balancer (and so the port) belongs to.
    pub project_id: String,
    pub port_id: Option<String>,
    pub subnet_id: Option<String>,
    pub network_id: Option<String>,
    pub address: Option<IpAddr>,
}

/// The VIP port as created (or adopted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VipPort {
    pub port_id: String,
    pub network_id: String,
    pub subnet_id: String,
    pub address: IpAddr,
    /// Whether networking created the port (and so deletes it with the
    /// load balancer) or the user passed it in (only unbound then).
    pub created: bool,
}

/// A listener's opening in the load balancer's security group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerOpening {
    /// `tcp` or `udp` (HTTP listeners are `tcp`).
    pub protocol: &'static str,
    pub port: u16,
    /// Sources allowed; empty is everyone (`0.0.0.0/0`).
    pub allowed_cidrs: Vec<IpNet>,
}

/// The networking service as the load-balancer service uses it.
pub trait LoadBalancerNetworking: Send + Sync + 'static {
    /// Creates the VIP port (or binds the given one) for a load balancer,
    /// with its own security group (named `lb-<id>`, owned by the
    /// project, its id the load balancer's id) that lets everything out
    /// and nothing in yet; the VIP port is in that group only. The
    /// caller's visibility of the subnet, network or port is checked:
    /// what it cannot see is `NotFound`. A taken address, a port already
    /// bound, or a load balancer that has a VIP already is `Conflict`;
    /// an address not on the port or subnet, or an IPv6 one, `Invalid`.
    /// The port counts against the project's port quota. One
    /// transaction: a refusal changes nothing.
    fn create_vip<'a>(
        &'a self,
        caller: &'a AuthContext,
        request: VipRequest,
    ) -> BoxFuture<'a, Result<VipPort, ContractError>>;

    /// Makes the load balancer's security group open exactly `openings`
    /// (one ingress rule per opening and allowed prefix) besides
    /// Neutron's default egress rules; rules that stay keep their ids.
    /// A protocol other than `tcp`/`udp` or port 0 is `Invalid`; a load
    /// balancer without a VIP is `NotFound`.
    fn set_openings<'a>(
        &'a self,
        load_balancer_id: &'a str,
        openings: Vec<ListenerOpening>,
    ) -> BoxFuture<'a, Result<(), ContractError>>;

    /// Makes the load balancer have one port on each of `subnet_ids`
    /// besides its VIP's (members on other subnets are reached through
    /// them), creating and deleting ports as needed; they are in its
    /// security group, outside the project's quota (Octavia's amphorae
    /// plug them from its service project). Unknown subnets are
    /// `Invalid`; the caller checks the user may see them
    /// ([`LoadBalancerNetworking::subnet_network`]).
    fn set_member_subnets<'a>(
        &'a self,
        load_balancer_id: &'a str,
        subnet_ids: Vec<String>,
    ) -> BoxFuture<'a, Result<(), ContractError>>;

    /// Deletes the load balancer's ports (a VIP port the user passed in is
    /// only unbound and put back in its project's `default` group), their
    /// floating IP associations (the floating IPs stay) and its security
    /// group. Nothing to delete is not an error.
    fn release<'a>(&'a self, load_balancer_id: &'a str)
    -> BoxFuture<'a, Result<(), ContractError>>;

    /// Brings the host's network in line with the database now, so that a
    /// new VIP port's namespace exists before the proxy is asked to serve
    /// in it.
    fn sync_host(&self) -> BoxFuture<'_, Result<(), ContractError>>;

    /// Whether `subnet_id` exists and the caller can see it; its network id.
    fn subnet_network<'a>(
        &'a self,
        caller: &'a AuthContext,
        subnet_id: &'a str,
    ) -> BoxFuture<'a, Result<String, ContractError>>;
}
