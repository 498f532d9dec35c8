//! All volumes: every project's volumes (Cinder's `all_tenants`), with
//! their project and the instance each is attached to, as Horizon's admin
//! volume list; an admin may delete one. Pending rows refresh by
//! themselves.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Path, Query};
use axum::http::Method;
use axum::routing::{get, post};
use maud::html;
use serde_json::Value;

use super::{across_projects, name_or_id, number};
use crate::Dashboard;
use crate::client::{COMPUTE, VOLUME};
use crate::context::{Ctx, PageResult, Report};
use crate::form::CsrfForm;
use crate::layout::{self, action_button};
use crate::list::{ListQuery, Table};
use crate::pages::identity::names_by_id;
use crate::pages::{name_of, segment, text};

const BASE: &str = "/dashboard/admin/volumes";

pub fn routes() -> Router<Dashboard> {
    Router::new()
        .route("/admin/volumes", get(list))
        .route("/admin/volumes/{id}/delete", post(delete))
}

/// "server on /dev/vdb" for each attachment, servers by name.
fn attached_to(volume: &Value, servers: &HashMap<String, String>) -> String {
    volume["attachments"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|attachment| {
            let server = name_or_id(servers, &text(&attachment["server_id"]));
            match text(&attachment["device"]) {
                device if device.is_empty() => server,
                device => format!("{server} on {device}"),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

async fn list(ctx: Ctx, Query(query): Query<ListQuery>) -> PageResult {
    ctx.require_admin()?;
    let volumes = format!("{VOLUME}/volumes/detail");
    let tenant = "os-vol-tenant-attr:tenant_id";
    let (volumes, project) = across_projects(&ctx, &volumes, "volumes", tenant).await?;
    let servers = names_by_id(&ctx, &format!("{COMPUTE}/servers?all_tenants=1"), "servers").await?;
    let attached = move |v: &Value| attached_to(v, &servers);
    let table = Table::new(BASE, "All volumes", |v: &Value| text(&v["id"]))
        .column("project", "Project", project.clone())
        .column("host", "Host", |v: &Value| {
            text(&v["os-vol-host-attr:host"])
        })
        .column("name", "Name", name_of)
        .column("size", "Size", |v: &Value| {
            format!("{} GiB", number(&v["size"]))
        })
        .status("status", "Status", |v: &Value| text(&v["status"]))
        .column("type", "Type", |v: &Value| text(&v["volume_type"]))
        .column("attached", "Attached to", attached.clone())
        .column("bootable", "Bootable", |v: &Value| {
            match text(&v["bootable"]).as_str() {
                "true" => "Yes".to_owned(),
                _ => "No".to_owned(),
            }
        })
        .cell("actions", "Actions", None, |v| {
            action_button(
                &ctx,
                &format!("{BASE}/{}/delete", segment(&text(&v["id"]))),
                "Delete",
                Some(&format!("Delete volume {}?", name_of(v))),
            )
        })
        .search(move |v: &Value| {
            format!(
                "{} {} {} {}",
                name_of(v),
                project(v),
                attached(v),
                text(&v["volume_type"])
            )
        })
        .pending(|v: &Value| layout::is_pending(&text(&v["status"])));
    let body = html! {
        (table.render(&ctx, &query, volumes, "No project has a volume."))
    };
    Ok(layout::page(&ctx, "All Volumes", BASE, body))
}

async fn delete(
    ctx: Ctx,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<Vec<(String, String)>>,
) -> PageResult {
    ctx.require_admin()?;
    let volume = format!("{VOLUME}/volumes/{}", segment(&id));
    let report = Report {
        about: Some(&id),
        done: "Deleting the volume.",
        failed: "Could not delete the volume",
        back: BASE,
    };
    Ok(ctx.act(Method::DELETE, volume, None, report).await)
}
