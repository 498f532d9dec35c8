use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use crate::ApiError;

/// The largest JSON request body any API accepts. Image data is streamed
/// through its own route without this limit.
pub const MAX_JSON_BODY: usize = 1024 * 1024;

/// A JSON request body. Unlike axum's `Json`, it accepts any JSON media
/// type and a missing Content-Type (clients differ: Glance's PATCH sends a
/// JSON-patch media type, curl users often send none), but refuses a body
/// declared as something else (`text/plain`) with 415, as the services do.
/// Its failures are 400s naming the offending field, e.g.
/// `Invalid input for field 'user.enabled': invalid type: string "x", expected a boolean`.
pub struct JsonBody<T>(pub T);

/// True for `application/json` and its dialects such as
/// `application/merge-patch+json` and Glance's
/// `application/openstack-images-v2.1-json-patch`; parameters such as
/// `; charset=utf-8` are ignored.
fn is_json_media_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence
        .strip_prefix("application/")
        .is_some_and(|subtype| subtype.contains("json"))
}

/// Refuses a request whose body is declared as something other than JSON.
pub fn require_json_content_type(headers: &axum::http::HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get(axum::http::header::CONTENT_TYPE) else {
        return Ok(());
    };
    match value.to_str() {
        Ok(content_type) if content_type.trim().is_empty() || is_json_media_type(content_type) => {
            Ok(())
        }
        _ => Err(ApiError::new(
            axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "The request's Content-Type {:?} is not supported; send application/json.",
                String::from_utf8_lossy(value.as_bytes())
            ),
        )),
    }
}

impl<S, T> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        require_json_content_type(request.headers())?;
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| ApiError::new(rejection.status(), rejection.body_text()))?;
        parse(&bytes).map(JsonBody)
    }
}

/// Parses `bytes` as a `T`, with the error message clients see.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "The request body is empty; a JSON document is required.",
        ));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize(&mut deserializer) {
        Ok(value) => Ok(value),
        Err(error) => {
            let path = error.path().to_string();
            let inner = error.into_inner();
            Err(ApiError::bad_request(
                if inner.is_syntax() || inner.is_eof() {
                    format!("Malformed JSON in request body: {inner}")
                } else if path == "." {
                    format!("Invalid input: {inner}")
                } else {
                    format!("Invalid input for field '{path}': {inner}")
                },
            ))
        }
    }
}

/// Takes the member `key` out of an OpenStack request envelope such as
/// `{"project": {...}}` and deserializes it, with errors naming the field as
/// the client wrote it (`project.enabled`).
pub fn envelope<T: DeserializeOwned>(
    mut body: serde_json::Value,
    key: &str,
) -> Result<T, ApiError> {
    let Some(inner) = body.get_mut(key).map(serde_json::Value::take) else {
        return Err(ApiError::bad_request(format!(
            "Invalid input: the request body must be an object with a '{key}' member."
        )));
    };
    serde_path_to_error::deserialize(inner).map_err(|error| {
        let path = error.path().to_string();
        let field = if path == "." {
            key.to_owned()
        } else {
            format!("{key}.{path}")
        };
        ApiError::bad_request(format!(
            "Invalid input for field '{field}': {}",
            error.into_inner()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_media_types_are_told_from_others() {
        for accepted in [
            "application/json",
            "application/json; charset=UTF-8",
            "Application/JSON",
            "application/openstack-images-v2.1-json-patch",
            "application/merge-patch+json",
        ] {
            assert!(is_json_media_type(accepted), "{accepted}");
        }
        for refused in [
            "text/plain",
            "application/octet-stream",
            "text/json-ish",
            "",
        ] {
            assert!(!is_json_media_type(refused), "{refused}");
        }
        let mut headers = axum::http::HeaderMap::new();
        assert!(require_json_content_type(&headers).is_ok());
        headers.insert(
            axum::http::header::CONTENT_TYPE,
            "text/plain".parse().unwrap(),
        );
        assert_eq!(require_json_content_type(&headers).unwrap_err().status, 415);
    }

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Outer {
        user: Inner,
    }
    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Inner {
        enabled: bool,
    }

    #[test]
    fn errors_name_the_field() {
        let err = parse::<Outer>(br#"{"user": {"enabled": "x"}}"#).unwrap_err();
        assert_eq!(err.status, 400);
        assert!(err.message.contains("'user.enabled'"), "{}", err.message);
    }

    #[test]
    fn envelopes_name_the_nested_field() {
        let body = serde_json::json!({"user": {"enabled": 3}});
        let err = envelope::<Inner>(body, "user").unwrap_err();
        assert_eq!(
            err.message.split(':').next().unwrap(),
            "Invalid input for field 'user.enabled'"
        );
        let err = envelope::<Inner>(serde_json::json!({"project": {}}), "user").unwrap_err();
        assert!(err.message.contains("'user' member"));
    }

    #[test]
    fn malformed_and_empty_bodies_are_400() {
        assert!(
            parse::<Outer>(b"{")
                .unwrap_err()
                .message
                .starts_with("Malformed JSON")
        );
        assert!(parse::<Outer>(b"  ").unwrap_err().message.contains("empty"));
    }
}
