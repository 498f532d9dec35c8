//! Named long-lived tasks that stop together.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The cloud's long-lived tasks. Cloning shares them: a task may spawn
/// further tasks under the same supervisor.
#[derive(Clone, Default)]
pub struct Supervisor {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    stop: CancellationToken,
    tasks: Mutex<Vec<Task>>,
}

struct Task {
    name: String,
    handle: JoinHandle<()>,
}

impl Supervisor {
    pub fn new() -> Supervisor {
        Supervisor::default()
    }

    /// Cancelled when shutdown begins.
    pub fn stop_token(&self) -> CancellationToken {
        self.inner.stop.clone()
    }

    /// Spawns `task` with the stop token. It must return soon after the
    /// token is cancelled, having finished or put down what it was doing.
    pub fn spawn<F, Fut>(&self, name: impl Into<String>, task: F)
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handle = tokio::spawn(task(self.stop_token()));
        let mut tasks = self.inner.tasks.lock().unwrap_or_else(|e| e.into_inner());
        // Tasks that ended by themselves have nothing left to wait for.
        tasks.retain(|task| !task.handle.is_finished());
        tasks.push(Task {
            name: name.into(),
            handle,
        });
    }

    /// Spawns a task with nothing to finish at shutdown (a loop between
    /// two awaits is always in a safe place): it is dropped when the stop
    /// token is cancelled.
    pub fn spawn_until_stopped<Fut>(&self, name: impl Into<String>, task: Fut)
    where
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.spawn(name, |stop| async move {
            tokio::select! {
                () = stop.cancelled() => {}
                () = task => {}
            }
        });
    }

    /// Cancels every task and waits for them, for at most `grace` in all.
    /// Those still running then are aborted, logged, and returned by name.
    /// Tasks spawned while stopping are waited for too.
    pub async fn shutdown(&self, grace: Duration) -> Vec<String> {
        self.inner.stop.cancel();
        let deadline = Instant::now() + grace;
        let mut overran = Vec::new();
        loop {
            let tasks =
                std::mem::take(&mut *self.inner.tasks.lock().unwrap_or_else(|e| e.into_inner()));
            if tasks.is_empty() {
                return overran;
            }
            for Task { name, mut handle } in tasks {
                match tokio::time::timeout_at(deadline, &mut handle).await {
                    Ok(Ok(())) => tracing::debug!(task = %name, "stopped"),
                    Ok(Err(error)) if error.is_panic() => {
                        tracing::error!(task = %name, "task panicked")
                    }
                    Ok(Err(_)) => tracing::debug!(task = %name, "cancelled"),
                    Err(_) => {
                        handle.abort();
                        tracing::warn!(task = %name, ?grace, "task did not stop in time; aborted");
                        overran.push(name);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    #[tokio::test]
    async fn tasks_that_stop_when_told_are_waited_for() {
        let supervisor = Supervisor::new();
        let finished = Arc::new(AtomicBool::new(false));
        let flag = finished.clone();
        supervisor.spawn("careful", |stop| async move {
            stop.cancelled().await;
            // Work that must complete once stopping began.
            tokio::time::sleep(Duration::from_millis(20)).await;
            flag.store(true, Ordering::SeqCst);
        });
        supervisor.spawn_until_stopped("loop", std::future::pending());
        let overran = supervisor.shutdown(Duration::from_secs(5)).await;
        assert!(overran.is_empty(), "{overran:?}");
        assert!(
            finished.load(Ordering::SeqCst),
            "shutdown returned before the task finished"
        );
    }

    #[tokio::test]
    async fn a_task_overrunning_the_deadline_is_named_and_aborted() {
        let supervisor = Supervisor::new();
        let dropped = Arc::new(AtomicBool::new(false));
        let guard = DropFlag(dropped.clone());
        supervisor.spawn("stubborn", |_stop| async move {
            let _guard = guard;
            std::future::pending::<()>().await;
        });
        supervisor.spawn("polite", |stop| async move { stop.cancelled().await });
        let started = Instant::now();
        let overran = supervisor.shutdown(Duration::from_millis(100)).await;
        assert_eq!(overran, ["stubborn"]);
        assert!(started.elapsed() < Duration::from_secs(5));
        // Aborting drops the task's future at its next poll point.
        for _ in 0..100 {
            if dropped.load(Ordering::SeqCst) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the overrunning task was not aborted");
    }

    #[tokio::test]
    async fn tasks_spawned_while_stopping_are_told_and_waited_for() {
        let supervisor = Supervisor::new();
        let finished = Arc::new(AtomicBool::new(false));
        let (inner, flag) = (supervisor.clone(), finished.clone());
        supervisor.spawn("parent", |stop| async move {
            stop.cancelled().await;
            inner.spawn("child", |stop| async move {
                assert!(stop.is_cancelled(), "a late task sees the stop at once");
                flag.store(true, Ordering::SeqCst);
            });
        });
        let overran = supervisor.shutdown(Duration::from_secs(5)).await;
        assert!(overran.is_empty(), "{overran:?}");
        assert!(finished.load(Ordering::SeqCst));
    }

    struct DropFlag(Arc<AtomicBool>);

    impl Drop for DropFlag {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
}
