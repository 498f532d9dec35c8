//! System information: the catalog (Keystone's services and their
//! endpoints by region and interface) and each service's own view of its
//! workers (Nova's and Cinder's `os-services`, Neutron's agents when it
//! has any, Octavia's providers), as Horizon's System Information panel.
//! A service the cloud runs without (`[services] volume = false`) answers
//! 404 and its section is left out; any other refusal is shown in its
//! section, as the overview does.

use axum::Router;
use axum::routing::get;
use maud::{Markup, html};
use serde_json::Value;

use crate::Dashboard;
use crate::client::{COMPUTE, IDENTITY, LOAD_BALANCER, NETWORK, VOLUME};
use crate::context::{Ctx, PageResult};
use crate::layout::{self, status_cell};
use crate::pages::{Part, items, read_part, text};

const BASE: &str = "/dashboard/admin/info";

pub fn routes() -> Router<Dashboard> {
    Router::new().route("/admin/info", get(show))
}

/// A small fixed table under its heading: one row per item (`empty`
/// when there is none), or the API's reason when it could not be read.
fn section(
    id: &str,
    title: &str,
    headings: &[&str],
    rows: Result<Vec<Markup>, String>,
    empty: &str,
) -> Markup {
    html! {
        section aria-labelledby=(id) {
            h2 #(id) { (title) }
            @match rows {
                Ok(rows) => div.table-wrap {
                    table {
                        thead { tr { @for heading in headings { th scope="col" { (heading) } } } }
                        tbody {
                            @for row in &rows { (row) }
                            @if rows.is_empty() {
                                tr { td.empty colspan=(headings.len()) { (empty) } }
                            }
                        }
                    }
                },
                Err(message) => p.flash.flash-error role="alert" { "Could not read this: " (message) },
            }
        }
    }
}

/// A row for each item of the list `key` that a service answered, or
/// its reason for refusing; `None` when the service is not there.
fn rows(part: Part, key: &str, row: fn(&Value) -> Markup) -> Option<Result<Vec<Markup>, String>> {
    part.map(|body| body.map(|body| items(&body, key).iter().map(row).collect()))
        .transpose()
}

/// A service worker's row: binary, host, zone, status and state.
fn worker_row(service: &Value) -> Markup {
    html! {
        tr {
            td { (text(&service["binary"])) }
            td { (text(&service["host"])) }
            td { (text(&service["zone"])) }
            td { (text(&service["status"])) }
            (status_cell(&text(&service["state"])))
            td { (text(&service["updated_at"])) }
        }
    }
}

fn agent_row(agent: &Value) -> Markup {
    html! {
        tr {
            td { (text(&agent["agent_type"])) }
            td { (text(&agent["binary"])) }
            td { (text(&agent["host"])) }
            td { (text(&agent["availability_zone"])) }
            td { @if agent["admin_state_up"].as_bool() == Some(false) { "Down" } @else { "Up" } }
            (status_cell(if agent["alive"].as_bool() == Some(true) { "UP" } else { "DOWN" }))
        }
    }
}

fn provider_row(provider: &Value) -> Markup {
    html! {
        tr { td { (text(&provider["name"])) } td { (text(&provider["description"])) } }
    }
}

const WORKER_HEADINGS: &[&str] = &["Name", "Host", "Zone", "Status", "State", "Last updated"];

async fn show(ctx: Ctx) -> PageResult {
    ctx.require_admin()?;
    let services = items(&ctx.get(format!("{IDENTITY}/services")).await?, "services");
    let mut endpoints = items(
        &ctx.get(format!("{IDENTITY}/endpoints")).await?,
        "endpoints",
    );
    let service_of = |endpoint: &Value| {
        services
            .iter()
            .find(|service| service["id"] == endpoint["service_id"])
            .cloned()
            .unwrap_or(Value::Null)
    };
    endpoints.sort_by_key(|endpoint| {
        (
            text(&service_of(endpoint)["type"]),
            text(&endpoint["region_id"]),
            text(&endpoint["interface"]),
        )
    });
    let endpoint_rows = endpoints
        .iter()
        .map(|endpoint| {
            let service = service_of(endpoint);
            html! {
                tr data-service-type=(text(&service["type"])) {
                    td { (text(&service["name"])) }
                    td { (text(&service["type"])) }
                    td { (text(&endpoint["region_id"])) }
                    td { (text(&endpoint["interface"])) }
                    td { code { (text(&endpoint["url"])) } }
                    td { @if endpoint["enabled"].as_bool() == Some(false) { "No" } @else { "Yes" } }
                }
            }
        })
        .collect();
    let (compute, volume, providers, agents) = tokio::join!(
        read_part(&ctx, format!("{COMPUTE}/os-services")),
        read_part(&ctx, format!("{VOLUME}/os-services")),
        read_part(&ctx, format!("{LOAD_BALANCER}/lbaas/providers")),
        read_part(&ctx, format!("{NETWORK}/agents")),
    );
    let compute = rows(compute?, "services", worker_row);
    let volume = rows(volume?, "services", worker_row);
    let providers = rows(providers?, "providers", provider_row);
    // Neutron without agents (no agent extension, or none running) says
    // nothing about them.
    let agents = rows(agents?, "agents", agent_row)
        .filter(|agents| agents.as_ref().map_or(true, |rows| !rows.is_empty()));
    let body = html! {
        (section("endpoints-title", "Services and endpoints",
            &["Service", "Type", "Region", "Interface", "URL", "Enabled"],
            Ok(endpoint_rows), "The catalog is empty."))
        @if let Some(compute) = compute {
            (section("compute-title", "Compute services", WORKER_HEADINGS, compute, "Nova reports no services."))
        }
        @if let Some(volume) = volume {
            (section("volume-title", "Block storage services", WORKER_HEADINGS, volume, "Cinder reports no services."))
        }
        @if let Some(agents) = agents {
            (section("agents-title", "Network agents",
                &["Type", "Name", "Host", "Zone", "Admin state", "State"], agents, ""))
        }
        @if let Some(providers) = providers {
            (section("providers-title", "Load balancer providers", &["Name", "Description"],
                providers, "Octavia offers no providers."))
        }
    };
    Ok(layout::page(&ctx, "System Information", BASE, body))
}
