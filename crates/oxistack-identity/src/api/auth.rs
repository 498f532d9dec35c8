//! `/v3/auth/*`: issuing, validating and revoking tokens, and what a token
//! gives access to.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::Query;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use oxistack_auth::{Action, AuthContext, Caller, Scope, authorize};
use oxistack_db::rusqlite::Connection;
use oxistack_http::{ApiError, JsonBody, envelope};
use serde_json::{Value, json};

use super::{State, V3, flag};
use crate::IdentityService;
use crate::app_credentials;
use crate::model::{self, DEFAULT_DOMAIN_ID, Result, SYSTEM_TARGET, TargetKind};
use crate::password;
use crate::token::{ScopeRequest, TokenGrant, format_time};
use crate::wire::{self, Auth, NameOrId, ScopeBody};

const SUBJECT_TOKEN: &str = "x-subject-token";

/// `POST /v3/auth/tokens`
pub async fn issue(
    axum::extract::State(service): State,
    Query(query): Query<HashMap<String, String>>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response> {
    let auth: Auth = envelope(body, "auth")?;
    let grant = authenticate(&service, &auth).await?;
    let issuer = service.clone();
    let scope = auth.scope;
    let (token, context, catalog) = service
        .db
        .write(move |tx| -> Result<_> {
            let mut grant = grant;
            if let Some(scope) = &scope {
                if grant.app_credential_id.is_some() {
                    return Err(ApiError::unauthorized(
                        "Application credentials cannot request a scope.",
                    ));
                }
                grant.scope = resolve_scope(tx, scope)?;
            }
            let (token, context) = issuer.tokens.issue(tx, grant)?;
            Ok((token, context, super::catalog::token_catalog(tx)?))
        })
        .await?;
    let catalog = (!flag(&query, "nocatalog")?).then_some(catalog);
    let mut response =
        (StatusCode::CREATED, Json(token_document(&context, catalog))).into_response();
    response.headers_mut().insert(
        SUBJECT_TOKEN,
        HeaderValue::from_str(&token).map_err(ApiError::internal)?,
    );
    Ok(response)
}

/// Checks the credentials of an authentication request and answers what
/// token they earn, before any scope the request asks for.
async fn authenticate(service: &Arc<IdentityService>, auth: &Auth) -> Result<TokenGrant> {
    let identity = &auth.identity;
    let method = identity.methods.first().ok_or_else(|| {
        ApiError::bad_request("Invalid input for field 'auth.identity.methods': no method given.")
    })?;
    match method.as_str() {
        "password" => {
            let password = identity.password.as_ref().ok_or_else(|| {
                ApiError::bad_request("Invalid input for field 'auth.identity.password': required by method 'password'.")
            })?;
            let user = &password.user;
            let (id, name, domain) = (user.id.clone(), user.name.clone(), user.domain.clone());
            if id.is_none() && (name.is_none() || domain.is_none()) {
                return Err(ApiError::bad_request(
                    "Invalid input for field 'auth.identity.password.user': give an id, or a name and a domain.",
                ));
            }
            let found = service
                .db
                .read(move |conn| match id {
                    Some(id) => model::user(conn, &id),
                    None => {
                        let domain = resolve_domain(conn, domain.as_ref())?;
                        match domain {
                            Some(domain) => model::user_by_name(
                                conn,
                                &domain,
                                name.as_deref().unwrap_or_default(),
                            ),
                            None => Ok(None),
                        }
                    }
                })
                .await?;
            let stored = found.as_ref().and_then(|u| u.password_hash.clone());
            if !password::verify(user.password.clone(), stored).await {
                return Err(oxistack_auth::unauthenticated());
            }
            let user = found.ok_or_else(oxistack_auth::unauthenticated)?;
            let scope = match &user.default_project_id {
                Some(project) => default_scope(service, &user.id, project).await?,
                None => ScopeRequest::Unscoped,
            };
            Ok(TokenGrant {
                user_id: user.id,
                scope,
                methods: vec!["password".into()],
                app_credential_id: None,
                not_after: None,
                parent_audit_id: None,
            })
        }
        "token" => {
            let token = identity.token.as_ref().ok_or_else(|| {
                ApiError::bad_request(
                    "Invalid input for field 'auth.identity.token': required by method 'token'.",
                )
            })?;
            let context = service.tokens.validate(&token.id).await?;
            if context.application_credential.is_some() {
                return Err(ApiError::forbidden(
                    "A token issued for an application credential cannot be rescoped.",
                ));
            }
            let mut methods = context.methods.clone();
            if !methods.iter().any(|m| m == "token") {
                methods.push("token".into());
            }
            Ok(TokenGrant {
                user_id: context.user.id.clone(),
                scope: ScopeRequest::Unscoped,
                methods,
                app_credential_id: None,
                not_after: Some(context.expires_at),
                parent_audit_id: Some(context.audit_id.clone()),
            })
        }
        "application_credential" => {
            let method = identity.application_credential.as_ref().ok_or_else(|| {
                ApiError::bad_request(
                    "Invalid input for field 'auth.identity.application_credential': required by method 'application_credential'.",
                )
            })?;
            let (id, name, user) = (
                method.id.clone(),
                method.name.clone(),
                method
                    .user
                    .as_ref()
                    .map(|u| (u.id.clone(), u.name.clone(), u.domain.clone())),
            );
            if id.is_none() && (name.is_none() || user.is_none()) {
                return Err(ApiError::bad_request(
                    "Invalid input for field 'auth.identity.application_credential': give an id, or a name and a user.",
                ));
            }
            let found = service
                .db
                .read(move |conn| {
                    if let Some(id) = id {
                        return app_credentials::load(conn, &id);
                    }
                    let (user_id, user_name, domain) = user.unwrap_or_default();
                    let user = match user_id {
                        Some(id) => model::user(conn, &id)?,
                        None => match resolve_domain(conn, domain.as_ref())? {
                            Some(domain) => model::user_by_name(
                                conn,
                                &domain,
                                user_name.as_deref().unwrap_or_default(),
                            )?,
                            None => None,
                        },
                    };
                    match user {
                        Some(user) => app_credentials::load_by_name(
                            conn,
                            &user.id,
                            name.as_deref().unwrap_or_default(),
                        ),
                        None => Ok(None),
                    }
                })
                .await?;
            let stored = found.as_ref().map(|c| c.secret_hash.clone());
            if !password::verify(method.secret.clone(), stored).await {
                return Err(oxistack_auth::unauthenticated());
            }
            let credential = found.ok_or_else(oxistack_auth::unauthenticated)?;
            if credential
                .expires_at
                .is_some_and(|t| t <= chrono::Utc::now())
            {
                return Err(oxistack_auth::unauthenticated());
            }
            Ok(TokenGrant {
                user_id: credential.user_id,
                scope: ScopeRequest::Project(credential.project_id),
                methods: vec!["application_credential".into()],
                app_credential_id: Some(credential.id),
                not_after: credential.expires_at,
                parent_audit_id: None,
            })
        }
        other => Err(ApiError::unauthorized(format!(
            "Attempted to authenticate with an unsupported method: {other}."
        ))),
    }
}

/// A user's default project is used when the request names no scope, but
/// only if the user still has a role there; otherwise the token is unscoped.
async fn default_scope(
    service: &IdentityService,
    user_id: &str,
    project_id: &str,
) -> Result<ScopeRequest> {
    let (user_id, project_id) = (user_id.to_owned(), project_id.to_owned());
    service
        .read(move |conn| {
            let roles = model::effective_roles(conn, &user_id, TargetKind::Project, &project_id)?;
            Ok(if roles.is_empty() {
                ScopeRequest::Unscoped
            } else {
                ScopeRequest::Project(project_id)
            })
        })
        .await
}

/// A domain named by id or name; `None` if it does not exist.
fn resolve_domain(conn: &Connection, domain: Option<&NameOrId>) -> Result<Option<String>> {
    let Some(domain) = domain else {
        return Ok(Some(DEFAULT_DOMAIN_ID.to_owned()));
    };
    Ok(match (&domain.id, &domain.name) {
        (Some(id), _) => model::domain(conn, id)?.map(|d| d.id),
        (None, Some(name)) => model::domain_by_name(conn, name)?.map(|d| d.id),
        (None, None) => None,
    })
}

/// Turns the requested scope into ids. A scope that does not exist gets the
/// same 401 as one without roles, so scopes cannot be probed.
fn resolve_scope(conn: &Connection, scope: &ScopeBody) -> Result<ScopeRequest> {
    let target = match scope {
        ScopeBody::Keyword(word) if word == "unscoped" => return Ok(ScopeRequest::Unscoped),
        ScopeBody::Keyword(word) => {
            return Err(ApiError::bad_request(format!(
                "Invalid input for field 'auth.scope': '{word}' is not a scope."
            )));
        }
        ScopeBody::Target(target) => target,
    };
    match (&target.project, &target.domain, &target.system) {
        (Some(project), None, None) => {
            let found = match (&project.id, &project.name) {
                (Some(id), _) => model::project(conn, id)?,
                (None, Some(name)) => {
                    let domain = project.domain.as_ref().ok_or_else(|| {
                        ApiError::bad_request("Invalid input for field 'auth.scope.project': a project name needs a domain.")
                    })?;
                    match resolve_domain(conn, Some(domain))? {
                        Some(domain) => model::project_by_name(conn, &domain, name)?,
                        None => None,
                    }
                }
                (None, None) => {
                    return Err(ApiError::bad_request(
                        "Invalid input for field 'auth.scope.project': give an id or a name.",
                    ));
                }
            };
            found
                .map(|p| ScopeRequest::Project(p.id))
                .ok_or_else(oxistack_auth::unauthenticated)
        }
        (None, Some(domain), None) => resolve_domain(conn, Some(domain))?
            .map(ScopeRequest::Domain)
            .ok_or_else(oxistack_auth::unauthenticated),
        (None, None, Some(system)) if system.all => Ok(ScopeRequest::System),
        _ => Err(ApiError::bad_request(
            "Invalid input for field 'auth.scope': give exactly one of project, domain or system.",
        )),
    }
}

/// The token document Keystone returns on issue and validation.
fn token_document(context: &AuthContext, catalog: Option<Vec<Value>>) -> Value {
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
            token["catalog"] = Value::Array(catalog);
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

/// The token a validation or revocation request is about; callers other
/// than admins may only ask about their own.
fn subject_token(headers: &HeaderMap, caller: &Caller) -> Result<String> {
    let subject = headers
        .get(SUBJECT_TOKEN)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::bad_request("The X-Subject-Token header is required."))?;
    let own = headers
        .get(oxistack_auth::AUTH_TOKEN_HEADER)
        .and_then(|v| v.to_str().ok());
    if own != Some(subject) {
        authorize(caller, Action::ValidateAnyToken)?;
    }
    Ok(subject.to_owned())
}

fn token_not_found() -> ApiError {
    ApiError::not_found("Could not find token.")
}

/// `GET` and `HEAD /v3/auth/tokens`
pub async fn validate(
    axum::extract::State(service): State,
    caller: Caller,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response> {
    let subject = subject_token(&headers, &caller)?;
    let context = service
        .tokens
        .validate(&subject)
        .await
        .map_err(|_| token_not_found())?;
    let catalog = if flag(&query, "nocatalog")? {
        None
    } else {
        Some(service.read(super::catalog::token_catalog).await?)
    };
    let mut response = Json(token_document(&context, catalog)).into_response();
    response.headers_mut().insert(
        SUBJECT_TOKEN,
        HeaderValue::from_str(&subject).map_err(ApiError::internal)?,
    );
    Ok(response)
}

/// `DELETE /v3/auth/tokens`
pub async fn revoke(
    axum::extract::State(service): State,
    caller: Caller,
    headers: HeaderMap,
) -> Result<Response> {
    let subject = subject_token(&headers, &caller)?;
    let tokens = service.clone();
    let existed: bool = service
        .db
        .write(move |tx| tokens.tokens.revoke(tx, &subject))
        .await?;
    if !existed {
        return Err(token_not_found());
    }
    Ok(super::no_content())
}

/// `GET /v3/auth/catalog`
pub async fn catalog(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
) -> Result<Json<Value>> {
    authorize(&caller, Action::ReadCatalog)?;
    let catalog = service.read(super::catalog::token_catalog).await?;
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
    let user_id = caller.user.id.clone();
    let projects = service
        .read(move |conn| model::projects_of_user(conn, &user_id))
        .await?;
    let views = projects
        .into_iter()
        .map(|p| wire::ProjectView::new(p, &v3))
        .collect();
    Ok(Json(wire::collection(
        "projects",
        views,
        format!("{v3}/auth/projects"),
    )))
}

/// `GET /v3/auth/domains`: the domains the caller holds a role on.
pub async fn domains(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
) -> Result<Json<Value>> {
    let user_id = caller.user.id.clone();
    let domains = service
        .read(move |conn| {
            let all = model::Filtered::select(model::DOMAIN_COLUMNS, "domains")
                .all(conn, model::Domain::from_row)?;
            let mut held = Vec::new();
            for domain in all {
                if !model::effective_roles(conn, &user_id, TargetKind::Domain, &domain.id)?
                    .is_empty()
                {
                    held.push(domain);
                }
            }
            Ok(held)
        })
        .await?;
    let views = domains
        .into_iter()
        .map(|d| wire::DomainView::new(d, &v3))
        .collect();
    Ok(Json(wire::collection(
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
    let user_id = caller.user.id.clone();
    let has_role = service
        .read(move |conn| {
            Ok(
                !model::effective_roles(conn, &user_id, TargetKind::System, SYSTEM_TARGET)?
                    .is_empty(),
            )
        })
        .await?;
    let system: Vec<Value> = if has_role {
        vec![json!({"all": true})]
    } else {
        Vec::new()
    };
    Ok(Json(
        json!({"system": system, "links": {"self": format!("{v3}/auth/system")}}),
    ))
}
