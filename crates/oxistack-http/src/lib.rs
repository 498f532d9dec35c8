//! HTTP plumbing shared by every service: the error type and its rendering
//! in each OpenStack service's native JSON format, a JSON body extractor
//! whose failures are clear 400s, request ids, and small helpers for the
//! URLs services put in their documents.

mod error;
mod json;
pub mod microversion;
pub mod text;
pub mod time;
mod url;

pub use error::{ApiError, ErrorStyle, error_style_layer};
pub use json::{JsonBody, MAX_JSON_BODY, envelope, require_json_content_type};
pub use url::{base_url, query_string};

use axum::http::{HeaderName, HeaderValue, Request};
use axum::middleware::Next;
use axum::response::Response;

/// The header OpenStack services use to correlate a request in their logs.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-openstack-request-id");

/// Middleware that gives every response an `x-openstack-request-id`
/// (`req-<uuid>`, as OpenStack services do) and logs the request with it.
pub async fn request_id(request: Request<axum::body::Body>, next: Next) -> Response {
    let id = format!("req-{}", uuid::Uuid::new_v4());
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
