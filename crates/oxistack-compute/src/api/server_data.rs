//! `/servers/{id}/metadata` and `/servers/{id}/tags` (2.26). Parsing and
//! rendering; the service decides.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use oxistack_auth::Caller;
use oxistack_http::microversion::Microversion;
use oxistack_http::{ApiError, JsonBody};
use serde::Deserialize;
use serde_json::json;

use super::{Service, envelope, not_in_version};
use crate::service::server_data::{MetadataChange, TagChange};
use crate::validate::{validate_metadata, validate_tag, validate_tags};
use crate::versions::TAGS;
use crate::wire::Urls;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetadataBody {
    metadata: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetaBody {
    meta: BTreeMap<String, String>,
}

pub async fn metadata(
    State(service): Service,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let metadata = service.server_metadata(&caller, &id).await?;
    Ok(envelope("metadata", metadata).into_response())
}

pub async fn metadata_item(
    State(service): Service,
    Caller(caller): Caller,
    Path((id, key)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let value = service.server_metadata_item(&caller, &id, &key).await?;
    Ok(envelope("meta", BTreeMap::from([(key, value)])).into_response())
}

/// `POST /servers/{id}/metadata`: adds or changes the given items.
pub async fn merge_metadata(
    State(service): Service,
    Caller(caller): Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<MetadataBody>,
) -> Result<Response, ApiError> {
    validate_metadata("metadata", &body.metadata)?;
    let change = MetadataChange::Merge(body.metadata);
    let metadata = service.change_server_metadata(&caller, &id, change).await?;
    Ok(envelope("metadata", metadata).into_response())
}

/// `PUT /servers/{id}/metadata`: replaces all items.
pub async fn replace_metadata(
    State(service): Service,
    Caller(caller): Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<MetadataBody>,
) -> Result<Response, ApiError> {
    validate_metadata("metadata", &body.metadata)?;
    let change = MetadataChange::Replace(body.metadata);
    let metadata = service.change_server_metadata(&caller, &id, change).await?;
    Ok(envelope("metadata", metadata).into_response())
}

/// `PUT /servers/{id}/metadata/{key}` with `{"meta": {"<key>": "<value>"}}`.
pub async fn set_metadata_item(
    State(service): Service,
    Caller(caller): Caller,
    Path((id, key)): Path<(String, String)>,
    JsonBody(body): JsonBody<MetaBody>,
) -> Result<Response, ApiError> {
    if body.meta.len() != 1 || !body.meta.contains_key(&key) {
        return Err(ApiError::bad_request(format!(
            "Request body and URI mismatch: the body must be {{\"meta\": {{\"{key}\": <value>}}}}."
        )));
    }
    validate_metadata("meta", &body.meta)?;
    let change = MetadataChange::Merge(body.meta.clone());
    service.change_server_metadata(&caller, &id, change).await?;
    Ok(envelope("meta", body.meta).into_response())
}

pub async fn delete_metadata_item(
    State(service): Service,
    Caller(caller): Caller,
    Path((id, key)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let change = MetadataChange::Remove(key);
    service.change_server_metadata(&caller, &id, change).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn require_tags(version: Microversion) -> Result<(), ApiError> {
    if version.at_least(TAGS) {
        Ok(())
    } else {
        Err(not_in_version(version))
    }
}

pub async fn tags(
    State(service): Service,
    Caller(caller): Caller,
    version: Microversion,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    require_tags(version)?;
    let tags = service.server_tags(&caller, &id).await?;
    Ok(envelope("tags", tags).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagsBody {
    tags: Vec<String>,
}

pub async fn replace_tags(
    State(service): Service,
    Caller(caller): Caller,
    version: Microversion,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<TagsBody>,
) -> Result<Response, ApiError> {
    require_tags(version)?;
    validate_tags("tags", &body.tags)?;
    let (tags, _) = service
        .change_server_tags(&caller, &id, TagChange::Replace(body.tags))
        .await?;
    Ok(Json(json!({"tags": tags})).into_response())
}

pub async fn delete_tags(
    State(service): Service,
    Caller(caller): Caller,
    version: Microversion,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    require_tags(version)?;
    service
        .change_server_tags(&caller, &id, TagChange::Clear)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /servers/{id}/tags/{tag}`: 204 if the server has the tag.
pub async fn has_tag(
    State(service): Service,
    Caller(caller): Caller,
    version: Microversion,
    Path((id, tag)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    require_tags(version)?;
    service.server_tag(&caller, &id, &tag).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /servers/{id}/tags/{tag}`: 201 with its location if new, 204 if
/// the server had it already.
pub async fn add_tag(
    State(service): Service,
    Caller(caller): Caller,
    version: Microversion,
    urls: Urls,
    Path((id, tag)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    require_tags(version)?;
    validate_tag("tag", &tag)?;
    let (_, added) = service
        .change_server_tags(&caller, &id, TagChange::Add(tag.clone()))
        .await?;
    if !added {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let mut response = StatusCode::CREATED.into_response();
    let location = format!("{}/servers/{id}/tags/{tag}", urls.api);
    if let Ok(location) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

pub async fn delete_tag(
    State(service): Service,
    Caller(caller): Caller,
    version: Microversion,
    Path((id, tag)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    require_tags(version)?;
    service
        .change_server_tags(&caller, &id, TagChange::Remove(tag))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
