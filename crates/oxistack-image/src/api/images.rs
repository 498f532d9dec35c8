//! Image records: create, list, show, patch, delete, tags and actions.

use axum::Json;
use axum::extract::{FromRequest, OriginalUri, Path, Query, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use oxistack_auth::Caller;
use oxistack_http::{ApiError, JsonBody, base_url, query_string};
use serde_json::Value;

use super::{Service, image_id};
use crate::page_cache::PageKey;
use crate::patch::{self, Change, Dialect};
use crate::query::ListQuery;
use crate::wire::{self, ImageList, ImageView};

pub async fn create(
    State(service): Service,
    Caller(caller): Caller,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let Value::Object(body) = body else {
        return Err(ApiError::bad_request(
            "The request body must be a JSON object describing the image.",
        ));
    };
    let image = service.create(&caller, body).await?;
    let location = format!(
        "{}{}/{}",
        base_url(&headers),
        uri.path().trim_end_matches('/'),
        image.id
    );
    let mut response = (StatusCode::CREATED, Json(ImageView::from(&image))).into_response();
    if let Ok(location) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

pub async fn list(
    State(service): Service,
    Caller(caller): Caller,
    RawQuery(raw): RawQuery,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let key = PageKey {
        admin: caller.is_admin(),
        project: caller.project_id().map(str::to_owned),
        query: raw.unwrap_or_default(),
    };
    let generation = match service.cached_page(&key) {
        Ok(body) => return Ok(json_response(body)),
        Err(generation) => generation,
    };
    let query = ListQuery::parse(&pairs)?;
    let limit = query.limit as usize;
    let images = service.list(&caller, query).await?;
    // Glance's links repeat the client's query, marker replaced.
    let kept: Vec<(&str, &str)> = pairs
        .iter()
        .filter(|(key, _)| key != "marker")
        .map(|(key, value)| (key.as_str(), value.as_str()))
        .collect();
    let first = match kept.is_empty() {
        true => "/v2/images".to_owned(),
        false => format!("/v2/images?{}", query_string(kept.iter().copied())),
    };
    let next = match images.last() {
        Some(last) if images.len() == limit => {
            let marker = [("marker", last.id.as_str())];
            Some(format!(
                "/v2/images?{}",
                query_string(kept.iter().copied().chain(marker))
            ))
        }
        _ => None,
    };
    let page = ImageList {
        images: images.iter().map(ImageView::from).collect(),
        first,
        next,
        schema: wire::IMAGES_SCHEMA,
    };
    let body = Bytes::from(serde_json::to_vec(&page).map_err(ApiError::internal)?);
    service.remember_page(key, generation, body.clone());
    Ok(json_response(body))
}

fn json_response(body: Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

pub async fn show(
    State(service): Service,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let image = service.show(&caller, image_id(&id)?).await?;
    Ok(Json(ImageView::from(&image)).into_response())
}

pub async fn update(
    State(service): Service,
    Caller(caller): Caller,
    Path(id): Path<String>,
    PatchBody { dialect, changes }: PatchBody,
) -> Result<Response, ApiError> {
    let image = service
        .update(&caller, image_id(&id)?, changes, dialect)
        .await?;
    Ok(Json(ImageView::from(&image)).into_response())
}

pub async fn delete(
    State(service): Service,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    service.delete(&caller, image_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn add_tag(
    State(service): Service,
    Caller(caller): Caller,
    Path((id, tag)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    service.add_tag(&caller, image_id(&id)?, tag).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn remove_tag(
    State(service): Service,
    Caller(caller): Caller,
    Path((id, tag)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    service.remove_tag(&caller, image_id(&id)?, tag).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v2/images/{id}/actions/deactivate` and `.../reactivate`.
pub async fn action(
    State(service): Service,
    Caller(caller): Caller,
    Path((id, action)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let active = match action.as_str() {
        "reactivate" => true,
        "deactivate" => false,
        _ => {
            return Err(ApiError::not_found(format!(
                "There is no image action '{action}'."
            )));
        }
    };
    service.set_active(&caller, image_id(&id)?, active).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A PATCH body in one of Glance's JSON-patch media types. The media type
/// is checked before the body is read, as Glance does: anything else is a
/// 415 that lists the accepted types in `Accept-Patch`.
pub struct PatchBody {
    dialect: Dialect,
    changes: Vec<Change>,
}

impl<S: Send + Sync> FromRequest<S> for PatchBody {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Response> {
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        let Some(dialect) = content_type.and_then(Dialect::from_content_type) else {
            let accepted = [patch::MEDIA_TYPE_V2_0, patch::MEDIA_TYPE_V2_1].join(", ");
            let error = ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "Image updates must be sent as one of {accepted}, not {}.",
                    content_type.unwrap_or("a body without Content-Type")
                ),
            );
            return Err(
                ([(HeaderName::from_static("accept-patch"), accepted)], error).into_response(),
            );
        };
        let JsonBody(body) = JsonBody::<Value>::from_request(request, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let changes = patch::parse(&body, dialect)
            .map_err(|refused| ApiError::from(refused).into_response())?;
        Ok(PatchBody { dialect, changes })
    }
}
