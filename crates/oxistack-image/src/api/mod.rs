//! The HTTP face of the image service: routes, and the handlers that turn
//! requests into service calls and results into Glance's documents.

mod data;
mod discovery;
mod error;
mod images;
mod members;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use oxistack_auth::{TokenValidator, require_token};
use oxistack_http::{ApiError, ErrorStyle, MAX_JSON_BODY, TrailingSlash, error_style_layer};

use crate::ImageService;
use crate::model;

type Service = axum::extract::State<Arc<ImageService>>;

/// The image API, to be nested at the cloud's image endpoint (`/image`):
/// version discovery at `/` and `/versions` without a token, the v2 API
/// under `/v2` with one, and every error in Glance's format.
pub fn router(service: Arc<ImageService>, validator: Arc<dyn TokenValidator>) -> Router {
    let v2 = Router::new()
        .route(
            "/v2/images",
            get(images::list)
                .post(images::create)
                .layer(axum::middleware::from_fn(empty_image_id)),
        )
        .route(
            "/v2/images/{image_id}",
            get(images::show)
                .patch(images::update)
                .delete(images::delete),
        )
        // Image data is streamed to disk as it arrives, so it has no size limit.
        .route(
            "/v2/images/{image_id}/file",
            put(data::upload)
                .get(data::download)
                .layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/v2/images/{image_id}/tags/{tag}",
            put(images::add_tag).delete(images::remove_tag),
        )
        .route(
            "/v2/images/{image_id}/actions/{action}",
            post(images::action),
        )
        .route(
            "/v2/images/{image_id}/members",
            get(members::list).post(members::add),
        )
        .route(
            "/v2/images/{image_id}/members/{member_id}",
            get(members::show)
                .put(members::update)
                .delete(members::remove),
        )
        .route("/v2/schemas/{name}", get(discovery::schema))
        .route("/v2/info/import", get(discovery::import_info))
        .route("/v2/info/stores", get(discovery::stores_info))
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY))
        .route_layer(axum::middleware::from_fn(move |request, next| {
            require_token(validator.clone(), request, next)
        }));
    Router::new()
        .route("/", get(discovery::versions_choice))
        .route("/versions", get(discovery::versions))
        .merge(v2)
        .with_state(service)
        .layer(axum::middleware::from_fn(|request, next| {
            error_style_layer(ErrorStyle::Glance, request, next)
        }))
}

/// `/v2/images/` names an image with an empty id, as in Glance: a 404 for
/// every method, not the list or a 405. The binary trims the slash before
/// routing and marks the request (`oxistack_http::TrailingSlash`).
async fn empty_image_id(request: Request, next: Next) -> Response {
    if request.extensions().get::<TrailingSlash>().is_some() {
        return ApiError::not_found("The resource could not be found.").into_response();
    }
    next.run(request).await
}

/// An image id from a path: anything but a UUID names no image (404).
fn image_id(id: &str) -> Result<&str, ApiError> {
    if model::is_image_id(id) {
        Ok(id)
    } else {
        Err(crate::access::image_not_found(id).into())
    }
}
