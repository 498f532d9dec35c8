//! `/v3/projects`

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query};
use axum::response::Response;
use oxistack_auth::Caller;
use serde_json::Value;

use super::entity::Document;
use super::{Result, State, V3, no_content, parse_bool};
use crate::model::{Project, ProjectFilter};
use crate::wire::{ProjectView, collection, member};

impl Document for Project {
    type View = ProjectView;
    fn view(self, v3: &str) -> ProjectView {
        ProjectView::new(self, v3)
    }
}

/// Renders a list of projects found at `self_url`.
pub fn project_list(projects: Vec<Project>, v3: &str, self_url: String) -> Json<Value> {
    let views = projects.into_iter().map(|p| p.view(v3)).collect();
    Json(collection("projects", views, self_url))
}

pub async fn list(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>> {
    let filter = ProjectFilter {
        name: query.get("name").cloned(),
        domain_id: query.get("domain_id").cloned(),
        parent_id: query.get("parent_id").cloned(),
        enabled: parse_bool("enabled", query.get("enabled"))?,
        held_by: None,
    };
    let is_domain = parse_bool("is_domain", query.get("is_domain"))?;
    let projects = service.list_projects(&caller, filter, is_domain).await?;
    Ok(project_list(projects, &v3, format!("{v3}/projects")))
}

pub async fn show(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    let project = service.get_project(&caller, &id).await?;
    Ok(Json(member("project", project.view(&v3))))
}

pub async fn delete(
    axum::extract::State(service): State,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response> {
    service.delete_project(&caller, &id).await?;
    Ok(no_content())
}
