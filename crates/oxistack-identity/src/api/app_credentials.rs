//! `/v3/users/{id}/application_credentials`

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use oxistack_auth::Caller;
use oxistack_http::{JsonBody, envelope};
use serde::Serialize;
use serde_json::Value;

use super::{Result, State, V3, no_content};
use crate::service::DelegatedCredential;
use crate::token::format_naive_time;
use crate::wire::{AppCredentialCreate, SelfLink, collection, member};

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

fn view(delegated: DelegatedCredential, secret: Option<String>, v3: &str) -> AppCredentialView {
    let DelegatedCredential { credential, roles } = delegated;
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
        expires_at: credential.expires_at.map(format_naive_time),
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

const KEY: &str = "application_credential";

pub async fn create(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
    Path(user_id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<(StatusCode, Json<Value>)> {
    let request: AppCredentialCreate = envelope(body, KEY)?;
    let (created, secret) = service
        .create_app_credential(&caller, &user_id, request)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(member(KEY, view(created, Some(secret), &v3))),
    ))
}

pub async fn list(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
    Path(user_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>> {
    let credentials = service
        .list_app_credentials(&caller, &user_id, query.get("name").cloned())
        .await?;
    let views = credentials
        .into_iter()
        .map(|c| view(c, None, &v3))
        .collect();
    Ok(Json(collection(
        "application_credentials",
        views,
        format!("{v3}/users/{user_id}/application_credentials"),
    )))
}

type Credential = Path<(String, String)>;

pub async fn show(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
    Path((user_id, credential_id)): Credential,
) -> Result<Json<Value>> {
    let credential = service
        .get_app_credential(&caller, &user_id, &credential_id)
        .await?;
    Ok(Json(member(KEY, view(credential, None, &v3))))
}

pub async fn delete(
    axum::extract::State(service): State,
    caller: Caller,
    Path((user_id, credential_id)): Credential,
) -> Result<Response> {
    service
        .delete_app_credential(&caller, &user_id, &credential_id)
        .await?;
    Ok(no_content())
}
