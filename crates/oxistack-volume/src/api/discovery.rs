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
use oxistack_http::microversion::Microversion;
use oxistack_http::{ApiError, JsonBody, base_url};
use serde_json::{Map, Value, json};

use super::handlers::{Pairs, truthy};
use super::{MAX, MIN, Params, Service};
use crate::model::{BACKEND, ZONE, host_name, now};
use crate::service::{ProjectUsage, QuotaSet, authorize};

/// `cluster` in the services list.
const CLUSTER_SUPPORT: Microversion = Microversion::new(3, 7);
/// `backend_state` of a volume service.
const BACKEND_STATE_REPORT: Microversion = Microversion::new(3, 49);

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

/// `os-services`, filtered by `host` and `binary` as Cinder does; its
/// `cluster` from 3.7, `backend_state` of the volume service from 3.49.
pub async fn services(
    Caller(caller): Caller,
    version: Microversion,
    Query(pairs): Pairs,
) -> Result<Response, ApiError> {
    authorize(&caller, Action::ShowVolumeHosts)?;
    let host = host_name();
    let filter = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v);
    let service = |binary: &str, host: String| {
        let volume = binary == "cinder-volume";
        let mut doc = json!({
            "binary": binary,
            "host": host,
            "zone": ZONE,
            "status": "enabled",
            "state": "up",
            "updated_at": now(),
            "disabled_reason": null,
        });
        let map = doc.as_object_mut().expect("an object");
        if volume && version.at_least(BACKEND_STATE_REPORT) {
            map.insert("backend_state".into(), json!("up"));
        }
        if version.at_least(CLUSTER_SUPPORT) {
            map.insert("cluster".into(), Value::Null);
        }
        if volume {
            map.insert("replication_status".into(), json!("disabled"));
            map.insert("active_backend_id".into(), Value::Null);
            map.insert("frozen".into(), json!(false));
        }
        doc
    };
    let services: Vec<Value> = [
        service("cinder-scheduler", host.clone()),
        service("cinder-volume", format!("{host}@{BACKEND}")),
    ]
    .into_iter()
    // A host names its services and its backends' (`host@backend`).
    .filter(|s| {
        filter("host").is_none_or(|h| {
            let host = s["host"].as_str().unwrap_or_default();
            host == h
                || host
                    .strip_prefix(h.as_str())
                    .is_some_and(|rest| rest.starts_with('@'))
        })
    })
    .filter(|s| filter("binary").is_none_or(|b| s["binary"] == b.as_str()))
    .collect();
    Ok(Json(json!({"services": services})).into_response())
}

/// `os-hosts`: the hosts of the scheduler and the volume service.
pub async fn hosts(Caller(caller): Caller, Query(pairs): Pairs) -> Result<Response, ApiError> {
    authorize(&caller, Action::ShowVolumeHosts)?;
    let zone = pairs.iter().find(|(k, _)| k == "zone").map(|(_, v)| v);
    if zone.is_some_and(|z| !z.is_empty() && z != ZONE) {
        return Ok(Json(json!({"hosts": []})).into_response());
    }
    Ok(Json(json!({"hosts": host_list()})).into_response())
}

fn host_list() -> Vec<Value> {
    let host = host_name();
    let entry = |host: String, service: &str| {
        json!({
            "host_name": host,
            "service": service,
            "zone": ZONE,
            "service-status": "available",
            "service-state": "enabled",
            "last-update": now(),
        })
    };
    vec![
        entry(host.clone(), "cinder-scheduler"),
        entry(format!("{host}@{BACKEND}"), "cinder-volume"),
    ]
}

/// `os-hosts/{host}`: what each project keeps on a volume service's host,
/// after a `(total)` line.
pub async fn host(
    State(service): Service,
    Caller(caller): Caller,
    params: Params,
) -> Result<Response, ApiError> {
    let host = params.get("host");
    let usage = service.host_usage(&caller).await?;
    if !host_list()
        .iter()
        .any(|h| h["host_name"] == host && h["service"] == "cinder-volume")
    {
        return Err(ApiError::not_found(format!(
            "Host {host} could not be found."
        )));
    }
    let resource = |project: &str, u: &ProjectUsage| {
        json!({"resource": {
            "host": host,
            "project": project,
            "volume_count": u.volume_count.to_string(),
            "total_volume_gb": u.volume_gb.to_string(),
            "snapshot_count": u.snapshot_count.to_string(),
            "total_snapshot_gb": u.snapshot_gb.to_string(),
        }})
    };
    let total = usage.iter().fold(ProjectUsage::default(), |mut t, u| {
        t.volume_count += u.volume_count;
        t.volume_gb += u.volume_gb;
        t.snapshot_count += u.snapshot_count;
        t.snapshot_gb += u.snapshot_gb;
        t
    });
    let resources: Vec<Value> = std::iter::once(resource("(total)", &total))
        .chain(usage.iter().map(|u| resource(&u.project, u)))
        .collect();
    Ok(Json(json!({"host": resources})).into_response())
}

pub async fn extensions(Caller(caller): Caller) -> Result<Response, ApiError> {
    authorize(&caller, Action::ReadVolumes)?;
    let extension = |alias: &str, name: &str, description: &str| {
        json!({"alias": alias, "name": name, "description": description,
               "links": [], "updated": "2013-04-18T00:00:00+00:00"})
    };
    Ok(Json(json!({"extensions": [
        extension("os-admin-actions", "AdminActions", "Enable admin actions."),
        extension("os-hosts", "Hosts", "Admin-only host administration."),
        extension("scheduler-stats", "Scheduler_stats", "Scheduler stats support."),
        extension("capabilities", "Capabilities", "Capabilities support."),
        extension("os-services", "Services", "Services support."),
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

/// What the one backend reports to the scheduler, as Cinder's drivers do:
/// its files are sparse, so it provisions thin and its capacity is the
/// file system's, which it does not measure (`unknown`).
fn backend_stats(pool: &str) -> Value {
    json!({
        "pool_name": pool,
        "volume_backend_name": BACKEND,
        "vendor_name": VENDOR,
        "driver_version": DRIVER_VERSION,
        "storage_protocol": STORAGE_PROTOCOL,
        "total_capacity_gb": "unknown",
        "free_capacity_gb": "unknown",
        "reserved_percentage": 0,
        "QoS_support": false,
        "thin_provisioning_support": true,
        "thick_provisioning_support": false,
        "multiattach": true,
        "backend_state": "up",
        "timestamp": now(),
    })
}

const VENDOR: &str = "Open Source";
const DRIVER_VERSION: &str = "1.0.0";
/// The attachments' `driver_volume_type`: a file on the host.
const STORAGE_PROTOCOL: &str = "file";

/// `scheduler-stats/get_pools`: names, and with `detail` the capabilities.
pub async fn pools(Caller(caller): Caller, Query(pairs): Pairs) -> Result<Response, ApiError> {
    authorize(&caller, Action::ShowVolumeHosts)?;
    let detail = pairs.iter().any(|(k, v)| k == "detail" && truthy(v));
    let name = format!("{}@{BACKEND}#{BACKEND}", host_name());
    let pool = if detail {
        json!({"name": name, "capabilities": backend_stats(BACKEND)})
    } else {
        json!({"name": name})
    };
    Ok(Json(json!({"pools": [pool]})).into_response())
}

/// `capabilities/{host}`: what the backend on `host@backend` offers.
pub async fn capabilities(Caller(caller): Caller, params: Params) -> Result<Response, ApiError> {
    authorize(&caller, Action::ShowVolumeHosts)?;
    let asked = params.get("host");
    let backend = format!("{}@{BACKEND}", host_name());
    // Cinder looks the backend up by `host@backend`, ignoring any `#pool`.
    if asked.split('#').next() != Some(backend.as_str()) {
        return Err(ApiError::not_found(format!(
            "Service {asked} could not be found."
        )));
    }
    Ok(Json(json!({
        "namespace": format!("OS::Storage::Capabilities::{backend}"),
        "vendor_name": VENDOR,
        "volume_backend_name": BACKEND,
        "pool_name": null,
        "driver_version": DRIVER_VERSION,
        "storage_protocol": STORAGE_PROTOCOL,
        "display_name": null,
        "description": null,
        "visibility": null,
        "replication_targets": [],
        "properties": {
            "thin_provisioning": {
                "title": "Thin Provisioning",
                "description": "Sets thin provisioning.",
                "type": "boolean",
            },
        },
    }))
    .into_response())
}

pub async fn backups(Caller(caller): Caller) -> Result<Response, ApiError> {
    authorize(&caller, Action::ReadVolumes)?;
    Ok(Json(json!({"backups": []})).into_response())
}
