//! The file backend's directory: which name holds what, and what builds
//! on what.
//!
//! Every file's role is in its name, so a crash leaves nothing that needs
//! a separate record to understand:
//!
//! - `volume-ID.qcow2` / `volume-ID.raw`: a volume, at a path that never
//!   changes while the volume lives;
//! - `snapshot-ID.qcow2` / `snapshot-ID.raw`: a snapshot, frozen;
//! - `snapshot-ID.deleted`: the snapshot was deleted but something still
//!   builds on its file;
//! - `volume-ID.next`: the volume's next file during a snapshot rotation;
//! - `*.tmp`: a file being made, renamed into place only when complete.
//!
//! Ids are checked before they become names, so no path escapes the
//! directory.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::{VolumeFile, VolumeFormat, qcow2};

const FORMATS: [VolumeFormat; 2] = [VolumeFormat::Qcow2, VolumeFormat::Raw];

/// Whether `id` can safely become part of a file name: UUIDs and other
/// ids of letters, digits and dashes.
pub(crate) fn is_valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// What a file in the directory is, from its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Entry {
    Volume { id: String, format: VolumeFormat },
    Snapshot { id: String, format: VolumeFormat },
    Tombstone { id: String },
    NextVolume { id: String },
    Temporary,
}

impl Entry {
    fn parse(name: &str) -> Option<Entry> {
        if name.ends_with(".tmp") {
            return Some(Entry::Temporary);
        }
        let (stem, extension) = name.rsplit_once('.')?;
        let (kind, id) = stem.split_once('-')?;
        if !is_valid_id(id) {
            return None;
        }
        let id = id.to_owned();
        let format = FORMATS.into_iter().find(|f| f.as_str() == extension);
        match (kind, extension, format) {
            ("volume", _, Some(format)) => Some(Entry::Volume { id, format }),
            ("volume", "next", None) => Some(Entry::NextVolume { id }),
            ("snapshot", _, Some(format)) => Some(Entry::Snapshot { id, format }),
            ("snapshot", "deleted", None) => Some(Entry::Tombstone { id }),
            _ => None,
        }
    }
}

/// The backend's directory (an absolute path).
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    dir: PathBuf,
}

impl Layout {
    pub(crate) fn new(dir: PathBuf) -> Layout {
        Layout { dir }
    }

    pub(crate) fn volume(&self, id: &str, format: VolumeFormat) -> PathBuf {
        self.dir.join(format!("volume-{id}.{}", format.as_str()))
    }

    pub(crate) fn snapshot(&self, id: &str, format: VolumeFormat) -> PathBuf {
        self.dir.join(format!("snapshot-{id}.{}", format.as_str()))
    }

    pub(crate) fn tombstone(&self, snapshot_id: &str) -> PathBuf {
        self.dir.join(format!("snapshot-{snapshot_id}.deleted"))
    }

    pub(crate) fn next_volume(&self, id: &str) -> PathBuf {
        self.dir.join(format!("volume-{id}.next"))
    }

    /// The name a file is made under before it is renamed to `path`.
    pub(crate) fn temporary(path: &Path) -> PathBuf {
        let mut name = path.as_os_str().to_owned();
        name.push(".tmp");
        PathBuf::from(name)
    }

    /// Volume `id`'s file, if it exists.
    pub(crate) fn find_volume(&self, id: &str) -> Option<VolumeFile> {
        let format = FORMATS
            .into_iter()
            .find(|&f| self.volume(id, f).is_file())?;
        Some(VolumeFile {
            path: self.volume(id, format),
            format,
        })
    }

    /// Snapshot `id`'s file, if it exists (deleted or not).
    pub(crate) fn find_snapshot(&self, id: &str) -> Option<VolumeFile> {
        let format = FORMATS
            .into_iter()
            .find(|&f| self.snapshot(id, f).is_file())?;
        Some(VolumeFile {
            path: self.snapshot(id, format),
            format,
        })
    }

    pub(crate) fn is_deleted(&self, snapshot_id: &str) -> bool {
        self.tombstone(snapshot_id).exists()
    }

    /// Every file whose name says what it is, with its path.
    pub(crate) fn entries(&self) -> io::Result<Vec<(PathBuf, Entry)>> {
        let mut entries = Vec::new();
        for dirent in fs::read_dir(&self.dir)? {
            let dirent = dirent?;
            let name = dirent.file_name();
            let Some(entry) = name.to_str().and_then(Entry::parse) else {
                continue;
            };
            entries.push((dirent.path(), entry));
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(entries)
    }

    /// Whether any file in the directory, finished or not, builds directly
    /// on `path`. Only qcow2 files can (a raw file's first bytes are a
    /// guest's data, not a header to trust).
    pub(crate) fn is_built_on(&self, path: &Path) -> io::Result<bool> {
        for dirent in fs::read_dir(&self.dir)? {
            let candidate = dirent?.path();
            let name = candidate.file_name().and_then(|n| n.to_str());
            let is_qcow2 = name.is_some_and(|n| {
                n.ends_with(".qcow2") || n.ends_with(".qcow2.tmp") || n.ends_with(".next")
            });
            if !is_qcow2 || candidate == path {
                continue;
            }
            match qcow2::backing_file(&candidate) {
                Ok(Some(backing)) if backing == path => return Ok(true),
                Ok(_) => {}
                // Renamed or removed since the listing, or too short or
                // garbled to be a qcow2 file (a half-made one): it names
                // nothing. Any other failure might hide a dependent.
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::NotFound
                            | io::ErrorKind::UnexpectedEof
                            | io::ErrorKind::InvalidData
                    ) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(false)
    }

    /// The snapshot `backing` (a path from a qcow2 header) is, if it is
    /// one of this directory's snapshot files.
    pub(crate) fn snapshot_id_of(&self, backing: &Path) -> Option<String> {
        if backing.parent() != Some(self.dir.as_path()) {
            return None;
        }
        match Entry::parse(backing.file_name()?.to_str()?)? {
            Entry::Snapshot { id, .. } => Some(id),
            _ => None,
        }
    }

    /// Makes the directory's renames and removals durable.
    pub(crate) fn sync(&self) -> io::Result<()> {
        fs::File::open(&self.dir)?.sync_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_of_letters_digits_and_dashes_are_valid() {
        assert!(is_valid_id("0b7d4c39-5f0e-4a8e-9d1c-2b9f0f5e1a77"));
        assert!(is_valid_id("abcXYZ-09"));
    }

    #[test]
    fn ids_that_could_change_a_path_are_refused() {
        for id in ["", "..", "../x", "a/b", "a.b", "a b", "a\0b", "ä", "a\nb"] {
            assert!(!is_valid_id(id), "{id:?} was accepted");
        }
        assert!(!is_valid_id(&"a".repeat(65)));
    }

    #[test]
    fn file_names_parse_to_their_roles() {
        let id = || "ab-12".to_owned();
        let cases = [
            (
                "volume-ab-12.qcow2",
                Some(Entry::Volume {
                    id: id(),
                    format: VolumeFormat::Qcow2,
                }),
            ),
            (
                "volume-ab-12.raw",
                Some(Entry::Volume {
                    id: id(),
                    format: VolumeFormat::Raw,
                }),
            ),
            ("volume-ab-12.next", Some(Entry::NextVolume { id: id() })),
            (
                "snapshot-ab-12.raw",
                Some(Entry::Snapshot {
                    id: id(),
                    format: VolumeFormat::Raw,
                }),
            ),
            (
                "snapshot-ab-12.deleted",
                Some(Entry::Tombstone { id: id() }),
            ),
            ("volume-ab-12.qcow2.tmp", Some(Entry::Temporary)),
            ("snapshot-ab-12.next", None),
            ("volume-ab-12.vmdk", None),
            ("volume-a.b.qcow2", None),
            ("lost+found", None),
        ];
        for (name, expected) in cases {
            assert_eq!(Entry::parse(name), expected, "{name}");
        }
    }

    #[test]
    fn only_this_directorys_snapshot_files_are_snapshots() {
        let layout = Layout::new(PathBuf::from("/state/volumes"));
        let own = Path::new("/state/volumes/snapshot-s1.qcow2");
        assert_eq!(layout.snapshot_id_of(own), Some("s1".into()));
        let elsewhere = Path::new("/other/snapshot-s1.qcow2");
        assert_eq!(layout.snapshot_id_of(elsewhere), None);
        let volume = Path::new("/state/volumes/volume-v1.qcow2");
        assert_eq!(layout.snapshot_id_of(volume), None);
    }
}
