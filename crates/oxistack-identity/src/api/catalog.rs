//! The service catalog: in tokens, and as Keystone's read-only regions,
//! services and endpoints.

use axum::Json;
use axum::extract::Path;
use oxistack_auth::Caller;
use serde::Serialize;
use serde_json::{Value, json};

use super::{Result, State, V3};
use crate::model::catalog::{Endpoint, Region, RegisteredService};
use crate::wire::{SelfLink, collection, member};

/// The catalog as it appears in a token: the enabled endpoints, grouped
/// under their services.
pub fn token_catalog(endpoints: Vec<Endpoint>) -> Vec<Value> {
    let mut catalog: Vec<Value> = Vec::new();
    let mut current: Option<String> = None;
    for endpoint in endpoints.into_iter().filter(|e| e.enabled) {
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
    catalog
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
    fn new(e: Endpoint, v3: &str) -> Self {
        EndpointView {
            links: SelfLink::to(v3, "endpoints", &e.id),
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

impl ServiceView {
    fn new(s: RegisteredService, v3: &str) -> Self {
        ServiceView {
            links: SelfLink::to(v3, "services", &s.id),
            id: s.id,
            service_type: s.service_type,
            name: s.name,
            description: s.description,
            enabled: s.enabled,
        }
    }
}

#[derive(Serialize)]
struct RegionView {
    id: String,
    description: String,
    parent_region_id: Option<String>,
    links: SelfLink,
}

impl RegionView {
    fn new(r: Region, v3: &str) -> Self {
        RegionView {
            links: SelfLink::to(v3, "regions", &r.id),
            id: r.id,
            description: r.description,
            parent_region_id: None,
        }
    }
}

pub async fn list_endpoints(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
) -> Result<Json<Value>> {
    let views: Vec<_> = service
        .endpoints(&caller)
        .await?
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
    let endpoint = service.endpoint(&caller, &id).await?;
    Ok(Json(member("endpoint", EndpointView::new(endpoint, &v3))))
}

pub async fn list_services(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
) -> Result<Json<Value>> {
    let views: Vec<_> = service
        .catalog_services(&caller)
        .await?
        .into_iter()
        .map(|s| ServiceView::new(s, &v3))
        .collect();
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
    let found = service.catalog_service(&caller, &id).await?;
    Ok(Json(member("service", ServiceView::new(found, &v3))))
}

pub async fn list_regions(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
) -> Result<Json<Value>> {
    let views: Vec<_> = service
        .regions(&caller)
        .await?
        .into_iter()
        .map(|r| RegionView::new(r, &v3))
        .collect();
    Ok(Json(collection("regions", views, format!("{v3}/regions"))))
}

pub async fn show_region(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    let region = service.region(&caller, &id).await?;
    Ok(Json(member("region", RegionView::new(region, &v3))))
}
