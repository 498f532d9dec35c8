//! `/servers/{id}/os-volume_attachments`: the volumes attached to a
//! server, attached (hot-plugged) and detached through here, as
//! `openstack server add volume` and the Kubernetes Cinder CSI plugin do.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use oxistack_auth::Caller;
use oxistack_http::microversion::Microversion;
use oxistack_http::{ApiError, JsonBody};
use serde::Deserialize;
use serde_json::Value;

use super::{Service, envelope};
use crate::model::{BlockDevice, is_uuid};
use crate::service::AttachVolume;
use crate::validate::since;
use crate::versions::{
    ATTACHMENT_DELETE_ON_TERMINATION, ATTACHMENT_UPDATE, MULTIATTACH, TAGGED_ATTACH,
};
use crate::wire::VolumeAttachmentView;

pub async fn list(
    State(service): Service,
    Caller(caller): Caller,
    version: Microversion,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let devices = service.volume_attachments(&caller, &id).await?;
    let views: Vec<VolumeAttachmentView> = devices
        .iter()
        .map(|d| VolumeAttachmentView::new(&id, d, version))
        .collect();
    Ok(envelope("volumeAttachments", views).into_response())
}

pub async fn show(
    State(service): Service,
    Caller(caller): Caller,
    version: Microversion,
    Path((id, volume_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let devices = service.volume_attachments(&caller, &id).await?;
    let device = find(&devices, &volume_id)?;
    Ok(envelope(
        "volumeAttachment",
        VolumeAttachmentView::new(&id, device, version),
    )
    .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewAttachment {
    #[serde(rename = "volumeId")]
    volume_id: String,
    /// A hint Nova ignores on this hypervisor (the guest names its disks):
    /// accepted, not used.
    #[serde(rename = "device")]
    _device: Option<String>,
    tag: Option<String>,
    delete_on_termination: Option<Value>,
}

/// `POST /servers/{id}/os-volume_attachments`: the volume is plugged into
/// the guest before the answer, so `device` is where it is.
pub async fn attach(
    State(service): Service,
    Caller(caller): Caller,
    version: Microversion,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let request: NewAttachment = oxistack_http::envelope(body, "volumeAttachment")?;
    since(
        "volumeAttachment.tag",
        request.tag.is_some(),
        version,
        TAGGED_ATTACH,
    )?;
    since(
        "volumeAttachment.delete_on_termination",
        request.delete_on_termination.is_some(),
        version,
        ATTACHMENT_DELETE_ON_TERMINATION,
    )?;
    if !is_uuid(&request.volume_id) {
        return Err(ApiError::bad_request(format!(
            "Invalid input for field/attribute volumeId. Value: {}. '{}' is not a 'uuid'",
            request.volume_id, request.volume_id
        )));
    }
    let delete_on_termination = match &request.delete_on_termination {
        None => false,
        Some(value) => {
            crate::validate::parse_boolean("volumeAttachment.delete_on_termination", value)?
        }
    };
    let device = service
        .attach_volume(
            &caller,
            &id,
            AttachVolume {
                volume_id: request.volume_id,
                tag: request.tag,
                delete_on_termination,
                multiattach_allowed: version.at_least(MULTIATTACH),
            },
        )
        .await?;
    Ok(envelope(
        "volumeAttachment",
        VolumeAttachmentView::new(&id, &device, version),
    )
    .into_response())
}

#[derive(Deserialize)]
struct ChangedAttachment {
    #[serde(rename = "volumeId")]
    volume_id: String,
    delete_on_termination: Option<Value>,
}

/// `PUT /servers/{id}/os-volume_attachments/{volume_id}`: from 2.85 the
/// same volume with a new `delete_on_termination`; swapping a volume for
/// another is not offered.
pub async fn update(
    State(service): Service,
    Caller(caller): Caller,
    version: Microversion,
    Path((id, volume_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<Value>,
) -> Result<StatusCode, ApiError> {
    let request: ChangedAttachment = oxistack_http::envelope(body, "volumeAttachment")?;
    // The volume named in the path must be attached, whatever is asked.
    let devices = service.volume_attachments(&caller, &id).await?;
    find(&devices, &volume_id)?;
    let (true, Some(flag)) = (
        request.volume_id == volume_id,
        &request.delete_on_termination,
    ) else {
        return Err(ApiError::bad_request(
            "Swapping a server's volume for another is not supported by this cloud.",
        ));
    };
    since(
        "volumeAttachment.delete_on_termination",
        true,
        version,
        ATTACHMENT_UPDATE,
    )?;
    let flag = crate::validate::parse_boolean("volumeAttachment.delete_on_termination", flag)?;
    service
        .set_delete_on_termination(&caller, &id, &volume_id, flag)
        .await?;
    Ok(StatusCode::ACCEPTED)
}

/// `DELETE /servers/{id}/os-volume_attachments/{volume_id}`: answered once
/// the guest has let go of the disk.
pub async fn detach(
    State(service): Service,
    Caller(caller): Caller,
    Path((id, volume_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    service.detach_volume(&caller, &id, &volume_id).await?;
    Ok(StatusCode::ACCEPTED)
}

fn find<'a>(devices: &'a [BlockDevice], volume_id: &str) -> Result<&'a BlockDevice, ApiError> {
    devices
        .iter()
        .find(|d| d.volume_id.as_deref() == Some(volume_id))
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "Instance does not have volume {volume_id} attached."
            ))
        })
}
