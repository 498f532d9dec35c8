//! Creating and deleting the data plane's namespaces, and what must hold
//! inside each: loopback up, and sysctls set from a thread inside the
//! namespace (never the host's).

use std::io;

use oxistack_netplane::DataPlaneError;

use crate::command::{Cmd, Runner};
use crate::observe::Links;

/// A failure to create, delete or enter namespace `name`, or of the
/// blocking task doing it.
fn netns_error(
    name: &str,
    error: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> DataPlaneError {
    DataPlaneError::Io {
        context: format!("network namespace {name}"),
        source: io::Error::other(error),
    }
}

/// Creates namespace `name` unless it exists.
pub(crate) async fn ensure(runner: &Runner, name: &str) -> Result<(), DataPlaneError> {
    if oxistack_netns::exists(name) {
        return Ok(());
    }
    runner.record_change(&format!("create namespace {name}"));
    let owned = name.to_owned();
    tokio::task::spawn_blocking(move || oxistack_netns::create(&owned))
        .await
        .map_err(|e| netns_error(name, e))?
        .map_err(|e| netns_error(name, e))
}

/// Deletes namespace `name` and every device in it.
pub(crate) async fn delete(runner: &Runner, name: &str) -> Result<(), DataPlaneError> {
    runner.record_change(&format!("delete namespace {name}"));
    let owned = name.to_owned();
    tokio::task::spawn_blocking(move || oxistack_netns::delete(&owned))
        .await
        .map_err(|e| netns_error(name, e))?
        .map_err(|e| netns_error(name, e))
}

/// Brings `lo` up if it is down (a namespace made by someone else).
pub(crate) async fn ensure_loopback(
    runner: &Runner,
    name: &str,
    links: &Links,
) -> Result<(), DataPlaneError> {
    match links.get("lo") {
        Some(lo) if lo.up => Ok(()),
        _ => {
            runner
                .change(Cmd::ip(name).args(["link", "set", "dev", "lo", "up"]))
                .await
        }
    }
}

/// Sets each `/proc/sys/...` file of `settings` to its value inside
/// namespace `name` (a thread that entered it sees the namespace's own
/// `net.*` sysctls), writing only those that differ.
pub(crate) async fn ensure_sysctls(
    runner: &Runner,
    name: &str,
    settings: &'static [(&'static str, &'static str)],
) -> Result<(), DataPlaneError> {
    let owned = name.to_owned();
    let written = tokio::task::spawn_blocking(move || {
        oxistack_netns::run_in(&owned, || -> io::Result<Vec<&'static str>> {
            let mut written = Vec::new();
            for (path, value) in settings {
                if std::fs::read_to_string(path)?.trim() != *value {
                    std::fs::write(path, value)?;
                    written.push(*path);
                }
            }
            Ok(written)
        })
    })
    .await
    .map_err(|e| netns_error(name, e))?
    .map_err(|e| netns_error(name, e))?
    .map_err(|source| DataPlaneError::Io {
        context: format!("setting sysctls in network namespace {name}"),
        source,
    })?;
    for path in written {
        runner.record_change(&format!("set {path} in namespace {name}"));
    }
    Ok(())
}
