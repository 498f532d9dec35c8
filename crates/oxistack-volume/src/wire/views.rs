//! Cinder's documents, as its view builders (`api/v3/views/*.py` and the
//! `os-vol-*` / `os-extended-snapshot-attributes` extensions) render them
//! at each microversion, for an administrator or not.

use oxistack_http::microversion::Microversion;
use serde_json::{Map, Value, json};

use crate::model::{Attachment, Snapshot, VolumeDetail, VolumeType, attach};
use crate::service::UploadStarted;

const fn v(minor: u32) -> Microversion {
    Microversion::new(3, minor)
}

pub const UPLOAD_IMAGE_PARAMS: Microversion = v(1);
pub const GROUP_VOLUME: Microversion = v(13);
pub const GROUP_SNAPSHOTS: Microversion = v(14);
pub const PROVIDER_ID: Microversion = v(21);
pub const NEW_ATTACH: Microversion = v(27);
pub const SNAPSHOT_USER_ID: Microversion = v(41);
pub const EXTEND_IN_USE: Microversion = v(42);
pub const NEW_ATTACH_COMPLETION: Microversion = v(44);
pub const COUNT: Microversion = v(45);
pub const SHARED_TARGETS: Microversion = v(48);
pub const CLUSTER_NAME: Microversion = v(61);
pub const TYPE_ID_IN_DETAIL: Microversion = v(63);
pub const USE_QUOTA: Microversion = v(65);
pub const SNAPSHOT_IN_USE: Microversion = v(66);

/// How a request sees documents: its version, whether the caller is an
/// administrator, and the URLs links start with.
pub struct View {
    pub version: Microversion,
    pub admin: bool,
    /// `http://host/volume/v3/<project>`: the API as the client reached it.
    pub api: String,
    /// The same without the version, for bookmark links.
    pub bookmark: String,
}

impl View {
    fn links(&self, collection: &str, id: &str) -> Value {
        json!([
            {"href": format!("{}/{collection}/{id}", self.api), "rel": "self"},
            {"href": format!("{}/{collection}/{id}", self.bookmark), "rel": "bookmark"},
        ])
    }

    /// The `next` link of a page, repeating the client's query.
    pub fn next_link(&self, collection: &str, pairs: &[(String, String)], marker: &str) -> Value {
        let kept = pairs
            .iter()
            .filter(|(k, _)| k != "marker")
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .chain([("marker", marker)]);
        let query = oxistack_http::query_string(kept);
        json!([{"href": format!("{}/{collection}?{query}", self.api), "rel": "next"}])
    }
}

fn attachments(view: &View, detail: &VolumeDetail) -> Vec<Value> {
    detail
        .attachments
        .iter()
        .filter(|a| a.status == attach::ATTACHED)
        .map(|a| {
            json!({
                "id": a.volume_id,
                "attachment_id": a.id,
                "volume_id": a.volume_id,
                "server_id": a.instance_uuid,
                "host_name": if view.admin { a.host_name.clone() } else { None },
                "device": a.mountpoint,
                "attached_at": a.attached_at,
            })
        })
        .collect()
}

/// Which of Cinder's handlers renders a document: the extensions
/// (`os-vol-tenant-attr`, `os-vol-host-attr`, `os-vol-mig-status-attr`,
/// `os-volume-image-metadata`, `os-extended-snapshot-attributes`) extend
/// only `show` and `detail`, never `create` or `update`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Render {
    /// `show` and the detailed list: the view and its extensions.
    Extended,
    /// `create`, `update` (and a plain snapshot list): the view alone.
    Plain,
}

/// A volume's detailed document.
pub fn volume(view: &View, detail: &VolumeDetail, render: Render) -> Value {
    let vol = &detail.volume;
    let type_field = if view.version.at_least(TYPE_ID_IN_DETAIL) {
        json!(detail.type_name)
    } else {
        json!(
            detail
                .type_name
                .clone()
                .unwrap_or_else(|| vol.volume_type_id.clone())
        )
    };
    let mut doc = json!({
        "id": vol.id,
        "status": vol.status,
        "size": vol.size,
        "availability_zone": vol.availability_zone,
        "created_at": vol.created_at,
        "updated_at": vol.updated_at,
        "name": vol.name,
        "description": vol.description,
        "volume_type": type_field,
        "snapshot_id": vol.snapshot_id,
        "source_volid": vol.source_volid,
        "metadata": metadata(vol, render),
        "links": view.links("volumes", &vol.id),
        "user_id": vol.user_id,
        "bootable": vol.bootable.to_string(),
        "encrypted": false,
        "replication_status": null,
        "consistencygroup_id": null,
        "multiattach": vol.multiattach,
        "attachments": attachments(view, detail),
    });
    let map = doc.as_object_mut().expect("an object");
    if view.admin {
        map.insert("migration_status".into(), json!(vol.migration_status));
    }
    if render == Render::Extended {
        map.insert("os-vol-tenant-attr:tenant_id".into(), json!(vol.project_id));
        if !vol.image_metadata.is_empty() {
            map.insert("volume_image_metadata".into(), json!(vol.image_metadata));
        }
    }
    if view.admin && render == Render::Extended {
        map.insert("os-vol-host-attr:host".into(), json!(vol.host()));
        map.insert(
            "os-vol-mig-status-attr:migstat".into(),
            json!(vol.migration_status),
        );
        map.insert("os-vol-mig-status-attr:name_id".into(), Value::Null);
    }
    let at = |version| view.version.at_least(version);
    if at(GROUP_VOLUME) {
        map.insert("group_id".into(), Value::Null);
    }
    if view.admin && at(PROVIDER_ID) {
        map.insert("provider_id".into(), Value::Null);
    }
    if at(SHARED_TARGETS) {
        map.insert("shared_targets".into(), json!(false));
        map.insert("service_uuid".into(), json!(service_uuid()));
    }
    if view.admin && at(CLUSTER_NAME) {
        map.insert("cluster_name".into(), Value::Null);
    }
    if at(TYPE_ID_IN_DETAIL) {
        map.insert("volume_type_id".into(), json!(vol.volume_type_id));
    }
    if at(USE_QUOTA) {
        map.insert("consumes_quota".into(), json!(true));
    }
    doc
}

/// A volume's metadata; shown, with the admin metadata Cinder makes
/// visible (`add_visible_admin_metadata`): the `readonly` flag once set.
fn metadata(vol: &crate::model::Volume, render: Render) -> Value {
    let mut metadata = vol.metadata.clone();
    if render == Render::Extended && vol.readonly_flagged {
        let flag = if vol.readonly { "True" } else { "False" };
        metadata.insert("readonly".into(), flag.into());
    }
    json!(metadata)
}

/// The stable id of this cloud's one volume service.
pub fn service_uuid() -> &'static str {
    "5a2b6d0e-7c1f-4e57-9b0a-3f1e8c6d2a41"
}

/// A volume in a plain list: id, name, links.
pub fn volume_brief(view: &View, detail: &VolumeDetail) -> Value {
    json!({
        "id": detail.volume.id,
        "name": detail.volume.name,
        "links": view.links("volumes", &detail.volume.id),
    })
}

/// A snapshot; the extended attributes only as `Render::Extended`.
pub fn snapshot(view: &View, s: &Snapshot, render: Render) -> Value {
    let mut doc = json!({
        "id": s.id,
        "created_at": s.created_at,
        "updated_at": s.updated_at,
        "name": s.name,
        "description": s.description,
        "volume_id": s.volume_id,
        "status": s.status,
        "size": s.size,
        "metadata": s.metadata,
    });
    let map = doc.as_object_mut().expect("an object");
    if render == Render::Extended {
        map.insert(
            "os-extended-snapshot-attributes:project_id".into(),
            json!(s.project_id),
        );
        map.insert(
            "os-extended-snapshot-attributes:progress".into(),
            json!(s.progress),
        );
    }
    if view.version.at_least(GROUP_SNAPSHOTS) {
        map.insert("group_snapshot_id".into(), Value::Null);
    }
    if view.version.at_least(SNAPSHOT_USER_ID) {
        map.insert("user_id".into(), json!(s.user_id));
    }
    if view.version.at_least(USE_QUOTA) {
        map.insert("consumes_quota".into(), json!(true));
    }
    doc
}

pub fn attachment(a: &Attachment, detail: bool) -> Value {
    let mut doc = json!({
        "id": a.id,
        "status": a.status,
        "instance": a.instance_uuid,
        "volume_id": a.volume_id,
    });
    if detail {
        let map = doc.as_object_mut().expect("an object");
        map.insert(
            "attached_at".into(),
            json!(a.attached_at.clone().unwrap_or_default()),
        );
        map.insert(
            "detached_at".into(),
            json!(a.detached_at.clone().unwrap_or_default()),
        );
        map.insert("attach_mode".into(), json!(a.attach_mode));
        map.insert(
            "connection_info".into(),
            a.connection_info.clone().unwrap_or(json!({})),
        );
    }
    doc
}

/// Specs every user may see (Cinder's `USER_VISIBLE_EXTRA_SPECS`).
const USER_VISIBLE_SPECS: &[&str] = &[
    "RESKEY:availability_zones",
    "multiattach",
    "sharing",
    "replication_enabled",
];

/// Which of Cinder's handlers renders a volume type: `show` and `index`
/// use the v3 view (specs as the caller may see them, `qos_specs_id` for
/// an administrator) and `os-volume-type-access` extends them and
/// `create`; `create` and `update` (`types_manage`) use the plain view.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum TypeRender {
    Shown,
    Created,
    Updated,
}

pub fn volume_type(t: &VolumeType, admin: bool, render: TypeRender) -> Value {
    let specs: Map<String, Value> = t
        .extra_specs
        .iter()
        .filter(|(k, _)| {
            admin || render != TypeRender::Shown || USER_VISIBLE_SPECS.contains(&k.as_str())
        })
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    let mut doc = json!({
        "id": t.id,
        "name": t.name,
        "is_public": t.is_public,
        "description": t.description,
        "extra_specs": specs,
    });
    if render != TypeRender::Updated {
        doc["os-volume-type-access:is_public"] = json!(t.is_public);
    }
    if admin && render == TypeRender::Shown {
        doc["qos_specs_id"] = Value::Null;
    }
    doc
}

/// The answer to `os-volume_upload_image`, as Cinder's
/// `copy_volume_to_image` builds it: the volume (now `uploading`) and the
/// image reserved for its data.
pub fn upload_started(view: &View, started: &UploadStarted) -> Value {
    let volume = &started.volume;
    json!({"os-volume_upload_image": {
        "id": volume.id,
        "updated_at": volume.updated_at,
        "status": volume.status,
        "display_description": volume.description,
        "size": volume.size,
        "volume_type": started
            .volume_type
            .as_ref()
            .map(|t| volume_type(t, view.admin, TypeRender::Shown)),
        "image_id": started.image.id,
        "container_format": started.image.container_format,
        "disk_format": started.image.disk_format,
        "image_name": started.image.name,
        "protected": started.image.protected,
        "visibility": started.image.visibility,
    }})
}
