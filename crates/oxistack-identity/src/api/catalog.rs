//! The service catalog: in tokens, and as Keystone's read-only regions,
//! services and endpoints. The catalog follows the configuration (see
//! bootstrap), so it is not edited through the API.

use axum::Json;
use axum::extract::Path;
use oxistack_auth::{Action, Caller, authorize};
use oxistack_db::rusqlite::{self, Connection, OptionalExtension, Row};
use serde::Serialize;
use serde_json::{Value, json};

use super::{State, V3};
use crate::model::{Result, not_found};
use crate::wire::{SelfLink, collection, member};

struct EndpointRow {
    id: String,
    service_id: String,
    service_type: String,
    service_name: String,
    interface: String,
    region_id: String,
    url: String,
    enabled: bool,
}

const ENDPOINT_QUERY: &str =
    "SELECT e.id, e.service_id, s.type, s.name, e.interface, e.region_id, e.url, e.enabled
     FROM endpoints e JOIN services s ON s.id = e.service_id";

fn endpoint_row(row: &Row) -> rusqlite::Result<EndpointRow> {
    Ok(EndpointRow {
        id: row.get(0)?,
        service_id: row.get(1)?,
        service_type: row.get(2)?,
        service_name: row.get(3)?,
        interface: row.get(4)?,
        region_id: row.get(5)?,
        url: row.get(6)?,
        enabled: row.get(7)?,
    })
}

fn endpoints(conn: &Connection) -> Result<Vec<EndpointRow>> {
    let mut stmt =
        conn.prepare_cached(&format!("{ENDPOINT_QUERY} ORDER BY s.type, e.interface"))?;
    let rows = stmt.query_map([], endpoint_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// The catalog as it appears in a token: services with their endpoints.
pub fn token_catalog(conn: &Connection) -> Result<Vec<Value>> {
    let mut catalog: Vec<Value> = Vec::new();
    let mut current: Option<String> = None;
    for endpoint in endpoints(conn)?.into_iter().filter(|e| e.enabled) {
        if current.as_deref() != Some(endpoint.service_id.as_str()) {
            current = Some(endpoint.service_id.clone());
            catalog.push(json!({
                "endpoints": [],
                "id": endpoint.service_id,
                "type": endpoint.service_type,
                "name": endpoint.service_name,
            }));
        }
        if let Some(Value::Array(list)) = catalog.last_mut().and_then(|s| s.get_mut("endpoints")) {
            list.push(json!({
                "id": endpoint.id,
                "interface": endpoint.interface,
                "region_id": endpoint.region_id,
                "region": endpoint.region_id,
                "url": endpoint.url,
            }));
        }
    }
    Ok(catalog)
}

#[derive(Serialize)]
struct EndpointView {
    id: String,
    interface: String,
    region_id: String,
    region: String,
    service_id: String,
    url: String,
    enabled: bool,
    links: SelfLink,
}

impl EndpointView {
    fn new(e: EndpointRow, v3: &str) -> Self {
        EndpointView {
            links: SelfLink {
                self_: format!("{v3}/endpoints/{}", e.id),
            },
            id: e.id,
            interface: e.interface,
            region: e.region_id.clone(),
            region_id: e.region_id,
            service_id: e.service_id,
            url: e.url,
            enabled: e.enabled,
        }
    }
}

#[derive(Serialize)]
struct ServiceView {
    id: String,
    #[serde(rename = "type")]
    service_type: String,
    name: String,
    description: String,
    enabled: bool,
    links: SelfLink,
}

fn service_row(row: &Row) -> rusqlite::Result<(String, String, String, String, bool)> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
    ))
}

fn service_view(
    (id, service_type, name, description, enabled): (String, String, String, String, bool),
    v3: &str,
) -> ServiceView {
    ServiceView {
        links: SelfLink {
            self_: format!("{v3}/services/{id}"),
        },
        id,
        service_type,
        name,
        description,
        enabled,
    }
}

#[derive(Serialize)]
struct RegionView {
    id: String,
    description: String,
    parent_region_id: Option<String>,
    links: SelfLink,
}

fn region_view((id, description): (String, String), v3: &str) -> RegionView {
    RegionView {
        links: SelfLink {
            self_: format!("{v3}/regions/{id}"),
        },
        id,
        description,
        parent_region_id: None,
    }
}

pub async fn list_endpoints(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
) -> Result<Json<Value>> {
    authorize(&caller, Action::ReadCatalog)?;
    let rows = service.read(endpoints).await?;
    let views: Vec<_> = rows
        .into_iter()
        .map(|e| EndpointView::new(e, &v3))
        .collect();
    Ok(Json(collection(
        "endpoints",
        views,
        format!("{v3}/endpoints"),
    )))
}

pub async fn show_endpoint(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    authorize(&caller, Action::ReadCatalog)?;
    let wanted = id.clone();
    let row = service
        .read(move |conn| {
            Ok(conn
                .prepare_cached(&format!("{ENDPOINT_QUERY} WHERE e.id = ?1"))?
                .query_row([&wanted], endpoint_row)
                .optional()?)
        })
        .await?
        .ok_or_else(|| not_found("endpoint", &id))?;
    Ok(Json(member("endpoint", EndpointView::new(row, &v3))))
}

pub async fn list_services(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
) -> Result<Json<Value>> {
    authorize(&caller, Action::ReadCatalog)?;
    let rows = service
        .read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, type, name, description, enabled FROM services ORDER BY type",
            )?;
            let rows = stmt.query_map([], service_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await?;
    let views: Vec<_> = rows.into_iter().map(|s| service_view(s, &v3)).collect();
    Ok(Json(collection(
        "services",
        views,
        format!("{v3}/services"),
    )))
}

pub async fn show_service(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    authorize(&caller, Action::ReadCatalog)?;
    let wanted = id.clone();
    let row = service
        .read(move |conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT id, type, name, description, enabled FROM services WHERE id = ?1",
                )?
                .query_row([&wanted], service_row)
                .optional()?)
        })
        .await?
        .ok_or_else(|| not_found("service", &id))?;
    Ok(Json(member("service", service_view(row, &v3))))
}

pub async fn list_regions(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
) -> Result<Json<Value>> {
    authorize(&caller, Action::ReadCatalog)?;
    let rows = service
        .read(|conn| {
            let mut stmt =
                conn.prepare_cached("SELECT id, description FROM regions ORDER BY id")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await?;
    let views: Vec<_> = rows.into_iter().map(|r| region_view(r, &v3)).collect();
    Ok(Json(collection("regions", views, format!("{v3}/regions"))))
}

pub async fn show_region(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    authorize(&caller, Action::ReadCatalog)?;
    let wanted = id.clone();
    let row = service
        .read(move |conn| {
            Ok(conn
                .prepare_cached("SELECT id, description FROM regions WHERE id = ?1")?
                .query_row([&wanted], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?)
        })
        .await?
        .ok_or_else(|| not_found("region", &id))?;
    Ok(Json(member("region", region_view(row, &v3))))
}
