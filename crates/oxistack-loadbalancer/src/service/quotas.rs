//! Octavia's quotas: per project, each resource's limit, `-1` (unlimited)
//! by default as Octavia's configuration defaults are. A project's own
//! record holds only what was set; the rest reads as the default.
//! A create that would go over a limit is refused with Octavia's
//! `QuotaException` (403); objects count until their delete completes.

use std::sync::Arc;

use oxistack_auth::{Action, AuthContext};
use oxistack_http::field::Lenient;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use oxistack_db::rusqlite::Connection;

use super::{LbError, LoadBalancerService, authorize, validate};
use crate::model::{Kind, Tree};
use crate::store;

/// The resources Octavia counts, as its quota documents name them.
pub const RESOURCES: &[&str] = &[
    "load_balancer",
    "listener",
    "member",
    "pool",
    "health_monitor",
    "l7policy",
    "l7rule",
];

/// The spellings Octavia accepts and renders besides [`RESOURCES`]' (its
/// `_type_to_db_map`): gophercloud and Terraform send these.
const ALIASES: &[(&str, &str)] = &[
    ("loadbalancer", "load_balancer"),
    ("healthmonitor", "health_monitor"),
];

/// The defaults, under both spellings, as Octavia renders them.
pub fn defaults() -> Map<String, Value> {
    with_aliases(
        RESOURCES
            .iter()
            .map(|r| (r.to_string(), json!(-1)))
            .collect(),
    )
}

fn with_aliases(mut quota: Map<String, Value>) -> Map<String, Value> {
    for (alias, resource) in ALIASES {
        if let Some(value) = quota.get(*resource).cloned() {
            quota.insert((*alias).to_owned(), value);
        }
    }
    quota
}

/// A project's quota document: its limits (the defaults where it set
/// none) under both spellings, and its id.
fn effective(project: &str, own: Option<Value>) -> Map<String, Value> {
    let mut quota = defaults();
    if let Some(Value::Object(own)) = own {
        quota.extend(own);
    }
    let mut quota = with_aliases(quota);
    quota.insert("project_id".into(), json!(project));
    quota
}

/// A limit as WSME's `IntegerType` reads it: a number or a string of one.
fn limit(key: &str, value: &Value) -> Result<i64, LbError> {
    Lenient::<i64>::deserialize(value)
        .map(|Lenient(limit)| limit)
        .map_err(|_| LbError::field(key, value, "Value should be an integer"))
}

/// Octavia's `read-quota-global`: global observers, quota admins, admins.
fn reads_every_quota(caller: &AuthContext) -> bool {
    authorize(caller, Action::ReadAllLoadBalancers).is_ok()
        || authorize(caller, Action::WriteLoadBalancerQuotas).is_ok()
}

/// How many objects of each counted kind `tree` holds.
fn counts(tree: &Tree) -> [(Kind, &'static str, usize); 7] {
    [
        (Kind::LoadBalancer, "load_balancer", 1),
        (Kind::Listener, "listener", tree.listeners.len()),
        (Kind::Pool, "pool", tree.pools.len()),
        (Kind::Member, "member", tree.members.len()),
        (Kind::HealthMonitor, "health_monitor", tree.monitors.len()),
        (Kind::L7Policy, "l7policy", tree.policies.len()),
        (Kind::L7Rule, "l7rule", tree.rules.len()),
    ]
}

/// Refuses `tree` (which was `before`, or is new) if it adds objects of a
/// kind whose project limit it then exceeds.
pub(super) fn enforce(
    conn: &Connection,
    before: Option<&Tree>,
    tree: &Tree,
) -> Result<(), LbError> {
    let project = &tree.lb.project_id;
    let Some(Value::Object(limits)) = store::quota(conn, project)? else {
        return Ok(());
    };
    let others: Vec<Tree> = store::trees(conn, Some(project))?
        .into_iter()
        .filter(|t| t.lb.id != tree.lb.id)
        .collect();
    let had = before.map(counts);
    for (i, (kind, resource, count)) in counts(tree).into_iter().enumerate() {
        let limit = limits.get(resource).and_then(Value::as_i64).unwrap_or(-1);
        let added = count > had.map_or(0, |had| had[i].2);
        if limit < 0 || !added {
            continue;
        }
        let total: usize = count + others.iter().map(|t| counts(t)[i].2).sum::<usize>();
        if total as i64 > limit {
            return Err(LbError::Quota(kind.title()));
        }
    }
    Ok(())
}

impl LoadBalancerService {
    /// A project's quotas (the caller's own, or any for quota admins).
    pub async fn quota(
        &self,
        caller: &Arc<AuthContext>,
        project: &str,
    ) -> Result<Map<String, Value>, LbError> {
        authorize(caller, Action::ReadLoadBalancerQuotas)?;
        if !caller.can_see_project(project) && !reads_every_quota(caller) {
            return Err(LbError::Forbidden);
        }
        let project = project.to_owned();
        self.db
            .read(move |conn| Ok(effective(&project, store::quota(conn, &project)?)))
            .await
    }

    /// Every project with quotas of its own (only the caller's unless a
    /// quota admin or global reader).
    pub async fn quotas(
        &self,
        caller: &Arc<AuthContext>,
    ) -> Result<Vec<Map<String, Value>>, LbError> {
        authorize(caller, Action::ReadLoadBalancerQuotas)?;
        let caller = caller.clone();
        self.db
            .read(move |conn| {
                let all = reads_every_quota(&caller);
                Ok(store::quotas(conn)?
                    .into_iter()
                    .filter(|(project, _)| all || caller.project_id() == Some(project))
                    .map(|(project, own)| effective(&project, Some(own)))
                    .collect())
            })
            .await
    }

    /// Sets some of a project's quotas; `None` resets them all.
    pub async fn set_quota(
        &self,
        caller: &Arc<AuthContext>,
        project: &str,
        changes: Option<Map<String, Value>>,
    ) -> Result<Map<String, Value>, LbError> {
        // Quota admins set every project's quotas, as in Octavia.
        authorize(caller, Action::WriteLoadBalancerQuotas)?;
        let mut checked = Map::new();
        for (key, value) in changes.iter().flatten() {
            let resource = ALIASES
                .iter()
                .find(|(alias, _)| alias == key)
                .map_or(key.as_str(), |(_, resource)| resource);
            if !RESOURCES.contains(&resource) {
                return Err(LbError::Invalid(format!(
                    "Unknown attribute for argument quota: {key}"
                )));
            }
            let limit = validate::int(key, limit(key, value)?, -1, i64::from(i32::MAX))?;
            checked.insert(resource.to_owned(), json!(limit));
        }
        let project = project.to_owned();
        let reset = changes.is_none();
        self.db
            .write(move |tx| {
                let mut own = match store::quota(tx, &project)? {
                    Some(Value::Object(own)) if !reset => own,
                    _ => Map::new(),
                };
                own.extend(checked);
                let record = (!reset).then(|| Value::Object(own.clone()));
                store::set_quota(tx, &project, record.as_ref())?;
                Ok(effective(&project, Some(Value::Object(own))))
            })
            .await
    }

    /// Checks that the caller may read the API's static documents
    /// (providers, flavors, zones).
    pub fn may_read(&self, caller: &AuthContext) -> Result<(), LbError> {
        authorize(caller, Action::ReadLoadBalancers)
    }

    /// Checks that the caller may see the operator's documents (amphorae).
    pub fn may_operate(&self, caller: &AuthContext) -> Result<(), LbError> {
        authorize(caller, Action::ManageLoadBalancing)
    }
}
