//! `/v3/users/{id}/application_credentials`

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine;
use chrono::{DateTime, Utc};
use oxistack_auth::Caller;
use oxistack_http::{ApiError, JsonBody, envelope};
use rand::RngCore;
use serde::Serialize;
use serde_json::Value;

use super::users::require_self_or_admin;
use super::{State, V3, no_content};
use crate::app_credentials::{self, AppCredential};
use crate::model::{self, Result, Role, new_id, not_found};
use crate::password;
use crate::token::format_time;
use crate::wire::{AppCredentialCreate, SelfLink, collection, member, validate_name};

#[derive(Serialize)]
struct RoleRef {
    id: String,
    name: String,
    domain_id: Option<String>,
}

#[derive(Serialize)]
struct AppCredentialView {
    id: String,
    name: String,
    description: Option<String>,
    user_id: String,
    project_id: String,
    expires_at: Option<String>,
    unrestricted: bool,
    roles: Vec<RoleRef>,
    access_rules: Vec<Value>,
    /// Present only in the creation response: it is never shown again.
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
    links: SelfLink,
}

fn view(
    credential: AppCredential,
    roles: Vec<Role>,
    secret: Option<String>,
    v3: &str,
) -> AppCredentialView {
    AppCredentialView {
        links: SelfLink {
            self_: format!(
                "{v3}/users/{}/application_credentials/{}",
                credential.user_id, credential.id
            ),
        },
        id: credential.id,
        name: credential.name,
        description: credential.description,
        user_id: credential.user_id,
        project_id: credential.project_id,
        expires_at: credential.expires_at.map(format_time),
        unrestricted: credential.unrestricted,
        roles: roles
            .into_iter()
            .map(|r| RoleRef {
                id: r.id,
                name: r.name,
                domain_id: None,
            })
            .collect(),
        access_rules: Vec::new(),
        secret,
    }
}

fn roles_of(
    conn: &oxistack_db::rusqlite::Connection,
    credential: &AppCredential,
) -> Result<Vec<Role>> {
    let mut roles = Vec::new();
    for id in &credential.role_ids {
        if let Some(role) = model::role(conn, id)? {
            roles.push(role);
        }
    }
    Ok(roles)
}

fn random_secret() -> String {
    let mut bytes = [0u8; 48];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Creating one needs a project-scoped token of the user; the credential
/// is bound to that project and delegates the token's roles, or the subset
/// named in the request. A restricted credential cannot mint another.
pub async fn create(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
    Path(user_id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<(StatusCode, Json<Value>)> {
    if caller.user.id != user_id {
        return Err(ApiError::forbidden(
            "Application credentials can only be created by their own user.",
        ));
    }
    if caller
        .application_credential
        .as_ref()
        .is_some_and(|c| c.restricted)
    {
        return Err(ApiError::forbidden(
            "A restricted application credential cannot be used to create another application credential.",
        ));
    }
    let request: AppCredentialCreate = envelope(body, "application_credential")?;
    validate_name("application_credential.name", &request.name)?;
    if request
        .access_rules
        .as_ref()
        .is_some_and(|rules| !rules.is_empty())
    {
        return Err(ApiError::bad_request(
            "Invalid input for field 'application_credential.access_rules': access rules are not supported.",
        ));
    }
    let project_id = caller
        .project_id()
        .ok_or_else(|| {
            ApiError::forbidden("Application credentials require a project-scoped token.")
        })?
        .to_owned();
    let expires_at = match &request.expires_at {
        None => None,
        Some(text) => Some(parse_expiry(text)?),
    };
    if expires_at.is_some_and(|t| t <= Utc::now()) {
        return Err(ApiError::bad_request(
            "Invalid input for field 'application_credential.expires_at': the expiry is in the past.",
        ));
    }
    // Delegate only what the caller holds now; named roles must be among
    // them. No roles (absent or empty, as the CLI sends) means all of them.
    let held: Vec<(String, String)> = caller
        .roles
        .iter()
        .map(|r| (r.id.clone(), r.name.clone()))
        .collect();
    let role_ids: Vec<String> = match request.roles.as_deref() {
        None | Some([]) => held.iter().map(|(id, _)| id.clone()).collect(),
        Some(wanted) => {
            let mut ids = Vec::new();
            for role in wanted {
                let found = held.iter().find(|(id, name)| {
                    role.id.as_deref() == Some(id.as_str())
                        || role.name.as_deref() == Some(name.as_str())
                });
                match found {
                    Some((id, _)) => ids.push(id.clone()),
                    None => {
                        return Err(ApiError::forbidden(format!(
                            "The role {} is not held on the project, so it cannot be delegated.",
                            role.name.as_deref().or(role.id.as_deref()).unwrap_or("?")
                        )));
                    }
                }
            }
            ids
        }
    };
    let secret = request.secret.clone().unwrap_or_else(random_secret);
    if secret.is_empty() {
        return Err(ApiError::bad_request(
            "Invalid input for field 'application_credential.secret': must not be empty.",
        ));
    }
    let credential = AppCredential {
        id: new_id(),
        name: request.name,
        user_id,
        project_id,
        secret_hash: password::hash(secret.clone()).await?,
        description: request.description,
        expires_at,
        unrestricted: request.unrestricted,
        role_ids,
    };
    let (credential, roles) = service
        .change(move |tx| {
            app_credentials::insert(tx, &credential).map_err(|e| {
                if oxistack_db::is_unique_violation(&e) {
                    ApiError::conflict(format!(
                        "Conflict occurred attempting to store application_credential - Duplicate entry found with name {}.",
                        credential.name
                    ))
                } else {
                    e.into()
                }
            })?;
            let roles = roles_of(tx, &credential)?;
            Ok((credential, roles))
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(member(
            "application_credential",
            view(credential, roles, Some(secret), &v3),
        )),
    ))
}

fn parse_expiry(text: &str) -> Result<DateTime<Utc>> {
    oxistack_http::time::parse_client_time(text).ok_or_else(|| {
        ApiError::bad_request(format!(
            "Invalid input for field 'application_credential.expires_at': '{text}' is not an ISO 8601 time."
        ))
    })
}

pub async fn list(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
    Path(user_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>> {
    require_self_or_admin(&caller, &user_id)?;
    let name = query.get("name").cloned();
    let wanted = user_id.clone();
    let credentials = service
        .read(move |conn| {
            model::require(model::user(conn, &wanted)?, "user", &wanted)?;
            let mut result = Vec::new();
            for credential in app_credentials::list(conn, &wanted, name.as_deref())? {
                let roles = roles_of(conn, &credential)?;
                result.push((credential, roles));
            }
            Ok(result)
        })
        .await?;
    let views = credentials
        .into_iter()
        .map(|(c, r)| view(c, r, None, &v3))
        .collect();
    Ok(Json(collection(
        "application_credentials",
        views,
        format!("{v3}/users/{user_id}/application_credentials"),
    )))
}

/// The credential `credential_id` of `user_id`, or 404.
fn owned(
    conn: &oxistack_db::rusqlite::Connection,
    user_id: &str,
    credential_id: &str,
) -> Result<AppCredential> {
    app_credentials::load(conn, credential_id)?
        .filter(|c| c.user_id == user_id)
        .ok_or_else(|| not_found("application credential", credential_id))
}

pub async fn show(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
    Path((user_id, credential_id)): Path<(String, String)>,
) -> Result<Json<Value>> {
    require_self_or_admin(&caller, &user_id)?;
    let (credential, roles) = service
        .read(move |conn| {
            let credential = owned(conn, &user_id, &credential_id)?;
            let roles = roles_of(conn, &credential)?;
            Ok((credential, roles))
        })
        .await?;
    Ok(Json(member(
        "application_credential",
        view(credential, roles, None, &v3),
    )))
}

/// Deleting a credential also invalidates the tokens issued for it.
pub async fn delete(
    axum::extract::State(service): State,
    caller: Caller,
    Path((user_id, credential_id)): Path<(String, String)>,
) -> Result<Response> {
    require_self_or_admin(&caller, &user_id)?;
    if caller
        .application_credential
        .as_ref()
        .is_some_and(|c| c.restricted)
    {
        return Err(ApiError::forbidden(
            "A restricted application credential cannot be used to delete application credentials.",
        ));
    }
    service
        .change(move |tx| {
            owned(tx, &user_id, &credential_id)?;
            tx.execute(
                "DELETE FROM tokens WHERE app_credential_id = ?1",
                [&credential_id],
            )?;
            tx.execute(
                "DELETE FROM application_credentials WHERE id = ?1",
                [&credential_id],
            )?;
            Ok(())
        })
        .await?;
    Ok(no_content())
}
