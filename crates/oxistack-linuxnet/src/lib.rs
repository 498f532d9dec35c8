//! The Linux network data plane: realises a [`NetworkState`] with network
//! namespaces, Linux bridges, taps, veth pairs, nftables and in-process
//! DHCP and metadata services, as Neutron's Linux bridge agent, L3 agent
//! and DHCP agent would on one host.
//!
//! Layout (names in [`naming`]):
//! - `<prefix>-fabric` holds one bridge per network and every port's
//!   device on it: instances' taps and the fabric ends of veth legs.
//! - `<prefix>-qrouter-<id>` per router: `qr-`/`qg-` legs, forwarding,
//!   routes and a NAT table.
//! - `<prefix>-qdhcp-<network>` per network with DHCP: the DHCP port's
//!   leg with the DHCP server and the metadata service on it.
//! - `<prefix>-lb-<load balancer>` per load balancer: its ports' `o-`
//!   legs (VIP and member subnets), where the load-balancer proxy serves.
//! - `<prefix>-outside` (sandbox mode): a machine on the external LAN.
//!
//! [`LinuxDataPlane::apply`](NetworkDataPlane::apply) reads what exists
//! (one JSON dump per namespace), compares it with the plan and changes
//! only what differs.

mod command;
mod fabric;
mod leases;
mod links;
mod loadbalancer;
mod namespace;
mod nat;
mod nftables;
mod observe;
mod plan;
mod router;
mod services;
mod uplink;

pub mod firewall;
pub mod naming;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use ipnet::IpNet;
use oxistack_metadata::MetadataSource;
use oxistack_netplane::{DataPlaneError, NetworkDataPlane, NetworkState};
use tokio::sync::{Mutex, watch};

use crate::command::{Cmd, Runner};
use crate::plan::{Plan, UplinkPlan};
use crate::services::{ServiceContext, Services};

/// How the external network reaches beyond the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExternalMode {
    /// Default. Everything lives in namespaces oxistack owns; namespace
    /// `<prefix>-outside` plays a machine on the LAN: its leg `lan0` is
    /// plugged into the external network's bridge and holds
    /// `lan_address` (the external subnet's gateway, e.g. 172.24.4.1/24,
    /// as DevStack's br-ex does), so floating IPs are reachable from it
    /// and routers' default route points at it.
    Sandbox { lan_address: IpNet },
    /// The external network's bridge is connected to a host interface in
    /// the root namespace: a veth whose root end `<prefix>-ex` is plugged
    /// into that interface if it is a bridge, or into a root bridge
    /// `<prefix>-brex` created to hold the NIC and the veth if it is not.
    Bridged { interface: String },
}

pub struct LinuxNetConfig {
    /// Starts every namespace's name; at most 8 characters.
    pub prefix: String,
    pub external: ExternalMode,
    /// Where the metadata service gets instances' metadata.
    pub metadata: Arc<dyn MetadataSource>,
}

/// The longest prefix that keeps `<prefix>-brex` within the kernel's
/// 15-character device names.
const MAX_PREFIX_LEN: usize = 8;

/// The Linux data plane of one oxistack instance.
pub struct LinuxDataPlane {
    names: naming::Namespaces,
    external: ExternalMode,
    runner: Runner,
    services_context: ServiceContext,
    applied_state: watch::Sender<Arc<NetworkState>>,
    /// Held for a whole apply: applies never interleave.
    services: Mutex<Services>,
}

impl LinuxDataPlane {
    /// Checks prerequisites: `ip`, `nft` and `conntrack` on PATH, bridge
    /// netfilter available (loading `br_netfilter` if needed), a tokio
    /// runtime to run DHCP and metadata on.
    pub fn new(config: LinuxNetConfig) -> Result<Arc<LinuxDataPlane>, DataPlaneError> {
        if config.prefix.is_empty()
            || config.prefix.len() > MAX_PREFIX_LEN
            || !config.prefix.chars().all(|c| c.is_ascii_alphanumeric())
        {
            return Err(DataPlaneError::Unavailable(format!(
                "the namespace prefix {:?} must be 1 to {MAX_PREFIX_LEN} letters or digits",
                config.prefix
            )));
        }
        for (program, package) in [
            ("ip", "iproute2"),
            ("nft", "nftables"),
            ("conntrack", "conntrack"),
        ] {
            if !on_path(program) {
                return Err(DataPlaneError::Unavailable(format!(
                    "`{program}` is not installed (Debian package {package})"
                )));
            }
        }
        ensure_bridge_netfilter()?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            DataPlaneError::Unavailable("the Linux data plane needs a tokio runtime".into())
        })?;
        let (applied_state, state) = watch::channel(Arc::new(NetworkState::default()));
        Ok(Arc::new(LinuxDataPlane {
            names: naming::Namespaces::new(&config.prefix),
            external: config.external,
            runner: Runner::default(),
            services_context: ServiceContext {
                runtime,
                state,
                metadata: config.metadata,
            },
            applied_state,
            services: Mutex::new(Services::default()),
        }))
    }

    pub fn namespaces(&self) -> &naming::Namespaces {
        &self.names
    }

    /// How many changes to the kernel (commands, sysctl writes, namespace
    /// creations and deletions) this data plane has made: a converged
    /// apply adds none.
    pub fn kernel_changes(&self) -> u64 {
        self.runner.changes()
    }

    async fn apply_state(&self, state: &NetworkState) -> Result<(), DataPlaneError> {
        let mut services = self.services.lock().await;
        let started = Instant::now();
        let changes_before = self.runner.changes();
        // The metadata services answer from the newest state at once,
        // even if realising the rest fails part way.
        self.applied_state.send_replace(Arc::new(state.clone()));
        let mut plan = plan::plan(state, &self.names, &self.external);
        let mut errors = std::mem::take(&mut plan.errors);

        let keep: BTreeSet<&str> = plan.dhcp.iter().map(|d| d.network_id.as_str()).collect();
        services.retain(&keep);
        self.remove_stale_namespaces(&plan, &mut errors).await;

        // Without the fabric nothing else can be done.
        let fabric_namespace = self.names.fabric();
        namespace::ensure(&self.runner, &fabric_namespace).await?;
        let fabric = observe::links(&self.runner, &fabric_namespace).await?;
        collect(
            &mut errors,
            namespace::ensure_loopback(&self.runner, &fabric_namespace, &fabric).await,
        );
        fabric::reconcile_bridges(&self.runner, &fabric_namespace, &fabric, &plan, &mut errors)
            .await;

        if let Some(uplink) = &plan.uplink {
            collect(
                &mut errors,
                uplink::reconcile(&self.runner, &self.names, &fabric, uplink).await,
            );
        }
        for router in &plan.routers {
            let result = router::reconcile(&self.runner, &fabric_namespace, &fabric, router).await;
            if let Err(error) = &result {
                tracing::warn!(router = %router.id, %error, "router not fully applied");
            }
            collect(&mut errors, result);
        }
        for dhcp in &plan.dhcp {
            let result = async {
                namespace::ensure(&self.runner, &dhcp.namespace).await?;
                let inside = observe::links(&self.runner, &dhcp.namespace).await?;
                namespace::ensure_loopback(&self.runner, &dhcp.namespace, &inside).await?;
                let recreated = links::ensure_veth_leg(
                    &self.runner,
                    &fabric_namespace,
                    &fabric,
                    &inside,
                    &dhcp.leg,
                )
                .await?;
                services
                    .ensure(&self.services_context, dhcp, recreated)
                    .await
            }
            .await;
            if let Err(error) = &result {
                tracing::warn!(network = %dhcp.network_id, %error, "DHCP not fully applied");
            }
            collect(&mut errors, result);
        }
        for load_balancer in &plan.load_balancers {
            let result =
                loadbalancer::reconcile(&self.runner, &fabric_namespace, &fabric, load_balancer)
                    .await;
            if let Err(error) = &result {
                tracing::warn!(load_balancer = %load_balancer.id, %error, "load balancer not fully applied");
            }
            collect(&mut errors, result);
        }
        fabric::reconcile_instance_ports(
            &self.runner,
            &fabric_namespace,
            &fabric,
            &plan,
            &mut errors,
        )
        .await;
        let uplink_device = plan.uplink.as_ref().map(uplink::fabric_device);
        fabric::remove_stale(
            &self.runner,
            &fabric_namespace,
            &fabric,
            &plan,
            uplink_device,
            &mut errors,
        )
        .await;
        collect(&mut errors, self.load_firewall(state).await);

        let changes = self.runner.changes() - changes_before;
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        if changes > 0 {
            tracing::info!(
                changes,
                elapsed_ms,
                errors = errors.len(),
                "network state applied"
            );
        } else {
            tracing::debug!(
                elapsed_ms,
                errors = errors.len(),
                "network state already in place"
            );
        }
        let mut errors = errors.into_iter();
        match errors.next() {
            None => Ok(()),
            Some(first) => {
                for other in errors {
                    tracing::warn!(error = %other, "also failed while applying the network state");
                }
                Err(first)
            }
        }
    }

    /// Deletes router, DHCP, load balancer and outside namespaces the plan has no use
    /// for (their veths go with them).
    async fn remove_stale_namespaces(&self, plan: &Plan, errors: &mut Vec<DataPlaneError>) {
        let mut wanted: BTreeSet<String> =
            plan.routers.iter().map(|r| r.namespace.clone()).collect();
        wanted.extend(plan.dhcp.iter().map(|d| d.namespace.clone()));
        wanted.extend(plan.load_balancers.iter().map(|lb| lb.namespace.clone()));
        if let Some(UplinkPlan::Sandbox(leg)) = &plan.uplink {
            wanted.insert(leg.inner_namespace.clone());
        }
        let outside = self.names.outside();
        for name in oxistack_netns::list(&self.names.common_prefix()) {
            let ours = self.names.is_router(&name)
                || self.names.is_dhcp(&name)
                || self.names.is_load_balancer(&name)
                || name == outside;
            if ours && !wanted.contains(&name) {
                collect(errors, namespace::delete(&self.runner, &name).await);
            }
        }
    }

    /// Loads the security groups' ruleset (`firewall::fabric_ruleset`)
    /// into the fabric namespace when it differs from the loaded one.
    async fn load_firewall(&self, state: &NetworkState) -> Result<(), DataPlaneError> {
        let script = nftables::Script::new(firewall::fabric_ruleset(state));
        let fabric_namespace = self.names.fabric();
        if nftables::is_loaded(&self.runner, &fabric_namespace, &script).await? {
            return Ok(());
        }
        nftables::load(&self.runner, &fabric_namespace, &script).await
    }
}

fn collect(errors: &mut Vec<DataPlaneError>, result: Result<(), DataPlaneError>) {
    if let Err(error) = result {
        errors.push(error);
    }
}

impl NetworkDataPlane for LinuxDataPlane {
    fn apply<'a>(&'a self, state: &'a NetworkState) -> BoxFuture<'a, Result<(), DataPlaneError>> {
        self.apply_state(state).boxed()
    }
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// Bridged IPv4 reaches nftables only with bridge netfilter, whose
/// sysctls appear under /proc/sys/net/bridge once it is loaded.
fn ensure_bridge_netfilter() -> Result<(), DataPlaneError> {
    let loaded = || Path::new("/proc/sys/net/bridge").exists();
    if loaded() {
        return Ok(());
    }
    tracing::info!("bridge netfilter is not loaded: running `modprobe br_netfilter`");
    let probe = std::process::Command::new("modprobe")
        .arg("br_netfilter")
        .output();
    if let Ok(output) = &probe
        && !output.status.success()
    {
        tracing::warn!(stderr = %String::from_utf8_lossy(&output.stderr).trim(), "modprobe br_netfilter failed");
    }
    if loaded() {
        Ok(())
    } else {
        Err(DataPlaneError::Unavailable(
            "bridge netfilter is not available (/proc/sys/net/bridge is missing and `modprobe br_netfilter` did not load it)".into(),
        ))
    }
}

/// Removes every kernel object of instance `prefix`: all namespaces
/// starting with `<prefix>-` (with their devices) and, in bridged mode,
/// the host veth and bridge the data plane made. Idempotent.
pub fn teardown(prefix: &str, external: &ExternalMode) -> Result<(), DataPlaneError> {
    let names = naming::Namespaces::new(prefix);
    let mut first_error = None;
    for name in oxistack_netns::list(&names.common_prefix()) {
        tracing::info!(namespace = %name, "deleting namespace");
        if let Err(error) = oxistack_netns::delete(&name) {
            first_error.get_or_insert(DataPlaneError::Io {
                context: format!("deleting network namespace {name}"),
                source: std::io::Error::other(error),
            });
        }
    }
    if let ExternalMode::Bridged { .. } = external {
        for device in [
            naming::host_uplink_device(prefix),
            naming::host_bridge(prefix),
        ] {
            if let Err(error) = delete_host_device(&device) {
                first_error.get_or_insert(error);
            }
        }
    }
    first_error.map_or(Ok(()), Err)
}

fn delete_host_device(device: &str) -> Result<(), DataPlaneError> {
    let args = ["link", "del", "dev", device];
    let cmd = Cmd::ip_root().args(args);
    let output = std::process::Command::new("ip")
        .args(args)
        .output()
        .map_err(|source| DataPlaneError::Io {
            context: format!("running `{cmd}`"),
            source,
        })?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if output.status.success() || stderr.contains("Cannot find device") {
        if output.status.success() {
            tracing::info!(device, "deleted host device");
        }
        Ok(())
    } else {
        Err(DataPlaneError::Command {
            command: cmd.to_string(),
            status: output.status.to_string(),
            stderr: stderr.trim().to_owned(),
        })
    }
}
