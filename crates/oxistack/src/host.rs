//! What oxistack runs on the host: the network data plane and the compute
//! driver the configuration asks for, and the commands that act on them
//! from outside the running cloud (`outside`, `teardown`).

use std::ffi::OsString;
use std::net::IpAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use ipnet::IpNet;
use oxistack_lbplane::{FakeLoadBalancerPlane, LoadBalancerDataPlane};
use oxistack_lbproxy::ProcessPlane;
use oxistack_linuxnet::naming::Namespaces;
use oxistack_linuxnet::{ExternalMode, LinuxDataPlane, LinuxNetConfig};
use oxistack_metadata::MetadataSource;
use oxistack_netplane::{FakeDataPlane, NetworkDataPlane};
use oxistack_qemu::{QemuConfig, QemuDriver};
use oxistack_virt::{ComputeDriver, FakeDriver};
use oxistack_volstore::{FakeBackend, FileBackend, VolumeBackend};

use crate::config::{ComputeDriverKind, Config, DataPlaneKind};

/// The file holding the running cloud's process id.
pub fn pid_file(config: &Config) -> PathBuf {
    config.state_dir.join("oxistack.pid")
}

fn instances_dir(config: &Config) -> PathBuf {
    config.state_dir.join("instances")
}

/// Where the load balancers' proxies keep their configuration, pid,
/// status and log, one directory each.
fn load_balancers_dir(config: &Config) -> PathBuf {
    config.state_dir.join("loadbalancers")
}

fn namespaces(config: &Config) -> Namespaces {
    Namespaces::new(&config.instance_prefix)
}

/// How the external network meets the world: bridged onto the NIC the
/// configuration names, else the sandbox, whose LAN is a namespace
/// holding the external gateway address (DevStack's br-ex address).
fn external_mode(config: &Config) -> ExternalMode {
    let external = &config.external_network;
    match &external.physical_interface {
        Some(interface) => ExternalMode::Bridged {
            interface: interface.clone(),
        },
        None => ExternalMode::Sandbox {
            lan_address: IpNet::new(
                IpAddr::V4(external.gateway),
                external.floating_range.prefix_len(),
            )
            .expect("a prefix length taken from a valid network"),
        },
    }
}

/// The namespace playing the LAN, when the Linux data plane runs in
/// sandbox mode.
pub fn sandbox_lan(config: &Config) -> Option<String> {
    let sandboxed = config.dataplane == DataPlaneKind::Linux
        && matches!(external_mode(config), ExternalMode::Sandbox { .. });
    sandboxed.then(|| namespaces(config).outside())
}

pub fn network_dataplane(
    config: &Config,
    metadata: Arc<dyn MetadataSource>,
) -> anyhow::Result<Arc<dyn NetworkDataPlane>> {
    Ok(match config.dataplane {
        DataPlaneKind::Fake => Arc::new(FakeDataPlane::new()),
        DataPlaneKind::Linux => LinuxDataPlane::new(LinuxNetConfig {
            prefix: config.instance_prefix.clone(),
            external: external_mode(config),
            metadata,
        })
        .context("the network data plane cannot start")?,
    })
}

/// The load balancers' data plane: with the Linux network data plane, a
/// proxy process per load balancer in the namespace the network data
/// plane makes for its VIP port, started from this very binary
/// (`oxistack lb-proxy`); else a fake that serves nothing.
pub fn load_balancer_plane(config: &Config) -> anyhow::Result<Arc<dyn LoadBalancerDataPlane>> {
    Ok(match config.dataplane {
        DataPlaneKind::Fake => Arc::new(FakeLoadBalancerPlane::new()),
        DataPlaneKind::Linux => {
            let program = std::env::current_exe()
                .context("cannot find the oxistack binary to start proxies from")?;
            let names = namespaces(config);
            Arc::new(ProcessPlane::new(
                load_balancers_dir(config),
                program,
                vec!["lb-proxy".into()],
                move |id| names.load_balancer(id),
            ))
        }
    })
}

/// Where volumes keep their data: sparse files in the state directory
/// with the QEMU driver (whose guests open them), in memory with the fake
/// driver.
pub fn volume_backend(config: &Config) -> anyhow::Result<Arc<dyn VolumeBackend>> {
    Ok(match config.compute_driver {
        ComputeDriverKind::Fake => Arc::new(FakeBackend::new()),
        ComputeDriverKind::Qemu => {
            let dir = config.state_dir.join("volumes");
            Arc::new(
                FileBackend::new(dir.clone())
                    .with_context(|| format!("cannot keep volumes in {}", dir.display()))?,
            )
        }
    })
}

pub async fn compute_driver(config: &Config) -> anyhow::Result<Arc<dyn ComputeDriver>> {
    Ok(match config.compute_driver {
        ComputeDriverKind::Fake => Arc::new(FakeDriver::new()),
        ComputeDriverKind::Qemu => {
            let driver = QemuDriver::new(QemuConfig {
                instances_dir: instances_dir(config),
                // With the Linux data plane, taps live in its fabric namespace.
                netns: (config.dataplane == DataPlaneKind::Linux)
                    .then(|| namespaces(config).fabric()),
                accel: config.accelerator,
                probe_kernel: probe_kernel(config),
                host_ip: host_ip(config),
            })
            .await
            .context("the QEMU compute driver cannot start")?;
            Arc::new(driver)
        }
    })
}

/// The kernel the KVM probe boots where /boot has none: the test image's,
/// which images/cirros/build.sh leaves beside the image as `NAME.vmlinuz`.
fn probe_kernel(config: &Config) -> Option<PathBuf> {
    let kernel = config.cirros_image.as_ref()?.with_extension("vmlinuz");
    kernel.is_file().then_some(kernel)
}

fn host_ip(config: &Config) -> IpAddr {
    config
        .public_address
        .parse()
        .unwrap_or_else(|_| config.listen.ip())
}

/// `oxistack outside -- COMMAND...`: runs COMMAND in the sandbox's LAN
/// namespace, as a machine on the external network would. Only returns
/// on failure: the command replaces this process.
pub fn outside(config: &Config, command: &[OsString]) -> anyhow::Result<()> {
    let Some(namespace) = sandbox_lan(config) else {
        bail!(
            "this cloud has no sandbox LAN: its external network is bridged onto a host interface (reach floating IPs from the host's own network) or its data plane is fake"
        );
    };
    let Some((program, args)) = command.split_first() else {
        bail!("nothing to run: oxistack outside -- COMMAND [ARGS...]");
    };
    let program = program
        .to_str()
        .with_context(|| format!("the program name {program:?} is not UTF-8"))?;
    let mut child = oxistack_netns::command_in(&namespace, program)
        .map_err(|e| anyhow::anyhow!("{e} (is `oxistack up` running with this configuration?)"))?;
    let error = child.args(args).exec();
    Err(error).with_context(|| format!("cannot run {program}"))
}

/// `oxistack teardown`: what a host reboot does to oxistack. Stops the
/// running cloud, stops every instance's QEMU process and every load
/// balancer's proxy, and removes every
/// namespace (and with them bridges, taps, veths and nftables tables);
/// the state directory stays, so `oxistack up` brings it all back.
/// Guests are first suspended to disk, as libvirt-guests does on a host
/// shutdown, and resume where they were; with `hard`, as on a power
/// loss, they are killed and boot again.
pub fn teardown(config: &Config, hard: bool) -> anyhow::Result<()> {
    let started = Instant::now();
    let stopped = stop_running_cloud(config)?;
    let instances = instances_dir(config);
    let (saved, unsaved) = match hard {
        true => (0, 0),
        false => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(QemuDriver::suspend_all(&instances))
            .context("cannot suspend the instances")?,
    };
    if unsaved > 0 {
        eprintln!("oxistack teardown: {unsaved} guests could not be saved and will boot again");
    }
    let killed = saved
        + unsaved
        + QemuDriver::kill_all(&instances).context("cannot stop the instances' QEMU processes")?;
    // The proxies go with the namespaces they serve in; their directories
    // stay, and the next start serves the same load balancers again.
    oxistack_lbproxy::stop_all(&load_balancers_dir(config))
        .context("cannot stop the load balancers' proxies")?;
    let prefix = &config.instance_prefix;
    let before = oxistack_netns::list(&namespaces(config).common_prefix()).len();
    oxistack_linuxnet::teardown(prefix, &external_mode(config))
        .context("cannot remove the network data plane")?;
    println!(
        "oxistack teardown: {} cloud process, {killed} QEMU processes ({saved} guests suspended to disk), {before} namespaces removed in {:.1} s; state kept in {}",
        if stopped { "stopped the" } else { "no running" },
        started.elapsed().as_secs_f64(),
        config.state_dir.display()
    );
    Ok(())
}

/// Stops the cloud whose pid file is in the state directory, if it runs:
/// SIGTERM, then SIGKILL after a grace period. True if one was running.
fn stop_running_cloud(config: &Config) -> anyhow::Result<bool> {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;

    let Some(pid) = running_cloud(&pid_file(config)) else {
        return Ok(false);
    };
    let pid = Pid::from_raw(pid);
    kill(pid, Signal::SIGTERM).context("cannot stop the running cloud")?;
    let deadline = Instant::now() + Duration::from_secs(15);
    while kill(pid, None).is_ok() {
        if Instant::now() > deadline {
            let _ = kill(pid, Signal::SIGKILL);
            std::thread::sleep(Duration::from_millis(200));
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(true)
}

/// The pid in `pid_file` if that process is alive and is `oxistack up`
/// (a pid the kernel gave to some other program since is never signalled).
pub fn running_cloud(pid_file: &Path) -> Option<i32> {
    let pid: i32 = std::fs::read_to_string(pid_file)
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let mut args = cmdline.split(|b| *b == 0);
    let program = Path::new(std::str::from_utf8(args.next()?).ok()?);
    let ours = program.file_name()? == "oxistack" && args.next()? == b"up";
    ours.then_some(pid)
}
