//! The one mapping from the service's errors to Neutron's: a status and
//! the `type` Neutron's clients branch on. A failure of the service itself
//! is a 500 whose detail goes to the log only.

use axum::http::StatusCode;
use oxistack_http::ApiError;

use crate::errors::NetworkError;

impl From<NetworkError> for ApiError {
    fn from(error: NetworkError) -> Self {
        let status = match &error {
            NetworkError::NotFound { .. } | NetworkError::Missing { .. } => StatusCode::NOT_FOUND,
            NetworkError::InvalidInput { .. }
            | NetworkError::Refused { .. }
            | NetworkError::List(_) => StatusCode::BAD_REQUEST,
            NetworkError::Conflict { .. } | NetworkError::OverQuota(_) => StatusCode::CONFLICT,
            NetworkError::Forbidden(_) => StatusCode::FORBIDDEN,
            NetworkError::Storage(_) | NetworkError::Query(_) | NetworkError::Internal(_) => {
                return ApiError::internal(error);
            }
        };
        let api = ApiError::new(status, error.to_string());
        match error.neutron_type() {
            Some(kind) => api.with_kind(kind),
            None => api,
        }
    }
}
