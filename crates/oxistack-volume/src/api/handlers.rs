//! The volume handlers, and the helpers every handler shares: reading a
//! list query as Cinder does, a JSON body's envelope, refusing control
//! characters in names, the list document with its `next` link and
//! `count`, and the `{key: document}` replies ([`document`],
//! [`accepted_document`]) so that every resource renders alike. Each
//! handler starts from a [`Call`]; volume metadata is served by the
//! shared handlers of [`super::metadata`].

use axum::Json;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use oxistack_http::text::refuse_control_characters;
use oxistack_http::{ApiError, JsonBody, envelope};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::{Call, Params};
use crate::service::{
    ImageUpload, ListRequest, Listed, NewVolume, ResetStatus, VolumeError, VolumeUpdate,
};
use crate::wire::views::{self, COUNT, EXTEND_IN_USE, Render, UPLOAD_IMAGE_PARAMS, View};
use crate::wire::{
    AttachBody, Bootable, DetachBody, Extend, Readonly, ResetStatusBody, UploadImageBody,
    VolumeCreate, VolumeUpdateBody,
};

pub type Pairs = Query<Vec<(String, String)>>;

pub fn truthy(value: &str) -> bool {
    matches!(
        value.to_ascii_lowercase().as_str(),
        "true" | "1" | "t" | "yes" | "y" | "on"
    )
}

/// A list query as Cinder reads it: `sort=k:d,...` or `sort_key`/
/// `sort_dir` (comma lists), `limit`, `marker`, `with_count`,
/// `all_tenants`; everything else filters.
pub fn list_request(pairs: &[(String, String)]) -> Result<ListRequest, ApiError> {
    let mut request = ListRequest::default();
    let (mut keys, mut dirs) = (Vec::new(), Vec::new());
    for (key, value) in pairs {
        match key.as_str() {
            "sort" => {
                for part in value.split(',').filter(|p| !p.is_empty()) {
                    let (k, d) = part.split_once(':').unwrap_or((part, "desc"));
                    request
                        .sort
                        .push((k.trim().to_owned(), d.trim().to_owned()));
                }
            }
            "sort_key" => keys.extend(value.split(',').map(|s| s.trim().to_owned())),
            "sort_dir" => dirs.extend(value.split(',').map(|s| s.trim().to_owned())),
            "limit" => {
                let limit = value.parse::<usize>().map_err(|_| {
                    ApiError::bad_request("Invalid input received: limit param must be an integer")
                })?;
                request.limit = Some(limit);
            }
            "marker" => request.marker = Some(value.clone()),
            "with_count" => request.with_count = truthy(value),
            "all_tenants" => request.all_tenants = truthy(value),
            "offset" => {
                let offset = value.parse::<usize>().map_err(|_| {
                    ApiError::bad_request("Invalid input received: offset param must be an integer")
                })?;
                request.offset = Some(offset);
            }
            "fields" => {}
            _ => request.filters.push((key.clone(), value.clone())),
        }
    }
    for (i, key) in keys.into_iter().enumerate() {
        let dir = dirs
            .get(i)
            .or(dirs.last())
            .cloned()
            .unwrap_or_else(|| "desc".into());
        request.sort.push((key, dir));
    }
    Ok(request)
}

/// `{"<plural>": [...], "<plural>_links": [...], "count": n}`; the
/// `next` link points into `<plural>/detail` for a `detail` list.
pub fn list_document<T>(
    view: &View,
    plural: &str,
    detail: bool,
    pairs: &[(String, String)],
    listed: &Listed<T>,
    render: impl Fn(&T) -> Value,
) -> Response {
    let mut doc = serde_json::Map::new();
    doc.insert(plural.into(), listed.items.iter().map(render).collect());
    if let Some(marker) = &listed.next_marker {
        let collection = if detail {
            format!("{plural}/detail")
        } else {
            plural.to_owned()
        };
        doc.insert(
            format!("{plural}_links"),
            view.next_link(&collection, pairs, marker),
        );
    }
    if let Some(count) = listed.count.filter(|_| view.version.at_least(COUNT)) {
        doc.insert("count".into(), json!(count));
    }
    Json(Value::Object(doc)).into_response()
}

/// `{key: doc}`, 200.
pub fn document(key: &str, doc: Value) -> Response {
    Json(json!({ key: doc })).into_response()
}

/// `{key: doc}`, 202: what the document shows goes on in the background.
pub fn accepted_document(key: &str, doc: Value) -> Response {
    (StatusCode::ACCEPTED, Json(json!({ key: doc }))).into_response()
}

pub fn body<T: DeserializeOwned>(body: Value, key: &str) -> Result<T, ApiError> {
    envelope(body, key)
}

pub fn check_text(field: &str, value: Option<&str>) -> Result<(), ApiError> {
    value.map_or(Ok(()), |v| refuse_control_characters(field, v))
}

pub fn accepted() -> Response {
    StatusCode::ACCEPTED.into_response()
}

pub async fn list_volumes<const DETAIL: bool>(
    call: Call,
    Query(pairs): Pairs,
) -> Result<Response, ApiError> {
    let request = list_request(&pairs)?;
    let listed = call.service.list_volumes(&call.caller, request).await?;
    let view = &call.view;
    Ok(list_document(
        view,
        "volumes",
        DETAIL,
        &pairs,
        &listed,
        |d| {
            if DETAIL {
                views::volume(view, d, Render::Extended)
            } else {
                views::volume_brief(view, d)
            }
        },
    ))
}

pub async fn create_volume(
    call: Call,
    JsonBody(value): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let req: VolumeCreate = body(value, "volume")?;
    let (name, description) = req.names.values();
    check_text("volume.name", name.as_deref())?;
    if req.backup_id.is_some() {
        return Err(ApiError::bad_request(
            "Invalid input received: Creating a volume from a backup is not supported.",
        ));
    }
    let size = match req.size {
        Some(size) if size <= 0 => {
            return Err(VolumeError::InvalidInput(format!(
                "Volume size '{size}' must be an integer and greater than 0"
            ))
            .into());
        }
        size => size.map(|s| s as u64),
    };
    let new = NewVolume {
        size,
        name,
        description,
        volume_type: req.volume_type,
        availability_zone: req.availability_zone,
        metadata: req.metadata.unwrap_or_default(),
        snapshot_id: req.snapshot_id,
        source_volid: req.source_volid,
        image_ref: req.image_ref.or(req.image_id),
    };
    let detail = call.service.create_volume(&call.caller, new).await?;
    Ok(accepted_document(
        "volume",
        views::volume(&call.view, &detail, Render::Plain),
    ))
}

pub async fn show_volume(call: Call, params: Params) -> Result<Response, ApiError> {
    let detail = call
        .service
        .show_volume(&call.caller, params.get("id"))
        .await?;
    Ok(document(
        "volume",
        views::volume(&call.view, &detail, Render::Extended),
    ))
}

pub async fn update_volume(
    call: Call,
    params: Params,
    JsonBody(value): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let req: VolumeUpdateBody = body(value, "volume")?;
    let (name, description) = req.names.changes();
    check_text("volume.name", name.clone().flatten().as_deref())?;
    let update = VolumeUpdate {
        name,
        description,
        metadata: req.metadata,
    };
    let detail = call
        .service
        .update_volume(&call.caller, params.get("id"), update)
        .await?;
    Ok(document(
        "volume",
        views::volume(&call.view, &detail, Render::Plain),
    ))
}

pub async fn delete_volume(
    call: Call,
    params: Params,
    Query(pairs): Pairs,
) -> Result<Response, ApiError> {
    let flag = |name: &str| pairs.iter().any(|(k, v)| k == name && truthy(v));
    call.service
        .delete_volume(
            &call.caller,
            params.get("id"),
            flag("cascade"),
            flag("force"),
        )
        .await?;
    Ok(accepted())
}

pub async fn volume_summary(call: Call, Query(pairs): Pairs) -> Result<Response, ApiError> {
    let all = pairs.iter().any(|(k, v)| k == "all_tenants" && truthy(v));
    let totals = call.service.volume_summary(&call.caller, all).await?;
    Ok(document(
        "volume-summary",
        json!({
            "total_size": totals.total_size,
            "total_count": totals.total_count,
            "metadata": totals.metadata,
        }),
    ))
}

/// `POST /volumes/{id}/action`: the one action the body names.
pub async fn volume_action(
    call: Call,
    params: Params,
    JsonBody(value): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let Call {
        service,
        caller,
        view,
    } = call;
    let id = params.get("id");
    let Some((action, _)) = value.as_object().and_then(|o| o.iter().next()) else {
        return Err(ApiError::bad_request(
            "Invalid request body: an action is required.",
        ));
    };
    let action = action.clone();
    let args = |value: Value| -> Value {
        match value.get(&action) {
            Some(Value::Null) | None => json!({ &action: {} }),
            Some(_) => value,
        }
    };
    match action.as_str() {
        "os-extend" => {
            let Extend { new_size } = body(value, &action)?;
            let new_size = new_size.filter(|s| *s > 0).ok_or_else(|| {
                ApiError::bad_request("Invalid input for field/attribute new_size.")
            })? as u64;
            service
                .extend_volume(&caller, id, new_size, view.version.at_least(EXTEND_IN_USE))
                .await?;
        }
        "os-reset_status" => {
            let r: ResetStatusBody = body(args(value), &action)?;
            let reset = ResetStatus {
                status: r.status,
                attach_status: r.attach_status,
                migration_status: r.migration_status,
            };
            service.reset_volume_status(&caller, id, reset).await?;
        }
        "os-force_delete" => service.delete_volume(&caller, id, false, true).await?,
        "os-set_bootable" => {
            let Bootable { bootable } = body(value, &action)?;
            service
                .set_bootable(&caller, id, bootable.unwrap_or(false))
                .await?;
            return Ok(StatusCode::OK.into_response());
        }
        "os-update_readonly_flag" => {
            let Readonly { readonly } = body(value, &action)?;
            service
                .set_readonly(&caller, id, readonly.unwrap_or(false))
                .await?;
        }
        "os-reserve" => service.reserve_volume(&caller, id).await?,
        "os-unreserve" => service.unreserve_volume(&caller, id).await?,
        "os-begin_detaching" => service.begin_detaching(&caller, id).await?,
        "os-roll_detaching" => service.roll_detaching(&caller, id).await?,
        "os-attach" => {
            let a: AttachBody = body(value, &action)?;
            let mode = a.mode.unwrap_or_else(|| "rw".into());
            if mode != "rw" && mode != "ro" {
                return Err(ApiError::bad_request(format!(
                    "Invalid attaching mode '{mode}' for volume {id}."
                )));
            }
            service
                .attach_volume(
                    &caller,
                    id,
                    a.instance_uuid,
                    a.host_name,
                    a.mountpoint,
                    mode,
                )
                .await?;
        }
        "os-detach" => {
            let d: DetachBody = body(args(value), &action)?;
            service.detach_volume(&caller, id, d.attachment_id).await?;
        }
        "os-initialize_connection" => {
            let info = service.initialize_connection(&caller, id).await?;
            return Ok(document("connection_info", info));
        }
        "os-terminate_connection" => {
            service.show_volume(&caller, id).await?;
        }
        "os-volume_upload_image" => {
            let upload = upload_image_request(&view, value, &action)?;
            let started = service.upload_to_image(&caller, id, upload).await?;
            return Ok((
                StatusCode::ACCEPTED,
                Json(views::upload_started(&view, &started)),
            )
                .into_response());
        }
        other => {
            return Err(ApiError::bad_request(format!(
                "There is no such action: {other}"
            )));
        }
    }
    Ok(accepted())
}

/// `os-volume_upload_image`'s arguments as Cinder's schema reads them:
/// `image_name` required (1 to 255 characters), `visibility` and
/// `protected` only from 3.1, Cinder's defaults for the rest.
fn upload_image_request(view: &View, value: Value, action: &str) -> Result<ImageUpload, ApiError> {
    let upload: UploadImageBody = body(value, action)?;
    let since_3_1 = view.version.at_least(UPLOAD_IMAGE_PARAMS);
    for (name, given) in [
        ("visibility", upload.visibility.is_some()),
        ("protected", upload.protected.is_some()),
    ] {
        if given && !since_3_1 {
            return Err(ApiError::bad_request(format!(
                "Invalid input for field/attribute {action}. Additional properties are not \
                 allowed ('{name}' was unexpected)"
            )));
        }
    }
    let image_name = upload.image_name.ok_or_else(|| {
        ApiError::bad_request(format!(
            "Invalid input for field/attribute {action}. 'image_name' is a required property"
        ))
    })?;
    let length = image_name.chars().count();
    if !(1..=255).contains(&length) {
        return Err(ApiError::bad_request(format!(
            "Invalid input for field/attribute image_name. Value: {image_name}. \
             The length must be between 1 and 255 characters."
        )));
    }
    check_text("image_name", Some(&image_name))?;
    let container_format = upload.container_format.unwrap_or_else(|| "bare".into());
    if container_format.chars().count() > 255 {
        return Err(ApiError::bad_request(
            "Invalid input for field/attribute container_format. It is longer than 255 characters.",
        ));
    }
    Ok(ImageUpload {
        image_name,
        force: upload.force.unwrap_or(false),
        disk_format: upload.disk_format.unwrap_or_else(|| "raw".into()),
        container_format,
        visibility: upload.visibility.filter(|_| since_3_1),
        protected: upload.protected.unwrap_or(false),
    })
}
