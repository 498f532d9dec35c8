//! An instance's disks: the image check, the copy-on-write overlay over the
//! image, and the config drive.

use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use oxistack_virt::{DriverError, ImageSource, InstanceMetadata};
use serde::Deserialize;

use crate::tool::{self, ToolError};

const QEMU_IMG: &str = "qemu-img";
const GENISOIMAGE: &str = "genisoimage";
const GIB: u64 = 1 << 30;

/// The image formats QEMU is given as an overlay's backing file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskFormat {
    Qcow2,
    Raw,
}

impl DiskFormat {
    fn parse(name: &str) -> Option<DiskFormat> {
        match name {
            "qcow2" => Some(DiskFormat::Qcow2),
            "raw" => Some(DiskFormat::Raw),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            DiskFormat::Qcow2 => "qcow2",
            DiskFormat::Raw => "raw",
        }
    }
}

/// An image found usable for booting.
#[derive(Debug)]
pub struct CheckedImage {
    /// Absolute, as the overlay records it.
    pub path: PathBuf,
    pub format: DiskFormat,
    pub virtual_size: u64,
}

#[derive(Deserialize)]
struct QemuImgInfo {
    format: String,
    #[serde(rename = "virtual-size")]
    virtual_size: u64,
}

fn unavailable(image: &ImageSource, reason: impl Into<String>) -> DriverError {
    DriverError::ImageUnavailable {
        id: image.id.clone(),
        reason: reason.into(),
    }
}

/// Checks that `image` exists, is qcow2 or raw and has a boot sector, and
/// reads its virtual size. `scratch` is a directory for a temporary file.
pub async fn check(image: &ImageSource, scratch: &Path) -> Result<CheckedImage, DriverError> {
    let path = image
        .path
        .as_deref()
        .ok_or_else(|| unavailable(image, "its data is not on this host"))?;
    if !path.is_file() {
        return Err(unavailable(
            image,
            format!("its data file {} is missing", path.display()),
        ));
    }
    let path = std::path::absolute(path)?;
    let declared = match image.disk_format.as_deref() {
        None => None,
        Some(name) => Some(DiskFormat::parse(name).ok_or_else(|| {
            unavailable(
                image,
                format!("its disk format {name} is not supported (only qcow2 and raw are)"),
            )
        })?),
    };
    let mut args = vec!["info".into(), "-U".into(), "--output=json".into()];
    if let Some(format) = declared {
        args.extend(["-f".into(), format.as_str().into()]);
    }
    args.push(path.clone().into_os_string());
    let output = tool::run(QEMU_IMG, args)
        .await
        .map_err(|e| unavailable(image, e.to_string()))?;
    let info: QemuImgInfo = serde_json::from_slice(&output)
        .map_err(|e| unavailable(image, format!("qemu-img info gave unreadable output: {e}")))?;
    let format = DiskFormat::parse(&info.format).ok_or_else(|| {
        unavailable(
            image,
            format!(
                "its disk format {} is not supported (only qcow2 and raw are)",
                info.format
            ),
        )
    })?;
    let sector = first_sector(&path, format, scratch)
        .await
        .map_err(|e| unavailable(image, format!("reading its first sector failed: {e}")))?;
    if !has_boot_signature(&sector) {
        return Err(unavailable(
            image,
            "the image is not bootable (no boot sector)",
        ));
    }
    Ok(CheckedImage {
        path,
        format,
        virtual_size: info.virtual_size,
    })
}

#[derive(Debug, thiserror::Error)]
enum SectorError {
    #[error(transparent)]
    Io(#[from] io::Error),
    #[error(transparent)]
    Tool(#[from] ToolError),
}

/// The first 512 bytes of the disk as the guest sees it (fewer if the
/// disk is smaller).
async fn first_sector(
    path: &Path,
    format: DiskFormat,
    scratch: &Path,
) -> Result<Vec<u8>, SectorError> {
    let mut sector = Vec::with_capacity(512);
    match format {
        DiskFormat::Raw => {
            fs::File::open(path)?.take(512).read_to_end(&mut sector)?;
        }
        DiskFormat::Qcow2 => {
            let temporary = tempfile::tempdir_in(scratch)?;
            let output = temporary.path().join("sector");
            let mut input = std::ffi::OsString::from("if=");
            input.push(path);
            let mut out = std::ffi::OsString::from("of=");
            out.push(&output);
            let args: Vec<std::ffi::OsString> = vec![
                "dd".into(),
                "-f".into(),
                "qcow2".into(),
                "-O".into(),
                "raw".into(),
                "bs=512".into(),
                "count=1".into(),
                input,
                out,
            ];
            tool::run(QEMU_IMG, args).await?;
            fs::File::open(&output)?
                .take(512)
                .read_to_end(&mut sector)?;
        }
    }
    Ok(sector)
}

/// Whether a first sector ends in the BIOS boot signature 0x55 0xAA.
fn has_boot_signature(sector: &[u8]) -> bool {
    sector.len() >= 512 && sector[510] == 0x55 && sector[511] == 0xAA
}

/// The root disk's size in bytes: the flavor's, or the image's own when
/// the flavor says 0. A flavor disk smaller than the image cannot hold it.
pub fn root_disk_size(
    image_id: &str,
    root_disk_gib: u64,
    virtual_size: u64,
) -> Result<u64, DriverError> {
    if root_disk_gib == 0 {
        return Ok(virtual_size);
    }
    let size = root_disk_gib.saturating_mul(GIB);
    if size < virtual_size {
        return Err(DriverError::ImageUnavailable {
            id: image_id.to_owned(),
            reason: format!(
                "the flavor's disk ({root_disk_gib} GiB) is smaller than the image's virtual size ({:.2} GiB)",
                virtual_size as f64 / GIB as f64
            ),
        });
    }
    Ok(size)
}

/// Pins `image`'s data in `base_dir` (a hard link, or a copy across file
/// systems) and returns the pinned image, so that overlays never depend on
/// the image service's file: an image deleted while servers still boot
/// from it leaves their disks intact, as Nova's image cache does.
pub fn pin_base(image: CheckedImage, id: &str, base_dir: &Path) -> io::Result<CheckedImage> {
    let safe = !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !safe {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("image id {id:?} cannot name a file"),
        ));
    }
    fs::create_dir_all(base_dir)?;
    let pinned = base_dir.join(format!("{id}.{}", image.format.as_str()));
    if !pinned.exists() {
        let partial = base_dir.join(format!("{id}.part"));
        let _ = fs::remove_file(&partial);
        if fs::hard_link(&image.path, &partial).is_err() {
            fs::copy(&image.path, &partial)?;
        }
        fs::rename(&partial, &pinned)?;
    }
    Ok(CheckedImage {
        path: pinned,
        ..image
    })
}

/// Creates `disk` as a qcow2 overlay of `image`, `size` bytes large. It is
/// created under a temporary name and renamed, so a crash never leaves a
/// half-made disk that a later spawn would reuse.
pub async fn create_overlay(image: &CheckedImage, size: u64, disk: &Path) -> Result<(), ToolError> {
    let partial = disk.with_extension("qcow2.part");
    let args: Vec<std::ffi::OsString> = vec![
        "create".into(),
        "-q".into(),
        "-f".into(),
        "qcow2".into(),
        "-F".into(),
        image.format.as_str().into(),
        "-b".into(),
        image.path.clone().into(),
        partial.clone().into(),
        size.to_string().into(),
    ];
    tool::run(QEMU_IMG, args).await?;
    fs::rename(&partial, disk).map_err(|source| ToolError::Start {
        program: format!("renaming {}", partial.display()),
        source,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigDriveError {
    #[error("the metadata names a file outside the drive: {0}")]
    UnsafePath(String),
    #[error("writing the config drive's files failed: {0}")]
    Io(#[from] io::Error),
    #[error(transparent)]
    Tool(#[from] ToolError),
}

/// Writes `metadata`'s config drive to `iso` (ISO 9660, label `config-2`,
/// as Nova makes it), readable by root only: it may hold the admin
/// password and user data.
pub async fn write_config_drive(
    metadata: &InstanceMetadata,
    iso: &Path,
) -> Result<(), ConfigDriveError> {
    let scratch = iso.parent().unwrap_or(Path::new("."));
    let tree = tempfile::tempdir_in(scratch)?;
    for (relative, contents) in metadata.config_drive_files() {
        let relative_path = Path::new(&relative);
        if !relative_path
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
        {
            return Err(ConfigDriveError::UnsafePath(relative));
        }
        let file = tree.path().join(relative_path);
        if let Some(parent) = file.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::write(&file, contents)?;
    }
    let partial = iso.with_extension("iso.part");
    let args: Vec<std::ffi::OsString> = vec![
        "-quiet".into(),
        "-o".into(),
        partial.clone().into(),
        "-V".into(),
        "config-2".into(),
        "-J".into(),
        "-r".into(),
        tree.path().into(),
    ];
    tool::run(GENISOIMAGE, args).await?;
    fs::set_permissions(&partial, fs::Permissions::from_mode(0o600))?;
    fs::rename(&partial, iso)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(path: &Path, format: Option<&str>) -> ImageSource {
        ImageSource {
            id: "img".into(),
            path: Some(path.to_owned()),
            disk_format: format.map(str::to_owned),
        }
    }

    fn boot_sector() -> Vec<u8> {
        let mut sector = vec![0u8; 512];
        sector[510] = 0x55;
        sector[511] = 0xAA;
        sector
    }

    #[tokio::test]
    async fn the_config_drive_is_a_private_iso_labelled_config_2() {
        let dir = tempfile::tempdir().unwrap();
        let iso = dir.path().join("config.iso");
        let metadata = InstanceMetadata {
            uuid: "0c4e7e63-5e0f-4b7a-9d0e-1d2f3a4b5c6d".into(),
            hostname: "probe".into(),
            ..InstanceMetadata::default()
        };
        write_config_drive(&metadata, &iso).await.unwrap();
        let mode = fs::metadata(&iso).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let iso_arg = iso.as_os_str();
        let header = tool::run("isoinfo", ["-d".as_ref(), "-i".as_ref(), iso_arg])
            .await
            .unwrap();
        let header = String::from_utf8_lossy(&header);
        assert!(header.contains("Volume id: config-2"), "{header}");
        let listing = tool::run(
            "isoinfo",
            ["-R".as_ref(), "-f".as_ref(), "-i".as_ref(), iso_arg],
        )
        .await
        .unwrap();
        let listing = String::from_utf8_lossy(&listing);
        assert!(
            listing.contains("/openstack/latest/meta_data.json"),
            "{listing}"
        );
        // Only the ISO is left beside it: the file tree was temporary.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn base_images_are_pinned_once_and_outlive_the_original() {
        let dir = tempfile::tempdir().unwrap();
        let original = dir.path().join("glance-file");
        fs::write(&original, b"image data").unwrap();
        let checked = || CheckedImage {
            path: original.clone(),
            format: DiskFormat::Qcow2,
            virtual_size: 10,
        };
        let base_dir = dir.path().join("_base");
        let pinned = pin_base(checked(), "c1a0e5b0-0000", &base_dir).unwrap();
        assert_eq!(pinned.path, base_dir.join("c1a0e5b0-0000.qcow2"));
        assert_eq!(pinned.format, DiskFormat::Qcow2);
        assert_eq!(
            pin_base(checked(), "c1a0e5b0-0000", &base_dir)
                .unwrap()
                .path,
            pinned.path
        );
        fs::remove_file(&original).unwrap();
        assert_eq!(fs::read(&pinned.path).unwrap(), b"image data");
        assert!(pin_base(checked(), "../escape", &base_dir).is_err());
    }

    #[test]
    fn the_flavor_disk_must_hold_the_image() {
        assert_eq!(root_disk_size("i", 0, 17 << 20).unwrap(), 17 << 20);
        assert_eq!(root_disk_size("i", 1, 17 << 20).unwrap(), GIB);
        let error = root_disk_size("i", 1, 2 * GIB).unwrap_err().to_string();
        assert!(
            error.contains(
                "flavor's disk (1 GiB) is smaller than the image's virtual size (2.00 GiB)"
            ),
            "{error}"
        );
    }

    #[tokio::test]
    async fn images_without_a_boot_sector_or_data_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let zeros = dir.path().join("zeros.raw");
        fs::write(&zeros, vec![0u8; 1 << 20]).unwrap();
        let error = check(&source(&zeros, Some("raw")), dir.path())
            .await
            .unwrap_err();
        assert!(
            error.to_string().contains("not bootable (no boot sector)"),
            "{error}"
        );

        let missing = check(&source(&dir.path().join("none"), None), dir.path())
            .await
            .unwrap_err();
        assert!(missing.to_string().contains("is missing"), "{missing}");

        let vmdk = check(&source(&zeros, Some("vmdk")), dir.path())
            .await
            .unwrap_err();
        assert!(vmdk.to_string().contains("disk format vmdk"), "{vmdk}");

        let no_path = ImageSource {
            path: None,
            ..source(&zeros, None)
        };
        let error = check(&no_path, dir.path()).await.unwrap_err();
        assert!(matches!(error, DriverError::ImageUnavailable { .. }));
    }

    #[tokio::test]
    async fn a_bootable_qcow2_is_seen_through_and_overlaid() {
        let dir = tempfile::tempdir().unwrap();
        let raw = dir.path().join("boot.raw");
        let mut contents = boot_sector();
        contents.resize(1 << 20, 0);
        fs::write(&raw, contents).unwrap();
        let qcow2 = dir.path().join("boot.qcow2");
        tool::run(
            QEMU_IMG,
            [
                "convert".as_ref(),
                "-O".as_ref(),
                "qcow2".as_ref(),
                raw.as_os_str(),
                qcow2.as_os_str(),
            ],
        )
        .await
        .unwrap();
        // Undeclared formats are detected.
        let image = check(&source(&qcow2, None), dir.path()).await.unwrap();
        assert_eq!(image.format, DiskFormat::Qcow2);
        assert_eq!(image.virtual_size, 1 << 20);
        // A qcow2 declared raw shows its header, not a boot sector.
        let error = check(&source(&qcow2, Some("raw")), dir.path())
            .await
            .unwrap_err();
        assert!(error.to_string().contains("not bootable"), "{error}");

        let disk = dir.path().join("disk.qcow2");
        create_overlay(&image, GIB, &disk).await.unwrap();
        let info = tool::run(
            QEMU_IMG,
            ["info".as_ref(), "--output=json".as_ref(), disk.as_os_str()],
        )
        .await
        .unwrap();
        let info: serde_json::Value = serde_json::from_slice(&info).unwrap();
        assert_eq!(info["virtual-size"], GIB);
        assert_eq!(info["backing-filename"], qcow2.to_str().unwrap());
        assert_eq!(info["backing-filename-format"], "qcow2");
    }
}
