//! The handlers every kind of resource shares: list, show, create,
//! update, delete, and tags.

use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use oxistack_auth::Caller;
use oxistack_http::{ApiError, JsonBody, base_url, query_string};
use serde_json::{Value, json};

use super::Service;
use crate::kind::Kind;
use crate::query::{ListQuery, select_fields};
use crate::service::TagChange;
use crate::wire::Tags;

type Pairs = Query<Vec<(String, String)>>;

pub async fn list(
    State(service): Service,
    Extension(kind): Extension<Kind>,
    Caller(caller): Caller,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Query(pairs): Pairs,
) -> Result<Response, ApiError> {
    let query = ListQuery::parse(kind, &pairs)?;
    let fields = query.fields.clone();
    let paginated = query.limit.is_some();
    let page = service.list(&caller, query).await?;
    let mut links = Vec::new();
    if paginated {
        // Neutron's links repeat the client's query with the marker (and
        // direction) replaced, as absolute URLs.
        let kept: Vec<(&str, &str)> = pairs
            .iter()
            .filter(|(key, _)| key != "marker" && key != "page_reverse")
            .map(|(key, value)| (key.as_str(), value.as_str()))
            .collect();
        let href = |marker: &str, reverse: bool| {
            let mut query = kept.clone();
            query.push(("marker", marker));
            if reverse {
                query.push(("page_reverse", "True"));
            }
            format!(
                "{}{}?{}",
                base_url(&headers),
                uri.path(),
                query_string(query)
            )
        };
        if let (true, Some(last)) = (page.more_after, page.items.last()) {
            links.push(json!({"rel": "next", "href": href(last.id(), false)}));
        }
        if let (true, Some(first)) = (page.more_before, page.items.first()) {
            links.push(json!({"rel": "previous", "href": href(first.id(), true)}));
        }
    }
    let documents: Vec<Value> = page
        .items
        .into_iter()
        .map(|item| Value::Object(select_fields(item.doc, fields.as_deref())))
        .collect();
    let mut body = serde_json::Map::new();
    body.insert(kind.plural().to_owned(), Value::Array(documents));
    if !links.is_empty() {
        body.insert(format!("{}_links", kind.plural()), Value::Array(links));
    }
    Ok(Json(body).into_response())
}

pub async fn show(
    State(service): Service,
    Extension(kind): Extension<Kind>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    Query(pairs): Pairs,
) -> Result<Response, ApiError> {
    let fields: Vec<String> = pairs
        .iter()
        .filter(|(key, _)| key == "fields")
        .flat_map(|(_, value)| value.split(',').map(str::to_owned))
        .collect();
    let document = service.show(&caller, kind, &id).await?;
    let document = select_fields(document, (!fields.is_empty()).then_some(fields.as_slice()));
    Ok(Json(json!({ kind.singular(): document })).into_response())
}

pub async fn create(
    State(service): Service,
    Extension(kind): Extension<Kind>,
    Caller(caller): Caller,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let created = service.create(&caller, kind, body).await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

pub async fn update(
    State(service): Service,
    Extension(kind): Extension<Kind>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let document = service.update(&caller, kind, &id, body).await?;
    Ok(Json(json!({ kind.singular(): document })).into_response())
}

pub async fn delete(
    State(service): Service,
    Extension(kind): Extension<Kind>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    service.delete(&caller, kind, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn tags(
    State(service): Service,
    Extension(kind): Extension<Kind>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let tags = service.tags(&caller, kind, &id).await?;
    Ok(Json(json!({ "tags": tags })).into_response())
}

/// `PUT .../tags`: the resource's tags become exactly these.
pub async fn replace_tags(
    State(service): Service,
    Extension(kind): Extension<Kind>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    JsonBody(Tags { tags }): JsonBody<Tags>,
) -> Result<Response, ApiError> {
    let tags = service
        .change_tags(&caller, kind, &id, TagChange::Replace(tags))
        .await?;
    Ok(Json(json!({ "tags": tags })).into_response())
}

/// `POST .../tags`: these tags are added to the resource's.
pub async fn add_tags(
    State(service): Service,
    Extension(kind): Extension<Kind>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    JsonBody(Tags { tags }): JsonBody<Tags>,
) -> Result<Response, ApiError> {
    let tags = service
        .change_tags(&caller, kind, &id, TagChange::Add(tags))
        .await?;
    Ok((StatusCode::CREATED, Json(json!({ "tags": tags }))).into_response())
}

pub async fn clear_tags(
    State(service): Service,
    Extension(kind): Extension<Kind>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    service
        .change_tags(&caller, kind, &id, TagChange::Clear)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET .../tags/{tag}`: 204 if the resource has the tag, else 404.
pub async fn has_tag(
    State(service): Service,
    Extension(kind): Extension<Kind>,
    Caller(caller): Caller,
    Path((id, tag)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    if service.tags(&caller, kind, &id).await?.contains(&tag) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!(
            "Tag {tag} could not be found for {} {id}.",
            kind.singular()
        ))
        .with_kind("TagNotFound"))
    }
}

pub async fn add_tag(
    State(service): Service,
    Extension(kind): Extension<Kind>,
    Caller(caller): Caller,
    Path((id, tag)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    service
        .change_tags(&caller, kind, &id, TagChange::Add(vec![tag]))
        .await?;
    Ok(StatusCode::CREATED)
}

pub async fn remove_tag(
    State(service): Service,
    Extension(kind): Extension<Kind>,
    Caller(caller): Caller,
    Path((id, tag)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    service
        .change_tags(&caller, kind, &id, TagChange::Remove(tag))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
