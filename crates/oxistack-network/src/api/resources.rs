//! The handlers every kind of resource shares, written once over
//! [`Resource`]: list, show, create, update, delete, and tags. They parse
//! the request into the kind's typed request, call the service, and render
//! what it returns as Neutron's documents.

use axum::Json;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use oxistack_auth::Caller;
use oxistack_http::{ApiError, JsonBody, base_url, envelope};
use oxistack_list::{Document, Documents, Link, ListQuery, requested_fields, select_fields};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Value, json};

use super::Service;
use crate::errors::{NetworkError, bad_request};
use crate::service::{Resource, TagChange, Updatable, tag_not_found};
use crate::wire::Tags;

type Pairs = Query<Vec<(String, String)>>;

pub async fn list<R: Resource>(
    State(service): Service,
    Caller(caller): Caller,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Query(pairs): Pairs,
) -> Result<Response, ApiError> {
    let query = ListQuery::parse(R::KIND.collection(), &pairs).map_err(NetworkError::List)?;
    let page = service.list::<R>(&caller, query.clone()).await?;
    let url = format!("{}{}", base_url(&headers), uri.path());
    let body = ListBody {
        plural: R::KIND.plural(),
        documents: page.documents(query.fields.as_deref()),
        links: oxistack_list::links(&query, &page, &url, &pairs),
    };
    Ok(Json(body).into_response())
}

/// `{"networks": [...], "networks_links": [...]}`, the links only when
/// there are some; written straight from the resources.
struct ListBody<'a, T> {
    plural: &'static str,
    documents: Documents<'a, T>,
    links: Vec<Link>,
}

impl<T: Document> Serialize for ListBody<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry(self.plural, &self.documents)?;
        if !self.links.is_empty() {
            map.serialize_entry(&format!("{}_links", self.plural), &self.links)?;
        }
        map.end()
    }
}

pub async fn show<R: Resource>(
    State(service): Service,
    Caller(caller): Caller,
    Path(id): Path<String>,
    Query(pairs): Pairs,
) -> Result<Response, ApiError> {
    let resource: R = service.get(&caller, &id).await?;
    let document = select_fields(
        resource.document(caller.is_admin()),
        requested_fields(&pairs).as_deref(),
    );
    Ok(Json(json!({ R::KIND.singular(): document })).into_response())
}

/// `POST` of one resource (`{"network": {...}}`) or several
/// (`{"networks": [...]}`, all or none).
pub async fn create<R: Resource>(
    State(service): Service,
    Caller(caller): Caller,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let (singular, plural) = (R::KIND.singular(), R::KIND.plural());
    let (requests, bulk) = match body {
        Value::Object(mut body) if body.get(plural).is_some_and(Value::is_array) => {
            let Some(Value::Array(items)) = body.remove(plural) else {
                unreachable!("checked to be an array")
            };
            // Errors name the item as the client wrote it: `networks[1].name`.
            let requests = items
                .into_iter()
                .enumerate()
                .map(|(i, item)| {
                    let key = format!("{plural}[{i}]");
                    envelope(json!({ &key: item }), &key)
                })
                .collect::<Result<Vec<R::Create>, ApiError>>()?;
            (requests, true)
        }
        Value::Object(body) if body.contains_key(singular) => {
            (vec![envelope(Value::Object(body), singular)?], false)
        }
        _ => {
            return Err(bad_request(
                "HTTPBadRequest",
                format!(
                    "Resource body required: give {{\"{singular}\": {{...}}}} or {{\"{plural}\": [...]}}."
                ),
            )
            .into());
        }
    };
    let created = service.create::<R>(&caller, requests).await?;
    let admin = caller.is_admin();
    let mut documents = created.iter().map(|resource| resource.document(admin));
    let body = if bulk {
        json!({ plural: documents.collect::<Vec<_>>() })
    } else {
        json!({ singular: documents.next() })
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

pub async fn update<R: Updatable>(
    State(service): Service,
    Caller(caller): Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let singular = R::KIND.singular();
    let request: R::Update = envelope(body, singular)?;
    let resource = service.update::<R>(&caller, &id, request).await?;
    Ok(Json(json!({ singular: resource.document(caller.is_admin()) })).into_response())
}

pub async fn delete<R: Resource>(
    State(service): Service,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    service.delete::<R>(&caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn tags<R: Resource>(
    State(service): Service,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let tags = service.tags::<R>(&caller, &id).await?;
    Ok(Json(json!({ "tags": tags })).into_response())
}

/// `PUT .../tags`: the resource's tags become exactly these.
pub async fn replace_tags<R: Resource>(
    State(service): Service,
    Caller(caller): Caller,
    Path(id): Path<String>,
    JsonBody(Tags { tags }): JsonBody<Tags>,
) -> Result<Response, ApiError> {
    let tags = service
        .change_tags::<R>(&caller, &id, TagChange::Replace(tags))
        .await?;
    Ok(Json(json!({ "tags": tags })).into_response())
}

/// `POST .../tags`: these tags are added to the resource's.
pub async fn add_tags<R: Resource>(
    State(service): Service,
    Caller(caller): Caller,
    Path(id): Path<String>,
    JsonBody(Tags { tags }): JsonBody<Tags>,
) -> Result<Response, ApiError> {
    let tags = service
        .change_tags::<R>(&caller, &id, TagChange::Add(tags))
        .await?;
    Ok((StatusCode::CREATED, Json(json!({ "tags": tags }))).into_response())
}

pub async fn clear_tags<R: Resource>(
    State(service): Service,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    service
        .change_tags::<R>(&caller, &id, TagChange::Clear)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET .../tags/{tag}`: 204 if the resource has the tag, else 404.
pub async fn has_tag<R: Resource>(
    State(service): Service,
    Caller(caller): Caller,
    Path((id, tag)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    if service.tags::<R>(&caller, &id).await?.contains(&tag) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(tag_not_found(R::KIND, &id, &tag).into())
    }
}

pub async fn add_tag<R: Resource>(
    State(service): Service,
    Caller(caller): Caller,
    Path((id, tag)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    service
        .change_tags::<R>(&caller, &id, TagChange::Add(vec![tag]))
        .await?;
    Ok(StatusCode::CREATED)
}

pub async fn remove_tag<R: Resource>(
    State(service): Service,
    Caller(caller): Caller,
    Path((id, tag)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    service
        .change_tags::<R>(&caller, &id, TagChange::Remove(tag))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
