//! Quotas: Nova's defaults, the per-project changes administrators make
//! to them, and what a project uses. A project's members read their own;
//! another project's quotas are an administrator's (403 otherwise, as in
//! Nova).

use std::collections::HashMap;

use oxistack_auth::{Action, AuthContext};
use oxistack_db::rusqlite::Connection;

use super::ComputeService;
use super::error::{ComputeError, Result, authorize};
use crate::quota::{Limits, Resource, UNLIMITED};
use crate::store;

/// What a project uses of each resource it is counted for.
pub type Usage = HashMap<Resource, u64>;

/// Limits to set (`-1` is unlimited); below what is in use only with
/// `force`.
#[derive(Debug, Clone, Default)]
pub struct QuotaUpdate {
    pub limits: Vec<(Resource, i64)>,
    pub force: bool,
}

fn usage(conn: &Connection, project: &str, user: Option<&str>) -> Result<Usage> {
    let servers = store::servers::usage(conn, project)?;
    let mut used = HashMap::from([
        (Resource::Instances, servers.instances),
        (Resource::Cores, servers.cores),
        (Resource::Ram, servers.ram),
        (Resource::ServerGroups, store::groups::count(conn, project)?),
    ]);
    if let Some(user) = user {
        used.insert(Resource::KeyPairs, store::keypairs::count(conn, user)?);
    }
    Ok(used)
}

/// Allows reading `project`'s quotas: the caller's own, or any for an
/// administrator.
fn readable(caller: &AuthContext, project: &str) -> Result<()> {
    authorize(caller, Action::ReadQuotas)?;
    if caller.project_id() != Some(project) {
        authorize(caller, Action::ManageQuotas)?;
    }
    Ok(())
}

impl ComputeService {
    /// `GET /limits`: the limits of the caller's project (or of `project`,
    /// for an administrator) and what it uses, key pairs counted for the
    /// caller.
    pub async fn limits(
        &self,
        caller: &AuthContext,
        project: Option<&str>,
    ) -> Result<(Limits, Usage)> {
        let project = match project {
            Some(named) => {
                readable(caller, named)?;
                named.to_owned()
            }
            None => {
                authorize(caller, Action::ReadQuotas)?;
                caller.project_id().unwrap_or_default().to_owned()
            }
        };
        let user = caller.user.id.clone();
        self.read(move |conn| {
            Ok((
                Limits::of(conn, &project)?,
                usage(conn, &project, Some(&user))?,
            ))
        })
        .await
    }

    pub async fn quotas(&self, caller: &AuthContext, project: &str) -> Result<Limits> {
        readable(caller, project)?;
        let project = project.to_owned();
        self.read(move |conn| Limits::of(conn, &project)).await
    }

    pub fn default_quotas(&self, caller: &AuthContext) -> Result<Limits> {
        authorize(caller, Action::ReadQuotas)?;
        Ok(Limits::defaults())
    }

    /// A project's limits with their use; key pairs are counted only
    /// when the project is the caller's own (they belong to users).
    pub async fn quota_usage(
        &self,
        caller: &AuthContext,
        project: &str,
    ) -> Result<(Limits, Usage)> {
        readable(caller, project)?;
        let project = project.to_owned();
        let user = (caller.project_id() == Some(project.as_str())).then(|| caller.user.id.clone());
        self.read(move |conn| {
            Ok((
                Limits::of(conn, &project)?,
                usage(conn, &project, user.as_deref())?,
            ))
        })
        .await
    }

    /// Sets limits of `project`; the limits afterwards.
    pub async fn update_quotas(
        &self,
        caller: &AuthContext,
        project: &str,
        update: QuotaUpdate,
    ) -> Result<Limits> {
        authorize(caller, Action::ManageQuotas)?;
        let project = project.to_owned();
        self.write(move |tx| {
            let used = usage(tx, &project, None)?;
            for (resource, limit) in &update.limits {
                let in_use = used.get(resource).copied().unwrap_or(0);
                if !update.force && *limit != UNLIMITED && (*limit as u64) < in_use {
                    return Err(ComputeError::invalid(format!(
                        "Quota limit {limit} for {} must be greater than or equal to already used and reserved {in_use}.",
                        resource.name()
                    )));
                }
                store::quotas::set(tx, &project, resource.name(), *limit)?;
            }
            Limits::of(tx, &project)
        })
        .await
    }

    /// Returns every limit of `project` to its default.
    pub async fn reset_quotas(&self, caller: &AuthContext, project: &str) -> Result<()> {
        authorize(caller, Action::ManageQuotas)?;
        let project = project.to_owned();
        self.write(move |tx| store::quotas::reset(tx, &project))
            .await
    }
}
