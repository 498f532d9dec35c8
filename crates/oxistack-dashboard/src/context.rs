//! What every signed-in page handler starts from: [`Ctx`], the caller's
//! session with the API calls made as them, and [`PageError`], the one
//! place a failure becomes a page (or, for a lost session, the login).
//!
//! Actions follow post/redirect/get: a form posts, the handler calls the
//! API and records the outcome as a flash message about the object
//! ([`Ctx::finish`]), and the page it redirects to shows it in that
//! object's row.

use std::sync::Mutex;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde_json::Value;

use crate::Dashboard;
use crate::client::{ApiFailure, ApiRequest};
use crate::session::{self, Auth, Flash, FlashKind, Session};

pub const LOGIN: &str = "/dashboard/auth/login";

/// A failure that ends a page.
#[derive(Debug)]
pub enum PageError {
    /// No session, or its token ended: sign in (again).
    SignIn,
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
            PageError::SignIn => return Redirect::to(LOGIN).into_response(),
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
        let (session_id, session) = session_of(&dashboard, parts).ok_or(PageError::SignIn)?;
        let auth = session.auth.ok_or(PageError::SignIn)?;
        // A page shows the messages; an action leaves them for the page
        // it redirects to.
        let flashes = match parts.method == Method::GET {
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
    let id = parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(session::cookie_value)?
        .to_owned();
    let session = dashboard.sessions().get(&id)?;
    Some((id, session))
}

impl Ctx {
    /// An API call as the signed-in user.
    pub fn api(&self, method: Method, path: impl Into<String>) -> ApiRequest<'_> {
        self.dashboard
            .api()
            .request(method, path)
            .token(&self.auth.token)
    }

    /// GETs `path`; a 401 ends the session.
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
    /// A 401 sends the user to sign in again.
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
