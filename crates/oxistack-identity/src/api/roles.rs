//! `/v3/roles` and role implication (`admin` implies `member` implies `reader`).

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use oxistack_auth::Caller;
use serde::Serialize;
use serde_json::{Value, json};

use super::entity::Document;
use super::{Result, State, V3, no_content};
use crate::model::Role;
use crate::service::RoleInference;
use crate::wire::{RoleView, SelfLink, collection, member};

impl Document for Role {
    type View = RoleView;
    fn view(self, v3: &str) -> RoleView {
        RoleView::new(self, v3)
    }
}

/// Renders a list of roles found at `self_url`.
pub fn role_list(roles: Vec<Role>, v3: &str, self_url: String) -> Json<Value> {
    let views = roles.into_iter().map(|r| r.view(v3)).collect();
    Json(collection("roles", views, self_url))
}

pub async fn list(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>> {
    let roles = service
        .list_roles(&caller, query.get("name").cloned())
        .await?;
    Ok(role_list(roles, &v3, format!("{v3}/roles")))
}

pub async fn show(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    let role = service.get_role(&caller, &id).await?;
    Ok(Json(member("role", role.view(&v3))))
}

pub async fn delete(
    axum::extract::State(service): State,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response> {
    service.delete_role(&caller, &id).await?;
    Ok(no_content())
}

#[derive(Serialize)]
struct RoleLink {
    id: String,
    name: String,
    links: SelfLink,
}

fn role_link(role: Role, v3: &str) -> RoleLink {
    RoleLink {
        links: SelfLink::to(v3, "roles", &role.id),
        id: role.id,
        name: role.name,
    }
}

fn inference(inference: RoleInference, v3: &str) -> Value {
    let implies: Vec<_> = inference
        .implies
        .into_iter()
        .map(|r| role_link(r, v3))
        .collect();
    json!({"prior_role": role_link(inference.prior, v3), "implies": implies})
}

/// One implication: `{"role_inference": {"prior_role": ..., "implies": ...}}`.
fn implication((prior, implied): (Role, Role), v3: &str) -> Json<Value> {
    Json(
        json!({"role_inference": {"prior_role": role_link(prior, v3), "implies": role_link(implied, v3)}}),
    )
}

type Implication = Path<(String, String)>;

/// `GET /v3/roles/{id}/implies`
pub async fn list_implied(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    let implied = service.implied_roles(&caller, &id).await?;
    Ok(Json(json!({"role_inference": inference(implied, &v3)})))
}

/// `PUT /v3/roles/{id}/implies/{implied_id}`
pub async fn add_implied(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
    Path((prior_id, implied_id)): Implication,
) -> Result<(StatusCode, Json<Value>)> {
    let roles = service
        .add_implied_role(&caller, &prior_id, &implied_id)
        .await?;
    Ok((StatusCode::CREATED, implication(roles, &v3)))
}

/// `GET /v3/roles/{id}/implies/{implied_id}`
pub async fn show_implied(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
    Path((prior_id, implied_id)): Implication,
) -> Result<Json<Value>> {
    let roles = service
        .check_implied_role(&caller, &prior_id, &implied_id)
        .await?;
    Ok(implication(roles, &v3))
}

/// `HEAD /v3/roles/{id}/implies/{implied_id}`: 204 if the implication
/// exists, as Keystone answers a check.
pub async fn check_implied(
    axum::extract::State(service): State,
    caller: Caller,
    Path((prior_id, implied_id)): Implication,
) -> Result<Response> {
    service
        .check_implied_role(&caller, &prior_id, &implied_id)
        .await?;
    Ok(no_content())
}

pub async fn remove_implied(
    axum::extract::State(service): State,
    caller: Caller,
    Path((prior_id, implied_id)): Implication,
) -> Result<Response> {
    service
        .remove_implied_role(&caller, &prior_id, &implied_id)
        .await?;
    Ok(no_content())
}

/// `GET /v3/role_inferences`: every role that implies others.
pub async fn inferences(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
) -> Result<Json<Value>> {
    let inferences: Vec<Value> = service
        .role_inferences(&caller)
        .await?
        .into_iter()
        .map(|i| inference(i, &v3))
        .collect();
    Ok(Json(
        json!({"role_inferences": inferences, "links": {"self": format!("{v3}/role_inferences")}}),
    ))
}
