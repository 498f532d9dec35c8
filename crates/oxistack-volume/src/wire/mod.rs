//! The JSON shapes of Cinder's requests (what clients send, leniently:
//! numbers and booleans may come as strings, as Cinder's schemas accept)
//! and, in [`views`], its documents at each microversion.

pub mod views;

use oxistack_http::field::{lenient, nullable};
use serde::Deserialize;
use serde_json::Value;

use crate::model::Metadata;

/// The name and description a volume or snapshot takes, under Cinder's
/// names and the v1 `display_` aliases. `Some(None)` is an explicit
/// `null`: an update applies it, a create reads it as not given.
#[derive(Debug, Default, Deserialize)]
pub struct Names {
    #[serde(default, deserialize_with = "nullable")]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub display_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub display_description: Option<Option<String>>,
}

impl Names {
    /// For a create: of each pair, the first that is given and not null.
    pub fn values(self) -> (Option<String>, Option<String>) {
        (
            self.name.flatten().or(self.display_name.flatten()),
            self.description
                .flatten()
                .or(self.display_description.flatten()),
        )
    }

    /// For an update: of each pair, the first given (a null included).
    pub fn changes(self) -> (Option<Option<String>>, Option<Option<String>>) {
        (
            self.name.or(self.display_name),
            self.description.or(self.display_description),
        )
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct VolumeCreate {
    #[serde(deserialize_with = "lenient")]
    pub size: Option<i64>,
    #[serde(flatten)]
    pub names: Names,
    pub volume_type: Option<String>,
    pub availability_zone: Option<String>,
    pub metadata: Option<Metadata>,
    pub snapshot_id: Option<String>,
    pub source_volid: Option<String>,
    #[serde(rename = "imageRef")]
    pub image_ref: Option<String>,
    pub image_id: Option<String>,
    pub backup_id: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct VolumeUpdateBody {
    #[serde(flatten)]
    pub names: Names,
    #[serde(default)]
    pub metadata: Option<Metadata>,
}

#[derive(Debug, Deserialize)]
pub struct SnapshotCreate {
    /// Cinder looks a missing or null one up as `None`, and finds nothing.
    #[serde(default)]
    pub volume_id: Option<String>,
    #[serde(flatten)]
    pub names: Names,
    #[serde(default, deserialize_with = "cinder_boolean")]
    pub force: Option<bool>,
    #[serde(default)]
    pub metadata: Option<Metadata>,
}

/// `os-update_snapshot_status`.
#[derive(Debug, Deserialize)]
pub struct SnapshotStatusUpdate {
    pub status: String,
    #[serde(default)]
    pub progress: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct AttachmentCreate {
    pub volume_uuid: String,
    #[serde(default)]
    pub instance_uuid: Option<String>,
    #[serde(default)]
    pub connector: Option<Value>,
    #[serde(default)]
    pub mode: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct AttachmentUpdate {
    pub connector: Value,
}

#[derive(Debug, Deserialize)]
pub struct TypeCreate {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(
        default,
        rename = "os-volume-type-access:is_public",
        deserialize_with = "lenient"
    )]
    pub access_is_public: Option<bool>,
    #[serde(default, deserialize_with = "lenient")]
    pub is_public: Option<bool>,
    #[serde(default)]
    pub extra_specs: Option<Metadata>,
}

#[derive(Debug, Deserialize)]
pub struct TypeUpdateBody {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub is_public: Option<bool>,
}

#[derive(Debug, Deserialize)]
pub struct ProjectAccess {
    pub project: String,
}

#[derive(Debug, Deserialize)]
pub struct Extend {
    #[serde(deserialize_with = "oxistack_http::field::lenient_not_null")]
    pub new_size: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ResetStatusBody {
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub attach_status: Option<String>,
    #[serde(default)]
    pub migration_status: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Bootable {
    #[serde(deserialize_with = "oxistack_http::field::lenient_not_null")]
    pub bootable: Option<bool>,
}

#[derive(Debug, Deserialize)]
pub struct Readonly {
    #[serde(deserialize_with = "oxistack_http::field::lenient_not_null")]
    pub readonly: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
pub struct AttachBody {
    #[serde(default)]
    pub instance_uuid: Option<String>,
    #[serde(default)]
    pub host_name: Option<String>,
    pub mountpoint: String,
    #[serde(default)]
    pub mode: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct DetachBody {
    #[serde(default)]
    pub attachment_id: Option<String>,
}

/// `os-volume_upload_image`; `visibility` and `protected` from 3.1.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadImageBody {
    #[serde(default)]
    pub image_name: Option<String>,
    #[serde(default, deserialize_with = "cinder_boolean")]
    pub force: Option<bool>,
    #[serde(default)]
    pub disk_format: Option<String>,
    #[serde(default)]
    pub container_format: Option<String>,
    #[serde(default)]
    pub visibility: Option<String>,
    #[serde(default, deserialize_with = "cinder_boolean")]
    pub protected: Option<bool>,
}

/// Cinder's `parameter_types.boolean`: a JSON boolean or one of its
/// spellings (`True`, `on`, `1`, `No`, ...); absent or `null` is `None`.
fn cinder_boolean<'de, D>(deserializer: D) -> Result<Option<bool>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    const TRUE: &[&str] = &[
        "True", "TRUE", "true", "1", "ON", "On", "on", "YES", "Yes", "yes", "y", "t",
    ];
    const FALSE: &[&str] = &[
        "False", "FALSE", "false", "0", "OFF", "Off", "off", "NO", "No", "no", "n", "f",
    ];
    match Option::<serde_json::Value>::deserialize(deserializer)? {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Bool(b)) => Ok(Some(b)),
        Some(serde_json::Value::String(s)) if TRUE.contains(&s.as_str()) => Ok(Some(true)),
        Some(serde_json::Value::String(s)) if FALSE.contains(&s.as_str()) => Ok(Some(false)),
        Some(other) => Err(serde::de::Error::custom(format!(
            "{other} is not a valid boolean"
        ))),
    }
}
