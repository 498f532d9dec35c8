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
pub use schema::MIGRATIONS;
pub use service::ComputeService;
