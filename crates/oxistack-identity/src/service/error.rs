//! Why an identity operation did not happen, in the service's own terms.
//!
//! Everything below the HTTP boundary (the service calls, the store, the
//! token issuer, bootstrap) answers an [`IdentityError`]; `api/` maps it
//! once to Keystone's JSON error. Refusals carry the message Keystone
//! would give; the cloud's own failures keep their cause for the log and
//! never show it to a client.

use oxistack_auth::{Action, AuthContext};
use oxistack_db::DbError;

pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The thing named does not exist, or the caller may not see it.
    #[error("{0}")]
    NotFound(String),
    /// The request itself is wrong: a malformed or out-of-range value, a
    /// reference to something that does not exist.
    #[error("{0}")]
    Invalid(String),
    /// A name already taken where names are unique.
    #[error(
        "Conflict occurred attempting to store {kind} - Duplicate entry found with name {name}."
    )]
    Duplicate { kind: &'static str, name: String },
    /// The request conflicts with the current state (a domain still in use).
    #[error("{0}")]
    Conflict(String),
    /// The caller may not do this: the policy refuses it, or the thing is
    /// protected (the default domain).
    #[error("{0}")]
    Forbidden(String),
    /// No valid credentials: a wrong password, an unknown user, a scope
    /// without roles, a token that is no longer valid. Deliberately says
    /// no more, so users and scopes cannot be probed.
    #[error("The request you have made requires authentication.")]
    Unauthenticated,
    /// Credentials that are valid but cannot be used this way (an
    /// unsupported method, a scope for an application credential).
    #[error("{0}")]
    Unauthorized(String),
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] DbError),
    /// Anything else of the cloud's own failed while doing `what`.
    #[error("{what}: {source}")]
    Internal {
        what: &'static str,
        #[source]
        source: BoxError,
    },
}

impl IdentityError {
    /// Keystone's wording for a missing entity, e.g. "Could not find project: x."
    pub fn not_found(kind: &str, id: &str) -> Self {
        IdentityError::NotFound(format!("Could not find {kind}: {id}."))
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        IdentityError::Invalid(message.into())
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        IdentityError::Forbidden(message.into())
    }

    /// A failure of the cloud itself while doing `what`, keeping its cause.
    pub fn internal(what: &'static str, source: impl Into<BoxError>) -> Self {
        IdentityError::Internal {
            what,
            source: source.into(),
        }
    }
}

impl From<oxistack_db::rusqlite::Error> for IdentityError {
    fn from(error: oxistack_db::rusqlite::Error) -> Self {
        IdentityError::Storage(DbError::from(error))
    }
}

/// Enforces `action` for `caller` with the cloud's one policy table, in
/// its words.
pub fn authorize(caller: &AuthContext, action: Action) -> Result<()> {
    oxistack_auth::authorize(caller, action)
        .map_err(|denied| IdentityError::Forbidden(denied.message))
}

/// A service call's result.
pub type Result<T, E = IdentityError> = std::result::Result<T, E>;
