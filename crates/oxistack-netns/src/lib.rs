//! Named network namespaces, as `ip netns` keeps them: a namespace named
//! `N` is pinned by a bind mount at `/run/netns/N`, so it outlives the
//! process that made it and every tool (`ip -n N`, `ip netns exec N`)
//! finds it by name.
//!
//! Code runs inside a namespace on a thread of its own that enters it
//! ([`run_in`]): sockets that thread opens stay in the namespace after it
//! ends, which is how one process serves DHCP, metadata or an API in many
//! namespaces. Programs start inside one through [`command_in`].

use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;

use nix::sched::{CloneFlags, setns};

/// Where `ip netns` pins named namespaces.
pub const NETNS_DIR: &str = "/run/netns";

#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    #[error("network namespace {0} does not exist")]
    Missing(String),
    #[error("`ip netns {action} {name}` failed: {reason}")]
    Ip {
        action: &'static str,
        name: String,
        reason: String,
    },
    #[error("entering network namespace {name}: {source}")]
    Enter {
        name: String,
        #[source]
        source: io::Error,
    },
}

/// The file that pins namespace `name`.
pub fn path(name: &str) -> PathBuf {
    PathBuf::from(NETNS_DIR).join(name)
}

pub fn exists(name: &str) -> bool {
    path(name).exists()
}

/// Names of the namespaces that start with `prefix`, sorted.
pub fn list(prefix: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(NETNS_DIR)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter(|name| name.starts_with(prefix))
        .collect();
    names.sort();
    names
}

/// Creates namespace `name` with its loopback up; an existing one is kept.
pub fn create(name: &str) -> Result<(), NetnsError> {
    if !exists(name) {
        ip_netns("add", name)?;
    }
    let up = Command::new("ip")
        .args(["-n", name, "link", "set", "lo", "up"])
        .output()
        .map_err(|e| ip_error("add", name, e.to_string()))?;
    if !up.status.success() {
        return Err(ip_error(
            "add",
            name,
            String::from_utf8_lossy(&up.stderr).trim().to_owned(),
        ));
    }
    Ok(())
}

/// Deletes namespace `name`, and with it every device inside; a missing
/// one is fine.
pub fn delete(name: &str) -> Result<(), NetnsError> {
    if exists(name) {
        ip_netns("delete", name)?;
    }
    Ok(())
}

fn ip_netns(action: &'static str, name: &str) -> Result<(), NetnsError> {
    let output = Command::new("ip")
        .args(["netns", action, name])
        .output()
        .map_err(|e| ip_error(action, name, e.to_string()))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(ip_error(
            action,
            name,
            String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        ))
    }
}

fn ip_error(action: &'static str, name: &str, reason: String) -> NetnsError {
    NetnsError::Ip {
        action,
        name: name.to_owned(),
        reason,
    }
}

fn open(name: &str) -> Result<File, NetnsError> {
    File::open(path(name)).map_err(|source| {
        if source.kind() == io::ErrorKind::NotFound {
            NetnsError::Missing(name.to_owned())
        } else {
            NetnsError::Enter {
                name: name.to_owned(),
                source,
            }
        }
    })
}

/// Runs `f` on a new thread inside namespace `name` and returns its
/// result. Sockets `f` opens belong to the namespace for good; the calling
/// thread never changes namespace.
pub fn run_in<T, F>(name: &str, f: F) -> Result<T, NetnsError>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    let target = open(name)?;
    std::thread::scope(|scope| {
        scope
            .spawn(move || {
                setns(target.as_fd(), CloneFlags::CLONE_NEWNET).map_err(|errno| {
                    NetnsError::Enter {
                        name: name.to_owned(),
                        source: io::Error::from(errno),
                    }
                })?;
                Ok(f())
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// A command that runs `program` inside namespace `name`: the child enters
/// it between fork and exec, as `ip netns exec` does, without the mount
/// namespace games (nothing here needs a per-namespace /sys).
pub fn command_in(name: &str, program: &str) -> Result<Command, NetnsError> {
    let target = open(name)?;
    let mut command = Command::new(program);
    // SAFETY: the closure only calls setns(2), which is async-signal-safe,
    // on a descriptor opened before the fork.
    unsafe {
        command.pre_exec(move || {
            setns(target.as_fd(), CloneFlags::CLONE_NEWNET).map_err(io::Error::from)
        });
    }
    Ok(command)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Needs root: makes a namespace, finds it, enters it and removes it.
    #[test]
    fn namespaces_are_created_entered_and_deleted() {
        let name = format!("oxtest-netns-{}", std::process::id());
        create(&name).unwrap();
        let guard = Cleanup(name.clone());
        assert!(list("oxtest-netns-").contains(&name));
        // Inside, only the loopback exists.
        let links = run_in(&name, || {
            std::fs::read_dir("/sys/class/net").map(|d| d.count())
        })
        .unwrap();
        assert!(links.is_ok());
        let output = command_in(&name, "ip")
            .unwrap()
            .args(["-o", "link", "show"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&output.stdout);
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.contains("lo:"));
        drop(guard);
        assert!(!exists(&name));
        assert!(matches!(run_in(&name, || ()), Err(NetnsError::Missing(_))));
    }

    struct Cleanup(String);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = delete(&self.0);
        }
    }
}
