//! `/servers`: list, show, create, update, delete, and addresses.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use oxistack_auth::{AuthContext, Caller};
use oxistack_http::microversion::Microversion;
use oxistack_http::{ApiError, JsonBody};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{QueryPairs, Service, envelope, invalid};
use crate::model::Server;
use crate::query::ServerListing;
use crate::service::{ServerUpdate, ServerVisibility};
use crate::validate::{
    access_address, since, validate_description, validate_hostname, validate_name,
};
use crate::versions::{DESCRIPTION, HOSTNAME};
use crate::wire::create_server::CreateRequest;
use crate::wire::present;
use crate::wire::servers::{
    CreatedServer, ServerSummary, Shape, ViewContext, addresses as address_map, server_view,
};
use crate::wire::{Link, SecurityGroupView, Urls};

#[derive(Serialize)]
struct ServerPage<T> {
    servers: Vec<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    servers_links: Option<Vec<Link>>,
}

/// What shapes server documents for this caller and version.
pub fn view_context<'a>(
    caller: &AuthContext,
    version: Microversion,
    urls: &'a Urls,
) -> ViewContext<'a> {
    let visibility = ServerVisibility::of(caller);
    ViewContext {
        version,
        urls,
        host_details: visibility.host_details,
        extra_specs: visibility.extra_specs,
    }
}

pub async fn list(
    State(service): Service,
    Caller(caller): Caller,
    version: Microversion,
    urls: Urls,
    Query(pairs): QueryPairs,
) -> Result<Response, ApiError> {
    let listing = ServerListing::parse(&pairs, version)?;
    let limit = listing.limit;
    let listed = service.list_servers(&caller, listing, false).await?;
    Ok(Json(ServerPage {
        servers: listed
            .servers
            .iter()
            .map(|s| ServerSummary::new(s, &urls))
            .collect(),
        servers_links: urls.page_links("servers", &pairs, &listed.servers, limit, |s| &s.id),
    })
    .into_response())
}

pub async fn list_detail(
    State(service): Service,
    Caller(caller): Caller,
    version: Microversion,
    urls: Urls,
    Query(pairs): QueryPairs,
) -> Result<Response, ApiError> {
    let listing = ServerListing::parse(&pairs, version)?;
    let limit = listing.limit;
    let listed = service.list_servers(&caller, listing, true).await?;
    let context = view_context(&caller, version, &urls);
    Ok(Json(ServerPage {
        servers: listed
            .servers
            .iter()
            .map(|s| server_view(s, listed.ports(&s.id), &context, Shape::Detail))
            .collect(),
        servers_links: urls.page_links("servers/detail", &pairs, &listed.servers, limit, |s| &s.id),
    })
    .into_response())
}

pub async fn show(
    State(service): Service,
    Caller(caller): Caller,
    version: Microversion,
    urls: Urls,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (server, ports) = service.show_server(&caller, &id).await?;
    let context = view_context(&caller, version, &urls);
    Ok(envelope(
        "server",
        server_view(&server, &ports, &context, Shape::Show),
    )
    .into_response())
}

/// `POST /servers`: 202 with the first server (and its admin password),
/// or just the reservation id when asked.
pub async fn create(
    State(service): Service,
    Caller(caller): Caller,
    version: Microversion,
    urls: Urls,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let request = CreateRequest::parse(body, version)?;
    let created = service.create_servers(&caller, request).await?;
    if created.return_reservation_id {
        return Ok((
            StatusCode::ACCEPTED,
            Json(json!({"reservation_id": created.reservation_id})),
        )
            .into_response());
    }
    let first: &Server = created
        .servers
        .first()
        .ok_or_else(|| ApiError::internal("a create admitted no server"))?;
    let document = CreatedServer::new(first, &urls, Some(&created.admin_pass));
    let mut response = (StatusCode::ACCEPTED, envelope("server", document)).into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("{}/servers/{}", urls.api, first.id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerChange {
    #[serde(default, deserialize_with = "present")]
    name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    description: Option<Option<String>>,
    hostname: Option<String>,
    #[serde(rename = "accessIPv4")]
    access_ipv4: Option<String>,
    #[serde(rename = "accessIPv6")]
    access_ipv6: Option<String>,
    #[serde(rename = "OS-DCF:diskConfig")]
    disk_config: Option<String>,
}

/// `PUT /servers/{id}`: renames, describes, readdresses.
pub async fn update(
    State(service): Service,
    Caller(caller): Caller,
    version: Microversion,
    urls: Urls,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let change: ServerChange = oxistack_http::envelope(body, "server")?;
    let name = match change.name {
        Some(None) => return Err(invalid("server.name", "None is not of type 'string'")),
        Some(Some(name)) => {
            validate_name("server.name", &name)?;
            Some(name)
        }
        None => None,
    };
    since(
        "server.description",
        change.description.is_some(),
        version,
        DESCRIPTION,
    )?;
    if let Some(description) = &change.description {
        validate_description("server.description", description.as_deref())?;
    }
    since(
        "server.hostname",
        change.hostname.is_some(),
        version,
        HOSTNAME,
    )?;
    if let Some(hostname) = &change.hostname {
        validate_hostname("server.hostname", hostname, version)?;
    }
    if let Some(config) = change
        .disk_config
        .as_deref()
        .filter(|c| !matches!(*c, "AUTO" | "MANUAL"))
    {
        return Err(invalid(
            "server.OS-DCF:diskConfig",
            format!("'{config}' is not AUTO or MANUAL."),
        ));
    }
    let address = |field: &str, address: Option<String>, v4: bool| {
        address.map(|a| access_address(field, &a, v4)).transpose()
    };
    let update = ServerUpdate {
        name,
        description: change.description,
        hostname: change.hostname,
        access_ipv4: address("server.accessIPv4", change.access_ipv4, true)?,
        access_ipv6: address("server.accessIPv6", change.access_ipv6, false)?,
        disk_config: change.disk_config,
    };
    let (server, ports) = service.update_server(&caller, &id, update).await?;
    let context = view_context(&caller, version, &urls);
    Ok(envelope(
        "server",
        server_view(&server, &ports, &context, Shape::Update),
    )
    .into_response())
}

pub async fn delete(
    State(service): Service,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    service.delete_server(&caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /servers/{id}/ips`.
pub async fn addresses(
    State(service): Service,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (_, ports) = service.show_server(&caller, &id).await?;
    Ok(envelope("addresses", address_map(&ports, false)).into_response())
}

/// `GET /servers/{id}/ips/{network}`: the addresses on one network.
pub async fn network_addresses(
    State(service): Service,
    Caller(caller): Caller,
    Path((id, network)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (_, ports) = service.show_server(&caller, &id).await?;
    let mut by_network = address_map(&ports, false);
    let addresses = by_network
        .remove(network.as_str())
        .ok_or_else(|| ApiError::not_found("Instance is not a member of specified network"))?;
    Ok(Json(std::collections::BTreeMap::from([(network, addresses)])).into_response())
}

/// `GET /servers/{id}/os-security-groups`, at every microversion.
pub async fn security_groups(
    State(service): Service,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let groups = service.server_security_groups(&caller, &id).await?;
    let views: Vec<SecurityGroupView> = groups.iter().map(SecurityGroupView::new).collect();
    Ok(envelope("security_groups", views).into_response())
}
