//! A router: its namespace with forwarding on, its veth legs (`qr-` on
//! internal subnets, `qg-` on the external network, floating IPs as /32s
//! on `qg-`), its routes and its NAT table.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use oxistack_netplane::DataPlaneError;

use crate::command::{Cmd, Runner};
use crate::links::{self, ensure_veth_leg};
use crate::nat;
use crate::nftables::{self, Script};
use crate::observe::{self, Links, StaticRoute};
use crate::plan::RouterPlan;

const FORWARDING: &[(&str, &str)] = &[
    ("/proc/sys/net/ipv4/ip_forward", "1"),
    ("/proc/sys/net/ipv6/conf/all/forwarding", "1"),
];

/// Brings router `plan` to life or in line; `fabric` is the fabric
/// namespace's devices as observed at the start of the apply.
pub(crate) async fn reconcile(
    runner: &Runner,
    fabric_namespace: &str,
    fabric: &Links,
    plan: &RouterPlan,
) -> Result<(), DataPlaneError> {
    let namespace = plan.namespace.as_str();
    crate::namespace::ensure(runner, namespace).await?;
    let inside = observe::links(runner, namespace).await?;
    crate::namespace::ensure_loopback(runner, namespace, &inside).await?;
    crate::namespace::ensure_sysctls(runner, namespace, FORWARDING).await?;

    links::remove_unplanned_legs(runner, namespace, &inside, &["qr-", "qg-"], &plan.legs).await?;
    for leg in &plan.legs {
        ensure_veth_leg(runner, fabric_namespace, fabric, &inside, leg).await?;
    }
    reconcile_routes(runner, namespace, &plan.routes).await?;
    reconcile_nat(runner, namespace, plan).await
}

/// Makes the `proto static` routes of `namespace` exactly `routes`.
pub(crate) async fn reconcile_routes(
    runner: &Runner,
    namespace: &str,
    routes: &BTreeSet<StaticRoute>,
) -> Result<(), DataPlaneError> {
    let current = observe::static_routes(runner, namespace).await?;
    let route_cmd = |verb: &str, route: &StaticRoute| {
        Cmd::ip(namespace)
            .args(["route", verb])
            .arg(route.destination)
            .arg("via")
            .arg(route.via)
            .args(["proto", "static"])
    };
    for stale in current.difference(routes) {
        runner.change(route_cmd("del", stale)).await?;
    }
    for missing in routes.difference(&current) {
        runner.change(route_cmd("replace", missing)).await?;
    }
    Ok(())
}

/// Loads the router's NAT table when it differs from the loaded one, then
/// forgets the connections of floating IPs that were dropped or moved, so
/// a disassociation cuts them at once instead of when they time out.
async fn reconcile_nat(
    runner: &Runner,
    namespace: &str,
    plan: &RouterPlan,
) -> Result<(), DataPlaneError> {
    let script = Script::new(nat::render(plan.nat.as_ref()));
    if nftables::is_loaded(runner, namespace, &script).await? {
        return Ok(());
    }
    let previous = nat::loaded_floating(runner, namespace).await?;
    nftables::load(runner, namespace, &script).await?;
    let wanted = plan.nat.as_ref().map(|n| &n.floating);
    for (floating, fixed) in &previous {
        if wanted.and_then(|w| w.get(floating)) != Some(fixed) {
            forget_connections(runner, namespace, *floating).await?;
        }
    }
    Ok(())
}

/// Deletes the conntrack entries of `floating`: connections to it (DNAT)
/// and from its instance out through it (SNAT, whose replies go to it).
async fn forget_connections(
    runner: &Runner,
    namespace: &str,
    floating: Ipv4Addr,
) -> Result<(), DataPlaneError> {
    for direction in ["--orig-dst", "--reply-dst"] {
        // Exit status 1 means no entry matched.
        runner
            .change_accepting(
                Cmd::conntrack(namespace)
                    .args(["-D", "-f", "ipv4", direction])
                    .arg(floating),
                &[0, 1],
            )
            .await?;
    }
    Ok(())
}
