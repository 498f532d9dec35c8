//! Volumes: create (blank, from an image, a snapshot or another volume),
//! list, show, update, delete (with `cascade` for its snapshots), their
//! metadata and the summary. A new volume is recorded `creating` with
//! its quota counted in the same transaction, and made by a background
//! task; a deleted one is `deleting` until its data is gone.

use std::collections::{BTreeMap, BTreeSet};

use oxistack_auth::{Action, AuthContext};
use oxistack_contracts::ImageSummary;
use oxistack_db::rusqlite::Connection;
use serde_json::{Map, Value, json};

use super::lists::{Listable, attrs, page};
use super::quotas::{Delta, enforce};
use super::work::Source;
use super::{
    ListRequest, Listed, VolumeError, VolumeService, authorize, detail, is_admin, types,
    visible_snapshot, visible_volume,
};
use crate::model::{Metadata, Volume, VolumeDetail, ZONE, attach, new_id, now, status};
use crate::store;

/// A volume to create (`POST /volumes`, or a boot volume for compute).
#[derive(Debug, Clone, Default)]
pub struct NewVolume {
    pub size: Option<u64>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub volume_type: Option<String>,
    pub availability_zone: Option<String>,
    pub metadata: Metadata,
    pub snapshot_id: Option<String>,
    pub source_volid: Option<String>,
    pub image_ref: Option<String>,
}

/// `PUT /volumes/{id}`: what is given changes.
#[derive(Debug, Clone, Default)]
pub struct VolumeUpdate {
    pub name: Option<Option<String>>,
    pub description: Option<Option<String>>,
    pub metadata: Option<Metadata>,
}

/// `os-reset_status`: what an administrator forces.
#[derive(Debug, Clone, Default)]
pub struct ResetStatus {
    pub status: Option<String>,
    pub attach_status: Option<String>,
    pub migration_status: Option<String>,
}

/// One project's volumes and snapshots on the backend.
#[derive(Debug, Default, Clone)]
pub struct ProjectUsage {
    pub project: String,
    pub volume_count: u64,
    pub volume_gb: u64,
    pub snapshot_count: u64,
    pub snapshot_gb: u64,
}

/// `GET /volumes/summary`.
#[derive(Debug, Clone, Default)]
pub struct VolumeSummaryTotals {
    pub total_count: usize,
    pub total_size: u64,
    pub metadata: BTreeMap<String, Vec<String>>,
}

impl Listable for VolumeDetail {
    fn id(&self) -> &str {
        &self.volume.id
    }

    fn attributes(&self) -> Map<String, Value> {
        let v = &self.volume;
        attrs([
            ("id", json!(v.id)),
            ("name", json!(v.name)),
            ("description", json!(v.description)),
            ("status", json!(v.status)),
            ("size", json!(v.size)),
            ("created_at", json!(v.created_at)),
            ("updated_at", json!(v.updated_at)),
            ("availability_zone", json!(v.availability_zone)),
            ("bootable", json!(v.bootable.to_string())),
            ("project_id", json!(v.project_id)),
            ("volume_type", json!(self.type_name)),
        ])
    }

    fn metadata(&self) -> Option<&Metadata> {
        Some(&self.volume.metadata)
    }
}

/// What `DELETE` refuses with, as Cinder words it (`status` empty for a
/// forced delete, which skips the status condition).
pub(super) fn undeletable(status: &str) -> VolumeError {
    VolumeError::InvalidVolume(format!(
        "Volume {status}must not be migrating, attached, belong to a group, have snapshots, \
         awaiting a transfer, or be disassociated from snapshots after volume transfer."
    ))
}

const DELETABLE: &[&str] = &[
    status::AVAILABLE,
    status::ERROR,
    "error_restoring",
    status::ERROR_EXTENDING,
    "error_managing",
];

/// Marks `volume` (and with `cascade` its snapshots) `deleting` if it may
/// go; the snapshots to remove with it.
pub(super) fn begin_delete(
    conn: &Connection,
    volume: &mut Volume,
    cascade: bool,
    force: bool,
) -> Result<Vec<String>, VolumeError> {
    let status_text = if force {
        String::new()
    } else {
        format!("status must be {} and ", DELETABLE.join(" or "))
    };
    let refused = || undeletable(&status_text);
    if !force && !DELETABLE.contains(&volume.status.as_str()) {
        return Err(refused());
    }
    let attached = !store::attachments_of(conn, &volume.id)?.is_empty();
    if attached || volume.attach_status == attach::ATTACHED {
        return Err(refused());
    }
    let snapshots = store::snapshots_of(conn, &volume.id)?;
    if !snapshots.is_empty() && !cascade {
        return Err(refused());
    }
    let settled = [
        status::AVAILABLE,
        status::ERROR,
        status::DELETING,
        status::ERROR_DELETING,
    ];
    if !force
        && snapshots
            .iter()
            .any(|s| !settled.contains(&s.status.as_str()))
    {
        return Err(refused());
    }
    for mut snapshot in snapshots.iter().cloned() {
        snapshot.status = status::DELETING.into();
        snapshot.updated_at = Some(now());
        store::put_snapshot(conn, &snapshot)?;
    }
    volume.status = status::DELETING.into();
    Ok(snapshots.into_iter().map(|s| s.id).collect())
}

/// Cinder's check of an image for a volume of `size` GiB.
fn check_image(image: &ImageSummary, size: u64) -> Result<(), VolumeError> {
    if image.status != "active" {
        return Err(VolumeError::InvalidInput(format!(
            "Image {} is not active.",
            image.id
        )));
    }
    const GIB: u64 = 1024 * 1024 * 1024;
    let image_gib = image.size.unwrap_or(0).div_ceil(GIB);
    if image_gib > size {
        return Err(VolumeError::InvalidInput(format!(
            "Size of specified image {image_gib}GB is larger than volume size {size}GB."
        )));
    }
    if image.min_disk > size {
        return Err(VolumeError::InvalidInput(format!(
            "Volume size {size}GB cannot be smaller than the image minDisk size {}GB.",
            image.min_disk
        )));
    }
    Ok(())
}

/// What a volume made from `image` remembers of it.
fn image_metadata(image: &ImageSummary) -> Metadata {
    let mut meta: Metadata = image.properties.clone().into_iter().collect();
    meta.insert("image_id".into(), image.id.clone());
    meta.insert("image_name".into(), image.name.clone());
    meta.insert("min_disk".into(), image.min_disk.to_string());
    meta.insert("min_ram".into(), image.min_ram.to_string());
    if let Some(size) = image.size {
        meta.insert("size".into(), size.to_string());
    }
    if let Some(format) = &image.disk_format {
        meta.insert("disk_format".into(), format.clone());
    }
    meta
}

fn invalid_size(size: impl std::fmt::Display) -> VolumeError {
    VolumeError::InvalidInput(format!(
        "Volume size '{size}' must be an integer and greater than 0"
    ))
}

impl VolumeService {
    /// Records a new volume `creating` and starts making it; the
    /// receiver hears the outcome.
    pub(crate) async fn start_create(
        &self,
        caller: &AuthContext,
        new: NewVolume,
    ) -> Result<
        (
            VolumeDetail,
            tokio::sync::oneshot::Receiver<Result<(), String>>,
        ),
        VolumeError,
    > {
        authorize(caller, Action::WriteVolumes)?;
        if let Some(zone) = new.availability_zone.as_deref().filter(|z| *z != ZONE) {
            return Err(VolumeError::BadRequest(format!(
                "Availability zone '{zone}' is invalid."
            )));
        }
        if new.size == Some(0) {
            return Err(invalid_size(0));
        }
        let image = match &new.image_ref {
            None => None,
            Some(id) => {
                let image = self
                    .worker
                    .images
                    .find(caller, id)
                    .await?
                    .ok_or_else(|| VolumeError::ImageNotFound(id.clone()))?;
                let path = self.worker.images.data_file(id).ok_or_else(|| {
                    VolumeError::InvalidInput(format!("Image {id} is not active."))
                })?;
                let size = new.size.ok_or_else(|| invalid_size("None"))?;
                check_image(&image, size)?;
                Some((image, path))
            }
        };
        let caller_owned = caller.clone();
        let (detail, source) = self
            .db()
            .write(move |tx| {
                let caller = &caller_owned;
                let mut size = new.size;
                let mut inherited_type = None;
                let mut source = Source::Blank;
                if let Some(id) = &new.snapshot_id {
                    let snapshot = visible_snapshot(tx, caller, id)?;
                    if snapshot.status != status::AVAILABLE {
                        return Err(VolumeError::InvalidInput(
                            "Originating snapshot status must be one of 'available' values".into(),
                        ));
                    }
                    let wanted = *size.get_or_insert(snapshot.size);
                    if wanted < snapshot.size {
                        return Err(VolumeError::InvalidInput(format!(
                            "Volume size '{wanted}'GB cannot be smaller than the snapshot size {}GB. \
                             They must be >= original snapshot size.",
                            snapshot.size
                        )));
                    }
                    inherited_type = store::volume(tx, &snapshot.volume_id)?.map(|v| v.volume_type_id);
                    source = Source::Snapshot(snapshot.id);
                } else if let Some(id) = &new.source_volid {
                    let origin = visible_volume(tx, caller, id)?;
                    if ![status::AVAILABLE, status::IN_USE].contains(&origin.status.as_str()) {
                        return Err(VolumeError::InvalidInput(
                            "Originating volume status must be one of 'available', 'in-use' values"
                                .into(),
                        ));
                    }
                    let wanted = *size.get_or_insert(origin.size);
                    if wanted < origin.size {
                        return Err(VolumeError::InvalidInput(format!(
                            "Volume size '{wanted}'GB cannot be smaller than original volume size  \
                             {}GB. They must be >= original volume size.",
                            origin.size
                        )));
                    }
                    inherited_type = Some(origin.volume_type_id.clone());
                    source = Source::Volume(origin.id);
                } else if let Some((_, path)) = &image {
                    source = Source::Image {
                        path: path.clone(),
                        disk_format: image.as_ref().and_then(|(i, _)| i.disk_format.clone()),
                    };
                }
                let size = size.ok_or_else(|| invalid_size("None"))?;
                // Cinder reads an empty `volume_type` as none given.
                let asked_type = new.volume_type.as_deref().filter(|t| !t.is_empty());
                let volume_type = match (asked_type, inherited_type) {
                    (Some(name), _) => types::resolve(tx, caller, name)?,
                    (None, Some(id)) => match store::volume_type(tx, &id)? {
                        Some(t) => t,
                        None => types::default_type(tx)?,
                    },
                    (None, None) => types::default_type(tx)?,
                };
                let project = caller.project_id().unwrap_or_default().to_owned();
                enforce(
                    tx,
                    &project,
                    Delta {
                        volumes: 1,
                        snapshots: 0,
                        gigabytes: size,
                        type_name: &volume_type.name,
                        volume_size: Some(size),
                    },
                )?;
                let bootable = match &source {
                    Source::Image { .. } => true,
                    Source::Volume(id) => store::volume(tx, id)?.is_some_and(|v| v.bootable),
                    Source::Snapshot(id) => store::snapshot(tx, id)?
                        .and_then(|s| store::volume(tx, &s.volume_id).ok().flatten())
                        .is_some_and(|v| v.bootable),
                    Source::Blank => false,
                };
                let volume = Volume {
                    id: new_id(),
                    project_id: project,
                    user_id: caller.user.id.clone(),
                    name: new.name,
                    description: new.description,
                    size,
                    status: status::CREATING.into(),
                    attach_status: attach::DETACHED.into(),
                    migration_status: None,
                    availability_zone: ZONE.into(),
                    volume_type_id: volume_type.id.clone(),
                    snapshot_id: new.snapshot_id,
                    source_volid: new.source_volid,
                    bootable,
                    multiattach: volume_type.multiattach(),
                    readonly: false,
                    readonly_flagged: false,
                    metadata: new.metadata,
                    image_metadata: image.as_ref().map(|(i, _)| image_metadata(i)).unwrap_or_default(),
                    created_at: now(),
                    updated_at: None,
                    extending_to: None,
                    fault: None,
                };
                store::put_volume(tx, &volume)?;
                Ok((detail(tx, volume)?, source))
            })
            .await?;
        let (done, outcome) = tokio::sync::oneshot::channel();
        let worker = self.worker.clone();
        let id = detail.volume.id.clone();
        self.spawn(format!("create volume {id}"), async move {
            let result = worker.build(id, source).await;
            let _ = done.send(result);
        });
        Ok((detail, outcome))
    }

    /// `POST /volumes`: the volume as recorded, `creating`.
    pub async fn create_volume(
        &self,
        caller: &AuthContext,
        new: NewVolume,
    ) -> Result<VolumeDetail, VolumeError> {
        Ok(self.start_create(caller, new).await?.0)
    }

    pub async fn list_volumes(
        &self,
        caller: &AuthContext,
        request: ListRequest,
    ) -> Result<Listed<VolumeDetail>, VolumeError> {
        self.read_scoped(caller, request.all_tenants, move |conn, scope| {
            let mut records = Vec::new();
            for (seq, volume) in store::volumes(conn, scope)? {
                records.push((seq, detail(conn, volume)?));
            }
            page(records, &request)
        })
        .await
    }

    pub async fn show_volume(
        &self,
        caller: &AuthContext,
        id: &str,
    ) -> Result<VolumeDetail, VolumeError> {
        self.run_as(caller, Action::ReadVolumes, id, |conn, caller, id| {
            detail(conn, visible_volume(conn, caller, id)?)
        })
        .await
    }

    pub async fn update_volume(
        &self,
        caller: &AuthContext,
        id: &str,
        update: VolumeUpdate,
    ) -> Result<VolumeDetail, VolumeError> {
        self.change_volume(caller, id, move |_, volume| {
            if let Some(name) = update.name {
                volume.name = name;
            }
            if let Some(description) = update.description {
                volume.description = description;
            }
            if let Some(metadata) = update.metadata {
                volume.metadata = metadata;
            }
            Ok(())
        })
        .await?;
        self.show_volume(caller, id).await
    }

    /// `DELETE /volumes/{id}` (`force` is `os-force_delete`).
    pub async fn delete_volume(
        &self,
        caller: &AuthContext,
        id: &str,
        cascade: bool,
        force: bool,
    ) -> Result<(), VolumeError> {
        if force {
            authorize(caller, Action::ManageVolumeStatus)?;
        }
        let snapshots = self
            .change_volume(caller, id, move |tx, volume| {
                begin_delete(tx, volume, cascade, force)
            })
            .await?;
        let worker = self.worker.clone();
        let id = id.to_owned();
        self.spawn(format!("delete volume {id}"), async move {
            worker.remove(id, snapshots).await;
        });
        Ok(())
    }

    /// `GET /volumes/summary`: the caller's volumes (every project's with
    /// `all_tenants` for an administrator).
    pub async fn volume_summary(
        &self,
        caller: &AuthContext,
        all_tenants: bool,
    ) -> Result<VolumeSummaryTotals, VolumeError> {
        authorize(caller, Action::ReadVolumes)?;
        let everyone = all_tenants && is_admin(caller);
        let project = caller.project_id().map(str::to_owned);
        self.db()
            .read(move |conn| {
                let scope = if everyone { None } else { project.as_deref() };
                let mut totals = VolumeSummaryTotals::default();
                let mut metadata: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
                for (_, v) in store::volumes(conn, scope)? {
                    totals.total_count += 1;
                    totals.total_size += v.size;
                    for (k, value) in v.metadata {
                        metadata.entry(k).or_default().insert(value);
                    }
                }
                totals.metadata = metadata
                    .into_iter()
                    .map(|(k, values)| (k, values.into_iter().collect()))
                    .collect();
                Ok(totals)
            })
            .await
    }

    /// What each project keeps on the one backend, as `os-hosts/{host}`
    /// reports it: volumes and snapshots, counted and in GiB, by project.
    pub async fn host_usage(&self, caller: &AuthContext) -> Result<Vec<ProjectUsage>, VolumeError> {
        authorize(caller, Action::ShowVolumeHosts)?;
        self.db()
            .read(move |conn| {
                let mut by_project: BTreeMap<String, ProjectUsage> = BTreeMap::new();
                let mut entry = |project: &str| {
                    let project = project.to_owned();
                    by_project.entry(project.clone()).or_insert(ProjectUsage {
                        project,
                        ..ProjectUsage::default()
                    });
                };
                let volumes = store::volumes(conn, None)?;
                let snapshots = store::snapshots(conn, None)?;
                volumes.iter().for_each(|(_, v)| entry(&v.project_id));
                snapshots.iter().for_each(|(_, s)| entry(&s.project_id));
                for (_, v) in volumes {
                    let usage = by_project.get_mut(&v.project_id).expect("entered");
                    usage.volume_count += 1;
                    usage.volume_gb += v.size;
                }
                for (_, s) in snapshots {
                    let usage = by_project.get_mut(&s.project_id).expect("entered");
                    usage.snapshot_count += 1;
                    usage.snapshot_gb += s.size;
                }
                Ok(by_project.into_values().collect())
            })
            .await
    }
}
