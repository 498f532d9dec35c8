//! The dashboard's only way to act: the cloud's own HTTP APIs, called
//! in-process through the assembled router with the signed-in user's
//! token. The dashboard therefore can never do what a client would be
//! refused (policy, validation, quotas all stay in the services), and its
//! error messages are the services' own.

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// Where each service is mounted on the listener, with its version.
pub const IDENTITY: &str = "/identity/v3";
pub const COMPUTE: &str = "/compute/v2.1";
pub const NETWORK: &str = "/networking/v2.0";
pub const IMAGE: &str = "/image/v2";
pub const VOLUME: &str = "/volume/v3";
pub const LOAD_BALANCER: &str = "/load-balancer/v2";

/// The microversions the pages are written against (flavors embedded in
/// servers from 2.47, Cinder's newest attachment fields by 3.60).
const COMPUTE_VERSION: &str = "compute 2.79";
const VOLUME_VERSION: &str = "volume 3.60";

/// How large a body the dashboard reads back from an API (image
/// downloads never pass through it).
const MAX_RESPONSE: usize = 64 << 20;

/// A refused or failed API call, as the service answered it.
#[derive(Debug, Clone)]
pub struct ApiFailure {
    pub status: StatusCode,
    /// The service's own message, taken from whichever native error
    /// format it answers in.
    pub message: String,
}

impl ApiFailure {
    pub fn is_unauthorized(&self) -> bool {
        self.status == StatusCode::UNAUTHORIZED
    }

    pub fn is_not_found(&self) -> bool {
        self.status == StatusCode::NOT_FOUND
    }

    fn internal(message: impl Into<String>) -> ApiFailure {
        ApiFailure {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// A successful answer: its status, the headers a page may need
/// (`X-Subject-Token`, `Location`) and its JSON body (`Null` when empty).
#[derive(Debug)]
pub struct ApiResponse {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Value,
}

/// The assembled API router, called in-process.
#[derive(Clone)]
pub struct Api {
    router: Router,
}

impl Api {
    pub fn new(router: Router) -> Api {
        Api { router }
    }

    /// A request with the caller's token (none for a login).
    pub fn request(&self, method: Method, path: impl Into<String>) -> ApiRequest<'_> {
        ApiRequest {
            api: self,
            method,
            path: path.into(),
            token: None,
            body: Body::empty(),
            content_type: None,
            version: None,
            headers: Vec::new(),
        }
    }
}

/// One call being built; `send` runs it.
pub struct ApiRequest<'a> {
    api: &'a Api,
    method: Method,
    path: String,
    token: Option<String>,
    body: Body,
    content_type: Option<String>,
    version: Option<String>,
    headers: Vec<(&'static str, String)>,
}

impl ApiRequest<'_> {
    /// Any other header, e.g. Keystone's `x-subject-token`.
    pub fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_owned()));
        self
    }

    pub fn token(mut self, token: &str) -> Self {
        self.token = Some(token.to_owned());
        self
    }

    pub fn json(mut self, body: &Value) -> Self {
        self.body = Body::from(body.to_string());
        self.content_type = Some("application/json".into());
        self
    }

    /// A raw body (an image upload), declared as `content_type`.
    pub fn raw(mut self, content_type: &str, body: Body) -> Self {
        self.body = body;
        self.content_type = Some(content_type.to_owned());
        self
    }

    /// Overrides the microversion sent, e.g. `"compute 2.60"`.
    pub fn version(mut self, version: &str) -> Self {
        self.version = Some(version.to_owned());
        self
    }

    pub async fn send(self) -> Result<ApiResponse, ApiFailure> {
        let mut request = Request::builder()
            .method(self.method)
            .uri(&self.path)
            .header(header::ACCEPT, "application/json");
        if let Some(token) = &self.token {
            request = request.header("x-auth-token", token);
        }
        for (name, value) in &self.headers {
            request = request.header(*name, value);
        }
        if let Some(content_type) = &self.content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        let version = self
            .version
            .as_deref()
            .or(if self.path.starts_with(COMPUTE) {
                Some(COMPUTE_VERSION)
            } else if self.path.starts_with(VOLUME) {
                Some(VOLUME_VERSION)
            } else {
                None
            });
        if let Some(version) = version {
            request = request.header("openstack-api-version", version);
        }
        let request = request
            .body(self.body)
            .map_err(|e| ApiFailure::internal(format!("cannot build the request: {e}")))?;
        let response = match self.api.router.clone().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        let (parts, body) = response.into_parts();
        let bytes = http_body_util::Limited::new(body, MAX_RESPONSE)
            .collect()
            .await
            .map_err(|e| ApiFailure::internal(format!("cannot read the answer: {e}")))?
            .to_bytes();
        let json = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Value::Null)
        };
        if parts.status.is_success() || parts.status.is_redirection() {
            return Ok(ApiResponse {
                status: parts.status,
                headers: parts.headers,
                body: json,
            });
        }
        let message = error_message(&json)
            .map(str::to_owned)
            .unwrap_or_else(|| fallback_message(parts.status, &bytes));
        if parts.status.is_server_error() {
            tracing::warn!(status = %parts.status, %message, "an API call of the dashboard failed");
        }
        Err(ApiFailure {
            status: parts.status,
            message,
        })
    }
}

/// The message of an error in any of the services' native formats:
/// Keystone's `{"error": {"message"}}`, Nova's and Cinder's
/// `{"badRequest": {"message"}}`, Neutron's `{"NeutronError": {"message"}}`,
/// Glance's `{"message"}` and Octavia's `{"faultstring"}`.
pub fn error_message(body: &Value) -> Option<&str> {
    let object = body.as_object()?;
    if let Some(text) = object
        .get("faultstring")
        .or_else(|| object.get("message"))
        .and_then(Value::as_str)
    {
        return Some(text);
    }
    object
        .values()
        .find_map(|inner| inner.get("message").and_then(Value::as_str))
}

fn fallback_message(status: StatusCode, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if !text.is_empty() && text.len() < 300 && !text.starts_with('<') {
        return text.to_owned();
    }
    status
        .canonical_reason()
        .unwrap_or("The request failed")
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_native_error_format_gives_its_message() {
        let cases = [
            json!({"error": {"code": 401, "title": "Unauthorized", "message": "keystone says"}}),
            json!({"badRequest": {"code": 400, "message": "nova says"}}),
            json!({"NeutronError": {"type": "X", "message": "neutron says", "detail": ""}}),
            json!({"code": "404 Not Found", "title": "Not Found", "message": "glance says"}),
            json!({"faultcode": "Client", "faultstring": "octavia says", "debuginfo": null}),
        ];
        let messages: Vec<_> = cases.iter().filter_map(error_message).collect();
        assert_eq!(
            messages,
            [
                "keystone says",
                "nova says",
                "neutron says",
                "glance says",
                "octavia says"
            ]
        );
        assert_eq!(error_message(&json!([1])), None);
    }

    #[test]
    fn an_unreadable_error_falls_back_to_the_status() {
        assert_eq!(
            fallback_message(StatusCode::CONFLICT, b"<html>"),
            "Conflict"
        );
        assert_eq!(
            fallback_message(StatusCode::BAD_REQUEST, b"plain words"),
            "plain words"
        );
    }
}
