//! The one mapping from the service's errors to Cinder's answers: a status
//! and the refusal's own message (rendered as Cinder's fault document,
//! `{"badRequest": {"code": 400, "message": ...}}`, by the router's error
//! layer). A failure of the cloud is a 500 whose detail goes to the log.

use axum::http::StatusCode;
use oxistack_contracts::ContractError;
use oxistack_http::ApiError;

use crate::service::VolumeError;

impl From<VolumeError> for ApiError {
    fn from(error: VolumeError) -> Self {
        use VolumeError::*;
        let status = match &error {
            VolumeNotFound(_)
            | SnapshotNotFound(_)
            | TypeNotFound(_)
            | AttachmentNotFound(_)
            | ImageNotFound(_)
            | Missing(_) => StatusCode::NOT_FOUND,
            InvalidVolume(_) | InvalidSnapshot(_) | InvalidInput(_) | InvalidType(_)
            | BadRequest(_) | List(_) => StatusCode::BAD_REQUEST,
            Conflict(_) => StatusCode::CONFLICT,
            OverQuota(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Forbidden(_) => StatusCode::FORBIDDEN,
            Contract(ContractError::Internal { .. }) | Storage(_) | Backend(_) | Internal(_) => {
                return ApiError::internal(error);
            }
            Contract(_) => {
                let Contract(contract) = error else {
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

    #[test]
    fn refusals_keep_cinders_words() {
        assert_refusals_keep_their_message([
            (VolumeError::VolumeNotFound("x".into()), 404),
            (VolumeError::InvalidVolume("busy".into()), 400),
            (VolumeError::size_quota("gigabytes", 5, 10, 8), 413),
            (VolumeError::Forbidden("volume:get"), 403),
            (VolumeError::Conflict("exists".into()), 409),
        ]);
        assert_eq!(
            VolumeError::VolumeNotFound("x".into()).to_string(),
            "Volume x could not be found."
        );
        assert_failure_hides(VolumeError::Internal("/var/lib/secret".into()), "secret");
    }
}
