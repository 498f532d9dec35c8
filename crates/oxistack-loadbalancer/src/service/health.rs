//! Operating statuses, computed from what the data plane observes, from
//! each member up to its load balancer, as Octavia's health manager keeps
//! them:
//!
//! - a member is `OFFLINE` when administratively down, `NO_MONITOR` in a
//!   pool without a (working) health monitor, else `ONLINE` or `ERROR` as
//!   its checks go (`OFFLINE` until first checked);
//! - a pool is `ERROR` when all its checked members are, `DEGRADED` when
//!   some are, else `ONLINE`; a listener is `DEGRADED` when its default
//!   pool is not `ONLINE`; a load balancer is `DEGRADED` when any of its
//!   listeners or pools is; anything administratively down is `OFFLINE`.
//!
//! Objects the data plane has not served yet (`PENDING_CREATE`) or that
//! are going (`PENDING_DELETE`) keep their status. A supervised task polls
//! the plane every second and writes only what changed; when the plane
//! says a proxy died, the poll asks for a pass, which starts it again.

use std::sync::Arc;
use std::time::Duration;

use oxistack_lbplane::{MemberHealth, Observation};

use super::{LbError, LoadBalancerService};
use crate::model::{
    DEGRADED, ERROR, NO_MONITOR, OFFLINE, ONLINE, PENDING_CREATE, PENDING_DELETE, Tree,
};
use crate::store;

const POLL: Duration = Duration::from_secs(1);

fn settled(status: &str) -> bool {
    status != PENDING_CREATE && status != PENDING_DELETE
}

fn set(target: &mut String, status: &str) {
    if target != status {
        *target = status.to_owned();
    }
}

/// Recomputes the operating statuses of `tree` from `observation`.
pub fn refresh(tree: &mut Tree, observation: &Observation) {
    let monitored: Vec<String> = tree
        .monitors
        .iter()
        .filter(|m| m.admin_state_up && settled(&m.provisioning_status))
        .map(|m| m.pool_id.clone())
        .collect();
    for monitor in tree
        .monitors
        .iter_mut()
        .filter(|m| settled(&m.provisioning_status))
    {
        set(
            &mut monitor.operating_status,
            if monitor.admin_state_up {
                ONLINE
            } else {
                OFFLINE
            },
        );
    }
    for member in tree
        .members
        .iter_mut()
        .filter(|m| settled(&m.provisioning_status))
    {
        let status = if !member.admin_state_up {
            OFFLINE
        } else if !monitored.contains(&member.pool_id) {
            NO_MONITOR
        } else {
            match observation.members.get(&member.id) {
                Some(MemberHealth::Up) => ONLINE,
                Some(MemberHealth::Down) => ERROR,
                None => OFFLINE,
            }
        };
        set(&mut member.operating_status, status);
    }
    for policy in tree
        .policies
        .iter_mut()
        .filter(|p| settled(&p.provisioning_status))
    {
        set(
            &mut policy.operating_status,
            if policy.admin_state_up {
                ONLINE
            } else {
                OFFLINE
            },
        );
    }
    for rule in tree
        .rules
        .iter_mut()
        .filter(|r| settled(&r.provisioning_status))
    {
        set(
            &mut rule.operating_status,
            if rule.admin_state_up { ONLINE } else { OFFLINE },
        );
    }
    let mut pool_statuses = Vec::new();
    for pool in tree
        .pools
        .iter_mut()
        .filter(|p| settled(&p.provisioning_status))
    {
        let checked: Vec<&str> = tree
            .members
            .iter()
            .filter(|m| m.pool_id == pool.id && m.admin_state_up && settled(&m.provisioning_status))
            .map(|m| m.operating_status.as_str())
            .collect();
        let errors = checked.iter().filter(|s| **s == ERROR).count();
        let status = if !pool.admin_state_up {
            OFFLINE
        } else if errors > 0 && errors == checked.len() {
            ERROR
        } else if errors > 0 {
            DEGRADED
        } else {
            ONLINE
        };
        set(&mut pool.operating_status, status);
        pool_statuses.push((pool.id.clone(), status));
    }
    let unwell = |status: &str| status == ERROR || status == DEGRADED;
    for listener in tree
        .listeners
        .iter_mut()
        .filter(|l| settled(&l.provisioning_status))
    {
        let pool = pool_statuses
            .iter()
            .find(|(id, _)| Some(id) == listener.default_pool_id.as_ref());
        let status = if !listener.admin_state_up {
            OFFLINE
        } else if pool.is_some_and(|(_, s)| unwell(s)) {
            DEGRADED
        } else {
            ONLINE
        };
        set(&mut listener.operating_status, status);
    }
    if settled(&tree.lb.provisioning_status) {
        let status = if !tree.lb.admin_state_up {
            OFFLINE
        } else if pool_statuses.iter().any(|(_, s)| unwell(s))
            || tree.listeners.iter().any(|l| unwell(&l.operating_status))
        {
            DEGRADED
        } else {
            ONLINE
        };
        set(&mut tree.lb.operating_status, status);
    }
}

impl LoadBalancerService {
    /// Observes the data plane and writes the operating statuses that
    /// changed.
    pub(crate) async fn refresh_health(&self) -> Result<(), LbError> {
        let trees = self.db.read(|conn| store::trees(conn, None)).await?;
        if trees.is_empty() {
            return Ok(());
        }
        let observation = self
            .plane
            .observe()
            .await
            .map_err(|e| LbError::Internal(format!("observing the data plane: {e}")))?;
        if !observation.stopped.is_empty() {
            // A proxy died: a pass starts it again from the desired state.
            tracing::warn!(load_balancers = ?observation.stopped, "load-balancer proxies stopped; restarting them");
            self.reconciler.request();
        }
        let changed: Vec<String> = trees
            .into_iter()
            .filter_map(|mut tree| {
                let before = tree.clone();
                refresh(&mut tree, &observation);
                (tree != before).then(|| tree.lb.id.clone())
            })
            .collect();
        if changed.is_empty() {
            return Ok(());
        }
        self.db
            .write(move |tx| {
                for id in changed {
                    // Read again in the transaction: a request may have
                    // changed the tree since.
                    if let Some(mut tree) = store::tree(tx, &id)? {
                        refresh(&mut tree, &observation);
                        store::save(tx, &tree)?;
                    }
                }
                Ok(())
            })
            .await
    }
}

/// Starts the health poll as a task of `tasks`.
pub fn start(service: &Arc<LoadBalancerService>, tasks: &oxistack_tasks::Supervisor) {
    let service = Arc::downgrade(service);
    tasks.spawn_until_stopped("load-balancer health", async move {
        loop {
            tokio::time::sleep(POLL).await;
            let Some(service) = service.upgrade() else {
                return;
            };
            if let Err(error) = service.refresh_health().await {
                tracing::debug!(%error, "load-balancer health poll");
            }
        }
    });
}
