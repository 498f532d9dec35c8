//! Reading which file a qcow2 file builds on, straight from its header.
//!
//! Deciding whether a snapshot's file may go means asking every file in
//! the directory what it builds on. Reading 20 bytes and a name from each
//! header is instant and needs no lock, where `qemu-img info` would be a
//! process per file and would trip over a running guest's lock.
//!
//! From the qcow2 specification (all numbers big-endian): bytes 0..4 are
//! the magic `QFI\xfb`, 8..16 the offset of the backing file's name (0:
//! none), 16..20 its length in bytes (at most 1023).

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

const MAGIC: [u8; 4] = *b"QFI\xfb";
/// The bytes holding the magic, version and backing file location.
const HEADER_PREFIX_LEN: usize = 20;
/// The longest backing file name the specification allows.
const MAX_BACKING_NAME_LEN: u32 = 1023;

/// Where a header says its backing file's name is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct BackingName {
    offset: u64,
    len: u32,
}

/// Reads the start of a header: `Ok(None)` when the file names no backing
/// file, an error when the bytes are not a qcow2 header or the location
/// is impossible.
fn parse_header_prefix(prefix: &[u8]) -> io::Result<Option<BackingName>> {
    let invalid = |why: &str| io::Error::new(io::ErrorKind::InvalidData, why.to_owned());
    if prefix.len() < HEADER_PREFIX_LEN || prefix[0..4] != MAGIC {
        return Err(invalid("not a qcow2 file"));
    }
    let offset = u64::from_be_bytes(prefix[8..16].try_into().expect("8 bytes"));
    let len = u32::from_be_bytes(prefix[16..20].try_into().expect("4 bytes"));
    if offset == 0 {
        return Ok(None);
    }
    if len == 0 || len > MAX_BACKING_NAME_LEN {
        return Err(invalid("qcow2 backing file name has an impossible length"));
    }
    Ok(Some(BackingName { offset, len }))
}

/// The backing file qcow2 file `path` names, as written in its header
/// (relative names are relative to the file's directory, as QEMU reads
/// them).
pub(crate) fn backing_file(path: &Path) -> io::Result<Option<PathBuf>> {
    let mut file = File::open(path)?;
    let mut prefix = [0u8; HEADER_PREFIX_LEN];
    file.read_exact(&mut prefix)?;
    let Some(name) = parse_header_prefix(&prefix)? else {
        return Ok(None);
    };
    let mut bytes = vec![0u8; name.len as usize];
    file.seek(SeekFrom::Start(name.offset))?;
    file.read_exact(&mut bytes)?;
    let named = PathBuf::from(OsString::from_vec(bytes));
    Ok(Some(match path.parent() {
        Some(dir) if named.is_relative() => dir.join(named),
        _ => named,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefix(magic: &[u8; 4], offset: u64, len: u32) -> Vec<u8> {
        let mut bytes = magic.to_vec();
        bytes.extend_from_slice(&3u32.to_be_bytes());
        bytes.extend_from_slice(&offset.to_be_bytes());
        bytes.extend_from_slice(&len.to_be_bytes());
        bytes
    }

    #[test]
    fn header_prefix_gives_the_big_endian_location_of_the_name() {
        let parsed = parse_header_prefix(&prefix(&MAGIC, 0x0102, 17)).unwrap();
        assert_eq!(
            parsed,
            Some(BackingName {
                offset: 0x0102,
                len: 17
            })
        );
    }

    #[test]
    fn header_prefix_with_offset_zero_names_no_backing_file() {
        assert_eq!(parse_header_prefix(&prefix(&MAGIC, 0, 0)).unwrap(), None);
    }

    #[test]
    fn header_prefix_refuses_other_magic_short_input_and_bad_lengths() {
        assert!(parse_header_prefix(&prefix(b"QFI\xfa", 512, 10)).is_err());
        assert!(parse_header_prefix(&prefix(&MAGIC, 512, 10)[..19]).is_err());
        assert!(parse_header_prefix(&prefix(&MAGIC, 512, 0)).is_err());
        assert!(parse_header_prefix(&prefix(&MAGIC, 512, 1024)).is_err());
    }

    #[test]
    fn backing_file_reads_the_name_and_resolves_it_beside_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let name = b"snapshot-a.qcow2";
        let mut bytes = prefix(&MAGIC, 100, name.len() as u32);
        bytes.resize(100, 0);
        bytes.extend_from_slice(name);
        let path = dir.path().join("volume-b.qcow2");
        std::fs::write(&path, &bytes).unwrap();
        let expected = dir.path().join("snapshot-a.qcow2");
        assert_eq!(backing_file(&path).unwrap(), Some(expected));
    }

    #[test]
    fn backing_file_keeps_absolute_names() {
        let dir = tempfile::tempdir().unwrap();
        let name = b"/elsewhere/base.raw";
        let mut bytes = prefix(&MAGIC, 64, name.len() as u32);
        bytes.resize(64, 0);
        bytes.extend_from_slice(name);
        let path = dir.path().join("volume-b.qcow2");
        std::fs::write(&path, &bytes).unwrap();
        let expected = PathBuf::from("/elsewhere/base.raw");
        assert_eq!(backing_file(&path).unwrap(), Some(expected));
    }

    #[test]
    fn backing_file_of_a_truncated_name_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = prefix(&MAGIC, 64, 40);
        bytes.resize(70, 0);
        let path = dir.path().join("volume-b.qcow2");
        std::fs::write(&path, &bytes).unwrap();
        assert!(backing_file(&path).is_err());
    }
}
