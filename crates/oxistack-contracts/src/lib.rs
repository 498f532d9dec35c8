//! The contracts between services: each trait here is what one service
//! offers another, with the data types it speaks in and one typed error.
//!
//! Services never import each other. A provider implements its trait
//! directly on its service (the network crate's `NetworkService` is
//! [`Networking`], the image crate's `ImageService` is [`Images`]); a
//! consumer holds an `Arc<dyn Trait>` and the binary hands one to the
//! other. The load-balancer service uses networking through
//! [`LoadBalancerNetworking`]; compute and the volume service meet
//! through [`Volumes`] and [`VolumeHosts`].

mod error;
mod images;
mod loadbalancing;
mod networking;
mod volumes;

pub use error::{BoxError, ContractError};
pub use images::{ImageSummary, Images, NewImage, ReservedImage};
pub use loadbalancing::{
    DEVICE_OWNER_LOADBALANCER, ListenerOpening, LoadBalancerNetworking, VipPort, VipRequest,
    vip_device_id,
};
pub use networking::{
    DEVICE_OWNER_COMPUTE, FixedIp, NetworkSummary, Networking, PortRequest, PortSummary,
    RemoteGroup, SecurityGroupDetail, SecurityGroupRuleDetail,
};
pub use volumes::{
    AttachmentGrant, BootVolumeRequest, ServerAttachment, VolumeHosts, VolumeLocation,
    VolumeSummary, Volumes,
};
