//! Horizon's Admin dashboard: the cloud as its operator sees it, across
//! every project. Each handler starts with `ctx.require_admin()?`, so
//! anyone else gets the 404 page (the navigation hides these pages from
//! them, and the APIs would refuse them anyway).

use std::collections::HashMap;

use axum::Router;
use maud::{Markup, html};
use serde_json::Value;

use crate::Dashboard;
use crate::client::IDENTITY;
use crate::context::{Ctx, PageError};
use crate::pages::identity::{name_column, objects};

mod flavors;
mod hypervisors;
mod info;
mod instances;
mod volumes;

pub fn routes() -> Router<Dashboard> {
    Router::new()
        .merge(hypervisors::routes())
        .merge(instances::routes())
        .merge(volumes::routes())
        .merge(flavors::routes())
        .merge(info::routes())
}

/// Every project's `collection` (`path` with `all_tenants`), and the
/// "Project" column for it: the name of the project whose id each object
/// holds at `project_field`, to show whose an instance or volume is.
async fn across_projects(
    ctx: &Ctx,
    path: &str,
    collection: &str,
    project_field: &'static str,
) -> Result<
    (
        Vec<Value>,
        impl Fn(&Value) -> String + Clone + Send + Sync + use<>,
    ),
    PageError,
> {
    let everyones = format!("{path}?all_tenants=1");
    let projects = format!("{IDENTITY}/projects");
    let (objects, project) = tokio::join!(
        objects(ctx, &everyones, collection),
        name_column(ctx, &projects, "projects", project_field),
    );
    Ok((objects?, project?))
}

/// The name of `id` in `names`, or the id itself when it has none there
/// (a project deleted since).
fn name_or_id(names: &HashMap<String, String>, id: &str) -> String {
    names.get(id).cloned().unwrap_or_else(|| id.to_owned())
}

/// A JSON number (Nova sends some as strings, e.g. a flavor's empty swap).
fn number(value: &Value) -> u64 {
    value
        .as_u64()
        .or_else(|| value.as_str().and_then(|text| text.parse().ok()))
        .unwrap_or(0)
}

/// `used` of `total` as a bar with its figures in words, named `label`
/// for screen readers; a bar nearly full turns red.
fn usage_bar(label: &str, used: u64, total: u64, unit: &str) -> Markup {
    let percent = match total {
        0 => 0,
        total => (used.saturating_mul(100) / total).min(100),
    };
    let figures = match unit {
        "" => format!("{used} of {total} used"),
        unit => format!("{used} of {total} {unit} used"),
    };
    html! {
        div.meter.full[percent >= 90] role="img" aria-label=(format!("{label}: {figures}")) {
            span style=(format!("width: {percent}%")) {}
        }
        div.usage-figures { (figures) }
    }
}

/// A usage bar under its visible label, for the summary.
fn meter(label: &str, used: u64, total: u64, unit: &str) -> Markup {
    html! {
        div.usage {
            strong.usage-label { (label) }
            (usage_bar(label, used, total, unit))
        }
    }
}
