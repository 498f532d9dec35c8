//! A data plane that serves nothing: it keeps the last state it was given
//! and reports every monitored member up, for API tests and Tempest.

use std::sync::Mutex;

use futures_util::future::BoxFuture;

use crate::{LbPlaneError, LoadBalancerDataPlane, LoadBalancerState, MemberHealth, Observation};

#[derive(Debug, Default)]
pub struct FakeLoadBalancerPlane {
    applied: Mutex<Option<LoadBalancerState>>,
    /// Members the fake reports down, to test operating status.
    down: Mutex<Vec<String>>,
    /// Whether the proxies "died" since the last application.
    crashed: Mutex<bool>,
    applications: Mutex<u64>,
}

impl FakeLoadBalancerPlane {
    pub fn new() -> Self {
        Self::default()
    }

    /// The state applied last, if any.
    pub fn applied(&self) -> Option<LoadBalancerState> {
        self.applied.lock().expect("fake plane lock").clone()
    }

    /// How many times a state was applied.
    pub fn applications(&self) -> u64 {
        *self.applications.lock().expect("fake plane lock")
    }

    /// Makes every proxy "die": [`LoadBalancerDataPlane::observe`] reports
    /// the applied load balancers stopped until the next application.
    pub fn crash(&self) {
        *self.crashed.lock().expect("fake plane lock") = true;
    }

    /// Makes [`LoadBalancerDataPlane::observe`] report `member_id` down
    /// (`down`) or up again.
    pub fn set_member_down(&self, member_id: &str, down: bool) {
        let mut members = self.down.lock().expect("fake plane lock");
        members.retain(|m| m != member_id);
        if down {
            members.push(member_id.to_owned());
        }
    }
}

impl LoadBalancerDataPlane for FakeLoadBalancerPlane {
    fn apply<'a>(
        &'a self,
        state: &'a LoadBalancerState,
    ) -> BoxFuture<'a, Result<(), LbPlaneError>> {
        *self.applied.lock().expect("fake plane lock") = Some(state.clone());
        *self.crashed.lock().expect("fake plane lock") = false;
        *self.applications.lock().expect("fake plane lock") += 1;
        Box::pin(async { Ok(()) })
    }

    fn observe(&self) -> BoxFuture<'_, Result<Observation, LbPlaneError>> {
        let applied = self.applied();
        let down = self.down.lock().expect("fake plane lock").clone();
        let crashed = *self.crashed.lock().expect("fake plane lock");
        Box::pin(async move {
            let mut observation = Observation::default();
            if crashed {
                observation.stopped = applied
                    .iter()
                    .flat_map(|s| &s.load_balancers)
                    .map(|lb| lb.id.clone())
                    .collect();
                return Ok(observation);
            }
            for lb in applied.iter().flat_map(|s| &s.load_balancers) {
                for pool in lb.pools.iter().filter(|p| p.health_monitor.is_some()) {
                    for member in &pool.members {
                        let health = if down.contains(&member.id) {
                            MemberHealth::Down
                        } else {
                            MemberHealth::Up
                        };
                        observation.members.insert(member.id.clone(), health);
                    }
                }
                for listener in &lb.listeners {
                    observation
                        .listeners
                        .insert(listener.id.clone(), Default::default());
                }
            }
            Ok(observation)
        })
    }
}
