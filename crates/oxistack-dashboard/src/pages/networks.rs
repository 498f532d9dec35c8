//! Networks and their subnets (Neutron's `networks`, `subnets`, `ports`),
//! as Horizon's Project > Network > Networks panel: the list, a network
//! created with an optional first subnet in one form, and a network's page
//! with its subnets and ports, where subnets are added and deleted.
//! The list holds the project's networks and those it may use (shared
//! and external ones), not every project's as Neutron shows an admin.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Path, Query};
use axum::http::Method;
use axum::routing::{get, post};
use maud::{Markup, html};
use serde_json::{Value, json};

use crate::Dashboard;
use crate::client::{ApiFailure, NETWORK};
use crate::context::{Ctx, PageError, PageResult, Report};
use crate::form::{self, CsrfForm};
use crate::layout::{self, action_button, field};
use crate::list::{ListQuery, Table};
use crate::pages::neutron::{
    NETWORKS as BASE, Pairs, addresses, admin_state, by_id, by_vip_port, load_balancers,
    network_href, neutron_list, port_device, project_list, servers, subnets_of, usable_networks,
};
use crate::pages::{name_of, segment, text, yes_no};

pub fn routes() -> Router<Dashboard> {
    Router::new()
        .route("/project/networks", get(list))
        .route("/project/networks/create", post(create))
        .route("/project/networks/{id}", get(details))
        .route("/project/networks/{id}/delete", post(delete))
        .route("/project/networks/{id}/subnets", post(add_subnet))
        .route(
            "/project/networks/{id}/subnets/{subnet_id}/delete",
            post(delete_subnet),
        )
}

async fn list(ctx: Ctx, Query(query): Query<ListQuery>) -> PageResult {
    let networks = usable_networks(&ctx).await?;
    let subnets = subnets_of(&ctx, &networks).await?;
    let subnets = by_id(&subnets);
    let subnet_text = |n: &Value| -> String {
        subnet_ids(n)
            .filter_map(|id| subnets.get(&id))
            .map(|s| format!("{} {}", name_of(s), text(&s["cidr"])))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let table = Table::new(BASE, "Networks", |n: &Value| text(&n["id"]))
        .cell(
            "name",
            "Name",
            Some(Box::new(name_of)),
            |n| html! { a href=(network_href(&text(&n["id"]))) { (name_of(n)) } },
        )
        .cell("subnets", "Subnets", None, |n| {
            html! {
                @for id in subnet_ids(n) {
                    @if let Some(subnet) = subnets.get(&id) {
                        div { (name_of(subnet)) " " code { (text(&subnet["cidr"])) } }
                    }
                }
            }
        })
        .column("shared", "Shared", |n: &Value| {
            yes_no(&n["shared"]).to_owned()
        })
        .column("external", "External", |n: &Value| {
            yes_no(&n["router:external"]).to_owned()
        })
        .status("status", "Status", |n: &Value| text(&n["status"]))
        .column("admin_state", "Admin State", |n: &Value| {
            admin_state(n).to_owned()
        })
        .cell("actions", "Actions", None, |n| {
            delete_button(&ctx, n, "Delete")
        })
        .search(move |n: &Value| format!("{} {}", name_of(n), subnet_text(n)));
    let body = html! {
        (table.render(&ctx, &query, networks, "No networks yet: create one below."))
        form.card method="post" action=(format!("{BASE}/create")) {
            h2 { "Create network" }
            (ctx.csrf_field())
            (field("Network name", "network-name", html! { input #network-name name="name" type="text" required; }))
            div.field.checks {
                label { input type="checkbox" name="admin_state_up" value="on" checked; "Enable admin state" }
            }
            fieldset {
                legend { "First subnet (optional)" }
                p.hint { "Leave the CIDR empty to create the network without a subnet." }
                (subnet_fields("create", false))
            }
            button type="submit" { "Create network" }
        }
    };
    Ok(layout::page(&ctx, "Networks", BASE, body))
}

/// The ids in a network's `subnets`.
fn subnet_ids(network: &Value) -> impl Iterator<Item = String> + '_ {
    network["subnets"]
        .as_array()
        .into_iter()
        .flatten()
        .map(text)
}

/// The fields of a subnet, shared by the create-network form (where the
/// CIDR is optional) and the add-subnet form; `prefix` keeps ids unique.
fn subnet_fields(prefix: &str, cidr_required: bool) -> Markup {
    let id = |name: &str| format!("{prefix}-{name}");
    html! {
        (field("Subnet name", &id("subnet-name"), html! { input id=(id("subnet-name")) name="subnet_name" type="text"; }))
        (field("Network address (CIDR)", &id("cidr"), html! {
            input id=(id("cidr")) name="cidr" type="text" required[cidr_required] placeholder="192.168.0.0/24";
        }))
        (field("Gateway IP", &id("gateway"), html! {
            input id=(id("gateway")) name="gateway_ip" type="text" placeholder="first address of the range";
        }))
        div.field.checks {
            label { input type="checkbox" name="no_gateway" value="on"; "Disable gateway" }
            label { input type="checkbox" name="enable_dhcp" value="on" checked; "Enable DHCP" }
        }
        (field("DNS name servers", &id("dns"), html! {
            textarea id=(id("dns")) name="dns_nameservers" rows="2" placeholder="one address a line" {}
        }))
    }
}

/// The `subnet` body of the subnet fields in `pairs`, on `network_id`;
/// `None` without a CIDR.
fn subnet_request(pairs: &Pairs, network_id: &str) -> Option<Value> {
    let cidr = form::value(pairs, "cidr")?.trim();
    let mut subnet = json!({
        "network_id": network_id,
        "cidr": cidr,
        "ip_version": if cidr.contains(':') { 6 } else { 4 },
        "name": form::value(pairs, "subnet_name").unwrap_or("").trim(),
        "enable_dhcp": form::value(pairs, "enable_dhcp").is_some(),
    });
    if form::value(pairs, "no_gateway").is_some() {
        subnet["gateway_ip"] = Value::Null;
    } else if let Some(gateway) = form::value(pairs, "gateway_ip") {
        subnet["gateway_ip"] = json!(gateway.trim());
    }
    let servers: Vec<&str> = form::value(pairs, "dns_nameservers")
        .unwrap_or("")
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|server| !server.is_empty())
        .collect();
    if !servers.is_empty() {
        subnet["dns_nameservers"] = json!(servers);
    }
    Some(json!({ "subnet": subnet }))
}

async fn create_subnet(ctx: &Ctx, request: &Value) -> Result<Value, ApiFailure> {
    ctx.call(Method::POST, format!("{NETWORK}/subnets"), Some(request))
        .await
}

/// Creates the network and, if a CIDR was given, its first subnet; as in
/// Horizon, a network whose subnet was refused is deleted again, so the
/// form can simply be sent once more.
async fn create(ctx: Ctx, CsrfForm(pairs): CsrfForm<Pairs>) -> PageResult {
    let name = form::value(&pairs, "name").unwrap_or("").trim().to_owned();
    let failed = format!("Could not create network {name}");
    let request = json!({"network": {
        "name": name,
        "admin_state_up": form::value(&pairs, "admin_state_up").is_some(),
    }});
    let created = ctx
        .call(Method::POST, format!("{NETWORK}/networks"), Some(&request))
        .await;
    let network_id = match created {
        Ok(body) => text(&body["network"]["id"]),
        Err(failure) => return Ok(ctx.finish::<()>(Err(failure), None, "", &failed, BASE)),
    };
    let Some(subnet) = subnet_request(&pairs, &network_id) else {
        return Ok(ctx.finish::<()>(
            Ok(()),
            Some(&network_id),
            format!("Created network {name}."),
            &failed,
            BASE,
        ));
    };
    let outcome = create_subnet(&ctx, &subnet).await;
    if outcome.is_err() {
        let path = format!("{NETWORK}/networks/{}", segment(&network_id));
        // The subnet's refusal is the message; a failed clean-up shows as
        // the network left in the list.
        let _ = ctx.call(Method::DELETE, path, None).await;
    }
    Ok(ctx.finish(
        outcome,
        Some(&network_id),
        format!("Created network {name} with its subnet."),
        &failed,
        BASE,
    ))
}

async fn details(ctx: Ctx, Path(id): Path<String>) -> PageResult {
    let network = ctx
        .get(format!("{NETWORK}/networks/{}", segment(&id)))
        .await?["network"]
        .clone();
    let query = serde_urlencoded::to_string([("network_id", &id)]).unwrap_or_default();
    let (subnets, ports, servers, routers, load_balancers) = tokio::join!(
        neutron_list(&ctx, format!("subnets?{query}"), "subnets"),
        neutron_list(&ctx, format!("ports?{query}"), "ports"),
        servers(&ctx),
        project_list(&ctx, "routers", "routers"),
        load_balancers(&ctx),
    );
    let (subnets, ports, servers, routers, load_balancers) =
        (subnets?, ports?, servers?, routers?, load_balancers?);
    let mut devices: HashMap<String, &Value> = by_id(&servers);
    devices.extend(by_id(&routers));
    let vips = by_vip_port(&load_balancers);
    let name = name_of(&network);
    let here = network_href(&id);
    let subnet_table = Table::new(&here, "Subnets", |s: &Value| text(&s["id"]))
        .column("name", "Name", name_of)
        .cell(
            "cidr",
            "Network address",
            Some(Box::new(|s: &Value| text(&s["cidr"]))),
            |s| html! { code { (text(&s["cidr"])) } },
        )
        .column("ip_version", "IP version", |s: &Value| {
            format!("IPv{}", text(&s["ip_version"]))
        })
        .column("gateway", "Gateway IP", |s: &Value| text(&s["gateway_ip"]))
        .column("dhcp", "DHCP", |s: &Value| {
            yes_no(&s["enable_dhcp"]).to_owned()
        })
        .column("dns", "DNS name servers", |s: &Value| {
            addresses_text(&s["dns_nameservers"])
        })
        .cell("actions", "Actions", None, |s| {
            let subnet = name_of(s);
            action_button(
                &ctx,
                &format!("{here}/subnets/{}/delete", segment(&text(&s["id"]))),
                "Delete",
                Some(&format!("Delete subnet {subnet}?")),
            )
        });
    let port_table = Table::new(&here, "Ports", |p: &Value| text(&p["id"]))
        .column("name", "Name", name_of)
        .column("fixed_ips", "Fixed IPs", |p: &Value| {
            addresses(&p["fixed_ips"]).join(", ")
        })
        .column("mac", "MAC address", |p: &Value| text(&p["mac_address"]))
        .cell("device", "Attached device", None, |p| {
            html! {
                @match port_device(p, &devices, &vips) {
                    Some(device) => (device),
                    None => span.hint { "Detached" },
                }
            }
        })
        .status("status", "Status", |p: &Value| text(&p["status"]))
        .column("admin_state", "Admin State", |p: &Value| {
            admin_state(p).to_owned()
        });
    let body = html! {
        dl.details.card {
            dt { "Name" } dd { (name) }
            dt { "ID" } dd { (id) }
            dt { "Project" } dd { (text(&network["project_id"])) }
            dt { "Status" } dd { (text(&network["status"])) }
            dt { "Admin state" } dd { (admin_state(&network)) }
            dt { "Shared" } dd { (yes_no(&network["shared"])) }
            dt { "External" } dd { (yes_no(&network["router:external"])) }
            dt { "MTU" } dd { (text(&network["mtu"])) }
        }
        (delete_button(&ctx, &network, "Delete network"))
        h2 { "Subnets" }
        (subnet_table.render_all(&ctx, subnets, "No subnets: add one below."))
        h2 { "Ports" }
        (port_table.render_all(&ctx, ports, "No ports on this network."))
        form.card method="post" action=(format!("{here}/subnets")) {
            h2 { "Add subnet" }
            (ctx.csrf_field())
            (subnet_fields("subnet", true))
            button type="submit" { "Add subnet" }
        }
    };
    Ok(layout::page(&ctx, &format!("Network {name}"), BASE, body))
}

/// Addresses in a JSON list of strings, comma separated.
fn addresses_text(list: &Value) -> String {
    list.as_array()
        .into_iter()
        .flatten()
        .map(text)
        .collect::<Vec<_>>()
        .join(", ")
}

fn delete_button(ctx: &Ctx, network: &Value, label: &str) -> Markup {
    let action = format!("{}/delete", network_href(&text(&network["id"])));
    let question = format!("Delete network {} and its subnets?", name_of(network));
    action_button(ctx, &action, label, Some(&question))
}

async fn delete(ctx: Ctx, Path(id): Path<String>, CsrfForm(_): CsrfForm<Pairs>) -> PageResult {
    let deleted = ctx
        .call(
            Method::DELETE,
            format!("{NETWORK}/networks/{}", segment(&id)),
            None,
        )
        .await;
    let back = match &deleted {
        Ok(_) => BASE.to_owned(),
        Err(_) => network_href(&id),
    };
    Ok(ctx.finish(
        deleted,
        None,
        "Deleted the network.",
        "Could not delete the network",
        &back,
    ))
}

async fn add_subnet(
    ctx: Ctx,
    Path(id): Path<String>,
    CsrfForm(pairs): CsrfForm<Pairs>,
) -> PageResult {
    let Some(request) = subnet_request(&pairs, &id) else {
        return Err(PageError::Invalid(
            "A subnet needs its network address (CIDR).".into(),
        ));
    };
    let subnets = format!("{NETWORK}/subnets");
    let report = Report {
        about: None,
        done: "Added the subnet.",
        failed: "Could not add the subnet",
        back: &network_href(&id),
    };
    Ok(ctx.create(subnets, &request, "/subnet/id", report).await)
}

async fn delete_subnet(
    ctx: Ctx,
    Path((id, subnet_id)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<Pairs>,
) -> PageResult {
    let subnet = format!("{NETWORK}/subnets/{}", segment(&subnet_id));
    let report = Report {
        about: Some(&subnet_id),
        done: "Deleted the subnet.",
        failed: "Could not delete the subnet",
        back: &network_href(&id),
    };
    Ok(ctx.act(Method::DELETE, subnet, None, report).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(fields: &[(&str, &str)]) -> Pairs {
        fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_subnet_is_asked_for_only_with_a_cidr() {
        assert_eq!(subnet_request(&pairs(&[("subnet_name", "s")]), "n"), None);
        let request = subnet_request(
            &pairs(&[
                ("subnet_name", "s1"),
                ("cidr", " 10.0.0.0/24 "),
                ("gateway_ip", ""),
                ("dns_nameservers", "8.8.8.8\r\n1.1.1.1, 9.9.9.9"),
            ]),
            "net",
        );
        assert_eq!(
            request,
            Some(json!({"subnet": {
                "network_id": "net", "cidr": "10.0.0.0/24", "ip_version": 4, "name": "s1",
                "enable_dhcp": false, "dns_nameservers": ["8.8.8.8", "1.1.1.1", "9.9.9.9"],
            }}))
        );
    }

    #[test]
    fn a_subnet_may_have_no_gateway_and_be_ipv6() {
        let request = subnet_request(
            &pairs(&[
                ("cidr", "fd00::/64"),
                ("no_gateway", "on"),
                ("enable_dhcp", "on"),
            ]),
            "net",
        )
        .unwrap_or_default();
        assert_eq!(request["subnet"]["ip_version"], 6);
        assert_eq!(request["subnet"]["gateway_ip"], Value::Null);
        assert_eq!(request["subnet"]["enable_dhcp"], true);
    }
}
