//! The load-balancer data plane: what the load-balancer service wants the
//! proxies to do ([`LoadBalancerState`]), what it learns back from them
//! ([`Observation`]: member health and traffic counters), and the trait
//! between the two ([`LoadBalancerDataPlane`]).
//!
//! As with the network data plane, the service owns the desired state in
//! its database and hands a complete snapshot to [`LoadBalancerDataPlane::apply`]
//! after every change; an implementation converges idempotently and
//! removes whatever the snapshot no longer mentions. The state is plain
//! serde data because the real implementation hands it, as a 0600 file,
//! to a proxy process that outlives the control plane.
//!
//! Namespaces are not part of the state: the network data plane creates
//! each load balancer's namespace from its VIP port, and the proxy enters
//! it by the name the binary's namer gives for the load balancer id.

mod fake;
mod state;

use futures_util::future::BoxFuture;

pub use fake::FakeLoadBalancerPlane;
pub use state::{
    Algorithm, CompareType, HealthMonitor, InsertHeaders, L7Action, L7Policy, L7Rule, L7RuleKind,
    Listener, ListenerStats, LoadBalancer, LoadBalancerState, Member, MemberHealth, MonitorKind,
    Observation, Pool, Protocol, SessionPersistence, Timeouts,
};

/// Something that makes the host's proxies serve a [`LoadBalancerState`].
pub trait LoadBalancerDataPlane: Send + Sync + 'static {
    /// Serves `state`: starts listeners that are missing, changes those
    /// that differ (without dropping their established connections) and
    /// stops those `state` no longer mentions. Idempotent.
    fn apply<'a>(&'a self, state: &'a LoadBalancerState)
    -> BoxFuture<'a, Result<(), LbPlaneError>>;

    /// What the proxies see now: each monitored member's health and each
    /// listener's counters since the proxy started serving it.
    fn observe(&self) -> BoxFuture<'_, Result<Observation, LbPlaneError>>;
}

/// Why the data plane could not apply a state or report on it.
#[derive(Debug, thiserror::Error)]
pub enum LbPlaneError {
    /// The proxy process is not running or does not answer; applying
    /// again later (which restarts it) may succeed.
    #[error("the load-balancer proxy is unavailable: {0}")]
    Unavailable(String),
    /// A file, socket or process could not be created or reached.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// The proxy refused the state (e.g. a listener port it cannot bind).
    #[error("the load-balancer proxy refused the state: {0}")]
    Refused(String),
}
