//! What Octavia's clients send that Octavia accepts (python-octaviaclient's
//! `set`/`unset`, gophercloud and Terraform), and what Octavia refuses,
//! answered as Octavia does.

mod support;

use axum::http::Method;
use serde_json::{Value, json};
use support::{Cloud, MEMBER_SUBNET, Reply, UNKNOWN, assert_fault, cloud};

fn id(doc: &Value) -> &str {
    doc["id"].as_str().unwrap()
}

/// `PUT path {key: body}`, then a settle so the next change is allowed.
async fn put(cloud: &Cloud, path: &str, key: &str, body: Value) -> Reply {
    let reply = cloud
        .call(Method::PUT, "alice", path, Some(json!({ key: body })))
        .await;
    cloud.settle().await;
    reply
}

async fn post(cloud: &Cloud, path: &str, key: &str, body: Value) -> Reply {
    let reply = cloud
        .call(Method::POST, "alice", path, Some(json!({ key: body })))
        .await;
    cloud.settle().await;
    reply
}

async fn lb_status(cloud: &Cloud, lb: &Value) -> Value {
    cloud
        .get("alice", &format!("/v2/lbaas/loadbalancers/{}", id(lb)))
        .await
        .body["loadbalancer"]["provisioning_status"]
        .clone()
}

/// A load balancer with an HTTP pool on it.
async fn http_pool(cloud: &Cloud, extra: Value) -> (Value, Value) {
    let lb = cloud.load_balancer("alice", "lb").await;
    let mut body =
        json!({"protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "loadbalancer_id": id(&lb)});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let pool = cloud.child("alice", "/v2/lbaas/pools", "pool", body).await;
    (lb, pool)
}

#[tokio::test]
async fn quotas_take_and_render_both_spellings_and_delete_is_a_202() {
    let cloud = cloud();
    let path = "/v2/lbaas/quotas/project-a";
    let set = cloud
        .call(
            Method::PUT,
            "admin",
            path,
            Some(json!({"quota": {"loadbalancer": 5, "healthmonitor": "7", "listener": 3}})),
        )
        .await;
    assert_eq!(set.status, 202, "{}", set.body);
    let expected = json!({
        "project_id": "project-a", "load_balancer": 5, "loadbalancer": 5,
        "health_monitor": 7, "healthmonitor": 7, "listener": 3, "pool": -1,
        "member": -1, "l7policy": -1, "l7rule": -1,
    });
    assert_eq!(set.body["quota"], expected);
    assert_eq!(cloud.get("alice", path).await.body["quota"], expected);
    let listed = cloud.get("admin", "/v2/lbaas/quotas").await.body;
    assert_eq!(listed["quotas"], json!([expected]));
    let defaults = cloud.get("alice", "/v2/lbaas/quotas/defaults").await.body;
    assert_eq!(defaults["quota"]["loadbalancer"], -1);
    assert_eq!(defaults["quota"]["healthmonitor"], -1);
    // The spelling a client sends is the one Octavia enforces.
    cloud.load_balancer("alice", "one").await;
    let set = cloud
        .call(
            Method::PUT,
            "admin",
            path,
            Some(json!({"quota": {"loadbalancer": 1}})),
        )
        .await;
    assert_eq!(set.status, 202, "{}", set.body);
    let over = cloud
        .call(
            Method::POST,
            "alice",
            "/v2/lbaas/loadbalancers",
            Some(json!({"loadbalancer": {"vip_subnet_id": support::SUBNET}})),
        )
        .await;
    assert_fault(
        &over,
        403,
        "Quota has been met for resources: Load Balancer",
    );
    let unknown = cloud
        .call(
            Method::PUT,
            "admin",
            path,
            Some(json!({"quota": {"loadbalancers": 1}})),
        )
        .await;
    assert_fault(
        &unknown,
        400,
        "Unknown attribute for argument quota: loadbalancers",
    );

    let reset = cloud.call(Method::DELETE, "admin", path, None).await;
    assert_eq!(reset.status, 202, "{}", reset.body);
    assert_eq!(
        cloud.get("alice", path).await.body["quota"]["loadbalancer"],
        -1
    );
}

#[tokio::test]
async fn numbers_and_booleans_may_come_as_strings_as_wsme_reads_them() {
    let cloud = cloud();
    let lb = cloud.load_balancer("alice", "lb").await;
    // python-octaviaclient sends connection_limit as a string.
    let listener = post(
        &cloud,
        "/v2/lbaas/listeners",
        "listener",
        json!({"protocol": "HTTP", "protocol_port": "80", "connection_limit": "100",
               "admin_state_up": "true", "loadbalancer_id": id(&lb)}),
    )
    .await;
    assert_eq!(listener.status, 201, "{}", listener.body);
    let listener = &listener.body["listener"];
    assert_eq!(
        (&listener["connection_limit"], &listener["protocol_port"]),
        (&json!(100), &json!(80))
    );
    let path = format!("/v2/lbaas/listeners/{}", id(listener));
    let set = put(
        &cloud,
        &path,
        "listener",
        json!({"connection_limit": "50", "admin_state_up": "0"}),
    )
    .await;
    assert_eq!(set.status, 200, "{}", set.body);
    assert_eq!(set.body["listener"]["connection_limit"], 50);
    assert_eq!(set.body["listener"]["admin_state_up"], false);
    // --session-persistence type=SOURCE_IP,persistence_timeout=60 on UDP.
    let pool = post(
        &cloud,
        "/v2/lbaas/pools",
        "pool",
        json!({"protocol": "UDP", "lb_algorithm": "ROUND_ROBIN", "loadbalancer_id": id(&lb),
               "session_persistence": {"type": "SOURCE_IP", "persistence_timeout": "60"}}),
    )
    .await;
    assert_eq!(pool.status, 201, "{}", pool.body);
    assert_eq!(
        pool.body["pool"]["session_persistence"]["persistence_timeout"],
        60
    );
    let members = format!("/v2/lbaas/pools/{}/members", id(&pool.body["pool"]));
    let member = post(
        &cloud,
        &members,
        "member",
        json!({"address": "10.0.1.5", "protocol_port": "53", "weight": "3", "backup": "yes"}),
    )
    .await;
    assert_eq!(member.status, 201, "{}", member.body);
    assert_eq!(member.body["member"]["weight"], 3);
    assert_eq!(member.body["member"]["backup"], true);
    for bad in [
        json!({"connection_limit": "many"}),
        json!({"admin_state_up": "maybe"}),
    ] {
        let reply = put(&cloud, &path, "listener", bad.clone()).await;
        assert_eq!(reply.status, 400, "{bad}: {}", reply.body);
    }
}

#[tokio::test]
async fn a_monitor_takes_domain_and_version_and_unset_restores_defaults() {
    let cloud = cloud();
    let (_, pool) = http_pool(&cloud, json!({})).await;
    // Octavia has no rule that the delay covers the timeout.
    let monitor = cloud
        .child(
            "alice",
            "/v2/lbaas/healthmonitors",
            "healthmonitor",
            json!({"type": "HTTP", "delay": 1, "timeout": 5, "max_retries": 2, "pool_id": id(&pool),
                   "http_method": "HEAD", "url_path": "/health", "expected_codes": "204",
                   "max_retries_down": 5}),
        )
        .await;
    let path = format!("/v2/lbaas/healthmonitors/{}", id(&monitor));
    let longer = put(&cloud, &path, "healthmonitor", json!({"timeout": 10})).await;
    assert_eq!(longer.status, 200, "{}", longer.body);

    let set = put(
        &cloud,
        &path,
        "healthmonitor",
        json!({"http_version": 1.1, "domain_name": "app.example.com"}),
    )
    .await;
    assert_eq!(set.status, 200, "{}", set.body);
    assert_eq!(set.body["healthmonitor"]["http_version"], 1.1);
    assert_eq!(set.body["healthmonitor"]["domain_name"], "app.example.com");
    assert_fault(
        &put(&cloud, &path, "healthmonitor", json!({"http_version": 1.0})).await,
        400,
        "http_version 1.0 is not a valid option for health monitors HTTP 1.1 domain name health check",
    );
    let bad_domain = put(
        &cloud,
        &path,
        "healthmonitor",
        json!({"domain_name": "-bad-.example"}),
    )
    .await;
    assert_eq!(bad_domain.status, 400, "{}", bad_domain.body);

    // `openstack loadbalancer healthmonitor unset --all`.
    let unset = put(
        &cloud,
        &path,
        "healthmonitor",
        json!({"name": null, "http_method": null, "url_path": null, "expected_codes": null,
               "max_retries_down": null, "domain_name": null, "http_version": null}),
    )
    .await;
    assert_eq!(unset.status, 200, "{}", unset.body);
    let expected = json!({"http_method": "GET", "url_path": "/", "expected_codes": "200",
                          "max_retries_down": 3, "domain_name": null, "http_version": null});
    for (key, value) in expected.as_object().unwrap() {
        assert_eq!(&unset.body["healthmonitor"][key], value, "{key}");
    }
    assert_fault(
        &put(
            &cloud,
            &path,
            "healthmonitor",
            json!({"domain_name": "app.example.com"}),
        )
        .await,
        400,
        "Validation failure: 'http_version' must be specified when 'domain_name' is provided.",
    );
}

#[tokio::test]
async fn member_unset_resets_weight_and_backup() {
    let cloud = cloud();
    let (_, pool) = http_pool(&cloud, json!({})).await;
    let members = format!("/v2/lbaas/pools/{}/members", id(&pool));
    let member = cloud
        .child(
            "alice",
            &members,
            "member",
            json!({"address": "10.0.1.5", "protocol_port": 80, "weight": 7, "backup": true}),
        )
        .await;
    let path = format!("{members}/{}", id(&member));
    let unset = put(
        &cloud,
        &path,
        "member",
        json!({"weight": null, "backup": null}),
    )
    .await;
    assert_eq!(unset.status, 200, "{}", unset.body);
    assert_eq!(unset.body["member"]["weight"], 1);
    assert_eq!(unset.body["member"]["backup"], false);
}

#[tokio::test]
async fn tls_and_hsts_fields_may_be_cleared_but_no_certificate_is_retrievable() {
    let cloud = cloud();
    let (lb, pool) = http_pool(&cloud, json!({})).await;
    let listener = cloud
        .child(
            "alice",
            "/v2/lbaas/listeners",
            "listener",
            json!({"protocol": "HTTP", "protocol_port": 80, "loadbalancer_id": id(&lb)}),
        )
        .await;
    let path = format!("/v2/lbaas/listeners/{}", id(&listener));
    // `listener unset --client-authentication --tls-versions ... --hsts-*`.
    let unset = put(
        &cloud,
        &path,
        "listener",
        json!({"client_authentication": "NONE", "client_ca_tls_container_ref": null,
               "client_crl_container_ref": null, "tls_ciphers": null, "tls_versions": null,
               "alpn_protocols": null, "hsts_max_age": null, "hsts_include_subdomains": false,
               "hsts_preload": null}),
    )
    .await;
    assert_eq!(unset.status, 200, "{}", unset.body);
    assert_eq!(unset.body["listener"]["client_authentication"], "NONE");
    let reference = "https://barbican.example/v1/containers/ca";
    assert_fault(
        &put(
            &cloud,
            &path,
            "listener",
            json!({"client_ca_tls_container_ref": reference}),
        )
        .await,
        400,
        &format!("Could not retrieve certificate: ['{reference}']"),
    );
    assert_fault(
        &put(
            &cloud,
            &path,
            "listener",
            json!({"client_authentication": "MANDATORY"}),
        )
        .await,
        400,
        "Validation failure: Client authentication setting MANDATORY requires a client CA container reference.",
    );

    let pool_path = format!("/v2/lbaas/pools/{}", id(&pool));
    // `pool unset --tls-container-ref --ca-tls-container-ref ...`.
    let unset = put(
        &cloud,
        &pool_path,
        "pool",
        json!({"tls_container_ref": null, "ca_tls_container_ref": "", "crl_container_ref": null,
               "tls_enabled": false, "tls_ciphers": null, "tls_versions": null,
               "alpn_protocols": null}),
    )
    .await;
    assert_eq!(unset.status, 200, "{}", unset.body);
    assert_eq!(unset.body["pool"]["tls_enabled"], false);
    assert_fault(
        &put(
            &cloud,
            &pool_path,
            "pool",
            json!({"tls_container_ref": reference}),
        )
        .await,
        400,
        &format!("Could not retrieve certificate: ['{reference}']"),
    );
    assert_eq!(lb_status(&cloud, &lb).await, "ACTIVE");
}

#[tokio::test]
async fn a_session_persistence_change_may_leave_out_its_type() {
    let cloud = cloud();
    let (_, pool) = http_pool(
        &cloud,
        json!({"session_persistence": {"type": "APP_COOKIE", "cookie_name": "a"}}),
    )
    .await;
    let path = format!("/v2/lbaas/pools/{}", id(&pool));
    let set = put(
        &cloud,
        &path,
        "pool",
        json!({"session_persistence": {"cookie_name": "b"}}),
    )
    .await;
    assert_eq!(set.status, 200, "{}", set.body);
    assert_eq!(
        set.body["pool"]["session_persistence"],
        json!({"type": "APP_COOKIE", "cookie_name": "b", "persistence_timeout": null, "persistence_granularity": null})
    );
}

#[tokio::test]
async fn udp_only_persistence_and_hsts_without_tls_are_refused() {
    let cloud = cloud();
    let (lb, pool) = http_pool(&cloud, json!({})).await;
    let created = post(
        &cloud,
        "/v2/lbaas/pools",
        "pool",
        json!({"protocol": "TCP", "lb_algorithm": "ROUND_ROBIN", "loadbalancer_id": id(&lb),
               "session_persistence": {"type": "SOURCE_IP", "persistence_timeout": 60}}),
    )
    .await;
    assert_fault(
        &created,
        400,
        "Validation failure: persistence_timeout and persistence_granularity is only for UDP and SCTP protocol pools.",
    );
    let changed = put(
        &cloud,
        &format!("/v2/lbaas/pools/{}", id(&pool)),
        "pool",
        json!({"session_persistence": {"type": "SOURCE_IP", "persistence_granularity": "255.255.255.0"}}),
    )
    .await;
    assert_fault(
        &changed,
        400,
        "Validation failure: persistence_timeout and persistence_granularity is only for UDP protocol pools.",
    );

    let hsts = post(
        &cloud,
        "/v2/lbaas/listeners",
        "listener",
        json!({"protocol": "HTTP", "protocol_port": 80, "loadbalancer_id": id(&lb),
               "hsts_max_age": 3600}),
    )
    .await;
    let not_tls = "Validation failure: The HSTS feature can only be used for listeners using the TERMINATED_HTTPS protocol.";
    assert_fault(&hsts, 400, not_tls);
    let preload = post(
        &cloud,
        "/v2/lbaas/listeners",
        "listener",
        json!({"protocol": "HTTP", "protocol_port": 80, "loadbalancer_id": id(&lb),
               "hsts_preload": true}),
    )
    .await;
    assert_fault(
        &preload,
        400,
        "Validation failure: HSTS configuration options hsts_include_subdomains and hsts_preload only make sense if hsts_max_age is set as well.",
    );
    let listener = cloud
        .child(
            "alice",
            "/v2/lbaas/listeners",
            "listener",
            json!({"protocol": "HTTP", "protocol_port": 80, "loadbalancer_id": id(&lb)}),
        )
        .await;
    assert_eq!(listener["hsts_max_age"], Value::Null);
    let path = format!("/v2/lbaas/listeners/{}", id(&listener));
    assert_fault(
        &put(&cloud, &path, "listener", json!({"hsts_max_age": 60})).await,
        400,
        not_tls,
    );
    assert_fault(
        &put(
            &cloud,
            &path,
            "listener",
            json!({"hsts_include_subdomains": true}),
        )
        .await,
        400,
        "Validation failure: Cannot enable hsts_include_subdomains or hsts_preload if hsts_max_age was not set as well.",
    );
}

#[tokio::test]
async fn a_batch_update_changes_only_what_is_sent_and_a_no_op_changes_nothing() {
    let cloud = cloud();
    let (lb, pool) = http_pool(&cloud, json!({})).await;
    let members = format!("/v2/lbaas/pools/{}/members", id(&pool));

    let pool_path = format!("/v2/lbaas/pools/{}", id(&pool));
    let before = cloud.get("alice", &pool_path).await.body["pool"].clone();
    // Nothing in the pool, nothing asked: Octavia returns early.
    let noop = cloud
        .call(Method::PUT, "alice", &members, Some(json!({"members": []})))
        .await;
    assert_eq!(noop.status, 202, "{}", noop.body);
    assert_eq!(lb_status(&cloud, &lb).await, "ACTIVE");
    let after = cloud.get("alice", &pool_path).await.body["pool"].clone();
    assert_eq!(after["provisioning_status"], "ACTIVE");
    assert_eq!(after["updated_at"], before["updated_at"]);

    let member = cloud
        .child(
            "alice",
            &members,
            "member",
            json!({"name": "web", "address": "10.0.1.5", "protocol_port": 80, "tags": ["a"]}),
        )
        .await;
    let replaced = cloud
        .call(
            Method::PUT,
            "alice",
            &members,
            Some(json!({"members": [{"address": "10.0.1.5", "protocol_port": 80, "weight": 4}]})),
        )
        .await;
    assert_eq!(replaced.status, 202, "{}", replaced.body);
    cloud.settle().await;
    let shown = cloud
        .get("alice", &format!("{members}/{}", id(&member)))
        .await
        .body["member"]
        .clone();
    assert_eq!(shown["name"], "web");
    assert_eq!(shown["tags"], json!(["a"]));
    assert_eq!(shown["weight"], 4);
}

#[tokio::test]
async fn an_unknown_member_subnet_is_not_found() {
    let cloud = cloud();
    let (_, pool) = http_pool(&cloud, json!({})).await;
    let members = format!("/v2/lbaas/pools/{}/members", id(&pool));
    let message = format!("Subnet {UNKNOWN} not found.");
    let created = post(
        &cloud,
        &members,
        "member",
        json!({"address": "10.0.1.5", "protocol_port": 80, "subnet_id": UNKNOWN}),
    )
    .await;
    assert_fault(&created, 404, &message);
    let batch = cloud
        .call(
            Method::PUT,
            "alice",
            &members,
            Some(json!({"members": [{"address": "10.0.1.5", "protocol_port": 80, "subnet_id": UNKNOWN}]})),
        )
        .await;
    assert_fault(&batch, 404, &message);
    let known = post(
        &cloud,
        &members,
        "member",
        json!({"address": "10.0.1.5", "protocol_port": 80, "subnet_id": MEMBER_SUBNET}),
    )
    .await;
    assert_eq!(known.status, 201, "{}", known.body);
}

#[tokio::test]
async fn l7rule_unset_clears_the_key_and_the_invert() {
    let cloud = cloud();
    let lb = cloud.load_balancer("alice", "lb").await;
    let listener = cloud
        .child(
            "alice",
            "/v2/lbaas/listeners",
            "listener",
            json!({"protocol": "HTTP", "protocol_port": 80, "loadbalancer_id": id(&lb)}),
        )
        .await;
    let policy = cloud
        .child(
            "alice",
            "/v2/lbaas/l7policies",
            "l7policy",
            json!({"listener_id": id(&listener), "action": "REJECT"}),
        )
        .await;
    let rules = format!("/v2/lbaas/l7policies/{}/rules", id(&policy));
    let rule = cloud
        .child(
            "alice",
            &rules,
            "rule",
            json!({"type": "HEADER", "compare_type": "EQUAL_TO", "key": "X-Env",
                   "value": "test", "invert": true}),
        )
        .await;
    let path = format!("{rules}/{}", id(&rule));
    let unset = put(
        &cloud,
        &path,
        "rule",
        json!({"type": "PATH", "key": null, "invert": null}),
    )
    .await;
    assert_eq!(unset.status, 200, "{}", unset.body);
    assert_eq!(unset.body["rule"]["key"], Value::Null);
    assert_eq!(unset.body["rule"]["invert"], false);
    // A header rule needs its key, so clearing it is refused there.
    let header = put(&cloud, &path, "rule", json!({"type": "HEADER"})).await;
    assert_fault(
        &header,
        400,
        "Error parsing L7Rule: Invalid L7 Rule: L7 rule type requires a key",
    );
}

#[tokio::test]
async fn vip_security_groups_and_sriov_members_are_unsupported_options() {
    let cloud = cloud();
    let group = "0b3e4bcb-3d5a-4c3b-9c4e-6b1a3c9d0a01";
    let refused = cloud
        .call(
            Method::POST,
            "alice",
            "/v2/lbaas/loadbalancers",
            Some(
                json!({"loadbalancer": {"vip_subnet_id": support::SUBNET, "vip_sg_ids": [group]}}),
            ),
        )
        .await;
    let unsupported =
        |what: &str| format!("Provider 'oxistack' does not support a requested option: {what}");
    assert_fault(&refused, 400, &unsupported("vip_sg_ids"));
    let lb = cloud
        .create_load_balancer(
            "alice",
            json!({"loadbalancer": {"vip_subnet_id": support::SUBNET, "vip_sg_ids": []}}),
        )
        .await;
    let path = format!("/v2/lbaas/loadbalancers/{}", id(&lb));
    let cleared = put(&cloud, &path, "loadbalancer", json!({"vip_sg_ids": null})).await;
    assert_eq!(cleared.status, 200, "{}", cleared.body);
    assert_fault(
        &put(
            &cloud,
            &path,
            "loadbalancer",
            json!({"vip_sg_ids": [group]}),
        )
        .await,
        400,
        &unsupported("vip_sg_ids"),
    );

    let pool = cloud
        .child(
            "alice",
            "/v2/lbaas/pools",
            "pool",
            json!({"protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "loadbalancer_id": id(&lb)}),
        )
        .await;
    let members = format!("/v2/lbaas/pools/{}/members", id(&pool));
    let sriov = post(
        &cloud,
        &members,
        "member",
        json!({"address": "10.0.1.5", "protocol_port": 80, "request_sriov": true}),
    )
    .await;
    assert_fault(&sriov, 400, &unsupported("request_sriov"));
    let plain = post(
        &cloud,
        &members,
        "member",
        json!({"address": "10.0.1.5", "protocol_port": 80, "request_sriov": false}),
    )
    .await;
    assert_eq!(plain.status, 201, "{}", plain.body);
}
