//! Projects. Administrators list and manage them; everyone may read the
//! projects they hold a role on, and list those through
//! `/v3/auth/projects` or `/v3/users/{id}/projects` (`openstack project
//! list --my-projects`), as in Keystone, whose `/v3/projects` is for
//! administrators.

use oxistack_auth::{Action, AuthContext};
use oxistack_db::rusqlite::{self, Connection};

use super::default_domain;
use super::entity::{Entity, rename_and_describe};
use super::error::{IdentityError, Result, authorize};
use super::validate::{self, SHORT_NAME_LENGTH};
use crate::IdentityService;
use crate::model::{self, Project, ProjectFilter, TargetKind, new_id, require, roles};
use crate::wire::{ProjectCreate, ProjectUpdate};

/// A project the caller may see: admins see all, others the projects they
/// hold a role on. Anything else is a 404.
fn visible_project(conn: &Connection, caller: &AuthContext, id: &str) -> Result<Project> {
    let project = require(model::project(conn, id)?, "project", id)?;
    if caller.is_admin() || caller.project_id() == Some(id) {
        return Ok(project);
    }
    let held = roles::effective_roles(conn, &caller.user.id, TargetKind::Project, id)?;
    if held.is_empty() {
        return Err(IdentityError::not_found("project", id));
    }
    Ok(project)
}

/// A new project, user or group must name a domain that exists; a
/// missing one is Keystone's 404 for the domain.
pub(super) fn require_domain(conn: &Connection, domain_id: &str) -> Result<()> {
    require(model::domain(conn, domain_id)?, "domain", domain_id).map(drop)
}

impl IdentityService {
    /// Projects acting as domains are not supported, so asking for them
    /// (`is_domain`) finds none.
    pub async fn list_projects(
        &self,
        caller: &AuthContext,
        filter: ProjectFilter,
        is_domain: Option<bool>,
    ) -> Result<Vec<Project>> {
        authorize(caller, Action::ListProjects)?;
        if is_domain == Some(true) {
            return Ok(Vec::new());
        }
        self.read(move |conn| model::projects(conn, filter)).await
    }

    pub async fn get_project(&self, caller: &AuthContext, id: &str) -> Result<Project> {
        let (caller, id) = (caller.clone(), id.to_owned());
        self.read(move |conn| visible_project(conn, &caller, &id))
            .await
    }

    /// Deleting a project removes its role assignments and the tokens
    /// scoped to it.
    pub async fn delete_project(&self, caller: &AuthContext, id: &str) -> Result<()> {
        authorize(caller, Action::ManageProjects)?;
        let id = id.to_owned();
        let tokens = self.tokens.clone();
        self.change(move |tx| {
            require(model::project(tx, &id)?, "project", &id)?;
            tokens.revoke_project(tx, &id)?;
            model::delete_project(tx, &id)
        })
        .await
    }
}

impl Entity for Project {
    const KIND: &'static str = "project";
    const MANAGE: Action = Action::ManageProjects;
    const NAME_LENGTH: usize = SHORT_NAME_LENGTH;
    type Create = ProjectCreate;
    type Update = ProjectUpdate;

    fn name(&self) -> &str {
        &self.name
    }

    fn from_create(request: ProjectCreate, caller: &AuthContext) -> Result<Self> {
        if request.is_domain {
            return Err(IdentityError::invalid(
                "Projects acting as domains are not supported; create a domain instead.",
            ));
        }
        if let Some(tags) = &request.tags {
            validate::tags("project.tags", tags)?;
        }
        let domain_id = request.domain_id.unwrap_or_else(|| default_domain(caller));
        if request
            .parent_id
            .as_ref()
            .is_some_and(|parent| *parent != domain_id)
        {
            return Err(IdentityError::invalid(
                "Invalid input for field 'project.parent_id': nested projects are not supported; the parent must be the project's domain.",
            ));
        }
        Ok(Project {
            id: new_id(),
            name: request.name,
            domain_id,
            description: request.description.unwrap_or_default(),
            enabled: request.enabled.unwrap_or(true),
            tags: request.tags.unwrap_or_default(),
        })
    }

    fn renamed(update: &ProjectUpdate) -> Option<&str> {
        update.name.as_deref()
    }

    fn apply(&mut self, update: ProjectUpdate) -> Result<()> {
        rename_and_describe(
            &mut self.name,
            &mut self.description,
            update.name,
            update.description,
        );
        if let Some(enabled) = update.enabled {
            self.enabled = enabled;
        }
        if let Some(tags) = update.tags {
            validate::tags("project.tags", &tags)?;
            self.tags = tags;
        }
        Ok(())
    }

    fn check_references(&self, conn: &Connection) -> Result<()> {
        require_domain(conn, &self.domain_id)
    }

    fn load(conn: &Connection, id: &str) -> Result<Option<Self>> {
        model::project(conn, id)
    }

    fn insert(&self, conn: &Connection) -> rusqlite::Result<()> {
        model::insert_project(conn, self)
    }

    fn save(&self, conn: &Connection) -> rusqlite::Result<()> {
        model::save_project(conn, self)
    }
}
