//! Security groups and their rules (Neutron's `security-groups` and
//! `security-group-rules`), as Horizon's Project > Network > Security
//! Groups panel: the list, create and delete, and a group's page with its
//! rules, where rules are added from Horizon's "Rule" presets (plus the
//! ports a Kubernetes cluster needs) or written by hand, and deleted.
//! Only the project's own groups are listed, also to an admin.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Path, Query};
use axum::http::Method;
use axum::response::{IntoResponse, Redirect};
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
use crate::pages::neutron::{Pairs, by_id, link, project_list};
use crate::pages::{name_of, segment, text};
use crate::session::FlashKind;

const BASE: &str = "/dashboard/project/security_groups";

pub fn routes() -> Router<Dashboard> {
    Router::new()
        .route("/project/security_groups", get(list))
        .route("/project/security_groups/create", post(create))
        .route("/project/security_groups/{id}", get(details))
        .route("/project/security_groups/{id}/delete", post(delete))
        .route("/project/security_groups/{id}/rules", post(add_rule))
        .route(
            "/project/security_groups/{id}/rules/{rule_id}/delete",
            post(delete_rule),
        )
}

fn group_href(id: &str) -> String {
    format!("{BASE}/{}", segment(id))
}

/// What a preset fixes of a rule's ports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ports {
    /// Written in the form: ports for TCP/UDP, type and code for ICMP.
    Custom,
    /// Every port (TCP/UDP 1-65535, as Horizon sends) or ICMP type.
    All,
    Range(u16, u16),
}

/// One entry of the "Rule" dropdown.
struct Preset {
    key: &'static str,
    label: &'static str,
    protocol: &'static str,
    ports: Ports,
}

const fn preset(
    key: &'static str,
    label: &'static str,
    protocol: &'static str,
    ports: Ports,
) -> Preset {
    Preset {
        key,
        label,
        protocol,
        ports,
    }
}

/// Horizon's rule presets (`SECURITY_GROUP_RULES`, DNS as TCP 53 as
/// there), then the ports of a Kubernetes cluster.
const PRESETS: &[Preset] = &[
    preset("custom_tcp", "Custom TCP Rule", "tcp", Ports::Custom),
    preset("custom_udp", "Custom UDP Rule", "udp", Ports::Custom),
    preset("custom_icmp", "Custom ICMP Rule", "icmp", Ports::Custom),
    preset("all_icmp", "All ICMP", "icmp", Ports::All),
    preset("all_tcp", "All TCP", "tcp", Ports::All),
    preset("all_udp", "All UDP", "udp", Ports::All),
    preset("ssh", "SSH (22)", "tcp", Ports::Range(22, 22)),
    preset("http", "HTTP (80)", "tcp", Ports::Range(80, 80)),
    preset("https", "HTTPS (443)", "tcp", Ports::Range(443, 443)),
    preset("dns", "DNS (53)", "tcp", Ports::Range(53, 53)),
    preset(
        "k8s_api",
        "Kubernetes API server (6443)",
        "tcp",
        Ports::Range(6443, 6443),
    ),
    preset(
        "k8s_etcd",
        "Kubernetes etcd (2379-2380)",
        "tcp",
        Ports::Range(2379, 2380),
    ),
    preset(
        "k8s_kubelet",
        "Kubernetes kubelet (10250)",
        "tcp",
        Ports::Range(10250, 10250),
    ),
    preset(
        "k8s_nodeport",
        "Kubernetes NodePort range (30000-32767)",
        "tcp",
        Ports::Range(30000, 32767),
    ),
];

async fn list(ctx: Ctx, Query(query): Query<ListQuery>) -> PageResult {
    let groups = project_list(&ctx, "security-groups", "security_groups").await?;
    let table = Table::new(BASE, "Security groups", |g: &Value| text(&g["id"]))
        .cell("name", "Name", Some(Box::new(name_of)), |g| {
            link(&group_href(&text(&g["id"])), g)
        })
        .column("description", "Description", |g: &Value| {
            text(&g["description"])
        })
        .column("rules", "Rules", |g: &Value| {
            g["security_group_rules"]
                .as_array()
                .map_or(0, Vec::len)
                .to_string()
        })
        .cell("actions", "Actions", None, |g| {
            html! {
                a.button.secondary href=(group_href(&text(&g["id"]))) { "Manage rules" }
                " "
                (delete_button(&ctx, g, "Delete"))
            }
        })
        .search(|g: &Value| format!("{} {}", name_of(g), text(&g["description"])));
    let body = html! {
        (table.render(&ctx, &query, groups, "No security groups."))
        form.card method="post" action=(format!("{BASE}/create")) {
            h2 { "Create security group" }
            (ctx.csrf_field())
            (field("Name", "group-name", html! { input #group-name name="name" type="text" required; }))
            (field("Description", "group-description", html! { input #group-description name="description" type="text"; }))
            button type="submit" { "Create security group" }
        }
    };
    Ok(layout::page(&ctx, "Security Groups", BASE, body))
}

fn delete_button(ctx: &Ctx, group: &Value, label: &str) -> Markup {
    let action = format!("{}/delete", group_href(&text(&group["id"])));
    let question = format!("Delete security group {}?", name_of(group));
    action_button(ctx, &action, label, Some(&question))
}

#[derive(Deserialize)]
struct CreateForm {
    name: String,
    #[serde(default)]
    description: String,
}

async fn create(ctx: Ctx, CsrfForm(form): CsrfForm<CreateForm>) -> PageResult {
    let name = form.name.trim();
    let request = json!({"security_group": {"name": name, "description": form.description.trim()}});
    let groups = format!("{NETWORK}/security-groups");
    let report = Report {
        about: None,
        done: &format!("Created security group {name}."),
        failed: &format!("Could not create security group {name}"),
        back: BASE,
    };
    Ok(ctx
        .create(groups, &request, "/security_group/id", report)
        .await)
}

async fn delete(ctx: Ctx, Path(id): Path<String>, CsrfForm(_): CsrfForm<Pairs>) -> PageResult {
    let group = format!("{NETWORK}/security-groups/{}", segment(&id));
    let report = Report {
        about: Some(&id),
        done: "Deleted the security group.",
        failed: "Could not delete the security group",
        back: BASE,
    };
    Ok(ctx.act(Method::DELETE, group, None, report).await)
}

/// A rule's ports as Horizon shows them: "Any", "22", "30000 - 32767",
/// or an ICMP type and code.
fn port_range(rule: &Value) -> String {
    let (min, max) = (text(&rule["port_range_min"]), text(&rule["port_range_max"]));
    let icmp = matches!(
        text(&rule["protocol"]).as_str(),
        "icmp" | "ipv6-icmp" | "1" | "58"
    );
    match (min.is_empty(), max.is_empty()) {
        (true, _) => "Any".to_owned(),
        _ if icmp && max.is_empty() => format!("type {min}"),
        _ if icmp => format!("type {min}, code {max}"),
        _ if max.is_empty() || min == max => min,
        _ => format!("{min} - {max}"),
    }
}

/// A rule's protocol, "Any" for every one.
fn protocol(rule: &Value) -> String {
    match text(&rule["protocol"]) {
        protocol if protocol.is_empty() => "Any".to_owned(),
        protocol => protocol,
    }
}

/// Where a rule lets traffic come from (or go to): a prefix, a group or
/// anywhere.
fn remote(rule: &Value, groups: &HashMap<String, &Value>) -> Markup {
    let group_id = text(&rule["remote_group_id"]);
    let prefix = text(&rule["remote_ip_prefix"]);
    html! {
        @if !group_id.is_empty() {
            @match groups.get(&group_id) {
                Some(group) => { "group " (link(&group_href(&group_id), group)) },
                None => { "group " (group_id) },
            }
        } @else if !prefix.is_empty() {
            code { (prefix) }
        } @else {
            @let any = if text(&rule["ethertype"]) == "IPv6" { "::/0" } else { "0.0.0.0/0" };
            code { (any) }
        }
    }
}

async fn details(ctx: Ctx, Path(id): Path<String>) -> PageResult {
    let (group, groups) = tokio::join!(
        ctx.get(format!("{NETWORK}/security-groups/{}", segment(&id))),
        project_list(&ctx, "security-groups", "security_groups"),
    );
    let group = group?["security_group"].clone();
    let groups = groups?;
    let groups_by_id = by_id(&groups);
    let name = name_of(&group);
    let here = group_href(&id);
    let rules = group["security_group_rules"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let table = Table::new(&here, "Rules", |r: &Value| text(&r["id"]))
        .column("direction", "Direction", |r: &Value| text(&r["direction"]))
        .column("ethertype", "Ether Type", |r: &Value| text(&r["ethertype"]))
        .column("protocol", "IP Protocol", protocol)
        .column("ports", "Port Range", port_range)
        .cell("remote", "Remote", None, |r| remote(r, &groups_by_id))
        .column("description", "Description", |r: &Value| {
            text(&r["description"])
        })
        .cell("actions", "Actions", None, |r| {
            action_button(
                &ctx,
                &format!("{here}/rules/{}/delete", segment(&text(&r["id"]))),
                "Delete rule",
                Some(&format!(
                    "Delete the {} {} rule ({})?",
                    text(&r["direction"]),
                    protocol(r),
                    port_range(r)
                )),
            )
        });
    let body = html! {
        dl.details.card {
            dt { "Name" } dd { (name) }
            dt { "ID" } dd { (id) }
            dt { "Description" } dd { (text(&group["description"])) }
        }
        (delete_button(&ctx, &group, "Delete security group"))
        h2 { "Rules" }
        (table.render_all(&ctx, rules, "No rules: nothing may come in."))
        (rule_form(&ctx, &here, &groups))
    };
    Ok(layout::page(
        &ctx,
        &format!("Security Group {name}"),
        BASE,
        body,
    ))
}

/// The add-rule form, as Horizon's: a preset, or a custom rule's ports.
fn rule_form(ctx: &Ctx, here: &str, groups: &[Value]) -> Markup {
    let presets: Vec<(String, String)> = PRESETS
        .iter()
        .map(|p| (p.key.to_owned(), p.label.to_owned()))
        .collect();
    let option = |value: &str, label: &str| (value.to_owned(), label.to_owned());
    let group_choices: Vec<(String, String)> = groups
        .iter()
        .map(|g| (text(&g["id"]), name_of(g)))
        .collect();
    let number = |id: &str, name: &str, max: u16| {
        html! { input id=(id) name=(name) type="number" min="0" max=(max) inputmode="numeric"; }
    };
    html! {
        form.card method="post" action=(format!("{here}/rules")) {
            h2 { "Add rule" }
            (ctx.csrf_field())
            (field("Rule", "rule-preset", select("rule", "rule-preset", &presets, Some("ssh"))))
            (field("Description", "rule-description", html! { input #rule-description name="description" type="text"; }))
            (field("Direction", "rule-direction", select("direction", "rule-direction",
                &[option("ingress", "Ingress"), option("egress", "Egress")], None)))
            fieldset {
                legend { "Custom rules only" }
                (field("Port, or first port of a range", "rule-port-min", number("rule-port-min", "port_min", 65535)))
                (field("Last port of a range", "rule-port-max", number("rule-port-max", "port_max", 65535)))
                (field("ICMP type", "rule-icmp-type", number("rule-icmp-type", "icmp_type", 255)))
                (field("ICMP code", "rule-icmp-code", number("rule-icmp-code", "icmp_code", 255)))
            }
            fieldset {
                legend { "Remote" }
                (field("Remote", "rule-remote", select("remote", "rule-remote",
                    &[option("cidr", "CIDR"), option("group", "Security group")], None)))
                (field("CIDR", "rule-cidr", html! { input #rule-cidr name="cidr" type="text" value="0.0.0.0/0"; }))
                (field("Security group (remote security group)", "rule-group",
                    select("remote_group_id", "rule-group", &group_choices, None)))
                (field("Ether type (remote security group)", "rule-ethertype", select("ethertype", "rule-ethertype",
                    &[option("IPv4", "IPv4"), option("IPv6", "IPv6")], None)))
            }
            button type="submit" { "Add rule" }
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RuleForm {
    rule: String,
    description: String,
    direction: String,
    port_min: String,
    port_max: String,
    icmp_type: String,
    icmp_code: String,
    remote: String,
    cidr: String,
    remote_group_id: String,
    ethertype: String,
}

/// A number the form gave in `field`, or none if left empty.
fn number(value: &str, field: &str, max: u16) -> Result<Option<u16>, String> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    match value.parse::<u16>() {
        Ok(number) if number <= max => Ok(Some(number)),
        _ => Err(format!("the {field} must be a number from 0 to {max}")),
    }
}

/// The `security_group_rule` for `form` in group `group_id`, or what is
/// wrong with the form.
fn rule_request(group_id: &str, form: &RuleForm) -> Result<Value, String> {
    let preset = PRESETS
        .iter()
        .find(|p| p.key == form.rule)
        .ok_or_else(|| format!("there is no rule preset {:?}", form.rule))?;
    let icmp = preset.protocol == "icmp";
    let (min, max) = match preset.ports {
        Ports::Range(min, max) => (Some(min), Some(max)),
        Ports::All if icmp => (None, None),
        Ports::All => (Some(1), Some(65535)),
        Ports::Custom if icmp => (
            number(&form.icmp_type, "ICMP type", 255)?,
            number(&form.icmp_code, "ICMP code", 255)?,
        ),
        Ports::Custom => {
            let min = number(&form.port_min, "port", 65535)?
                .ok_or("a custom TCP or UDP rule needs a port")?;
            let max = number(&form.port_max, "last port", 65535)?.unwrap_or(min);
            (Some(min), Some(max))
        }
    };
    let direction = if form.direction == "egress" {
        "egress"
    } else {
        "ingress"
    };
    let mut rule = json!({
        "security_group_id": group_id,
        "direction": direction,
        "protocol": preset.protocol,
        "port_range_min": min,
        "port_range_max": max,
        "description": form.description.trim(),
    });
    if form.remote == "group" {
        if form.remote_group_id.is_empty() {
            return Err("choose the remote security group".into());
        }
        rule["remote_group_id"] = json!(form.remote_group_id);
        rule["ethertype"] = json!(if form.ethertype == "IPv6" {
            "IPv6"
        } else {
            "IPv4"
        });
    } else {
        let cidr = match form.cidr.trim() {
            "" => "0.0.0.0/0",
            cidr => cidr,
        };
        rule["remote_ip_prefix"] = json!(cidr);
        rule["ethertype"] = json!(if cidr.contains(':') { "IPv6" } else { "IPv4" });
    }
    Ok(json!({ "security_group_rule": rule }))
}

async fn add_rule(
    ctx: Ctx,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<RuleForm>,
) -> PageResult {
    let here = group_href(&id);
    let request = match rule_request(&id, &form) {
        Ok(request) => request,
        Err(problem) => {
            ctx.flash(
                FlashKind::Error,
                None,
                format!("Could not add the rule: {problem}."),
            );
            return Ok(Redirect::to(&here).into_response());
        }
    };
    let rules = format!("{NETWORK}/security-group-rules");
    let report = Report {
        about: None,
        done: "Added the rule.",
        failed: "Could not add the rule",
        back: &here,
    };
    Ok(ctx
        .create(rules, &request, "/security_group_rule/id", report)
        .await)
}

async fn delete_rule(
    ctx: Ctx,
    Path((id, rule_id)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<Pairs>,
) -> PageResult {
    let rule = format!("{NETWORK}/security-group-rules/{}", segment(&rule_id));
    let report = Report {
        about: None,
        done: "Deleted the rule.",
        failed: "Could not delete the rule",
        back: &group_href(&id),
    };
    Ok(ctx.act(Method::DELETE, rule, None, report).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(rule: &str) -> RuleForm {
        RuleForm {
            rule: rule.into(),
            direction: "ingress".into(),
            remote: "cidr".into(),
            ..RuleForm::default()
        }
    }

    #[test]
    fn presets_fix_protocol_and_ports() {
        let nodeport = rule_request("g", &form("k8s_nodeport")).unwrap_or_default();
        let rule = &nodeport["security_group_rule"];
        assert_eq!(rule["protocol"], "tcp");
        assert_eq!(
            (
                rule["port_range_min"].clone(),
                rule["port_range_max"].clone()
            ),
            (json!(30000), json!(32767))
        );
        assert_eq!(rule["remote_ip_prefix"], "0.0.0.0/0");
        assert_eq!(rule["ethertype"], "IPv4");
        let icmp = rule_request("g", &form("all_icmp")).unwrap_or_default();
        assert_eq!(icmp["security_group_rule"]["port_range_min"], Value::Null);
        let tcp = rule_request("g", &form("all_tcp")).unwrap_or_default();
        assert_eq!(tcp["security_group_rule"]["port_range_max"], 65535);
    }

    #[test]
    fn custom_rules_read_their_ports() {
        let mut custom = form("custom_udp");
        assert_eq!(
            rule_request("g", &custom),
            Err("a custom TCP or UDP rule needs a port".into())
        );
        custom.port_min = "6783".into();
        custom.port_max = "6784".into();
        custom.cidr = "fd00::/8".into();
        let rule = rule_request("g", &custom).unwrap_or_default()["security_group_rule"].clone();
        assert_eq!(
            (
                rule["port_range_min"].clone(),
                rule["port_range_max"].clone()
            ),
            (json!(6783), json!(6784))
        );
        assert_eq!(rule["ethertype"], "IPv6");
        custom.port_min = "70000".into();
        assert!(rule_request("g", &custom).is_err());
    }

    #[test]
    fn port_ranges_read_as_horizon_shows_them() {
        assert_eq!(port_range(&json!({"protocol": "tcp"})), "Any");
        assert_eq!(
            port_range(&json!({"protocol": "tcp", "port_range_min": 22, "port_range_max": 22})),
            "22"
        );
        assert_eq!(
            port_range(&json!({"protocol": "tcp", "port_range_min": 1, "port_range_max": 9})),
            "1 - 9"
        );
        assert_eq!(
            port_range(&json!({"protocol": "icmp", "port_range_min": 8, "port_range_max": 0})),
            "type 8, code 0"
        );
    }
}
