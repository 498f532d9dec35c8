//! Sharing: the projects a shared image is offered to, and their answers.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use oxistack_auth::Caller;
use oxistack_http::{ApiError, JsonBody};

use super::{Service, image_id};
use crate::model::MemberStatus;
use crate::wire::{self, AddMember, MemberList, MemberView, UpdateMember};

pub async fn list(
    State(service): Service,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let members = service.members(&caller, image_id(&id)?).await?;
    let list = MemberList {
        members: members.iter().map(MemberView::from).collect(),
        schema: wire::MEMBERS_SCHEMA,
    };
    Ok(Json(list).into_response())
}

pub async fn add(
    State(service): Service,
    Caller(caller): Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<AddMember>,
) -> Result<Response, ApiError> {
    let member = service
        .add_member(&caller, image_id(&id)?, body.member)
        .await?;
    Ok(Json(MemberView::from(&member)).into_response())
}

pub async fn show(
    State(service): Service,
    Caller(caller): Caller,
    Path((id, member_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let member = service.member(&caller, image_id(&id)?, &member_id).await?;
    Ok(Json(MemberView::from(&member)).into_response())
}

pub async fn update(
    State(service): Service,
    Caller(caller): Caller,
    Path((id, member_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<UpdateMember>,
) -> Result<Response, ApiError> {
    let status = MemberStatus::parse(&body.status).ok_or_else(|| {
        ApiError::bad_request(format!(
            "Invalid member status '{}'. It must be one of: pending, accepted, rejected.",
            body.status
        ))
    })?;
    let member = service
        .update_member(&caller, image_id(&id)?, &member_id, status)
        .await?;
    Ok(Json(MemberView::from(&member)).into_response())
}

pub async fn remove(
    State(service): Service,
    Caller(caller): Caller,
    Path((id, member_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    service
        .remove_member(&caller, image_id(&id)?, &member_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
