//! An Octavia v2-compatible load-balancer service.
//!
//! Load balancers, listeners, pools, members, health monitors, L7 policies
//! and rules live in the cloud's database ([`MIGRATIONS`]), each as
//! Octavia's own record; quotas too.
//! A change marks the objects it touches `PENDING_*` and the load
//! balancer `PENDING_UPDATE`, which refuses further changes (409) until a
//! background pass has made the host follow: it asks networking
//! ([`oxistack_contracts::LoadBalancerNetworking`]) for the openings and
//! member-subnet ports, hands the whole desired state to the data plane
//! ([`oxistack_lbplane::LoadBalancerDataPlane`]) and then marks the tree
//! `ACTIVE` (or deletes what was `PENDING_DELETE`). A second task polls the
//! plane's observation and keeps operating statuses current.
//!
//! The API ([`router`]) answers under `/v2` and `/v2.0`, with errors in
//! Octavia's (WSME's) fault format; policy is Octavia's default RBAC, from
//! the cloud's one policy table.

mod api;
mod model;
mod service;
mod store;
mod wire;

pub use api::router;
pub use service::{LbError, LoadBalancerService, ReconcileError};
pub use store::MIGRATIONS;
