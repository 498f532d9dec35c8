//! Project > Compute > Instances (Nova's servers): the list, with the
//! power actions and delete on each row; launching ([`launch`]); the
//! details page with the console log and the live serial console
//! ([`details`], [`console`]); and what changes an instance's
//! surroundings, floating IPs, security groups and volumes ([`manage`]).
//!
//! Statuses that settle by themselves (BUILD, REBOOT, any task state)
//! make their row, or the details' overview, refresh itself.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Path, Query};
use axum::http::Method;
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Dashboard;
use crate::client::{ApiFailure, COMPUTE, IMAGE};
use crate::context::{Ctx, PageError, PageResult};
use crate::form::CsrfForm;
use crate::layout::{self, action_button};
use crate::list::{ListQuery, Table};
use crate::pages::{segment, text};

mod console;
mod details;
mod launch;
mod manage;

const BASE: &str = "/dashboard/project/instances";

pub fn routes() -> Router<Dashboard> {
    Router::new()
        .route("/project/instances", get(list))
        .route(
            "/project/instances/launch",
            get(launch::form).post(launch::launch),
        )
        .route("/project/instances/{id}", get(details::details))
        .route(
            "/project/instances/{id}/overview",
            get(details::overview_block),
        )
        .route("/project/instances/{id}/action/{action}", post(act))
        .route(
            "/project/instances/{id}/serial_console",
            post(console::open),
        )
        .merge(manage::routes())
}

/// The details page of instance `id`.
fn details_url(id: &str) -> String {
    format!("{BASE}/{}", segment(id))
}

/// The API path of instance `id`.
fn server_path(id: &str) -> String {
    format!("{COMPUTE}/servers/{}", segment(id))
}

/// The items of `key` in the list answer at `path`.
async fn fetch_list(ctx: &Ctx, path: String, key: &str) -> Result<Vec<Value>, ApiFailure> {
    let mut body = ctx.call(Method::GET, path, None).await?;
    Ok(match body[key].take() {
        Value::Array(items) => items,
        _ => Vec::new(),
    })
}

/// An instance's status as Nova names it (`BUILD`, `ACTIVE`, ...).
fn status(server: &Value) -> String {
    text(&server["status"])
}

/// What the instance is busy with (`powering-off`, `deleting`, ...), if
/// anything.
fn task_state(server: &Value) -> String {
    text(&server["OS-EXT-STS:task_state"])
}

/// An instance whose state will change by itself soon.
fn is_settling(server: &Value) -> bool {
    layout::is_pending(&status(server)) || !task_state(server).is_empty()
}

/// Nova's numeric power state in words, as Horizon shows it.
fn power_state(server: &Value) -> &'static str {
    match server["OS-EXT-STS:power_state"].as_u64() {
        Some(1) => "Running",
        Some(3) => "Paused",
        Some(4) => "Shut Down",
        Some(6) => "Crashed",
        Some(7) => "Suspended",
        _ => "No State",
    }
}

/// The flavor's name (embedded in the server since microversion 2.47).
fn flavor_name(server: &Value) -> String {
    text(&server["flavor"]["original_name"])
}

/// Image names by id, for the instances that only carry the image's id.
async fn image_names(ctx: &Ctx) -> HashMap<String, String> {
    let images = fetch_list(ctx, format!("{IMAGE}/images?limit=1000"), "images").await;
    images
        .unwrap_or_default()
        .iter()
        .map(|image| (text(&image["id"]), text(&image["name"])))
        .collect()
}

/// The instance's image by name (its id when the image is not visible,
/// a note when it boots from a volume).
fn image_name(server: &Value, names: &HashMap<String, String>) -> String {
    let id = text(&server["image"]["id"]);
    if id.is_empty() {
        return "(booted from volume)".to_owned();
    }
    names
        .get(&id)
        .filter(|name| !name.is_empty())
        .cloned()
        .unwrap_or(id)
}

/// The instance's addresses: (network, [(address, "fixed" | "floating")]).
fn addresses(server: &Value) -> Vec<(String, Vec<(String, String)>)> {
    server["addresses"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(network, entries)| {
            let entries = entries
                .as_array()
                .into_iter()
                .flatten()
                .map(|entry| (text(&entry["addr"]), text(&entry["OS-EXT-IPS:type"])))
                .collect();
            (network.clone(), entries)
        })
        .collect()
}

/// Addresses as one line of text, for the filter.
fn addresses_text(server: &Value) -> String {
    addresses(server)
        .into_iter()
        .flat_map(|(network, entries)| {
            std::iter::once(network).chain(entries.into_iter().map(|(address, _)| address))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Addresses, one network a line, floating ones marked.
fn addresses_markup(server: &Value) -> Markup {
    html! {
        @for (network, entries) in addresses(server) {
            div.addresses {
                strong { (network) } ": "
                @for (index, (address, kind)) in entries.iter().enumerate() {
                    @if index > 0 { ", " }
                    (address)
                    @if kind == "floating" { " (floating)" }
                }
            }
        }
    }
}

/// The power actions and delete that fit the instance's status, each
/// returning to `from` (the list, or `details`).
fn action_buttons(ctx: &Ctx, server: &Value, from: Option<&str>) -> Markup {
    let id = text(&server["id"]);
    let name = text(&server["name"]);
    let status = status(server);
    let url = |action: &str| {
        let url = format!("{BASE}/{}/action/{action}", segment(&id));
        match from {
            Some(from) => format!("{url}?from={from}"),
            None => url,
        }
    };
    html! {
        @if status == "SHUTOFF" {
            (action_button(ctx, &url("start"), "Start", None))
        }
        @if status == "ACTIVE" {
            (action_button(ctx, &url("stop"), "Stop", None))
            (action_button(ctx, &url("reboot"), "Reboot", None))
        }
        (action_button(ctx, &url("delete"), "Delete", Some(&format!("Delete instance {name}?"))))
    }
}

async fn list(ctx: Ctx, Query(query): Query<ListQuery>) -> PageResult {
    let servers = fetch_list(&ctx, format!("{COMPUTE}/servers/detail"), "servers").await?;
    let images = image_names(&ctx).await;
    let table = Table::new(BASE, "Instances", |s: &Value| text(&s["id"]))
        .cell(
            "name",
            "Name",
            Some(Box::new(|s: &Value| text(&s["name"]))),
            |s| html! { a href=(details_url(&text(&s["id"]))) { (text(&s["name"])) } },
        )
        .column("image", "Image", |s: &Value| image_name(s, &images))
        .cell(
            "addresses",
            "IP Addresses",
            Some(Box::new(addresses_text)),
            addresses_markup,
        )
        .column("flavor", "Flavor", flavor_name)
        .column("key_name", "Key Pair", |s: &Value| text(&s["key_name"]))
        .status("status", "Status", status)
        .column("power", "Power State", |s: &Value| {
            power_state(s).to_owned()
        })
        .column("task", "Task", task_state)
        .cell("actions", "Actions", None, |s| {
            action_buttons(&ctx, s, None)
        })
        .search(|s: &Value| {
            format!(
                "{} {} {} {}",
                text(&s["name"]),
                status(s),
                image_name(s, &images),
                addresses_text(s)
            )
        })
        .pending(is_settling);
    let body = html! {
        div.toolbar { a.button href=(format!("{BASE}/launch")) { "Launch instance" } }
        (table.render(&ctx, &query, servers, "No instances yet: launch one."))
    };
    Ok(layout::page(&ctx, "Instances", BASE, body))
}

/// Where an action returns to: `?from=details` for the details page.
#[derive(Deserialize)]
struct ReturnTo {
    from: Option<String>,
}

/// Start, stop, (soft) reboot or delete an instance.
async fn act(
    ctx: Ctx,
    Path((id, action)): Path<(String, String)>,
    Query(return_to): Query<ReturnTo>,
    CsrfForm(_): CsrfForm<Vec<(String, String)>>,
) -> PageResult {
    let (method, path, body, done, failed) = match action.as_str() {
        "start" => (
            Method::POST,
            format!("{}/action", server_path(&id)),
            Some(json!({"os-start": null})),
            "Starting the instance.",
            "Could not start the instance",
        ),
        "stop" => (
            Method::POST,
            format!("{}/action", server_path(&id)),
            Some(json!({"os-stop": null})),
            "Stopping the instance.",
            "Could not stop the instance",
        ),
        "reboot" => (
            Method::POST,
            format!("{}/action", server_path(&id)),
            Some(json!({"reboot": {"type": "SOFT"}})),
            "Rebooting the instance.",
            "Could not reboot the instance",
        ),
        "delete" => (
            Method::DELETE,
            server_path(&id),
            None,
            "Deleting the instance.",
            "Could not delete the instance",
        ),
        _ => return Err(PageError::NotFound),
    };
    let outcome = ctx.call(method, path, body.as_ref()).await;
    let back_to_details =
        return_to.from.as_deref() == Some("details") && !(action == "delete" && outcome.is_ok());
    let back = match back_to_details {
        true => details_url(&id),
        false => BASE.to_owned(),
    };
    Ok(ctx.finish(outcome, Some(&id), done, failed, &back))
}
