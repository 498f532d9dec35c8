//! Volumes plugged into instances: hot-plug and unplug over QMP with the
//! same block nodes and device as the command line gives them
//! ([`command_line::blockdev_add_arguments`],
//! [`command_line::volume_device_arguments`]), and the spec kept in step so
//! that every later start plugs them again.

use oxistack_virt::{DriverError, DriverResult, VolumeDisk};
use serde_json::json;

use crate::command_line::{self, volume_device_id, volume_file_node, volume_node};
use crate::qmp::{self, QmpClient, QmpError};
use crate::{QemuDriver, VOLUME_UNPLUG_TIMEOUT, hypervisor, instance_dir, process};

impl QemuDriver {
    pub(crate) async fn attach_volume_to(&self, id: &str, disk: &VolumeDisk) -> DriverResult<()> {
        const OPERATION: &str = "attach a volume to";
        if let Some(reason) = command_line::unsupported_volume(disk) {
            return Err(hypervisor(id, OPERATION, reason));
        }
        let paths = self.existing(id)?;
        let _lock = self.lock(id).await;
        let mut spec = instance_dir::read_spec(&paths.spec)?;
        if spec.volumes.contains(disk) {
            return Ok(());
        }
        let node = volume_node(&disk.volume_id);
        if let Some(plugged) = spec
            .root_volume
            .iter()
            .chain(&spec.volumes)
            .find(|v| volume_node(&v.volume_id) == node)
        {
            return Err(hypervisor(
                id,
                OPERATION,
                if plugged.volume_id == disk.volume_id {
                    format!(
                        "volume {} is already plugged from {}",
                        plugged.volume_id,
                        plugged.path.display()
                    )
                } else {
                    format!(
                        "volume {} is plugged, whose id starts as {}'s",
                        plugged.volume_id, disk.volume_id
                    )
                },
            ));
        }
        if process::live_pid(&paths.pidfile).is_some() {
            let mut qmp = self.qmp(&paths, id, OPERATION).await?;
            plug(&mut qmp, disk)
                .await
                .map_err(|e| hypervisor(id, OPERATION, e))?;
            tracing::info!(id, volume = %disk.volume_id, "volume hot-plugged");
        }
        spec.volumes.push(disk.clone());
        instance_dir::write_spec(&paths.spec, &spec)?;
        Ok(())
    }

    pub(crate) async fn detach_volume_from(&self, id: &str, volume_id: &str) -> DriverResult<()> {
        const OPERATION: &str = "detach a volume from";
        let paths = self.existing(id)?;
        let _lock = self.lock(id).await;
        let mut spec = instance_dir::read_spec(&paths.spec)?;
        let Some(disk) = spec.volumes.iter().find(|v| v.volume_id == volume_id) else {
            return Ok(());
        };
        if process::live_pid(&paths.pidfile).is_some() {
            let mut qmp = self.qmp(&paths, id, OPERATION).await?;
            let device = volume_device_id(volume_id);
            match qmp
                .execute("device_del", Some(json!({ "id": device })))
                .await
            {
                Ok(_) => {}
                // Gone already (an earlier detach whose guest let go late).
                Err(error) if error.is_not_found() => {}
                // Asked before and not let go yet: wait again.
                Err(QmpError::Refused { description, .. })
                    if description.contains("in the process of unplug") => {}
                Err(error) => return Err(hypervisor(id, OPERATION, error)),
            }
            // The guest lets go of the disk asynchronously (ACPI eject). One
            // that does not keeps it plugged: the detach fails, the volume
            // stays in the spec and the disk's nodes stay under it.
            if qmp_device_exists(&mut qmp, &device).await {
                match qmp
                    .wait_event(
                        |e| qmp::is_device_deleted(e, &device),
                        VOLUME_UNPLUG_TIMEOUT,
                    )
                    .await
                {
                    Ok(_) => {}
                    Err(QmpError::Timeout { .. }) => {
                        return Err(DriverError::Timeout {
                            id: id.to_owned(),
                            operation: "the guest's release of a detached volume",
                            timeout: VOLUME_UNPLUG_TIMEOUT,
                        });
                    }
                    Err(error) => return Err(hypervisor(id, OPERATION, error)),
                }
            }
            remove_nodes(&mut qmp, &disk.volume_id)
                .await
                .map_err(|e| hypervisor(id, OPERATION, e))?;
            tracing::info!(id, volume = volume_id, "volume unplugged");
        }
        spec.volumes.retain(|v| v.volume_id != volume_id);
        instance_dir::write_spec(&paths.spec, &spec)?;
        Ok(())
    }

    pub(crate) async fn resize_volume_of(
        &self,
        id: &str,
        volume_id: &str,
        size_bytes: u64,
    ) -> DriverResult<()> {
        const OPERATION: &str = "resize a volume of";
        let paths = self.existing(id)?;
        let _lock = self.lock(id).await;
        // A stopped guest reads the new size when it starts.
        if process::live_pid(&paths.pidfile).is_none() {
            return Ok(());
        }
        let spec = instance_dir::read_spec(&paths.spec)?;
        let plugged = spec
            .root_volume
            .iter()
            .chain(&spec.volumes)
            .any(|v| v.volume_id == volume_id);
        if !plugged {
            tracing::info!(
                id,
                volume = volume_id,
                "resize of a volume that is not plugged"
            );
            return Ok(());
        }
        let arguments = json!({ "node-name": volume_node(volume_id), "size": size_bytes });
        self.qmp(&paths, id, OPERATION)
            .await?
            .execute("block_resize", Some(arguments))
            .await
            .map_err(|e| hypervisor(id, OPERATION, e))?;
        tracing::info!(id, volume = volume_id, size_bytes, "volume resized");
        Ok(())
    }
}

/// Adds the volume's block nodes and its device, or nothing on failure.
async fn plug(qmp: &mut QmpClient, disk: &VolumeDisk) -> Result<(), QmpError> {
    // Nodes left by an unplug whose guest let go after the detach gave up;
    // a node in use is never removed, so this cannot unplug anything.
    let _ = remove_nodes(qmp, &disk.volume_id).await;
    let [file, format] = command_line::blockdev_add_arguments(disk);
    qmp.execute("blockdev-add", Some(file)).await?;
    let mut result = qmp.execute("blockdev-add", Some(format)).await;
    if result.is_ok() {
        let device = command_line::volume_device_arguments(disk);
        result = qmp.execute("device_add", Some(device)).await;
    }
    if let Err(error) = result {
        let _ = remove_nodes(qmp, &disk.volume_id).await;
        return Err(error);
    }
    Ok(())
}

/// Deletes the volume's format node, then its file node; absent ones are
/// fine.
async fn remove_nodes(qmp: &mut QmpClient, volume_id: &str) -> Result<(), QmpError> {
    for node in [volume_node(volume_id), volume_file_node(volume_id)] {
        match qmp
            .execute("blockdev-del", Some(json!({ "node-name": node })))
            .await
        {
            Err(error) if !error.is_not_found() => return Err(error),
            _ => {}
        }
    }
    Ok(())
}

/// Whether QEMU still has device `id` (one whose DEVICE_DELETED may have
/// come before this connection, or not yet).
async fn qmp_device_exists(qmp: &mut QmpClient, id: &str) -> bool {
    let path = format!("/machine/peripheral/{id}");
    match qmp
        .execute("qom-get", Some(json!({ "path": path, "property": "type" })))
        .await
    {
        Ok(_) => true,
        Err(error) => !error.is_not_found(),
    }
}
