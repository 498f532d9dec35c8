//! Domains. Administrators manage them; everyone may read the domain of
//! their user and of their token's scope.

use oxistack_auth::{Action, AuthContext, Scope};
use oxistack_db::rusqlite::{self, Connection};

use super::entity::{Entity, rename_and_describe};
use super::error::{IdentityError, Result, authorize};
use super::validate::SHORT_NAME_LENGTH;
use crate::IdentityService;
use crate::model::{self, DEFAULT_DOMAIN_ID, Domain, ProjectFilter, groups, new_id, require};
use crate::wire::{DomainCreate, DomainUpdate};

/// A caller may read the domain of their user or of their project.
fn may_read(caller: &AuthContext, domain_id: &str) -> bool {
    caller.is_admin()
        || caller.user_domain.id == domain_id
        || matches!(&caller.scope, Scope::Project { domain, .. } if domain.id == domain_id)
        || matches!(&caller.scope, Scope::Domain(domain) if domain.id == domain_id)
}

impl IdentityService {
    pub async fn list_domains(
        &self,
        caller: &AuthContext,
        name: Option<String>,
        enabled: Option<bool>,
    ) -> Result<Vec<Domain>> {
        authorize(caller, Action::ListDomains)?;
        self.read(move |conn| model::domains(conn, name, enabled))
            .await
    }

    pub async fn get_domain(&self, caller: &AuthContext, id: &str) -> Result<Domain> {
        let wanted = id.to_owned();
        let domain = self.read(move |conn| model::domain(conn, &wanted)).await?;
        require(domain.filter(|d| may_read(caller, &d.id)), "domain", id)
    }

    /// A domain must be disabled before it is deleted; deleting it deletes
    /// its projects, users and groups with it (revoking their tokens), as
    /// Keystone does.
    pub async fn delete_domain(&self, caller: &AuthContext, id: &str) -> Result<()> {
        authorize(caller, Action::ManageDomains)?;
        let (id, tokens) = (id.to_owned(), self.tokens.clone());
        self.change(move |tx| {
            let domain = require(model::domain(tx, &id)?, "domain", &id)?;
            if domain.id == DEFAULT_DOMAIN_ID {
                return Err(IdentityError::forbidden(
                    "The default domain cannot be deleted.",
                ));
            }
            if domain.enabled {
                return Err(IdentityError::forbidden(
                    "Cannot delete a domain that is enabled, please disable it first.",
                ));
            }
            let in_domain = ProjectFilter {
                domain_id: Some(id.clone()),
                ..ProjectFilter::default()
            };
            for project in model::projects(tx, in_domain)? {
                tokens.revoke_project(tx, &project.id)?;
                model::delete_project(tx, &project.id)?;
            }
            for group in groups::groups(tx, None, Some(id.clone()))? {
                tokens.revoke_group_members(tx, &group.id, None)?;
                groups::delete(tx, &group.id)?;
            }
            for user in model::users(tx, None, Some(id.clone()), None)? {
                tokens.revoke_user(tx, &user.id, None)?;
                model::delete_user(tx, &user.id)?;
            }
            model::delete_domain(tx, &id)
        })
        .await
    }
}

impl Entity for Domain {
    const KIND: &'static str = "domain";
    const MANAGE: Action = Action::ManageDomains;
    const NAME_LENGTH: usize = SHORT_NAME_LENGTH;
    type Create = DomainCreate;
    type Update = DomainUpdate;

    fn name(&self) -> &str {
        &self.name
    }

    fn from_create(request: DomainCreate, _caller: &AuthContext) -> Result<Self> {
        Ok(Domain {
            id: new_id(),
            name: request.name,
            description: request.description.unwrap_or_default(),
            enabled: request.enabled.unwrap_or(true),
        })
    }

    fn renamed(update: &DomainUpdate) -> Option<&str> {
        update.name.as_deref()
    }

    fn apply(&mut self, update: DomainUpdate) -> Result<()> {
        if update.enabled == Some(false) && self.id == DEFAULT_DOMAIN_ID {
            return Err(IdentityError::forbidden(
                "The default domain cannot be disabled.",
            ));
        }
        rename_and_describe(
            &mut self.name,
            &mut self.description,
            update.name,
            update.description,
        );
        if let Some(enabled) = update.enabled {
            self.enabled = enabled;
        }
        Ok(())
    }

    fn load(conn: &Connection, id: &str) -> Result<Option<Self>> {
        model::domain(conn, id)
    }

    fn insert(&self, conn: &Connection) -> rusqlite::Result<()> {
        model::insert_domain(conn, self)
    }

    fn save(&self, conn: &Connection) -> rusqlite::Result<()> {
        model::save_domain(conn, self)
    }
}
