//! The Create Load Balancer wizard, as Horizon's workflow: one form in the
//! workflow's sections (load balancer, listener, pool, members, health
//! monitor) that becomes ONE fully populated `POST /loadbalancers`, so
//! Octavia builds the whole tree at once and validates it as a whole.
//!
//! A refusal shows Octavia's own message above the form, filled in again
//! with what was posted (HTTP 400), so nothing typed is lost. The form
//! works without script; `wizard.js` only hides the fields that do not
//! apply (`data-show-if`) and keeps untouched member ports on the
//! listener's port.

use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Redirect};
use maud::{Markup, html};
use serde_json::{Map, Value, json};

use super::{BASE, LBAAS, MemberTarget, member_targets, number, subnet_options};
use crate::context::{Ctx, PageError, PageResult};
use crate::form::{self, CsrfForm};
use crate::layout::{self, field, select};
use crate::pages::neutron::load_balancer_href;
use crate::pages::{options, text};

const LISTENER_PROTOCOLS: &[&str] = &["HTTP", "HTTPS", "TCP", "UDP"];
const ALGORITHMS: &[&str] = &["ROUND_ROBIN", "LEAST_CONNECTIONS", "SOURCE_IP"];
const PERSISTENCE: &[(&str, &str)] = &[
    ("", "None"),
    ("SOURCE_IP", "Source IP"),
    ("HTTP_COOKIE", "HTTP cookie"),
    ("APP_COOKIE", "Application cookie"),
];
const MONITOR_TYPES: &[&str] = &["HTTP", "HTTPS", "TCP", "PING", "UDP-CONNECT"];
const HTTP_METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"];
const DEFAULT_PORT: &str = "80";

/// What the wizard shows in its fields: the posted values after a
/// refusal, else the defaults.
struct Entered {
    pairs: Vec<(String, String)>,
    posted: bool,
}

impl Entered {
    fn defaults() -> Entered {
        Entered {
            pairs: Vec::new(),
            posted: false,
        }
    }

    fn posted(pairs: Vec<(String, String)>) -> Entered {
        Entered {
            pairs,
            posted: true,
        }
    }

    /// The field's value: as posted (even if emptied), else `default`.
    fn get<'a>(&'a self, name: &str, default: &'a str) -> &'a str {
        match self.posted {
            true => form::values(&self.pairs, name)
                .first()
                .copied()
                .unwrap_or(""),
            false => default,
        }
    }

    fn checked(&self, name: &str, value: &str) -> bool {
        form::values(&self.pairs, name).contains(&value)
    }

    fn listener_port(&self) -> &str {
        self.get("listener_port", DEFAULT_PORT)
    }
}

/// `GET .../create`: the empty wizard.
pub async fn form(ctx: Ctx) -> PageResult {
    render(&ctx, &Entered::defaults(), None).await
}

/// `POST .../create`: the whole tree in one call, then the new load
/// balancer's page; a refusal re-renders the form with its message.
pub async fn create(ctx: Ctx, CsrfForm(pairs): CsrfForm<Vec<(String, String)>>) -> PageResult {
    let entered = Entered::posted(pairs);
    let targets = member_targets(&ctx).await?;
    let request = match load_balancer_request(&entered, &targets) {
        Ok(request) => request,
        Err(message) => {
            return render(&ctx, &entered, Some((StatusCode::BAD_REQUEST, message))).await;
        }
    };
    let created = ctx
        .call(
            Method::POST,
            format!("{LBAAS}/loadbalancers"),
            Some(&request),
        )
        .await;
    match created {
        Ok(body) => {
            let lb = &body["loadbalancer"];
            ctx.flash(
                crate::session::FlashKind::Ok,
                None,
                format!("Creating load balancer {}.", text(&lb["name"])),
            );
            Ok(Redirect::to(&load_balancer_href(&text(&lb["id"]))).into_response())
        }
        Err(failure) if failure.is_unauthorized() => Err(PageError::SignIn),
        Err(failure) => {
            let status = match failure.status.is_client_error() {
                true => failure.status,
                false => StatusCode::BAD_GATEWAY,
            };
            let message = format!("Could not create the load balancer: {}", failure.message);
            render(&ctx, &entered, Some((status, message))).await
        }
    }
}

/// Octavia's fully populated create request for what was entered.
fn load_balancer_request(entered: &Entered, targets: &[MemberTarget]) -> Result<Value, String> {
    let protocol = entered.get("listener_protocol", "HTTP");
    let listener_port = entered.listener_port();
    let mut members = Vec::new();
    for key in form::values(&entered.pairs, "member") {
        let target = targets
            .iter()
            .find(|target| target.key == key)
            .ok_or_else(|| super::gone(key))?;
        let mut member = member(
            entered.get(&format!("port.{key}"), ""),
            entered.get(&format!("weight.{key}"), ""),
            listener_port,
        );
        member.insert("name".into(), json!(target.instance));
        member.insert("address".into(), json!(target.address));
        member.insert("subnet_id".into(), json!(target.subnet_id));
        members.push(Value::Object(member));
    }
    let external_address = entered.get("external_address", "").trim();
    if !external_address.is_empty() {
        let mut member = member(
            entered.get("external_port", ""),
            entered.get("external_weight", ""),
            listener_port,
        );
        member.insert("address".into(), json!(external_address));
        let subnet = entered.get("external_subnet", "");
        if !subnet.is_empty() {
            member.insert("subnet_id".into(), json!(subnet));
        }
        members.push(Value::Object(member));
    }
    let lb_name = entered.get("name", "").trim();
    // A fully populated create names its pools; Horizon's form may leave
    // the name empty, so the pool is named after its load balancer then.
    let pool_name = match entered.get("pool_name", "").trim() {
        "" if lb_name.is_empty() => "pool".to_owned(),
        "" => format!("{lb_name}-pool"),
        name => name.to_owned(),
    };
    let mut pool = json!({
        "name": pool_name,
        "protocol": protocol,
        "lb_algorithm": entered.get("pool_algorithm", "ROUND_ROBIN"),
        "members": members,
    });
    let persistence = entered.get("session_persistence", "");
    if !persistence.is_empty() {
        let mut session = json!({"type": persistence});
        if persistence == "APP_COOKIE" {
            session["cookie_name"] = json!(entered.get("cookie_name", "").trim());
        }
        pool["session_persistence"] = session;
    }
    if entered.checked("monitor", "on") {
        pool["healthmonitor"] = health_monitor(entered);
    }
    let mut listener = json!({
        "name": entered.get("listener_name", "").trim(),
        "protocol": protocol,
        "default_pool": pool,
    });
    if let Some(port) = number(listener_port) {
        listener["protocol_port"] = port;
    }
    Ok(json!({"loadbalancer": {
        "name": lb_name,
        "description": entered.get("description", "").trim(),
        "vip_subnet_id": entered.get("vip_subnet_id", ""),
        "listeners": [listener],
    }}))
}

/// A member's port (the listener's when left empty) and weight.
fn member(port: &str, weight: &str, listener_port: &str) -> Map<String, Value> {
    let mut member = Map::new();
    if let Some(port) = number(port).or_else(|| number(listener_port)) {
        member.insert("protocol_port".into(), port);
    }
    if let Some(weight) = number(weight) {
        member.insert("weight".into(), weight);
    }
    member
}

fn health_monitor(entered: &Entered) -> Value {
    let kind = entered.get("monitor_type", "HTTP");
    let mut monitor = Map::new();
    monitor.insert("type".into(), json!(kind));
    for (attribute, field) in [
        ("delay", "monitor_delay"),
        ("timeout", "monitor_timeout"),
        ("max_retries", "monitor_max_retries"),
    ] {
        if let Some(value) = number(entered.get(field, "")) {
            monitor.insert(attribute.into(), value);
        }
    }
    if kind.starts_with("HTTP") {
        for (attribute, field) in [
            ("http_method", "monitor_http_method"),
            ("url_path", "monitor_url_path"),
            ("expected_codes", "monitor_expected_codes"),
        ] {
            let value = entered.get(field, "").trim();
            if !value.is_empty() {
                monitor.insert(attribute.into(), json!(value));
            }
        }
    }
    Value::Object(monitor)
}

/// The wizard, with `refusal` (its status and message) above it.
async fn render(ctx: &Ctx, entered: &Entered, refusal: Option<(StatusCode, String)>) -> PageResult {
    let subnets = subnet_options(ctx).await?;
    let targets = member_targets(ctx).await?;
    let persistence: Vec<(String, String)> = PERSISTENCE
        .iter()
        .map(|(value, label)| ((*value).to_owned(), (*label).to_owned()))
        .collect();
    let mut external_subnets = vec![(String::new(), "Reachable from the VIP subnet".to_owned())];
    external_subnets.extend(subnets.iter().cloned());
    let text_input = |name: &str, default: &str| -> Markup {
        html! { input id=(name) name=(name) type="text" value=(entered.get(name, default)); }
    };
    let number_input = |name: &str, default: &str| -> Markup {
        html! { input id=(name) name=(name) type="number" value=(entered.get(name, default)); }
    };
    let choice = |name: &str, values: &[(String, String)], default: &str| -> Markup {
        select(name, name, values, Some(entered.get(name, default)))
    };
    let sections = [
        ("lb-details", "Load Balancer Details"),
        ("listener-details", "Listener Details"),
        ("pool-details", "Pool Details"),
        ("pool-members", "Pool Members"),
        ("monitor-details", "Monitor Details"),
    ];
    let body = html! {
        @if let Some((_, message)) = &refusal {
            p.flash.flash-error role="alert" { (message) }
        }
        nav.wizard-steps aria-label="Wizard sections" {
            ol { @for (id, label) in sections { li { a href=(format!("#{id}")) { (label) } } } }
        }
        form.wizard method="post" action=(format!("{BASE}/create")) {
            (ctx.csrf_field())
            fieldset #lb-details {
                legend { "Load Balancer Details" }
                (field("Name", "name", text_input("name", "")))
                (field("Description", "description", text_input("description", "")))
                (field("Subnet", "vip_subnet_id", choice("vip_subnet_id", &subnets, "")))
                p.hint { "The load balancer's virtual IP (VIP) is taken from this subnet." }
            }
            fieldset #listener-details {
                legend { "Listener Details" }
                (field("Listener name", "listener_name", text_input("listener_name", "")))
                (field("Protocol", "listener_protocol", choice("listener_protocol", &options(LISTENER_PROTOCOLS), "HTTP")))
                (field("Port", "listener_port", number_input("listener_port", DEFAULT_PORT)))
            }
            fieldset #pool-details {
                legend { "Pool Details" }
                (field("Pool name", "pool_name", text_input("pool_name", "")))
                (field("Algorithm", "pool_algorithm", choice("pool_algorithm", &options(ALGORITHMS), "ROUND_ROBIN")))
                (field("Session persistence", "session_persistence", choice("session_persistence", &persistence, "")))
                div data-show-if="session_persistence=APP_COOKIE" {
                    (field("Cookie name (application cookie only)", "cookie_name", text_input("cookie_name", "")))
                }
            }
            fieldset #pool-members {
                legend { "Pool Members" }
                (members_table(entered, &targets))
                h3 { "External member" }
                p.hint { "Any other address the load balancer can reach; leave the address empty for none." }
                div.field-row {
                    (field("Member address", "external_address", text_input("external_address", "")))
                    (field("Member port", "external_port", number_input("external_port", "")))
                    (field("Member weight", "external_weight", number_input("external_weight", "1")))
                    (field("Member subnet", "external_subnet", choice("external_subnet", &external_subnets, "")))
                }
            }
            fieldset #monitor-details {
                legend { "Monitor Details" }
                div.checks {
                    label { input type="checkbox" name="monitor" value="on" checked[entered.checked("monitor", "on")]; "Create a health monitor" }
                }
                div data-show-if="monitor=on" {
                    (field("Type", "monitor_type", choice("monitor_type", &options(MONITOR_TYPES), "HTTP")))
                    div.field-row {
                        (field("Delay (seconds)", "monitor_delay", number_input("monitor_delay", "5")))
                        (field("Timeout (seconds)", "monitor_timeout", number_input("monitor_timeout", "5")))
                        (field("Max retries", "monitor_max_retries", number_input("monitor_max_retries", "3")))
                    }
                    div data-show-if="monitor_type=HTTP,HTTPS" {
                        (field("HTTP method", "monitor_http_method", choice("monitor_http_method", &options(HTTP_METHODS), "GET")))
                        (field("URL path", "monitor_url_path", text_input("monitor_url_path", "/")))
                        (field("Expected codes", "monitor_expected_codes", text_input("monitor_expected_codes", "200")))
                    }
                }
            }
            div.toolbar {
                button type="submit" { "Create Load Balancer" }
                a.button.secondary href=(BASE) { "Cancel" }
            }
        }
        script src=(crate::assets::url("wizard.js")) defer {}
    };
    let mut page = layout::page(ctx, "Create Load Balancer", BASE, body);
    if let Some((status, _)) = refusal {
        *page.status_mut() = status;
    }
    Ok(page)
}

/// The project's instance addresses, each with a box to add it and its
/// port (the listener's until changed) and weight.
fn members_table(entered: &Entered, targets: &[MemberTarget]) -> Markup {
    let listener_port = entered.listener_port();
    html! {
        @if targets.is_empty() {
            p.hint { "The project has no instances to add; an external member can still be given." }
        } @else {
            div.table-wrap {
                table.members {
                    caption.visually-hidden { "Instances to add as members" }
                    thead { tr {
                        th scope="col" { "Add" }
                        th scope="col" { "Instance" }
                        th scope="col" { "Address" }
                        th scope="col" { "Port" }
                        th scope="col" { "Weight" }
                    } }
                    tbody {
                        @for (index, target) in targets.iter().enumerate() {
                            @let id = format!("member-{index}");
                            @let port = format!("port.{}", target.key);
                            @let weight = format!("weight.{}", target.key);
                            @let describes = format!("{} {}", target.instance, target.address);
                            tr data-member=(target.key) {
                                td { input id=(id) type="checkbox" name="member" value=(target.key) checked[entered.checked("member", &target.key)]; }
                                td { label for=(id) { (target.instance) } }
                                td { (target.address) }
                                td { input type="number" name=(port) data-member-port aria-label=(format!("Port of {describes}")) value=(entered.get(&port, listener_port)); }
                                td { input type="number" name=(weight) aria-label=(format!("Weight of {describes}")) value=(entered.get(&weight, "1")); }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entered(pairs: &[(&str, &str)]) -> Entered {
        Entered::posted(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    fn target() -> MemberTarget {
        MemberTarget {
            key: "sub/10.0.0.5".into(),
            instance: "web-1".into(),
            address: "10.0.0.5".into(),
            subnet_id: "sub".into(),
        }
    }

    #[test]
    fn the_whole_tree_goes_in_one_request() {
        let form = entered(&[
            ("name", "web"),
            ("vip_subnet_id", "sub"),
            ("listener_protocol", "HTTP"),
            ("listener_port", "8080"),
            ("pool_algorithm", "SOURCE_IP"),
            ("session_persistence", "APP_COOKIE"),
            ("cookie_name", "sid"),
            ("member", "sub/10.0.0.5"),
            ("port.sub/10.0.0.5", ""),
            ("weight.sub/10.0.0.5", "3"),
            ("external_address", "192.0.2.9"),
            ("external_port", "81"),
            ("monitor", "on"),
            ("monitor_type", "TCP"),
            ("monitor_delay", "5"),
            ("monitor_url_path", "/ignored"),
        ]);
        let request = load_balancer_request(&form, &[target()]).unwrap();
        let listener = &request["loadbalancer"]["listeners"][0];
        assert_eq!(listener["protocol_port"], 8080);
        let pool = &listener["default_pool"];
        assert_eq!(pool["name"], "web-pool");
        assert_eq!(pool["protocol"], "HTTP");
        assert_eq!(pool["lb_algorithm"], "SOURCE_IP");
        assert_eq!(
            pool["session_persistence"],
            json!({"type": "APP_COOKIE", "cookie_name": "sid"})
        );
        assert_eq!(
            pool["members"],
            json!([
                {"name": "web-1", "address": "10.0.0.5", "subnet_id": "sub", "protocol_port": 8080, "weight": 3},
                {"address": "192.0.2.9", "protocol_port": 81},
            ])
        );
        assert_eq!(pool["healthmonitor"], json!({"type": "TCP", "delay": 5}));
    }

    #[test]
    fn no_monitor_unless_asked_and_gone_instances_are_named() {
        let form = entered(&[("listener_port", "80")]);
        let request = load_balancer_request(&form, &[]).unwrap();
        let pool = &request["loadbalancer"]["listeners"][0]["default_pool"];
        assert!(pool.get("healthmonitor").is_none());
        assert_eq!(pool["name"], "pool");
        let gone = entered(&[("member", "sub/10.0.0.5")]);
        assert!(
            load_balancer_request(&gone, &[])
                .unwrap_err()
                .contains("10.0.0.5")
        );
    }

    #[test]
    fn posted_values_win_over_defaults_even_when_emptied() {
        let form = entered(&[("listener_port", "")]);
        assert_eq!(form.listener_port(), "");
        assert_eq!(Entered::defaults().listener_port(), DEFAULT_PORT);
    }
}
