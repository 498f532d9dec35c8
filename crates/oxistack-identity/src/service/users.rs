//! Users. Administrators manage them; every user may read themselves,
//! their projects and groups, and change their own password. Disabling a
//! user, resetting or changing a password, and deleting a user revoke the
//! user's tokens.

use oxistack_auth::{Action, AuthContext};
use oxistack_db::rusqlite::Connection;
use serde_json::{Map, Value};

use super::error::{IdentityError, Result, authorize};
use super::projects::require_domain;
use super::validate::{self, NAME_LENGTH};
use super::{default_domain, require_self_or_admin};
use crate::IdentityService;
use crate::model::{self, Group, Project, User, conflict_on_duplicate, groups, new_id, require};
use crate::password;
use crate::wire::{PasswordChange, UserCreate, UserUpdate};

/// Checks a default project named in a request exists.
fn check_default_project(conn: &Connection, project: Option<&str>) -> Result<()> {
    if let Some(id) = project
        && model::project(conn, id)?.is_none()
    {
        return Err(IdentityError::invalid(format!(
            "Invalid input for field 'user.default_project_id': project {id} does not exist."
        )));
    }
    Ok(())
}

/// The attributes beyond Keystone's own that are kept as given, as
/// Keystone does: all but those it computes or owns, and the domain, which
/// a user cannot change.
fn kept(mut attributes: Map<String, Value>) -> Map<String, Value> {
    for owned in [
        "id",
        "links",
        "options",
        "federated",
        "domain_id",
        "password_expires_at",
    ] {
        attributes.remove(owned);
    }
    attributes
}

/// Hashes a new password after checking its length.
async fn new_password_hash(secret: Option<String>) -> Result<Option<String>> {
    match secret {
        Some(secret) => {
            validate::password("user.password", &secret)?;
            Ok(Some(password::hash(secret).await?))
        }
        None => Ok(None),
    }
}

impl IdentityService {
    pub async fn list_users(
        &self,
        caller: &AuthContext,
        name: Option<String>,
        domain_id: Option<String>,
        enabled: Option<bool>,
    ) -> Result<Vec<User>> {
        authorize(caller, Action::ListUsers)?;
        self.read(move |conn| model::users(conn, name, domain_id, enabled))
            .await
    }

    pub async fn get_user(&self, caller: &AuthContext, id: &str) -> Result<User> {
        require_self_or_admin(caller, id)?;
        let wanted = id.to_owned();
        let user = self.read(move |conn| model::user(conn, &wanted)).await?;
        require(user, "user", id)
    }

    pub async fn create_user(&self, caller: &AuthContext, request: UserCreate) -> Result<User> {
        authorize(caller, Action::ManageUsers)?;
        validate::name("user.name", &request.name, NAME_LENGTH)?;
        let password_hash = new_password_hash(request.password).await?;
        let user = User {
            id: new_id(),
            name: request.name,
            domain_id: request.domain_id.unwrap_or_else(|| default_domain(caller)),
            enabled: request.enabled.unwrap_or(true),
            password_hash,
            default_project_id: request.default_project_id,
            description: request.description,
            email: request.email,
            extra: kept(request.extra),
        };
        let stored = user.clone();
        self.change(move |tx| {
            require_domain(tx, &stored.domain_id)?;
            check_default_project(tx, stored.default_project_id.as_deref())?;
            model::insert_user(tx, &stored).map_err(conflict_on_duplicate("user", &stored.name))
        })
        .await?;
        Ok(user)
    }

    /// Disabling a user or resetting their password revokes their tokens.
    pub async fn update_user(
        &self,
        caller: &AuthContext,
        id: &str,
        request: UserUpdate,
    ) -> Result<User> {
        authorize(caller, Action::ManageUsers)?;
        if let Some(name) = &request.name {
            validate::name("user.name", name, NAME_LENGTH)?;
        }
        let new_hash = new_password_hash(request.password).await?;
        let (id, tokens) = (id.to_owned(), self.tokens.clone());
        self.change(move |tx| {
            let mut user = require(model::user(tx, &id)?, "user", &id)?;
            if let Some(project) = &request.default_project_id {
                check_default_project(tx, project.as_deref())?;
            }
            let revoke = request.enabled == Some(false) || new_hash.is_some();
            if let Some(name) = request.name {
                user.name = name;
            }
            if let Some(enabled) = request.enabled {
                user.enabled = enabled;
            }
            if new_hash.is_some() {
                user.password_hash = new_hash;
            }
            if let Some(project) = request.default_project_id {
                user.default_project_id = project;
            }
            if let Some(description) = request.description {
                user.description = description;
            }
            if let Some(email) = request.email {
                user.email = email;
            }
            user.extra.extend(kept(request.extra));
            model::save_user(tx, &user).map_err(conflict_on_duplicate("user", &user.name))?;
            if revoke {
                tokens.revoke_user(tx, &user.id, None)?;
            }
            Ok(user)
        })
        .await
    }

    /// Deleting a user revokes their tokens and removes their assignments,
    /// group memberships and application credentials.
    pub async fn delete_user(&self, caller: &AuthContext, id: &str) -> Result<()> {
        authorize(caller, Action::ManageUsers)?;
        let (id, tokens) = (id.to_owned(), self.tokens.clone());
        self.change(move |tx| {
            require(model::user(tx, &id)?, "user", &id)?;
            tokens.revoke_user(tx, &id, None)?;
            model::delete_user(tx, &id)
        })
        .await
    }

    /// Changes a user's password. As in Keystone, knowing the original
    /// password is what allows it, not who asks. All of the user's tokens
    /// are revoked.
    pub async fn change_password(&self, id: &str, request: PasswordChange) -> Result<()> {
        if request.password.is_empty() {
            return Err(IdentityError::invalid(
                "Invalid input for field 'user.password': must not be empty.",
            ));
        }
        validate::password("user.password", &request.password)?;
        let wanted = id.to_owned();
        let stored = self.read(move |conn| model::user(conn, &wanted)).await?;
        let stored_hash = stored.and_then(|u| u.password_hash);
        if !password::verify(request.original_password, stored_hash).await {
            return Err(IdentityError::Unauthorized(
                "The original password is not correct.".into(),
            ));
        }
        let new_hash = password::hash(request.password).await?;
        let (id, tokens) = (id.to_owned(), self.tokens.clone());
        self.change(move |tx| {
            model::set_password_hash(tx, &id, &new_hash)?;
            tokens.revoke_user(tx, &id, None)
        })
        .await
    }

    pub async fn projects_of_user(&self, caller: &AuthContext, id: &str) -> Result<Vec<Project>> {
        require_self_or_admin(caller, id)?;
        let id = id.to_owned();
        self.read(move |conn| {
            require(model::user(conn, &id)?, "user", &id)?;
            model::projects_of_user(conn, &id)
        })
        .await
    }

    pub async fn groups_of_user(&self, caller: &AuthContext, id: &str) -> Result<Vec<Group>> {
        require_self_or_admin(caller, id)?;
        let id = id.to_owned();
        self.read(move |conn| {
            require(model::user(conn, &id)?, "user", &id)?;
            groups::groups_of_user(conn, &id)
        })
        .await
    }
}
