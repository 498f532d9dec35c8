//! Suspending guests to disk around a host reboot, as libvirt-guests does
//! by default (ON_SHUTDOWN=suspend): `oxistack teardown` saves each
//! running guest's memory and device state to `saved-state` in its
//! instance directory and stops QEMU; the next start of the instance loads
//! that state instead of booting, so the guest carries on where it was,
//! with its processes. QEMU streams the state over a Unix socket in the
//! instance directory, out when saving and in when resuming (Debian 12's
//! QEMU 7.2 has no `file:` migration, and this needs no shell).

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::net::{UnixListener, UnixStream};
use tokio::time::Instant;

use oxistack_virt::InstanceSpec;

use crate::QMP_TIMEOUT;
use crate::command_line;
use crate::instance_dir::InstancePaths;
use crate::qmp::{QmpClient, QmpError};

/// How long saving or loading one guest may take; a few hundred MB of
/// mostly untouched RAM takes a second or two.
const MIGRATION_TIMEOUT: Duration = Duration::from_secs(120);
const POLL: Duration = Duration::from_millis(20);
/// No reason to throttle a migration that only goes to the local disk.
const MAX_BANDWIDTH: u64 = 10 << 30;

#[derive(Debug, thiserror::Error)]
pub enum SuspendError {
    #[error(transparent)]
    Qmp(#[from] QmpError),
    #[error("saved-state I/O failed: {0}")]
    Io(#[from] io::Error),
    #[error("QEMU's migration {0}")]
    Migration(String),
    #[error("the migration did not finish within {0:?}")]
    Timeout(Duration),
}

/// Saves the running guest of `paths` to its saved-state file, leaving
/// QEMU paused; the caller stops it. The file appears only complete, after
/// the PCI addresses of the guest's devices (see [`saved_addresses`]).
pub async fn save(paths: &InstancePaths) -> Result<(), SuspendError> {
    let partial = paths.saved_state.with_extension("part");
    let result = tokio::time::timeout(MIGRATION_TIMEOUT, save_to(paths, &partial)).await;
    let _ = std::fs::remove_file(&paths.migration_socket);
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(_) => Err(SuspendError::Timeout(MIGRATION_TIMEOUT)),
    };
    match outcome {
        Ok(addresses) => {
            let devices = paths.saved_devices.with_extension("part");
            std::fs::write(
                &devices,
                serde_json::to_vec(&addresses).map_err(io::Error::other)?,
            )?;
            std::fs::File::open(&devices)?.sync_all()?;
            std::fs::rename(&devices, &paths.saved_devices)?;
            std::fs::rename(&partial, &paths.saved_state)?;
            std::fs::File::open(&paths.dir)?.sync_all()?;
            Ok(())
        }
        Err(error) => {
            let _ = std::fs::remove_file(&partial);
            Err(error)
        }
    }
}

/// Saves the guest to `partial`; returns its devices' PCI addresses.
async fn save_to(
    paths: &InstancePaths,
    partial: &Path,
) -> Result<BTreeMap<String, String>, SuspendError> {
    let _ = std::fs::remove_file(&paths.migration_socket);
    let listener = UnixListener::bind(&paths.migration_socket)?;
    let mut qmp = QmpClient::connect(&paths.qmp_socket, QMP_TIMEOUT).await?;
    // A frozen guest is saved in one consistent pass.
    qmp.execute("stop", None).await?;
    let addresses = pci_addresses(&qmp.execute("query-pci", None).await?);
    qmp.execute(
        "migrate-set-parameters",
        Some(json!({ "max-bandwidth": MAX_BANDWIDTH })),
    )
    .await?;
    let uri = format!("unix:{}", paths.migration_socket.display());
    qmp.execute("migrate", Some(json!({ "uri": uri }))).await?;
    let receive = async {
        let (mut stream, _) = listener.accept().await?;
        let mut file = tokio::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(partial)
            .await?;
        tokio::io::copy(&mut stream, &mut file).await?;
        file.sync_all().await
    };
    let (received, migrated) = tokio::join!(receive, wait_migration(&mut qmp));
    migrated?;
    received?;
    Ok(addresses)
}

/// The PCI addresses (`0x5`, `0x5.0x1`) of the devices with an id on the
/// root bus, from a `query-pci` reply.
fn pci_addresses(reply: &Value) -> BTreeMap<String, String> {
    let devices = reply
        .pointer("/0/devices")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    devices
        .iter()
        .filter_map(|device| {
            let id = device.get("qdev_id").and_then(Value::as_str)?;
            let slot = device.get("slot").and_then(Value::as_u64)?;
            let function = device.get("function").and_then(Value::as_u64)?;
            let address = match function {
                0 => format!("{slot:#x}"),
                _ => format!("{slot:#x}.{function:#x}"),
            };
            (!id.is_empty()).then(|| (id.to_owned(), address))
        })
        .collect()
}

/// The PCI addresses to load the saved guest of `paths` into: those its
/// devices had, which must be the devices `spec` gives it (an empty map
/// for a save that did not record them: its devices are in command-line
/// order). Refused when the devices differ (a volume attached or detached
/// since), as loading a guest into other devices would confuse them.
pub fn resume_addresses(
    paths: &InstancePaths,
    spec: &InstanceSpec,
) -> Result<BTreeMap<String, String>, String> {
    let Some(addresses) = saved_addresses(paths)
        .map_err(|e| format!("cannot read {}: {e}", paths.saved_devices.display()))?
    else {
        return Ok(BTreeMap::new());
    };
    let saved: BTreeSet<String> = addresses.keys().cloned().collect();
    let now = command_line::device_ids(spec);
    if saved != now {
        return Err(format!(
            "the guest was saved with the devices {saved:?}, the instance now has {now:?}"
        ));
    }
    Ok(addresses)
}

/// The PCI addresses a saved guest's devices had, if its save recorded
/// them.
fn saved_addresses(paths: &InstancePaths) -> io::Result<Option<BTreeMap<String, String>>> {
    match std::fs::read(&paths.saved_devices) {
        Ok(json) => serde_json::from_slice(&json)
            .map(Some)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e)),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

/// Feeds a saved guest to a QEMU started with `-incoming` and lets it run
/// once loaded.
pub async fn resume(paths: &InstancePaths) -> Result<(), SuspendError> {
    tokio::time::timeout(MIGRATION_TIMEOUT, resume_from(paths))
        .await
        .unwrap_or(Err(SuspendError::Timeout(MIGRATION_TIMEOUT)))
}

async fn resume_from(paths: &InstancePaths) -> Result<(), SuspendError> {
    let mut stream = connect_when_listening(&paths.migration_socket).await?;
    let mut file = tokio::fs::File::open(&paths.saved_state).await?;
    tokio::io::copy(&mut file, &mut stream).await?;
    stream.shutdown().await?;
    drop(stream);
    let mut qmp = QmpClient::connect(&paths.qmp_socket, QMP_TIMEOUT).await?;
    loop {
        let status = qmp.query_status().await?;
        match status.as_str() {
            "running" => return Ok(()),
            // Loaded; the guest was frozen when it was saved.
            "paused" | "postmigrate" => {
                qmp.execute("cont", None).await?;
            }
            "inmigrate" => {
                let migration = qmp.execute("query-migrate", None).await?;
                if let Some(failure) = failed(&migration) {
                    return Err(SuspendError::Migration(failure));
                }
                tokio::time::sleep(POLL).await;
            }
            other => {
                return Err(SuspendError::Migration(format!("left the guest {other}")));
            }
        }
    }
}

/// Polls `query-migrate` until the outgoing migration completes.
async fn wait_migration(qmp: &mut QmpClient) -> Result<(), SuspendError> {
    loop {
        let migration = qmp.execute("query-migrate", None).await?;
        if migration.get("status").and_then(Value::as_str) == Some("completed") {
            return Ok(());
        }
        if let Some(failure) = failed(&migration) {
            return Err(SuspendError::Migration(failure));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Why a migration failed, if `query-migrate` says it did.
fn failed(migration: &Value) -> Option<String> {
    let status = migration.get("status").and_then(Value::as_str)?;
    matches!(status, "failed" | "cancelled").then(|| {
        let reason = migration
            .get("error-desc")
            .and_then(Value::as_str)
            .unwrap_or("no reason given");
        format!("{status}: {reason}")
    })
}

/// QEMU opens its incoming socket while it starts; retry until it does.
async fn connect_when_listening(socket: &Path) -> io::Result<UnixStream> {
    let deadline = Instant::now() + QMP_TIMEOUT;
    loop {
        match UnixStream::connect(socket).await {
            Ok(stream) => return Ok(stream),
            Err(error) if Instant::now() >= deadline => return Err(error),
            Err(_) => tokio::time::sleep(POLL).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pci_addresses_are_read_by_device_id() {
        let reply = json!([{"bus": 0, "devices": [
            {"bus": 0, "slot": 0, "function": 0, "qdev_id": ""},
            {"bus": 0, "slot": 2, "function": 0, "qdev_id": "nic-5d2e8a91-7f"},
            {"bus": 0, "slot": 3, "function": 0, "qdev_id": "root-disk"},
            {"bus": 0, "slot": 12, "function": 1, "qdev_id": "volume-x"},
        ]}]);
        let addresses = pci_addresses(&reply);
        assert_eq!(addresses.len(), 3);
        assert_eq!(addresses["nic-5d2e8a91-7f"], "0x2");
        assert_eq!(addresses["root-disk"], "0x3");
        assert_eq!(addresses["volume-x"], "0xc.0x1");
        assert!(pci_addresses(&json!({})).is_empty());
    }

    #[test]
    fn failed_migrations_say_why() {
        assert_eq!(failed(&json!({"status": "active"})), None);
        assert_eq!(failed(&json!({"status": "completed"})), None);
        assert_eq!(
            failed(&json!({"status": "failed", "error-desc": "disk full"})).as_deref(),
            Some("failed: disk full")
        );
        assert_eq!(
            failed(&json!({"status": "cancelled"})).as_deref(),
            Some("cancelled: no reason given")
        );
    }
}
