//! Keeping the data plane in line with the database, through the shared
//! coalescing reconciler (`oxistack_tasks::Reconciler`): changes ask for a
//! pass, a burst of them costs one, a failed pass is logged and retried
//! with backoff; API requests never wait for, or fail because of, the
//! data plane. A pass reads the whole desired state in one snapshot and
//! hands it to the data plane.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use oxistack_db::Db;
use oxistack_netplane::{DataPlaneError, NetworkDataPlane, NetworkState};
use oxistack_tasks::{Reconcile, Retry, Supervisor};

use super::state;
use crate::errors::NetworkError;

const RETRY: Retry = Retry {
    // How long a pass waits for more changes before reading the state.
    coalesce: Duration::from_millis(50),
    first_retry: Duration::from_secs(1),
    last_retry: Duration::from_secs(60),
};

/// Why a reconciliation did not complete, with its cause: reading the
/// desired state (networking's own error, e.g. the database's) or applying
/// it (the data plane's).
pub type ReconcileError = oxistack_tasks::ReconcileError<NetworkError, DataPlaneError>;

pub type Reconciler = oxistack_tasks::Reconciler<DataPlanePass>;

/// Starts reconciling `dataplane` with the network tables of `db`, as a
/// task of `tasks`.
pub fn start(db: Db, dataplane: Arc<dyn NetworkDataPlane>, tasks: &Supervisor) -> Reconciler {
    let pass = DataPlanePass { db, dataplane };
    oxistack_tasks::Reconciler::start("network reconciler", pass, RETRY, tasks)
}

pub struct DataPlanePass {
    db: Db,
    dataplane: Arc<dyn NetworkDataPlane>,
}

impl Reconcile for DataPlanePass {
    type State = NetworkState;
    type StateError = NetworkError;
    type ApplyError = DataPlaneError;

    fn desired(&self) -> BoxFuture<'_, Result<NetworkState, NetworkError>> {
        Box::pin(self.db.read(|conn| {
            // One snapshot: every table read at the same point in time.
            let snapshot = conn.unchecked_transaction()?;
            state::desired(&snapshot)
        }))
    }

    fn apply(&self, state: NetworkState) -> BoxFuture<'_, Result<(), DataPlaneError>> {
        Box::pin(async move {
            self.dataplane.apply(&state).await?;
            tracing::debug!(
                networks = state.networks.len(),
                ports = state.ports.len(),
                routers = state.routers.len(),
                "network data plane reconciled"
            );
            Ok(())
        })
    }
}
