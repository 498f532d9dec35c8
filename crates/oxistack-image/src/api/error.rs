//! The one place an [`ImageError`] becomes Glance's JSON error: refusals
//! keep their message under their status, the cloud's own failures are a
//! 500 whose cause goes to the log only.

use axum::http::StatusCode;
use oxistack_http::ApiError;

use crate::ImageError;

impl From<ImageError> for ApiError {
    fn from(error: ImageError) -> Self {
        match error {
            ImageError::NotFound(message) => ApiError::not_found(message),
            ImageError::Invalid(message) => ApiError::bad_request(message),
            ImageError::Conflict(message) => ApiError::conflict(message),
            ImageError::Forbidden(message) => ApiError::forbidden(message),
            ImageError::Gone(message) => ApiError::new(StatusCode::GONE, message),
            failure @ (ImageError::Storage(_) | ImageError::Internal { .. }) => {
                ApiError::internal(failure)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_keep_their_message_and_failures_hide_their_cause() {
        for (error, status) in [
            (ImageError::not_found("No image found with ID x."), 404),
            (ImageError::invalid("Invalid value for 'min_ram'."), 400),
            (ImageError::conflict("Image x already exists."), 409),
            (ImageError::forbidden("Attribute 'size' is read-only."), 403),
            (ImageError::Gone("Image x was deleted.".into()), 410),
        ] {
            let message = error.to_string();
            let api = ApiError::from(error);
            assert_eq!((api.status.as_u16(), api.message), (status, message));
        }
        let failure =
            ImageError::internal("writing image x", std::io::Error::other("/var/lib/secret"));
        let api = ApiError::from(failure);
        assert_eq!(api.status.as_u16(), 500);
        assert!(!api.message.contains("secret"), "{}", api.message);
    }
}
