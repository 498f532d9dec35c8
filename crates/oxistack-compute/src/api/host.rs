//! The host behind the API: its availability zone, its one hypervisor and
//! its services, as a single-host DevStack shows them.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use oxistack_auth::{Action, Caller, authorize};
use oxistack_http::ApiError;
use oxistack_http::microversion::Microversion;
use oxistack_virt::HostInfo;
use serde_json::{Map, Value, json};

use super::{QueryPairs, Service};
use crate::ComputeService;
use crate::model::{AVAILABILITY_ZONE, INTERNAL_ZONE, is_uuid, naive_time};
use crate::query::{last, parse_bool};
use crate::store;
use crate::store::services::{COMPUTE_BINARY, ServiceRecord};
use crate::versions::{API_CLEANUP, CPU_INFO_OBJECT, FORCED_DOWN, LEAN_HYPERVISORS, SERVICE_UUIDS};

/// Memory Nova keeps for the host itself (`reserved_host_memory_mb`),
/// counted as used.
const RESERVED_HOST_MEMORY_MB: u64 = 512;

/// Services report every ten seconds; they are always up while oxistack
/// answers, so their last report is now.
fn heartbeat() -> String {
    naive_time(&Utc::now())
}

async fn service_records(service: &ComputeService) -> Result<Vec<ServiceRecord>, ApiError> {
    service.read(store::services::all).await
}

/// `GET /os-availability-zone`.
pub async fn zones(Caller(caller): Caller) -> Result<Response, ApiError> {
    authorize(&caller, Action::ListAvailabilityZones)?;
    Ok(Json(json!({"availabilityZoneInfo": [
        {"zoneName": AVAILABILITY_ZONE, "zoneState": {"available": true}, "hosts": null}
    ]}))
    .into_response())
}

/// `GET /os-availability-zone/detail`: the zones with their hosts and
/// services, the internal zone included.
pub async fn zones_detail(
    State(service): Service,
    Caller(caller): Caller,
) -> Result<Response, ApiError> {
    authorize(&caller, Action::ReadComputeHosts)?;
    let records = service_records(&service).await?;
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
    Ok(
        Json(json!({"availabilityZoneInfo": [zone(INTERNAL_ZONE), zone(AVAILABILITY_ZONE)]}))
            .into_response(),
    )
}

/// `GET /os-aggregates`: a single host has no host aggregates (clients
/// list them to show a hypervisor's).
pub async fn aggregates(Caller(caller): Caller) -> Result<Response, ApiError> {
    authorize(&caller, Action::ReadComputeHosts)?;
    Ok(Json(json!({"aggregates": []})).into_response())
}

/// `GET /os-services`, filtered by `binary` and `host`.
pub async fn services(
    State(service): Service,
    Caller(caller): Caller,
    version: Microversion,
    Query(pairs): QueryPairs,
) -> Result<Response, ApiError> {
    authorize(&caller, Action::ReadComputeHosts)?;
    let records = service_records(&service).await?;
    let host = service.host_name();
    let on_host = last(&pairs, "host").is_none_or(|h| h == host);
    let documents: Vec<Value> = records
        .iter()
        .filter(|r| on_host && last(&pairs, "binary").is_none_or(|b| b == r.binary))
        .map(|r| {
            let mut document = json!({
                "id": service_id(r, version),
                "binary": r.binary,
                "host": host,
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

/// The one hypervisor: its ids and how much of it the servers use.
struct Hypervisor {
    number: i64,
    uuid: String,
    compute: ServiceRecord,
    host: HostInfo,
    load: store::servers::HostLoad,
    servers: Vec<(String, String)>,
}

async fn hypervisor_of(
    service: &ComputeService,
    with_servers: bool,
) -> Result<Hypervisor, ApiError> {
    let host = service.driver().host();
    let name = host.hostname.clone();
    let (records, load, servers) = service
        .read(move |conn| {
            let servers = match with_servers {
                true => store::servers::on_host(conn, &name)?,
                false => Vec::new(),
            };
            Ok((
                store::services::all(conn)?,
                store::servers::host_load(conn, &name)?,
                servers,
            ))
        })
        .await?;
    let compute = records
        .into_iter()
        .find(|r| r.binary == COMPUTE_BINARY)
        .ok_or_else(|| {
            ApiError::internal("the compute service record is missing: was bootstrap run?")
        })?;
    Ok(Hypervisor {
        number: 1,
        uuid: compute.node_uuid.clone().unwrap_or_default(),
        compute,
        host,
        load,
        servers,
    })
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
            let memory_used = h.load.memory_mb + RESERVED_HOST_MEMORY_MB;
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

/// The `with_servers` and `hypervisor_hostname_pattern` filters (2.53).
struct HypervisorQuery {
    with_servers: bool,
    pattern: Option<String>,
}

impl HypervisorQuery {
    fn parse(pairs: &[(String, String)], version: Microversion) -> Result<Self, ApiError> {
        let newer = version.at_least(SERVICE_UUIDS);
        let with_servers = match last(pairs, "with_servers") {
            Some(value) if newer => parse_bool("with_servers", value)?,
            _ => false,
        };
        Ok(HypervisorQuery {
            with_servers,
            pattern: last(pairs, "hypervisor_hostname_pattern")
                .filter(|_| newer)
                .map(str::to_owned),
        })
    }

    fn matches(&self, hostname: &str) -> bool {
        self.pattern.as_deref().is_none_or(|p| hostname.contains(p))
    }
}

async fn hypervisor_list(
    service: &ComputeService,
    caller: &oxistack_auth::AuthContext,
    version: Microversion,
    pairs: &[(String, String)],
    detailed: bool,
) -> Result<Response, ApiError> {
    authorize(caller, Action::ReadComputeHosts)?;
    let query = HypervisorQuery::parse(pairs, version)?;
    let hypervisor = hypervisor_of(service, query.with_servers).await?;
    let documents: Vec<Value> = if query.matches(&hypervisor.host.hostname) {
        vec![hypervisor_document(
            &hypervisor,
            version,
            detailed,
            query.with_servers,
        )]
    } else {
        Vec::new()
    };
    if documents.is_empty() && query.pattern.is_some() {
        return Err(ApiError::not_found(format!(
            "No hypervisor matching '{}' could be found.",
            query.pattern.unwrap_or_default()
        )));
    }
    Ok(Json(json!({"hypervisors": documents})).into_response())
}

pub async fn hypervisors(
    State(service): Service,
    Caller(caller): Caller,
    version: Microversion,
    Query(pairs): QueryPairs,
) -> Result<Response, ApiError> {
    hypervisor_list(&service, &caller, version, &pairs, false).await
}

pub async fn hypervisors_detail(
    State(service): Service,
    Caller(caller): Caller,
    version: Microversion,
    Query(pairs): QueryPairs,
) -> Result<Response, ApiError> {
    hypervisor_list(&service, &caller, version, &pairs, true).await
}

/// `GET /os-hypervisors/{id}`: by number before 2.53, by UUID from it.
pub async fn hypervisor(
    State(service): Service,
    Caller(caller): Caller,
    version: Microversion,
    Path(id): Path<String>,
    Query(pairs): QueryPairs,
) -> Result<Response, ApiError> {
    authorize(&caller, Action::ReadComputeHosts)?;
    if version.at_least(SERVICE_UUIDS) && !is_uuid(&id) {
        return Err(ApiError::bad_request(format!("Invalid uuid {id}")));
    }
    let query = HypervisorQuery::parse(&pairs, version)?;
    let hypervisor = hypervisor_of(&service, query.with_servers).await?;
    let found = match version.at_least(SERVICE_UUIDS) {
        true => id == hypervisor.uuid,
        false => id == hypervisor.number.to_string(),
    };
    if !found {
        return Err(ApiError::not_found(format!(
            "Hypervisor with ID '{id}' could not be found."
        )));
    }
    let mut document = hypervisor_document(&hypervisor, version, true, query.with_servers);
    if version.at_least(LEAN_HYPERVISORS) {
        document["uptime"] = json!(hypervisor.host.uptime);
    }
    Ok(Json(json!({"hypervisor": document})).into_response())
}
