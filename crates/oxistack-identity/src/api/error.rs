//! The one place an [`IdentityError`] becomes Keystone's JSON error:
//! refusals keep their message under their status, the cloud's own
//! failures are a 500 whose cause goes to the log only.

use oxistack_http::ApiError;

use crate::service::IdentityError;

impl From<IdentityError> for ApiError {
    fn from(error: IdentityError) -> Self {
        let message = error.to_string();
        match error {
            IdentityError::NotFound(_) => ApiError::not_found(message),
            IdentityError::Invalid(_) => ApiError::bad_request(message),
            IdentityError::Duplicate { .. } | IdentityError::Conflict(_) => {
                ApiError::conflict(message)
            }
            IdentityError::Forbidden(_) => ApiError::forbidden(message),
            IdentityError::Unauthenticated | IdentityError::Unauthorized(_) => {
                ApiError::unauthorized(message)
            }
            failure @ (IdentityError::Storage(_) | IdentityError::Internal { .. }) => {
                ApiError::internal(failure)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxistack_testkit::{assert_failure_hides, assert_refusals_keep_their_message};

    #[test]
    fn refusals_keep_their_message_and_failures_hide_their_cause() {
        assert_refusals_keep_their_message([
            (IdentityError::not_found("project", "p"), 404),
            (IdentityError::invalid("Invalid input for field 'x'."), 400),
            (
                IdentityError::Duplicate {
                    kind: "user",
                    name: "admin".into(),
                },
                409,
            ),
            (
                IdentityError::Conflict("Domain d still holds projects.".into()),
                409,
            ),
            (
                IdentityError::forbidden("The default domain cannot be deleted."),
                403,
            ),
            (IdentityError::Unauthenticated, 401),
            (
                IdentityError::Unauthorized("Unsupported method.".into()),
                401,
            ),
        ]);
        let failure = IdentityError::internal(
            "hashing a password",
            std::io::Error::other("/var/lib/secret"),
        );
        assert_failure_hides(failure, "secret");
    }
}
