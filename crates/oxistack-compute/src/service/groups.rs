//! Server groups: affinity policies for sets of servers, owned by a
//! project. Another project's group does not exist for the caller.

use std::sync::Arc;

use chrono::Utc;
use oxistack_auth::{Action, AuthContext};

use super::ComputeService;
use super::error::{ComputeError, Result, authorize};
use crate::model::{GroupPolicy, ServerGroup, group_not_found, new_id};
use crate::quota::{Limits, Resource};
use crate::store;

/// `GET /os-server-groups`.
#[derive(Debug, Clone)]
pub struct GroupListing {
    /// Every project's groups, for an administrator.
    pub all_projects: bool,
    pub offset: usize,
    pub limit: usize,
}

#[derive(Debug, Clone)]
pub struct NewGroup {
    pub name: String,
    pub policy: GroupPolicy,
    /// The `max_server_per_host` rule of an anti-affinity group.
    pub max_server_per_host: Option<u32>,
}

/// The caller's project, which `doing` needs.
fn own_project(caller: &AuthContext, doing: &str) -> Result<String> {
    caller
        .project_id()
        .map(str::to_owned)
        .ok_or_else(|| ComputeError::forbidden(format!("{doing} needs a project-scoped token.")))
}

impl ComputeService {
    /// The groups of the caller's project, or of every project.
    pub async fn list_groups(
        &self,
        caller: &AuthContext,
        listing: GroupListing,
    ) -> Result<Vec<ServerGroup>> {
        authorize(caller, Action::ReadServerGroups)?;
        let project = if listing.all_projects {
            authorize(caller, Action::ListAllProjectsServerGroups)?;
            None
        } else {
            Some(own_project(caller, "Listing server groups")?)
        };
        self.read(move |conn| {
            store::groups::list(conn, project.as_deref(), listing.offset, listing.limit)
        })
        .await
    }

    pub async fn show_group(&self, caller: &AuthContext, id: &str) -> Result<ServerGroup> {
        authorize(caller, Action::ReadServerGroups)?;
        let lookup = id.to_owned();
        self.read(move |conn| store::groups::find(conn, &lookup))
            .await?
            .filter(|g| caller.can_see_project(&g.project_id))
            .ok_or_else(|| group_not_found(id))
    }

    /// Creates a group in the caller's project, within its quota.
    pub async fn create_group(&self, caller: &AuthContext, new: NewGroup) -> Result<ServerGroup> {
        authorize(caller, Action::ManageServerGroups)?;
        let group = ServerGroup {
            id: new_id(),
            project_id: own_project(caller, "Creating server groups")?,
            user_id: caller.user.id.clone(),
            name: new.name,
            policy: new.policy,
            max_server_per_host: new.max_server_per_host,
            members: Vec::new(),
            created_at: Utc::now(),
        };
        let stored = group.clone();
        self.write(move |tx| {
            let limits = Limits::of(tx, &stored.project_id)?;
            let used = store::groups::count(tx, &stored.project_id)?;
            if limits.room(Resource::ServerGroups, used, 1) == Some(0) {
                return Err(ComputeError::forbidden(
                    "Quota exceeded, too many server groups.",
                ));
            }
            store::groups::insert(tx, &stored)
        })
        .await?;
        Ok(group)
    }

    /// Deletes a group the caller may see; its servers stay, ungrouped.
    pub async fn delete_group(&self, caller: &Arc<AuthContext>, id: &str) -> Result<()> {
        authorize(caller, Action::ManageServerGroups)?;
        let (visible_to, id) = (caller.clone(), id.to_owned());
        self.write(move |tx| {
            store::groups::find(tx, &id)?
                .filter(|g| visible_to.can_see_project(&g.project_id))
                .ok_or_else(|| group_not_found(&id))?;
            store::groups::delete(tx, &id)
        })
        .await
    }
}
