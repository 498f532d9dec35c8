//! Neutron's errors: each carries the `type` Neutron names it with, so
//! clients that branch on it (openstacksdk, gophercloud) behave as they do
//! against Neutron.

use oxistack_http::ApiError;

/// A request attribute with a bad value: 400 `InvalidInput`.
pub fn invalid_input(field: &str, reason: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!("Invalid input for {field}. Reason: {reason}"))
        .with_kind("InvalidInput")
}

/// A well-formed request that Neutron refuses with a specific type.
pub fn bad_request(kind: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::bad_request(message).with_kind(kind)
}

/// A request that conflicts with the current state.
pub fn conflict(kind: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::conflict(message).with_kind(kind)
}

pub fn over_quota(resource: &str) -> ApiError {
    conflict(
        "OverQuota",
        format!("Quota exceeded for resources: ['{resource}']."),
    )
}
