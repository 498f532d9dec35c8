//! An instance's details page: the overview (refreshing while the
//! instance settles), its floating IPs, security groups and volumes
//! ([`super::manage`]), the tail of its console log and the serial
//! console, which `console.js` opens in the page.
//!
//! The parts that refresh (the overview, the volumes) do so from their
//! own addresses ([`overview_block`]), so a refresh reads neither the
//! console log again nor anything else of the page.

use axum::extract::{Path, Query};
use axum::http::Method;
use axum::response::IntoResponse;
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    BASE, action_buttons, addresses_markup, details_url, flavor_name, image_name, image_names,
    is_settling, manage, power_state, server_path, status, task_state,
};
use crate::context::{Ctx, PageResult};
use crate::layout;
use crate::pages::text;

/// How many lines of the console log the page shows.
const LOG_LINES: u32 = 100;

/// `?log=N`: the console log's refresh link counts up, so each click is
/// a new address the browser loads.
#[derive(Deserialize)]
pub struct LogQuery {
    log: Option<u32>,
}

pub async fn details(
    ctx: Ctx,
    Path(id): Path<String>,
    Query(query): Query<LogQuery>,
) -> PageResult {
    // A server that is not there, or not the caller's, is the 404 page.
    let server = ctx.get(server_path(&id)).await?["server"].take();
    let name = text(&server["name"]);
    let (overview, floating_ips, security_groups, volumes, log) = tokio::join!(
        overview(&ctx, &server),
        manage::floating_ips(&ctx, &id),
        manage::security_groups(&ctx, &id),
        manage::volumes(&ctx, &id),
        console_log(&ctx, &id, query.log.unwrap_or(0)),
    );
    let body = html! {
        p { a href=(BASE) { "← All instances" } }
        (overview)
        (floating_ips)
        (security_groups)
        (volumes)
        (log)
        (serial_console(&id))
    };
    Ok(layout::page(&ctx, &format!("Instance {name}"), BASE, body))
}

/// Only the overview of instance `id`'s page, which refreshes from here
/// while the instance settles.
pub async fn overview_block(ctx: Ctx, Path(id): Path<String>) -> PageResult {
    let server = ctx.get(server_path(&id)).await?["server"].take();
    Ok(overview(&ctx, &server).await.into_response())
}

/// What the instance is, with its actions; refreshes while it settles.
async fn overview(ctx: &Ctx, server: &Value) -> Markup {
    let images = image_names(ctx).await;
    let groups: Vec<String> = server["security_groups"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|group| text(&group["name"]))
        .collect();
    let volumes: Vec<String> = server["os-extended-volumes:volumes_attached"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|volume| text(&volume["id"]))
        .collect();
    let status = status(server);
    html! {
        section.card #instance-overview data-refresh[is_settling(server)]
            data-refresh-src=(format!("{}/overview", details_url(&text(&server["id"])))) {
            h2 { "Overview" }
            div.toolbar { (action_buttons(ctx, server, Some("details"))) }
            dl.details {
                dt { "Status" } dd data-status=(status) { (layout::badge(&status)) }
                dt { "Power state" } dd { (power_state(server)) }
                dt { "Task" } dd { (or_none(task_state(server))) }
                @if let Some(fault) = server["fault"]["message"].as_str() {
                    dt { "Fault" } dd { (fault) }
                }
                dt { "ID" } dd { (text(&server["id"])) }
                dt { "Flavor" } dd { (flavor_name(server)) }
                dt { "Image" } dd { (image_name(server, &images)) }
                dt { "IP addresses" } dd #instance-addresses { (addresses_markup(server)) }
                dt { "Key pair" } dd { (or_none(text(&server["key_name"]))) }
                dt { "Security groups" } dd { (or_none(groups.join(", "))) }
                dt { "Attached volumes" } dd { (or_none(volumes.join(", "))) }
                dt { "Created" } dd { (text(&server["created"])) }
            }
        }
    }
}

/// "None" for an empty field, as Horizon shows it.
fn or_none(text: String) -> String {
    match text.is_empty() {
        true => "None".to_owned(),
        false => text,
    }
}

/// The last [`LOG_LINES`] lines of the console log, with a link that
/// loads them again.
async fn console_log(ctx: &Ctx, id: &str, generation: u32) -> Markup {
    let body = json!({"os-getConsoleOutput": {"length": LOG_LINES}});
    let output = ctx
        .call(
            Method::POST,
            format!("{}/action", server_path(id)),
            Some(&body),
        )
        .await;
    let refresh = format!("{}?log={}#console-log", details_url(id), generation + 1);
    html! {
        section.card #console-log {
            h2 { "Console log" }
            p {
                "The last " (LOG_LINES) " lines. "
                a href=(refresh) { "Refresh the log" }
            }
            @match output {
                Ok(output) => pre.console tabindex="0" aria-label="Console log" { (text(&output["output"])) },
                Err(failure) => p.flash.flash-error role="alert" {
                    "Could not read the console log: " (failure.message)
                },
            }
        }
    }
}

/// The button that opens the serial console, and where `console.js`
/// puts the terminal.
fn serial_console(id: &str) -> Markup {
    html! {
        section.card #serial-console {
            h2 { "Serial console" }
            p.hint { "A live terminal on the instance's serial port: what you type goes to the instance. Press Escape, then Tab, to move on from the terminal." }
            button #open-serial-console type="button"
                data-url=(format!("{}/serial_console", details_url(id)))
                data-xterm-script=(crate::assets::url("xterm.js"))
                data-xterm-style=(crate::assets::url("xterm.css")) {
                "Open serial console"
            }
            p #serial-console-status role="status" {}
            div #serial-terminal {}
            script src=(crate::assets::url("console.js")) defer {}
        }
    }
}
