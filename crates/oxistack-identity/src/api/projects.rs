//! `/v3/projects`

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query};
use axum::response::Response;
use oxistack_auth::{Action, Caller, Scope, authorize, policy};
use oxistack_http::ApiError;
use serde_json::Value;

use super::entity::Entity;
use super::{State, V3, no_content, parse_bool};
use crate::model::{self, DEFAULT_DOMAIN_ID, Filtered, Project, Result, new_id, require};
use crate::wire::{ProjectCreate, ProjectUpdate, ProjectView, collection, member};
use oxistack_db::rusqlite::{self, Connection, params};

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

impl Entity for Project {
    const KIND: &'static str = "project";
    const MANAGE: Action = Action::ManageProjects;
    type Create = ProjectCreate;
    type Update = ProjectUpdate;
    type View = ProjectView;

    fn name(&self) -> &str {
        &self.name
    }

    fn from_create(request: ProjectCreate, caller: &Caller) -> Result<Self> {
        if request.is_domain {
            return Err(ApiError::bad_request(
                "Projects acting as domains are not supported; create a domain instead.",
            ));
        }
        let domain_id = request.domain_id.unwrap_or_else(|| default_domain(caller));
        if request
            .parent_id
            .as_ref()
            .is_some_and(|parent| *parent != domain_id)
        {
            return Err(ApiError::bad_request(
                "Invalid input for field 'project.parent_id': nested projects are not supported; the parent must be the project's domain.",
            ));
        }
        Ok(Project {
            id: new_id(),
            name: request.name,
            domain_id,
            description: request.description.unwrap_or_default(),
            enabled: request.enabled.unwrap_or(true),
            tags: request.tags.unwrap_or_default(),
        })
    }

    fn renamed(update: &ProjectUpdate) -> Option<&str> {
        update.name.as_deref()
    }

    fn apply(&mut self, update: ProjectUpdate) -> Result<()> {
        if let Some(name) = update.name {
            self.name = name;
        }
        if let Some(description) = update.description {
            self.description = description;
        }
        if let Some(enabled) = update.enabled {
            self.enabled = enabled;
        }
        if let Some(tags) = update.tags {
            self.tags = tags;
        }
        Ok(())
    }

    fn check_references(&self, conn: &Connection) -> Result<()> {
        require_domain(conn, "project", &self.domain_id)
    }

    fn load(conn: &Connection, id: &str) -> Result<Option<Self>> {
        model::project(conn, id)
    }

    fn insert(&self, conn: &Connection) -> rusqlite::Result<()> {
        conn.execute(
            "INSERT INTO projects (id, name, domain_id, description, enabled, tags) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![self.id, self.name, self.domain_id, self.description, self.enabled, tags_json(&self.tags)],
        )
        .map(drop)
    }

    fn save(&self, conn: &Connection) -> rusqlite::Result<()> {
        conn.execute(
            "UPDATE projects SET name = ?2, description = ?3, enabled = ?4, tags = ?5 WHERE id = ?1",
            params![self.id, self.name, self.description, self.enabled, tags_json(&self.tags)],
        )
        .map(drop)
    }

    fn view(self, v3: &str) -> ProjectView {
        ProjectView::new(self, v3)
    }
}

fn tags_json(tags: &[String]) -> String {
    serde_json::to_string(tags).unwrap_or_else(|_| "[]".to_owned())
}

/// A new project, user or group must name a domain that exists.
pub fn require_domain(conn: &Connection, kind: &str, domain_id: &str) -> Result<()> {
    match model::domain(conn, domain_id)? {
        Some(_) => Ok(()),
        None => Err(ApiError::bad_request(format!(
            "Invalid input for field '{kind}.domain_id': domain {domain_id} does not exist."
        ))),
    }
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
