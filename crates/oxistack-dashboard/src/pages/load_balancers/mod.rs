//! Load balancers (Octavia), as Horizon's Project > Network > Load
//! Balancers panel: the list, the create wizard ([`wizard`]) and each load
//! balancer's page with its live status tree, its floating IP and its
//! pools' members ([`details`]).
//!
//! What the wizard and the details page both offer as pool members are the
//! project's instances by their fixed addresses ([`member_targets`]).
//! Octavia lists every project's load balancers to an admin; the panel
//! asks for the signed-in project's only.

mod details;
mod wizard;

use axum::Router;
use axum::extract::{Path, Query};
use axum::http::Method;
use axum::routing::{get, post};
use maud::html;
use serde_json::Value;

use crate::Dashboard;
use crate::context::{Ctx, PageError, PageResult, Report};
use crate::form::CsrfForm;
use crate::layout::{self, action_button};
use crate::list::{ListQuery, Table};
use crate::pages::neutron::{self, load_balancer_href, project_filter, project_list};
use crate::pages::{items, name_of, segment, text};

const BASE: &str = neutron::LOAD_BALANCERS;
/// Octavia's v2 API, where every load-balancer object lives.
const LBAAS: &str = "/load-balancer/v2/lbaas";

pub fn routes() -> Router<Dashboard> {
    Router::new()
        .route("/project/load_balancers", get(list))
        .route(
            "/project/load_balancers/create",
            get(wizard::form).post(wizard::create),
        )
        .route("/project/load_balancers/{id}", get(details::page))
        .route(
            "/project/load_balancers/{id}/status",
            get(details::status_block),
        )
        .route("/project/load_balancers/{id}/delete", post(delete))
        .route(
            "/project/load_balancers/{id}/floating_ip",
            post(details::associate_floating_ip),
        )
        .route(
            "/project/load_balancers/{id}/floating_ip/{fip}/disassociate",
            post(details::disassociate_floating_ip),
        )
        .route(
            "/project/load_balancers/{id}/pools/{pool}/members",
            post(details::add_member),
        )
        .route(
            "/project/load_balancers/{id}/pools/{pool}/members/{member}/delete",
            post(details::remove_member),
        )
}

async fn list(ctx: Ctx, Query(query): Query<ListQuery>) -> PageResult {
    let (body, floating_ips) = tokio::join!(
        ctx.get(format!("{LBAAS}/loadbalancers?{}", project_filter(&ctx))),
        project_list(&ctx, "floatingips", "floatingips"),
    );
    let load_balancers = items(&body?, "loadbalancers");
    let floating_ips = floating_ips?;
    let floating_ip_of = |lb: &Value| {
        floating_ips
            .iter()
            .find(|fip| fip["port_id"] == lb["vip_port_id"] && !lb["vip_port_id"].is_null())
            .map(|fip| text(&fip["floating_ip_address"]))
            .unwrap_or_default()
    };
    let table = Table::new(BASE, "Load balancers", |lb: &Value| text(&lb["id"]))
        .cell(
            "name",
            "Name",
            Some(Box::new(name_of)),
            |lb| html! { a href=(load_balancer_href(&text(&lb["id"]))) { (name_of(lb)) } },
        )
        .column("vip", "VIP address", |lb: &Value| text(&lb["vip_address"]))
        .column("floating_ip", "Floating IP", floating_ip_of)
        .status("provisioning", "Provisioning status", |lb: &Value| {
            text(&lb["provisioning_status"])
        })
        .cell(
            "operating",
            "Operating status",
            Some(Box::new(|lb: &Value| text(&lb["operating_status"]))),
            |lb| layout::badge(&text(&lb["operating_status"])),
        )
        .column("listeners", "Listeners", |lb: &Value| {
            lb["listeners"].as_array().map_or(0, Vec::len).to_string()
        })
        .column("description", "Description", |lb: &Value| {
            text(&lb["description"])
        })
        .cell("actions", "Actions", None, |lb| {
            delete_button(&ctx, &text(&lb["id"]), &name_of(lb), "Delete")
        })
        .search(|lb: &Value| format!("{} {}", name_of(lb), text(&lb["vip_address"])))
        .pending(|lb| layout::is_pending(&text(&lb["provisioning_status"])));
    let body = html! {
        div.toolbar {
            a.button href=(format!("{BASE}/create")) { "Create load balancer" }
        }
        (table.render(&ctx, &query, load_balancers, "No load balancers yet: create one with the wizard."))
    };
    Ok(layout::page(&ctx, "Load Balancers", BASE, body))
}

/// Deletes a load balancer with everything in it, as Horizon's delete
/// does (`cascade=true`).
fn delete_button(ctx: &Ctx, id: &str, name: &str, label: &str) -> maud::Markup {
    action_button(
        ctx,
        &format!("{BASE}/{}/delete", segment(id)),
        label,
        Some(&format!(
            "Delete load balancer {name} with its listeners, pools, members and health monitors?"
        )),
    )
}

async fn delete(
    ctx: Ctx,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<Vec<(String, String)>>,
) -> PageResult {
    let cascade = format!("{LBAAS}/loadbalancers/{}?cascade=true", segment(&id));
    let report = Report {
        about: Some(&id),
        done: "Deleting the load balancer.",
        failed: "Could not delete the load balancer",
        back: BASE,
    };
    Ok(ctx.act(Method::DELETE, cascade, None, report).await)
}

/// An address of one of the project's instances that a pool may balance
/// to, identified in forms by `key`.
#[derive(Debug, Clone)]
struct MemberTarget {
    key: String,
    instance: String,
    address: String,
    subnet_id: String,
}

/// Every fixed address of every instance of the project, by instance name.
async fn member_targets(ctx: &Ctx) -> Result<Vec<MemberTarget>, PageError> {
    let servers = neutron::servers(ctx).await?;
    let ports = project_list(ctx, "ports", "ports").await?;
    let mut targets: Vec<MemberTarget> = ports
        .iter()
        .filter_map(|port| {
            let server = servers.iter().find(|s| s["id"] == port["device_id"])?;
            Some((name_of(server), port))
        })
        .flat_map(|(instance, port)| {
            port["fixed_ips"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(move |ip| MemberTarget {
                    key: format!("{}/{}", text(&ip["subnet_id"]), text(&ip["ip_address"])),
                    instance: instance.clone(),
                    address: text(&ip["ip_address"]),
                    subnet_id: text(&ip["subnet_id"]),
                })
        })
        .collect();
    targets.sort_by(|a, b| (&a.instance, &a.address).cmp(&(&b.instance, &b.address)));
    Ok(targets)
}

/// Why a posted instance address cannot be a member: it left the project
/// between the page and the post.
fn gone(key: &str) -> String {
    format!("The instance address {key} is no longer in the project.")
}

/// The subnets of the networks the project may use, as
/// `(id, "name cidr (network)")` options, the project's own first (shared
/// ones, such as the public, after).
async fn subnet_options(ctx: &Ctx) -> Result<Vec<(String, String)>, PageError> {
    let networks = neutron::usable_networks(ctx).await?;
    let mut subnets = neutron::subnets_of(ctx, &networks).await?;
    subnets.sort_by_key(|subnet| subnet["project_id"] != ctx.auth.project_id.as_str());
    let networks = neutron::by_id(&networks);
    Ok(subnets
        .iter()
        .map(|subnet| {
            let network = networks
                .get(&text(&subnet["network_id"]))
                .map(|network| name_of(network))
                .unwrap_or_default();
            (
                text(&subnet["id"]),
                format!("{} {} ({network})", name_of(subnet), text(&subnet["cidr"])),
            )
        })
        .collect())
}

/// A number the form gave as a JSON number, anything else as the text it
/// is (so Octavia refuses it in its own words); `None` when empty.
fn number(value: &str) -> Option<Value> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    Some(match value.parse::<i64>() {
        Ok(number) => Value::from(number),
        Err(_) => Value::from(value),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::LOAD_BALANCER;

    #[test]
    fn numbers_go_as_numbers_and_anything_else_as_given() {
        assert_eq!(number(" 80 "), Some(Value::from(80)));
        assert_eq!(number("eighty"), Some(Value::from("eighty")));
        assert_eq!(number(""), None);
    }

    #[test]
    fn lbaas_lives_under_the_load_balancer_endpoint() {
        assert!(LBAAS.starts_with(LOAD_BALANCER));
    }
}
