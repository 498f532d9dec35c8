//! The volume service as compute uses it ([`Volumes`]): attachments
//! reserved, completed, detached and released through the same
//! primitives as Cinder's attachments API, and boot volumes created as
//! any volume (quotas, default type) and awaited until `available`.
//! Refusals become [`ContractError`]s carrying Cinder's words.

use futures_util::future::BoxFuture;
use oxistack_auth::AuthContext;
use oxistack_contracts::{
    AttachmentGrant, BootVolumeRequest, ContractError, ServerAttachment, VolumeLocation,
    VolumeSummary, Volumes,
};

use crate::model::{Volume, attach};
use crate::service::{NewVolume, VolumeError, VolumeService};

impl From<VolumeError> for ContractError {
    fn from(error: VolumeError) -> Self {
        use VolumeError::*;
        match error {
            VolumeNotFound(_)
            | SnapshotNotFound(_)
            | TypeNotFound(_)
            | AttachmentNotFound(_)
            | ImageNotFound(_)
            | Missing(_) => ContractError::NotFound(error.to_string()),
            InvalidVolume(_) | Conflict(_) => ContractError::Conflict(error.to_string()),
            OverQuota(_) => ContractError::Conflict(error.to_string()),
            InvalidSnapshot(_) | InvalidInput(_) | InvalidType(_) | BadRequest(_) | List(_) => {
                ContractError::Invalid(error.to_string())
            }
            Forbidden(_) => ContractError::Forbidden(error.to_string()),
            Contract(inner) => inner,
            Storage(_) | Backend(_) | Internal(_) => {
                ContractError::internal("the volume service", error)
            }
        }
    }
}

fn summary(volume: &Volume) -> VolumeSummary {
    VolumeSummary {
        id: volume.id.clone(),
        name: volume.name.clone().unwrap_or_default(),
        project_id: volume.project_id.clone(),
        status: volume.status.clone(),
        size_gib: volume.size,
        multiattach: volume.multiattach,
        bootable: volume.bootable,
    }
}

impl Volumes for VolumeService {
    fn find<'a>(
        &'a self,
        caller: &'a AuthContext,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<VolumeSummary>, ContractError>> {
        Box::pin(async move {
            match self.show_volume(caller, id).await {
                Ok(detail) => Ok(Some(summary(&detail.volume))),
                Err(VolumeError::VolumeNotFound(_)) => Ok(None),
                Err(e) => Err(e.into()),
            }
        })
    }

    fn reserve<'a>(
        &'a self,
        caller: &'a AuthContext,
        volume_id: &'a str,
        server_id: &'a str,
    ) -> BoxFuture<'a, Result<AttachmentGrant, ContractError>> {
        Box::pin(async move {
            let (attachment_id, volume) = self
                .reserve_for_server(caller, volume_id, server_id)
                .await?;
            self.grant(attachment_id, &volume)
        })
    }

    fn location<'a>(
        &'a self,
        attachment_id: &'a str,
    ) -> BoxFuture<'a, Result<AttachmentGrant, ContractError>> {
        Box::pin(async move {
            let volume = self.attachment_volume(attachment_id).await?;
            self.grant(attachment_id.to_owned(), &volume)
        })
    }

    fn complete<'a>(
        &'a self,
        attachment_id: &'a str,
        mountpoint: &'a str,
    ) -> BoxFuture<'a, Result<(), ContractError>> {
        Box::pin(async move { Ok(self.complete_for_server(attachment_id, mountpoint).await?) })
    }

    fn begin_detach<'a>(
        &'a self,
        attachment_id: &'a str,
    ) -> BoxFuture<'a, Result<(), ContractError>> {
        Box::pin(async move { Ok(self.begin_detach_for_server(attachment_id).await?) })
    }

    fn release<'a>(&'a self, attachment_id: &'a str) -> BoxFuture<'a, Result<(), ContractError>> {
        Box::pin(async move { Ok(self.release_for_server(attachment_id).await?) })
    }

    fn server_attachments<'a>(
        &'a self,
        server_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<ServerAttachment>, ContractError>> {
        Box::pin(async move {
            Ok(self
                .attachments_of_server(server_id)
                .await?
                .into_iter()
                .map(|a| ServerAttachment {
                    attachment_id: a.id,
                    volume_id: a.volume_id,
                    attach_status: if a.status == attach::RESERVED {
                        attach::ATTACHING.into()
                    } else {
                        a.status
                    },
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
            let new = NewVolume {
                size: Some(request.size_gib),
                name: Some(request.name.clone()),
                volume_type: request.volume_type.clone(),
                image_ref: request.image_id.clone(),
                ..Default::default()
            };
            let (detail, outcome) = self.start_create(caller, new).await?;
            match outcome.await {
                Ok(Ok(())) => {}
                Ok(Err(fault)) => {
                    return Err(ContractError::internal(
                        "creating the boot volume",
                        format!("volume {} went to error: {fault}", detail.volume.id),
                    ));
                }
                Err(_) => {
                    return Err(ContractError::internal(
                        "creating the boot volume",
                        "the creation was cut short",
                    ));
                }
            }
            let volume = self
                .show_volume(caller, &detail.volume.id)
                .await
                .map_err(ContractError::from)?;
            Ok(summary(&volume.volume))
        })
    }

    fn delete_volume<'a>(&'a self, volume_id: &'a str) -> BoxFuture<'a, Result<(), ContractError>> {
        Box::pin(async move { Ok(self.delete_for_server(volume_id).await?) })
    }
}

impl VolumeService {
    fn grant(
        &self,
        attachment_id: String,
        volume: &Volume,
    ) -> Result<AttachmentGrant, ContractError> {
        let file = self.volume_file(&volume.id).ok_or_else(|| {
            ContractError::internal(
                "locating a volume's data",
                format!("volume {} has no data on this host", volume.id),
            )
        })?;
        Ok(AttachmentGrant {
            attachment_id,
            volume: summary(volume),
            location: VolumeLocation {
                path: file.path,
                format: file.format.as_str().to_owned(),
                shareable: volume.multiattach,
                read_only: volume.readonly,
            },
        })
    }
}
