//! Projects: list, create, edit (name, description, enabled) and delete,
//! and each project's page with who holds which role on it.

use axum::Router;
use axum::extract::{Path, Query};
use axum::http::Method;
use axum::routing::{get, post};
use maud::html;
use serde::Deserialize;
use serde_json::{Value, json};

use super::assignments::{self, Panel};
use super::{enabled, names_by_id, objects, options};
use crate::Dashboard;
use crate::client::IDENTITY;
use crate::context::{Ctx, PageResult};
use crate::form::CsrfForm;
use crate::layout::{self, action_button, field, select};
use crate::list::{ListQuery, Table};
use crate::pages::{segment, text};

const BASE: &str = "/dashboard/identity/projects";

pub fn routes() -> Router<Dashboard> {
    Router::new()
        .route("/identity/projects", get(list).post(create))
        .route("/identity/projects/{id}", get(details).post(update))
        .route("/identity/projects/{id}/delete", post(delete))
}

async fn list(ctx: Ctx, Query(query): Query<ListQuery>) -> PageResult {
    ctx.require_admin()?;
    let projects = objects(&ctx, &format!("{IDENTITY}/projects"), "projects").await?;
    let domains = names_by_id(&ctx, &format!("{IDENTITY}/domains"), "domains").await?;
    let domain = move |p: &Value| {
        let id = text(&p["domain_id"]);
        domains.get(&id).cloned().unwrap_or(id)
    };
    let table = Table::new(BASE, "Projects", |p: &Value| text(&p["id"]))
        .cell(
            "name",
            "Name",
            Some(Box::new(|p: &Value| text(&p["name"]))),
            |p| html! { a href=(format!("{BASE}/{}", segment(&text(&p["id"])))) { (text(&p["name"])) } },
        )
        .column("description", "Description", |p: &Value| text(&p["description"]))
        .column("domain", "Domain", domain)
        .column("enabled", "Enabled", enabled)
        .cell("actions", "Actions", None, |p| {
            action_button(
                &ctx,
                &format!("{BASE}/{}/delete", segment(&text(&p["id"]))),
                "Delete",
                Some(&format!("Delete project {}?", text(&p["name"]))),
            )
        })
        .search(|p: &Value| format!("{} {}", text(&p["name"]), text(&p["description"])));
    let domains = options(&ctx, "domains").await?;
    let body = html! {
        (table.render(&ctx, &query, projects, "No projects."))
        form.card method="post" action=(BASE) {
            h2 { "Create project" }
            (ctx.csrf_field())
            (field("Name", "project-name", html! { input #project-name name="name" type="text" required; }))
            (field("Description", "project-description", html! { input #project-description name="description" type="text"; }))
            (field("Domain", "project-domain", select("domain_id", "project-domain", &domains, Some("default"))))
            div.checks { label { input name="enabled" type="checkbox" value="true" checked; "Enabled" } }
            button type="submit" { "Create project" }
        }
    };
    Ok(layout::page(&ctx, "Projects", BASE, body))
}

#[derive(Deserialize)]
struct ProjectForm {
    name: String,
    description: String,
    /// Only when creating.
    domain_id: Option<String>,
    /// Present only when the box is ticked.
    enabled: Option<String>,
}

impl ProjectForm {
    fn document(&self) -> Value {
        let mut project = json!({
            "name": self.name.trim(),
            "description": self.description.trim(),
            "enabled": self.enabled.is_some(),
        });
        if let Some(domain) = &self.domain_id {
            project["domain_id"] = json!(domain);
        }
        json!({ "project": project })
    }
}

async fn create(ctx: Ctx, CsrfForm(form): CsrfForm<ProjectForm>) -> PageResult {
    ctx.require_admin()?;
    let name = form.name.trim();
    let created = ctx
        .call(
            Method::POST,
            format!("{IDENTITY}/projects"),
            Some(&form.document()),
        )
        .await;
    let id = created
        .as_ref()
        .map(|body| text(&body["project"]["id"]))
        .unwrap_or_default();
    Ok(ctx.finish(
        created,
        Some(id.as_str()).filter(|id| !id.is_empty()),
        format!("Created project {name}."),
        &format!("Could not create project {name}"),
        BASE,
    ))
}

async fn details(ctx: Ctx, Path(id): Path<String>, Query(query): Query<ListQuery>) -> PageResult {
    ctx.require_admin()?;
    let body = ctx
        .get(format!("{IDENTITY}/projects/{}", segment(&id)))
        .await?;
    let project = &body["project"];
    let name = text(&project["name"]);
    let page = format!("{BASE}/{}", segment(&id));
    let body = html! {
        dl.details.card {
            dt { "Name" } dd { (name) }
            dt { "ID" } dd { (id) }
            dt { "Description" } dd { (text(&project["description"])) }
            dt { "Domain" } dd { (text(&project["domain_id"])) }
            dt { "Enabled" } dd { (enabled(project)) }
        }
        form.card method="post" action=(page) {
            h2 { "Edit project" }
            (ctx.csrf_field())
            (field("Name", "edit-name", html! { input #edit-name name="name" type="text" value=(name) required; }))
            (field("Description", "edit-description", html! { input #edit-description name="description" type="text" value=(text(&project["description"])); }))
            div.checks { label { input name="enabled" type="checkbox" value="true" checked[project["enabled"].as_bool() != Some(false)]; "Enabled" } }
            button type="submit" { "Save" }
        }
        (assignments::section(&ctx, &query, Panel::Projects, &id).await?)
        (action_button(&ctx, &format!("{page}/delete"), "Delete project", Some(&format!("Delete project {name}?"))))
    };
    Ok(layout::page(&ctx, &format!("Project {name}"), BASE, body))
}

async fn update(
    ctx: Ctx,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<ProjectForm>,
) -> PageResult {
    ctx.require_admin()?;
    let updated = ctx
        .call(
            Method::PATCH,
            format!("{IDENTITY}/projects/{}", segment(&id)),
            Some(&form.document()),
        )
        .await;
    Ok(ctx.finish(
        updated,
        None,
        format!("Saved project {}.", form.name.trim()),
        "Could not save the project",
        &format!("{BASE}/{}", segment(&id)),
    ))
}

async fn delete(
    ctx: Ctx,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<Vec<(String, String)>>,
) -> PageResult {
    ctx.require_admin()?;
    let deleted = ctx
        .call(
            Method::DELETE,
            format!("{IDENTITY}/projects/{}", segment(&id)),
            None,
        )
        .await;
    Ok(ctx.finish(
        deleted,
        None,
        "Deleted the project.",
        "Could not delete the project",
        BASE,
    ))
}
