//! The coalescing reconciler: keeps something (a data plane) in line with
//! desired state read from the database. Changes ask for a pass and never
//! wait; a background task waits a moment so that a burst of changes (a
//! stack being built) costs one pass, reads the whole desired state and
//! applies it. A failed pass is logged and retried with backoff, sooner if
//! another change comes. One pass applies at a time, so an on-demand pass
//! ([`Reconciler::reconcile_now`]) never overlaps a background one.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::sync::{Mutex, mpsc};
use tokio_util::sync::CancellationToken;

use crate::Supervisor;

/// What a reconciler keeps in line: where the desired state comes from
/// and what applies it. Applying must converge idempotently: a pass sees
/// the whole state, not the change that asked for it.
pub trait Reconcile: Send + Sync + 'static {
    /// The whole desired state.
    type State: Send;
    /// Why the desired state could not be read.
    type StateError: std::error::Error + Send + Sync + 'static;
    /// Why applying it failed.
    type ApplyError: std::error::Error + Send + Sync + 'static;

    fn desired(&self) -> BoxFuture<'_, Result<Self::State, Self::StateError>>;

    fn apply(&self, state: Self::State) -> BoxFuture<'_, Result<(), Self::ApplyError>>;
}

/// Why a pass did not complete, with its cause.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError<S, A>
where
    S: std::error::Error + 'static,
    A: std::error::Error + 'static,
{
    #[error("reading the desired state failed: {0}")]
    State(#[source] S),
    #[error(transparent)]
    Apply(A),
}

/// How long a background pass waits for more changes before reading the
/// state, and how failed passes are retried: delays doubling from
/// `first_retry` up to `last_retry`.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub coalesce: Duration,
    pub first_retry: Duration,
    pub last_retry: Duration,
}

pub struct Reconciler<R: Reconcile> {
    /// Holds at most one pending request: further ones while a pass is
    /// pending are the same pass.
    requests: mpsc::Sender<()>,
    pass: Arc<Pass<R>>,
}

struct Pass<R> {
    target: R,
    applying: Mutex<()>,
}

impl<R: Reconcile> Reconciler<R> {
    /// Starts the background task under `tasks` as `name`. It ends when
    /// the reconciler is dropped, or at shutdown once no pass is under way.
    pub fn start(name: &'static str, target: R, retry: Retry, tasks: &Supervisor) -> Self {
        let (requests, pending) = mpsc::channel(1);
        let pass = Arc::new(Pass {
            target,
            applying: Mutex::new(()),
        });
        let background = pass.clone();
        tasks.spawn(name, move |stop| {
            run(name, background, pending, retry, stop)
        });
        Reconciler { requests, pass }
    }

    /// Asks for a pass soon. Never waits.
    pub fn request(&self) {
        // A full channel means a pass is already pending, which will see
        // this change too.
        let _ = self.requests.try_send(());
    }

    /// Runs a pass now and waits for it.
    pub async fn reconcile_now(&self) -> Result<(), ReconcileError<R::StateError, R::ApplyError>> {
        self.pass.run().await
    }
}

impl<R: Reconcile> Pass<R> {
    async fn run(&self) -> Result<(), ReconcileError<R::StateError, R::ApplyError>> {
        let _applying = self.applying.lock().await;
        let state = self.target.desired().await.map_err(ReconcileError::State)?;
        self.target
            .apply(state)
            .await
            .map_err(ReconcileError::Apply)
    }
}

async fn run<R: Reconcile>(
    name: &'static str,
    pass: Arc<Pass<R>>,
    mut pending: mpsc::Receiver<()>,
    retry: Retry,
    stop: CancellationToken,
) {
    loop {
        tokio::select! {
            request = pending.recv() => if request.is_none() { return },
            () = stop.cancelled() => return,
        }
        tokio::select! {
            () = tokio::time::sleep(retry.coalesce) => {}
            () = stop.cancelled() => return,
        }
        let mut delay = retry.first_retry;
        loop {
            // This pass covers every request made so far.
            while pending.try_recv().is_ok() {}
            // A pass under way is finished even when stopping: the data
            // plane is never left half applied by us.
            match pass.run().await {
                Ok(()) => break,
                Err(error) => {
                    tracing::warn!(reconciler = name, %error, retry_in = ?delay, "reconciliation failed");
                    tokio::select! {
                        request = pending.recv() => if request.is_none() { return },
                        () = tokio::time::sleep(delay) => {}
                        () = stop.cancelled() => return,
                    }
                    delay = (delay * 2).min(retry.last_retry);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("{0}")]
    struct Failure(&'static str);

    /// Counts passes; the first `failures` applies fail.
    struct Counter {
        desired: AtomicUsize,
        applied: Arc<AtomicUsize>,
        failures: AtomicUsize,
    }

    impl Reconcile for Counter {
        type State = usize;
        type StateError = Failure;
        type ApplyError = Failure;

        fn desired(&self) -> BoxFuture<'_, Result<usize, Failure>> {
            Box::pin(async { Ok(self.desired.fetch_add(1, Ordering::SeqCst)) })
        }

        fn apply(&self, _state: usize) -> BoxFuture<'_, Result<(), Failure>> {
            Box::pin(async {
                let failing = self
                    .failures
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok();
                if failing {
                    return Err(Failure("the plane said no"));
                }
                self.applied.fetch_add(1, Ordering::SeqCst);
                Ok(())
            })
        }
    }

    const FAST: Retry = Retry {
        coalesce: Duration::from_millis(30),
        first_retry: Duration::from_millis(10),
        last_retry: Duration::from_millis(20),
    };

    fn counter(failures: usize) -> (Counter, Arc<AtomicUsize>) {
        let applied = Arc::new(AtomicUsize::new(0));
        let counter = Counter {
            desired: AtomicUsize::new(0),
            applied: applied.clone(),
            failures: AtomicUsize::new(failures),
        };
        (counter, applied)
    }

    async fn wait_until(what: &str, done: impl Fn() -> bool) {
        for _ in 0..300 {
            if done() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("never happened: {what}");
    }

    #[tokio::test]
    async fn a_burst_of_requests_is_one_pass() {
        let (target, applied) = counter(0);
        let reconciler = Reconciler::start("test", target, FAST, &Supervisor::new());
        for _ in 0..20 {
            reconciler.request();
        }
        wait_until("a pass", || applied.load(Ordering::SeqCst) == 1).await;
        tokio::time::sleep(FAST.coalesce * 3).await;
        assert_eq!(applied.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_failed_pass_is_retried_and_reported_with_its_cause() {
        let (target, applied) = counter(2);
        let reconciler = Reconciler::start("test", target, FAST, &Supervisor::new());
        match reconciler.reconcile_now().await {
            Err(ReconcileError::Apply(Failure(cause))) => assert_eq!(cause, "the plane said no"),
            other => panic!("expected the apply failure, got {other:?}"),
        }
        reconciler.request();
        wait_until("a retried pass", || applied.load(Ordering::SeqCst) == 1).await;
    }

    #[tokio::test]
    async fn the_background_task_stops_at_shutdown() {
        let (target, applied) = counter(usize::MAX);
        let supervisor = Supervisor::new();
        let reconciler = Reconciler::start("test", target, FAST, &supervisor);
        reconciler.request();
        // Failing for ever, it is waiting to retry when told to stop.
        tokio::time::sleep(FAST.coalesce * 2).await;
        let overran = supervisor.shutdown(Duration::from_secs(5)).await;
        assert!(overran.is_empty(), "{overran:?}");
        assert_eq!(applied.load(Ordering::SeqCst), 0);
    }
}
