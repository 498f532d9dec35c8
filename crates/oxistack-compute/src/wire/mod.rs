//! Nova's JSON documents, as serde structs. Fields that come and go with
//! microversions are `Option`s skipped when `None`; the views decide them.

pub mod block_devices;
pub mod create_server;
pub mod servers;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{Flavor, Keypair, ServerGroup, naive_time};
use crate::versions::{
    API_CLEANUP, FLAVOR_DESCRIPTION, FLAVOR_EXTRA_SPECS, GROUP_OWNERS, GROUP_POLICY, KEYPAIR_TYPE,
};
use oxistack_http::microversion::Microversion;

/// Nova's refusal of a field, for the request parsers' own checks.
pub fn invalid(field: &str, problem: impl std::fmt::Display) -> oxistack_http::ApiError {
    crate::validate::invalid(field, problem).into()
}

/// For `deserialize_with`: tells a field given as `null` (`Some(None)`)
/// from one not given at all (`None`), as `description` needs.
pub fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// For `deserialize_with`: keeps a field given as `null` as `Value::Null`
/// (serde would make it `None`, as if absent), so it can be refused.
pub fn given<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<serde_json::Value>, D::Error> {
    serde_json::Value::deserialize(d).map(Some)
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Link {
    pub rel: &'static str,
    pub href: String,
}

/// Where the API is, as the client reached it: links in documents use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Urls {
    /// The versioned root, e.g. `http://192.0.2.1/compute/v2.1`.
    pub api: String,
    /// The unversioned root bookmarks point into, e.g. `http://192.0.2.1/compute`.
    pub bookmark: String,
}

impl Urls {
    /// A resource's `self` and `bookmark` links.
    pub fn links(&self, collection: &str, id: &str) -> Vec<Link> {
        vec![
            Link {
                rel: "self",
                href: format!("{}/{collection}/{id}", self.api),
            },
            self.bookmark_link(collection, id),
        ]
    }

    pub fn bookmark_link(&self, collection: &str, id: &str) -> Link {
        Link {
            rel: "bookmark",
            href: format!("{}/{collection}/{id}", self.bookmark),
        }
    }

    /// A collection's `*_links` as Nova gives them: a `next` link when the
    /// page is full, marked by its last item.
    pub fn page_links<T>(
        &self,
        path: &str,
        query: &[(String, String)],
        page: &[T],
        limit: usize,
        marker: impl Fn(&T) -> &str,
    ) -> Option<Vec<Link>> {
        match page.last() {
            Some(last) if page.len() == limit => {
                Some(vec![self.next_link(path, query, marker(last))])
            }
            _ => None,
        }
    }

    /// The `next` link of a paginated collection: the request's own query
    /// with the marker replaced.
    fn next_link(&self, path: &str, query: &[(String, String)], marker: &str) -> Link {
        let pairs = query
            .iter()
            .filter(|(key, _)| key != "marker")
            .map(|(key, value)| (key.as_str(), value.as_str()))
            .chain([("marker", marker)]);
        Link {
            rel: "next",
            href: format!("{}/{path}?{}", self.api, oxistack_http::query_string(pairs)),
        }
    }
}

/// A flavor's `swap`: Nova shows no swap as `""` until 2.75.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum Swap {
    None(&'static str),
    MiB(u64),
}

impl Swap {
    pub fn new(swap: u64, version: Microversion) -> Swap {
        if swap == 0 && !version.at_least(API_CLEANUP) {
            Swap::None("")
        } else {
            Swap::MiB(swap)
        }
    }
}

/// A flavor in `GET /flavors`.
#[derive(Debug, Serialize)]
pub struct FlavorSummary<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub links: Vec<Link>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<Option<&'a str>>,
}

impl<'a> FlavorSummary<'a> {
    pub fn new(flavor: &'a Flavor, urls: &Urls, version: Microversion) -> Self {
        FlavorSummary {
            id: &flavor.id,
            name: &flavor.name,
            links: urls.links("flavors", &flavor.id),
            description: version
                .at_least(FLAVOR_DESCRIPTION)
                .then_some(flavor.description.as_deref()),
        }
    }
}

/// A flavor in full, as `GET /flavors/detail` and show answer it.
#[derive(Debug, Serialize)]
pub struct FlavorView<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub ram: u64,
    pub disk: u64,
    pub vcpus: u32,
    pub swap: Swap,
    #[serde(rename = "OS-FLV-EXT-DATA:ephemeral")]
    pub ephemeral: u64,
    #[serde(rename = "OS-FLV-DISABLED:disabled")]
    pub disabled: bool,
    #[serde(rename = "os-flavor-access:is_public")]
    pub is_public: bool,
    pub rxtx_factor: f64,
    pub links: Vec<Link>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<Option<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra_specs: Option<&'a BTreeMap<String, String>>,
}

impl<'a> FlavorView<'a> {
    /// `extra_specs` says whether the caller may read extra specs.
    pub fn new(flavor: &'a Flavor, urls: &Urls, version: Microversion, extra_specs: bool) -> Self {
        FlavorView {
            id: &flavor.id,
            name: &flavor.name,
            ram: flavor.ram,
            disk: flavor.disk,
            vcpus: flavor.vcpus,
            swap: Swap::new(flavor.swap, version),
            ephemeral: flavor.ephemeral,
            disabled: flavor.disabled,
            is_public: flavor.is_public,
            rxtx_factor: flavor.rxtx_factor,
            links: urls.links("flavors", &flavor.id),
            description: version
                .at_least(FLAVOR_DESCRIPTION)
                .then_some(flavor.description.as_deref()),
            extra_specs: (extra_specs && version.at_least(FLAVOR_EXTRA_SPECS))
                .then_some(&flavor.extra_specs),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct FlavorAccess<'a> {
    pub flavor_id: &'a str,
    pub tenant_id: &'a str,
}

/// A key pair in a list.
#[derive(Debug, Serialize)]
pub struct KeypairSummary<'a> {
    pub name: &'a str,
    pub public_key: &'a str,
    pub fingerprint: &'a str,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
}

impl<'a> KeypairSummary<'a> {
    pub fn new(keypair: &'a Keypair, version: Microversion) -> Self {
        KeypairSummary {
            name: &keypair.name,
            public_key: &keypair.public_key,
            fingerprint: &keypair.fingerprint,
            kind: key_type(version),
        }
    }
}

fn key_type(version: Microversion) -> Option<&'static str> {
    version
        .at_least(KEYPAIR_TYPE)
        .then_some(crate::store::keypairs::SSH)
}

/// A key pair as show answers it.
#[derive(Debug, Serialize)]
pub struct KeypairView<'a> {
    #[serde(flatten)]
    pub summary: KeypairSummary<'a>,
    pub user_id: &'a str,
    pub created_at: String,
    pub deleted: bool,
    pub deleted_at: Option<()>,
    pub updated_at: Option<()>,
    pub id: i64,
}

impl<'a> KeypairView<'a> {
    pub fn new(keypair: &'a Keypair, version: Microversion) -> Self {
        KeypairView {
            summary: KeypairSummary::new(keypair, version),
            user_id: &keypair.user_id,
            created_at: naive_time(&keypair.created_at),
            deleted: false,
            deleted_at: None,
            updated_at: None,
            id: keypair.number,
        }
    }
}

/// A key pair as create answers it, with the private key if generated.
#[derive(Debug, Serialize)]
pub struct CreatedKeypair<'a> {
    #[serde(flatten)]
    pub summary: KeypairSummary<'a>,
    pub user_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_key: Option<&'a str>,
}

/// A server group, in the shape of the requested microversion: `policies`
/// and `metadata` before 2.64, `policy` and `rules` from it.
#[derive(Debug, Serialize)]
pub struct ServerGroupView<'a> {
    pub id: &'a str,
    pub name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policies: Option<[&'static str; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rules: Option<BTreeMap<&'static str, u32>>,
    pub members: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<&'static str, &'static str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<&'a str>,
}

impl<'a> ServerGroupView<'a> {
    pub fn new(group: &'a ServerGroup, version: Microversion) -> Self {
        let single_policy = version.at_least(GROUP_POLICY);
        let owners = version.at_least(GROUP_OWNERS);
        ServerGroupView {
            id: &group.id,
            name: &group.name,
            policies: (!single_policy).then_some([group.policy.as_str()]),
            policy: single_policy.then_some(group.policy.as_str()),
            rules: single_policy.then(|| {
                group
                    .max_server_per_host
                    .map(|max| ("max_server_per_host", max))
                    .into_iter()
                    .collect()
            }),
            members: &group.members,
            metadata: (!single_policy).then(BTreeMap::new),
            project_id: owners.then_some(group.project_id.as_str()),
            user_id: owners.then_some(group.user_id.as_str()),
        }
    }
}

/// A port plugged into a server, as `os-interface` shows it.
#[derive(Debug, Serialize)]
pub struct InterfaceView<'a> {
    pub port_state: &'a str,
    pub fixed_ips: Vec<FixedIpView<'a>>,
    pub port_id: &'a str,
    pub net_id: &'a str,
    pub mac_addr: &'a str,
    /// Device tags are not kept: always `null` (from 2.70).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<Option<()>>,
}

#[derive(Debug, Serialize)]
pub struct FixedIpView<'a> {
    pub subnet_id: &'a str,
    pub ip_address: std::net::IpAddr,
}

impl<'a> InterfaceView<'a> {
    pub fn new(port: &'a crate::interfaces::PortSummary, version: Microversion) -> Self {
        InterfaceView {
            port_state: &port.status,
            fixed_ips: port
                .fixed_ips
                .iter()
                .map(|ip| FixedIpView {
                    subnet_id: &ip.subnet_id,
                    ip_address: ip.ip_address,
                })
                .collect(),
            port_id: &port.id,
            net_id: &port.network_id,
            mac_addr: &port.mac_address,
            tag: version
                .at_least(crate::versions::INTERFACE_TAGS)
                .then_some(None),
        }
    }
}

/// A server's security group as `GET /servers/{id}/os-security-groups`
/// shows it: Nova's own shape, with only the ingress rules.
#[derive(Debug, Serialize)]
pub struct SecurityGroupView<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub description: &'a str,
    pub tenant_id: &'a str,
    pub rules: Vec<SecurityGroupRuleView<'a>>,
}

#[derive(Debug, Serialize)]
pub struct SecurityGroupRuleView<'a> {
    pub id: &'a str,
    pub parent_group_id: &'a str,
    pub ip_protocol: Option<&'a str>,
    pub from_port: Option<i32>,
    pub to_port: Option<i32>,
    /// `{"cidr": ...}` for a rule by address, `{}` for one by group.
    pub ip_range: BTreeMap<&'static str, &'a str>,
    /// `{"name": ..., "tenant_id": ...}` for a rule by group, else `{}`.
    pub group: BTreeMap<&'static str, &'a str>,
}

impl<'a> SecurityGroupView<'a> {
    pub fn new(group: &'a crate::interfaces::SecurityGroupDetail) -> Self {
        SecurityGroupView {
            id: &group.id,
            name: &group.name,
            description: &group.description,
            tenant_id: &group.project_id,
            rules: group
                .rules
                .iter()
                .filter(|rule| rule.ingress)
                .map(|rule| SecurityGroupRuleView::new(&group.id, rule))
                .collect(),
        }
    }
}

impl<'a> SecurityGroupRuleView<'a> {
    /// A Neutron rule as Nova converts it: a protocol without ports is
    /// every port (1 to 65535 for TCP and UDP, -1 otherwise), and a rule
    /// with neither a prefix nor a group admits `0.0.0.0/0`.
    fn new(group_id: &'a str, rule: &'a crate::interfaces::SecurityGroupRuleDetail) -> Self {
        let (from_port, to_port) = match (&rule.protocol, rule.port_range_min, rule.port_range_max)
        {
            (Some(protocol), None, None) => match protocol.to_ascii_lowercase().as_str() {
                "tcp" | "udp" => (Some(1), Some(65535)),
                _ => (Some(-1), Some(-1)),
            },
            (_, min, max) => (min.map(i32::from), max.map(i32::from)),
        };
        let (ip_range, group) = match &rule.remote_group {
            Some(remote) => (
                BTreeMap::new(),
                BTreeMap::from([
                    ("name", remote.name.as_str()),
                    ("tenant_id", remote.project_id.as_str()),
                ]),
            ),
            None => (
                BTreeMap::from([(
                    "cidr",
                    rule.remote_ip_prefix.as_deref().unwrap_or("0.0.0.0/0"),
                )]),
                BTreeMap::new(),
            ),
        };
        SecurityGroupRuleView {
            id: &rule.id,
            parent_group_id: group_id,
            ip_protocol: rule.protocol.as_deref(),
            from_port,
            to_port,
            ip_range,
            group,
        }
    }
}

/// A volume attached to a server, as `os-volume_attachments` shows it.
#[derive(Debug, Serialize)]
pub struct VolumeAttachmentView<'a> {
    pub device: &'a str,
    /// The volume's id again, until 2.89 replaced it with the ids below.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<&'a str>,
    #[serde(rename = "serverId")]
    pub server_id: &'a str,
    #[serde(rename = "volumeId")]
    pub volume_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<Option<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delete_on_termination: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachment_id: Option<Option<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bdm_uuid: Option<&'a str>,
}

impl<'a> VolumeAttachmentView<'a> {
    pub fn new(
        server_id: &'a str,
        device: &'a crate::model::BlockDevice,
        version: Microversion,
    ) -> Self {
        use crate::versions::{ATTACHMENT_DELETE_ON_TERMINATION, ATTACHMENT_IDS, INTERFACE_TAGS};
        let volume_id = device.volume_id.as_deref().unwrap_or_default();
        let ids = version.at_least(ATTACHMENT_IDS);
        VolumeAttachmentView {
            device: &device.device,
            id: (!ids).then_some(volume_id),
            server_id,
            volume_id,
            tag: version
                .at_least(INTERFACE_TAGS)
                .then_some(device.tag.as_deref()),
            delete_on_termination: version
                .at_least(ATTACHMENT_DELETE_ON_TERMINATION)
                .then_some(device.delete_on_termination),
            attachment_id: ids.then_some(device.attachment_id.as_deref()),
            bdm_uuid: ids.then_some(device.id.as_str()),
        }
    }
}
