//! All instances: every project's servers (Nova's `all_tenants`), with
//! their project, host, image, addresses and flavor, as Horizon's admin
//! instance list; an admin may delete one. Pending rows refresh by
//! themselves.

use axum::Router;
use axum::extract::{Path, Query};
use axum::http::Method;
use axum::routing::{get, post};
use maud::html;
use serde_json::Value;

use super::{across_projects, name_or_id};
use crate::Dashboard;
use crate::client::{COMPUTE, IMAGE};
use crate::context::{Ctx, PageResult, Report};
use crate::form::CsrfForm;
use crate::layout::{self, action_button};
use crate::list::{ListQuery, Table};
use crate::pages::identity::names_by_id;
use crate::pages::{segment, text};

const BASE: &str = "/dashboard/admin/instances";

pub fn routes() -> Router<Dashboard> {
    Router::new()
        .route("/admin/instances", get(list))
        .route("/admin/instances/{id}/delete", post(delete))
}

/// A server's addresses, "net: 10.0.0.3, 172.24.4.10; other: ...".
fn addresses(server: &Value) -> String {
    server["addresses"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(network, entries)| {
            let addresses: Vec<String> = entries
                .as_array()
                .into_iter()
                .flatten()
                .map(|entry| text(&entry["addr"]))
                .collect();
            format!("{network}: {}", addresses.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// What the status column says: the task in progress, if any, else the
/// status (`REBOOT` is a status, `deleting` a task).
fn status(server: &Value) -> String {
    match text(&server["OS-EXT-STS:task_state"]) {
        task if task.is_empty() => text(&server["status"]),
        task => task,
    }
}

async fn list(ctx: Ctx, Query(query): Query<ListQuery>) -> PageResult {
    ctx.require_admin()?;
    let servers = format!("{COMPUTE}/servers/detail");
    let (servers, project) = across_projects(&ctx, &servers, "servers", "tenant_id").await?;
    let images = names_by_id(&ctx, &format!("{IMAGE}/images?limit=1000"), "images").await?;
    let image = move |s: &Value| match text(&s["image"]["id"]) {
        id if id.is_empty() => "(booted from volume)".to_owned(),
        id => name_or_id(&images, &id),
    };
    let table = Table::new(BASE, "All instances", |s: &Value| text(&s["id"]))
        .column("project", "Project", project.clone())
        .column("host", "Host", |s: &Value| text(&s["OS-EXT-SRV-ATTR:host"]))
        .column("name", "Name", |s: &Value| text(&s["name"]))
        .column("image", "Image", image.clone())
        .column("addresses", "IP addresses", addresses)
        .column("flavor", "Flavor", |s: &Value| {
            text(&s["flavor"]["original_name"])
        })
        .status("status", "Status", status)
        .cell("actions", "Actions", None, |s| {
            let name = text(&s["name"]);
            action_button(
                &ctx,
                &format!("{BASE}/{}/delete", segment(&text(&s["id"]))),
                "Delete",
                Some(&format!("Delete instance {name}?")),
            )
        })
        .search(move |s: &Value| {
            format!(
                "{} {} {} {} {}",
                text(&s["name"]),
                project(s),
                image(s),
                addresses(s),
                text(&s["OS-EXT-SRV-ATTR:host"])
            )
        })
        .pending(|s: &Value| layout::is_pending(&status(s)));
    let body = html! {
        (table.render(&ctx, &query, servers, "No project has an instance."))
    };
    Ok(layout::page(&ctx, "All Instances", BASE, body))
}

async fn delete(
    ctx: Ctx,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<Vec<(String, String)>>,
) -> PageResult {
    ctx.require_admin()?;
    let server = format!("{COMPUTE}/servers/{}", segment(&id));
    let report = Report {
        about: Some(&id),
        done: "Deleting the instance.",
        failed: "Could not delete the instance",
        back: BASE,
    };
    Ok(ctx.act(Method::DELETE, server, None, report).await)
}
