//! HTTP handlers of the identity API, mounted at [`crate::MOUNT`]. They
//! only parse (bodies into the typed requests of [`crate::wire`], paths and
//! query strings into arguments) and render Keystone's documents; what a
//! request may do is the service's call to decide ([`crate::service`]), and
//! its refusals become Keystone's JSON error in `error.rs`.

mod app_credentials;
mod assignments;
mod auth;
mod catalog;
mod domains;
mod entity;
mod error;
mod groups;
mod projects;
mod roles;
mod users;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, middleware};
use oxistack_auth::TokenValidator;
use oxistack_http::{ApiError, ErrorStyle, MAX_JSON_BODY};
use serde_json::json;

use crate::IdentityService;
use crate::model;

/// What a handler answers: Keystone's JSON error on failure.
type Result<T> = std::result::Result<T, ApiError>;

type State = axum::extract::State<Arc<IdentityService>>;

/// The identity API's router. Everything but version discovery and token
/// issuance requires a valid token.
pub fn router(service: Arc<IdentityService>) -> Router {
    let validator: Arc<dyn TokenValidator> = service.clone();
    let authenticated = Router::new()
        .route("/v3/auth/tokens", get(auth::validate).delete(auth::revoke))
        .route("/v3/auth/catalog", get(auth::catalog))
        .route("/v3/auth/projects", get(auth::projects))
        .route("/v3/auth/domains", get(auth::domains))
        .route("/v3/auth/system", get(auth::system))
        .route(
            "/v3/domains",
            get(domains::list).post(entity::create::<model::Domain>),
        )
        .route(
            "/v3/domains/{id}",
            get(domains::show)
                .patch(entity::update::<model::Domain>)
                .delete(domains::delete),
        )
        .route(
            "/v3/projects",
            get(projects::list).post(entity::create::<model::Project>),
        )
        .route(
            "/v3/projects/{id}",
            get(projects::show)
                .patch(entity::update::<model::Project>)
                .delete(projects::delete),
        )
        .route("/v3/users", get(users::list).post(users::create))
        .route(
            "/v3/users/{id}",
            get(users::show).patch(users::update).delete(users::delete),
        )
        .route("/v3/users/{id}/password", post(users::change_password))
        .route("/v3/users/{id}/projects", get(users::projects))
        .route("/v3/users/{id}/groups", get(users::groups))
        .route(
            "/v3/users/{id}/application_credentials",
            get(app_credentials::list).post(app_credentials::create),
        )
        .route(
            "/v3/users/{id}/application_credentials/{credential_id}",
            get(app_credentials::show).delete(app_credentials::delete),
        )
        .route(
            "/v3/groups",
            get(groups::list).post(entity::create::<model::Group>),
        )
        .route(
            "/v3/groups/{id}",
            get(groups::show)
                .patch(entity::update::<model::Group>)
                .delete(groups::delete),
        )
        .route("/v3/groups/{id}/users", get(groups::members))
        .route(
            "/v3/groups/{id}/users/{user_id}",
            put(groups::add_member)
                .get(groups::check_member)
                .delete(groups::remove_member),
        )
        .route(
            "/v3/roles",
            get(roles::list).post(entity::create::<model::Role>),
        )
        .route(
            "/v3/roles/{id}",
            get(roles::show)
                .patch(entity::update::<model::Role>)
                .delete(roles::delete),
        )
        .route("/v3/roles/{id}/implies", get(roles::list_implied))
        .route(
            "/v3/roles/{id}/implies/{implied_id}",
            put(roles::add_implied)
                .get(roles::show_implied)
                .head(roles::check_implied)
                .delete(roles::remove_implied),
        )
        .route("/v3/role_inferences", get(roles::inferences))
        .route("/v3/role_assignments", get(assignments::list))
        .route("/v3/regions", get(catalog::list_regions))
        .route("/v3/regions/{id}", get(catalog::show_region))
        .route("/v3/services", get(catalog::list_services))
        .route("/v3/services/{id}", get(catalog::show_service))
        .route("/v3/endpoints", get(catalog::list_endpoints))
        .route("/v3/endpoints/{id}", get(catalog::show_endpoint))
        .merge(assignments::grant_routes())
        .route_layer(middleware::from_fn(move |request, next| {
            oxistack_auth::require_token(validator.clone(), request, next)
        }));
    Router::new()
        .route("/", get(versions))
        .route("/v3", get(version_v3))
        .route("/v3/", get(version_v3))
        .route("/v3/auth/tokens", post(auth::issue))
        .merge(authenticated)
        .fallback(|| async { ApiError::not_found("The resource could not be found.") })
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY))
        .layer(middleware::from_fn(|request, next| {
            oxistack_http::error_style_layer(ErrorStyle::Keystone, request, next)
        }))
        .with_state(service)
}

/// The identity API's versioned root as the client reached it, e.g.
/// `http://192.0.2.1/identity/v3`, for `links` in documents.
pub struct V3(pub String);

impl<S: Send + Sync> FromRequestParts<S> for V3 {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> std::result::Result<Self, ApiError> {
        Ok(V3(format!(
            "{}{}/v3",
            oxistack_http::base_url(&parts.headers),
            crate::MOUNT
        )))
    }
}

fn v3_version(v3: &str) -> serde_json::Value {
    json!({
        "id": "v3.14",
        "status": "stable",
        "updated": "2020-04-07T00:00:00Z",
        "links": [{"rel": "self", "href": format!("{v3}/")}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}],
    })
}

/// `GET /identity/`: Keystone answers 300 with the versions it serves.
async fn versions(V3(v3): V3) -> Response {
    (
        StatusCode::MULTIPLE_CHOICES,
        Json(json!({"versions": {"values": [v3_version(&v3)]}})),
    )
        .into_response()
}

async fn version_v3(V3(v3): V3) -> Json<serde_json::Value> {
    Json(json!({"version": v3_version(&v3)}))
}

/// Parses a boolean query filter the way Keystone does: true/false, yes/no,
/// 1/0, in any case.
fn parse_bool(field: &str, value: Option<&String>) -> Result<Option<bool>> {
    let Some(value) = value else { return Ok(None) };
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(Some(true)),
        "false" | "0" | "no" | "off" => Ok(Some(false)),
        _ => Err(ApiError::bad_request(format!(
            "Invalid value for query parameter '{field}': expected a boolean, got '{value}'."
        ))),
    }
}

/// A flag-style query parameter such as `?include_names` or
/// `?effective=True`: present without a value means true.
fn flag(query: &std::collections::HashMap<String, String>, name: &str) -> Result<bool> {
    match query.get(name) {
        Some(value) if value.is_empty() => Ok(true),
        other => Ok(parse_bool(name, other)?.unwrap_or(false)),
    }
}

/// 204 No Content, the answer to deletes and grants.
fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}
