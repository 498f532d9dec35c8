//! The few `qemu-img` commands the file backend needs, typed.
//!
//! Each runs as an argument vector (never through a shell: paths and
//! image names never get interpreted), with no stdin, and is killed if
//! the caller gives up on it. A failure carries qemu-img's own message.

use std::ffi::OsString;
use std::path::Path;
use std::process::Stdio;

use serde::Deserialize;
use tokio::process::Command;

use crate::{BackendError, BackendResult};

const PROGRAM: &str = "qemu-img";

/// What `qemu-img info --output=json` says about an image, as far as the
/// backend cares.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ImageInfo {
    /// The format qemu-img read it as (`qcow2`, `raw`, `vmdk`, `vpc`...).
    pub format: String,
    #[serde(rename = "virtual-size")]
    pub virtual_size: u64,
    /// The file it builds on, if any.
    #[serde(rename = "backing-filename")]
    pub backing_file: Option<String>,
    /// Format-dependent details (a qcow2 external data file, a vmdk's
    /// create type).
    #[serde(rename = "format-specific")]
    pub format_specific: Option<FormatSpecific>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct FormatSpecific {
    #[serde(default)]
    pub data: serde_json::Map<String, serde_json::Value>,
}

/// Makes an empty image of `size_bytes`.
pub(crate) async fn create(path: &Path, format: &str, size_bytes: u64) -> BackendResult<()> {
    let mut args = args(["create", "-q", "-f", format]);
    if format == "qcow2" {
        args.extend(os(["-o", "cluster_size=65536"]));
    }
    args.push(path.into());
    args.push(size_bytes.to_string().into());
    run(args).await.map(drop)
}

/// Makes a qcow2 file at `path` that builds on `backing` (an absolute
/// path, which with `backing_may_be_missing` need not exist yet).
pub(crate) async fn create_overlay(
    path: &Path,
    backing: &Path,
    backing_format: &str,
    size_bytes: u64,
    backing_may_be_missing: bool,
) -> BackendResult<()> {
    let mut args = args(["create", "-q", "-f", "qcow2", "-o", "cluster_size=65536"]);
    args.extend([
        "-b".into(),
        backing.into(),
        "-F".into(),
        backing_format.into(),
    ]);
    if backing_may_be_missing {
        args.push("-u".into());
    }
    args.push(path.into());
    args.push(size_bytes.to_string().into());
    run(args).await.map(drop)
}

/// Copies `src` (its whole chain, flattened) into a new standalone file
/// `dst`. `force_share` reads a file a running guest may hold open.
pub(crate) async fn convert(
    src: &Path,
    src_format: Option<&str>,
    dst: &Path,
    dst_format: &str,
    force_share: bool,
) -> BackendResult<()> {
    let mut args = args(["convert", "-q"]);
    if force_share {
        args.push("-U".into());
    }
    if let Some(format) = src_format {
        args.extend(os(["-f", format]));
    }
    args.extend(os(["-O", dst_format]));
    args.push(src.into());
    args.push(dst.into());
    run(args).await.map(drop)
}

/// Grows an image to `size_bytes` (qemu-img refuses to shrink without
/// `--shrink`, which is never passed).
pub(crate) async fn resize(path: &Path, format: &str, size_bytes: u64) -> BackendResult<()> {
    let mut args = args(["resize", "-q", "-f", format]);
    args.push(path.into());
    args.push(size_bytes.to_string().into());
    run(args).await.map(drop)
}

/// Describes one image (not its backing chain); `format` `None` lets
/// qemu-img probe it.
pub(crate) async fn info(
    path: &Path,
    format: Option<&str>,
    force_share: bool,
) -> BackendResult<ImageInfo> {
    let mut args = args(["info", "--output=json"]);
    if force_share {
        args.push("-U".into());
    }
    if let Some(format) = format {
        args.extend(os(["-f", format]));
    }
    args.push(path.into());
    let stdout = run(args).await?;
    serde_json::from_slice(&stdout).map_err(|e| BackendError::Tool {
        program: PROGRAM.into(),
        message: format!("unreadable `info` output: {e}"),
    })
}

fn args<const N: usize>(words: [&str; N]) -> Vec<OsString> {
    os(words).collect()
}

fn os<const N: usize>(words: [&str; N]) -> impl Iterator<Item = OsString> {
    words.into_iter().map(OsString::from)
}

async fn run(args: Vec<OsString>) -> BackendResult<Vec<u8>> {
    tracing::debug!(?args, "running {PROGRAM}");
    let output = Command::new(PROGRAM)
        .args(&args)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| BackendError::Tool {
            program: PROGRAM.into(),
            message: format!("cannot run it: {e}"),
        })?;
    if output.status.success() {
        return Ok(output.stdout);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    Err(BackendError::Tool {
        program: PROGRAM.into(),
        message: format!("{} ({})", stderr.trim(), output.status),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn info_reads_format_size_and_backing_of_an_overlay() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("base.raw");
        let top = dir.path().join("top.qcow2");
        create(&base, "raw", 1 << 20).await.unwrap();
        create_overlay(&top, &base, "raw", 2 << 20, false)
            .await
            .unwrap();
        let info = info(&top, Some("qcow2"), false).await.unwrap();
        assert_eq!(info.format, "qcow2");
        assert_eq!(info.virtual_size, 2 << 20);
        assert_eq!(info.backing_file.as_deref(), base.to_str());
    }

    #[tokio::test]
    async fn a_failure_carries_qemu_imgs_message() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.qcow2");
        match info(&missing, Some("qcow2"), false).await {
            Err(BackendError::Tool { program, message }) => {
                assert_eq!(program, "qemu-img");
                assert!(message.contains("missing.qcow2"), "{message}");
            }
            other => panic!("expected a tool error, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn resize_refuses_to_shrink() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.qcow2");
        create(&path, "qcow2", 2 << 20).await.unwrap();
        assert!(resize(&path, "qcow2", 1 << 20).await.is_err());
        resize(&path, "qcow2", 4 << 20).await.unwrap();
        let info = info(&path, Some("qcow2"), false).await.unwrap();
        assert_eq!(info.virtual_size, 4 << 20);
    }
}
