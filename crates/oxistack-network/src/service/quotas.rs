//! Per-project limits on how many resources of each kind a project owns,
//! with Neutron's defaults.

use std::collections::BTreeMap;
use std::sync::Arc;

use oxistack_auth::{Action, AuthContext};
use oxistack_db::rusqlite::Connection;
use serde::Serialize;

use super::NetworkService;
use crate::errors::{NetworkError, authorize, invalid_input, over_quota};
use crate::kind::Kind;
use crate::store;

/// Neutron's default quotas, by resource; -1 means unlimited.
const DEFAULTS: [(Kind, i64); 7] = [
    (Kind::Network, 100),
    (Kind::Subnet, 100),
    (Kind::Port, 500),
    (Kind::Router, 10),
    (Kind::FloatingIp, 50),
    (Kind::SecurityGroup, 10),
    (Kind::SecurityGroupRule, 100),
];

/// A project's limit for each resource, keyed by Neutron's resource names.
pub type QuotaLimits = BTreeMap<&'static str, i64>;

/// One resource's line of `GET /v2.0/quotas/{project}/details`.
#[derive(Debug, Serialize)]
pub struct QuotaUsage {
    pub used: i64,
    pub limit: i64,
    pub reserved: i64,
}

fn defaults() -> QuotaLimits {
    DEFAULTS
        .iter()
        .map(|(kind, limit)| (kind.singular(), *limit))
        .collect()
}

fn limits(conn: &Connection, project: &str) -> Result<QuotaLimits, NetworkError> {
    let mut limits = defaults();
    for (resource, limit) in store::quotas::overrides(conn, project)? {
        if let Some(slot) = limits.get_mut(resource.as_str()) {
            *slot = limit;
        }
    }
    Ok(limits)
}

/// A quota value that is no limit: not an integer of at least -1.
pub(crate) fn not_a_limit(resource: &str, value: impl std::fmt::Display) -> NetworkError {
    invalid_input(
        &format!("quota.{resource}"),
        format!("{value} is not an integer of at least -1 (unlimited)"),
    )
}

/// Refuses a new resource of `kind` for `project` when it has its limit's
/// worth already.
pub fn check(conn: &Connection, project: &str, kind: Kind) -> Result<(), NetworkError> {
    let limit = limits(conn, project)?[kind.singular()];
    if limit >= 0 && store::count_owned(conn, kind.table(), project)? >= limit {
        return Err(over_quota(kind.singular()));
    }
    Ok(())
}

impl NetworkService {
    /// Reading a project's quotas: the caller's own, or any for the
    /// administrator.
    fn authorize_quota_read(caller: &AuthContext, project: &str) -> Result<(), NetworkError> {
        authorize(caller, Action::ReadNetworking)?;
        if caller.project_id() != Some(project) {
            authorize(caller, Action::ActOnOtherProjectsNetworking)?;
        }
        Ok(())
    }

    pub async fn quota(
        &self,
        caller: &Arc<AuthContext>,
        project: &str,
    ) -> Result<QuotaLimits, NetworkError> {
        Self::authorize_quota_read(caller, project)?;
        let project = project.to_owned();
        self.db.read(move |conn| limits(conn, &project)).await
    }

    pub async fn quota_details(
        &self,
        caller: &Arc<AuthContext>,
        project: &str,
    ) -> Result<BTreeMap<&'static str, QuotaUsage>, NetworkError> {
        Self::authorize_quota_read(caller, project)?;
        let project = project.to_owned();
        self.db
            .read(move |conn| {
                let limits = limits(conn, &project)?;
                DEFAULTS
                    .iter()
                    .map(|(kind, _)| {
                        let usage = QuotaUsage {
                            used: store::count_owned(conn, kind.table(), &project)?,
                            limit: limits[kind.singular()],
                            reserved: 0,
                        };
                        Ok((kind.singular(), usage))
                    })
                    .collect()
            })
            .await
    }

    pub fn quota_defaults(&self, caller: &AuthContext) -> Result<QuotaLimits, NetworkError> {
        authorize(caller, Action::ReadNetworking)?;
        Ok(defaults())
    }

    /// Every project with limits of its own, and those limits.
    pub async fn quotas(
        &self,
        caller: &Arc<AuthContext>,
    ) -> Result<Vec<(String, QuotaLimits)>, NetworkError> {
        authorize(caller, Action::ManageNetworkQuotas)?;
        self.db
            .read(move |conn| {
                store::quotas::projects(conn)?
                    .into_iter()
                    .map(|project| Ok((project.clone(), limits(conn, &project)?)))
                    .collect()
            })
            .await
    }

    /// Sets some of a project's limits, by resource (`network`); -1 is
    /// unlimited.
    pub async fn update_quota(
        &self,
        caller: &Arc<AuthContext>,
        project: &str,
        changes: Vec<(String, i64)>,
    ) -> Result<QuotaLimits, NetworkError> {
        authorize(caller, Action::ManageNetworkQuotas)?;
        let known = defaults();
        let mut checked = Vec::new();
        for (resource, limit) in changes {
            if !known.contains_key(resource.as_str()) {
                return Err(invalid_input(
                    "quota",
                    format!(
                        "'{resource}' is not a networking quota; quotas are {}",
                        known.keys().copied().collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
            if limit < -1 {
                return Err(not_a_limit(&resource, limit));
            }
            checked.push((resource, limit));
        }
        let project = project.to_owned();
        self.db
            .write(move |conn| {
                for (resource, limit) in &checked {
                    store::quotas::set(conn, &project, resource, *limit)?;
                }
                limits(conn, &project)
            })
            .await
    }

    /// Returns a project to the default limits.
    pub async fn reset_quota(
        &self,
        caller: &Arc<AuthContext>,
        project: &str,
    ) -> Result<(), NetworkError> {
        authorize(caller, Action::ManageNetworkQuotas)?;
        let project = project.to_owned();
        self.db
            .write(move |conn| store::quotas::reset(conn, &project))
            .await
    }
}
