//! The metadata routes volumes and snapshots share
//! (`/{volumes,snapshots}/{id}/metadata[/{key}]`): one set of handlers,
//! generic over whose metadata it is, so that both answer alike.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use oxistack_http::{ApiError, JsonBody};
use serde_json::{Value, json};

use super::handlers::{body, document};
use super::{Call, Params};
use crate::model::Metadata;
use crate::service::MetadataHolder;

/// The type that picks whose metadata the generic handlers serve.
pub trait HolderOf {
    const HOLDER: MetadataHolder;
}

pub struct OfVolume;
pub struct OfSnapshot;

impl HolderOf for OfVolume {
    const HOLDER: MetadataHolder = MetadataHolder::Volume;
}

impl HolderOf for OfSnapshot {
    const HOLDER: MetadataHolder = MetadataHolder::Snapshot;
}

/// `{"meta": {key: value}}` with exactly the key of the URL.
fn meta_item_body(value: Value, key: &str) -> Result<Metadata, ApiError> {
    let meta: Metadata = body(value, "meta")?;
    if meta.len() > 1 {
        return Err(ApiError::bad_request(
            "Request body contains too many items",
        ));
    }
    if !meta.contains_key(key) {
        return Err(ApiError::bad_request("Request body and URI mismatch"));
    }
    Ok(meta)
}

pub async fn metadata<H: HolderOf>(call: Call, params: Params) -> Result<Response, ApiError> {
    let metadata = call
        .service
        .metadata(&call.caller, H::HOLDER, params.get("id"))
        .await?;
    Ok(document("metadata", json!(metadata)))
}

/// `POST` merges, `PUT` (`REPLACE`) replaces; the whole metadata after.
pub async fn set_metadata<H: HolderOf, const REPLACE: bool>(
    call: Call,
    params: Params,
    JsonBody(value): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let metadata: Metadata = body(value, "metadata")?;
    let metadata = call
        .service
        .set_metadata(&call.caller, H::HOLDER, params.get("id"), metadata, REPLACE)
        .await?;
    Ok(document("metadata", json!(metadata)))
}

pub async fn meta_item<H: HolderOf>(call: Call, params: Params) -> Result<Response, ApiError> {
    let metadata = call
        .service
        .metadata(&call.caller, H::HOLDER, params.get("id"))
        .await?;
    let key = params.get("key");
    let value = metadata
        .get(key)
        .ok_or_else(|| ApiError::not_found("Metadata item was not found"))?;
    Ok(document("meta", json!({ key: value })))
}

pub async fn set_meta_item<H: HolderOf>(
    call: Call,
    params: Params,
    JsonBody(value): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let meta = meta_item_body(value, params.get("key"))?;
    call.service
        .set_metadata(
            &call.caller,
            H::HOLDER,
            params.get("id"),
            meta.clone(),
            false,
        )
        .await?;
    Ok(document("meta", json!(meta)))
}

pub async fn delete_meta_item<H: HolderOf>(
    call: Call,
    params: Params,
) -> Result<Response, ApiError> {
    let (id, key) = (params.get("id"), params.get("key"));
    call.service
        .delete_metadata(&call.caller, H::HOLDER, id, key)
        .await?;
    Ok(StatusCode::OK.into_response())
}
