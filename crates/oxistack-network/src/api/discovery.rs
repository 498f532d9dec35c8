//! What a client asks before using the API: the version, the resources,
//! the extensions (clients change behaviour on what is listed, so only
//! what is implemented is), and the availability zones.

use axum::Json;
use axum::extract::{OriginalUri, Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use oxistack_auth::Caller;
use oxistack_http::{ApiError, base_url};
use serde_json::{Value, json};

use super::Service;
use crate::kind::Kind;
use crate::wire::AVAILABILITY_ZONE;

/// The extensions this service implements: alias, name, description.
const EXTENSIONS: &[(&str, &str, &str)] = &[
    (
        "allowed-address-pairs",
        "Allowed Address Pairs",
        "Ports may send from further addresses and MACs.",
    ),
    (
        "availability_zone",
        "Availability Zone",
        "Availability zones, listed and shown on resources.",
    ),
    (
        "binding",
        "Port Binding",
        "Ports carry the host, VIF and vNIC type they are bound with.",
    ),
    (
        "external-net",
        "Neutron external network",
        "Networks marked router:external give routers gateways and floating IPs.",
    ),
    (
        "ext-gw-mode",
        "Neutron L3 Configurable external gateway mode",
        "A router's gateway can disable SNAT (enable_snat).",
    ),
    (
        "extraroute",
        "Neutron Extra Route",
        "Routers have static routes.",
    ),
    (
        "extraroute-atomic",
        "Atomically add/remove extra routes",
        "Static routes are added and removed without replacing the others.",
    ),
    (
        "filter-validation",
        "Filter parameters validation",
        "Unknown filter parameters are refused with 400.",
    ),
    (
        "ip-substring-filtering",
        "IP address substring filtering",
        "Ports can be filtered by part of an address (fixed_ips=ip_address_substr=...).",
    ),
    ("net-mtu", "Network MTU", "Networks show their MTU."),
    (
        "net-mtu-writable",
        "Network MTU (writable)",
        "A network's MTU can be chosen, up to what its segment carries.",
    ),
    (
        "network_availability_zone",
        "Network Availability Zone",
        "Networks show their availability zones.",
    ),
    (
        "pagination",
        "Pagination support",
        "Lists are paginated with limit and marker.",
    ),
    (
        "port-security",
        "Port Security",
        "Port security (filtering and anti-spoofing) can be disabled per network or port.",
    ),
    (
        "port-security-groups-filtering",
        "Port filtering on security groups",
        "Ports can be filtered by security group.",
    ),
    (
        "project-id",
        "project_id field enabled",
        "Resources show project_id next to tenant_id.",
    ),
    (
        "provider",
        "Provider Network",
        "Administrators choose a network's segment (flat or vxlan).",
    ),
    (
        "quota_details",
        "Quota details extension",
        "Quota usage is shown per resource.",
    ),
    (
        "quotas",
        "Quota management support",
        "Per-project limits on resources.",
    ),
    (
        "router",
        "Neutron L3 Router",
        "Routers connect subnets to each other and to external networks, with floating IPs.",
    ),
    (
        "router_availability_zone",
        "Router Availability Zone",
        "Routers show their availability zones.",
    ),
    (
        "security-group",
        "security-group",
        "Stateful security groups and their rules filter ports' traffic.",
    ),
    (
        "sorting",
        "Sorting support",
        "Lists are sorted with sort_key and sort_dir.",
    ),
    (
        "standard-attr-description",
        "standard-attr-description",
        "Resources have a description.",
    ),
    (
        "standard-attr-revisions",
        "Resource revision numbers",
        "Resources show a revision number that grows with every change.",
    ),
    (
        "standard-attr-tag",
        "Tag support for resources with standard attributes",
        "Resources have tags, set and filtered on.",
    ),
    (
        "standard-attr-timestamp",
        "Resource timestamps",
        "Resources show when they were created and last updated.",
    ),
    (
        "subnet-external-network",
        "Subnet belongs to an external network",
        "Subnets show whether their network is external (router:external); an external network's subnets are everybody's to see.",
    ),
];

/// When the extensions' interfaces last changed, as Neutron dates them.
const UPDATED: &str = "2026-01-01T00:00:00-00:00";

/// The path the service is mounted at (`/networking`): what the client
/// asked for, less this route's own part.
fn mount(uri: &OriginalUri, route: &str) -> String {
    let path = uri.path().trim_end_matches('/');
    path.strip_suffix(route).unwrap_or(path).to_owned()
}

/// `GET /`: the API versions, without a token.
pub async fn versions(headers: HeaderMap, uri: OriginalUri) -> Response {
    let href = format!("{}{}/v2.0/", base_url(&headers), mount(&uri, ""));
    Json(json!({
        "versions": [{"id": "v2.0", "status": "CURRENT", "links": [{"href": href, "rel": "self"}]}]
    }))
    .into_response()
}

/// `GET /v2.0`: the collections of the API.
pub async fn resources(headers: HeaderMap, uri: OriginalUri) -> Response {
    let base = format!("{}{}", base_url(&headers), mount(&uri, "/v2.0"));
    let resources: Vec<Value> = Kind::ALL
        .iter()
        .map(|kind| {
            json!({
                "name": kind.singular(),
                "collection": kind.plural(),
                "links": [{"href": format!("{base}/v2.0/{}", kind.path()), "rel": "self"}],
            })
        })
        .collect();
    Json(json!({ "resources": resources })).into_response()
}

fn extension_document(&(alias, name, description): &(&str, &str, &str)) -> Value {
    json!({"alias": alias, "name": name, "description": description, "updated": UPDATED, "links": []})
}

pub async fn extensions(
    State(service): Service,
    Caller(caller): Caller,
) -> Result<Response, ApiError> {
    service.may_read(&caller)?;
    let extensions: Vec<Value> = EXTENSIONS.iter().map(extension_document).collect();
    Ok(Json(json!({ "extensions": extensions })).into_response())
}

pub async fn extension(
    State(service): Service,
    Caller(caller): Caller,
    Path(alias): Path<String>,
) -> Result<Response, ApiError> {
    service.may_read(&caller)?;
    let extension = EXTENSIONS
        .iter()
        .find(|(known, _, _)| *known == alias)
        .ok_or_else(|| {
            ApiError::not_found(format!("Extension with alias {alias} does not exist"))
                .with_kind("ExtensionNotFound")
        })?;
    Ok(Json(json!({ "extension": extension_document(extension) })).into_response())
}

/// `GET /v2.0/availability_zones`: one zone, for networks and routers.
pub async fn availability_zones(
    State(service): Service,
    Caller(caller): Caller,
) -> Result<Response, ApiError> {
    service.may_read(&caller)?;
    let zones: Vec<Value> = ["network", "router"]
        .iter()
        .map(|resource| json!({"name": AVAILABILITY_ZONE, "resource": resource, "state": "available"}))
        .collect();
    Ok(Json(json!({ "availability_zones": zones })).into_response())
}
