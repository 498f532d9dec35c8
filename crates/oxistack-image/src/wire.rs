//! The JSON documents of the image API, shaped as Glance's clients parse them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{self, Image, Member};

pub const IMAGE_SCHEMA: &str = "/v2/schemas/image";
pub const IMAGES_SCHEMA: &str = "/v2/schemas/images";
pub const MEMBER_SCHEMA: &str = "/v2/schemas/member";
pub const MEMBERS_SCHEMA: &str = "/v2/schemas/members";

/// Where an image is, relative to the API root, as Glance writes its links.
pub fn image_href(id: &str) -> String {
    format!("/v2/images/{id}")
}

/// An image, with its extra properties flattened at the top level.
#[derive(Debug, Serialize)]
pub struct ImageView<'a> {
    id: &'a str,
    name: Option<&'a str>,
    status: &'static str,
    visibility: &'static str,
    protected: bool,
    os_hidden: bool,
    checksum: Option<&'a str>,
    os_hash_algo: Option<&'a str>,
    os_hash_value: Option<&'a str>,
    owner: Option<&'a str>,
    size: Option<i64>,
    virtual_size: Option<i64>,
    min_disk: i64,
    min_ram: i64,
    disk_format: Option<&'a str>,
    container_format: Option<&'a str>,
    created_at: String,
    updated_at: String,
    tags: Vec<&'a str>,
    #[serde(rename = "self")]
    self_href: String,
    file: String,
    schema: &'static str,
    #[serde(flatten)]
    properties: &'a BTreeMap<String, String>,
}

impl<'a> From<&'a Image> for ImageView<'a> {
    fn from(image: &'a Image) -> Self {
        ImageView {
            id: &image.id,
            name: image.name.as_deref(),
            status: image.status.as_str(),
            visibility: image.visibility.as_str(),
            protected: image.protected,
            os_hidden: image.os_hidden,
            checksum: image.checksum.as_deref(),
            os_hash_algo: image.os_hash_algo.as_deref(),
            os_hash_value: image.os_hash_value.as_deref(),
            owner: image.owner.as_deref(),
            size: image.size,
            virtual_size: image.virtual_size,
            min_disk: image.min_disk,
            min_ram: image.min_ram,
            disk_format: image.disk_format.as_deref(),
            container_format: image.container_format.as_deref(),
            created_at: model::wire_time(&image.created_at),
            updated_at: model::wire_time(&image.updated_at),
            tags: image.tags.iter().map(String::as_str).collect(),
            self_href: image_href(&image.id),
            file: format!("{}/file", image_href(&image.id)),
            schema: IMAGE_SCHEMA,
            properties: &image.properties,
        }
    }
}

/// A page of images. `first` and `next` are relative to the API root,
/// as Glance writes them and as openstacksdk strips them.
#[derive(Debug, Serialize)]
pub struct ImageList<'a> {
    pub images: Vec<ImageView<'a>>,
    pub first: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    pub schema: &'static str,
}

#[derive(Debug, Serialize)]
pub struct MemberView<'a> {
    member_id: &'a str,
    image_id: &'a str,
    status: &'static str,
    created_at: String,
    updated_at: String,
    schema: &'static str,
}

impl<'a> From<&'a Member> for MemberView<'a> {
    fn from(member: &'a Member) -> Self {
        MemberView {
            member_id: &member.member_id,
            image_id: &member.image_id,
            status: member.status.as_str(),
            created_at: model::wire_time(&member.created_at),
            updated_at: model::wire_time(&member.updated_at),
            schema: MEMBER_SCHEMA,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct MemberList<'a> {
    pub members: Vec<MemberView<'a>>,
    pub schema: &'static str,
}

/// `POST /v2/images/{id}/members`. Other keys (openstacksdk may send some)
/// are ignored, as Glance does.
#[derive(Debug, Deserialize)]
pub struct AddMember {
    pub member: String,
}

/// `PUT /v2/images/{id}/members/{member_id}`.
#[derive(Debug, Deserialize)]
pub struct UpdateMember {
    pub status: String,
}

#[derive(Debug, Serialize)]
pub struct VersionList {
    pub versions: Vec<Version>,
}

#[derive(Debug, Serialize)]
pub struct Version {
    pub id: String,
    pub status: &'static str,
    pub links: Vec<Link>,
}

#[derive(Debug, Serialize)]
pub struct Link {
    pub rel: &'static str,
    pub href: String,
}

/// `GET /v2/info/import`: the interoperable import methods this cloud
/// offers (none: data is uploaded directly).
#[derive(Debug, Serialize)]
pub struct ImportInfo {
    #[serde(rename = "import-methods")]
    pub import_methods: ImportMethods,
}

#[derive(Debug, Serialize)]
pub struct ImportMethods {
    pub description: &'static str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub value: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_render_with_flattened_properties_and_glance_links() {
        let created = model::parse_storage_time("2026-11-24T19:00:00.250000Z").unwrap();
        let mut image = Image::new(
            "4d9a3b5e-0000-4000-8000-000000000001".into(),
            Some("p".into()),
            created,
        );
        image.properties.insert("os_distro".into(), "cirros".into());
        image.tags.insert("t".into());
        let json = serde_json::to_value(ImageView::from(&image)).unwrap();
        assert_eq!(json["os_distro"], "cirros");
        assert_eq!(
            json["self"],
            "/v2/images/4d9a3b5e-0000-4000-8000-000000000001"
        );
        assert_eq!(
            json["file"],
            "/v2/images/4d9a3b5e-0000-4000-8000-000000000001/file"
        );
        assert_eq!(json["schema"], "/v2/schemas/image");
        assert_eq!(json["created_at"], "2026-11-24T19:00:00Z");
        assert_eq!(json["status"], "queued");
        assert_eq!(json["visibility"], "shared");
        assert_eq!(json["checksum"], serde_json::Value::Null);
        assert_eq!(json["tags"], serde_json::json!(["t"]));
        // 22 attributes and links, and the one extra property.
        assert_eq!(json.as_object().unwrap().len(), 23);
    }
}
