//! Creating and updating the named entities Keystone manages alike
//! (domains, projects, groups, roles): policy, name validation, one
//! transaction, 404 for a missing entity and 409 for a duplicate name.
//! Each entity says only what is its own: its requests, rules and store.

use oxistack_auth::{Action, AuthContext};
use oxistack_db::rusqlite::{self, Connection};

use super::error::{Result, authorize};
use super::validate::{self, NAME_LENGTH};
use crate::IdentityService;
use crate::model::{conflict_on_duplicate, require};

pub trait Entity: Clone + Send + Sync + 'static {
    /// Keystone's name for the kind: the envelope key and error wording.
    const KIND: &'static str;
    /// What creating and updating one takes.
    const MANAGE: Action;
    /// The longest name Keystone allows for the kind.
    const NAME_LENGTH: usize = NAME_LENGTH;
    type Create: Send + 'static;
    type Update: Send + 'static;

    fn name(&self) -> &str;
    /// A new entity from a create request, refusing what is not allowed.
    fn from_create(request: Self::Create, caller: &AuthContext) -> Result<Self>;
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
}

/// Applies the changes every entity's update may carry: a new name, and a
/// new description (`null` clears it).
pub(super) fn rename_and_describe(
    name: &mut String,
    description: &mut String,
    new_name: Option<String>,
    new_description: Option<Option<String>>,
) {
    if let Some(new_name) = new_name {
        *name = new_name;
    }
    if let Some(new_description) = new_description {
        *description = new_description.unwrap_or_default();
    }
}

fn check_name<E: Entity>(name: &str) -> Result<()> {
    validate::name(&format!("{}.name", E::KIND), name, E::NAME_LENGTH)
}

impl IdentityService {
    /// Creates a domain, project, group or role.
    pub async fn create<E: Entity>(&self, caller: &AuthContext, request: E::Create) -> Result<E> {
        authorize(caller, E::MANAGE)?;
        let entity = E::from_create(request, caller)?;
        check_name::<E>(entity.name())?;
        let stored = entity.clone();
        self.change(move |tx| {
            stored.check_references(tx)?;
            stored
                .insert(tx)
                .map_err(conflict_on_duplicate(E::KIND, stored.name()))
        })
        .await?;
        Ok(entity)
    }

    /// Changes a domain, project, group or role.
    pub async fn update<E: Entity>(
        &self,
        caller: &AuthContext,
        id: &str,
        request: E::Update,
    ) -> Result<E> {
        authorize(caller, E::MANAGE)?;
        if let Some(name) = E::renamed(&request) {
            check_name::<E>(name)?;
        }
        let id = id.to_owned();
        self.change(move |tx| {
            let mut entity = require(E::load(tx, &id)?, E::KIND, &id)?;
            entity.apply(request)?;
            entity
                .save(tx)
                .map_err(conflict_on_duplicate(E::KIND, entity.name()))?;
            Ok(entity)
        })
        .await
    }
}
