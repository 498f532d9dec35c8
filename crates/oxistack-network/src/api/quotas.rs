//! `/v2.0/quotas`: per-project limits.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use oxistack_auth::Caller;
use oxistack_http::{ApiError, JsonBody, envelope};
use serde_json::{Map, Value, json};

use super::Service;
use crate::service::not_a_limit;

/// Projects with limits of their own (administrator only).
pub async fn list(State(service): Service, Caller(caller): Caller) -> Result<Response, ApiError> {
    let quotas: Vec<Value> = service
        .quotas(&caller)
        .await?
        .into_iter()
        .map(|(project, limits)| {
            let mut quota = json!(limits);
            quota["project_id"] = json!(project);
            quota["tenant_id"] = json!(project);
            quota
        })
        .collect();
    Ok(Json(json!({ "quotas": quotas })).into_response())
}

pub async fn show(
    State(service): Service,
    Caller(caller): Caller,
    Path(project): Path<String>,
) -> Result<Response, ApiError> {
    let limits = service.quota(&caller, &project).await?;
    Ok(Json(json!({ "quota": limits })).into_response())
}

pub async fn details(
    State(service): Service,
    Caller(caller): Caller,
    Path(project): Path<String>,
) -> Result<Response, ApiError> {
    let usage = service.quota_details(&caller, &project).await?;
    Ok(Json(json!({ "quota": usage })).into_response())
}

pub async fn defaults(
    State(service): Service,
    Caller(caller): Caller,
) -> Result<Response, ApiError> {
    let limits = service.quota_defaults(&caller)?;
    Ok(Json(json!({ "quota": limits })).into_response())
}

/// `PUT /v2.0/quotas/{project}` with `{"quota": {"network": 10, ...}}`.
pub async fn update(
    State(service): Service,
    Caller(caller): Caller,
    Path(project): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let changes: Map<String, Value> = envelope(body, "quota")?;
    let changes = changes
        .into_iter()
        .map(|(resource, value)| {
            // Python clients may send numbers as text.
            let limit = match &value {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.parse().ok(),
                _ => None,
            };
            limit
                .map(|limit| (resource.clone(), limit))
                .ok_or_else(|| not_a_limit(&resource, &value))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let limits = service.update_quota(&caller, &project, changes).await?;
    Ok(Json(json!({ "quota": limits })).into_response())
}

pub async fn reset(
    State(service): Service,
    Caller(caller): Caller,
    Path(project): Path<String>,
) -> Result<StatusCode, ApiError> {
    service.reset_quota(&caller, &project).await?;
    Ok(StatusCode::NO_CONTENT)
}
