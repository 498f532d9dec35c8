//! Images (Glance v2): the project's list (its own, shared, community and
//! public images), details with every property, renaming and visibility,
//! deletion (a protected image is refused by Glance, in its words), and
//! the browser upload ([`create`]).

mod create;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, Query};
use axum::http::Method;
use axum::routing::{get, post, put};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Dashboard;
use crate::client::IMAGE;
use crate::context::{Ctx, PageResult, Report};
use crate::form::CsrfForm;
use crate::layout::{self, action_button, field};
use crate::list::{ListQuery, Table};
use crate::pages::{items, name_of, options, segment, text, yes_no};

const BASE: &str = "/dashboard/project/images";

/// What Glance lets an image be seen by.
const VISIBILITIES: &[&str] = &["private", "shared", "community", "public"];

/// The JSON-patch media type Glance's PATCH insists on.
const JSON_PATCH: &str = "application/openstack-images-v2.1-json-patch";

pub fn routes() -> Router<Dashboard> {
    Router::new()
        .route("/project/images", get(list))
        .route(
            "/project/images/create",
            get(create::form).post(create::create),
        )
        .route("/project/images/{id}", get(details))
        .route("/project/images/{id}/update", post(update))
        .route("/project/images/{id}/delete", post(delete))
        // The file is streamed through to Glance, whatever its size.
        .route(
            "/project/images/{id}/data",
            put(create::upload).layer(DefaultBodyLimit::disable()),
        )
}

fn image_url(id: &str) -> String {
    format!("{BASE}/{}", segment(id))
}

fn api_path(id: &str) -> String {
    format!("{IMAGE}/images/{}", segment(id))
}

/// Glance marks instance snapshots with the `image_type` property.
fn kind_of(image: &Value) -> &'static str {
    match image["image_type"].as_str() {
        Some("snapshot") => "Snapshot",
        _ => "Image",
    }
}

/// Images that change by themselves (data arriving); a queued image
/// waits for an upload that may never come, so it does not refresh.
fn is_settling(image: &Value) -> bool {
    let status = text(&image["status"]);
    layout::is_pending(&status) && status != "queued"
}

/// A byte count as a person reads it ("300.0 KiB").
fn human_bytes(value: &Value) -> String {
    let Some(bytes) = value.as_u64() else {
        return String::new();
    };
    let units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut size = bytes as f64;
    let mut unit = 0;
    while size >= 1024.0 && unit + 1 < units.len() {
        size /= 1024.0;
        unit += 1;
    }
    match unit {
        0 => format!("{bytes} bytes"),
        _ => format!("{size:.1} {}", units[unit]),
    }
}

async fn list(ctx: Ctx, Query(query): Query<ListQuery>) -> PageResult {
    let body = ctx.get(format!("{IMAGE}/images?limit=1000")).await?;
    let images = items(&body, "images");
    let project = ctx.auth.project_id.clone();
    let owner = move |image: &Value| match text(&image["owner"]) {
        owner if owner == project => "This project".to_owned(),
        owner => owner,
    };
    let table = Table::new(BASE, "Images", |image: &Value| text(&image["id"]))
        .cell(
            "name",
            "Name",
            Some(Box::new(name_of)),
            |image| html! { a href=(image_url(&text(&image["id"]))) { (name_of(image)) } },
        )
        .column("type", "Type", |image: &Value| kind_of(image).to_owned())
        .status("status", "Status", |image: &Value| text(&image["status"]))
        .column("visibility", "Visibility", |image: &Value| {
            text(&image["visibility"])
        })
        .column("protected", "Protected", |image: &Value| {
            yes_no(&image["protected"]).to_owned()
        })
        .column("format", "Disk Format", |image: &Value| {
            text(&image["disk_format"]).to_uppercase()
        })
        .cell(
            "size",
            "Size",
            Some(Box::new(|image: &Value| {
                format!("{:020}", image["size"].as_u64().unwrap_or(0))
            })),
            |image| html! { (human_bytes(&image["size"])) },
        )
        .column("owner", "Owner", owner)
        .cell("actions", "Actions", None, |image| {
            delete_button(&ctx, image, "Delete")
        })
        .search(|image: &Value| {
            format!(
                "{} {} {}",
                name_of(image),
                text(&image["id"]),
                text(&image["disk_format"])
            )
        })
        .pending(is_settling);
    let body = html! {
        p { a.button href=(format!("{BASE}/create")) { "Create image" } }
        (table.render(&ctx, &query, images, "No images yet: create one."))
    };
    Ok(layout::page(&ctx, "Images", BASE, body))
}

fn delete_button(ctx: &Ctx, image: &Value, label: &str) -> Markup {
    let id = text(&image["id"]);
    action_button(
        ctx,
        &format!("{}/delete", image_url(&id)),
        label,
        Some(&format!("Delete image {}?", name_of(image))),
    )
}

async fn details(ctx: Ctx, Path(id): Path<String>) -> PageResult {
    let image = ctx.get(api_path(&id)).await?;
    let visibility = text(&image["visibility"]);
    let body = html! {
        @if let Some(messages) = ctx.flashes_about(&id) { (messages) }
        div #image-state data-refresh[is_settling(&image)] {
            (properties(&image))
        }
        form.card method="post" action=(format!("{}/update", image_url(&id))) {
            h2 { "Edit image" }
            (ctx.csrf_field())
            (field("Name", "edit-name", html! {
                input #edit-name name="name" type="text" value=(text(&image["name"]));
            }))
            (field("Visibility", "edit-visibility", layout::select(
                "visibility",
                "edit-visibility",
                &options(VISIBILITIES),
                Some(&visibility),
            )))
            div.field {
                label {
                    input type="checkbox" name="protected" value="true" checked[image["protected"] == json!(true)];
                    " Protected (cannot be deleted)"
                }
            }
            p.hint { "A public image is seen by every project; the cloud's policy says who may publish one, and Glance says so if you may not." }
            button type="submit" { "Save changes" }
        }
        (delete_button(&ctx, &image, "Delete image"))
        p { a href=(BASE) { "Back to images" } }
    };
    Ok(layout::page(
        &ctx,
        &format!("Image {}", name_of(&image)),
        BASE,
        body,
    ))
}

/// Glance's own fields first, then the image's custom properties.
fn properties(image: &Value) -> Markup {
    const SHOWN: &[(&str, &str)] = &[
        ("id", "ID"),
        ("name", "Name"),
        ("status", "Status"),
        ("visibility", "Visibility"),
        ("disk_format", "Disk format"),
        ("container_format", "Container format"),
        ("min_disk", "Min disk (GB)"),
        ("min_ram", "Min RAM (MB)"),
        ("owner", "Owner"),
        ("checksum", "Checksum"),
        ("os_hash_algo", "Hash algorithm"),
        ("os_hash_value", "Hash"),
        ("created_at", "Created"),
        ("updated_at", "Updated"),
    ];
    const HIDDEN: &[&str] = &[
        "protected",
        "size",
        "virtual_size",
        "tags",
        "file",
        "schema",
        "self",
        "locations",
        "direct_url",
        "stores",
    ];
    let custom: Vec<(&String, &Value)> = image
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(key, _)| {
            !SHOWN.iter().any(|(shown, _)| shown == key) && !HIDDEN.contains(&key.as_str())
        })
        .collect();
    let tags: Vec<String> = image["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .map(text)
        .collect();
    html! {
        dl.details.card {
            @for (key, label) in SHOWN {
                dt { (label) }
                @if *key == "status" {
                    dd data-status=(text(&image[key])) { (text(&image[key])) }
                } @else {
                    dd { (text(&image[key])) }
                }
            }
            dt { "Type" } dd { (kind_of(image)) }
            dt { "Protected" } dd { (yes_no(&image["protected"])) }
            dt { "Size" } dd { (human_bytes(&image["size"])) }
            dt { "Tags" } dd { (tags.join(", ")) }
        }
        @if !custom.is_empty() {
            h2 { "Custom properties" }
            dl.details.card {
                @for (key, value) in custom { dt { (key) } dd { (text(value)) } }
            }
        }
    }
}

#[derive(Deserialize)]
struct UpdateForm {
    name: String,
    visibility: String,
    protected: Option<String>,
}

/// Sends Glance a JSON patch of what the form changed: an unchanged
/// field is left out, so renaming a public image does not ask again for
/// the visibility only an admin may set.
async fn update(
    ctx: Ctx,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<UpdateForm>,
) -> PageResult {
    let image = ctx.get(api_path(&id)).await?;
    let wanted = [
        ("name", json!(form.name.trim())),
        ("visibility", json!(form.visibility)),
        ("protected", json!(form.protected.is_some())),
    ];
    let patch: Vec<Value> = wanted
        .into_iter()
        .filter(|(field, value)| image[*field] != *value)
        .map(|(field, value)| json!({"op": "replace", "path": format!("/{field}"), "value": value}))
        .collect();
    let name = name_of(&image);
    if patch.is_empty() {
        return Ok(ctx.finish::<()>(Ok(()), Some(&id), "Nothing to change.", "", &image_url(&id)));
    }
    let updated = ctx
        .api(Method::PATCH, api_path(&id))
        .raw(JSON_PATCH, Body::from(Value::from(patch).to_string()))
        .send()
        .await;
    Ok(ctx.finish(
        updated,
        Some(&id),
        format!("Updated image {name}."),
        &format!("Could not update image {name}"),
        &image_url(&id),
    ))
}

async fn delete(
    ctx: Ctx,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<Vec<(String, String)>>,
) -> PageResult {
    let image = api_path(&id);
    let report = Report {
        about: Some(&id),
        done: "Deleted the image.",
        failed: "Could not delete the image",
        back: BASE,
    };
    Ok(ctx.act(Method::DELETE, image, None, report).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_in_binary_units() {
        assert_eq!(human_bytes(&json!(512)), "512 bytes");
        assert_eq!(human_bytes(&json!(307200)), "300.0 KiB");
        assert_eq!(human_bytes(&json!(3u64 << 30)), "3.0 GiB");
        assert_eq!(human_bytes(&Value::Null), "");
    }

    #[test]
    fn a_queued_image_does_not_refresh_but_a_saving_one_does() {
        assert!(!is_settling(&json!({"status": "queued"})));
        assert!(is_settling(&json!({"status": "saving"})));
        assert!(!is_settling(&json!({"status": "active"})));
    }
}
