//! What every signed-in page handler starts from: [`Ctx`], the caller's
//! session with the API calls made as them, and [`PageError`], the one
//! place a failure becomes a page (or, for a lost session, the login).
//!
//! A 401 from the API means the session's token is no longer good (it was
//! revoked, or the user lost their role or was disabled): whatever turns
//! it into [`PageError::SignIn`] (`?` on [`Ctx::get`], [`Ctx::finish`],
//! a page's own match) ends the session: the answer is marked, and
//! [`end_refused_sessions`], around every route, removes the session and
//! clears its cookie. The login page then starts afresh and says why,
//! instead of sending a browser whose session still looks signed in
//! straight back home.
//!
//! Actions follow post/redirect/get: a form posts, the handler calls the
//! API and records the outcome as a flash message about the object
//! ([`Ctx::finish`]), and the page it redirects to shows it in that
//! object's row.

use std::sync::Mutex;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde_json::Value;

use crate::Dashboard;
use crate::client::{ApiFailure, ApiRequest};
use crate::session::{self, Auth, Flash, FlashKind, Session};

pub const LOGIN: &str = "/dashboard/auth/login";
/// The login page saying that the session has ended.
pub const SESSION_ENDED: &str = "/dashboard/auth/login?ended=1";

/// The header of dashboard.js's background refresh of pending rows: such
/// a request leaves the session's messages for the next real page.
pub const REFRESH_HEADER: &str = "x-refresh";

/// A failure that ends a page.
#[derive(Debug)]
pub enum PageError {
    /// The session has ended: the API refused its token (401), or its
    /// cookie names a session that expired. The session is removed, its
    /// cookie cleared, and the login page says so. A page that matches a
    /// 401 itself returns this too (or `PageError::from(failure)`).
    SignIn,
    /// Not signed in (no session cookie, or a signed-out session): the
    /// login page, keeping the signed-out session and its CSRF token.
    NotSignedIn,
    /// The API refused or failed; its message is shown.
    Api(ApiFailure),
    /// A form without this session's CSRF token.
    Csrf,
    /// A request the dashboard cannot make sense of.
    Invalid(String),
    /// A page for admins only, or an object that is not there.
    NotFound,
}

impl From<ApiFailure> for PageError {
    fn from(failure: ApiFailure) -> PageError {
        if failure.is_unauthorized() {
            PageError::SignIn
        } else {
            PageError::Api(failure)
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            PageError::SignIn => {
                let mut response = Redirect::to(SESSION_ENDED).into_response();
                response.extensions_mut().insert(EndSession);
                return response;
            }
            PageError::NotSignedIn => return Redirect::to(LOGIN).into_response(),
            PageError::Api(failure) if failure.status.is_server_error() => (
                StatusCode::BAD_GATEWAY,
                format!("The cloud could not do this: {}", failure.message),
            ),
            PageError::Api(failure) => (failure.status, failure.message),
            PageError::Csrf => (
                StatusCode::FORBIDDEN,
                "This form did not come from this dashboard session (its CSRF token is missing or wrong). Reload the page and try again."
                    .to_owned(),
            ),
            PageError::Invalid(message) => (StatusCode::BAD_REQUEST, message),
            PageError::NotFound => (
                StatusCode::NOT_FOUND,
                "There is nothing here, or it is not yours to see.".to_owned(),
            ),
        };
        (status, crate::layout::error_page(status, &message)).into_response()
    }
}

pub type PageResult = Result<Response, PageError>;

/// The mark of an answer that ends its request's session.
#[derive(Clone, Copy)]
struct EndSession;

/// Around every dashboard route: when the answer is [`PageError::SignIn`]'s,
/// removes the request's session and clears its cookie.
pub async fn end_refused_sessions(
    State(dashboard): State<Dashboard>,
    request: Request,
    next: Next,
) -> Response {
    let id = session_cookie(request.headers()).map(str::to_owned);
    let mut response = next.run(request).await;
    if response.extensions().get::<EndSession>().is_some() {
        if let Some(id) = id {
            dashboard.sessions().remove(&id);
        }
        let clear = session::cookie(None, dashboard.secure_cookies());
        if let Ok(clear) = HeaderValue::from_str(&clear) {
            response.headers_mut().append(header::SET_COOKIE, clear);
        }
    }
    response
}

/// How an action ([`Ctx::act`], [`Ctx::create`]) tells its outcome: the
/// words and where they show, named so a handler reads as what it says.
pub struct Report<'a> {
    /// The object the message is about (the row that shows it), or
    /// `None` for the top of the page.
    pub about: Option<&'a str>,
    /// The message when the API did it.
    pub done: &'a str,
    /// The start of the message when it did not; the API's reason follows.
    pub failed: &'a str,
    /// The page to go back to.
    pub back: &'a str,
}

/// The signed-in caller of a page.
pub struct Ctx {
    pub dashboard: Dashboard,
    pub session_id: String,
    pub csrf: String,
    pub auth: Auth,
    /// Messages for this page, each marked once a row has shown it.
    flashes: Mutex<Vec<(Flash, bool)>>,
}

impl<S: Send + Sync> FromRequestParts<S> for Ctx
where
    Dashboard: axum::extract::FromRef<S>,
{
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Ctx, PageError> {
        let dashboard = <Dashboard as axum::extract::FromRef<S>>::from_ref(state);
        let Some((session_id, session)) = session_of(&dashboard, parts) else {
            return Err(match session_cookie(&parts.headers) {
                Some(_) => PageError::SignIn,
                None => PageError::NotSignedIn,
            });
        };
        let auth = session.auth.ok_or(PageError::NotSignedIn)?;
        // A page shows the messages; an action leaves them for the page
        // it redirects to, and so does a background refresh.
        let shows_messages =
            parts.method == Method::GET && !parts.headers.contains_key(REFRESH_HEADER);
        let flashes = match shows_messages {
            true => dashboard.sessions().take_flashes(&session_id),
            false => Vec::new(),
        };
        Ok(Ctx {
            dashboard,
            session_id,
            csrf: session.csrf,
            auth,
            flashes: Mutex::new(flashes.into_iter().map(|f| (f, false)).collect()),
        })
    }
}

/// The request's live session, if it has one.
pub fn session_of(dashboard: &Dashboard, parts: &Parts) -> Option<(String, Session)> {
    let id = session_cookie(&parts.headers)?.to_owned();
    let session = dashboard.sessions().get(&id)?;
    Some((id, session))
}

/// The session id the request's cookie names, live or not.
fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(session::cookie_value)
}

impl Ctx {
    /// An API call as the signed-in user.
    pub fn api(&self, method: Method, path: impl Into<String>) -> ApiRequest<'_> {
        self.dashboard
            .api()
            .request(method, path)
            .token(&self.auth.token)
    }

    /// GETs `path`; a 401 ends the session ([`PageError::SignIn`]).
    pub async fn get(&self, path: impl Into<String>) -> Result<Value, PageError> {
        Ok(self.api(Method::GET, path).send().await?.body)
    }

    /// Sends `body` (if any) with `method`; the API's refusal as it is.
    pub async fn call(
        &self,
        method: Method,
        path: impl Into<String>,
        body: Option<&Value>,
    ) -> Result<Value, ApiFailure> {
        let request = self.api(method, path);
        let request = match body {
            Some(body) => request.json(body),
            None => request,
        };
        Ok(request.send().await?.body)
    }

    /// Does one action and ends it as [`Ctx::finish`] does: sends `body`
    /// (if any) to `path` with `method` and tells the outcome as `report`
    /// says. Most action handlers are exactly this, so they say only what
    /// differs: the request and the words.
    pub async fn act(
        &self,
        method: Method,
        path: impl Into<String>,
        body: Option<&Value>,
        report: Report<'_>,
    ) -> Response {
        let outcome = self.call(method, path, body).await;
        self.finish(
            outcome,
            report.about,
            report.done,
            report.failed,
            report.back,
        )
    }

    /// Creates an object (POSTs `body` to `path`) and ends the action like
    /// [`Ctx::act`], but with the message about the new object, so that
    /// its row in the list shows it: its id is in the answer at the JSON
    /// pointer `new_id` (`"/group/id"`). A refusal is about `report.about`.
    pub async fn create(
        &self,
        path: impl Into<String>,
        body: &Value,
        new_id: &str,
        report: Report<'_>,
    ) -> Response {
        let created = self.call(Method::POST, path, Some(body)).await;
        let id = created
            .as_ref()
            .ok()
            .and_then(|answer| answer.pointer(new_id))
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
            .map(str::to_owned);
        self.finish(
            created,
            id.as_deref().or(report.about),
            report.done,
            report.failed,
            report.back,
        )
    }

    /// Leaves a message for the next page.
    pub fn flash(&self, kind: FlashKind, about: Option<&str>, text: impl Into<String>) {
        let flash = Flash {
            kind,
            text: text.into(),
            about: about.map(str::to_owned),
        };
        self.dashboard
            .sessions()
            .update(&self.session_id, |session| session.flashes.push(flash));
    }

    /// Ends an action: records `done` (or the API's reason, after
    /// `failed`) as a message about `about`, and redirects to `back`.
    /// A 401 ends the session ([`PageError::SignIn`]).
    pub fn finish<T>(
        &self,
        outcome: Result<T, ApiFailure>,
        about: Option<&str>,
        done: impl Into<String>,
        failed: &str,
        back: &str,
    ) -> Response {
        match outcome {
            Ok(_) => self.flash(FlashKind::Ok, about, done),
            Err(failure) if failure.is_unauthorized() => {
                return PageError::SignIn.into_response();
            }
            Err(failure) => self.flash(
                FlashKind::Error,
                about,
                format!("{failed}: {}", failure.message),
            ),
        }
        Redirect::to(back).into_response()
    }

    /// The messages about `id`, marked as shown; `None` when there are none.
    pub fn flashes_about(&self, id: &str) -> Option<Markup> {
        let mut flashes = self.lock_flashes();
        let shown: Vec<Flash> = flashes
            .iter_mut()
            .filter(|(flash, _)| flash.about.as_deref() == Some(id))
            .map(|(flash, shown)| {
                *shown = true;
                flash.clone()
            })
            .collect();
        (!shown.is_empty()).then(|| crate::layout::flashes(&shown))
    }

    /// The messages no row has shown, for the top of the page.
    pub fn remaining_flashes(&self) -> Vec<Flash> {
        self.lock_flashes()
            .iter()
            .filter(|(_, shown)| !shown)
            .map(|(flash, _)| flash.clone())
            .collect()
    }

    pub fn is_admin(&self) -> bool {
        self.auth.is_admin()
    }

    /// Refuses an admin page to anyone else, as if it were not there.
    pub fn require_admin(&self) -> Result<(), PageError> {
        match self.is_admin() {
            true => Ok(()),
            false => Err(PageError::NotFound),
        }
    }

    /// The hidden field every form carries.
    pub fn csrf_field(&self) -> Markup {
        html! { input type="hidden" name="csrf" value=(self.csrf); }
    }

    fn lock_flashes(&self) -> std::sync::MutexGuard<'_, Vec<(Flash, bool)>> {
        self.flashes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
