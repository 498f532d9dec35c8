//! Checks on request fields that several APIs share, with Nova's bounds
//! and errors that name the field as the client wrote it.

use std::collections::BTreeMap;

use crate::service::ComputeError;
use base64::Engine;
use oxistack_http::microversion::Microversion;

use crate::versions::FQDN_HOSTNAME;
use serde_json::Value;

const MAX_TAGS: usize = 50;

/// Nova's refusal of a field: `Invalid input for field 'server.name': ...`.
pub fn invalid(field: &str, problem: impl std::fmt::Display) -> ComputeError {
    ComputeError::invalid(format!("Invalid input for field '{field}': {problem}"))
}

/// Refuses control characters in `value` (see
/// [`oxistack_http::text::refuse_control_characters`]).
fn refuse_control_characters(field: &str, value: &str) -> Result<(), ComputeError> {
    oxistack_http::text::refuse_control_characters(field, value)
        .map_err(|refused| ComputeError::Invalid(refused.message))
}

/// Refuses a field the requested microversion does not have.
pub fn since(
    field: &str,
    present: bool,
    version: Microversion,
    first: Microversion,
) -> Result<(), ComputeError> {
    if present && !version.at_least(first) {
        return Err(invalid(
            field,
            format!("not accepted before microversion {first} (this request uses {version})"),
        ));
    }
    Ok(())
}

/// Nova's boolean: JSON true/false or one of the usual words.
pub fn parse_boolean(field: &str, value: &Value) -> Result<bool, ComputeError> {
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
pub fn validate_name(field: &str, name: &str) -> Result<(), ComputeError> {
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
    refuse_control_characters(field, name)
}

pub fn validate_description(field: &str, description: Option<&str>) -> Result<(), ComputeError> {
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

/// A host name as `version` accepts one: from 2.94 an FQDN (1 to 255
/// letters, digits, `-`, `.` and `_`), before it a DNS label.
pub fn validate_hostname(
    field: &str,
    hostname: &str,
    version: Microversion,
) -> Result<(), ComputeError> {
    if version.at_least(FQDN_HOSTNAME) {
        let valid = !hostname.is_empty()
            && hostname.len() <= 255
            && hostname
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b));
        return match valid {
            true => Ok(()),
            false => Err(invalid(
                field,
                format!(
                    "'{hostname}' is not a valid host name: use 1 to 255 letters, digits, '-', '.' and '_'"
                ),
            )),
        };
    }
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

/// A key of server metadata or flavor extra specs, as Nova's schemas
/// allow them: 1 to 255 letters, digits, `-`, `_`, `:`, `.` and spaces.
pub fn is_metadata_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 255
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_:. ".contains(&b))
}

/// `accessIPv4` or `accessIPv6` (`v4` says which), in the normal form
/// Nova stores and shows (`::babe:dc0c:1602` for
/// `0000:0000:0000:0000:0000:babe:220.12.22.2`); empty stays empty.
pub fn access_address(field: &str, address: &str, v4: bool) -> Result<String, ComputeError> {
    if address.is_empty() {
        return Ok(String::new());
    }
    match address.parse::<std::net::IpAddr>() {
        Ok(ip) if ip.is_ipv4() == v4 => Ok(ip.to_string()),
        _ => Err(invalid(
            field,
            format!(
                "'{address}' is not an IPv{} address",
                if v4 { 4 } else { 6 }
            ),
        )),
    }
}

/// Server metadata keys and values as Nova's schema bounds them: keys as
/// [`is_metadata_key`] (so no control characters), values of at most 255
/// characters.
pub fn validate_metadata(
    field: &str,
    metadata: &BTreeMap<String, String>,
) -> Result<(), ComputeError> {
    for (key, value) in metadata {
        refuse_control_characters(field, key)?;
        if !is_metadata_key(key) {
            return Err(invalid(
                field,
                format!(
                    "key '{key}' must be 1 to 255 letters, digits, '-', '_', ':', '.' or spaces"
                ),
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
pub fn validate_tag(field: &str, tag: &str) -> Result<(), ComputeError> {
    let length = tag.chars().count();
    if length == 0 || length > 60 || tag.contains('/') || tag.contains(',') {
        return Err(invalid(
            field,
            format!("'{tag}' is not a valid tag: use 1 to 60 characters without '/' or ','"),
        ));
    }
    Ok(())
}

pub fn validate_tags(field: &str, tags: &[String]) -> Result<(), ComputeError> {
    if tags.len() > MAX_TAGS {
        return Err(invalid(
            field,
            format!("a server has at most {MAX_TAGS} tags"),
        ));
    }
    tags.iter().try_for_each(|tag| validate_tag(field, tag))
}

pub fn decode_user_data(user_data: &str) -> Result<Vec<u8>, ComputeError> {
    let compact: String = user_data
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|_| invalid("server.user_data", "User data needs to be valid base 64."))
}
