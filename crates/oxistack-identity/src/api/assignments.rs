//! Role assignments: the grant routes for every combination of target and
//! actor, and `GET /v3/role_assignments`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use oxistack_auth::Caller;
use serde_json::{Map, Value, json};

use super::roles::role_list;
use super::{Result, State, V3, flag, no_content};
use crate::IdentityService;
use crate::model::{ActorKind, TargetKind};
use crate::service::{AssignmentFilter, DomainRef, GrantTarget, Reference, RoleAssignment};

/// The target and actor kinds a grant route is about; path segments carry
/// the ids.
#[derive(Clone, Copy)]
struct GrantKind {
    target: TargetKind,
    actor: ActorKind,
}

type Params = Path<HashMap<String, String>>;

impl GrantKind {
    /// The grant the route's path names, and the role if it names one.
    fn parse(self, params: &HashMap<String, String>) -> (GrantTarget, String) {
        let param = |name: &str| params.get(name).cloned().unwrap_or_default();
        let grant = GrantTarget {
            target: self.target,
            target_id: param("target_id"),
            actor: self.actor,
            actor_id: param("actor_id"),
        };
        (grant, param("role_id"))
    }
}

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

async fn list_grants(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
    Path(params): Params,
    kind: GrantKind,
) -> Result<Json<Value>> {
    let (grant, _) = kind.parse(&params);
    let roles = service.list_grants(&caller, grant).await?;
    Ok(role_list(roles, &v3, format!("{v3}/roles")))
}

async fn check_grant(
    axum::extract::State(service): State,
    caller: Caller,
    Path(params): Params,
    kind: GrantKind,
) -> Result<Response> {
    let (grant, role_id) = kind.parse(&params);
    service.check_grant(&caller, grant, &role_id).await?;
    Ok(no_content())
}

async fn grant(
    axum::extract::State(service): State,
    caller: Caller,
    Path(params): Params,
    kind: GrantKind,
) -> Result<Response> {
    let (grant, role_id) = kind.parse(&params);
    service.grant(&caller, grant, &role_id).await?;
    Ok(no_content())
}

async fn revoke(
    axum::extract::State(service): State,
    caller: Caller,
    Path(params): Params,
    kind: GrantKind,
) -> Result<Response> {
    let (grant, role_id) = kind.parse(&params);
    service.revoke_grant(&caller, grant, &role_id).await?;
    Ok(no_content())
}

/// `GET /v3/role_assignments` with Keystone's filters (`user.id`,
/// `group.id`, `role.id`, `scope.project.id`, `scope.domain.id`,
/// `scope.system`), `effective` and `include_names`.
pub async fn list(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>> {
    let wanted = |key: &str| query.get(key).filter(|v| !v.is_empty()).cloned();
    let filter = AssignmentFilter {
        user_id: wanted("user.id"),
        group_id: wanted("group.id"),
        role_id: wanted("role.id"),
        project_id: wanted("scope.project.id"),
        domain_id: wanted("scope.domain.id"),
        system: query.contains_key("scope.system"),
        effective: flag(&query, "effective")?,
        include_names: flag(&query, "include_names")?,
    };
    let documents: Vec<Value> = service
        .list_role_assignments(&caller, filter)
        .await?
        .into_iter()
        .map(|a| assignment_document(a, &v3))
        .collect();
    Ok(Json(json!({
        "role_assignments": documents,
        "links": {"self": format!("{v3}/role_assignments"), "previous": null, "next": null},
    })))
}

fn domain_document(domain: DomainRef) -> Value {
    json!({"id": domain.id, "name": domain.name})
}

/// A reference with whatever names it carries, which
/// `openstack role assignment list --names` prints.
fn reference_document(reference: Reference) -> Value {
    let mut document = json!({"id": reference.id});
    if let Some(name) = reference.name {
        document["name"] = json!(name);
    }
    if let Some(domain) = reference.domain {
        document["domain"] = domain_document(domain);
    }
    document
}

/// One entry of the listing, with the links Keystone gives it.
fn assignment_document(a: RoleAssignment, v3: &str) -> Value {
    let target_path = match a.target {
        TargetKind::Project => format!("projects/{}", a.target_ref.id),
        TargetKind::Domain => format!("domains/{}", a.target_ref.id),
        TargetKind::System => "system".to_owned(),
    };
    let actor_path = match (&a.via_group, a.actor) {
        (Some(group), _) => format!("groups/{group}"),
        (None, ActorKind::User) => format!("users/{}", a.actor_ref.id),
        (None, ActorKind::Group) => format!("groups/{}", a.actor_ref.id),
    };
    let granted_role = a.prior_role.as_deref().unwrap_or(&a.role.id);
    let mut links =
        json!({"assignment": format!("{v3}/{target_path}/{actor_path}/roles/{granted_role}")});
    if let Some(group) = &a.via_group {
        links["membership"] = json!(format!("{v3}/groups/{group}/users/{}", a.actor_ref.id));
    }
    if let Some(prior) = &a.prior_role {
        links["prior_role"] = json!(format!("{v3}/roles/{prior}"));
    }
    let scope = match a.target {
        TargetKind::Project => json!({"project": reference_document(a.target_ref)}),
        TargetKind::Domain => json!({"domain": reference_document(a.target_ref)}),
        TargetKind::System => json!({"system": {"all": true}}),
    };
    let mut doc = Map::new();
    doc.insert(a.actor.as_str().into(), reference_document(a.actor_ref));
    doc.insert("scope".into(), scope);
    doc.insert("role".into(), reference_document(a.role));
    doc.insert("links".into(), links);
    Value::Object(doc)
}
