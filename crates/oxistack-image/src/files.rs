//! Image data on local disk: one file per active image, named by its id, in
//! the store directory. Uploads are written to a hidden partial file while
//! their checksums are computed, made durable, and only then renamed into
//! place, so a file under an image's name is always complete.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use md5::{Digest, Md5};
use sha2::Sha512;

use crate::model::ImageData;

/// How much data is gathered before it is hashed and written on the
/// blocking pool: large enough that the hand-over costs nothing, small
/// enough that an upload holds little memory.
const BLOCK_SIZE: usize = 1024 * 1024;

/// The start of a qcow2 file: its magic, and where its virtual size is.
const QCOW2_MAGIC: &[u8] = b"QFI\xfb";
const QCOW2_SIZE_OFFSET: usize = 24;
const HEADER_LEN: usize = QCOW2_SIZE_OFFSET + 8;

const PARTIAL_SUFFIX: &str = ".partial";

pub struct ImageFiles {
    dir: PathBuf,
}

/// Why receiving image data failed.
#[derive(Debug)]
pub enum ReceiveError {
    /// The client's body broke off or could not be read.
    Body(String),
    /// Writing to disk failed.
    Disk(io::Error),
}

impl ImageFiles {
    /// Uses `dir` (creating it) for image data, removing partial files that
    /// uploads cut short by a crash left behind.
    pub fn open(dir: PathBuf) -> io::Result<ImageFiles> {
        std::fs::create_dir_all(&dir)?;
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            if entry
                .file_name()
                .to_string_lossy()
                .ends_with(PARTIAL_SUFFIX)
            {
                std::fs::remove_file(entry.path())?;
            }
        }
        Ok(ImageFiles { dir })
    }

    /// Where the data of image `id` (a validated UUID) lives.
    pub fn data_path(&self, id: &str) -> PathBuf {
        self.dir.join(id)
    }

    /// Streams `body` into a partial file for image `id`, computing its size
    /// and checksums as it goes, and makes it durable. The partial file is
    /// removed if this fails or is cancelled, or if the result is dropped
    /// without [`ImageFiles::install`].
    pub async fn receive<S, E>(
        &self,
        id: &str,
        mut body: S,
        disk_format: Option<&str>,
    ) -> Result<Received, ReceiveError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let partial = PartialFile(Some(
            self.dir
                .join(format!(".{id}.{}{PARTIAL_SUFFIX}", uuid::Uuid::new_v4())),
        ));
        let path = partial.path().to_owned();
        let mut sink = blocking(move || Sink::create(&path))
            .await
            .map_err(ReceiveError::Disk)?;
        let mut block = Vec::with_capacity(BLOCK_SIZE);
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| ReceiveError::Body(e.to_string()))?;
            block.extend_from_slice(&chunk);
            if block.len() >= BLOCK_SIZE {
                (sink, block) = blocking(move || sink.absorb(block))
                    .await
                    .map_err(ReceiveError::Disk)?;
            }
        }
        let data = blocking(move || {
            let (sink, _) = sink.absorb(block)?;
            sink.finish()
        })
        .await
        .map_err(ReceiveError::Disk)?;
        let virtual_size = virtual_size(disk_format, &data.header, data.size);
        Ok(Received {
            partial,
            data: ImageData {
                size: data.size,
                virtual_size,
                md5: data.md5,
                sha512: data.sha512,
            },
        })
    }

    /// Moves received data into place as image `id`'s data.
    pub async fn install(&self, mut received: Received, id: &str) -> io::Result<()> {
        let partial = received
            .partial
            .0
            .take()
            .expect("a received file is installed once");
        let target = self.data_path(id);
        let dir = self.dir.clone();
        blocking(move || {
            if let Err(e) = std::fs::rename(&partial, &target) {
                let _ = std::fs::remove_file(&partial);
                return Err(e);
            }
            // The rename is durable only once the directory is synced.
            std::fs::File::open(&dir)?.sync_all()
        })
        .await
    }

    /// Removes image `id`'s data, if it has any.
    pub async fn remove(&self, id: &str) -> io::Result<()> {
        match tokio::fs::remove_file(self.data_path(id)).await {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }

    /// Opens image `id`'s data for reading, if it has any.
    pub async fn read(&self, id: &str) -> io::Result<Option<tokio::fs::File>> {
        match tokio::fs::File::open(self.data_path(id)).await {
            Ok(file) => Ok(Some(file)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Data received and synced to a partial file, waiting to be installed.
pub struct Received {
    partial: PartialFile,
    pub data: ImageData,
}

/// A partial upload file, removed when dropped unless it was installed.
struct PartialFile(Option<PathBuf>);

impl PartialFile {
    fn path(&self) -> &Path {
        self.0.as_deref().expect("path present until installed")
    }
}

impl Drop for PartialFile {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// The file being written and what is computed over its bytes.
struct Sink {
    file: std::fs::File,
    md5: Md5,
    sha512: Sha512,
    size: i64,
    header: Vec<u8>,
}

struct SinkResult {
    size: i64,
    md5: String,
    sha512: String,
    header: Vec<u8>,
}

impl Sink {
    fn create(path: &Path) -> io::Result<Sink> {
        Ok(Sink {
            file: std::fs::File::create_new(path)?,
            md5: Md5::new(),
            sha512: Sha512::new(),
            size: 0,
            header: Vec::with_capacity(HEADER_LEN),
        })
    }

    /// Hashes and writes `block`, handing the emptied buffer back for reuse.
    fn absorb(mut self, mut block: Vec<u8>) -> io::Result<(Sink, Vec<u8>)> {
        self.md5.update(&block);
        self.sha512.update(&block);
        let wanted = HEADER_LEN
            .saturating_sub(self.header.len())
            .min(block.len());
        self.header.extend_from_slice(&block[..wanted]);
        self.file.write_all(&block)?;
        self.size += block.len() as i64;
        block.clear();
        Ok((self, block))
    }

    fn finish(self) -> io::Result<SinkResult> {
        self.file.sync_all()?;
        Ok(SinkResult {
            size: self.size,
            md5: hex::encode(self.md5.finalize()),
            sha512: hex::encode(self.sha512.finalize()),
            header: self.header,
        })
    }
}

/// The size of the disk the image holds, where it can be read cheaply: a
/// raw or ISO image is its own disk, a qcow2 image says so in its header.
fn virtual_size(disk_format: Option<&str>, header: &[u8], size: i64) -> Option<i64> {
    match disk_format? {
        "raw" | "iso" => Some(size),
        "qcow2" if header.starts_with(QCOW2_MAGIC) && header.len() >= HEADER_LEN => {
            let bytes: [u8; 8] = header[QCOW2_SIZE_OFFSET..HEADER_LEN].try_into().ok()?;
            i64::try_from(u64::from_be_bytes(bytes)).ok()
        }
        _ => None,
    }
}

/// Runs blocking file work on tokio's blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result,
        Err(join_error) => std::panic::resume_unwind(join_error.into_panic()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(
        chunks: Vec<Result<Bytes, String>>,
    ) -> impl Stream<Item = Result<Bytes, String>> + Unpin {
        futures_util::stream::iter(chunks)
    }

    fn files_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[tokio::test]
    async fn received_data_is_hashed_and_installed() {
        let dir = tempfile::tempdir().unwrap();
        let files = ImageFiles::open(dir.path().join("images")).unwrap();
        let chunks = vec![
            Ok(Bytes::from_static(b"hello ")),
            Ok(Bytes::from_static(b"world")),
        ];
        let received = files
            .receive("img", stream(chunks), Some("raw"))
            .await
            .unwrap();
        assert_eq!(received.data.size, 11);
        assert_eq!(received.data.virtual_size, Some(11));
        assert_eq!(received.data.md5, "5eb63bbbe01eeed093cb22bb8f5acdc3");
        assert!(
            received
                .data
                .sha512
                .starts_with("309ecc489c12d6eb4cc40f50c902f2b4")
        );
        files.install(received, "img").await.unwrap();
        assert_eq!(files_in(&dir.path().join("images")), ["img"]);
        assert_eq!(
            std::fs::read(files.data_path("img")).unwrap(),
            b"hello world"
        );
        files.remove("img").await.unwrap();
        files.remove("img").await.unwrap();
        assert!(files.read("img").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn broken_or_abandoned_uploads_leave_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let files = ImageFiles::open(dir.path().to_owned()).unwrap();
        let chunks = vec![
            Ok(Bytes::from(vec![7; 3 * BLOCK_SIZE])),
            Err("connection reset".to_owned()),
        ];
        let err = files
            .receive("img", stream(chunks), None)
            .await
            .err()
            .unwrap();
        assert!(
            matches!(err, ReceiveError::Body(ref m) if m == "connection reset"),
            "{err:?}"
        );
        let received = files
            .receive("img", stream(vec![Ok(Bytes::from_static(b"x"))]), None)
            .await
            .unwrap();
        drop(received);
        assert!(files_in(dir.path()).is_empty());
    }

    #[test]
    fn leftover_partial_files_are_removed_at_start() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".img.x.partial"), b"half").unwrap();
        std::fs::write(dir.path().join("img"), b"whole").unwrap();
        ImageFiles::open(dir.path().to_owned()).unwrap();
        assert_eq!(files_in(dir.path()), ["img"]);
    }

    #[test]
    fn qcow2_virtual_size_comes_from_the_header() {
        let mut header = QCOW2_MAGIC.to_vec();
        header.extend_from_slice(&[0, 0, 0, 3]);
        header.extend_from_slice(&[0; 16]);
        header.extend_from_slice(&(10u64 << 30).to_be_bytes());
        assert_eq!(virtual_size(Some("qcow2"), &header, 4096), Some(10 << 30));
        assert_eq!(virtual_size(Some("qcow2"), b"not qcow", 8), None);
        assert_eq!(virtual_size(Some("vmdk"), &header, 4096), None);
        assert_eq!(virtual_size(None, &header, 4096), None);
    }
}
