//! A load balancer's page: its status tree (`GET .../status`) live, since
//! members' operating statuses change by themselves and not only while
//! something is pending; the floating IP of its VIP (associate an
//! unassociated one or a new one, disassociate); its listeners, and its
//! pools with their health monitor and members (add, remove).
//!
//! Only the status block refreshes; the forms and buttons sit outside it,
//! so a refresh never takes a form from under a confirmation dialog. It
//! refreshes from its own address ([`status_block`], one API call), not
//! by loading the whole page again.

use axum::extract::Path;
use axum::http::Method;
use axum::response::IntoResponse;
use maud::{Markup, html};
use serde_json::{Value, json};

use super::{BASE, LBAAS, MemberTarget, delete_button, member_targets, number};
use crate::client::{ApiFailure, NETWORK};
use crate::context::{Ctx, PageResult, Report};
use crate::form::{self, CsrfForm};
use crate::layout::{self, action_button, field, select};
use crate::pages::neutron::{self, load_balancer_href, project_list};
use crate::pages::{items, name_of, segment, text};

pub async fn page(ctx: Ctx, Path(id): Path<String>) -> PageResult {
    let lb_path = format!("{LBAAS}/loadbalancers/{}", segment(&id));
    let lb = ctx.get(&lb_path).await?["loadbalancer"].clone();
    let statuses = ctx.get(format!("{lb_path}/status")).await?;
    let by_lb = format!("?loadbalancer_id={}", segment(&id));
    let listeners = items(
        &ctx.get(format!("{LBAAS}/listeners{by_lb}")).await?,
        "listeners",
    );
    let pools = items(&ctx.get(format!("{LBAAS}/pools{by_lb}")).await?, "pools");
    let mut pool_sections = Vec::new();
    let targets = member_targets(&ctx).await?;
    for pool in &pools {
        let pool_path = format!("{LBAAS}/pools/{}", segment(&text(&pool["id"])));
        let members = items(&ctx.get(format!("{pool_path}/members")).await?, "members");
        let monitor = match text(&pool["healthmonitor_id"]) {
            monitor if monitor.is_empty() => Value::Null,
            monitor => ctx
                .get(format!("{LBAAS}/healthmonitors/{}", segment(&monitor)))
                .await?["healthmonitor"]
                .clone(),
        };
        let listener_port = listeners
            .iter()
            .find(|listener| listener["default_pool_id"] == pool["id"])
            .map(|listener| text(&listener["protocol_port"]))
            .unwrap_or_default();
        pool_sections.push(pool_section(
            &ctx,
            &id,
            pool,
            &members,
            &monitor,
            &targets,
            &listener_port,
        ));
    }
    let floating_ip = floating_ip_box(&ctx, &lb).await?;
    let name = name_of(&lb);
    let body = html! {
        dl.details.card {
            dt { "Name" } dd { (name) }
            dt { "ID" } dd { (text(&lb["id"])) }
            dt { "Description" } dd { (text(&lb["description"])) }
            dt { "VIP address" } dd { (text(&lb["vip_address"])) }
            dt { "VIP subnet" } dd { (text(&lb["vip_subnet_id"])) }
            dt { "VIP port" } dd { (text(&lb["vip_port_id"])) }
            dt { "Provider" } dd { (text(&lb["provider"])) }
            dt { "Created" } dd { (text(&lb["created_at"])) }
        }
        section aria-labelledby="status-title" {
            h2 #status-title { "Status" }
            (status_tree(&id, &statuses["statuses"]["loadbalancer"]))
        }
        (floating_ip)
        section aria-labelledby="listeners-title" {
            h2 #listeners-title { "Listeners" }
            (listeners_table(&listeners, &pools))
        }
        @for section in pool_sections { (section) }
        div.toolbar { (delete_button(&ctx, &id, &name, "Delete load balancer")) }
    };
    Ok(layout::page(
        &ctx,
        &format!("Load Balancer {name}"),
        BASE,
        body,
    ))
}

/// Only the status block of load balancer `id`'s page, which refreshes
/// from here.
pub async fn status_block(ctx: Ctx, Path(id): Path<String>) -> PageResult {
    let statuses = ctx
        .get(format!("{LBAAS}/loadbalancers/{}/status", segment(&id)))
        .await?;
    Ok(status_tree(&id, &statuses["statuses"]["loadbalancer"]).into_response())
}

/// The statuses of load balancer `id`, its listeners, pools, health
/// monitors and members, refreshing by themselves every few seconds
/// from [`status_block`].
fn status_tree(id: &str, lb: &Value) -> Markup {
    let list = |value: &Value, key: &str| value[key].as_array().cloned().unwrap_or_default();
    let row = |kind: &str, level: u8, object: &Value, address: String| {
        html! {
            tr.(format!("level-{level}")) data-kind=(kind) data-object=(text(&object["id"])) {
                td { (kind) }
                td { (short_name(object)) }
                td { (address) }
                td { (layout::badge(&text(&object["provisioning_status"]))) }
                td { (layout::badge(&text(&object["operating_status"]))) }
            }
        }
    };
    html! {
        div.table-wrap #lb-status data-refresh
            data-refresh-src=(format!("{}/status", load_balancer_href(id))) {
            table.status-tree {
                caption.visually-hidden { "Provisioning and operating status" }
                thead { tr {
                    th scope="col" { "Object" }
                    th scope="col" { "Name" }
                    th scope="col" { "Address" }
                    th scope="col" { "Provisioning status" }
                    th scope="col" { "Operating status" }
                } }
                tbody {
                    (row("Load balancer", 0, lb, String::new()))
                    @for listener in list(lb, "listeners") {
                        (row("Listener", 1, &listener, String::new()))
                        @for pool in list(&listener, "pools") {
                            (row("Pool", 2, &pool, String::new()))
                            @if pool["health_monitor"].is_object() {
                                (row("Health monitor", 3, &pool["health_monitor"], text(&pool["health_monitor"]["type"])))
                            }
                            @for member in list(&pool, "members") {
                                (row("Member", 3, &member, format!("{}:{}", text(&member["address"]), text(&member["protocol_port"]))))
                            }
                        }
                    }
                }
            }
        }
    }
}

/// An object's name, or the start of its id when it has none (Octavia's
/// objects are often unnamed, and the status table must fit a phone).
fn short_name(object: &Value) -> String {
    match text(&object["name"]) {
        name if name.is_empty() => text(&object["id"]).chars().take(8).collect(),
        name => name,
    }
}

/// The VIP's floating IP with a button to disassociate it, or the form to
/// associate one: an unassociated floating IP of the project or a new one
/// from an external network.
async fn floating_ip_box(ctx: &Ctx, lb: &Value) -> Result<Markup, crate::context::PageError> {
    let floating_ips = project_list(ctx, "floatingips", "floatingips").await?;
    let lb_id = text(&lb["id"]);
    let associated = floating_ips
        .iter()
        .find(|fip| !lb["vip_port_id"].is_null() && fip["port_id"] == lb["vip_port_id"]);
    if let Some(fip) = associated {
        let address = text(&fip["floating_ip_address"]);
        return Ok(html! {
            section.card #floating-ip aria-labelledby="floating-ip-title" {
                h2 #floating-ip-title { "Floating IP" }
                p { "The VIP is reachable at " strong.floating-ip { (address) } "." }
                (action_button(
                    ctx,
                    &format!("{}/floating_ip/{}/disassociate", load_balancer_href(&lb_id), segment(&text(&fip["id"]))),
                    "Disassociate floating IP",
                    Some(&format!("Disassociate floating IP {address} from this load balancer?")),
                ))
            }
        });
    }
    let external = neutron::external_networks(ctx).await?;
    let choices = neutron::floating_ip_choices(&floating_ips, &external);
    Ok(html! {
        section.card #floating-ip aria-labelledby="floating-ip-title" {
            h2 #floating-ip-title { "Associate a floating IP" }
            @if choices.is_empty() {
                p.hint { "There is no floating IP to associate and no external network to allocate one from." }
            } @else {
                form method="post" action=(format!("{}/floating_ip", load_balancer_href(&lb_id))) {
                    (ctx.csrf_field())
                    (field("Floating IP", "floating_ip", select("floating_ip", "floating_ip", &choices, None)))
                    button type="submit" { "Associate" }
                }
            }
        }
    })
}

fn listeners_table(listeners: &[Value], pools: &[Value]) -> Markup {
    let pool_name = |id: &Value| {
        pools
            .iter()
            .find(|pool| pool["id"] == *id)
            .map(name_of)
            .unwrap_or_default()
    };
    html! {
        div.table-wrap {
            table {
                caption.visually-hidden { "Listeners" }
                thead { tr {
                    th scope="col" { "Name" }
                    th scope="col" { "Protocol" }
                    th scope="col" { "Port" }
                    th scope="col" { "Default pool" }
                    th scope="col" { "Connection limit" }
                } }
                tbody {
                    @for listener in listeners {
                        tr data-id=(text(&listener["id"])) {
                            td { (name_of(listener)) }
                            td { (text(&listener["protocol"])) }
                            td { (text(&listener["protocol_port"])) }
                            td { (pool_name(&listener["default_pool_id"])) }
                            td { (text(&listener["connection_limit"])) }
                        }
                    }
                    @if listeners.is_empty() {
                        tr { td.empty colspan="5" { "No listeners." } }
                    }
                }
            }
        }
    }
}

/// A pool: its settings and health monitor, its members with a remove
/// button each, and the form to add one.
fn pool_section(
    ctx: &Ctx,
    lb_id: &str,
    pool: &Value,
    members: &[Value],
    monitor: &Value,
    targets: &[MemberTarget],
    listener_port: &str,
) -> Markup {
    let pool_id = text(&pool["id"]);
    let pool_href = format!("{}/pools/{}", load_balancer_href(lb_id), segment(&pool_id));
    let persistence = &pool["session_persistence"];
    let title = format!("pool-{pool_id}-title");
    let mut choices: Vec<(String, String)> = targets
        .iter()
        .map(|target| {
            (
                target.key.clone(),
                format!("{} {}", target.instance, target.address),
            )
        })
        .collect();
    choices.push((String::new(), "None: the address given".to_owned()));
    let input_id = |name: &str| format!("{name}-{pool_id}");
    html! {
        section.card.pool data-pool=(pool_id) aria-labelledby=(title) {
            h2 id=(title) { "Pool " (name_of(pool)) }
            dl.details {
                dt { "Protocol" } dd { (text(&pool["protocol"])) }
                dt { "Algorithm" } dd { (text(&pool["lb_algorithm"])) }
                dt { "Session persistence" } dd {
                    @if persistence.is_object() {
                        (text(&persistence["type"]))
                        @if !persistence["cookie_name"].is_null() { " (cookie " (text(&persistence["cookie_name"])) ")" }
                    } @else { "None" }
                }
                dt { "Health monitor" } dd { (monitor_summary(monitor)) }
            }
            h3 { "Members" }
            div.table-wrap {
                table.members {
                    caption.visually-hidden { "Members of pool " (name_of(pool)) }
                    thead { tr {
                        th scope="col" { "Name" }
                        th scope="col" { "Address" }
                        th scope="col" { "Port" }
                        th scope="col" { "Weight" }
                        th scope="col" { "Actions" }
                    } }
                    tbody {
                        @for member in members {
                            @let member_id = text(&member["id"]);
                            tr data-id=(member_id) {
                                td { (name_of(member)) }
                                td { (text(&member["address"])) }
                                td { (text(&member["protocol_port"])) }
                                td { (text(&member["weight"])) }
                                td { (action_button(
                                    ctx,
                                    &format!("{pool_href}/members/{}/delete", segment(&member_id)),
                                    "Remove",
                                    Some(&format!("Remove member {} from pool {}?", name_of(member), name_of(pool))),
                                )) }
                            }
                        }
                        @if members.is_empty() {
                            tr { td.empty colspan="5" { "No members." } }
                        }
                    }
                }
            }
            form.add-member method="post" action=(format!("{pool_href}/members")) {
                (ctx.csrf_field())
                h3 { "Add member" }
                div.field-row {
                    (field("Instance", &input_id("target"), select("target", &input_id("target"), &choices, None)))
                    (field("Or another address", &input_id("address"), html! { input id=(input_id("address")) name="address" type="text"; }))
                    (field("Port", &input_id("port"), html! { input id=(input_id("port")) name="port" type="number" value=(listener_port); }))
                    (field("Weight", &input_id("weight"), html! { input id=(input_id("weight")) name="weight" type="number" value="1"; }))
                }
                button type="submit" { "Add member" }
            }
        }
    }
}

fn monitor_summary(monitor: &Value) -> Markup {
    if monitor.is_null() {
        return html! { "None" };
    }
    html! {
        (text(&monitor["type"])) ", every " (text(&monitor["delay"])) " s, timeout "
        (text(&monitor["timeout"])) " s, " (text(&monitor["max_retries"])) " retries"
        @if text(&monitor["type"]).starts_with("HTTP") {
            ", " (text(&monitor["http_method"])) " " (text(&monitor["url_path"]))
            " expecting " (text(&monitor["expected_codes"]))
        }
    }
}

/// Associates the chosen floating IP (or a new one, `new:NETWORK`) with
/// the load balancer's VIP port.
pub async fn associate_floating_ip(
    ctx: Ctx,
    Path(id): Path<String>,
    CsrfForm(pairs): CsrfForm<Vec<(String, String)>>,
) -> PageResult {
    let back = load_balancer_href(&id);
    let choice = form::value(&pairs, "floating_ip").unwrap_or_default();
    let associated = associate(&ctx, &id, choice).await;
    let address = associated
        .as_ref()
        .map(|body| text(&body["floatingip"]["floating_ip_address"]))
        .unwrap_or_default();
    Ok(ctx.finish(
        associated,
        None,
        format!("Associated floating IP {address} with the load balancer."),
        "Could not associate the floating IP",
        &back,
    ))
}

async fn associate(ctx: &Ctx, lb_id: &str, choice: &str) -> Result<Value, ApiFailure> {
    let lb = ctx
        .call(
            Method::GET,
            format!("{LBAAS}/loadbalancers/{}", segment(lb_id)),
            None,
        )
        .await?;
    neutron::associate_floating_ip(ctx, choice, &lb["loadbalancer"]["vip_port_id"]).await
}

pub async fn disassociate_floating_ip(
    ctx: Ctx,
    Path((id, fip)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<Vec<(String, String)>>,
) -> PageResult {
    let body = json!({"floatingip": {"port_id": null}});
    let floating_ip = format!("{NETWORK}/floatingips/{}", segment(&fip));
    let report = Report {
        about: None,
        done: "Disassociated the floating IP.",
        failed: "Could not disassociate the floating IP",
        back: &load_balancer_href(&id),
    };
    Ok(ctx.act(Method::PUT, floating_ip, Some(&body), report).await)
}

/// Adds an instance's address (`target`) or any `address` to a pool.
pub async fn add_member(
    ctx: Ctx,
    Path((id, pool)): Path<(String, String)>,
    CsrfForm(pairs): CsrfForm<Vec<(String, String)>>,
) -> PageResult {
    let back = load_balancer_href(&id);
    let mut member = json!({});
    let address = form::value(&pairs, "address").map(str::trim);
    match (address, form::value(&pairs, "target")) {
        (Some(address), _) => member["address"] = json!(address),
        (None, Some(key)) => {
            let targets = member_targets(&ctx).await?;
            match targets.iter().find(|target| target.key == key) {
                Some(target) => {
                    member["name"] = json!(target.instance);
                    member["address"] = json!(target.address);
                    member["subnet_id"] = json!(target.subnet_id);
                }
                None => {
                    return Ok(ctx.finish::<()>(
                        Err(address_gone(key)),
                        None,
                        "",
                        "Could not add the member",
                        &back,
                    ));
                }
            }
        }
        (None, None) => {}
    }
    for (attribute, name) in [("protocol_port", "port"), ("weight", "weight")] {
        if let Some(value) = form::value(&pairs, name).and_then(number) {
            member[attribute] = value;
        }
    }
    let members = format!("{LBAAS}/pools/{}/members", segment(&pool));
    let body = json!({"member": member});
    let report = Report {
        about: None,
        done: &format!("Adding member {}.", text(&member["address"])),
        failed: "Could not add the member",
        back: &back,
    };
    Ok(ctx.act(Method::POST, members, Some(&body), report).await)
}

/// The dashboard's own refusal: the instance address left the project
/// between the page and the post.
fn address_gone(key: &str) -> ApiFailure {
    ApiFailure {
        status: axum::http::StatusCode::CONFLICT,
        message: super::gone(key),
    }
}

pub async fn remove_member(
    ctx: Ctx,
    Path((id, pool, member)): Path<(String, String, String)>,
    CsrfForm(_): CsrfForm<Vec<(String, String)>>,
) -> PageResult {
    let path = format!(
        "{LBAAS}/pools/{}/members/{}",
        segment(&pool),
        segment(&member)
    );
    let report = Report {
        about: None,
        done: "Removing the member.",
        failed: "Could not remove the member",
        back: &load_balancer_href(&id),
    };
    Ok(ctx.act(Method::DELETE, path, None, report).await)
}
