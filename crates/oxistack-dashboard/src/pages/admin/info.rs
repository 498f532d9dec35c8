//! System information: the catalog (Keystone's services and their
//! endpoints by region and interface) and each service's own view of its
//! workers (Nova's and Cinder's `os-services`, Neutron's agents when it
//! has any, Octavia's providers), as Horizon's System Information panel.

use axum::Router;
use axum::routing::get;
use maud::{Markup, html};
use serde_json::Value;

use crate::Dashboard;
use crate::client::{COMPUTE, IDENTITY, LOAD_BALANCER, NETWORK, VOLUME};
use crate::context::{Ctx, PageError, PageResult};
use crate::layout::{self, status_cell};
use crate::pages::text;

const BASE: &str = "/dashboard/admin/info";

pub fn routes() -> Router<Dashboard> {
    Router::new().route("/admin/info", get(show))
}

/// The array `key` of `body`.
fn items(body: &Value, key: &str) -> Vec<Value> {
    body[key].as_array().cloned().unwrap_or_default()
}

/// A small fixed table: a caption (shown as the section's heading),
/// column headings and one row of cells per item.
fn section(id: &str, title: &str, headings: &[&str], rows: Vec<Markup>, empty: &str) -> Markup {
    html! {
        section aria-labelledby=(id) {
            h2 #(id) { (title) }
            div.table-wrap {
                table {
                    thead { tr { @for heading in headings { th scope="col" { (heading) } } } }
                    tbody {
                        @for row in &rows { (row) }
                        @if rows.is_empty() {
                            tr { td.empty colspan=(headings.len()) { (empty) } }
                        }
                    }
                }
            }
        }
    }
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
    let compute = items(
        &ctx.get(format!("{COMPUTE}/os-services")).await?,
        "services",
    );
    let volume = items(&ctx.get(format!("{VOLUME}/os-services")).await?, "services");
    let providers = items(
        &ctx.get(format!("{LOAD_BALANCER}/lbaas/providers")).await?,
        "providers",
    );
    let agents = match ctx.get(format!("{NETWORK}/agents")).await {
        Ok(body) => Some(items(&body, "agents")),
        Err(PageError::Api(failure)) if failure.is_not_found() => None,
        Err(error) => return Err(error),
    };
    let body = html! {
        (section("endpoints-title", "Services and endpoints",
            &["Service", "Type", "Region", "Interface", "URL", "Enabled"],
            endpoint_rows, "The catalog is empty."))
        (section("compute-title", "Compute services", WORKER_HEADINGS,
            compute.iter().map(worker_row).collect(), "Nova reports no services."))
        (section("volume-title", "Block storage services", WORKER_HEADINGS,
            volume.iter().map(worker_row).collect(), "Cinder reports no services."))
        @if let Some(agents) = agents.filter(|agents| !agents.is_empty()) {
            (section("agents-title", "Network agents",
                &["Type", "Name", "Host", "Zone", "Admin state", "State"],
                agents.iter().map(|agent| html! {
                    tr {
                        td { (text(&agent["agent_type"])) }
                        td { (text(&agent["binary"])) }
                        td { (text(&agent["host"])) }
                        td { (text(&agent["availability_zone"])) }
                        td { @if agent["admin_state_up"].as_bool() == Some(false) { "Down" } @else { "Up" } }
                        (status_cell(if agent["alive"].as_bool() == Some(true) { "UP" } else { "DOWN" }))
                    }
                }).collect(), ""))
        }
        (section("providers-title", "Load balancer providers", &["Name", "Description"],
            providers.iter().map(|provider| html! {
                tr { td { (text(&provider["name"])) } td { (text(&provider["description"])) } }
            }).collect(), "Octavia offers no providers."))
    };
    Ok(layout::page(&ctx, "System Information", BASE, body))
}
