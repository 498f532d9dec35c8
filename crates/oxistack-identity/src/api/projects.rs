//! `/v3/projects`

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use oxistack_auth::{Action, Caller, Scope, authorize, policy};
use oxistack_db::rusqlite::{Connection, params};
use oxistack_http::{ApiError, JsonBody, envelope};
use serde_json::Value;

use super::{State, V3, no_content, parse_bool};
use crate::model::{
    self, DEFAULT_DOMAIN_ID, Filtered, Project, Result, conflict_on_duplicate, new_id, require,
};
use crate::wire::{ProjectCreate, ProjectUpdate, ProjectView, collection, member, validate_name};

/// The domain new projects, users and groups go to when the request names
/// none: the caller's project's domain, as Keystone does.
pub fn default_domain(caller: &Caller) -> String {
    match &caller.scope {
        Scope::Project { domain, .. } => domain.id.clone(),
        Scope::Domain(domain) => domain.id.clone(),
        _ => DEFAULT_DOMAIN_ID.to_owned(),
    }
}

/// Lists all projects for admins; others see the projects they hold a role
/// on, so `openstack project list` is useful to everyone and leaks nothing.
pub async fn list(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>> {
    let enabled = parse_bool("enabled", query.get("enabled"))?;
    let is_domain = parse_bool("is_domain", query.get("is_domain"))?;
    let (name, domain_id, parent_id) = (
        query.get("name").cloned(),
        query.get("domain_id").cloned(),
        query.get("parent_id").cloned(),
    );
    let admin = policy::allows(&caller, Action::ListProjects.rule());
    let user_id = caller.user.id.clone();
    let projects = service
        .read(move |conn| {
            if is_domain == Some(true) {
                return Ok(Vec::new());
            }
            let mut query = Filtered::select(model::PROJECT_COLUMNS, "projects")
                .eq("name", name)
                .eq("domain_id", domain_id)
                .eq("domain_id", parent_id)
                .eq("enabled", enabled);
            if !admin {
                query = query.condition(
                    "id IN (SELECT target_id FROM assignments WHERE target_kind = 'project'
                            AND ((actor_kind = 'user' AND actor_id = ?)
                              OR (actor_kind = 'group' AND actor_id IN
                                    (SELECT group_id FROM group_members WHERE user_id = ?))))",
                    user_id,
                );
            }
            query.all(conn, Project::from_row)
        })
        .await?;
    let views = projects
        .into_iter()
        .map(|p| ProjectView::new(p, &v3))
        .collect();
    Ok(Json(collection(
        "projects",
        views,
        format!("{v3}/projects"),
    )))
}

/// A project the caller may see: admins see all, others the projects they
/// hold a role on. Anything else is a 404.
fn visible_project(conn: &Connection, caller: &Caller, id: &str) -> Result<Project> {
    let project = require(model::project(conn, id)?, "project", id)?;
    if caller.is_admin() || caller.project_id() == Some(id) {
        return Ok(project);
    }
    let held = model::effective_roles(conn, &caller.user.id, model::TargetKind::Project, id)?;
    if held.is_empty() {
        return Err(model::not_found("project", id));
    }
    Ok(project)
}

pub async fn show(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    let project = service
        .read(move |conn| visible_project(conn, &caller, &id))
        .await?;
    Ok(Json(member("project", ProjectView::new(project, &v3))))
}

pub async fn create(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
    JsonBody(body): JsonBody<Value>,
) -> Result<(StatusCode, Json<Value>)> {
    authorize(&caller, Action::ManageProjects)?;
    let request: ProjectCreate = envelope(body, "project")?;
    validate_name("project.name", &request.name)?;
    if request.is_domain {
        return Err(ApiError::bad_request(
            "Projects acting as domains are not supported; create a domain instead.",
        ));
    }
    let domain_id = request.domain_id.unwrap_or_else(|| default_domain(&caller));
    if let Some(parent) = &request.parent_id
        && *parent != domain_id
    {
        return Err(ApiError::bad_request(
            "Invalid input for field 'project.parent_id': nested projects are not supported; the parent must be the project's domain.",
        ));
    }
    let project = Project {
        id: new_id(),
        name: request.name,
        domain_id,
        description: request.description.unwrap_or_default(),
        enabled: request.enabled.unwrap_or(true),
        tags: request.tags.unwrap_or_default(),
    };
    let stored = project.clone();
    service
        .change(move |tx| {
            if model::domain(tx, &stored.domain_id)?.is_none() {
                return Err(ApiError::bad_request(format!(
                    "Invalid input for field 'project.domain_id': domain {} does not exist.",
                    stored.domain_id
                )));
            }
            tx.execute(
                "INSERT INTO projects (id, name, domain_id, description, enabled, tags) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    stored.id,
                    stored.name,
                    stored.domain_id,
                    stored.description,
                    stored.enabled,
                    serde_json::to_string(&stored.tags).map_err(ApiError::internal)?
                ],
            )
            .map_err(conflict_on_duplicate("project", &stored.name))?;
            Ok(())
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(member("project", ProjectView::new(project, &v3))),
    ))
}

pub async fn update(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>> {
    authorize(&caller, Action::ManageProjects)?;
    let request: ProjectUpdate = envelope(body, "project")?;
    if let Some(name) = &request.name {
        validate_name("project.name", name)?;
    }
    let project = service
        .change(move |tx| {
            let mut project = require(model::project(tx, &id)?, "project", &id)?;
            if let Some(name) = request.name {
                project.name = name;
            }
            if let Some(description) = request.description {
                project.description = description;
            }
            if let Some(enabled) = request.enabled {
                project.enabled = enabled;
            }
            if let Some(tags) = request.tags {
                project.tags = tags;
            }
            tx.execute(
                "UPDATE projects SET name = ?2, description = ?3, enabled = ?4, tags = ?5 WHERE id = ?1",
                params![
                    project.id,
                    project.name,
                    project.description,
                    project.enabled,
                    serde_json::to_string(&project.tags).map_err(ApiError::internal)?
                ],
            )
            .map_err(conflict_on_duplicate("project", &project.name))?;
            Ok(project)
        })
        .await?;
    Ok(Json(member("project", ProjectView::new(project, &v3))))
}

/// Deleting a project removes its role assignments and the tokens scoped to it.
pub async fn delete(
    axum::extract::State(service): State,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response> {
    authorize(&caller, Action::ManageProjects)?;
    service
        .change(move |tx| {
            require(model::project(tx, &id)?, "project", &id)?;
            tx.execute(
                "DELETE FROM assignments WHERE target_kind = 'project' AND target_id = ?1",
                [&id],
            )?;
            tx.execute(
                "DELETE FROM tokens WHERE scope_kind = 'project' AND scope_id = ?1",
                [&id],
            )?;
            tx.execute(
                "UPDATE users SET default_project_id = NULL WHERE default_project_id = ?1",
                [&id],
            )?;
            tx.execute("DELETE FROM projects WHERE id = ?1", [&id])?;
            Ok(())
        })
        .await?;
    Ok(no_content())
}
