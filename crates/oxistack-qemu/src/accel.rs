//! Choosing the accelerator. `/dev/kvm` existing is not enough: on some
//! hosts (nested virtualization without support) KVM runs firmware and
//! then hangs as soon as a Linux kernel starts. So `Auto` boots a kernel
//! under KVM for a few seconds and looks for its first line on the serial
//! console; the verdict is cached per host boot and QEMU version. The
//! kernel is the one the caller has (oxistack uses its test image's), else
//! the host's newest in /boot; with neither, TCG is the verdict, cached
//! too, with the reason, until a kernel turns up.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::process::Command;

use crate::command_line::QEMU;
use crate::tool::stderr_text;

/// The accelerator the configuration asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Accel {
    /// KVM if it really runs guests here, else TCG.
    #[default]
    Auto,
    Kvm,
    Tcg,
}

/// The accelerator instances run with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResolvedAccel {
    Kvm,
    /// QEMU's emulator: slow, but works everywhere.
    Tcg,
}

/// How long the probe kernel gets to print its banner under KVM.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
const BANNER: &str = "Linux version";

/// The cached outcome of a probe.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct ProbeRecord {
    boot_id: String,
    qemu_version: String,
    accel: ResolvedAccel,
    reason: String,
    /// The kernel probed with; `None`: there was none, so nothing was
    /// probed, and a kernel found later gets its probe.
    #[serde(default)]
    kernel: Option<PathBuf>,
}

/// Whether `/dev/kvm` can be opened for reading and writing, as QEMU does.
pub fn kvm_device_usable() -> bool {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_ok()
}

/// Resolves `Auto`: TCG at once without a usable `/dev/kvm`, else the
/// cached verdict for this boot and QEMU version, else a fresh probe with
/// `probe_kernel`, or the newest `/boot/vmlinuz-*` when none is given.
/// Returns the accelerator and why.
pub async fn detect(
    cache_file: &Path,
    qemu_version: &str,
    probe_kernel: Option<&Path>,
) -> (ResolvedAccel, String) {
    if !kvm_device_usable() {
        return (
            ResolvedAccel::Tcg,
            "/dev/kvm is missing or cannot be opened read-write".into(),
        );
    }
    let kernel = probe_kernel
        .map(Path::to_path_buf)
        .or_else(newest_boot_kernel);
    detect_with(cache_file, qemu_version, kernel).await
}

async fn detect_with(
    cache_file: &Path,
    qemu_version: &str,
    kernel: Option<PathBuf>,
) -> (ResolvedAccel, String) {
    let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|id| id.trim().to_owned())
        .unwrap_or_default();
    if let Some(record) = read_cache(cache_file).filter(|r| {
        !boot_id.is_empty()
            && r.boot_id == boot_id
            && r.qemu_version == qemu_version
            && (r.kernel.is_some() || kernel.is_none())
    }) {
        return (record.accel, format!("{} (cached probe)", record.reason));
    }
    let (accel, reason) = match &kernel {
        None => (
            ResolvedAccel::Tcg,
            "KVM not tried: no kernel to probe it with (/boot has no vmlinuz-*, and no probe \
             kernel was given: oxistack uses the one beside its cirros image, IMAGE.vmlinuz, \
             which images/cirros/build.sh leaves there)"
                .to_owned(),
        ),
        Some(kernel) => match probe(kernel).await {
            Ok(()) => (
                ResolvedAccel::Kvm,
                format!("a kernel booted under KVM ({})", kernel.display()),
            ),
            Err(why) => (
                ResolvedAccel::Tcg,
                format!("KVM does not run guests here: {why}"),
            ),
        },
    };
    let record = ProbeRecord {
        boot_id,
        qemu_version: qemu_version.to_owned(),
        accel,
        reason: reason.clone(),
        kernel,
    };
    if let Err(error) = write_cache(cache_file, &record) {
        tracing::warn!(%error, file = %cache_file.display(), "cannot cache the KVM probe");
    }
    (accel, reason)
}

fn read_cache(file: &Path) -> Option<ProbeRecord> {
    serde_json::from_slice(&std::fs::read(file).ok()?).ok()
}

fn write_cache(file: &Path, record: &ProbeRecord) -> std::io::Result<()> {
    let temporary = file.with_extension("json.tmp");
    std::fs::write(&temporary, serde_json::to_vec_pretty(record)?)?;
    std::fs::rename(&temporary, file)
}

/// The most recently modified `/boot/vmlinuz-*`.
fn newest_boot_kernel() -> Option<PathBuf> {
    std::fs::read_dir("/boot")
        .ok()?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("vmlinuz-"))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .max()
        .map(|(_, path)| path)
}

/// Boots `kernel` under KVM with no disk and waits for its banner on the
/// serial console. Err says why KVM is not usable.
async fn probe(kernel: &Path) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| format!("no temporary directory: {e}"))?;
    let log = dir.path().join("serial.log");
    let mut child = Command::new(QEMU)
        .args([
            "-accel",
            "kvm",
            "-m",
            "128",
            "-nodefaults",
            "-display",
            "none",
        ])
        .arg("-serial")
        .arg(format!("file:{}", log.display()))
        .arg("-kernel")
        .arg(kernel)
        .args(["-append", "console=ttyS0 panic=-1", "-no-reboot"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run {QEMU}: {e}"))?;
    let deadline = tokio::time::Instant::now() + PROBE_TIMEOUT;
    let verdict = loop {
        let serial = std::fs::read(&log).unwrap_or_default();
        if String::from_utf8_lossy(&serial).contains(BANNER) {
            break Ok(());
        }
        if let Ok(Some(_)) = child.try_wait() {
            // QEMU gave up (e.g. KVM failed to initialise); its stderr says why.
            let output = child.wait_with_output().await.map_err(|e| e.to_string())?;
            return Err(stderr_text(&output.stderr, output.status));
        }
        if tokio::time::Instant::now() >= deadline {
            break Err(format!(
                "a kernel printed nothing within {PROBE_TIMEOUT:?} under KVM"
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // The probe guest has no root disk; it is never worth waiting for.
    let _ = child.kill().await;
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cached_verdict_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("accel-probe.json");
        let record = ProbeRecord {
            boot_id: "b".into(),
            qemu_version: "7.2.22".into(),
            accel: ResolvedAccel::Tcg,
            reason: "why".into(),
            kernel: Some("/boot/vmlinuz".into()),
        };
        write_cache(&file, &record).unwrap();
        assert_eq!(read_cache(&file), Some(record));
        std::fs::write(&file, "nonsense").unwrap();
        assert_eq!(read_cache(&file), None);
    }

    #[tokio::test]
    async fn a_cache_for_this_boot_and_version_skips_the_probe() {
        if !kvm_device_usable() {
            return; // Without /dev/kvm the cache is never consulted.
        }
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("accel-probe.json");
        let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
        let record = ProbeRecord {
            boot_id: boot_id.trim().into(),
            qemu_version: "test".into(),
            accel: ResolvedAccel::Kvm,
            reason: "recorded".into(),
            kernel: Some(dir.path().join("the-probed-kernel")),
        };
        write_cache(&file, &record).unwrap();
        // A kernel that does not exist would make a real probe fail.
        let missing = dir.path().join("no-kernel");
        let started = std::time::Instant::now();
        let (accel, reason) = detect(&file, "test", Some(&missing)).await;
        assert_eq!(accel, ResolvedAccel::Kvm);
        assert!(reason.contains("cached"), "{reason}");
        assert!(started.elapsed() < Duration::from_secs(1));
        // Another QEMU version probes again, fails on the kernel, and
        // records that.
        let (accel, reason) = detect(&file, "other", Some(&missing)).await;
        assert_eq!(accel, ResolvedAccel::Tcg, "{reason}");
        assert_eq!(read_cache(&file).unwrap().qemu_version, "other");
    }

    #[tokio::test]
    async fn without_a_kernel_the_verdict_is_tcg_cached_until_a_kernel_turns_up() {
        if !kvm_device_usable() {
            return; // Without /dev/kvm the cache is never consulted.
        }
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("accel-probe.json");
        let (accel, reason) = detect_with(&file, "test", None).await;
        assert_eq!(accel, ResolvedAccel::Tcg);
        assert!(reason.contains("no kernel to probe"), "{reason}");
        let record = read_cache(&file).expect("the verdict is cached");
        assert_eq!((record.accel, record.kernel), (ResolvedAccel::Tcg, None));
        let (_, reason) = detect_with(&file, "test", None).await;
        assert!(reason.contains("cached"), "{reason}");
        // A kernel now at hand is probed (this one cannot boot), and the
        // probe's verdict replaces the one reached without it.
        let missing = dir.path().join("no-kernel");
        let (accel, reason) = detect_with(&file, "test", Some(missing.clone())).await;
        assert_eq!(accel, ResolvedAccel::Tcg);
        assert!(reason.contains("KVM does not run guests"), "{reason}");
        assert_eq!(read_cache(&file).unwrap().kernel, Some(missing));
    }
}
