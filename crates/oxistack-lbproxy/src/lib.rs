//! The load-balancer proxy: Octavia's load balancers without a VM each.
//!
//! Every load balancer is served by one proxy process of its own
//! ([`run_proxy`], the `oxistack lb-proxy` subcommand) inside the load
//! balancer's network namespace; [`ProcessPlane`] is the
//! [`oxistack_lbplane::LoadBalancerDataPlane`] that writes their
//! configurations, starts, reloads, adopts and stops them, and reads back
//! what they observe. The proxy itself is an [`Engine`]: HTTP, TCP and
//! UDP listeners, pools with weighted algorithms, session persistence,
//! health monitors and L7 policies, reconfigured in place without
//! dropping connections.

mod balance;
mod engine;
mod files;
mod health;
mod http;
mod l7;
mod plane;
mod proxy;
mod tcp;
mod traffic;
mod udp;

pub use engine::{Engine, EngineError};
pub use files::{CONFIG_FILE, LOG_FILE, PID_FILE, ProxyStatus, STATUS_FILE};
pub use http::SERVER_COOKIE;
pub use plane::{ProcessPlane, stop_all};
pub use proxy::{ProxyArgs, run_proxy};
