//! Attachments: Cinder's attachments API (3.27+) and the same records as
//! compute drives them through the `Volumes` contract. An attachment is
//! `reserved` (no connector yet) or `attaching`, then `attached` once
//! completed, `detaching` while compute unplugs it, and gone once
//! released; the volume follows (`reserved`/`attaching`, `in-use`,
//! `detaching`, `available` when none is left). The primitives here are
//! shared by both paths, each used inside one write transaction.

use oxistack_auth::{Action, AuthContext};
use oxistack_db::rusqlite::Connection;
use serde_json::{Map, Value, json};

use super::lists::{Listable, attrs, page};
use super::{
    ListRequest, Listed, VolumeError, VolumeService, authorize, settled_status, visible_volume,
};
use crate::model::{Attachment, Volume, attach, new_id, now, status};
use crate::store;

/// `POST /attachments`.
#[derive(Debug, Clone, Default)]
pub struct NewAttachment {
    pub volume_id: String,
    pub instance_uuid: Option<String>,
    pub connector: Option<Value>,
    pub mode: Option<String>,
}

/// Filters of `GET /attachments`.
pub type AttachmentFilter = ListRequest;

impl Listable for Attachment {
    fn id(&self) -> &str {
        &self.id
    }

    fn attributes(&self) -> Map<String, Value> {
        attrs([
            ("id", json!(self.id)),
            ("status", json!(self.status)),
            ("volume_id", json!(self.volume_id)),
            ("instance_id", json!(self.instance_uuid)),
            ("instance_uuid", json!(self.instance_uuid)),
            ("project_id", json!(self.project_id)),
            ("created_at", json!(self.created_at)),
        ])
    }
}

/// Reserves an attachment of `volume` for `instance` as Cinder's
/// `_attachment_reserve` does: the volume must be `available` (or, for a
/// multi-attach volume, `in-use` or `reserved` too); a second attachment
/// to the same server is allowed only when the volume is busy with it
/// already (Cinder's move-between-hosts case) unless `exclusive`.
pub(super) fn reserve(
    conn: &Connection,
    volume: &mut Volume,
    instance: Option<&str>,
    attachment_status: &str,
    exclusive: bool,
) -> Result<Attachment, VolumeError> {
    if volume.status.contains("error") {
        return Err(VolumeError::InvalidVolume(format!(
            "Volume attachments can not be created if the volume is in an error state. The Volume \
             {} currently has a status of: {} ",
            volume.id, volume.status
        )));
    }
    let existing = store::attachments_of(conn, &volume.id)?;
    let same_server = instance.is_some_and(|i| {
        existing
            .iter()
            .any(|a| a.instance_uuid.as_deref() == Some(i))
    });
    if same_server && exclusive {
        return Err(VolumeError::InvalidVolume(format!(
            "Volume {} is already attached to server {}.",
            volume.id,
            instance.unwrap_or_default()
        )));
    }
    let allowed: &[&str] = if volume.multiattach {
        &[
            status::AVAILABLE,
            status::IN_USE,
            status::RESERVED,
            status::ATTACHING,
            "downloading",
        ]
    } else {
        &[status::AVAILABLE, "downloading"]
    };
    let busy_with_it =
        same_server && [status::IN_USE, status::RESERVED].contains(&volume.status.as_str());
    if !allowed.contains(&volume.status.as_str()) && !busy_with_it {
        let expected = if volume.multiattach {
            "available or in-use or downloading"
        } else {
            "available or downloading"
        };
        return Err(VolumeError::InvalidVolume(format!(
            "Volume {} status must be {expected} to reserve, but the current status is {}.",
            volume.id, volume.status
        )));
    }
    if volume.status != status::IN_USE {
        volume.status = if attachment_status == attach::RESERVED {
            status::RESERVED.into()
        } else {
            status::ATTACHING.into()
        };
    }
    let attachment = Attachment {
        id: new_id(),
        volume_id: volume.id.clone(),
        project_id: volume.project_id.clone(),
        instance_uuid: instance.map(str::to_owned),
        status: attachment_status.into(),
        mountpoint: None,
        attach_mode: "null".into(),
        connector: None,
        connection_info: None,
        attached_at: None,
        detached_at: None,
        host_name: None,
        created_at: now(),
    };
    store::put_attachment(conn, &attachment)?;
    Ok(attachment)
}

/// Completes `attachment`: attached (at `mountpoint` if given), its
/// volume `in-use`.
pub(super) fn complete(
    conn: &Connection,
    attachment: &mut Attachment,
    mountpoint: Option<&str>,
) -> Result<(), VolumeError> {
    attachment.status = attach::ATTACHED.into();
    if let Some(mountpoint) = mountpoint {
        attachment.mountpoint = Some(mountpoint.to_owned());
    }
    attachment.attached_at = Some(now());
    if attachment.attach_mode == "null" {
        attachment.attach_mode = "rw".into();
    }
    store::put_attachment(conn, attachment)?;
    if let Some(mut volume) = store::volume(conn, &attachment.volume_id)? {
        volume.status = status::IN_USE.into();
        volume.attach_status = attach::ATTACHED.into();
        volume.touch();
        store::put_volume(conn, &volume)?;
    }
    Ok(())
}

/// Removes attachment `id` (absent is fine); its volume settles.
pub(super) fn release(conn: &Connection, id: &str) -> Result<Option<String>, VolumeError> {
    let Some(attachment) = store::attachment(conn, id)? else {
        return Ok(None);
    };
    store::delete_attachment(conn, id)?;
    if let Some(mut volume) = store::volume(conn, &attachment.volume_id)? {
        let left = store::attachments_of(conn, &volume.id)?;
        if ![status::DELETING, status::EXTENDING].contains(&volume.status.as_str()) {
            volume.status = if left.is_empty() {
                status::AVAILABLE.into()
            } else {
                settled_status(conn, &volume.id)?.into()
            };
        }
        if !left.iter().any(|a| a.status == attach::ATTACHED) {
            volume.attach_status = attach::DETACHED.into();
        }
        volume.touch();
        store::put_volume(conn, &volume)?;
    }
    Ok(Some(attachment.volume_id))
}

/// The attachment `id` if the caller sees its project.
fn visible(conn: &Connection, caller: &AuthContext, id: &str) -> Result<Attachment, VolumeError> {
    store::attachment(conn, id)?
        .filter(|a| caller.can_see_project(&a.project_id))
        .ok_or_else(|| VolumeError::AttachmentNotFound(id.to_owned()))
}

/// What a connector gets: the volume's file.
pub(super) fn connection_info(
    backend: &dyn oxistack_volstore::VolumeBackend,
    volume: &Volume,
) -> Value {
    let file = backend.volume_file(&volume.id);
    json!({
        "driver_volume_type": "file",
        "data": {
            "device_path": file.as_ref().map(|f| f.path.display().to_string()),
            "format": file.as_ref().map(|f| f.format.as_str()),
            "name": format!("volume-{}", volume.id),
            "volume_id": volume.id,
            "access_mode": if volume.readonly { "ro" } else { "rw" },
        },
    })
}

fn check_mode(mode: &str, volume_id: &str) -> Result<(), VolumeError> {
    if mode == "rw" || mode == "ro" {
        Ok(())
    } else {
        Err(VolumeError::BadRequest(format!(
            "Invalid attaching mode '{mode}' for volume {volume_id}."
        )))
    }
}

impl VolumeService {
    pub async fn create_attachment(
        &self,
        caller: &AuthContext,
        new: NewAttachment,
    ) -> Result<Attachment, VolumeError> {
        authorize(caller, Action::WriteVolumes)?;
        let caller = caller.clone();
        let backend = self.worker.backend.clone();
        self.db()
            .write(move |tx| {
                let mut volume = visible_volume(tx, &caller, &new.volume_id)?;
                if let Some(mode) = &new.mode {
                    check_mode(mode, &volume.id)?;
                }
                let initial = if new.connector.is_some() {
                    attach::ATTACHING
                } else {
                    attach::RESERVED
                };
                let mut attachment = reserve(
                    tx,
                    &mut volume,
                    new.instance_uuid.as_deref(),
                    initial,
                    false,
                )?;
                attachment.attach_mode = new
                    .mode
                    .unwrap_or_else(|| if volume.readonly { "ro" } else { "null" }.into());
                if let Some(connector) = new.connector {
                    attachment.host_name = connector
                        .get("host")
                        .and_then(Value::as_str)
                        .map(str::to_owned);
                    attachment.connector = Some(connector);
                    attachment.connection_info = Some(connection_info(backend.as_ref(), &volume));
                }
                volume.touch();
                store::put_volume(tx, &volume)?;
                store::put_attachment(tx, &attachment)?;
                Ok(attachment)
            })
            .await
    }

    /// `PUT /attachments/{id}` with a connector: `attaching`, with the
    /// connection info.
    pub async fn update_attachment(
        &self,
        caller: &AuthContext,
        id: &str,
        connector: Value,
    ) -> Result<Attachment, VolumeError> {
        let backend = self.worker.backend.clone();
        self.run_as(caller, Action::WriteVolumes, id, move |tx, caller, id| {
            let mut attachment = visible(tx, caller, id)?;
            let mut volume = visible_volume(tx, caller, &attachment.volume_id)?;
            if volume.status.contains("error") {
                return Err(VolumeError::Conflict(format!(
                    "Volume attachments can not be updated if the volume is in an error state. \
                     The Volume {} currently has a status of: {} ",
                    volume.id, volume.status
                )));
            }
            attachment.host_name = connector
                .get("host")
                .and_then(Value::as_str)
                .map(str::to_owned);
            if let Some(mode) = connector.get("mode").and_then(Value::as_str) {
                attachment.attach_mode = mode.to_owned();
            }
            if let Some(mountpoint) = connector.get("mountpoint").and_then(Value::as_str) {
                attachment.mountpoint = Some(mountpoint.to_owned());
            }
            attachment.connector = Some(connector);
            attachment.connection_info = Some(connection_info(backend.as_ref(), &volume));
            if attachment.status != attach::ATTACHED {
                attachment.status = attach::ATTACHING.into();
                if volume.status != status::IN_USE {
                    volume.status = status::ATTACHING.into();
                    volume.touch();
                    store::put_volume(tx, &volume)?;
                }
            }
            store::put_attachment(tx, &attachment)?;
            Ok(attachment)
        })
        .await
    }

    /// `os-complete`: attached, the volume `in-use`.
    pub async fn complete_attachment(
        &self,
        caller: &AuthContext,
        id: &str,
    ) -> Result<(), VolumeError> {
        self.run_as(caller, Action::WriteVolumes, id, move |tx, caller, id| {
            let mut attachment = visible(tx, caller, id)?;
            complete(tx, &mut attachment, None)
        })
        .await
    }

    /// `DELETE /attachments/{id}`: the volume's attachments left.
    pub async fn delete_attachment(
        &self,
        caller: &AuthContext,
        id: &str,
    ) -> Result<Vec<Attachment>, VolumeError> {
        self.run_as(caller, Action::WriteVolumes, id, move |tx, caller, id| {
            let attachment = visible(tx, caller, id)?;
            release(tx, &attachment.id)?;
            store::attachments_of(tx, &attachment.volume_id)
        })
        .await
    }

    pub async fn show_attachment(
        &self,
        caller: &AuthContext,
        id: &str,
    ) -> Result<Attachment, VolumeError> {
        self.run_as(caller, Action::ReadVolumes, id, visible).await
    }

    pub async fn list_attachments(
        &self,
        caller: &AuthContext,
        request: AttachmentFilter,
    ) -> Result<Listed<Attachment>, VolumeError> {
        self.read_scoped(caller, request.all_tenants, move |conn, scope| {
            let records = store::attachments(conn)?
                .into_iter()
                .filter(|(_, a)| request.all_tenants || scope == Some(a.project_id.as_str()))
                .collect();
            page(records, &request)
        })
        .await
    }
}
