//! Why an image operation did not happen, in the image service's own terms.
//!
//! Everything below the HTTP boundary (the service calls, the store, the
//! parsing and checking helpers) answers an [`ImageError`]; `api/` maps it
//! once to Glance's JSON error, and `contracts` to what compute sees. The
//! client-facing variants carry the message Glance's clients get,
//! unchanged; the failures of the cloud itself keep their cause for the
//! log and never show it.

use oxistack_auth::{Action, AuthContext};
use oxistack_contracts::BoxError;
use oxistack_db::DbError;

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The image (or member, tag) named does not exist, or the caller may
    /// not see it.
    #[error("{0}")]
    NotFound(String),
    /// The request itself is wrong: a malformed value, query or patch.
    #[error("{0}")]
    Invalid(String),
    /// The request conflicts with the image's state: a taken id, an
    /// existing member, an upload to an image that is not queued.
    #[error("{0}")]
    Conflict(String),
    /// The caller may not do this: the policy refuses it, the attribute is
    /// read-only, the image is protected or not shared.
    #[error("{0}")]
    Forbidden(String),
    /// The image went away while its data was being uploaded.
    #[error("{0}")]
    Gone(String),
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] DbError),
    /// Anything else of the cloud's own (the image files) failed while
    /// doing `what`.
    #[error("{what}: {source}")]
    Internal {
        what: String,
        #[source]
        source: BoxError,
    },
}

impl ImageError {
    pub fn not_found(message: impl Into<String>) -> Self {
        ImageError::NotFound(message.into())
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        ImageError::Invalid(message.into())
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        ImageError::Conflict(message.into())
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        ImageError::Forbidden(message.into())
    }

    /// A failure of the cloud itself while doing `what`, keeping its cause.
    pub fn internal(what: impl Into<String>, source: impl Into<BoxError>) -> Self {
        ImageError::Internal {
            what: what.into(),
            source: source.into(),
        }
    }
}

impl From<oxistack_db::rusqlite::Error> for ImageError {
    fn from(error: oxistack_db::rusqlite::Error) -> Self {
        ImageError::Storage(DbError::from(error))
    }
}

/// Enforces `action` for `caller` with the cloud's one policy table, in
/// the image service's words.
pub fn authorize(caller: &AuthContext, action: Action) -> Result<(), ImageError> {
    oxistack_auth::authorize(caller, action).map_err(|denied| ImageError::Forbidden(denied.message))
}
