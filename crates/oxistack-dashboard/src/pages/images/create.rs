//! Creating an image from the browser, in two steps as Horizon's legacy
//! upload does: the form's metadata becomes Glance's image record, then
//! `upload.js` sends the chosen file with an XMLHttpRequest whose progress
//! drives a `<progress>` bar, to [`upload`], which streams it on to
//! Glance's `PUT /v2/images/{id}/file` without holding it in memory.
//!
//! Without script the form still creates the record (post/redirect/get)
//! and the page says how to send the data from a client.

use axum::Json;
use axum::body::Body;
use axum::extract::Path;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::IntoResponse;
use maud::html;
use serde::Deserialize;
use serde_json::json;

use super::{BASE, VISIBILITIES, api_path, human_bytes, image_url};
use crate::client::{ApiFailure, IMAGE};
use crate::context::{Ctx, PageError, PageResult};
use crate::form::{CsrfForm, CsrfHeader};
use crate::layout::{self, field};
use crate::pages::{name_of, options, text};
use crate::session::FlashKind;

/// Glance's default disk formats, the usual first.
const DISK_FORMATS: &[&str] = &[
    "qcow2", "raw", "iso", "vmdk", "vdi", "vhd", "vhdx", "ploop", "ami", "ari", "aki",
];
const CONTAINER_FORMATS: &[&str] = &[
    "bare",
    "ovf",
    "ova",
    "docker",
    "compressed",
    "ami",
    "ari",
    "aki",
];

pub async fn form(ctx: Ctx) -> PageResult {
    let number = |name: &str, id: &str| {
        html! { input id=(id) name=(name) type="number" min="0" step="1" value="0" inputmode="numeric"; }
    };
    let body = html! {
        form.card #image-create method="post" action=(format!("{BASE}/create")) data-upload {
            (ctx.csrf_field())
            (field("Name", "image-name", html! { input #image-name name="name" type="text" required; }))
            (field("Image file", "image-file", html! { input #image-file name="file" type="file"; }))
            noscript {
                p.hint {
                    "Sending the file needs JavaScript. Without it this form creates the image's record only; "
                    "upload its data from a client: " code { "openstack image set --file FILE IMAGE" } "."
                }
            }
            (field("Disk format", "image-disk-format", layout::select("disk_format", "image-disk-format", &options(DISK_FORMATS), Some("qcow2"))))
            (field("Container format", "image-container-format", layout::select("container_format", "image-container-format", &options(CONTAINER_FORMATS), Some("bare"))))
            (field("Visibility", "image-visibility", layout::select("visibility", "image-visibility", &options(VISIBILITIES), Some("private"))))
            p.hint { "A public image is seen by every project; the cloud's policy says who may publish one, and Glance says so if you may not." }
            (field("Minimum disk (GB)", "image-min-disk", number("min_disk", "image-min-disk")))
            (field("Minimum RAM (MB)", "image-min-ram", number("min_ram", "image-min-ram")))
            div #upload-progress hidden {
                label for="upload-bar" { "Upload progress" }
                progress #upload-bar max="100" value="0" {}
                " " span #upload-percent aria-live="polite" { "0%" }
            }
            p #upload-error.flash.flash-error role="alert" tabindex="-1" hidden {}
            button type="submit" { "Create image" }
            " " a href=(BASE) { "Cancel" }
        }
        script src=(crate::assets::url("upload.js")) defer {}
    };
    Ok(layout::page(&ctx, "Create Image", BASE, body))
}

#[derive(Deserialize)]
pub struct CreateForm {
    name: String,
    disk_format: String,
    container_format: String,
    visibility: String,
    #[serde(default)]
    min_disk: String,
    #[serde(default)]
    min_ram: String,
}

/// A whole number field; empty is 0.
fn whole_number(value: &str, label: &str) -> Result<u64, PageError> {
    match value.trim() {
        "" => Ok(0),
        value => value
            .parse()
            .map_err(|_| PageError::Invalid(format!("{label} must be a whole number."))),
    }
}

/// `upload.js` asks for JSON: where to send the file next.
fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .is_some_and(|accept| accept.contains("application/json"))
}

/// Creates the image record. For `upload.js` the answer is JSON (the
/// upload address, or Glance's refusal); a plain form post redirects to
/// the list with the outcome.
pub async fn create(
    ctx: Ctx,
    headers: HeaderMap,
    CsrfForm(form): CsrfForm<CreateForm>,
) -> PageResult {
    let name = form.name.trim();
    let image = json!({
        "name": name,
        "disk_format": form.disk_format,
        "container_format": form.container_format,
        "visibility": form.visibility,
        "min_disk": whole_number(&form.min_disk, "Minimum disk")?,
        "min_ram": whole_number(&form.min_ram, "Minimum RAM")?,
    });
    let created = ctx
        .call(Method::POST, format!("{IMAGE}/images"), Some(&image))
        .await;
    let failed = format!("Could not create image {name}");
    if wants_json(&headers) {
        return Ok(match created {
            Ok(image) => {
                let url = image_url(&text(&image["id"]));
                Json(json!({"upload": format!("{url}/data"), "next": url})).into_response()
            }
            Err(failure) => json_failure(&failure, &failed),
        });
    }
    let id = created
        .as_ref()
        .map(|image| text(&image["id"]))
        .unwrap_or_default();
    Ok(ctx.finish(
        created,
        Some(&id),
        format!("Created image {name}; it waits for its data (queued)."),
        &failed,
        BASE,
    ))
}

fn json_failure(failure: &ApiFailure, failed: &str) -> axum::response::Response {
    let status = match failure.status.is_server_error() {
        true => StatusCode::BAD_GATEWAY,
        false => failure.status,
    };
    (
        status,
        Json(json!({"message": format!("{failed}: {}", failure.message)})),
    )
        .into_response()
}

/// Streams the request body to Glance as the image's data; the outcome is
/// left as a message on the image's page, where `upload.js` goes next.
pub async fn upload(ctx: Ctx, _: CsrfHeader, Path(id): Path<String>, body: Body) -> PageResult {
    ctx.api(Method::PUT, format!("{}/file", api_path(&id)))
        .raw("application/octet-stream", body)
        .send()
        .await?;
    let image = ctx.get(api_path(&id)).await?;
    ctx.flash(
        FlashKind::Ok,
        Some(&id),
        format!(
            "Uploaded {} to image {}; it is {}.",
            human_bytes(&image["size"]),
            name_of(&image),
            text(&image["status"])
        ),
    );
    Ok(StatusCode::NO_CONTENT.into_response())
}
