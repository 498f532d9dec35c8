//! `/v3/auth/*`: issuing, validating and revoking tokens, and what a token
//! gives access to.

use std::collections::HashMap;

use axum::Json;
use axum::extract::Query;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use oxistack_auth::{AuthContext, Caller, Scope};
use oxistack_http::{ApiError, JsonBody, envelope};
use serde_json::{Value, json};

use super::catalog::token_catalog;
use super::entity::Document;
use super::projects::project_list;
use super::{Result, State, V3, flag, no_content};
use crate::model::catalog::Endpoint;
use crate::token::format_time;
use crate::wire::{Auth, collection};

const SUBJECT_TOKEN: &str = "x-subject-token";

/// A token document answered with the token it is about in
/// `X-Subject-Token`.
fn token_response(
    status: StatusCode,
    token: &str,
    context: &AuthContext,
    catalog: Option<Vec<Endpoint>>,
) -> Result<Response> {
    let mut response = (status, Json(token_document(context, catalog))).into_response();
    let value = HeaderValue::from_str(token).map_err(ApiError::internal)?;
    response.headers_mut().insert(SUBJECT_TOKEN, value);
    Ok(response)
}

/// `POST /v3/auth/tokens`
pub async fn issue(
    axum::extract::State(service): State,
    Query(query): Query<HashMap<String, String>>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response> {
    let auth: Auth = envelope(body, "auth")?;
    let with_catalog = !flag(&query, "nocatalog")?;
    let issued = service.issue_token(auth, with_catalog).await?;
    token_response(
        StatusCode::CREATED,
        &issued.token,
        &issued.context,
        issued.catalog,
    )
}

/// The token a validation or revocation request is about.
fn subject_token(headers: &HeaderMap) -> Result<&str> {
    headers
        .get(SUBJECT_TOKEN)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::bad_request("The X-Subject-Token header is required."))
}

/// `GET` and `HEAD /v3/auth/tokens`
pub async fn validate(
    axum::extract::State(service): State,
    caller: Caller,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response> {
    let subject = subject_token(&headers)?;
    let with_catalog = !flag(&query, "nocatalog")?;
    let validated = service
        .validate_token(&caller, subject, with_catalog)
        .await?;
    token_response(
        StatusCode::OK,
        subject,
        &validated.context,
        validated.catalog,
    )
}

/// `DELETE /v3/auth/tokens`
pub async fn revoke(
    axum::extract::State(service): State,
    caller: Caller,
    headers: HeaderMap,
) -> Result<Response> {
    service
        .revoke_token(&caller, subject_token(&headers)?)
        .await?;
    Ok(no_content())
}

/// The token document Keystone returns on issue and validation.
fn token_document(context: &AuthContext, catalog: Option<Vec<Endpoint>>) -> Value {
    let mut token = json!({
        "methods": context.methods,
        "user": {
            "domain": {"id": context.user_domain.id, "name": context.user_domain.name},
            "id": context.user.id,
            "name": context.user.name,
            "password_expires_at": null,
        },
        "audit_ids": [context.audit_id],
        "expires_at": format_time(context.expires_at),
        "issued_at": format_time(context.issued_at),
    });
    match &context.scope {
        Scope::Project { project, domain } => {
            token["project"] = json!({
                "domain": {"id": domain.id, "name": domain.name},
                "id": project.id,
                "name": project.name,
            });
            token["is_domain"] = json!(false);
        }
        Scope::Domain(domain) => token["domain"] = json!({"id": domain.id, "name": domain.name}),
        Scope::System => token["system"] = json!({"all": true}),
        Scope::Unscoped => {}
    }
    if context.scope != Scope::Unscoped {
        token["roles"] = serde_json::to_value(&context.roles).unwrap_or_default();
        if let Some(catalog) = catalog {
            token["catalog"] = Value::Array(token_catalog(catalog));
        }
    }
    if let Some(credential) = &context.application_credential {
        token["application_credential"] = json!({
            "id": credential.id,
            "name": credential.name,
            "restricted": credential.restricted,
        });
    }
    json!({"token": token})
}

/// `GET /v3/auth/catalog`
pub async fn catalog(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
) -> Result<Json<Value>> {
    let catalog = token_catalog(service.endpoints(&caller).await?);
    Ok(Json(
        json!({"catalog": catalog, "links": {"self": format!("{v3}/auth/catalog"), "previous": null, "next": null}}),
    ))
}

/// `GET /v3/auth/projects`: the projects the caller may scope to.
pub async fn projects(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
) -> Result<Json<Value>> {
    let projects = service.scopable_projects(&caller).await?;
    Ok(project_list(projects, &v3, format!("{v3}/auth/projects")))
}

/// `GET /v3/auth/domains`: the domains the caller holds a role on.
pub async fn domains(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
) -> Result<Json<Value>> {
    let domains = service.scopable_domains(&caller).await?;
    let views = domains.into_iter().map(|d| d.view(&v3)).collect();
    Ok(Json(collection(
        "domains",
        views,
        format!("{v3}/auth/domains"),
    )))
}

/// `GET /v3/auth/system`: whether the caller may scope to the system.
pub async fn system(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
) -> Result<Json<Value>> {
    let system: Vec<Value> = match service.may_scope_to_system(&caller).await? {
        true => vec![json!({"all": true})],
        false => Vec::new(),
    };
    Ok(Json(
        json!({"system": system, "links": {"self": format!("{v3}/auth/system")}}),
    ))
}
