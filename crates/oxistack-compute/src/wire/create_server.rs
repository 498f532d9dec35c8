//! `POST /servers` as Nova's schema reads it at each microversion: which
//! fields exist, their forms and bounds. What the request names is checked
//! against what exists later, by the service.

use std::collections::BTreeMap;
use std::net::IpAddr;

use oxistack_http::ApiError;
use oxistack_http::microversion::Microversion;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::block_devices::{BootSource, boot_source};
use super::{invalid, present};
use crate::model::{AVAILABILITY_ZONE, is_uuid};
use crate::validate::{
    access_address, decode_user_data, parse_boolean, since, validate_description,
    validate_hostname, validate_metadata, validate_name, validate_tags,
};
use crate::versions::{
    DESCRIPTION, HOSTNAME, NETWORK_TAGS, NETWORK_TAGS_RESTORED, NETWORKS_REQUIRED,
    PERSONALITY_REMOVED, REQUESTED_HOST, TAGS_AT_CREATE,
};

/// Nova's limit on user data, in base64 characters.
const MAX_USER_DATA: usize = 65_535;

/// What a create request asks for, checked for form but not yet against
/// what exists.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateRequest {
    pub name: String,
    pub description: Option<String>,
    pub hostname: Option<String>,
    /// The image booted from its local copy, and the volumes mapped.
    pub boot: BootSource,
    pub flavor_id: String,
    pub networks: NetworkChoice,
    pub key_name: Option<String>,
    /// Names or ids, as given.
    pub security_groups: Vec<String>,
    pub user_data: Option<String>,
    pub config_drive: bool,
    pub metadata: BTreeMap<String, String>,
    pub availability_zone: Option<String>,
    pub min_count: u32,
    pub max_count: u32,
    pub return_reservation_id: bool,
    pub tags: Vec<String>,
    pub admin_pass: Option<String>,
    pub access_ipv4: String,
    pub access_ipv6: String,
    pub disk_config: String,
    pub scheduler_hints: Map<String, Value>,
    /// The host an administrator asked for (2.74, or `nova:host`).
    pub host: Option<String>,
}

/// How a request wants its servers connected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkChoice {
    /// Nothing said (before 2.37): the project's only network, if any.
    Unspecified,
    Auto,
    None,
    List(Vec<RequestedNetwork>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestedNetwork {
    Network {
        id: String,
        fixed_ip: Option<IpAddr>,
    },
    Port {
        id: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    name: Option<String>,
    #[serde(rename = "imageRef")]
    image_ref: Option<String>,
    #[serde(rename = "flavorRef")]
    flavor_ref: Option<Value>,
    networks: Option<Value>,
    key_name: Option<String>,
    security_groups: Option<Vec<RawGroup>>,
    user_data: Option<String>,
    config_drive: Option<Value>,
    metadata: Option<BTreeMap<String, String>>,
    availability_zone: Option<String>,
    min_count: Option<Value>,
    max_count: Option<Value>,
    return_reservation_id: Option<Value>,
    block_device_mapping_v2: Option<Vec<Map<String, Value>>>,
    #[serde(default, deserialize_with = "present")]
    description: Option<Option<String>>,
    hostname: Option<String>,
    tags: Option<Vec<String>>,
    #[serde(rename = "adminPass")]
    admin_pass: Option<String>,
    #[serde(rename = "accessIPv4")]
    access_ipv4: Option<String>,
    #[serde(rename = "accessIPv6")]
    access_ipv6: Option<String>,
    #[serde(rename = "OS-DCF:diskConfig")]
    disk_config: Option<String>,
    personality: Option<Vec<Value>>,
    host: Option<String>,
    hypervisor_hostname: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    name: String,
}

/// A positive count given as a number or a numeric string.
fn parse_count(field: &str, value: Option<&Value>) -> Result<Option<u32>, ApiError> {
    let number = match value {
        None => return Ok(None),
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse().ok()
        }
        Some(other) => return Err(invalid(field, format!("{other} is not a positive integer"))),
    };
    match number {
        Some(n) if n >= 1 && n <= u32::MAX.into() => Ok(Some(n as u32)),
        _ => Err(invalid(field, "must be a positive integer")),
    }
}

/// The id at the end of a reference that may be a URL (`imageRef` and
/// `flavorRef` may be links).
fn reference_id(reference: &str) -> &str {
    reference.rsplit('/').next().unwrap_or(reference)
}

impl CreateRequest {
    /// Reads a create body (`{"server": {...}, "OS-SCH-HNT:scheduler_hints": {...}}`)
    /// as `version` defines it.
    pub fn parse(mut body: Value, version: Microversion) -> Result<CreateRequest, ApiError> {
        let Some(top) = body.as_object_mut() else {
            return Err(ApiError::bad_request(
                "The request body must be a JSON object with a 'server' member.",
            ));
        };
        let mut hints = Map::new();
        for key in ["OS-SCH-HNT:scheduler_hints", "os:scheduler_hints"] {
            match top.remove(key) {
                None => {}
                Some(Value::Object(given)) => hints.extend(given),
                Some(_) => return Err(invalid(key, "must be an object")),
            }
        }
        if let Some(other) = top.keys().find(|k| *k != "server") {
            return Err(ApiError::bad_request(format!(
                "Invalid input: unexpected member '{other}' in the request body."
            )));
        }
        let raw: RawServer = oxistack_http::envelope(body, "server")?;
        let name = raw
            .name
            .ok_or_else(|| invalid("server.name", "is required"))?;
        validate_name("server.name", &name)?;

        since(
            "server.description",
            raw.description.is_some(),
            version,
            DESCRIPTION,
        )?;
        let description = raw.description.flatten();
        validate_description("server.description", description.as_deref())?;
        since("server.hostname", raw.hostname.is_some(), version, HOSTNAME)?;
        if let Some(hostname) = &raw.hostname {
            validate_hostname("server.hostname", hostname, version)?;
        }
        since("server.tags", raw.tags.is_some(), version, TAGS_AT_CREATE)?;
        let tags = raw.tags.unwrap_or_default();
        validate_tags("server.tags", &tags)?;
        let requested_host = raw.host.is_some() || raw.hypervisor_hostname.is_some();
        since("server.host", requested_host, version, REQUESTED_HOST)?;
        if version.at_least(PERSONALITY_REMOVED) && raw.personality.is_some() {
            return Err(invalid(
                "server.personality",
                "was removed in microversion 2.57; use user_data",
            ));
        }
        if raw.personality.is_some_and(|files| !files.is_empty()) {
            return Err(invalid(
                "server.personality",
                "personality files are not supported by this cloud; use user_data",
            ));
        }

        let flavor_id = match raw.flavor_ref {
            Some(Value::String(s)) if !s.is_empty() => reference_id(&s).to_owned(),
            Some(Value::Number(n)) => n.to_string(),
            Some(other) => {
                return Err(invalid(
                    "server.flavorRef",
                    format!("{other} is not a flavor reference"),
                ));
            }
            None => return Err(invalid("server.flavorRef", "is required")),
        };
        let boot = boot_source(
            raw.image_ref.as_deref(),
            raw.block_device_mapping_v2.as_deref(),
        )?;
        let networks = parse_networks(raw.networks, version)?;

        let min_count = parse_count("server.min_count", raw.min_count.as_ref())?.unwrap_or(1);
        let max_count =
            parse_count("server.max_count", raw.max_count.as_ref())?.unwrap_or(min_count);
        if min_count > max_count {
            return Err(invalid("server.min_count", "must be <= max_count"));
        }
        if max_count > 1 {
            if let NetworkChoice::List(list) = &networks {
                if list
                    .iter()
                    .any(|n| matches!(n, RequestedNetwork::Port { .. }))
                {
                    return Err(ApiError::bad_request(
                        "Unable to launch multiple instances with a single configured port ID. Please launch your instance one by one with different ports.",
                    ));
                }
                if list.iter().any(|n| {
                    matches!(
                        n,
                        RequestedNetwork::Network {
                            fixed_ip: Some(_),
                            ..
                        }
                    )
                }) {
                    return Err(ApiError::bad_request(
                        "Unable to launch multiple instances with a single fixed IP address.",
                    ));
                }
            }
            if raw.hostname.is_some() {
                return Err(invalid(
                    "server.hostname",
                    "cannot be given when creating several servers",
                ));
            }
        }

        if let Some(user_data) = &raw.user_data {
            if user_data.len() > MAX_USER_DATA {
                return Err(invalid(
                    "server.user_data",
                    format!("is longer than {MAX_USER_DATA} characters"),
                ));
            }
            decode_user_data(user_data)?;
        }
        let metadata = raw.metadata.unwrap_or_default();
        validate_metadata("server.metadata", &metadata)?;
        let mut security_groups: Vec<String> = Vec::new();
        for group in raw.security_groups.unwrap_or_default() {
            if group.name.is_empty() {
                return Err(invalid("server.security_groups", "a group name is empty"));
            }
            if !security_groups.contains(&group.name) {
                security_groups.push(group.name);
            }
        }
        if let Some(key_name) = &raw.key_name {
            validate_name("server.key_name", key_name)?;
        }
        let (availability_zone, zone_host) = match raw.availability_zone {
            None => (None, None),
            Some(zone) => parse_zone(&zone)?,
        };
        let disk_config = match raw.disk_config.as_deref() {
            None | Some("MANUAL") => "MANUAL".to_owned(),
            Some("AUTO") => "AUTO".to_owned(),
            Some(other) => {
                return Err(invalid(
                    "server.OS-DCF:diskConfig",
                    format!("'{other}' is not AUTO or MANUAL"),
                ));
            }
        };
        let access_ipv4 = access_address(
            "server.accessIPv4",
            raw.access_ipv4.as_deref().unwrap_or_default(),
            true,
        )?;
        let access_ipv6 = access_address(
            "server.accessIPv6",
            raw.access_ipv6.as_deref().unwrap_or_default(),
            false,
        )?;
        if let Some(group) = hints.get("group")
            && !group.as_str().is_some_and(is_uuid)
        {
            return Err(invalid(
                "OS-SCH-HNT:scheduler_hints.group",
                format!("{group} is not a server group UUID"),
            ));
        }
        Ok(CreateRequest {
            name,
            description,
            hostname: raw.hostname,
            boot,
            flavor_id,
            networks,
            key_name: raw.key_name,
            security_groups,
            user_data: raw.user_data,
            config_drive: match &raw.config_drive {
                None => false,
                Some(Value::String(s)) if s.is_empty() => false,
                Some(value) => parse_boolean("server.config_drive", value)?,
            },
            metadata,
            availability_zone,
            min_count,
            max_count,
            return_reservation_id: match &raw.return_reservation_id {
                None => false,
                Some(value) => parse_boolean("server.return_reservation_id", value)?,
            },
            tags,
            admin_pass: raw.admin_pass,
            access_ipv4,
            access_ipv6,
            disk_config,
            scheduler_hints: hints,
            host: raw.host.or(raw.hypervisor_hostname).or(zone_host),
        })
    }
}

/// `nova`, or `nova:host[:node]` (an administrator's way to name a host).
fn parse_zone(zone: &str) -> Result<(Option<String>, Option<String>), ApiError> {
    let mut parts = zone.splitn(3, ':');
    let name = parts.next().unwrap_or_default();
    if name != AVAILABILITY_ZONE {
        return Err(ApiError::bad_request(format!(
            "The requested availability zone is not available: '{zone}'; this cloud has one zone, '{AVAILABILITY_ZONE}'."
        )));
    }
    let host = parts.next().filter(|h| !h.is_empty()).map(str::to_owned);
    Ok((Some(name.to_owned()), host))
}

fn parse_networks(
    networks: Option<Value>,
    version: Microversion,
) -> Result<NetworkChoice, ApiError> {
    let field = "server.networks";
    let required = version.at_least(NETWORKS_REQUIRED);
    let list = match networks {
        None if required => {
            return Err(invalid(
                field,
                "is required from microversion 2.37: give 'auto', 'none' or a list of networks",
            ));
        }
        None => return Ok(NetworkChoice::Unspecified),
        Some(Value::String(mode)) if required => {
            return match mode.as_str() {
                "auto" => Ok(NetworkChoice::Auto),
                "none" => Ok(NetworkChoice::None),
                _ => Err(invalid(
                    field,
                    format!("'{mode}' is not 'auto', 'none' or a list"),
                )),
            };
        }
        Some(Value::Array(list)) => list,
        Some(other) => return Err(invalid(field, format!("{other} is not a list of networks"))),
    };
    let tags_allowed = (version.at_least(NETWORK_TAGS) && !version.at_least(NETWORKS_REQUIRED))
        || version.at_least(NETWORK_TAGS_RESTORED);
    let mut requested = Vec::with_capacity(list.len());
    for (index, item) in list.into_iter().enumerate() {
        let field = format!("{field}[{index}]");
        let Value::Object(item) = item else {
            return Err(invalid(&field, "must be an object"));
        };
        let text = |key: &str| -> Result<Option<String>, ApiError> {
            match item.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(other) => Err(invalid(
                    &format!("{field}.{key}"),
                    format!("{other} is not a string"),
                )),
            }
        };
        let known = |key: &str| {
            matches!(key, "uuid" | "port" | "fixed_ip") || (tags_allowed && key == "tag")
        };
        if let Some(key) = item.keys().find(|k| !known(k)) {
            return Err(invalid(
                &format!("{field}.{key}"),
                "is not a known network attribute",
            ));
        }
        let uuid = text("uuid")?.filter(|u| !u.is_empty());
        let port = text("port")?.filter(|p| !p.is_empty());
        let fixed_ip = match text("fixed_ip")? {
            None => None,
            Some(ip) => Some(ip.parse::<IpAddr>().map_err(|_| {
                invalid(
                    &format!("{field}.fixed_ip"),
                    format!("Invalid fixed IP address ({ip})"),
                )
            })?),
        };
        for (key, value) in [("uuid", &uuid), ("port", &port)] {
            if let Some(value) = value
                && !is_uuid(value)
            {
                return Err(invalid(
                    &format!("{field}.{key}"),
                    format!("'{value}' is not a UUID"),
                ));
            }
        }
        requested.push(match (uuid, port) {
            (_, Some(_)) if fixed_ip.is_some() => {
                return Err(invalid(
                    &field,
                    "give either a port or a fixed_ip, not both",
                ));
            }
            (_, Some(port)) => RequestedNetwork::Port { id: port },
            (Some(uuid), None) => RequestedNetwork::Network { id: uuid, fixed_ip },
            (None, None) => return Err(invalid(&field, "give a network 'uuid' or a 'port'")),
        });
    }
    Ok(NetworkChoice::List(requested))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn v(minor: u32) -> Microversion {
        Microversion::new(2, minor)
    }

    fn body(server: Value) -> Value {
        json!({ "server": server })
    }

    #[test]
    fn a_minimal_request_at_2_1_needs_no_networks() {
        let request = CreateRequest::parse(
            body(json!({"name": "vm", "imageRef": "http://x/images/1e3f8cd3-0be9-4b4d-bb8d-f4c1e69c1b4a", "flavorRef": 1})),
            v(1),
        )
        .unwrap();
        assert_eq!(
            request.boot.image_id,
            "1e3f8cd3-0be9-4b4d-bb8d-f4c1e69c1b4a"
        );
        assert_eq!(request.flavor_id, "1");
        assert_eq!(request.networks, NetworkChoice::Unspecified);
        assert_eq!((request.min_count, request.max_count), (1, 1));
    }

    #[test]
    fn networks_are_required_from_2_37() {
        let server = json!({"name": "vm", "imageRef": "1e3f8cd3-0be9-4b4d-bb8d-f4c1e69c1b4a", "flavorRef": "1"});
        let err = CreateRequest::parse(body(server.clone()), v(37)).unwrap_err();
        assert!(err.message.contains("server.networks"), "{}", err.message);
        let mut auto = server.clone();
        auto["networks"] = json!("auto");
        assert_eq!(
            CreateRequest::parse(body(auto), v(37)).unwrap().networks,
            NetworkChoice::Auto
        );
        let mut bad = server;
        bad["networks"] = json!([{"uuid": "not-a-uuid"}]);
        let err = CreateRequest::parse(body(bad), v(37)).unwrap_err();
        assert!(
            err.message.contains("server.networks[0].uuid"),
            "{}",
            err.message
        );
    }

    #[test]
    fn fields_newer_than_the_request_are_refused() {
        let server = json!({"name": "vm", "imageRef": "1e3f8cd3-0be9-4b4d-bb8d-f4c1e69c1b4a", "flavorRef": "1", "description": "d"});
        let err = CreateRequest::parse(body(server.clone()), v(18)).unwrap_err();
        assert!(err.message.contains("server.description"));
        assert!(CreateRequest::parse(body(server), v(19)).is_ok());
    }

    #[test]
    fn bad_input_names_the_field() {
        let cases = [
            (
                json!({"name": " vm", "imageRef": "1e3f8cd3-0be9-4b4d-bb8d-f4c1e69c1b4a", "flavorRef": "1"}),
                "server.name",
            ),
            (json!({"name": "vm", "flavorRef": "1"}), "server.imageRef"),
            (
                json!({"name": "vm", "imageRef": "1e3f8cd3-0be9-4b4d-bb8d-f4c1e69c1b4a"}),
                "server.flavorRef",
            ),
            (
                json!({"name": "vm", "imageRef": "1e3f8cd3-0be9-4b4d-bb8d-f4c1e69c1b4a", "flavorRef": "1", "user_data": "%%%"}),
                "server.user_data",
            ),
            (
                json!({"name": "vm", "imageRef": "1e3f8cd3-0be9-4b4d-bb8d-f4c1e69c1b4a", "flavorRef": "1", "min_count": 0}),
                "server.min_count",
            ),
            (
                json!({"name": "vm", "imageRef": "1e3f8cd3-0be9-4b4d-bb8d-f4c1e69c1b4a", "flavorRef": "1", "bogus": 1}),
                "server",
            ),
            (
                json!({"name": "vm", "imageRef": "1e3f8cd3-0be9-4b4d-bb8d-f4c1e69c1b4a", "flavorRef": "1", "metadata": {"a": 1}}),
                "server.metadata.a",
            ),
            (
                json!({"name": "vm", "imageRef": "1e3f8cd3-0be9-4b4d-bb8d-f4c1e69c1b4a", "flavorRef": "1", "availability_zone": "mars"}),
                "availability zone",
            ),
        ];
        for (server, field) in cases {
            let err = CreateRequest::parse(body(server.clone()), v(1)).unwrap_err();
            assert_eq!(err.status, 400, "{server}");
            assert!(err.message.contains(field), "{server}: {}", err.message);
        }
    }
}
