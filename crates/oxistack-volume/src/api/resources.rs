//! The handlers of snapshots, attachments and volume types, in the same
//! shape as the volume handlers and with their helpers.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use oxistack_auth::Caller;
use oxistack_http::ApiError;
use oxistack_http::JsonBody;
use serde_json::{Value, json};

use super::handlers::{
    Pairs, accepted, body, check_text, list_document, list_request, metadata_body,
};
use super::{Params, Service};
use crate::service::{
    NewAttachment, NewSnapshot, NewType, ResetStatus, SnapshotUpdate, TypeUpdate,
};
use crate::wire::views::{self, NEW_ATTACH, SNAPSHOT_IN_USE, View};
use crate::wire::{
    AttachmentCreate, AttachmentUpdate, ProjectAccess, ResetStatusBody, SnapshotCreate,
    SnapshotUpdateBody, TypeCreate, TypeUpdateBody,
};

pub async fn list_snapshots<const DETAIL: bool>(
    State(service): Service,
    Caller(caller): Caller,
    view: View,
    Query(pairs): Pairs,
) -> Result<Response, ApiError> {
    let listed = service
        .list_snapshots(&caller, list_request(&pairs)?)
        .await?;
    let collection = if DETAIL {
        "snapshots/detail"
    } else {
        "snapshots"
    };
    Ok(list_document(
        &view,
        "snapshots",
        collection,
        &pairs,
        &listed,
        |s| views::snapshot(&view, s),
    ))
}

pub async fn create_snapshot(
    State(service): Service,
    Caller(caller): Caller,
    view: View,
    JsonBody(value): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let req: SnapshotCreate = body(value, "snapshot")?;
    let name = req.name.or(req.display_name);
    check_text("snapshot.name", name.as_deref())?;
    let new = NewSnapshot {
        volume_id: req.volume_id,
        name,
        description: req.description.or(req.display_description),
        force: req.force.unwrap_or(false),
        metadata: req.metadata.unwrap_or_default(),
        in_use_allowed: view.version.at_least(SNAPSHOT_IN_USE),
    };
    let snapshot = service.create_snapshot(&caller, new).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"snapshot": views::snapshot(&view, &snapshot)})),
    )
        .into_response())
}

pub async fn show_snapshot(
    State(service): Service,
    Caller(caller): Caller,
    view: View,
    params: Params,
) -> Result<Response, ApiError> {
    let snapshot = service.show_snapshot(&caller, params.get("id")).await?;
    Ok(Json(json!({"snapshot": views::snapshot(&view, &snapshot)})).into_response())
}

pub async fn update_snapshot(
    State(service): Service,
    Caller(caller): Caller,
    view: View,
    params: Params,
    JsonBody(value): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let req: SnapshotUpdateBody = body(value, "snapshot")?;
    let name = req.name.or(req.display_name);
    check_text("snapshot.name", name.clone().flatten().as_deref())?;
    let update = SnapshotUpdate {
        name,
        description: req.description.or(req.display_description),
    };
    let snapshot = service
        .update_snapshot(&caller, params.get("id"), update)
        .await?;
    Ok(Json(json!({"snapshot": views::snapshot(&view, &snapshot)})).into_response())
}

pub async fn delete_snapshot(
    State(service): Service,
    Caller(caller): Caller,
    params: Params,
) -> Result<Response, ApiError> {
    service
        .delete_snapshot(&caller, params.get("id"), false)
        .await?;
    Ok(accepted())
}

pub async fn snapshot_action(
    State(service): Service,
    Caller(caller): Caller,
    params: Params,
    JsonBody(value): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let id = params.get("id");
    if value.get("os-force_delete").is_some() {
        service.delete_snapshot(&caller, id, true).await?;
    } else if let Some(args) = value.get("os-reset_status") {
        let r: ResetStatusBody = serde_json::from_value(args.clone()).map_err(|e| {
            ApiError::bad_request(format!("Invalid input for os-reset_status: {e}"))
        })?;
        let reset = ResetStatus {
            status: r.status,
            ..Default::default()
        };
        service.reset_snapshot_status(&caller, id, reset).await?;
    } else {
        return Err(ApiError::bad_request("There is no such action."));
    }
    Ok(accepted())
}

pub async fn snapshot_metadata(
    State(service): Service,
    Caller(caller): Caller,
    params: Params,
) -> Result<Response, ApiError> {
    let snapshot = service.show_snapshot(&caller, params.get("id")).await?;
    Ok(Json(json!({"metadata": snapshot.metadata})).into_response())
}

pub async fn set_snapshot_metadata<const REPLACE: bool>(
    State(service): Service,
    Caller(caller): Caller,
    params: Params,
    JsonBody(value): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let metadata = metadata_body(value, "metadata")?;
    let metadata = service
        .set_snapshot_metadata(&caller, params.get("id"), metadata, REPLACE)
        .await?;
    Ok(Json(json!({"metadata": metadata})).into_response())
}

pub async fn snapshot_meta_item(
    State(service): Service,
    Caller(caller): Caller,
    params: Params,
) -> Result<Response, ApiError> {
    let snapshot = service.show_snapshot(&caller, params.get("id")).await?;
    let key = params.get("key");
    let value = snapshot
        .metadata
        .get(key)
        .ok_or_else(|| ApiError::not_found("Metadata item was not found"))?;
    Ok(Json(json!({"meta": {key: value}})).into_response())
}

pub async fn delete_snapshot_meta_item(
    State(service): Service,
    Caller(caller): Caller,
    params: Params,
) -> Result<Response, ApiError> {
    service
        .delete_snapshot_metadata(&caller, params.get("id"), params.get("key"))
        .await?;
    Ok(StatusCode::OK.into_response())
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
    State(service): Service,
    Caller(caller): Caller,
    view: View,
    Query(pairs): Pairs,
) -> Result<Response, ApiError> {
    new_attach(&view)?;
    let listed = service
        .list_attachments(&caller, list_request(&pairs)?)
        .await?;
    let collection = if DETAIL {
        "attachments/detail"
    } else {
        "attachments"
    };
    Ok(list_document(
        &view,
        "attachments",
        collection,
        &pairs,
        &listed,
        |a| views::attachment(a, DETAIL),
    ))
}

pub async fn create_attachment(
    State(service): Service,
    Caller(caller): Caller,
    view: View,
    JsonBody(value): JsonBody<Value>,
) -> Result<Response, ApiError> {
    new_attach(&view)?;
    let req: AttachmentCreate = body(value, "attachment")?;
    let new = NewAttachment {
        volume_id: req.volume_uuid,
        instance_uuid: req.instance_uuid,
        connector: req.connector,
        mode: req.mode,
    };
    let attachment = service.create_attachment(&caller, new).await?;
    Ok(Json(json!({"attachment": views::attachment(&attachment, true)})).into_response())
}

pub async fn show_attachment(
    State(service): Service,
    Caller(caller): Caller,
    view: View,
    params: Params,
) -> Result<Response, ApiError> {
    new_attach(&view)?;
    let attachment = service.show_attachment(&caller, params.get("id")).await?;
    Ok(Json(json!({"attachment": views::attachment(&attachment, true)})).into_response())
}

pub async fn update_attachment(
    State(service): Service,
    Caller(caller): Caller,
    view: View,
    params: Params,
    JsonBody(value): JsonBody<Value>,
) -> Result<Response, ApiError> {
    new_attach(&view)?;
    let req: AttachmentUpdate = body(value, "attachment")?;
    let attachment = service
        .update_attachment(&caller, params.get("id"), req.connector)
        .await?;
    Ok(Json(json!({"attachment": views::attachment(&attachment, true)})).into_response())
}

pub async fn delete_attachment(
    State(service): Service,
    Caller(caller): Caller,
    view: View,
    params: Params,
) -> Result<Response, ApiError> {
    new_attach(&view)?;
    let left = service.delete_attachment(&caller, params.get("id")).await?;
    let left: Vec<Value> = left.iter().map(|a| views::attachment(a, false)).collect();
    Ok(Json(json!({"attachments": left})).into_response())
}

pub async fn attachment_action(
    State(service): Service,
    Caller(caller): Caller,
    view: View,
    params: Params,
    JsonBody(value): JsonBody<Value>,
) -> Result<Response, ApiError> {
    if !view.version.at_least(views::NEW_ATTACH_COMPLETION) || value.get("os-complete").is_none() {
        return Err(ApiError::bad_request("There is no such action."));
    }
    service
        .complete_attachment(&caller, params.get("id"))
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn list_types(
    State(service): Service,
    Caller(caller): Caller,
    view: View,
) -> Result<Response, ApiError> {
    let types = service.list_types(&caller).await?;
    let docs: Vec<Value> = types
        .iter()
        .map(|t| views::volume_type(t, view.admin))
        .collect();
    Ok(Json(json!({"volume_types": docs})).into_response())
}

pub async fn show_type(
    State(service): Service,
    Caller(caller): Caller,
    view: View,
    params: Params,
) -> Result<Response, ApiError> {
    let t = service.show_type(&caller, params.get("id")).await?;
    Ok(Json(json!({"volume_type": views::volume_type(&t, view.admin)})).into_response())
}

pub async fn create_type(
    State(service): Service,
    Caller(caller): Caller,
    view: View,
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
    let t = service.create_type(&caller, new).await?;
    Ok(Json(json!({"volume_type": views::volume_type(&t, view.admin)})).into_response())
}

pub async fn update_type(
    State(service): Service,
    Caller(caller): Caller,
    view: View,
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
    let t = service
        .update_type(&caller, params.get("id"), update)
        .await?;
    Ok(Json(json!({"volume_type": views::volume_type(&t, view.admin)})).into_response())
}

pub async fn delete_type(
    State(service): Service,
    Caller(caller): Caller,
    params: Params,
) -> Result<Response, ApiError> {
    service.delete_type(&caller, params.get("id")).await?;
    Ok(accepted())
}

pub async fn extra_specs(
    State(service): Service,
    Caller(caller): Caller,
    view: View,
    params: Params,
) -> Result<Response, ApiError> {
    let t = service.show_type(&caller, params.get("id")).await?;
    let doc = views::volume_type(&t, view.admin);
    Ok(Json(json!({"extra_specs": doc["extra_specs"]})).into_response())
}

pub async fn set_extra_specs(
    State(service): Service,
    Caller(caller): Caller,
    params: Params,
    JsonBody(value): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let specs = metadata_body(value, "extra_specs")?;
    let given = specs.clone();
    service
        .set_extra_specs(&caller, params.get("id"), specs)
        .await?;
    Ok(Json(json!({"extra_specs": given})).into_response())
}

pub async fn extra_spec(
    State(service): Service,
    Caller(caller): Caller,
    view: View,
    params: Params,
) -> Result<Response, ApiError> {
    let t = service.show_type(&caller, params.get("id")).await?;
    let key = params.get("key");
    let doc = views::volume_type(&t, view.admin);
    match doc["extra_specs"].get(key) {
        Some(value) => Ok(Json(json!({ key: value })).into_response()),
        None => Err(ApiError::not_found(format!(
            "Volume Type {} has no extra specs with key {key}.",
            t.id
        ))),
    }
}

pub async fn set_extra_spec(
    State(service): Service,
    Caller(caller): Caller,
    params: Params,
    JsonBody(value): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let key = params.get("key");
    let spec: crate::model::Metadata = serde_json::from_value(value)
        .map_err(|e| ApiError::bad_request(format!("Invalid input: {e}")))?;
    if spec.len() != 1 || !spec.contains_key(key) {
        return Err(ApiError::bad_request("Request body and URI mismatch"));
    }
    service
        .set_extra_specs(&caller, params.get("id"), spec.clone())
        .await?;
    Ok(Json(json!(spec)).into_response())
}

pub async fn delete_extra_spec(
    State(service): Service,
    Caller(caller): Caller,
    params: Params,
) -> Result<Response, ApiError> {
    service
        .delete_extra_spec(&caller, params.get("id"), params.get("key"))
        .await?;
    Ok(accepted())
}

pub async fn type_access(
    State(service): Service,
    Caller(caller): Caller,
    params: Params,
) -> Result<Response, ApiError> {
    let id = params.get("id");
    let projects = service.type_access(&caller, id).await?;
    let access: Vec<Value> = projects
        .iter()
        .map(|p| json!({"volume_type_id": id, "project_id": p}))
        .collect();
    Ok(Json(json!({"volume_type_access": access})).into_response())
}

pub async fn type_action(
    State(service): Service,
    Caller(caller): Caller,
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
    service
        .set_type_access(&caller, id, &project, granted)
        .await?;
    Ok(accepted())
}
