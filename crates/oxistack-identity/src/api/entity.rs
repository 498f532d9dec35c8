//! The create and update handlers that Keystone's named entities (domains,
//! projects, groups, roles) share: the request envelope, name validation,
//! one transaction, 404 for a missing entity and 409 for a duplicate name.
//! Each entity says only what is its own: its fields and its SQL.

use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use oxistack_auth::{Action, Caller, authorize};
use oxistack_db::rusqlite::{self, Connection};
use oxistack_http::{JsonBody, envelope};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{State, V3};
use crate::model::{Result, conflict_on_duplicate, require};
use crate::wire::{member, validate_name};

pub trait Entity: Clone + Send + Sync + 'static {
    /// Keystone's name for the kind: the envelope key and error wording.
    const KIND: &'static str;
    /// What creating and updating one takes.
    const MANAGE: Action;
    type Create: DeserializeOwned + Send;
    type Update: DeserializeOwned + Send + 'static;
    type View: Serialize;

    fn name(&self) -> &str;
    /// A new entity from a create request.
    fn from_create(request: Self::Create, caller: &Caller) -> Result<Self>;
    /// The new name an update request asks for, if any.
    fn renamed(update: &Self::Update) -> Option<&str>;
    /// Applies an update request's changes, refusing those not allowed.
    fn apply(&mut self, update: Self::Update) -> Result<()>;
    /// Checks what a new entity refers to in other tables.
    fn check_references(&self, _conn: &Connection) -> Result<()> {
        Ok(())
    }
    fn load(conn: &Connection, id: &str) -> Result<Option<Self>>;
    fn insert(&self, conn: &Connection) -> rusqlite::Result<()>;
    fn save(&self, conn: &Connection) -> rusqlite::Result<()>;
    fn view(self, v3: &str) -> Self::View;
}

fn check_name<E: Entity>(name: &str) -> Result<()> {
    validate_name(&format!("{}.name", E::KIND), name)
}

pub async fn create<E: Entity>(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
    JsonBody(body): JsonBody<Value>,
) -> Result<(StatusCode, Json<Value>)> {
    authorize(&caller, E::MANAGE)?;
    let entity = E::from_create(envelope(body, E::KIND)?, &caller)?;
    check_name::<E>(entity.name())?;
    let stored = entity.clone();
    service
        .change(move |tx| {
            stored.check_references(tx)?;
            stored
                .insert(tx)
                .map_err(conflict_on_duplicate(E::KIND, stored.name()))
        })
        .await?;
    Ok((StatusCode::CREATED, Json(member(E::KIND, entity.view(&v3)))))
}

pub async fn update<E: Entity>(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>> {
    authorize(&caller, E::MANAGE)?;
    let request: E::Update = envelope(body, E::KIND)?;
    if let Some(name) = E::renamed(&request) {
        check_name::<E>(name)?;
    }
    let entity = service
        .change(move |tx| {
            let mut entity = require(E::load(tx, &id)?, E::KIND, &id)?;
            entity.apply(request)?;
            entity
                .save(tx)
                .map_err(conflict_on_duplicate(E::KIND, entity.name()))?;
            Ok(entity)
        })
        .await?;
    Ok(Json(member(E::KIND, entity.view(&v3))))
}
