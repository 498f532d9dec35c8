//! `/os-keypairs`: SSH keys, owned by users. Parsing and rendering, with
//! what each microversion accepts; the service decides.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use oxistack_auth::Caller;
use oxistack_http::microversion::Microversion;
use oxistack_http::{ApiError, JsonBody};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{QueryPairs, Service, envelope, invalid};
use crate::query::{MAX_LIMIT, Page, last};
use crate::service::keypairs::{KeypairListing, NewKeypair};
use crate::validate::since;
use crate::versions::{
    KEYPAIR_GENERATION_REMOVED, KEYPAIR_PAGINATION, KEYPAIR_TYPE, KEYPAIR_USER_ID,
};
use crate::wire::{CreatedKeypair, KeypairSummary, KeypairView, Link, Urls};

/// The `user_id` an administrator names (from 2.10; ignored before).
fn named_user(pairs: &[(String, String)], version: Microversion) -> Option<String> {
    last(pairs, "user_id")
        .filter(|_| version.at_least(KEYPAIR_USER_ID))
        .map(str::to_owned)
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
    let page = match version.at_least(KEYPAIR_PAGINATION) {
        true => Some(Page::parse(&pairs)?),
        false => None,
    };
    let limit = page.as_ref().map(|p| p.limit);
    let listing = KeypairListing {
        user_id: named_user(&pairs, version),
        limit,
        marker: page.and_then(|p| p.marker),
    };
    let keypairs = service.list_keypairs(&caller, listing).await?;
    let keypairs_links = match limit {
        Some(limit) if limit <= MAX_LIMIT => {
            urls.page_links("os-keypairs", &pairs, &keypairs, limit, |k| &k.name)
        }
        _ => None,
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
    let user = named_user(&pairs, version);
    let keypair = service
        .show_keypair(&caller, user.as_deref(), &name)
        .await?;
    Ok(envelope("keypair", KeypairView::new(&keypair, version)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeypairBody {
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

/// `POST /os-keypairs` as `version` accepts it.
fn new_keypair(body: Value, version: Microversion) -> Result<NewKeypair, ApiError> {
    let request: KeypairBody = oxistack_http::envelope(body, "keypair")?;
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
    if request.public_key.is_none() && version.at_least(KEYPAIR_GENERATION_REMOVED) {
        return Err(invalid(
            "keypair.public_key",
            "required from microversion 2.92, which no longer generates keys.",
        ));
    }
    Ok(NewKeypair {
        name: request.name,
        public_key: request.public_key,
        user_id: request.user_id,
    })
}

pub async fn create(
    State(service): Service,
    Caller(caller): Caller,
    version: Microversion,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let created = service
        .create_keypair(&caller, new_keypair(body, version)?)
        .await?;
    let status = if version.at_least(KEYPAIR_TYPE) {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let keypair = &created.keypair;
    let document = CreatedKeypair {
        summary: KeypairSummary::new(keypair, version),
        user_id: &keypair.user_id,
        private_key: created.private_key.as_deref(),
    };
    Ok((status, envelope("keypair", document)).into_response())
}

pub async fn delete(
    State(service): Service,
    Caller(caller): Caller,
    version: Microversion,
    Path(name): Path<String>,
    Query(pairs): QueryPairs,
) -> Result<StatusCode, ApiError> {
    let user = named_user(&pairs, version);
    service
        .delete_keypair(&caller, user.as_deref(), &name)
        .await?;
    Ok(if version.at_least(KEYPAIR_TYPE) {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::ACCEPTED
    })
}
