//! The host behind the API: its availability zone, its one hypervisor and
//! its services, in the shape of each microversion. Parsing and
//! rendering; the service decides.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use oxistack_auth::Caller;
use oxistack_http::ApiError;
use oxistack_http::microversion::Microversion;
use serde_json::{Map, Value, json};

use super::{QueryPairs, Service};
use crate::model::{INTERNAL_ZONE, is_uuid, naive_time};
use crate::query::{last, parse_bool};
use crate::service::host::{Hypervisor, HypervisorId, HypervisorQuery, ServiceFilter};
use crate::store::services::ServiceRecord;
use crate::versions::{API_CLEANUP, CPU_INFO_OBJECT, FORCED_DOWN, LEAN_HYPERVISORS, SERVICE_UUIDS};

/// Services report every ten seconds; they are always up while oxistack
/// answers, so their last report is now.
fn heartbeat() -> String {
    naive_time(&Utc::now())
}

/// `GET /os-availability-zone`.
pub async fn zones(State(service): Service, Caller(caller): Caller) -> Result<Response, ApiError> {
    let zones: Vec<Value> = service
        .availability_zones(&caller)?
        .into_iter()
        .map(|zone| json!({"zoneName": zone, "zoneState": {"available": true}, "hosts": null}))
        .collect();
    Ok(Json(json!({ "availabilityZoneInfo": zones })).into_response())
}

/// `GET /os-availability-zone/detail`: the zones with their hosts and
/// services, the internal zone included.
pub async fn zones_detail(
    State(service): Service,
    Caller(caller): Caller,
) -> Result<Response, ApiError> {
    let records = service
        .host_services(&caller, ServiceFilter::default())
        .await?;
    let zone = |name: &str| {
        let binaries: Map<String, Value> = records
            .iter()
            .filter(|r| r.zone == name)
            .map(|r| {
                (
                    r.binary.clone(),
                    json!({"available": true, "active": true, "updated_at": heartbeat()}),
                )
            })
            .collect();
        json!({
            "zoneName": name,
            "zoneState": {"available": true},
            "hosts": {service.host_name(): binaries},
        })
    };
    let mut zones = vec![zone(INTERNAL_ZONE)];
    zones.extend(service.availability_zones(&caller)?.into_iter().map(zone));
    Ok(Json(json!({ "availabilityZoneInfo": zones })).into_response())
}

/// `GET /os-aggregates`.
pub async fn aggregates(
    State(service): Service,
    Caller(caller): Caller,
) -> Result<Response, ApiError> {
    let names = service.host_aggregates(&caller)?;
    Ok(Json(json!({ "aggregates": names })).into_response())
}

/// `GET /os-migrations`.
pub async fn migrations(
    State(service): Service,
    Caller(caller): Caller,
) -> Result<Response, ApiError> {
    let ids = service.migrations(&caller)?;
    Ok(Json(json!({ "migrations": ids })).into_response())
}

/// `GET /os-services`, filtered by `binary` and `host`.
pub async fn services(
    State(service): Service,
    Caller(caller): Caller,
    version: Microversion,
    Query(pairs): QueryPairs,
) -> Result<Response, ApiError> {
    let filter = ServiceFilter {
        binary: last(&pairs, "binary").map(str::to_owned),
        host: last(&pairs, "host").map(str::to_owned),
    };
    let records = service.host_services(&caller, filter).await?;
    let documents: Vec<Value> = records
        .iter()
        .map(|r| {
            let mut document = json!({
                "id": service_id(r, version),
                "binary": r.binary,
                "host": service.host_name(),
                "zone": r.zone,
                "status": "enabled",
                "state": "up",
                "updated_at": heartbeat(),
                "disabled_reason": null,
            });
            if version.at_least(FORCED_DOWN) {
                document["forced_down"] = json!(false);
            }
            document
        })
        .collect();
    Ok(Json(json!({"services": documents})).into_response())
}

fn service_id(record: &ServiceRecord, version: Microversion) -> Value {
    if version.at_least(SERVICE_UUIDS) {
        json!(record.uuid)
    } else {
        json!(record.number)
    }
}

/// The hypervisor as `version` shows it: `detailed` for detail and show.
fn hypervisor_document(
    h: &Hypervisor,
    version: Microversion,
    detailed: bool,
    with_servers: bool,
) -> Value {
    let mut document = json!({
        "id": if version.at_least(SERVICE_UUIDS) { json!(h.uuid) } else { json!(h.number) },
        "hypervisor_hostname": h.host.hostname,
        "state": "up",
        "status": "enabled",
    });
    if detailed {
        document["hypervisor_type"] = json!(h.host.hypervisor_type);
        document["hypervisor_version"] = json!(h.host.hypervisor_version);
        document["host_ip"] = json!(h.host.host_ip.to_string());
        document["service"] = json!({
            "host": h.host.hostname,
            "id": service_id(&h.compute, version),
            "disabled_reason": null,
        });
        if !version.at_least(LEAN_HYPERVISORS) {
            let memory_used = h.memory_mb_used;
            let cpu = &h.host.cpu;
            let cpu_info = json!({
                "arch": cpu.arch,
                "model": cpu.model,
                "vendor": cpu.vendor,
                "features": cpu.features,
                "topology": {"sockets": cpu.sockets, "cores": cpu.cores, "threads": cpu.threads},
            });
            let free_disk = h.host.disk_gib.saturating_sub(h.load.disk_gb);
            let resources = json!({
                "vcpus": h.host.vcpus,
                "vcpus_used": h.load.vcpus,
                "memory_mb": h.host.memory_mib,
                "memory_mb_used": memory_used,
                "free_ram_mb": h.host.memory_mib as i64 - memory_used as i64,
                "local_gb": h.host.disk_gib,
                "local_gb_used": h.load.disk_gb,
                "free_disk_gb": free_disk,
                "disk_available_least": free_disk,
                "current_workload": h.load.busy,
                "running_vms": h.load.servers,
                "cpu_info": if version.at_least(CPU_INFO_OBJECT) { cpu_info } else { json!(cpu_info.to_string()) },
            });
            if let (Value::Object(document), Value::Object(resources)) = (&mut document, resources)
            {
                document.extend(resources);
            }
        }
    }
    if with_servers && (!h.servers.is_empty() || version.at_least(API_CLEANUP)) {
        document["servers"] = h
            .servers
            .iter()
            .map(|(name, id)| json!({"name": name, "uuid": id}))
            .collect();
    }
    document
}

/// The `with_servers` and `hypervisor_hostname_pattern` filters, from 2.53.
fn hypervisor_query(
    pairs: &[(String, String)],
    version: Microversion,
) -> Result<HypervisorQuery, ApiError> {
    let newer = version.at_least(SERVICE_UUIDS);
    let with_servers = match last(pairs, "with_servers") {
        Some(value) if newer => parse_bool("with_servers", value)?,
        _ => false,
    };
    Ok(HypervisorQuery {
        with_servers,
        hostname_pattern: last(pairs, "hypervisor_hostname_pattern")
            .filter(|_| newer)
            .map(str::to_owned),
    })
}

async fn hypervisor_list(
    service: Service,
    caller: &oxistack_auth::AuthContext,
    version: Microversion,
    pairs: &[(String, String)],
    detailed: bool,
) -> Result<Response, ApiError> {
    let query = hypervisor_query(pairs, version)?;
    let with_servers = query.with_servers;
    let documents: Vec<Value> = service
        .hypervisors(caller, query)
        .await?
        .iter()
        .map(|h| hypervisor_document(h, version, detailed, with_servers))
        .collect();
    Ok(Json(json!({"hypervisors": documents})).into_response())
}

pub async fn hypervisors(
    service: Service,
    Caller(caller): Caller,
    version: Microversion,
    Query(pairs): QueryPairs,
) -> Result<Response, ApiError> {
    hypervisor_list(service, &caller, version, &pairs, false).await
}

pub async fn hypervisors_detail(
    service: Service,
    Caller(caller): Caller,
    version: Microversion,
    Query(pairs): QueryPairs,
) -> Result<Response, ApiError> {
    hypervisor_list(service, &caller, version, &pairs, true).await
}

/// `GET /os-hypervisors/{id}`: by number before 2.53, by UUID from it.
pub async fn hypervisor(
    State(service): Service,
    Caller(caller): Caller,
    version: Microversion,
    Path(id): Path<String>,
    Query(pairs): QueryPairs,
) -> Result<Response, ApiError> {
    let id = if version.at_least(SERVICE_UUIDS) {
        if !is_uuid(&id) {
            return Err(ApiError::bad_request(format!("Invalid uuid {id}")));
        }
        HypervisorId::Uuid(id)
    } else {
        HypervisorId::Number(id)
    };
    let query = hypervisor_query(&pairs, version)?;
    let hypervisor = service
        .show_hypervisor(&caller, &id, query.with_servers)
        .await?;
    let mut document = hypervisor_document(&hypervisor, version, true, query.with_servers);
    if version.at_least(LEAN_HYPERVISORS) {
        document["uptime"] = json!(hypervisor.host.uptime);
    }
    Ok(Json(json!({"hypervisor": document})).into_response())
}
