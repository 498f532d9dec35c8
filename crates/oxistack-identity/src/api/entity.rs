//! The create and update handlers that Keystone's named entities (domains,
//! projects, groups, roles) share: the request envelope in, the entity's
//! document out. What may be created or changed is the service's
//! [`Entity`] to decide.

use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use oxistack_auth::Caller;
use oxistack_http::{JsonBody, envelope};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{Result, State, V3};
use crate::service::Entity;
use crate::wire::{member, update_envelope};

/// An entity as Keystone's documents show it.
pub trait Document: Entity {
    type View: Serialize;
    fn view(self, v3: &str) -> Self::View;
}

pub async fn create<E>(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
    JsonBody(body): JsonBody<Value>,
) -> Result<(StatusCode, Json<Value>)>
where
    E: Document,
    E::Create: DeserializeOwned,
{
    let request = envelope(body, E::KIND)?;
    let entity = service.create::<E>(&caller, request).await?;
    Ok((StatusCode::CREATED, Json(member(E::KIND, entity.view(&v3)))))
}

pub async fn update<E>(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>>
where
    E: Document,
    E::Update: DeserializeOwned,
{
    let request = update_envelope(body, E::KIND)?;
    let entity = service.update::<E>(&caller, &id, request).await?;
    Ok(Json(member(E::KIND, entity.view(&v3))))
}
