//! The volume service's records, as they are stored (one JSON body per
//! row) and as the service reasons about them. They carry Cinder's own
//! names and statuses; how a record is shown at a microversion is the
//! wire layer's business.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Metadata, ordered so documents are stable.
pub type Metadata = BTreeMap<String, String>;

/// The one availability zone, as DevStack names it.
pub const ZONE: &str = "nova";
/// The backend DevStack's LVM driver reports, shown as the volumes' host.
pub const BACKEND: &str = "lvmdriver-1";
/// Cinder's default volume type, made at the first start.
pub const DEFAULT_TYPE: &str = "__DEFAULT__";
/// The extra spec that makes a type's volumes multi-attach.
pub const MULTIATTACH_SPEC: &str = "multiattach";
pub const MULTIATTACH_ON: &str = "<is> True";

/// Volume statuses (Cinder's `VolumeStatus`) used here.
pub mod status {
    pub const CREATING: &str = "creating";
    pub const AVAILABLE: &str = "available";
    pub const RESERVED: &str = "reserved";
    pub const ATTACHING: &str = "attaching";
    pub const IN_USE: &str = "in-use";
    pub const DETACHING: &str = "detaching";
    pub const DELETING: &str = "deleting";
    pub const EXTENDING: &str = "extending";
    pub const UPLOADING: &str = "uploading";
    pub const ERROR: &str = "error";
    pub const ERROR_DELETING: &str = "error_deleting";
    pub const ERROR_EXTENDING: &str = "error_extending";
}

/// Attachment and volume attach statuses (Cinder's `VolumeAttachStatus`).
pub mod attach {
    pub const RESERVED: &str = "reserved";
    pub const ATTACHING: &str = "attaching";
    pub const ATTACHED: &str = "attached";
    pub const DETACHING: &str = "detaching";
    pub const DETACHED: &str = "detached";
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Volume {
    pub id: String,
    pub project_id: String,
    pub user_id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub size: u64,
    pub status: String,
    pub attach_status: String,
    pub migration_status: Option<String>,
    pub availability_zone: String,
    pub volume_type_id: String,
    pub snapshot_id: Option<String>,
    pub source_volid: Option<String>,
    pub bootable: bool,
    pub multiattach: bool,
    pub readonly: bool,
    /// Whether `os-update_readonly_flag` set `readonly` (Cinder's admin
    /// metadata then holds it, and shows it among the metadata).
    #[serde(default)]
    pub readonly_flagged: bool,
    pub metadata: Metadata,
    /// What an image-backed volume remembers of its image.
    pub image_metadata: Metadata,
    pub created_at: String,
    pub updated_at: Option<String>,
    /// The size an extension in progress grows it to.
    #[serde(default)]
    pub extending_to: Option<u64>,
    /// Why the volume went to `error`, for the log and the operator.
    #[serde(default)]
    pub fault: Option<String>,
}

impl Volume {
    pub fn host(&self) -> String {
        format!("{}@{BACKEND}#{BACKEND}", host_name())
    }

    pub fn touch(&mut self) {
        self.updated_at = Some(now());
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub id: String,
    pub project_id: String,
    pub user_id: String,
    pub volume_id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub status: String,
    pub size: u64,
    pub progress: String,
    pub metadata: Metadata,
    pub created_at: String,
    pub updated_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attachment {
    pub id: String,
    pub volume_id: String,
    pub project_id: String,
    pub instance_uuid: Option<String>,
    /// `reserved`, `attaching`, `attached`, `detaching`.
    pub status: String,
    pub mountpoint: Option<String>,
    /// `rw`, `ro` or Cinder's `null` before a mode is given.
    pub attach_mode: String,
    pub connector: Option<serde_json::Value>,
    pub connection_info: Option<serde_json::Value>,
    pub attached_at: Option<String>,
    pub detached_at: Option<String>,
    pub host_name: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeType {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub is_public: bool,
    pub extra_specs: Metadata,
    pub created_at: String,
}

impl VolumeType {
    pub fn multiattach(&self) -> bool {
        self.extra_specs.get(MULTIATTACH_SPEC).map(String::as_str) == Some(MULTIATTACH_ON)
    }
}

/// A volume with what its documents show of other records.
#[derive(Debug, Clone)]
pub struct VolumeDetail {
    pub volume: Volume,
    pub type_name: Option<String>,
    pub attachments: Vec<Attachment>,
}

/// Cinder's timestamps: ISO 8601 with microseconds and no zone.
pub fn now() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.6f")
        .to_string()
}

/// This host's name, as Cinder's services name their host.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
