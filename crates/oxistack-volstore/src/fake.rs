//! [`FakeBackend`]: volumes and snapshots in memory, for the volume
//! service's fast tests.
//!
//! It keeps the same rules as the file backend, so a service test that
//! passes against it means something: a snapshot of a volume that is not
//! in use becomes what the volume builds on (as the file backend rotates
//! files), a qcow2 volume made from a snapshot builds on it, and a deleted
//! snapshot that something still builds on keeps its data until the last
//! dependent is gone. Sizes, missing sources and recovery behave alike; no
//! data is kept, only sizes, formats and where each volume came from.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use futures_util::future::{BoxFuture, FutureExt};

use crate::{
    BackendError, BackendResult, Recovery, VolumeBackend, VolumeFile, VolumeFormat, VolumeSource,
};

/// The directory the fake's paths pretend to be in.
const FAKE_DIR: &str = "/fake-volumes";

/// Where a fake volume's data came from, as [`VolumeSource`] said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FakeOrigin {
    Blank,
    Image {
        path: PathBuf,
        disk_format: Option<String>,
    },
    Snapshot(String),
    Volume(String),
}

impl From<VolumeSource<'_>> for FakeOrigin {
    fn from(source: VolumeSource<'_>) -> Self {
        match source {
            VolumeSource::Blank => FakeOrigin::Blank,
            VolumeSource::Image { path, disk_format } => FakeOrigin::Image {
                path: path.to_path_buf(),
                disk_format: disk_format.map(str::to_owned),
            },
            VolumeSource::Snapshot(id) => FakeOrigin::Snapshot(id.to_owned()),
            VolumeSource::Volume(id) => FakeOrigin::Volume(id.to_owned()),
        }
    }
}

/// How big the fake's exported files are.
const FAKE_EXPORT_BYTES: u64 = 1 << 20;

/// Numbers the fake's exports, so two never share a file.
static FAKE_EXPORTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

#[derive(Debug, Clone)]
struct FakeVolume {
    size_gib: u64,
    format: VolumeFormat,
    origin: FakeOrigin,
    /// The snapshot this volume's file would be built on.
    backing: Option<String>,
}

#[derive(Debug, Clone)]
struct FakeSnapshot {
    size_gib: u64,
    format: VolumeFormat,
    /// The snapshot this snapshot's file would be built on.
    backing: Option<String>,
    /// Deleted by the service, kept because something builds on it.
    deleted: bool,
}

#[derive(Debug, Default)]
struct FakeState {
    volumes: BTreeMap<String, FakeVolume>,
    snapshots: BTreeMap<String, FakeSnapshot>,
    fail_creates: bool,
}

impl FakeState {
    fn is_built_on(&self, snapshot_id: &str) -> bool {
        let names = |backing: &Option<String>| backing.as_deref() == Some(snapshot_id);
        self.volumes.values().any(|v| names(&v.backing))
            || self.snapshots.values().any(|s| names(&s.backing))
    }

    /// Removes deleted snapshots nothing builds on any more, walking up
    /// from `backing`; returns their paths.
    fn prune_from(&mut self, mut backing: Option<String>) -> Vec<PathBuf> {
        let mut removed = Vec::new();
        while let Some(id) = backing.take() {
            let Some(snapshot) = self.snapshots.get(&id) else {
                break;
            };
            if !snapshot.deleted || self.is_built_on(&id) {
                break;
            }
            removed.push(snapshot_path(&id, snapshot.format));
            backing = snapshot.backing.clone();
            self.snapshots.remove(&id);
        }
        removed
    }
}

/// An in-memory [`VolumeBackend`] with switches to make it fail.
#[derive(Debug, Default)]
pub struct FakeBackend {
    state: Mutex<FakeState>,
}

impl FakeBackend {
    pub fn new() -> FakeBackend {
        FakeBackend::default()
    }

    /// While `fail`, every `create` fails with [`BackendError::Tool`].
    pub fn fail_creates(&self, fail: bool) {
        self.state().fail_creates = fail;
    }

    /// Volume `id`'s size in GiB, if it exists.
    pub fn volume_size(&self, id: &str) -> Option<u64> {
        self.state().volumes.get(id).map(|v| v.size_gib)
    }

    /// Where volume `id`'s data came from, if it exists.
    pub fn volume_origin(&self, id: &str) -> Option<FakeOrigin> {
        self.state().volumes.get(id).map(|v| v.origin.clone())
    }

    /// The volumes that have data, sorted.
    pub fn volume_ids(&self) -> Vec<String> {
        self.state().volumes.keys().cloned().collect()
    }

    /// The snapshots that have data and are not deleted, sorted.
    pub fn snapshot_ids(&self) -> Vec<String> {
        let state = self.state();
        let live = state.snapshots.iter().filter(|(_, s)| !s.deleted);
        live.map(|(id, _)| id.clone()).collect()
    }

    /// Deleted snapshots whose data is kept because something still builds
    /// on it, sorted.
    pub fn kept_snapshot_ids(&self) -> Vec<String> {
        let state = self.state();
        let kept = state.snapshots.iter().filter(|(_, s)| s.deleted);
        kept.map(|(id, _)| id.clone()).collect()
    }

    fn state(&self) -> MutexGuard<'_, FakeState> {
        // A test that panicked while holding the lock leaves consistent
        // data behind: every change below is made under one lock.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn create_now(
        &self,
        id: &str,
        size_gib: u64,
        format: VolumeFormat,
        source: VolumeSource<'_>,
    ) -> BackendResult<VolumeFile> {
        let mut state = self.state();
        if state.fail_creates {
            return Err(BackendError::Tool {
                program: "fake".into(),
                message: format!("creating volume {id} failed as asked"),
            });
        }
        let (source_gib, backing) = match source {
            VolumeSource::Blank | VolumeSource::Image { .. } => (0, None),
            VolumeSource::Snapshot(sid) => {
                let snapshot = state
                    .snapshots
                    .get(sid)
                    .filter(|s| !s.deleted)
                    .ok_or_else(|| BackendError::NoSuchSnapshot(sid.to_owned()))?;
                // A qcow2 volume builds on the snapshot; a raw one copies.
                let backing = (format == VolumeFormat::Qcow2).then(|| sid.to_owned());
                (snapshot.size_gib, backing)
            }
            VolumeSource::Volume(vid) => {
                let volume = state
                    .volumes
                    .get(vid)
                    .ok_or_else(|| BackendError::NoSuchVolume(vid.to_owned()))?;
                (volume.size_gib, None)
            }
        };
        if size_gib < source_gib {
            return Err(BackendError::smaller_than_source(size_gib, source_gib));
        }
        let volume = FakeVolume {
            size_gib,
            format,
            origin: source.into(),
            backing,
        };
        if let Some(replaced) = state.volumes.insert(id.to_owned(), volume) {
            state.prune_from(replaced.backing);
        }
        Ok(VolumeFile {
            path: volume_path(id, format),
            format,
        })
    }

    fn snapshot_now(&self, snapshot_id: &str, volume_id: &str, in_use: bool) -> BackendResult<()> {
        let mut state = self.state();
        if state.snapshots.contains_key(snapshot_id) {
            return Ok(());
        }
        let volume = state
            .volumes
            .get_mut(volume_id)
            .ok_or_else(|| BackendError::NoSuchVolume(volume_id.to_owned()))?;
        let rotates = !in_use && volume.format == VolumeFormat::Qcow2;
        let snapshot = FakeSnapshot {
            size_gib: volume.size_gib,
            format: volume.format,
            // A copy is standalone; a rotation hands the chain over.
            backing: if rotates {
                volume.backing.clone()
            } else {
                None
            },
            deleted: false,
        };
        if rotates {
            volume.backing = Some(snapshot_id.to_owned());
        }
        state.snapshots.insert(snapshot_id.to_owned(), snapshot);
        Ok(())
    }

    fn extend_now(&self, id: &str, size_gib: u64) -> BackendResult<()> {
        let mut state = self.state();
        let volume = state
            .volumes
            .get_mut(id)
            .ok_or_else(|| BackendError::NoSuchVolume(id.to_owned()))?;
        if size_gib < volume.size_gib {
            return Err(BackendError::shrink_refused(volume.size_gib, size_gib));
        }
        volume.size_gib = size_gib;
        Ok(())
    }

    fn delete_volume_now(&self, id: &str) {
        let mut state = self.state();
        if let Some(volume) = state.volumes.remove(id) {
            state.prune_from(volume.backing);
        }
    }

    fn delete_snapshot_now(&self, id: &str) {
        let mut state = self.state();
        if let Some(snapshot) = state.snapshots.get_mut(id) {
            snapshot.deleted = true;
            state.prune_from(Some(id.to_owned()));
        }
    }

    fn recover_now(&self, volumes: &[String], snapshots: &[String]) -> Recovery {
        let mut state = self.state();
        let mut recovery = Recovery::default();
        let unknown_volumes: Vec<String> = (state.volumes.keys())
            .filter(|id| !volumes.contains(id))
            .cloned()
            .collect();
        for id in unknown_volumes {
            if let Some(volume) = state.volumes.remove(&id) {
                recovery.removed.push(volume_path(&id, volume.format));
            }
        }
        // Unknown snapshots become deleted ones, which pruning removes
        // unless something kept builds on them.
        for (id, snapshot) in state.snapshots.iter_mut() {
            if !snapshots.contains(id) {
                snapshot.deleted = true;
            }
        }
        let ids: Vec<String> = state.snapshots.keys().cloned().collect();
        for id in ids {
            let pruned = state.prune_from(Some(id));
            recovery.removed.extend(pruned);
        }
        recovery
    }
}

impl VolumeBackend for FakeBackend {
    fn create<'a>(
        &'a self,
        id: &'a str,
        size_gib: u64,
        format: VolumeFormat,
        source: VolumeSource<'a>,
    ) -> BoxFuture<'a, BackendResult<VolumeFile>> {
        let result = self.create_now(id, size_gib, format, source);
        async move { result }.boxed()
    }

    fn snapshot<'a>(
        &'a self,
        snapshot_id: &'a str,
        volume_id: &'a str,
        in_use: bool,
    ) -> BoxFuture<'a, BackendResult<()>> {
        let result = self.snapshot_now(snapshot_id, volume_id, in_use);
        async move { result }.boxed()
    }

    fn extend<'a>(&'a self, id: &'a str, size_gib: u64) -> BoxFuture<'a, BackendResult<()>> {
        let result = self.extend_now(id, size_gib);
        async move { result }.boxed()
    }

    fn delete_volume<'a>(&'a self, id: &'a str) -> BoxFuture<'a, BackendResult<()>> {
        self.delete_volume_now(id);
        async { Ok(()) }.boxed()
    }

    fn delete_snapshot<'a>(&'a self, id: &'a str) -> BoxFuture<'a, BackendResult<()>> {
        self.delete_snapshot_now(id);
        async { Ok(()) }.boxed()
    }

    fn volume_file(&self, id: &str) -> Option<VolumeFile> {
        let format = self.state().volumes.get(id)?.format;
        Some(VolumeFile {
            path: volume_path(id, format),
            format,
        })
    }

    fn has_snapshot(&self, id: &str) -> bool {
        self.state().snapshots.get(id).is_some_and(|s| !s.deleted)
    }

    /// A small file of zeros in the system's temporary directory: the fake
    /// keeps no data, but what it hands out is a file (kept small, so that
    /// an upload to the image service hashes little).
    fn export<'a>(
        &'a self,
        id: &'a str,
        format: VolumeFormat,
    ) -> BoxFuture<'a, BackendResult<PathBuf>> {
        let known = self.state().volumes.contains_key(id);
        let id = id.to_owned();
        async move {
            if !known {
                return Err(BackendError::NoSuchVolume(id));
            }
            let sequence = FAKE_EXPORTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let dest = std::env::temp_dir().join(format!(
                "oxistack-fake-export-{id}-{}-{sequence}.{}",
                std::process::id(),
                format.as_str()
            ));
            std::fs::File::create(&dest)?.set_len(FAKE_EXPORT_BYTES)?;
            Ok(dest)
        }
        .boxed()
    }

    fn recover<'a>(
        &'a self,
        volumes: &'a [String],
        snapshots: &'a [String],
    ) -> BoxFuture<'a, BackendResult<Recovery>> {
        let recovery = self.recover_now(volumes, snapshots);
        async move { Ok(recovery) }.boxed()
    }
}

fn volume_path(id: &str, format: VolumeFormat) -> PathBuf {
    PathBuf::from(format!("{FAKE_DIR}/volume-{id}.{}", format.as_str()))
}

fn snapshot_path(id: &str, format: VolumeFormat) -> PathBuf {
    PathBuf::from(format!("{FAKE_DIR}/snapshot-{id}.{}", format.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[tokio::test]
    async fn create_reports_the_fake_path_and_records_size_and_origin() {
        let backend = FakeBackend::new();
        let file = (backend.create("v1", 3, VolumeFormat::Raw, VolumeSource::Blank))
            .await
            .unwrap();
        assert_eq!(file.path, PathBuf::from("/fake-volumes/volume-v1.raw"));
        assert_eq!(file.format, VolumeFormat::Raw);
        assert_eq!(backend.volume_size("v1"), Some(3));
        assert_eq!(backend.volume_origin("v1"), Some(FakeOrigin::Blank));
        assert_eq!(backend.volume_file("v1"), Some(file));
        assert_eq!(backend.volume_ids(), ids(&["v1"]));
    }

    #[tokio::test]
    async fn fail_creates_makes_every_create_fail_until_switched_off() {
        let backend = FakeBackend::new();
        backend.fail_creates(true);
        let err = (backend.create("v1", 1, VolumeFormat::Qcow2, VolumeSource::Blank)).await;
        assert!(matches!(err, Err(BackendError::Tool { .. })));
        assert!(backend.volume_ids().is_empty());
        backend.fail_creates(false);
        (backend.create("v1", 1, VolumeFormat::Qcow2, VolumeSource::Blank))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn creating_from_missing_sources_names_what_is_missing() {
        let backend = FakeBackend::new();
        let from_snapshot = VolumeSource::Snapshot("s9");
        let err = backend
            .create("v1", 1, VolumeFormat::Qcow2, from_snapshot)
            .await;
        assert!(matches!(err, Err(BackendError::NoSuchSnapshot(id)) if id == "s9"));
        let from_volume = VolumeSource::Volume("v9");
        let err = backend
            .create("v1", 1, VolumeFormat::Qcow2, from_volume)
            .await;
        assert!(matches!(err, Err(BackendError::NoSuchVolume(id)) if id == "v9"));
    }

    #[tokio::test]
    async fn a_volume_smaller_than_its_source_is_refused() {
        let backend = FakeBackend::new();
        (backend.create("v1", 5, VolumeFormat::Qcow2, VolumeSource::Blank))
            .await
            .unwrap();
        backend.snapshot("s1", "v1", false).await.unwrap();
        let small = backend.create("v2", 4, VolumeFormat::Qcow2, VolumeSource::Snapshot("s1"));
        assert!(small.await.is_err());
        let small = backend.create("v3", 4, VolumeFormat::Qcow2, VolumeSource::Volume("v1"));
        assert!(small.await.is_err());
        let same = backend.create("v2", 5, VolumeFormat::Qcow2, VolumeSource::Snapshot("s1"));
        same.await.unwrap();
    }

    #[tokio::test]
    async fn extend_grows_and_refuses_to_shrink() {
        let backend = FakeBackend::new();
        (backend.create("v1", 2, VolumeFormat::Qcow2, VolumeSource::Blank))
            .await
            .unwrap();
        backend.extend("v1", 4).await.unwrap();
        assert_eq!(backend.volume_size("v1"), Some(4));
        assert!(backend.extend("v1", 3).await.is_err());
        assert!(matches!(
            backend.extend("nope", 3).await,
            Err(BackendError::NoSuchVolume(_))
        ));
    }

    #[tokio::test]
    async fn a_deleted_snapshot_is_kept_while_a_volume_builds_on_it() {
        let backend = FakeBackend::new();
        (backend.create("v1", 1, VolumeFormat::Qcow2, VolumeSource::Blank))
            .await
            .unwrap();
        backend.snapshot("s1", "v1", true).await.unwrap();
        let from_snapshot = VolumeSource::Snapshot("s1");
        (backend.create("v2", 1, VolumeFormat::Qcow2, from_snapshot))
            .await
            .unwrap();

        backend.delete_snapshot("s1").await.unwrap();
        assert!(!backend.has_snapshot("s1"));
        assert!(backend.snapshot_ids().is_empty());
        assert_eq!(backend.kept_snapshot_ids(), ids(&["s1"]));

        backend.delete_volume("v2").await.unwrap();
        assert!(backend.kept_snapshot_ids().is_empty());
    }

    #[tokio::test]
    async fn a_rotated_volume_keeps_its_snapshot_chain_until_it_is_deleted() {
        let backend = FakeBackend::new();
        (backend.create("v1", 1, VolumeFormat::Qcow2, VolumeSource::Blank))
            .await
            .unwrap();
        backend.snapshot("s1", "v1", false).await.unwrap();
        backend.snapshot("s2", "v1", false).await.unwrap();
        backend.delete_snapshot("s1").await.unwrap();
        backend.delete_snapshot("s2").await.unwrap();
        assert_eq!(backend.kept_snapshot_ids(), ids(&["s1", "s2"]));
        backend.delete_volume("v1").await.unwrap();
        assert!(backend.kept_snapshot_ids().is_empty());
    }

    #[tokio::test]
    async fn a_raw_volume_from_a_snapshot_copies_it() {
        let backend = FakeBackend::new();
        (backend.create("v1", 1, VolumeFormat::Raw, VolumeSource::Blank))
            .await
            .unwrap();
        backend.snapshot("s1", "v1", false).await.unwrap();
        let from_snapshot = VolumeSource::Snapshot("s1");
        (backend.create("v2", 1, VolumeFormat::Raw, from_snapshot))
            .await
            .unwrap();
        backend.delete_snapshot("s1").await.unwrap();
        assert!(backend.kept_snapshot_ids().is_empty());
    }

    #[tokio::test]
    async fn recover_removes_unknown_ids_but_keeps_what_known_volumes_build_on() {
        let backend = FakeBackend::new();
        for id in ["v1", "v2"] {
            (backend.create(id, 1, VolumeFormat::Qcow2, VolumeSource::Blank))
                .await
                .unwrap();
        }
        backend.snapshot("s1", "v1", false).await.unwrap();
        backend.snapshot("s2", "v2", true).await.unwrap();

        let recovery = backend.recover(&ids(&["v1"]), &[]).await.unwrap();
        assert_eq!(
            recovery.removed,
            vec![
                PathBuf::from("/fake-volumes/volume-v2.qcow2"),
                PathBuf::from("/fake-volumes/snapshot-s2.qcow2"),
            ]
        );
        assert!(recovery.finished.is_empty());
        assert_eq!(backend.volume_ids(), ids(&["v1"]));
        assert_eq!(backend.kept_snapshot_ids(), ids(&["s1"]));
    }

    #[tokio::test]
    async fn export_of_a_missing_volume_fails() {
        let backend = FakeBackend::new();
        let export = backend.export("v1", VolumeFormat::Raw);
        assert!(matches!(export.await, Err(BackendError::NoSuchVolume(_))));
    }
}
