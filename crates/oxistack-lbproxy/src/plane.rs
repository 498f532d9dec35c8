//! [`ProcessPlane`]: the load-balancer data plane as one detached proxy
//! process per load balancer, each in its own directory
//! `DIR/<lb id>/` (see [`crate::files`] for what it holds).
//!
//! The processes outlive oxistack: they are started in a session of
//! their own with their output in a log file, and a pid is trusted only
//! while `/proc/<pid>/cmdline` passes `--dir` with that very directory
//! (as the QEMU driver does with `-pidfile`), so a new oxistack over the
//! same directory adopts them and a recycled pid is never signalled.
//! Applying a converged state writes nothing and signals nothing: the
//! config file is rewritten (and the proxy sent SIGHUP) only when its
//! content changes.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::OpenOptions;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use nix::errno::Errno;
use nix::sys::signal::{SigHandler, Signal, kill};
use nix::unistd::Pid;
use oxistack_lbplane::{
    LbPlaneError, LoadBalancer, LoadBalancerDataPlane, LoadBalancerState, Observation,
};

use crate::balance::lock;
use crate::files::{CONFIG_FILE, LOG_FILE, PID_FILE, ProxyStatus, STATUS_FILE, write_atomic};

/// How long a proxy gets to exit after SIGTERM before SIGKILL.
const TERM_GRACE: Duration = Duration::from_secs(3);
/// How long a proxy gets to vanish after SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(2);
/// How often waits look at `/proc` again.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// Gives the network namespace a load balancer's proxy serves in.
type NamespaceNamer = Box<dyn Fn(&str) -> String + Send + Sync>;

pub struct ProcessPlane {
    dir: PathBuf,
    program: PathBuf,
    leading_args: Vec<OsString>,
    namespace_of: NamespaceNamer,
    /// Proxies this process started, reaped as they exit so none stays a
    /// zombie (adopted ones are not our children).
    children: Mutex<Vec<Child>>,
}

impl ProcessPlane {
    /// A plane keeping its proxies under `dir`, starting each as
    /// `program leading_args... --namespace NS --dir DIR/<lb id>` with
    /// `NS = namespace_of(lb id)`.
    pub fn new(
        dir: impl Into<PathBuf>,
        program: impl Into<PathBuf>,
        leading_args: Vec<OsString>,
        namespace_of: impl Fn(&str) -> String + Send + Sync + 'static,
    ) -> Self {
        let dir = dir.into();
        // Absolute, so the directory on a proxy's command line is the
        // one adoption looks for whatever the working directory.
        let dir = std::path::absolute(&dir).unwrap_or(dir);
        ProcessPlane {
            dir,
            program: program.into(),
            leading_args,
            namespace_of: Box::new(namespace_of),
            children: Mutex::new(Vec::new()),
        }
    }

    fn reap(&self) {
        lock(&self.children).retain_mut(|child| matches!(child.try_wait(), Ok(None)));
    }

    /// Brings one load balancer's proxy in line; `Ok(false)` when its
    /// namespace does not exist yet.
    fn converge(&self, lb: &LoadBalancer) -> Result<bool, LbPlaneError> {
        let lb_dir = self.dir.join(&lb.id);
        create_private_dir(&lb_dir)?;
        let config = serde_json::to_vec_pretty(lb)
            .map_err(|e| LbPlaneError::Refused(format!("serializing {}: {e}", lb.id)))?;
        let config_path = lb_dir.join(CONFIG_FILE);
        let changed = std::fs::read(&config_path).ok().as_deref() != Some(config.as_slice());
        if changed {
            write_atomic(&config_path, &config).map_err(io_error(&config_path))?;
        }
        let namespace = (self.namespace_of)(&lb.id);
        let running = live_pid(&lb_dir);
        match running {
            // Its namespace was deleted (and perhaps made again) behind
            // its back: it serves nobody any more, and a new one will.
            Some(pid) if !is_in_namespace(pid, &namespace) => {
                tracing::warn!(lb = %lb.id, pid, %namespace, "proxy outside its namespace; replacing it");
                signal(pid, Signal::SIGKILL).map_err(io_error(&lb_dir))?;
            }
            Some(pid) if changed => {
                tracing::info!(lb = %lb.id, pid, "reconfiguring load-balancer proxy");
                signal(pid, Signal::SIGHUP).map_err(io_error(&lb_dir))?;
                return Ok(true);
            }
            Some(_) => return Ok(true),
            None => {}
        }
        if !oxistack_netns::exists(&namespace) {
            return Ok(false);
        }
        self.start(&lb_dir, &namespace)?;
        tracing::info!(lb = %lb.id, %namespace, "started load-balancer proxy");
        Ok(true)
    }

    fn start(&self, lb_dir: &Path, namespace: &str) -> Result<(), LbPlaneError> {
        let log_path = lb_dir.join(LOG_FILE);
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&log_path)
            .map_err(io_error(&log_path))?;
        let stderr = log.try_clone().map_err(io_error(&log_path))?;
        let mut command = Command::new(&self.program);
        command
            .args(&self.leading_args)
            .arg("--namespace")
            .arg(namespace)
            .arg("--dir")
            .arg(lb_dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(stderr);
        // SAFETY: between fork and exec the closure only calls setsid(2)
        // and sigaction(2), both async-signal-safe.
        unsafe {
            command.pre_exec(|| {
                // A session of its own: oxistack's end or its terminal's
                // hangup does not reach the proxy.
                nix::unistd::setsid().map_err(io::Error::from)?;
                // Until the proxy installs its handler, a reload signal
                // must not kill it (it reads the config after that).
                nix::sys::signal::signal(Signal::SIGHUP, SigHandler::SigIgn)
                    .map_err(io::Error::from)?;
                Ok(())
            });
        }
        let child = command
            .spawn()
            .map_err(io_error(Path::new(&self.program)))?;
        let pid_path = lb_dir.join(PID_FILE);
        write_atomic(&pid_path, format!("{}\n", child.id()).as_bytes())
            .map_err(io_error(&pid_path))?;
        lock(&self.children).push(child);
        Ok(())
    }

    /// Proxy directories under the plane's directory.
    fn proxy_dirs(&self) -> Vec<(String, PathBuf)> {
        proxy_dirs(&self.dir)
    }
}

impl LoadBalancerDataPlane for ProcessPlane {
    fn apply<'a>(
        &'a self,
        state: &'a LoadBalancerState,
    ) -> BoxFuture<'a, Result<(), LbPlaneError>> {
        Box::pin(async move {
            self.reap();
            create_private_dir(&self.dir)?;
            let mut waiting = Vec::new();
            let mut first_error = None;
            for lb in &state.load_balancers {
                if !is_safe_name(&lb.id) {
                    first_error.get_or_insert(LbPlaneError::Refused(format!(
                        "load balancer id {:?} cannot name a directory",
                        lb.id
                    )));
                    continue;
                }
                match self.converge(lb) {
                    Ok(true) => {}
                    Ok(false) => waiting.push(lb.id.clone()),
                    Err(error) => {
                        first_error.get_or_insert(error);
                    }
                }
            }
            let wanted: HashSet<&str> = state
                .load_balancers
                .iter()
                .map(|lb| lb.id.as_str())
                .collect();
            let removed: Vec<PathBuf> = self
                .proxy_dirs()
                .into_iter()
                .filter(|(id, _)| !wanted.contains(id.as_str()))
                .map(|(_, dir)| dir)
                .collect();
            if !removed.is_empty() {
                let stopped = tokio::task::spawn_blocking(move || {
                    stop_blocking(&removed)?;
                    for dir in &removed {
                        std::fs::remove_dir_all(dir).map_err(io_error(dir))?;
                    }
                    Ok::<(), LbPlaneError>(())
                })
                .await
                .map_err(|e| LbPlaneError::Unavailable(format!("stopping proxies: {e}")))?;
                self.reap();
                if let Err(error) = stopped {
                    first_error.get_or_insert(error);
                }
            }
            if let Some(error) = first_error {
                return Err(error);
            }
            if !waiting.is_empty() {
                return Err(LbPlaneError::Unavailable(format!(
                    "no network namespace yet for load balancer(s) {}",
                    waiting.join(", ")
                )));
            }
            Ok(())
        })
    }

    fn observe(&self) -> BoxFuture<'_, Result<Observation, LbPlaneError>> {
        Box::pin(async move {
            let mut observation = Observation::default();
            for (id, dir) in self.proxy_dirs() {
                // A dead proxy's last status is stale: it says it died.
                if live_pid(&dir).is_none() {
                    observation.stopped.push(id);
                    continue;
                }
                // A proxy that has not written its status yet reports
                // nothing.
                let Ok(bytes) = std::fs::read(dir.join(STATUS_FILE)) else {
                    continue;
                };
                let Ok(status) = serde_json::from_slice::<ProxyStatus>(&bytes) else {
                    continue;
                };
                observation.members.extend(status.observation.members);
                observation.listeners.extend(status.observation.listeners);
            }
            Ok(observation)
        })
    }
}

/// Stops every proxy under `dir` (SIGTERM, then SIGKILL for those that
/// linger) and keeps their directories, so the next `apply` starts them
/// again from the same state. For `oxistack teardown`.
pub fn stop_all(dir: &Path) -> io::Result<()> {
    let dirs: Vec<PathBuf> = proxy_dirs(dir).into_iter().map(|(_, d)| d).collect();
    stop_blocking(&dirs).map_err(|error| match error {
        LbPlaneError::Io { source, .. } => source,
        other => io::Error::other(other.to_string()),
    })
}

/// SIGTERMs the proxies of `dirs` together, waits for them, and SIGKILLs
/// any that outlive [`TERM_GRACE`].
fn stop_blocking(dirs: &[PathBuf]) -> Result<(), LbPlaneError> {
    let running: Vec<(i32, &PathBuf)> = dirs
        .iter()
        .filter_map(|dir| live_pid(dir).map(|pid| (pid, dir)))
        .collect();
    for (pid, dir) in &running {
        signal(*pid, Signal::SIGTERM).map_err(io_error(dir))?;
    }
    for (pid, dir) in &running {
        if wait_gone(*pid, dir, TERM_GRACE) {
            continue;
        }
        tracing::warn!(pid, dir = %dir.display(), "proxy ignored SIGTERM; killing it");
        signal(*pid, Signal::SIGKILL).map_err(io_error(dir))?;
        if !wait_gone(*pid, dir, KILL_GRACE) {
            return Err(LbPlaneError::Io {
                context: format!("stopping the proxy of {}", dir.display()),
                source: io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("pid {pid} survived SIGKILL"),
                ),
            });
        }
    }
    Ok(())
}

fn wait_gone(pid: i32, dir: &Path, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while is_proxy_of(pid, dir) {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(POLL_INTERVAL);
    }
    true
}

/// `(lb id, directory)` of every proxy directory under `dir`.
fn proxy_dirs(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut dirs: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| entry.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|entry| Some((entry.file_name().into_string().ok()?, entry.path())))
        .collect();
    dirs.sort();
    dirs
}

/// Whether process `pid` lives in the network namespace named
/// `namespace` (same nsfs device and inode), not in one whose name was
/// removed.
fn is_in_namespace(pid: i32, namespace: &str) -> bool {
    let identity = |path: &Path| std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()));
    let current = identity(Path::new(&format!("/proc/{pid}/ns/net")));
    current.is_some() && current == identity(&oxistack_netns::path(namespace))
}

/// The pid of the live proxy serving `lb_dir`, if any.
fn live_pid(lb_dir: &Path) -> Option<i32> {
    let text = std::fs::read_to_string(lb_dir.join(PID_FILE)).ok()?;
    let pid: i32 = text.trim().parse().ok().filter(|pid| *pid > 0)?;
    is_proxy_of(pid, lb_dir).then_some(pid)
}

/// Whether `pid` is alive and passes `--dir lb_dir`; a zombie's command
/// line is empty, so it counts as gone.
fn is_proxy_of(pid: i32, lb_dir: &Path) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|cmdline| cmdline_names_dir(&cmdline, lb_dir))
}

/// Whether a NUL-separated command line passes `--dir <lb_dir>`.
fn cmdline_names_dir(cmdline: &[u8], lb_dir: &Path) -> bool {
    let wanted = lb_dir.as_os_str().as_encoded_bytes();
    let mut arguments = cmdline.split(|byte| *byte == 0);
    while let Some(argument) = arguments.next() {
        if argument == b"--dir" && arguments.next() == Some(wanted) {
            return true;
        }
    }
    false
}

fn signal(pid: i32, signal: Signal) -> io::Result<()> {
    match kill(Pid::from_raw(pid), signal) {
        Ok(()) | Err(Errno::ESRCH) => Ok(()),
        Err(errno) => Err(io::Error::from(errno)),
    }
}

/// Ids become directory names: nothing that could leave the directory.
fn is_safe_name(id: &str) -> bool {
    !id.is_empty()
        && id != "."
        && id != ".."
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn create_private_dir(dir: &Path) -> Result<(), LbPlaneError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io_error(dir))
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> LbPlaneError + '_ {
    move |source| LbPlaneError::Io {
        context: path.display().to_string(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_dir_argument_identifies_a_proxy() {
        let dir = Path::new("/var/lib/oxistack/loadbalancers/abc");
        let cmdline = b"/usr/bin/oxistack\0lb-proxy\0--namespace\0ox-lb-abc\0--dir\0/var/lib/oxistack/loadbalancers/abc\0";
        assert!(cmdline_names_dir(cmdline, dir));
        assert!(!cmdline_names_dir(
            cmdline,
            Path::new("/var/lib/oxistack/loadbalancers/ab")
        ));
        assert!(!cmdline_names_dir(
            b"cat\0/var/lib/oxistack/loadbalancers/abc\0",
            dir
        ));
        assert!(!cmdline_names_dir(b"", dir));
    }

    #[test]
    fn ids_that_could_escape_the_directory_are_refused() {
        assert!(is_safe_name("5f8c1c1e-8d7f-4a53-9c1b-3c9f0d2b7a10"));
        assert!(!is_safe_name(".."));
        assert!(!is_safe_name("a/b"));
        assert!(!is_safe_name(""));
    }
}
