//! The project's overview: Horizon's "Limit Summary", one usage meter per
//! quota, read from each service's own limits (Nova `/limits`, Neutron's
//! quota details, Cinder `/limits`, Octavia's quota and the project's
//! load balancers). A service that is not mounted answers 404 and its
//! meters are left out; any other refusal is shown in its words.

use axum::Router;
use axum::routing::get;
use maud::{Markup, html};
use serde_json::Value;

use crate::Dashboard;
use crate::client::{COMPUTE, LOAD_BALANCER, NETWORK, VOLUME};
use crate::context::{Ctx, PageError, PageResult};
use crate::layout;
use crate::pages::{read_part, segment};

const BASE: &str = "/dashboard/project/";

pub fn routes() -> Router<Dashboard> {
    // The listener trims trailing slashes, so both spellings reach here.
    Router::new()
        .route("/project/", get(overview))
        .route("/project", get(overview))
}

/// How a quota's figures read.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Unit {
    Count,
    /// Nova counts RAM in MiB.
    Megabytes,
    /// Cinder counts storage in GiB.
    Gigabytes,
}

/// One quota: what is used of how much (`-1`: unlimited).
#[derive(Debug, PartialEq)]
struct Usage {
    label: &'static str,
    used: i64,
    limit: i64,
    unit: Unit,
}

impl Usage {
    fn new(label: &'static str, used: &Value, limit: &Value, unit: Unit) -> Usage {
        Usage {
            label,
            used: used.as_i64().unwrap_or(0),
            limit: limit.as_i64().unwrap_or(-1),
            unit,
        }
    }

    fn unlimited(&self) -> bool {
        self.limit < 0
    }

    /// The share used, 0 to 100 (none for an unlimited quota).
    fn percent(&self) -> Option<i64> {
        match self.limit {
            limit if limit < 0 => None,
            0 => Some(100),
            limit => Some((self.used.max(0) * 100 / limit).min(100)),
        }
    }

    fn summary(&self) -> String {
        let amount = |n: i64| amount(n, self.unit);
        match self.unlimited() {
            true => format!("Used {} of unlimited", amount(self.used)),
            false => format!("Used {} of {}", amount(self.used), amount(self.limit)),
        }
    }
}

fn amount(n: i64, unit: Unit) -> String {
    match unit {
        Unit::Count => n.to_string(),
        Unit::Gigabytes => format!("{n} GB"),
        Unit::Megabytes if n >= 1024 && n % 1024 == 0 => format!("{} GB", n / 1024),
        Unit::Megabytes if n >= 1024 => format!("{:.1} GB", n as f64 / 1024.0),
        Unit::Megabytes => format!("{n} MB"),
    }
}

/// One service's meters, nothing when it is not mounted, or why it could
/// not be read.
type Section = Result<Vec<Usage>, String>;

async fn overview(ctx: Ctx) -> PageResult {
    let (compute, network, volume, load_balancer) = tokio::join!(
        compute_usage(&ctx),
        network_usage(&ctx),
        volume_usage(&ctx),
        load_balancer_usage(&ctx),
    );
    let sections = [
        ("Compute", compute?),
        ("Network", network?),
        ("Volume", volume?),
        ("Load Balancer", load_balancer?),
    ];
    let body = html! {
        h2 { "Limit Summary" }
        @for (title, section) in &sections {
            @match section {
                Ok(usages) if usages.is_empty() => {}
                Ok(usages) => {
                    section aria-label=(title) {
                        h3 { (title) }
                        div.quota { @for usage in usages { (meter(usage)) } }
                    }
                }
                Err(message) => {
                    p.flash.flash-error role="alert" { (title) " quotas could not be read: " (message) }
                }
            }
        }
    };
    Ok(layout::page(&ctx, "Overview", BASE, body))
}

fn meter(usage: &Usage) -> Markup {
    let percent = usage.percent();
    let full = percent == Some(100);
    html! {
        div.card.usage data-quota=(usage.label) {
            strong { (usage.label) }
            @match percent {
                Some(percent) => {
                    div.meter.full[full] role="progressbar" aria-label=(usage.label)
                        aria-valuemin="0" aria-valuemax="100" aria-valuenow=(percent) {
                        span style=(format!("width: {percent}%")) {}
                    }
                }
                None => { div.meter role="presentation" { span style="width: 0" {} } }
            }
            p.hint { (usage.summary()) }
        }
    }
}

/// Turns what was read (see [`read_part`]) into a section: a service
/// that is not there has no meters, a refusal is shown.
fn section<T>(read: Result<Option<T>, String>, usages: impl FnOnce(&T) -> Vec<Usage>) -> Section {
    read.map(|body| body.as_ref().map(usages).unwrap_or_default())
}

async fn compute_usage(ctx: &Ctx) -> Result<Section, PageError> {
    let limits = read_part(ctx, format!("{COMPUTE}/limits")).await?;
    Ok(section(limits, |body| {
        let absolute = &body["limits"]["absolute"];
        vec![
            Usage::new(
                "Instances",
                &absolute["totalInstancesUsed"],
                &absolute["maxTotalInstances"],
                Unit::Count,
            ),
            Usage::new(
                "VCPUs",
                &absolute["totalCoresUsed"],
                &absolute["maxTotalCores"],
                Unit::Count,
            ),
            Usage::new(
                "RAM",
                &absolute["totalRAMUsed"],
                &absolute["maxTotalRAMSize"],
                Unit::Megabytes,
            ),
        ]
    }))
}

async fn network_usage(ctx: &Ctx) -> Result<Section, PageError> {
    let project = segment(&ctx.auth.project_id);
    let details = read_part(ctx, format!("{NETWORK}/quotas/{project}/details")).await?;
    Ok(section(details, |body| {
        [
            ("Floating IPs", "floatingip"),
            ("Security Groups", "security_group"),
            ("Networks", "network"),
            ("Routers", "router"),
            ("Ports", "port"),
        ]
        .into_iter()
        .map(|(label, resource)| {
            let quota = &body["quota"][resource];
            Usage::new(label, &quota["used"], &quota["limit"], Unit::Count)
        })
        .collect()
    }))
}

async fn volume_usage(ctx: &Ctx) -> Result<Section, PageError> {
    let project = segment(&ctx.auth.project_id);
    let limits = read_part(ctx, format!("{VOLUME}/{project}/limits")).await?;
    Ok(section(limits, |body| {
        let absolute = &body["limits"]["absolute"];
        vec![
            Usage::new(
                "Volumes",
                &absolute["totalVolumesUsed"],
                &absolute["maxTotalVolumes"],
                Unit::Count,
            ),
            Usage::new(
                "Volume Storage",
                &absolute["totalGigabytesUsed"],
                &absolute["maxTotalVolumeGigabytes"],
                Unit::Gigabytes,
            ),
            Usage::new(
                "Volume Snapshots",
                &absolute["totalSnapshotsUsed"],
                &absolute["maxTotalSnapshots"],
                Unit::Count,
            ),
        ]
    }))
}

/// Octavia's quota says how many; the project's own list says how many
/// are used (Octavia reports no usage).
async fn load_balancer_usage(ctx: &Ctx) -> Result<Section, PageError> {
    let project = segment(&ctx.auth.project_id);
    let (quota, list) = tokio::join!(
        read_part(ctx, format!("{LOAD_BALANCER}/lbaas/quotas/{project}")),
        read_part(
            ctx,
            format!("{LOAD_BALANCER}/lbaas/loadbalancers?project_id={project}")
        ),
    );
    let (quota, list) = (quota?, list?);
    let read = quota.and_then(|quota| Ok(quota.zip(list?)));
    Ok(section(read, |(quota, list)| {
        let used = list["loadbalancers"].as_array().map_or(0, Vec::len);
        vec![Usage::new(
            "Load Balancers",
            &Value::from(used),
            load_balancer_quota(&quota["quota"]),
            Unit::Count,
        )]
    }))
}

/// Octavia's load balancer quota: `load_balancer` now, `loadbalancer`
/// before (deprecated, still sent by some).
fn load_balancer_quota(quota: &Value) -> &Value {
    match &quota["load_balancer"] {
        Value::Null => &quota["loadbalancer"],
        current => current,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn usage(used: i64, limit: i64, unit: Unit) -> Usage {
        Usage::new("X", &json!(used), &json!(limit), unit)
    }

    #[test]
    fn a_quota_reads_as_used_of_limit() {
        assert_eq!(usage(3, 10, Unit::Count).summary(), "Used 3 of 10");
        assert_eq!(usage(3, 10, Unit::Count).percent(), Some(30));
        assert_eq!(
            usage(512, 51200, Unit::Megabytes).summary(),
            "Used 512 MB of 50 GB"
        );
        assert_eq!(
            usage(1536, 2048, Unit::Megabytes).summary(),
            "Used 1.5 GB of 2 GB"
        );
        assert_eq!(
            usage(1, 1000, Unit::Gigabytes).summary(),
            "Used 1 GB of 1000 GB"
        );
    }

    #[test]
    fn unlimited_and_exhausted_quotas() {
        let unlimited = usage(2, -1, Unit::Count);
        assert_eq!(unlimited.percent(), None);
        assert_eq!(unlimited.summary(), "Used 2 of unlimited");
        assert_eq!(usage(12, 10, Unit::Count).percent(), Some(100));
        assert_eq!(usage(0, 0, Unit::Count).percent(), Some(100));
    }

    #[test]
    fn the_load_balancer_quota_has_its_current_name_first() {
        let quota = json!({"load_balancer": 5, "loadbalancer": 3});
        assert_eq!(load_balancer_quota(&quota), &json!(5));
        assert_eq!(load_balancer_quota(&json!({"loadbalancer": 3})), &json!(3));
    }

    #[test]
    fn a_full_quota_has_a_full_meter() {
        let markup = meter(&usage(10, 10, Unit::Count)).into_string();
        assert!(markup.contains("meter full"), "{markup}");
        let markup = meter(&usage(2, -1, Unit::Count)).into_string();
        assert!(
            !markup.contains("full") && markup.contains("unlimited"),
            "{markup}"
        );
    }
}
