//! What one volume's page does: extend it (Cinder's `os-extend`, also
//! while attached, from microversion 3.42), attach it to an instance and
//! detach it (through Nova's `os-volume_attachments`, as Horizon does, so
//! the guest sees the disk), snapshot it (forced while it is in use) and
//! delete it. Extend, attach, detach and snapshot are started from the
//! volume's page and end there, with the outcome at its top; delete (from
//! the list or the page) ends on the list, the outcome under the row.

use axum::extract::Path;
use axum::http::Method;
use serde::Deserialize;
use serde_json::json;

use super::{BASE, cinder, volume_url};
use crate::client::COMPUTE;
use crate::context::{Ctx, PageError, PageResult, Report};
use crate::form::CsrfForm;
use crate::pages::{name_of, segment, text};

/// The volume's Cinder URL.
fn volume_api(ctx: &Ctx, id: &str) -> String {
    format!("{}/volumes/{}", cinder(ctx), segment(id))
}

#[derive(Deserialize)]
pub struct ExtendForm {
    new_size: String,
}

pub async fn extend(
    ctx: Ctx,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<ExtendForm>,
) -> PageResult {
    let new_size: u64 =
        form.new_size.trim().parse().map_err(|_| {
            PageError::Invalid("The new size must be a whole number of GiB.".into())
        })?;
    let action = format!("{}/action", volume_api(&ctx, &id));
    let extend = json!({"os-extend": {"new_size": new_size}});
    let report = Report {
        about: Some(&id),
        done: &format!("Extending the volume to {new_size} GiB."),
        failed: "Could not extend the volume",
        back: &volume_url(&id),
    };
    Ok(ctx.act(Method::POST, action, Some(&extend), report).await)
}

#[derive(Deserialize)]
pub struct AttachForm {
    server_id: String,
}

pub async fn attach(
    ctx: Ctx,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<AttachForm>,
) -> PageResult {
    let attached = ctx
        .call(
            Method::POST,
            format!(
                "{COMPUTE}/servers/{}/os-volume_attachments",
                segment(&form.server_id)
            ),
            Some(&json!({"volumeAttachment": {"volumeId": id}})),
        )
        .await;
    let device = attached
        .as_ref()
        .map(|body| text(&body["volumeAttachment"]["device"]))
        .unwrap_or_default();
    Ok(ctx.finish(
        attached,
        Some(&id),
        format!("Attaching the volume as {device}."),
        "Could not attach the volume",
        &volume_url(&id),
    ))
}

pub async fn detach(
    ctx: Ctx,
    Path((id, server_id)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<Vec<(String, String)>>,
) -> PageResult {
    let attachment = format!(
        "{COMPUTE}/servers/{}/os-volume_attachments/{}",
        segment(&server_id),
        segment(&id)
    );
    let report = Report {
        about: Some(&id),
        done: "Detaching the volume.",
        failed: "Could not detach the volume",
        back: &volume_url(&id),
    };
    Ok(ctx.act(Method::DELETE, attachment, None, report).await)
}

#[derive(Deserialize)]
pub struct SnapshotForm {
    name: String,
    #[serde(default)]
    description: String,
}

/// Snapshots the volume; Cinder (before 3.66) wants `force` for a volume
/// in use, so it is sent exactly then, as Horizon's "force" choice.
pub async fn snapshot(
    ctx: Ctx,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<SnapshotForm>,
) -> PageResult {
    let volume = ctx.get(volume_api(&ctx, &id)).await?;
    let in_use = volume["volume"]["status"] == "in-use";
    let name = form.name.trim();
    let created = ctx
        .call(
            Method::POST,
            format!("{}/snapshots", cinder(&ctx)),
            Some(&json!({"snapshot": {
                "volume_id": id,
                "name": name,
                "description": form.description.trim(),
                "force": in_use,
            }})),
        )
        .await;
    Ok(ctx.finish(
        created,
        Some(&id),
        format!(
            "Creating snapshot {name} of volume {}.",
            name_of(&volume["volume"])
        ),
        &format!("Could not snapshot volume {}", name_of(&volume["volume"])),
        &volume_url(&id),
    ))
}

pub async fn delete(
    ctx: Ctx,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<Vec<(String, String)>>,
) -> PageResult {
    let volume = volume_api(&ctx, &id);
    let report = Report {
        about: Some(&id),
        done: "Deleting the volume.",
        failed: "Could not delete the volume",
        back: BASE,
    };
    Ok(ctx.act(Method::DELETE, volume, None, report).await)
}
