//! The network data plane: what the networking service wants the host's
//! network to look like ([`NetworkState`]), and the trait through which it
//! is made so ([`NetworkDataPlane`]).
//!
//! The networking service owns the desired state in its database; after
//! every change it builds a complete [`NetworkState`] snapshot and hands it
//! to [`NetworkDataPlane::apply`]. An implementation is a reconciler: it
//! compares the snapshot with what exists (bridges, namespaces, nftables
//! rules, DHCP servers) and creates, changes and removes kernel objects
//! until they match, so applying the same state twice changes nothing and
//! anything the state no longer mentions goes away.

mod fake;
mod state;

use futures_util::future::BoxFuture;

pub use fake::FakeDataPlane;
pub use state::{
    AddressPair, Direction, EtherType, FixedIp, FloatingIp, LoadBalancer, Network, NetworkState,
    Port, PortMatch, Remote, Route, Router, RouterGateway, RouterInterface, SecurityGroup,
    SecurityGroupRule, Segment, Subnet,
};

/// `device_owner` of the port a network's DHCP server listens on.
pub const DEVICE_OWNER_DHCP: &str = "network:dhcp";
/// `device_owner` of a router's port on one of its internal subnets.
pub const DEVICE_OWNER_ROUTER_INTERFACE: &str = "network:router_interface";
/// `device_owner` of a router's port on its external network.
pub const DEVICE_OWNER_ROUTER_GATEWAY: &str = "network:router_gateway";
/// `device_owner` of the port reserving a floating IP's address.
pub const DEVICE_OWNER_FLOATING_IP: &str = "network:floatingip";

/// `device_owner` of a load balancer's ports, as Octavia sets it (the
/// same as `oxistack_contracts::DEVICE_OWNER_LOADBALANCER`; the data
/// plane depends on no contract).
pub const DEVICE_OWNER_LOADBALANCER: &str = "Octavia";
/// How a load balancer's ports' device_id starts: `lb-<load balancer id>`.
pub const LOAD_BALANCER_DEVICE_PREFIX: &str = "lb-";

/// Something that makes the host's network match a [`NetworkState`].
pub trait NetworkDataPlane: Send + Sync + 'static {
    /// Brings the host's network to `state`: creates what is missing,
    /// corrects what differs and removes what `state` does not mention.
    /// Idempotent: applying the same state again changes nothing. On an
    /// error part of the state may be applied; the caller applies again
    /// later, which completes the work.
    fn apply<'a>(&'a self, state: &'a NetworkState) -> BoxFuture<'a, Result<(), DataPlaneError>>;
}

/// Why the data plane could not apply a state.
#[derive(Debug, thiserror::Error)]
pub enum DataPlaneError {
    /// A tool the data plane drives (`ip`, `nft`, `dnsmasq`, ...) failed.
    #[error("`{command}` failed ({status}): {stderr}")]
    Command {
        command: String,
        status: String,
        stderr: String,
    },
    /// A kernel object or file could not be created, changed or removed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// The state asks for something this data plane cannot do, such as a
    /// segment type it has no driver for.
    #[error("not supported by this data plane: {0}")]
    Unsupported(String),
    /// The state contradicts itself, e.g. a port on a network it does not
    /// contain. A bug in whoever built it.
    #[error("inconsistent network state: {0}")]
    InconsistentState(String),
    /// The data plane cannot work right now (a prerequisite is missing or
    /// busy); applying again later may succeed.
    #[error("the network data plane is unavailable: {0}")]
    Unavailable(String),
}
