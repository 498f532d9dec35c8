//! The image domain: what an image is, which values its attributes may take,
//! and the validating setters that creation and JSON-patch updates share, so
//! both paths accept and refuse exactly the same input.

use std::collections::{BTreeMap, BTreeSet};

use crate::ImageError;
use chrono::{DateTime, Utc};
use serde_json::Value;

pub use oxistack_db::time::{parse_storage_time, storage_time};
pub use oxistack_http::time::wire_time;

/// Disk formats Glance accepts by default.
pub const DISK_FORMATS: &[&str] = &[
    "ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop",
];

/// Container formats Glance accepts by default.
pub const CONTAINER_FORMATS: &[&str] = &[
    "ami",
    "ari",
    "aki",
    "bare",
    "ovf",
    "ova",
    "docker",
    "compressed",
];

/// The hash algorithm behind `os_hash_value` (Glance's default).
pub const HASH_ALGO: &str = "sha512";

/// Longest name, tag, owner or property key, as Glance's schema allows.
const MAX_SHORT_TEXT: usize = 255;
/// Longest extra property value: what Glance's TEXT column holds.
const MAX_PROPERTY_VALUE: usize = 65535;

/// Who may see an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    /// Everyone, and listed by default.
    Public,
    /// The owner only.
    Private,
    /// The owner and the projects it was shared with (members).
    Shared,
    /// Everyone, but listed only when asked for.
    Community,
}

impl Visibility {
    pub const ALL: [Visibility; 4] = [
        Visibility::Public,
        Visibility::Private,
        Visibility::Shared,
        Visibility::Community,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Private => "private",
            Visibility::Shared => "shared",
            Visibility::Community => "community",
        }
    }

    pub fn parse(text: &str) -> Option<Visibility> {
        Self::ALL.into_iter().find(|v| v.as_str() == text)
    }
}

/// Where an image is in its life: created without data (`queued`), receiving
/// data (`saving`), usable (`active`), or withdrawn from regular users
/// (`deactivated`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageStatus {
    Queued,
    Saving,
    Active,
    Deactivated,
}

impl ImageStatus {
    pub const ALL: [ImageStatus; 4] = [
        ImageStatus::Queued,
        ImageStatus::Saving,
        ImageStatus::Active,
        ImageStatus::Deactivated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ImageStatus::Queued => "queued",
            ImageStatus::Saving => "saving",
            ImageStatus::Active => "active",
            ImageStatus::Deactivated => "deactivated",
        }
    }

    pub fn parse(text: &str) -> Option<ImageStatus> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// A project's answer to an image shared with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberStatus {
    Pending,
    Accepted,
    Rejected,
}

impl MemberStatus {
    pub const ALL: [MemberStatus; 3] = [
        MemberStatus::Pending,
        MemberStatus::Accepted,
        MemberStatus::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MemberStatus::Pending => "pending",
            MemberStatus::Accepted => "accepted",
            MemberStatus::Rejected => "rejected",
        }
    }

    pub fn parse(text: &str) -> Option<MemberStatus> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    pub id: String,
    pub name: Option<String>,
    pub status: ImageStatus,
    pub visibility: Visibility,
    pub protected: bool,
    pub os_hidden: bool,
    pub owner: Option<String>,
    pub checksum: Option<String>,
    pub os_hash_algo: Option<String>,
    pub os_hash_value: Option<String>,
    pub size: Option<i64>,
    pub virtual_size: Option<i64>,
    pub min_disk: i64,
    pub min_ram: i64,
    pub disk_format: Option<String>,
    pub container_format: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub tags: BTreeSet<String>,
    pub properties: BTreeMap<String, String>,
}

impl Image {
    /// A new image record without data, with Glance's defaults: visibility
    /// `shared` (private until members are added), unprotected, not hidden.
    pub fn new(id: String, owner: Option<String>, now: DateTime<Utc>) -> Image {
        Image {
            id,
            name: None,
            status: ImageStatus::Queued,
            visibility: Visibility::Shared,
            protected: false,
            os_hidden: false,
            owner,
            checksum: None,
            os_hash_algo: None,
            os_hash_value: None,
            size: None,
            virtual_size: None,
            min_disk: 0,
            min_ram: 0,
            disk_format: None,
            container_format: None,
            created_at: now,
            updated_at: now,
            tags: BTreeSet::new(),
            properties: BTreeMap::new(),
        }
    }
}

/// Data received for an image, as recorded when it becomes active.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageData {
    pub size: i64,
    pub virtual_size: Option<i64>,
    pub md5: String,
    pub sha512: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub image_id: String,
    pub member_id: String,
    pub status: MemberStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The attributes a client may set, by create or by patch. Everything else
/// in an image document is either read-only, reserved, or an extra property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attribute {
    Name,
    Visibility,
    Protected,
    OsHidden,
    MinDisk,
    MinRam,
    DiskFormat,
    ContainerFormat,
    Tags,
    Owner,
}

/// What a key of an image document names, for a client that wants to set it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key<'a> {
    Settable(Attribute),
    /// Computed by the service (`status`, `checksum`, `id` once created, ...).
    ReadOnly,
    /// Glance's internal names, never accepted from clients.
    Reserved,
    Property(&'a str),
}

/// Keys a client may read but never write. `id` may be chosen at creation,
/// which the create path handles before classifying the other keys.
const READ_ONLY_KEYS: &[&str] = &[
    "id",
    "status",
    "checksum",
    "os_hash_algo",
    "os_hash_value",
    "size",
    "virtual_size",
    "created_at",
    "updated_at",
    "self",
    "file",
    "schema",
    "direct_url",
    "locations",
    "stores",
];

const RESERVED_KEYS: &[&str] = &["location", "deleted", "deleted_at"];
const RESERVED_PREFIX: &str = "os_glance";

pub fn classify(key: &str) -> Key<'_> {
    let attribute = match key {
        "name" => Attribute::Name,
        "visibility" => Attribute::Visibility,
        "protected" => Attribute::Protected,
        "os_hidden" => Attribute::OsHidden,
        "min_disk" => Attribute::MinDisk,
        "min_ram" => Attribute::MinRam,
        "disk_format" => Attribute::DiskFormat,
        "container_format" => Attribute::ContainerFormat,
        "tags" => Attribute::Tags,
        "owner" => Attribute::Owner,
        _ if READ_ONLY_KEYS.contains(&key) => return Key::ReadOnly,
        _ if RESERVED_KEYS.contains(&key) || key.starts_with(RESERVED_PREFIX) => {
            return Key::Reserved;
        }
        _ => return Key::Property(key),
    };
    Key::Settable(attribute)
}

/// The refusal for writing a read-only or reserved key.
pub fn refuse_key(key: &str, kind: Key<'_>) -> ImageError {
    match kind {
        Key::Reserved => ImageError::forbidden(format!("Attribute '{key}' is reserved.")),
        _ => ImageError::forbidden(format!("Attribute '{key}' is read-only.")),
    }
}

/// Sets `attribute` of `image` from a JSON value, refusing values of the
/// wrong type or outside the allowed set. Rules that depend on who asks
/// (owner changes, publicizing) or on the image's state (formats of an image
/// with data) are the callers' business.
pub fn set_attribute(
    image: &mut Image,
    attribute: Attribute,
    value: &Value,
) -> Result<(), ImageError> {
    match attribute {
        Attribute::Name => image.name = optional_text("name", value)?,
        Attribute::Visibility => image.visibility = visibility_value(value)?,
        Attribute::Protected => image.protected = boolean("protected", value)?,
        Attribute::OsHidden => image.os_hidden = boolean("os_hidden", value)?,
        Attribute::MinDisk => image.min_disk = size_requirement("min_disk", value)?,
        Attribute::MinRam => image.min_ram = size_requirement("min_ram", value)?,
        Attribute::DiskFormat => {
            image.disk_format = format_value("disk_format", DISK_FORMATS, value)?;
        }
        Attribute::ContainerFormat => {
            image.container_format = format_value("container_format", CONTAINER_FORMATS, value)?;
        }
        Attribute::Tags => {
            let Value::Array(items) = value else {
                return Err(invalid("tags", "expected a list of strings"));
            };
            image.tags = items.iter().map(tag_value).collect::<Result<_, _>>()?;
        }
        Attribute::Owner => image.owner = optional_text("owner", value)?,
    }
    Ok(())
}

/// Sets extra property `key`. Glance stores extra properties as strings
/// and refuses anything else, so clients must convert numbers themselves.
pub fn set_property(image: &mut Image, key: &str, value: &Value) -> Result<(), ImageError> {
    validate_property_key(key)?;
    let Value::String(text) = value else {
        return Err(ImageError::invalid(format!(
            "Invalid value for property '{key}': extra properties must be strings, got {value}."
        )));
    };
    if text.len() > MAX_PROPERTY_VALUE {
        return Err(ImageError::invalid(format!(
            "Invalid value for property '{key}': longer than {MAX_PROPERTY_VALUE} bytes."
        )));
    }
    image.properties.insert(key.to_owned(), text.clone());
    Ok(())
}

pub fn validate_property_key(key: &str) -> Result<(), ImageError> {
    if key.is_empty() || key.chars().count() > MAX_SHORT_TEXT {
        return Err(ImageError::invalid(format!(
            "Invalid property name '{key}': it must have 1 to {MAX_SHORT_TEXT} characters."
        )));
    }
    Ok(())
}

/// A tag from a JSON value: a string of at most 255 characters.
pub fn tag_value(value: &Value) -> Result<String, ImageError> {
    match value {
        Value::String(tag) => validate_tag(tag).map(|()| tag.clone()),
        other => Err(invalid(
            "tags",
            &format!("expected a string tag, got {other}"),
        )),
    }
}

pub fn validate_tag(tag: &str) -> Result<(), ImageError> {
    if tag.chars().count() > MAX_SHORT_TEXT {
        return Err(invalid(
            "tags",
            &format!("a tag may have at most {MAX_SHORT_TEXT} characters"),
        ));
    }
    Ok(())
}

/// Whether `text` is a UUID in the hyphenated form Glance uses for image ids.
pub fn is_image_id(text: &str) -> bool {
    text.len() == 36
        && text.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn invalid(field: &str, detail: &str) -> ImageError {
    ImageError::invalid(format!("Invalid value for '{field}': {detail}."))
}

fn optional_text(field: &str, value: &Value) -> Result<Option<String>, ImageError> {
    match value {
        Value::Null => Ok(None),
        Value::String(text) if text.chars().count() <= MAX_SHORT_TEXT => Ok(Some(text.clone())),
        Value::String(_) => Err(invalid(
            field,
            &format!("at most {MAX_SHORT_TEXT} characters are allowed"),
        )),
        other => Err(invalid(
            field,
            &format!("expected a string or null, got {other}"),
        )),
    }
}

fn boolean(field: &str, value: &Value) -> Result<bool, ImageError> {
    value
        .as_bool()
        .ok_or_else(|| invalid(field, &format!("expected true or false, got {value}")))
}

fn size_requirement(field: &str, value: &Value) -> Result<i64, ImageError> {
    match value.as_i64() {
        Some(n) if (0..=i64::from(i32::MAX)).contains(&n) => Ok(n),
        Some(_) => Err(invalid(
            field,
            &format!("must be between 0 and {}", i32::MAX),
        )),
        None => Err(invalid(
            field,
            &format!("expected a non-negative integer, got {value}"),
        )),
    }
}

fn visibility_value(value: &Value) -> Result<Visibility, ImageError> {
    value.as_str().and_then(Visibility::parse).ok_or_else(|| {
        let valid: Vec<_> = Visibility::ALL.iter().map(|v| v.as_str()).collect();
        invalid(
            "visibility",
            &format!("{value} is not one of {}", valid.join(", ")),
        )
    })
}

fn format_value(field: &str, valid: &[&str], value: &Value) -> Result<Option<String>, ImageError> {
    match value {
        Value::Null => Ok(None),
        Value::String(text) if valid.contains(&text.as_str()) => Ok(Some(text.clone())),
        other => Err(invalid(
            field,
            &format!("{other} is not one of {}", valid.join(", ")),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxistack_http::ApiError;
    use serde_json::json;

    fn image() -> Image {
        Image::new(
            "0b1c7d3e-0000-4000-8000-000000000001".into(),
            Some("p".into()),
            Utc::now(),
        )
    }

    #[test]
    fn keys_are_classified_like_glance() {
        assert_eq!(classify("min_ram"), Key::Settable(Attribute::MinRam));
        assert_eq!(classify("checksum"), Key::ReadOnly);
        assert_eq!(classify("os_glance_import_task"), Key::Reserved);
        assert_eq!(classify("deleted"), Key::Reserved);
        assert_eq!(classify("hw_disk_bus"), Key::Property("hw_disk_bus"));
        assert_eq!(
            ApiError::from(refuse_key("size", Key::ReadOnly)).status,
            403
        );
    }

    #[test]
    fn formats_are_checked_and_named_in_the_error() {
        let mut img = image();
        set_attribute(&mut img, Attribute::DiskFormat, &json!("qcow2")).unwrap();
        assert_eq!(img.disk_format.as_deref(), Some("qcow2"));
        let err = ApiError::from(
            set_attribute(&mut img, Attribute::DiskFormat, &json!("qcow3")).unwrap_err(),
        );
        assert_eq!(err.status, 400);
        assert!(err.message.contains("ploop"), "{}", err.message);
        assert_eq!(
            img.disk_format.as_deref(),
            Some("qcow2"),
            "a refused value changes nothing"
        );
        set_attribute(&mut img, Attribute::ContainerFormat, &json!(null)).unwrap();
        assert_eq!(img.container_format, None);
    }

    #[test]
    fn sizes_must_be_non_negative_integers() {
        let mut img = image();
        set_attribute(&mut img, Attribute::MinRam, &json!(512)).unwrap();
        assert_eq!(img.min_ram, 512);
        for bad in [json!("512"), json!(-1), json!(1.5), json!(i64::MAX)] {
            assert_eq!(
                ApiError::from(set_attribute(&mut img, Attribute::MinRam, &bad).unwrap_err())
                    .status,
                400,
                "{bad}"
            );
        }
        assert_eq!(img.min_ram, 512);
    }

    #[test]
    fn properties_must_be_strings() {
        let mut img = image();
        set_property(&mut img, "os_distro", &json!("ubuntu")).unwrap();
        assert_eq!(img.properties["os_distro"], "ubuntu");
        assert_eq!(
            ApiError::from(set_property(&mut img, "cores", &json!(4)).unwrap_err()).status,
            400
        );
        assert_eq!(
            ApiError::from(set_property(&mut img, &"k".repeat(256), &json!("v")).unwrap_err())
                .status,
            400
        );
    }

    #[test]
    fn tags_and_ids_are_validated() {
        let mut img = image();
        set_attribute(&mut img, Attribute::Tags, &json!(["b", "a", "b"])).unwrap();
        assert_eq!(img.tags.iter().collect::<Vec<_>>(), ["a", "b"]);
        assert!(set_attribute(&mut img, Attribute::Tags, &json!("a")).is_err());
        assert!(set_attribute(&mut img, Attribute::Tags, &json!([1])).is_err());
        assert!(is_image_id("0b1c7d3e-0000-4000-8000-00000000000A"));
        assert!(!is_image_id("0b1c7d3e000040008000000000000001"));
        assert!(!is_image_id("not-a-uuid"));
    }

    #[test]
    fn storage_times_sort_as_text_and_round_trip() {
        let early = parse_storage_time("2026-11-24T19:00:00.000001Z").unwrap();
        let late = parse_storage_time("2026-11-24T19:00:00.5Z").unwrap();
        assert!(storage_time(&early) < storage_time(&late));
        assert_eq!(parse_storage_time(&storage_time(&late)), Some(late));
        assert_eq!(wire_time(&late), "2026-11-24T19:00:00Z");
    }
}
