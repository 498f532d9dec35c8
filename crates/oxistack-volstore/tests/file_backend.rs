//! The file backend against the real `qemu-img` and `qemu-io`, in a
//! temporary directory: data written through QEMU's own block layer must
//! survive snapshots, copies, deletions and crashes as the design says.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use oxistack_volstore::{
    BackendError, FileBackend, VolumeBackend, VolumeFile, VolumeFormat, VolumeSource,
};

const GIB: u64 = 1 << 30;
const V1: &str = "11111111-1111-4111-8111-111111111111";
const V2: &str = "22222222-2222-4222-8222-222222222222";
const S1: &str = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa";
const S2: &str = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb";

fn backend() -> (tempfile::TempDir, FileBackend) {
    let dir = tempfile::tempdir().unwrap();
    let backend = FileBackend::new(dir.path().join("volumes")).unwrap();
    (dir, backend)
}

fn volumes_dir(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("volumes").canonicalize().unwrap()
}

fn qemu_io(file: &Path, format: VolumeFormat, read_only: bool, command: &str) -> bool {
    let mut qemu_io = Command::new("qemu-io");
    if read_only {
        qemu_io.arg("-r");
    }
    let output = qemu_io
        .args(["-f", format.as_str(), "-c", command])
        .arg(file)
        .output()
        .expect("qemu-io runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    output.status.success() && !stdout.contains("Pattern verification failed")
}

/// Fills the first MiB of `file` with `pattern`.
fn write_pattern(file: &VolumeFile, pattern: u8) {
    let command = format!("write -P {pattern:#x} 0 1M");
    assert!(qemu_io(&file.path, file.format, false, &command));
}

/// Whether the first MiB of `file` holds `pattern`.
fn has_pattern(file: &VolumeFile, pattern: u8) -> bool {
    qemu_io(
        &file.path,
        file.format,
        true,
        &format!("read -P {pattern:#x} 0 1M"),
    )
}

fn virtual_size(path: &Path) -> u64 {
    let output = Command::new("qemu-img")
        .args(["info", "-U", "--output=json"])
        .arg(path)
        .output()
        .unwrap();
    assert!(output.status.success());
    let info: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    info["virtual-size"].as_u64().unwrap()
}

fn backing_file(path: &Path) -> Option<String> {
    let output = Command::new("qemu-img")
        .args(["info", "-U", "--output=json"])
        .arg(path)
        .output()
        .unwrap();
    let info: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    info["backing-filename"].as_str().map(str::to_owned)
}

fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

fn ids(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

async fn blank(backend: &FileBackend, id: &str, gib: u64, format: VolumeFormat) -> VolumeFile {
    backend
        .create(id, gib, format, VolumeSource::Blank)
        .await
        .unwrap()
}

#[tokio::test]
async fn blank_volumes_are_sparse_files_of_the_asked_size_made_quickly() {
    let (dir, backend) = backend();
    for (id, format) in [(V1, VolumeFormat::Qcow2), (V2, VolumeFormat::Raw)] {
        let started = Instant::now();
        let file = blank(&backend, id, 10, format).await;
        let took = started.elapsed();
        assert!(took.as_millis() < 500, "{format:?} took {took:?}");
        let name = format!("volume-{id}.{}", format.as_str());
        assert_eq!(file.path, volumes_dir(&dir).join(name));
        assert!(file.path.is_absolute());
        assert_eq!(file.format, format);
        assert_eq!(virtual_size(&file.path), 10 * GIB);
        let used = std::os::unix::fs::MetadataExt::blocks(&std::fs::metadata(&file.path).unwrap());
        assert!(used * 512 < 1 << 20, "{format:?} uses {used} blocks");
        assert_eq!(backend.volume_file(id), Some(file));
    }
    let mode = std::fs::metadata(volumes_dir(&dir)).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
        0o700
    );
    assert_eq!(
        file_names(&volumes_dir(&dir)),
        [format!("volume-{V1}.qcow2"), format!("volume-{V2}.raw")]
    );
}

#[tokio::test]
async fn ids_that_could_escape_the_directory_are_refused() {
    let (_dir, backend) = backend();
    for id in ["../escape", "a/b", "", "x.qcow2"] {
        let created = backend.create(id, 1, VolumeFormat::Raw, VolumeSource::Blank);
        assert!(
            matches!(created.await, Err(BackendError::NoSuchVolume(_))),
            "{id}"
        );
        assert_eq!(backend.volume_file(id), None);
        assert!(!backend.has_snapshot(id));
    }
    let from_snapshot = VolumeSource::Snapshot("../s");
    let created = backend.create(V1, 1, VolumeFormat::Qcow2, from_snapshot);
    assert!(matches!(
        created.await,
        Err(BackendError::NoSuchSnapshot(_))
    ));
}

#[tokio::test]
async fn a_snapshot_freezes_the_data_and_a_volume_from_it_reads_it_back() {
    let (dir, backend) = backend();
    let volume = blank(&backend, V1, 1, VolumeFormat::Qcow2).await;
    write_pattern(&volume, 0xab);

    backend.snapshot(S1, V1, false).await.unwrap();
    assert!(backend.has_snapshot(S1));
    assert_eq!(backend.volume_file(V1), Some(volume.clone()));
    let snapshot_path = volumes_dir(&dir).join(format!("snapshot-{S1}.qcow2"));
    assert_eq!(
        backing_file(&volume.path),
        snapshot_path.to_str().map(Into::into)
    );

    write_pattern(&volume, 0xcd);
    let from_snapshot = VolumeSource::Snapshot(S1);
    let copy = (backend.create(V2, 2, VolumeFormat::Qcow2, from_snapshot))
        .await
        .unwrap();
    assert!(has_pattern(&copy, 0xab));
    assert!(!has_pattern(&copy, 0xcd));
    assert!(has_pattern(&volume, 0xcd));
    assert_eq!(virtual_size(&copy.path), 2 * GIB);
    // No copy was made: the new volume builds on the snapshot.
    assert_eq!(
        backing_file(&copy.path),
        snapshot_path.to_str().map(Into::into)
    );
}

#[tokio::test]
async fn a_deleted_snapshot_stays_until_nothing_builds_on_it() {
    let (dir, backend) = backend();
    let volume = blank(&backend, V1, 1, VolumeFormat::Qcow2).await;
    write_pattern(&volume, 0xab);
    backend.snapshot(S1, V1, false).await.unwrap();
    let from_snapshot = VolumeSource::Snapshot(S1);
    let copy = (backend.create(V2, 1, VolumeFormat::Qcow2, from_snapshot))
        .await
        .unwrap();
    let snapshot_path = volumes_dir(&dir).join(format!("snapshot-{S1}.qcow2"));
    let tombstone = volumes_dir(&dir).join(format!("snapshot-{S1}.deleted"));

    backend.delete_snapshot(S1).await.unwrap();
    assert!(snapshot_path.exists() && tombstone.exists());
    assert!(!backend.has_snapshot(S1));
    assert!(has_pattern(&copy, 0xab));
    let again = backend.create(V2, 1, VolumeFormat::Qcow2, VolumeSource::Snapshot(S1));
    assert!(matches!(again.await, Err(BackendError::NoSuchSnapshot(_))));

    backend.delete_volume(V2).await.unwrap();
    assert!(
        snapshot_path.exists(),
        "the first volume still builds on it"
    );
    backend.delete_volume(V1).await.unwrap();
    assert!(file_names(&volumes_dir(&dir)).is_empty());
}

#[tokio::test]
async fn deleting_a_volume_removes_its_whole_chain_of_deleted_snapshots() {
    let (dir, backend) = backend();
    blank(&backend, V1, 1, VolumeFormat::Qcow2).await;
    backend.snapshot(S1, V1, false).await.unwrap();
    backend.snapshot(S2, V1, false).await.unwrap();
    backend.delete_snapshot(S1).await.unwrap();
    backend.delete_snapshot(S2).await.unwrap();
    assert_eq!(file_names(&volumes_dir(&dir)).len(), 5);
    backend.delete_volume(V1).await.unwrap();
    assert!(file_names(&volumes_dir(&dir)).is_empty());
    // Absent is fine.
    backend.delete_volume(V1).await.unwrap();
    backend.delete_snapshot(S1).await.unwrap();
}

#[tokio::test]
async fn an_unused_snapshot_is_removed_at_once() {
    let (dir, backend) = backend();
    let volume = blank(&backend, V1, 1, VolumeFormat::Qcow2).await;
    write_pattern(&volume, 0xab);
    backend.snapshot(S1, V1, true).await.unwrap();
    assert_eq!(
        backing_file(&volume.path),
        None,
        "in use: a copy, no rotation"
    );
    backend.delete_snapshot(S1).await.unwrap();
    assert_eq!(
        file_names(&volumes_dir(&dir)),
        [format!("volume-{V1}.qcow2")]
    );
    assert!(has_pattern(&volume, 0xab));
}

#[tokio::test]
async fn raw_volumes_copy_snapshots_and_grow_to_the_asked_size() {
    let (_dir, backend) = backend();
    let volume = blank(&backend, V1, 1, VolumeFormat::Raw).await;
    write_pattern(&volume, 0xab);
    backend.snapshot(S1, V1, false).await.unwrap();
    write_pattern(&volume, 0xcd);
    let from_snapshot = VolumeSource::Snapshot(S1);
    let copy = (backend.create(V2, 3, VolumeFormat::Raw, from_snapshot))
        .await
        .unwrap();
    assert!(has_pattern(&copy, 0xab));
    assert_eq!(std::fs::metadata(&copy.path).unwrap().len(), 3 * GIB);
    backend.delete_snapshot(S1).await.unwrap();
    assert!(!backend.has_snapshot(S1));
    assert!(has_pattern(&copy, 0xab));
}

#[tokio::test]
async fn a_volume_from_a_volume_is_a_flat_copy_of_its_chain() {
    let (_dir, backend) = backend();
    let volume = blank(&backend, V1, 1, VolumeFormat::Qcow2).await;
    write_pattern(&volume, 0xab);
    backend.snapshot(S1, V1, false).await.unwrap();
    let from_volume = VolumeSource::Volume(V1);
    let copy = (backend.create(V2, 2, VolumeFormat::Qcow2, from_volume))
        .await
        .unwrap();
    assert!(has_pattern(&copy, 0xab));
    assert_eq!(backing_file(&copy.path), None);
    assert_eq!(virtual_size(&copy.path), 2 * GIB);
}

#[tokio::test]
async fn volumes_smaller_than_their_source_are_refused_and_leave_nothing() {
    let (dir, backend) = backend();
    blank(&backend, V1, 2, VolumeFormat::Qcow2).await;
    backend.snapshot(S1, V1, true).await.unwrap();
    let before = file_names(&volumes_dir(&dir));
    for source in [VolumeSource::Snapshot(S1), VolumeSource::Volume(V1)] {
        for format in [VolumeFormat::Qcow2, VolumeFormat::Raw] {
            assert!(backend.create(V2, 1, format, source).await.is_err());
        }
    }
    let missing = backend.create(V2, 1, VolumeFormat::Raw, VolumeSource::Volume(S2));
    assert!(matches!(missing.await, Err(BackendError::NoSuchVolume(_))));
    assert_eq!(file_names(&volumes_dir(&dir)), before);
}

#[tokio::test]
async fn extend_grows_both_formats_and_refuses_to_shrink() {
    let (_dir, backend) = backend();
    for (id, format) in [(V1, VolumeFormat::Qcow2), (V2, VolumeFormat::Raw)] {
        let file = blank(&backend, id, 1, format).await;
        write_pattern(&file, 0xab);
        backend.extend(id, 3).await.unwrap();
        assert_eq!(virtual_size(&file.path), 3 * GIB);
        assert!(has_pattern(&file, 0xab));
        assert!(backend.extend(id, 2).await.is_err());
        assert_eq!(virtual_size(&file.path), 3 * GIB);
    }
    let missing = backend.extend(S1, 2).await;
    assert!(matches!(missing, Err(BackendError::NoSuchVolume(_))));
}

fn make_image(dir: &Path, name: &str, format: &str, size: &str, pattern: u8) -> PathBuf {
    let path = dir.join(name);
    let status = Command::new("qemu-img")
        .args(["create", "-q", "-f", format])
        .arg(&path)
        .arg(size)
        .status()
        .unwrap();
    assert!(status.success());
    let command = format!("write -P {pattern:#x} 0 1M");
    let format = if format == "raw" {
        VolumeFormat::Raw
    } else {
        VolumeFormat::Qcow2
    };
    assert!(qemu_io(&path, format, false, &command));
    path
}

#[tokio::test]
async fn a_volume_from_an_image_holds_its_data_at_the_volumes_size() {
    let (dir, backend) = backend();
    let image = make_image(dir.path(), "image.qcow2", "qcow2", "512M", 0xab);
    for (id, format, disk_format) in [
        (V1, VolumeFormat::Qcow2, Some("qcow2")),
        (V2, VolumeFormat::Raw, None),
    ] {
        let source = VolumeSource::Image {
            path: &image,
            disk_format,
        };
        let file = backend.create(id, 2, format, source).await.unwrap();
        assert!(has_pattern(&file, 0xab));
        assert_eq!(virtual_size(&file.path), 2 * GIB);
    }
}

#[tokio::test]
async fn an_image_larger_than_the_volume_is_refused_and_leaves_nothing() {
    let (dir, backend) = backend();
    let image = make_image(dir.path(), "image.raw", "raw", "3G", 0xab);
    let source = VolumeSource::Image {
        path: &image,
        disk_format: Some("raw"),
    };
    match backend.create(V1, 2, VolumeFormat::Qcow2, source).await {
        Err(BackendError::BadImage(message)) => assert_eq!(
            message,
            "the image's virtual size (3 GiB) is larger than the volume (2 GiB)"
        ),
        other => panic!("expected BadImage, got {other:?}"),
    }
    assert!(file_names(&volumes_dir(&dir)).is_empty());
}

#[tokio::test]
async fn an_image_that_names_another_host_file_is_refused() {
    let (dir, backend) = backend();
    let secret = make_image(dir.path(), "host-secret.raw", "raw", "1M", 0x5e);
    let image = dir.path().join("sneaky.qcow2");
    let status = Command::new("qemu-img")
        .args(["create", "-q", "-f", "qcow2", "-F", "raw", "-b"])
        .arg(&secret)
        .arg(&image)
        .status()
        .unwrap();
    assert!(status.success());
    for disk_format in [Some("qcow2"), None] {
        let source = VolumeSource::Image {
            path: &image,
            disk_format,
        };
        let created = backend.create(V1, 1, VolumeFormat::Raw, source).await;
        assert!(
            matches!(created, Err(BackendError::BadImage(_))),
            "{created:?}"
        );
    }
    assert!(file_names(&volumes_dir(&dir)).is_empty());
}

#[tokio::test]
async fn export_writes_the_flattened_data_as_one_file() {
    let (dir, backend) = backend();
    let volume = blank(&backend, V1, 1, VolumeFormat::Qcow2).await;
    write_pattern(&volume, 0xab);
    backend.snapshot(S1, V1, false).await.unwrap();
    let dest = backend.export(V1, VolumeFormat::Raw).await.unwrap();
    assert!(dest.starts_with(volumes_dir(&dir)), "{}", dest.display());
    let exported = VolumeFile {
        path: dest.clone(),
        format: VolumeFormat::Raw,
    };
    assert!(has_pattern(&exported, 0xab));
    assert_eq!(std::fs::metadata(&dest).unwrap().len(), GIB);
    // One a crash left behind is removed by the next recovery.
    let recovery = backend.recover(&[V1.into()], &[S1.into()]).await.unwrap();
    assert!(recovery.removed.contains(&dest), "{recovery:?}");
}

/// Makes the state a crash between the second and third step of a
/// snapshot rotation leaves: the next file made, the volume renamed.
fn interrupt_rotation_after_rename(dir: &Path, volume: &VolumeFile) -> PathBuf {
    let snapshot = dir.join(format!("snapshot-{S1}.qcow2"));
    let next = dir.join(format!("volume-{V1}.next"));
    let status = Command::new("qemu-img")
        .args(["create", "-q", "-f", "qcow2", "-u", "-F", "qcow2", "-b"])
        .arg(&snapshot)
        .arg(&next)
        .arg(GIB.to_string())
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::rename(&volume.path, &snapshot).unwrap();
    next
}

#[tokio::test]
async fn recover_finishes_a_rotation_a_crash_interrupted() {
    let (dir, backend) = backend();
    let volume = blank(&backend, V1, 1, VolumeFormat::Qcow2).await;
    write_pattern(&volume, 0xab);
    interrupt_rotation_after_rename(&volumes_dir(&dir), &volume);
    assert_eq!(backend.volume_file(V1), None);

    let recovery = backend.recover(&ids(&[V1]), &ids(&[S1])).await.unwrap();
    assert_eq!(recovery.finished, ids(&[V1]));
    assert!(recovery.removed.is_empty());
    assert_eq!(backend.volume_file(V1), Some(volume.clone()));
    assert!(backend.has_snapshot(S1));
    assert!(has_pattern(&volume, 0xab));
    let snapshot = volumes_dir(&dir).join(format!("snapshot-{S1}.qcow2"));
    assert_eq!(
        backing_file(&volume.path),
        snapshot.to_str().map(Into::into)
    );
}

#[tokio::test]
async fn recover_undoes_a_rotation_interrupted_before_the_rename() {
    let (dir, backend) = backend();
    let volume = blank(&backend, V1, 1, VolumeFormat::Qcow2).await;
    write_pattern(&volume, 0xab);
    let next = volumes_dir(&dir).join(format!("volume-{V1}.next"));
    std::fs::copy(&volume.path, &next).unwrap();

    let recovery = backend.recover(&ids(&[V1]), &[]).await.unwrap();
    assert_eq!(recovery.removed, [next]);
    assert!(recovery.finished.is_empty());
    assert_eq!(
        file_names(&volumes_dir(&dir)),
        [format!("volume-{V1}.qcow2")]
    );
    assert!(has_pattern(&volume, 0xab));
}

#[tokio::test]
async fn recover_removes_unknown_files_but_keeps_what_known_volumes_build_on() {
    let (dir, backend) = backend();
    let vols = volumes_dir(&dir);
    blank(&backend, V1, 1, VolumeFormat::Qcow2).await;
    blank(&backend, V2, 1, VolumeFormat::Raw).await;
    backend.snapshot(S1, V1, false).await.unwrap();
    backend.snapshot(S2, V2, false).await.unwrap();
    let stray = vols.join(format!("volume-{S2}.qcow2.tmp"));
    std::fs::write(&stray, b"half made").unwrap();
    std::fs::write(vols.join("unrelated.txt"), b"not ours").unwrap();

    let recovery = backend.recover(&ids(&[V1]), &[]).await.unwrap();
    let mut removed = recovery.removed.clone();
    removed.sort();
    let mut expected = vec![
        vols.join(format!("snapshot-{S2}.raw")),
        stray,
        vols.join(format!("volume-{V2}.raw")),
    ];
    expected.sort();
    assert_eq!(removed, expected);
    assert!(!backend.has_snapshot(S1), "unlisted, so deleted");
    assert_eq!(
        file_names(&vols),
        [
            format!("snapshot-{S1}.deleted"),
            format!("snapshot-{S1}.qcow2"),
            "unrelated.txt".to_owned(),
            format!("volume-{V1}.qcow2"),
        ]
    );

    let recovery = backend.recover(&[], &[]).await.unwrap();
    assert_eq!(recovery.removed.len(), 2);
    assert_eq!(file_names(&vols), ["unrelated.txt"]);
}
