//! The operations compute performs for its servers (behind the `Volumes`
//! contract in `contracts.rs`): an attachment reserved for a server,
//! completed at a mountpoint, detached, released; and a volume deleted
//! with its server. Compute has already checked its caller; these calls
//! not made for a caller work on any project's volume.

use oxistack_auth::AuthContext;
use oxistack_volstore::VolumeFile;

use super::attachments::{complete, release, reserve};
use super::volumes::begin_delete;
use super::{VolumeError, VolumeService, visible_volume};
use crate::model::{Attachment, Volume, attach, status};
use crate::store;

impl VolumeService {
    /// Where volume `id`'s data is, if it exists.
    pub fn volume_file(&self, id: &str) -> Option<VolumeFile> {
        self.worker.backend.volume_file(id)
    }

    /// Reserves an `attaching` attachment of `volume_id` for `server_id`.
    pub async fn reserve_for_server(
        &self,
        caller: &AuthContext,
        volume_id: &str,
        server_id: &str,
    ) -> Result<(String, Volume), VolumeError> {
        super::authorize(caller, oxistack_auth::Action::WriteVolumes)?;
        let caller = caller.clone();
        let volume_id = volume_id.to_owned();
        let server_id = server_id.to_owned();
        self.db()
            .write(move |tx| {
                let mut volume = visible_volume(tx, &caller, &volume_id)?;
                let attachment =
                    reserve(tx, &mut volume, Some(&server_id), attach::ATTACHING, true)?;
                volume.touch();
                store::put_volume(tx, &volume)?;
                Ok((attachment.id, volume))
            })
            .await
    }

    /// The volume of attachment `id`.
    pub async fn attachment_volume(&self, id: &str) -> Result<Volume, VolumeError> {
        let id = id.to_owned();
        self.db()
            .read(move |conn| {
                let attachment = store::attachment(conn, &id)?
                    .ok_or_else(|| VolumeError::AttachmentNotFound(id.clone()))?;
                store::volume(conn, &attachment.volume_id)?
                    .ok_or(VolumeError::VolumeNotFound(attachment.volume_id))
            })
            .await
    }

    pub async fn complete_for_server(&self, id: &str, mountpoint: &str) -> Result<(), VolumeError> {
        let id = id.to_owned();
        let mountpoint = mountpoint.to_owned();
        self.db()
            .write(move |tx| {
                let mut attachment = store::attachment(tx, &id)?
                    .ok_or_else(|| VolumeError::AttachmentNotFound(id.clone()))?;
                complete(tx, &mut attachment, Some(&mountpoint))
            })
            .await
    }

    pub async fn begin_detach_for_server(&self, id: &str) -> Result<(), VolumeError> {
        let id = id.to_owned();
        self.db()
            .write(move |tx| {
                let mut attachment = store::attachment(tx, &id)?
                    .ok_or_else(|| VolumeError::AttachmentNotFound(id.clone()))?;
                attachment.status = attach::DETACHING.into();
                store::put_attachment(tx, &attachment)?;
                if let Some(mut volume) = store::volume(tx, &attachment.volume_id)? {
                    let others_attached = store::attachments_of(tx, &volume.id)?
                        .iter()
                        .any(|a| a.id != attachment.id && a.status == attach::ATTACHED);
                    if !others_attached {
                        volume.status = status::DETACHING.into();
                        volume.touch();
                        store::put_volume(tx, &volume)?;
                    }
                }
                Ok(())
            })
            .await
    }

    pub async fn release_for_server(&self, id: &str) -> Result<(), VolumeError> {
        let id = id.to_owned();
        self.db()
            .write(move |tx| release(tx, &id).map(|_| ()))
            .await
    }

    pub async fn attachments_of_server(
        &self,
        server_id: &str,
    ) -> Result<Vec<Attachment>, VolumeError> {
        let server_id = server_id.to_owned();
        self.db()
            .read(move |conn| store::attachments_of_server(conn, &server_id))
            .await
    }

    /// Deletes a volume a deleted server's mapping said to delete; absent
    /// is fine. Its attachments must be released first.
    pub async fn delete_for_server(&self, id: &str) -> Result<(), VolumeError> {
        let id_owned = id.to_owned();
        let snapshots = self
            .db()
            .write(move |tx| {
                let Some(mut volume) = store::volume(tx, &id_owned)? else {
                    return Ok(None);
                };
                if volume.status == status::DELETING {
                    return Ok(None);
                }
                let snapshots = begin_delete(tx, &mut volume, false, false)?;
                volume.touch();
                store::put_volume(tx, &volume)?;
                Ok::<_, VolumeError>(Some(snapshots))
            })
            .await?;
        if let Some(snapshots) = snapshots {
            let worker = self.worker.clone();
            let id = id.to_owned();
            self.spawn(format!("delete volume {id}"), async move {
                worker.remove(id, snapshots).await;
            });
        }
        Ok(())
    }
}
