//! The one mapping from the service's errors to Octavia's answers: a
//! status and the refusal's own message (rendered as WSME's fault by the
//! router's error layer). A failure of the cloud is a 500 whose detail
//! goes to the log only.

use axum::http::StatusCode;
use oxistack_contracts::ContractError;
use oxistack_http::ApiError;

use crate::service::LbError;

impl From<LbError> for ApiError {
    fn from(error: LbError) -> Self {
        let status = match &error {
            LbError::NotFound { .. } | LbError::Missing(_) => StatusCode::NOT_FOUND,
            LbError::Validation(_) | LbError::Invalid(_) | LbError::List(_) => {
                StatusCode::BAD_REQUEST
            }
            LbError::Conflict(_) => StatusCode::CONFLICT,
            LbError::Forbidden | LbError::Quota(_) => StatusCode::FORBIDDEN,
            LbError::Networking(ContractError::Internal { .. })
            | LbError::Storage(_)
            | LbError::Internal(_) => return ApiError::internal(error),
            LbError::Networking(_) => {
                let LbError::Networking(contract) = error else {
                    unreachable!("matched above")
                };
                return contract.into();
            }
        };
        ApiError::new(status, error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use oxistack_testkit::{assert_failure_hides, assert_refusals_keep_their_message};

    use super::*;
    use crate::model::Kind;

    #[test]
    fn refusals_keep_octavias_words() {
        assert_refusals_keep_their_message([
            (LbError::not_found(Kind::LoadBalancer, "x"), 404),
            (LbError::Validation("no".into()), 400),
            (LbError::Conflict("busy".into()), 409),
            (LbError::Forbidden, 403),
            (
                LbError::Networking(ContractError::Conflict("in use".into())),
                409,
            ),
        ]);
        assert_eq!(
            LbError::not_found(Kind::HealthMonitor, "x").to_string(),
            "Health Monitor x not found."
        );
        assert_failure_hides(LbError::Internal("/var/lib/secret".into()), "secret");
    }
}
