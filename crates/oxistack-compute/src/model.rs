//! The compute service's records and the states a server goes through, in
//! Nova's terms.

use std::collections::BTreeMap;

use crate::service::ComputeError;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use oxistack_db::time::{parse_storage_time, storage_time};
pub use oxistack_http::time::wire_time;

/// The only availability zone, as in a DevStack with one compute host.
pub const AVAILABILITY_ZONE: &str = "nova";
/// Where the scheduler and conductor services show up.
pub const INTERNAL_ZONE: &str = "internal";

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub fn is_uuid(text: &str) -> bool {
    uuid::Uuid::try_parse(text).is_ok()
}

/// Nova's format for `launched_at`, key pair and flavor times: microseconds
/// and no zone, `2026-11-24T19:00:00.000000`.
pub fn naive_time(time: &DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}

#[derive(Debug, Clone, PartialEq)]
pub struct Flavor {
    pub id: String,
    pub name: String,
    /// MiB.
    pub ram: u64,
    pub vcpus: u32,
    /// Root disk, GiB.
    pub disk: u64,
    pub ephemeral: u64,
    /// MiB.
    pub swap: u64,
    pub rxtx_factor: f64,
    pub is_public: bool,
    pub disabled: bool,
    pub description: Option<String>,
    pub extra_specs: BTreeMap<String, String>,
    pub created_at: DateTime<Utc>,
}

/// The flavor a server was built with, kept with the server as Nova keeps
/// `instance.flavor`: deleting or changing the flavor later does not
/// change what the server shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlavorSnapshot {
    pub id: String,
    pub name: String,
    pub vcpus: u32,
    pub ram: u64,
    pub disk: u64,
    pub ephemeral: u64,
    pub swap: u64,
    pub extra_specs: BTreeMap<String, String>,
}

impl From<&Flavor> for FlavorSnapshot {
    fn from(flavor: &Flavor) -> Self {
        FlavorSnapshot {
            id: flavor.id.clone(),
            name: flavor.name.clone(),
            vcpus: flavor.vcpus,
            ram: flavor.ram,
            disk: flavor.disk,
            ephemeral: flavor.ephemeral,
            swap: flavor.swap,
            extra_specs: flavor.extra_specs.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keypair {
    /// The database id Nova shows as `id` in a key pair's details.
    pub number: i64,
    pub user_id: String,
    pub name: String,
    pub public_key: String,
    pub fingerprint: String,
    pub created_at: DateTime<Utc>,
}

/// Nova's `vm_state`: what the server is, as opposed to what it is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VmState {
    Building,
    Active,
    Stopped,
    Paused,
    Error,
}

impl VmState {
    pub fn as_str(self) -> &'static str {
        match self {
            VmState::Building => "building",
            VmState::Active => "active",
            VmState::Stopped => "stopped",
            VmState::Paused => "paused",
            VmState::Error => "error",
        }
    }

    pub fn parse(text: &str) -> Option<VmState> {
        [
            VmState::Building,
            VmState::Active,
            VmState::Stopped,
            VmState::Paused,
            VmState::Error,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// Nova's `task_state`: what is being done to the server right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskState {
    Scheduling,
    Networking,
    BlockDeviceMapping,
    Spawning,
    PoweringOff,
    PoweringOn,
    Rebooting,
    RebootingHard,
    Pausing,
    Unpausing,
    Deleting,
}

impl TaskState {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Scheduling => "scheduling",
            TaskState::Networking => "networking",
            TaskState::BlockDeviceMapping => "block_device_mapping",
            TaskState::Spawning => "spawning",
            TaskState::PoweringOff => "powering-off",
            TaskState::PoweringOn => "powering-on",
            TaskState::Rebooting => "rebooting",
            TaskState::RebootingHard => "rebooting_hard",
            TaskState::Pausing => "pausing",
            TaskState::Unpausing => "unpausing",
            TaskState::Deleting => "deleting",
        }
    }

    pub fn parse(text: &str) -> Option<TaskState> {
        [
            TaskState::Scheduling,
            TaskState::Networking,
            TaskState::BlockDeviceMapping,
            TaskState::Spawning,
            TaskState::PoweringOff,
            TaskState::PoweringOn,
            TaskState::Rebooting,
            TaskState::RebootingHard,
            TaskState::Pausing,
            TaskState::Unpausing,
            TaskState::Deleting,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// Nova's power states, shown as numbers in `OS-EXT-STS:power_state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowerState {
    NoState = 0,
    Running = 1,
    Paused = 3,
    Shutdown = 4,
}

impl PowerState {
    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn from_code(code: i64) -> PowerState {
        match code {
            1 => PowerState::Running,
            3 => PowerState::Paused,
            4 => PowerState::Shutdown,
            _ => PowerState::NoState,
        }
    }
}

/// The status the API shows, derived from the states as Nova derives it.
pub fn status(vm_state: VmState, task_state: Option<TaskState>) -> &'static str {
    match (vm_state, task_state) {
        (VmState::Building, _) => "BUILD",
        (VmState::Active, Some(TaskState::Rebooting)) => "REBOOT",
        (VmState::Active, Some(TaskState::RebootingHard)) => "HARD_REBOOT",
        (VmState::Active, _) => "ACTIVE",
        (VmState::Stopped, _) => "SHUTOFF",
        (VmState::Paused, _) => "PAUSED",
        (VmState::Error, _) => "ERROR",
    }
}

/// Every status Nova knows; filtering on anything else is a 400 (from
/// 2.38), filtering on one this cloud never shows finds nothing.
pub const KNOWN_STATUSES: &[&str] = &[
    "ACTIVE",
    "BUILD",
    "DELETED",
    "ERROR",
    "HARD_REBOOT",
    "MIGRATING",
    "PASSWORD",
    "PAUSED",
    "REBOOT",
    "REBUILD",
    "RESCUE",
    "RESIZE",
    "REVERT_RESIZE",
    "SHELVED",
    "SHELVED_OFFLOADED",
    "SHUTOFF",
    "SOFT_DELETED",
    "SUSPENDED",
    "UNKNOWN",
    "VERIFY_RESIZE",
];

/// Why a server is in ERROR, as its `fault` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub code: u16,
    pub message: String,
    pub created: DateTime<Utc>,
}

/// Who locked a server: an administrator's lock can only be lifted by an
/// administrator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockedBy {
    Owner,
    Admin,
}

impl LockedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            LockedBy::Owner => "owner",
            LockedBy::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<LockedBy> {
        match text {
            "owner" => Some(LockedBy::Owner),
            "admin" => Some(LockedBy::Admin),
            _ => None,
        }
    }
}

/// A NIC asked for at create time, resolved to a network or a port; kept
/// so an interrupted build can be driven again after a restart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestedNic {
    Network {
        network_id: String,
        fixed_ip: Option<std::net::IpAddr>,
    },
    Port {
        port_id: String,
    },
}

/// A volume mapped to a server, as Nova's block device mapping records
/// it. The row is written before each step that changes the host or the
/// volume service, so a restart can tell how far an attach, a detach or a
/// boot volume's creation had got and finish it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockDevice {
    /// The mapping's own id (`bdm_uuid`, 2.89).
    pub id: String,
    /// `None` while the volume of a boot-from-volume server is still to be
    /// created.
    pub volume_id: Option<String>,
    /// The volume service's attachment, once reserved.
    pub attachment_id: Option<String>,
    /// Where the guest sees it, e.g. `/dev/vdb`.
    pub device: String,
    /// 0 for the root disk of a server that boots from a volume.
    pub boot_index: Option<i64>,
    pub delete_on_termination: bool,
    pub tag: Option<String>,
    pub state: AttachState,
    /// What the build creates the volume from, for a mapping whose volume
    /// does not exist yet.
    pub create: Option<NewVolume>,
}

impl BlockDevice {
    pub fn is_root(&self) -> bool {
        self.boot_index == Some(0)
    }
}

/// How far a mapping's attachment has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttachState {
    /// Recorded with the server; the build creates and attaches it.
    Pending,
    /// Reserved in the volume service; being plugged.
    Attaching,
    Attached,
    /// Being unplugged; released and forgotten once the guest let go.
    Detaching,
}

/// A volume a server's build creates: from an image, or blank.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewVolume {
    pub image_id: Option<String>,
    pub size_gib: u64,
    pub volume_type: Option<String>,
}

/// A security group as the create request named it (by name or id) and
/// the id it resolved to. The requested names are shown until the server
/// has ports; from then on the ports' groups are shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestedSecurityGroup {
    pub name: String,
    pub id: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Server {
    pub number: i64,
    pub id: String,
    pub project_id: String,
    pub user_id: String,
    pub name: String,
    pub description: Option<String>,
    pub hostname: String,
    pub image_id: String,
    pub image_properties: BTreeMap<String, String>,
    pub flavor: FlavorSnapshot,
    pub key_name: Option<String>,
    /// The public key injected at boot, kept for rebuilding the instance.
    pub key_data: Option<String>,
    /// Base64, as given.
    pub user_data: Option<String>,
    pub config_drive: bool,
    pub metadata: BTreeMap<String, String>,
    pub tags: Vec<String>,
    /// The security groups asked for, given to the ports the build creates.
    pub security_groups: Vec<RequestedSecurityGroup>,
    pub requested_networks: Vec<RequestedNic>,
    /// The volumes mapped to the server (Nova's block device mappings):
    /// its root volume if it boots from one, and those attached since.
    pub block_devices: Vec<BlockDevice>,
    pub scheduler_hints: serde_json::Map<String, serde_json::Value>,
    pub server_group_id: Option<String>,
    /// The zone asked for at create time (`pinned_availability_zone`).
    pub availability_zone: Option<String>,
    pub host: Option<String>,
    pub reservation_id: String,
    pub launch_index: u32,
    pub vm_state: VmState,
    pub task_state: Option<TaskState>,
    pub power_state: PowerState,
    pub locked_by: Option<LockedBy>,
    pub locked_reason: Option<String>,
    pub fault: Option<Fault>,
    pub access_ipv4: String,
    pub access_ipv6: String,
    pub disk_config: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub launched_at: Option<DateTime<Utc>>,
}

impl Server {
    pub fn status(&self) -> &'static str {
        status(self.vm_state, self.task_state)
    }

    /// Nova's name for the instance on the hypervisor.
    pub fn instance_name(&self) -> String {
        format!("instance-{:08x}", self.number)
    }
}

/// The policies of a server group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupPolicy {
    Affinity,
    AntiAffinity,
    SoftAffinity,
    SoftAntiAffinity,
}

impl GroupPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupPolicy::Affinity => "affinity",
            GroupPolicy::AntiAffinity => "anti-affinity",
            GroupPolicy::SoftAffinity => "soft-affinity",
            GroupPolicy::SoftAntiAffinity => "soft-anti-affinity",
        }
    }

    pub fn parse(text: &str) -> Option<GroupPolicy> {
        [
            GroupPolicy::Affinity,
            GroupPolicy::AntiAffinity,
            GroupPolicy::SoftAffinity,
            GroupPolicy::SoftAntiAffinity,
        ]
        .into_iter()
        .find(|p| p.as_str() == text)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerGroup {
    pub id: String,
    pub project_id: String,
    pub user_id: String,
    pub name: String,
    pub policy: GroupPolicy,
    /// The `max_server_per_host` rule of an anti-affinity group.
    pub max_server_per_host: Option<u32>,
    pub members: Vec<String>,
    pub created_at: DateTime<Utc>,
}

pub fn server_not_found(id: &str) -> ComputeError {
    ComputeError::not_found(format!("Instance {id} could not be found."))
}

pub fn flavor_not_found(id: &str) -> ComputeError {
    ComputeError::not_found(format!("Flavor {id} could not be found."))
}

pub fn keypair_not_found(name: &str, user_id: &str) -> ComputeError {
    ComputeError::not_found(format!("Keypair {name} not found for user {user_id}"))
}

pub fn group_not_found(id: &str) -> ComputeError {
    ComputeError::not_found(format!("Instance group {id} could not be found."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_and_map_to_statuses() {
        for state in [VmState::Building, VmState::Active, VmState::Error] {
            assert_eq!(VmState::parse(state.as_str()), Some(state));
        }
        assert_eq!(
            TaskState::parse("powering-off"),
            Some(TaskState::PoweringOff)
        );
        assert_eq!(status(VmState::Active, None), "ACTIVE");
        assert_eq!(
            status(VmState::Active, Some(TaskState::RebootingHard)),
            "HARD_REBOOT"
        );
        assert_eq!(
            status(VmState::Active, Some(TaskState::PoweringOff)),
            "ACTIVE"
        );
        assert_eq!(
            status(VmState::Stopped, Some(TaskState::PoweringOn)),
            "SHUTOFF"
        );
        assert!(KNOWN_STATUSES.contains(&status(VmState::Building, None)));
    }

    #[test]
    fn times_in_each_format() {
        let time = parse_storage_time("2026-11-24T19:00:00.5Z").unwrap();
        assert_eq!(wire_time(&time), "2026-11-24T19:00:00Z");
        assert_eq!(naive_time(&time), "2026-11-24T19:00:00.500000");
        assert_eq!(storage_time(&time), "2026-11-24T19:00:00.500000Z");
    }
}
