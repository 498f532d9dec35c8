//! Why a provider refused or failed a contract call, in terms a consumer
//! can branch on (`NotFound` is "no such thing", not "status 404") and
//! that it renders in its own API's format.

use oxistack_http::ApiError;

/// Any error, kept as a cause.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A contract call's failure. The messages of the client-facing variants
/// are written for the end user and passed on unchanged.
#[derive(Debug, thiserror::Error)]
pub enum ContractError {
    /// The thing named does not exist or the caller cannot see it.
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the current state (an address in use,
    /// an exhausted allocation pool, a quota reached).
    #[error("{0}")]
    Conflict(String),
    /// The request itself is wrong (a bad address, a port without port
    /// security given a group).
    #[error("{0}")]
    Invalid(String),
    /// The caller may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The provider failed: its store or its data plane. Never the
    /// caller's fault; the cause is for the log.
    #[error("{what} failed: {source}")]
    Internal {
        what: &'static str,
        #[source]
        source: BoxError,
    },
}

impl ContractError {
    /// A provider failure while doing `what`, keeping its cause.
    pub fn internal(what: &'static str, source: impl Into<BoxError>) -> Self {
        ContractError::Internal {
            what,
            source: source.into(),
        }
    }
}

/// The one mapping to a client answer, for a consumer's HTTP boundary: the
/// client-facing variants keep their message, a provider failure is a 500
/// whose detail goes to the log only.
impl From<ContractError> for ApiError {
    fn from(error: ContractError) -> Self {
        match error {
            ContractError::NotFound(message) => ApiError::not_found(message),
            ContractError::Conflict(message) => ApiError::conflict(message),
            ContractError::Invalid(message) => ApiError::bad_request(message),
            ContractError::Forbidden(message) => ApiError::forbidden(message),
            internal @ ContractError::Internal { .. } => ApiError::internal(internal),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_facing_errors_keep_their_message_and_status() {
        let cases = [
            (
                ContractError::NotFound("Port p could not be found.".into()),
                404,
            ),
            (ContractError::Conflict("IP address in use.".into()), 409),
            (ContractError::Invalid("Invalid input.".into()), 400),
            (ContractError::Forbidden("Not allowed.".into()), 403),
        ];
        for (error, status) in cases {
            let message = error.to_string();
            let api = ApiError::from(error);
            assert_eq!(api.status.as_u16(), status);
            assert_eq!(api.message, message);
        }
    }

    #[test]
    fn a_provider_failure_keeps_its_cause_but_never_shows_it() {
        let error = ContractError::internal(
            "applying the network",
            std::io::Error::other("nft: no such table"),
        );
        assert_eq!(
            error.to_string(),
            "applying the network failed: nft: no such table"
        );
        let source = std::error::Error::source(&error).expect("a cause");
        assert_eq!(source.to_string(), "nft: no such table");
        let api = ApiError::from(error);
        assert_eq!(api.status.as_u16(), 500);
        assert!(!api.message.contains("nft"), "{}", api.message);
    }
}
