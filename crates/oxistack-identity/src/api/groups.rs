//! `/v3/groups` and group membership.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query};
use axum::response::Response;
use oxistack_auth::Caller;
use serde_json::Value;

use super::entity::Document;
use super::users::user_list;
use super::{Result, State, V3, no_content};
use crate::model::Group;
use crate::wire::{GroupView, collection, member};

impl Document for Group {
    type View = GroupView;
    fn view(self, v3: &str) -> GroupView {
        GroupView::new(self, v3)
    }
}

pub async fn list(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>> {
    let (name, domain_id) = (query.get("name").cloned(), query.get("domain_id").cloned());
    let groups = service.list_groups(&caller, name, domain_id).await?;
    let views = groups.into_iter().map(|g| g.view(&v3)).collect();
    Ok(Json(collection("groups", views, format!("{v3}/groups"))))
}

pub async fn show(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    let group = service.get_group(&caller, &id).await?;
    Ok(Json(member("group", group.view(&v3))))
}

pub async fn delete(
    axum::extract::State(service): State,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response> {
    service.delete_group(&caller, &id).await?;
    Ok(no_content())
}

pub async fn members(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    let users = service.group_members(&caller, &id).await?;
    Ok(user_list(users, &v3, format!("{v3}/groups/{id}/users")))
}

type Membership = Path<(String, String)>;

pub async fn add_member(
    axum::extract::State(service): State,
    caller: Caller,
    Path((group_id, user_id)): Membership,
) -> Result<Response> {
    service
        .add_group_member(&caller, &group_id, &user_id)
        .await?;
    Ok(no_content())
}

pub async fn check_member(
    axum::extract::State(service): State,
    caller: Caller,
    Path((group_id, user_id)): Membership,
) -> Result<Response> {
    service
        .check_group_member(&caller, &group_id, &user_id)
        .await?;
    Ok(no_content())
}

pub async fn remove_member(
    axum::extract::State(service): State,
    caller: Caller,
    Path((group_id, user_id)): Membership,
) -> Result<Response> {
    service
        .remove_group_member(&caller, &group_id, &user_id)
        .await?;
    Ok(no_content())
}
