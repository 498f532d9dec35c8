//! Creating a volume: empty, or from an image, a snapshot or another
//! volume, with its type and availability zone, as Horizon's "Create
//! Volume" form. A snapshot's or volume's page links here with that
//! source chosen (`?snapshot_id=` / `?source_volid=`).

use axum::extract::Query;
use maud::html;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{BASE, cinder, items, name_of};
use crate::client::IMAGE;
use crate::context::{Ctx, PageError, PageResult, Report};
use crate::form::CsrfForm;
use crate::layout::{self, field};
use crate::pages::text;

/// The source a link asks for.
#[derive(Default, Deserialize)]
pub struct Source {
    snapshot_id: Option<String>,
    source_volid: Option<String>,
}

/// `(value, label)` options of objects, sorted by label; one "(none
/// available)" option when there is nothing to choose.
fn choices(objects: &[Value], label: impl Fn(&Value) -> String) -> Vec<(String, String)> {
    let mut options: Vec<(String, String)> = objects
        .iter()
        .map(|object| (text(&object["id"]), label(object)))
        .collect();
    options.sort_by_key(|(_, label)| label.to_lowercase());
    if options.is_empty() {
        options.push((String::new(), "(none available)".to_owned()));
    }
    options
}

pub async fn form(ctx: Ctx, Query(source): Query<Source>) -> PageResult {
    let base = cinder(&ctx);
    let (types, zones, images, snapshots, volumes) = tokio::join!(
        ctx.get(format!("{base}/types")),
        ctx.get(format!("{base}/os-availability-zone")),
        ctx.get(format!("{IMAGE}/images?status=active&limit=1000")),
        ctx.get(format!("{base}/snapshots/detail")),
        ctx.get(format!("{base}/volumes/detail")),
    );
    let types = items(&types?, "volume_types");
    let zones = items(&zones?, "availabilityZoneInfo");
    let images = items(&images?, "images");
    let snapshots: Vec<Value> = items(&snapshots?, "snapshots")
        .into_iter()
        .filter(|snapshot| snapshot["status"] == "available")
        .collect();
    let volumes: Vec<Value> = items(&volumes?, "volumes")
        .into_iter()
        .filter(|volume| ["available", "in-use"].contains(&volume["status"].as_str().unwrap_or("")))
        .collect();
    let by_id = |objects: &[Value], id: &Option<String>| {
        objects
            .iter()
            .find(|object| Some(text(&object["id"])) == *id)
            .cloned()
    };
    let (source_type, origin) = match (
        by_id(&snapshots, &source.snapshot_id),
        by_id(&volumes, &source.source_volid),
    ) {
        (Some(snapshot), _) => ("snapshot", Some(snapshot)),
        (None, Some(volume)) => ("volume", Some(volume)),
        (None, None) => ("empty", None),
    };
    let size = origin
        .as_ref()
        .map_or_else(|| "1".to_owned(), |origin| text(&origin["size"]));
    let sized = |object: &Value| format!("{} ({} GiB)", name_of(object), text(&object["size"]));
    let source_types = [
        ("empty", "No source, empty volume"),
        ("image", "Image"),
        ("snapshot", "Snapshot"),
        ("volume", "Volume"),
    ]
    .map(|(value, label)| (value.to_owned(), label.to_owned()));
    let type_options: Vec<(String, String)> = types
        .iter()
        .map(|kind| (text(&kind["name"]), text(&kind["name"])))
        .collect();
    let zone_options: Vec<(String, String)> = zones
        .iter()
        .map(|zone| (text(&zone["zoneName"]), text(&zone["zoneName"])))
        .collect();
    let body = html! {
        form.card method="post" action=(format!("{BASE}/create")) {
            (ctx.csrf_field())
            (field("Volume name", "volume-name", html! { input #volume-name name="name" type="text" required; }))
            (field("Description", "volume-description", html! { input #volume-description name="description" type="text"; }))
            (field("Volume source", "volume-source", layout::select("source_type", "volume-source", &source_types, Some(source_type))))
            p.hint { "The source's own field below is used; the others are ignored." }
            (field("Image (when the source is an image)", "volume-image", layout::select("image_id", "volume-image", &choices(&images, name_of), None)))
            (field("Snapshot (when the source is a snapshot)", "volume-snapshot", layout::select("snapshot_id", "volume-snapshot", &choices(&snapshots, sized), source.snapshot_id.as_deref())))
            (field("Volume (when the source is a volume)", "volume-source-volume", layout::select("source_volid", "volume-source-volume", &choices(&volumes, sized), source.source_volid.as_deref())))
            (field("Type", "volume-type", layout::select("volume_type", "volume-type", &type_options, Some("__DEFAULT__"))))
            (field("Size (GiB)", "volume-size", html! { input #volume-size name="size" type="number" min="1" step="1" required value=(size); }))
            (field("Availability zone", "volume-zone", layout::select("availability_zone", "volume-zone", &zone_options, None)))
            button type="submit" { "Create volume" }
            " " a href=(BASE) { "Cancel" }
        }
    };
    Ok(layout::page(&ctx, "Create Volume", BASE, body))
}

#[derive(Deserialize)]
pub struct CreateForm {
    name: String,
    #[serde(default)]
    description: String,
    size: String,
    source_type: String,
    #[serde(default)]
    image_id: String,
    #[serde(default)]
    snapshot_id: String,
    #[serde(default)]
    source_volid: String,
    #[serde(default)]
    volume_type: String,
    #[serde(default)]
    availability_zone: String,
}

/// Cinder's request for the form: the chosen source's field only.
fn request(form: &CreateForm) -> Result<Value, PageError> {
    let size: u64 = form
        .size
        .trim()
        .parse()
        .map_err(|_| PageError::Invalid("The size must be a whole number of GiB.".into()))?;
    let mut volume = Map::new();
    volume.insert("name".into(), json!(form.name.trim()));
    volume.insert("description".into(), json!(form.description.trim()));
    volume.insert("size".into(), json!(size));
    let source = match form.source_type.as_str() {
        "image" => Some(("imageRef", &form.image_id)),
        "snapshot" => Some(("snapshot_id", &form.snapshot_id)),
        "volume" => Some(("source_volid", &form.source_volid)),
        _ => None,
    };
    let optional = [
        source,
        Some(("volume_type", &form.volume_type)),
        Some(("availability_zone", &form.availability_zone)),
    ];
    for (key, value) in optional.into_iter().flatten() {
        if !value.is_empty() {
            volume.insert(key.into(), json!(value));
        }
    }
    Ok(json!({ "volume": volume }))
}

pub async fn create(ctx: Ctx, CsrfForm(form): CsrfForm<CreateForm>) -> PageResult {
    let name = form.name.trim().to_owned();
    let volumes = format!("{}/volumes", cinder(&ctx));
    let report = Report {
        about: None,
        done: &format!("Creating volume {name}."),
        failed: &format!("Could not create volume {name}"),
        back: BASE,
    };
    Ok(ctx
        .create(volumes, &request(&form)?, "/volume/id", report)
        .await)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(source_type: &str) -> CreateForm {
        CreateForm {
            name: " data ".into(),
            description: String::new(),
            size: "2".into(),
            source_type: source_type.into(),
            image_id: "img".into(),
            snapshot_id: "snap".into(),
            source_volid: String::new(),
            volume_type: "__DEFAULT__".into(),
            availability_zone: String::new(),
        }
    }

    #[test]
    fn only_the_chosen_source_is_sent() {
        let body = request(&form("snapshot")).unwrap();
        assert_eq!(
            body,
            json!({"volume": {"name": "data", "description": "", "size": 2,
                "snapshot_id": "snap", "volume_type": "__DEFAULT__"}})
        );
        let empty = request(&form("empty")).unwrap();
        assert!(empty["volume"].get("imageRef").is_none());
        assert!(empty["volume"].get("snapshot_id").is_none());
    }

    #[test]
    fn a_size_must_be_a_number() {
        let mut bad = form("empty");
        bad.size = "big".into();
        assert!(matches!(request(&bad), Err(PageError::Invalid(_))));
    }
}
