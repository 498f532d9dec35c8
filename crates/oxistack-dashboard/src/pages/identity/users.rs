//! Users: list, create (with a role on a default project, as Horizon's
//! form), edit (enabled, email, a new password), delete (by the identity
//! panels' one `delete`); each user's page shows their role assignments
//! and groups.

use axum::Router;
use axum::extract::{Path, Query};
use axum::http::Method;
use axum::routing::get;
use maud::html;
use serde::Deserialize;
use serde_json::{Value, json};

use super::assignments::{self, Panel};
use super::{delete_cell, enabled, list_table, name_column, names_by_id, objects, options};
use crate::Dashboard;
use crate::client::IDENTITY;
use crate::context::{Ctx, PageResult, Report};
use crate::form::CsrfForm;
use crate::layout::{self, action_button, field, select};
use crate::list::ListQuery;
use crate::pages::{segment, text};

const BASE: &str = "/dashboard/identity/users";

pub fn routes() -> Router<Dashboard> {
    Router::new()
        .route("/identity/users", get(list).post(create))
        .route("/identity/users/{id}", get(details).post(update))
}

async fn list(ctx: Ctx, Query(query): Query<ListQuery>) -> PageResult {
    ctx.require_admin()?;
    let users = objects(&ctx, &format!("{IDENTITY}/users"), "users").await?;
    let domain = name_column(&ctx, &format!("{IDENTITY}/domains"), "domains", "domain_id").await?;
    let projects = format!("{IDENTITY}/projects");
    let default_project = name_column(&ctx, &projects, "projects", "default_project_id").await?;
    let project_options: Vec<(String, String)> =
        std::iter::once((String::new(), "None".to_owned()))
            .chain(options(&ctx, "projects").await?)
            .collect();
    let table = list_table(BASE, "Users")
        .column("email", "Email", |u: &Value| text(&u["email"]))
        .column("domain", "Domain", domain)
        .column("enabled", "Enabled", enabled)
        .column("project", "Default project", default_project);
    let table = delete_cell(table, &ctx, BASE, "user")
        .search(|u: &Value| format!("{} {}", text(&u["name"]), text(&u["email"])));
    let roles = options(&ctx, "roles").await?;
    let domains = options(&ctx, "domains").await?;
    let body = html! {
        (table.render(&ctx, &query, users, "No users."))
        form.card method="post" action=(BASE) {
            h2 { "Create user" }
            (ctx.csrf_field())
            (field("User name", "user-name", html! { input #user-name name="name" type="text" required autocomplete="off"; }))
            (field("Password", "user-password", html! { input #user-password name="password" type="password" required autocomplete="new-password"; }))
            (field("Email", "user-email", html! { input #user-email name="email" type="email"; }))
            (field("Domain", "user-domain", select("domain_id", "user-domain", &domains, Some("default"))))
            (field("Default project", "user-project", select("default_project_id", "user-project", &project_options, None)))
            (field("Role on the default project", "user-role", select("role_id", "user-role", &roles,
                roles.iter().find(|(_, name)| name == "member").map(|(id, _)| id.as_str()))))
            div.checks { label { input name="enabled" type="checkbox" value="true" checked; "Enabled" } }
            button type="submit" { "Create user" }
        }
    };
    Ok(layout::page(&ctx, "Users", BASE, body))
}

#[derive(Deserialize)]
struct CreateForm {
    name: String,
    password: String,
    email: String,
    domain_id: String,
    default_project_id: String,
    role_id: String,
    enabled: Option<String>,
}

/// Creates the user, then gives them the role on their default project.
async fn create(ctx: Ctx, CsrfForm(form): CsrfForm<CreateForm>) -> PageResult {
    ctx.require_admin()?;
    let name = form.name.trim();
    let mut user = json!({
        "name": name,
        "password": form.password,
        "domain_id": form.domain_id,
        "enabled": form.enabled.is_some(),
    });
    if !form.email.trim().is_empty() {
        user["email"] = json!(form.email.trim());
    }
    if !form.default_project_id.is_empty() {
        user["default_project_id"] = json!(form.default_project_id);
    }
    let created = ctx
        .call(
            Method::POST,
            format!("{IDENTITY}/users"),
            Some(&json!({ "user": user })),
        )
        .await;
    let id = match &created {
        Ok(body) => text(&body["user"]["id"]),
        Err(_) => {
            return Ok(ctx.finish(
                created,
                None,
                "",
                &format!("Could not create user {name}"),
                BASE,
            ));
        }
    };
    let granted = match form.default_project_id.as_str() {
        "" => Ok(serde_json::Value::Null),
        project => {
            ctx.call(
                Method::PUT,
                format!(
                    "{IDENTITY}/projects/{}/users/{}/roles/{}",
                    segment(project),
                    segment(&id),
                    segment(&form.role_id)
                ),
                None,
            )
            .await
        }
    };
    Ok(ctx.finish(
        granted,
        Some(&id),
        format!("Created user {name}."),
        &format!("Created user {name}, but could not give them the role on their project"),
        BASE,
    ))
}

async fn details(ctx: Ctx, Path(id): Path<String>, Query(query): Query<ListQuery>) -> PageResult {
    ctx.require_admin()?;
    let body = ctx
        .get(format!("{IDENTITY}/users/{}", segment(&id)))
        .await?;
    let user = &body["user"];
    let name = text(&user["name"]);
    let groups = objects(
        &ctx,
        &format!("{IDENTITY}/users/{}/groups", segment(&id)),
        "groups",
    )
    .await?;
    let projects = names_by_id(&ctx, &format!("{IDENTITY}/projects"), "projects").await?;
    let page = format!("{BASE}/{}", segment(&id));
    let body = html! {
        dl.details.card {
            dt { "Name" } dd { (name) }
            dt { "ID" } dd { (id) }
            dt { "Email" } dd { (text(&user["email"])) }
            dt { "Domain" } dd { (text(&user["domain_id"])) }
            dt { "Default project" } dd {
                @if let Some(project) = Some(text(&user["default_project_id"])).filter(|id| !id.is_empty()) {
                    a href=(format!("/dashboard/identity/projects/{}", segment(&project))) {
                        (projects.get(&project).cloned().unwrap_or(project.clone()))
                    }
                }
            }
            dt { "Enabled" } dd { (enabled(user)) }
            dt { "Groups" } dd {
                @for (index, group) in groups.iter().enumerate() {
                    @if index > 0 { ", " }
                    a href=(format!("/dashboard/identity/groups/{}", segment(&text(&group["id"])))) { (text(&group["name"])) }
                }
                @if groups.is_empty() { "None" }
            }
        }
        form.card method="post" action=(page) {
            h2 { "Edit user" }
            (ctx.csrf_field())
            (field("Email", "edit-email", html! { input #edit-email name="email" type="email" value=(text(&user["email"])); }))
            (field("New password", "edit-password", html! { input #edit-password name="password" type="password" autocomplete="new-password"; }))
            p.hint { "Leave the password empty to keep it." }
            div.checks { label { input name="enabled" type="checkbox" value="true" checked[user["enabled"].as_bool() != Some(false)]; "Enabled" } }
            button type="submit" { "Save" }
        }
        (assignments::section(&ctx, &query, Panel::Users, &id).await?)
        (action_button(&ctx, &format!("{page}/delete"), "Delete user", Some(&format!("Delete user {name}?"))))
    };
    Ok(layout::page(&ctx, &format!("User {name}"), BASE, body))
}

#[derive(Deserialize)]
struct EditForm {
    email: String,
    password: String,
    enabled: Option<String>,
}

async fn update(
    ctx: Ctx,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<EditForm>,
) -> PageResult {
    ctx.require_admin()?;
    let mut user = json!({
        "email": Some(form.email.trim()).filter(|email| !email.is_empty()),
        "enabled": form.enabled.is_some(),
    });
    if !form.password.is_empty() {
        user["password"] = json!(form.password);
    }
    let path = format!("{IDENTITY}/users/{}", segment(&id));
    let report = Report {
        about: None,
        done: "Saved the user.",
        failed: "Could not save the user",
        back: &format!("{BASE}/{}", segment(&id)),
    };
    Ok(ctx
        .act(Method::PATCH, path, Some(&json!({ "user": user })), report)
        .await)
}
