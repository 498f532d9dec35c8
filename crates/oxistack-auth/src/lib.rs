//! Authentication and authorization shared by every service.
//!
//! The identity service issues tokens and implements [`TokenValidator`];
//! every other service (and identity itself) puts [`require_token`] in front
//! of its routes and reads the caller's [`AuthContext`] from the request.
//! What each role may do is decided in one place, [`policy`].

pub mod policy;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use oxistack_http::ApiError;
use serde::Serialize;

pub use policy::{Action, authorize};

/// The header carrying the caller's token on every request.
pub const AUTH_TOKEN_HEADER: &str = "x-auth-token";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamedRef {
    pub id: String,
    pub name: String,
}

/// What a token is scoped to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Project { project: NamedRef, domain: NamedRef },
    Domain(NamedRef),
    System,
    Unscoped,
}

/// An application credential a token was issued for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppCredentialRef {
    pub id: String,
    pub name: String,
    pub restricted: bool,
}

/// The authenticated caller of a request, as established from its token.
#[derive(Debug, Clone)]
pub struct AuthContext {
    pub user: NamedRef,
    pub user_domain: NamedRef,
    pub scope: Scope,
    /// Effective roles on the scope, implied roles included.
    pub roles: Vec<NamedRef>,
    pub methods: Vec<String>,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub audit_id: String,
    pub application_credential: Option<AppCredentialRef>,
}

impl AuthContext {
    /// The cloud itself acting as user `user_id` in project `project_id`
    /// with `roles`, for work no request carries (bootstrap, work resumed
    /// after a restart), so it passes the same checks a client's would.
    /// It has no token and never leaves the process; `audit_id` names the
    /// work in logs.
    pub fn internal(
        user_id: &str,
        project_id: &str,
        roles: &[&str],
        audit_id: &str,
    ) -> AuthContext {
        let named = |id: &str| NamedRef {
            id: id.to_owned(),
            name: id.to_owned(),
        };
        let now = Utc::now();
        AuthContext {
            user: named(user_id),
            user_domain: named("default"),
            scope: Scope::Project {
                project: named(project_id),
                domain: named("default"),
            },
            roles: roles.iter().map(|role| named(role)).collect(),
            methods: Vec::new(),
            issued_at: now,
            expires_at: now + chrono::Duration::hours(1),
            audit_id: audit_id.to_owned(),
            application_credential: None,
        }
    }

    /// The cloud acting as administrator of the admin project, as
    /// bootstrap does.
    pub fn cloud_administrator(admin_project_id: &str) -> AuthContext {
        AuthContext::internal(
            "oxistack",
            admin_project_id,
            &["admin", "member", "reader"],
            "oxistack-bootstrap",
        )
    }

    pub fn has_role(&self, name: &str) -> bool {
        self.roles.iter().any(|r| r.name == name)
    }

    /// Cloud administrator: the `admin` role, as DevStack's policies treat it.
    pub fn is_admin(&self) -> bool {
        self.has_role("admin")
    }

    /// The project the token is scoped to, if any.
    pub fn project_id(&self) -> Option<&str> {
        match &self.scope {
            Scope::Project { project, .. } => Some(&project.id),
            _ => None,
        }
    }

    /// Whether resources owned by `project_id` are visible to the caller.
    /// Resources the caller may not see are answered with 404, never 403,
    /// so their existence does not leak.
    pub fn can_see_project(&self, project_id: &str) -> bool {
        self.is_admin() || self.project_id() == Some(project_id)
    }
}

/// Validates a token, answering who holds it. Implemented by the identity
/// service; everything else depends only on this trait.
pub trait TokenValidator: Send + Sync + 'static {
    fn validate<'a>(
        &'a self,
        token: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<Arc<AuthContext>, ApiError>> + Send + 'a>>;
}

/// Middleware requiring a valid `X-Auth-Token`; on success the caller's
/// [`AuthContext`] is available to handlers through the [`Caller`] extractor.
pub async fn require_token(
    validator: Arc<dyn TokenValidator>,
    mut request: Request,
    next: Next,
) -> Response {
    let token = match request.headers().get(AUTH_TOKEN_HEADER).map(|v| v.to_str()) {
        Some(Ok(token)) if !token.is_empty() => token.to_owned(),
        _ => return unauthenticated().into_response(),
    };
    match validator.validate(&token).await {
        Ok(context) => {
            request.extensions_mut().insert(Caller(context));
            next.run(request).await
        }
        Err(error) => error.into_response(),
    }
}

/// The error for a missing, malformed, expired or revoked token.
pub fn unauthenticated() -> ApiError {
    ApiError::unauthorized("The request you have made requires authentication.")
}

/// Extractor for the authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller(pub Arc<AuthContext>);

impl std::ops::Deref for Caller {
    type Target = AuthContext;
    fn deref(&self) -> &AuthContext {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(unauthenticated)
    }
}
