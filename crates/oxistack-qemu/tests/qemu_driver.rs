//! The QEMU driver against real QEMU processes under TCG.
//!
//! `an_instance_boots_pauses_powers_off_and_is_adopted` boots the
//! project's test image from `$OXISTACK_TEST_IMAGE`; the other tests use a
//! one-instruction boot sector that spins forever, which is all a running
//! QEMU needs.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use oxistack_qemu::{Accel, QemuConfig, QemuDriver, ResolvedAccel};
use oxistack_virt::{
    ComputeDriver, DriverError, ImageSource, InstanceMetadata, InstanceSpec, InstanceState, Nic,
    PublicKey, RebootKind,
};

const READY: &str = "login: cirros ready";

/// Kills every QEMU a test started, even when the test fails.
struct KillOnDrop(PathBuf);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Err(error) = QemuDriver::kill_all(&self.0) {
            eprintln!("cannot kill the test's QEMU processes: {error}");
        }
    }
}

fn test_image() -> PathBuf {
    match std::env::var_os("OXISTACK_TEST_IMAGE") {
        Some(path) => PathBuf::from(path),
        None => panic!(
            "OXISTACK_TEST_IMAGE is not set: scripts/test.sh builds the test image and exports it; \
             to run this test alone, run `export OXISTACK_TEST_IMAGE=$(bash -c 'source scripts/lib.sh; \
             ensure_test_image .')` from the repository root (or look in ~/.cache/oxistack/images/)"
        ),
    }
}

/// A raw disk of `size` bytes whose boot sector is `jmp $`.
fn spinning_image(dir: &Path, size: u64) -> PathBuf {
    let path = dir.join("spin.raw");
    let mut sector = vec![0u8; 512];
    sector[0] = 0xEB; // jmp $
    sector[1] = 0xFE;
    sector[510] = 0x55;
    sector[511] = 0xAA;
    std::fs::write(&path, sector).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(size)
        .unwrap();
    path
}

async fn driver(instances_dir: &Path, netns: Option<String>) -> QemuDriver {
    let driver = QemuDriver::new(QemuConfig {
        instances_dir: instances_dir.to_owned(),
        netns,
        accel: Accel::Tcg,
        probe_kernel: None,
        host_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
    })
    .await
    .unwrap();
    assert_eq!(driver.accelerator(), ResolvedAccel::Tcg);
    driver
}

fn spec(image: &Path, format: &str, root_disk_gib: u64) -> InstanceSpec {
    let id = uuid::Uuid::new_v4().to_string();
    InstanceSpec {
        id: id.clone(),
        name: "probe".into(),
        hostname: "probe".into(),
        project_id: "project".into(),
        availability_zone: "nova".into(),
        vcpus: 1,
        memory_mib: 256,
        root_disk_gib,
        image: ImageSource {
            id: "image".into(),
            path: Some(image.to_owned()),
            disk_format: Some(format.into()),
        },
        nics: Vec::new(),
        config_drive: false,
        metadata: InstanceMetadata {
            uuid: id,
            name: "probe".into(),
            hostname: "probe.novalocal".into(),
            ..InstanceMetadata::default()
        },
    }
}

fn pid_of(instances_dir: &Path, id: &str) -> u32 {
    let text = std::fs::read_to_string(instances_dir.join(id).join("qemu.pid")).unwrap();
    text.trim().parse().unwrap()
}

/// Whether `pid` runs; a zombie (exited, not yet reaped by init) does not.
/// A process that is exiting has lost its command line before it turns
/// zombie, so an empty one counts as not running, as the driver sees it.
fn process_runs(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmdline| !cmdline.is_empty())
}

/// Waits until the console shows `READY` `times` times.
async fn wait_ready(driver: &QemuDriver, id: &str, times: usize) -> Duration {
    let started = Instant::now();
    loop {
        let console = driver.console_output(id, None).await.unwrap();
        if console.matches(READY).count() >= times {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "no `{READY}` within 90 s; console:\n{}",
            oxistack_virt::tail(&console, Some(30))
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn an_instance_boots_pauses_powers_off_and_is_adopted() {
    let image = test_image();
    let temporary = tempfile::tempdir().unwrap();
    let instances = temporary.path().join("instances");
    let _guard = KillOnDrop(instances.clone());
    let driver = driver(&instances, None).await;
    let mut spec = spec(&image, "qcow2", 1);
    spec.config_drive = true;
    spec.metadata.key = Some(PublicKey {
        name: "key".into(),
        data:
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGQ2ZG9rZXlrZXlrZXlrZXlrZXlrZXlrZXlrZXlrZXk test"
                .into(),
    });
    let id = spec.id.clone();

    let started = Instant::now();
    driver.spawn(&spec).await.unwrap();
    let spawn_time = started.elapsed();
    assert_eq!(driver.state(&id).await.unwrap(), InstanceState::Running);
    let ready_time = wait_ready(&driver, &id, 1).await + spawn_time;
    eprintln!("spawn took {spawn_time:?}; `{READY}` after {ready_time:?}");
    assert!(
        spawn_time < Duration::from_secs(5),
        "spawn took {spawn_time:?}"
    );

    let console = driver.console_output(&id, None).await.unwrap();
    assert!(console.contains("config-drive"), "{console}");
    assert!(console.contains("hostname probe"), "{console}");
    assert!(console.contains("installed 1 ssh key(s)"), "{console}");
    assert_eq!(
        driver
            .console_output(&id, Some(1))
            .await
            .unwrap()
            .lines()
            .count(),
        1
    );
    let dir = instances.join(&id);
    for file in [
        "spec.json",
        "disk.qcow2",
        "config.iso",
        "console.log",
        "qmp.sock",
        "qemu.pid",
    ] {
        assert!(dir.join(file).exists(), "{file} is missing");
    }
    let host = driver.host();
    assert_eq!(host.hypervisor_type, "QEMU");
    assert!(host.hypervisor_version > 1_000_000);

    // A second driver over the same directory (oxistack restarted) adopts it.
    let adopter = self::driver(&instances, None).await;
    let listed = adopter.list().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, id);
    assert_eq!(listed[0].state, InstanceState::Running);
    // Spawning a running instance again changes nothing.
    let pid = pid_of(&instances, &id);
    adopter.spawn(&spec).await.unwrap();
    assert_eq!(pid_of(&instances, &id), pid);

    driver.pause(&id).await.unwrap();
    assert_eq!(adopter.state(&id).await.unwrap(), InstanceState::Paused);
    driver.unpause(&id).await.unwrap();
    assert_eq!(driver.state(&id).await.unwrap(), InstanceState::Running);

    let started = Instant::now();
    driver
        .power_off(&id, Duration::from_secs(30))
        .await
        .unwrap();
    let power_off_time = started.elapsed();
    eprintln!("ACPI power-off took {power_off_time:?}");
    assert_eq!(driver.state(&id).await.unwrap(), InstanceState::Shutdown);
    assert!(!process_runs(pid), "QEMU {pid} still runs");
    let console = driver.console_output(&id, None).await.unwrap();
    assert!(
        console.contains("oxistack-cirros: shutting down"),
        "{console}"
    );
    // The guest shut down by itself, well before the grace period ended.
    assert!(power_off_time < Duration::from_secs(25));
    driver
        .power_off(&id, Duration::from_secs(30))
        .await
        .unwrap();

    driver.power_on(&id).await.unwrap();
    assert_eq!(driver.state(&id).await.unwrap(), InstanceState::Running);
    let second_boot = wait_ready(&driver, &id, 2).await;
    eprintln!("second boot ready after {second_boot:?}");
    driver.power_on(&id).await.unwrap();

    // A soft reboot powers the guest off through ACPI and starts it again.
    driver.reboot(&id, RebootKind::Soft).await.unwrap();
    assert_eq!(driver.state(&id).await.unwrap(), InstanceState::Running);
    let console = driver.console_output(&id, None).await.unwrap();
    assert_eq!(console.matches("oxistack-cirros: shutting down").count(), 2);
    assert_ne!(pid_of(&instances, &id), pid);

    driver.reboot(&id, RebootKind::Hard).await.unwrap();
    assert_eq!(driver.state(&id).await.unwrap(), InstanceState::Running);

    let pid = pid_of(&instances, &id);
    driver.destroy(&id).await.unwrap();
    assert!(!dir.exists());
    assert!(!process_runs(pid), "QEMU {pid} still runs");
    assert_eq!(driver.state(&id).await.unwrap(), InstanceState::Absent);
    assert!(driver.list().await.unwrap().is_empty());
    driver.destroy(&id).await.unwrap();
    assert_eq!(
        driver.power_on(&id).await,
        Err(DriverError::NotFound(id.clone()))
    );
    assert_eq!(
        driver.console_output(&id, None).await,
        Err(DriverError::NotFound(id))
    );
}

#[tokio::test]
async fn an_image_without_a_boot_sector_is_refused_and_leaves_nothing() {
    let temporary = tempfile::tempdir().unwrap();
    let instances = temporary.path().join("instances");
    let _guard = KillOnDrop(instances.clone());
    let zeros = temporary.path().join("zeros.raw");
    std::fs::write(&zeros, vec![0u8; 1 << 20]).unwrap();
    let driver = driver(&instances, None).await;
    let spec = spec(&zeros, "raw", 1);
    let error = driver.spawn(&spec).await.unwrap_err();
    assert!(
        matches!(&error, DriverError::ImageUnavailable { reason, .. } if reason.contains("no boot sector")),
        "{error}"
    );
    assert!(!instances.join(&spec.id).exists());
    assert_eq!(driver.state(&spec.id).await.unwrap(), InstanceState::Absent);
}

#[tokio::test]
async fn a_flavor_disk_smaller_than_the_image_is_refused_and_leaves_nothing() {
    let temporary = tempfile::tempdir().unwrap();
    let instances = temporary.path().join("instances");
    let _guard = KillOnDrop(instances.clone());
    let image = spinning_image(temporary.path(), 2 << 30);
    let driver = driver(&instances, None).await;
    let spec = spec(&image, "raw", 1);
    let error = driver.spawn(&spec).await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("flavor's disk (1 GiB) is smaller than the image's virtual size"),
        "{error}"
    );
    assert!(matches!(error, DriverError::ImageUnavailable { .. }));
    assert!(!instances.join(&spec.id).exists());
}

#[tokio::test]
async fn qemu_errors_are_reported_and_leave_nothing() {
    let temporary = tempfile::tempdir().unwrap();
    let instances = temporary.path().join("instances");
    let _guard = KillOnDrop(instances.clone());
    let image = spinning_image(temporary.path(), 1 << 20);
    let driver = driver(&instances, None).await;
    let mut spec = spec(&image, "raw", 0);
    spec.id = "not-a-uuid".into();
    let error = driver.spawn(&spec).await.unwrap_err();
    assert!(
        matches!(&error, DriverError::Hypervisor { reason, .. } if reason.contains("UUID")),
        "{error}"
    );
    assert!(!instances.join(&spec.id).exists());
}

/// Removes the test's network namespace (and its taps).
struct NamespaceGuard(String);

impl Drop for NamespaceGuard {
    fn drop(&mut self) {
        let _ = oxistack_netns::delete(&self.0);
    }
}

fn add_tap(netns: &str, nic: &Nic) {
    let status = Command::new("ip")
        .args([
            "-n",
            netns,
            "tuntap",
            "add",
            "dev",
            &nic.tap_name(),
            "mode",
            "tap",
        ])
        .status()
        .unwrap();
    assert!(status.success(), "cannot create tap {}", nic.tap_name());
}

fn nic(port: u8) -> Nic {
    Nic {
        port_id: format!("{port:02x}2e8a91-7f3c-4e1b-9a0d-2c4b6e8f0a1c"),
        mac_address: format!("fa:16:3e:00:00:{port:02x}"),
        network_id: "net".into(),
        fixed_ips: Vec::new(),
    }
}

/// Needs root: QEMU runs inside a named namespace, on taps made there, and
/// NICs are hot-plugged and unplugged; spawning again after a simulated
/// host reboot boots the same disk.
#[tokio::test]
async fn nics_plug_into_taps_in_the_namespace_and_a_kill_all_is_survived() {
    let temporary = tempfile::tempdir().unwrap();
    let instances = temporary.path().join("instances");
    let _guard = KillOnDrop(instances.clone());
    let netns = format!("oxq-test-{}", std::process::id());
    oxistack_netns::create(&netns).unwrap();
    let _netns_guard = NamespaceGuard(netns.clone());
    let (first, second) = (nic(1), nic(2));
    add_tap(&netns, &first);
    add_tap(&netns, &second);

    let image = spinning_image(temporary.path(), 1 << 20);
    let driver = driver(&instances, Some(netns.clone())).await;
    let mut spec = spec(&image, "raw", 0);
    spec.nics = vec![first.clone()];
    let id = spec.id.clone();
    let started = Instant::now();
    driver.spawn(&spec).await.unwrap();
    eprintln!("spawn with a NIC took {:?}", started.elapsed());

    let pid = pid_of(&instances, &id);
    let inode = |path: String| {
        std::fs::metadata(path)
            .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
            .unwrap()
    };
    assert_eq!(
        inode(format!("/proc/{pid}/ns/net")),
        inode(format!("/run/netns/{netns}")),
        "QEMU runs outside the namespace"
    );

    driver.attach_nic(&id, &second).await.unwrap();
    driver.attach_nic(&id, &second).await.unwrap();
    let spec_file = instances.join(&id).join("spec.json");
    let saved: InstanceSpec = serde_json::from_slice(&std::fs::read(&spec_file).unwrap()).unwrap();
    assert_eq!(saved.nics, vec![first.clone(), second.clone()]);
    driver.detach_nic(&id, &first.port_id).await.unwrap();
    driver.detach_nic(&id, &first.port_id).await.unwrap();
    let saved: InstanceSpec = serde_json::from_slice(&std::fs::read(&spec_file).unwrap()).unwrap();
    assert_eq!(saved.nics, vec![second.clone()]);

    // A simulated host reboot: every QEMU dies, the files stay.
    assert_eq!(QemuDriver::kill_all(&instances).unwrap(), 1);
    assert!(!process_runs(pid));
    assert_eq!(driver.state(&id).await.unwrap(), InstanceState::Shutdown);
    let disk = instances.join(&id).join("disk.qcow2");
    let disk_inode = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&disk).unwrap());
    driver.spawn(&spec).await.unwrap();
    assert_eq!(driver.state(&id).await.unwrap(), InstanceState::Running);
    let inode_now = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&disk).unwrap());
    assert_eq!(inode_now, disk_inode, "the disk was made again");
    assert_eq!(QemuDriver::kill_all(&instances).unwrap(), 1);
    assert_eq!(QemuDriver::kill_all(&instances).unwrap(), 0);
}

/// Auto probes KVM at most once per host boot: a second driver over the
/// same directory reuses the verdict at once.
#[tokio::test]
async fn auto_acceleration_is_probed_once_and_cached() {
    let temporary = tempfile::tempdir().unwrap();
    let instances = temporary.path().join("instances");
    let config = QemuConfig {
        instances_dir: instances.clone(),
        netns: None,
        accel: Accel::Auto,
        probe_kernel: None,
        host_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
    };
    let started = Instant::now();
    let first = QemuDriver::new(config.clone()).await.unwrap();
    let probe_time = started.elapsed();
    eprintln!(
        "Auto resolved to {:?} in {probe_time:?}",
        first.accelerator()
    );
    assert!(probe_time < Duration::from_secs(8), "{probe_time:?}");
    let started = Instant::now();
    let second = QemuDriver::new(config).await.unwrap();
    assert_eq!(second.accelerator(), first.accelerator());
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    if std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_ok()
    {
        assert!(instances.join("accel-probe.json").exists());
    }
}
