//! The slow half of the operations, run as supervised tasks after the
//! request's transaction has recorded the transitional status: the
//! backend does the work, then one more transaction records the outcome
//! (`available`, `in-use`, `error`, `error_deleting`, ...). Each job is
//! safe to repeat, which is what [`Worker::recover`] does for the ones a
//! crash cut short.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use oxistack_auth::AuthContext;
use oxistack_contracts::{Images, VolumeHosts};
use oxistack_db::Db;
use oxistack_volstore::{VolumeBackend, VolumeFormat, VolumeSource};

use super::{VolumeError, settled_status};
use crate::model::{attach, status};
use crate::store;

#[derive(Clone)]
pub(super) struct Worker {
    pub db: Db,
    pub backend: Arc<dyn VolumeBackend>,
    pub images: Arc<dyn Images>,
    pub hosts: Arc<RwLock<Option<Arc<dyn VolumeHosts>>>>,
}

/// Where a new volume's data comes from, owned for a task.
#[derive(Debug, Clone)]
pub(super) enum Source {
    Blank,
    Image {
        path: PathBuf,
        disk_format: Option<String>,
    },
    Snapshot(String),
    Volume(String),
}

impl Worker {
    fn hosts(&self) -> Option<Arc<dyn VolumeHosts>> {
        self.hosts.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Makes volume `id`'s data, then marks it `available` (or `error`
    /// with the reason). The outcome is returned too, for callers that
    /// wait (boot volumes).
    pub async fn build(&self, id: String, source: Source) -> Result<(), String> {
        let found = self.db.read(move_id(&id, store::volume)).await;
        let volume = match found {
            Ok(Some(volume)) if volume.status == status::CREATING => volume,
            Ok(_) => return Err(format!("volume {id} is no longer being created")),
            Err(e) => return Err(e.to_string()),
        };
        let format = if volume.multiattach {
            VolumeFormat::Raw
        } else {
            VolumeFormat::Qcow2
        };
        let made = match &source {
            Source::Blank => {
                self.backend
                    .create(&id, volume.size, format, VolumeSource::Blank)
                    .await
            }
            Source::Image { path, disk_format } => {
                let source = VolumeSource::Image {
                    path,
                    disk_format: disk_format.as_deref(),
                };
                self.backend.create(&id, volume.size, format, source).await
            }
            Source::Snapshot(snapshot) => {
                self.backend
                    .create(&id, volume.size, format, VolumeSource::Snapshot(snapshot))
                    .await
            }
            Source::Volume(source) => {
                self.backend
                    .create(&id, volume.size, format, VolumeSource::Volume(source))
                    .await
            }
        };
        let fault = made.err().map(|e| e.to_string());
        if let Some(fault) = &fault {
            tracing::warn!(volume = %id, %fault, "creating a volume failed");
        }
        let outcome = fault.clone();
        let recorded = self
            .db
            .write(move |tx| {
                if let Some(mut volume) = store::volume(tx, &id)?
                    && volume.status == status::CREATING
                {
                    volume.status = if outcome.is_some() {
                        status::ERROR.into()
                    } else {
                        status::AVAILABLE.into()
                    };
                    volume.fault = outcome;
                    volume.touch();
                    store::put_volume(tx, &volume)?;
                }
                Ok::<_, VolumeError>(())
            })
            .await;
        if let Err(e) = recorded {
            tracing::error!(error = %e, "recording a volume's creation failed");
            return Err(e.to_string());
        }
        match fault {
            Some(fault) => Err(fault),
            None => Ok(()),
        }
    }

    /// Removes volume `id`'s data and that of the snapshots `snapshots`
    /// (a cascade), then its records; `error_deleting` if the backend
    /// fails.
    pub async fn remove(&self, id: String, snapshots: Vec<String>) {
        let mut failed = None;
        for snapshot in &snapshots {
            if let Err(e) = self.backend.delete_snapshot(snapshot).await {
                failed = Some(e.to_string());
            }
        }
        if failed.is_none()
            && let Err(e) = self.backend.delete_volume(&id).await
        {
            failed = Some(e.to_string());
        }
        let result = self
            .db
            .write(move |tx| {
                match failed {
                    None => {
                        for snapshot in &snapshots {
                            store::delete_snapshot(tx, snapshot)?;
                        }
                        for attachment in store::attachments_of(tx, &id)? {
                            store::delete_attachment(tx, &attachment.id)?;
                        }
                        store::delete_volume(tx, &id)?;
                    }
                    Some(fault) => {
                        tracing::warn!(volume = %id, %fault, "deleting a volume failed");
                        if let Some(mut volume) = store::volume(tx, &id)? {
                            volume.status = status::ERROR_DELETING.into();
                            volume.fault = Some(fault);
                            volume.touch();
                            store::put_volume(tx, &volume)?;
                        }
                    }
                }
                Ok::<_, VolumeError>(())
            })
            .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "recording a volume's deletion failed");
        }
    }

    /// Grows volume `id` to `size_gib`: the hypervisor of every server it
    /// is attached to grows the file under its guest; with none attached
    /// the backend does. Then its settled status, or `error_extending`.
    pub async fn extend(&self, id: String, size_gib: u64) {
        let servers = {
            let id = id.clone();
            self.db
                .read(move |conn| {
                    Ok::<_, VolumeError>(
                        store::attachments_of(conn, &id)?
                            .into_iter()
                            .filter(|a| a.status == attach::ATTACHED)
                            .filter_map(|a| a.instance_uuid)
                            .collect::<Vec<_>>(),
                    )
                })
                .await
        };
        let outcome: Result<(), String> = match servers {
            Err(e) => Err(e.to_string()),
            Ok(servers) if servers.is_empty() => self
                .backend
                .extend(&id, size_gib)
                .await
                .map_err(|e| e.to_string()),
            Ok(servers) => match self.hosts() {
                None => Err("no compute service to grow the attached volume".into()),
                Some(hosts) => {
                    let mut outcome = Ok(());
                    for server in servers {
                        let bytes = size_gib * 1024 * 1024 * 1024;
                        if let Err(e) = hosts.volume_extended(&server, &id, bytes).await {
                            outcome = Err(e.to_string());
                        }
                    }
                    outcome
                }
            },
        };
        let result = self
            .db
            .write(move |tx| {
                if let Some(mut volume) = store::volume(tx, &id)?
                    && volume.status == status::EXTENDING
                {
                    match outcome {
                        Ok(()) => {
                            volume.size = size_gib;
                            volume.status = settled_status(tx, &id)?.into();
                        }
                        Err(fault) => {
                            tracing::warn!(volume = %id, %fault, "extending a volume failed");
                            volume.status = status::ERROR_EXTENDING.into();
                            volume.fault = Some(fault);
                        }
                    }
                    volume.extending_to = None;
                    volume.touch();
                    store::put_volume(tx, &volume)?;
                }
                Ok::<_, VolumeError>(())
            })
            .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "recording a volume's extension failed");
        }
    }

    /// Freezes the data of snapshot `id`, then `available` (or `error`).
    pub async fn snapshot(&self, id: String, volume_id: String, in_use: bool) {
        let outcome = self.backend.snapshot(&id, &volume_id, in_use).await;
        let result = self
            .db
            .write(move |tx| {
                if let Some(mut snapshot) = store::snapshot(tx, &id)?
                    && snapshot.status == status::CREATING
                {
                    match outcome {
                        Ok(()) => {
                            snapshot.status = status::AVAILABLE.into();
                            snapshot.progress = "100%".into();
                        }
                        Err(fault) => {
                            tracing::warn!(snapshot = %id, %fault, "a snapshot failed");
                            snapshot.status = status::ERROR.into();
                        }
                    }
                    snapshot.updated_at = Some(crate::model::now());
                    store::put_snapshot(tx, &snapshot)?;
                }
                Ok::<_, VolumeError>(())
            })
            .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "recording a snapshot failed");
        }
    }

    /// Removes snapshot `id`'s data, then its record (`error_deleting` if
    /// the backend fails).
    pub async fn remove_snapshot(&self, id: String) {
        let outcome = self.backend.delete_snapshot(&id).await;
        let result = self
            .db
            .write(move |tx| {
                match outcome {
                    Ok(()) => store::delete_snapshot(tx, &id)?,
                    Err(fault) => {
                        tracing::warn!(snapshot = %id, %fault, "deleting a snapshot failed");
                        if let Some(mut snapshot) = store::snapshot(tx, &id)? {
                            snapshot.status = status::ERROR_DELETING.into();
                            store::put_snapshot(tx, &snapshot)?;
                        }
                    }
                }
                Ok::<_, VolumeError>(())
            })
            .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "recording a snapshot's deletion failed");
        }
    }

    /// Exports volume `volume_id` in `format` into a scratch file beside
    /// its data and has the image service take it as image `image_id`'s
    /// data; a failed upload discards the image (as Cinder deletes it).
    /// Either way the volume leaves `uploading`.
    pub async fn upload(
        &self,
        caller: AuthContext,
        volume_id: String,
        image_id: String,
        format: VolumeFormat,
    ) {
        if let Err(fault) = self
            .upload_data(&caller, &volume_id, &image_id, format)
            .await
        {
            tracing::warn!(volume = %volume_id, image = %image_id, %fault,
                "uploading a volume to an image failed");
            if let Err(e) = self.images.discard_image(&caller, &image_id).await {
                tracing::error!(image = %image_id, error = %e,
                    "discarding the image of a failed upload failed");
            }
        }
        self.settle_upload(volume_id).await;
    }

    async fn upload_data(
        &self,
        caller: &AuthContext,
        volume_id: &str,
        image_id: &str,
        format: VolumeFormat,
    ) -> Result<(), String> {
        let scratch = self
            .backend
            .export(volume_id, format)
            .await
            .map_err(|e| e.to_string())?;
        let outcome = self
            .images
            .import_file(caller, image_id, &scratch)
            .await
            .map(drop)
            .map_err(|e| e.to_string());
        match tokio::fs::remove_file(&scratch).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                tracing::warn!(path = %scratch.display(), error = %e,
                    "could not remove an exported volume");
            }
            _ => {}
        }
        outcome
    }

    /// Volume `id` leaves `uploading` for `in-use` or `available`.
    pub async fn settle_upload(&self, id: String) {
        let result = self
            .db
            .write(move |tx| super::upload::settle(tx, &id))
            .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "recording the end of an upload failed");
        }
    }

    /// Settles what a crash left transitional, then lets the backend
    /// finish its own interrupted work and drop data no record names.
    pub async fn recover(&self) -> Result<(), VolumeError> {
        let backend = self.backend.clone();
        let (deleting, deleting_snapshots) = self
            .db
            .write(move |tx| {
                let mut deleting = Vec::new();
                for (_, mut volume) in store::volumes(tx, None)? {
                    let exists = backend.volume_file(&volume.id).is_some();
                    let next = match volume.status.as_str() {
                        status::CREATING if exists => status::AVAILABLE,
                        status::CREATING => status::ERROR,
                        status::EXTENDING if exists => settled_status(tx, &volume.id)?,
                        status::EXTENDING => status::ERROR_EXTENDING,
                        // The upload's image stays queued, as Glance leaves
                        // an image whose upload never finished.
                        status::UPLOADING => settled_status(tx, &volume.id)?,
                        status::DELETING => {
                            let snapshots = store::snapshots_of(tx, &volume.id)?
                                .into_iter()
                                .filter(|s| s.status == status::DELETING)
                                .map(|s| s.id)
                                .collect::<Vec<_>>();
                            deleting.push((volume.id.clone(), snapshots));
                            continue;
                        }
                        _ => continue,
                    };
                    tracing::info!(volume = %volume.id, from = %volume.status, to = next,
                        "settling a volume a restart interrupted");
                    volume.status = next.into();
                    volume.extending_to = None;
                    volume.touch();
                    store::put_volume(tx, &volume)?;
                }
                let in_cascade: Vec<&String> = deleting.iter().flat_map(|(_, s)| s).collect();
                let mut deleting_snapshots = Vec::new();
                for (_, mut snapshot) in store::snapshots(tx, None)? {
                    match snapshot.status.as_str() {
                        status::CREATING => {
                            snapshot.status = if backend.has_snapshot(&snapshot.id) {
                                status::AVAILABLE.into()
                            } else {
                                status::ERROR.into()
                            };
                            store::put_snapshot(tx, &snapshot)?;
                        }
                        status::DELETING if !in_cascade.contains(&&snapshot.id) => {
                            deleting_snapshots.push(snapshot.id);
                        }
                        _ => {}
                    }
                }
                Ok::<_, VolumeError>((deleting, deleting_snapshots))
            })
            .await?;
        for (volume, snapshots) in deleting {
            self.remove(volume, snapshots).await;
        }
        for snapshot in deleting_snapshots {
            self.remove_snapshot(snapshot).await;
        }
        let (volumes, snapshots) = self
            .db
            .read(|conn| {
                let volumes = store::volumes(conn, None)?
                    .into_iter()
                    .map(|(_, v)| v.id)
                    .collect::<Vec<_>>();
                let snapshots = store::snapshots(conn, None)?
                    .into_iter()
                    .map(|(_, s)| s.id)
                    .collect::<Vec<_>>();
                Ok::<_, VolumeError>((volumes, snapshots))
            })
            .await?;
        let recovery = self.backend.recover(&volumes, &snapshots).await?;
        if !recovery.removed.is_empty() || !recovery.finished.is_empty() {
            tracing::info!(removed = ?recovery.removed, finished = ?recovery.finished,
                "the volume backend recovered");
        }
        Ok(())
    }
}

/// A read of one record by id, for `Db::read`.
fn move_id<T>(
    id: &str,
    get: fn(&oxistack_db::rusqlite::Connection, &str) -> Result<T, VolumeError>,
) -> impl FnOnce(&oxistack_db::rusqlite::Connection) -> Result<T, VolumeError> + Send + 'static
where
    T: Send + 'static,
{
    let id = id.to_owned();
    move |conn| get(conn, &id)
}
