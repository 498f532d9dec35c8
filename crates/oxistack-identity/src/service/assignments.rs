//! Role assignments: granting roles to users and groups on projects,
//! domains and the system, and listing who holds what. Removing a role
//! revokes the affected users' tokens on that target, as Keystone does.

use oxistack_auth::{Action, AuthContext};
use oxistack_db::rusqlite::Connection;

use super::error::{IdentityError, Result, authorize};
use crate::IdentityService;
use crate::model::{
    self, ActorKind, Assignment, Role, SYSTEM_TARGET, TargetKind, assignments, groups, require,
    roles,
};

/// What a grant route names: an actor on a target. `target_id` is ignored
/// for the system.
#[derive(Debug, Clone)]
pub struct GrantTarget {
    pub target: TargetKind,
    pub target_id: String,
    pub actor: ActorKind,
    pub actor_id: String,
}

/// Keystone's `GET /v3/role_assignments` filters and options.
#[derive(Debug, Clone, Default)]
pub struct AssignmentFilter {
    pub user_id: Option<String>,
    pub group_id: Option<String>,
    pub role_id: Option<String>,
    pub project_id: Option<String>,
    pub domain_id: Option<String>,
    /// Only assignments on the system.
    pub system: bool,
    /// What users effectively hold: group assignments replaced by one per
    /// member, implied roles added.
    pub effective: bool,
    /// Give every reference its name (and domain).
    pub include_names: bool,
}

/// A domain as a reference shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainRef {
    pub id: String,
    pub name: String,
}

/// Something an assignment refers to, with its name and domain when they
/// were asked for and it exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub id: String,
    pub name: Option<String>,
    pub domain: Option<DomainRef>,
}

impl Reference {
    fn bare(id: &str) -> Self {
        Reference {
            id: id.to_owned(),
            name: None,
            domain: None,
        }
    }
}

/// One entry of the listing.
#[derive(Debug, Clone)]
pub struct RoleAssignment {
    pub actor: ActorKind,
    pub actor_ref: Reference,
    pub target: TargetKind,
    pub target_ref: Reference,
    pub role: Reference,
    /// Set for an effective assignment that comes from a group membership.
    pub via_group: Option<String>,
    /// Set for an effective assignment of a role implied by another.
    pub prior_role: Option<String>,
}

/// The grant route's target and actor, each checked to exist (404 naming
/// the missing one), with the system's one target filled in.
fn resolve(conn: &Connection, grant: GrantTarget) -> Result<GrantTarget> {
    let target_id = match grant.target {
        TargetKind::Project => {
            require(
                model::project(conn, &grant.target_id)?,
                "project",
                &grant.target_id,
            )?
            .id
        }
        TargetKind::Domain => {
            require(
                model::domain(conn, &grant.target_id)?,
                "domain",
                &grant.target_id,
            )?
            .id
        }
        TargetKind::System => SYSTEM_TARGET.to_owned(),
    };
    match grant.actor {
        ActorKind::User => drop(require(
            model::user(conn, &grant.actor_id)?,
            "user",
            &grant.actor_id,
        )?),
        ActorKind::Group => drop(require(
            groups::group(conn, &grant.actor_id)?,
            "group",
            &grant.actor_id,
        )?),
    }
    Ok(GrantTarget { target_id, ..grant })
}

/// The assignment of `role_id` a grant route is about, every end checked
/// to exist.
fn resolve_assignment(conn: &Connection, grant: GrantTarget, role_id: &str) -> Result<Assignment> {
    let grant = resolve(conn, grant)?;
    let role = require(roles::role(conn, role_id)?, "role", role_id)?;
    Ok(Assignment {
        actor: grant.actor,
        actor_id: grant.actor_id,
        target: grant.target,
        target_id: grant.target_id,
        role_id: role.id,
    })
}

/// Whether Keystone's 404 for a missing assignment names its target: a
/// check does, a revoke names the actor only.
enum NameTarget {
    Yes,
    No,
}

fn no_such_assignment(a: &Assignment, name_target: NameTarget) -> IdentityError {
    let target = match name_target {
        NameTarget::Yes => format!(", {}: {}", a.target.as_str(), a.target_id),
        NameTarget::No => String::new(),
    };
    IdentityError::NotFound(format!(
        "Could not find role assignment with role: {}, {}: {}{target}.",
        a.role_id,
        a.actor.as_str(),
        a.actor_id
    ))
}

impl IdentityService {
    /// The roles granted directly to the actor on the target.
    pub async fn list_grants(&self, caller: &AuthContext, grant: GrantTarget) -> Result<Vec<Role>> {
        authorize(caller, Action::ListRoleAssignments)?;
        self.read(move |conn| {
            let g = resolve(conn, grant)?;
            roles::granted(conn, g.actor, &g.actor_id, g.target, &g.target_id)
        })
        .await
    }

    /// Succeeds if the role is granted; a 404 otherwise.
    pub async fn check_grant(
        &self,
        caller: &AuthContext,
        grant: GrantTarget,
        role_id: &str,
    ) -> Result<()> {
        authorize(caller, Action::ListRoleAssignments)?;
        let role_id = role_id.to_owned();
        self.read(move |conn| {
            let a = resolve_assignment(conn, grant, &role_id)?;
            if !assignments::exists(conn, &a)? {
                return Err(no_such_assignment(&a, NameTarget::Yes));
            }
            Ok(())
        })
        .await
    }

    pub async fn grant(
        &self,
        caller: &AuthContext,
        grant: GrantTarget,
        role_id: &str,
    ) -> Result<()> {
        authorize(caller, Action::ManageRoleAssignments)?;
        let role_id = role_id.to_owned();
        self.change(move |tx| {
            let a = resolve_assignment(tx, grant, &role_id)?;
            assignments::insert(tx, &a)
        })
        .await
    }

    /// Removing a role revokes the affected users' tokens on that target.
    pub async fn revoke_grant(
        &self,
        caller: &AuthContext,
        grant: GrantTarget,
        role_id: &str,
    ) -> Result<()> {
        authorize(caller, Action::ManageRoleAssignments)?;
        let (role_id, tokens) = (role_id.to_owned(), self.tokens.clone());
        self.change(move |tx| {
            let a = resolve_assignment(tx, grant, &role_id)?;
            if !assignments::delete(tx, &a)? {
                return Err(no_such_assignment(&a, NameTarget::No));
            }
            let project = (a.target == TargetKind::Project).then_some(a.target_id.as_str());
            match a.actor {
                ActorKind::User => tokens.revoke_user(tx, &a.actor_id, project),
                ActorKind::Group => tokens.revoke_group_members(tx, &a.actor_id, project),
            }
        })
        .await
    }

    /// `GET /v3/role_assignments`. Non-admins may list their own
    /// assignments only.
    pub async fn list_role_assignments(
        &self,
        caller: &AuthContext,
        filter: AssignmentFilter,
    ) -> Result<Vec<RoleAssignment>> {
        if filter.user_id.as_deref() != Some(caller.user.id.as_str()) {
            authorize(caller, Action::ListRoleAssignments)?;
        }
        self.read(move |conn| {
            let mut listed = assignments::all(conn)?
                .into_iter()
                .map(Listed::direct)
                .collect::<Vec<_>>();
            if filter.effective {
                listed = effective(conn, listed)?;
            }
            listed.retain(|entry| filter.matches(&entry.assignment));
            listed
                .into_iter()
                .map(|entry| entry.named(conn, filter.include_names))
                .collect()
        })
        .await
    }
}

impl AssignmentFilter {
    fn matches(&self, a: &Assignment) -> bool {
        let actor_matches = match (&self.user_id, &self.group_id) {
            (Some(user), _) => a.actor == ActorKind::User && &a.actor_id == user,
            (None, Some(group)) => a.actor == ActorKind::Group && &a.actor_id == group,
            (None, None) => true,
        };
        let target_matches = match (&self.project_id, &self.domain_id, self.system) {
            (Some(project), _, _) => a.target == TargetKind::Project && &a.target_id == project,
            (None, Some(domain), _) => a.target == TargetKind::Domain && &a.target_id == domain,
            (None, None, true) => a.target == TargetKind::System,
            (None, None, false) => true,
        };
        let role_matches = self.role_id.as_ref().is_none_or(|role| &a.role_id == role);
        actor_matches && target_matches && role_matches
    }
}

/// An assignment on its way into the listing, with where it came from.
struct Listed {
    assignment: Assignment,
    via_group: Option<String>,
    prior_role: Option<String>,
}

impl Listed {
    fn direct(assignment: Assignment) -> Self {
        Listed {
            assignment,
            via_group: None,
            prior_role: None,
        }
    }

    /// The entry as the listing shows it, names resolved if asked for.
    fn named(self, conn: &Connection, include_names: bool) -> Result<RoleAssignment> {
        let a = &self.assignment;
        let mut actor_ref = Reference::bare(&a.actor_id);
        let mut target_ref = Reference::bare(&a.target_id);
        let mut role = Reference::bare(&a.role_id);
        if include_names {
            let actor = match a.actor {
                ActorKind::User => model::user(conn, &a.actor_id)?.map(|u| (u.name, u.domain_id)),
                ActorKind::Group => {
                    groups::group(conn, &a.actor_id)?.map(|g| (g.name, g.domain_id))
                }
            };
            if let Some((name, domain_id)) = actor {
                actor_ref.name = Some(name);
                actor_ref.domain = Some(domain_ref(conn, &domain_id)?);
            }
            match a.target {
                TargetKind::Project => {
                    if let Some(project) = model::project(conn, &a.target_id)? {
                        target_ref.name = Some(project.name);
                        target_ref.domain = Some(domain_ref(conn, &project.domain_id)?);
                    }
                }
                TargetKind::Domain => {
                    target_ref.name = Some(domain_ref(conn, &a.target_id)?.name);
                }
                TargetKind::System => {}
            }
            role.name = roles::role(conn, &a.role_id)?.map(|r| r.name);
        }
        Ok(RoleAssignment {
            actor: a.actor,
            actor_ref,
            target: a.target,
            target_ref,
            role,
            via_group: self.via_group,
            prior_role: self.prior_role,
        })
    }
}

/// A domain's reference; the name is empty if the domain is gone.
fn domain_ref(conn: &Connection, domain_id: &str) -> Result<DomainRef> {
    let name = model::domain(conn, domain_id)?
        .map(|d| d.name)
        .unwrap_or_default();
    Ok(DomainRef {
        id: domain_id.to_owned(),
        name,
    })
}

/// Replaces group assignments by one per member, and adds the roles each
/// assignment implies: what users effectively hold.
fn effective(conn: &Connection, listed: Vec<Listed>) -> Result<Vec<Listed>> {
    let mut expanded = Vec::new();
    for entry in listed {
        let a = entry.assignment;
        match a.actor {
            ActorKind::User => expanded.push(Listed::direct(a)),
            ActorKind::Group => {
                for user in groups::member_ids(conn, &a.actor_id)? {
                    expanded.push(Listed {
                        assignment: Assignment {
                            actor: ActorKind::User,
                            actor_id: user,
                            ..a.clone()
                        },
                        via_group: Some(a.actor_id.clone()),
                        prior_role: None,
                    });
                }
            }
        }
    }
    let mut result = Vec::new();
    for entry in expanded {
        let granted = &entry.assignment.role_id;
        for role in roles::expand_implied(conn, std::slice::from_ref(granted))? {
            let prior_role = (role.id != *granted).then(|| granted.clone());
            result.push(Listed {
                assignment: Assignment {
                    role_id: role.id,
                    ..entry.assignment.clone()
                },
                via_group: entry.via_group.clone(),
                prior_role,
            });
        }
    }
    Ok(result)
}
