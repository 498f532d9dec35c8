//! `/v3/users`

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use oxistack_auth::{Action, Caller, authorize};
use oxistack_db::rusqlite::params;
use oxistack_http::{ApiError, JsonBody, envelope};
use serde_json::Value;

use super::projects::{default_domain, require_domain};
use super::{State, V3, no_content, parse_bool};
use crate::model::{
    self, Filtered, Group, Project, Result, User, conflict_on_duplicate, new_id, require,
};
use crate::password;
use crate::wire::{
    GroupView, PasswordChange, ProjectView, UserCreate, UserUpdate, UserView, collection, member,
    validate_name,
};

/// Users may act on themselves; acting on another user is for admins.
/// Another user is a 404 to non-admins, so user ids cannot be probed.
pub fn require_self_or_admin(caller: &Caller, user_id: &str) -> Result<()> {
    if caller.user.id == user_id || authorize(caller, Action::ActOnOtherUsers).is_ok() {
        Ok(())
    } else {
        Err(model::not_found("user", user_id))
    }
}

pub async fn list(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>> {
    authorize(&caller, Action::ListUsers)?;
    let enabled = parse_bool("enabled", query.get("enabled"))?;
    let (name, domain_id) = (query.get("name").cloned(), query.get("domain_id").cloned());
    let users = service
        .read(move |conn| {
            Filtered::select(model::USER_COLUMNS, "users")
                .eq("name", name)
                .eq("domain_id", domain_id)
                .eq("enabled", enabled)
                .all(conn, User::from_row)
        })
        .await?;
    let views = users.into_iter().map(|u| UserView::new(u, &v3)).collect();
    Ok(Json(collection("users", views, format!("{v3}/users"))))
}

pub async fn show(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    require_self_or_admin(&caller, &id)?;
    let wanted = id.clone();
    let user = service.read(move |conn| model::user(conn, &wanted)).await?;
    Ok(Json(member(
        "user",
        UserView::new(require(user, "user", &id)?, &v3),
    )))
}

/// Checks a default project named in a request exists.
fn check_default_project(
    conn: &oxistack_db::rusqlite::Connection,
    project: &Option<String>,
) -> Result<()> {
    if let Some(id) = project
        && model::project(conn, id)?.is_none()
    {
        return Err(ApiError::bad_request(format!(
            "Invalid input for field 'user.default_project_id': project {id} does not exist."
        )));
    }
    Ok(())
}

pub async fn create(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
    JsonBody(body): JsonBody<Value>,
) -> Result<(StatusCode, Json<Value>)> {
    authorize(&caller, Action::ManageUsers)?;
    let request: UserCreate = envelope(body, "user")?;
    validate_name("user.name", &request.name)?;
    let password_hash = match request.password {
        Some(secret) => Some(password::hash(secret).await?),
        None => None,
    };
    let user = User {
        id: new_id(),
        name: request.name,
        domain_id: request.domain_id.unwrap_or_else(|| default_domain(&caller)),
        enabled: request.enabled.unwrap_or(true),
        password_hash,
        default_project_id: request.default_project_id,
        description: request.description,
        email: request.email,
    };
    let stored = user.clone();
    service
        .change(move |tx| {
            require_domain(tx, "user", &stored.domain_id)?;
            check_default_project(tx, &stored.default_project_id)?;
            tx.execute(
                "INSERT INTO users (id, name, domain_id, enabled, password_hash, default_project_id,
                                    description, email, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    stored.id,
                    stored.name,
                    stored.domain_id,
                    stored.enabled,
                    stored.password_hash,
                    stored.default_project_id,
                    stored.description,
                    stored.email,
                    chrono::Utc::now().to_rfc3339()
                ],
            )
            .map_err(conflict_on_duplicate("user", &stored.name))?;
            Ok(())
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(member("user", UserView::new(user, &v3))),
    ))
}

/// Disabling a user or resetting their password revokes their tokens.
pub async fn update(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>> {
    authorize(&caller, Action::ManageUsers)?;
    let request: UserUpdate = envelope(body, "user")?;
    if let Some(name) = &request.name {
        validate_name("user.name", name)?;
    }
    let new_hash = match request.password {
        Some(secret) => Some(password::hash(secret).await?),
        None => None,
    };
    let issuer = service.clone();
    let user = service
        .change(move |tx| {
            let mut user = require(model::user(tx, &id)?, "user", &id)?;
            check_default_project(tx, &request.default_project_id)?;
            let revoke = request.enabled == Some(false) || new_hash.is_some();
            if let Some(name) = request.name {
                user.name = name;
            }
            if let Some(enabled) = request.enabled {
                user.enabled = enabled;
            }
            if new_hash.is_some() {
                user.password_hash = new_hash;
            }
            if request.default_project_id.is_some() {
                user.default_project_id = request.default_project_id;
            }
            if request.description.is_some() {
                user.description = request.description;
            }
            if request.email.is_some() {
                user.email = request.email;
            }
            tx.execute(
                "UPDATE users SET name = ?2, enabled = ?3, password_hash = ?4, default_project_id = ?5,
                                  description = ?6, email = ?7
                 WHERE id = ?1",
                params![
                    user.id,
                    user.name,
                    user.enabled,
                    user.password_hash,
                    user.default_project_id,
                    user.description,
                    user.email
                ],
            )
            .map_err(conflict_on_duplicate("user", &user.name))?;
            if revoke {
                issuer.tokens.revoke_user(tx, &user.id, None)?;
            }
            Ok(user)
        })
        .await?;
    Ok(Json(member("user", UserView::new(user, &v3))))
}

/// Deleting a user revokes their tokens and removes their assignments,
/// group memberships and application credentials.
pub async fn delete(
    axum::extract::State(service): State,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response> {
    authorize(&caller, Action::ManageUsers)?;
    let issuer = service.clone();
    service
        .change(move |tx| {
            require(model::user(tx, &id)?, "user", &id)?;
            issuer.tokens.revoke_user(tx, &id, None)?;
            tx.execute(
                "DELETE FROM assignments WHERE actor_kind = 'user' AND actor_id = ?1",
                [&id],
            )?;
            tx.execute("DELETE FROM users WHERE id = ?1", [&id])?;
            Ok(())
        })
        .await?;
    Ok(no_content())
}

/// `POST /v3/users/{id}/password`: a user changes their own password,
/// proving the original. All of the user's tokens are revoked.
pub async fn change_password(
    axum::extract::State(service): State,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response> {
    let request: PasswordChange = envelope(body, "user")?;
    if caller.user.id != id {
        return Err(ApiError::forbidden(
            "Users may only change their own password.",
        ));
    }
    if request.password.is_empty() {
        return Err(ApiError::bad_request(
            "Invalid input for field 'user.password': must not be empty.",
        ));
    }
    let wanted = id.clone();
    let stored = service.read(move |conn| model::user(conn, &wanted)).await?;
    let stored_hash = stored.and_then(|u| u.password_hash);
    if !password::verify(request.original_password, stored_hash).await {
        return Err(ApiError::unauthorized(
            "The original password is not correct.",
        ));
    }
    let new_hash = password::hash(request.password).await?;
    let issuer = service.clone();
    service
        .change(move |tx| {
            tx.execute(
                "UPDATE users SET password_hash = ?2 WHERE id = ?1",
                [&id, &new_hash],
            )?;
            issuer.tokens.revoke_user(tx, &id, None)
        })
        .await?;
    Ok(no_content())
}

pub async fn projects(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    require_self_or_admin(&caller, &id)?;
    let wanted = id.clone();
    let projects: Vec<Project> = service
        .read(move |conn| {
            require(model::user(conn, &wanted)?, "user", &wanted)?;
            model::projects_of_user(conn, &wanted)
        })
        .await?;
    let views = projects
        .into_iter()
        .map(|p| ProjectView::new(p, &v3))
        .collect();
    Ok(Json(collection(
        "projects",
        views,
        format!("{v3}/users/{id}/projects"),
    )))
}

pub async fn groups(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    require_self_or_admin(&caller, &id)?;
    let wanted = id.clone();
    let groups: Vec<Group> = service
        .read(move |conn| {
            require(model::user(conn, &wanted)?, "user", &wanted)?;
            Filtered::select(model::GROUP_COLUMNS, "groups")
                .condition(
                    "id IN (SELECT group_id FROM group_members WHERE user_id = ?)",
                    wanted,
                )
                .all(conn, Group::from_row)
        })
        .await?;
    let views = groups.into_iter().map(|g| GroupView::new(g, &v3)).collect();
    Ok(Json(collection(
        "groups",
        views,
        format!("{v3}/users/{id}/groups"),
    )))
}
