//! Form posts, checked for the session's CSRF token before anything else
//! reads them. A form carries it as the hidden field `csrf`
//! ([`crate::context::Ctx::csrf_field`]); a script's upload as the
//! `X-CSRF-Token` header ([`CsrfHeader`]). The session cookie is also
//! SameSite=Strict, so a foreign site's post carries no session at all.

use axum::extract::{FromRef, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::Dashboard;
use crate::context::{PageError, session_of};
use crate::session::same_secret;

/// The largest form the dashboard reads (user data is the big field).
const MAX_FORM: usize = 1 << 20;

/// A urlencoded form whose `csrf` field matched the session's. `T` may be
/// a struct (unknown fields, `csrf` included, are ignored) or
/// `Vec<(String, String)>` for fields that repeat (checkbox lists; see
/// [`values`]).
pub struct CsrfForm<T>(pub T);

impl<S, T> FromRequest<S> for CsrfForm<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
    Dashboard: FromRef<S>,
{
    type Rejection = PageError;

    async fn from_request(request: Request, state: &S) -> Result<Self, PageError> {
        let (parts, body) = request.into_parts();
        let dashboard = Dashboard::from_ref(state);
        let (_, session) = session_of(&dashboard, &parts).ok_or(PageError::Csrf)?;
        let bytes = axum::body::to_bytes(body, MAX_FORM)
            .await
            .map_err(|_| PageError::Invalid("The form is too large.".into()))?;
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes)
            .map_err(|_| PageError::Invalid("The form could not be read.".into()))?;
        let token = pairs.iter().find(|(name, _)| name == "csrf");
        if !token.is_some_and(|(_, token)| same_secret(token, &session.csrf)) {
            return Err(PageError::Csrf);
        }
        serde_urlencoded::from_bytes(&bytes)
            .map(CsrfForm)
            .map_err(|error| PageError::Invalid(format!("The form is incomplete: {error}.")))
    }
}

/// Every value of the repeated field `name`.
pub fn values<'a>(pairs: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    pairs
        .iter()
        .filter(|(field, _)| field == name)
        .map(|(_, value)| value.as_str())
        .collect()
}

/// The first non-empty value of `name`.
pub fn value<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    values(pairs, name)
        .into_iter()
        .find(|value| !value.is_empty())
}

/// A script's request (an upload) whose `X-CSRF-Token` header matched.
pub struct CsrfHeader;

impl<S> FromRequestParts<S> for CsrfHeader
where
    S: Send + Sync,
    Dashboard: FromRef<S>,
{
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, PageError> {
        let dashboard = Dashboard::from_ref(state);
        let (_, session) = session_of(&dashboard, parts).ok_or(PageError::Csrf)?;
        let token = parts
            .headers
            .get("x-csrf-token")
            .and_then(|value| value.to_str().ok());
        match token.is_some_and(|token| same_secret(token, &session.csrf)) {
            true => Ok(CsrfHeader),
            false => Err(PageError::Csrf),
        }
    }
}
