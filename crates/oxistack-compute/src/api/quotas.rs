//! `/limits` and `/os-quota-sets`: quota limits and use in the keys each
//! microversion shows. Parsing and rendering; the service decides.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use oxistack_auth::Caller;
use oxistack_http::microversion::Microversion;
use oxistack_http::{ApiError, JsonBody};
use serde_json::{Map, Value, json};

use super::{QueryPairs, Service, envelope, invalid};
use crate::query::last;
use crate::quota::{Resource, UNLIMITED};
use crate::service::quotas::QuotaUpdate;
use crate::versions::{IMAGE_METADATA_LIMIT_REMOVED, NETWORK_PROXIES_REMOVED, PERSONALITY_REMOVED};

/// `GET /limits`: the absolute limits and what the project uses, in the
/// keys the requested microversion still has.
pub async fn limits(
    State(service): Service,
    Caller(caller): Caller,
    version: Microversion,
    Query(pairs): QueryPairs,
) -> Result<Response, ApiError> {
    let (limits, used) = service.limits(&caller, last(&pairs, "tenant_id")).await?;
    let used = |r: Resource| used.get(&r).copied().unwrap_or(0);
    let mut absolute = Map::new();
    let mut put = |key: &str, value: i64| {
        absolute.insert(key.to_owned(), json!(value));
    };
    put("maxServerMeta", limits.get(Resource::MetadataItems));
    put("maxTotalInstances", limits.get(Resource::Instances));
    put("maxTotalCores", limits.get(Resource::Cores));
    put("maxTotalRAMSize", limits.get(Resource::Ram));
    put("maxTotalKeypairs", limits.get(Resource::KeyPairs));
    put("maxServerGroups", limits.get(Resource::ServerGroups));
    put(
        "maxServerGroupMembers",
        limits.get(Resource::ServerGroupMembers),
    );
    put("totalInstancesUsed", used(Resource::Instances) as i64);
    put("totalCoresUsed", used(Resource::Cores) as i64);
    put("totalRAMUsed", used(Resource::Ram) as i64);
    put("totalServerGroupsUsed", used(Resource::ServerGroups) as i64);
    if !version.at_least(NETWORK_PROXIES_REMOVED) {
        put("maxSecurityGroups", limits.get(Resource::SecurityGroups));
        put(
            "maxSecurityGroupRules",
            limits.get(Resource::SecurityGroupRules),
        );
        put("maxTotalFloatingIps", limits.get(Resource::FloatingIps));
        put("totalSecurityGroupsUsed", 0);
        put("totalFloatingIpsUsed", 0);
    }
    if !version.at_least(IMAGE_METADATA_LIMIT_REMOVED) {
        put("maxImageMeta", limits.get(Resource::MetadataItems));
    }
    if !version.at_least(PERSONALITY_REMOVED) {
        put("maxPersonality", limits.get(Resource::InjectedFiles));
        put(
            "maxPersonalitySize",
            limits.get(Resource::InjectedFileContentBytes),
        );
    }
    Ok(envelope("limits", json!({"rate": [], "absolute": absolute})).into_response())
}

/// A quota set document: `value` of each resource the version shows.
fn quota_set(
    version: Microversion,
    id: Option<&str>,
    value: impl Fn(Resource) -> Value,
) -> Response {
    let mut set = Map::new();
    if let Some(id) = id {
        set.insert("id".into(), json!(id));
    }
    for resource in Resource::ALL.into_iter().filter(|r| r.shown_at(version)) {
        set.insert(resource.name().into(), value(resource));
    }
    envelope("quota_set", set).into_response()
}

pub async fn show(
    State(service): Service,
    Caller(caller): Caller,
    version: Microversion,
    Path(project): Path<String>,
) -> Result<Response, ApiError> {
    let limits = service.quotas(&caller, &project).await?;
    Ok(quota_set(version, Some(&project), |r| json!(limits.get(r))))
}

pub async fn defaults(
    State(service): Service,
    Caller(caller): Caller,
    version: Microversion,
    Path(project): Path<String>,
) -> Result<Response, ApiError> {
    let defaults = service.default_quotas(&caller)?;
    Ok(quota_set(version, Some(&project), |r| {
        json!(defaults.get(r))
    }))
}

/// `GET /os-quota-sets/{project}/detail`: limits with their use.
pub async fn detail(
    State(service): Service,
    Caller(caller): Caller,
    version: Microversion,
    Path(project): Path<String>,
) -> Result<Response, ApiError> {
    let (limits, used) = service.quota_usage(&caller, &project).await?;
    Ok(quota_set(
        version,
        Some(&project),
        |r| json!({"limit": limits.get(r), "in_use": used.get(&r).copied().unwrap_or(0), "reserved": 0}),
    ))
}

/// The limits a quota update sets, checked: known resources of this
/// microversion, whole numbers of at least -1 (unlimited).
fn quota_update(body: Value, version: Microversion) -> Result<QuotaUpdate, ApiError> {
    let set: Map<String, Value> = oxistack_http::envelope(body, "quota_set")?;
    let mut update = QuotaUpdate::default();
    for (key, value) in set {
        let field = format!("quota_set.{key}");
        if key == "force" {
            update.force = crate::validate::parse_boolean(&field, &value)?;
            continue;
        }
        let resource = Resource::parse(&key)
            .filter(|r| r.shown_at(version))
            .ok_or_else(|| invalid(&field, "not a quota of this microversion."))?;
        let limit = value
            .as_i64()
            .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
            .filter(|l| *l >= UNLIMITED)
            .ok_or_else(|| invalid(&field, format!("{value} is not an integer of at least -1.")))?;
        update.limits.push((resource, limit));
    }
    Ok(update)
}

/// `PUT /os-quota-sets/{project}`: administrators change limits; below
/// what is in use only with `force`.
pub async fn update(
    State(service): Service,
    Caller(caller): Caller,
    version: Microversion,
    Path(project): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let update = quota_update(body, version)?;
    let limits = service.update_quotas(&caller, &project, update).await?;
    Ok(quota_set(version, None, |r| json!(limits.get(r))))
}

/// `DELETE /os-quota-sets/{project}`: back to the defaults.
pub async fn reset(
    State(service): Service,
    Caller(caller): Caller,
    Path(project): Path<String>,
) -> Result<StatusCode, ApiError> {
    service.reset_quotas(&caller, &project).await?;
    Ok(StatusCode::ACCEPTED)
}
