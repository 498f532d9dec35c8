//! Checks on request fields that several APIs share, with Nova's bounds
//! and errors that name the field as the client wrote it.

use std::collections::BTreeMap;

use base64::Engine;
use oxistack_http::ApiError;
use oxistack_http::microversion::Microversion;
use serde_json::Value;

const MAX_TAGS: usize = 50;

/// Nova's refusal of a field: `Invalid input for field 'server.name': ...`.
pub fn invalid(field: &str, problem: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!("Invalid input for field '{field}': {problem}"))
}

/// Refuses a field the requested microversion does not have.
pub fn since(
    field: &str,
    present: bool,
    version: Microversion,
    first: Microversion,
) -> Result<(), ApiError> {
    if present && !version.at_least(first) {
        return Err(invalid(
            field,
            format!("not accepted before microversion {first} (this request uses {version})"),
        ));
    }
    Ok(())
}

/// Nova's boolean: JSON true/false or one of the usual words.
pub fn parse_boolean(field: &str, value: &Value) -> Result<bool, ApiError> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "1" | "on" | "yes" => Ok(true),
            "false" | "0" | "off" | "no" => Ok(false),
            _ => Err(invalid(field, format!("'{s}' is not a boolean"))),
        },
        other => Err(invalid(field, format!("{other} is not a boolean"))),
    }
}

/// A name as Nova's schema wants it: 1 to 255 characters, printable, not
/// starting or ending with whitespace.
pub fn validate_name(field: &str, name: &str) -> Result<(), ApiError> {
    let length = name.chars().count();
    if length == 0 || length > 255 {
        return Err(invalid(field, "must be 1 to 255 characters long"));
    }
    if name.starts_with(char::is_whitespace) || name.ends_with(char::is_whitespace) {
        return Err(invalid(
            field,
            format!("'{name}' begins or ends with whitespace"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(invalid(field, "contains control characters"));
    }
    Ok(())
}

pub fn validate_description(field: &str, description: Option<&str>) -> Result<(), ApiError> {
    match description {
        Some(text) if text.chars().count() > 255 => {
            Err(invalid(field, "is longer than 255 characters"))
        }
        Some(text)
            if text
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\t') =>
        {
            Err(invalid(field, "contains control characters"))
        }
        _ => Ok(()),
    }
}

/// A host name as 2.90 accepts one: a DNS label.
pub fn validate_hostname(field: &str, hostname: &str) -> Result<(), ApiError> {
    let valid = !hostname.is_empty()
        && hostname.len() <= 63
        && hostname
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !hostname.starts_with('-')
        && !hostname.ends_with('-');
    if valid {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!(
                "'{hostname}' is not a valid host name: use 1 to 63 letters, digits and inner hyphens"
            ),
        ))
    }
}

/// Server metadata keys and values as Nova's schema bounds them.
pub fn validate_metadata(field: &str, metadata: &BTreeMap<String, String>) -> Result<(), ApiError> {
    for (key, value) in metadata {
        if key.is_empty() || key.chars().count() > 255 {
            return Err(invalid(
                field,
                format!("key '{key}' must be 1 to 255 characters long"),
            ));
        }
        if value.chars().count() > 255 {
            return Err(invalid(
                &format!("{field}.{key}"),
                "is longer than 255 characters",
            ));
        }
    }
    Ok(())
}

/// A server tag: 1 to 60 characters without `/` or `,`.
pub fn validate_tag(field: &str, tag: &str) -> Result<(), ApiError> {
    let length = tag.chars().count();
    if length == 0 || length > 60 || tag.contains('/') || tag.contains(',') {
        return Err(invalid(
            field,
            format!("'{tag}' is not a valid tag: use 1 to 60 characters without '/' or ','"),
        ));
    }
    Ok(())
}

pub fn validate_tags(field: &str, tags: &[String]) -> Result<(), ApiError> {
    if tags.len() > MAX_TAGS {
        return Err(invalid(
            field,
            format!("a server has at most {MAX_TAGS} tags"),
        ));
    }
    tags.iter().try_for_each(|tag| validate_tag(field, tag))
}

pub fn decode_user_data(user_data: &str) -> Result<Vec<u8>, ApiError> {
    let compact: String = user_data
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|_| invalid("server.user_data", "User data needs to be valid base 64."))
}
