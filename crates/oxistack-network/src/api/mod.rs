//! The HTTP face of the networking service: routes, and the handlers that
//! turn requests into service calls and results into Neutron's documents.
//! Neutron's resources are uniform, so one set of generic handlers serves
//! them all, instantiated per kind of resource by the routes.

mod discovery;
mod error;
mod quotas;
mod resources;
mod routers;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, put};
use oxistack_auth::{TokenValidator, require_token};
use oxistack_http::{ErrorStyle, MAX_JSON_BODY, error_style_layer};

use crate::model::{
    FloatingIp, Network, Port, Router as NetworkRouter, Rule, SecurityGroup, Subnet,
};
use crate::service::{NetworkService, Resource, Updatable};

type Service = axum::extract::State<Arc<NetworkService>>;

/// The networking API, to be nested at the cloud's networking endpoint
/// (`/networking`): version discovery at `/` without a token, the v2.0 API
/// under `/v2.0` with one, and every error in Neutron's format.
pub fn router(service: Arc<NetworkService>, validator: Arc<dyn TokenValidator>) -> Router {
    let v2 = Router::new()
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
    // Rules cannot be changed, only replaced: no PUT (405).
    let v2 = updatable::<Network>(v2);
    let v2 = updatable::<Subnet>(v2);
    let v2 = updatable::<Port>(v2);
    let v2 = updatable::<NetworkRouter>(v2);
    let v2 = updatable::<FloatingIp>(v2);
    let v2 = updatable::<SecurityGroup>(v2);
    let v2 = resource::<Rule>(v2);
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

type Routes = Router<Arc<NetworkService>>;

/// The routes of a kind of resource: its collection, its members and, if
/// it has them, its tags.
fn resource<R: Resource>(routes: Routes) -> Routes {
    let collection = format!("/v2.0/{}", R::KIND.path());
    let routes = routes
        .route(
            &collection,
            get(resources::list::<R>).post(resources::create::<R>),
        )
        .route(
            &format!("{collection}/{{id}}"),
            get(resources::show::<R>).delete(resources::delete::<R>),
        );
    if !R::KIND.taggable() {
        return routes;
    }
    routes
        .route(
            &format!("{collection}/{{id}}/tags"),
            get(resources::tags::<R>)
                .put(resources::replace_tags::<R>)
                .post(resources::add_tags::<R>)
                .delete(resources::clear_tags::<R>),
        )
        .route(
            &format!("{collection}/{{id}}/tags/{{tag}}"),
            get(resources::has_tag::<R>)
                .put(resources::add_tag::<R>)
                .delete(resources::remove_tag::<R>),
        )
}

/// [`resource`]'s routes, and `PUT` on its members.
fn updatable<R: Updatable>(routes: Routes) -> Routes {
    let member = format!("/v2.0/{}/{{id}}", R::KIND.path());
    resource::<R>(routes).route(&member, put(resources::update::<R>))
}
