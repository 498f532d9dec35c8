//! Groups: list, create, delete (by the identity panels' one `delete`);
//! each group's page lists its members (add and remove a user), whole,
//! and its role assignments, which the page's query string sorts and
//! pages.

use axum::Router;
use axum::extract::{Path, Query};
use axum::http::Method;
use axum::routing::{get, post};
use maud::html;
use serde::Deserialize;
use serde_json::{Value, json};

use super::assignments::{self, Panel};
use super::{delete_cell, list_table, name_column, objects, options};
use crate::Dashboard;
use crate::client::IDENTITY;
use crate::context::{Ctx, PageResult, Report};
use crate::form::CsrfForm;
use crate::layout::{self, action_button, field, select};
use crate::list::{ListQuery, Table};
use crate::pages::{segment, text};

const BASE: &str = "/dashboard/identity/groups";

pub fn routes() -> Router<Dashboard> {
    Router::new()
        .route("/identity/groups", get(list).post(create))
        .route("/identity/groups/{id}", get(details))
        .route("/identity/groups/{id}/members", post(add_member))
        .route(
            "/identity/groups/{id}/members/{user}/delete",
            post(remove_member),
        )
}

fn group_page(id: &str) -> String {
    format!("{BASE}/{}", segment(id))
}

/// The API path of `user`'s membership of group `id`.
fn membership_path(id: &str, user: &str) -> String {
    format!("{IDENTITY}/groups/{}/users/{}", segment(id), segment(user))
}

async fn list(ctx: Ctx, Query(query): Query<ListQuery>) -> PageResult {
    ctx.require_admin()?;
    let groups = objects(&ctx, &format!("{IDENTITY}/groups"), "groups").await?;
    let domain = name_column(&ctx, &format!("{IDENTITY}/domains"), "domains", "domain_id").await?;
    let table = list_table(BASE, "Groups")
        .column("description", "Description", |g: &Value| {
            text(&g["description"])
        })
        .column("domain", "Domain", domain);
    let table = delete_cell(table, &ctx, BASE, "group")
        .search(|g: &Value| format!("{} {}", text(&g["name"]), text(&g["description"])));
    let domains = options(&ctx, "domains").await?;
    let body = html! {
        (table.render(&ctx, &query, groups, "No groups."))
        form.card method="post" action=(BASE) {
            h2 { "Create group" }
            (ctx.csrf_field())
            (field("Name", "group-name", html! { input #group-name name="name" type="text" required; }))
            (field("Description", "group-description", html! { input #group-description name="description" type="text"; }))
            (field("Domain", "group-domain", select("domain_id", "group-domain", &domains, Some("default"))))
            button type="submit" { "Create group" }
        }
    };
    Ok(layout::page(&ctx, "Groups", BASE, body))
}

#[derive(Deserialize)]
struct CreateForm {
    name: String,
    description: String,
    domain_id: String,
}

async fn create(ctx: Ctx, CsrfForm(form): CsrfForm<CreateForm>) -> PageResult {
    ctx.require_admin()?;
    let name = form.name.trim();
    let group = json!({"group": {
        "name": name,
        "description": form.description.trim(),
        "domain_id": form.domain_id,
    }});
    let path = format!("{IDENTITY}/groups");
    let report = Report {
        about: None,
        done: &format!("Created group {name}."),
        failed: &format!("Could not create group {name}"),
        back: BASE,
    };
    Ok(ctx.create(path, &group, "/group/id", report).await)
}

async fn details(ctx: Ctx, Path(id): Path<String>, Query(query): Query<ListQuery>) -> PageResult {
    ctx.require_admin()?;
    let body = ctx
        .get(format!("{IDENTITY}/groups/{}", segment(&id)))
        .await?;
    let group = &body["group"];
    let name = text(&group["name"]);
    let page = group_page(&id);
    let members = objects(
        &ctx,
        &format!("{IDENTITY}/groups/{}/users", segment(&id)),
        "users",
    )
    .await?;
    let others: Vec<(String, String)> = options(&ctx, "users")
        .await?
        .into_iter()
        .filter(|(user, _)| !members.iter().any(|member| text(&member["id"]) == *user))
        .collect();
    let table = Table::new(&page, "Members", |u: &Value| text(&u["id"]))
        .cell(
            "member",
            "Member",
            Some(Box::new(|u: &Value| text(&u["name"]))),
            |u| html! { a href=(format!("/dashboard/identity/users/{}", segment(&text(&u["id"])))) { (text(&u["name"])) } },
        )
        .column("email", "Email", |u: &Value| text(&u["email"]))
        .cell("actions", "Actions", None, |u| {
            action_button(
                &ctx,
                &format!("{page}/members/{}/delete", segment(&text(&u["id"]))),
                "Remove",
                Some(&format!("Remove {} from group {name}?", text(&u["name"]))),
            )
        });
    let body = html! {
        dl.details.card {
            dt { "Name" } dd { (name) }
            dt { "ID" } dd { (id) }
            dt { "Description" } dd { (text(&group["description"])) }
            dt { "Domain" } dd { (text(&group["domain_id"])) }
        }
        section aria-labelledby="members-title" {
            h2 #members-title { "Members" }
            (table.render_all(&ctx, members, "The group has no members."))
            @if !others.is_empty() {
                form.card method="post" action=(format!("{page}/members")) {
                    h3 { "Add a member" }
                    (ctx.csrf_field())
                    (field("User", "member-user", select("user_id", "member-user", &others, None)))
                    button type="submit" { "Add member" }
                }
            }
        }
        (assignments::section(&ctx, &query, Panel::Groups, &id).await?)
        (action_button(&ctx, &format!("{page}/delete"), "Delete group", Some(&format!("Delete group {name}?"))))
    };
    Ok(layout::page(&ctx, &format!("Group {name}"), BASE, body))
}

#[derive(Deserialize)]
struct MemberForm {
    user_id: String,
}

async fn add_member(
    ctx: Ctx,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<MemberForm>,
) -> PageResult {
    ctx.require_admin()?;
    let membership = membership_path(&id, &form.user_id);
    let report = Report {
        about: Some(&form.user_id),
        done: "Added to the group.",
        failed: "Could not add the user to the group",
        back: &group_page(&id),
    };
    Ok(ctx.act(Method::PUT, membership, None, report).await)
}

async fn remove_member(
    ctx: Ctx,
    Path((id, user)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<Vec<(String, String)>>,
) -> PageResult {
    ctx.require_admin()?;
    let membership = membership_path(&id, &user);
    let report = Report {
        about: None,
        done: "Removed from the group.",
        failed: "Could not remove the user from the group",
        back: &group_page(&id),
    };
    Ok(ctx.act(Method::DELETE, membership, None, report).await)
}
