//! Keeping networking and the data plane in line with the database,
//! through the shared coalescing reconciler (`oxistack_tasks::Reconciler`).
//! A pass reads every tree in one snapshot; for the trees with pending
//! changes it sets each one's openings and member-subnet ports and brings
//! the host's network up to date (`sync_host`, so a new VIP's namespace,
//! ports and security-group rules exist); it applies the whole state to the data plane, releases the
//! ports of the load balancers being deleted, and only then settles what
//! was pending: `PENDING_CREATE`/`PENDING_UPDATE` become `ACTIVE`,
//! `PENDING_DELETE` objects are deleted.
//!
//! A failed pass is retried with backoff; after [`FAILURES_BEFORE_ERROR`]
//! failures in a row the pending objects become `ERROR` (which a client
//! may delete, or fail over), as Octavia marks what its driver could not
//! provision. The retries go on: a later pass that succeeds serves them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use futures_util::future::BoxFuture;
use oxistack_contracts::LoadBalancerNetworking;
use oxistack_db::Db;
use oxistack_lbplane::LoadBalancerDataPlane;
use oxistack_tasks::{Reconcile, Retry, Supervisor};

use super::{LbError, health, state};
use crate::model::{ACTIVE, ERROR, PENDING_DELETE, Tree, is_pending};
use crate::store;

const RETRY: Retry = Retry {
    coalesce: Duration::from_millis(50),
    first_retry: Duration::from_secs(1),
    last_retry: Duration::from_secs(30),
};

/// Failed passes in a row after which pending objects are marked `ERROR`
/// (about 15 s of retries).
pub const FAILURES_BEFORE_ERROR: u32 = 5;

/// Why a reconciliation did not complete: reading the trees, or making the
/// host follow them (networking's or the data plane's failure).
pub type ReconcileError = oxistack_tasks::ReconcileError<LbError, LbError>;

pub type Reconciler = oxistack_tasks::Reconciler<Pass>;

pub fn start(
    db: Db,
    networking: Arc<dyn LoadBalancerNetworking>,
    plane: Arc<dyn LoadBalancerDataPlane>,
    tasks: &Supervisor,
) -> Reconciler {
    let pass = Pass {
        db,
        networking,
        plane,
        failures: AtomicU32::new(0),
    };
    oxistack_tasks::Reconciler::start("load-balancer reconciler", pass, RETRY, tasks)
}

pub struct Pass {
    db: Db,
    networking: Arc<dyn LoadBalancerNetworking>,
    plane: Arc<dyn LoadBalancerDataPlane>,
    failures: AtomicU32,
}

impl Pass {
    /// Makes networking and the data plane follow `trees`. Networking is
    /// asked only about trees with pending changes (what it was told
    /// before is in its own database); the data plane always gets the
    /// whole state, which it converges to idempotently.
    async fn follow(&self, trees: &[Tree]) -> Result<(), LbError> {
        let pending: Vec<&Tree> = trees.iter().filter(|t| t.is_pending()).collect();
        for tree in pending
            .iter()
            .filter(|t| t.lb.provisioning_status != PENDING_DELETE)
        {
            let id = &tree.lb.id;
            self.networking
                .set_openings(id, state::openings(tree))
                .await?;
            self.networking
                .set_member_subnets(id, state::member_subnets(tree))
                .await?;
        }
        // After the openings and ports are recorded, so that once this
        // pass marks the tree ACTIVE its traffic is let through.
        if !pending.is_empty() {
            self.networking.sync_host().await?;
        }
        self.plane
            .apply(&state::plane_state(trees))
            .await
            .map_err(|e| LbError::Internal(format!("the load-balancer data plane: {e}")))?;
        for tree in pending
            .iter()
            .filter(|t| t.lb.provisioning_status == PENDING_DELETE)
        {
            self.networking.release(&tree.lb.id).await?;
        }
        Ok(())
    }

    /// Rewrites the pending objects of the snapshot's pending trees with
    /// `settle`. No request changed them since: a pending tree refuses
    /// changes.
    async fn settle(&self, trees: &[Tree], to_error: bool) -> Result<(), LbError> {
        let pending: Vec<String> = trees
            .iter()
            .filter(|t| t.is_pending())
            .map(|t| t.lb.id.clone())
            .collect();
        if pending.is_empty() {
            return Ok(());
        }
        let observation = if to_error {
            None
        } else {
            self.plane.observe().await.ok()
        };
        let now = super::now();
        self.db
            .write(move |tx| {
                for id in pending {
                    let Some(mut tree) = store::tree(tx, &id)? else {
                        continue;
                    };
                    if to_error {
                        tree.for_each_status(|o| {
                            if is_pending(o.provisioning_status()) {
                                o.set_provisioning_status(ERROR);
                            }
                        });
                    } else if tree.lb.provisioning_status == PENDING_DELETE {
                        store::delete_tree(tx, &id)?;
                        continue;
                    } else {
                        tree.drop_deleted();
                        tree.for_each_status(|o| {
                            if is_pending(o.provisioning_status()) {
                                o.set_provisioning_status(ACTIVE);
                                o.touch(&now);
                            }
                        });
                        if let Some(observation) = &observation {
                            health::refresh(&mut tree, observation);
                        }
                    }
                    store::save(tx, &tree)?;
                }
                Ok(())
            })
            .await
    }
}

impl Reconcile for Pass {
    type State = Vec<Tree>;
    type StateError = LbError;
    type ApplyError = LbError;

    fn desired(&self) -> BoxFuture<'_, Result<Vec<Tree>, LbError>> {
        Box::pin(self.db.read(|conn| {
            let snapshot = conn.unchecked_transaction()?;
            store::trees(&snapshot, None)
        }))
    }

    fn apply(&self, trees: Vec<Tree>) -> BoxFuture<'_, Result<(), LbError>> {
        Box::pin(async move {
            match self.follow(&trees).await {
                Ok(()) => {
                    self.failures.store(0, Ordering::SeqCst);
                    self.settle(&trees, false).await
                }
                Err(error) => {
                    let failures = self.failures.fetch_add(1, Ordering::SeqCst) + 1;
                    if failures >= FAILURES_BEFORE_ERROR {
                        self.settle(&trees, true).await?;
                    }
                    Err(error)
                }
            }
        })
    }
}
