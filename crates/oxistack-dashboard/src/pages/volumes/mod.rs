//! Volumes and their snapshots (Cinder v3), as Horizon's Volumes panel:
//! the list with attachments by server name, details, creation from
//! nothing, an image, a snapshot or another volume ([`create`]), the
//! actions on one volume ([`actions`]: extend, attach and detach through
//! Nova as Horizon does, snapshot, delete) and the snapshots
//! ([`snapshots`]). Volumes in passing states (creating, attaching,
//! extending...) refresh themselves.

mod actions;
mod create;
mod snapshots;

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Path, Query};
use axum::http::Method;
use axum::routing::{get, post};
use maud::{Markup, html};
use serde_json::Value;

use crate::Dashboard;
use crate::client::{COMPUTE, VOLUME};
use crate::context::{Ctx, PageResult};
use crate::layout::{self, action_button, field};
use crate::list::{ListQuery, Table};
use crate::pages::{items, name_of, segment, text};

const BASE: &str = "/dashboard/project/volumes";
const SNAPSHOTS: &str = "/dashboard/project/snapshots";
const INSTANCES: &str = "/dashboard/project/instances";

pub fn routes() -> Router<Dashboard> {
    Router::new()
        .route("/project/volumes", get(list))
        .route(
            "/project/volumes/create",
            get(create::form).post(create::create),
        )
        .route("/project/volumes/{id}", get(details))
        .route("/project/volumes/{id}/extend", post(actions::extend))
        .route("/project/volumes/{id}/attach", post(actions::attach))
        .route(
            "/project/volumes/{id}/attachments/{server_id}/detach",
            post(actions::detach),
        )
        .route("/project/volumes/{id}/snapshot", post(actions::snapshot))
        .route("/project/volumes/{id}/delete", post(actions::delete))
        .route("/project/snapshots", get(snapshots::list))
        .route("/project/snapshots/{id}/delete", post(snapshots::delete))
}

/// The project's Cinder URL (`/volume/v3/{project_id}`), as the catalog
/// gives it.
fn cinder(ctx: &Ctx) -> String {
    format!("{VOLUME}/{}", segment(&ctx.auth.project_id))
}

fn volume_url(id: &str) -> String {
    format!("{BASE}/{}", segment(id))
}

fn size_of(object: &Value) -> String {
    format!("{} GiB", text(&object["size"]))
}

/// The project's volumes, with details.
async fn volumes(ctx: &Ctx) -> Result<Vec<Value>, crate::context::PageError> {
    let body = ctx.get(format!("{}/volumes/detail", cinder(ctx))).await?;
    Ok(items(&body, "volumes"))
}

/// The project's servers by id, for their names; none when compute is
/// not there.
async fn server_names(ctx: &Ctx) -> HashMap<String, String> {
    let servers = ctx
        .call(Method::GET, format!("{COMPUTE}/servers"), None)
        .await
        .unwrap_or_default();
    items(&servers, "servers")
        .iter()
        .map(|server| (text(&server["id"]), text(&server["name"])))
        .collect()
}

/// Where a volume is attached: each server (by name, linked) and device,
/// with a button to detach it when `detach` gives the page's caller.
fn attachments(volume: &Value, servers: &HashMap<String, String>, detach: Option<&Ctx>) -> Markup {
    let volume_id = text(&volume["id"]);
    html! {
        @for attachment in items(volume, "attachments") {
            @let server = text(&attachment["server_id"]);
            @let server_name = servers.get(&server).cloned().unwrap_or_else(|| server.clone());
            div.attachment {
                a href=(format!("{INSTANCES}/{}", segment(&server))) { (server_name) }
                " on " (text(&attachment["device"]))
                @if let Some(ctx) = detach {
                    " "
                    (action_button(
                        ctx,
                        &format!("{}/attachments/{}/detach", volume_url(&volume_id), segment(&server)),
                        "Detach",
                        Some(&format!("Detach volume {} from {server_name}?", name_of(volume))),
                    ))
                }
            }
        }
    }
}

/// Cinder says `"true"`/`"false"` as text.
fn bootable(volume: &Value) -> &'static str {
    match text(&volume["bootable"]).as_str() {
        "true" => "Yes",
        _ => "No",
    }
}

async fn list(ctx: Ctx, Query(query): Query<ListQuery>) -> PageResult {
    let (volumes, servers) = tokio::join!(volumes(&ctx), server_names(&ctx));
    let table = Table::new(BASE, "Volumes", |volume: &Value| text(&volume["id"]))
        .cell(
            "name",
            "Name",
            Some(Box::new(name_of)),
            |volume| html! { a href=(volume_url(&text(&volume["id"]))) { (name_of(volume)) } },
        )
        .cell(
            "size",
            "Size",
            Some(Box::new(|volume: &Value| format!("{:010}", volume["size"].as_u64().unwrap_or(0)))),
            |volume| html! { (size_of(volume)) },
        )
        .status("status", "Status", |volume: &Value| text(&volume["status"]))
        .column("type", "Type", |volume: &Value| text(&volume["volume_type"]))
        .cell("attached", "Attached To", None, |volume| attachments(volume, &servers, None))
        .column("bootable", "Bootable", |volume: &Value| bootable(volume).to_owned())
        .column("zone", "Availability Zone", |volume: &Value| {
            text(&volume["availability_zone"])
        })
        .cell("actions", "Actions", None, |volume| {
            let id = text(&volume["id"]);
            html! {
                a href=(volume_url(&id)) { "Manage" } " "
                (action_button(&ctx, &format!("{}/delete", volume_url(&id)), "Delete", Some(&format!("Delete volume {}?", name_of(volume)))))
            }
        })
        .search(|volume: &Value| format!("{} {} {}", name_of(volume), text(&volume["id"]), text(&volume["status"])))
        .pending(|volume| layout::is_pending(&text(&volume["status"])));
    let body = html! {
        p { a.button href=(format!("{BASE}/create")) { "Create volume" } }
        (table.render(&ctx, &query, volumes?, "No volumes yet: create one."))
    };
    Ok(layout::page(&ctx, "Volumes", BASE, body))
}

async fn details(ctx: Ctx, Path(id): Path<String>) -> PageResult {
    let (volume, servers) = tokio::join!(
        ctx.get(format!("{}/volumes/{}", cinder(&ctx), segment(&id))),
        server_names(&ctx),
    );
    let volume = volume?["volume"].clone();
    let status = text(&volume["status"]);
    let name = name_of(&volume);
    let url = volume_url(&id);
    let attached: Vec<String> = items(&volume, "attachments")
        .iter()
        .map(|attachment| text(&attachment["server_id"]))
        .collect();
    let mut instances: Vec<(String, String)> = servers
        .iter()
        .filter(|(server, _)| !attached.contains(server))
        .map(|(server, name)| (server.clone(), format!("{name} ({server})")))
        .collect();
    instances.sort_by_key(|(_, label)| label.to_lowercase());
    let body = html! {
        @if let Some(messages) = ctx.flashes_about(&id) { (messages) }
        div #volume-state data-refresh[layout::is_pending(&status)] {
            dl.details.card {
                dt { "ID" } dd { (text(&volume["id"])) }
                dt { "Name" } dd { (name) }
                dt { "Description" } dd { (text(&volume["description"])) }
                dt { "Status" } dd data-status=(status) { (status) }
                dt { "Size" } dd { (size_of(&volume)) }
                dt { "Type" } dd { (text(&volume["volume_type"])) }
                dt { "Bootable" } dd { (bootable(&volume)) }
                dt { "Encrypted" } dd { (text(&volume["encrypted"])) }
                dt { "Multi-attach" } dd { (text(&volume["multiattach"])) }
                dt { "Availability zone" } dd { (text(&volume["availability_zone"])) }
                dt { "Source snapshot" } dd { (text(&volume["snapshot_id"])) }
                dt { "Source volume" } dd { (text(&volume["source_volid"])) }
                dt { "Image" } dd { (text(&volume["volume_image_metadata"]["image_name"])) }
                dt { "Created" } dd { (text(&volume["created_at"])) }
                dt { "Attached to" } dd { (attachments(&volume, &servers, Some(&ctx))) }
            }
        }
        div.quota {
            form.card method="post" action=(format!("{url}/extend")) {
                h2 { "Extend" }
                (ctx.csrf_field())
                (field("New size (GiB)", "extend-size", html! {
                    input #extend-size name="new_size" type="number" required min=(volume["size"].as_u64().unwrap_or(0) + 1) step="1";
                }))
                button type="submit" { "Extend volume" }
            }
            form.card method="post" action=(format!("{url}/attach")) {
                h2 { "Attach to an instance" }
                (ctx.csrf_field())
                @if instances.is_empty() {
                    p.hint { "The project has no other instance to attach it to." }
                } @else {
                    (field("Instance", "attach-server", layout::select("server_id", "attach-server", &instances, None)))
                    button type="submit" { "Attach volume" }
                }
            }
            form.card method="post" action=(format!("{url}/snapshot")) {
                h2 { "Create snapshot" }
                (ctx.csrf_field())
                (field("Snapshot name", "snapshot-name", html! { input #snapshot-name name="name" type="text" required; }))
                (field("Description", "snapshot-description", html! { input #snapshot-description name="description" type="text"; }))
                // Whether to force is decided when the form is posted, so the
                // hint holds whatever the status was when the page was drawn.
                p.hint { "A snapshot of a volume in use is forced: it holds what the instance has written so far." }
                button type="submit" { "Create snapshot" }
            }
        }
        p {
            a.button.secondary href=(format!("{BASE}/create?source_volid={}", segment(&id))) { "Create a volume from this one" } " "
            (action_button(&ctx, &format!("{url}/delete"), "Delete volume", Some(&format!("Delete volume {name}?"))))
        }
        p { a href=(BASE) { "Back to volumes" } }
    };
    Ok(layout::page(&ctx, &format!("Volume {name}"), BASE, body))
}
