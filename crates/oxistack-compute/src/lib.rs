//! A Nova v2.1-compatible compute service.
//!
//! Flavors, key pairs, servers, server groups and quotas live in the
//! cloud's database ([`MIGRATIONS`]). Servers are made real by a
//! [`oxistack_virt::ComputeDriver`] and connected through the network
//! service's [`interfaces::Networking`]; a create is answered as soon as
//! the servers are recorded in BUILD, and a background task creates their
//! ports and spawns them. [`ComputeService::resume`] re-drives, after a
//! restart, whatever was left unfinished. Responses take the shape of the
//! microversion each request negotiates (2.1 to 2.100).
//!
//! The HTTP face (`api/`) only parses requests and renders Nova's
//! documents. What a request may do is decided by [`ComputeService`]'s
//! typed calls (caller + typed request -> typed result), each checking the
//! cloud's policy itself and failing with a [`ComputeError`], which `api/`
//! maps once to Nova's JSON error. Other front ends use the same calls.

mod api;
pub mod interfaces;
mod keys;
mod model;
mod query;
mod quota;
mod schema;
mod service;
mod store;
mod validate;
mod versions;
mod wire;

pub use api::router;
pub use model::{Flavor, GroupPolicy, Keypair, Server, ServerGroup};
pub use quota::{Limits, Resource};
pub use schema::MIGRATIONS;
pub use service::{
    ComputeError, ComputeService, ServerVisibility, consoles, flavors, groups, host, keypairs,
    quotas, server_data,
};
pub use store::flavors::{FlavorSelection, SortDir};
pub use store::servers::HostLoad;
pub use store::services::ServiceRecord;
