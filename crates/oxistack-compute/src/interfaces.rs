//! Compute and the other services. What compute uses of networking and
//! images are the contracts of `oxistack_contracts`, re-exported here
//! under the names compute's code uses; the binary hands compute the
//! network and image services themselves, which implement them. What
//! compute offers in turn: the instances' metadata, to the metadata
//! service.

use futures_util::future::BoxFuture;
use oxistack_metadata::{InstanceMetadata, MetadataSource};

pub use oxistack_contracts::{
    ContractError, FixedIp, ImageSummary, Images, NetworkSummary, Networking, PortRequest,
    PortSummary, RemoteGroup, SecurityGroupDetail, SecurityGroupRuleDetail,
};

use crate::ComputeService;

impl MetadataSource for ComputeService {
    fn instance_metadata<'a>(
        &'a self,
        instance_id: &'a str,
    ) -> BoxFuture<'a, Option<InstanceMetadata>> {
        Box::pin(ComputeService::instance_metadata(self, instance_id))
    }
}

/// Nova's external events from the volume service: a volume attached to a
/// server grew.
impl oxistack_contracts::VolumeHosts for ComputeService {
    fn volume_extended<'a>(
        &'a self,
        server_id: &'a str,
        volume_id: &'a str,
        size_bytes: u64,
    ) -> BoxFuture<'a, Result<(), ContractError>> {
        Box::pin(async move {
            ComputeService::volume_extended(self, server_id, volume_id, size_bytes)
                .await
                .map_err(|e| ContractError::internal("growing an attached volume", e))
        })
    }
}
