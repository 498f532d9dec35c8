//! The contracts between services: each trait here is what one service
//! offers another, with the data types it speaks in and one typed error.
//!
//! Services never import each other. A provider implements its trait
//! directly on its service (the network crate's `NetworkService` is
//! [`Networking`], the image crate's `ImageService` is [`Images`]); a
//! consumer holds an `Arc<dyn Trait>` and the binary hands one to the
//! other. Next: volumes for compute, ports for the load balancer.

mod error;
mod images;
mod networking;

pub use error::{BoxError, ContractError};
pub use images::{ImageSummary, Images};
pub use networking::{
    DEVICE_OWNER_COMPUTE, FixedIp, NetworkSummary, Networking, PortRequest, PortSummary,
    RemoteGroup, SecurityGroupDetail, SecurityGroupRuleDetail,
};
