//! Bringing one device, or one veth pair, to what the plan says: compare
//! with the observed [`Link`] and issue a single `ip link set` (plus
//! address changes) only for what differs.

use std::collections::BTreeSet;

use ipnet::IpNet;
use oxistack_netplane::DataPlaneError;

use crate::command::{Cmd, Runner};
use crate::observe::{Link, Links};

/// What a device's link settings should be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DeviceSpec {
    pub mtu: u32,
    pub up: bool,
    /// The bridge the device is a port of; `None` leaves it as it is.
    pub master: Option<String>,
    /// `None` leaves the MAC as it is.
    pub mac: Option<String>,
}

/// One `ip link set` fixing whatever of `spec` `current` does not match;
/// nothing when everything does. `ip` is `ip -n <namespace>` (or plain
/// `ip` for the host).
pub(crate) async fn fix_device(
    runner: &Runner,
    ip: Cmd,
    name: &str,
    current: &Link,
    spec: &DeviceSpec,
) -> Result<(), DataPlaneError> {
    let mut settings: Vec<String> = Vec::new();
    if current.mtu != spec.mtu {
        settings.extend(["mtu".into(), spec.mtu.to_string()]);
    }
    if let Some(mac) = &spec.mac
        && current.mac.as_deref() != Some(mac.to_ascii_lowercase().as_str())
    {
        settings.extend(["address".into(), mac.clone()]);
    }
    if let Some(master) = &spec.master
        && current.master.as_deref() != Some(master.as_str())
    {
        settings.extend(["master".into(), master.clone()]);
    }
    if current.up != spec.up {
        settings.push(if spec.up { "up" } else { "down" }.into());
    }
    if settings.is_empty() {
        tracing::debug!(device = name, "device is as planned");
        return Ok(());
    }
    runner
        .change(ip.args(["link", "set", "dev", name]).args(settings))
        .await
}

/// Removes the addresses of `device` that are not wanted, then adds the
/// missing ones.
pub(crate) async fn sync_addresses(
    runner: &Runner,
    namespace: &str,
    device: &str,
    current: &BTreeSet<IpNet>,
    wanted: &BTreeSet<IpNet>,
) -> Result<(), DataPlaneError> {
    for stale in current.difference(wanted) {
        runner
            .change(
                Cmd::ip(namespace)
                    .args(["addr", "del"])
                    .arg(stale)
                    .args(["dev", device]),
            )
            .await?;
    }
    for missing in wanted.difference(current) {
        runner
            .change(
                Cmd::ip(namespace)
                    .args(["addr", "add"])
                    .arg(missing)
                    .args(["dev", device]),
            )
            .await?;
    }
    Ok(())
}

/// Deletes a device; one already gone (deleting a veth end takes its
/// peer along) is fine.
pub(crate) async fn delete_device(
    runner: &Runner,
    ip: Cmd,
    name: &str,
) -> Result<(), DataPlaneError> {
    match runner.change(ip.args(["link", "del", "dev", name])).await {
        Err(DataPlaneError::Command { stderr, .. }) if stderr.contains("Cannot find device") => {
            Ok(())
        }
        result => result,
    }
}

/// Deletes the devices of `inside` (namespace `namespace`) whose names
/// start with one of `prefixes` but that no leg of `legs` has: their
/// fabric ends go with the fabric's stale devices, but a leg whose fabric
/// end vanished must go here.
pub(crate) async fn remove_unplanned_legs(
    runner: &Runner,
    namespace: &str,
    inside: &Links,
    prefixes: &[&str],
    legs: &[VethLeg],
) -> Result<(), DataPlaneError> {
    for name in inside.keys() {
        let is_leg = prefixes.iter().any(|prefix| name.starts_with(prefix));
        if is_leg && !legs.iter().any(|leg| &leg.inner_device == name) {
            delete_device(runner, Cmd::ip(namespace), name).await?;
        }
    }
    Ok(())
}

/// A veth pair joining a namespace (router, DHCP server, load balancer,
/// outside LAN) to
/// a network's bridge in the fabric namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VethLeg {
    /// The end on the bridge, in the fabric namespace.
    pub fabric_device: String,
    pub bridge: String,
    pub mtu: u32,
    pub up: bool,
    pub inner_namespace: String,
    pub inner_device: String,
    /// The port's MAC for the inner end; `None` lets the kernel pick.
    pub inner_mac: Option<String>,
    pub inner_addresses: BTreeSet<IpNet>,
}

/// Makes `leg` exist as planned, given what the fabric and the inner
/// namespace hold now. Returns whether the pair was (re)created, which
/// invalidates sockets bound to the old inner device.
pub(crate) async fn ensure_veth_leg(
    runner: &Runner,
    fabric_namespace: &str,
    fabric: &Links,
    inner: &Links,
    leg: &VethLeg,
) -> Result<bool, DataPlaneError> {
    let is_veth = |link: &Link| link.kind.as_deref() == Some("veth");
    let fabric_end = fabric.get(&leg.fabric_device);
    let inner_end = inner.get(&leg.inner_device);
    let inner_spec = DeviceSpec {
        mtu: leg.mtu,
        up: leg.up,
        master: None,
        mac: leg.inner_mac.clone(),
    };
    if let (Some(fabric_end), Some(inner_end)) = (fabric_end, inner_end)
        && is_veth(fabric_end)
        && is_veth(inner_end)
    {
        let fabric_spec = DeviceSpec {
            mtu: leg.mtu,
            up: leg.up,
            master: Some(leg.bridge.clone()),
            mac: None,
        };
        fix_device(
            runner,
            Cmd::ip(fabric_namespace),
            &leg.fabric_device,
            fabric_end,
            &fabric_spec,
        )
        .await?;
        fix_device(
            runner,
            Cmd::ip(&leg.inner_namespace),
            &leg.inner_device,
            inner_end,
            &inner_spec,
        )
        .await?;
        sync_addresses(
            runner,
            &leg.inner_namespace,
            &leg.inner_device,
            &inner_end.addresses,
            &leg.inner_addresses,
        )
        .await?;
        return Ok(false);
    }
    // Half a pair, or a device of the wrong kind under one of the names
    // (a partial failure, or a port that changed role): start over.
    if fabric_end.is_some() {
        delete_device(runner, Cmd::ip(fabric_namespace), &leg.fabric_device).await?;
    }
    if inner_end.is_some() {
        delete_device(runner, Cmd::ip(&leg.inner_namespace), &leg.inner_device).await?;
    }
    let mut add = Cmd::ip(fabric_namespace)
        .args(["link", "add", &leg.fabric_device])
        .args(["mtu", &leg.mtu.to_string(), "master", &leg.bridge]);
    if leg.up {
        add = add.arg("up");
    }
    add = add.args(["type", "veth", "peer", "name", &leg.inner_device]);
    if let Some(mac) = &leg.inner_mac {
        add = add.args(["address", mac]);
    }
    add = add.args(["mtu", &leg.mtu.to_string(), "netns", &leg.inner_namespace]);
    runner.change(add).await?;
    if leg.up {
        runner
            .change(Cmd::ip(&leg.inner_namespace).args([
                "link",
                "set",
                "dev",
                &leg.inner_device,
                "up",
            ]))
            .await?;
    }
    sync_addresses(
        runner,
        &leg.inner_namespace,
        &leg.inner_device,
        &BTreeSet::new(),
        &leg.inner_addresses,
    )
    .await?;
    Ok(true)
}
