//! Routers (Neutron's `routers` and their interface ports), as Horizon's
//! Project > Network > Routers panel: the list with each router's
//! external gateway, creating one (with a gateway if wanted), and a
//! router's page where the gateway is set or cleared and interfaces on the
//! project's subnets are added and removed. Only the project's own
//! routers are listed, also to an admin.

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
    Pairs, ROUTERS as BASE, addresses, admin_state, by_id, external_networks, link,
    network_choices, network_href, neutron_list, project_list, router_href, usable_networks,
};
use crate::pages::{name_of, segment, text};

pub fn routes() -> Router<Dashboard> {
    Router::new()
        .route("/project/routers", get(list))
        .route("/project/routers/create", post(create))
        .route("/project/routers/{id}", get(details))
        .route("/project/routers/{id}/delete", post(delete))
        .route("/project/routers/{id}/gateway", post(set_gateway))
        .route("/project/routers/{id}/gateway/clear", post(clear_gateway))
        .route("/project/routers/{id}/interfaces", post(add_interface))
        .route(
            "/project/routers/{id}/interfaces/{port_id}/remove",
            post(remove_interface),
        )
}

/// A router's gateway: its external network (linked) and addresses.
fn gateway(router: &Value, networks: &HashMap<String, &Value>) -> Markup {
    let info = &router["external_gateway_info"];
    let network_id = text(&info["network_id"]);
    html! {
        @if network_id.is_empty() {
            span.hint { "None" }
        } @else {
            @match networks.get(&network_id) {
                Some(network) => (link(&network_href(&network_id), network)),
                None => (network_id),
            }
            @let ips = addresses(&info["external_fixed_ips"]);
            @if !ips.is_empty() { " " code { (ips.join(", ")) } }
        }
    }
}

async fn list(ctx: Ctx, Query(query): Query<ListQuery>) -> PageResult {
    let (routers, externals) = tokio::join!(
        project_list(&ctx, "routers", "routers"),
        external_networks(&ctx),
    );
    let (routers, externals) = (routers?, externals?);
    let networks = by_id(&externals);
    let table = Table::new(BASE, "Routers", |r: &Value| text(&r["id"]))
        .cell("name", "Name", Some(Box::new(name_of)), |r| {
            link(&router_href(&text(&r["id"])), r)
        })
        .status("status", "Status", |r: &Value| text(&r["status"]))
        .cell("gateway", "External Network", None, |r| {
            gateway(r, &networks)
        })
        .column("admin_state", "Admin State", |r: &Value| {
            admin_state(r).to_owned()
        })
        .cell("actions", "Actions", None, |r| {
            delete_button(&ctx, r, "Delete")
        })
        .search(name_of);
    let body = html! {
        (table.render(&ctx, &query, routers, "No routers yet: create one below."))
        form.card method="post" action=(format!("{BASE}/create")) {
            h2 { "Create router" }
            (ctx.csrf_field())
            (field("Router name", "router-name", html! { input #router-name name="name" type="text" required; }))
            (field("External network", "router-external",
                select("network_id", "router-external", &network_choices(&externals, Some("(none)")), None)))
            button type="submit" { "Create router" }
        }
    };
    Ok(layout::page(&ctx, "Routers", BASE, body))
}

#[derive(Deserialize)]
struct CreateForm {
    name: String,
    #[serde(default)]
    network_id: String,
}

async fn create(ctx: Ctx, CsrfForm(form): CsrfForm<CreateForm>) -> PageResult {
    let name = form.name.trim();
    let mut router = json!({"name": name});
    if !form.network_id.is_empty() {
        router["external_gateway_info"] = json!({"network_id": form.network_id});
    }
    let routers = format!("{NETWORK}/routers");
    let router = json!({ "router": router });
    let report = Report {
        about: None,
        done: &format!("Created router {name}."),
        failed: &format!("Could not create router {name}"),
        back: BASE,
    };
    Ok(ctx.create(routers, &router, "/router/id", report).await)
}

async fn details(ctx: Ctx, Path(id): Path<String>) -> PageResult {
    let router = ctx
        .get(format!("{NETWORK}/routers/{}", segment(&id)))
        .await?["router"]
        .clone();
    let ports_query = serde_urlencoded::to_string([
        ("device_id", id.as_str()),
        ("device_owner", "network:router_interface"),
    ])
    .unwrap_or_default();
    let (interfaces, networks, subnets) = tokio::join!(
        neutron_list(&ctx, format!("ports?{ports_query}"), "ports"),
        usable_networks(&ctx),
        project_list(&ctx, "subnets", "subnets"),
    );
    let (interfaces, networks, subnets) = (interfaces?, networks?, subnets?);
    let networks_by_id = by_id(&networks);
    let subnets_by_id = by_id(&subnets);
    let externals: Vec<Value> = networks
        .iter()
        .filter(|n| n["router:external"].as_bool() == Some(true))
        .cloned()
        .collect();
    let name = name_of(&router);
    let here = router_href(&id);
    let interface_table = Table::new(&here, "Interfaces", |p: &Value| text(&p["id"]))
        .column("fixed_ips", "Fixed IPs", |p: &Value| {
            addresses(&p["fixed_ips"]).join(", ")
        })
        .cell("subnet", "Subnet", None, |p| {
            html! {
                @for ip in p["fixed_ips"].as_array().into_iter().flatten() {
                    @let subnet_id = text(&ip["subnet_id"]);
                    div { @match subnets_by_id.get(&subnet_id) {
                        Some(subnet) => { (name_of(subnet)) " " code { (text(&subnet["cidr"])) } },
                        None => (subnet_id),
                    } }
                }
            }
        })
        .cell("network", "Network", None, |p| {
            let network_id = text(&p["network_id"]);
            match networks_by_id.get(&network_id) {
                Some(network) => link(&network_href(&network_id), network),
                None => html! { (network_id) },
            }
        })
        .status("status", "Status", |p: &Value| text(&p["status"]))
        .cell("actions", "Actions", None, |p| {
            let port_id = text(&p["id"]);
            action_button(
                &ctx,
                &format!("{here}/interfaces/{}/remove", segment(&port_id)),
                "Remove",
                Some(&format!(
                    "Remove interface {} from router {name}?",
                    addresses(&p["fixed_ips"]).join(", ")
                )),
            )
        });
    let subnet_choices: Vec<(String, String)> = subnets
        .iter()
        .map(|s| {
            let network = networks_by_id
                .get(&text(&s["network_id"]))
                .map(|n| name_of(n))
                .unwrap_or_default();
            (
                text(&s["id"]),
                format!("{network}: {} ({})", name_of(s), text(&s["cidr"])),
            )
        })
        .collect();
    let gateway_network = text(&router["external_gateway_info"]["network_id"]);
    let body = html! {
        dl.details.card {
            dt { "Name" } dd { (name) }
            dt { "ID" } dd { (id) }
            dt { "Status" } dd { (text(&router["status"])) }
            dt { "Admin state" } dd { (admin_state(&router)) }
            dt { "External gateway" } dd { (gateway(&router, &networks_by_id)) }
        }
        (delete_button(&ctx, &router, "Delete router"))
        div.quota {
            form.card method="post" action=(format!("{here}/gateway")) {
                h2 { "External gateway" }
                (ctx.csrf_field())
                (field("External network", "gateway-network",
                    select("network_id", "gateway-network", &network_choices(&externals, None), Some(&gateway_network))))
                button type="submit" { "Set gateway" }
            }
        }
        @if !gateway_network.is_empty() {
            (action_button(&ctx, &format!("{here}/gateway/clear"), "Clear gateway",
                Some(&format!("Clear the external gateway of router {name}?"))))
        }
        h2 { "Interfaces" }
        (interface_table.render_all(&ctx, interfaces, "No interfaces: add one below."))
        form.card method="post" action=(format!("{here}/interfaces")) {
            h2 { "Add interface" }
            (ctx.csrf_field())
            (field("Subnet", "interface-subnet", select("subnet_id", "interface-subnet", &subnet_choices, None)))
            button type="submit" disabled[subnet_choices.is_empty()] { "Add interface" }
        }
    };
    Ok(layout::page(&ctx, &format!("Router {name}"), BASE, body))
}

fn delete_button(ctx: &Ctx, router: &Value, label: &str) -> Markup {
    let action = format!("{}/delete", router_href(&text(&router["id"])));
    let question = format!("Delete router {}?", name_of(router));
    action_button(ctx, &action, label, Some(&question))
}

/// Updates the router with `change` and ends the action.
async fn update(ctx: &Ctx, id: &str, change: Value, done: &str, failed: &str) -> PageResult {
    let router = format!("{NETWORK}/routers/{}", segment(id));
    let update = json!({ "router": change });
    let report = Report {
        about: None,
        done,
        failed,
        back: &router_href(id),
    };
    Ok(ctx.act(Method::PUT, router, Some(&update), report).await)
}

#[derive(Deserialize)]
struct GatewayForm {
    network_id: String,
}

async fn set_gateway(
    ctx: Ctx,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<GatewayForm>,
) -> PageResult {
    let change = json!({"external_gateway_info": {"network_id": form.network_id}});
    update(
        &ctx,
        &id,
        change,
        "Set the gateway.",
        "Could not set the gateway",
    )
    .await
}

async fn clear_gateway(
    ctx: Ctx,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<Pairs>,
) -> PageResult {
    let change = json!({"external_gateway_info": {}});
    update(
        &ctx,
        &id,
        change,
        "Cleared the gateway.",
        "Could not clear the gateway",
    )
    .await
}

/// The router's `add_router_interface` or `remove_router_interface`.
fn interface_path(id: &str, verb: &str) -> String {
    format!("{NETWORK}/routers/{}/{verb}_router_interface", segment(id))
}

#[derive(Deserialize)]
struct InterfaceForm {
    subnet_id: String,
}

async fn add_interface(
    ctx: Ctx,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<InterfaceForm>,
) -> PageResult {
    let request = json!({"subnet_id": form.subnet_id});
    let added = ctx
        .call(Method::PUT, interface_path(&id, "add"), Some(&request))
        .await;
    let port_id = added.as_ref().map(|b| text(&b["port_id"])).ok();
    Ok(ctx.finish(
        added,
        port_id.as_deref(),
        "Added the interface.",
        "Could not add the interface",
        &router_href(&id),
    ))
}

async fn remove_interface(
    ctx: Ctx,
    Path((id, port_id)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<Pairs>,
) -> PageResult {
    let request = json!({"port_id": port_id});
    let path = interface_path(&id, "remove");
    let report = Report {
        about: None,
        done: "Removed the interface.",
        failed: "Could not remove the interface",
        back: &router_href(&id),
    };
    Ok(ctx.act(Method::PUT, path, Some(&request), report).await)
}

async fn delete(ctx: Ctx, Path(id): Path<String>, CsrfForm(_): CsrfForm<Pairs>) -> PageResult {
    let deleted = ctx
        .call(
            Method::DELETE,
            format!("{NETWORK}/routers/{}", segment(&id)),
            None,
        )
        .await;
    let back = match &deleted {
        Ok(_) => BASE.to_owned(),
        Err(_) => router_href(&id),
    };
    Ok(ctx.finish(
        deleted,
        None,
        "Deleted the router.",
        "Could not delete the router",
        &back,
    ))
}
