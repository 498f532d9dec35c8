use axum::body::Body;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;

/// An error answered to a client: a status and a message that says what is
/// wrong. The body's shape is chosen by the service's [`ErrorStyle`] layer,
/// so handlers never care which service they belong to.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// The error's type name where a service's format carries one, such as
    /// Neutron's `NetworkInUse` or `IpAddressGenerationFailure`.
    pub kind: Option<&'static str>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            kind: None,
        }
    }
    /// Names the error's type, for formats that carry one.
    pub fn with_kind(mut self, kind: &'static str) -> Self {
        self.kind = Some(kind);
        self
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }
    /// A server-side failure. The detail is logged, not sent: it may name
    /// paths or internals a client has no business seeing.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(%detail, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "An unexpected error prevented the server from fulfilling your request.",
        )
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status, self.message)
    }
}

impl std::error::Error for ApiError {}

/// Storage failures are the server's fault, never the client's: a 500 whose
/// detail goes to the log only.
impl From<oxistack_db::DbError> for ApiError {
    fn from(error: oxistack_db::DbError) -> Self {
        ApiError::internal(error)
    }
}

impl From<oxistack_db::rusqlite::Error> for ApiError {
    fn from(error: oxistack_db::rusqlite::Error) -> Self {
        ApiError::internal(error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // Rendered for real by the service's error_style_layer; this plain
        // body only shows if a router forgot the layer.
        let mut response = (self.status, self.message.clone()).into_response();
        response.extensions_mut().insert(self);
        response
    }
}

/// The JSON error shape of each OpenStack service, as its clients parse it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorStyle {
    /// `{"error": {"code": 404, "title": "Not Found", "message": "..."}}`
    Keystone,
    /// webob's JSON error: `{"code": "404 Not Found", "title": "Not Found", "message": "..."}`
    Glance,
    /// `{"itemNotFound": {"code": 404, "message": "..."}}`, keyed by a
    /// name for the status (also Cinder's format).
    Nova,
    /// `{"NeutronError": {"type": "NetworkNotFound", "message": "...", "detail": ""}}`
    Neutron,
    /// WSME's fault document, as Octavia answers:
    /// `{"faultcode": "Client", "faultstring": "...", "debuginfo": null}`
    /// (`"Server"` for a 5xx).
    Octavia,
}

/// Nova's name for an error status, the key its error document uses.
fn nova_fault_name(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "badRequest",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "itemNotFound",
        405 => "badMethod",
        406 => "notAcceptable",
        409 => "conflictingRequest",
        413 => "overLimit",
        415 => "badMediaType",
        429 => "overLimit",
        501 => "notImplemented",
        503 => "serviceUnavailable",
        _ if status.is_client_error() => "badRequest",
        _ => "computeFault",
    }
}

/// Neutron's generic type for an error without a specific one.
fn neutron_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "BadRequest",
        401 => "NotAuthorized",
        403 => "PolicyNotAuthorized",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        409 => "Conflict",
        413 => "RequestEntityTooLarge",
        _ if status.is_client_error() => "BadRequest",
        _ => "InternalServerError",
    }
}

impl ErrorStyle {
    fn render(self, status: StatusCode, message: &str, kind: Option<&str>) -> serde_json::Value {
        let title = status.canonical_reason().unwrap_or("Error");
        match self {
            ErrorStyle::Keystone => serde_json::json!({
                "error": {"code": status.as_u16(), "title": title, "message": message}
            }),
            ErrorStyle::Glance => serde_json::json!({
                "code": format!("{} {}", status.as_u16(), title),
                "title": title,
                "message": message,
            }),
            ErrorStyle::Nova => serde_json::json!({
                nova_fault_name(status): {"code": status.as_u16(), "message": message}
            }),
            ErrorStyle::Neutron => serde_json::json!({
                "NeutronError": {
                    "type": kind.unwrap_or_else(|| neutron_type(status)),
                    "message": message,
                    "detail": "",
                }
            }),
            ErrorStyle::Octavia => serde_json::json!({
                "faultcode": if status.is_server_error() { "Server" } else { "Client" },
                "faultstring": message,
                "debuginfo": null,
            }),
        }
    }
}

/// Middleware rendering every error response of a service in its native
/// format: our own [`ApiError`]s, and the plain-text rejections axum produces
/// by itself (unknown route, wrong method, body too large, bad path
/// parameter), so that no client ever sees a shape it cannot parse.
pub async fn error_style_layer(style: ErrorStyle, request: Request<Body>, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let mut kind = None;
    let message = match parts.extensions.remove::<ApiError>() {
        Some(error) => {
            kind = error.kind;
            error.message
        }
        None => {
            let is_json = parts
                .headers
                .get(header::CONTENT_TYPE)
                .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
            if is_json {
                // Already rendered by someone who knew what they were doing.
                return Response::from_parts(parts, body);
            }
            let bytes = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let text = String::from_utf8_lossy(&bytes).trim().to_owned();
            if text.is_empty() {
                status.canonical_reason().unwrap_or("Error").to_owned()
            } else {
                text
            }
        }
    };
    let body = serde_json::to_vec(&style.render(status, &message, kind)).unwrap_or_default();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::routing::get;
    use tower::ServiceExt;

    async fn call(router: Router, uri: &str) -> (StatusCode, serde_json::Value) {
        let response = router
            .oneshot(Request::get(uri).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    fn router(style: ErrorStyle) -> Router {
        Router::new()
            .route(
                "/missing",
                get(|| async { ApiError::not_found("No thing 42.") }),
            )
            .layer(axum::middleware::from_fn(move |r, n| {
                error_style_layer(style, r, n)
            }))
    }

    #[tokio::test]
    async fn keystone_errors_nest_under_error() {
        let (status, body) = call(router(ErrorStyle::Keystone), "/missing").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["error"]["code"], 404);
        assert_eq!(body["error"]["message"], "No thing 42.");
        assert_eq!(body["error"]["title"], "Not Found");
    }

    #[tokio::test]
    async fn nova_and_neutron_formats() {
        let (_, body) = call(router(ErrorStyle::Nova), "/missing").await;
        assert_eq!(body["itemNotFound"]["code"], 404);
        assert_eq!(body["itemNotFound"]["message"], "No thing 42.");
        let neutron = Router::new()
            .route(
                "/in-use",
                get(|| async {
                    ApiError::conflict("Network x is in use.").with_kind("NetworkInUse")
                }),
            )
            .layer(axum::middleware::from_fn(|r, n| {
                error_style_layer(ErrorStyle::Neutron, r, n)
            }));
        let (status, body) = call(neutron, "/in-use").await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(body["NeutronError"]["type"], "NetworkInUse");
        let (_, body) = call(router(ErrorStyle::Neutron), "/missing").await;
        assert_eq!(body["NeutronError"]["type"], "NotFound");
    }

    #[tokio::test]
    async fn octavia_errors_are_wsme_faults() {
        let (status, body) = call(router(ErrorStyle::Octavia), "/missing").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(
            body,
            serde_json::json!({"faultcode": "Client", "faultstring": "No thing 42.", "debuginfo": null})
        );
    }

    #[tokio::test]
    async fn axum_rejections_are_rendered_too() {
        let (status, body) = call(router(ErrorStyle::Glance), "/no-such-route").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["code"], "404 Not Found");
        assert_eq!(body["message"], "Not Found");
    }
}
