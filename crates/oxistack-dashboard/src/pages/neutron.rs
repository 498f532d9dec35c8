//! What the network panels (networks, routers, security groups, floating
//! IPs, topology) share: reading Neutron's (and Octavia's) collections,
//! naming the device a port belongs to, the links to each object's page,
//! and giving a port (an instance's, a load balancer's VIP) a floating
//! IP. Kept apart so the panels read the same answers the same way.
//!
//! Neutron and Octavia list every project's objects to an admin, so the
//! project panels ask for the signed-in project's own ([`project_list`]),
//! as Horizon's do, and for the networks it may use besides
//! ([`usable_networks`]).

use std::collections::HashMap;

use axum::http::Method;
use maud::{Markup, html};
use serde_json::{Value, json};

use crate::client::{ApiFailure, COMPUTE, LOAD_BALANCER, NETWORK};
use crate::context::{Ctx, PageError};
use crate::pages::{items, name_of, segment, text};

pub const NETWORKS: &str = "/dashboard/project/networks";
pub const ROUTERS: &str = "/dashboard/project/routers";
pub const INSTANCES: &str = "/dashboard/project/instances";
pub const LOAD_BALANCERS: &str = "/dashboard/project/load_balancers";

/// A form read as its fields, for repeated or optional ones.
pub type Pairs = Vec<(String, String)>;

/// `GET {NETWORK}/{path}` and its list under `key`.
pub async fn neutron_list(
    ctx: &Ctx,
    path: impl AsRef<str>,
    key: &str,
) -> Result<Vec<Value>, PageError> {
    let path = path.as_ref();
    Ok(items(&ctx.get(format!("{NETWORK}/{path}")).await?, key))
}

/// The query that keeps a list to the signed-in project's objects.
pub fn project_filter(ctx: &Ctx) -> String {
    format!("project_id={}", segment(&ctx.auth.project_id))
}

/// `GET {NETWORK}/{collection}` of the signed-in project's objects, and
/// the list under `key`.
pub async fn project_list(ctx: &Ctx, collection: &str, key: &str) -> Result<Vec<Value>, PageError> {
    neutron_list(ctx, format!("{collection}?{}", project_filter(ctx)), key).await
}

/// The networks the project may use: its own, the shared ones and the
/// external ones (as Horizon's network list), each once.
pub async fn usable_networks(ctx: &Ctx) -> Result<Vec<Value>, PageError> {
    let (own, shared, external) = tokio::join!(
        project_list(ctx, "networks", "networks"),
        neutron_list(ctx, "networks?shared=true", "networks"),
        external_networks(ctx),
    );
    let mut networks = own?;
    for network in shared?.into_iter().chain(external?) {
        if !networks.iter().any(|known| known["id"] == network["id"]) {
            networks.push(network);
        }
    }
    Ok(networks)
}

/// The subnets of `networks`.
pub async fn subnets_of(ctx: &Ctx, networks: &[Value]) -> Result<Vec<Value>, PageError> {
    if networks.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<(&str, String)> = networks
        .iter()
        .map(|network| ("network_id", text(&network["id"])))
        .collect();
    let query = serde_urlencoded::to_string(&ids).unwrap_or_default();
    neutron_list(ctx, format!("subnets?{query}"), "subnets").await
}

/// The project's servers (id, name, status), as Nova lists them.
pub async fn servers(ctx: &Ctx) -> Result<Vec<Value>, PageError> {
    Ok(items(
        &ctx.get(format!("{COMPUTE}/servers/detail")).await?,
        "servers",
    ))
}

/// The project's load balancers; none when Octavia refuses the caller
/// (a project without load-balancer roles has none to show anyway).
pub async fn load_balancers(ctx: &Ctx) -> Result<Vec<Value>, PageError> {
    match ctx
        .api(
            axum::http::Method::GET,
            format!(
                "{LOAD_BALANCER}/lbaas/loadbalancers?{}",
                project_filter(ctx)
            ),
        )
        .send()
        .await
    {
        Ok(answer) => Ok(items(&answer.body, "loadbalancers")),
        Err(failure) if failure.is_unauthorized() => Err(PageError::SignIn),
        Err(_) => Ok(Vec::new()),
    }
}

/// The external networks, for gateway and floating IP choices.
pub async fn external_networks(ctx: &Ctx) -> Result<Vec<Value>, PageError> {
    neutron_list(ctx, "networks?router:external=true", "networks").await
}

/// `(id, name)` choices of `networks`, after `first` if given.
pub fn network_choices(networks: &[Value], first: Option<&str>) -> Vec<(String, String)> {
    first
        .map(|label| (String::new(), label.to_owned()))
        .into_iter()
        .chain(networks.iter().map(|n| (text(&n["id"]), name_of(n))))
        .collect()
}

/// The floating IPs a port may take: each free one of `floating_ips` by
/// address, then a new one from each of the `external` networks
/// (`new:NETWORK`), as [`associate_floating_ip`] reads the choice.
pub fn floating_ip_choices(floating_ips: &[Value], external: &[Value]) -> Vec<(String, String)> {
    let free = floating_ips
        .iter()
        .filter(|fip| fip["port_id"].is_null())
        .map(|fip| (text(&fip["id"]), text(&fip["floating_ip_address"])));
    let new = external.iter().map(|network| {
        (
            format!("new:{}", text(&network["id"])),
            format!("Allocate a new one from {}", name_of(network)),
        )
    });
    free.chain(new).collect()
}

/// Gives port `port_id` the floating IP `choice` (one of
/// [`floating_ip_choices`]): sets a free one's port, or allocates a new
/// one on it. The answer is the floating IP.
pub async fn associate_floating_ip(
    ctx: &Ctx,
    choice: &str,
    port_id: &Value,
) -> Result<Value, ApiFailure> {
    match choice.strip_prefix("new:") {
        Some(network) => {
            let body = json!({"floatingip": {"floating_network_id": network, "port_id": port_id}});
            ctx.call(Method::POST, format!("{NETWORK}/floatingips"), Some(&body))
                .await
        }
        None => {
            let body = json!({"floatingip": {"port_id": port_id}});
            let path = format!("{NETWORK}/floatingips/{}", segment(choice));
            ctx.call(Method::PUT, path, Some(&body)).await
        }
    }
}

/// Objects by their `id`.
pub fn by_id(objects: &[Value]) -> HashMap<String, &Value> {
    objects.iter().map(|o| (text(&o["id"]), o)).collect()
}

/// The addresses of a port's `fixed_ips` (or a gateway's
/// `external_fixed_ips`).
pub fn addresses(fixed_ips: &Value) -> Vec<String> {
    fixed_ips
        .as_array()
        .into_iter()
        .flatten()
        .map(|ip| text(&ip["ip_address"]))
        .collect()
}

/// Neutron's `admin_state_up` as Horizon shows it.
pub fn admin_state(object: &Value) -> &'static str {
    match object["admin_state_up"].as_bool() {
        Some(false) => "DOWN",
        _ => "UP",
    }
}

pub fn network_href(id: &str) -> String {
    format!("{NETWORKS}/{}", segment(id))
}

pub fn router_href(id: &str) -> String {
    format!("{ROUTERS}/{}", segment(id))
}

pub fn instance_href(id: &str) -> String {
    format!("{INSTANCES}/{}", segment(id))
}

pub fn load_balancer_href(id: &str) -> String {
    format!("{LOAD_BALANCERS}/{}", segment(id))
}

/// A link to `object`'s page at `href`, named after it.
pub fn link(href: &str, object: &Value) -> Markup {
    html! { a href=(href) { (name_of(object)) } }
}

/// What a port is attached to, as a link to it: an instance, a router or
/// a load balancer (by its VIP port); `None` for a free port. `devices`
/// holds the servers and routers by id, for their names.
pub fn port_device(
    port: &Value,
    devices: &HashMap<String, &Value>,
    load_balancers: &HashMap<String, &Value>,
) -> Option<Markup> {
    if let Some(lb) = load_balancers.get(&text(&port["id"])) {
        let href = load_balancer_href(&text(&lb["id"]));
        return Some(html! { "Load balancer " (link(&href, lb)) });
    }
    let owner = text(&port["device_owner"]);
    let device = text(&port["device_id"]);
    let (kind, href) = if owner.starts_with("compute:") {
        ("Instance", instance_href(&device))
    } else if owner.starts_with("network:router") {
        ("Router", router_href(&device))
    } else if device.is_empty() {
        return None;
    } else {
        return Some(html! { (owner) " " (device) });
    };
    Some(match devices.get(&device) {
        Some(object) => html! { (kind) " " (link(&href, object)) },
        None => html! { (kind) " " a href=(href) { (device) } },
    })
}

/// Load balancers by their VIP port's id.
pub fn by_vip_port(load_balancers: &[Value]) -> HashMap<String, &Value> {
    load_balancers
        .iter()
        .map(|lb| (text(&lb["vip_port_id"]), lb))
        .collect()
}
