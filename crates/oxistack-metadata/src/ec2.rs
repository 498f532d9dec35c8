//! The EC2-compatible side of the metadata (`<version>/meta-data/...`),
//! which older guest tools and cloud-init's EC2 fallbacks read. Nova
//! models it as a tree: directories list their entries, leaves are
//! values, and the HTTP paths walk the tree.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde_json::{Map, Value};

use crate::{InstanceMetadata, at_least};

/// The dated EC2 metadata versions Nova publishes, oldest first; the keys
/// a version has depend on it.
pub(crate) const VERSIONS: [&str; 9] = [
    "1.0",
    "2007-01-19",
    "2007-03-01",
    "2007-08-29",
    "2007-10-10",
    "2007-12-15",
    "2008-02-01",
    "2008-09-01",
    "2009-04-04",
];

/// The disk the guest boots from, as the libvirt/QEMU driver names it.
const ROOT_DEVICE: &str = "vda";

/// One node of the EC2 tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Node {
    Value(Vec<u8>),
    /// Served one item per line, written to JSON as an array.
    List(Vec<String>),
    Directory(Directory),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Directory {
    entries: BTreeMap<&'static str, Node>,
    /// How the parent lists this directory instead of `<key>/`: EC2 lists
    /// public key 0 as `0=<keyname>`.
    listed_as: Option<String>,
}

impl Directory {
    fn insert(&mut self, key: &'static str, node: Node) {
        self.entries.insert(key, node);
    }

    fn insert_text(&mut self, key: &'static str, text: impl Into<String>) {
        self.insert(key, Node::Value(text.into().into_bytes()));
    }

    /// The directory's listing: sorted keys, sub-directories with a
    /// trailing `/` (or their own name), one per line.
    fn listing(&self) -> Vec<u8> {
        let lines: Vec<String> = self
            .entries
            .iter()
            .map(|(key, node)| match node {
                Node::Directory(Directory {
                    listed_as: Some(name),
                    ..
                }) => name.clone(),
                Node::Directory(_) => format!("{key}/"),
                Node::Value(_) | Node::List(_) => (*key).to_owned(),
            })
            .collect();
        lines.join("\n").into_bytes()
    }

    fn to_json(&self) -> Value {
        let mut object = Map::new();
        if let Some(name) = &self.listed_as {
            object.insert("_name".into(), Value::String(name.clone()));
        }
        for (key, node) in &self.entries {
            let value = match node {
                Node::Value(bytes) => Value::String(String::from_utf8_lossy(bytes).into_owned()),
                Node::List(items) => items.iter().cloned().map(Value::String).collect(),
                Node::Directory(directory) => directory.to_json(),
            };
            object.insert((*key).to_owned(), value);
        }
        Value::Object(object)
    }
}

impl Node {
    /// What a GET of this node answers.
    pub(crate) fn render(&self) -> Vec<u8> {
        match self {
            Node::Value(bytes) => bytes.clone(),
            Node::List(items) => items.join("\n").into_bytes(),
            Node::Directory(directory) => directory.listing(),
        }
    }

    /// The node at `path` below this one.
    pub(crate) fn find(&self, path: &[&str]) -> Option<&Node> {
        path.iter().try_fold(self, |node, key| match node {
            Node::Directory(directory) => directory.entries.get(*key),
            Node::Value(_) | Node::List(_) => None,
        })
    }
}

/// The tree of `version`: `meta-data/` and, if there is any, `user-data`.
pub(crate) fn tree(metadata: &InstanceMetadata, version: &str) -> Node {
    let mut top = Directory::default();
    top.insert("meta-data", Node::Directory(meta_data(metadata, version)));
    if let Some(user_data) = &metadata.user_data {
        top.insert("user-data", Node::Value(user_data.clone()));
    }
    Node::Directory(top)
}

/// `meta-data.json` of the config drive: the `meta-data` tree as JSON.
pub(crate) fn meta_data_json(metadata: &InstanceMetadata, version: &str) -> Value {
    meta_data(metadata, version).to_json()
}

fn meta_data(metadata: &InstanceMetadata, version: &str) -> Directory {
    let mut meta = Directory::default();
    meta.insert_text("ami-id", ami_id(&metadata.image_id));
    meta.insert_text("ami-launch-index", metadata.launch_index.to_string());
    // Nova has never had a manifest to point at and says so.
    meta.insert_text("ami-manifest-path", "FIXME");
    meta.insert_text("instance-id", instance_id(metadata.number));
    meta.insert_text("hostname", metadata.hostname.as_str());
    if let Some(address) = first_ipv4(metadata.nics.iter().flat_map(|nic| &nic.fixed_ips)) {
        meta.insert_text("local-ipv4", address.to_string());
    }
    meta.insert_text("reservation-id", metadata.reservation_id.as_str());
    meta.insert(
        "security-groups",
        Node::List(metadata.security_groups.clone()),
    );
    if let Some(key) = &metadata.key {
        let mut key_line = key.data.clone();
        if !key_line.ends_with('\n') {
            key_line.push('\n');
        }
        let mut first_key = Directory {
            listed_as: Some(format!("0={}", key.name)),
            ..Directory::default()
        };
        first_key.insert_text("openssh-key", key_line);
        let mut keys = Directory::default();
        keys.insert("0", Node::Directory(first_key));
        meta.insert("public-keys", Node::Directory(keys));
    }
    if at_least(version, "2007-01-19") {
        meta.insert_text("local-hostname", metadata.hostname.as_str());
        meta.insert_text("public-hostname", metadata.hostname.as_str());
        if let Some(address) = first_ipv4(metadata.nics.iter().flat_map(|nic| &nic.floating_ips)) {
            meta.insert_text("public-ipv4", address.to_string());
        }
    }
    if at_least(version, "2007-08-29") {
        meta.insert_text("instance-type", metadata.flavor_name.as_str());
    }
    if at_least(version, "2007-12-15") {
        let mut mapping = Directory::default();
        mapping.insert_text("ami", ROOT_DEVICE);
        mapping.insert_text("root", format!("/dev/{ROOT_DEVICE}"));
        meta.insert("block-device-mapping", Node::Directory(mapping));
    }
    if at_least(version, "2008-02-01") {
        let mut placement = Directory::default();
        placement.insert_text("availability-zone", metadata.availability_zone.as_str());
        meta.insert("placement", Node::Directory(placement));
    }
    if at_least(version, "2008-09-01") {
        meta.insert_text("instance-action", "none");
    }
    meta
}

fn first_ipv4<'a>(addresses: impl IntoIterator<Item = &'a IpAddr>) -> Option<&'a IpAddr> {
    addresses.into_iter().find(|address| address.is_ipv4())
}

/// EC2's instance id: `i-` and Nova's integer id in eight hex digits.
pub(crate) fn instance_id(number: i64) -> String {
    format!("i-{number:08x}")
}

/// EC2's image id. Nova numbers images in a table of its own; without
/// one, the number is a hash of the image's UUID (FNV-1a, fixed across
/// builds and releases), so an image keeps its `ami-` id everywhere. A
/// server booted from a volume has no image and gets `ami-00000000`.
pub(crate) fn ami_id(image_id: &str) -> String {
    const FNV_OFFSET_BASIS: u32 = 0x811c_9dc5;
    const FNV_PRIME: u32 = 0x0100_0193;
    let number = if image_id.is_empty() {
        0
    } else {
        image_id.bytes().fold(FNV_OFFSET_BASIS, |hash, byte| {
            (hash ^ u32::from(byte)).wrapping_mul(FNV_PRIME)
        })
    };
    format!("ami-{number:08x}")
}
