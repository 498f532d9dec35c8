//! What describes the service rather than a resource: the versions
//! document, quotas and limits, the availability zone, the services
//! `openstack volume service list` shows (DevStack's scheduler and LVM
//! backend), extensions, pools, and an empty backup list.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{OriginalUri, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use oxistack_auth::{Action, Caller};
use oxistack_http::{ApiError, JsonBody, base_url};
use serde_json::{Map, Value, json};

use super::handlers::{Pairs, truthy};
use super::{MAX, MIN, Params, Service};
use crate::model::{BACKEND, ZONE, host_name, now};
use crate::service::{QuotaSet, authorize};

const UPDATED: &str = "2023-08-31T00:00:00Z";

fn versions_document(headers: &HeaderMap, path: &str) -> Value {
    // Everything before `/v3` (`/volume`), however the client asked:
    // `/volume/`, `/volume/v3` or the catalog's `/volume/v3/<project>`.
    let path = path.trim_end_matches('/');
    let root = path.find("/v3").map_or(path, |at| &path[..at]);
    json!({"versions": [{
        "id": "v3.0",
        "status": "CURRENT",
        "version": MAX.to_string(),
        "min_version": MIN.to_string(),
        "updated": UPDATED,
        "links": [
            {"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"},
            {"rel": "self", "href": format!("{}{root}/v3/", base_url(headers))},
        ],
        "media-types": [{
            "base": "application/json",
            "type": "application/vnd.openstack.volume+json;version=3",
        }],
    }]})
}

/// `GET /`: Cinder answers 300 Multiple Choices.
pub async fn all_versions(headers: HeaderMap, OriginalUri(uri): OriginalUri) -> Response {
    (
        StatusCode::MULTIPLE_CHOICES,
        Json(versions_document(&headers, uri.path())),
    )
        .into_response()
}

/// `GET /v3`.
pub async fn versions(headers: HeaderMap, OriginalUri(uri): OriginalUri) -> Response {
    Json(versions_document(&headers, uri.path())).into_response()
}

fn quota_document(id: &str, set: &QuotaSet, usage: bool) -> Value {
    let mut doc = Map::new();
    doc.insert("id".into(), json!(id));
    for (resource, u) in set {
        let value = if usage {
            json!({"limit": u.limit, "in_use": u.in_use, "reserved": 0})
        } else {
            json!(u.limit)
        };
        doc.insert(resource.clone(), value);
    }
    Value::Object(doc)
}

pub async fn quotas(
    State(service): Service,
    Caller(caller): Caller,
    params: Params,
    Query(pairs): Pairs,
) -> Result<Response, ApiError> {
    let target = params.get("target");
    let usage = pairs.iter().any(|(k, v)| k == "usage" && truthy(v));
    let set = service.quotas(&caller, target, usage).await?;
    Ok(Json(json!({"quota_set": quota_document(target, &set, usage)})).into_response())
}

pub async fn default_quotas(
    State(service): Service,
    Caller(caller): Caller,
    params: Params,
) -> Result<Response, ApiError> {
    let set = service.default_quotas(&caller).await?;
    Ok(
        Json(json!({"quota_set": quota_document(params.get("target"), &set, false)}))
            .into_response(),
    )
}

fn limits_body(value: Value, key: &str) -> Result<BTreeMap<String, i64>, ApiError> {
    let Some(Value::Object(map)) = value.get(key) else {
        return Err(ApiError::bad_request(format!(
            "Missing required element '{key}' in request body."
        )));
    };
    map.iter()
        .map(|(k, v)| {
            let n = v
                .as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                .ok_or_else(|| {
                    ApiError::bad_request(format!("Quota limit {v} for {k} must be an integer."))
                })?;
            Ok((k.clone(), n))
        })
        .collect()
}

pub async fn set_quotas(
    State(service): Service,
    Caller(caller): Caller,
    params: Params,
    JsonBody(value): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let target = params.get("target");
    let values = limits_body(value, "quota_set")?;
    let set = service.set_quotas(&caller, target, false, values).await?;
    let mut doc = quota_document(target, &set, false);
    doc.as_object_mut().map(|m| m.remove("id"));
    Ok(Json(json!({"quota_set": doc})).into_response())
}

pub async fn reset_quotas(
    State(service): Service,
    Caller(caller): Caller,
    params: Params,
) -> Result<Response, ApiError> {
    service.reset_quotas(&caller, params.get("target")).await?;
    Ok(StatusCode::OK.into_response())
}

pub async fn quota_class(
    State(service): Service,
    Caller(caller): Caller,
    params: Params,
) -> Result<Response, ApiError> {
    authorize(&caller, Action::ManageVolumeQuotas)?;
    let set = service.default_quotas(&caller).await?;
    Ok(
        Json(json!({"quota_class_set": quota_document(params.get("target"), &set, false)}))
            .into_response(),
    )
}

pub async fn set_quota_class(
    State(service): Service,
    Caller(caller): Caller,
    params: Params,
    JsonBody(value): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let values = limits_body(value, "quota_class_set")?;
    let set = service
        .set_quotas(&caller, params.get("target"), true, values)
        .await?;
    let mut doc = quota_document(params.get("target"), &set, false);
    doc.as_object_mut().map(|m| m.remove("id"));
    Ok(Json(json!({"quota_class_set": doc})).into_response())
}

pub async fn limits(State(service): Service, Caller(caller): Caller) -> Result<Response, ApiError> {
    let set = service.absolute_limits(&caller).await?;
    let get = |k: &str| {
        set.get(k).copied().unwrap_or(crate::service::Usage {
            limit: -1,
            in_use: 0,
        })
    };
    Ok(Json(json!({"limits": {"rate": [], "absolute": {
        "maxTotalVolumes": get("volumes").limit,
        "totalVolumesUsed": get("volumes").in_use,
        "maxTotalVolumeGigabytes": get("gigabytes").limit,
        "totalGigabytesUsed": get("gigabytes").in_use,
        "maxTotalSnapshots": get("snapshots").limit,
        "totalSnapshotsUsed": get("snapshots").in_use,
        "maxTotalBackups": get("backups").limit,
        "totalBackupsUsed": 0,
        "maxTotalBackupGigabytes": get("backup_gigabytes").limit,
        "totalBackupGigabytesUsed": 0,
    }}}))
    .into_response())
}

pub async fn zones(Caller(caller): Caller) -> Result<Response, ApiError> {
    authorize(&caller, Action::ReadVolumes)?;
    Ok(Json(json!({"availabilityZoneInfo": [
        {"zoneName": ZONE, "zoneState": {"available": true}}
    ]}))
    .into_response())
}

pub async fn services(Caller(caller): Caller) -> Result<Response, ApiError> {
    authorize(&caller, Action::ShowVolumeHosts)?;
    let host = host_name();
    let service = |binary: &str, host: String| {
        json!({
            "binary": binary,
            "host": host,
            "zone": ZONE,
            "status": "enabled",
            "state": "up",
            "updated_at": now(),
            "disabled_reason": null,
            "frozen": false,
            "cluster": null,
            "replication_status": "disabled",
            "active_backend_id": null,
        })
    };
    Ok(Json(json!({"services": [
        service("cinder-scheduler", host.clone()),
        service("cinder-volume", format!("{host}@{BACKEND}")),
    ]}))
    .into_response())
}

pub async fn extensions(Caller(caller): Caller) -> Result<Response, ApiError> {
    authorize(&caller, Action::ReadVolumes)?;
    let extension = |alias: &str, name: &str, description: &str| {
        json!({"alias": alias, "name": name, "description": description,
               "links": [], "updated": "2013-04-18T00:00:00+00:00"})
    };
    Ok(Json(json!({"extensions": [
        extension("os-admin-actions", "AdminActions", "Enable admin actions."),
        extension("os-availability-zone", "AvailabilityZones", "Describe Availability Zones."),
        extension("os-extended-snapshot-attributes", "ExtendedSnapshotAttributes", "Extended SnapshotAttributes support."),
        extension("os-quota-sets", "Quotas", "Quota management support."),
        extension("os-types-manage", "TypesManage", "Types manage support."),
        extension("os-volume-type-access", "VolumeTypeAccess", "Volume type access support."),
        extension("os-vol-host-attr", "VolumeHostAttribute", "Expose host as an attribute of a volume."),
        extension("os-vol-tenant-attr", "VolumeTenantAttribute", "Expose the internal project_id as an attribute of a volume."),
        extension("os-volume-actions", "VolumeActions", "Enable volume actions."),
    ]}))
    .into_response())
}

pub async fn pools(Caller(caller): Caller) -> Result<Response, ApiError> {
    authorize(&caller, Action::ShowVolumeHosts)?;
    let name = format!("{}@{BACKEND}#{BACKEND}", host_name());
    Ok(Json(json!({"pools": [{"name": name}]})).into_response())
}

pub async fn backups(Caller(caller): Caller) -> Result<Response, ApiError> {
    authorize(&caller, Action::ReadVolumes)?;
    Ok(Json(json!({"backups": []})).into_response())
}
