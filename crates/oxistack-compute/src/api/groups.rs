//! `/os-server-groups`: affinity policies for sets of servers.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use oxistack_auth::{Action, Caller, authorize};
use oxistack_http::microversion::Microversion;
use oxistack_http::{ApiError, JsonBody};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{QueryPairs, Service, envelope};
use crate::model::{GroupPolicy, ServerGroup, group_not_found, new_id};
use crate::query::{MAX_LIMIT, last, parse_bool};
use crate::quota::{Limits, Resource};
use crate::store;
use crate::validate::{invalid, validate_name};
use crate::versions::{GROUP_POLICY, SOFT_GROUP_POLICIES};
use crate::wire::ServerGroupView;

pub async fn list(
    State(service): Service,
    Caller(caller): Caller,
    version: Microversion,
    Query(pairs): QueryPairs,
) -> Result<Response, ApiError> {
    authorize(&caller, Action::ReadServerGroups)?;
    let all_projects = match last(&pairs, "all_projects") {
        None => false,
        Some("") => true,
        Some(value) => parse_bool("all_projects", value)?,
    };
    if all_projects {
        authorize(&caller, Action::ListAllProjectsServerGroups)?;
    }
    let count = |name: &str, default: usize| -> Result<usize, ApiError> {
        match last(&pairs, name) {
            None => Ok(default),
            Some(value) => value.parse::<usize>().map_err(|_| {
                ApiError::bad_request(format!("Invalid value for query parameter '{name}': '{value}' is not a non-negative integer."))
            }),
        }
    };
    let (offset, limit) = (
        count("offset", 0)?,
        count("limit", MAX_LIMIT)?.min(MAX_LIMIT),
    );
    let project = match all_projects {
        true => None,
        false => Some(
            caller
                .project_id()
                .ok_or_else(|| {
                    ApiError::forbidden("Listing server groups needs a project-scoped token.")
                })?
                .to_owned(),
        ),
    };
    let groups = service
        .read(move |conn| store::groups::list(conn, project.as_deref(), offset, limit))
        .await?;
    let views: Vec<ServerGroupView> = groups
        .iter()
        .map(|g| ServerGroupView::new(g, version))
        .collect();
    Ok(envelope("server_groups", views).into_response())
}

pub async fn show(
    State(service): Service,
    Caller(caller): Caller,
    version: Microversion,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    authorize(&caller, Action::ReadServerGroups)?;
    let group = service
        .read(move |conn| {
            store::groups::find(conn, &id)?
                .filter(|g| caller.can_see_project(&g.project_id))
                .ok_or_else(|| group_not_found(&id))
        })
        .await?;
    Ok(envelope("server_group", ServerGroupView::new(&group, version)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewGroup {
    name: String,
    policies: Option<Vec<String>>,
    policy: Option<String>,
    rules: Option<Map<String, Value>>,
}

/// The group's policy, given as `policies` (one) before 2.64 and as
/// `policy` with optional `rules` from it.
fn policy_of(
    request: &NewGroup,
    version: Microversion,
) -> Result<(GroupPolicy, Option<u32>), ApiError> {
    let refuse = |field: &str, problem: String| invalid(&format!("server_group.{field}"), problem);
    let (field, name) = if version.at_least(GROUP_POLICY) {
        if request.policies.is_some() {
            return Err(refuse(
                "policies",
                "replaced by 'policy' in microversion 2.64".into(),
            ));
        }
        (
            "policy",
            request
                .policy
                .clone()
                .ok_or_else(|| refuse("policy", "is required".into()))?,
        )
    } else {
        if request.policy.is_some() || request.rules.is_some() {
            return Err(refuse(
                "policy",
                "needs microversion 2.64; give 'policies'".into(),
            ));
        }
        match request.policies.as_deref() {
            Some([policy]) => ("policies", policy.clone()),
            _ => return Err(refuse("policies", "give exactly one policy".into())),
        }
    };
    let policy = GroupPolicy::parse(&name)
        .filter(|p| {
            version.at_least(SOFT_GROUP_POLICIES)
                || matches!(p, GroupPolicy::Affinity | GroupPolicy::AntiAffinity)
        })
        .ok_or_else(|| {
            refuse(
                field,
                format!("'{name}' is not a policy this microversion knows"),
            )
        })?;
    let mut max_per_host = None;
    for (rule, value) in request.rules.iter().flatten() {
        match (rule.as_str(), policy) {
            ("max_server_per_host", GroupPolicy::AntiAffinity) => {
                let max = value
                    .as_u64()
                    .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
                    .filter(|n| *n >= 1 && *n <= u32::MAX.into())
                    .ok_or_else(|| {
                        refuse(
                            "rules.max_server_per_host",
                            format!("{value} is not a positive integer"),
                        )
                    })?;
                max_per_host = Some(max as u32);
            }
            ("max_server_per_host", _) => {
                return Err(refuse(
                    "rules",
                    "max_server_per_host only applies to anti-affinity".into(),
                ));
            }
            (other, _) => return Err(refuse("rules", format!("'{other}' is not a rule"))),
        }
    }
    Ok((policy, max_per_host))
}

pub async fn create(
    State(service): Service,
    Caller(caller): Caller,
    version: Microversion,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    authorize(&caller, Action::ManageServerGroups)?;
    let request: NewGroup = oxistack_http::envelope(body, "server_group")?;
    validate_name("server_group.name", &request.name)?;
    let (policy, max_server_per_host) = policy_of(&request, version)?;
    let project = caller
        .project_id()
        .ok_or_else(|| ApiError::forbidden("Creating server groups needs a project-scoped token."))?
        .to_owned();
    let group = ServerGroup {
        id: new_id(),
        project_id: project,
        user_id: caller.user.id.clone(),
        name: request.name,
        policy,
        max_server_per_host,
        members: Vec::new(),
        created_at: Utc::now(),
    };
    let stored = group.clone();
    service
        .write(move |tx| {
            let limits = Limits::of(tx, &stored.project_id)?;
            let used = store::groups::count(tx, &stored.project_id)?;
            if limits.room(Resource::ServerGroups, used, 1) == Some(0) {
                return Err(ApiError::forbidden(
                    "Quota exceeded, too many server groups.",
                ));
            }
            store::groups::insert(tx, &stored)
        })
        .await?;
    Ok(envelope("server_group", ServerGroupView::new(&group, version)).into_response())
}

pub async fn delete(
    State(service): Service,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    authorize(&caller, Action::ManageServerGroups)?;
    service
        .write(move |tx| {
            store::groups::find(tx, &id)?
                .filter(|g| caller.can_see_project(&g.project_id))
                .ok_or_else(|| group_not_found(&id))?;
            store::groups::delete(tx, &id)
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
