//! Image updates: Glance's JSON-patch dialects, parsed and then applied to
//! an image in memory, so that a patch with one bad operation changes nothing.

use crate::ImageError;
use oxistack_auth::AuthContext;
use serde_json::{Map, Value};

use crate::access;
use crate::model::{self, Attribute, Image, ImageStatus, Key};

/// The media types of image PATCH requests, as clients send them.
pub const MEDIA_TYPE_V2_1: &str = "application/openstack-images-v2.1-json-patch";
pub const MEDIA_TYPE_V2_0: &str = "application/openstack-images-v2.0-json-patch";

/// Which JSON-patch dialect a request uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `{"op": "add", "path": "/name", "value": ...}` (RFC 6902); `add` of
    /// an existing property replaces it.
    V2_1,
    /// `{"add": "/name", "value": ...}`; `add` of an existing property is a conflict.
    V2_0,
}

impl Dialect {
    /// The dialect for a request's Content-Type, parameters ignored.
    pub fn from_content_type(content_type: &str) -> Option<Dialect> {
        match content_type.split(';').next().unwrap_or_default().trim() {
            MEDIA_TYPE_V2_1 => Some(Dialect::V2_1),
            MEDIA_TYPE_V2_0 => Some(Dialect::V2_0),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Add,
    Replace,
    Remove,
}

impl Op {
    const ALL: [(&'static str, Op); 3] = [
        ("add", Op::Add),
        ("replace", Op::Replace),
        ("remove", Op::Remove),
    ];
}

#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub op: Op,
    /// The decoded JSON pointer: one segment, or two for a position in `tags`.
    pub path: Vec<String>,
    /// Present for `add` and `replace`.
    pub value: Option<Value>,
}

/// Parses a PATCH body into changes, checking their form but not yet
/// whether the image allows them.
pub fn parse(body: &Value, dialect: Dialect) -> Result<Vec<Change>, ImageError> {
    let Value::Array(operations) = body else {
        return Err(ImageError::invalid(
            "The request body must be a JSON array of patch operations.",
        ));
    };
    operations
        .iter()
        .map(|operation| {
            let Value::Object(operation) = operation else {
                return Err(ImageError::invalid(
                    "Each patch operation must be a JSON object.",
                ));
            };
            let (op, pointer) = match dialect {
                Dialect::V2_1 => rfc6902_op(operation)?,
                Dialect::V2_0 => legacy_op(operation)?,
            };
            let path = decode_pointer(pointer)?;
            let value = match op {
                Op::Remove => None,
                Op::Add | Op::Replace => {
                    Some(operation.get("value").cloned().ok_or_else(|| {
                        ImageError::invalid(format!(
                            "The operation on '{pointer}' requires a 'value'."
                        ))
                    })?)
                }
            };
            Ok(Change { op, path, value })
        })
        .collect()
}

fn rfc6902_op(operation: &Map<String, Value>) -> Result<(Op, &str), ImageError> {
    let op = match operation.get("op") {
        Some(Value::String(name)) => Op::ALL
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, op)| *op)
            .ok_or_else(|| {
                ImageError::invalid(format!(
                    "Invalid operation '{name}': it must be one of add, remove, replace."
                ))
            })?,
        _ => {
            return Err(ImageError::invalid(
                "Each patch operation needs an 'op': one of add, remove, replace.",
            ));
        }
    };
    match operation.get("path") {
        Some(Value::String(pointer)) => Ok((op, pointer)),
        _ => Err(ImageError::invalid(
            "Each patch operation needs a 'path' string.",
        )),
    }
}

fn legacy_op(operation: &Map<String, Value>) -> Result<(Op, &str), ImageError> {
    let mut found = Op::ALL
        .iter()
        .filter_map(|(name, op)| operation.get(*name).map(|p| (*op, p)));
    match (found.next(), found.next()) {
        (Some((op, Value::String(pointer))), None) => Ok((op, pointer)),
        _ => Err(ImageError::invalid(
            "Each patch operation must have exactly one of 'add', 'remove' or 'replace', naming a path.",
        )),
    }
}

/// Decodes the limited JSON pointers Glance accepts: `/name`, and
/// `/tags/<position>` or `/tags/-`, which clients computing a JSON-patch
/// diff of the tag list produce.
fn decode_pointer(pointer: &str) -> Result<Vec<String>, ImageError> {
    let invalid =
        |why: &str| ImageError::invalid(format!("Invalid JSON pointer '{pointer}': {why}."));
    let Some(rest) = pointer.strip_prefix('/') else {
        return Err(invalid("it must start with '/'"));
    };
    let segments = rest
        .split('/')
        .map(|segment| {
            if segment.trim().is_empty() {
                return Err(invalid("it has an empty segment"));
            }
            let mut decoded = String::new();
            let mut chars = segment.chars();
            while let Some(c) = chars.next() {
                decoded.push(match c {
                    '~' => match chars.next() {
                        Some('0') => '~',
                        Some('1') => '/',
                        _ => return Err(invalid("'~' must be followed by 0 or 1")),
                    },
                    _ => c,
                });
            }
            Ok(decoded)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let depth_allowed = if segments[0] == "tags" { 2 } else { 1 };
    if segments.len() > depth_allowed {
        return Err(invalid("this resource has no such nested attribute"));
    }
    Ok(segments)
}

/// Applies `changes` to `image` on behalf of `caller`, who may change the
/// image (checked by the caller of this function). Stops at the first
/// refused change, leaving `image` half-changed: the caller discards it.
pub fn apply(
    image: &mut Image,
    changes: &[Change],
    dialect: Dialect,
    caller: &AuthContext,
) -> Result<(), ImageError> {
    // Positions in `/tags/<n>` refer to the list as the client holds it,
    // which changes with each operation: work on a list, store a set.
    let mut tags: Vec<String> = image.tags.iter().cloned().collect();
    for change in changes {
        let root = change.path[0].as_str();
        match model::classify(root) {
            Key::Settable(Attribute::Tags) => apply_to_tags(&mut tags, change)?,
            Key::Settable(attribute) => apply_to_attribute(image, attribute, change, caller)?,
            Key::Property(name) => apply_to_property(image, name, change, dialect)?,
            refused @ (Key::ReadOnly | Key::Reserved) => {
                return Err(model::refuse_key(root, refused));
            }
        }
    }
    image.tags = tags.into_iter().collect();
    Ok(())
}

fn apply_to_attribute(
    image: &mut Image,
    attribute: Attribute,
    change: &Change,
    caller: &AuthContext,
) -> Result<(), ImageError> {
    let name = &change.path[0];
    let Some(value) = &change.value else {
        return Err(ImageError::forbidden(format!(
            "Attribute '{name}' cannot be removed."
        )));
    };
    match attribute {
        Attribute::Owner if !caller.is_admin() => {
            return Err(ImageError::forbidden(
                "Only the cloud administrator may change an image's owner.",
            ));
        }
        Attribute::DiskFormat | Attribute::ContainerFormat
            if image.status != ImageStatus::Queued =>
        {
            return Err(ImageError::forbidden(format!(
                "Attribute '{name}' can only be changed while the image has no data (status 'queued')."
            )));
        }
        _ => {}
    }
    model::set_attribute(image, attribute, value)?;
    if attribute == Attribute::Visibility {
        access::require_publicize(caller, image.visibility)?;
    }
    Ok(())
}

fn apply_to_tags(tags: &mut Vec<String>, change: &Change) -> Result<(), ImageError> {
    let Some(position) = change.path.get(1) else {
        // The whole list: only add or replace make sense.
        let Some(value) = &change.value else {
            return Err(ImageError::forbidden(
                "Attribute 'tags' cannot be removed; replace it with [] instead.",
            ));
        };
        let Value::Array(items) = value else {
            return Err(ImageError::invalid(
                "Invalid value for 'tags': expected a list of strings.",
            ));
        };
        *tags = items
            .iter()
            .map(model::tag_value)
            .collect::<Result<_, _>>()?;
        return Ok(());
    };
    let bad_position = || {
        ImageError::invalid(format!(
            "Invalid JSON pointer '/tags/{position}': no such tag position."
        ))
    };
    let index = match (position.as_str(), change.op) {
        ("-", Op::Add) => tags.len(),
        (text, _) => text.parse::<usize>().map_err(|_| bad_position())?,
    };
    let in_range = match change.op {
        Op::Add => index <= tags.len(),
        Op::Replace | Op::Remove => index < tags.len(),
    };
    if !in_range {
        return Err(bad_position());
    }
    match (&change.value, change.op) {
        (Some(value), Op::Add) => tags.insert(index, model::tag_value(value)?),
        (Some(value), _) => tags[index] = model::tag_value(value)?,
        (None, _) => {
            tags.remove(index);
        }
    }
    Ok(())
}

fn apply_to_property(
    image: &mut Image,
    name: &str,
    change: &Change,
    dialect: Dialect,
) -> Result<(), ImageError> {
    let exists = image.properties.contains_key(name);
    match (change.op, &change.value) {
        (Op::Add, _) if exists && dialect == Dialect::V2_0 => Err(ImageError::conflict(format!(
            "Property '{name}' already exists."
        ))),
        (Op::Replace | Op::Remove, _) if !exists => Err(ImageError::conflict(format!(
            "Property '{name}' does not exist."
        ))),
        (_, Some(value)) => model::set_property(image, name, value),
        (_, None) => {
            image.properties.remove(name);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::tests::caller;
    use oxistack_http::ApiError;
    use serde_json::json;

    fn image() -> Image {
        let mut image = Image::new("id".into(), Some("p".into()), chrono::Utc::now());
        image.properties.insert("os_distro".into(), "ubuntu".into());
        image.tags = ["a".to_owned(), "c".to_owned()].into();
        image
    }

    /// A patch applied, refused as Glance's clients see it.
    fn patch(image: &mut Image, body: Value) -> Result<(), ApiError> {
        let changes = parse(&body, Dialect::V2_1)?;
        apply(
            image,
            &changes,
            Dialect::V2_1,
            &caller("p", &["member", "reader"]),
        )
        .map_err(ApiError::from)
    }

    #[test]
    fn media_types_choose_the_dialect() {
        assert_eq!(
            Dialect::from_content_type(MEDIA_TYPE_V2_1),
            Some(Dialect::V2_1)
        );
        assert_eq!(
            Dialect::from_content_type(
                "application/openstack-images-v2.0-json-patch; charset=UTF-8"
            ),
            Some(Dialect::V2_0)
        );
        assert_eq!(Dialect::from_content_type("application/json"), None);
    }

    #[test]
    fn operations_change_attributes_properties_and_tags() {
        let mut img = image();
        patch(
            &mut img,
            json!([
                {"op": "replace", "path": "/name", "value": "cirros"},
                {"op": "add", "path": "/min_ram", "value": 256},
                {"op": "add", "path": "/hw_disk_bus", "value": "scsi"},
                {"op": "add", "path": "/os_distro", "value": "debian"},
                {"op": "remove", "path": "/os_distro"},
                {"op": "add", "path": "/a~1b~0c", "value": "escaped"},
                {"op": "add", "path": "/tags/0", "value": "b"},
                {"op": "remove", "path": "/tags/2"},
                {"op": "add", "path": "/tags/-", "value": "z"},
            ]),
        )
        .unwrap();
        assert_eq!(img.name.as_deref(), Some("cirros"));
        assert_eq!(img.min_ram, 256);
        assert_eq!(
            img.properties.get("hw_disk_bus").map(String::as_str),
            Some("scsi")
        );
        assert_eq!(
            img.properties.get("a/b~c").map(String::as_str),
            Some("escaped")
        );
        assert!(!img.properties.contains_key("os_distro"));
        assert_eq!(img.tags.iter().collect::<Vec<_>>(), ["a", "b", "z"]);
    }

    #[test]
    fn malformed_patches_are_400s() {
        for body in [
            json!({"op": "add"}),
            json!(["add"]),
            json!([{"op": "move", "path": "/name", "from": "/x"}]),
            json!([{"path": "/name", "value": "x"}]),
            json!([{"op": "add", "value": "x"}]),
            json!([{"op": "add", "path": "name", "value": "x"}]),
            json!([{"op": "add", "path": "/name//x", "value": "x"}]),
            json!([{"op": "add", "path": "/name/first", "value": "x"}]),
            json!([{"op": "add", "path": "/bad~2", "value": "x"}]),
            json!([{"op": "replace", "path": "/name"}]),
            json!([{"op": "add", "path": "/min_ram", "value": "512"}]),
            json!([{"op": "add", "path": "/disk_format", "value": "floppy"}]),
            json!([{"op": "add", "path": "/tags/9", "value": "x"}]),
            json!([{"op": "add", "path": "/extra", "value": 5}]),
        ] {
            let err = patch(&mut image(), body.clone()).unwrap_err();
            assert_eq!(err.status, 400, "{body}: {}", err.message);
        }
    }

    #[test]
    fn forbidden_and_conflicting_changes_are_refused() {
        for (body, status) in [
            (json!([{"op": "replace", "path": "/id", "value": "x"}]), 403),
            (
                json!([{"op": "replace", "path": "/status", "value": "active"}]),
                403,
            ),
            (
                json!([{"op": "add", "path": "/checksum", "value": "x"}]),
                403,
            ),
            (
                json!([{"op": "add", "path": "/deleted", "value": "x"}]),
                403,
            ),
            (json!([{"op": "remove", "path": "/name"}]), 403),
            (json!([{"op": "remove", "path": "/tags"}]), 403),
            (
                json!([{"op": "replace", "path": "/owner", "value": "q"}]),
                403,
            ),
            (
                json!([{"op": "replace", "path": "/missing", "value": "x"}]),
                409,
            ),
            (json!([{"op": "remove", "path": "/missing"}]), 409),
        ] {
            let mut img = image();
            let err = patch(&mut img, body.clone()).unwrap_err();
            assert_eq!(err.status, status, "{body}: {}", err.message);
        }
        let mut active = image();
        active.status = ImageStatus::Active;
        let err = patch(
            &mut active,
            json!([{"op": "replace", "path": "/disk_format", "value": "raw"}]),
        )
        .unwrap_err();
        assert_eq!(err.status, 403);
    }

    #[test]
    fn the_legacy_dialect_is_understood() {
        let mut img = image();
        let body = json!([{"replace": "/name", "value": "x"}, {"add": "/os_distro", "value": "y"}]);
        let changes = parse(&body, Dialect::V2_0).unwrap();
        assert_eq!(changes[0].op, Op::Replace);
        let err = ApiError::from(
            apply(&mut img, &changes, Dialect::V2_0, &caller("p", &["member"])).unwrap_err(),
        );
        assert_eq!(
            err.status, 409,
            "add of an existing property conflicts in v2.0"
        );
        assert!(parse(&json!([{"add": "/a", "remove": "/b"}]), Dialect::V2_0).is_err());
    }
}
