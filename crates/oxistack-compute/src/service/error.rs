//! Why a compute operation did not happen, in the service's own terms.
//!
//! Everything below the HTTP boundary (the service calls, the store, the
//! checks they share) answers a [`ComputeError`]; `api/` maps it once to
//! Nova's JSON error. The client-facing variants carry the message Nova
//! would give, unchanged; the failures of the cloud itself keep their
//! cause for the log and never show it.

use oxistack_auth::{Action, AuthContext, policy};
use oxistack_contracts::{BoxError, ContractError};
use oxistack_db::DbError;

#[derive(Debug, thiserror::Error)]
pub enum ComputeError {
    /// The thing named does not exist, or the caller may not see it.
    #[error("{0}")]
    NotFound(String),
    /// The request itself is wrong: a malformed or out-of-range value, a
    /// reference to something that does not exist, an unknown marker.
    #[error("{0}")]
    Invalid(String),
    /// The request conflicts with the current state: a taken name, a
    /// server in the wrong state or locked.
    #[error("{0}")]
    Conflict(String),
    /// The caller may not do this: the policy refuses it, or a quota is
    /// used up (Nova answers both with 403).
    #[error("{0}")]
    Forbidden(String),
    /// The request's credential is not valid: an unknown or expired
    /// console token (the serial proxy has no other).
    #[error("{0}")]
    Unauthorized(String),
    /// Another service refused or failed.
    #[error(transparent)]
    Contract(#[from] ContractError),
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] DbError),
    /// Anything else of the cloud's own failed while doing `what`.
    #[error("{what}: {source}")]
    Internal {
        what: String,
        #[source]
        source: BoxError,
    },
}

impl ComputeError {
    pub fn not_found(message: impl Into<String>) -> Self {
        ComputeError::NotFound(message.into())
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        ComputeError::Invalid(message.into())
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        ComputeError::Conflict(message.into())
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        ComputeError::Forbidden(message.into())
    }

    /// A failure of the cloud itself while doing `what`, keeping its cause.
    pub fn internal(what: impl Into<String>, source: impl Into<BoxError>) -> Self {
        ComputeError::Internal {
            what: what.into(),
            source: source.into(),
        }
    }
}

impl From<oxistack_db::rusqlite::Error> for ComputeError {
    fn from(error: oxistack_db::rusqlite::Error) -> Self {
        ComputeError::Storage(DbError::from(error))
    }
}

/// Enforces `action` for `caller` with the cloud's one policy table, in
/// its words.
pub fn authorize(caller: &AuthContext, action: Action) -> Result<(), ComputeError> {
    oxistack_auth::authorize(caller, action)
        .map_err(|denied| ComputeError::Forbidden(denied.message))
}

/// Whether `caller` may do `action`, for what a result shows rather than
/// whether there is one (e.g. flavors' extra specs).
pub fn allows(caller: &AuthContext, action: Action) -> bool {
    policy::allows(caller, action.rule())
}

/// What a server's fault may tell its user of an error: the message of a
/// refusal, but of a failure of the cloud itself only that it happened
/// (the cause goes to the log).
pub fn shown(error: impl Into<ComputeError>) -> String {
    match error.into() {
        failure @ (ComputeError::Storage(_)
        | ComputeError::Internal { .. }
        | ComputeError::Contract(ContractError::Internal { .. })) => {
            tracing::error!(error = %failure, "internal error");
            "An unexpected error prevented the server from fulfilling your request.".to_owned()
        }
        refusal => refusal.to_string(),
    }
}

/// A service call's result.
pub type Result<T, E = ComputeError> = std::result::Result<T, E>;
