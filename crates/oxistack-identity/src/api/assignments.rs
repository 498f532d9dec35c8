//! Role assignments: granting roles to users and groups on projects,
//! domains and the system, and `GET /v3/role_assignments`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use oxistack_auth::{Action, Caller, authorize};
use oxistack_db::rusqlite::{self, Connection, Transaction};
use oxistack_http::ApiError;
use serde_json::{Map, Value, json};

use super::{State, V3, flag, no_content};
use crate::IdentityService;
use crate::model::{self, ActorKind, Result, Role, SYSTEM_TARGET, TargetKind, require};
use crate::wire::{RoleView, collection};

/// The target and actor kinds a grant route is about; path segments carry
/// the ids.
#[derive(Clone, Copy)]
struct GrantKind {
    target: TargetKind,
    actor: ActorKind,
}

type Params = Path<HashMap<String, String>>;

/// Routes for every combination of target and actor, e.g.
/// `/v3/projects/{target_id}/users/{actor_id}/roles/{role_id}`.
pub fn grant_routes() -> Router<Arc<IdentityService>> {
    let mut router = Router::new();
    for target in [TargetKind::Project, TargetKind::Domain, TargetKind::System] {
        for actor in [ActorKind::User, ActorKind::Group] {
            let kind = GrantKind { target, actor };
            let target_segment = match target {
                TargetKind::Project => "projects/{target_id}",
                TargetKind::Domain => "domains/{target_id}",
                TargetKind::System => "system",
            };
            let actor_segment = match actor {
                ActorKind::User => "users",
                ActorKind::Group => "groups",
            };
            let base = format!("/v3/{target_segment}/{actor_segment}/{{actor_id}}/roles");
            router = router
                .route(
                    &base,
                    get(
                        move |state: State, caller: Caller, v3: V3, params: Params| {
                            list_grants(state, caller, v3, params, kind)
                        },
                    ),
                )
                .route(
                    &format!("{base}/{{role_id}}"),
                    get(move |state: State, caller: Caller, params: Params| {
                        check_grant(state, caller, params, kind)
                    })
                    .put(move |state: State, caller: Caller, params: Params| {
                        grant(state, caller, params, kind)
                    })
                    .delete(
                        move |state: State, caller: Caller, params: Params| {
                            revoke(state, caller, params, kind)
                        },
                    ),
                );
        }
    }
    router
}

/// The ids a grant route names, each checked to exist (404 naming the
/// missing one).
struct GrantIds {
    target_id: String,
    actor_id: String,
}

fn grant_ids(
    conn: &Connection,
    params: &HashMap<String, String>,
    kind: GrantKind,
) -> Result<GrantIds> {
    let param = |name: &str| params.get(name).cloned().unwrap_or_default();
    let target_id = match kind.target {
        TargetKind::Project => {
            require(
                model::project(conn, &param("target_id"))?,
                "project",
                &param("target_id"),
            )?
            .id
        }
        TargetKind::Domain => {
            require(
                model::domain(conn, &param("target_id"))?,
                "domain",
                &param("target_id"),
            )?
            .id
        }
        TargetKind::System => SYSTEM_TARGET.to_owned(),
    };
    let actor_id = param("actor_id");
    match kind.actor {
        ActorKind::User => require(model::user(conn, &actor_id)?, "user", &actor_id).map(drop)?,
        ActorKind::Group => {
            require(model::group(conn, &actor_id)?, "group", &actor_id).map(drop)?
        }
    }
    Ok(GrantIds {
        target_id,
        actor_id,
    })
}

fn grant_role(conn: &Connection, params: &HashMap<String, String>) -> Result<Role> {
    let role_id = params.get("role_id").cloned().unwrap_or_default();
    require(model::role(conn, &role_id)?, "role", &role_id)
}

fn assignment_exists(
    conn: &Connection,
    ids: &GrantIds,
    kind: GrantKind,
    role_id: &str,
) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT count(*) FROM assignments
         WHERE actor_kind = ?1 AND actor_id = ?2 AND target_kind = ?3 AND target_id = ?4 AND role_id = ?5",
        [kind.actor.as_str(), &ids.actor_id, kind.target.as_str(), &ids.target_id, role_id],
        |row| row.get::<_, i64>(0),
    )
    .map(|n| n > 0)
}

async fn list_grants(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
    Path(params): Params,
    kind: GrantKind,
) -> Result<Json<Value>> {
    authorize(&caller, Action::ListRoleAssignments)?;
    let roles = service
        .read(move |conn| {
            let ids = grant_ids(conn, &params, kind)?;
            let mut stmt = conn.prepare_cached(
                "SELECT r.id, r.name, r.description FROM roles r JOIN assignments a ON a.role_id = r.id
                 WHERE a.actor_kind = ?1 AND a.actor_id = ?2 AND a.target_kind = ?3 AND a.target_id = ?4
                 ORDER BY r.name",
            )?;
            let rows = stmt.query_map(
                [kind.actor.as_str(), &ids.actor_id, kind.target.as_str(), &ids.target_id],
                Role::from_row,
            )?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await?;
    let views = roles.into_iter().map(|r| RoleView::new(r, &v3)).collect();
    Ok(Json(collection("roles", views, format!("{v3}/roles"))))
}

async fn check_grant(
    axum::extract::State(service): State,
    caller: Caller,
    Path(params): Params,
    kind: GrantKind,
) -> Result<Response> {
    authorize(&caller, Action::ListRoleAssignments)?;
    service
        .read(move |conn| {
            let ids = grant_ids(conn, &params, kind)?;
            let role = grant_role(conn, &params)?;
            if !assignment_exists(conn, &ids, kind, &role.id)? {
                return Err(ApiError::not_found(format!(
                    "Could not find role assignment with role: {}, {}: {}, {}: {}.",
                    role.id,
                    kind.actor.as_str(),
                    ids.actor_id,
                    kind.target.as_str(),
                    ids.target_id
                )));
            }
            Ok(())
        })
        .await?;
    Ok(no_content())
}

async fn grant(
    axum::extract::State(service): State,
    caller: Caller,
    Path(params): Params,
    kind: GrantKind,
) -> Result<Response> {
    authorize(&caller, Action::ManageRoleAssignments)?;
    service
        .change(move |tx| {
            let ids = grant_ids(tx, &params, kind)?;
            let role = grant_role(tx, &params)?;
            tx.execute(
                "INSERT OR IGNORE INTO assignments (actor_kind, actor_id, target_kind, target_id, role_id)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                [kind.actor.as_str(), &ids.actor_id, kind.target.as_str(), &ids.target_id, &role.id],
            )?;
            Ok(())
        })
        .await?;
    Ok(no_content())
}

/// Removing a role revokes the affected users' tokens on that target, as
/// Keystone does.
async fn revoke(
    axum::extract::State(service): State,
    caller: Caller,
    Path(params): Params,
    kind: GrantKind,
) -> Result<Response> {
    authorize(&caller, Action::ManageRoleAssignments)?;
    let issuer = service.clone();
    service
        .change(move |tx: &Transaction| {
            let ids = grant_ids(tx, &params, kind)?;
            let role = grant_role(tx, &params)?;
            let removed = tx.execute(
                "DELETE FROM assignments
                 WHERE actor_kind = ?1 AND actor_id = ?2 AND target_kind = ?3 AND target_id = ?4 AND role_id = ?5",
                [kind.actor.as_str(), &ids.actor_id, kind.target.as_str(), &ids.target_id, &role.id],
            )?;
            if removed == 0 {
                return Err(ApiError::not_found(format!(
                    "Could not find role assignment with role: {}, {}: {}.",
                    role.id,
                    kind.actor.as_str(),
                    ids.actor_id
                )));
            }
            let project = (kind.target == TargetKind::Project).then_some(ids.target_id.as_str());
            match kind.actor {
                ActorKind::User => issuer.tokens.revoke_user(tx, &ids.actor_id, project),
                ActorKind::Group => issuer.tokens.revoke_group_members(tx, &ids.actor_id, project),
            }
        })
        .await?;
    Ok(no_content())
}

/// One row of the assignments table.
#[derive(Clone)]
struct Assignment {
    actor: ActorKind,
    actor_id: String,
    target: TargetKind,
    target_id: String,
    role_id: String,
    /// Set for an effective assignment that comes from a group membership.
    via_group: Option<String>,
    /// Set for an effective assignment of a role implied by another.
    prior_role: Option<String>,
}

fn all_assignments(conn: &Connection) -> Result<Vec<Assignment>> {
    let mut stmt = conn.prepare_cached(
        "SELECT actor_kind, actor_id, target_kind, target_id, role_id FROM assignments",
    )?;
    let rows = stmt.query_map([], |row| {
        let actor: String = row.get(0)?;
        let target: String = row.get(2)?;
        Ok(Assignment {
            actor: if actor == "group" {
                ActorKind::Group
            } else {
                ActorKind::User
            },
            actor_id: row.get(1)?,
            target: match target.as_str() {
                "project" => TargetKind::Project,
                "domain" => TargetKind::Domain,
                _ => TargetKind::System,
            },
            target_id: row.get(3)?,
            role_id: row.get(4)?,
            via_group: None,
            prior_role: None,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Replaces group assignments by one per member, and adds the roles each
/// assignment implies: what users effectively hold.
fn effective(conn: &Connection, assignments: Vec<Assignment>) -> Result<Vec<Assignment>> {
    let mut expanded = Vec::new();
    for assignment in assignments {
        match assignment.actor {
            ActorKind::User => expanded.push(assignment),
            ActorKind::Group => {
                let members: Vec<String> = conn
                    .prepare_cached("SELECT user_id FROM group_members WHERE group_id = ?1")?
                    .query_map([&assignment.actor_id], |row| row.get(0))?
                    .collect::<rusqlite::Result<_>>()?;
                for user in members {
                    expanded.push(Assignment {
                        actor: ActorKind::User,
                        actor_id: user,
                        via_group: Some(assignment.actor_id.clone()),
                        ..assignment.clone()
                    });
                }
            }
        }
    }
    let mut result = Vec::new();
    for assignment in expanded {
        for role in model::expand_implied(conn, std::slice::from_ref(&assignment.role_id))? {
            let prior_role = (role.id != assignment.role_id).then(|| assignment.role_id.clone());
            result.push(Assignment {
                role_id: role.id,
                prior_role,
                ..assignment.clone()
            });
        }
    }
    Ok(result)
}

/// `GET /v3/role_assignments` with Keystone's filters (`user.id`,
/// `group.id`, `role.id`, `scope.project.id`, `scope.domain.id`,
/// `scope.system`), `effective` and `include_names`. Non-admins may list
/// their own assignments only.
pub async fn list(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>> {
    let own_only = query.get("user.id") == Some(&caller.user.id);
    if !own_only {
        authorize(&caller, Action::ListRoleAssignments)?;
    }
    let effective_view = flag(&query, "effective")?;
    let include_names = flag(&query, "include_names")?;
    let self_url = format!("{v3}/role_assignments");
    let documents = service
        .read(move |conn| {
            let mut assignments = all_assignments(conn)?;
            if effective_view {
                assignments = effective(conn, assignments)?;
            }
            let wanted = |key: &str| query.get(key).filter(|v| !v.is_empty());
            assignments.retain(|a| {
                let actor_matches = match (wanted("user.id"), wanted("group.id")) {
                    (Some(user), _) => a.actor == ActorKind::User && &a.actor_id == user,
                    (None, Some(group)) => a.actor == ActorKind::Group && &a.actor_id == group,
                    (None, None) => true,
                };
                let target_matches = match (
                    wanted("scope.project.id"),
                    wanted("scope.domain.id"),
                    query.contains_key("scope.system"),
                ) {
                    (Some(project), _, _) => {
                        a.target == TargetKind::Project && &a.target_id == project
                    }
                    (None, Some(domain), _) => {
                        a.target == TargetKind::Domain && &a.target_id == domain
                    }
                    (None, None, true) => a.target == TargetKind::System,
                    (None, None, false) => true,
                };
                let role_matches = wanted("role.id").is_none_or(|role| &a.role_id == role);
                actor_matches && target_matches && role_matches
            });
            assignments
                .into_iter()
                .map(|a| assignment_document(conn, &a, &v3, include_names))
                .collect::<Result<Vec<_>>>()
        })
        .await?;
    Ok(Json(json!({
        "role_assignments": documents,
        "links": {"self": self_url, "previous": null, "next": null},
    })))
}

fn domain_ref(conn: &Connection, domain_id: &str) -> Result<Value> {
    let name = model::domain(conn, domain_id)?
        .map(|d| d.name)
        .unwrap_or_default();
    Ok(json!({"id": domain_id, "name": name}))
}

/// One entry of the listing. With `include_names`, every reference carries
/// its name and domain, which `openstack role assignment list --names` prints.
fn assignment_document(
    conn: &Connection,
    a: &Assignment,
    v3: &str,
    include_names: bool,
) -> Result<Value> {
    let mut doc = Map::new();
    let (actor_key, actor) = match a.actor {
        ActorKind::User => {
            let mut actor = json!({"id": a.actor_id});
            if include_names && let Some(user) = model::user(conn, &a.actor_id)? {
                actor["name"] = json!(user.name);
                actor["domain"] = domain_ref(conn, &user.domain_id)?;
            }
            ("user", actor)
        }
        ActorKind::Group => {
            let mut actor = json!({"id": a.actor_id});
            if include_names && let Some(group) = model::group(conn, &a.actor_id)? {
                actor["name"] = json!(group.name);
                actor["domain"] = domain_ref(conn, &group.domain_id)?;
            }
            ("group", actor)
        }
    };
    doc.insert(actor_key.into(), actor);
    let scope = match a.target {
        TargetKind::Project => {
            let mut project = json!({"id": a.target_id});
            if include_names && let Some(p) = model::project(conn, &a.target_id)? {
                project["name"] = json!(p.name);
                project["domain"] = domain_ref(conn, &p.domain_id)?;
            }
            json!({"project": project})
        }
        TargetKind::Domain => {
            let mut domain = json!({"id": a.target_id});
            if include_names {
                domain = domain_ref(conn, &a.target_id)?;
            }
            json!({"domain": domain})
        }
        TargetKind::System => json!({"system": {"all": true}}),
    };
    doc.insert("scope".into(), scope);
    let mut role = json!({"id": a.role_id});
    if include_names && let Some(r) = model::role(conn, &a.role_id)? {
        role["name"] = json!(r.name);
    }
    doc.insert("role".into(), role);
    let target_path = match a.target {
        TargetKind::Project => format!("projects/{}", a.target_id),
        TargetKind::Domain => format!("domains/{}", a.target_id),
        TargetKind::System => "system".to_owned(),
    };
    let actor_path = match (&a.via_group, a.actor) {
        (Some(group), _) => format!("groups/{group}"),
        (None, ActorKind::User) => format!("users/{}", a.actor_id),
        (None, ActorKind::Group) => format!("groups/{}", a.actor_id),
    };
    let granted_role = a.prior_role.as_deref().unwrap_or(&a.role_id);
    let mut links =
        json!({"assignment": format!("{v3}/{target_path}/{actor_path}/roles/{granted_role}")});
    if let Some(group) = &a.via_group {
        links["membership"] = json!(format!("{v3}/groups/{group}/users/{}", a.actor_id));
    }
    if let Some(prior) = &a.prior_role {
        links["prior_role"] = json!(format!("{v3}/roles/{prior}"));
    }
    doc.insert("links".into(), links);
    Ok(Value::Object(doc))
}
