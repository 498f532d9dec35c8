//! What the compute service needs from the other services, as small traits.
//!
//! Compute never imports the network or image crates: the binary implements
//! these traits by adapting those services' public Rust APIs, so each side
//! can change its internals freely.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;

use futures_util::future::BoxFuture;
use oxistack_auth::AuthContext;
use oxistack_http::ApiError;

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

#[derive(Debug, Clone, PartialEq, Eq)]
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

/// The networking service as compute uses it. Errors are already in the
/// client's terms (404 for what the caller cannot see, 409 for conflicts
/// such as an exhausted allocation pool).
pub trait Networking: Send + Sync + 'static {
    /// Non-external networks the caller's project may attach servers to:
    /// its own and shared ones.
    fn usable_networks<'a>(
        &'a self,
        caller: &'a AuthContext,
    ) -> BoxFuture<'a, Result<Vec<NetworkSummary>, ApiError>>;

    /// Of the networks `ids`, those the caller may attach a server to by
    /// naming them (an administrator: any); unknown ones are left out.
    fn attachable_networks<'a>(
        &'a self,
        caller: &'a AuthContext,
        ids: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<NetworkSummary>, ApiError>>;

    /// Resolves security group names or ids, as the caller sees them, to ids.
    fn resolve_security_groups<'a>(
        &'a self,
        caller: &'a AuthContext,
        names_or_ids: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<String>, ApiError>>;

    /// Creates a port for a server, owned by the caller's project, with
    /// device_owner [`DEVICE_OWNER_COMPUTE`].
    fn create_port<'a>(
        &'a self,
        caller: &'a AuthContext,
        request: PortRequest,
    ) -> BoxFuture<'a, Result<PortSummary, ApiError>>;

    /// Binds a port the caller can see and that is not in use to a server.
    fn bind_port<'a>(
        &'a self,
        caller: &'a AuthContext,
        port_id: &'a str,
        device_id: &'a str,
    ) -> BoxFuture<'a, Result<PortSummary, ApiError>>;

    /// Detaches one port from a server: deleted if compute created it,
    /// unbound otherwise. Its floating IPs are disassociated.
    fn release_port<'a>(
        &'a self,
        device_id: &'a str,
        port_id: &'a str,
    ) -> BoxFuture<'a, Result<(), ApiError>>;

    /// Detaches every port of a server, as [`Networking::release_port`].
    fn release_ports<'a>(&'a self, device_id: &'a str) -> BoxFuture<'a, Result<(), ApiError>>;

    /// The ports of many servers at once (one query, for server lists).
    fn ports_of<'a>(
        &'a self,
        device_ids: &'a [String],
    ) -> BoxFuture<'a, Result<HashMap<String, Vec<PortSummary>>, ApiError>>;

    /// Adds a security group (name or id) to every port of a server.
    fn add_security_group<'a>(
        &'a self,
        caller: &'a AuthContext,
        device_id: &'a str,
        group: &'a str,
    ) -> BoxFuture<'a, Result<(), ApiError>>;

    /// Removes a security group (name or id) from every port of a server;
    /// 404 if no port has it.
    fn remove_security_group<'a>(
        &'a self,
        caller: &'a AuthContext,
        device_id: &'a str,
        group: &'a str,
    ) -> BoxFuture<'a, Result<(), ApiError>>;

    /// Associates the caller's floating IP `address` with a server's port
    /// (the one holding `fixed_address`, else the first).
    fn associate_floating_ip<'a>(
        &'a self,
        caller: &'a AuthContext,
        device_id: &'a str,
        address: IpAddr,
        fixed_address: Option<IpAddr>,
    ) -> BoxFuture<'a, Result<(), ApiError>>;

    /// Brings the host's network in line with the ports as they are now
    /// and waits for it, so that a server's tap devices exist on their
    /// networks before its instance starts.
    fn sync_host<'a>(&'a self) -> BoxFuture<'a, Result<(), ApiError>>;

    /// Disassociates floating IP `address` from a server.
    fn disassociate_floating_ip<'a>(
        &'a self,
        caller: &'a AuthContext,
        device_id: &'a str,
        address: IpAddr,
    ) -> BoxFuture<'a, Result<(), ApiError>>;
}

/// An image as compute needs it to boot a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSummary {
    pub id: String,
    pub name: String,
    /// Glance status; only `active` images boot.
    pub status: String,
    /// Minimum root disk in GiB and RAM in MiB the image needs.
    pub min_disk: u64,
    pub min_ram: u64,
    pub size: Option<u64>,
    pub disk_format: Option<String>,
    /// Extra properties (Nova shows them in `image.properties` from 2.98).
    pub properties: HashMap<String, String>,
}

/// The image service as compute uses it.
pub trait Images: Send + Sync + 'static {
    /// The image `id` if the caller can see it.
    fn find<'a>(
        &'a self,
        caller: &'a AuthContext,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ImageSummary>, ApiError>>;

    /// Where the data of image `id` is on this host, once uploaded. Not
    /// checked against a caller: compute asks only for images a server
    /// was already allowed to boot from.
    fn data_file(&self, id: &str) -> Option<PathBuf>;
}
