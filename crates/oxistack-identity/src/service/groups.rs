//! Groups and their members, for administrators. A user leaving a group,
//! or the group going, may lose roles: their tokens are revoked.

use oxistack_auth::{Action, AuthContext};
use oxistack_db::rusqlite::{self, Connection};

use super::default_domain;
use super::entity::{Entity, rename_and_describe};
use super::error::{IdentityError, Result, authorize};
use super::projects::require_domain;
use crate::IdentityService;
use crate::model::{self, Group, User, groups, new_id, require};
use crate::wire::{GroupCreate, GroupUpdate};

/// Both ends of a membership must exist, else 404 naming the missing one.
fn require_both(conn: &Connection, group_id: &str, user_id: &str) -> Result<()> {
    require(groups::group(conn, group_id)?, "group", group_id)?;
    require(model::user(conn, user_id)?, "user", user_id)?;
    Ok(())
}

fn not_a_member() -> IdentityError {
    IdentityError::NotFound("The user is not a member of the group.".into())
}

impl IdentityService {
    pub async fn list_groups(
        &self,
        caller: &AuthContext,
        name: Option<String>,
        domain_id: Option<String>,
    ) -> Result<Vec<Group>> {
        authorize(caller, Action::ManageGroups)?;
        self.read(move |conn| groups::groups(conn, name, domain_id))
            .await
    }

    pub async fn get_group(&self, caller: &AuthContext, id: &str) -> Result<Group> {
        authorize(caller, Action::ManageGroups)?;
        let wanted = id.to_owned();
        let group = self.read(move |conn| groups::group(conn, &wanted)).await?;
        require(group, "group", id)
    }

    /// Deleting a group revokes its members' tokens: they may have lost roles.
    pub async fn delete_group(&self, caller: &AuthContext, id: &str) -> Result<()> {
        authorize(caller, Action::ManageGroups)?;
        let (id, tokens) = (id.to_owned(), self.tokens.clone());
        self.change(move |tx| {
            require(groups::group(tx, &id)?, "group", &id)?;
            tokens.revoke_group_members(tx, &id, None)?;
            groups::delete(tx, &id)
        })
        .await
    }

    pub async fn group_members(&self, caller: &AuthContext, id: &str) -> Result<Vec<User>> {
        authorize(caller, Action::ManageGroups)?;
        let id = id.to_owned();
        self.read(move |conn| {
            require(groups::group(conn, &id)?, "group", &id)?;
            groups::members(conn, &id)
        })
        .await
    }

    pub async fn add_group_member(
        &self,
        caller: &AuthContext,
        group_id: &str,
        user_id: &str,
    ) -> Result<()> {
        authorize(caller, Action::ManageGroups)?;
        let (group_id, user_id) = (group_id.to_owned(), user_id.to_owned());
        self.change(move |tx| {
            require_both(tx, &group_id, &user_id)?;
            groups::add_member(tx, &group_id, &user_id)
        })
        .await
    }

    /// Succeeds if the user is a member; a 404 otherwise.
    pub async fn check_group_member(
        &self,
        caller: &AuthContext,
        group_id: &str,
        user_id: &str,
    ) -> Result<()> {
        authorize(caller, Action::ManageGroups)?;
        let (group_id, user_id) = (group_id.to_owned(), user_id.to_owned());
        let is_member = self
            .read(move |conn| {
                require_both(conn, &group_id, &user_id)?;
                groups::is_member(conn, &group_id, &user_id)
            })
            .await?;
        if is_member {
            Ok(())
        } else {
            Err(not_a_member())
        }
    }

    /// Removing a member revokes the user's tokens: they may have lost roles.
    pub async fn remove_group_member(
        &self,
        caller: &AuthContext,
        group_id: &str,
        user_id: &str,
    ) -> Result<()> {
        authorize(caller, Action::ManageGroups)?;
        let (group_id, user_id) = (group_id.to_owned(), user_id.to_owned());
        let tokens = self.tokens.clone();
        self.change(move |tx| {
            require_both(tx, &group_id, &user_id)?;
            if !groups::remove_member(tx, &group_id, &user_id)? {
                return Err(not_a_member());
            }
            tokens.revoke_user(tx, &user_id, None)
        })
        .await
    }
}

impl Entity for Group {
    const KIND: &'static str = "group";
    const MANAGE: Action = Action::ManageGroups;
    type Create = GroupCreate;
    type Update = GroupUpdate;

    fn name(&self) -> &str {
        &self.name
    }

    fn from_create(request: GroupCreate, caller: &AuthContext) -> Result<Self> {
        Ok(Group {
            id: new_id(),
            name: request.name,
            domain_id: request.domain_id.unwrap_or_else(|| default_domain(caller)),
            description: request.description.unwrap_or_default(),
        })
    }

    fn renamed(update: &GroupUpdate) -> Option<&str> {
        update.name.as_deref()
    }

    fn apply(&mut self, update: GroupUpdate) -> Result<()> {
        rename_and_describe(
            &mut self.name,
            &mut self.description,
            update.name,
            update.description,
        );
        Ok(())
    }

    fn check_references(&self, conn: &Connection) -> Result<()> {
        require_domain(conn, &self.domain_id)
    }

    fn load(conn: &Connection, id: &str) -> Result<Option<Self>> {
        groups::group(conn, id)
    }

    fn insert(&self, conn: &Connection) -> rusqlite::Result<()> {
        groups::insert(conn, self)
    }

    fn save(&self, conn: &Connection) -> rusqlite::Result<()> {
        groups::save(conn, self)
    }
}
