//! `/limits` and `/os-quota-sets`: Nova's quota defaults, per-project
//! changes to them, and what a project uses.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use oxistack_auth::{Action, AuthContext, Caller, authorize};
use oxistack_db::rusqlite::Connection;
use oxistack_http::microversion::Microversion;
use oxistack_http::{ApiError, JsonBody};
use serde_json::{Map, Value, json};

use super::{QueryPairs, Service, envelope};
use crate::query::last;
use crate::quota::{Limits, Resource, UNLIMITED};
use crate::store;
use crate::validate::invalid;
use crate::versions::{IMAGE_METADATA_LIMIT_REMOVED, NETWORK_PROXIES_REMOVED, PERSONALITY_REMOVED};

/// What a project uses of each resource it is counted for.
fn usage(
    conn: &Connection,
    project: &str,
    user: Option<&str>,
) -> Result<HashMap<Resource, u64>, ApiError> {
    let servers = store::servers::usage(conn, project)?;
    let mut used = HashMap::from([
        (Resource::Instances, servers.instances),
        (Resource::Cores, servers.cores),
        (Resource::Ram, servers.ram),
        (Resource::ServerGroups, store::groups::count(conn, project)?),
    ]);
    if let Some(user) = user {
        used.insert(Resource::KeyPairs, store::keypairs::count(conn, user)?);
    }
    Ok(used)
}

/// The project a quota request is about: the caller's own, or any for an
/// administrator; another project's is a 403, as in Nova.
fn quota_project(caller: &AuthContext, project: &str) -> Result<(), ApiError> {
    authorize(caller, Action::ReadQuotas)?;
    if caller.project_id() != Some(project) {
        authorize(caller, Action::ManageQuotas)?;
    }
    Ok(())
}

/// `GET /limits`: the absolute limits and what the project uses, in the
/// keys the requested microversion still has.
pub async fn limits(
    State(service): Service,
    Caller(caller): Caller,
    version: Microversion,
    Query(pairs): QueryPairs,
) -> Result<Response, ApiError> {
    authorize(&caller, Action::ReadQuotas)?;
    let own = caller.project_id().unwrap_or_default().to_owned();
    let project = match last(&pairs, "tenant_id") {
        Some(other) if other != own => {
            authorize(&caller, Action::ManageQuotas)?;
            other.to_owned()
        }
        _ => own,
    };
    let user = caller.user.id.clone();
    let (limits, used) = service
        .read(move |conn| {
            Ok((
                Limits::of(conn, &project)?,
                usage(conn, &project, Some(&user))?,
            ))
        })
        .await?;
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

async fn project_limits(
    service: &crate::ComputeService,
    project: &str,
) -> Result<Limits, ApiError> {
    let project = project.to_owned();
    service.read(move |conn| Limits::of(conn, &project)).await
}

pub async fn show(
    State(service): Service,
    Caller(caller): Caller,
    version: Microversion,
    Path(project): Path<String>,
) -> Result<Response, ApiError> {
    quota_project(&caller, &project)?;
    let limits = project_limits(&service, &project).await?;
    Ok(quota_set(version, Some(&project), |r| json!(limits.get(r))))
}

pub async fn defaults(
    Caller(caller): Caller,
    version: Microversion,
    Path(project): Path<String>,
) -> Result<Response, ApiError> {
    authorize(&caller, Action::ReadQuotas)?;
    let defaults = Limits::defaults();
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
    quota_project(&caller, &project)?;
    let lookup = project.clone();
    let user = (caller.project_id() == Some(project.as_str())).then(|| caller.user.id.clone());
    let (limits, used) = service
        .read(move |conn| {
            Ok((
                Limits::of(conn, &lookup)?,
                usage(conn, &lookup, user.as_deref())?,
            ))
        })
        .await?;
    Ok(quota_set(
        version,
        Some(&project),
        |r| json!({"limit": limits.get(r), "in_use": used.get(&r).copied().unwrap_or(0), "reserved": 0}),
    ))
}

/// The limits a quota update sets, checked: known resources of this
/// microversion, whole numbers of at least -1 (unlimited).
fn requested_limits(
    body: Value,
    version: Microversion,
) -> Result<(Vec<(Resource, i64)>, bool), ApiError> {
    let set: Map<String, Value> = oxistack_http::envelope(body, "quota_set")?;
    let mut force = false;
    let mut limits = Vec::new();
    for (key, value) in set {
        let field = format!("quota_set.{key}");
        if key == "force" {
            force = crate::validate::parse_boolean(&field, &value)?;
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
        limits.push((resource, limit));
    }
    Ok((limits, force))
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
    authorize(&caller, Action::ManageQuotas)?;
    let (requested, force) = requested_limits(body, version)?;
    let target = project.clone();
    let limits = service
        .write(move |tx| {
            let used = usage(tx, &target, None)?;
            for (resource, limit) in &requested {
                let in_use = used.get(resource).copied().unwrap_or(0);
                if !force && *limit != UNLIMITED && (*limit as u64) < in_use {
                    return Err(ApiError::bad_request(format!(
                        "Quota limit {limit} for {} must be greater than or equal to already used and reserved {in_use}.",
                        resource.name()
                    )));
                }
                store::quotas::set(tx, &target, resource.name(), *limit)?;
            }
            Limits::of(tx, &target)
        })
        .await?;
    Ok(quota_set(version, None, |r| json!(limits.get(r))))
}

/// `DELETE /os-quota-sets/{project}`: back to the defaults.
pub async fn reset(
    State(service): Service,
    Caller(caller): Caller,
    Path(project): Path<String>,
) -> Result<StatusCode, ApiError> {
    authorize(&caller, Action::ManageQuotas)?;
    service
        .write(move |tx| store::quotas::reset(tx, &project))
        .await?;
    Ok(StatusCode::ACCEPTED)
}
