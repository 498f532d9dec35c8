//! [`FileBackend`]: volumes as sparse qcow2 or raw files in one directory,
//! made and changed with `qemu-img`.
//!
//! Crash safety comes from renames: a new file is made under a temporary
//! name and renamed into place once complete, and a snapshot is three
//! steps (make the volume's next file on top of the snapshot-to-be,
//! rename the volume's file to the snapshot, rename the next file to the
//! volume) whose every intermediate state [`VolumeBackend::recover`] can
//! finish or undo. Which snapshot files may go is read from the qcow2
//! headers of the files that remain (`layout.rs`), so no separate record
//! can disagree with the files.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use futures_util::future::{BoxFuture, FutureExt};
use tokio::sync::Mutex;

use crate::layout::{Entry, Layout, is_valid_id};
use crate::{
    BackendError, BackendResult, Recovery, VolumeBackend, VolumeFile, VolumeFormat, VolumeSource,
    qcow2, qemu_img,
};

/// Numbers the exports of this process, so two never share a file.
static EXPORTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

const GIB: u64 = 1 << 30;

/// Image formats a volume may be made from. Others (and any image that
/// names another file: a backing file, an external data file, a vmdk
/// extent) could make qemu-img read host files into the volume.
const IMAGE_FORMATS: [&str; 6] = ["qcow2", "raw", "vmdk", "vdi", "vpc", "vhdx"];
const SELF_CONTAINED_VMDK_TYPES: [&str; 2] = ["monolithicSparse", "streamOptimized"];

/// Volumes as files in one directory.
#[derive(Debug)]
pub struct FileBackend {
    layout: Layout,
    /// Held while files that build on each other change (rotations,
    /// deletions, volumes from snapshots, recovery), so no look at what
    /// builds on a file misses one being renamed or made, and a snapshot
    /// being read is not removed. Copies of volumes run outside it.
    chain_lock: Mutex<()>,
}

impl FileBackend {
    /// Keeps volumes in `dir`, created (0700) if missing. The path is made
    /// absolute: backing file names are absolute, and QEMU runs from `/`.
    pub fn new(dir: PathBuf) -> io::Result<FileBackend> {
        fs::create_dir_all(&dir)?;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))?;
        Ok(FileBackend {
            layout: Layout::new(dir.canonicalize()?),
            chain_lock: Mutex::new(()),
        })
    }

    async fn create_volume(
        &self,
        id: &str,
        size_gib: u64,
        format: VolumeFormat,
        source: VolumeSource<'_>,
    ) -> BackendResult<VolumeFile> {
        if !is_valid_id(id) {
            return Err(BackendError::NoSuchVolume(id.to_owned()));
        }
        let size = gib_to_bytes(size_gib)?;
        let path = self.layout.volume(id, format);
        let temporary = Layout::temporary(&path);
        remove_if_present(&temporary)?;
        let made = match source {
            VolumeSource::Blank => make_blank(&temporary, format, size).await,
            VolumeSource::Image { path, disk_format } => {
                make_from_image(&temporary, format, size, path, disk_format).await
            }
            VolumeSource::Snapshot(sid) => {
                let _chain = self.chain_lock.lock().await;
                self.make_from_snapshot(&temporary, format, size, sid).await
            }
            VolumeSource::Volume(vid) => self.make_from_volume(&temporary, format, size, vid).await,
        };
        if let Err(e) = made.and_then(|()| Ok(sync_file(&temporary)?)) {
            remove_if_present(&temporary)?;
            return Err(e);
        }
        fs::rename(&temporary, &path)?;
        // A volume has one file: a retry in the other format replaces it.
        let other = match format {
            VolumeFormat::Qcow2 => VolumeFormat::Raw,
            VolumeFormat::Raw => VolumeFormat::Qcow2,
        };
        remove_if_present(&self.layout.volume(id, other))?;
        self.layout.sync()?;
        Ok(VolumeFile { path, format })
    }

    async fn make_from_snapshot(
        &self,
        target: &Path,
        format: VolumeFormat,
        size: u64,
        snapshot_id: &str,
    ) -> BackendResult<()> {
        let missing = || BackendError::NoSuchSnapshot(snapshot_id.to_owned());
        if !is_valid_id(snapshot_id) || self.layout.is_deleted(snapshot_id) {
            return Err(missing());
        }
        let snapshot = self.layout.find_snapshot(snapshot_id).ok_or_else(missing)?;
        let source_size = virtual_size(&snapshot).await?;
        if size < source_size {
            return Err(BackendError::smaller_than_source(
                size / GIB,
                source_size.div_ceil(GIB),
            ));
        }
        match format {
            VolumeFormat::Qcow2 => {
                let backing_format = snapshot.format.as_str();
                qemu_img::create_overlay(target, &snapshot.path, backing_format, size, false).await
            }
            VolumeFormat::Raw => copy_and_grow(&snapshot, target, format, size, false).await,
        }
    }

    async fn make_from_volume(
        &self,
        target: &Path,
        format: VolumeFormat,
        size: u64,
        volume_id: &str,
    ) -> BackendResult<()> {
        let source = self.existing_volume(volume_id)?;
        let source_size = virtual_size(&source).await?;
        if size < source_size {
            return Err(BackendError::smaller_than_source(
                size / GIB,
                source_size.div_ceil(GIB),
            ));
        }
        copy_and_grow(&source, target, format, size, true).await
    }

    fn existing_volume(&self, id: &str) -> BackendResult<VolumeFile> {
        let missing = || BackendError::NoSuchVolume(id.to_owned());
        if !is_valid_id(id) {
            return Err(missing());
        }
        self.layout.find_volume(id).ok_or_else(missing)
    }

    async fn take_snapshot(
        &self,
        snapshot_id: &str,
        volume_id: &str,
        in_use: bool,
    ) -> BackendResult<()> {
        let chain = self.chain_lock.lock().await;
        if !is_valid_id(snapshot_id) {
            return Err(BackendError::NoSuchSnapshot(snapshot_id.to_owned()));
        }
        if !is_valid_id(volume_id) {
            return Err(BackendError::NoSuchVolume(volume_id.to_owned()));
        }
        if self.layout.find_snapshot(snapshot_id).is_some() {
            // Done before; only a crash mid-rotation can have left work.
            self.finish_rotation(volume_id)?;
            return Ok(());
        }
        let volume = self.existing_volume(volume_id)?;
        let snapshot = self.layout.snapshot(snapshot_id, volume.format);
        if volume.format == VolumeFormat::Qcow2 && !in_use {
            self.rotate(volume_id, &volume.path, &snapshot).await
        } else {
            // A standalone copy builds on nothing.
            drop(chain);
            let temporary = Layout::temporary(&snapshot);
            let copied = qemu_img::convert(
                &volume.path,
                Some(volume.format.as_str()),
                &temporary,
                volume.format.as_str(),
                in_use,
            )
            .await;
            if let Err(e) = copied.and_then(|()| Ok(sync_file(&temporary)?)) {
                remove_if_present(&temporary)?;
                return Err(e);
            }
            fs::rename(&temporary, &snapshot)?;
            Ok(self.layout.sync()?)
        }
    }

    /// The volume's file becomes the snapshot and the volume goes on in a
    /// new file on top of it, at the same path, with no data copied.
    async fn rotate(&self, volume_id: &str, volume: &Path, snapshot: &Path) -> BackendResult<()> {
        // Not forcing a share makes this fail if a guest holds the file,
        // which the caller said none does.
        let info = qemu_img::info(volume, Some("qcow2"), false).await?;
        let next = self.layout.next_volume(volume_id);
        remove_if_present(&next)?;
        let made =
            qemu_img::create_overlay(&next, snapshot, "qcow2", info.virtual_size, true).await;
        if let Err(e) = made.and_then(|()| Ok(sync_file(&next)?)) {
            remove_if_present(&next)?;
            return Err(e);
        }
        fs::rename(volume, snapshot)?;
        fs::rename(&next, volume)?;
        Ok(self.layout.sync()?)
    }

    /// Completes or undoes an interrupted rotation of `volume_id`; true if
    /// it completed one.
    fn finish_rotation(&self, volume_id: &str) -> io::Result<bool> {
        let next = self.layout.next_volume(volume_id);
        if !next.exists() {
            return Ok(false);
        }
        let volume = self.layout.volume(volume_id, VolumeFormat::Qcow2);
        let finished = !volume.exists();
        if finished {
            fs::rename(&next, &volume)?;
        } else {
            fs::remove_file(&next)?;
        }
        self.layout.sync()?;
        Ok(finished)
    }

    async fn extend_volume(&self, id: &str, size_gib: u64) -> BackendResult<()> {
        let volume = self.existing_volume(id)?;
        let size = gib_to_bytes(size_gib)?;
        let current = virtual_size(&volume).await?;
        if size < current {
            return Err(BackendError::shrink_refused(
                current.div_ceil(GIB),
                size_gib,
            ));
        }
        grow(&volume.path, volume.format, size).await
    }

    async fn remove_volume(&self, id: &str) -> BackendResult<()> {
        if !is_valid_id(id) {
            return Ok(());
        }
        let _chain = self.chain_lock.lock().await;
        remove_if_present(&self.layout.next_volume(id))?;
        let Some(volume) = self.layout.find_volume(id) else {
            return Ok(());
        };
        let backing = backing_of(&volume)?;
        fs::remove_file(&volume.path)?;
        self.layout.sync()?;
        self.remove_unused_deleted(backing, &mut Vec::new())?;
        Ok(())
    }

    async fn remove_snapshot(&self, id: &str) -> BackendResult<()> {
        if !is_valid_id(id) {
            return Ok(());
        }
        let _chain = self.chain_lock.lock().await;
        let tombstone = self.layout.tombstone(id);
        let Some(snapshot) = self.layout.find_snapshot(id) else {
            remove_if_present(&tombstone)?;
            return Ok(());
        };
        if !tombstone.exists() {
            fs::File::create(&tombstone)?;
            self.layout.sync()?;
        }
        self.remove_unused_deleted(Some(snapshot.path), &mut Vec::new())?;
        Ok(())
    }

    /// Removes `start` if it is a deleted snapshot nothing builds on any
    /// more, then what it built on, and so on up the chain; records what
    /// it removed in `removed`.
    fn remove_unused_deleted(
        &self,
        start: Option<PathBuf>,
        removed: &mut Vec<PathBuf>,
    ) -> io::Result<()> {
        let mut next = start;
        while let Some(path) = next.take() {
            let Some(id) = self.layout.snapshot_id_of(&path) else {
                break;
            };
            let tombstone = self.layout.tombstone(&id);
            if !path.exists() || !tombstone.exists() || self.layout.is_built_on(&path)? {
                break;
            }
            let format = match path.extension().and_then(|e| e.to_str()) {
                Some("raw") => VolumeFormat::Raw,
                _ => VolumeFormat::Qcow2,
            };
            next = backing_of(&VolumeFile {
                path: path.clone(),
                format,
            })?;
            fs::remove_file(&path)?;
            fs::remove_file(&tombstone)?;
            self.layout.sync()?;
            removed.push(path);
        }
        Ok(())
    }

    async fn export_volume(&self, id: &str, format: VolumeFormat) -> BackendResult<PathBuf> {
        let volume = self.existing_volume(id)?;
        let source_format = Some(volume.format.as_str());
        // A `.tmp` name, which recovery removes; unique among concurrent exports.
        let sequence = EXPORTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dest = volume.path.with_file_name(format!(
            "export-{id}-{}-{sequence}.{}.tmp",
            std::process::id(),
            format.as_str()
        ));
        match qemu_img::convert(&volume.path, source_format, &dest, format.as_str(), true).await {
            Ok(()) => Ok(dest),
            Err(error) => {
                let _ = fs::remove_file(&dest);
                Err(error)
            }
        }
    }

    async fn recover_files(
        &self,
        volumes: &[String],
        snapshots: &[String],
    ) -> BackendResult<Recovery> {
        let _chain = self.chain_lock.lock().await;
        let mut recovery = Recovery::default();
        for (path, entry) in self.layout.entries()? {
            if let Entry::NextVolume { id } = entry {
                if self.finish_rotation(&id)? {
                    recovery.finished.push(id);
                } else {
                    recovery.removed.push(path);
                }
            }
        }
        let mut deleted_snapshots = Vec::new();
        for (path, entry) in self.layout.entries()? {
            match entry {
                Entry::Temporary => {
                    fs::remove_file(&path)?;
                    recovery.removed.push(path);
                }
                Entry::Volume { id, .. } if !volumes.contains(&id) => {
                    fs::remove_file(&path)?;
                    recovery.removed.push(path);
                }
                // The database is the truth: a listed snapshot lives, an
                // unlisted one is deleted and goes once nothing needs it.
                Entry::Snapshot { id, .. } if snapshots.contains(&id) => {
                    remove_if_present(&self.layout.tombstone(&id))?;
                }
                Entry::Snapshot { id, .. } => {
                    fs::File::create(self.layout.tombstone(&id))?;
                    deleted_snapshots.push(path);
                }
                Entry::Tombstone { id } if self.layout.find_snapshot(&id).is_none() => {
                    fs::remove_file(&path)?;
                }
                _ => {}
            }
        }
        self.layout.sync()?;
        for path in deleted_snapshots {
            self.remove_unused_deleted(Some(path), &mut recovery.removed)?;
        }
        Ok(recovery)
    }
}

impl VolumeBackend for FileBackend {
    fn create<'a>(
        &'a self,
        id: &'a str,
        size_gib: u64,
        format: VolumeFormat,
        source: VolumeSource<'a>,
    ) -> BoxFuture<'a, BackendResult<VolumeFile>> {
        self.create_volume(id, size_gib, format, source).boxed()
    }

    fn snapshot<'a>(
        &'a self,
        snapshot_id: &'a str,
        volume_id: &'a str,
        in_use: bool,
    ) -> BoxFuture<'a, BackendResult<()>> {
        self.take_snapshot(snapshot_id, volume_id, in_use).boxed()
    }

    fn extend<'a>(&'a self, id: &'a str, size_gib: u64) -> BoxFuture<'a, BackendResult<()>> {
        self.extend_volume(id, size_gib).boxed()
    }

    fn delete_volume<'a>(&'a self, id: &'a str) -> BoxFuture<'a, BackendResult<()>> {
        self.remove_volume(id).boxed()
    }

    fn delete_snapshot<'a>(&'a self, id: &'a str) -> BoxFuture<'a, BackendResult<()>> {
        self.remove_snapshot(id).boxed()
    }

    fn volume_file(&self, id: &str) -> Option<VolumeFile> {
        is_valid_id(id).then(|| self.layout.find_volume(id))?
    }

    fn has_snapshot(&self, id: &str) -> bool {
        is_valid_id(id) && !self.layout.is_deleted(id) && self.layout.find_snapshot(id).is_some()
    }

    fn export<'a>(
        &'a self,
        id: &'a str,
        format: VolumeFormat,
    ) -> BoxFuture<'a, BackendResult<PathBuf>> {
        self.export_volume(id, format).boxed()
    }

    fn recover<'a>(
        &'a self,
        volumes: &'a [String],
        snapshots: &'a [String],
    ) -> BoxFuture<'a, BackendResult<Recovery>> {
        self.recover_files(volumes, snapshots).boxed()
    }
}

async fn make_blank(path: &Path, format: VolumeFormat, size: u64) -> BackendResult<()> {
    match format {
        VolumeFormat::Qcow2 => qemu_img::create(path, format.as_str(), size).await,
        VolumeFormat::Raw => {
            let file = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)?;
            Ok(file.set_len(size)?)
        }
    }
}

/// Copies an image into a volume, refusing images that would not fit or
/// that name other files.
async fn make_from_image(
    target: &Path,
    format: VolumeFormat,
    size: u64,
    image: &Path,
    disk_format: Option<&str>,
) -> BackendResult<()> {
    let declared = match disk_format {
        Some("vhd") => Some("vpc"),
        Some(known) if IMAGE_FORMATS.contains(&known) => Some(known),
        _ => None,
    };
    let info = qemu_img::info(image, declared, false)
        .await
        .map_err(|e| BackendError::BadImage(e.to_string()))?;
    check_self_contained(&info)?;
    if info.virtual_size > size {
        return Err(BackendError::BadImage(format!(
            "the image's virtual size ({} GiB) is larger than the volume ({} GiB)",
            info.virtual_size.div_ceil(GIB),
            size / GIB
        )));
    }
    qemu_img::convert(image, Some(&info.format), target, format.as_str(), false).await?;
    if info.virtual_size < size {
        grow(target, format, size).await?;
    }
    Ok(())
}

fn check_self_contained(info: &qemu_img::ImageInfo) -> BackendResult<()> {
    let refuse = |why: String| Err(BackendError::BadImage(why));
    if !IMAGE_FORMATS.contains(&info.format.as_str()) {
        return refuse(format!("format {} is not supported", info.format));
    }
    if info.backing_file.is_some() {
        return refuse("the image builds on another file".into());
    }
    let data = info.format_specific.as_ref().map(|f| &f.data);
    if data.is_some_and(|d| d.contains_key("data-file")) {
        return refuse("the image keeps its data in another file".into());
    }
    if info.format == "vmdk" {
        let create_type = data.and_then(|d| d.get("create-type")?.as_str());
        if !create_type.is_some_and(|t| SELF_CONTAINED_VMDK_TYPES.contains(&t)) {
            return refuse("only single-file vmdk images are supported".into());
        }
    }
    Ok(())
}

/// Copies `source` (flattened) into `target` and grows it to `size`.
async fn copy_and_grow(
    source: &VolumeFile,
    target: &Path,
    format: VolumeFormat,
    size: u64,
    force_share: bool,
) -> BackendResult<()> {
    let source_format = Some(source.format.as_str());
    qemu_img::convert(
        &source.path,
        source_format,
        target,
        format.as_str(),
        force_share,
    )
    .await?;
    grow(target, format, size).await
}

/// Grows a file's virtual size to `size` (never shrinks it).
async fn grow(path: &Path, format: VolumeFormat, size: u64) -> BackendResult<()> {
    match format {
        VolumeFormat::Raw => {
            let file = fs::OpenOptions::new().write(true).open(path)?;
            if file.metadata()?.len() < size {
                file.set_len(size)?;
            }
            Ok(())
        }
        VolumeFormat::Qcow2 => {
            let info = qemu_img::info(path, Some("qcow2"), true).await?;
            if info.virtual_size < size {
                qemu_img::resize(path, "qcow2", size).await?;
            }
            Ok(())
        }
    }
}

async fn virtual_size(file: &VolumeFile) -> BackendResult<u64> {
    match file.format {
        VolumeFormat::Raw => Ok(fs::metadata(&file.path)?.len()),
        VolumeFormat::Qcow2 => Ok(qemu_img::info(&file.path, Some("qcow2"), true)
            .await?
            .virtual_size),
    }
}

fn backing_of(file: &VolumeFile) -> io::Result<Option<PathBuf>> {
    match file.format {
        VolumeFormat::Qcow2 => qcow2::backing_file(&file.path),
        VolumeFormat::Raw => Ok(None),
    }
}

fn gib_to_bytes(size_gib: u64) -> BackendResult<u64> {
    size_gib.checked_mul(GIB).ok_or_else(|| {
        let why = format!("{size_gib} GiB is too large");
        BackendError::Io(io::Error::new(io::ErrorKind::InvalidInput, why))
    })
}

fn sync_file(path: &Path) -> io::Result<()> {
    fs::File::open(path)?.sync_all()
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}
