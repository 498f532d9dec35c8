//! The HTTP face of the volume service: Cinder v3's routes under both
//! `/v3/{project_id}` (the catalog's URL, as DevStack registers it) and
//! `/v3` (project-less URLs, Cinder 3.67+), version discovery without a
//! token, microversion negotiation (`OpenStack-API-Version: volume 3.x`
//! or the legacy `OpenStack-Volume-microversion`), and every error in
//! Cinder's fault format.

mod discovery;
mod error;
mod handlers;
mod metadata;
mod resources;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts, OriginalUri};
use axum::http::HeaderName;
use axum::http::request::Parts;
use axum::routing::{get, post};
use oxistack_auth::{Caller, TokenValidator, require_token};
use oxistack_http::microversion::{self, Microversion, MicroversionPolicy};
use oxistack_http::{ApiError, ErrorStyle, MAX_JSON_BODY, base_url, error_style_layer};

use oxistack_auth::AuthContext;

use crate::service::{VolumeService, is_admin};
use crate::wire::views::View;

type Service = axum::extract::State<Arc<VolumeService>>;
type Routes = Router<Arc<VolumeService>>;

pub const MIN: Microversion = Microversion::new(3, 0);
/// Cinder's `_MAX_API_VERSION`.
pub const MAX: Microversion = Microversion::new(3, 71);

pub static POLICY: MicroversionPolicy = MicroversionPolicy {
    service_type: "volume",
    legacy_header: Some(HeaderName::from_static("openstack-volume-microversion")),
    min: MIN,
    max: MAX,
};

/// The volume API, to be nested at the cloud's volume endpoint
/// (`/volume`).
pub fn router(service: Arc<VolumeService>, validator: Arc<dyn TokenValidator>) -> Router {
    let api = ["/v3/{project_id}", "/v3"]
        .into_iter()
        .fold(Router::new(), v3)
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY))
        .route_layer(axum::middleware::from_fn(move |request, next| {
            require_token(validator.clone(), request, next)
        }))
        .route("/v3", get(discovery::versions))
        .route("/v3/{project_id}", get(discovery::versions))
        .route_layer(axum::middleware::from_fn(|request, next| {
            microversion::negotiate(&POLICY, request, next)
        }));
    Router::new()
        .route("/", get(discovery::all_versions))
        .merge(api)
        .fallback(|| async { ApiError::not_found("The resource could not be found.") })
        .with_state(service)
        .layer(axum::middleware::from_fn(|request, next| {
            error_style_layer(ErrorStyle::Nova, request, next)
        }))
}

/// Every route of the API under `prefix`.
fn v3(routes: Routes, prefix: &str) -> Routes {
    let at = |path: &str| format!("{prefix}{path}");
    use handlers as h;
    use metadata as m;
    use resources as r;
    routes
        .route(
            &at("/volumes"),
            get(h::list_volumes::<false>)
                .post(h::create_volume)
                .layer(axum::middleware::from_fn(empty_volume_id)),
        )
        .route(&at("/volumes/detail"), get(h::list_volumes::<true>))
        .route(&at("/volumes/summary"), get(h::volume_summary))
        .route(
            &at("/volumes/{id}"),
            get(h::show_volume)
                .put(h::update_volume)
                .delete(h::delete_volume),
        )
        .route(&at("/volumes/{id}/action"), post(h::volume_action))
        .route(
            &at("/volumes/{id}/metadata"),
            get(m::metadata::<m::OfVolume>)
                .post(m::set_metadata::<m::OfVolume, false>)
                .put(m::set_metadata::<m::OfVolume, true>),
        )
        .route(
            &at("/volumes/{id}/metadata/{key}"),
            get(m::meta_item::<m::OfVolume>)
                .put(m::set_meta_item::<m::OfVolume>)
                .delete(m::delete_meta_item::<m::OfVolume>),
        )
        .route(
            &at("/snapshots"),
            get(r::list_snapshots::<false>).post(r::create_snapshot),
        )
        .route(&at("/snapshots/detail"), get(r::list_snapshots::<true>))
        .route(
            &at("/snapshots/{id}"),
            get(r::show_snapshot)
                .put(r::update_snapshot)
                .delete(r::delete_snapshot),
        )
        .route(&at("/snapshots/{id}/action"), post(r::snapshot_action))
        .route(
            &at("/snapshots/{id}/metadata"),
            get(m::metadata::<m::OfSnapshot>)
                .post(m::set_metadata::<m::OfSnapshot, false>)
                .put(m::set_metadata::<m::OfSnapshot, true>),
        )
        .route(
            &at("/snapshots/{id}/metadata/{key}"),
            get(m::meta_item::<m::OfSnapshot>)
                .put(m::set_meta_item::<m::OfSnapshot>)
                .delete(m::delete_meta_item::<m::OfSnapshot>),
        )
        .route(
            &at("/attachments"),
            get(r::list_attachments::<false>).post(r::create_attachment),
        )
        .route(&at("/attachments/detail"), get(r::list_attachments::<true>))
        .route(
            &at("/attachments/{id}"),
            get(r::show_attachment)
                .put(r::update_attachment)
                .delete(r::delete_attachment),
        )
        .route(&at("/attachments/{id}/action"), post(r::attachment_action))
        .route(&at("/types"), get(r::list_types).post(r::create_type))
        .route(
            &at("/types/{id}"),
            get(r::show_type).put(r::update_type).delete(r::delete_type),
        )
        .route(
            &at("/types/{id}/extra_specs"),
            get(r::extra_specs).post(r::set_extra_specs),
        )
        .route(
            &at("/types/{id}/extra_specs/{key}"),
            get(r::extra_spec)
                .put(r::set_extra_spec)
                .delete(r::delete_extra_spec),
        )
        .route(
            &at("/types/{id}/os-volume-type-access"),
            get(r::type_access),
        )
        .route(&at("/types/{id}/action"), post(r::type_action))
        .route(
            &at("/os-quota-sets/{target}"),
            get(discovery::quotas)
                .put(discovery::set_quotas)
                .delete(discovery::reset_quotas),
        )
        .route(
            &at("/os-quota-sets/{target}/defaults"),
            get(discovery::default_quotas),
        )
        .route(
            &at("/os-quota-class-sets/{target}"),
            get(discovery::quota_class).put(discovery::set_quota_class),
        )
        .route(&at("/limits"), get(discovery::limits))
        .route(&at("/os-availability-zone"), get(discovery::zones))
        .route(&at("/os-services"), get(discovery::services))
        .route(&at("/extensions"), get(discovery::extensions))
        .route(&at("/scheduler-stats/get_pools"), get(discovery::pools))
        .route(&at("/capabilities/{host}"), get(discovery::capabilities))
        .route(&at("/os-hosts"), get(discovery::hosts))
        .route(&at("/os-hosts/{host}"), get(discovery::host))
        .route(&at("/backups"), get(discovery::backups))
        .route(&at("/backups/detail"), get(discovery::backups))
}

/// `/volumes/` names a volume with an empty id, as in Cinder: a 404 for
/// every method, not the list or a 405. The binary trims the slash before
/// routing and marks the request (`oxistack_http::TrailingSlash`).
async fn empty_volume_id(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    if request
        .extensions()
        .get::<oxistack_http::TrailingSlash>()
        .is_some()
    {
        return axum::response::IntoResponse::into_response(ApiError::not_found(
            "The resource could not be found.",
        ));
    }
    next.run(request).await
}

/// What every resource handler starts from: the service, who calls it,
/// and how this request sees documents (extracted in that order, as the
/// separate extractors were).
pub struct Call {
    service: Arc<VolumeService>,
    caller: Arc<AuthContext>,
    view: View,
}

impl FromRequestParts<Arc<VolumeService>> for Call {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<VolumeService>,
    ) -> Result<Self, ApiError> {
        let Caller(caller) = Caller::from_request_parts(parts, state).await?;
        let view = View::from_request_parts(parts, state).await?;
        Ok(Call {
            service: state.clone(),
            caller,
            view,
        })
    }
}

/// Path parameters by name (the project id in the path is ignored: the
/// token's project decides, as with Cinder's policy).
pub struct Params(HashMap<String, String>);

impl Params {
    fn get(&self, name: &str) -> &str {
        self.0.get(name).map(String::as_str).unwrap_or_default()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let axum::extract::Path(map) =
            axum::extract::Path::<HashMap<String, String>>::from_request_parts(parts, state)
                .await
                .map_err(|e| ApiError::bad_request(e.body_text()))?;
        Ok(Params(map))
    }
}

/// How this request sees documents: microversion, role and URLs.
impl<S: Send + Sync> FromRequestParts<S> for View {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let version = Microversion::from_request_parts(parts, state).await?;
        let Caller(caller) = Caller::from_request_parts(parts, state).await?;
        let path = parts
            .extensions
            .get::<OriginalUri>()
            .map_or_else(|| parts.uri.path().to_owned(), |u| u.path().to_owned());
        // Everything up to `/v3` and the project id after it, if any.
        let (root, rest) = match path.find("/v3") {
            Some(at) => (&path[..at], &path[at + 3..]),
            None => ("", path.as_str()),
        };
        let project = rest
            .trim_start_matches('/')
            .split('/')
            .next()
            .filter(|first| !first.is_empty() && !is_collection(first))
            .map(|p| format!("/{p}"))
            .unwrap_or_default();
        let base = base_url(&parts.headers);
        Ok(View {
            version,
            admin: is_admin(&caller),
            api: format!("{base}{root}/v3{project}"),
            bookmark: format!("{base}{root}{project}"),
        })
    }
}

fn is_collection(segment: &str) -> bool {
    matches!(
        segment,
        "volumes"
            | "snapshots"
            | "attachments"
            | "types"
            | "os-quota-sets"
            | "os-quota-class-sets"
            | "limits"
            | "os-availability-zone"
            | "os-services"
            | "extensions"
            | "scheduler-stats"
            | "capabilities"
            | "os-hosts"
            | "backups"
    )
}
