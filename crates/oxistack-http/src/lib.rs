//! HTTP plumbing shared by every service: the error type and its rendering
//! in each OpenStack service's native JSON format, a JSON body extractor
//! whose failures are clear 400s, deserializers for optional request
//! fields, request ids, and small helpers for the URLs services put in
//! their documents.

mod error;
pub mod field;
mod json;
pub mod microversion;
pub mod page_cache;
pub mod text;
pub mod time;
mod url;

pub use error::{ApiError, ErrorStyle, error_style_layer};
pub use json::{JsonBody, MAX_JSON_BODY, envelope, require_json_content_type};
pub use url::{TrailingSlash, base_url, mark_trailing_slash, query_string};

use axum::http::{HeaderName, HeaderValue, Request};
use axum::middleware::Next;
use axum::response::Response;

/// The header OpenStack services use to correlate a request in their logs.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-openstack-request-id");

/// A request's id, in its extensions for services that show it under
/// their own header too (Nova's `x-compute-request-id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

/// Middleware that gives every response an `x-openstack-request-id`
/// (`req-<uuid>`, as OpenStack services do) and logs the request with it.
pub async fn request_id(mut request: Request<axum::body::Body>, next: Next) -> Response {
    let id = format!("req-{}", uuid::Uuid::new_v4());
    request.extensions_mut().insert(RequestId(id.clone()));
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let started = std::time::Instant::now();
    let mut response = next.run(request).await;
    let status = response.status().as_u16();
    tracing::info!(
        request_id = %id,
        %method,
        path,
        status,
        elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}
