//! A load balancer's namespace: its ports' veth legs (`o-`, the VIP and
//! one per member subnet) plugged into the networks' bridges as an
//! instance's tap is, so the fabric's anti-spoofing and security groups
//! treat them alike; the VIP subnet's gateway as the default route. The
//! load-balancer proxy serves inside it; nothing here forwards.

use oxistack_netplane::DataPlaneError;

use crate::command::Runner;
use crate::links::{self, ensure_veth_leg};
use crate::naming;
use crate::observe::{self, Links};
use crate::plan::LoadBalancerPlan;
use crate::router::reconcile_routes;

/// Each address is answered for only on the leg holding it: with legs on
/// two subnets of one bridge, a leg answering ARP for the other's address
/// would send from a MAC the anti-spoofing rules do not allow for it.
const ARP: &[(&str, &str)] = &[
    ("/proc/sys/net/ipv4/conf/all/arp_ignore", "1"),
    ("/proc/sys/net/ipv4/conf/all/arp_announce", "2"),
];

/// Brings load balancer `plan`'s namespace to life or in line; `fabric`
/// is the fabric namespace's devices as observed at the start of the
/// apply.
pub(crate) async fn reconcile(
    runner: &Runner,
    fabric_namespace: &str,
    fabric: &Links,
    plan: &LoadBalancerPlan,
) -> Result<(), DataPlaneError> {
    let namespace = plan.namespace.as_str();
    crate::namespace::ensure(runner, namespace).await?;
    let inside = observe::links(runner, namespace).await?;
    crate::namespace::ensure_loopback(runner, namespace, &inside).await?;
    crate::namespace::ensure_sysctls(runner, namespace, ARP).await?;
    links::remove_unplanned_legs(
        runner,
        namespace,
        &inside,
        &[naming::LOAD_BALANCER_DEVICE_PREFIX],
        &plan.legs,
    )
    .await?;
    for leg in &plan.legs {
        ensure_veth_leg(runner, fabric_namespace, fabric, &inside, leg).await?;
    }
    reconcile_routes(runner, namespace, &plan.routes).await
}
