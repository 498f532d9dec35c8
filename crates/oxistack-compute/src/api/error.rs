//! The one place a [`ComputeError`] becomes Nova's JSON error: refusals
//! keep their message under their status, the cloud's own failures are a
//! 500 whose cause goes to the log only.

use oxistack_http::ApiError;

use crate::service::ComputeError;

impl From<ComputeError> for ApiError {
    fn from(error: ComputeError) -> Self {
        match error {
            ComputeError::NotFound(message) => ApiError::not_found(message),
            ComputeError::Invalid(message) => ApiError::bad_request(message),
            ComputeError::Conflict(message) => ApiError::conflict(message),
            ComputeError::Forbidden(message) => ApiError::forbidden(message),
            ComputeError::Unauthorized(message) => ApiError::unauthorized(message),
            ComputeError::Contract(error) => error.into(),
            failure @ (ComputeError::Storage(_) | ComputeError::Internal { .. }) => {
                ApiError::internal(failure)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxistack_contracts::ContractError;

    #[test]
    fn refusals_keep_their_message_and_failures_hide_their_cause() {
        for (error, status) in [
            (ComputeError::not_found("Flavor x could not be found."), 404),
            (ComputeError::invalid("Invalid input for field 'x'."), 400),
            (ComputeError::conflict("Key pair 'k' already exists."), 409),
            (ComputeError::forbidden("Quota exceeded."), 403),
            (
                ContractError::NotFound("Port p could not be found.".into()).into(),
                404,
            ),
        ] {
            let message = error.to_string();
            let api = ApiError::from(error);
            assert_eq!((api.status.as_u16(), api.message), (status, message));
        }
        let failure = ComputeError::internal(
            "reading the console",
            std::io::Error::other("/var/lib/secret"),
        );
        let api = ApiError::from(failure);
        assert_eq!(api.status.as_u16(), 500);
        assert!(!api.message.contains("secret"), "{}", api.message);
    }
}
