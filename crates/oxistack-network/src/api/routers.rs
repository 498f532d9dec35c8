//! A router's actions: interfaces and static routes.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use oxistack_auth::Caller;
use oxistack_http::{ApiError, JsonBody};
use serde_json::json;

use super::Service;
use crate::service::Resource;
use crate::wire::{ExtraRoutesBody, InterfaceRequest};

pub async fn add_interface(
    State(service): Service,
    Caller(caller): Caller,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<InterfaceRequest>,
) -> Result<Response, ApiError> {
    let info = service.add_router_interface(&caller, &id, request).await?;
    Ok(Json(info).into_response())
}

pub async fn remove_interface(
    State(service): Service,
    Caller(caller): Caller,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<InterfaceRequest>,
) -> Result<Response, ApiError> {
    let info = service
        .remove_router_interface(&caller, &id, request)
        .await?;
    Ok(Json(info).into_response())
}

pub async fn add_extra_routes(
    State(service): Service,
    Caller(caller): Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ExtraRoutesBody>,
) -> Result<Response, ApiError> {
    let router = service
        .change_extra_routes(&caller, &id, body.router, true)
        .await?;
    Ok(Json(json!({ "router": router.document(caller.is_admin()) })).into_response())
}

pub async fn remove_extra_routes(
    State(service): Service,
    Caller(caller): Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ExtraRoutesBody>,
) -> Result<Response, ApiError> {
    let router = service
        .change_extra_routes(&caller, &id, body.router, false)
        .await?;
    Ok(Json(json!({ "router": router.document(caller.is_admin()) })).into_response())
}
