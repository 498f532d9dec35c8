//! `POST /volumes/{id}/action`: extend, the administrator's status reset,
//! the bootable and read-only flags, and the attach actions of Cinder's
//! old attach flow (reserve, attach, begin/roll detaching, detach,
//! initialize/terminate connection), which Tempest still drives. Each is
//! one transaction on the volume's record; extending then continues in
//! the background.

use oxistack_auth::{Action, AuthContext};
use serde_json::Value;

use super::attachments::{complete, connection_info, release, reserve};
use super::common::check_status;
use super::quotas::{Delta, enforce};
use super::{ResetStatus, VolumeError, VolumeService, authorize, visible_volume};
use crate::model::{attach, status};
use crate::store;

/// Statuses `os-reset_status` accepts.
const STATUSES: &[&str] = &[
    "available",
    "error",
    "creating",
    "deleting",
    "in-use",
    "attaching",
    "detaching",
    "error_deleting",
    "maintenance",
    "reserved",
    "error_extending",
    "extending",
    "downloading",
    "uploading",
    "retyping",
    "backing-up",
    "restoring-backup",
    "error_restoring",
];

impl VolumeService {
    /// `os-extend` to `new_size` GiB; `in_use_allowed` from 3.42.
    pub async fn extend_volume(
        &self,
        caller: &AuthContext,
        id: &str,
        new_size: u64,
        in_use_allowed: bool,
    ) -> Result<(), VolumeError> {
        self.change_volume(caller, id, move |tx, volume| {
            if new_size <= volume.size {
                return Err(VolumeError::InvalidInput(format!(
                    "New size for extend must be greater than current size. (current: {}, extended: {new_size}).",
                    volume.size
                )));
            }
            let expected = if in_use_allowed && volume.status == status::IN_USE {
                status::IN_USE
            } else {
                status::AVAILABLE
            };
            if volume.status != expected {
                return Err(VolumeError::InvalidVolume(format!(
                    "Volume {} status must be '{{'status': '{expected}'}}' to extend, currently {}.",
                    volume.id, volume.status
                )));
            }
            let type_name = store::volume_type(tx, &volume.volume_type_id)?
                .map(|t| t.name)
                .unwrap_or_default();
            enforce(
                tx,
                &volume.project_id,
                Delta {
                    volumes: 0,
                    snapshots: 0,
                    gigabytes: new_size - volume.size,
                    type_name: &type_name,
                    volume_size: Some(new_size),
                },
            )?;
            volume.status = status::EXTENDING.into();
            volume.extending_to = Some(new_size);
            Ok(())
        })
        .await?;
        let worker = self.worker.clone();
        let id = id.to_owned();
        self.spawn(format!("extend volume {id}"), async move {
            worker.extend(id, new_size).await;
        });
        Ok(())
    }

    /// `os-reset_status` (administrators): forces the statuses given;
    /// `attach_status=detached` drops the attachments, as Cinder does.
    pub async fn reset_volume_status(
        &self,
        caller: &AuthContext,
        id: &str,
        reset: ResetStatus,
    ) -> Result<(), VolumeError> {
        authorize(caller, Action::ManageVolumeStatus)?;
        if reset.status.is_none()
            && reset.attach_status.is_none()
            && reset.migration_status.is_none()
        {
            return Err(VolumeError::BadRequest(
                "Must specify 'status', 'attach_status' or 'migration_status' for update.".into(),
            ));
        }
        check_status(reset.status.as_deref(), STATUSES, "status")?;
        check_status(
            reset.attach_status.as_deref(),
            &[attach::ATTACHED, attach::DETACHED],
            "attach status",
        )?;
        self.change_volume(caller, id, move |tx, volume| {
            if let Some(s) = reset.status {
                volume.status = s;
            }
            if let Some(s) = reset.attach_status {
                if s == attach::DETACHED {
                    for attachment in store::attachments_of(tx, &volume.id)? {
                        store::delete_attachment(tx, &attachment.id)?;
                    }
                }
                volume.attach_status = s;
            }
            if let Some(s) = reset.migration_status {
                volume.migration_status = (s != "none").then_some(s);
            }
            Ok(())
        })
        .await
    }

    pub async fn set_bootable(
        &self,
        caller: &AuthContext,
        id: &str,
        bootable: bool,
    ) -> Result<(), VolumeError> {
        self.change_volume(caller, id, move |_, volume| {
            volume.bootable = bootable;
            Ok(())
        })
        .await
    }

    pub async fn set_readonly(
        &self,
        caller: &AuthContext,
        id: &str,
        readonly: bool,
    ) -> Result<(), VolumeError> {
        self.change_volume(caller, id, move |_, volume| {
            volume.readonly = readonly;
            volume.readonly_flagged = true;
            Ok(())
        })
        .await
    }

    /// `os-reserve`: `attaching` for the old attach flow.
    pub async fn reserve_volume(&self, caller: &AuthContext, id: &str) -> Result<(), VolumeError> {
        self.change_volume(caller, id, |_, volume| {
            let allowed: &[&str] = if volume.multiattach {
                &[status::AVAILABLE, status::IN_USE]
            } else {
                &[status::AVAILABLE]
            };
            if !allowed.contains(&volume.status.as_str()) {
                return Err(VolumeError::InvalidVolume(format!(
                    "Volume status must be {} to reserve, but the status is {}.",
                    allowed.join(" or "),
                    volume.status
                )));
            }
            volume.status = status::ATTACHING.into();
            Ok(())
        })
        .await
    }

    /// `os-unreserve`: back from `attaching`.
    pub async fn unreserve_volume(
        &self,
        caller: &AuthContext,
        id: &str,
    ) -> Result<(), VolumeError> {
        self.change_volume(caller, id, |tx, volume| {
            if volume.status == status::ATTACHING {
                volume.status = super::settled_status(tx, &volume.id)?.into();
            }
            Ok(())
        })
        .await
    }

    /// `os-begin_detaching`.
    pub async fn begin_detaching(&self, caller: &AuthContext, id: &str) -> Result<(), VolumeError> {
        self.change_volume(caller, id, |_, volume| {
            if volume.status != status::IN_USE || volume.attach_status != attach::ATTACHED {
                return Err(VolumeError::InvalidVolume(
                    "Unable to detach volume. Volume status must be 'in-use' and attach_status must \
                     be 'attached' to detach."
                        .into(),
                ));
            }
            volume.status = status::DETACHING.into();
            Ok(())
        })
        .await
    }

    /// `os-roll_detaching`.
    pub async fn roll_detaching(&self, caller: &AuthContext, id: &str) -> Result<(), VolumeError> {
        self.change_volume(caller, id, |_, volume| {
            if volume.status == status::DETACHING {
                volume.status = status::IN_USE.into();
            }
            Ok(())
        })
        .await
    }

    /// `os-attach`: an attachment to `instance` at `mountpoint`, done.
    pub async fn attach_volume(
        &self,
        caller: &AuthContext,
        id: &str,
        instance: Option<String>,
        host_name: Option<String>,
        mountpoint: String,
        mode: String,
    ) -> Result<(), VolumeError> {
        self.run_as(caller, Action::WriteVolumes, id, move |tx, caller, id| {
            let mut volume = visible_volume(tx, caller, id)?;
            if volume.status == status::ATTACHING {
                // Reserved by os-reserve: the reservation is this attach.
                volume.status = status::AVAILABLE.into();
            }
            let mut attachment = reserve(
                tx,
                &mut volume,
                instance.as_deref(),
                attach::ATTACHING,
                false,
            )?;
            store::put_volume(tx, &volume)?;
            attachment.attach_mode = mode;
            attachment.host_name = host_name;
            complete(tx, &mut attachment, Some(&mountpoint))
        })
        .await
    }

    /// `os-detach`: the attachment named (or the volume's only one) goes.
    pub async fn detach_volume(
        &self,
        caller: &AuthContext,
        id: &str,
        attachment_id: Option<String>,
    ) -> Result<(), VolumeError> {
        self.run_as(caller, Action::WriteVolumes, id, move |tx, caller, id| {
            let volume = visible_volume(tx, caller, id)?;
            let attachments = store::attachments_of(tx, &volume.id)?;
            let chosen = match attachment_id {
                Some(a) => attachments.into_iter().find(|x| x.id == a),
                None if attachments.len() == 1 => attachments.into_iter().next(),
                None => None,
            };
            let Some(chosen) = chosen else {
                return Err(VolumeError::InvalidVolume(
                    "Unable to detach volume. Volume status must be 'in-use' and attach_status \
                     must be 'attached' to detach."
                        .into(),
                ));
            };
            release(tx, &chosen.id)?;
            Ok(())
        })
        .await
    }

    /// `os-initialize_connection`: the volume's file as a `file` connection.
    pub async fn initialize_connection(
        &self,
        caller: &AuthContext,
        id: &str,
    ) -> Result<Value, VolumeError> {
        let volume = self.show_volume(caller, id).await?.volume;
        authorize(caller, Action::WriteVolumes)?;
        Ok(connection_info(self.worker.backend.as_ref(), &volume))
    }
}
