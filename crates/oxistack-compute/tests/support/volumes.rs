//! A volume service in memory, keeping Cinder's attachment rules: an
//! `available` volume can be reserved once, a multi-attach one by several
//! servers; the volume is `in-use` while any attachment is complete.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use futures_util::future::BoxFuture;
use oxistack_auth::AuthContext;
use oxistack_contracts::{
    AttachmentGrant, BootVolumeRequest, ContractError, ServerAttachment, VolumeLocation,
    VolumeSummary, Volumes,
};

#[derive(Clone)]
pub struct FakeAttachment {
    pub id: String,
    pub server_id: String,
    pub status: String,
    pub mountpoint: Option<String>,
}

#[derive(Clone)]
pub struct FakeVolume {
    pub summary: VolumeSummary,
    pub attachments: Vec<FakeAttachment>,
}

#[derive(Default)]
pub struct FakeVolumes(Mutex<HashMap<String, FakeVolume>>);

impl FakeVolumes {
    /// A new `available` volume of `project`; returns its id.
    pub fn add(&self, project: &str, multiattach: bool) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        self.0.lock().unwrap().insert(
            id.clone(),
            FakeVolume {
                summary: VolumeSummary {
                    id: id.clone(),
                    name: String::new(),
                    project_id: project.into(),
                    status: "available".into(),
                    size_gib: 1,
                    multiattach,
                    bootable: false,
                },
                attachments: Vec::new(),
            },
        );
        id
    }

    pub fn get(&self, id: &str) -> Option<FakeVolume> {
        self.0.lock().unwrap().get(id).cloned()
    }

    /// Sets a volume's status and its attachments' status, as a crash
    /// half-way through an operation would have left them.
    pub fn set_status(&self, id: &str, status: &str, attachment_status: &str) {
        let mut volumes = self.0.lock().unwrap();
        let volume = volumes.get_mut(id).unwrap();
        volume.summary.status = status.into();
        for attachment in &mut volume.attachments {
            attachment.status = attachment_status.into();
        }
    }

    fn settle(volume: &mut FakeVolume) {
        volume.summary.status = if volume.attachments.is_empty() {
            "available"
        } else if volume.attachments.iter().any(|a| a.status == "attached") {
            "in-use"
        } else if volume.attachments.iter().any(|a| a.status == "detaching") {
            "detaching"
        } else {
            "attaching"
        }
        .into();
    }

    fn with_attachment<T>(
        &self,
        attachment_id: &str,
        change: impl FnOnce(&mut FakeVolume, usize) -> T,
    ) -> Result<T, ContractError> {
        let mut volumes = self.0.lock().unwrap();
        for volume in volumes.values_mut() {
            if let Some(index) = volume
                .attachments
                .iter()
                .position(|a| a.id == attachment_id)
            {
                let result = change(volume, index);
                FakeVolumes::settle(volume);
                return Ok(result);
            }
        }
        Err(ContractError::NotFound(format!(
            "Attachment {attachment_id} could not be found."
        )))
    }
}

fn grant(volume: &FakeVolume, attachment_id: &str) -> AttachmentGrant {
    AttachmentGrant {
        attachment_id: attachment_id.into(),
        volume: volume.summary.clone(),
        location: VolumeLocation {
            path: PathBuf::from(format!("/fake-volumes/volume-{}.qcow2", volume.summary.id)),
            format: if volume.summary.multiattach {
                "raw"
            } else {
                "qcow2"
            }
            .into(),
            shareable: volume.summary.multiattach,
            read_only: false,
        },
    }
}

impl Volumes for FakeVolumes {
    fn find<'a>(
        &'a self,
        caller: &'a AuthContext,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<VolumeSummary>, ContractError>> {
        Box::pin(async move {
            Ok(self
                .get(id)
                .map(|v| v.summary)
                .filter(|v| caller.can_see_project(&v.project_id)))
        })
    }

    fn reserve<'a>(
        &'a self,
        caller: &'a AuthContext,
        volume_id: &'a str,
        server_id: &'a str,
    ) -> BoxFuture<'a, Result<AttachmentGrant, ContractError>> {
        Box::pin(async move {
            let mut volumes = self.0.lock().unwrap();
            let volume = volumes
                .get_mut(volume_id)
                .filter(|v| caller.can_see_project(&v.summary.project_id))
                .ok_or_else(|| {
                    ContractError::NotFound(format!("Volume {volume_id} could not be found."))
                })?;
            let attachable = volume.summary.status == "available"
                || (volume.summary.multiattach && volume.summary.status == "in-use");
            if !attachable || volume.attachments.iter().any(|a| a.server_id == server_id) {
                return Err(ContractError::Conflict(format!(
                    "Invalid volume: Volume {volume_id} status must be available or downloading to reserve, but the current status is {}.",
                    volume.summary.status
                )));
            }
            let id = uuid::Uuid::new_v4().to_string();
            volume.attachments.push(FakeAttachment {
                id: id.clone(),
                server_id: server_id.into(),
                status: "attaching".into(),
                mountpoint: None,
            });
            FakeVolumes::settle(volume);
            Ok(grant(volume, &id))
        })
    }

    fn location<'a>(
        &'a self,
        attachment_id: &'a str,
    ) -> BoxFuture<'a, Result<AttachmentGrant, ContractError>> {
        Box::pin(async move { self.with_attachment(attachment_id, |v, _| grant(v, attachment_id)) })
    }

    fn complete<'a>(
        &'a self,
        attachment_id: &'a str,
        mountpoint: &'a str,
    ) -> BoxFuture<'a, Result<(), ContractError>> {
        Box::pin(async move {
            self.with_attachment(attachment_id, |v, i| {
                v.attachments[i].status = "attached".into();
                v.attachments[i].mountpoint = Some(mountpoint.into());
            })
        })
    }

    fn begin_detach<'a>(
        &'a self,
        attachment_id: &'a str,
    ) -> BoxFuture<'a, Result<(), ContractError>> {
        Box::pin(async move {
            self.with_attachment(attachment_id, |v, i| {
                v.attachments[i].status = "detaching".into();
            })
        })
    }

    fn release<'a>(&'a self, attachment_id: &'a str) -> BoxFuture<'a, Result<(), ContractError>> {
        Box::pin(async move {
            match self.with_attachment(attachment_id, |v, i| {
                v.attachments.remove(i);
            }) {
                Err(ContractError::NotFound(_)) => Ok(()),
                other => other,
            }
        })
    }

    fn server_attachments<'a>(
        &'a self,
        server_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<ServerAttachment>, ContractError>> {
        Box::pin(async move {
            let volumes = self.0.lock().unwrap();
            Ok(volumes
                .values()
                .flat_map(|v| {
                    v.attachments
                        .iter()
                        .filter(|a| a.server_id == server_id)
                        .map(|a| ServerAttachment {
                            attachment_id: a.id.clone(),
                            volume_id: v.summary.id.clone(),
                            attach_status: a.status.clone(),
                        })
                })
                .collect())
        })
    }

    fn create_boot_volume<'a>(
        &'a self,
        caller: &'a AuthContext,
        request: &'a BootVolumeRequest,
    ) -> BoxFuture<'a, Result<VolumeSummary, ContractError>> {
        Box::pin(async move {
            let id = self.add(caller.project_id().unwrap_or_default(), false);
            let mut volumes = self.0.lock().unwrap();
            let volume = volumes.get_mut(&id).unwrap();
            volume.summary.size_gib = request.size_gib;
            volume.summary.bootable = request.image_id.is_some();
            Ok(volume.summary.clone())
        })
    }

    fn delete_volume<'a>(&'a self, volume_id: &'a str) -> BoxFuture<'a, Result<(), ContractError>> {
        Box::pin(async move {
            self.0.lock().unwrap().remove(volume_id);
            Ok(())
        })
    }
}
