//! The in-process services of a DHCP namespace: a DHCP server (crate
//! `oxistack-dhcp`) on the DHCP port's device and the metadata service
//! (crate `oxistack-metadata`) on 169.254.169.254:80. Their sockets are
//! opened by a thread inside the namespace and served by tokio tasks of
//! this process, so they end with it; apply starts them again.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener as StdTcpListener, UdpSocket};
use std::sync::Arc;

use futures_util::future::BoxFuture;
use oxistack_dhcp::{DhcpServer, LeaseTable};
use oxistack_metadata::{InstanceMetadata, InstanceResolver, MetadataSource};
use oxistack_netplane::{DataPlaneError, NetworkState};
use tokio::runtime::Handle;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::leases::METADATA_ADDRESS;
use crate::plan::{DhcpPlan, is_bound_instance_port};

const METADATA_PORT: u16 = 80;

/// What the services of every DHCP namespace share.
pub(crate) struct ServiceContext {
    pub runtime: Handle,
    /// The state of the latest apply, for the metadata resolvers.
    pub state: watch::Receiver<Arc<NetworkState>>,
    pub metadata: Arc<dyn MetadataSource>,
}

/// The running services, by network id.
#[derive(Default)]
pub(crate) struct Services {
    by_network: BTreeMap<String, NetworkServices>,
}

struct NetworkServices {
    namespace: String,
    device: String,
    server_id: Ipv4Addr,
    leases: watch::Sender<Arc<LeaseTable>>,
    tasks: [JoinHandle<()>; 2],
}

impl Drop for NetworkServices {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl NetworkServices {
    fn is_running(&self) -> bool {
        self.tasks.iter().all(|t| !t.is_finished())
    }
}

impl Services {
    /// Stops the services of networks not in `keep`.
    pub fn retain(&mut self, keep: &BTreeSet<&str>) {
        self.by_network.retain(|network, services| {
            let kept = keep.contains(network.as_str());
            if !kept {
                tracing::info!(network, namespace = %services.namespace, "stopping DHCP and metadata");
            }
            kept
        });
    }

    /// Makes the services of `plan` run with its leases. They are
    /// (re)started when missing, dead, or when their device was just
    /// recreated (sockets stay bound to the old one).
    pub async fn ensure(
        &mut self,
        context: &ServiceContext,
        plan: &DhcpPlan,
        device_recreated: bool,
    ) -> Result<(), DataPlaneError> {
        if let Some(running) = self.by_network.get(&plan.network_id)
            && running.is_running()
            && !device_recreated
            && running.namespace == plan.namespace
            && running.device == plan.leg.inner_device
            && running.server_id == plan.server_id
        {
            let changed = running.leases.send_if_modified(|table| {
                let differs = **table != plan.leases;
                if differs {
                    *table = Arc::new(plan.leases.clone());
                }
                differs
            });
            if changed {
                tracing::info!(network = %plan.network_id, leases = plan.leases.len(), "DHCP leases updated");
            }
            return Ok(());
        }
        // Stop the old tasks first: they hold the sockets being rebound.
        self.by_network.remove(&plan.network_id);
        let services = start(context, plan).await?;
        tracing::info!(
            network = %plan.network_id,
            namespace = %plan.namespace,
            leases = plan.leases.len(),
            "DHCP and metadata started"
        );
        self.by_network.insert(plan.network_id.clone(), services);
        Ok(())
    }
}

async fn start(
    context: &ServiceContext,
    plan: &DhcpPlan,
) -> Result<NetworkServices, DataPlaneError> {
    let namespace = plan.namespace.clone();
    let device = plan.leg.inner_device.clone();
    let io_error = |what: &str, source: io::Error| DataPlaneError::Io {
        context: format!("{what} in namespace {}", plan.namespace),
        source,
    };
    let (udp, tcp) = tokio::task::spawn_blocking(move || {
        oxistack_netns::run_in(&namespace, || open_sockets(&device))
    })
    .await
    .map_err(|e| io_error("opening the DHCP and metadata sockets", io::Error::other(e)))?
    .map_err(|e| io_error("entering", io::Error::other(e)))?
    .map_err(|e| io_error("opening the DHCP and metadata sockets", e))?;

    let (leases, receiver) = watch::channel(Arc::new(plan.leases.clone()));
    let server = DhcpServer::new(udp, plan.server_id, receiver)
        .map_err(|e| io_error("starting the DHCP server", e))?;
    let network = plan.network_id.clone();
    let dhcp_task = context.runtime.spawn(async move {
        if let Err(error) = server.run().await {
            tracing::warn!(%network, %error, "DHCP server stopped");
        }
    });
    // from_std needs the runtime's reactor: enter it explicitly, since the
    // caller may be polled on a thread outside it.
    let listener = {
        let _guard = context.runtime.enter();
        tokio::net::TcpListener::from_std(tcp)
    };
    let listener = match listener {
        Ok(listener) => listener,
        Err(error) => {
            dhcp_task.abort();
            return Err(io_error("starting the metadata service", error));
        }
    };
    let resolver = Arc::new(PortResolver {
        network_id: plan.network_id.clone(),
        state: context.state.clone(),
        metadata: Arc::clone(&context.metadata),
    });
    let network = plan.network_id.clone();
    let metadata_task = context.runtime.spawn(async move {
        if let Err(error) = oxistack_metadata::serve_http(listener, resolver).await {
            tracing::warn!(%network, %error, "metadata service stopped");
        }
    });
    Ok(NetworkServices {
        namespace: plan.namespace.clone(),
        device: plan.leg.inner_device.clone(),
        server_id: plan.server_id,
        leases,
        tasks: [dhcp_task, metadata_task],
    })
}

/// Runs on a thread inside the DHCP namespace.
fn open_sockets(device: &str) -> io::Result<(UdpSocket, StdTcpListener)> {
    let udp = oxistack_dhcp::bind_socket(device)?;
    let tcp = StdTcpListener::bind(SocketAddr::from((METADATA_ADDRESS, METADATA_PORT)))?;
    tcp.set_nonblocking(true)?;
    Ok((udp, tcp))
}

/// Answers "which instance is at this address" for one network's
/// metadata service: the `compute:*` port of the network holding it, in
/// the latest applied state.
struct PortResolver {
    network_id: String,
    state: watch::Receiver<Arc<NetworkState>>,
    metadata: Arc<dyn MetadataSource>,
}

impl InstanceResolver for PortResolver {
    fn resolve(&self, peer: IpAddr) -> BoxFuture<'_, Option<InstanceMetadata>> {
        let instance = instance_at(&self.state.borrow(), &self.network_id, peer);
        Box::pin(async move { self.metadata.instance_metadata(&instance?).await })
    }
}

fn instance_at(state: &NetworkState, network_id: &str, peer: IpAddr) -> Option<String> {
    state
        .ports
        .iter()
        .find(|port| {
            port.network_id == network_id
                && is_bound_instance_port(port)
                && port.fixed_ips.iter().any(|fixed| fixed.ip_address == peer)
        })
        .map(|port| port.device_id.clone())
}
