//! The stylesheet, the scripts and the vendored libraries, embedded in
//! the binary so the dashboard needs nothing at run time. Each vendored
//! library sits in `assets/vendor/NAME/` with its licence and a `VERSION`
//! note saying where it came from.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// (name under /dashboard/static/, content type, bytes).
const FILES: &[(&str, &str, &[u8])] = &[
    (
        "dashboard.css",
        "text/css; charset=utf-8",
        include_bytes!("../assets/dashboard.css"),
    ),
    (
        "dashboard.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/dashboard.js"),
    ),
    (
        "console.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/console.js"),
    ),
    (
        "upload.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/upload.js"),
    ),
    (
        "wizard.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/wizard.js"),
    ),
    (
        "xterm.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/vendor/xterm/xterm.js"),
    ),
    (
        "xterm.css",
        "text/css; charset=utf-8",
        include_bytes!("../assets/vendor/xterm/xterm.css"),
    ),
];

/// Where a static file is served.
pub fn url(name: &str) -> String {
    format!("/dashboard/static/{name}")
}

pub async fn serve(Path(name): Path<String>) -> Response {
    match FILES.iter().find(|(file, _, _)| *file == name) {
        Some((_, content_type, bytes)) => (
            [
                (header::CONTENT_TYPE, *content_type),
                (header::CACHE_CONTROL, "public, max-age=300"),
            ],
            *bytes,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
