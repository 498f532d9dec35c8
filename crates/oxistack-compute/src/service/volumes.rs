//! Volumes on servers, as Nova drives Cinder: `os-volume_attachments`
//! (attach, detach, list), the volumes a build maps (boot from volume),
//! and what a server's deletion and a restart do to them.
//!
//! Each step is recorded in the server's block device mapping before the
//! step after it, in this order: reserve in the volume service
//! (`Attaching`), plug into the guest, complete (`Attached`); for a
//! detach: begin (`Detaching`), unplug, release, forget. The driver's
//! plug and unplug are idempotent, so a restart finishes whatever a crash
//! interrupted by doing the recorded step again.

use std::sync::Arc;

use oxistack_auth::AuthContext;
use oxistack_contracts::{AttachmentGrant, BootVolumeRequest, ContractError, Volumes};
use oxistack_virt::{DriverError, VolumeDisk};

use super::ComputeService;
use super::error::{ComputeError, shown};
use crate::model::{AttachState, BlockDevice, Server, new_id};

/// What `POST /servers/{id}/os-volume_attachments` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachVolume {
    pub volume_id: String,
    pub tag: Option<String>,
    pub delete_on_termination: bool,
    /// Whether the request's microversion may attach a multi-attach
    /// volume (2.60).
    pub multiattach_allowed: bool,
}

impl ComputeService {
    /// Hands compute the volume service (built before it, wired after).
    pub fn set_volumes(&self, volumes: Arc<dyn Volumes>) {
        if self.volumes.set(volumes).is_err() {
            tracing::warn!("the volume service was handed to compute twice; keeping the first");
        }
    }

    pub(crate) fn volume_service(&self) -> Result<&Arc<dyn Volumes>, ComputeError> {
        self.volumes
            .get()
            .ok_or_else(|| ComputeError::invalid("This cloud runs no volume service."))
    }

    /// The volumes mapped to a server the caller can see.
    pub(crate) async fn volume_attachments(
        &self,
        caller: &Arc<AuthContext>,
        server_id: &str,
    ) -> Result<Vec<BlockDevice>, ComputeError> {
        let server = self.visible_server(caller, server_id).await?;
        Ok(server
            .block_devices
            .into_iter()
            .filter(|d| d.volume_id.is_some())
            .collect())
    }

    /// Attaches a volume to a server: hot-plugged if it runs, plugged at
    /// its next start if it is stopped.
    pub(crate) async fn attach_volume(
        &self,
        caller: &Arc<AuthContext>,
        server_id: &str,
        request: AttachVolume,
    ) -> Result<BlockDevice, ComputeError> {
        let volumes = self.volume_service()?.clone();
        self.idle_for_interfaces(caller, server_id, "attach_volume")
            .await?;
        let _turn = self.locks.lock(server_id).await;
        let server = self.visible_server(caller, server_id).await?;
        let volume = volumes
            .find(caller, &request.volume_id)
            .await?
            .ok_or_else(|| {
                ComputeError::not_found(format!("Volume {} could not be found.", request.volume_id))
            })?;
        if volume.multiattach && !request.multiattach_allowed {
            return Err(ComputeError::invalid(
                "Multiattach volumes are only supported starting with compute API version 2.60.",
            ));
        }
        if server
            .block_devices
            .iter()
            .any(|d| d.volume_id.as_deref() == Some(volume.id.as_str()))
        {
            return Err(ComputeError::invalid(format!(
                "Invalid volume: volume {} already attached",
                volume.id
            )));
        }
        let grant = volumes
            .reserve(caller, &volume.id, server_id)
            .await
            .map_err(refusal_as_invalid)?;
        let device = BlockDevice {
            id: new_id(),
            volume_id: Some(volume.id.clone()),
            attachment_id: Some(grant.attachment_id.clone()),
            device: next_device(&server),
            boot_index: None,
            delete_on_termination: request.delete_on_termination,
            tag: request.tag,
            state: AttachState::Attaching,
            create: None,
        };
        let recorded = device.clone();
        if !self
            .update(server_id, move |s| s.block_devices.push(recorded))
            .await
        {
            release_quietly(volumes.as_ref(), &grant.attachment_id).await;
            return Err(ComputeError::not_found(format!(
                "Instance {server_id} could not be found."
            )));
        }
        if let Err(error) = self.driver.attach_volume(server_id, &disk(&grant)).await {
            tracing::warn!(server = %server_id, volume = %volume.id, %error, "cannot plug a volume");
            release_quietly(volumes.as_ref(), &grant.attachment_id).await;
            let mapping = device.id.clone();
            self.update(server_id, move |s| {
                s.block_devices.retain(|d| d.id != mapping)
            })
            .await;
            return Err(ComputeError::internal("attaching the volume", error));
        }
        self.finish_attach(server_id, &device).await?;
        Ok(BlockDevice {
            state: AttachState::Attached,
            ..device
        })
    }

    /// Marks a plugged volume attached, in the volume service and here.
    async fn finish_attach(
        &self,
        server_id: &str,
        device: &BlockDevice,
    ) -> Result<(), ComputeError> {
        let volumes = self.volume_service()?;
        if let Some(attachment) = &device.attachment_id {
            volumes.complete(attachment, &device.device).await?;
        }
        self.record_mapping(server_id, &device.id, |d| d.state = AttachState::Attached)
            .await;
        Ok(())
    }

    /// Detaches a volume from a server; returns once the guest let go of it
    /// and the volume service released it.
    pub(crate) async fn detach_volume(
        &self,
        caller: &Arc<AuthContext>,
        server_id: &str,
        volume_id: &str,
    ) -> Result<(), ComputeError> {
        self.volume_service()?;
        self.idle_for_interfaces(caller, server_id, "detach_volume")
            .await?;
        let _turn = self.locks.lock(server_id).await;
        let server = self.visible_server(caller, server_id).await?;
        let device = mapping_of(&server, volume_id)?;
        if device.is_root() {
            return Err(ComputeError::invalid("Cannot detach a root device volume"));
        }
        if device.state != AttachState::Attached {
            return Err(ComputeError::conflict(format!(
                "Volume {volume_id} is being attached or detached; try again later."
            )));
        }
        self.detach_mapping(server_id, &device).await
    }

    /// Unplugs and releases one mapping, recording each step.
    async fn detach_mapping(
        &self,
        server_id: &str,
        device: &BlockDevice,
    ) -> Result<(), ComputeError> {
        let volumes = self.volume_service()?.clone();
        let volume_id = device.volume_id.clone().unwrap_or_default();
        if let Some(attachment) = &device.attachment_id {
            volumes.begin_detach(attachment).await?;
        }
        self.record_mapping(server_id, &device.id, |d| d.state = AttachState::Detaching)
            .await;
        match self.driver.detach_volume(server_id, &volume_id).await {
            Ok(()) | Err(DriverError::NotFound(_)) => {}
            Err(error) => {
                tracing::warn!(server = %server_id, volume = %volume_id, %error, "cannot unplug a volume");
                // The guest still has it: it stays attached.
                if let Some(attachment) = &device.attachment_id {
                    volumes.complete(attachment, &device.device).await?;
                }
                self.record_mapping(server_id, &device.id, |d| d.state = AttachState::Attached)
                    .await;
                return Err(ComputeError::internal("detaching the volume", error));
            }
        }
        if let Some(attachment) = &device.attachment_id {
            volumes.release(attachment).await?;
        }
        let mapping = device.id.clone();
        self.update(server_id, move |s| {
            s.block_devices.retain(|d| d.id != mapping)
        })
        .await;
        Ok(())
    }

    /// Changes whether a mapped volume goes with its server (2.85).
    pub(crate) async fn set_delete_on_termination(
        &self,
        caller: &Arc<AuthContext>,
        server_id: &str,
        volume_id: &str,
        delete_on_termination: bool,
    ) -> Result<BlockDevice, ComputeError> {
        self.idle_for_interfaces(caller, server_id, "swap_volume")
            .await?;
        let _turn = self.locks.lock(server_id).await;
        let server = self.visible_server(caller, server_id).await?;
        let mut device = mapping_of(&server, volume_id)?;
        device.delete_on_termination = delete_on_termination;
        self.record_mapping(server_id, &device.id, move |d| {
            d.delete_on_termination = delete_on_termination;
        })
        .await;
        Ok(device)
    }

    /// A build's volumes: creates those the server boots from or maps new,
    /// and reserves every one, recording each step. The server's mappings
    /// are `Attaching` afterwards, ready for the spawn.
    pub(super) async fn prepare_volumes(
        &self,
        server: &Server,
        caller: &AuthContext,
    ) -> Result<(), ComputeError> {
        if server.block_devices.is_empty() {
            return Ok(());
        }
        let volumes = self.volume_service()?.clone();
        for device in &server.block_devices {
            let volume_id = match (&device.volume_id, &device.create) {
                (Some(id), _) => id.clone(),
                (None, Some(create)) => {
                    let request = BootVolumeRequest {
                        name: String::new(),
                        size_gib: create.size_gib,
                        image_id: create.image_id.clone(),
                        volume_type: create.volume_type.clone(),
                    };
                    let created = volumes.create_boot_volume(caller, &request).await?.id;
                    let recorded = created.clone();
                    self.record_mapping(&server.id, &device.id, move |d| {
                        d.volume_id = Some(recorded);
                    })
                    .await;
                    created
                }
                (None, None) => continue,
            };
            if device.attachment_id.is_none() {
                let attachment = volumes
                    .reserve(caller, &volume_id, &server.id)
                    .await?
                    .attachment_id;
                self.record_mapping(&server.id, &device.id, move |d| {
                    d.attachment_id = Some(attachment);
                    d.state = AttachState::Attaching;
                })
                .await;
            }
        }
        Ok(())
    }

    /// After a build's spawn: its mappings are attached.
    pub(super) async fn complete_volumes(&self, server_id: &str) -> Result<(), ComputeError> {
        let Some(server) = self.current(server_id).await else {
            return Ok(());
        };
        for device in server
            .block_devices
            .iter()
            .filter(|d| d.state == AttachState::Attaching)
        {
            self.finish_attach(server_id, device).await?;
        }
        Ok(())
    }

    /// The disks a server's instance starts with: its root volume, if it
    /// boots from one, and the volumes attached (or being attached).
    pub(super) async fn volume_disks(
        &self,
        server: &Server,
    ) -> Result<(Option<VolumeDisk>, Vec<VolumeDisk>), DriverError> {
        let mut root = None;
        let mut others = Vec::new();
        for device in &server.block_devices {
            let (Some(attachment), AttachState::Attaching | AttachState::Attached) =
                (&device.attachment_id, device.state)
            else {
                continue;
            };
            let volumes = self
                .volume_service()
                .map_err(|e| DriverError::Io(e.to_string()))?;
            let grant = volumes.location(attachment).await.map_err(|e| {
                DriverError::Io(format!("cannot find the data of a volume: {}", shown(e)))
            })?;
            if device.is_root() {
                root = Some(disk(&grant));
            } else {
                others.push(disk(&grant));
            }
        }
        Ok((root, others))
    }

    /// After a server is gone from the host (deleted, or its build failed):
    /// its attachments are released, and the volumes marked
    /// `delete_on_termination` deleted.
    pub(super) async fn release_volumes(&self, server: &Server) -> Result<(), ComputeError> {
        if server.block_devices.is_empty() {
            return Ok(());
        }
        let volumes = self.volume_service()?.clone();
        for device in &server.block_devices {
            if let Some(attachment) = &device.attachment_id {
                volumes.release(attachment).await?;
            }
            if device.delete_on_termination
                && let Some(volume) = &device.volume_id
            {
                volumes.delete_volume(volume).await?;
            }
        }
        Ok(())
    }

    /// After a restart: finishes the attaches and detaches a crash
    /// interrupted, on a server whose instance the host has.
    pub(super) async fn resume_volumes(&self, server: &Server) {
        for device in &server.block_devices {
            let result = match device.state {
                AttachState::Attaching if server.vm_state != crate::model::VmState::Building => {
                    self.replug(server, device).await
                }
                AttachState::Detaching => self.detach_mapping(&server.id, device).await,
                _ => continue,
            };
            match result {
                Ok(()) => {
                    tracing::info!(server = %server.id, volume = ?device.volume_id, state = ?device.state, "finished an interrupted volume operation")
                }
                Err(error) => {
                    tracing::warn!(server = %server.id, volume = ?device.volume_id, %error, "cannot finish an interrupted volume operation")
                }
            }
        }
    }

    async fn replug(&self, server: &Server, device: &BlockDevice) -> Result<(), ComputeError> {
        let Some(attachment) = &device.attachment_id else {
            return Ok(());
        };
        let grant = self.volume_service()?.location(attachment).await?;
        match self.driver.attach_volume(&server.id, &disk(&grant)).await {
            Ok(()) | Err(DriverError::NotFound(_)) => {}
            Err(error) => return Err(ComputeError::internal("plugging the volume again", error)),
        }
        self.finish_attach(&server.id, device).await
    }

    /// Nova's `volume-extended` event: the running guest sees the new size.
    pub(crate) async fn volume_extended(
        &self,
        server_id: &str,
        volume_id: &str,
        size_bytes: u64,
    ) -> Result<(), ComputeError> {
        match self
            .driver
            .resize_volume(server_id, volume_id, size_bytes)
            .await
        {
            Ok(()) | Err(DriverError::NotFound(_)) => Ok(()),
            Err(error) => Err(ComputeError::internal("growing an attached volume", error)),
        }
    }

    async fn record_mapping(
        &self,
        server_id: &str,
        mapping: &str,
        change: impl FnOnce(&mut BlockDevice) + Send + 'static,
    ) {
        let mapping = mapping.to_owned();
        self.update(server_id, move |s| {
            if let Some(d) = s.block_devices.iter_mut().find(|d| d.id == mapping) {
                change(d);
            }
        })
        .await;
    }
}

/// The mapping of `volume_id` on `server`; Nova's 404 if it has none.
fn mapping_of(server: &Server, volume_id: &str) -> Result<BlockDevice, ComputeError> {
    server
        .block_devices
        .iter()
        .find(|d| d.volume_id.as_deref() == Some(volume_id))
        .cloned()
        .ok_or_else(|| ComputeError::not_found(format!("volume_id not found: {volume_id}")))
}

/// The device name a new volume of `server` gets.
fn next_device(server: &Server) -> String {
    free_device(
        server.block_devices.iter().map(|d| d.device.as_str()),
        server.config_drive,
    )
}

/// The first `/dev/vdX` not in `used` after the root disk (and the config
/// drive, a virtio disk too here): the name the guest gives the next disk.
pub(super) fn free_device<'a>(used: impl Iterator<Item = &'a str>, config_drive: bool) -> String {
    let mut used: Vec<&str> = used.collect();
    used.push("/dev/vda");
    if config_drive {
        used.push("/dev/vdb");
    }
    ('b'..='z')
        .map(|letter| format!("/dev/vd{letter}"))
        .find(|name| !used.contains(&name.as_str()))
        .unwrap_or_else(|| "/dev/vdz".to_owned())
}

fn disk(grant: &AttachmentGrant) -> VolumeDisk {
    VolumeDisk {
        volume_id: grant.volume.id.clone(),
        path: grant.location.path.clone(),
        format: grant.location.format.clone(),
        shareable: grant.location.shareable,
        read_only: grant.location.read_only,
    }
}

/// The volume service's refusal of an attach, as Nova answers it: 400.
fn refusal_as_invalid(error: ContractError) -> ComputeError {
    match error {
        ContractError::Conflict(message) => ComputeError::Invalid(message),
        other => other.into(),
    }
}

async fn release_quietly(volumes: &dyn Volumes, attachment: &str) {
    if let Err(error) = volumes.release(attachment).await {
        tracing::warn!(attachment, %error, "cannot release a volume attachment");
    }
}
