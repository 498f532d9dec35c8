//! `/v3/users`

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use oxistack_auth::Caller;
use oxistack_http::{JsonBody, envelope};
use serde_json::Value;

use super::entity::Document;
use super::projects::project_list;
use super::{Result, State, V3, no_content, parse_bool};
use crate::model::User;
use crate::wire::{PasswordChange, UserCreate, UserView, collection, member, update_envelope};

/// Renders a list of users found at `self_url`.
pub fn user_list(users: Vec<User>, v3: &str, self_url: String) -> Json<Value> {
    let views = users.into_iter().map(|u| UserView::new(u, v3)).collect();
    Json(collection("users", views, self_url))
}

pub async fn list(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>> {
    let enabled = parse_bool("enabled", query.get("enabled"))?;
    let (name, domain_id) = (query.get("name").cloned(), query.get("domain_id").cloned());
    let users = service
        .list_users(&caller, name, domain_id, enabled)
        .await?;
    Ok(user_list(users, &v3, format!("{v3}/users")))
}

pub async fn show(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    let user = service.get_user(&caller, &id).await?;
    Ok(Json(member("user", UserView::new(user, &v3))))
}

pub async fn create(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
    JsonBody(body): JsonBody<Value>,
) -> Result<(StatusCode, Json<Value>)> {
    let request: UserCreate = envelope(body, "user")?;
    let user = service.create_user(&caller, request).await?;
    Ok((
        StatusCode::CREATED,
        Json(member("user", UserView::new(user, &v3))),
    ))
}

pub async fn update(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>> {
    let user = service
        .update_user(&caller, &id, update_envelope(body, "user")?)
        .await?;
    Ok(Json(member("user", UserView::new(user, &v3))))
}

pub async fn delete(
    axum::extract::State(service): State,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response> {
    service.delete_user(&caller, &id).await?;
    Ok(no_content())
}

/// `POST /v3/users/{id}/password`
pub async fn change_password(
    axum::extract::State(service): State,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response> {
    let request: PasswordChange = envelope(body, "user")?;
    service.change_password(&id, request).await?;
    Ok(no_content())
}

pub async fn projects(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    let projects = service.projects_of_user(&caller, &id).await?;
    Ok(project_list(
        projects,
        &v3,
        format!("{v3}/users/{id}/projects"),
    ))
}

pub async fn groups(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    let groups = service.groups_of_user(&caller, &id).await?;
    let views = groups.into_iter().map(|g| g.view(&v3)).collect();
    Ok(Json(collection(
        "groups",
        views,
        format!("{v3}/users/{id}/groups"),
    )))
}
