//! `/v3/groups` and group membership.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query};
use axum::response::Response;
use oxistack_auth::{Action, Caller, authorize};
use oxistack_http::ApiError;
use serde_json::Value;

use super::entity::Entity;
use super::projects::{default_domain, require_domain};
use super::{State, V3, no_content};
use crate::model::{self, Filtered, Group, Result, User, new_id, require};
use crate::wire::{GroupCreate, GroupUpdate, GroupView, UserView, collection, member};
use oxistack_db::rusqlite::{self, Connection, params};

pub async fn list(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>> {
    authorize(&caller, Action::ManageGroups)?;
    let (name, domain_id) = (query.get("name").cloned(), query.get("domain_id").cloned());
    let groups = service
        .read(move |conn| {
            Filtered::select(model::GROUP_COLUMNS, "groups")
                .eq("name", name)
                .eq("domain_id", domain_id)
                .all(conn, Group::from_row)
        })
        .await?;
    let views = groups.into_iter().map(|g| GroupView::new(g, &v3)).collect();
    Ok(Json(collection("groups", views, format!("{v3}/groups"))))
}

pub async fn show(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    authorize(&caller, Action::ManageGroups)?;
    let wanted = id.clone();
    let group = service
        .read(move |conn| model::group(conn, &wanted))
        .await?;
    Ok(Json(member(
        "group",
        GroupView::new(require(group, "group", &id)?, &v3),
    )))
}

impl Entity for Group {
    const KIND: &'static str = "group";
    const MANAGE: Action = Action::ManageGroups;
    type Create = GroupCreate;
    type Update = GroupUpdate;
    type View = GroupView;

    fn name(&self) -> &str {
        &self.name
    }

    fn from_create(request: GroupCreate, caller: &Caller) -> Result<Self> {
        Ok(Group {
            id: new_id(),
            name: request.name,
            domain_id: request.domain_id.unwrap_or_else(|| default_domain(caller)),
            description: request.description.unwrap_or_default(),
        })
    }

    fn renamed(update: &GroupUpdate) -> Option<&str> {
        update.name.as_deref()
    }

    fn apply(&mut self, update: GroupUpdate) -> Result<()> {
        if let Some(name) = update.name {
            self.name = name;
        }
        if let Some(description) = update.description {
            self.description = description;
        }
        Ok(())
    }

    fn check_references(&self, conn: &Connection) -> Result<()> {
        require_domain(conn, "group", &self.domain_id)
    }

    fn load(conn: &Connection, id: &str) -> Result<Option<Self>> {
        model::group(conn, id)
    }

    fn insert(&self, conn: &Connection) -> rusqlite::Result<()> {
        conn.execute(
            "INSERT INTO groups (id, name, domain_id, description) VALUES (?1, ?2, ?3, ?4)",
            params![self.id, self.name, self.domain_id, self.description],
        )
        .map(drop)
    }

    fn save(&self, conn: &Connection) -> rusqlite::Result<()> {
        conn.execute(
            "UPDATE groups SET name = ?2, description = ?3 WHERE id = ?1",
            params![self.id, self.name, self.description],
        )
        .map(drop)
    }

    fn view(self, v3: &str) -> GroupView {
        GroupView::new(self, v3)
    }
}

/// Deleting a group revokes its members' tokens: they may have lost roles.
pub async fn delete(
    axum::extract::State(service): State,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response> {
    authorize(&caller, Action::ManageGroups)?;
    let issuer = service.clone();
    service
        .change(move |tx| {
            require(model::group(tx, &id)?, "group", &id)?;
            issuer.tokens.revoke_group_members(tx, &id, None)?;
            tx.execute(
                "DELETE FROM assignments WHERE actor_kind = 'group' AND actor_id = ?1",
                [&id],
            )?;
            tx.execute("DELETE FROM groups WHERE id = ?1", [&id])?;
            Ok(())
        })
        .await?;
    Ok(no_content())
}

pub async fn members(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    authorize(&caller, Action::ManageGroups)?;
    let wanted = id.clone();
    let users = service
        .read(move |conn| {
            require(model::group(conn, &wanted)?, "group", &wanted)?;
            Filtered::select(model::USER_COLUMNS, "users")
                .condition(
                    "id IN (SELECT user_id FROM group_members WHERE group_id = ?)",
                    wanted,
                )
                .all(conn, User::from_row)
        })
        .await?;
    let views = users.into_iter().map(|u| UserView::new(u, &v3)).collect();
    Ok(Json(collection(
        "users",
        views,
        format!("{v3}/groups/{id}/users"),
    )))
}

/// Both ends of a membership must exist, else 404 naming the missing one.
fn require_both(
    conn: &oxistack_db::rusqlite::Connection,
    group_id: &str,
    user_id: &str,
) -> Result<()> {
    require(model::group(conn, group_id)?, "group", group_id)?;
    require(model::user(conn, user_id)?, "user", user_id)?;
    Ok(())
}

pub async fn add_member(
    axum::extract::State(service): State,
    caller: Caller,
    Path((group_id, user_id)): Path<(String, String)>,
) -> Result<Response> {
    authorize(&caller, Action::ManageGroups)?;
    service
        .change(move |tx| {
            require_both(tx, &group_id, &user_id)?;
            tx.execute(
                "INSERT OR IGNORE INTO group_members (group_id, user_id) VALUES (?1, ?2)",
                [&group_id, &user_id],
            )?;
            Ok(())
        })
        .await?;
    Ok(no_content())
}

pub async fn check_member(
    axum::extract::State(service): State,
    caller: Caller,
    Path((group_id, user_id)): Path<(String, String)>,
) -> Result<Response> {
    authorize(&caller, Action::ManageGroups)?;
    let is_member = service
        .read(move |conn| {
            require_both(conn, &group_id, &user_id)?;
            let count: i64 = conn.query_row(
                "SELECT count(*) FROM group_members WHERE group_id = ?1 AND user_id = ?2",
                [&group_id, &user_id],
                |row| row.get(0),
            )?;
            Ok(count > 0)
        })
        .await?;
    if !is_member {
        return Err(ApiError::not_found(
            "The user is not a member of the group.",
        ));
    }
    Ok(no_content())
}

/// Removing a member revokes the user's tokens: they may have lost roles.
pub async fn remove_member(
    axum::extract::State(service): State,
    caller: Caller,
    Path((group_id, user_id)): Path<(String, String)>,
) -> Result<Response> {
    authorize(&caller, Action::ManageGroups)?;
    let issuer = service.clone();
    service
        .change(move |tx| {
            require_both(tx, &group_id, &user_id)?;
            let removed = tx.execute(
                "DELETE FROM group_members WHERE group_id = ?1 AND user_id = ?2",
                [&group_id, &user_id],
            )?;
            if removed == 0 {
                return Err(ApiError::not_found(
                    "The user is not a member of the group.",
                ));
            }
            issuer.tokens.revoke_user(tx, &user_id, None)
        })
        .await?;
    Ok(no_content())
}
