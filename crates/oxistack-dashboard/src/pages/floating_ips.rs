//! Floating IPs (Neutron's `floatingips`), as Horizon's Floating IPs
//! panel (Project, Network): the list with what each address is mapped to (an
//! instance, or a load balancer by its VIP port), allocating one from an
//! external network, associating it with an instance's port or a load
//! balancer's VIP in one choice, disassociating and releasing it. Only
//! the project's own addresses are listed, also to an admin.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Path, Query};
use axum::http::Method;
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Dashboard;
use crate::client::NETWORK;
use crate::context::{Ctx, PageResult, Report};
use crate::form::CsrfForm;
use crate::layout::{self, action_button, field, select};
use crate::list::{ListQuery, Table};
use crate::pages::neutron::{
    Pairs, addresses, by_id, by_vip_port, external_networks, link, load_balancers, network_choices,
    network_href, port_device, project_list, servers,
};
use crate::pages::{name_of, segment, text};

const BASE: &str = "/dashboard/project/floating_ips";

pub fn routes() -> Router<Dashboard> {
    Router::new()
        .route("/project/floating_ips", get(list))
        .route("/project/floating_ips/allocate", post(allocate))
        .route("/project/floating_ips/{id}/associate", post(associate))
        .route(
            "/project/floating_ips/{id}/disassociate",
            post(disassociate),
        )
        .route("/project/floating_ips/{id}/release", post(release))
}

fn action(id: &str, verb: &str) -> String {
    format!("{BASE}/{}/{verb}", segment(id))
}

/// What a floating IP may be associated with: every fixed IP of the
/// project's instances ("web-1: 10.0.0.5") and every load balancer's VIP
/// ("lb: 10.0.0.9"), as `port_id,ip` values.
fn targets(
    ports: &[Value],
    servers: &HashMap<String, &Value>,
    load_balancers: &[Value],
) -> Vec<(String, String)> {
    let mut instances: Vec<(String, String)> = ports
        .iter()
        .filter(|p| text(&p["device_owner"]).starts_with("compute:"))
        .flat_map(|port| {
            let owner = servers
                .get(&text(&port["device_id"]))
                .map_or_else(|| text(&port["device_id"]), |s| name_of(s));
            addresses(&port["fixed_ips"]).into_iter().map(move |ip| {
                (
                    format!("{},{ip}", text(&port["id"])),
                    format!("{owner}: {ip}"),
                )
            })
        })
        .collect();
    instances.sort_by(|a, b| a.1.cmp(&b.1));
    let mut balancers: Vec<(String, String)> = load_balancers
        .iter()
        .filter(|lb| !text(&lb["vip_port_id"]).is_empty())
        .map(|lb| {
            let vip = text(&lb["vip_address"]);
            (
                format!("{},{vip}", text(&lb["vip_port_id"])),
                format!("{} (load balancer): {vip}", name_of(lb)),
            )
        })
        .collect();
    balancers.sort_by(|a, b| a.1.cmp(&b.1));
    instances.into_iter().chain(balancers).collect()
}

async fn list(ctx: Ctx, Query(query): Query<ListQuery>) -> PageResult {
    let (floating_ips, ports, servers, load_balancers, externals) = tokio::join!(
        project_list(&ctx, "floatingips", "floatingips"),
        project_list(&ctx, "ports", "ports"),
        servers(&ctx),
        load_balancers(&ctx),
        external_networks(&ctx),
    );
    let (floating_ips, ports, servers, load_balancers, externals) =
        (floating_ips?, ports?, servers?, load_balancers?, externals?);
    let servers_by_id = by_id(&servers);
    let ports_by_id = by_id(&ports);
    let vips = by_vip_port(&load_balancers);
    let networks = by_id(&externals);
    let choices = targets(&ports, &servers_by_id, &load_balancers);
    let mapped = |f: &Value| -> Markup {
        let port_id = text(&f["port_id"]);
        if port_id.is_empty() {
            return html! { span.hint { "Not associated" } };
        }
        // A VIP port the project cannot list is still known by its id.
        let unlisted = json!({ "id": port_id });
        let port = ports_by_id.get(&port_id).copied().unwrap_or(&unlisted);
        let device = port_device(port, &servers_by_id, &vips);
        html! {
            code { (text(&f["fixed_ip_address"])) }
            @if let Some(device) = device { " " (device) }
        }
    };
    let table = Table::new(BASE, "Floating IPs", |f: &Value| text(&f["id"]))
        .cell(
            "address",
            "IP Address",
            Some(Box::new(|f: &Value| text(&f["floating_ip_address"]))),
            |f| html! { code { (text(&f["floating_ip_address"])) } },
        )
        .cell("mapped", "Mapped Fixed IP Address", None, mapped)
        .cell("pool", "Pool", None, |f| {
            let network_id = text(&f["floating_network_id"]);
            match networks.get(&network_id) {
                Some(network) => link(&network_href(&network_id), network),
                None => html! { (network_id) },
            }
        })
        .status("status", "Status", |f: &Value| text(&f["status"]))
        .cell("actions", "Actions", None, |f| {
            row_actions(&ctx, f, &choices)
        })
        .search(|f: &Value| {
            format!(
                "{} {} {}",
                text(&f["floating_ip_address"]),
                text(&f["fixed_ip_address"]),
                text(&f["description"])
            )
        });
    let body = html! {
        (table.render(&ctx, &query, floating_ips, "No floating IPs: allocate one below."))
        form.card method="post" action=(format!("{BASE}/allocate")) {
            h2 { "Allocate IP to project" }
            (ctx.csrf_field())
            (field("Pool", "allocate-pool", select("floating_network_id", "allocate-pool", &network_choices(&externals, None), None)))
            (field("Description", "allocate-description", html! { input #allocate-description name="description" type="text"; }))
            button type="submit" disabled[externals.is_empty()] { "Allocate IP" }
        }
    };
    Ok(layout::page(&ctx, "Floating IPs", BASE, body))
}

/// An associated address: disassociate; a free one: a choice of targets
/// to associate it with. Either may be released.
fn row_actions(ctx: &Ctx, floating_ip: &Value, choices: &[(String, String)]) -> Markup {
    let id = text(&floating_ip["id"]);
    let address = text(&floating_ip["floating_ip_address"]);
    let select_id = format!("associate-{id}");
    html! {
        @if text(&floating_ip["port_id"]).is_empty() {
            @if !choices.is_empty() {
                form.inline method="post" action=(action(&id, "associate")) {
                    (ctx.csrf_field())
                    label.visually-hidden for=(select_id) { "Port to be associated with " (address) }
                    (select("target", &select_id, choices, None))
                    button type="submit" { "Associate" }
                }
            }
        } @else {
            (action_button(ctx, &action(&id, "disassociate"), "Disassociate",
                Some(&format!("Disassociate floating IP {address}?"))))
        }
        (action_button(ctx, &action(&id, "release"), "Release",
            Some(&format!("Release floating IP {address}?"))))
    }
}

#[derive(Deserialize)]
struct AllocateForm {
    floating_network_id: String,
    #[serde(default)]
    description: String,
}

async fn allocate(ctx: Ctx, CsrfForm(form): CsrfForm<AllocateForm>) -> PageResult {
    let request = json!({"floatingip": {
        "floating_network_id": form.floating_network_id,
        "description": form.description.trim(),
    }});
    let allocated = ctx
        .call(
            Method::POST,
            format!("{NETWORK}/floatingips"),
            Some(&request),
        )
        .await;
    let (id, address) = match &allocated {
        Ok(body) => (
            Some(text(&body["floatingip"]["id"])),
            text(&body["floatingip"]["floating_ip_address"]),
        ),
        Err(_) => (None, String::new()),
    };
    Ok(ctx.finish(
        allocated,
        id.as_deref(),
        format!("Allocated floating IP {address}."),
        "Could not allocate a floating IP",
        BASE,
    ))
}

/// Sets (or, with `None`, clears) the port of floating IP `id`.
async fn set_port(
    ctx: &Ctx,
    id: &str,
    port: Option<(&str, &str)>,
    done: &str,
    failed: &str,
) -> PageResult {
    let change = match port {
        Some((port_id, ip)) => json!({"port_id": port_id, "fixed_ip_address": ip}),
        None => json!({"port_id": null}),
    };
    let floating_ip = format!("{NETWORK}/floatingips/{}", segment(id));
    let update = json!({ "floatingip": change });
    let report = Report {
        about: Some(id),
        done,
        failed,
        back: BASE,
    };
    Ok(ctx
        .act(Method::PUT, floating_ip, Some(&update), report)
        .await)
}

#[derive(Deserialize)]
struct AssociateForm {
    /// `port_id,fixed_ip`, as [`targets`] offers them.
    target: String,
}

async fn associate(
    ctx: Ctx,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<AssociateForm>,
) -> PageResult {
    let (port_id, ip) = form.target.split_once(',').unwrap_or((&form.target, ""));
    let done = format!("Associated the floating IP with {ip}.");
    set_port(
        &ctx,
        &id,
        Some((port_id, ip)),
        &done,
        "Could not associate the floating IP",
    )
    .await
}

async fn disassociate(
    ctx: Ctx,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<Pairs>,
) -> PageResult {
    set_port(
        &ctx,
        &id,
        None,
        "Disassociated the floating IP.",
        "Could not disassociate the floating IP",
    )
    .await
}

async fn release(ctx: Ctx, Path(id): Path<String>, CsrfForm(_): CsrfForm<Pairs>) -> PageResult {
    let floating_ip = format!("{NETWORK}/floatingips/{}", segment(&id));
    let report = Report {
        about: None,
        done: "Released the floating IP.",
        failed: "Could not release the floating IP",
        back: BASE,
    };
    Ok(ctx.act(Method::DELETE, floating_ip, None, report).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instances_and_load_balancers_are_one_choice() {
        let ports = [
            json!({"id": "p1", "device_owner": "compute:nova", "device_id": "s1",
                   "fixed_ips": [{"ip_address": "10.0.0.5"}, {"ip_address": "fd00::5"}]}),
            json!({"id": "p2", "device_owner": "network:router_interface", "device_id": "r1",
                   "fixed_ips": [{"ip_address": "10.0.0.1"}]}),
        ];
        let server = json!({"id": "s1", "name": "web-1"});
        let servers = HashMap::from([("s1".to_owned(), &server)]);
        let balancers =
            [json!({"id": "lb1", "name": "lb", "vip_port_id": "p3", "vip_address": "10.0.0.9"})];
        let choices = targets(&ports, &servers, &balancers);
        let labels: Vec<&str> = choices.iter().map(|(_, label)| label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "web-1: 10.0.0.5",
                "web-1: fd00::5",
                "lb (load balancer): 10.0.0.9"
            ]
        );
        assert_eq!(choices[2].0, "p3,10.0.0.9");
    }
}
