//! `/os-keypairs`: SSH keys, owned by users. Another user's key pair is a
//! 404, unless an administrator names the user (2.10).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use oxistack_auth::{Action, AuthContext, Caller, authorize};
use oxistack_http::microversion::Microversion;
use oxistack_http::{ApiError, JsonBody};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{QueryPairs, Service, envelope};
use crate::keys;
use crate::model::{Keypair, keypair_not_found};
use crate::query::{MAX_LIMIT, Page, last};
use crate::quota::{Limits, Resource};
use crate::store::keypairs as store;
use crate::validate::{invalid, since};
use crate::versions::{
    KEYPAIR_GENERATION_REMOVED, KEYPAIR_PAGINATION, KEYPAIR_TYPE, KEYPAIR_USER_ID,
};
use crate::wire::{CreatedKeypair, KeypairSummary, KeypairView, Link, Urls};

/// The user whose key pairs a request acts on: the caller, or (from 2.10)
/// the user an administrator names.
fn owner(
    caller: &AuthContext,
    named: Option<&str>,
    version: Microversion,
) -> Result<String, ApiError> {
    match named {
        Some(user) if version.at_least(KEYPAIR_USER_ID) && user != caller.user.id => {
            authorize(caller, Action::ManageOtherUsersKeypairs)?;
            Ok(user.to_owned())
        }
        _ => Ok(caller.user.id.clone()),
    }
}

#[derive(Serialize)]
struct Listed<'a> {
    keypair: KeypairSummary<'a>,
}

#[derive(Serialize)]
struct KeypairPage<'a> {
    keypairs: Vec<Listed<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    keypairs_links: Option<Vec<Link>>,
}

pub async fn list(
    State(service): Service,
    Caller(caller): Caller,
    version: Microversion,
    urls: Urls,
    Query(pairs): QueryPairs,
) -> Result<Response, ApiError> {
    authorize(&caller, Action::ReadKeypairs)?;
    let user = owner(&caller, last(&pairs, "user_id"), version)?;
    let page = match version.at_least(KEYPAIR_PAGINATION) {
        true => Page::parse(&pairs)?,
        false => Page {
            limit: usize::MAX,
            marker: None,
        },
    };
    let limit = page.limit;
    let keypairs = service
        .read(move |conn| {
            store::list(
                conn,
                &user,
                page.marker.as_deref(),
                page.limit.min(i64::MAX as usize),
            )
        })
        .await?;
    let keypairs_links = match limit <= MAX_LIMIT {
        true => urls.page_links("os-keypairs", &pairs, &keypairs, limit, |k| &k.name),
        false => None,
    };
    Ok(Json(KeypairPage {
        keypairs: keypairs
            .iter()
            .map(|k| Listed {
                keypair: KeypairSummary::new(k, version),
            })
            .collect(),
        keypairs_links,
    })
    .into_response())
}

pub async fn show(
    State(service): Service,
    Caller(caller): Caller,
    version: Microversion,
    Path(name): Path<String>,
    Query(pairs): QueryPairs,
) -> Result<Response, ApiError> {
    authorize(&caller, Action::ReadKeypairs)?;
    let user = owner(&caller, last(&pairs, "user_id"), version)?;
    let keypair = service
        .read(move |conn| {
            store::find(conn, &user, &name)?.ok_or_else(|| keypair_not_found(&name, &user))
        })
        .await?;
    Ok(envelope("keypair", KeypairView::new(&keypair, version)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKeypair {
    name: String,
    public_key: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    user_id: Option<String>,
}

/// Key pair names as Nova allows them; 2.92 added `@` and `.`.
fn validate_keypair_name(name: &str, version: Microversion) -> Result<(), ApiError> {
    let extended = version.at_least(KEYPAIR_GENERATION_REMOVED);
    let valid = !name.is_empty()
        && name.chars().count() <= 255
        && name.chars().all(|c| {
            c.is_ascii_alphanumeric() || " _-".contains(c) || (extended && "@.".contains(c))
        });
    if valid {
        Ok(())
    } else {
        let allowed = if extended {
            "letters, digits, spaces, '_', '-', '@' and '.'"
        } else {
            "letters, digits, spaces, '_' and '-'"
        };
        Err(invalid(
            "keypair.name",
            format!("'{name}' must be 1 to 255 of {allowed}."),
        ))
    }
}

pub async fn create(
    State(service): Service,
    Caller(caller): Caller,
    version: Microversion,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    authorize(&caller, Action::ManageKeypairs)?;
    let request: NewKeypair = oxistack_http::envelope(body, "keypair")?;
    validate_keypair_name(&request.name, version)?;
    since(
        "keypair.type",
        request.kind.is_some(),
        version,
        KEYPAIR_TYPE,
    )?;
    match request.kind.as_deref() {
        None | Some("ssh") => {}
        Some("x509") => {
            return Err(invalid(
                "keypair.type",
                "x509 key pairs are not supported by this cloud; use 'ssh'.",
            ));
        }
        Some(other) => {
            return Err(invalid(
                "keypair.type",
                format!("'{other}' is not 'ssh' or 'x509'."),
            ));
        }
    }
    since(
        "keypair.user_id",
        request.user_id.is_some(),
        version,
        KEYPAIR_USER_ID,
    )?;
    let user = owner(&caller, request.user_id.as_deref(), version)?;
    let (public_key, private_key) = match request.public_key {
        Some(public_key) => (public_key.trim().to_owned(), None),
        None if version.at_least(KEYPAIR_GENERATION_REMOVED) => {
            return Err(invalid(
                "keypair.public_key",
                "required from microversion 2.92, which no longer generates keys.",
            ));
        }
        None => {
            let generated = keys::generate()?;
            (generated.public_key, Some(generated.private_key))
        }
    };
    let fingerprint = keys::fingerprint(&public_key)?;
    let keypair = Keypair {
        number: 0,
        user_id: user,
        name: request.name,
        public_key,
        fingerprint,
        created_at: Utc::now(),
    };
    let keypair = store_keypair(&service, &caller, keypair).await?;
    let status = if version.at_least(KEYPAIR_TYPE) {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let document = CreatedKeypair {
        summary: KeypairSummary::new(&keypair, version),
        user_id: &keypair.user_id,
        private_key: private_key.as_deref(),
    };
    Ok((status, envelope("keypair", document)).into_response())
}

/// Stores a key pair within the caller's project's `key_pairs` quota
/// (counted per user, as Nova counts it).
async fn store_keypair(
    service: &crate::ComputeService,
    caller: &Arc<AuthContext>,
    mut keypair: Keypair,
) -> Result<Keypair, ApiError> {
    let project = caller.project_id().map(str::to_owned);
    service
        .write(move |tx| {
            let limits = match &project {
                Some(project) => Limits::of(tx, project)?,
                None => Limits::defaults(),
            };
            let used = store::count(tx, &keypair.user_id)?;
            if limits.room(Resource::KeyPairs, used, 1) == Some(0) {
                return Err(ApiError::forbidden("Quota exceeded, too many key pairs."));
            }
            store::insert(tx, &mut keypair)?;
            Ok(keypair)
        })
        .await
}

pub async fn delete(
    State(service): Service,
    Caller(caller): Caller,
    version: Microversion,
    Path(name): Path<String>,
    Query(pairs): QueryPairs,
) -> Result<StatusCode, ApiError> {
    authorize(&caller, Action::ManageKeypairs)?;
    let user = owner(&caller, last(&pairs, "user_id"), version)?;
    service
        .write(move |tx| {
            if store::delete(tx, &user, &name)? {
                Ok(())
            } else {
                Err(keypair_not_found(&name, &user))
            }
        })
        .await?;
    Ok(if version.at_least(KEYPAIR_TYPE) {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::ACCEPTED
    })
}
