//! Why the networking service refused or failed a request, in its own
//! terms: no statuses here. Neutron's clients branch on the error's type
//! (`NetworkInUse`, `IpAddressGenerationFailure`, ...), so refusals carry
//! the type Neutron names them with; `api/` maps each variant to Neutron's
//! JSON error once.

use oxistack_auth::policy::allows;
use oxistack_auth::{Action, AuthContext};
use oxistack_list::ListError;

use crate::kind::Kind;

#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// The resource does not exist or the caller may not see it.
    #[error("{} {id} could not be found.", kind.title())]
    NotFound { kind: Kind, id: String },
    /// Something else that does not exist, with Neutron's type for it
    /// (`TagNotFound`, `RouterInterfaceNotFound`, ...).
    #[error("{message}")]
    Missing { kind: &'static str, message: String },
    /// An attribute with a bad value (Neutron's `InvalidInput`).
    #[error("Invalid input for {field}. Reason: {reason}")]
    InvalidInput { field: String, reason: String },
    /// A request Neutron refuses as malformed, with the type it gives
    /// (`SecurityGroupRuleInvalidProtocol`, `BadRequest`, ...).
    #[error("{message}")]
    Refused { kind: &'static str, message: String },
    /// A list request its attribute table refuses.
    #[error(transparent)]
    List(#[from] ListError),
    /// A well-formed request that conflicts with the current state.
    #[error("{message}")]
    Conflict { kind: &'static str, message: String },
    /// The project has its limit's worth of this resource already.
    #[error("Quota exceeded for resources: ['{0}'].")]
    OverQuota(&'static str),
    /// The caller's roles do not allow the action (its policy name).
    #[error("You are not authorized to perform the requested action: {0}.")]
    Forbidden(&'static str),
    /// The service's database failed; never the caller's fault.
    #[error("the network database failed: {0}")]
    Storage(#[from] oxistack_db::DbError),
    #[error("a network database query failed: {0}")]
    Query(#[from] oxistack_db::rusqlite::Error),
    /// The service found its own state inconsistent.
    #[error("{0}")]
    Internal(String),
}

impl NetworkError {
    /// The type Neutron gives the error, which its clients branch on;
    /// `None` where Neutron's is generic (policy, the service's failures).
    pub fn neutron_type(&self) -> Option<&'static str> {
        match self {
            NetworkError::NotFound { kind, .. } => Some(kind.not_found_type()),
            NetworkError::Missing { kind, .. }
            | NetworkError::Refused { kind, .. }
            | NetworkError::Conflict { kind, .. } => Some(kind),
            NetworkError::InvalidInput { .. } => Some("InvalidInput"),
            NetworkError::List(_) => Some("HTTPBadRequest"),
            NetworkError::OverQuota(_) => Some("OverQuota"),
            NetworkError::Forbidden(_)
            | NetworkError::Storage(_)
            | NetworkError::Query(_)
            | NetworkError::Internal(_) => None,
        }
    }
}

/// A request attribute with a bad value: `InvalidInput`.
pub fn invalid_input(field: &str, reason: impl std::fmt::Display) -> NetworkError {
    NetworkError::InvalidInput {
        field: field.to_owned(),
        reason: reason.to_string(),
    }
}

/// A request Neutron refuses with a specific type.
pub fn bad_request(kind: &'static str, message: impl Into<String>) -> NetworkError {
    NetworkError::Refused {
        kind,
        message: message.into(),
    }
}

/// A request that conflicts with the current state.
pub fn conflict(kind: &'static str, message: impl Into<String>) -> NetworkError {
    NetworkError::Conflict {
        kind,
        message: message.into(),
    }
}

/// Something other than a resource of a [`Kind`] that is not there.
pub fn missing(kind: &'static str, message: impl Into<String>) -> NetworkError {
    NetworkError::Missing {
        kind,
        message: message.into(),
    }
}

pub fn over_quota(resource: &'static str) -> NetworkError {
    NetworkError::OverQuota(resource)
}

/// Enforces the policy's rule for `action` (`oxistack_auth::policy`).
pub fn authorize(caller: &AuthContext, action: Action) -> Result<(), NetworkError> {
    if allows(caller, action.rule()) {
        Ok(())
    } else {
        Err(NetworkError::Forbidden(action.name()))
    }
}
