//! Roles and role implication, for administrators.

use oxistack_auth::{Action, AuthContext};
use oxistack_db::rusqlite::{self, Connection};

use super::entity::{Entity, rename_and_describe};
use super::error::{IdentityError, Result, authorize};
use crate::IdentityService;
use crate::model::{Role, new_id, require, roles};
use crate::wire::{RoleCreate, RoleUpdate};

/// A role and the roles it implies directly.
#[derive(Debug, Clone)]
pub struct RoleInference {
    pub prior: Role,
    pub implies: Vec<Role>,
}

fn implication_not_found(prior_id: &str, implied_id: &str) -> IdentityError {
    IdentityError::NotFound(format!("{prior_id} does not imply {implied_id}."))
}

fn both_roles(conn: &Connection, prior_id: &str, implied_id: &str) -> Result<(Role, Role)> {
    let prior = require(roles::role(conn, prior_id)?, "role", prior_id)?;
    let implied = require(roles::role(conn, implied_id)?, "role", implied_id)?;
    Ok((prior, implied))
}

impl IdentityService {
    pub async fn list_roles(
        &self,
        caller: &AuthContext,
        name: Option<String>,
    ) -> Result<Vec<Role>> {
        authorize(caller, Action::ListRoles)?;
        self.read(move |conn| roles::roles(conn, name)).await
    }

    pub async fn get_role(&self, caller: &AuthContext, id: &str) -> Result<Role> {
        authorize(caller, Action::ListRoles)?;
        let wanted = id.to_owned();
        let role = self.read(move |conn| roles::role(conn, &wanted)).await?;
        require(role, "role", id)
    }

    /// Deleting a role removes its assignments and implications with it.
    pub async fn delete_role(&self, caller: &AuthContext, id: &str) -> Result<()> {
        authorize(caller, Action::ManageRoles)?;
        let id = id.to_owned();
        self.change(move |tx| {
            require(roles::role(tx, &id)?, "role", &id)?;
            roles::delete(tx, &id)
        })
        .await
    }

    /// The roles `prior_id` implies directly.
    pub async fn implied_roles(
        &self,
        caller: &AuthContext,
        prior_id: &str,
    ) -> Result<RoleInference> {
        authorize(caller, Action::ListRoles)?;
        let prior_id = prior_id.to_owned();
        self.read(move |conn| {
            let prior = require(roles::role(conn, &prior_id)?, "role", &prior_id)?;
            let implies = roles::implied_by(conn, &prior.id)?;
            Ok(RoleInference { prior, implies })
        })
        .await
    }

    /// Makes `prior_id` imply `implied_id`. Cycles are refused: a role that
    /// already follows from the implied one cannot imply it.
    pub async fn add_implied_role(
        &self,
        caller: &AuthContext,
        prior_id: &str,
        implied_id: &str,
    ) -> Result<(Role, Role)> {
        authorize(caller, Action::ManageRoles)?;
        let (prior_id, implied_id) = (prior_id.to_owned(), implied_id.to_owned());
        self.change(move |tx| {
            let (prior, implied) = both_roles(tx, &prior_id, &implied_id)?;
            let reachable = roles::expand_implied(tx, std::slice::from_ref(&implied.id))?;
            if reachable.iter().any(|r| r.id == prior.id) {
                return Err(IdentityError::forbidden(format!(
                    "Implying {} from {} would create a cycle of implied roles.",
                    implied.name, prior.name
                )));
            }
            roles::add_implication(tx, &prior.id, &implied.id)?;
            Ok((prior, implied))
        })
        .await
    }

    /// Both roles if `prior_id` implies `implied_id`; a 404 otherwise.
    pub async fn check_implied_role(
        &self,
        caller: &AuthContext,
        prior_id: &str,
        implied_id: &str,
    ) -> Result<(Role, Role)> {
        authorize(caller, Action::ListRoles)?;
        let (prior_id, implied_id) = (prior_id.to_owned(), implied_id.to_owned());
        self.read(move |conn| {
            let (prior, implied) = both_roles(conn, &prior_id, &implied_id)?;
            if !roles::implication_exists(conn, &prior.id, &implied.id)? {
                return Err(implication_not_found(&prior_id, &implied_id));
            }
            Ok((prior, implied))
        })
        .await
    }

    pub async fn remove_implied_role(
        &self,
        caller: &AuthContext,
        prior_id: &str,
        implied_id: &str,
    ) -> Result<()> {
        authorize(caller, Action::ManageRoles)?;
        let (prior_id, implied_id) = (prior_id.to_owned(), implied_id.to_owned());
        self.change(move |tx| {
            if !roles::remove_implication(tx, &prior_id, &implied_id)? {
                return Err(implication_not_found(&prior_id, &implied_id));
            }
            Ok(())
        })
        .await
    }

    /// Every role that implies others, with what it implies.
    pub async fn role_inferences(&self, caller: &AuthContext) -> Result<Vec<RoleInference>> {
        authorize(caller, Action::ListRoles)?;
        self.read(|conn| {
            roles::priors(conn)?
                .into_iter()
                .map(|prior| {
                    let implies = roles::implied_by(conn, &prior.id)?;
                    Ok(RoleInference { prior, implies })
                })
                .collect()
        })
        .await
    }
}

impl Entity for Role {
    const KIND: &'static str = "role";
    const MANAGE: Action = Action::ManageRoles;
    type Create = RoleCreate;
    type Update = RoleUpdate;

    fn name(&self) -> &str {
        &self.name
    }

    fn from_create(request: RoleCreate, _caller: &AuthContext) -> Result<Self> {
        if request.domain_id.is_some() {
            return Err(IdentityError::invalid(
                "Invalid input for field 'role.domain_id': domain-specific roles are not supported.",
            ));
        }
        Ok(Role {
            id: new_id(),
            name: request.name,
            description: request.description.unwrap_or_default(),
        })
    }

    fn renamed(update: &RoleUpdate) -> Option<&str> {
        update.name.as_deref()
    }

    fn apply(&mut self, update: RoleUpdate) -> Result<()> {
        rename_and_describe(
            &mut self.name,
            &mut self.description,
            update.name,
            update.description,
        );
        Ok(())
    }

    fn load(conn: &Connection, id: &str) -> Result<Option<Self>> {
        roles::role(conn, id)
    }

    fn insert(&self, conn: &Connection) -> rusqlite::Result<()> {
        roles::insert(conn, self)
    }

    fn save(&self, conn: &Connection) -> rusqlite::Result<()> {
        roles::save(conn, self)
    }
}
