//! The load-balancer service's refusals and failures, knowing nothing of
//! HTTP: each refusal carries the message Octavia gives (its exception
//! classes' texts), a failure of the cloud keeps its cause for the log.

use oxistack_contracts::ContractError;
use oxistack_db::DbError;
use oxistack_list::ListError;

use crate::model::Kind;

#[derive(Debug, thiserror::Error)]
pub enum LbError {
    /// Octavia's `NotFound` (also for what the caller may not see).
    #[error("{} {id} not found.", kind.title())]
    NotFound { kind: Kind, id: String },
    /// Octavia's `NotFound` of what has no [`Kind`] (flavors, zones).
    #[error("{0}")]
    Missing(String),
    /// Octavia's `ValidationException`.
    #[error("Validation failure: {0}")]
    Validation(String),
    /// A request Octavia refuses with a 400 of its own wording (WSME's
    /// `Invalid input for field/attribute ...`, `InvalidOption`,
    /// `ProviderNotEnabled`, `CertificateRetrievalException`).
    #[error("{0}")]
    Invalid(String),
    /// A change a load balancer's state refuses now (Octavia's
    /// `LBPendingStateError`, `ImmutableObject`) or a duplicate
    /// (`DuplicateListenerEntry`, `DuplicateMemberEntry`, ...).
    #[error("{0}")]
    Conflict(String),
    /// Octavia's `QuotaException`.
    #[error("Quota has been met for resources: {0}")]
    Quota(&'static str),
    /// Octavia's `PolicyForbidden`.
    #[error("Policy does not allow this request to be performed.")]
    Forbidden,
    #[error(transparent)]
    List(#[from] ListError),
    /// Networking refused or failed a call made for the request.
    #[error(transparent)]
    Networking(#[from] ContractError),
    #[error("the database failed: {0}")]
    Storage(#[from] DbError),
    #[error("the service failed: {0}")]
    Internal(String),
}

impl From<oxistack_db::rusqlite::Error> for LbError {
    fn from(error: oxistack_db::rusqlite::Error) -> Self {
        LbError::Storage(DbError::from(error))
    }
}

impl LbError {
    pub fn not_found(kind: Kind, id: &str) -> LbError {
        LbError::NotFound {
            kind,
            id: id.to_owned(),
        }
    }

    /// WSME's refusal of one attribute's value.
    pub fn field(field: &str, value: impl std::fmt::Display, why: &str) -> LbError {
        LbError::Invalid(format!(
            "Invalid input for field/attribute {field}. Value: '{value}'. {why}"
        ))
    }

    /// WSME's refusal of a mandatory attribute left out.
    pub fn missing(field: &str) -> LbError {
        LbError::field(field, "None", "Mandatory field missing.")
    }

    /// Octavia's `InvalidOption`.
    pub fn option(value: impl std::fmt::Display, option: &str) -> LbError {
        LbError::Invalid(format!("{value} is not a valid option for {option}"))
    }

    /// Octavia's `ProviderUnsupportedOptionError`, for what the data plane
    /// cannot do; a 400 here, as it is the request that asks too much.
    pub fn unsupported(what: impl std::fmt::Display) -> LbError {
        LbError::Invalid(format!(
            "Provider 'oxistack' does not support a requested option: {what}"
        ))
    }
}
