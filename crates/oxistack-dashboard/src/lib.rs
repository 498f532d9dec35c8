//! The dashboard at `/dashboard`: Horizon's pages for this cloud, served
//! by the same binary on the same listener.
//!
//! It is a client like any other: every page and action calls the cloud's
//! own HTTP APIs in-process through the assembled router
//! ([`client::Api`]) with the signed-in user's token, so it can never do
//! what the API would refuse, and it never reads a store. Pages are
//! rendered on the server ([`maud`]) with little script; the static files
//! are embedded ([`assets`]).
//!
//! Layout: `client` (the in-process API), `session` (cookies, CSRF,
//! login limits), `context` (the caller of a page and its errors), `form`
//! (CSRF-checked posts), `layout` and `list` (the look and the tables),
//! `pages/` (one module per panel, as Horizon's dashboards are split),
//! `topology` (the network picture).

use std::sync::Arc;

use axum::Router;
use axum::response::Redirect;
use axum::routing::get;

pub mod assets;
pub mod client;
pub mod context;
pub mod form;
pub mod layout;
pub mod list;
pub mod pages;
pub mod session;
pub mod topology;

/// Where the dashboard is mounted on the listener.
pub const MOUNT: &str = "/dashboard";

/// How the dashboard is served.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// The cloud is served over TLS: session cookies are `Secure`.
    pub secure_cookies: bool,
}

/// The dashboard's shared state: the API it acts through, the sessions
/// and the login limiter.
#[derive(Clone)]
pub struct Dashboard(Arc<Inner>);

struct Inner {
    api: client::Api,
    sessions: session::SessionStore,
    login_limiter: session::LoginLimiter,
    settings: Settings,
}

impl Dashboard {
    pub fn new(api: Router, settings: Settings) -> Dashboard {
        Dashboard(Arc::new(Inner {
            api: client::Api::new(api),
            sessions: session::SessionStore::default(),
            login_limiter: session::LoginLimiter::default(),
            settings,
        }))
    }

    pub fn api(&self) -> &client::Api {
        &self.0.api
    }

    pub fn sessions(&self) -> &session::SessionStore {
        &self.0.sessions
    }

    pub fn login_limiter(&self) -> &session::LoginLimiter {
        &self.0.login_limiter
    }

    pub fn secure_cookies(&self) -> bool {
        self.0.settings.secure_cookies
    }
}

/// The dashboard's routes, to nest at [`MOUNT`]; `api` is the assembled
/// router of the cloud's services.
pub fn router(api: Router, settings: Settings) -> Router {
    let dashboard = Dashboard::new(api, settings);
    Router::new()
        .route("/", get(|| async { Redirect::to(pages::auth::HOME) }))
        .route("/static/{name}", get(assets::serve))
        .merge(pages::routes())
        .with_state(dashboard.clone())
        .layer(axum::middleware::from_fn_with_state(
            dashboard,
            context::end_refused_sessions,
        ))
        .layer(axum::middleware::from_fn(security_headers))
}

/// What a page may load and run: only this dashboard's own files (no
/// inline script, so an injected `<script>` or `onclick` would not run;
/// inline styles are allowed for the meters and the topology picture),
/// images also as `data:` URLs, the serial console's websocket, and no
/// framing, `<base>` or posting elsewhere.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self' ws: wss:; \
    frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// Headers every dashboard answer carries: no framing by other sites, no
/// sniffing, no caching of pages that show a project's data, no referrer
/// leaking ids elsewhere; pages also carry the content security policy.
async fn security_headers(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::{HeaderValue, header};
    let is_static = request.uri().path().starts_with("/static/");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !is_static {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
    }
    response
}
