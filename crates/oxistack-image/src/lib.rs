//! A Glance v2-compatible image service.
//!
//! Image records, their tags, extra properties and members live in the
//! cloud's database ([`MIGRATIONS`]); image data lives in files under the
//! store directory, streamed in and out without being held in memory.
//! Callers are identified by [`oxistack_auth`] and see images according to
//! their visibility: private images only by their project, shared ones by
//! their project and the projects they were shared with, public and
//! community ones by everybody.

mod access;
mod api;
mod contracts;
mod error;
mod files;
mod model;
mod page_cache;
mod patch;
mod query;
mod schemas;
mod service;
mod store;
mod wire;

pub use api::router;
pub use error::ImageError;
pub use model::{Image, ImageStatus, Visibility};
pub use service::ImageService;
pub use store::MIGRATIONS;
