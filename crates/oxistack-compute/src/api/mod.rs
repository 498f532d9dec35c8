//! The HTTP face of the compute service: routes, and the handlers that
//! turn requests into service calls and results into Nova's documents.

mod actions;
mod consoles;
mod discovery;
mod error;
mod flavor_pages;
mod flavors;
mod groups;
mod host;
mod interfaces;
mod keypairs;
mod quotas;
mod server_data;
mod servers;
mod volumes;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, FromRequestParts, OriginalUri, Request};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Router};
use oxistack_auth::{TokenValidator, require_token};
use oxistack_http::microversion::{self, Microversion};
use oxistack_http::{ApiError, ErrorStyle, MAX_JSON_BODY, RequestId, base_url, error_style_layer};
use serde::Serialize;

use crate::ComputeService;
use crate::service::consoles::SERIAL_PROXY_PATH;
use crate::versions;
use crate::wire::{Urls, invalid};

const COMPUTE_REQUEST_ID: HeaderName = HeaderName::from_static("x-compute-request-id");

type Service = axum::extract::State<Arc<ComputeService>>;
type QueryPairs = axum::extract::Query<Vec<(String, String)>>;

/// The compute API, to be nested at the cloud's compute endpoint
/// (`/compute`): version discovery at `/` and `/v2.1` without a token, the
/// API under `/v2.1` with one, microversions negotiated on all of `/v2.1`,
/// the serial console proxy at `/serial-console` (its console token
/// authorises it, not `X-Auth-Token`), and every error in Nova's format.
pub fn router(service: Arc<ComputeService>, validator: Arc<dyn TokenValidator>) -> Router {
    let api = Router::new()
        .route("/v2.1/flavors", get(flavors::list).post(flavors::create))
        .route("/v2.1/flavors/detail", get(flavors::list_detail))
        .route(
            "/v2.1/flavors/{flavor_id}",
            get(flavors::show)
                .put(flavors::update)
                .delete(flavors::delete),
        )
        .route("/v2.1/flavors/{flavor_id}/action", post(flavors::action))
        .route(
            "/v2.1/flavors/{flavor_id}/os-flavor-access",
            get(flavors::access),
        )
        .route(
            "/v2.1/flavors/{flavor_id}/os-extra_specs",
            get(flavors::extra_specs).post(flavors::add_extra_specs),
        )
        .route(
            "/v2.1/flavors/{flavor_id}/os-extra_specs/{key}",
            get(flavors::extra_spec)
                .put(flavors::set_extra_spec)
                .delete(flavors::delete_extra_spec),
        )
        .route(
            "/v2.1/os-keypairs",
            get(keypairs::list).post(keypairs::create),
        )
        .route(
            "/v2.1/os-keypairs/{name}",
            get(keypairs::show).delete(keypairs::delete),
        )
        .route("/v2.1/servers", get(servers::list).post(servers::create))
        .route("/v2.1/servers/detail", get(servers::list_detail))
        .route(
            "/v2.1/servers/{server_id}",
            get(servers::show)
                .put(servers::update)
                .delete(servers::delete),
        )
        .route("/v2.1/servers/{server_id}/action", post(actions::perform))
        .route("/v2.1/servers/{server_id}/ips", get(servers::addresses))
        .route(
            "/v2.1/servers/{server_id}/remote-consoles",
            post(consoles::create),
        )
        .route(
            "/v2.1/servers/{server_id}/os-security-groups",
            get(servers::security_groups),
        )
        .route(
            "/v2.1/servers/{server_id}/ips/{network}",
            get(servers::network_addresses),
        )
        .route(
            "/v2.1/servers/{server_id}/metadata",
            get(server_data::metadata)
                .post(server_data::merge_metadata)
                .put(server_data::replace_metadata),
        )
        .route(
            "/v2.1/servers/{server_id}/metadata/{key}",
            get(server_data::metadata_item)
                .put(server_data::set_metadata_item)
                .delete(server_data::delete_metadata_item),
        )
        .route(
            "/v2.1/servers/{server_id}/tags",
            get(server_data::tags)
                .put(server_data::replace_tags)
                .delete(server_data::delete_tags),
        )
        .route(
            "/v2.1/servers/{server_id}/tags/{tag}",
            get(server_data::has_tag)
                .put(server_data::add_tag)
                .delete(server_data::delete_tag),
        )
        .route(
            "/v2.1/servers/{server_id}/os-interface",
            get(interfaces::list).post(interfaces::attach),
        )
        .route(
            "/v2.1/servers/{server_id}/os-interface/{port_id}",
            get(interfaces::show).delete(interfaces::detach),
        )
        .route(
            "/v2.1/servers/{server_id}/os-volume_attachments",
            get(volumes::list).post(volumes::attach),
        )
        .route(
            "/v2.1/servers/{server_id}/os-volume_attachments/{volume_id}",
            get(volumes::show)
                .put(volumes::update)
                .delete(volumes::detach),
        )
        .route(
            "/v2.1/os-server-groups",
            get(groups::list).post(groups::create),
        )
        .route(
            "/v2.1/os-server-groups/{group_id}",
            get(groups::show).delete(groups::delete),
        )
        .route("/v2.1/limits", get(quotas::limits))
        .route(
            "/v2.1/os-quota-sets/{project_id}",
            get(quotas::show).put(quotas::update).delete(quotas::reset),
        )
        .route(
            "/v2.1/os-quota-sets/{project_id}/defaults",
            get(quotas::defaults),
        )
        .route(
            "/v2.1/os-quota-sets/{project_id}/detail",
            get(quotas::detail),
        )
        .route("/v2.1/os-availability-zone", get(host::zones))
        .route("/v2.1/os-availability-zone/detail", get(host::zones_detail))
        .route("/v2.1/os-hypervisors", get(host::hypervisors))
        .route("/v2.1/os-hypervisors/detail", get(host::hypervisors_detail))
        .route(
            "/v2.1/os-hypervisors/{hypervisor_id}",
            get(host::hypervisor),
        )
        .route("/v2.1/os-services", get(host::services))
        .route("/v2.1/os-aggregates", get(host::aggregates))
        .route("/v2.1/os-migrations", get(host::migrations))
        .layer(Extension(Arc::new(flavor_pages::FlavorPages::default())))
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY))
        .route_layer(axum::middleware::from_fn(move |request, next| {
            require_token(validator.clone(), request, next)
        }))
        .route("/v2.1", get(discovery::version))
        .route_layer(axum::middleware::from_fn(|request, next| {
            microversion::negotiate(&versions::POLICY, request, next)
        }));
    Router::new()
        .route("/", get(discovery::versions))
        .route("/v2", get(discovery::legacy_version))
        .route(SERIAL_PROXY_PATH, get(consoles::serial_proxy))
        .merge(api)
        .fallback(|| async { ApiError::not_found("The resource could not be found.") })
        .with_state(service)
        .layer(axum::middleware::from_fn(|request, next| {
            error_style_layer(ErrorStyle::Nova, request, next)
        }))
        .layer(axum::middleware::from_fn(compute_request_id))
}

/// Nova answers a request's id under its own name too, and clients (and
/// Tempest's instance-action tests) read that one.
async fn compute_request_id(request: Request, next: Next) -> Response {
    let id = request.extensions().get::<RequestId>().cloned();
    let mut response = next.run(request).await;
    if let Some(value) = id.and_then(|RequestId(id)| HeaderValue::from_str(&id).ok()) {
        response.headers_mut().insert(COMPUTE_REQUEST_ID, value);
    }
    response
}

/// The path the request was made to, before any nesting stripped it.
fn original_path(parts: &Parts) -> String {
    parts
        .extensions
        .get::<OriginalUri>()
        .map_or_else(|| parts.uri.path().to_owned(), |uri| uri.path().to_owned())
}

impl<S: Send + Sync> FromRequestParts<S> for Urls {
    type Rejection = ApiError;

    /// The API's roots as the client reached them: everything before
    /// `/v2.1` (or a final `/v2`) in the request's path is where the
    /// service is mounted.
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let path = original_path(parts);
        let mount = match path.find("/v2.1") {
            Some(index) => &path[..index],
            None => {
                let path = path.trim_end_matches('/');
                path.strip_suffix("/v2").unwrap_or(path)
            }
        };
        let bookmark = format!("{}{mount}", base_url(&parts.headers));
        Ok(Urls {
            api: format!("{bookmark}/v2.1"),
            bookmark,
        })
    }
}

/// `{"<key>": value}`, the envelope of most Nova documents.
struct Envelope<T> {
    key: &'static str,
    value: T,
}

impl<T: Serialize> Serialize for Envelope<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry(self.key, &self.value)?;
        map.end()
    }
}

fn envelope<T: Serialize>(key: &'static str, value: T) -> axum::Json<Envelope<T>> {
    axum::Json(Envelope { key, value })
}

/// 404 for a method a microversion does not have, as Nova answers it.
fn not_in_version(version: Microversion) -> ApiError {
    ApiError::not_found(format!(
        "API version {version} is not supported on this method."
    ))
}
