//! What happens when the host cannot follow: failed passes are retried,
//! and after enough of them the pending objects are `ERROR`, which a
//! client may delete.

mod support;

use axum::http::Method;
use serde_json::json;
use support::{SUBNET, cloud};

#[tokio::test]
async fn failing_passes_end_in_error_and_an_error_can_be_deleted() {
    let cloud = cloud();
    *cloud.networking.failing.lock().unwrap() = true;
    let reply = cloud
        .call(
            Method::POST,
            "alice",
            "/v2/lbaas/loadbalancers",
            Some(json!({"loadbalancer": {"vip_subnet_id": SUBNET}})),
        )
        .await;
    let id = reply.body["loadbalancer"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/v2/lbaas/loadbalancers/{id}");
    let mut status = String::new();
    for _ in 0..10 {
        assert!(cloud.service.reconcile_now().await.is_err());
        status = cloud.get("alice", &path).await.body["loadbalancer"]["provisioning_status"]
            .as_str()
            .unwrap()
            .to_owned();
        if status == "ERROR" {
            break;
        }
    }
    assert_eq!(status, "ERROR");
    *cloud.networking.failing.lock().unwrap() = false;
    let deleted = cloud.call(Method::DELETE, "alice", &path, None).await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    cloud.settle().await;
    assert_eq!(cloud.get("alice", &path).await.status, 404);
    assert_eq!(*cloud.networking.released.lock().unwrap(), [id]);
}

#[tokio::test]
async fn quotas_are_unlimited_until_set_and_then_enforced() {
    let cloud = cloud();
    let path = "/v2/lbaas/quotas/project-a";
    let shown = cloud.get("alice", path).await;
    assert_eq!(shown.body["quota"]["load_balancer"], -1);
    let refused = cloud
        .call(
            Method::PUT,
            "alice",
            path,
            Some(json!({"quota": {"load_balancer": 1}})),
        )
        .await;
    support::assert_fault(
        &refused,
        403,
        "Policy does not allow this request to be performed.",
    );
    let set = cloud
        .call(
            Method::PUT,
            "admin",
            path,
            Some(json!({"quota": {"load_balancer": 1, "listener": 5}})),
        )
        .await;
    assert_eq!(set.status, 202, "{}", set.body);
    assert_eq!(set.body["quota"]["load_balancer"], 1);
    assert_eq!(set.body["quota"]["pool"], -1);
    cloud.load_balancer("alice", "first").await;
    let second = cloud
        .call(
            Method::POST,
            "alice",
            "/v2/lbaas/loadbalancers",
            Some(json!({"loadbalancer": {"vip_subnet_id": SUBNET}})),
        )
        .await;
    support::assert_fault(
        &second,
        403,
        "Quota has been met for resources: Load Balancer",
    );
    // The refused create gave its VIP back.
    assert_eq!(cloud.networking.released.lock().unwrap().len(), 1);
    let listed = cloud.get("admin", "/v2/lbaas/quotas").await.body;
    assert_eq!(listed["quotas"][0]["project_id"], "project-a");
    let reset = cloud.call(Method::DELETE, "admin", path, None).await;
    assert_eq!(reset.status, 202);
    assert_eq!(
        cloud.get("alice", path).await.body["quota"]["load_balancer"],
        -1
    );
}

/// A proxy that dies is started again from the desired state without
/// any request: the health poll sees it stopped and asks for a pass.
#[tokio::test]
async fn a_dead_proxy_is_started_again_by_the_health_poll() {
    let cloud = cloud();
    let reply = cloud
        .call(
            Method::POST,
            "alice",
            "/v2/lbaas/loadbalancers",
            Some(json!({"loadbalancer": {"vip_subnet_id": SUBNET}})),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    cloud.settle().await;
    // Past the passes the create asked for.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let before = cloud.plane.applications();
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(cloud.plane.applications(), before, "passes without a cause");
    cloud.plane.crash();
    for _ in 0..50 {
        if cloud.plane.applications() > before {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the dead proxy was not started again");
}
