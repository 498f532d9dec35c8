//! Where volumes keep their data, behind [`VolumeBackend`].
//!
//! DevStack keeps Cinder's volumes as LVM volumes on a loop device, which
//! is gone after a reboot until a restore script runs. Here a volume is a
//! sparse file in the state directory: a qcow2 file, or a raw one for
//! multi-attach volumes (several guests can share a raw file; qcow2's
//! metadata cannot be written by two QEMUs at once). A volume's file keeps
//! its path for the volume's whole life, so a guest's saved spec stays
//! valid across snapshots and restarts.
//!
//! Snapshots cost no copy: the volume's file becomes the snapshot (frozen
//! from then on) and the volume goes on in a new qcow2 file on top of it.
//! A volume made from a snapshot is one more file on top of it. A
//! snapshot's file is removed only once nothing is built on it any more.
//!
//! [`FakeBackend`] keeps volumes in memory, for the service's fast tests.

use std::path::{Path, PathBuf};

use futures_util::future::BoxFuture;

mod fake;
mod files;
mod layout;
mod qcow2;
mod qemu_img;

pub use fake::{FakeBackend, FakeOrigin};
pub use files::FileBackend;

/// How a volume's data is laid out in its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VolumeFormat {
    Qcow2,
    Raw,
}

impl VolumeFormat {
    /// The name QEMU and Glance use for it.
    pub fn as_str(self) -> &'static str {
        match self {
            VolumeFormat::Qcow2 => "qcow2",
            VolumeFormat::Raw => "raw",
        }
    }
}

/// Where a volume's data starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VolumeSource<'a> {
    /// Zeros.
    Blank,
    /// A copy of an image's data (`disk_format` as Glance says, if known).
    Image {
        path: &'a Path,
        disk_format: Option<&'a str>,
    },
    /// What a snapshot holds, without copying it (a raw volume copies).
    Snapshot(&'a str),
    /// A copy of another volume's current data.
    Volume(&'a str),
}

/// A volume's file, as a hypervisor opens it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeFile {
    pub path: PathBuf,
    pub format: VolumeFormat,
}

/// What [`VolumeBackend::recover`] found and did after a crash.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Files left by an interrupted operation or belonging to no volume or
    /// snapshot the service knows, now removed.
    pub removed: Vec<PathBuf>,
    /// Snapshot rotations a crash interrupted, finished.
    pub finished: Vec<String>,
}

/// Why a backend operation failed; shown in the log, and as the volume's
/// fault where the service records one.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("volume {0} has no data on this host")]
    NoSuchVolume(String),
    #[error("snapshot {0} has no data on this host")]
    NoSuchSnapshot(String),
    #[error("the image's data cannot be used: {0}")]
    BadImage(String),
    #[error("{program} failed: {message}")]
    Tool { program: String, message: String },
    #[error("volume storage I/O failed: {0}")]
    Io(#[from] std::io::Error),
}

impl BackendError {
    /// The refusal of a volume smaller than the snapshot or volume it is
    /// made from (the same words from every backend).
    pub(crate) fn smaller_than_source(size_gib: u64, source_gib: u64) -> BackendError {
        BackendError::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("a volume of {size_gib} GiB cannot hold its source of {source_gib} GiB"),
        ))
    }

    /// The refusal to shrink a volume.
    pub(crate) fn shrink_refused(current_gib: u64, asked_gib: u64) -> BackendError {
        BackendError::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("a volume of {current_gib} GiB cannot shrink to {asked_gib} GiB"),
        ))
    }
}

pub type BackendResult<T> = Result<T, BackendError>;

/// Where volumes keep their data. The volume service decides what may
/// happen (statuses, quotas, who may); a backend only does it, and every
/// operation is safe to repeat after a crash.
pub trait VolumeBackend: Send + Sync + 'static {
    /// Makes volume `id` of `size_gib` from `source`. Fails if a volume
    /// from a snapshot or volume would be smaller than its source.
    fn create<'a>(
        &'a self,
        id: &'a str,
        size_gib: u64,
        format: VolumeFormat,
        source: VolumeSource<'a>,
    ) -> BoxFuture<'a, BackendResult<VolumeFile>>;

    /// Freezes volume `volume_id`'s current data as snapshot
    /// `snapshot_id`. With `in_use` (a guest may be writing it) the data
    /// is read under the guest, crash-consistent, rather than the file
    /// being rotated under the hypervisor's feet.
    fn snapshot<'a>(
        &'a self,
        snapshot_id: &'a str,
        volume_id: &'a str,
        in_use: bool,
    ) -> BoxFuture<'a, BackendResult<()>>;

    /// Grows a volume that no running guest holds open to `size_gib`.
    /// (A running guest's hypervisor grows the file itself.)
    fn extend<'a>(&'a self, id: &'a str, size_gib: u64) -> BoxFuture<'a, BackendResult<()>>;

    /// Removes a volume's data. An absent volume is fine.
    fn delete_volume<'a>(&'a self, id: &'a str) -> BoxFuture<'a, BackendResult<()>>;

    /// Removes a snapshot's data once nothing is built on it any more
    /// (until then it is only marked deleted). An absent one is fine.
    fn delete_snapshot<'a>(&'a self, id: &'a str) -> BoxFuture<'a, BackendResult<()>>;

    /// Where volume `id`'s data is, if it exists.
    fn volume_file(&self, id: &str) -> Option<VolumeFile>;

    /// Whether snapshot `id` has data here.
    fn has_snapshot(&self, id: &str) -> bool;

    /// Writes volume `id`'s whole data to a new standalone file in
    /// `format` (`raw` or `qcow2`), for an upload to the image service, and
    /// returns its path; the caller removes it. The backend picks the place
    /// (beside its volumes, named so that `recover` removes one a crash
    /// left behind).
    fn export<'a>(
        &'a self,
        id: &'a str,
        format: VolumeFormat,
    ) -> BoxFuture<'a, BackendResult<PathBuf>>;

    /// After a start: finishes or undoes what a crash interrupted, and
    /// removes the data of every volume and snapshot not named (the
    /// service's database is the truth).
    fn recover<'a>(
        &'a self,
        volumes: &'a [String],
        snapshots: &'a [String],
    ) -> BoxFuture<'a, BackendResult<Recovery>>;
}
