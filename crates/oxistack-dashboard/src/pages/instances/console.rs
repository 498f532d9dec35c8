//! The serial console's first step, for `console.js`: asks Nova for a
//! serial console (`POST /servers/{id}/remote-consoles`, microversion
//! 2.6+) and hands the script only the path and query of the websocket
//! URL Nova answers, which it opens on the page's own host (the proxy is
//! on the same listener), so the page never needs the cloud's public
//! address. A script's post: the CSRF token comes in `X-CSRF-Token`.

use axum::Json;
use axum::extract::Path;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::server_path;
use crate::context::{Ctx, PageError};
use crate::form::CsrfHeader;
use crate::pages::text;

/// `{"path": "/compute/serial-console?token=..."}`, or
/// `{"error": message, "status": code}` with the API's status.
pub async fn open(ctx: Ctx, _: CsrfHeader, Path(id): Path<String>) -> Response {
    let request = json!({"remote_console": {"protocol": "serial", "type": "serial"}});
    let answer = ctx
        .call(
            Method::POST,
            format!("{}/remote-consoles", server_path(&id)),
            Some(&request),
        )
        .await;
    let failure = match answer {
        Ok(body) => match path_of(&text(&body["remote_console"]["url"])) {
            Some(path) => return Json(json!({ "path": path })).into_response(),
            None => (
                StatusCode::BAD_GATEWAY,
                "The cloud answered no usable console address.".to_owned(),
            ),
        },
        // A lost session ends here as on every page: the script sees the
        // redirect to the login page.
        Err(failure) if failure.is_unauthorized() => {
            return PageError::from(failure).into_response();
        }
        Err(failure) => (failure.status, failure.message),
    };
    let (status, message) = failure;
    let body = json!({"error": message, "status": status.as_u16()});
    (status, Json(body)).into_response()
}

/// The path and query of a `ws://` or `wss://` URL.
fn path_of(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("ws://")
        .or_else(|| url.strip_prefix("wss://"))?;
    let start = rest.find('/')?;
    Some(&rest[start..])
}

#[cfg(test)]
mod tests {
    use super::path_of;

    #[test]
    fn only_the_path_and_query_are_kept() {
        assert_eq!(
            path_of("ws://127.0.0.1:8080/compute/serial-console?token=t"),
            Some("/compute/serial-console?token=t")
        );
        assert_eq!(
            path_of("wss://cloud.example/compute/serial-console?token=t"),
            Some("/compute/serial-console?token=t")
        );
        assert_eq!(path_of("http://cloud.example/x"), None);
        assert_eq!(path_of("ws://cloud.example"), None);
    }
}
