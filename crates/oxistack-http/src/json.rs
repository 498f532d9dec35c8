use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use crate::ApiError;

/// The largest JSON request body any API accepts. Image data is streamed
/// through its own route without this limit.
pub const MAX_JSON_BODY: usize = 1024 * 1024;

/// A JSON request body. Unlike axum's `Json`, it ignores the Content-Type
/// (clients differ: Glance's PATCH sends a JSON-patch media type) and its
/// failures are 400s naming the offending field, e.g.
/// `Invalid input for field 'user.enabled': invalid type: string "x", expected a boolean`.
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
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
