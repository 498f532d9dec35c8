//! `os-volume_upload_image`: a volume's data becomes a new image. As with
//! Cinder, the request moves the volume to `uploading` and reserves a
//! `queued` image in the caller's project, and is answered while a
//! supervised task ([`super::work::Worker::upload`]) exports the data and
//! hands it to the image service; then the volume is `in-use` or
//! `available` again, whatever happened to the image.

use std::collections::HashMap;

use oxistack_auth::{Action, AuthContext};
use oxistack_contracts::{ContractError, NewImage, ReservedImage};
use oxistack_volstore::VolumeFormat;

use super::{VolumeError, VolumeService, authorize, settled_status, visible_volume};
use crate::model::{Volume, VolumeType, status};
use crate::store;

/// Disk formats Cinder's request schema accepts.
const CINDER_DISK_FORMATS: &[&str] = &["raw", "vmdk", "vdi", "qcow2", "vhd", "vhdx", "ploop"];

/// Visibilities Cinder's request schema accepts (3.1+).
const VISIBILITIES: &[&str] = &["community", "public", "private", "shared"];

/// Image properties Cinder never copies from a volume's image metadata
/// (its `glance_core_properties`: Glance sets them itself).
const CORE_PROPERTIES: &[&str] = &[
    "checksum",
    "container_format",
    "disk_format",
    "image_name",
    "image_id",
    "min_disk",
    "min_ram",
    "name",
    "size",
];

/// What an `os-volume_upload_image` asks for, defaults applied.
#[derive(Debug, Clone)]
pub struct ImageUpload {
    pub image_name: String,
    /// Upload an `in-use` volume too.
    pub force: bool,
    pub disk_format: String,
    pub container_format: String,
    /// From 3.1; the image service's default otherwise.
    pub visibility: Option<String>,
    pub protected: bool,
}

/// An accepted upload: the volume as it now is and the reserved image.
#[derive(Debug, Clone)]
pub struct UploadStarted {
    pub volume: Volume,
    pub volume_type: Option<VolumeType>,
    pub image: ReservedImage,
}

impl VolumeService {
    /// Starts uploading volume `id` to a new image; see the module's
    /// documentation.
    pub async fn upload_to_image(
        &self,
        caller: &AuthContext,
        id: &str,
        upload: ImageUpload,
    ) -> Result<UploadStarted, VolumeError> {
        authorize(caller, Action::WriteVolumes)?;
        let format = disk_format(&upload.disk_format)?;
        if let Some(visibility) = upload.visibility.as_deref() {
            if !VISIBILITIES.contains(&visibility) {
                return Err(VolumeError::BadRequest(format!(
                    "Invalid input for field/attribute visibility. Value: {visibility}. \
                     '{visibility}' is not one of {VISIBILITIES:?}"
                )));
            }
            if visibility == "public" {
                authorize(caller, Action::UploadVolumeToPublicImage)?;
            }
        }
        let (owned_caller, owned_id, force) = (caller.clone(), id.to_owned(), upload.force);
        let (volume, volume_type) = self
            .db()
            .write(move |tx| {
                let mut volume = visible_volume(tx, &owned_caller, &owned_id)?;
                let expected: &[&str] = if force {
                    &[status::AVAILABLE, status::IN_USE]
                } else {
                    &[status::AVAILABLE]
                };
                if !expected.contains(&volume.status.as_str()) {
                    return Err(VolumeError::InvalidVolume(format!(
                        "Volume {} status must be {}",
                        volume.id,
                        expected.join(" or ")
                    )));
                }
                volume.status = status::UPLOADING.into();
                volume.touch();
                store::put_volume(tx, &volume)?;
                let volume_type = store::volume_type(tx, &volume.volume_type_id)?;
                Ok((volume, volume_type))
            })
            .await?;

        let request = NewImage {
            name: upload.image_name,
            disk_format: upload.disk_format,
            container_format: upload.container_format,
            visibility: upload.visibility,
            protected: upload.protected,
            properties: image_properties(&volume),
        };
        let image = match self.worker.images.reserve_image(caller, request).await {
            Ok(image) => image,
            Err(refused) => {
                self.worker.settle_upload(id.to_owned()).await;
                return Err(match refused {
                    // Cinder answers whatever the image service refuses
                    // with a 400 carrying its message.
                    ContractError::NotFound(m)
                    | ContractError::Invalid(m)
                    | ContractError::Conflict(m)
                    | ContractError::Forbidden(m) => VolumeError::BadRequest(m),
                    failure => VolumeError::Contract(failure),
                });
            }
        };

        let worker = self.worker.clone();
        let (caller, volume_id, image_id) = (caller.clone(), id.to_owned(), image.id.clone());
        self.spawn(
            format!("upload volume {id} to image {image_id}"),
            async move {
                worker.upload(caller, volume_id, image_id, format).await;
            },
        );
        Ok(UploadStarted {
            volume,
            volume_type,
            image,
        })
    }
}

/// The file format the volume is exported in: what the image says it is.
fn disk_format(requested: &str) -> Result<VolumeFormat, VolumeError> {
    match requested {
        "raw" => Ok(VolumeFormat::Raw),
        "qcow2" => Ok(VolumeFormat::Qcow2),
        other if CINDER_DISK_FORMATS.contains(&other) => Err(VolumeError::InvalidInput(format!(
            "disk_format {other} is not supported by this cloud: use raw or qcow2."
        ))),
        other => Err(VolumeError::BadRequest(format!(
            "Invalid input for field/attribute disk_format. Value: {other}. \
             '{other}' is not one of {CINDER_DISK_FORMATS:?}"
        ))),
    }
}

/// What the new image inherits from the image the volume was made from:
/// its extra properties, not the attributes Glance sets itself nor keys
/// in Glance's reserved namespace.
fn image_properties(volume: &Volume) -> HashMap<String, String> {
    volume
        .image_metadata
        .iter()
        .filter(|(key, _)| !CORE_PROPERTIES.contains(&key.as_str()))
        .filter(|(key, _)| !key.starts_with("os_glance"))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect()
}

/// After an upload (done, failed, or cut short by a restart) the volume
/// is what its attachments make it, if it is still `uploading`.
pub(super) fn settle(tx: &oxistack_db::rusqlite::Connection, id: &str) -> Result<(), VolumeError> {
    if let Some(mut volume) = store::volume(tx, id)?
        && volume.status == status::UPLOADING
    {
        volume.status = settled_status(tx, id)?.into();
        volume.touch();
        store::put_volume(tx, &volume)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_raw_and_qcow2_are_exported() {
        assert!(matches!(disk_format("raw"), Ok(VolumeFormat::Raw)));
        assert!(matches!(disk_format("qcow2"), Ok(VolumeFormat::Qcow2)));
        assert!(matches!(
            disk_format("vmdk"),
            Err(VolumeError::InvalidInput(_))
        ));
        assert!(matches!(
            disk_format("iso"),
            Err(VolumeError::BadRequest(_))
        ));
    }
}
