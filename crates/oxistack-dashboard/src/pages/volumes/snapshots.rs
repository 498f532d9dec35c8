//! Volume snapshots: the project's list (with the volume each was taken
//! of), a volume made from one, deletion.

use axum::extract::{Path, Query};
use axum::http::Method;
use maud::html;
use serde_json::Value;

use super::{BASE, SNAPSHOTS, cinder, size_of, volume_url, volumes};
use crate::context::{Ctx, PageResult, Report};
use crate::form::CsrfForm;
use crate::layout::{self, action_button};
use crate::list::{ListQuery, Table};
use crate::pages::{items, name_of, segment, text};

pub async fn list(ctx: Ctx, Query(query): Query<ListQuery>) -> PageResult {
    let (snapshots, volumes) = tokio::join!(
        ctx.get(format!("{}/snapshots/detail", cinder(&ctx))),
        volumes(&ctx),
    );
    let volume_names: Vec<(String, String)> = volumes?
        .iter()
        .map(|volume| (text(&volume["id"]), name_of(volume)))
        .collect();
    let volume_name = move |snapshot: &Value| {
        let id = text(&snapshot["volume_id"]);
        volume_names
            .iter()
            .find(|(volume, _)| *volume == id)
            .map_or(id, |(_, name)| name.clone())
    };
    let table = Table::new(SNAPSHOTS, "Volume snapshots", |snapshot: &Value| {
        text(&snapshot["id"])
    })
    .column("name", "Name", name_of)
    .column("description", "Description", |snapshot: &Value| {
        text(&snapshot["description"])
    })
    .cell(
        "size",
        "Size",
        Some(Box::new(|snapshot: &Value| {
            format!("{:010}", snapshot["size"].as_u64().unwrap_or(0))
        })),
        |snapshot| html! { (size_of(snapshot)) },
    )
    .status("status", "Status", |snapshot: &Value| {
        text(&snapshot["status"])
    })
    .cell(
        "volume",
        "Volume",
        Some(Box::new(volume_name.clone())),
        move |snapshot| {
            html! { a href=(volume_url(&text(&snapshot["volume_id"]))) { (volume_name(snapshot)) } }
        },
    )
    .column("created", "Created", |snapshot: &Value| {
        text(&snapshot["created_at"])
    })
    .cell("actions", "Actions", None, |snapshot| {
        let id = text(&snapshot["id"]);
        html! {
            @if snapshot["status"] == "available" {
                a.button.secondary href=(format!("{BASE}/create?snapshot_id={}", segment(&id))) { "Create volume" } " "
            }
            (action_button(
                &ctx,
                &format!("{SNAPSHOTS}/{}/delete", segment(&id)),
                "Delete",
                Some(&format!("Delete snapshot {}?", name_of(snapshot))),
            ))
        }
    })
    .search(|snapshot: &Value| format!("{} {}", name_of(snapshot), text(&snapshot["id"])))
    .pending(|snapshot| layout::is_pending(&text(&snapshot["status"])));
    let body = html! {
        p.hint { "Snapshot a volume from its page (Volumes, then Manage)." }
        (table.render(&ctx, &query, items(&snapshots?, "snapshots"), "No snapshots yet."))
    };
    Ok(layout::page(&ctx, "Volume Snapshots", SNAPSHOTS, body))
}

pub async fn delete(
    ctx: Ctx,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<Vec<(String, String)>>,
) -> PageResult {
    let snapshot = format!("{}/snapshots/{}", cinder(&ctx), segment(&id));
    let report = Report {
        about: Some(&id),
        done: "Deleting the snapshot.",
        failed: "Could not delete the snapshot",
        back: SNAPSHOTS,
    };
    Ok(ctx.act(Method::DELETE, snapshot, None, report).await)
}
