//! The HTTP face of the load-balancer service: Octavia's routes, under
//! both `/v2` and `/v2.0` as Octavia serves them, and the handlers that
//! turn requests into service calls and results into Octavia's documents.

mod discovery;
mod error;
mod handlers;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, put};
use oxistack_auth::{TokenValidator, require_token};
use oxistack_http::{ErrorStyle, MAX_JSON_BODY, error_style_layer};

use crate::model::Kind;
use crate::service::LoadBalancerService;

type Service = axum::extract::State<Arc<LoadBalancerService>>;
type Routes = Router<Arc<LoadBalancerService>>;

/// The load-balancer API, to be nested at the cloud's load-balancer
/// endpoint (`/load-balancer`): version discovery at `/` without a token,
/// the v2 API under `/v2` and `/v2.0` with one, every error in Octavia's
/// format.
pub fn router(service: Arc<LoadBalancerService>, validator: Arc<dyn TokenValidator>) -> Router {
    let api = ["/v2", "/v2.0"]
        .into_iter()
        .fold(Router::new(), v2)
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY))
        .route_layer(axum::middleware::from_fn(move |request, next| {
            require_token(validator.clone(), request, next)
        }));
    Router::new()
        .route("/", get(discovery::versions))
        .merge(api)
        .with_state(service)
        .layer(axum::middleware::from_fn(|request, next| {
            error_style_layer(ErrorStyle::Octavia, request, next)
        }))
}

/// Every route of the API under `prefix`.
fn v2(routes: Routes, prefix: &str) -> Routes {
    let lbaas = format!("{prefix}/lbaas");
    let routes = catalog::<{ handlers::FLAVOR_PROFILE }>(routes, &lbaas, "flavorprofiles");
    let routes = catalog::<{ handlers::FLAVOR }>(routes, &lbaas, "flavors");
    let routes = catalog::<{ handlers::ZONE_PROFILE }>(routes, &lbaas, "availabilityzoneprofiles");
    let routes = catalog::<{ handlers::ZONE }>(routes, &lbaas, "availabilityzones");
    routes
        .route(prefix, get(discovery::root))
        .route(&lbaas, get(discovery::root))
        .route(&format!("{prefix}/octavia"), get(discovery::root))
        .route(
            &format!("{prefix}/octavia/amphorae"),
            get(discovery::amphorae),
        )
        .route(&format!("{lbaas}/providers"), get(discovery::providers))
        .route(
            &format!("{lbaas}/providers/{{provider}}/flavor_capabilities"),
            get(discovery::flavor_capabilities),
        )
        .route(
            &format!("{lbaas}/providers/{{provider}}/availability_zone_capabilities"),
            get(discovery::zone_capabilities),
        )
        .route(&format!("{lbaas}/quotas"), get(discovery::quotas))
        .route(
            &format!("{lbaas}/quotas/defaults"),
            get(discovery::quota_defaults_doc),
        )
        .route(
            &format!("{lbaas}/quotas/{{project_id}}"),
            get(discovery::quota)
                .put(discovery::set_quota)
                .delete(discovery::reset_quota),
        )
        .route(
            &format!("{lbaas}/loadbalancers"),
            get(handlers::list_load_balancers).post(handlers::create_load_balancer),
        )
        .route(
            &format!("{lbaas}/loadbalancers/{{id}}"),
            get(handlers::show::<LB>)
                .put(handlers::update_load_balancer)
                .delete(handlers::delete_load_balancer),
        )
        .route(
            &format!("{lbaas}/loadbalancers/{{id}}/stats"),
            get(handlers::stats::<LB>),
        )
        .route(
            &format!("{lbaas}/loadbalancers/{{id}}/status"),
            get(handlers::status),
        )
        .route(
            &format!("{lbaas}/loadbalancers/{{id}}/failover"),
            put(handlers::failover),
        )
        .route(
            &format!("{lbaas}/listeners"),
            get(handlers::list::<LISTENER>).post(handlers::create_listener),
        )
        .route(
            &format!("{lbaas}/listeners/{{id}}"),
            get(handlers::show::<LISTENER>)
                .put(handlers::update_listener)
                .delete(handlers::delete::<LISTENER>),
        )
        .route(
            &format!("{lbaas}/listeners/{{id}}/stats"),
            get(handlers::stats::<LISTENER>),
        )
        .route(
            &format!("{lbaas}/pools"),
            get(handlers::list::<POOL>).post(handlers::create_pool),
        )
        .route(
            &format!("{lbaas}/pools/{{id}}"),
            get(handlers::show::<POOL>)
                .put(handlers::update_pool)
                .delete(handlers::delete::<POOL>),
        )
        .route(
            &format!("{lbaas}/pools/{{id}}/members"),
            get(handlers::list_members)
                .post(handlers::create_member)
                .put(handlers::replace_members),
        )
        .route(
            &format!("{lbaas}/pools/{{id}}/members/{{member_id}}"),
            get(handlers::show_member)
                .put(handlers::update_member)
                .delete(handlers::delete_member),
        )
        .route(
            &format!("{lbaas}/healthmonitors"),
            get(handlers::list::<MONITOR>).post(handlers::create_monitor),
        )
        .route(
            &format!("{lbaas}/healthmonitors/{{id}}"),
            get(handlers::show::<MONITOR>)
                .put(handlers::update_monitor)
                .delete(handlers::delete::<MONITOR>),
        )
        .route(
            &format!("{lbaas}/l7policies"),
            get(handlers::list::<L7POLICY>).post(handlers::create_policy),
        )
        .route(
            &format!("{lbaas}/l7policies/{{id}}"),
            get(handlers::show::<L7POLICY>)
                .put(handlers::update_policy)
                .delete(handlers::delete::<L7POLICY>),
        )
        .route(
            &format!("{lbaas}/l7policies/{{id}}/rules"),
            get(handlers::list_rules).post(handlers::create_rule),
        )
        .route(
            &format!("{lbaas}/l7policies/{{id}}/rules/{{rule_id}}"),
            get(handlers::show_rule)
                .put(handlers::update_rule)
                .delete(handlers::delete_rule),
        )
}

/// The routes of catalog `C` at `{lbaas}/{path}`.
fn catalog<const C: u8>(routes: Routes, lbaas: &str, path: &str) -> Routes {
    routes
        .route(
            &format!("{lbaas}/{path}"),
            get(handlers::list_catalog::<C>).post(handlers::create_catalog::<C>),
        )
        .route(
            &format!("{lbaas}/{path}/{{id}}"),
            get(handlers::show_catalog::<C>)
                .put(handlers::update_catalog::<C>)
                .delete(handlers::delete_catalog::<C>),
        )
}

/// The kinds, as const parameters of the generic handlers.
const LB: u8 = 0;
const LISTENER: u8 = 1;
const POOL: u8 = 2;
const MONITOR: u8 = 3;
const L7POLICY: u8 = 4;

fn kind(k: u8) -> Kind {
    match k {
        LB => Kind::LoadBalancer,
        LISTENER => Kind::Listener,
        POOL => Kind::Pool,
        MONITOR => Kind::HealthMonitor,
        _ => Kind::L7Policy,
    }
}
