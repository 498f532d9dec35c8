//! `/servers/{id}/metadata` and `/servers/{id}/tags` (2.26).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use oxistack_auth::{Action, AuthContext, Caller, authorize};
use oxistack_http::microversion::Microversion;
use oxistack_http::{ApiError, JsonBody};
use serde::Deserialize;
use serde_json::json;

use super::{Service, envelope, not_in_version};
use crate::ComputeService;
use crate::model::{Server, VmState};
use crate::quota::{Limits, Resource};
use crate::service::{Lock, conflict, require_state};
use crate::validate::{validate_metadata, validate_tag, validate_tags};
use crate::versions::TAGS;
use crate::wire::Urls;

/// The server states whose metadata may change, as Nova allows it.
const METADATA_STATES: &[VmState] = &[VmState::Active, VmState::Paused, VmState::Stopped];
/// The server states whose tags may change.
const TAG_STATES: &[VmState] = &[
    VmState::Building,
    VmState::Active,
    VmState::Paused,
    VmState::Stopped,
];

async fn readable(
    service: &ComputeService,
    caller: &Arc<AuthContext>,
    id: &str,
) -> Result<Server, ApiError> {
    authorize(caller, Action::ReadServers)?;
    service.visible_server(caller, id).await
}

fn metadata_not_found() -> ApiError {
    ApiError::not_found("Metadata item was not found")
}

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
    let server = readable(&service, &caller, &id).await?;
    Ok(envelope("metadata", server.metadata).into_response())
}

pub async fn metadata_item(
    State(service): Service,
    Caller(caller): Caller,
    Path((id, key)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let server = readable(&service, &caller, &id).await?;
    let value = server.metadata.get(&key).ok_or_else(metadata_not_found)?;
    Ok(envelope("meta", BTreeMap::from([(&key, value)])).into_response())
}

/// Changes a server's metadata with `change`, within the project's
/// `metadata_items` quota; answers the whole metadata afterwards.
async fn change_metadata<F>(
    service: &ComputeService,
    caller: &Arc<AuthContext>,
    id: &str,
    change: F,
) -> Result<BTreeMap<String, String>, ApiError>
where
    F: FnOnce(&mut BTreeMap<String, String>) -> Result<(), ApiError> + Send + 'static,
{
    authorize(caller, Action::ModifyServer)?;
    let project = service.visible_server(caller, id).await?.project_id;
    let limit = service
        .read(move |conn| Ok(Limits::of(conn, &project)?.get(Resource::MetadataItems)))
        .await?;
    let (server, ()) = service
        .modify_server(caller, id, Lock::Heeded, move |server| {
            require_state(server, "update_metadata", METADATA_STATES)?;
            change(&mut server.metadata)?;
            if limit >= 0 && server.metadata.len() as i64 > limit {
                return Err(ApiError::forbidden(format!(
                    "Quota exceeded for metadata_items: Maximum number of metadata items exceeds {limit}"
                )));
            }
            Ok(())
        })
        .await?;
    Ok(server.metadata)
}

/// `POST /servers/{id}/metadata`: adds or changes the given items.
pub async fn merge_metadata(
    State(service): Service,
    Caller(caller): Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<MetadataBody>,
) -> Result<Response, ApiError> {
    validate_metadata("metadata", &body.metadata)?;
    let metadata = change_metadata(&service, &caller, &id, move |metadata| {
        metadata.extend(body.metadata);
        Ok(())
    })
    .await?;
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
    let metadata = change_metadata(&service, &caller, &id, move |metadata| {
        *metadata = body.metadata;
        Ok(())
    })
    .await?;
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
    let item = body.meta.clone();
    change_metadata(&service, &caller, &id, move |metadata| {
        metadata.extend(body.meta);
        Ok(())
    })
    .await?;
    Ok(envelope("meta", item).into_response())
}

pub async fn delete_metadata_item(
    State(service): Service,
    Caller(caller): Caller,
    Path((id, key)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    change_metadata(&service, &caller, &id, move |metadata| {
        metadata
            .remove(&key)
            .map(drop)
            .ok_or_else(metadata_not_found)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

fn require_tags(version: Microversion) -> Result<(), ApiError> {
    if version.at_least(TAGS) {
        Ok(())
    } else {
        Err(not_in_version(version))
    }
}

/// Changes a server's tags with `change`; answers whether it added one.
async fn change_tags<F>(
    service: &ComputeService,
    caller: &Arc<AuthContext>,
    id: &str,
    change: F,
) -> Result<(Vec<String>, bool), ApiError>
where
    F: FnOnce(&mut Vec<String>) -> Result<bool, ApiError> + Send + 'static,
{
    let (server, added) = service
        .modify_server(caller, id, Lock::Ignored, move |server| {
            if !TAG_STATES.contains(&server.vm_state) {
                return Err(conflict("update_tags", server));
            }
            change(&mut server.tags)
        })
        .await?;
    Ok((server.tags, added))
}

pub async fn tags(
    State(service): Service,
    Caller(caller): Caller,
    version: Microversion,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    require_tags(version)?;
    let server = readable(&service, &caller, &id).await?;
    Ok(envelope("tags", server.tags).into_response())
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
    let mut wanted: Vec<String> = Vec::with_capacity(body.tags.len());
    for tag in body.tags {
        if !wanted.contains(&tag) {
            wanted.push(tag);
        }
    }
    let (tags, _) = change_tags(&service, &caller, &id, move |tags| {
        *tags = wanted;
        Ok(false)
    })
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
    change_tags(&service, &caller, &id, |tags| {
        tags.clear();
        Ok(false)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

fn tag_not_found(id: &str, tag: &str) -> ApiError {
    ApiError::not_found(format!("Tag {tag} could not be found for instance {id}."))
}

/// `GET /servers/{id}/tags/{tag}`: 204 if the server has the tag.
pub async fn has_tag(
    State(service): Service,
    Caller(caller): Caller,
    version: Microversion,
    Path((id, tag)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    require_tags(version)?;
    let server = readable(&service, &caller, &id).await?;
    if server.tags.contains(&tag) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(tag_not_found(&id, &tag))
    }
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
    let added_tag = tag.clone();
    let (_, added) = change_tags(&service, &caller, &id, move |tags| {
        if tags.contains(&added_tag) {
            return Ok(false);
        }
        tags.push(added_tag);
        validate_tags("tag", tags)?;
        Ok(true)
    })
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
    let server_id = id.clone();
    change_tags(&service, &caller, &id, move |tags| {
        let before = tags.len();
        tags.retain(|t| t != &tag);
        if tags.len() == before {
            return Err(tag_not_found(&server_id, &tag));
        }
        Ok(false)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
