//! A Cinder v3-compatible block-storage service.
//!
//! Volumes, snapshots, attachments, volume types and quotas live in the
//! cloud's database ([`MIGRATIONS`]) as Cinder's records; their data lives
//! in an [`oxistack_volstore::VolumeBackend`] (qcow2 or raw files). A
//! change is recorded at once in a transitional status (`creating`,
//! `deleting`, `extending`) and finished by a supervised task, as Cinder's
//! volume manager finishes what its API accepted; [`VolumeService::recover`]
//! settles what a crash interrupted.
//!
//! Compute attaches volumes and makes boot volumes through
//! [`oxistack_contracts::Volumes`] (implemented in `contracts.rs`), and
//! hears of volumes grown under running guests through
//! [`oxistack_contracts::VolumeHosts`].
//!
//! The API ([`router`]) answers under `/v3/{project_id}` and `/v3`, with
//! microversions 3.0 to 3.71, errors in Cinder's fault format and
//! Cinder's default policy from the cloud's one policy table.

mod api;
mod contracts;
mod model;
mod service;
mod store;
mod wire;

pub use api::router;
pub use service::{VolumeError, VolumeService};
pub use store::MIGRATIONS;
