//! Finding and stopping an instance's QEMU process. QEMU daemonizes and
//! writes its pid to the instance's pid file; a pid is only trusted when
//! `/proc/<pid>/cmdline` names that same pid file, so a pid recycled by
//! another process after a crash or a host reboot is never signalled.

use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// How often waits look at `/proc` again.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// The pid in a QEMU pid file, if it holds one.
fn read_pid(pidfile: &Path) -> Option<i32> {
    let text = std::fs::read_to_string(pidfile).ok()?;
    text.trim().parse().ok().filter(|pid| *pid > 0)
}

/// Whether a NUL-separated command line passes `-pidfile <pidfile>`, which
/// is how an instance's QEMU is told from every other process.
pub fn cmdline_names_pidfile(cmdline: &[u8], pidfile: &Path) -> bool {
    let wanted = pidfile.as_os_str().as_encoded_bytes();
    let mut arguments = cmdline.split(|byte| *byte == 0);
    while let Some(argument) = arguments.next() {
        if argument == b"-pidfile" && arguments.next() == Some(wanted) {
            return true;
        }
    }
    false
}

/// Whether `pid` is alive and is the QEMU that owns `pidfile`. A zombie's
/// command line is empty, so it counts as gone.
fn is_instance_process(pid: i32, pidfile: &Path) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|cmdline| cmdline_names_pidfile(&cmdline, pidfile))
}

/// The pid of the live QEMU process that owns `pidfile`, if any.
pub fn live_pid(pidfile: &Path) -> Option<i32> {
    read_pid(pidfile).filter(|pid| is_instance_process(*pid, pidfile))
}

/// Sends SIGKILL to `pid`; a process that is already gone is fine.
pub fn kill_hard(pid: i32) -> io::Result<()> {
    match kill(Pid::from_raw(pid), Signal::SIGKILL) {
        Ok(()) | Err(Errno::ESRCH) => Ok(()),
        Err(errno) => Err(io::Error::from(errno)),
    }
}

/// Waits up to `timeout` for the QEMU of `pidfile` (pid `pid`) to be gone;
/// returns whether it is.
pub async fn wait_gone(pid: i32, pidfile: &Path, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if !is_instance_process(pid, pidfile) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// SIGKILLs `pid`, the QEMU of `pidfile`, and waits up to `timeout` for
/// it to be gone.
pub async fn kill_and_wait(pid: i32, pidfile: &Path, timeout: Duration) -> io::Result<()> {
    kill_hard(pid)?;
    if wait_gone(pid, pidfile, timeout).await {
        Ok(())
    } else {
        Err(survived_sigkill(pid))
    }
}

/// The error for a QEMU that outlived its SIGKILL.
pub fn survived_sigkill(pid: i32) -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!("QEMU process {pid} survived SIGKILL"),
    )
}

/// The blocking twin of [`wait_gone`], for [`crate::QemuDriver::kill_all`].
pub fn wait_gone_blocking(pid: i32, pidfile: &Path, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while is_instance_process(pid, pidfile) {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(POLL_INTERVAL);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn only_the_exact_pidfile_argument_matches() {
        let pidfile = Path::new("/var/lib/oxistack/instances/abc/qemu.pid");
        let cmdline = b"qemu-system-x86_64\0-name\0guest=vm\0-pidfile\0/var/lib/oxistack/instances/abc/qemu.pid\0-daemonize\0";
        assert!(cmdline_names_pidfile(cmdline, pidfile));
        let other = Path::new("/var/lib/oxistack/instances/ab/qemu.pid");
        assert!(!cmdline_names_pidfile(cmdline, other));
        // The path elsewhere on the command line is not enough.
        let mentioned = b"cat\0/var/lib/oxistack/instances/abc/qemu.pid\0";
        assert!(!cmdline_names_pidfile(mentioned, pidfile));
        assert!(!cmdline_names_pidfile(b"", pidfile));
    }

    #[tokio::test]
    async fn a_pid_is_trusted_only_when_its_command_line_names_the_pidfile() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("qemu.pid");
        // A shell blocked in its `read` builtin, passing `-pidfile <path>`
        // on its command line as QEMU does.
        let mut shell = Command::new("sh")
            .args(["-c", "read line", "sh", "-pidfile"])
            .arg(&pidfile)
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let pid = shell.id() as i32;
        std::fs::write(&pidfile, format!("{pid}\n")).unwrap();
        // Until the child has exec'd, its command line is still ours.
        let deadline = Instant::now() + Duration::from_secs(5);
        while live_pid(&pidfile).is_none() && Instant::now() < deadline {
            std::thread::sleep(POLL_INTERVAL);
        }
        assert_eq!(live_pid(&pidfile), Some(pid));
        assert!(!wait_gone(pid, &pidfile, Duration::from_millis(50)).await);

        // Our own pid is alive but does not own the pid file.
        std::fs::write(&pidfile, format!("{}\n", std::process::id())).unwrap();
        assert_eq!(live_pid(&pidfile), None);
        std::fs::write(&pidfile, "garbage").unwrap();
        assert_eq!(live_pid(&pidfile), None);

        std::fs::write(&pidfile, format!("{pid}\n")).unwrap();
        kill_hard(pid).unwrap();
        shell.wait().unwrap();
        assert!(wait_gone(pid, &pidfile, Duration::from_secs(1)).await);
        assert_eq!(live_pid(&pidfile), None);
    }
}
