//! An instance's surroundings, on its details page: floating IPs
//! (Neutron: an existing unassociated one, or a new one from an external
//! network, set on one of the instance's ports), security groups (Nova's
//! `addSecurityGroup`/`removeSecurityGroup`) and volumes (Nova's
//! `os-volume_attachments`). Each section renders itself from the APIs
//! and each action returns to the details page with its outcome.

use std::collections::HashSet;

use axum::Router;
use axum::extract::Path;
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{details_url, fetch_list, server_path};
use crate::Dashboard;
use crate::client::{ApiFailure, NETWORK, VOLUME};
use crate::context::{Ctx, PageResult, Report};
use crate::form::CsrfForm;
use crate::layout::{self, action_button, field};
use crate::pages::neutron::{self, floating_ip_choices};
use crate::pages::{segment, text};

pub fn routes() -> Router<Dashboard> {
    Router::new()
        .route(
            "/project/instances/{id}/floating_ips/associate",
            post(associate_floating_ip),
        )
        .route(
            "/project/instances/{id}/floating_ips/{floating_ip}/disassociate",
            post(disassociate_floating_ip),
        )
        .route(
            "/project/instances/{id}/security_groups/add",
            post(add_security_group),
        )
        .route(
            "/project/instances/{id}/security_groups/{group}/remove",
            post(remove_security_group),
        )
        .route("/project/instances/{id}/volumes", get(volumes_block))
        .route(
            "/project/instances/{id}/volumes/attach",
            post(attach_volume),
        )
        .route(
            "/project/instances/{id}/volumes/{volume}/detach",
            post(detach_volume),
        )
}

/// A section's heading and, if its data could not be read, the API's
/// reason instead of its body; `refresh` is the address it refreshes
/// from, while it does.
fn section(
    id: &str,
    title: &str,
    refresh: Option<&str>,
    body: Result<Markup, ApiFailure>,
) -> Markup {
    html! {
        section.card id=(id) data-refresh[refresh.is_some()] data-refresh-src=[refresh] {
            h2 { (title) }
            @match body {
                Ok(body) => (body),
                Err(failure) => p.flash.flash-error role="alert" {
                    "Could not read this: " (failure.message)
                },
            }
        }
    }
}

/// The action URL `tail` of instance `id`.
fn action_url(id: &str, tail: &str) -> String {
    format!("{}/{tail}", details_url(id))
}

/// The floating IPs on the instance's ports, and a form to add one.
pub async fn floating_ips(ctx: &Ctx, id: &str) -> Markup {
    let body = floating_ips_body(ctx, id).await;
    section("instance-floating-ips", "Floating IPs", None, body)
}

async fn floating_ips_body(ctx: &Ctx, id: &str) -> Result<Markup, ApiFailure> {
    let (ports, floating_ips, externals) = tokio::join!(
        fetch_list(
            ctx,
            format!("{NETWORK}/ports?device_id={}", segment(id)),
            "ports"
        ),
        fetch_list(
            ctx,
            format!("{NETWORK}/floatingips?{}", neutron::project_filter(ctx)),
            "floatingips"
        ),
        fetch_list(
            ctx,
            format!("{NETWORK}/networks?router:external=true"),
            "networks"
        ),
    );
    let (ports, floating_ips, externals) = (ports?, floating_ips?, externals?);
    let port_ids: HashSet<String> = ports.iter().map(|p| text(&p["id"])).collect();
    let associated: Vec<&Value> = floating_ips
        .iter()
        .filter(|f| port_ids.contains(&text(&f["port_id"])))
        .collect();
    let choices = floating_ip_choices(&floating_ips, &externals);
    let port_choices: Vec<(String, String)> = ports
        .iter()
        .map(|port| {
            let addresses: Vec<String> = port["fixed_ips"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|ip| text(&ip["ip_address"]))
                .collect();
            (text(&port["id"]), addresses.join(", "))
        })
        .collect();
    Ok(html! {
        @if associated.is_empty() {
            p.hint { "No floating IP is associated with this instance." }
        } @else {
            ul {
                @for floating in &associated {
                    @let address = text(&floating["floating_ip_address"]);
                    li data-floating-ip=(address) {
                        strong { (address) } " → " (text(&floating["fixed_ip_address"])) " "
                        (action_button(
                            ctx,
                            &action_url(id, &format!("floating_ips/{}/disassociate", segment(&text(&floating["id"])))),
                            "Disassociate",
                            Some(&format!("Disassociate floating IP {address}?")),
                        ))
                    }
                }
            }
        }
        @if port_choices.is_empty() {
            p.hint { "The instance has no port to associate a floating IP with yet." }
        } @else {
            form method="post" action=(action_url(id, "floating_ips/associate")) {
                (ctx.csrf_field())
                (field("Floating IP", "floating-ip", layout::select("floating_ip", "floating-ip", &choices, None)))
                (field("Port (fixed IP)", "floating-ip-port", layout::select("port_id", "floating-ip-port", &port_choices, None)))
                button type="submit" { "Associate floating IP" }
            }
        }
    })
}

#[derive(Deserialize)]
struct AssociateForm {
    floating_ip: String,
    port_id: String,
}

/// Sets an existing floating IP's port, or allocates one on that port.
async fn associate_floating_ip(
    ctx: Ctx,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<AssociateForm>,
) -> PageResult {
    let port_id = json!(form.port_id);
    let outcome = neutron::associate_floating_ip(&ctx, &form.floating_ip, &port_id).await;
    let address = outcome
        .as_ref()
        .map(|body| text(&body["floatingip"]["floating_ip_address"]))
        .unwrap_or_default();
    Ok(ctx.finish(
        outcome,
        Some(&id),
        format!("Associated floating IP {address}."),
        "Could not associate the floating IP",
        &details_url(&id),
    ))
}

async fn disassociate_floating_ip(
    ctx: Ctx,
    Path((id, floating_ip)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<Vec<(String, String)>>,
) -> PageResult {
    let body = json!({"floatingip": {"port_id": null}});
    let path = format!("{NETWORK}/floatingips/{}", segment(&floating_ip));
    let outcome = ctx.call(Method::PUT, path, Some(&body)).await;
    let address = outcome
        .as_ref()
        .map(|body| text(&body["floatingip"]["floating_ip_address"]))
        .unwrap_or_default();
    Ok(ctx.finish(
        outcome,
        Some(&id),
        format!("Disassociated floating IP {address}."),
        "Could not disassociate the floating IP",
        &details_url(&id),
    ))
}

/// The instance's security groups, and a form to add another of the
/// project's.
pub async fn security_groups(ctx: &Ctx, id: &str) -> Markup {
    let body = security_groups_body(ctx, id).await;
    section("instance-security-groups", "Security Groups", None, body)
}

async fn security_groups_body(ctx: &Ctx, id: &str) -> Result<Markup, ApiFailure> {
    let (current, all) = tokio::join!(
        fetch_list(
            ctx,
            format!("{}/os-security-groups", server_path(id)),
            "security_groups"
        ),
        fetch_list(
            ctx,
            format!("{NETWORK}/security-groups?{}", neutron::project_filter(ctx)),
            "security_groups"
        ),
    );
    let (current, all) = (current?, all?);
    let current_ids: HashSet<String> = current.iter().map(|g| text(&g["id"])).collect();
    let addable: Vec<(String, String)> = all
        .iter()
        .filter(|g| !current_ids.contains(&text(&g["id"])))
        .map(|g| (text(&g["id"]), text(&g["name"])))
        .collect();
    Ok(html! {
        @if current.is_empty() {
            p.hint { "The instance is in no security group." }
        } @else {
            ul {
                @for group in &current {
                    @let name = text(&group["name"]);
                    li data-security-group=(name) {
                        strong { (name) } " "
                        (action_button(
                            ctx,
                            &action_url(id, &format!("security_groups/{}/remove", segment(&text(&group["id"])))),
                            "Remove",
                            None,
                        ))
                    }
                }
            }
        }
        @if !addable.is_empty() {
            form method="post" action=(action_url(id, "security_groups/add")) {
                (ctx.csrf_field())
                (field("Security group", "add-security-group", layout::select("group", "add-security-group", &addable, None)))
                button type="submit" { "Add security group" }
            }
        }
    })
}

#[derive(Deserialize)]
struct GroupForm {
    group: String,
}

/// Adds or removes security group `group` (its id; Nova takes a name
/// or an id) with Nova's server action `action`.
async fn security_group_action(
    ctx: &Ctx,
    id: &str,
    action: &str,
    group: &str,
    done: &str,
    failed: &str,
) -> PageResult {
    let body = json!({ action: {"name": group} });
    let server_action = format!("{}/action", server_path(id));
    let report = Report {
        about: Some(id),
        done,
        failed,
        back: &details_url(id),
    };
    Ok(ctx
        .act(Method::POST, server_action, Some(&body), report)
        .await)
}

async fn add_security_group(
    ctx: Ctx,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<GroupForm>,
) -> PageResult {
    let done = "Added the security group.";
    let failed = "Could not add the security group";
    security_group_action(&ctx, &id, "addSecurityGroup", &form.group, done, failed).await
}

async fn remove_security_group(
    ctx: Ctx,
    Path((id, group)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<Vec<(String, String)>>,
) -> PageResult {
    let done = "Removed the security group.";
    let failed = "Could not remove the security group";
    security_group_action(&ctx, &id, "removeSecurityGroup", &group, done, failed).await
}

/// Only the volumes section of instance `id`'s page, which refreshes
/// from here while a volume attaches or detaches.
async fn volumes_block(ctx: Ctx, Path(id): Path<String>) -> Response {
    volumes(&ctx, &id).await.into_response()
}

/// The volumes attached to the instance (refreshing while one attaches
/// or detaches), and a form to attach one of the project's available
/// volumes.
pub async fn volumes(ctx: &Ctx, id: &str) -> Markup {
    let (attachments, volumes) = tokio::join!(
        fetch_list(
            ctx,
            format!("{}/os-volume_attachments", server_path(id)),
            "volumeAttachments"
        ),
        fetch_list(ctx, format!("{VOLUME}/volumes/detail"), "volumes"),
    );
    let (attachments, volumes) = match (attachments, volumes) {
        (Ok(attachments), Ok(volumes)) => (attachments, volumes),
        (Err(failure), _) | (_, Err(failure)) => {
            return section("instance-volumes", "Volumes", None, Err(failure));
        }
    };
    let volume = |volume_id: &str| volumes.iter().find(|v| text(&v["id"]) == volume_id);
    // A volume on its way to or from this instance is pending too.
    let attached: Vec<(String, String, String, String)> = attachments
        .iter()
        .map(|attachment| {
            let volume_id = text(&attachment["volumeId"]);
            let (name, status) = volume(&volume_id)
                .map(|v| (text(&v["name"]), text(&v["status"])))
                .unwrap_or_default();
            let name = if name.is_empty() {
                volume_id.clone()
            } else {
                name
            };
            (volume_id, name, text(&attachment["device"]), status)
        })
        .collect();
    let attaching = volumes.iter().any(|v| {
        layout::is_pending(&text(&v["status"]))
            && v["attachments"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|a| text(&a["server_id"]) == id)
    });
    let refresh = attaching
        || attached
            .iter()
            .any(|(_, _, _, status)| layout::is_pending(status));
    let available: Vec<(String, String)> = volumes
        .iter()
        .filter(|v| text(&v["status"]) == "available")
        .map(|v| {
            let name = text(&v["name"]);
            let label = if name.is_empty() {
                text(&v["id"])
            } else {
                name
            };
            (text(&v["id"]), format!("{label} ({} GB)", text(&v["size"])))
        })
        .collect();
    let body = html! {
        @if attached.is_empty() {
            p.hint { "No volume is attached." }
        } @else {
            div.table-wrap { table {
                caption.visually-hidden { "Attached volumes" }
                thead { tr { th scope="col" { "Volume" } th scope="col" { "Device" } th scope="col" { "Status" } th scope="col" { "Actions" } } }
                tbody {
                    @for (volume_id, name, device, status) in &attached {
                        tr data-id=(volume_id) {
                            td { (name) }
                            td { (device) }
                            (layout::status_cell(status))
                            td { (action_button(
                                ctx,
                                &action_url(id, &format!("volumes/{}/detach", segment(volume_id))),
                                "Detach",
                                Some(&format!("Detach volume {name}?")),
                            )) }
                        }
                    }
                }
            } }
        }
        @if available.is_empty() {
            p.hint { "The project has no available volume to attach." }
        } @else {
            form method="post" action=(action_url(id, "volumes/attach")) {
                (ctx.csrf_field())
                (field("Volume", "attach-volume", layout::select("volume", "attach-volume", &available, None)))
                button type="submit" { "Attach volume" }
            }
        }
    };
    let source = refresh.then(|| action_url(id, "volumes"));
    section("instance-volumes", "Volumes", source.as_deref(), Ok(body))
}

#[derive(Deserialize)]
struct AttachForm {
    volume: String,
}

async fn attach_volume(
    ctx: Ctx,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<AttachForm>,
) -> PageResult {
    let body = json!({"volumeAttachment": {"volumeId": form.volume}});
    let attachments = format!("{}/os-volume_attachments", server_path(&id));
    let report = Report {
        about: Some(&id),
        done: "Attaching the volume.",
        failed: "Could not attach the volume",
        back: &details_url(&id),
    };
    Ok(ctx
        .act(Method::POST, attachments, Some(&body), report)
        .await)
}

async fn detach_volume(
    ctx: Ctx,
    Path((id, volume)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<Vec<(String, String)>>,
) -> PageResult {
    let attachment = format!(
        "{}/os-volume_attachments/{}",
        server_path(&id),
        segment(&volume)
    );
    let report = Report {
        about: Some(&id),
        done: "Detaching the volume.",
        failed: "Could not detach the volume",
        back: &details_url(&id),
    };
    Ok(ctx.act(Method::DELETE, attachment, None, report).await)
}
