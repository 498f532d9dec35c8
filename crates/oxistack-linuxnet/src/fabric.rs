//! The fabric namespace: one bridge per network, the instances' taps on
//! them, and the removal of devices the state no longer mentions.

use std::collections::BTreeSet;

use oxistack_netplane::DataPlaneError;

use crate::command::{Cmd, Runner};
use crate::links::{DeviceSpec, delete_device, fix_device};
use crate::naming;
use crate::observe::Links;
use crate::plan::Plan;

/// Creates and corrects the networks' bridges. Each error is collected
/// so one bad bridge does not hold back the others.
pub(crate) async fn reconcile_bridges(
    runner: &Runner,
    namespace: &str,
    fabric: &Links,
    plan: &Plan,
    errors: &mut Vec<DataPlaneError>,
) {
    for bridge in &plan.bridges {
        let result = async {
            let current = fabric.get(&bridge.name);
            if let Some(link) = current
                && link.kind.as_deref() == Some("bridge")
            {
                let spec = DeviceSpec {
                    mtu: bridge.mtu,
                    up: bridge.up,
                    master: None,
                    mac: None,
                };
                fix_device(runner, Cmd::ip(namespace), &bridge.name, link, &spec).await?;
                if link.nf_call_iptables != Some(true) {
                    runner
                        .change(nf_call_iptables(namespace, &bridge.name))
                        .await?;
                }
                return Ok(());
            }
            if current.is_some() {
                delete_device(runner, Cmd::ip(namespace), &bridge.name).await?;
            }
            let mut add = Cmd::ip(namespace)
                .args(["link", "add", &bridge.name])
                .args(["mtu", &bridge.mtu.to_string()]);
            if bridge.up {
                add = add.arg("up");
            }
            runner.change(add.args(["type", "bridge"])).await?;
            // Bridged IPv4 passes the inet hooks (with conntrack) for the
            // security groups; a per-bridge option, so the host's
            // sysctls stay untouched.
            runner
                .change(nf_call_iptables(namespace, &bridge.name))
                .await
        }
        .await;
        if let Err(error) = result {
            errors.push(error);
        }
    }
}

fn nf_call_iptables(namespace: &str, bridge: &str) -> Cmd {
    Cmd::ip(namespace).args([
        "link",
        "set",
        "dev",
        bridge,
        "type",
        "bridge",
        "nf_call_iptables",
        "1",
    ])
}

/// Creates the instances' taps, or adopts a device of the same name that
/// exists already (a tap QEMU holds, or a test's veth), and puts each on
/// its bridge with the network's MTU.
pub(crate) async fn reconcile_instance_ports(
    runner: &Runner,
    namespace: &str,
    fabric: &Links,
    plan: &Plan,
    errors: &mut Vec<DataPlaneError>,
) {
    for port in &plan.instance_ports {
        let spec = DeviceSpec {
            mtu: port.mtu,
            up: port.up,
            master: Some(port.bridge.clone()),
            mac: None,
        };
        let result = match fabric.get(&port.device) {
            Some(link) => fix_device(runner, Cmd::ip(namespace), &port.device, link, &spec).await,
            None => {
                let created = runner
                    .change(Cmd::ip(namespace).args([
                        "tuntap",
                        "add",
                        "dev",
                        &port.device,
                        "mode",
                        "tap",
                    ]))
                    .await;
                match created {
                    Ok(()) => {
                        let mut set = Cmd::ip(namespace)
                            .args(["link", "set", "dev", &port.device])
                            .args(["mtu", &port.mtu.to_string(), "master", &port.bridge]);
                        set = set.arg(if port.up { "up" } else { "down" });
                        runner.change(set).await
                    }
                    Err(error) => Err(error),
                }
            }
        };
        if let Err(error) = result {
            errors.push(error);
        }
    }
}

/// Deletes the fabric's port devices, uplinks and bridges the plan does
/// not mention. Only names the data plane gives are touched.
pub(crate) async fn remove_stale(
    runner: &Runner,
    namespace: &str,
    fabric: &Links,
    plan: &Plan,
    uplink_device: Option<&str>,
    errors: &mut Vec<DataPlaneError>,
) {
    let mut wanted = plan.fabric_port_devices();
    wanted.extend(uplink_device);
    let bridges: BTreeSet<&str> = plan.bridges.iter().map(|b| b.name.as_str()).collect();
    let uplinks = [naming::SANDBOX_UPLINK_DEVICE, naming::BRIDGED_UPLINK_DEVICE];
    let stale_ports = fabric.keys().filter(|name| {
        (name.starts_with("tap") || uplinks.contains(&name.as_str()))
            && !wanted.contains(name.as_str())
    });
    // Ports first, so no bridge is deleted with ports still on it.
    let stale_bridges = fabric
        .keys()
        .filter(|name| name.starts_with("brq") && !bridges.contains(name.as_str()));
    for name in stale_ports.chain(stale_bridges) {
        if let Err(error) = delete_device(runner, Cmd::ip(namespace), name).await {
            errors.push(error);
        }
    }
}
