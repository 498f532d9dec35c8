//! Flavors: every flavor, public or not (`is_public=none`), with its
//! sizes; an admin creates one (Nova picks its id) or deletes one.

use axum::Router;
use axum::extract::{Path, Query};
use axum::http::Method;
use axum::routing::{get, post};
use maud::html;
use serde::Deserialize;
use serde_json::{Value, json};

use super::number;
use crate::Dashboard;
use crate::client::COMPUTE;
use crate::context::{Ctx, PageResult, Report};
use crate::form::CsrfForm;
use crate::layout::{self, action_button, field};
use crate::list::{ListQuery, Table};
use crate::pages::{segment, text};

const BASE: &str = "/dashboard/admin/flavors";

pub fn routes() -> Router<Dashboard> {
    Router::new()
        .route("/admin/flavors", get(list).post(create))
        .route("/admin/flavors/{id}/delete", post(delete))
}

fn yes_no(value: &Value) -> String {
    match value.as_bool() {
        Some(true) => "Yes".to_owned(),
        _ => "No".to_owned(),
    }
}

async fn list(ctx: Ctx, Query(query): Query<ListQuery>) -> PageResult {
    ctx.require_admin()?;
    let body = ctx
        .get(format!("{COMPUTE}/flavors/detail?is_public=none"))
        .await?;
    let flavors: Vec<Value> = body["flavors"].as_array().cloned().unwrap_or_default();
    let table = Table::new(BASE, "Flavors", |f: &Value| text(&f["id"]))
        .column("name", "Name", |f: &Value| text(&f["name"]))
        .column("vcpus", "vCPUs", |f: &Value| {
            number(&f["vcpus"]).to_string()
        })
        .column("ram", "RAM", |f: &Value| {
            format!("{} MiB", number(&f["ram"]))
        })
        .column("disk", "Root disk", |f: &Value| {
            format!("{} GiB", number(&f["disk"]))
        })
        .column("ephemeral", "Ephemeral disk", |f: &Value| {
            format!("{} GiB", number(&f["OS-FLV-EXT-DATA:ephemeral"]))
        })
        .column("swap", "Swap", |f: &Value| {
            format!("{} MiB", number(&f["swap"]))
        })
        .column("public", "Public", |f: &Value| {
            yes_no(&f["os-flavor-access:is_public"])
        })
        .column("id", "ID", |f: &Value| text(&f["id"]))
        .cell("actions", "Actions", None, |f| {
            action_button(
                &ctx,
                &format!("{BASE}/{}/delete", segment(&text(&f["id"]))),
                "Delete",
                Some(&format!("Delete flavor {}?", text(&f["name"]))),
            )
        })
        .search(|f: &Value| format!("{} {}", text(&f["name"]), text(&f["id"])));
    let number_input = |id: &str, name: &str, min: u32, value: u32| {
        html! { input id=(id) name=(name) type="number" min=(min) value=(value) required; }
    };
    let body = html! {
        (table.render(&ctx, &query, flavors, "No flavors: create one below."))
        form.card method="post" action=(BASE) {
            h2 { "Create flavor" }
            (ctx.csrf_field())
            (field("Name", "flavor-name", html! { input #flavor-name name="name" type="text" required; }))
            p.hint { "Nova gives the flavor a new UUID as its id." }
            (field("vCPUs", "flavor-vcpus", number_input("flavor-vcpus", "vcpus", 1, 1)))
            (field("RAM (MiB)", "flavor-ram", number_input("flavor-ram", "ram", 1, 512)))
            (field("Root disk (GiB)", "flavor-disk", number_input("flavor-disk", "disk", 0, 1)))
            (field("Ephemeral disk (GiB)", "flavor-ephemeral", number_input("flavor-ephemeral", "ephemeral", 0, 0)))
            (field("Swap (MiB)", "flavor-swap", number_input("flavor-swap", "swap", 0, 0)))
            div.checks {
                label { input name="public" type="checkbox" value="true" checked; "Public (every project may use it)" }
            }
            button type="submit" { "Create flavor" }
        }
    };
    Ok(layout::page(&ctx, "Flavors", BASE, body))
}

#[derive(Deserialize)]
struct CreateForm {
    name: String,
    vcpus: u32,
    ram: u32,
    disk: u32,
    ephemeral: u32,
    swap: u32,
    /// Present only when the box is ticked.
    public: Option<String>,
}

async fn create(ctx: Ctx, CsrfForm(form): CsrfForm<CreateForm>) -> PageResult {
    ctx.require_admin()?;
    let name = form.name.trim();
    let flavor = json!({"flavor": {
        "name": name,
        "vcpus": form.vcpus,
        "ram": form.ram,
        "disk": form.disk,
        "OS-FLV-EXT-DATA:ephemeral": form.ephemeral,
        "swap": form.swap,
        "os-flavor-access:is_public": form.public.is_some(),
    }});
    let path = format!("{COMPUTE}/flavors");
    let report = Report {
        about: None,
        done: &format!("Created flavor {name}."),
        failed: &format!("Could not create flavor {name}"),
        back: BASE,
    };
    Ok(ctx.create(path, &flavor, "/flavor/id", report).await)
}

async fn delete(
    ctx: Ctx,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<Vec<(String, String)>>,
) -> PageResult {
    ctx.require_admin()?;
    let flavor = format!("{COMPUTE}/flavors/{}", segment(&id));
    let report = Report {
        about: None,
        done: "Deleted the flavor.",
        failed: "Could not delete the flavor",
        back: BASE,
    };
    Ok(ctx.act(Method::DELETE, flavor, None, report).await)
}
