//! `/servers/{id}/os-interface`: the ports plugged into a server.

use std::net::IpAddr;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use oxistack_auth::Caller;
use oxistack_http::microversion::Microversion;
use oxistack_http::{ApiError, JsonBody};
use serde::Deserialize;
use serde_json::Value;

use super::{Service, envelope, invalid};
use crate::service::Attachment;
use crate::validate::since;
use crate::versions::TAGGED_ATTACH;
use crate::wire::InterfaceView;

pub async fn list(
    State(service): Service,
    Caller(caller): Caller,
    version: Microversion,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (_, ports) = service.show_server(&caller, &id).await?;
    let views: Vec<InterfaceView> = ports
        .iter()
        .map(|p| InterfaceView::new(p, version))
        .collect();
    Ok(envelope("interfaceAttachments", views).into_response())
}

pub async fn show(
    State(service): Service,
    Caller(caller): Caller,
    version: Microversion,
    Path((id, port_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (_, ports) = service.show_server(&caller, &id).await?;
    let port = ports
        .iter()
        .find(|p| p.id == port_id)
        .ok_or_else(|| ApiError::not_found(format!("Port {port_id} could not be found.")))?;
    Ok(envelope("interfaceAttachment", InterfaceView::new(port, version)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewInterface {
    net_id: Option<String>,
    port_id: Option<String>,
    fixed_ips: Option<Vec<RequestedFixedIp>>,
    tag: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestedFixedIp {
    ip_address: String,
}

/// `POST /servers/{id}/os-interface`: a new port on a network (the
/// project's only one if none is named), or an existing port.
pub async fn attach(
    State(service): Service,
    Caller(caller): Caller,
    version: Microversion,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let request: NewInterface = oxistack_http::envelope(body, "interfaceAttachment")?;
    since(
        "interfaceAttachment.tag",
        request.tag.is_some(),
        version,
        TAGGED_ATTACH,
    )?;
    let fixed_ip = match request.fixed_ips.as_deref() {
        None | Some([]) => None,
        Some([requested]) => Some(requested.ip_address.parse::<IpAddr>().map_err(|_| {
            invalid(
                "interfaceAttachment.fixed_ips[0].ip_address",
                format!("'{}' is not an IP address.", requested.ip_address),
            )
        })?),
        Some(_) => {
            return Err(invalid(
                "interfaceAttachment.fixed_ips",
                "give at most one address.",
            ));
        }
    };
    let attachment = match (request.net_id, request.port_id) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "Must not input both network_id and port_id",
            ));
        }
        (None, Some(_)) if fixed_ip.is_some() => {
            return Err(ApiError::bad_request(
                "Fixed IPs can only be given with a net_id.",
            ));
        }
        (None, Some(port)) => Attachment::Port(port),
        (network_id, None) => Attachment::Network {
            network_id,
            fixed_ip,
        },
    };
    let port = service.attach_interface(&caller, &id, attachment).await?;
    Ok(envelope("interfaceAttachment", InterfaceView::new(&port, version)).into_response())
}

pub async fn detach(
    State(service): Service,
    Caller(caller): Caller,
    Path((id, port_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    service.detach_interface(&caller, &id, &port_id).await?;
    Ok(StatusCode::ACCEPTED)
}
