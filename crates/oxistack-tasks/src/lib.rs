//! Background work of the cloud, under supervision.
//!
//! Every long-lived task (servers, reconcilers, periodic sweeps, the
//! resume after a start) is spawned through a [`Supervisor`], which gives
//! it a cancellation token and keeps its name and join handle. At
//! shutdown `up` cancels them all and waits for them up to a deadline,
//! logging by name those that overrun it; a bare `tokio::spawn` would
//! instead be cut off wherever it stood when the runtime went away.
//!
//! [`Reconciler`] is the coalescing "keep X in line with the database"
//! loop the network data plane uses, generic so that other services (the
//! load balancer next) reuse it.

mod reconciler;
mod supervisor;

pub use reconciler::{Reconcile, ReconcileError, Reconciler, Retry};
pub use supervisor::Supervisor;
pub use tokio_util::sync::CancellationToken;
