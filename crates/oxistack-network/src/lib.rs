//! A Neutron v2.0-compatible networking service.
//!
//! Networks, subnets, ports, routers, floating IPs, security groups, tags
//! and quotas live in the cloud's database ([`MIGRATIONS`]). The data
//! plane is derived from it: after every change a background task builds
//! the complete desired state ([`oxistack_netplane::NetworkState`]) and
//! applies it through a [`oxistack_netplane::NetworkDataPlane`], so the
//! host's network follows the database, also after a restart.
//!
//! Callers are identified by [`oxistack_auth`]: a project sees its own
//! resources, plus shared and external networks and their subnets; the
//! administrator sees everything. The service's typed calls check the
//! policy and refuse with a [`NetworkError`], which carries the type
//! Neutron names the error with (`NetworkInUse`,
//! `IpAddressGenerationFailure`, ...) and which the API renders as
//! Neutron's JSON error.
//!
//! Those typed calls are public, as every service's are: one generic call
//! per operation over [`Resource`] (list, get, create, update, delete,
//! tags) with the kinds' models in [`model`] as results and their requests
//! in [`wire`], plus the router, quota and compute-facing calls.

mod api;
mod contracts;
mod errors;
mod ipam;
mod kind;
pub mod model;
mod rules;
mod service;
mod store;
pub mod wire;

pub use api::router;
pub use errors::NetworkError;
pub use kind::Kind;
pub use service::{
    NetworkDefaults, NetworkService, ReconcileError, Resource, Shown, TagChange, Updatable,
};
pub use store::MIGRATIONS;
