//! The HTTP face of the networking service: routes, and the handlers that
//! turn requests into service calls and results into Neutron's documents.
//! Neutron's resources are uniform, so one set of handlers serves them
//! all, told which kind they serve by the route.

mod discovery;
mod quotas;
mod resources;
mod routers;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, put};
use axum::{Extension, Router};
use oxistack_auth::{TokenValidator, require_token};
use oxistack_http::{ErrorStyle, MAX_JSON_BODY, error_style_layer};

use crate::kind::Kind;
use crate::service::NetworkService;

type Service = axum::extract::State<Arc<NetworkService>>;

/// The networking API, to be nested at the cloud's networking endpoint
/// (`/networking`): version discovery at `/` without a token, the v2.0 API
/// under `/v2.0` with one, and every error in Neutron's format.
pub fn router(service: Arc<NetworkService>, validator: Arc<dyn TokenValidator>) -> Router {
    let mut v2 = Router::new()
        .route("/v2.0", get(discovery::resources))
        .route("/v2.0/extensions", get(discovery::extensions))
        .route("/v2.0/extensions/{alias}", get(discovery::extension))
        .route(
            "/v2.0/availability_zones",
            get(discovery::availability_zones),
        )
        .route("/v2.0/quotas", get(quotas::list))
        .route(
            "/v2.0/quotas/{project_id}",
            get(quotas::show).put(quotas::update).delete(quotas::reset),
        )
        .route("/v2.0/quotas/{project_id}/default", get(quotas::defaults))
        .route("/v2.0/quotas/{project_id}/details", get(quotas::details))
        .route(
            "/v2.0/routers/{id}/add_router_interface",
            put(routers::add_interface),
        )
        .route(
            "/v2.0/routers/{id}/remove_router_interface",
            put(routers::remove_interface),
        )
        .route(
            "/v2.0/routers/{id}/add_extraroutes",
            put(routers::add_extra_routes),
        )
        .route(
            "/v2.0/routers/{id}/remove_extraroutes",
            put(routers::remove_extra_routes),
        );
    for kind in Kind::ALL {
        let collection = format!("/v2.0/{}", kind.path());
        let member = get(resources::show).delete(resources::delete);
        // Rules cannot be changed, only replaced: no PUT (405).
        let member = if kind == Kind::SecurityGroupRule {
            member
        } else {
            member.put(resources::update)
        };
        v2 = v2
            .route(
                &collection,
                get(resources::list)
                    .post(resources::create)
                    .layer(Extension(kind)),
            )
            .route(
                &format!("{collection}/{{id}}"),
                member.layer(Extension(kind)),
            );
        if kind.taggable() {
            v2 = v2
                .route(
                    &format!("{collection}/{{id}}/tags"),
                    get(resources::tags)
                        .put(resources::replace_tags)
                        .post(resources::add_tags)
                        .delete(resources::clear_tags)
                        .layer(Extension(kind)),
                )
                .route(
                    &format!("{collection}/{{id}}/tags/{{tag}}"),
                    get(resources::has_tag)
                        .put(resources::add_tag)
                        .delete(resources::remove_tag)
                        .layer(Extension(kind)),
                );
        }
    }
    let v2 = v2
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY))
        .route_layer(axum::middleware::from_fn(move |request, next| {
            require_token(validator.clone(), request, next)
        }));
    Router::new()
        .route("/", get(discovery::versions))
        .merge(v2)
        .with_state(service)
        .layer(axum::middleware::from_fn(|request, next| {
            error_style_layer(ErrorStyle::Neutron, request, next)
        }))
}
