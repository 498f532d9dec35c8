//! Hypervisors: how much of each compute host is in use (vCPUs, RAM,
//! local disk, instances), and the cloud's totals above them, as Horizon's
//! hypervisor summary shows. Read at microversion 2.87, the last at which
//! Nova still reports the resource figures (2.88 dropped them).

use axum::Router;
use axum::extract::Query;
use axum::routing::get;
use maud::html;
use serde_json::Value;

use super::{meter, number, usage_bar};
use crate::Dashboard;
use crate::client::COMPUTE;
use crate::context::{Ctx, PageResult};
use crate::layout;
use crate::list::{ListQuery, Table};
use crate::pages::{items, text};

const BASE: &str = "/dashboard/admin/hypervisors";

pub fn routes() -> Router<Dashboard> {
    Router::new().route("/admin/hypervisors", get(list))
}

/// The figures of one hypervisor's document, as (used, total) pairs.
struct Usage {
    vcpus: (u64, u64),
    ram_mb: (u64, u64),
    disk_gb: (u64, u64),
    instances: u64,
}

impl Usage {
    fn of(hypervisor: &Value) -> Usage {
        let pair =
            |used: &str, total: &str| (number(&hypervisor[used]), number(&hypervisor[total]));
        Usage {
            vcpus: pair("vcpus_used", "vcpus"),
            ram_mb: pair("memory_mb_used", "memory_mb"),
            disk_gb: pair("local_gb_used", "local_gb"),
            instances: number(&hypervisor["running_vms"]),
        }
    }

    fn add(self, other: Usage) -> Usage {
        let sum = |a: (u64, u64), b: (u64, u64)| (a.0 + b.0, a.1 + b.1);
        Usage {
            vcpus: sum(self.vcpus, other.vcpus),
            ram_mb: sum(self.ram_mb, other.ram_mb),
            disk_gb: sum(self.disk_gb, other.disk_gb),
            instances: self.instances + other.instances,
        }
    }
}

async fn list(ctx: Ctx, Query(query): Query<ListQuery>) -> PageResult {
    ctx.require_admin()?;
    let body = ctx
        .api(
            axum::http::Method::GET,
            format!("{COMPUTE}/os-hypervisors/detail"),
        )
        .version("compute 2.87")
        .send()
        .await?
        .body;
    let hypervisors = items(&body, "hypervisors");
    let total = hypervisors.iter().map(Usage::of).fold(
        Usage {
            vcpus: (0, 0),
            ram_mb: (0, 0),
            disk_gb: (0, 0),
            instances: 0,
        },
        Usage::add,
    );
    let table = Table::new(BASE, "Hypervisors", |h: &Value| text(&h["id"]))
        .column("hostname", "Hostname", |h: &Value| {
            text(&h["hypervisor_hostname"])
        })
        .column("type", "Type", |h: &Value| text(&h["hypervisor_type"]))
        .column("host_ip", "Host IP", |h: &Value| text(&h["host_ip"]))
        .status("state", "State", |h: &Value| text(&h["state"]))
        .column("status", "Status", |h: &Value| text(&h["status"]))
        .cell(
            "vcpus",
            "vCPUs",
            Some(Box::new(|h: &Value| number(&h["vcpus_used"]).to_string())),
            |h| {
                let (used, total) = Usage::of(h).vcpus;
                usage_bar("vCPUs", used, total, "")
            },
        )
        .cell(
            "ram",
            "RAM",
            Some(Box::new(|h: &Value| {
                number(&h["memory_mb_used"]).to_string()
            })),
            |h| {
                let (used, total) = Usage::of(h).ram_mb;
                usage_bar("RAM", used, total, "MiB")
            },
        )
        .cell(
            "disk",
            "Local disk",
            Some(Box::new(|h: &Value| {
                number(&h["local_gb_used"]).to_string()
            })),
            |h| {
                let (used, total) = Usage::of(h).disk_gb;
                usage_bar("Local disk", used, total, "GiB")
            },
        )
        .column("instances", "Instances", |h: &Value| {
            number(&h["running_vms"]).to_string()
        })
        .search(|h: &Value| {
            format!(
                "{} {}",
                text(&h["hypervisor_hostname"]),
                text(&h["hypervisor_type"])
            )
        });
    let body = html! {
        section.card aria-labelledby="summary-title" {
            h2 #summary-title { "Hypervisor summary" }
            div.quota {
                (meter("vCPUs", total.vcpus.0, total.vcpus.1, ""))
                (meter("RAM", total.ram_mb.0, total.ram_mb.1, "MiB"))
                (meter("Local disk", total.disk_gb.0, total.disk_gb.1, "GiB"))
                div.usage {
                    strong.usage-label { "Instances" }
                    div.usage-figures #running-instances { (total.instances) " running" }
                }
            }
        }
        (table.render(&ctx, &query, hypervisors, "No hypervisors have reported to Nova."))
    };
    Ok(layout::page(&ctx, "Hypervisors", BASE, body))
}
