//! L7 policies and rules: positions, Octavia's defaults and refusals, and
//! what reaches the data plane.

mod support;

use axum::http::Method;
use oxistack_lbplane::{L7Action, L7RuleKind};
use serde_json::{Value, json};
use support::{assert_fault, cloud};

fn id(doc: &Value) -> &str {
    doc["id"].as_str().unwrap()
}

#[tokio::test]
async fn policies_keep_their_order_and_reach_the_plane() {
    let cloud = cloud();
    let lb = cloud.load_balancer("alice", "lb").await;
    let listener = cloud
        .child(
            "alice",
            "/v2/lbaas/listeners",
            "listener",
            json!({"protocol": "HTTP", "protocol_port": 80, "loadbalancer_id": lb["id"]}),
        )
        .await;
    let api = cloud
        .child("alice", "/v2/lbaas/pools", "pool", json!({"name": "api", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "loadbalancer_id": lb["id"]}))
        .await;

    let to_pool = cloud
        .child(
            "alice",
            "/v2/lbaas/l7policies",
            "l7policy",
            json!({"listener_id": id(&listener), "action": "REDIRECT_TO_POOL", "redirect_pool_id": id(&api),
                   "rules": [{"type": "PATH", "compare_type": "STARTS_WITH", "value": "/api"}]}),
        )
        .await;
    assert_eq!(to_pool["position"], 1);
    assert_eq!(to_pool["redirect_http_code"], Value::Null);
    assert_eq!(to_pool["rules"].as_array().unwrap().len(), 1);
    assert_eq!(to_pool["listener_id"], id(&listener));
    let to_url = cloud
        .child(
            "alice",
            "/v2/lbaas/l7policies",
            "l7policy",
            json!({"listener_id": id(&listener), "action": "REDIRECT_TO_URL", "redirect_url": "https://example.com/"}),
        )
        .await;
    assert_eq!(
        (
            to_url["position"].as_u64(),
            to_url["redirect_http_code"].as_u64()
        ),
        (Some(2), Some(302))
    );
    let reject = cloud
        .child(
            "alice",
            "/v2/lbaas/l7policies",
            "l7policy",
            json!({"listener_id": id(&listener), "action": "REJECT", "position": 1}),
        )
        .await;
    assert_eq!(reject["position"], 1);
    let rules = format!("/v2/lbaas/l7policies/{}/rules", id(&reject));
    let header = cloud
        .call(
            Method::POST,
            "alice",
            &rules,
            Some(json!({"rule": {"type": "HEADER", "compare_type": "EQUAL_TO", "value": "x"}})),
        )
        .await;
    assert_fault(
        &header,
        400,
        "Error parsing L7Rule: Invalid L7 Rule: L7 rule type requires a key",
    );
    cloud.settle().await;
    let rule = cloud
        .child("alice", &rules, "rule", json!({"type": "HEADER", "key": "X-Block", "compare_type": "EQUAL_TO", "value": "yes", "invert": false}))
        .await;
    assert_eq!(
        cloud.get("alice", &rules).await.body["rules"][0]["id"],
        id(&rule)
    );

    let shown = cloud
        .get("alice", &format!("/v2/lbaas/l7policies/{}", id(&to_pool)))
        .await
        .body["l7policy"]
        .clone();
    assert_eq!(shown["position"], 2);
    let listener_doc = cloud
        .get("alice", &format!("/v2/lbaas/listeners/{}", id(&listener)))
        .await
        .body["listener"]
        .clone();
    assert_eq!(
        listener_doc["l7policies"],
        json!([{"id": id(&reject)}, {"id": id(&to_pool)}, {"id": id(&to_url)}])
    );

    let applied = cloud.plane.applied().unwrap();
    let policies = &applied.load_balancers[0].listeners[0].l7_policies;
    assert_eq!(policies.len(), 3);
    assert_eq!(policies[0].action, L7Action::Reject);
    assert_eq!(
        policies[0].rules[0].kind,
        L7RuleKind::Header {
            key: "X-Block".into()
        }
    );
    assert_eq!(
        policies[1].action,
        L7Action::RedirectToPool {
            pool_id: id(&api).into()
        }
    );
    assert_eq!(
        policies[2].action,
        L7Action::RedirectToUrl {
            url: "https://example.com/".into(),
            status: 302
        }
    );

    let missing_url = cloud
        .call(
            Method::POST,
            "alice",
            "/v2/lbaas/l7policies",
            Some(json!({"l7policy": {"listener_id": id(&listener), "action": "REDIRECT_TO_URL"}})),
        )
        .await;
    assert_fault(
        &missing_url,
        400,
        "Invalid L7 Policy arguments: redirect_url must not be None",
    );

    let deleted = cloud
        .call(
            Method::DELETE,
            "alice",
            &format!("/v2/lbaas/listeners/{}", id(&listener)),
            None,
        )
        .await;
    assert_eq!(deleted.status, 204);
    cloud.settle().await;
    assert_eq!(
        cloud.get("alice", "/v2/lbaas/l7policies").await.body["l7policies"],
        json!([])
    );
    assert_eq!(cloud.get("alice", &rules).await.status, 404);
}

#[tokio::test]
async fn tcp_listeners_take_no_policies() {
    let cloud = cloud();
    let lb = cloud.load_balancer("alice", "lb").await;
    let listener = cloud
        .child(
            "alice",
            "/v2/lbaas/listeners",
            "listener",
            json!({"protocol": "TCP", "protocol_port": 22, "loadbalancer_id": lb["id"]}),
        )
        .await;
    let reply = cloud
        .call(
            Method::POST,
            "alice",
            "/v2/lbaas/l7policies",
            Some(json!({"l7policy": {"listener_id": id(&listener), "action": "REJECT"}})),
        )
        .await;
    assert_fault(
        &reply,
        400,
        "Validation failure: L7 policies are not supported on TCP protocol listeners.",
    );
}
