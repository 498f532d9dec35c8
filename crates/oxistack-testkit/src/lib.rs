//! The in-process harness the service crates' API tests share, as a
//! dev-dependency only: every service test drives its router the way a
//! client does (method, path, token, JSON body) and reads the status,
//! headers and body back, and the services other than identity take
//! their callers from a fake [`TokenValidator`]. Each service's own
//! `tests/support` keeps what is particular to it (its cloud, its error
//! format); what is the same for all of them lives here once.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode, request};
use http_body_util::BodyExt;
use oxistack_auth::{AUTH_TOKEN_HEADER, AuthContext, TokenValidator, unauthenticated};
use oxistack_http::ApiError;
use serde_json::Value;
use tower::ServiceExt;

/// A caller scoped to `project` in the default domain with `roles`, as a
/// token validated by identity describes a password login.
pub fn project_caller(user: &str, project: &str, roles: &[&str]) -> Arc<AuthContext> {
    let mut caller = AuthContext::internal(user, project, roles, "audit");
    caller.methods = vec!["password".into()];
    Arc::new(caller)
}

/// A token validator that knows a fixed set of tokens; any other token is
/// refused as identity refuses an unknown one (a 401).
pub struct FakeTokens(pub HashMap<&'static str, Arc<AuthContext>>);

impl TokenValidator for FakeTokens {
    fn validate<'a>(
        &'a self,
        token: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<Arc<AuthContext>, ApiError>> + Send + 'a>> {
        Box::pin(async move { self.0.get(token).cloned().ok_or_else(unauthenticated) })
    }
}

/// A request to build and send through a router in-process.
pub struct Call {
    request: request::Builder,
    body: Body,
}

impl Call {
    pub fn new(method: Method, uri: &str) -> Call {
        Call {
            request: Request::builder().method(method).uri(uri),
            body: Body::empty(),
        }
    }

    /// Sends `token` as `x-auth-token`, if there is one.
    pub fn token(self, token: Option<&str>) -> Call {
        match token {
            Some(token) => self.header(AUTH_TOKEN_HEADER, token),
            None => self,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Call {
        self.request = self.request.header(name, value);
        self
    }

    /// `json` as the body, declared `application/json`; no body for `None`.
    pub fn json(self, json: Option<Value>) -> Call {
        match json {
            Some(json) => self.body(Some("application/json"), json.to_string()),
            None => self,
        }
    }

    /// `body` as it is, declared as `content_type` if one is given.
    pub fn body(mut self, content_type: Option<&str>, body: impl Into<Body>) -> Call {
        if let Some(content_type) = content_type {
            self.request = self.request.header("content-type", content_type);
        }
        self.body = body.into();
        self
    }

    /// Drives the request through `router` and collects the whole reply.
    pub async fn send(self, router: &Router) -> Reply {
        let request = self.request.body(self.body).expect("a valid request");
        let response = router.clone().oneshot(request).await.expect("infallible");
        let (parts, body) = response.into_parts();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body: body.collect().await.expect("a readable body").to_bytes(),
        }
    }
}

/// What a router answered.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    /// The body as JSON; panics, showing the body, if it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// The body as JSON, or `Value::Null` for an empty body (a 204's).
    pub fn json_or_null(&self) -> Value {
        if self.body.is_empty() {
            Value::Null
        } else {
            self.json()
        }
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A response header's value as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|value| value.to_str().expect("a text header").to_owned())
    }
}

/// Asserts that each service error becomes an [`ApiError`] with its
/// status and the error's own message, as a refusal must.
pub fn assert_refusals_keep_their_message<E>(cases: impl IntoIterator<Item = (E, u16)>)
where
    E: std::fmt::Display + Into<ApiError>,
{
    for (error, status) in cases {
        let message = error.to_string();
        let api: ApiError = error.into();
        assert_eq!((api.status.as_u16(), api.message), (status, message));
    }
}

/// Asserts that a failure of the cloud itself becomes a 500 whose message
/// does not show `cause` (which goes to the log only).
pub fn assert_failure_hides(failure: impl Into<ApiError>, cause: &str) {
    let api: ApiError = failure.into();
    assert_eq!(api.status.as_u16(), 500);
    assert!(!api.message.contains(cause), "{}", api.message);
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::post;
    use serde_json::json;

    /// Echoes the request's token, content type and body back as JSON.
    fn echo() -> Router {
        Router::new().route(
            "/echo",
            post(|headers: HeaderMap, body: Bytes| async move {
                let header = |name: &str| headers.get(name).map(|v| v.to_str().unwrap().to_owned());
                let reply = json!({
                    "token": header(AUTH_TOKEN_HEADER),
                    "content_type": header("content-type"),
                    "body": String::from_utf8_lossy(&body),
                });
                ([("x-echo", "yes")], axum::Json(reply))
            }),
        )
    }

    #[tokio::test]
    async fn a_call_sends_its_token_and_json_and_reads_the_reply() {
        let reply = Call::new(Method::POST, "/echo")
            .token(Some("t"))
            .json(Some(json!({"a": 1})))
            .send(&echo())
            .await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.header("x-echo").as_deref(), Some("yes"));
        assert_eq!(
            reply.json(),
            json!({"token": "t", "content_type": "application/json", "body": "{\"a\":1}"})
        );
    }

    #[tokio::test]
    async fn a_call_without_token_or_body_sends_neither() {
        let reply = Call::new(Method::POST, "/echo").send(&echo()).await;
        assert_eq!(
            reply.json(),
            json!({"token": null, "content_type": null, "body": ""})
        );
        let missing = Call::new(Method::GET, "/nowhere").send(&echo()).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        assert_eq!(missing.json_or_null(), Value::Null);
    }

    #[tokio::test]
    async fn fake_tokens_know_only_their_own() {
        let tokens = FakeTokens(HashMap::from([(
            "alice",
            project_caller("alice", "project-a", &["member"]),
        )]));
        let alice = tokens.validate("alice").await.unwrap();
        assert_eq!(alice.project_id(), Some("project-a"));
        assert!(alice.has_role("member") && !alice.has_role("admin"));
        assert_eq!(alice.methods, ["password"]);
        assert_eq!(tokens.validate("mallory").await.unwrap_err().status, 401);
    }

    /// A service error as the services write them: its message is its
    /// `Display`, and the mapping keeps it (or hides it, for `Failure`).
    enum ServiceError {
        Missing(&'static str),
        Failure(&'static str),
    }

    impl std::fmt::Display for ServiceError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            match self {
                ServiceError::Missing(message) | ServiceError::Failure(message) => {
                    f.write_str(message)
                }
            }
        }
    }

    impl From<ServiceError> for ApiError {
        fn from(error: ServiceError) -> Self {
            match error {
                ServiceError::Missing(message) => ApiError::not_found(message),
                ServiceError::Failure(cause) => ApiError::internal(cause),
            }
        }
    }

    #[test]
    fn error_mapping_checks_pass_and_fail_as_they_should() {
        assert_refusals_keep_their_message([(ServiceError::Missing("gone"), 404)]);
        assert_failure_hides(ServiceError::Failure("/var/lib/secret"), "secret");
        let wrong_status = std::panic::catch_unwind(|| {
            assert_refusals_keep_their_message([(ServiceError::Missing("gone"), 400)])
        });
        assert!(wrong_status.is_err());
        let shown = std::panic::catch_unwind(|| {
            assert_failure_hides(ServiceError::Missing("secret"), "secret")
        });
        assert!(shown.is_err());
    }
}
