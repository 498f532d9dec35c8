//! The JSON schemas served under `/v2/schemas`, which clients such as
//! python-glanceclient fetch to learn the image model. They are built from
//! the same constants the service validates with, so they cannot drift.

use serde_json::{Value, json};

use crate::model::{CONTAINER_FORMATS, DISK_FORMATS, ImageStatus, MemberStatus, Visibility};
use crate::wire;

const UUID_PATTERN: &str =
    "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$";

pub fn image() -> Value {
    let nullable_enum = |values: &[&str]| {
        let mut values: Vec<Value> = values.iter().map(|v| json!(v)).collect();
        values.insert(0, Value::Null);
        values
    };
    let read_only = |kind: Value, description: &str| json!({"type": kind, "readOnly": true, "description": description});
    json!({
        "name": "image",
        "properties": {
            "id": {"type": "string", "pattern": UUID_PATTERN, "description": "The image's UUID, chosen at creation or generated."},
            "name": {"type": ["null", "string"], "maxLength": 255, "description": "A name for people to recognise the image by."},
            "status": {
                "type": "string",
                "readOnly": true,
                "enum": ImageStatus::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
                "description": "Where the image is in its life: queued (no data), saving, active or deactivated."
            },
            "visibility": {
                "type": "string",
                "enum": Visibility::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>(),
                "description": "Who can see the image."
            },
            "protected": {"type": "boolean", "description": "A protected image cannot be deleted."},
            "os_hidden": {"type": "boolean", "description": "A hidden image is left out of lists unless asked for."},
            "checksum": read_only(json!(["null", "string"]), "MD5 of the image data."),
            "os_hash_algo": read_only(json!(["null", "string"]), "The algorithm of os_hash_value."),
            "os_hash_value": read_only(json!(["null", "string"]), "Secure hash of the image data."),
            "owner": {"type": ["null", "string"], "maxLength": 255, "description": "The project that owns the image."},
            "size": read_only(json!(["null", "integer"]), "Size of the image data in bytes."),
            "virtual_size": read_only(json!(["null", "integer"]), "Size of the disk the image holds, in bytes."),
            "min_disk": {"type": "integer", "minimum": 0, "description": "Disk space in GB needed to boot the image."},
            "min_ram": {"type": "integer", "minimum": 0, "description": "Memory in MB needed to boot the image."},
            "disk_format": {"type": ["null", "string"], "enum": nullable_enum(DISK_FORMATS), "description": "The format of the disk image."},
            "container_format": {"type": ["null", "string"], "enum": nullable_enum(CONTAINER_FORMATS), "description": "The format of the image's container."},
            "created_at": read_only(json!("string"), "When the image was created."),
            "updated_at": read_only(json!("string"), "When the image was last changed."),
            "tags": {"type": "array", "items": {"type": "string", "maxLength": 255}, "description": "Labels of the image."},
            "self": read_only(json!("string"), "The image's URL."),
            "file": read_only(json!("string"), "The URL of the image's data."),
            "schema": read_only(json!("string"), "The URL of this schema.")
        },
        "additionalProperties": {"type": "string"},
        "links": [
            {"rel": "self", "href": "{self}"},
            {"rel": "enclosure", "href": "{file}"},
            {"rel": "describedby", "href": "{schema}"}
        ]
    })
}

pub fn images() -> Value {
    collection("images", wire::IMAGES_SCHEMA, image())
}

pub fn member() -> Value {
    json!({
        "name": "member",
        "properties": {
            "member_id": {"type": "string", "description": "The project the image is shared with."},
            "image_id": {"type": "string", "pattern": UUID_PATTERN, "description": "The shared image."},
            "status": {
                "type": "string",
                "enum": MemberStatus::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
                "description": "The member project's answer to the share."
            },
            "created_at": {"type": "string", "description": "When the image was shared."},
            "updated_at": {"type": "string", "description": "When the membership last changed."},
            "schema": {"type": "string", "readOnly": true}
        }
    })
}

pub fn members() -> Value {
    collection("members", wire::MEMBERS_SCHEMA, member())
}

/// The schema of a list of `item`s, found at `schema`, with Glance's pagination links.
fn collection(name: &str, schema: &str, item: Value) -> Value {
    json!({
        "name": name,
        "properties": {
            name: {"type": "array", "items": item},
            "schema": {"type": "string", "default": schema},
            "first": {"type": "string"},
            "next": {"type": "string"}
        },
        "links": [
            {"rel": "first", "href": "{first}"},
            {"rel": "next", "href": "{next}"},
            {"rel": "describedby", "href": "{schema}"}
        ]
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn schemas_describe_the_validated_values() {
        let image = super::image();
        assert_eq!(
            image["properties"]["disk_format"]["enum"][0],
            serde_json::Value::Null
        );
        assert_eq!(
            image["properties"]["disk_format"]["enum"]
                .as_array()
                .unwrap()
                .len(),
            12
        );
        assert_eq!(image["additionalProperties"]["type"], "string");
        let images = super::images();
        assert_eq!(images["properties"]["images"]["items"]["name"], "image");
        assert_eq!(
            super::members()["properties"]["schema"]["default"],
            "/v2/schemas/members"
        );
    }
}
