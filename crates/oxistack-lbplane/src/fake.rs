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
}

impl FakeLoadBalancerPlane {
    pub fn new() -> Self {
        Self::default()
    }

    /// The state applied last, if any.
    pub fn applied(&self) -> Option<LoadBalancerState> {
        self.applied.lock().expect("fake plane lock").clone()
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
        Box::pin(async { Ok(()) })
    }

    fn observe(&self) -> BoxFuture<'_, Result<Observation, LbPlaneError>> {
        let applied = self.applied();
        let down = self.down.lock().expect("fake plane lock").clone();
        Box::pin(async move {
            let mut observation = Observation::default();
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
