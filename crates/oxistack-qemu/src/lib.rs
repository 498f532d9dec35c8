//! The QEMU compute driver: one daemonized `qemu-system-x86_64` per
//! instance, driven over QMP.
//!
//! Each instance lives in `<instances_dir>/<id>/`: `spec.json` (what it
//! was spawned with, and the volumes attached since), `disk.qcow2` (an
//! overlay over the image, unless it boots from a volume),
//! `config.iso`, `console.log`, `serial.sock` (the serial console, live),
//! `qmp.sock` and `qemu.pid`. Nothing else is
//! kept: the driver learns everything from those files and `/proc`, so
//! guests outlive oxistack (they are daemonized into their own session)
//! and a restarted oxistack adopts them through [`ComputeDriver::list`].
//! After a host reboot the directories remain with no process, every
//! instance reads as `Shutdown`, and a spawn boots the same disk again.

mod accel;
mod command_line;
mod host;
mod image;
mod instance_dir;
mod process;
mod qmp;
mod suspend;
mod tool;
mod volumes;

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use oxistack_virt::{
    ComputeDriver, DriverError, DriverResult, HostInfo, InstanceInfo, InstanceSpec, InstanceState,
    Nic, RebootKind, SerialConsole, VolumeDisk,
};
use serde_json::json;
use tokio::sync::OwnedMutexGuard;

pub use accel::{Accel, ResolvedAccel};

use command_line::{LaunchOptions, QEMU};
use instance_dir::InstancePaths;
use qmp::{QmpClient, QmpError};

/// How long one QMP exchange may take before QEMU counts as wedged.
const QMP_TIMEOUT: Duration = Duration::from_secs(5);
/// A shorter bound for status queries, which must never stall a listing.
const QMP_STATUS_TIMEOUT: Duration = Duration::from_secs(2);
/// How long QEMU may take to daemonize (open its disks, bind QMP).
const LAUNCH_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a daemonized QEMU may take to report `running` over QMP.
const RUNNING_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a starting QEMU's QMP socket is tried.
const RUNNING_POLL: Duration = Duration::from_millis(10);
/// How long QMP `quit` gets before SIGKILL.
const QUIT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a SIGKILLed QEMU may take to disappear.
const KILL_TIMEOUT: Duration = Duration::from_secs(10);
/// Where images are pinned for the overlays built on them, inside the
/// instances directory (it holds no spec, so it is never an instance).
const BASE_DIR: &str = "_base";
/// How long a soft reboot waits for the guest to power off.
const SOFT_REBOOT_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a NIC unplug waits for the guest to release the device.
const UNPLUG_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a volume unplug waits for the guest to release the disk; a
/// volume still plugged is never reported detached.
const VOLUME_UNPLUG_TIMEOUT: Duration = Duration::from_secs(20);

/// Where the driver keeps instances and how it runs them.
#[derive(Debug, Clone)]
pub struct QemuConfig {
    /// Where instance directories live, e.g. `<state_dir>/instances`.
    pub instances_dir: PathBuf,
    /// Named network namespace the taps live in (the QEMU process runs
    /// inside it); `None` = the current one.
    pub netns: Option<String>,
    pub accel: Accel,
    /// Kernel for the KVM probe; `None` = newest `/boot/vmlinuz-*`, and
    /// without one there, TCG (KVM is not tried).
    pub probe_kernel: Option<PathBuf>,
    /// The host's address for [`HostInfo`].
    pub host_ip: IpAddr,
}

/// Why the driver cannot start.
#[derive(Debug, thiserror::Error)]
pub enum QemuError {
    #[error("{program} is not installed (install the Debian package {package})")]
    MissingProgram {
        program: &'static str,
        package: &'static str,
    },
    #[error("cannot use {} for instances: {source}", path.display())]
    InstancesDir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("the instances directory {} must be a UTF-8 path", .0.display())]
    NonUtf8InstancesDir(PathBuf),
    #[error("cannot tell QEMU's version: {0}")]
    QemuVersion(String),
    #[error("KVM was asked for but /dev/kvm is missing or not usable; use accel auto or tcg")]
    KvmUnavailable,
}

/// The programs the driver runs, with the Debian packages that have them.
const PREREQUISITES: [(&str, &str); 3] = [
    (QEMU, "qemu-system-x86"),
    ("qemu-img", "qemu-utils"),
    ("genisoimage", "genisoimage"),
];

pub struct QemuDriver {
    instances_dir: PathBuf,
    netns: Option<String>,
    accel: ResolvedAccel,
    /// Whether `/dev/vhost-net` exists, for the NICs' `vhost=on`.
    vhost_net: bool,
    host: HostInfo,
    /// One lock per instance, so two operations never interleave on the
    /// same QEMU (e.g. a destroy during a spawn).
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl QemuDriver {
    /// Checks prerequisites, resolves [`Accel::Auto`] (probing KVM once per
    /// host boot) and reads the host's facts.
    pub async fn new(config: QemuConfig) -> Result<QemuDriver, QemuError> {
        for (program, package) in PREREQUISITES {
            if tool::find_on_path(program).is_none() {
                return Err(QemuError::MissingProgram { program, package });
            }
        }
        let instances_dir_error = |source| QemuError::InstancesDir {
            path: config.instances_dir.clone(),
            source,
        };
        // QEMU chdirs to / when it daemonizes: every path it gets must be
        // absolute.
        let instances_dir =
            std::path::absolute(&config.instances_dir).map_err(instances_dir_error)?;
        if instances_dir.to_str().is_none() {
            return Err(QemuError::NonUtf8InstancesDir(instances_dir));
        }
        {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&instances_dir)
                .map_err(instances_dir_error)?;
        }
        let version_output = tool::run(QEMU, ["--version"])
            .await
            .map_err(|e| QemuError::QemuVersion(e.to_string()))?;
        let version_text = String::from_utf8_lossy(&version_output).into_owned();
        let version = host::parse_qemu_version(&version_text).ok_or_else(|| {
            QemuError::QemuVersion(format!("unexpected output {:?}", version_text.trim()))
        })?;
        let (accel, reason) = match config.accel {
            Accel::Tcg => (ResolvedAccel::Tcg, "configured".to_owned()),
            Accel::Kvm if accel::kvm_device_usable() => {
                (ResolvedAccel::Kvm, "configured".to_owned())
            }
            Accel::Kvm => return Err(QemuError::KvmUnavailable),
            Accel::Auto => {
                let cache = instances_dir.join("accel-probe.json");
                let version_key = format!("{}.{}.{}", version.0, version.1, version.2);
                accel::detect(&cache, &version_key, config.probe_kernel.as_deref()).await
            }
        };
        tracing::info!(?accel, %reason, "QEMU accelerator chosen");
        let host = host::probe(&instances_dir, config.host_ip, version);
        Ok(QemuDriver {
            instances_dir,
            netns: config.netns,
            accel,
            vhost_net: Path::new("/dev/vhost-net").exists(),
            host,
            locks: Mutex::new(HashMap::new()),
        })
    }

    /// The accelerator instances run with.
    pub fn accelerator(&self) -> ResolvedAccel {
        self.accel
    }

    /// For `oxistack teardown`, as libvirt-guests does on a host shutdown:
    /// suspends every running guest under `instances_dir` to disk (its next
    /// start resumes it) and stops its QEMU. A guest that cannot be saved
    /// is stopped anyway, and boots on its next start. Returns how many
    /// were saved and how many only stopped.
    pub async fn suspend_all(instances_dir: &Path) -> io::Result<(usize, usize)> {
        let (mut saved, mut stopped) = (0, 0);
        for paths in instance_paths(instances_dir)? {
            let Some(pid) = process::live_pid(&paths.pidfile) else {
                continue;
            };
            match suspend::save(&paths).await {
                Ok(()) => saved += 1,
                Err(error) => {
                    tracing::warn!(dir = %paths.dir.display(), %error, "cannot save a guest; stopping it");
                    stopped += 1;
                }
            }
            // Saving flushed the disks; QEMU may go without ceremony.
            process::kill_and_wait(pid, &paths.pidfile, KILL_TIMEOUT).await?;
        }
        Ok((saved, stopped))
    }

    /// For `oxistack teardown --hard` (a simulated power loss): kills the QEMU of
    /// every instance under `instances_dir`, keeping their files, and
    /// returns how many it killed. A pid is only killed when its command
    /// line names the instance's pid file, so a recycled pid is safe.
    pub fn kill_all(instances_dir: &Path) -> io::Result<usize> {
        let mut killed = Vec::new();
        for paths in instance_paths(instances_dir)? {
            if let Some(pid) = process::live_pid(&paths.pidfile) {
                process::kill_hard(pid)?;
                killed.push((pid, paths.pidfile));
            }
        }
        for (pid, pidfile) in &killed {
            if !process::wait_gone_blocking(*pid, pidfile, KILL_TIMEOUT) {
                return Err(process::survived_sigkill(*pid));
            }
        }
        Ok(killed.len())
    }

    fn paths(&self, id: &str) -> Option<InstancePaths> {
        InstancePaths::new(&self.instances_dir, id)
    }

    /// The paths of an instance that exists, else NotFound.
    fn existing(&self, id: &str) -> DriverResult<InstancePaths> {
        self.paths(id)
            .filter(InstancePaths::exists)
            .ok_or_else(|| DriverError::NotFound(id.to_owned()))
    }

    async fn lock(&self, id: &str) -> OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
            locks.entry(id.to_owned()).or_default().clone()
        };
        lock.lock_owned().await
    }

    async fn spawn_instance(&self, spec: &InstanceSpec) -> DriverResult<()> {
        let paths = self.paths(&spec.id).ok_or_else(|| {
            hypervisor(
                &spec.id,
                "spawn",
                "the id cannot name an instance directory",
            )
        })?;
        let _lock = self.lock(&spec.id).await;
        if process::live_pid(&paths.pidfile).is_some() {
            tracing::info!(id = %spec.id, "instance already running; spawn has nothing to do");
            return Ok(());
        }
        let started = Instant::now();
        let mut undo = Undo {
            paths: &paths,
            // A directory with a spec belongs to an instance spawned before
            // (e.g. before a host reboot): a failure must keep its disk.
            keep_dir: paths.exists(),
            created: Vec::new(),
        };
        match self.prepare_and_start(spec, &paths, &mut undo).await {
            Ok(()) => {
                tracing::info!(id = %spec.id, elapsed = ?started.elapsed(), "instance spawned");
                Ok(())
            }
            Err(error) => {
                tracing::warn!(id = %spec.id, %error, "spawn failed; cleaning up");
                undo.run();
                Err(error)
            }
        }
    }

    async fn prepare_and_start(
        &self,
        spec: &InstanceSpec,
        paths: &InstancePaths,
        undo: &mut Undo<'_>,
    ) -> DriverResult<()> {
        // A root volume is the root disk: no image, no overlay.
        let needs_disk = spec.root_volume.is_none() && !paths.disk.exists();
        if let Some(reason) = spec
            .root_volume
            .iter()
            .chain(&spec.volumes)
            .find_map(command_line::unsupported_volume)
        {
            return Err(hypervisor(&spec.id, "spawn", reason));
        }
        // Check the image before anything is created for the instance.
        let image = if needs_disk {
            let image = image::check(&spec.image, &self.instances_dir).await?;
            let image = image::pin_base(image, &spec.image.id, &self.instances_dir.join(BASE_DIR))
                .map_err(|e| hypervisor(&spec.id, "cache the image of", e))?;
            let size =
                image::root_disk_size(&spec.image.id, spec.root_disk_gib, image.virtual_size)?;
            Some((image, size))
        } else {
            None
        };
        paths.create_dir()?;
        if let Some((image, size)) = image {
            undo.created.push(paths.disk.clone());
            image::create_overlay(&image, size, &paths.disk)
                .await
                .map_err(|e| hypervisor(&spec.id, "create the disk of", e))?;
        }
        if spec.config_drive && !paths.config_drive.exists() {
            undo.created.push(paths.config_drive.clone());
            image::write_config_drive(&spec.metadata, &paths.config_drive)
                .await
                .map_err(|e| hypervisor(&spec.id, "write the config drive of", e))?;
        }
        // Last, so that a directory with a spec is a prepared instance.
        instance_dir::write_spec(&paths.spec, spec)?;
        self.start(paths, spec, "spawn").await
    }

    /// Starts QEMU for a prepared instance and returns once QMP reports it
    /// running: from its saved state if it was suspended to disk (the
    /// guest carries on where it was), else by booting its disk. A saved
    /// state that cannot be loaded (a QEMU upgrade, a damaged file) is
    /// dropped and the guest boots instead. On failure no process is left.
    async fn start(
        &self,
        paths: &InstancePaths,
        spec: &InstanceSpec,
        operation: &'static str,
    ) -> DriverResult<()> {
        if paths.saved_state.exists() {
            let resumed = match suspend::resume_addresses(paths, spec) {
                Ok(addresses) => {
                    match self.launch(paths, spec, operation, Some(&addresses)).await {
                        Ok(()) => suspend::resume(paths).await.map_err(|e| e.to_string()),
                        Err(error) => Err(error.to_string()),
                    }
                }
                Err(reason) => Err(reason),
            };
            let resumed = match resumed {
                Ok(()) => {
                    tracing::info!(id = %spec.id, "guest resumed from its saved state");
                    true
                }
                Err(reason) => {
                    tracing::warn!(id = %spec.id, %reason, "cannot resume the saved guest; booting it instead");
                    self.kill(paths).await;
                    false
                }
            };
            std::fs::remove_file(&paths.saved_state)?;
            unless_missing(std::fs::remove_file(&paths.saved_devices))?;
            if resumed {
                return Ok(());
            }
        }
        unless_missing(std::fs::remove_file(&paths.saved_devices))?;
        self.launch(paths, spec, operation, None).await?;
        if let Err(error) = wait_running(paths, &spec.id, operation).await {
            self.kill(paths).await;
            return Err(error);
        }
        tracing::info!(id = %spec.id, accel = ?self.accel, "QEMU started");
        Ok(())
    }

    /// Runs QEMU for a prepared instance until it has daemonized: booting,
    /// or waiting for its saved state when `incoming` gives the PCI
    /// addresses its devices had. On failure no process is left.
    async fn launch(
        &self,
        paths: &InstancePaths,
        spec: &InstanceSpec,
        operation: &'static str,
        incoming: Option<&BTreeMap<String, String>>,
    ) -> DriverResult<()> {
        for stale in [
            &paths.qmp_socket,
            &paths.serial_socket,
            &paths.pidfile,
            &paths.migration_socket,
        ] {
            unless_missing(std::fs::remove_file(stale))?;
        }
        instance_dir::trim_console_log(&paths.console_log)?;
        let arguments = command_line::qemu_arguments(&LaunchOptions {
            spec,
            paths,
            accel: self.accel,
            vhost_net: self.vhost_net,
            incoming: incoming.is_some(),
            addresses: incoming.unwrap_or(&BTreeMap::new()),
        });
        let mut command = match &self.netns {
            Some(netns) => tokio::process::Command::from(
                oxistack_netns::command_in(netns, QEMU)
                    .map_err(|e| hypervisor(&spec.id, operation, e))?,
            ),
            None => tokio::process::Command::new(QEMU),
        };
        // With -daemonize the command returns once the guest is set up;
        // until then QEMU's errors go to the stderr captured here.
        let launch = command
            .args(&arguments)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .output();
        let output = match tokio::time::timeout(LAUNCH_TIMEOUT, launch).await {
            Ok(output) => output
                .map_err(|e| hypervisor(&spec.id, operation, format!("cannot run {QEMU}: {e}")))?,
            Err(_) => {
                self.kill(paths).await;
                return Err(DriverError::Timeout {
                    id: spec.id.clone(),
                    operation,
                    timeout: LAUNCH_TIMEOUT,
                });
            }
        };
        if !output.status.success() {
            self.kill(paths).await;
            return Err(hypervisor(
                &spec.id,
                operation,
                tool::stderr_text(&output.stderr, output.status),
            ));
        }
        Ok(())
    }

    /// SIGKILLs the instance's QEMU if it runs and waits for it to go.
    async fn kill(&self, paths: &InstancePaths) {
        if let Some(pid) = process::live_pid(&paths.pidfile)
            && let Err(error) = process::kill_and_wait(pid, &paths.pidfile, KILL_TIMEOUT).await
        {
            tracing::warn!(pid, %error, "cannot kill QEMU");
        }
    }

    /// Stops QEMU at once: QMP `quit` (so QEMU flushes its disks), SIGKILL
    /// if that does not work in time.
    async fn hard_stop(
        &self,
        paths: &InstancePaths,
        id: &str,
        operation: &'static str,
    ) -> DriverResult<()> {
        let Some(pid) = process::live_pid(&paths.pidfile) else {
            return Ok(());
        };
        if let Ok(mut qmp) = QmpClient::connect(&paths.qmp_socket, QUIT_TIMEOUT).await {
            // QEMU may close the socket before answering; the wait below
            // tells whether it went.
            let _ = qmp.execute("quit", None).await;
        }
        if process::wait_gone(pid, &paths.pidfile, QUIT_TIMEOUT).await {
            return Ok(());
        }
        process::kill_hard(pid)?;
        if process::wait_gone(pid, &paths.pidfile, KILL_TIMEOUT).await {
            Ok(())
        } else {
            Err(DriverError::Timeout {
                id: id.to_owned(),
                operation,
                timeout: KILL_TIMEOUT,
            })
        }
    }

    /// Presses the ACPI power button and waits up to `grace` for the guest
    /// to power off, then stops QEMU hard.
    async fn graceful_stop(
        &self,
        paths: &InstancePaths,
        id: &str,
        operation: &'static str,
        grace: Duration,
    ) -> DriverResult<()> {
        let Some(pid) = process::live_pid(&paths.pidfile) else {
            return Ok(());
        };
        if !grace.is_zero() {
            match powerdown(paths).await {
                Ok(true) => {
                    if process::wait_gone(pid, &paths.pidfile, grace).await {
                        tracing::info!(id, "guest powered off");
                        return Ok(());
                    }
                    tracing::info!(id, ?grace, "guest did not power off in time; stopping it");
                }
                Ok(false) => {}
                Err(error) => tracing::warn!(id, %error, "ACPI power-down failed; stopping hard"),
            }
        }
        self.hard_stop(paths, id, operation).await
    }

    async fn qmp(
        &self,
        paths: &InstancePaths,
        id: &str,
        operation: &'static str,
    ) -> DriverResult<QmpClient> {
        QmpClient::connect(&paths.qmp_socket, QMP_TIMEOUT)
            .await
            .map_err(|e| hypervisor(id, operation, e))
    }

    /// Runs one QMP command on a running instance.
    async fn command(&self, id: &str, operation: &'static str, command: &str) -> DriverResult<()> {
        let paths = self.existing(id)?;
        let _lock = self.lock(id).await;
        if process::live_pid(&paths.pidfile).is_none() {
            return Err(hypervisor(id, operation, "the instance is not running"));
        }
        self.qmp(&paths, id, operation)
            .await?
            .execute(command, None)
            .await
            .map_err(|e| hypervisor(id, operation, e))?;
        Ok(())
    }

    async fn power_off_instance(&self, id: &str, graceful: Duration) -> DriverResult<()> {
        let paths = self.existing(id)?;
        let _lock = self.lock(id).await;
        self.graceful_stop(&paths, id, "power off", graceful).await
    }

    async fn power_on_instance(&self, id: &str) -> DriverResult<()> {
        let paths = self.existing(id)?;
        let _lock = self.lock(id).await;
        match status(&paths).await {
            None => {}
            // A QEMU whose guest crashed or stopped: replace it.
            Some(InstanceState::Shutdown) => self.hard_stop(&paths, id, "power on").await?,
            Some(_) => return Ok(()),
        }
        let spec = instance_dir::read_spec(&paths.spec)?;
        self.start(&paths, &spec, "power on").await
    }

    async fn reboot_instance(&self, id: &str, kind: RebootKind) -> DriverResult<()> {
        const OPERATION: &str = "reboot";
        let paths = self.existing(id)?;
        let _lock = self.lock(id).await;
        let state = instance_state(&paths).await;
        match kind {
            RebootKind::Soft => {
                if state != InstanceState::Running {
                    return Err(hypervisor(
                        id,
                        OPERATION,
                        format!("the instance is {state:?}"),
                    ));
                }
                self.graceful_stop(&paths, id, OPERATION, SOFT_REBOOT_TIMEOUT)
                    .await?;
            }
            RebootKind::Hard if state == InstanceState::Shutdown => {
                // Possibly a QEMU whose guest crashed: replace it.
                self.hard_stop(&paths, id, OPERATION).await?;
            }
            RebootKind::Hard => {
                let mut qmp = self.qmp(&paths, id, OPERATION).await?;
                qmp.execute("system_reset", None)
                    .await
                    .map_err(|e| hypervisor(id, OPERATION, e))?;
                if state == InstanceState::Paused {
                    qmp.execute("cont", None)
                        .await
                        .map_err(|e| hypervisor(id, OPERATION, e))?;
                }
                return Ok(());
            }
        }
        let spec = instance_dir::read_spec(&paths.spec)?;
        self.start(&paths, &spec, OPERATION).await
    }

    async fn attach(&self, id: &str, nic: &Nic) -> DriverResult<()> {
        const OPERATION: &str = "attach a NIC to";
        let paths = self.existing(id)?;
        let _lock = self.lock(id).await;
        let mut spec = instance_dir::read_spec(&paths.spec)?;
        if spec.nics.contains(nic) {
            return Ok(());
        }
        if let Some(plugged) = spec.nics.iter().find(|n| n.port_id == nic.port_id) {
            return Err(hypervisor(
                id,
                OPERATION,
                format!(
                    "port {} is already plugged with MAC {}",
                    plugged.port_id, plugged.mac_address
                ),
            ));
        }
        if process::live_pid(&paths.pidfile).is_some() {
            let mut qmp = self.qmp(&paths, id, OPERATION).await?;
            qmp.execute(
                "netdev_add",
                Some(command_line::netdev_add_arguments(nic, self.vhost_net)),
            )
            .await
            .map_err(|e| hypervisor(id, OPERATION, e))?;
            if let Err(error) = qmp
                .execute("device_add", Some(command_line::device_add_arguments(nic)))
                .await
            {
                let netdev = json!({ "id": command_line::netdev_id(nic) });
                let _ = qmp.execute("netdev_del", Some(netdev)).await;
                return Err(hypervisor(id, OPERATION, error));
            }
            tracing::info!(id, port = %nic.port_id, "NIC hot-plugged");
        }
        spec.nics.push(nic.clone());
        instance_dir::write_spec(&paths.spec, &spec)?;
        Ok(())
    }

    async fn detach(&self, id: &str, port_id: &str) -> DriverResult<()> {
        const OPERATION: &str = "detach a NIC from";
        let paths = self.existing(id)?;
        let _lock = self.lock(id).await;
        let mut spec = instance_dir::read_spec(&paths.spec)?;
        let Some(nic) = spec.nics.iter().find(|n| n.port_id == port_id).cloned() else {
            return Ok(());
        };
        if process::live_pid(&paths.pidfile).is_some() {
            let mut qmp = self.qmp(&paths, id, OPERATION).await?;
            let device = command_line::device_id(&nic);
            match qmp
                .execute("device_del", Some(json!({ "id": device })))
                .await
            {
                Ok(_) => {
                    // The guest releases the device asynchronously; a guest
                    // that ignores the request keeps a NIC with no backend.
                    let deleted = qmp
                        .wait_event(|e| qmp::is_device_deleted(e, &device), UNPLUG_TIMEOUT)
                        .await;
                    if let Err(error) = deleted {
                        tracing::warn!(id, port = port_id, %error, "guest did not release the NIC");
                    }
                }
                Err(error) if error.is_not_found() => {}
                Err(error) => return Err(hypervisor(id, OPERATION, error)),
            }
            let netdev = json!({ "id": command_line::netdev_id(&nic) });
            match qmp.execute("netdev_del", Some(netdev)).await {
                Ok(_) => {}
                Err(error) if error.is_not_found() => {}
                Err(error) => return Err(hypervisor(id, OPERATION, error)),
            }
            tracing::info!(id, port = port_id, "NIC unplugged");
        }
        spec.nics.retain(|n| n.port_id != port_id);
        instance_dir::write_spec(&paths.spec, &spec)?;
        Ok(())
    }

    async fn destroy_instance(&self, id: &str) -> DriverResult<()> {
        let Some(paths) = self.paths(id) else {
            return Ok(());
        };
        let lock = self.lock(id).await;
        if !paths.dir.exists() {
            return Ok(());
        }
        self.hard_stop(&paths, id, "destroy").await?;
        unless_missing(std::fs::remove_dir_all(&paths.dir))?;
        drop(lock);
        self.locks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
        tracing::info!(id, "instance destroyed");
        Ok(())
    }

    async fn console(&self, id: &str, tail_lines: Option<usize>) -> DriverResult<String> {
        let paths = self.existing(id)?;
        let log = match tokio::fs::read(&paths.console_log).await {
            Ok(log) => log,
            Err(error) if error.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(error) => return Err(error.into()),
        };
        Ok(oxistack_virt::tail(
            &String::from_utf8_lossy(&log),
            tail_lines,
        ))
    }

    /// Connects to the guest's serial socket. QEMU serves one client at
    /// a time: a second one waits until the first hangs up.
    async fn open_serial_console(&self, id: &str) -> DriverResult<SerialConsole> {
        let paths = self.existing(id)?;
        if process::live_pid(&paths.pidfile).is_none() {
            return Err(DriverError::NotRunning(id.to_owned()));
        }
        let unavailable = |reason: String| DriverError::ConsoleUnavailable {
            id: id.to_owned(),
            reason,
        };
        if !paths.serial_socket.exists() {
            return Err(unavailable(
                "it was started without an interactive serial port; \
                 a stop and start gives it one"
                    .into(),
            ));
        }
        let connect = tokio::net::UnixStream::connect(&paths.serial_socket);
        match tokio::time::timeout(QMP_TIMEOUT, connect).await {
            Ok(Ok(stream)) => Ok(Box::new(stream) as SerialConsole),
            Ok(Err(error)) => Err(unavailable(error.to_string())),
            Err(_) => Err(unavailable("QEMU does not accept the connection".into())),
        }
    }

    async fn list_instances(&self) -> DriverResult<Vec<InstanceInfo>> {
        let mut instances = Vec::new();
        for entry in std::fs::read_dir(&self.instances_dir)? {
            let entry = entry?;
            let Some(id) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            let Some(paths) = self.paths(&id).filter(InstancePaths::exists) else {
                continue;
            };
            let state = instance_state(&paths).await;
            instances.push(InstanceInfo { id, state });
        }
        Ok(instances)
    }
}

/// The paths of every directory under `instances_dir` (absolute, as the
/// pid files and QEMU's command lines name them); none if it is missing.
fn instance_paths(instances_dir: &Path) -> io::Result<Vec<InstancePaths>> {
    let instances_dir = std::path::absolute(instances_dir)?;
    let entries = match std::fs::read_dir(&instances_dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error),
    };
    let mut all = Vec::new();
    for entry in entries {
        let name = entry?.file_name();
        if let Some(paths) = name
            .to_str()
            .and_then(|id| InstancePaths::new(&instances_dir, id))
        {
            all.push(paths);
        }
    }
    Ok(all)
}

/// What a spawn created, so a failed spawn can remove it again.
struct Undo<'a> {
    paths: &'a InstancePaths,
    /// Whether the instance existed before the spawn, so only the files
    /// this spawn made may go.
    keep_dir: bool,
    created: Vec<PathBuf>,
}

impl Undo<'_> {
    fn run(self) {
        let result = if self.keep_dir {
            self.created
                .iter()
                .try_for_each(|file| unless_missing(std::fs::remove_file(file)))
        } else {
            unless_missing(std::fs::remove_dir_all(&self.paths.dir))
        };
        if let Err(error) = result {
            tracing::warn!(dir = %self.paths.dir.display(), %error, "cannot clean up after a failed spawn");
        }
    }
}

/// A removal's result, where what was to go being already gone is fine.
fn unless_missing(result: io::Result<()>) -> io::Result<()> {
    match result {
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

fn hypervisor(id: &str, operation: &'static str, reason: impl ToString) -> DriverError {
    DriverError::Hypervisor {
        id: id.to_owned(),
        operation,
        reason: reason.to_string(),
    }
}

/// Polls QMP until the freshly daemonized QEMU reports `running`.
async fn wait_running(
    paths: &InstancePaths,
    id: &str,
    operation: &'static str,
) -> DriverResult<()> {
    let deadline = Instant::now() + RUNNING_TIMEOUT;
    loop {
        if process::live_pid(&paths.pidfile).is_none() && paths.pidfile.exists() {
            return Err(hypervisor(
                id,
                operation,
                "QEMU exited right after starting",
            ));
        }
        let last_error = match query_status(paths, QMP_STATUS_TIMEOUT).await {
            Ok(status) if status == "running" => return Ok(()),
            Ok(status) => format!("QEMU reports the guest {status}"),
            Err(error) => error.to_string(),
        };
        if Instant::now() >= deadline {
            return Err(hypervisor(id, operation, last_error));
        }
        tokio::time::sleep(RUNNING_POLL).await;
    }
}

/// Presses the guest's ACPI power button if its CPUs run (a paused guest
/// cannot react to it), over one QMP connection; returns whether it did.
async fn powerdown(paths: &InstancePaths) -> Result<bool, QmpError> {
    let mut qmp = QmpClient::connect(&paths.qmp_socket, QMP_TIMEOUT).await?;
    if qmp.query_status().await? != "running" {
        return Ok(false);
    }
    qmp.execute("system_powerdown", None).await?;
    Ok(true)
}

async fn query_status(paths: &InstancePaths, timeout: Duration) -> Result<String, QmpError> {
    QmpClient::connect(&paths.qmp_socket, timeout)
        .await?
        .query_status()
        .await
}

/// The state of a running QEMU as QMP reports it; `None` if none runs.
async fn status(paths: &InstancePaths) -> Option<InstanceState> {
    process::live_pid(&paths.pidfile)?;
    Some(match query_status(paths, QMP_STATUS_TIMEOUT).await {
        Ok(status) => state_of_status(&status),
        // Alive but busy (another QMP client, or slow): it still runs.
        Err(_) => InstanceState::Running,
    })
}

async fn instance_state(paths: &InstancePaths) -> InstanceState {
    status(paths).await.unwrap_or(InstanceState::Shutdown)
}

/// Maps QMP's `RunState` onto the driver's states. Every state in which
/// the guest's CPUs are stopped but the process lives reads as Paused.
fn state_of_status(status: &str) -> InstanceState {
    match status {
        "running" => InstanceState::Running,
        "shutdown" | "guest-panicked" | "internal-error" => InstanceState::Shutdown,
        _ => InstanceState::Paused,
    }
}

impl ComputeDriver for QemuDriver {
    fn spawn<'a>(&'a self, spec: &'a InstanceSpec) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(self.spawn_instance(spec))
    }

    fn destroy<'a>(&'a self, id: &'a str) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(self.destroy_instance(id))
    }

    fn power_on<'a>(&'a self, id: &'a str) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(self.power_on_instance(id))
    }

    fn power_off<'a>(&'a self, id: &'a str, graceful: Duration) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(self.power_off_instance(id, graceful))
    }

    fn reboot<'a>(&'a self, id: &'a str, kind: RebootKind) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(self.reboot_instance(id, kind))
    }

    fn pause<'a>(&'a self, id: &'a str) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(self.command(id, "pause", "stop"))
    }

    fn unpause<'a>(&'a self, id: &'a str) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(self.command(id, "unpause", "cont"))
    }

    fn attach_nic<'a>(&'a self, id: &'a str, nic: &'a Nic) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(self.attach(id, nic))
    }

    fn detach_nic<'a>(&'a self, id: &'a str, port_id: &'a str) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(self.detach(id, port_id))
    }

    fn attach_volume<'a>(
        &'a self,
        id: &'a str,
        disk: &'a VolumeDisk,
    ) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(self.attach_volume_to(id, disk))
    }

    fn detach_volume<'a>(
        &'a self,
        id: &'a str,
        volume_id: &'a str,
    ) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(self.detach_volume_from(id, volume_id))
    }

    fn resize_volume<'a>(
        &'a self,
        id: &'a str,
        volume_id: &'a str,
        size_bytes: u64,
    ) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(self.resize_volume_of(id, volume_id, size_bytes))
    }

    fn console_output<'a>(
        &'a self,
        id: &'a str,
        tail_lines: Option<usize>,
    ) -> BoxFuture<'a, DriverResult<String>> {
        Box::pin(self.console(id, tail_lines))
    }

    fn serial_console<'a>(&'a self, id: &'a str) -> BoxFuture<'a, DriverResult<SerialConsole>> {
        Box::pin(self.open_serial_console(id))
    }

    fn state<'a>(&'a self, id: &'a str) -> BoxFuture<'a, DriverResult<InstanceState>> {
        Box::pin(async move {
            Ok(match self.paths(id).filter(InstancePaths::exists) {
                Some(paths) => instance_state(&paths).await,
                None => InstanceState::Absent,
            })
        })
    }

    fn list(&self) -> BoxFuture<'_, DriverResult<Vec<InstanceInfo>>> {
        Box::pin(self.list_instances())
    }

    fn host(&self) -> HostInfo {
        HostInfo {
            uptime: host::uptime_line(),
            ..self.host.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qmp_run_states_map_onto_instance_states() {
        assert_eq!(state_of_status("running"), InstanceState::Running);
        assert_eq!(state_of_status("paused"), InstanceState::Paused);
        assert_eq!(state_of_status("suspended"), InstanceState::Paused);
        assert_eq!(state_of_status("io-error"), InstanceState::Paused);
        assert_eq!(state_of_status("guest-panicked"), InstanceState::Shutdown);
    }
}
