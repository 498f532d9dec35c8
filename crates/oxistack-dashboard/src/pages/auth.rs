//! Signing in and out and switching projects: Keystone's password and
//! token methods, called like any client calls them. A successful login
//! starts a new session (its id never carried over from before, against
//! fixation); repeated failures for a user name are slowed. A session the
//! cloud stopped accepting was ended before the browser came back here
//! ([`crate::context::PageError::SignIn`]); the form says so.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Dashboard;
use crate::client::{ApiFailure, IDENTITY};
use crate::context::{Ctx, LOGIN, PageError, session_of};
use crate::form::CsrfForm;
use crate::layout;
use crate::session::{self, Auth};

pub const HOME: &str = "/dashboard/project/";

pub fn routes() -> Router<Dashboard> {
    Router::new()
        .route("/auth/login", get(login_page).post(login))
        .route("/auth/logout", post(logout))
        .route("/auth/switch", post(switch_project))
}

#[derive(Deserialize, Default)]
pub struct LoginQuery {
    /// After signing out.
    #[serde(default)]
    bye: Option<String>,
    /// After the session ended by itself.
    #[serde(default)]
    ended: Option<String>,
}

impl LoginQuery {
    /// What the form says before anything was entered.
    fn notice(&self) -> Option<Notice<'static>> {
        if self.ended.is_some() {
            Some(Notice::Alert(
                "Your session has ended: it expired, was revoked, or your access changed. Sign in again.",
            ))
        } else {
            self.bye
                .as_ref()
                .map(|_| Notice::Status("You have signed out."))
        }
    }
}

/// A message on the login form: news, or why it is shown again.
enum Notice<'a> {
    Status(&'a str),
    Alert(&'a str),
}

/// The login form; a signed-in user goes home.
async fn login_page(
    State(dashboard): State<Dashboard>,
    Query(query): Query<LoginQuery>,
    parts: Parts,
) -> Response {
    match session_of(&dashboard, &parts) {
        Some((_, session)) if session.auth.is_some() => Redirect::to(HOME).into_response(),
        Some((_, session)) => {
            login_form(&session.csrf, query.notice(), &LoginForm::default()).into_response()
        }
        None => {
            let (id, session) = dashboard.sessions().create(None);
            (
                [(
                    header::SET_COOKIE,
                    session::cookie(Some(&id), dashboard.secure_cookies()),
                )],
                login_form(&session.csrf, query.notice(), &LoginForm::default()),
            )
                .into_response()
        }
    }
}

#[derive(Deserialize, Default)]
pub struct LoginForm {
    #[serde(default)]
    domain: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    project: String,
}

async fn login(
    State(dashboard): State<Dashboard>,
    parts: Parts,
    CsrfForm(form): CsrfForm<LoginForm>,
) -> Response {
    let Some((old_id, session)) = session_of(&dashboard, &parts) else {
        return PageError::Csrf.into_response();
    };
    let refuse = |status: StatusCode, message: &str| {
        (
            status,
            login_form(&session.csrf, Some(Notice::Alert(message)), &form),
        )
            .into_response()
    };
    let username = form.username.trim();
    if username.is_empty() || form.password.is_empty() {
        return refuse(
            StatusCode::BAD_REQUEST,
            "Enter your user name and password.",
        );
    }
    // Counted as a failure until it succeeds, so parallel attempts
    // cannot slip past the limit while Keystone answers.
    let attempt = match dashboard.login_limiter().try_begin(username) {
        Ok(attempt) => attempt,
        Err(wait) => {
            return refuse(
                StatusCode::TOO_MANY_REQUESTS,
                &format!(
                    "Too many failed sign-in attempts for this user. Try again in {} seconds.",
                    wait.as_secs().max(1)
                ),
            );
        }
    };
    let domain = match form.domain.trim() {
        "" => "Default",
        domain => domain,
    };
    let project = form.project.trim();
    match authenticate(&dashboard, domain, username, &form.password, project).await {
        Ok(auth) => {
            attempt.succeeded();
            dashboard.sessions().remove(&old_id);
            let (id, _) = dashboard.sessions().create(Some(auth));
            (
                [(
                    header::SET_COOKIE,
                    session::cookie(Some(&id), dashboard.secure_cookies()),
                )],
                Redirect::to(HOME),
            )
                .into_response()
        }
        // Keystone does not say which part was wrong; with a project
        // named, it may be the project (or the user's role on it).
        Err(LoginFailure::Credentials) => refuse(
            StatusCode::UNAUTHORIZED,
            match project {
                "" => "Invalid credentials: the domain, user name or password is wrong.",
                _ => "Invalid credentials: the domain, user name, password or project is wrong.",
            },
        ),
        Err(LoginFailure::Refused(message)) => refuse(StatusCode::FORBIDDEN, &message),
    }
}

enum LoginFailure {
    Credentials,
    Refused(String),
}

impl From<ApiFailure> for LoginFailure {
    fn from(failure: ApiFailure) -> LoginFailure {
        match failure.is_unauthorized() {
            true => LoginFailure::Credentials,
            false => LoginFailure::Refused(failure.message),
        }
    }
}

/// Keystone's password method, scoped to `project` if named, else to the
/// user's default project or the first they have a role on.
async fn authenticate(
    dashboard: &Dashboard,
    domain: &str,
    username: &str,
    password: &str,
    project: &str,
) -> Result<Auth, LoginFailure> {
    let identity = json!({
        "methods": ["password"],
        "password": {"user": {"name": username, "domain": {"name": domain}, "password": password}},
    });
    let body = match project {
        "" => json!({"auth": {"identity": identity}}),
        project => json!({"auth": {"identity": identity, "scope": {
            "project": {"name": project, "domain": {"name": domain}}
        }}}),
    };
    let (token, document) = issue(dashboard, &body).await?;
    if document["token"]["project"]["id"].is_string() {
        return Ok(session_auth(dashboard, &token, &document).await?);
    }
    let projects = projects_of(dashboard, &token).await?;
    let Some((first, _)) = projects.first() else {
        return Err(LoginFailure::Refused(
            "You are not a member of any project; ask an administrator for a role.".into(),
        ));
    };
    let (token, document) = rescope(dashboard, &token, first).await?;
    Ok(session_auth(dashboard, &token, &document).await?)
}

/// `POST /auth/tokens`: the token and its document.
async fn issue(dashboard: &Dashboard, body: &Value) -> Result<(String, Value), ApiFailure> {
    let response = dashboard
        .api()
        .request(Method::POST, format!("{IDENTITY}/auth/tokens"))
        .json(body)
        .send()
        .await?;
    let token = response
        .headers
        .get("x-subject-token")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    Ok((token, response.body))
}

async fn rescope(
    dashboard: &Dashboard,
    token: &str,
    project_id: &str,
) -> Result<(String, Value), ApiFailure> {
    issue(
        dashboard,
        &json!({"auth": {
            "identity": {"methods": ["token"], "token": {"id": token}},
            "scope": {"project": {"id": project_id}},
        }}),
    )
    .await
}

async fn projects_of(
    dashboard: &Dashboard,
    token: &str,
) -> Result<Vec<(String, String)>, ApiFailure> {
    let body = dashboard
        .api()
        .request(Method::GET, format!("{IDENTITY}/auth/projects"))
        .token(token)
        .send()
        .await?
        .body;
    let mut projects: Vec<(String, String)> = body["projects"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|project| project["enabled"].as_bool() != Some(false))
        .filter_map(|project| {
            Some((
                project["id"].as_str()?.to_owned(),
                project["name"].as_str()?.to_owned(),
            ))
        })
        .collect();
    projects.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(projects)
}

/// A session's view of a project-scoped token.
async fn session_auth(
    dashboard: &Dashboard,
    token: &str,
    document: &Value,
) -> Result<Auth, ApiFailure> {
    let token_doc = &document["token"];
    let text = |value: &Value| value.as_str().unwrap_or_default().to_owned();
    let expires_at = token_doc["expires_at"]
        .as_str()
        .and_then(|at| DateTime::parse_from_rfc3339(at).ok())
        .map(|at| at.with_timezone(&Utc))
        .unwrap_or_else(|| Utc::now() + chrono::Duration::hours(1));
    Ok(Auth {
        token: token.to_owned(),
        expires_at,
        user_id: text(&token_doc["user"]["id"]),
        user_name: text(&token_doc["user"]["name"]),
        domain_name: text(&token_doc["user"]["domain"]["name"]),
        project_id: text(&token_doc["project"]["id"]),
        project_name: text(&token_doc["project"]["name"]),
        roles: token_doc["roles"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|role| text(&role["name"]))
            .collect(),
        projects: projects_of(dashboard, token).await?,
    })
}

/// Signs out: the token is revoked, the session ended.
async fn logout(ctx: Ctx, CsrfForm(_): CsrfForm<Vec<(String, String)>>) -> Response {
    let revoked = ctx
        .api(Method::DELETE, format!("{IDENTITY}/auth/tokens"))
        .header("x-subject-token", &ctx.auth.token)
        .send()
        .await;
    if let Err(failure) = revoked {
        tracing::debug!(%failure, "revoking the dashboard token at sign-out failed");
    }
    ctx.dashboard.sessions().remove(&ctx.session_id);
    (
        [(
            header::SET_COOKIE,
            session::cookie(None, ctx.dashboard.secure_cookies()),
        )],
        Redirect::to(&format!("{LOGIN}?bye=1")),
    )
        .into_response()
}

#[derive(Deserialize)]
struct SwitchForm {
    project_id: String,
}

/// Rescopes the session's token to another of the user's projects.
async fn switch_project(ctx: Ctx, CsrfForm(form): CsrfForm<SwitchForm>) -> Response {
    let switched = async {
        let (token, document) = rescope(&ctx.dashboard, &ctx.auth.token, &form.project_id).await?;
        session_auth(&ctx.dashboard, &token, &document).await
    }
    .await;
    match switched {
        Ok(auth) => {
            let name = auth.project_name.clone();
            ctx.dashboard
                .sessions()
                .update(&ctx.session_id, |session| session.auth = Some(auth));
            ctx.flash(
                session::FlashKind::Ok,
                None,
                format!("Switched to project {name}."),
            );
            Redirect::to(HOME).into_response()
        }
        Err(failure) => ctx.finish::<()>(Err(failure), None, "", "Could not switch project", HOME),
    }
}

fn login_form(csrf: &str, notice: Option<Notice>, form: &LoginForm) -> Html<String> {
    let domain = match form.domain.as_str() {
        "" => "Default",
        domain => domain,
    };
    let markup: Markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                title { "Sign in - oxistack" }
                link rel="stylesheet" href=(crate::assets::url("dashboard.css"));
            }
            body.plain {
                main #main.card {
                    h1 { "Sign in to oxistack" }
                    @match notice {
                        Some(Notice::Status(text)) => p.flash.flash-ok role="status" { (text) },
                        Some(Notice::Alert(text)) => p.flash.flash-error role="alert" { (text) },
                        None => {},
                    }
                    form method="post" action=(LOGIN) {
                        input type="hidden" name="csrf" value=(csrf);
                        (layout::field("Domain", "domain", html! {
                            input #domain name="domain" type="text" value=(domain) autocomplete="off" required;
                        }))
                        (layout::field("User name", "username", html! {
                            input #username name="username" type="text" value=(form.username) autocomplete="username" required autofocus;
                        }))
                        (layout::field("Password", "password", html! {
                            input #password name="password" type="password" autocomplete="current-password" required;
                        }))
                        (layout::field("Project (optional)", "project", html! {
                            input #project name="project" type="text" value=(form.project) autocomplete="off";
                        }))
                        button type="submit" name="sign-in" { "Sign in" }
                    }
                }
            }
        }
    };
    Html(markup.into_string())
}
