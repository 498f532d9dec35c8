//! `block_device_mapping_v2` of a create request, as Nova's schema reads
//! it: what the server boots from (an image's local copy, or a volume) and
//! which volumes it gets besides. Only volumes are mapped here: swap and
//! ephemeral disks are refused, as is a volume made from a snapshot.

use oxistack_http::ApiError;
use serde_json::{Map, Value};

use super::invalid;
use crate::model::is_uuid;
use crate::validate::parse_boolean;

/// The keys a `block_device_mapping_v2` entry may have.
const BLOCK_DEVICE_KEYS: &[&str] = &[
    "source_type",
    "destination_type",
    "boot_index",
    "uuid",
    "delete_on_termination",
    "volume_size",
    "volume_type",
    "device_name",
    "disk_bus",
    "device_type",
    "guest_format",
    "no_device",
    "tag",
];

/// Where a mapped volume comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VolumeOrigin {
    /// An existing volume.
    Existing(String),
    /// A new volume with an image's data.
    Image(String),
    /// A new, empty volume.
    Blank,
}

/// One volume a create request maps to the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestedVolume {
    pub origin: VolumeOrigin,
    /// The size of a volume to create, in GiB.
    pub size_gib: Option<u64>,
    pub volume_type: Option<String>,
    /// 0 for the disk the server boots from.
    pub boot_index: Option<i64>,
    pub delete_on_termination: bool,
    pub tag: Option<String>,
}

/// What a create request boots and maps.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BootSource {
    /// The image whose local copy is the root disk; empty when the server
    /// boots from a volume (Nova shows its `image` as `""` then).
    pub image_id: String,
    pub volumes: Vec<RequestedVolume>,
}

/// Reads `imageRef` and `block_device_mapping_v2` together.
pub fn boot_source(
    image_ref: Option<&str>,
    mappings: Option<&[Map<String, Value>]>,
) -> Result<BootSource, ApiError> {
    let image_ref = image_ref
        .filter(|r| !r.is_empty())
        .map(|r| r.rsplit('/').next().unwrap_or(r).to_owned());
    let mut boot_image: Option<String> = None;
    let mut volumes = Vec::new();
    for (index, mapping) in mappings.unwrap_or_default().iter().enumerate() {
        let field = format!("server.block_device_mapping_v2[{index}]");
        let mapped = parse_mapping(&field, mapping)?;
        let boots = mapped.boot_index() == Some(0);
        if boots
            && (boot_image.is_some()
                || volumes
                    .iter()
                    .any(|v: &RequestedVolume| v.boot_index == Some(0)))
        {
            return Err(ApiError::bad_request(
                "Boot sequence for the instance and image/block device mapping combination is not valid.",
            ));
        }
        match mapped {
            Mapped::LocalImage(image) => boot_image = Some(image),
            Mapped::Volume(volume) => volumes.push(volume),
        }
    }
    let boots_from_volume = volumes.iter().any(|v| v.boot_index == Some(0));
    let image_id = match (image_ref, boot_image) {
        (Some(image), Some(mapped)) if image != mapped => {
            return Err(invalid(
                "server.block_device_mapping_v2",
                format!("boots image {mapped} but imageRef is {image}"),
            ));
        }
        (_, Some(mapped)) => mapped,
        // Clients that boot from a volume may still name the image the
        // volume is made from; the server itself boots the volume.
        (Some(_), None) if boots_from_volume => String::new(),
        (Some(image), None) => image,
        (None, None) if boots_from_volume => String::new(),
        (None, None) => {
            return Err(invalid(
                "server.imageRef",
                "is required unless a block device mapping with boot_index 0 is given",
            ));
        }
    };
    Ok(BootSource { image_id, volumes })
}

enum Mapped {
    /// The image booted from its local copy (source image, destination local).
    LocalImage(String),
    Volume(RequestedVolume),
}

impl Mapped {
    fn boot_index(&self) -> Option<i64> {
        match self {
            Mapped::LocalImage(_) => Some(0),
            Mapped::Volume(volume) => volume.boot_index,
        }
    }
}

fn parse_mapping(field: &str, mapping: &Map<String, Value>) -> Result<Mapped, ApiError> {
    if let Some(key) = mapping
        .keys()
        .find(|k| !BLOCK_DEVICE_KEYS.contains(&k.as_str()))
    {
        return Err(invalid(
            &format!("{field}.{key}"),
            "is not a block device mapping attribute",
        ));
    }
    let text = |key: &str| mapping.get(key).and_then(Value::as_str);
    let integer = |key: &str| -> Result<Option<i64>, ApiError> {
        match mapping.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| {
                invalid(&format!("{field}.{key}"), format!("{n} is not an integer"))
            }),
            Some(Value::String(s)) => s.parse().map(Some).map_err(|_| {
                invalid(
                    &format!("{field}.{key}"),
                    format!("'{s}' is not an integer"),
                )
            }),
            Some(other) => Err(invalid(
                &format!("{field}.{key}"),
                format!("{other} is not an integer"),
            )),
        }
    };
    let boot_index = integer("boot_index")?.filter(|index| *index >= 0);
    let source = text("source_type").unwrap_or("blank");
    let destination = text("destination_type").unwrap_or(match source {
        "volume" | "snapshot" => "volume",
        _ => "local",
    });
    let uuid = || {
        text("uuid")
            .filter(|u| is_uuid(u))
            .map(str::to_owned)
            .ok_or_else(|| {
                invalid(
                    &format!("{field}.uuid"),
                    format!("must be the UUID of the {source} to map"),
                )
            })
    };
    let origin = match (source, destination) {
        ("image", "local") if boot_index == Some(0) => return Ok(Mapped::LocalImage(uuid()?)),
        ("image", "volume") => VolumeOrigin::Image(uuid()?),
        ("volume", "volume") => VolumeOrigin::Existing(uuid()?),
        ("blank", "volume") => VolumeOrigin::Blank,
        ("snapshot", "volume") => {
            return Err(invalid(
                field,
                "volumes made from snapshots cannot be mapped at create time by this cloud; create the volume first and map it with source_type 'volume'",
            ));
        }
        _ => {
            return Err(invalid(
                field,
                format!(
                    "source_type '{source}' with destination_type '{destination}' is not supported: \
                     this cloud maps the boot image and volumes, no swap or ephemeral disks"
                ),
            ));
        }
    };
    let size_gib = match integer("volume_size")? {
        Some(size) if size >= 1 => Some(size as u64),
        Some(_) => {
            return Err(invalid(
                &format!("{field}.volume_size"),
                "must be at least 1",
            ));
        }
        None => None,
    };
    if size_gib.is_none() && !matches!(origin, VolumeOrigin::Existing(_)) {
        return Err(ApiError::bad_request(
            "Images with destination_type 'volume' need to have a non-zero size specified",
        ));
    }
    let delete_on_termination = match mapping.get("delete_on_termination") {
        None | Some(Value::Null) => false,
        Some(value) => parse_boolean(&format!("{field}.delete_on_termination"), value)?,
    };
    Ok(Mapped::Volume(RequestedVolume {
        origin,
        size_gib,
        volume_type: text("volume_type").map(str::to_owned),
        boot_index,
        delete_on_termination,
        tag: text("tag").map(str::to_owned),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const IMAGE: &str = "1e3f8cd3-0be9-4b4d-bb8d-f4c1e69c1b4a";
    const VOLUME: &str = "7d2d0c9c-5d6b-4a43-9c1e-3a2f7f6f1b11";

    fn mappings(value: Value) -> Vec<Map<String, Value>> {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn the_image_booted_locally_is_the_image() {
        let given = mappings(json!([{"uuid": IMAGE, "boot_index": 0,
            "source_type": "image", "destination_type": "local"}]));
        let source = boot_source(Some(IMAGE), Some(&given)).unwrap();
        assert_eq!(source.image_id, IMAGE);
        assert!(source.volumes.is_empty());
    }

    #[test]
    fn boot_from_volume_made_from_an_image_has_no_image() {
        // What `openstack server create --boot-from-volume 1 --image X` sends.
        let given = mappings(
            json!([{"uuid": IMAGE, "boot_index": 0, "source_type": "image",
            "destination_type": "volume", "volume_size": 1, "delete_on_termination": true}]),
        );
        let source = boot_source(Some(""), Some(&given)).unwrap();
        assert_eq!(source.image_id, "");
        assert_eq!(source.volumes[0].boot_index, Some(0));
        assert_eq!(source.volumes[0].origin, VolumeOrigin::Image(IMAGE.into()));
        assert_eq!(source.volumes[0].size_gib, Some(1));
        assert!(source.volumes[0].delete_on_termination);
    }

    #[test]
    fn an_existing_volume_can_be_booted_or_attached() {
        let given = mappings(
            json!([{"uuid": VOLUME, "boot_index": "0", "source_type": "volume",
            "destination_type": "volume"}]),
        );
        let source = boot_source(None, Some(&given)).unwrap();
        assert_eq!(
            source.volumes[0].origin,
            VolumeOrigin::Existing(VOLUME.into())
        );
        let given = mappings(json!([{"uuid": VOLUME, "boot_index": -1, "source_type": "volume"}]));
        let source = boot_source(Some(IMAGE), Some(&given)).unwrap();
        assert_eq!(source.image_id, IMAGE);
        assert_eq!(source.volumes[0].boot_index, None);
    }

    #[test]
    fn refusals() {
        let cases = [
            json!([{"source_type": "blank", "destination_type": "local", "boot_index": -1}]),
            json!([{"source_type": "image", "destination_type": "volume", "uuid": IMAGE, "boot_index": 0}]),
            json!([{"source_type": "snapshot", "destination_type": "volume", "uuid": VOLUME}]),
            json!([{"source_type": "volume", "destination_type": "volume", "uuid": "nope"}]),
            json!([{"source_type": "volume", "uuid": VOLUME, "colour": "red"}]),
        ];
        for case in cases {
            let given = mappings(case.clone());
            let error = boot_source(Some(IMAGE), Some(&given)).unwrap_err();
            assert_eq!(error.status, 400, "{case}");
        }
        assert_eq!(boot_source(None, None).unwrap_err().status, 400);
        let two_roots = mappings(json!([
            {"uuid": VOLUME, "boot_index": 0, "source_type": "volume", "destination_type": "volume"},
            {"uuid": IMAGE, "boot_index": 0, "source_type": "image", "destination_type": "local"}]));
        assert_eq!(boot_source(None, Some(&two_roots)).unwrap_err().status, 400);
    }
}
