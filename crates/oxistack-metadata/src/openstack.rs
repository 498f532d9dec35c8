//! The OpenStack side of the metadata: `openstack/<version>/...`, in the
//! shape Nova gives it, which is what cloud-init and other guest agents
//! parse.

use serde_json::{Map, Value, json};

use crate::{InstanceMetadata, MetadataNic, at_least};

/// The dated OpenStack metadata versions Nova publishes, oldest first.
/// Every version serves today's documents (newer keys are harmless to
/// older readers); the version only decides which files exist.
pub(crate) const VERSIONS: [&str; 9] = [
    "2012-08-10", // Folsom
    "2013-04-04", // Grizzly
    "2013-10-17", // Havana: vendor_data.json
    "2015-10-15", // Liberty: network_data.json
    "2016-06-30", // Newton
    "2016-10-06", // Newton: vendor_data2.json
    "2017-02-22", // Ocata
    "2018-08-27", // Rocky
    "2020-10-14", // Victoria
];

pub(crate) const META_DATA: &str = "meta_data.json";
pub(crate) const NETWORK_DATA: &str = "network_data.json";
pub(crate) const VENDOR_DATA: &str = "vendor_data.json";
pub(crate) const VENDOR_DATA2: &str = "vendor_data2.json";
pub(crate) const USER_DATA: &str = "user_data";

/// Where a document goes: the admin password may be written to the
/// instance's own config drive, but the metadata service never serves it
/// (anyone who can reach the instance's address could read it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Medium {
    ConfigDrive,
    MetadataService,
}

/// The files of `version`, in the order Nova lists them.
pub(crate) fn file_names(metadata: &InstanceMetadata, version: &str) -> Vec<&'static str> {
    let mut names = vec![META_DATA];
    if metadata.user_data.is_some() {
        names.push(USER_DATA);
    }
    if at_least(version, "2013-10-17") {
        names.push(VENDOR_DATA);
    }
    if at_least(version, "2015-10-15") {
        names.push(NETWORK_DATA);
    }
    if at_least(version, "2016-10-06") {
        names.push(VENDOR_DATA2);
    }
    names
}

/// The file `name` of `version`, if that version has it.
pub(crate) fn file(
    metadata: &InstanceMetadata,
    version: &str,
    name: &str,
    medium: Medium,
) -> Option<Vec<u8>> {
    if !file_names(metadata, version).contains(&name) {
        return None;
    }
    contents(metadata, name, medium)
}

/// The contents of file `name`, one of [`file_names`]' answers.
pub(crate) fn contents(metadata: &InstanceMetadata, name: &str, medium: Medium) -> Option<Vec<u8>> {
    match name {
        META_DATA => Some(meta_data(metadata, medium).to_string().into_bytes()),
        NETWORK_DATA => Some(network_data(metadata).to_string().into_bytes()),
        // No vendor data provider is configured: both are empty objects,
        // which is what Nova serves then.
        VENDOR_DATA | VENDOR_DATA2 => Some(b"{}".to_vec()),
        USER_DATA => metadata.user_data.clone(),
        _ => None,
    }
}

/// `meta_data.json`.
pub(crate) fn meta_data(metadata: &InstanceMetadata, medium: Medium) -> Value {
    let mut document = Map::new();
    document.insert("uuid".into(), json!(metadata.uuid));
    // Nova leaves out `meta` when the server has none.
    if !metadata.properties.is_empty() {
        document.insert("meta".into(), json!(metadata.properties));
    }
    if let Some(key) = &metadata.key {
        let by_name = Map::from_iter([(key.name.clone(), json!(key.data))]);
        document.insert("public_keys".into(), Value::Object(by_name));
        document.insert(
            "keys".into(),
            json!([{ "name": key.name, "type": "ssh", "data": key.data }]),
        );
    }
    document.insert("hostname".into(), json!(metadata.hostname));
    document.insert("name".into(), json!(metadata.name));
    document.insert("launch_index".into(), json!(metadata.launch_index));
    document.insert(
        "availability_zone".into(),
        json!(metadata.availability_zone),
    );
    document.insert("project_id".into(), json!(metadata.project_id));
    let devices: Vec<Value> = metadata
        .disks
        .iter()
        .map(|disk| {
            json!({"type": "disk", "bus": "virtio", "serial": disk.serial, "tags": disk.tags})
        })
        .collect();
    document.insert("devices".into(), Value::Array(devices));
    document.insert("dedicated_cpus".into(), json!([]));
    if medium == Medium::ConfigDrive
        && let Some(password) = &metadata.admin_password
    {
        document.insert("admin_pass".into(), json!(password));
    }
    Value::Object(document)
}

/// `network_data.json`: every NIC configured by DHCP, as Nova describes
/// Neutron ports whose subnets have DHCP enabled.
pub(crate) fn network_data(metadata: &InstanceMetadata) -> Value {
    let links: Vec<Value> = metadata
        .nics
        .iter()
        .map(|nic| {
            json!({
                "id": link_id(nic),
                "vif_id": nic.port_id,
                "type": "bridge",
                "mtu": nic.mtu,
                "ethernet_mac_address": nic.mac_address,
            })
        })
        .collect();
    let networks: Vec<Value> = metadata
        .nics
        .iter()
        .enumerate()
        .map(|(index, nic)| {
            json!({
                "id": format!("network{index}"),
                "type": "ipv4_dhcp",
                "link": link_id(nic),
                "network_id": nic.network_id,
            })
        })
        .collect();
    let services: Vec<Value> = metadata
        .dns_nameservers
        .iter()
        .map(|address| json!({ "type": "dns", "address": address.to_string() }))
        .collect();
    json!({ "links": links, "networks": networks, "services": services })
}

/// The host-side device name Nova gives a port: `tap` and the first 11
/// characters of its id.
fn link_id(nic: &MetadataNic) -> String {
    let prefix: String = nic.port_id.chars().take(11).collect();
    format!("tap{prefix}")
}
