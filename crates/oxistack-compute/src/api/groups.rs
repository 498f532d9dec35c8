//! `/os-server-groups`: affinity policies for sets of servers, in the
//! shape of each microversion. Parsing and rendering; the service decides.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use oxistack_auth::Caller;
use oxistack_http::microversion::Microversion;
use oxistack_http::{ApiError, JsonBody};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{QueryPairs, Service, envelope, invalid};
use crate::model::GroupPolicy;
use crate::query::{MAX_LIMIT, last, parse_bool};
use crate::service::groups::{GroupListing, NewGroup};
use crate::validate::validate_name;
use crate::versions::{GROUP_POLICY, SOFT_GROUP_POLICIES};
use crate::wire::ServerGroupView;

fn group_listing(pairs: &[(String, String)]) -> Result<GroupListing, ApiError> {
    let all_projects = match last(pairs, "all_projects") {
        None => false,
        Some("") => true,
        Some(value) => parse_bool("all_projects", value)?,
    };
    let count = |name: &str, default: usize| -> Result<usize, ApiError> {
        match last(pairs, name) {
            None => Ok(default),
            Some(value) => value.parse::<usize>().map_err(|_| {
                ApiError::bad_request(format!("Invalid value for query parameter '{name}': '{value}' is not a non-negative integer."))
            }),
        }
    };
    Ok(GroupListing {
        all_projects,
        offset: count("offset", 0)?,
        limit: count("limit", MAX_LIMIT)?.min(MAX_LIMIT),
    })
}

pub async fn list(
    State(service): Service,
    Caller(caller): Caller,
    version: Microversion,
    Query(pairs): QueryPairs,
) -> Result<Response, ApiError> {
    let groups = service.list_groups(&caller, group_listing(&pairs)?).await?;
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
    let group = service.show_group(&caller, &id).await?;
    Ok(envelope("server_group", ServerGroupView::new(&group, version)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupBody {
    name: String,
    policies: Option<Vec<String>>,
    policy: Option<String>,
    rules: Option<Map<String, Value>>,
}

/// The group's policy, given as `policies` (one) before 2.64 and as
/// `policy` with optional `rules` from it.
fn policy_of(
    request: &GroupBody,
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
    let request: GroupBody = oxistack_http::envelope(body, "server_group")?;
    validate_name("server_group.name", &request.name)?;
    let (policy, max_server_per_host) = policy_of(&request, version)?;
    let new = NewGroup {
        name: request.name,
        policy,
        max_server_per_host,
    };
    let group = service.create_group(&caller, new).await?;
    Ok(envelope("server_group", ServerGroupView::new(&group, version)).into_response())
}

pub async fn delete(
    State(service): Service,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    service.delete_group(&caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
