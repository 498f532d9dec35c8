//! Snapshots: recorded `creating` (counted in the quotas) and frozen by
//! the backend in the background; an `in-use` volume needs `force` before
//! 3.66, as with Cinder. Deleting is `deleting` until the data is gone.

use oxistack_auth::{Action, AuthContext};
use serde_json::{Map, Value, json};

use super::common::check_status;
use super::lists::{Listable, attrs, page};
use super::quotas::{Delta, enforce};
use super::{
    ListRequest, Listed, ResetStatus, VolumeError, VolumeService, authorize, visible_snapshot,
    visible_volume,
};
use crate::model::{Metadata, Snapshot, new_id, now, status};
use crate::store;

#[derive(Debug, Clone, Default)]
pub struct NewSnapshot {
    pub volume_id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub force: bool,
    pub metadata: Metadata,
    /// 3.66+: snapshots of in-use volumes need no `force`.
    pub in_use_allowed: bool,
}

#[derive(Debug, Clone, Default)]
pub struct SnapshotUpdate {
    pub name: Option<Option<String>>,
    pub description: Option<Option<String>>,
}

impl Listable for Snapshot {
    fn id(&self) -> &str {
        &self.id
    }

    fn attributes(&self) -> Map<String, Value> {
        attrs([
            ("id", json!(self.id)),
            ("name", json!(self.name)),
            ("description", json!(self.description)),
            ("status", json!(self.status)),
            ("size", json!(self.size)),
            ("created_at", json!(self.created_at)),
            ("updated_at", json!(self.updated_at)),
            ("volume_id", json!(self.volume_id)),
            ("project_id", json!(self.project_id)),
        ])
    }

    fn metadata(&self) -> Option<&Metadata> {
        Some(&self.metadata)
    }
}

const SNAPSHOT_STATUSES: &[&str] = &[
    "available",
    "error",
    "creating",
    "deleting",
    "error_deleting",
    "backing-up",
    "restoring",
    "unmanaging",
];

impl VolumeService {
    pub async fn create_snapshot(
        &self,
        caller: &AuthContext,
        new: NewSnapshot,
    ) -> Result<Snapshot, VolumeError> {
        authorize(caller, Action::WriteVolumes)?;
        let caller = caller.clone();
        let (snapshot, in_use) = self
            .db()
            .write(move |tx| {
                let volume = visible_volume(tx, &caller, &new.volume_id)?;
                let valid: &[&str] = if new.force || new.in_use_allowed {
                    &[status::AVAILABLE, status::IN_USE]
                } else {
                    &[status::AVAILABLE]
                };
                if !valid.contains(&volume.status.as_str()) {
                    return Err(VolumeError::InvalidVolume(format!(
                        "Volume {} status must be {}, but current status is: {}.",
                        volume.id,
                        valid.join(", "),
                        volume.status
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
                        snapshots: 1,
                        gigabytes: volume.size,
                        type_name: &type_name,
                        volume_size: None,
                    },
                )?;
                let snapshot = Snapshot {
                    id: new_id(),
                    project_id: volume.project_id.clone(),
                    user_id: caller.user.id.clone(),
                    volume_id: volume.id.clone(),
                    name: new.name,
                    description: new.description,
                    status: status::CREATING.into(),
                    size: volume.size,
                    progress: "0%".into(),
                    metadata: new.metadata,
                    created_at: now(),
                    updated_at: None,
                };
                store::put_snapshot(tx, &snapshot)?;
                Ok((snapshot, volume.status == status::IN_USE))
            })
            .await?;
        let worker = self.worker.clone();
        let (id, volume_id) = (snapshot.id.clone(), snapshot.volume_id.clone());
        self.spawn(format!("snapshot {id}"), async move {
            worker.snapshot(id, volume_id, in_use).await;
        });
        Ok(snapshot)
    }

    pub async fn list_snapshots(
        &self,
        caller: &AuthContext,
        request: ListRequest,
    ) -> Result<Listed<Snapshot>, VolumeError> {
        self.read_scoped(caller, request.all_tenants, move |conn, scope| {
            page(store::snapshots(conn, scope)?, &request)
        })
        .await
    }

    pub async fn show_snapshot(
        &self,
        caller: &AuthContext,
        id: &str,
    ) -> Result<Snapshot, VolumeError> {
        self.run_as(caller, Action::ReadVolumes, id, visible_snapshot)
            .await
    }

    /// Changes snapshot `id` with `f` in one transaction.
    pub(super) async fn change_snapshot<T, F>(
        &self,
        caller: &AuthContext,
        id: &str,
        action: Action,
        f: F,
    ) -> Result<T, VolumeError>
    where
        F: FnOnce(&mut Snapshot) -> Result<T, VolumeError> + Send + 'static,
        T: Send + 'static,
    {
        self.run_as(caller, action, id, move |tx, caller, id| {
            let mut snapshot = visible_snapshot(tx, caller, id)?;
            let value = f(&mut snapshot)?;
            snapshot.updated_at = Some(now());
            store::put_snapshot(tx, &snapshot)?;
            Ok(value)
        })
        .await
    }

    pub async fn update_snapshot(
        &self,
        caller: &AuthContext,
        id: &str,
        update: SnapshotUpdate,
    ) -> Result<Snapshot, VolumeError> {
        self.change_snapshot(caller, id, Action::WriteVolumes, move |s| {
            if let Some(name) = update.name {
                s.name = name;
            }
            if let Some(description) = update.description {
                s.description = description;
            }
            Ok(s.clone())
        })
        .await
    }

    /// `DELETE /snapshots/{id}` (`force` is `os-force_delete`).
    pub async fn delete_snapshot(
        &self,
        caller: &AuthContext,
        id: &str,
        force: bool,
    ) -> Result<(), VolumeError> {
        let action = if force {
            Action::ManageVolumeStatus
        } else {
            Action::WriteVolumes
        };
        self.change_snapshot(caller, id, action, move |s| {
            if !force && ![status::AVAILABLE, status::ERROR].contains(&s.status.as_str()) {
                return Err(VolumeError::InvalidSnapshot(
                    "Volume Snapshot status must be available or error".into(),
                ));
            }
            s.status = status::DELETING.into();
            Ok(())
        })
        .await?;
        let worker = self.worker.clone();
        let id = id.to_owned();
        self.spawn(format!("delete snapshot {id}"), async move {
            worker.remove_snapshot(id).await;
        });
        Ok(())
    }

    pub async fn reset_snapshot_status(
        &self,
        caller: &AuthContext,
        id: &str,
        reset: ResetStatus,
    ) -> Result<(), VolumeError> {
        let Some(new) = reset.status else {
            return Err(VolumeError::BadRequest("Must specify 'status'".into()));
        };
        check_status(Some(&new), SNAPSHOT_STATUSES, "status")?;
        self.change_snapshot(caller, id, Action::ManageVolumeStatus, move |s| {
            s.status = new;
            Ok(())
        })
        .await
    }

    /// `os-update_snapshot_status`, with which Nova reports the progress
    /// of a snapshot it takes itself: only from `creating` (to `creating`,
    /// `available` or `error`) or `deleting` (to `deleting` or
    /// `error_deleting`).
    pub async fn update_snapshot_status(
        &self,
        caller: &AuthContext,
        id: &str,
        status: String,
        progress: Option<String>,
    ) -> Result<(), VolumeError> {
        let status = status.to_lowercase();
        self.change_snapshot(caller, id, Action::WriteVolumes, move |s| {
            let allowed: &[&str] = match s.status.as_str() {
                "creating" => &["creating", "available", "error"],
                "deleting" => &["deleting", "error_deleting"],
                current => {
                    return Err(VolumeError::InvalidSnapshot(format!(
                        "Snapshot status {current} not allowed for update_snapshot_status"
                    )));
                }
            };
            if !allowed.contains(&status.as_str()) {
                return Err(VolumeError::InvalidSnapshot(format!(
                    "Provided snapshot status {status} not allowed for snapshot with status {}.",
                    s.status
                )));
            }
            s.status = status;
            if let Some(progress) = progress {
                s.progress = progress;
            }
            Ok(())
        })
        .await
    }
}
