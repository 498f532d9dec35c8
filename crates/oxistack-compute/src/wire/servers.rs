//! The server document in each of its shapes: the list entry, the detailed
//! view of lists and show, the lean view updates answered before 2.75, and
//! create's answer.

use std::collections::BTreeMap;
use std::net::IpAddr;

use oxistack_http::microversion::Microversion;
use serde::Serialize;
use sha2::{Digest, Sha224};

use super::{Link, Urls};
use crate::interfaces::PortSummary;
use crate::model::{AVAILABILITY_ZONE, Server, VmState, naive_time, wire_time};
use crate::versions::{
    API_CLEANUP, DESCRIPTION, EMBEDDED_FLAVOR, EXTENDED_ATTRIBUTES, HOST_STATUS, HOSTNAME,
    IMAGE_PROPERTIES, LOCKED, LOCKED_REASON, PINNED_AVAILABILITY_ZONE, SCHEDULER_HINTS,
    SERVER_GROUPS_IN_SERVER, TAGS, TRUSTED_CERTIFICATES,
};

/// What decides a server document's shape besides the server itself.
pub struct ViewContext<'a> {
    pub version: Microversion,
    pub urls: &'a Urls,
    /// The caller may see where servers run (`OS-EXT-SRV-ATTR:*`,
    /// `host_status`).
    pub host_details: bool,
    /// The caller may read flavor extra specs (embedded flavor, 2.47).
    pub extra_specs: bool,
}

/// Which answer a server document is part of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `GET /servers/detail`.
    Detail,
    /// `GET /servers/{id}`: the detail plus its server groups (2.71).
    Show,
    /// `PUT /servers/{id}`: lean before 2.75, as show from then on.
    Update,
}

/// `GET /servers`: just enough to find each server.
#[derive(Debug, Serialize)]
pub struct ServerSummary<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub links: Vec<Link>,
}

impl<'a> ServerSummary<'a> {
    pub fn new(server: &'a Server, urls: &Urls) -> Self {
        ServerSummary {
            id: &server.id,
            name: &server.name,
            links: urls.links("servers", &server.id),
        }
    }
}

/// What `POST /servers` answers for the (first) server it created.
#[derive(Debug, Serialize)]
pub struct CreatedServer<'a> {
    pub id: &'a str,
    pub links: Vec<Link>,
    #[serde(rename = "OS-DCF:diskConfig")]
    pub disk_config: &'a str,
    pub security_groups: Vec<NameView<'a>>,
    #[serde(rename = "adminPass", skip_serializing_if = "Option::is_none")]
    pub admin_pass: Option<&'a str>,
}

impl<'a> CreatedServer<'a> {
    pub fn new(server: &'a Server, urls: &Urls, admin_pass: Option<&'a str>) -> Self {
        CreatedServer {
            id: &server.id,
            links: urls.links("servers", &server.id),
            disk_config: &server.disk_config,
            security_groups: requested_groups(server),
            admin_pass,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct NameView<'a> {
    pub name: &'a str,
}

/// The security groups a server asked for, `default` if none.
fn requested_groups(server: &Server) -> Vec<NameView<'_>> {
    if server.security_groups.is_empty() {
        vec![NameView { name: "default" }]
    } else {
        server
            .security_groups
            .iter()
            .map(|g| NameView { name: &g.name })
            .collect()
    }
}

#[derive(Debug, Serialize)]
pub struct ServerView<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub status: &'static str,
    pub tenant_id: &'a str,
    pub user_id: &'a str,
    pub metadata: &'a BTreeMap<String, String>,
    #[serde(rename = "hostId")]
    pub host_id: String,
    pub image: ImageShown<'a>,
    pub flavor: FlavorRef<'a>,
    pub created: String,
    pub updated: String,
    pub addresses: BTreeMap<&'a str, Vec<AddressView<'a>>>,
    #[serde(rename = "accessIPv4")]
    pub access_ipv4: &'a str,
    #[serde(rename = "accessIPv6")]
    pub access_ipv6: &'a str,
    pub links: Vec<Link>,
    #[serde(rename = "OS-DCF:diskConfig")]
    pub disk_config: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault: Option<FaultView<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locked: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locked_reason: Option<Option<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<Option<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trusted_image_certificates: Option<Option<()>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_groups: Option<Vec<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pinned_availability_zone: Option<Option<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduler_hints: Option<&'a serde_json::Map<String, serde_json::Value>>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub extended: Option<ExtendedView<'a>>,
}

/// The attributes of detailed views that lean ones leave out.
/// A volume in a server's `os-extended-volumes:volumes_attached`.
#[derive(Debug, Serialize)]
pub struct AttachedVolumeView<'a> {
    pub id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delete_on_termination: Option<bool>,
}

#[derive(Debug, Serialize)]
pub struct ExtendedView<'a> {
    pub key_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<NameView<'a>>,
    #[serde(rename = "OS-EXT-AZ:availability_zone")]
    pub availability_zone: &'static str,
    pub config_drive: &'static str,
    #[serde(rename = "OS-EXT-STS:task_state")]
    pub task_state: Option<&'static str>,
    #[serde(rename = "OS-EXT-STS:vm_state")]
    pub vm_state: &'static str,
    #[serde(rename = "OS-EXT-STS:power_state")]
    pub power_state: u8,
    #[serde(rename = "OS-SRV-USG:launched_at")]
    pub launched_at: Option<String>,
    #[serde(rename = "OS-SRV-USG:terminated_at")]
    pub terminated_at: Option<()>,
    #[serde(rename = "os-extended-volumes:volumes_attached")]
    pub volumes_attached: Vec<AttachedVolumeView<'a>>,
    #[serde(
        rename = "OS-EXT-SRV-ATTR:hostname",
        skip_serializing_if = "Option::is_none"
    )]
    pub hostname: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_status: Option<&'static str>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub host: Option<HostAttributes<'a>>,
}

/// Where a server runs: administrators only.
#[derive(Debug, Serialize)]
pub struct HostAttributes<'a> {
    #[serde(rename = "OS-EXT-SRV-ATTR:host")]
    pub host: Option<&'a str>,
    #[serde(rename = "OS-EXT-SRV-ATTR:hypervisor_hostname")]
    pub hypervisor_hostname: Option<&'a str>,
    #[serde(rename = "OS-EXT-SRV-ATTR:instance_name")]
    pub instance_name: String,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub more: Option<MoreHostAttributes<'a>>,
}

/// The attributes 2.3 added for administrators.
#[derive(Debug, Serialize)]
pub struct MoreHostAttributes<'a> {
    #[serde(rename = "OS-EXT-SRV-ATTR:reservation_id")]
    pub reservation_id: &'a str,
    #[serde(rename = "OS-EXT-SRV-ATTR:launch_index")]
    pub launch_index: u32,
    #[serde(rename = "OS-EXT-SRV-ATTR:kernel_id")]
    pub kernel_id: &'static str,
    #[serde(rename = "OS-EXT-SRV-ATTR:ramdisk_id")]
    pub ramdisk_id: &'static str,
    #[serde(rename = "OS-EXT-SRV-ATTR:root_device_name")]
    pub root_device_name: &'static str,
    #[serde(rename = "OS-EXT-SRV-ATTR:user_data")]
    pub user_data: Option<&'a str>,
}

#[derive(Debug, Serialize)]
pub struct FaultView<'a> {
    pub code: u16,
    pub message: &'a str,
    pub created: String,
}

/// A server's `image`: the image it boots, or `""` for a server that
/// boots from a volume, as Nova shows it.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum ImageShown<'a> {
    Image(ImageRef<'a>),
    BootedFromVolume(&'static str),
}

#[derive(Debug, Serialize)]
pub struct ImageRef<'a> {
    pub id: &'a str,
    pub links: [Link; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub properties: Option<&'a BTreeMap<String, String>>,
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum FlavorRef<'a> {
    /// Before 2.47: which flavor, to be looked up.
    Link { id: &'a str, links: [Link; 1] },
    /// From 2.47: the flavor as the server was built with it.
    Embedded {
        vcpus: u32,
        ram: u64,
        disk: u64,
        ephemeral: u64,
        swap: u64,
        original_name: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        extra_specs: Option<&'a BTreeMap<String, String>>,
    },
}

#[derive(Debug, Serialize)]
pub struct AddressView<'a> {
    pub version: u8,
    pub addr: IpAddr,
    #[serde(rename = "OS-EXT-IPS:type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    #[serde(
        rename = "OS-EXT-IPS-MAC:mac_addr",
        skip_serializing_if = "Option::is_none"
    )]
    pub mac_addr: Option<&'a str>,
}

/// Nova's `hostId`: the host hidden behind a hash salted with the project,
/// so a project can tell whether two of its servers share a host.
fn host_id(project_id: &str, host: Option<&str>) -> String {
    match host {
        Some(host) => {
            let digest = Sha224::digest(format!("{project_id}{host}").as_bytes());
            digest.iter().map(|b| format!("{b:02x}")).collect()
        }
        None => String::new(),
    }
}

/// `addresses`: every fixed and floating address of the server's ports,
/// keyed by network name. Lean views leave out the type and MAC.
pub fn addresses<'a>(
    ports: &'a [PortSummary],
    extended: bool,
) -> BTreeMap<&'a str, Vec<AddressView<'a>>> {
    let mut by_network: BTreeMap<&str, Vec<AddressView>> = BTreeMap::new();
    for port in ports {
        let entries = by_network.entry(&port.network_name).or_default();
        let fixed = port.fixed_ips.iter().map(|ip| (ip.ip_address, "fixed"));
        let floating = port.floating_ips.iter().map(|ip| (*ip, "floating"));
        for (addr, kind) in fixed.chain(floating) {
            entries.push(AddressView {
                version: if addr.is_ipv4() { 4 } else { 6 },
                addr,
                kind: extended.then_some(kind),
                mac_addr: extended.then_some(port.mac_address.as_str()),
            });
        }
    }
    by_network
}

/// The security groups shown: the ports' once the server has ports, the
/// requested ones while it is being built.
fn shown_groups<'a>(server: &'a Server, ports: &'a [PortSummary]) -> Vec<NameView<'a>> {
    if ports.is_empty() {
        return match server.vm_state {
            VmState::Building => requested_groups(server),
            _ => Vec::new(),
        };
    }
    let mut names: Vec<NameView> = Vec::new();
    for name in ports.iter().flat_map(|p| &p.security_groups) {
        if !names.iter().any(|n| n.name == name) {
            names.push(NameView { name });
        }
    }
    names
}

pub fn server_view<'a>(
    server: &'a Server,
    ports: &'a [PortSummary],
    context: &ViewContext<'_>,
    shape: Shape,
) -> ServerView<'a> {
    let version = context.version;
    let full = match shape {
        Shape::Detail | Shape::Show => true,
        Shape::Update => version.at_least(API_CLEANUP),
    };
    let status = server.status();
    let flavor = if version.at_least(EMBEDDED_FLAVOR) {
        FlavorRef::Embedded {
            vcpus: server.flavor.vcpus,
            ram: server.flavor.ram,
            disk: server.flavor.disk,
            ephemeral: server.flavor.ephemeral,
            swap: server.flavor.swap,
            original_name: &server.flavor.name,
            extra_specs: context.extra_specs.then_some(&server.flavor.extra_specs),
        }
    } else {
        FlavorRef::Link {
            id: &server.flavor.id,
            links: [context.urls.bookmark_link("flavors", &server.flavor.id)],
        }
    };
    ServerView {
        id: &server.id,
        name: &server.name,
        status,
        tenant_id: &server.project_id,
        user_id: &server.user_id,
        metadata: &server.metadata,
        host_id: host_id(&server.project_id, server.host.as_deref()),
        image: match server.image_id.as_str() {
            "" => ImageShown::BootedFromVolume(""),
            image_id => ImageShown::Image(ImageRef {
                id: image_id,
                links: [context.urls.bookmark_link("images", image_id)],
                properties: version
                    .at_least(IMAGE_PROPERTIES)
                    .then_some(&server.image_properties),
            }),
        },
        flavor,
        created: wire_time(&server.created_at),
        updated: wire_time(&server.updated_at),
        addresses: addresses(ports, full),
        access_ipv4: &server.access_ipv4,
        access_ipv6: &server.access_ipv6,
        links: context.urls.links("servers", &server.id),
        disk_config: &server.disk_config,
        progress: matches!(status, "ACTIVE" | "BUILD").then_some(0),
        fault: server
            .fault
            .as_ref()
            .filter(|_| status == "ERROR")
            .map(|fault| FaultView {
                code: fault.code,
                message: &fault.message,
                created: wire_time(&fault.created),
            }),
        locked: version
            .at_least(LOCKED)
            .then_some(server.locked_by.is_some()),
        locked_reason: version
            .at_least(LOCKED_REASON)
            .then_some(server.locked_reason.as_deref()),
        description: version
            .at_least(DESCRIPTION)
            .then_some(server.description.as_deref()),
        tags: version.at_least(TAGS).then_some(&server.tags),
        trusted_image_certificates: version.at_least(TRUSTED_CERTIFICATES).then_some(None),
        server_groups: (shape != Shape::Detail && version.at_least(SERVER_GROUPS_IN_SERVER))
            .then(|| server.server_group_id.as_deref().into_iter().collect()),
        pinned_availability_zone: version
            .at_least(PINNED_AVAILABILITY_ZONE)
            .then_some(server.availability_zone.as_deref()),
        scheduler_hints: version
            .at_least(SCHEDULER_HINTS)
            .then_some(&server.scheduler_hints),
        extended: full.then(|| extended_view(server, ports, context)),
    }
}

fn extended_view<'a>(
    server: &'a Server,
    ports: &'a [PortSummary],
    context: &ViewContext<'_>,
) -> ExtendedView<'a> {
    let version = context.version;
    let admin = context.host_details;
    let show_hostname =
        version.at_least(HOSTNAME) || (admin && version.at_least(EXTENDED_ATTRIBUTES));
    ExtendedView {
        key_name: server.key_name.as_deref(),
        security_groups: shown_groups(server, ports),
        availability_zone: AVAILABILITY_ZONE,
        config_drive: if server.config_drive { "True" } else { "" },
        task_state: server.task_state.map(|t| t.as_str()),
        vm_state: server.vm_state.as_str(),
        power_state: server.power_state.code(),
        launched_at: server.launched_at.as_ref().map(naive_time),
        terminated_at: None,
        volumes_attached: server
            .block_devices
            .iter()
            .filter_map(|d| {
                Some(AttachedVolumeView {
                    id: d.volume_id.as_deref()?,
                    delete_on_termination: version
                        .at_least(EXTENDED_ATTRIBUTES)
                        .then_some(d.delete_on_termination),
                })
            })
            .collect(),
        hostname: show_hostname.then_some(server.hostname.as_str()),
        host_status: (admin && version.at_least(HOST_STATUS)).then_some(if server.host.is_some() {
            "UP"
        } else {
            ""
        }),
        host: admin.then(|| HostAttributes {
            host: server.host.as_deref(),
            hypervisor_hostname: server.host.as_deref(),
            instance_name: server.instance_name(),
            more: version
                .at_least(EXTENDED_ATTRIBUTES)
                .then(|| MoreHostAttributes {
                    reservation_id: &server.reservation_id,
                    launch_index: server.launch_index,
                    kernel_id: "",
                    ramdisk_id: "",
                    root_device_name: "/dev/vda",
                    user_data: server.user_data.as_deref(),
                }),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_ids_hide_the_host_behind_the_project() {
        let a = host_id("project-a", Some("host"));
        assert_eq!(a.len(), 56);
        assert_ne!(a, host_id("project-b", Some("host")));
        assert_eq!(host_id("project-a", None), "");
    }
}
