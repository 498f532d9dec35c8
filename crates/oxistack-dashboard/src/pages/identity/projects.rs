//! Projects: list, create, edit (name, description, enabled) and delete
//! (by the identity panels' one `delete`), and each project's page with
//! who holds which role on it.

use axum::Router;
use axum::extract::{Path, Query};
use axum::http::Method;
use axum::routing::get;
use maud::html;
use serde::Deserialize;
use serde_json::{Value, json};

use super::assignments::{self, Panel};
use super::{delete_cell, enabled, list_table, name_column, objects, options};
use crate::Dashboard;
use crate::client::IDENTITY;
use crate::context::{Ctx, PageResult, Report};
use crate::form::CsrfForm;
use crate::layout::{self, action_button, field, select};
use crate::list::ListQuery;
use crate::pages::{segment, text};

const BASE: &str = "/dashboard/identity/projects";

pub fn routes() -> Router<Dashboard> {
    Router::new()
        .route("/identity/projects", get(list).post(create))
        .route("/identity/projects/{id}", get(details).post(update))
}

async fn list(ctx: Ctx, Query(query): Query<ListQuery>) -> PageResult {
    ctx.require_admin()?;
    let projects = objects(&ctx, &format!("{IDENTITY}/projects"), "projects").await?;
    let domain = name_column(&ctx, &format!("{IDENTITY}/domains"), "domains", "domain_id").await?;
    let table = list_table(BASE, "Projects")
        .column("description", "Description", |p: &Value| {
            text(&p["description"])
        })
        .column("domain", "Domain", domain)
        .column("enabled", "Enabled", enabled);
    let table = delete_cell(table, &ctx, BASE, "project")
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
    let path = format!("{IDENTITY}/projects");
    let report = Report {
        about: None,
        done: &format!("Created project {name}."),
        failed: &format!("Could not create project {name}"),
        back: BASE,
    };
    Ok(ctx
        .create(path, &form.document(), "/project/id", report)
        .await)
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
    let project = format!("{IDENTITY}/projects/{}", segment(&id));
    let report = Report {
        about: None,
        done: &format!("Saved project {}.", form.name.trim()),
        failed: "Could not save the project",
        back: &format!("{BASE}/{}", segment(&id)),
    };
    Ok(ctx
        .act(Method::PATCH, project, Some(&form.document()), report)
        .await)
}
