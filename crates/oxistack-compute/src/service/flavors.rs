//! Flavors: DevStack's sizes and the administrator's own, their extra
//! specs, and which projects may use the private ones. Everyone reads the
//! flavors they may use; only administrators change them.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use chrono::Utc;
use oxistack_auth::{Action, AuthContext};
use oxistack_db::rusqlite::Transaction;

use super::ComputeService;
use super::error::{ComputeError, Result, allows, authorize};
use crate::model::{Flavor, flavor_not_found, new_id};
use crate::store::flavors::{self as store, FlavorQuery, FlavorSelection, Visibility};

/// Which flavors an administrator's listing asks for (`is_public`);
/// everyone else always gets the ones their project may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Publicity {
    Public,
    Private,
    Any,
}

/// `GET /flavors[/detail]`.
#[derive(Debug, Clone)]
pub struct FlavorListing {
    /// `None` when not asked: the public flavors.
    pub publicity: Option<Publicity>,
    pub selection: FlavorSelection,
}

/// A flavor to create; `id` is generated when `None`.
#[derive(Debug, Clone)]
pub struct NewFlavor {
    pub id: Option<String>,
    pub name: String,
    pub ram: u64,
    pub vcpus: u32,
    pub disk: u64,
    pub ephemeral: u64,
    pub swap: u64,
    pub rxtx_factor: f64,
    pub is_public: bool,
    pub description: Option<String>,
}

/// Sharing a private flavor with a project, or no longer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessChange {
    Add,
    Remove,
}

/// Whether flavor documents shown to `caller` carry their extra specs.
pub fn extra_specs_visible(caller: &AuthContext) -> bool {
    allows(caller, Action::ReadFlavorExtraSpecs)
}

fn no_such_spec(id: &str, key: &str) -> ComputeError {
    ComputeError::not_found(format!("Flavor {id} has no extra specs with key {key}."))
}

/// The flavor `id` for administrators' changes.
fn existing(conn: &oxistack_db::rusqlite::Connection, id: &str) -> Result<Flavor> {
    store::find(conn, id)?.ok_or_else(|| flavor_not_found(id))
}

impl ComputeService {
    /// Where flavors stand, for a caller who may list them: a number that
    /// changes whenever any flavor, its access list or its extra specs
    /// change. Read it before listing, so that a change landing meanwhile
    /// moves it on.
    pub fn flavor_generation(&self, caller: &AuthContext) -> Result<u64> {
        authorize(caller, Action::ReadFlavors)?;
        Ok(self.flavor_generation.load(Ordering::Acquire))
    }

    /// A flavor write, which moves [`ComputeService::flavor_generation`]
    /// on once committed.
    async fn write_flavors<T, F>(&self, change: F) -> Result<T>
    where
        F: FnOnce(&Transaction) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let changed = self.write(change).await?;
        self.flavor_generation.fetch_add(1, Ordering::AcqRel);
        Ok(changed)
    }

    /// The flavors `listing` selects, as Nova scopes them: administrators
    /// choose with `publicity` (and see disabled ones), everyone else sees
    /// the enabled public flavors and the private ones shared with their
    /// project.
    pub async fn list_flavors(
        &self,
        caller: &AuthContext,
        listing: FlavorListing,
    ) -> Result<Vec<Flavor>> {
        authorize(caller, Action::ReadFlavors)?;
        let usable = Visibility::UsableBy(caller.project_id().unwrap_or_default().to_owned());
        let visibility = match listing.publicity {
            _ if !caller.is_admin() => usable,
            None | Some(Publicity::Public) => usable,
            Some(Publicity::Private) => Visibility::PrivateOnly,
            Some(Publicity::Any) => Visibility::All,
        };
        let query = FlavorQuery {
            visibility,
            include_disabled: caller.is_admin(),
            selection: listing.selection,
        };
        self.read(move |conn| store::list(conn, &query)).await
    }

    /// Flavor `id` if the caller may see it: administrators every flavor,
    /// others the public ones and those shared with their project.
    pub async fn show_flavor(&self, caller: &Arc<AuthContext>, id: &str) -> Result<Flavor> {
        authorize(caller, Action::ReadFlavors)?;
        let (caller, id) = (caller.clone(), id.to_owned());
        self.read(move |conn| {
            let flavor = existing(conn, &id)?;
            let project = caller.project_id().unwrap_or_default();
            if caller.is_admin() || store::usable_by(conn, &flavor, project)? {
                Ok(flavor)
            } else {
                Err(flavor_not_found(&id))
            }
        })
        .await
    }

    /// Creates a flavor; a taken id or name is a conflict.
    pub async fn create_flavor(&self, caller: &AuthContext, new: NewFlavor) -> Result<Flavor> {
        authorize(caller, Action::ManageFlavors)?;
        let flavor = Flavor {
            id: new.id.unwrap_or_else(new_id),
            name: new.name,
            ram: new.ram,
            vcpus: new.vcpus,
            disk: new.disk,
            ephemeral: new.ephemeral,
            swap: new.swap,
            rxtx_factor: new.rxtx_factor,
            is_public: new.is_public,
            disabled: false,
            description: new.description,
            extra_specs: BTreeMap::new(),
            created_at: Utc::now(),
        };
        let stored = flavor.clone();
        self.write_flavors(move |tx| store::insert(tx, &stored))
            .await?;
        Ok(flavor)
    }

    /// Changes a flavor's description, the one thing that changes (2.55).
    pub async fn describe_flavor(
        &self,
        caller: &AuthContext,
        id: &str,
        description: Option<String>,
    ) -> Result<Flavor> {
        authorize(caller, Action::ManageFlavors)?;
        let id = id.to_owned();
        self.write_flavors(move |tx| {
            let mut flavor = existing(tx, &id)?;
            store::set_description(tx, &id, description.as_deref())?;
            flavor.description = description;
            Ok(flavor)
        })
        .await
    }

    pub async fn delete_flavor(&self, caller: &AuthContext, id: &str) -> Result<()> {
        authorize(caller, Action::ManageFlavors)?;
        let id = id.to_owned();
        self.write_flavors(move |tx| {
            existing(tx, &id)?;
            store::delete(tx, &id)
        })
        .await
    }

    /// The projects a private flavor is shared with; a public flavor has
    /// no such list.
    pub async fn flavor_access(&self, caller: &AuthContext, id: &str) -> Result<Vec<String>> {
        authorize(caller, Action::ManageFlavors)?;
        let id = id.to_owned();
        self.read(move |conn| {
            if existing(conn, &id)?.is_public {
                return Err(ComputeError::not_found(
                    "Access list not available for public flavors.",
                ));
            }
            store::access(conn, &id)
        })
        .await
    }

    /// Shares a private flavor with `project`, or stops sharing it; the
    /// projects it is shared with afterwards.
    pub async fn change_flavor_access(
        &self,
        caller: &AuthContext,
        id: &str,
        change: AccessChange,
        project: &str,
    ) -> Result<Vec<String>> {
        authorize(caller, Action::ManageFlavors)?;
        let (id, project) = (id.to_owned(), project.to_owned());
        self.write_flavors(move |tx| {
            let flavor = existing(tx, &id)?;
            match change {
                AccessChange::Add if flavor.is_public => {
                    return Err(ComputeError::conflict(
                        "Can not add access to a public flavor.",
                    ));
                }
                AccessChange::Add if !store::add_access(tx, &id, &project)? => {
                    return Err(ComputeError::conflict(format!(
                        "Flavor access already exists for flavor {id} and project {project} combination."
                    )));
                }
                AccessChange::Remove if !store::remove_access(tx, &id, &project)? => {
                    return Err(ComputeError::not_found(format!(
                        "Flavor access not found for {id} / {project} combination."
                    )));
                }
                _ => {}
            }
            store::access(tx, &id)
        })
        .await
    }

    /// The extra specs of a flavor the caller may see.
    pub async fn flavor_extra_specs(
        &self,
        caller: &Arc<AuthContext>,
        id: &str,
    ) -> Result<BTreeMap<String, String>> {
        authorize(caller, Action::ReadFlavorExtraSpecs)?;
        Ok(self.show_flavor(caller, id).await?.extra_specs)
    }

    pub async fn flavor_extra_spec(
        &self,
        caller: &Arc<AuthContext>,
        id: &str,
        key: &str,
    ) -> Result<String> {
        self.flavor_extra_specs(caller, id)
            .await?
            .remove(key)
            .ok_or_else(|| no_such_spec(id, key))
    }

    /// Adds or changes the given extra specs of a flavor.
    pub async fn set_flavor_extra_specs(
        &self,
        caller: &AuthContext,
        id: &str,
        specs: BTreeMap<String, String>,
    ) -> Result<()> {
        authorize(caller, Action::ManageFlavors)?;
        let id = id.to_owned();
        self.write_flavors(move |tx| {
            existing(tx, &id)?;
            for (key, value) in &specs {
                store::set_extra_spec(tx, &id, key, value)?;
            }
            Ok(())
        })
        .await
    }

    pub async fn delete_flavor_extra_spec(
        &self,
        caller: &AuthContext,
        id: &str,
        key: &str,
    ) -> Result<()> {
        authorize(caller, Action::ManageFlavors)?;
        let (id, key) = (id.to_owned(), key.to_owned());
        self.write_flavors(move |tx| {
            existing(tx, &id)?;
            if store::delete_extra_spec(tx, &id, &key)? {
                Ok(())
            } else {
                Err(no_such_spec(&id, &key))
            }
        })
        .await
    }
}
