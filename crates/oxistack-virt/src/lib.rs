//! Compute drivers: how the compute service makes instances exist.
//!
//! The compute service keeps the desired state of every server in the
//! database and drives the host through [`ComputeDriver`]; a driver owns
//! everything on the host side (processes, disks, taps, console logs). The
//! contract is written for a hypervisor whose guests outlive oxistack: a
//! QEMU driver runs one process per instance, talks to it over QMP, plugs
//! one tap per NIC, logs the serial console to a file (and offers it live,
//! [`ComputeDriver::serial_console`]) and keeps an
//! instance's disk and specification in its own state directory, so that
//! after a restart [`ComputeDriver::list`] finds the guests still running
//! and the compute service adopts them rather than booting them again.
//!
//! [`FakeDriver`] keeps instances in memory, for tests and benchmarks.

mod fake;

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite};

pub use fake::FakeDriver;
pub use oxistack_metadata::{InstanceMetadata, PublicKey};

/// Everything a driver needs to create an instance. The compute service
/// builds it from the server's record and its ports; a driver persists
/// what it needs to start the instance again (`power_on`) without it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceSpec {
    /// The server's UUID, which names the instance on the host too.
    pub id: String,
    /// The server's display name.
    pub name: String,
    /// The guest's host name, for the config drive.
    pub hostname: String,
    pub project_id: String,
    pub availability_zone: String,
    pub vcpus: u32,
    pub memory_mib: u64,
    /// Size of the root disk; 0 means "the image's own size".
    pub root_disk_gib: u64,
    pub image: ImageSource,
    pub nics: Vec<Nic>,
    /// Whether the instance gets a config drive.
    pub config_drive: bool,
    /// What cloud-init finds on the config drive (and the metadata service).
    pub metadata: InstanceMetadata,
    /// The volume the instance boots from instead of an overlay on
    /// `image` (boot from volume); its first disk.
    #[serde(default)]
    pub root_volume: Option<VolumeDisk>,
    /// Volumes attached besides the root disk, in attach order; attached
    /// again whenever the instance starts.
    #[serde(default)]
    pub volumes: Vec<VolumeDisk>,
}

/// A Cinder volume plugged into a guest as a virtio-blk disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeDisk {
    pub volume_id: String,
    /// The file behind the disk (a qcow2 chain's top or a raw file).
    pub path: PathBuf,
    /// `qcow2` or `raw`.
    pub format: String,
    /// Opened by several guests at once (multi-attach): shared, not locked.
    pub shareable: bool,
    pub read_only: bool,
}

impl VolumeDisk {
    /// The disk's serial as the guest reads it: the volume id, as Nova sets
    /// it; virtio-blk keeps its first 20 characters, so the guest finds the
    /// disk at `/dev/disk/by-id/virtio-<serial>`.
    pub fn serial(&self) -> String {
        self.volume_id.chars().take(VIRTIO_SERIAL_LENGTH).collect()
    }
}

/// How many characters of a serial virtio-blk passes to the guest.
pub const VIRTIO_SERIAL_LENGTH: usize = 20;

/// The image an instance boots from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageSource {
    pub id: String,
    /// Where the image's data is on this host, once the image service can
    /// say; a driver that needs the bytes and has no path refuses the spawn
    /// with [`DriverError::ImageUnavailable`].
    pub path: Option<PathBuf>,
    /// Glance's `disk_format` (`qcow2`, `raw`...), if known.
    pub disk_format: Option<String>,
}

/// One network interface: a Neutron port plugged into the guest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nic {
    pub port_id: String,
    pub mac_address: String,
    pub network_id: String,
    pub fixed_ips: Vec<IpAddr>,
}

impl Nic {
    /// The host's tap device for the NIC: `tap` + the first 11 characters
    /// of the port id, as Nova names it. The network data plane creates it
    /// on the network's bridge; the driver connects the guest to it.
    pub fn tap_name(&self) -> String {
        let prefix: String = self.port_id.chars().take(11).collect();
        format!("tap{prefix}")
    }
}

/// What an instance is doing, as the host sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InstanceState {
    Running,
    /// Running but frozen (QMP `stop`).
    Paused,
    /// Defined on the host but not running.
    Shutdown,
    /// The host has no such instance.
    Absent,
}

/// An instance the driver knows about, for adoption and reconciliation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceInfo {
    pub id: String,
    pub state: InstanceState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RebootKind {
    /// Ask the guest to restart (ACPI), as `reboot --soft`.
    Soft,
    /// Reset the virtual machine, as pressing its reset button.
    Hard,
}

/// The host as the hypervisor reports it: what `os-hypervisors` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostInfo {
    pub hostname: String,
    /// The address other hosts reach this one at.
    pub host_ip: IpAddr,
    /// `QEMU`, or `fake`.
    pub hypervisor_type: String,
    /// Nova's integer encoding of the version: major * 1,000,000 + minor * 1,000 + patch.
    pub hypervisor_version: u64,
    pub vcpus: u32,
    pub memory_mib: u64,
    pub disk_gib: u64,
    pub cpu: CpuInfo,
    /// How long the host has been up, e.g. the `uptime` command's output.
    pub uptime: String,
}

/// The host's processor, as Nova's `cpu_info` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuInfo {
    pub arch: String,
    pub model: String,
    pub vendor: String,
    pub sockets: u32,
    pub cores: u32,
    pub threads: u32,
    pub features: Vec<String>,
}

/// Why a driver operation failed. The compute service shows the message
/// in the server's fault, so it says what went wrong in the user's terms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DriverError {
    #[error("instance {0} does not exist on this host")]
    NotFound(String),
    #[error("image {id} cannot be used: {reason}")]
    ImageUnavailable { id: String, reason: String },
    #[error("not enough resources on this host: {0}")]
    InsufficientResources(String),
    #[error("the hypervisor failed to {operation} instance {id}: {reason}")]
    Hypervisor {
        id: String,
        operation: &'static str,
        reason: String,
    },
    #[error("{operation} of instance {id} did not finish within {timeout:?}")]
    Timeout {
        id: String,
        operation: &'static str,
        timeout: Duration,
    },
    #[error("host I/O failed: {0}")]
    Io(String),
    /// The operation needs a running guest and instance `0` is not one.
    #[error("instance {0} is not running")]
    NotRunning(String),
    /// The instance has no serial console to connect to (started by a
    /// build without one, or its console is gone).
    #[error("instance {id} has no serial console: {reason}")]
    ConsoleUnavailable { id: String, reason: String },
}

impl From<std::io::Error> for DriverError {
    fn from(error: std::io::Error) -> Self {
        DriverError::Io(error.to_string())
    }
}

pub type DriverResult<T> = Result<T, DriverError>;

/// Both directions of a guest's serial port: what the guest writes is
/// read from it, what is written to it the guest reads as typed.
pub trait ConsoleStream: AsyncRead + AsyncWrite + Send + Unpin {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin> ConsoleStream for T {}

/// An open serial console, as [`ComputeDriver::serial_console`] returns it.
/// Dropping it disconnects; the guest keeps running and its output keeps
/// going to the console log.
pub type SerialConsole = Box<dyn ConsoleStream>;

/// The hypervisor as the compute service drives it. Every operation is
/// idempotent where that makes sense (destroying an absent instance,
/// powering on a running one, spawning an instance that exists with the
/// same spec), because the compute service re-drives interrupted work
/// after a restart without knowing how far it had got.
pub trait ComputeDriver: Send + Sync + 'static {
    /// Creates the instance and starts it; done when the guest is running.
    /// Spawning again an instance whose disk exists (after a host reboot)
    /// reuses the disk and starts it as it was.
    fn spawn<'a>(&'a self, spec: &'a InstanceSpec) -> BoxFuture<'a, DriverResult<()>>;

    /// Stops the instance if it runs and removes everything it has on the
    /// host: process, disk, taps, console log. Absent instances are fine.
    fn destroy<'a>(&'a self, id: &'a str) -> BoxFuture<'a, DriverResult<()>>;

    /// Starts a shut-down instance with the spec it was spawned with.
    fn power_on<'a>(&'a self, id: &'a str) -> BoxFuture<'a, DriverResult<()>>;

    /// Asks the guest to shut down (ACPI power button) and waits up to
    /// `graceful` for it, then stops it hard.
    fn power_off<'a>(&'a self, id: &'a str, graceful: Duration) -> BoxFuture<'a, DriverResult<()>>;

    /// Restarts the guest; a hard reboot also starts a shut-down instance.
    fn reboot<'a>(&'a self, id: &'a str, kind: RebootKind) -> BoxFuture<'a, DriverResult<()>>;

    /// Freezes a running instance in memory.
    fn pause<'a>(&'a self, id: &'a str) -> BoxFuture<'a, DriverResult<()>>;

    /// Resumes a paused instance.
    fn unpause<'a>(&'a self, id: &'a str) -> BoxFuture<'a, DriverResult<()>>;

    /// Plugs a NIC into the instance, hot if it runs, and keeps it in its
    /// spec for later starts.
    fn attach_nic<'a>(&'a self, id: &'a str, nic: &'a Nic) -> BoxFuture<'a, DriverResult<()>>;

    /// Unplugs a NIC (by port id) and drops it from the spec. Absent NICs
    /// are fine.
    fn detach_nic<'a>(&'a self, id: &'a str, port_id: &'a str) -> BoxFuture<'a, DriverResult<()>>;

    /// Plugs a volume into the instance (hot if it runs) as a virtio-blk
    /// disk whose serial is the volume id, and keeps it in the spec for
    /// later starts. Plugging one that is plugged with the same disk is fine.
    fn attach_volume<'a>(
        &'a self,
        id: &'a str,
        disk: &'a VolumeDisk,
    ) -> BoxFuture<'a, DriverResult<()>>;

    /// Unplugs a volume and returns once the guest has let go of it (or
    /// once it is dropped from a stopped instance's spec). Absent volumes
    /// are fine.
    fn detach_volume<'a>(
        &'a self,
        id: &'a str,
        volume_id: &'a str,
    ) -> BoxFuture<'a, DriverResult<()>>;

    /// Tells a running instance that a plugged volume's file grew to
    /// `size_bytes`, so the guest sees the new size. A stopped instance
    /// reads the new size when it starts: nothing to do.
    fn resize_volume<'a>(
        &'a self,
        id: &'a str,
        volume_id: &'a str,
        size_bytes: u64,
    ) -> BoxFuture<'a, DriverResult<()>>;

    /// The guest's serial console output, the last `tail_lines` lines if
    /// given, else all of it.
    fn console_output<'a>(
        &'a self,
        id: &'a str,
        tail_lines: Option<usize>,
    ) -> BoxFuture<'a, DriverResult<String>>;

    /// Connects to the running guest's serial port, interactively: the
    /// stream reads what the guest writes (also logged, see
    /// [`ComputeDriver::console_output`]) and writes keystrokes to it. One
    /// client at a time; fails with [`DriverError::NotRunning`] for a guest
    /// that does not run and [`DriverError::ConsoleUnavailable`] for one
    /// without an interactive console.
    fn serial_console<'a>(&'a self, id: &'a str) -> BoxFuture<'a, DriverResult<SerialConsole>>;

    /// What the instance is doing now.
    fn state<'a>(&'a self, id: &'a str) -> BoxFuture<'a, DriverResult<InstanceState>>;

    /// Every instance this driver has on the host, running or not.
    fn list(&self) -> BoxFuture<'_, DriverResult<Vec<InstanceInfo>>>;

    /// The host's identity and capacity. Cheap: drivers probe the
    /// hypervisor once and cache what does not change.
    fn host(&self) -> HostInfo;
}

/// Keeps the last `lines` lines of `text`, for console output.
pub fn tail(text: &str, lines: Option<usize>) -> String {
    match lines {
        None => text.to_owned(),
        Some(count) => {
            let all: Vec<&str> = text.lines().collect();
            let kept = &all[all.len().saturating_sub(count)..];
            let mut out = kept.join("\n");
            if !kept.is_empty() && text.ends_with('\n') {
                out.push('\n');
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_last_lines() {
        let text = "one\ntwo\nthree\n";
        assert_eq!(tail(text, None), text);
        assert_eq!(tail(text, Some(2)), "two\nthree\n");
        assert_eq!(tail(text, Some(10)), text);
        assert_eq!(tail(text, Some(0)), "");
    }
}
