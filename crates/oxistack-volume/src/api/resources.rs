//! The handlers of snapshots, attachments and volume types, in the same
//! shape as the volume handlers and with their helpers (each starts from
//! a [`Call`] and renders through [`document`]); the metadata of
//! snapshots is served by the shared handlers of [`super::metadata`].

use axum::Json;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use oxistack_http::{ApiError, JsonBody};
use serde_json::{Value, json};

use super::handlers::{
    Pairs, accepted, accepted_document, body, check_text, document, list_document, list_request,
};
use super::{Call, Params};
use crate::model::{Attachment, Metadata, VolumeType};
use crate::service::{
    NewAttachment, NewSnapshot, NewType, ResetStatus, SnapshotUpdate, TypeUpdate,
};
use crate::wire::views::{self, NEW_ATTACH, Render, SNAPSHOT_IN_USE, TypeRender, View};
use crate::wire::{
    AttachmentCreate, AttachmentUpdate, Names, ProjectAccess, ResetStatusBody, SnapshotCreate,
    SnapshotStatusUpdate, TypeCreate, TypeUpdateBody,
};

pub async fn list_snapshots<const DETAIL: bool>(
    call: Call,
    Query(pairs): Pairs,
) -> Result<Response, ApiError> {
    let request = list_request(&pairs)?;
    let listed = call.service.list_snapshots(&call.caller, request).await?;
    let view = &call.view;
    Ok(list_document(
        view,
        "snapshots",
        DETAIL,
        &pairs,
        &listed,
        |s| {
            let render = if DETAIL {
                Render::Extended
            } else {
                Render::Plain
            };
            views::snapshot(view, s, render)
        },
    ))
}

pub async fn create_snapshot(
    call: Call,
    JsonBody(value): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let req: SnapshotCreate = body(value, "snapshot")?;
    let (name, description) = req.names.values();
    check_text("snapshot.name", name.as_deref())?;
    let new = NewSnapshot {
        volume_id: req.volume_id.unwrap_or_else(|| "None".into()),
        name,
        description,
        force: req.force.unwrap_or(false),
        metadata: req.metadata.unwrap_or_default(),
        in_use_allowed: call.view.version.at_least(SNAPSHOT_IN_USE),
    };
    let snapshot = call.service.create_snapshot(&call.caller, new).await?;
    Ok(accepted_document(
        "snapshot",
        views::snapshot(&call.view, &snapshot, Render::Plain),
    ))
}

pub async fn show_snapshot(call: Call, params: Params) -> Result<Response, ApiError> {
    let snapshot = call
        .service
        .show_snapshot(&call.caller, params.get("id"))
        .await?;
    Ok(document(
        "snapshot",
        views::snapshot(&call.view, &snapshot, Render::Extended),
    ))
}

pub async fn update_snapshot(
    call: Call,
    params: Params,
    JsonBody(value): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let names: Names = body(value, "snapshot")?;
    let (name, description) = names.changes();
    check_text("snapshot.name", name.clone().flatten().as_deref())?;
    let update = SnapshotUpdate { name, description };
    let snapshot = call
        .service
        .update_snapshot(&call.caller, params.get("id"), update)
        .await?;
    Ok(document(
        "snapshot",
        views::snapshot(&call.view, &snapshot, Render::Plain),
    ))
}

pub async fn delete_snapshot(call: Call, params: Params) -> Result<Response, ApiError> {
    call.service
        .delete_snapshot(&call.caller, params.get("id"), false)
        .await?;
    Ok(accepted())
}

pub async fn snapshot_action(
    call: Call,
    params: Params,
    JsonBody(value): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let (service, caller) = (&call.service, &call.caller);
    let id = params.get("id");
    if value.get("os-force_delete").is_some() {
        service.delete_snapshot(caller, id, true).await?;
    } else if let Some(args) = value.get("os-reset_status") {
        let r: ResetStatusBody = serde_json::from_value(args.clone()).map_err(|e| {
            ApiError::bad_request(format!("Invalid input for os-reset_status: {e}"))
        })?;
        let reset = ResetStatus {
            status: r.status,
            ..Default::default()
        };
        service.reset_snapshot_status(caller, id, reset).await?;
    } else if let Some(args) = value.get("os-update_snapshot_status") {
        let update: SnapshotStatusUpdate = serde_json::from_value(args.clone()).map_err(|e| {
            ApiError::bad_request(format!("Invalid input for os-update_snapshot_status: {e}"))
        })?;
        service
            .update_snapshot_status(caller, id, update.status, update.progress)
            .await?;
    } else {
        return Err(ApiError::bad_request("There is no such action."));
    }
    Ok(accepted())
}

/// The attachments API exists from 3.27.
fn new_attach(view: &View) -> Result<(), ApiError> {
    if view.version.at_least(NEW_ATTACH) {
        Ok(())
    } else {
        Err(ApiError::not_found("The resource could not be found."))
    }
}

pub async fn list_attachments<const DETAIL: bool>(
    call: Call,
    Query(pairs): Pairs,
) -> Result<Response, ApiError> {
    new_attach(&call.view)?;
    let request = list_request(&pairs)?;
    let listed = call.service.list_attachments(&call.caller, request).await?;
    Ok(list_document(
        &call.view,
        "attachments",
        DETAIL,
        &pairs,
        &listed,
        |a| views::attachment(a, DETAIL),
    ))
}

/// `{"attachment": ...}`, in detail.
fn attachment_document(attachment: &Attachment) -> Response {
    document("attachment", views::attachment(attachment, true))
}

pub async fn create_attachment(
    call: Call,
    JsonBody(value): JsonBody<Value>,
) -> Result<Response, ApiError> {
    new_attach(&call.view)?;
    let req: AttachmentCreate = body(value, "attachment")?;
    let new = NewAttachment {
        volume_id: req.volume_uuid,
        instance_uuid: req.instance_uuid,
        connector: req.connector,
        mode: req.mode,
    };
    let attachment = call.service.create_attachment(&call.caller, new).await?;
    Ok(attachment_document(&attachment))
}

pub async fn show_attachment(call: Call, params: Params) -> Result<Response, ApiError> {
    new_attach(&call.view)?;
    let attachment = call
        .service
        .show_attachment(&call.caller, params.get("id"))
        .await?;
    Ok(attachment_document(&attachment))
}

pub async fn update_attachment(
    call: Call,
    params: Params,
    JsonBody(value): JsonBody<Value>,
) -> Result<Response, ApiError> {
    new_attach(&call.view)?;
    let req: AttachmentUpdate = body(value, "attachment")?;
    let attachment = call
        .service
        .update_attachment(&call.caller, params.get("id"), req.connector)
        .await?;
    Ok(attachment_document(&attachment))
}

pub async fn delete_attachment(call: Call, params: Params) -> Result<Response, ApiError> {
    new_attach(&call.view)?;
    let left = call
        .service
        .delete_attachment(&call.caller, params.get("id"))
        .await?;
    let left: Vec<Value> = left.iter().map(|a| views::attachment(a, false)).collect();
    Ok(document("attachments", json!(left)))
}

pub async fn attachment_action(
    call: Call,
    params: Params,
    JsonBody(value): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let completion = call.view.version.at_least(views::NEW_ATTACH_COMPLETION);
    if !completion || value.get("os-complete").is_none() {
        return Err(ApiError::bad_request("There is no such action."));
    }
    call.service
        .complete_attachment(&call.caller, params.get("id"))
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `{"volume_type": ...}` as the caller may see it.
fn type_document(call: &Call, t: &VolumeType, render: TypeRender) -> Response {
    document(
        "volume_type",
        views::volume_type(t, call.view.admin, render),
    )
}

pub async fn list_types(call: Call) -> Result<Response, ApiError> {
    let types = call.service.list_types(&call.caller).await?;
    let docs: Vec<Value> = types
        .iter()
        .map(|t| views::volume_type(t, call.view.admin, TypeRender::Shown))
        .collect();
    Ok(document("volume_types", json!(docs)))
}

pub async fn show_type(call: Call, params: Params) -> Result<Response, ApiError> {
    let t = call
        .service
        .show_type(&call.caller, params.get("id"))
        .await?;
    Ok(type_document(&call, &t, TypeRender::Shown))
}

pub async fn create_type(
    call: Call,
    JsonBody(value): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let req: TypeCreate = body(value, "volume_type")?;
    check_text("volume_type.name", Some(&req.name))?;
    let new = NewType {
        name: req.name,
        description: req.description,
        is_public: req.access_is_public.or(req.is_public).unwrap_or(true),
        extra_specs: req.extra_specs.unwrap_or_default(),
    };
    let t = call.service.create_type(&call.caller, new).await?;
    Ok(type_document(&call, &t, TypeRender::Created))
}

pub async fn update_type(
    call: Call,
    params: Params,
    JsonBody(value): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let req: TypeUpdateBody = body(value, "volume_type")?;
    check_text("volume_type.name", req.name.as_deref())?;
    let update = TypeUpdate {
        name: req.name,
        description: req.description,
        is_public: req.is_public,
    };
    let t = call
        .service
        .update_type(&call.caller, params.get("id"), update)
        .await?;
    Ok(type_document(&call, &t, TypeRender::Updated))
}

pub async fn delete_type(call: Call, params: Params) -> Result<Response, ApiError> {
    call.service
        .delete_type(&call.caller, params.get("id"))
        .await?;
    Ok(accepted())
}

/// Type `id`'s extra specs as the caller may see them.
async fn visible_extra_specs(call: &Call, id: &str) -> Result<(VolumeType, Value), ApiError> {
    let t = call.service.show_type(&call.caller, id).await?;
    let specs = views::volume_type(&t, call.view.admin, TypeRender::Shown)["extra_specs"].take();
    Ok((t, specs))
}

pub async fn extra_specs(call: Call, params: Params) -> Result<Response, ApiError> {
    let (_, specs) = visible_extra_specs(&call, params.get("id")).await?;
    Ok(document("extra_specs", specs))
}

pub async fn set_extra_specs(
    call: Call,
    params: Params,
    JsonBody(value): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let specs: Metadata = body(value, "extra_specs")?;
    let given = specs.clone();
    call.service
        .set_extra_specs(&call.caller, params.get("id"), specs)
        .await?;
    Ok(document("extra_specs", json!(given)))
}

pub async fn extra_spec(call: Call, params: Params) -> Result<Response, ApiError> {
    let (t, specs) = visible_extra_specs(&call, params.get("id")).await?;
    let key = params.get("key");
    match specs.get(key) {
        Some(value) => Ok(Json(json!({ key: value })).into_response()),
        None => Err(ApiError::not_found(format!(
            "Volume Type {} has no extra specs with key {key}.",
            t.id
        ))),
    }
}

pub async fn set_extra_spec(
    call: Call,
    params: Params,
    JsonBody(value): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let key = params.get("key");
    let spec: Metadata = serde_json::from_value(value)
        .map_err(|e| ApiError::bad_request(format!("Invalid input: {e}")))?;
    if spec.len() != 1 || !spec.contains_key(key) {
        return Err(ApiError::bad_request("Request body and URI mismatch"));
    }
    call.service
        .set_extra_specs(&call.caller, params.get("id"), spec.clone())
        .await?;
    Ok(Json(json!(spec)).into_response())
}

pub async fn delete_extra_spec(call: Call, params: Params) -> Result<Response, ApiError> {
    call.service
        .delete_extra_spec(&call.caller, params.get("id"), params.get("key"))
        .await?;
    Ok(accepted())
}

pub async fn type_access(call: Call, params: Params) -> Result<Response, ApiError> {
    let id = params.get("id");
    let projects = call.service.type_access(&call.caller, id).await?;
    let access: Vec<Value> = projects
        .iter()
        .map(|p| json!({"volume_type_id": id, "project_id": p}))
        .collect();
    Ok(document("volume_type_access", json!(access)))
}

pub async fn type_action(
    call: Call,
    params: Params,
    JsonBody(value): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let id = params.get("id");
    let (granted, key) = if value.get("addProjectAccess").is_some() {
        (true, "addProjectAccess")
    } else if value.get("removeProjectAccess").is_some() {
        (false, "removeProjectAccess")
    } else {
        return Err(ApiError::bad_request("There is no such action."));
    };
    let ProjectAccess { project } = body(value, key)?;
    call.service
        .set_type_access(&call.caller, id, &project, granted)
        .await?;
    Ok(accepted())
}
