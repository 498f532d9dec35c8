//! What a guest learns about itself at first boot, as Nova publishes it:
//! the OpenStack documents (`openstack/latest/meta_data.json`,
//! `network_data.json`, `user_data`, ...) and the EC2-style tree
//! (`latest/meta-data/...`). The compute service describes an instance
//! once as an [`InstanceMetadata`]; the QEMU driver writes it to a config
//! drive and the metadata service serves it over HTTP, so both always say
//! the same thing.
//!
//! [`InstanceMetadata::config_drive_files`] gives the drive's files,
//! [`InstanceMetadata::serve`] answers one path of the metadata service,
//! and [`serve_http`] is that service on a listener.

mod ec2;
mod http;
mod openstack;

pub use http::{InstanceResolver, router, serve_http};

use std::collections::BTreeMap;
use std::net::IpAddr;

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};

/// Everything the metadata documents of one instance are made from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceMetadata {
    /// The server's UUID.
    pub uuid: String,
    /// Nova's integer id of the instance; EC2's `instance-id` is
    /// `i-` + its eight hex digits.
    pub number: i64,
    /// The server's display name.
    pub name: String,
    /// The guest's host name.
    pub hostname: String,
    pub project_id: String,
    pub availability_zone: String,
    /// Position among the servers of one multiple-create request.
    pub launch_index: u32,
    /// EC2's `reservation-id` (`r-...`), shared by one multiple create.
    pub reservation_id: String,
    /// EC2's `instance-type`.
    pub flavor_name: String,
    /// The image the instance booted from (EC2's `ami-id`).
    pub image_id: String,
    /// The key pair injected as `public_keys`, if one was named.
    pub key: Option<PublicKey>,
    /// The decoded user data, if any.
    pub user_data: Option<Vec<u8>>,
    /// The server's metadata key/value pairs (`meta`).
    pub properties: BTreeMap<String, String>,
    /// The admin password (`admin_pass`), known only while the server is
    /// first built and written only to a config drive, never served.
    pub admin_password: Option<String>,
    /// Names of the server's security groups (EC2's `security-groups`).
    pub security_groups: Vec<String>,
    /// The instance's NICs, in the order the guest sees them.
    pub nics: Vec<MetadataNic>,
    /// Resolvers for `network_data.json`'s `services`.
    pub dns_nameservers: Vec<IpAddr>,
    /// The volumes attached, for `meta_data.json`'s `devices` (where the
    /// Cinder CSI plugin looks for a disk by its serial).
    #[serde(default)]
    pub disks: Vec<MetadataDisk>,
}

/// A volume attached to the instance, as Nova's device metadata lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataDisk {
    /// The disk's serial: the volume id.
    pub serial: String,
    pub tags: Vec<String>,
}

/// One NIC as `network_data.json` describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataNic {
    pub port_id: String,
    pub mac_address: String,
    pub network_id: String,
    pub mtu: Option<u32>,
    pub fixed_ips: Vec<IpAddr>,
    /// Floating IPs associated with the port (EC2's `public-ipv4`).
    pub floating_ips: Vec<IpAddr>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicKey {
    pub name: String,
    /// The OpenSSH public key line.
    pub data: String,
}

/// Where the metadata service gets an instance's metadata: the compute
/// service, through an adapter in the binary.
pub trait MetadataSource: Send + Sync + 'static {
    /// The metadata of server `instance_id`, or `None` if there is no such
    /// server.
    fn instance_metadata<'a>(
        &'a self,
        instance_id: &'a str,
    ) -> BoxFuture<'a, Option<InstanceMetadata>>;
}

/// The body of one metadata path and how to label it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataResponse {
    pub content_type: ContentType,
    pub body: Vec<u8>,
}

/// The two media types Nova's metadata service answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentType {
    /// Listings, single values and user data.
    TextPlain,
    /// The `.json` documents.
    ApplicationJson,
}

impl ContentType {
    pub fn mime(self) -> &'static str {
        match self {
            ContentType::TextPlain => "text/plain; charset=utf-8",
            ContentType::ApplicationJson => "application/json",
        }
    }
}

impl MetadataResponse {
    fn text(body: Vec<u8>) -> MetadataResponse {
        MetadataResponse {
            content_type: ContentType::TextPlain,
            body,
        }
    }

    fn lines<'a>(lines: impl IntoIterator<Item = &'a str>) -> MetadataResponse {
        let lines: Vec<&str> = lines.into_iter().collect();
        MetadataResponse::text(lines.join("\n").into_bytes())
    }
}

/// What both version listings call the newest version; every version
/// path accepts it.
const LATEST: &str = "latest";

/// Whether `version` is [`LATEST`] or one of the `dated` versions.
fn is_version(dated: &[&str], version: &str) -> bool {
    version == LATEST || dated.contains(&version)
}

/// Whether `version` has what version `introduced` brought: [`LATEST`] is
/// the newest, and dated versions (ISO dates, with EC2's "1.0" before
/// them all) compare as strings.
fn at_least(version: &str, introduced: &str) -> bool {
    version == LATEST || version >= introduced
}

/// The OpenStack versions written to a config drive besides `latest`:
/// the newest one cloud-init looks for by name.
const CONFIG_DRIVE_OPENSTACK_VERSION: &str = "2018-08-27";
/// The EC2 version written to a config drive besides `latest`.
const CONFIG_DRIVE_EC2_VERSION: &str = "2009-04-04";

impl InstanceMetadata {
    /// The files of a Nova config drive, as paths relative to its root
    /// and their contents. Unlike the metadata service, the drive's
    /// `meta_data.json` carries `admin_pass`: the drive belongs to the
    /// instance alone.
    pub fn config_drive_files(&self) -> Vec<(String, Vec<u8>)> {
        let mut files = Vec::new();
        for version in [CONFIG_DRIVE_OPENSTACK_VERSION, LATEST] {
            for name in openstack::file_names(self, version) {
                if let Some(content) =
                    openstack::contents(self, name, openstack::Medium::ConfigDrive)
                {
                    files.push((format!("openstack/{version}/{name}"), content));
                }
            }
        }
        for version in [CONFIG_DRIVE_EC2_VERSION, LATEST] {
            let meta_data = ec2::meta_data_json(self, version).to_string().into_bytes();
            files.push((format!("ec2/{version}/meta-data.json"), meta_data));
            if let Some(user_data) = &self.user_data {
                files.push((format!("ec2/{version}/user-data"), user_data.clone()));
            }
        }
        files
    }

    /// Answers a GET of `path` on the metadata service as Nova does, or
    /// `None` for a path that does not exist (a 404). Trailing, doubled
    /// and `.` slashes do not matter, as Nova normalises paths first.
    /// Never includes the admin password.
    pub fn serve(&self, path: &str) -> Option<MetadataResponse> {
        match path_tokens(path).as_slice() {
            [] | ["ec2"] => Some(MetadataResponse::lines(
                ec2::VERSIONS.into_iter().chain([LATEST]),
            )),
            ["openstack"] => Some(MetadataResponse::lines(
                openstack::VERSIONS.into_iter().chain([LATEST]),
            )),
            ["openstack", version, rest @ ..] => self.serve_openstack(version, rest),
            ["ec2", version, rest @ ..] | [version, rest @ ..] => self.serve_ec2(version, rest),
        }
    }

    fn serve_openstack(&self, version: &str, rest: &[&str]) -> Option<MetadataResponse> {
        if !is_version(&openstack::VERSIONS, version) {
            return None;
        }
        match rest {
            [] => Some(MetadataResponse::lines(openstack::file_names(
                self, version,
            ))),
            [name] => {
                let body =
                    openstack::file(self, version, name, openstack::Medium::MetadataService)?;
                let content_type = if name.ends_with(".json") {
                    ContentType::ApplicationJson
                } else {
                    ContentType::TextPlain
                };
                Some(MetadataResponse { content_type, body })
            }
            _ => None,
        }
    }

    fn serve_ec2(&self, version: &str, rest: &[&str]) -> Option<MetadataResponse> {
        if !is_version(&ec2::VERSIONS, version) {
            return None;
        }
        let tree = ec2::tree(self, version);
        Some(MetadataResponse::text(tree.find(rest)?.render()))
    }
}

/// The components of `path` after POSIX normalisation, as Nova applies
/// it: empty and `.` components vanish and `..` climbs (never above the
/// root).
fn path_tokens(path: &str) -> Vec<&str> {
    let mut tokens = Vec::new();
    for component in path.split('/') {
        match component {
            "" | "." => {}
            ".." => {
                tokens.pop();
            }
            _ => tokens.push(component),
        }
    }
    tokens
}

#[cfg(test)]
pub(crate) mod tests {
    use serde_json::{Value, json};

    use super::*;

    pub(crate) fn fixture() -> InstanceMetadata {
        InstanceMetadata {
            uuid: "8f1c54a6-3e1f-4c55-9b1a-0d3c1f4b2a77".into(),
            number: 42,
            name: "web-1".into(),
            hostname: "web-1".into(),
            project_id: "5c0a8f2bd4e84cc1a1f0b0c6b4c0e1d2".into(),
            availability_zone: "nova".into(),
            launch_index: 1,
            reservation_id: "r-3fgh7kq2".into(),
            flavor_name: "m1.small".into(),
            image_id: "6b4f1a2e-9c3d-4e5f-8a7b-1c2d3e4f5a6b".into(),
            key: Some(PublicKey {
                name: "mykey".into(),
                data: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample me@host".into(),
            }),
            user_data: Some(b"#cloud-config\nhostname: web-1\n".to_vec()),
            properties: BTreeMap::from([("role".into(), "web".into())]),
            admin_password: Some("s3cret-pass".into()),
            security_groups: vec!["default".into(), "web".into()],
            nics: vec![
                MetadataNic {
                    port_id: "1a2b3c4d-5e6f-7081-92a3-b4c5d6e7f809".into(),
                    mac_address: "fa:16:3e:00:00:01".into(),
                    network_id: "net-uuid-1".into(),
                    mtu: Some(1450),
                    fixed_ips: vec!["fd00::5".parse().unwrap(), "10.0.0.5".parse().unwrap()],
                    floating_ips: vec!["203.0.113.7".parse().unwrap()],
                },
                MetadataNic {
                    port_id: "99887766-5544-3322-1100-ffeeddccbbaa".into(),
                    mac_address: "fa:16:3e:00:00:02".into(),
                    network_id: "net-uuid-2".into(),
                    mtu: None,
                    fixed_ips: vec!["10.1.0.9".parse().unwrap()],
                    floating_ips: vec![],
                },
            ],
            dns_nameservers: vec!["10.0.0.2".parse().unwrap(), "2001:db8::53".parse().unwrap()],
            disks: vec![MetadataDisk {
                serial: "0b4e2f5a-9c1d-4f3e-8a7b-6c5d4e3f2a1b".into(),
                tags: vec!["data".into()],
            }],
        }
    }

    fn text(metadata: &InstanceMetadata, path: &str) -> String {
        let response = metadata
            .serve(path)
            .unwrap_or_else(|| panic!("{path} should exist"));
        assert_eq!(response.content_type, ContentType::TextPlain, "{path}");
        String::from_utf8(response.body).unwrap()
    }

    fn json_at(metadata: &InstanceMetadata, path: &str) -> Value {
        let response = metadata
            .serve(path)
            .unwrap_or_else(|| panic!("{path} should exist"));
        assert_eq!(
            response.content_type,
            ContentType::ApplicationJson,
            "{path}"
        );
        serde_json::from_slice(&response.body).unwrap()
    }

    #[test]
    fn meta_data_json_has_novas_fields_and_no_password() {
        let document = json_at(&fixture(), "/openstack/latest/meta_data.json");
        assert_eq!(
            document,
            json!({
                "uuid": "8f1c54a6-3e1f-4c55-9b1a-0d3c1f4b2a77",
                "meta": {"role": "web"},
                "public_keys": {"mykey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample me@host"},
                "keys": [{
                    "name": "mykey",
                    "type": "ssh",
                    "data": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample me@host",
                }],
                "hostname": "web-1",
                "name": "web-1",
                "launch_index": 1,
                "availability_zone": "nova",
                "project_id": "5c0a8f2bd4e84cc1a1f0b0c6b4c0e1d2",
                "devices": [{"type": "disk", "bus": "virtio",
                             "serial": "0b4e2f5a-9c1d-4f3e-8a7b-6c5d4e3f2a1b", "tags": ["data"]}],
                "dedicated_cpus": [],
            })
        );
        // Dated versions serve the same document.
        assert_eq!(
            json_at(&fixture(), "/openstack/2018-08-27/meta_data.json"),
            document
        );
    }

    #[test]
    fn meta_data_json_leaves_out_missing_key_and_meta() {
        let mut bare = fixture();
        bare.key = None;
        bare.properties.clear();
        let document = json_at(&bare, "/openstack/latest/meta_data.json");
        for absent in ["public_keys", "keys", "meta", "admin_pass"] {
            assert!(document.get(absent).is_none(), "{absent} in {document}");
        }
    }

    #[test]
    fn network_data_json_describes_every_nic() {
        assert_eq!(
            json_at(&fixture(), "/openstack/latest/network_data.json"),
            json!({
                "links": [
                    {
                        "id": "tap1a2b3c4d-5e",
                        "vif_id": "1a2b3c4d-5e6f-7081-92a3-b4c5d6e7f809",
                        "type": "bridge",
                        "mtu": 1450,
                        "ethernet_mac_address": "fa:16:3e:00:00:01",
                    },
                    {
                        "id": "tap99887766-55",
                        "vif_id": "99887766-5544-3322-1100-ffeeddccbbaa",
                        "type": "bridge",
                        "mtu": null,
                        "ethernet_mac_address": "fa:16:3e:00:00:02",
                    },
                ],
                "networks": [
                    {"id": "network0", "type": "ipv4_dhcp", "link": "tap1a2b3c4d-5e", "network_id": "net-uuid-1"},
                    {"id": "network1", "type": "ipv4_dhcp", "link": "tap99887766-55", "network_id": "net-uuid-2"},
                ],
                "services": [
                    {"type": "dns", "address": "10.0.0.2"},
                    {"type": "dns", "address": "2001:db8::53"},
                ],
            })
        );
    }

    #[test]
    fn openstack_listings_and_files() {
        let metadata = fixture();
        for root in ["/openstack", "/openstack/", "//openstack//"] {
            let versions = text(&metadata, root);
            assert!(versions.starts_with("2012-08-10\n"), "{versions}");
            assert!(
                versions.ends_with("\n2018-08-27\n2020-10-14\nlatest"),
                "{versions}"
            );
        }
        let all_files =
            "meta_data.json\nuser_data\nvendor_data.json\nnetwork_data.json\nvendor_data2.json";
        assert_eq!(text(&metadata, "/openstack/latest/"), all_files);
        assert_eq!(text(&metadata, "/openstack/latest"), all_files);
        assert_eq!(text(&metadata, "/openstack/2018-08-27"), all_files);
        // Older versions list only the files they had.
        assert_eq!(
            text(&metadata, "/openstack/2013-10-17/"),
            "meta_data.json\nuser_data\nvendor_data.json"
        );
        assert!(
            metadata
                .serve("/openstack/2013-10-17/network_data.json")
                .is_none()
        );

        assert_eq!(
            text(&metadata, "/openstack/latest/user_data"),
            "#cloud-config\nhostname: web-1\n"
        );
        for vendor in ["vendor_data.json", "vendor_data2.json"] {
            assert_eq!(
                json_at(&metadata, &format!("/openstack/latest/{vendor}")),
                json!({})
            );
        }

        let mut without_user_data = fixture();
        without_user_data.user_data = None;
        assert!(
            without_user_data
                .serve("/openstack/latest/user_data")
                .is_none()
        );
        assert_eq!(
            text(&without_user_data, "/openstack/latest/"),
            "meta_data.json\nvendor_data.json\nnetwork_data.json\nvendor_data2.json"
        );
    }

    #[test]
    fn unknown_paths_are_not_found() {
        let metadata = fixture();
        for path in [
            "/openstack/1999-01-01/meta_data.json",
            "/openstack/latest/nothing.json",
            "/openstack/latest/meta_data.json/deeper",
            "/openstack/latest/password",
            "/2010-01-01/meta-data/",
            "/latest/meta-data/no-such-key",
            "/latest/meta-data/hostname/deeper",
            "/latest/meta-data/public-keys/1/",
            "/favicon.ico",
        ] {
            assert_eq!(metadata.serve(path), None, "{path}");
        }
        let mut without_user_data = fixture();
        without_user_data.user_data = None;
        assert!(without_user_data.serve("/latest/user-data").is_none());
    }

    #[test]
    fn ec2_versions_and_tree() {
        let metadata = fixture();
        let versions = text(&metadata, "/");
        assert!(versions.starts_with("1.0\n2007-01-19\n"), "{versions}");
        assert!(versions.ends_with("\n2009-04-04\nlatest"), "{versions}");
        assert_eq!(text(&metadata, ""), versions);

        assert_eq!(text(&metadata, "/latest"), "meta-data/\nuser-data");
        let listing = "ami-id\nami-launch-index\nami-manifest-path\nblock-device-mapping/\n\
                       hostname\ninstance-action\ninstance-id\ninstance-type\nlocal-hostname\n\
                       local-ipv4\nplacement/\npublic-hostname\npublic-ipv4\npublic-keys/\n\
                       reservation-id\nsecurity-groups";
        assert_eq!(text(&metadata, "/latest/meta-data/"), listing);
        assert_eq!(text(&metadata, "/latest/meta-data"), listing);
        assert_eq!(text(&metadata, "/2009-04-04/meta-data/"), listing);
        assert_eq!(text(&metadata, "/ec2/latest/meta-data/"), listing);
        // The oldest version has only the original keys.
        assert_eq!(
            text(&metadata, "/1.0/meta-data/"),
            "ami-id\nami-launch-index\nami-manifest-path\nhostname\ninstance-id\n\
             local-ipv4\npublic-keys/\nreservation-id\nsecurity-groups"
        );

        let value = |key: &str| text(&metadata, &format!("/latest/meta-data/{key}"));
        assert_eq!(value("hostname"), "web-1");
        assert_eq!(value("local-hostname"), "web-1");
        assert_eq!(value("public-hostname"), "web-1");
        assert_eq!(value("instance-id"), "i-0000002a");
        assert_eq!(value("local-ipv4"), "10.0.0.5");
        assert_eq!(value("public-ipv4"), "203.0.113.7");
        assert_eq!(value("ami-id"), ec2::ami_id(&metadata.image_id));
        assert_eq!(value("ami-launch-index"), "1");
        assert_eq!(value("instance-type"), "m1.small");
        assert_eq!(value("reservation-id"), "r-3fgh7kq2");
        assert_eq!(value("security-groups"), "default\nweb");
        assert_eq!(value("instance-action"), "none");
        assert_eq!(value("placement/"), "availability-zone");
        assert_eq!(value("placement/availability-zone"), "nova");
        assert_eq!(value("block-device-mapping/"), "ami\nroot");
        assert_eq!(value("block-device-mapping/root"), "/dev/vda");
        assert_eq!(value("public-keys/"), "0=mykey");
        assert_eq!(value("public-keys/0/"), "openssh-key");
        assert_eq!(
            value("public-keys/0/openssh-key"),
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample me@host\n"
        );
        assert_eq!(
            text(&metadata, "/latest/user-data"),
            "#cloud-config\nhostname: web-1\n"
        );
    }

    #[test]
    fn ec2_leaves_out_what_the_instance_lacks() {
        let mut bare = fixture();
        bare.key = None;
        bare.user_data = None;
        for nic in &mut bare.nics {
            nic.floating_ips.clear();
        }
        let listing = text(&bare, "/latest/meta-data/");
        assert!(!listing.contains("public-ipv4"), "{listing}");
        assert!(!listing.contains("public-keys"), "{listing}");
        assert_eq!(text(&bare, "/latest"), "meta-data/");
        assert!(bare.serve("/latest/meta-data/public-keys/").is_none());
    }

    #[test]
    fn ami_ids_are_stable_and_distinct() {
        let id = ec2::ami_id("6b4f1a2e-9c3d-4e5f-8a7b-1c2d3e4f5a6b");
        assert_eq!(id, ec2::ami_id("6b4f1a2e-9c3d-4e5f-8a7b-1c2d3e4f5a6b"));
        assert_ne!(id, ec2::ami_id("6b4f1a2e-9c3d-4e5f-8a7b-1c2d3e4f5a6c"));
        assert_eq!(id.len(), "ami-".len() + 8, "{id}");
        // FNV-1a of "a" is a published test vector.
        assert_eq!(ec2::ami_id("a"), "ami-e40c292c");
        assert_eq!(ec2::ami_id(""), "ami-00000000");
    }

    #[test]
    fn config_drive_holds_every_file_and_the_password() {
        let metadata = fixture();
        let files: BTreeMap<String, Vec<u8>> = metadata.config_drive_files().into_iter().collect();
        let mut expected: Vec<String> = Vec::new();
        for version in ["latest", "2018-08-27"] {
            for name in [
                "meta_data.json",
                "network_data.json",
                "vendor_data.json",
                "vendor_data2.json",
                "user_data",
            ] {
                expected.push(format!("openstack/{version}/{name}"));
            }
        }
        for version in ["latest", "2009-04-04"] {
            expected.push(format!("ec2/{version}/meta-data.json"));
            expected.push(format!("ec2/{version}/user-data"));
        }
        expected.sort();
        assert_eq!(files.keys().cloned().collect::<Vec<_>>(), expected);

        let meta_data: Value =
            serde_json::from_slice(&files["openstack/latest/meta_data.json"]).unwrap();
        assert_eq!(meta_data["admin_pass"], "s3cret-pass");
        assert_eq!(meta_data["uuid"], "8f1c54a6-3e1f-4c55-9b1a-0d3c1f4b2a77");
        assert_eq!(
            files["openstack/2018-08-27/meta_data.json"],
            files["openstack/latest/meta_data.json"]
        );
        let network_data: Value =
            serde_json::from_slice(&files["openstack/latest/network_data.json"]).unwrap();
        assert_eq!(
            network_data,
            json_at(&metadata, "/openstack/latest/network_data.json")
        );
        assert_eq!(
            files["openstack/latest/user_data"],
            b"#cloud-config\nhostname: web-1\n"
        );
        assert_eq!(files["openstack/latest/vendor_data.json"], b"{}");

        let ec2: Value = serde_json::from_slice(&files["ec2/latest/meta-data.json"]).unwrap();
        assert_eq!(ec2["instance-id"], "i-0000002a");
        assert_eq!(ec2["security-groups"], json!(["default", "web"]));
        assert_eq!(ec2["placement"], json!({"availability-zone": "nova"}));
        assert_eq!(
            ec2["public-keys"],
            json!({"0": {
                "_name": "0=mykey",
                "openssh-key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample me@host\n",
            }})
        );
        assert_eq!(ec2["public-ipv4"], "203.0.113.7");

        let mut without_user_data = fixture();
        without_user_data.user_data = None;
        without_user_data.admin_password = None;
        let files = without_user_data.config_drive_files();
        assert!(
            files
                .iter()
                .all(|(path, _)| !path.ends_with("user_data") && !path.ends_with("user-data"))
        );
        let (_, meta_data) = files
            .iter()
            .find(|(path, _)| path == "openstack/latest/meta_data.json")
            .unwrap();
        let meta_data: Value = serde_json::from_slice(meta_data).unwrap();
        assert!(meta_data.get("admin_pass").is_none());
    }

    #[test]
    fn paths_are_normalised_like_posix_paths() {
        assert_eq!(path_tokens("/a//b/./c/"), ["a", "b", "c"]);
        assert_eq!(path_tokens("/../a/b/../c"), ["a", "c"]);
        assert!(path_tokens("/").is_empty());
    }
}
