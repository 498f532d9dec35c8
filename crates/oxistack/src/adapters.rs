//! The compute service reaches networking and images only through its own
//! small interfaces (`oxistack_compute::interfaces`). These adapters
//! implement them on the network and image services, so no service crate
//! imports another.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use futures_util::future::BoxFuture;
use oxistack_auth::AuthContext;
use oxistack_compute::ComputeService;
use oxistack_compute::interfaces::{
    self, ImageSummary, Images, Networking, PortRequest, PortSummary,
};
use oxistack_http::ApiError;
use oxistack_image::ImageService;
use oxistack_metadata::{InstanceMetadata, MetadataSource};
use oxistack_network::{NetworkService, compute as network};

pub struct NetworkingAdapter(pub Arc<NetworkService>);

fn network_summaries(networks: Vec<network::NetworkSummary>) -> Vec<interfaces::NetworkSummary> {
    networks
        .into_iter()
        .map(|n| interfaces::NetworkSummary {
            id: n.id,
            name: n.name,
        })
        .collect()
}

fn port_summary(port: network::PortSummary) -> PortSummary {
    PortSummary {
        id: port.id,
        network_id: port.network_id,
        network_name: port.network_name,
        mac_address: port.mac_address,
        fixed_ips: port
            .fixed_ips
            .into_iter()
            .map(|ip| interfaces::FixedIp {
                subnet_id: ip.subnet_id,
                ip_address: ip.ip_address,
            })
            .collect(),
        floating_ips: port.floating_ips,
        security_groups: port.security_groups,
        status: port.status,
        created_by_compute: port.created_by_compute,
    }
}

impl Networking for NetworkingAdapter {
    fn usable_networks<'a>(
        &'a self,
        caller: &'a AuthContext,
    ) -> BoxFuture<'a, Result<Vec<interfaces::NetworkSummary>, ApiError>> {
        Box::pin(async move { Ok(network_summaries(self.0.usable_networks(caller).await?)) })
    }

    fn attachable_networks<'a>(
        &'a self,
        caller: &'a AuthContext,
        ids: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<interfaces::NetworkSummary>, ApiError>> {
        Box::pin(async move {
            Ok(network_summaries(
                self.0.attachable_networks(caller, ids).await?,
            ))
        })
    }

    fn resolve_security_groups<'a>(
        &'a self,
        caller: &'a AuthContext,
        names_or_ids: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<String>, ApiError>> {
        Box::pin(self.0.resolve_security_groups(caller, names_or_ids))
    }

    fn create_port<'a>(
        &'a self,
        caller: &'a AuthContext,
        request: PortRequest,
    ) -> BoxFuture<'a, Result<PortSummary, ApiError>> {
        Box::pin(async move {
            let request = network::PortRequest {
                network_id: request.network_id,
                fixed_ip: request.fixed_ip,
                security_group_ids: request.security_group_ids,
                device_id: request.device_id,
            };
            self.0.create_port(caller, request).await.map(port_summary)
        })
    }

    fn bind_port<'a>(
        &'a self,
        caller: &'a AuthContext,
        port_id: &'a str,
        device_id: &'a str,
    ) -> BoxFuture<'a, Result<PortSummary, ApiError>> {
        Box::pin(async move {
            self.0
                .bind_port(caller, port_id, device_id)
                .await
                .map(port_summary)
        })
    }

    fn release_port<'a>(
        &'a self,
        device_id: &'a str,
        port_id: &'a str,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        Box::pin(self.0.release_port(device_id, port_id))
    }

    fn release_ports<'a>(&'a self, device_id: &'a str) -> BoxFuture<'a, Result<(), ApiError>> {
        Box::pin(self.0.release_ports(device_id))
    }

    fn ports_of<'a>(
        &'a self,
        device_ids: &'a [String],
    ) -> BoxFuture<'a, Result<HashMap<String, Vec<PortSummary>>, ApiError>> {
        Box::pin(async move {
            let ports = self.0.ports_of(device_ids).await?;
            Ok(ports
                .into_iter()
                .map(|(device, ports)| (device, ports.into_iter().map(port_summary).collect()))
                .collect())
        })
    }

    fn add_security_group<'a>(
        &'a self,
        caller: &'a AuthContext,
        device_id: &'a str,
        group: &'a str,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        Box::pin(self.0.add_security_group(caller, device_id, group))
    }

    fn remove_security_group<'a>(
        &'a self,
        caller: &'a AuthContext,
        device_id: &'a str,
        group: &'a str,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        Box::pin(self.0.remove_security_group(caller, device_id, group))
    }

    fn associate_floating_ip<'a>(
        &'a self,
        caller: &'a AuthContext,
        device_id: &'a str,
        address: IpAddr,
        fixed_address: Option<IpAddr>,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        Box::pin(
            self.0
                .associate_floating_ip(caller, device_id, address, fixed_address),
        )
    }

    fn disassociate_floating_ip<'a>(
        &'a self,
        caller: &'a AuthContext,
        device_id: &'a str,
        address: IpAddr,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        Box::pin(self.0.disassociate_floating_ip(caller, device_id, address))
    }

    fn sync_host<'a>(&'a self) -> BoxFuture<'a, Result<(), ApiError>> {
        Box::pin(async move {
            self.0
                .reconcile_now()
                .await
                .map_err(|e| ApiError::internal(e.to_string()))
        })
    }
}

pub struct ImagesAdapter(pub Arc<ImageService>);

impl Images for ImagesAdapter {
    fn find<'a>(
        &'a self,
        caller: &'a AuthContext,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ImageSummary>, ApiError>> {
        Box::pin(async move {
            let image = match self.0.show(&Arc::new(caller.clone()), id).await {
                Ok(image) => image,
                Err(error) if error.status == 404 => return Ok(None),
                Err(error) => return Err(error),
            };
            Ok(Some(ImageSummary {
                name: image.name.unwrap_or_default(),
                status: image.status.as_str().to_owned(),
                min_disk: image.min_disk.max(0) as u64,
                min_ram: image.min_ram.max(0) as u64,
                size: image.size.map(|s| s.max(0) as u64),
                disk_format: image.disk_format,
                properties: image.properties.into_iter().collect(),
                id: image.id,
            }))
        })
    }

    fn data_file(&self, id: &str) -> Option<PathBuf> {
        self.0.data_file(id)
    }
}

/// The metadata service asks compute about instances. The network data
/// plane (which serves metadata) exists before the compute service does,
/// so it gets this adapter first and compute is filled in once built;
/// until then every instance is unknown.
#[derive(Default)]
pub struct MetadataAdapter(pub OnceLock<Arc<ComputeService>>);

impl MetadataSource for MetadataAdapter {
    fn instance_metadata<'a>(
        &'a self,
        instance_id: &'a str,
    ) -> BoxFuture<'a, Option<InstanceMetadata>> {
        Box::pin(async move {
            match self.0.get() {
                Some(compute) => compute.instance_metadata(instance_id).await,
                None => None,
            }
        })
    }
}
