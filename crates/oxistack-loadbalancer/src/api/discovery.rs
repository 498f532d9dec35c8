//! What a client reads before or besides load balancers: the version
//! document (Octavia's dates per microversion, v2.0 … v2.27, the fields
//! this service renders), the providers and their capabilities, the
//! (empty) amphorae, and quotas.

use axum::Json;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use oxistack_auth::Caller;
use oxistack_http::{ApiError, JsonBody, base_url};
use serde_json::{Map, Value, json};

use super::Service;
use crate::service::{LbError, PROVIDERS, quota_defaults};

/// Octavia's API versions and the dates its root document gives them.
const VERSIONS: &[(&str, &str)] = &[
    ("v2.0", "2016-12-11T00:00:00Z"),
    ("v2.1", "2018-04-20T00:00:00Z"),
    ("v2.2", "2018-07-31T00:00:00Z"),
    ("v2.3", "2018-12-18T00:00:00Z"),
    ("v2.4", "2018-12-19T00:00:00Z"),
    ("v2.5", "2019-01-21T00:00:00Z"),
    ("v2.6", "2019-01-25T00:00:00Z"),
    ("v2.7", "2018-01-25T12:00:00Z"),
    ("v2.8", "2019-02-12T00:00:00Z"),
    ("v2.9", "2019-03-04T00:00:00Z"),
    ("v2.10", "2019-03-05T00:00:00Z"),
    ("v2.11", "2019-06-24T00:00:00Z"),
    ("v2.12", "2019-09-11T00:00:00Z"),
    ("v2.13", "2019-09-13T00:00:00Z"),
    ("v2.14", "2019-11-10T00:00:00Z"),
    ("v2.15", "2020-03-10T00:00:00Z"),
    ("v2.16", "2020-03-15T00:00:00Z"),
    ("v2.17", "2020-04-29T00:00:00Z"),
    ("v2.18", "2020-04-29T01:00:00Z"),
    ("v2.19", "2020-05-12T00:00:00Z"),
    ("v2.20", "2020-08-02T00:00:00Z"),
    ("v2.21", "2020-09-03T00:00:00Z"),
    ("v2.22", "2020-09-04T00:00:00Z"),
    ("v2.23", "2020-09-07T00:00:00Z"),
    ("v2.24", "2020-10-15T00:00:00Z"),
    ("v2.25", "2021-10-02T00:00:00Z"),
    ("v2.26", "2022-08-29T00:00:00Z"),
    ("v2.27", "2023-05-05T00:00:00Z"),
];

/// `GET /`: every version, the last `CURRENT`, each linking to `v2`
/// under the URL the client used.
pub async fn versions(headers: HeaderMap, OriginalUri(uri): OriginalUri) -> Response {
    let href = format!(
        "{}{}/v2",
        base_url(&headers),
        uri.path().trim_end_matches('/')
    );
    let versions: Vec<Value> = VERSIONS
        .iter()
        .enumerate()
        .map(|(i, (id, updated))| {
            let status = if i + 1 == VERSIONS.len() {
                "CURRENT"
            } else {
                "SUPPORTED"
            };
            json!({
                "id": id,
                "status": status,
                "updated": updated,
                "links": [{"href": href, "rel": "self"}],
            })
        })
        .collect();
    Json(json!({ "versions": versions })).into_response()
}

/// `GET /v2`, `/v2/lbaas`, `/v2/octavia`: Octavia answers the bare text
/// `"v2"`.
pub async fn root() -> Response {
    Json(json!("v2")).into_response()
}

/// No amphorae: the proxy runs on the host. Listed for operators, as
/// Octavia does.
pub async fn amphorae(
    State(service): Service,
    Caller(caller): Caller,
) -> Result<Response, ApiError> {
    service.may_operate(&caller)?;
    Ok(Json(json!({"amphorae": [], "amphorae_links": []})).into_response())
}

pub async fn providers(
    State(service): Service,
    Caller(caller): Caller,
) -> Result<Response, ApiError> {
    service.may_read(&caller)?;
    let providers: Vec<Value> = PROVIDERS
        .iter()
        .map(|(name, description)| json!({"name": name, "description": description}))
        .collect();
    Ok(Json(json!({ "providers": providers })).into_response())
}

/// The provider named, or Octavia's refusal of an unknown one.
fn provider(name: &str) -> Result<(), ApiError> {
    if PROVIDERS.iter().any(|(p, _)| *p == name) {
        Ok(())
    } else {
        Err(LbError::Invalid(format!("Provider '{name}' is not enabled.")).into())
    }
}

/// No flavor capabilities: the proxy has no topologies or sizes.
pub async fn flavor_capabilities(
    service: Service,
    Caller(caller): Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    service.0.may_read(&caller)?;
    provider(&name)?;
    Ok(Json(json!({"flavor_capabilities": []})).into_response())
}

pub async fn zone_capabilities(
    service: Service,
    Caller(caller): Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    service.0.may_read(&caller)?;
    provider(&name)?;
    Ok(Json(json!({"availability_zone_capabilities": []})).into_response())
}

pub async fn quotas(State(service): Service, Caller(caller): Caller) -> Result<Response, ApiError> {
    let quotas = service.quotas(&caller).await?;
    Ok(Json(json!({"quotas": quotas, "quotas_links": []})).into_response())
}

pub async fn quota_defaults_doc(
    State(service): Service,
    Caller(caller): Caller,
) -> Result<Response, ApiError> {
    service.may_read(&caller)?;
    Ok(Json(json!({"quota": quota_defaults()})).into_response())
}

pub async fn quota(
    State(service): Service,
    Caller(caller): Caller,
    Path(project): Path<String>,
) -> Result<Response, ApiError> {
    let quota = service.quota(&caller, &project).await?;
    Ok(Json(json!({ "quota": quota })).into_response())
}

pub async fn set_quota(
    State(service): Service,
    Caller(caller): Caller,
    Path(project): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let changes: Map<String, Value> = oxistack_http::envelope(body, "quota")?;
    let quota = service.set_quota(&caller, &project, Some(changes)).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "quota": quota }))).into_response())
}

pub async fn reset_quota(
    State(service): Service,
    Caller(caller): Caller,
    Path(project): Path<String>,
) -> Result<StatusCode, ApiError> {
    service.set_quota(&caller, &project, None).await?;
    // Octavia's delete answers 202 with no body.
    Ok(StatusCode::ACCEPTED)
}
