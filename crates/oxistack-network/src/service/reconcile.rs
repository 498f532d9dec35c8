//! Keeping the data plane in line with the database. Changes ask for a
//! reconciliation; a background task waits a moment so that a burst of
//! changes (a stack being built) costs one pass, builds the whole desired
//! state and applies it. A failed pass is logged and retried with backoff;
//! API requests never wait for, or fail because of, the data plane.

use std::sync::Arc;
use std::time::Duration;

use oxistack_db::Db;
use oxistack_http::ApiError;
use oxistack_netplane::{DataPlaneError, NetworkDataPlane};
use tokio::sync::{Mutex, mpsc};

use super::state;

/// How long a pass waits for more changes before reading the state.
const COALESCE: Duration = Duration::from_millis(50);
/// Retry delays after a failed pass: doubling from the first to the last.
const FIRST_RETRY: Duration = Duration::from_secs(1);
const LAST_RETRY: Duration = Duration::from_secs(60);

/// Why a reconciliation did not complete.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("reading the desired network state failed: {0}")]
    State(ApiError),
    #[error(transparent)]
    DataPlane(#[from] DataPlaneError),
}

pub struct Reconciler {
    /// Holds at most one pending request: further ones while a pass is
    /// pending are the same pass.
    requests: mpsc::Sender<()>,
    pass: Arc<Pass>,
}

/// What a pass needs; one pass at a time applies.
struct Pass {
    db: Db,
    dataplane: Arc<dyn NetworkDataPlane>,
    applying: Mutex<()>,
}

impl Reconciler {
    /// Starts the background task, which ends when the reconciler is
    /// dropped.
    pub fn start(db: Db, dataplane: Arc<dyn NetworkDataPlane>) -> Reconciler {
        let (requests, pending) = mpsc::channel(1);
        let pass = Arc::new(Pass {
            db,
            dataplane,
            applying: Mutex::new(()),
        });
        tokio::spawn(run(pass.clone(), pending));
        Reconciler { requests, pass }
    }

    /// Asks for a pass soon. Never waits.
    pub fn request(&self) {
        // A full channel means a pass is already pending, which will see
        // this change too.
        let _ = self.requests.try_send(());
    }

    /// Runs a pass now and waits for it.
    pub async fn reconcile_now(&self) -> Result<(), ReconcileError> {
        self.pass.run().await
    }
}

impl Pass {
    async fn run(&self) -> Result<(), ReconcileError> {
        let _applying = self.applying.lock().await;
        let state = self
            .db
            .read(|conn| {
                // One snapshot: every table read at the same point in time.
                let snapshot = conn.unchecked_transaction()?;
                state::desired(&snapshot)
            })
            .await
            .map_err(ReconcileError::State)?;
        self.dataplane.apply(&state).await?;
        tracing::debug!(
            networks = state.networks.len(),
            ports = state.ports.len(),
            routers = state.routers.len(),
            "network data plane reconciled"
        );
        Ok(())
    }
}

async fn run(pass: Arc<Pass>, mut pending: mpsc::Receiver<()>) {
    while pending.recv().await.is_some() {
        tokio::time::sleep(COALESCE).await;
        let mut retry = FIRST_RETRY;
        loop {
            // This pass covers every request made so far.
            while pending.try_recv().is_ok() {}
            match pass.run().await {
                Ok(()) => break,
                Err(error) => {
                    tracing::warn!(%error, retry_in = ?retry, "network data plane reconciliation failed");
                    tokio::select! {
                        request = pending.recv() => if request.is_none() { return },
                        () = tokio::time::sleep(retry) => {}
                    }
                    retry = (retry * 2).min(LAST_RETRY);
                }
            }
        }
    }
}
