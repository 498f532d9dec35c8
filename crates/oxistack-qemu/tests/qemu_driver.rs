//! The QEMU driver against real QEMU processes under TCG.
//!
//! `an_instance_boots_pauses_powers_off_and_is_adopted` and
//! `volumes_hot_plug_into_running_guests_and_survive_a_suspend` boot the
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
    PublicKey, RebootKind, VolumeDisk,
};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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
        root_volume: None,
        volumes: Vec::new(),
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
        "serial.sock",
        "qmp.sock",
        "qemu.pid",
    ] {
        assert!(dir.join(file).exists(), "{file} is missing");
    }
    serial_console_answers_with_a_login_prompt(&driver, &id).await;
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
    assert_eq!(
        driver.serial_console(&id).await.err(),
        Some(DriverError::NotRunning(id.clone()))
    );
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
        driver.serial_console(&id).await.err(),
        Some(DriverError::NotFound(id.clone()))
    );
    assert_eq!(
        driver.console_output(&id, None).await,
        Err(DriverError::NotFound(id))
    );
}

/// Connects to the running guest's serial console, presses Enter and
/// expects getty's prompt; what the guest wrote meanwhile is in the
/// console log too, and the log keeps filling once the client is gone.
async fn serial_console_answers_with_a_login_prompt(driver: &QemuDriver, id: &str) {
    let logged_before = driver.console_output(id, None).await.unwrap().len();
    let mut console = driver.serial_console(id).await.unwrap();
    console.write_all(b"\n").await.unwrap();
    let mut seen = Vec::new();
    let mut buffer = [0u8; 1024];
    let deadline = Instant::now() + Duration::from_secs(30);
    while !String::from_utf8_lossy(&seen).contains("login: ") {
        let read = tokio::time::timeout_at(deadline.into(), console.read(&mut buffer))
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "no login prompt on the serial console within 30 s: {:?}",
                    String::from_utf8_lossy(&seen)
                )
            })
            .unwrap();
        assert_ne!(read, 0, "the serial console closed");
        seen.extend_from_slice(&buffer[..read]);
    }
    drop(console);
    let log = driver.console_output(id, None).await.unwrap();
    assert!(log.len() > logged_before, "the console log did not grow");
    assert!(log[logged_before..].contains("login: "), "{log}");
    // Disconnected again: QEMU takes the next client, and logs meanwhile.
    let mut again = driver.serial_console(id).await.unwrap();
    again.write_all(b"\n").await.unwrap();
    drop(again);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = driver.console_output(id, None).await.unwrap();
        if now.len() > log.len() {
            break;
        }
        assert!(Instant::now() < deadline, "the console log stopped filling");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
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

/// Runs one QMP command on instance `id`'s QEMU and returns its `return`.
fn qmp(instances_dir: &Path, id: &str, command: &str, arguments: Value) -> Value {
    use std::io::{BufRead, BufReader, Write};
    let socket = instances_dir.join(id).join("qmp.sock");
    let stream = std::os::unix::net::UnixStream::connect(&socket).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut lines = BufReader::new(stream).lines();
    lines.next().unwrap().unwrap();
    let mut reply = Value::Null;
    for (command, arguments) in [("qmp_capabilities", json!({})), (command, arguments)] {
        let request = json!({ "execute": command, "arguments": arguments });
        writeln!(writer, "{request}").unwrap();
        reply = loop {
            let message: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
            if message.get("event").is_none() {
                break message;
            }
        };
    }
    reply
        .get("return")
        .cloned()
        .unwrap_or_else(|| panic!("{command} failed: {reply}"))
}

/// The virtual sizes of the block nodes QEMU has, by node name.
fn block_nodes(instances_dir: &Path, id: &str) -> Vec<(String, u64)> {
    let nodes = qmp(
        instances_dir,
        id,
        "query-named-block-nodes",
        json!({"flat": true}),
    );
    nodes
        .as_array()
        .unwrap()
        .iter()
        .map(|node| {
            (
                node["node-name"].as_str().unwrap().to_owned(),
                node["image"]["virtual-size"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn has_node(instances_dir: &Path, id: &str, node: &str) -> bool {
    block_nodes(instances_dir, id)
        .iter()
        .any(|(name, _)| name == node)
}

fn saved_spec(instances_dir: &Path, id: &str) -> InstanceSpec {
    serde_json::from_slice(&std::fs::read(instances_dir.join(id).join("spec.json")).unwrap())
        .unwrap()
}

fn qemu_img(args: &[&str]) {
    let status = Command::new("qemu-img").args(args).status().unwrap();
    assert!(status.success(), "qemu-img {args:?} failed");
}

fn volume(path: &Path, format: &str) -> VolumeDisk {
    VolumeDisk {
        volume_id: uuid::Uuid::new_v4().to_string(),
        path: path.to_owned(),
        format: format.into(),
        shareable: false,
        read_only: false,
    }
}

/// Waits until the console shows `line`, and returns how long that took.
async fn wait_console(driver: &QemuDriver, id: &str, line: &str) -> Duration {
    let started = Instant::now();
    loop {
        let console = driver.console_output(id, None).await.unwrap();
        if console.contains(line) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no `{line}` within 30 s; console:\n{}",
            oxistack_virt::tail(&console, Some(30))
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Two guests of the test image, one booted from a root volume: a qcow2
/// volume is hot-plugged into one (the guest's mdev announces it by its
/// serial), resized and unplugged; a raw shareable one into both at once;
/// a suspend to disk and a resume keep the hot-plugged disk.
#[tokio::test]
async fn volumes_hot_plug_into_running_guests_and_survive_a_suspend() {
    let image = test_image();
    let temporary = tempfile::tempdir().unwrap();
    let instances = temporary.path().join("instances");
    let _guard = KillOnDrop(instances.clone());
    let driver = driver(&instances, None).await;

    let dir = temporary.path();
    let root_file = dir.join("root.qcow2");
    qemu_img(&[
        "convert",
        "-q",
        "-O",
        "qcow2",
        image.to_str().unwrap(),
        root_file.to_str().unwrap(),
    ]);
    let data_file = dir.join("data.qcow2");
    qemu_img(&[
        "create",
        "-q",
        "-f",
        "qcow2",
        data_file.to_str().unwrap(),
        "64M",
    ]);
    let shared_file = dir.join("shared.raw");
    qemu_img(&[
        "create",
        "-q",
        "-f",
        "raw",
        shared_file.to_str().unwrap(),
        "32M",
    ]);
    let root = volume(&root_file, "qcow2");
    let data = volume(&data_file, "qcow2");
    let shared = VolumeDisk {
        shareable: true,
        ..volume(&shared_file, "raw")
    };

    // Boot from a volume: no image needed, no overlay made.
    let mut first = spec(&image, "qcow2", 1);
    first.image.path = None;
    first.root_volume = Some(root.clone());
    first.config_drive = true;
    let mut second = spec(&image, "qcow2", 1);
    second.config_drive = true;
    let (a, b) = (first.id.clone(), second.id.clone());
    driver.spawn(&first).await.unwrap();
    driver.spawn(&second).await.unwrap();
    assert!(!instances.join(&a).join("disk.qcow2").exists());
    let boot = wait_ready(&driver, &a, 1).await;
    wait_ready(&driver, &b, 1).await;
    eprintln!("the guest booted from a volume was ready after {boot:?}");
    // The guest finds its root volume by its serial, as udev would.
    wait_console(
        &driver,
        &a,
        &format!("disk vda serial {} added", root.serial()),
    )
    .await;

    // Hot-plug: the guest sees the disk by its serial.
    let started = Instant::now();
    driver.attach_volume(&a, &data).await.unwrap();
    let plugged = started.elapsed();
    let seen = wait_console(&driver, &a, &format!("serial {} added", data.serial())).await;
    eprintln!(
        "qcow2 volume: attach_volume took {plugged:?}, the guest's console line {:?} later",
        seen
    );
    let node = format!("vol-{}", data.serial());
    assert!(has_node(&instances, &a, &node));
    assert_eq!(saved_spec(&instances, &a).volumes, vec![data.clone()]);
    driver.attach_volume(&a, &data).await.unwrap();
    assert_eq!(saved_spec(&instances, &a).volumes.len(), 1);
    let elsewhere = VolumeDisk {
        path: shared_file.clone(),
        ..data.clone()
    };
    let error = driver.attach_volume(&a, &elsewhere).await.unwrap_err();
    assert!(error.to_string().contains("already plugged"), "{error}");

    // Growing the volume reaches the running guest's disk.
    driver
        .resize_volume(&a, &data.volume_id, 128 << 20)
        .await
        .unwrap();
    let size = block_nodes(&instances, &a)
        .into_iter()
        .find(|(name, _)| *name == node)
        .unwrap()
        .1;
    assert_eq!(size, 128 << 20);

    // A shareable raw volume in both guests at once.
    driver.attach_volume(&a, &shared).await.unwrap();
    driver.attach_volume(&b, &shared).await.unwrap();
    for id in [&a, &b] {
        wait_console(&driver, id, &format!("serial {} added", shared.serial())).await;
    }

    // Unplug: done once the guest has let go, and gone everywhere.
    let started = Instant::now();
    driver.detach_volume(&a, &data.volume_id).await.unwrap();
    let unplugged = started.elapsed();
    eprintln!("qcow2 volume: detach_volume (until DEVICE_DELETED) took {unplugged:?}");
    wait_console(&driver, &a, &format!("serial {} removed", data.serial())).await;
    assert!(!has_node(&instances, &a, &node));
    assert!(!has_node(&instances, &a, &format!("{node}-file")));
    assert_eq!(saved_spec(&instances, &a).volumes, vec![shared.clone()]);
    driver.detach_volume(&a, &data.volume_id).await.unwrap();

    // Suspended to disk and resumed with the hot-plugged disk where it was.
    assert_eq!(QemuDriver::suspend_all(&instances).await.unwrap(), (2, 0));
    for id in [&a, &b] {
        driver.power_on(id).await.unwrap();
        assert_eq!(driver.state(id).await.unwrap(), InstanceState::Running);
        let console = driver.console_output(id, None).await.unwrap();
        assert_eq!(console.matches(READY).count(), 1, "{id} booted again");
        assert!(has_node(
            &instances,
            id,
            &format!("vol-{}", shared.serial())
        ));
    }
    // The resumed guests still answer an unplug.
    for id in [&a, &b] {
        driver.detach_volume(id, &shared.volume_id).await.unwrap();
        wait_console(&driver, id, &format!("serial {} removed", shared.serial())).await;
        assert!(saved_spec(&instances, id).volumes.is_empty());
    }
    driver.destroy(&a).await.unwrap();
    driver.destroy(&b).await.unwrap();
    // The volumes' files are not the instances' to remove.
    assert!(root_file.exists() && data_file.exists() && shared_file.exists());
}

/// A guest that never lets go of a disk (no OS to answer the ACPI eject)
/// keeps its volume: the detach times out and says so. Volumes in the spec
/// are on the command line of every later start; one detached from a
/// stopped instance is only dropped from its spec.
#[tokio::test]
async fn a_volume_the_guest_does_not_release_stays_attached() {
    let temporary = tempfile::tempdir().unwrap();
    let instances = temporary.path().join("instances");
    let _guard = KillOnDrop(instances.clone());
    let image = spinning_image(temporary.path(), 1 << 20);
    let data_file = temporary.path().join("data.raw");
    qemu_img(&[
        "create",
        "-q",
        "-f",
        "raw",
        data_file.to_str().unwrap(),
        "16M",
    ]);
    let data = volume(&data_file, "raw");
    let driver = driver(&instances, None).await;
    let spec = spec(&image, "raw", 0);
    let id = spec.id.clone();
    driver.spawn(&spec).await.unwrap();
    driver.attach_volume(&id, &data).await.unwrap();
    let node = format!("vol-{}", data.serial());
    assert!(has_node(&instances, &id, &node));

    let started = Instant::now();
    let error = driver
        .detach_volume(&id, &data.volume_id)
        .await
        .unwrap_err();
    eprintln!(
        "an unreleased volume's detach failed after {:?}: {error}",
        started.elapsed()
    );
    assert!(matches!(error, DriverError::Timeout { .. }), "{error}");
    assert_eq!(saved_spec(&instances, &id).volumes, vec![data.clone()]);
    assert!(has_node(&instances, &id, &node));

    // A host reboot: the volume is on the next start's command line.
    // The compute service spawns it again with its volumes in the spec.
    assert_eq!(QemuDriver::kill_all(&instances).unwrap(), 1);
    driver.spawn(&saved_spec(&instances, &id)).await.unwrap();
    assert!(has_node(&instances, &id, &node));
    driver.power_off(&id, Duration::ZERO).await.unwrap();
    driver.detach_volume(&id, &data.volume_id).await.unwrap();
    assert!(saved_spec(&instances, &id).volumes.is_empty());
    // Attached while stopped: plugged when it starts.
    driver.attach_volume(&id, &data).await.unwrap();
    driver
        .resize_volume(&id, &data.volume_id, 32 << 20)
        .await
        .unwrap();
    driver.power_on(&id).await.unwrap();
    assert!(has_node(&instances, &id, &node));
    let vmdk = VolumeDisk {
        format: "vmdk".into(),
        ..volume(&data_file, "raw")
    };
    let error = driver.attach_volume(&id, &vmdk).await.unwrap_err();
    assert!(error.to_string().contains("only qcow2 and raw"), "{error}");
    driver.destroy(&id).await.unwrap();
}
