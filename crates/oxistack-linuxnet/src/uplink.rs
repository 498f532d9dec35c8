//! The external network's way out: in sandbox mode the outside namespace
//! (a machine on the LAN), in bridged mode a veth to a host interface.

use oxistack_netplane::DataPlaneError;

use crate::command::{Cmd, Runner};
use crate::links::{DeviceSpec, delete_device, ensure_veth_leg, fix_device};
use crate::naming::{self, Namespaces};
use crate::observe::{self, Links};
use crate::plan::UplinkPlan;

/// The uplink's device in the fabric namespace.
pub(crate) fn fabric_device(plan: &UplinkPlan) -> &str {
    match plan {
        UplinkPlan::Sandbox(leg) => &leg.fabric_device,
        UplinkPlan::Bridged { .. } => naming::BRIDGED_UPLINK_DEVICE,
    }
}

pub(crate) async fn reconcile(
    runner: &Runner,
    names: &Namespaces,
    fabric: &Links,
    plan: &UplinkPlan,
) -> Result<(), DataPlaneError> {
    let fabric_namespace = names.fabric();
    match plan {
        UplinkPlan::Sandbox(leg) => {
            crate::namespace::ensure(runner, &leg.inner_namespace).await?;
            let outside = observe::links(runner, &leg.inner_namespace).await?;
            crate::namespace::ensure_loopback(runner, &leg.inner_namespace, &outside).await?;
            ensure_veth_leg(runner, &fabric_namespace, fabric, &outside, leg).await?;
            Ok(())
        }
        UplinkPlan::Bridged {
            interface,
            bridge,
            mtu,
        } => bridged(runner, names, fabric, interface, bridge, *mtu).await,
    }
}

/// The veth `<prefix>-ex` (host) ↔ `ex-uplink` (fabric, on the external
/// bridge); the host end joins `interface` if it is a bridge, else a
/// bridge `<prefix>-brex` made to hold both the NIC and the veth.
async fn bridged(
    runner: &Runner,
    names: &Namespaces,
    fabric: &Links,
    interface: &str,
    bridge: &str,
    mtu: u32,
) -> Result<(), DataPlaneError> {
    let fabric_namespace = names.fabric();
    let host_end = naming::host_uplink_device(names.prefix());
    let fabric_end = naming::BRIDGED_UPLINK_DEVICE;
    let mut host = observe::root_links(runner).await?;
    let is_veth =
        |link: Option<&observe::Link>| link.is_some_and(|l| l.kind.as_deref() == Some("veth"));
    if !(is_veth(host.get(&host_end)) && is_veth(fabric.get(fabric_end))) {
        if host.contains_key(&host_end) {
            delete_device(runner, Cmd::ip_root(), &host_end).await?;
        }
        if fabric.contains_key(fabric_end) {
            delete_device(runner, Cmd::ip(&fabric_namespace), fabric_end).await?;
        }
        runner
            .change(
                Cmd::ip_root()
                    .args(["link", "add", &host_end, "mtu", &mtu.to_string(), "up"])
                    .args(["type", "veth", "peer", "name", fabric_end])
                    .args(["mtu", &mtu.to_string(), "netns", &fabric_namespace]),
            )
            .await?;
        runner
            .change(
                Cmd::ip(&fabric_namespace)
                    .args(["link", "set", "dev", fabric_end, "master", bridge, "up"]),
            )
            .await?;
        host = observe::root_links(runner).await?;
    } else if let Some(link) = fabric.get(fabric_end) {
        let spec = DeviceSpec {
            mtu,
            up: true,
            master: Some(bridge.to_owned()),
            mac: None,
        };
        fix_device(runner, Cmd::ip(&fabric_namespace), fabric_end, link, &spec).await?;
    }
    let Some(nic) = host.get(interface) else {
        return Err(DataPlaneError::Unavailable(format!(
            "host interface {interface} (the external network's uplink) does not exist"
        )));
    };
    let host_bridge = if nic.kind.as_deref() == Some("bridge") {
        interface.to_owned()
    } else {
        let made = naming::host_bridge(names.prefix());
        if !host.contains_key(&made) {
            runner
                .change(Cmd::ip_root().args(["link", "add", &made, "up", "type", "bridge"]))
                .await?;
        }
        if nic.master.as_deref() != Some(made.as_str()) {
            runner
                .change(
                    Cmd::ip_root().args(["link", "set", "dev", interface, "master", &made, "up"]),
                )
                .await?;
        }
        made
    };
    if let Some(link) = host.get(&host_end) {
        let spec = DeviceSpec {
            mtu,
            up: true,
            master: Some(host_bridge),
            mac: None,
        };
        fix_device(runner, Cmd::ip_root(), &host_end, link, &spec).await?;
    }
    Ok(())
}
