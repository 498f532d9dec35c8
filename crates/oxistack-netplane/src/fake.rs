use std::sync::Mutex;

use futures_util::future::BoxFuture;

use crate::{DataPlaneError, NetworkDataPlane, NetworkState};

/// A data plane that touches no kernel object: it records what it was
/// asked to apply, for tests and for running the API without privileges.
#[derive(Debug, Default)]
pub struct FakeDataPlane {
    inner: Mutex<Recorded>,
}

#[derive(Debug, Default)]
struct Recorded {
    last: Option<NetworkState>,
    applied: u64,
    failures_to_inject: u32,
}

impl FakeDataPlane {
    pub fn new() -> Self {
        Self::default()
    }

    /// The state of the last successful application.
    pub fn last_applied(&self) -> Option<NetworkState> {
        self.recorded().last.clone()
    }

    /// How many applications succeeded.
    pub fn applied_count(&self) -> u64 {
        self.recorded().applied
    }

    /// Makes the next `times` applications fail with
    /// [`DataPlaneError::Unavailable`], to exercise a caller's retries.
    pub fn fail_next(&self, times: u32) {
        self.recorded().failures_to_inject = times;
    }

    fn recorded(&self) -> std::sync::MutexGuard<'_, Recorded> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl NetworkDataPlane for FakeDataPlane {
    fn apply<'a>(&'a self, state: &'a NetworkState) -> BoxFuture<'a, Result<(), DataPlaneError>> {
        Box::pin(async move {
            let mut recorded = self.recorded();
            if recorded.failures_to_inject > 0 {
                recorded.failures_to_inject -= 1;
                return Err(DataPlaneError::Unavailable(
                    "failure injected by the fake".into(),
                ));
            }
            recorded.last = Some(state.clone());
            recorded.applied += 1;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_applications_and_injected_failures() {
        let fake = FakeDataPlane::new();
        let state = NetworkState::default();
        let apply = |fake: &FakeDataPlane| {
            futures_util::FutureExt::now_or_never(fake.apply(&state)).unwrap()
        };
        fake.fail_next(1);
        assert!(matches!(apply(&fake), Err(DataPlaneError::Unavailable(_))));
        assert_eq!(fake.applied_count(), 0);
        assert!(fake.last_applied().is_none());
        apply(&fake).unwrap();
        apply(&fake).unwrap();
        assert_eq!(fake.applied_count(), 2);
        assert_eq!(fake.last_applied(), Some(state.clone()));
    }
}
