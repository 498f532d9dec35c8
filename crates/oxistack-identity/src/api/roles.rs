//! `/v3/roles` and role implication (`admin` implies `member` implies `reader`).

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use oxistack_auth::{Action, Caller, authorize};
use oxistack_http::ApiError;
use serde::Serialize;
use serde_json::{Value, json};

use super::entity::Entity;
use super::{State, V3, no_content};
use crate::model::{self, Filtered, Result, Role, new_id, require};
use crate::wire::{RoleCreate, RoleUpdate, RoleView, SelfLink, collection, member};
use oxistack_db::rusqlite::{self, Connection, params};

pub async fn list(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>> {
    authorize(&caller, Action::ListRoles)?;
    let name = query.get("name").cloned();
    let roles = service
        .read(move |conn| {
            Filtered::select(model::ROLE_COLUMNS, "roles")
                .eq("name", name)
                .all(conn, Role::from_row)
        })
        .await?;
    let views = roles.into_iter().map(|r| RoleView::new(r, &v3)).collect();
    Ok(Json(collection("roles", views, format!("{v3}/roles"))))
}

pub async fn show(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    authorize(&caller, Action::ListRoles)?;
    let wanted = id.clone();
    let role = service.read(move |conn| model::role(conn, &wanted)).await?;
    Ok(Json(member(
        "role",
        RoleView::new(require(role, "role", &id)?, &v3),
    )))
}

impl Entity for Role {
    const KIND: &'static str = "role";
    const MANAGE: Action = Action::ManageRoles;
    type Create = RoleCreate;
    type Update = RoleUpdate;
    type View = RoleView;

    fn name(&self) -> &str {
        &self.name
    }

    fn from_create(request: RoleCreate, _caller: &Caller) -> Result<Self> {
        if request.domain_id.is_some() {
            return Err(ApiError::bad_request(
                "Invalid input for field 'role.domain_id': domain-specific roles are not supported.",
            ));
        }
        Ok(Role {
            id: new_id(),
            name: request.name,
            description: request.description.unwrap_or_default(),
        })
    }

    fn renamed(update: &RoleUpdate) -> Option<&str> {
        update.name.as_deref()
    }

    fn apply(&mut self, update: RoleUpdate) -> Result<()> {
        if let Some(name) = update.name {
            self.name = name;
        }
        if let Some(description) = update.description {
            self.description = description;
        }
        Ok(())
    }

    fn load(conn: &Connection, id: &str) -> Result<Option<Self>> {
        model::role(conn, id)
    }

    fn insert(&self, conn: &Connection) -> rusqlite::Result<()> {
        conn.execute(
            "INSERT INTO roles (id, name, description) VALUES (?1, ?2, ?3)",
            params![self.id, self.name, self.description],
        )
        .map(drop)
    }

    fn save(&self, conn: &Connection) -> rusqlite::Result<()> {
        conn.execute(
            "UPDATE roles SET name = ?2, description = ?3 WHERE id = ?1",
            params![self.id, self.name, self.description],
        )
        .map(drop)
    }

    fn view(self, v3: &str) -> RoleView {
        RoleView::new(self, v3)
    }
}

/// Deleting a role removes its assignments and implications with it.
pub async fn delete(
    axum::extract::State(service): State,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response> {
    authorize(&caller, Action::ManageRoles)?;
    service
        .change(move |tx| {
            require(model::role(tx, &id)?, "role", &id)?;
            tx.execute("DELETE FROM roles WHERE id = ?1", [&id])?;
            Ok(())
        })
        .await?;
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
        links: SelfLink {
            self_: format!("{v3}/roles/{}", role.id),
        },
        id: role.id,
        name: role.name,
    }
}

fn implied_by(conn: &Connection, prior_id: &str) -> Result<Vec<Role>> {
    Filtered::select(model::ROLE_COLUMNS, "roles")
        .condition(
            "id IN (SELECT implied_role_id FROM implied_roles WHERE prior_role_id = ?)",
            prior_id.to_owned(),
        )
        .all(conn, Role::from_row)
}

fn implication_exists(
    conn: &Connection,
    prior_id: &str,
    implied_id: &str,
) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT count(*) FROM implied_roles WHERE prior_role_id = ?1 AND implied_role_id = ?2",
        [prior_id, implied_id],
        |row| row.get::<_, i64>(0),
    )
    .map(|n| n > 0)
}

fn implication_not_found(prior_id: &str, implied_id: &str) -> ApiError {
    ApiError::not_found(format!("{prior_id} does not imply {implied_id}."))
}

/// `GET /v3/roles/{id}/implies`
pub async fn list_implied(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    authorize(&caller, Action::ListRoles)?;
    let (prior, implied) = service
        .read(move |conn| {
            let prior = require(model::role(conn, &id)?, "role", &id)?;
            let implied = implied_by(conn, &prior.id)?;
            Ok((prior, implied))
        })
        .await?;
    let implies: Vec<_> = implied.into_iter().map(|r| role_link(r, &v3)).collect();
    Ok(Json(
        json!({"role_inference": {"prior_role": role_link(prior, &v3), "implies": implies}}),
    ))
}

/// `PUT /v3/roles/{id}/implies/{implied_id}`. Cycles are refused: a role
/// that already follows from the implied one cannot imply it.
pub async fn add_implied(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
    Path((prior_id, implied_id)): Path<(String, String)>,
) -> Result<(StatusCode, Json<Value>)> {
    authorize(&caller, Action::ManageRoles)?;
    let (prior, implied) = service
        .change(move |tx| {
            let prior = require(model::role(tx, &prior_id)?, "role", &prior_id)?;
            let implied = require(model::role(tx, &implied_id)?, "role", &implied_id)?;
            let reachable = model::expand_implied(tx, std::slice::from_ref(&implied.id))?;
            if reachable.iter().any(|r| r.id == prior.id) {
                return Err(ApiError::forbidden(format!(
                    "Implying {} from {} would create a cycle of implied roles.",
                    implied.name, prior.name
                )));
            }
            tx.execute(
                "INSERT OR IGNORE INTO implied_roles (prior_role_id, implied_role_id) VALUES (?1, ?2)",
                [&prior.id, &implied.id],
            )?;
            Ok((prior, implied))
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(
            json!({"role_inference": {"prior_role": role_link(prior, &v3), "implies": role_link(implied, &v3)}}),
        ),
    ))
}

/// `GET`/`HEAD /v3/roles/{id}/implies/{implied_id}`
pub async fn check_implied(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
    Path((prior_id, implied_id)): Path<(String, String)>,
) -> Result<Json<Value>> {
    authorize(&caller, Action::ListRoles)?;
    let (prior, implied) = service
        .read(move |conn| {
            let prior = require(model::role(conn, &prior_id)?, "role", &prior_id)?;
            let implied = require(model::role(conn, &implied_id)?, "role", &implied_id)?;
            if !implication_exists(conn, &prior.id, &implied.id)? {
                return Err(implication_not_found(&prior_id, &implied_id));
            }
            Ok((prior, implied))
        })
        .await?;
    Ok(Json(
        json!({"role_inference": {"prior_role": role_link(prior, &v3), "implies": role_link(implied, &v3)}}),
    ))
}

pub async fn remove_implied(
    axum::extract::State(service): State,
    caller: Caller,
    Path((prior_id, implied_id)): Path<(String, String)>,
) -> Result<Response> {
    authorize(&caller, Action::ManageRoles)?;
    service
        .change(move |tx| {
            let removed = tx.execute(
                "DELETE FROM implied_roles WHERE prior_role_id = ?1 AND implied_role_id = ?2",
                [&prior_id, &implied_id],
            )?;
            if removed == 0 {
                return Err(implication_not_found(&prior_id, &implied_id));
            }
            Ok(())
        })
        .await?;
    Ok(no_content())
}

/// `GET /v3/role_inferences`: every role that implies others.
pub async fn inferences(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
) -> Result<Json<Value>> {
    authorize(&caller, Action::ListRoles)?;
    let pairs = service
        .read(|conn| {
            let priors = Filtered::select(model::ROLE_COLUMNS, "roles")
                .where_sql("id IN (SELECT prior_role_id FROM implied_roles)")
                .all(conn, Role::from_row)?;
            let mut pairs = Vec::new();
            for prior in priors {
                let implied = implied_by(conn, &prior.id)?;
                pairs.push((prior, implied));
            }
            Ok(pairs)
        })
        .await?;
    let inferences: Vec<Value> = pairs
        .into_iter()
        .map(|(prior, implied)| {
            let implies: Vec<_> = implied.into_iter().map(|r| role_link(r, &v3)).collect();
            json!({"prior_role": role_link(prior, &v3), "implies": implies})
        })
        .collect();
    Ok(Json(
        json!({"role_inferences": inferences, "links": {"self": format!("{v3}/role_inferences")}}),
    ))
}
