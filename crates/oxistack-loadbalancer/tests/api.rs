//! The load-balancer API driven in-process through its router, as
//! python-octaviaclient and Kubernetes' cloud provider drive Octavia.

mod support;

use axum::http::Method;
use serde_json::{Value, json};
use support::{MEMBER_SUBNET, NETWORK, SUBNET, UNKNOWN, assert_fault, cloud};

/// Every key of `expected` is in `actual` with the same value.
fn assert_contains(actual: &Value, expected: &Value) {
    for (key, value) in expected.as_object().unwrap() {
        assert_eq!(&actual[key], value, "{key} in {actual}");
    }
}

/// A document without what changes as the data plane catches up.
fn without_statuses(doc: &Value) -> Value {
    let mut doc = doc.clone();
    for key in ["provisioning_status", "operating_status", "updated_at"] {
        doc.as_object_mut().unwrap().remove(key);
    }
    doc
}

#[tokio::test]
async fn the_seed_flow_provisions_a_load_balancer_step_by_step() {
    let cloud = cloud();
    let created = cloud
        .call(
            Method::POST,
            "alice",
            "/v2/lbaas/loadbalancers",
            Some(json!({"loadbalancer": {"name": "lb1", "vip_subnet_id": SUBNET}})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let lb = &created.body["loadbalancer"];
    assert_contains(
        lb,
        &json!({
            "name": "lb1", "description": "", "provisioning_status": "PENDING_CREATE",
            "operating_status": "OFFLINE", "admin_state_up": true, "project_id": "project-a",
            "tenant_id": "project-a", "vip_subnet_id": SUBNET, "vip_network_id": NETWORK,
            "vip_qos_policy_id": null, "listeners": [], "pools": [], "provider": "oxistack",
            "flavor_id": null, "availability_zone": null, "tags": [], "additional_vips": [],
            "updated_at": null,
        }),
    );
    assert!(
        lb["vip_port_id"].as_str().is_some_and(|p| p.len() == 36),
        "{lb}"
    );
    assert_eq!(lb["vip_address"], "10.0.0.11");
    let id = lb["id"].as_str().unwrap().to_owned();

    cloud.settle().await;
    let path = format!("/v2/lbaas/loadbalancers/{id}");
    let shown = cloud.get("alice", &path).await.body["loadbalancer"].clone();
    assert_eq!(shown["provisioning_status"], "ACTIVE");
    assert_eq!(shown["operating_status"], "ONLINE");
    assert_eq!(without_statuses(&shown), without_statuses(lb));
    assert!(*cloud.networking.syncs.lock().unwrap() >= 1);

    let listener = cloud
        .call(
            Method::POST,
            "alice",
            "/v2/lbaas/listeners",
            Some(json!({"listener": {"name": "l1", "protocol": "HTTP", "protocol_port": 80, "loadbalancer_id": id}})),
        )
        .await;
    assert_eq!(listener.status, 201, "{}", listener.body);
    let listener = listener.body["listener"].clone();
    assert_contains(
        &listener,
        &json!({
            "provisioning_status": "PENDING_CREATE", "operating_status": "OFFLINE",
            "connection_limit": -1, "timeout_client_data": 50000,
            "timeout_member_connect": 5000, "timeout_member_data": 50000,
            "timeout_tcp_inspect": 0, "insert_headers": {}, "default_pool_id": null,
            "loadbalancers": [{"id": id}], "l7policies": [], "allowed_cidrs": null,
            "client_authentication": "NONE", "sni_container_refs": [],
        }),
    );
    assert_eq!(
        cloud.get("alice", &path).await.body["loadbalancer"]["provisioning_status"],
        "PENDING_UPDATE"
    );
    cloud.settle().await;
    let listener_id = listener["id"].as_str().unwrap();
    let pool = cloud
        .child(
            "alice",
            "/v2/lbaas/pools",
            "pool",
            json!({"name": "p1", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "listener_id": listener_id}),
        )
        .await;
    assert_eq!(pool["listeners"], json!([{"id": listener_id}]));
    assert_eq!(pool["loadbalancers"], json!([{"id": id}]));
    let pool_id = pool["id"].as_str().unwrap();
    let members = format!("/v2/lbaas/pools/{pool_id}/members");
    for (name, address) in [("m1", "10.0.1.11"), ("m2", "10.0.1.12")] {
        let member = cloud
            .child(
                "alice",
                &members,
                "member",
                json!({"name": name, "address": address, "protocol_port": 8080, "subnet_id": MEMBER_SUBNET}),
            )
            .await;
        assert_contains(
            &member,
            &json!({"weight": 1, "backup": false, "monitor_address": null, "monitor_port": null, "subnet_id": MEMBER_SUBNET}),
        );
    }
    let tree = cloud.get("alice", &format!("{path}/status")).await.body;
    let status = &tree["statuses"]["loadbalancer"];
    assert_eq!(status["provisioning_status"], "ACTIVE");
    assert_eq!(
        status["listeners"][0]["pools"][0]["members"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        status["listeners"][0]["pools"][0]["members"][0]["operating_status"],
        "NO_MONITOR"
    );

    let applied = cloud.plane.applied().unwrap();
    let served = &applied.load_balancers[0];
    assert_eq!(served.id, id);
    assert_eq!(served.listeners[0].protocol_port, 80);
    assert_eq!(
        served.listeners[0].default_pool_id.as_deref(),
        Some(pool_id)
    );
    assert_eq!(served.pools[0].members.len(), 2);
    let openings = cloud.networking.openings_of(&id);
    assert_eq!((openings[0].protocol, openings[0].port), ("tcp", 80));
    assert_eq!(
        cloud.networking.member_subnets.lock().unwrap()[&id],
        [MEMBER_SUBNET]
    );
    let stats = cloud.get("alice", &format!("{path}/stats")).await;
    assert_eq!(
        stats.body,
        json!({"stats": {"active_connections": 0, "bytes_in": 0, "bytes_out": 0, "request_errors": 0, "total_connections": 0}})
    );
}

/// The one call Kubernetes' cloud provider makes for a Service of type
/// LoadBalancer.
fn populated() -> Value {
    let tag = "kube_service_kubernetes_default_web";
    json!({"loadbalancer": {
        "name": tag,
        "description": "Kubernetes external service default/web from cluster kubernetes",
        "vip_subnet_id": SUBNET,
        "provider": "amphora",
        "tags": [tag],
        "listeners": [{
            "name": format!("listener_0_{tag}"),
            "protocol": "TCP",
            "protocol_port": 80,
            "connection_limit": -1,
            "timeout_client_data": 50000,
            "timeout_member_connect": 5000,
            "timeout_member_data": 50000,
            "timeout_tcp_inspect": 0,
            "tags": [tag],
            "allowed_cidrs": ["0.0.0.0/0"],
            "default_pool": {
                "name": format!("pool_0_{tag}"),
                "protocol": "TCP",
                "lb_algorithm": "ROUND_ROBIN",
                "tags": [tag],
                "members": [
                    {"name": "node-1", "address": "10.0.1.11", "protocol_port": 30080, "subnet_id": MEMBER_SUBNET},
                    {"name": "node-2", "address": "10.0.1.12", "protocol_port": 30080, "subnet_id": MEMBER_SUBNET},
                ],
                "healthmonitor": {
                    "name": format!("monitor_0_{tag}"),
                    "type": "TCP",
                    "delay": 5,
                    "timeout": 3,
                    "max_retries": 1,
                    "max_retries_down": 3,
                },
            },
        }],
    }})
}

#[tokio::test]
async fn a_populated_create_reads_back_as_sent() {
    let cloud = cloud();
    let reply = cloud
        .call(
            Method::POST,
            "alice",
            "/v2/lbaas/loadbalancers",
            Some(populated()),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let lb = reply.body["loadbalancer"].clone();
    let sent = &populated()["loadbalancer"];
    assert_contains(
        &lb,
        &json!({"name": sent["name"], "description": sent["description"], "tags": sent["tags"], "provider": "amphora"}),
    );
    assert_eq!(lb["listeners"].as_array().unwrap().len(), 1);
    assert_eq!(lb["pools"].as_array().unwrap().len(), 1);
    // Octavia answers a create with the whole tree ("full response").
    let full_listener = &lb["listeners"][0];
    assert_eq!(full_listener["name"], sent["listeners"][0]["name"]);
    assert_eq!(full_listener["allowed_cidrs"], json!(["0.0.0.0/0"]));
    assert!(full_listener.get("loadbalancers").is_none());
    let full_pool = &lb["pools"][0];
    assert_eq!(full_pool["members"][1]["address"], "10.0.1.12");
    assert_eq!(full_pool["healthmonitor"]["type"], "TCP");
    assert!(full_pool.get("healthmonitor_id").is_none());
    let id = lb["id"].as_str().unwrap();
    cloud.settle().await;

    let listener_id = lb["listeners"][0]["id"].as_str().unwrap();
    let listener = cloud
        .get("alice", &format!("/v2/lbaas/listeners/{listener_id}"))
        .await
        .body["listener"]
        .clone();
    let mut expected = sent["listeners"][0].clone();
    expected.as_object_mut().unwrap().remove("default_pool");
    assert_contains(&listener, &expected);
    assert_eq!(listener["provisioning_status"], "ACTIVE");
    let pool_id = lb["pools"][0]["id"].as_str().unwrap();
    assert_eq!(listener["default_pool_id"], pool_id);

    let pool = cloud
        .get("alice", &format!("/v2/lbaas/pools/{pool_id}"))
        .await
        .body["pool"]
        .clone();
    let sent_pool = &sent["listeners"][0]["default_pool"];
    assert_contains(
        &pool,
        &json!({"name": sent_pool["name"], "protocol": "TCP", "lb_algorithm": "ROUND_ROBIN", "tags": sent_pool["tags"], "session_persistence": null}),
    );
    assert_eq!(pool["listeners"], json!([{"id": listener_id}]));
    let monitor_id = pool["healthmonitor_id"].as_str().unwrap();
    let monitor = cloud
        .get("alice", &format!("/v2/lbaas/healthmonitors/{monitor_id}"))
        .await
        .body["healthmonitor"]
        .clone();
    assert_contains(&monitor, &sent_pool["healthmonitor"]);
    assert_contains(
        &monitor,
        &json!({"http_method": null, "url_path": null, "expected_codes": null, "pools": [{"id": pool_id}]}),
    );

    let members = cloud
        .get("alice", &format!("/v2/lbaas/pools/{pool_id}/members"))
        .await
        .body["members"]
        .clone();
    for (member, sent) in members
        .as_array()
        .unwrap()
        .iter()
        .zip(sent_pool["members"].as_array().unwrap())
    {
        assert_contains(member, sent);
        assert_eq!(member["provisioning_status"], "ACTIVE");
        // The fake plane reports monitored members up.
        assert_eq!(member["operating_status"], "ONLINE");
    }
    // What the provider reads and sends on its next sync.
    let listeners = cloud
        .get(
            "alice",
            &format!("/v2.0/lbaas/listeners?loadbalancer_id={id}"),
        )
        .await
        .body["listeners"]
        .clone();
    assert_eq!(listeners.as_array().unwrap().len(), 1);
    let other = cloud
        .get(
            "alice",
            &format!("/v2.0/lbaas/pools?loadbalancer_id={UNKNOWN}"),
        )
        .await;
    assert_eq!(other.body["pools"], json!([]));
    let update = json!({"listener": {"tags": sent["tags"], "connection_limit": -1,
        "default_tls_container_ref": "", "allowed_cidrs": ["0.0.0.0/0"], "timeout_client_data": 50000}});
    let path = format!("/v2.0/lbaas/listeners/{listener_id}");
    let updated = cloud.call(Method::PUT, "alice", &path, Some(update)).await;
    assert_eq!(updated.status, 200, "{}", updated.body);
    assert_eq!(
        updated.body["listener"]["provisioning_status"],
        "PENDING_UPDATE"
    );
    cloud.settle().await;
    let again = cloud
        .get("alice", &format!("/v2/lbaas/loadbalancers/{id}"))
        .await
        .body["loadbalancer"]
        .clone();
    let mut created = lb.clone();
    for key in ["listeners", "pools"] {
        let ids: Vec<Value> = lb[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| json!({"id": o["id"]}))
            .collect();
        created[key] = json!(ids);
    }
    assert_eq!(without_statuses(&again), without_statuses(&created));
    assert_eq!(again["operating_status"], "ONLINE");
}

#[tokio::test]
async fn a_pending_load_balancer_refuses_changes_and_nothing_changes() {
    let cloud = cloud();
    let reply = cloud
        .call(
            Method::POST,
            "alice",
            "/v2/lbaas/loadbalancers",
            Some(json!({"loadbalancer": {"name": "lb", "vip_subnet_id": SUBNET}})),
        )
        .await;
    let id = reply.body["loadbalancer"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/v2/lbaas/loadbalancers/{id}");
    let update = cloud
        .call(
            Method::PUT,
            "alice",
            &path,
            Some(json!({"loadbalancer": {"name": "renamed"}})),
        )
        .await;
    assert_fault(
        &update,
        409,
        &format!("Invalid state PENDING_CREATE of loadbalancer resource {id}"),
    );
    let listener = cloud
        .call(
            Method::POST,
            "alice",
            "/v2/lbaas/listeners",
            Some(json!({"listener": {"protocol": "TCP", "protocol_port": 22, "loadbalancer_id": id}})),
        )
        .await;
    assert_fault(
        &listener,
        409,
        &format!("Load Balancer {id} is immutable and cannot be updated."),
    );
    cloud.settle().await;
    let shown = cloud.get("alice", &path).await.body["loadbalancer"].clone();
    assert_eq!(
        (
            shown["name"].as_str(),
            shown["listeners"].as_array().unwrap().len()
        ),
        (Some("lb"), 0)
    );

    // Updated and still pending: a second change is refused too.
    let first = cloud
        .call(
            Method::PUT,
            "alice",
            &path,
            Some(json!({"loadbalancer": {"name": "renamed", "tags": ["t"]}})),
        )
        .await;
    assert_eq!(
        first.body["loadbalancer"]["provisioning_status"],
        "PENDING_UPDATE"
    );
    let second = cloud
        .call(
            Method::PUT,
            "alice",
            &path,
            Some(json!({"loadbalancer": {"name": "again"}})),
        )
        .await;
    assert_fault(
        &second,
        409,
        &format!("Invalid state PENDING_UPDATE of loadbalancer resource {id}"),
    );
    cloud.settle().await;
    let shown = cloud.get("alice", &path).await.body["loadbalancer"].clone();
    assert_contains(
        &shown,
        &json!({"name": "renamed", "tags": ["t"], "provisioning_status": "ACTIVE"}),
    );
}

#[tokio::test]
async fn other_projects_objects_are_not_found_and_roles_are_octavias() {
    let cloud = cloud();
    let lb = cloud.load_balancer("alice", "mine").await;
    let id = lb["id"].as_str().unwrap();
    let path = format!("/v2/lbaas/loadbalancers/{id}");
    assert_fault(
        &cloud.get("bob", &path).await,
        404,
        &format!("Load Balancer {id} not found."),
    );
    let delete = cloud.call(Method::DELETE, "bob", &path, None).await;
    assert_fault(&delete, 404, &format!("Load Balancer {id} not found."));
    let listed = cloud.get("bob", "/v2/lbaas/loadbalancers").await;
    assert_eq!(listed.body["loadbalancers"], json!([]));
    // Admins and global observers see every project's.
    for token in ["admin", "observer"] {
        let listed = cloud.get(token, "/v2/lbaas/loadbalancers").await;
        assert_eq!(
            listed.body["loadbalancers"].as_array().unwrap().len(),
            1,
            "{token}"
        );
    }
    let write = cloud
        .call(
            Method::PUT,
            "observer",
            &path,
            Some(json!({"loadbalancer": {"name": "x"}})),
        )
        .await;
    assert_fault(
        &write,
        403,
        "Policy does not allow this request to be performed.",
    );
    // A reader reads; only members (Octavia's role or the default one) write.
    assert_eq!(cloud.get("reader", &path).await.status, 200);
    let refused = cloud
        .call(
            Method::POST,
            "reader",
            "/v2/lbaas/loadbalancers",
            Some(json!({"loadbalancer": {"vip_subnet_id": SUBNET}})),
        )
        .await;
    assert_fault(
        &refused,
        403,
        "Policy does not allow this request to be performed.",
    );
    cloud.load_balancer("lbmember", "theirs").await;
    // No token: 401, in Octavia's format too.
    let anonymous = oxistack_testkit::Call::new(Method::GET, "/v2/lbaas/loadbalancers")
        .send(&cloud.router)
        .await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.json()["faultcode"], "Client");
    let text = oxistack_testkit::Call::new(Method::POST, "/v2/lbaas/loadbalancers")
        .token(Some("alice"))
        .body(Some("text/plain"), "hello")
        .send(&cloud.router)
        .await;
    assert_eq!(text.status, 415);
}

#[tokio::test]
async fn a_batch_member_update_matches_by_address_and_port() {
    let cloud = cloud();
    let lb = cloud.load_balancer("alice", "lb").await;
    let pool = cloud
        .child(
            "alice",
            "/v2/lbaas/pools",
            "pool",
            json!({"protocol": "TCP", "lb_algorithm": "LEAST_CONNECTIONS", "loadbalancer_id": lb["id"]}),
        )
        .await;
    let members = format!("/v2/lbaas/pools/{}/members", pool["id"].as_str().unwrap());
    let kept = cloud
        .child(
            "alice",
            &members,
            "member",
            json!({"address": "10.0.1.1", "protocol_port": 80}),
        )
        .await;
    let dropped = cloud
        .child(
            "alice",
            &members,
            "member",
            json!({"address": "10.0.1.2", "protocol_port": 80}),
        )
        .await;
    let reply = cloud
        .call(
            Method::PUT,
            "alice",
            &members,
            Some(json!({"members": [
                {"address": "10.0.1.1", "protocol_port": 80, "weight": 5, "name": "kept"},
                {"address": "10.0.1.3", "protocol_port": 80},
            ]})),
        )
        .await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    let pending = cloud
        .get(
            "alice",
            &format!("{members}/{}", dropped["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(
        pending.body["member"]["provisioning_status"],
        "PENDING_DELETE"
    );
    cloud.settle().await;
    let listed = cloud.get("alice", &members).await.body["members"].clone();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert_contains(
        &listed[0],
        &json!({"id": kept["id"], "weight": 5, "name": "kept", "provisioning_status": "ACTIVE"}),
    );
    assert_eq!(listed[1]["address"], "10.0.1.3");
    let dup = cloud
        .call(
            Method::PUT,
            "alice",
            &members,
            Some(json!({"members": [
                {"address": "10.0.1.1", "protocol_port": 80},
                {"address": "10.0.1.1", "protocol_port": 80},
            ]})),
        )
        .await;
    // An existing member twice is Octavia's 400; a new one twice its 409.
    assert_fault(
        &dup,
        400,
        "Validation failure: Member must be updated only once in the same request.",
    );
    let dup = cloud
        .call(
            Method::PUT,
            "alice",
            &members,
            Some(json!({"members": [
                {"address": "10.0.1.9", "protocol_port": 80},
                {"address": "10.0.1.9", "protocol_port": 80},
            ]})),
        )
        .await;
    assert_fault(
        &dup,
        409,
        "Another member on this pool is already using ip 10.0.1.9 on protocol_port 80",
    );
}

#[tokio::test]
async fn a_cascade_delete_releases_networking_and_the_plane() {
    let cloud = cloud();
    let lb = cloud.create_load_balancer("alice", populated()).await;
    let id = lb["id"].as_str().unwrap().to_owned();
    assert_eq!(cloud.plane.applied().unwrap().load_balancers.len(), 1);
    let path = format!("/v2/lbaas/loadbalancers/{id}");
    let refused = cloud.call(Method::DELETE, "alice", &path, None).await;
    assert_fault(
        &refused,
        400,
        &format!("Validation failure: Cannot delete Load Balancer {id} - it has children"),
    );
    let deleted = cloud
        .call(
            Method::DELETE,
            "alice",
            &format!("{path}?cascade=true"),
            None,
        )
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    assert_eq!(
        cloud.get("alice", &path).await.body["loadbalancer"]["provisioning_status"],
        "PENDING_DELETE"
    );
    cloud.settle().await;
    assert_eq!(cloud.get("alice", &path).await.status, 404);
    assert_eq!(
        cloud.get("alice", "/v2/lbaas/pools").await.body["pools"],
        json!([])
    );
    assert_eq!(*cloud.networking.released.lock().unwrap(), [id]);
    assert!(cloud.plane.applied().unwrap().load_balancers.is_empty());
}

#[tokio::test]
async fn terminated_https_is_refused_as_octavia_without_certificates() {
    let cloud = cloud();
    let lb = cloud.load_balancer("alice", "lb").await;
    let id = lb["id"].as_str().unwrap();
    let listener = |extra: Value| {
        let mut body =
            json!({"protocol": "TERMINATED_HTTPS", "protocol_port": 443, "loadbalancer_id": id});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        json!({ "listener": body })
    };
    let without = cloud
        .call(
            Method::POST,
            "alice",
            "/v2/lbaas/listeners",
            Some(listener(json!({}))),
        )
        .await;
    assert_fault(
        &without,
        400,
        "Validation failure: An SNI or default certificate container reference must be provided for TERMINATED_HTTPS protocol listeners.",
    );
    let reference = "https://barbican/v1/containers/x";
    let with = cloud
        .call(
            Method::POST,
            "alice",
            "/v2/lbaas/listeners",
            Some(listener(json!({"default_tls_container_ref": reference}))),
        )
        .await;
    assert_fault(
        &with,
        400,
        &format!("Could not retrieve certificate: ['{reference}']"),
    );
    let shown = cloud
        .get("alice", &format!("/v2/lbaas/loadbalancers/{id}"))
        .await
        .body["loadbalancer"]
        .clone();
    assert_eq!(
        (
            shown["provisioning_status"].as_str(),
            shown["listeners"].clone()
        ),
        (Some("ACTIVE"), json!([]))
    );
}

#[tokio::test]
async fn both_prefixes_and_the_version_documents() {
    let cloud = cloud();
    let lb = cloud.load_balancer("alice", "lb").await;
    let id = lb["id"].as_str().unwrap();
    for prefix in ["/v2", "/v2.0"] {
        let shown = cloud
            .get("alice", &format!("{prefix}/lbaas/loadbalancers/{id}"))
            .await;
        assert_eq!(shown.body["loadbalancer"]["id"], id, "{prefix}");
        assert_eq!(cloud.get("alice", prefix).await.body, json!("v2"));
    }
    let versions = oxistack_testkit::Call::new(Method::GET, "/")
        .header("host", "192.0.2.1:8080")
        .send(&cloud.router)
        .await
        .json();
    let versions = versions["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 28);
    assert_eq!(
        versions[0],
        json!({"id": "v2.0", "status": "SUPPORTED", "updated": "2016-12-11T00:00:00Z",
               "links": [{"href": "http://192.0.2.1:8080/v2", "rel": "self"}]})
    );
    assert_contains(
        &versions[27],
        &json!({"id": "v2.27", "status": "CURRENT", "updated": "2023-05-05T00:00:00Z"}),
    );
    let providers = cloud.get("alice", "/v2/lbaas/providers").await.body;
    assert_eq!(providers["providers"][0]["name"], "oxistack");
    assert_eq!(providers["providers"][1]["name"], "amphora");
    assert_eq!(
        cloud.get("admin", "/v2/octavia/amphorae").await.body["amphorae"],
        json!([])
    );
    let defaults = cloud.get("alice", "/v2/lbaas/quotas/defaults").await.body;
    assert_eq!(defaults["quota"]["load_balancer"], -1);
}

#[tokio::test]
async fn lists_filter_sort_page_and_trim() {
    let cloud = cloud();
    for name in ["b", "a", "c"] {
        cloud.load_balancer("alice", name).await;
    }
    let names = |body: &Value| -> Vec<String> {
        body["loadbalancers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|lb| lb["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let sorted = cloud
        .get(
            "alice",
            "/v2/lbaas/loadbalancers?sort_key=name&sort_dir=desc",
        )
        .await;
    assert_eq!(names(&sorted.body), ["c", "b", "a"]);
    let octavia_style = cloud
        .get("alice", "/v2/lbaas/loadbalancers?sort=name:desc")
        .await;
    assert_eq!(names(&octavia_style.body), ["c", "b", "a"]);
    let filtered = cloud.get("alice", "/v2.0/lbaas/loadbalancers?name=a").await;
    assert_eq!(names(&filtered.body), ["a"]);
    let page = cloud
        .get("alice", "/v2/lbaas/loadbalancers?sort_key=name&limit=2")
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(names(&page.body), ["a", "b"]);
    let next = page.body["loadbalancers_links"][0]["href"]
        .as_str()
        .unwrap();
    assert!(next.contains("marker="), "{next}");
    let trimmed = cloud
        .get(
            "alice",
            "/v2/lbaas/loadbalancers?fields=id&fields=name&name=c",
        )
        .await;
    let lb = &trimmed.body["loadbalancers"][0];
    assert_eq!(lb.as_object().unwrap().len(), 2, "{lb}");
    let unknown = cloud
        .get("alice", "/v2/lbaas/loadbalancers?colour=red")
        .await;
    assert_eq!(unknown.status, 400, "{}", unknown.body);
    assert_eq!(unknown.body["faultcode"], "Client");
}

#[tokio::test]
async fn operating_status_follows_the_observed_member_health() {
    let cloud = cloud();
    let lb = cloud.create_load_balancer("alice", populated()).await;
    let id = lb["id"].as_str().unwrap().to_owned();
    let pool_id = lb["pools"][0]["id"].as_str().unwrap().to_owned();
    let members = cloud
        .get("alice", &format!("/v2/lbaas/pools/{pool_id}/members"))
        .await
        .body["members"]
        .clone();
    let down = members[0]["id"].as_str().unwrap().to_owned();
    cloud.plane.set_member_down(&down, true);
    let path = format!("/v2/lbaas/loadbalancers/{id}/status");
    let mut status = Value::Null;
    for _ in 0..50 {
        status = cloud.get("alice", &path).await.body["statuses"]["loadbalancer"].clone();
        if status["operating_status"] == "DEGRADED" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status["operating_status"], "DEGRADED", "{status}");
    let pool = &status["listeners"][0]["pools"][0];
    assert_eq!(pool["operating_status"], "DEGRADED");
    let member = pool["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == down.as_str())
        .unwrap();
    assert_eq!(member["operating_status"], "ERROR");
    assert_eq!(status["listeners"][0]["operating_status"], "DEGRADED");
}

#[tokio::test]
async fn bad_input_is_a_400_in_octavias_format_and_changes_nothing() {
    let cloud = cloud();
    let create = |body: Value| {
        cloud.call(
            Method::POST,
            "alice",
            "/v2/lbaas/loadbalancers",
            Some(json!({"loadbalancer": body})),
        )
    };
    assert_fault(
        &create(json!({"name": "x"})).await,
        400,
        "Validation failure: VIP must contain one of: vip_port_id, vip_network_id, vip_subnet_id.",
    );
    assert_fault(
        &create(json!({"vip_subnet_id": SUBNET, "provider": "f5"})).await,
        400,
        "Provider 'f5' is not enabled.",
    );
    assert_fault(
        &create(json!({"vip_subnet_id": "nope"})).await,
        400,
        "Invalid input for field/attribute vip_subnet_id. Value: 'nope'. Value should be UUID format",
    );
    assert_fault(
        &create(json!({"vip_subnet_id": UNKNOWN})).await,
        400,
        &format!("Subnet {UNKNOWN} not found."),
    );
    let mut bad_member = populated();
    bad_member["loadbalancer"]["listeners"][0]["default_pool"]["members"][0]["weight"] = json!(257);
    let reply = cloud
        .call(
            Method::POST,
            "alice",
            "/v2/lbaas/loadbalancers",
            Some(bad_member),
        )
        .await;
    assert_fault(
        &reply,
        400,
        "Invalid input for field/attribute weight. Value: '257'. Value should be lower or equal to 256",
    );
    let unknown_field = create(json!({"vip_subnet_id": SUBNET, "colour": "red"})).await;
    assert_eq!(unknown_field.status, 400);
    assert_eq!(unknown_field.body["faultcode"], "Client");
    let not_json = oxistack_testkit::Call::new(Method::POST, "/v2/lbaas/loadbalancers")
        .token(Some("alice"))
        .body(Some("application/json"), "{")
        .send(&cloud.router)
        .await;
    assert_eq!(not_json.status, 400);
    assert_eq!(
        cloud.get("alice", "/v2/lbaas/loadbalancers").await.body["loadbalancers"],
        json!([])
    );
    assert!(
        cloud
            .plane
            .applied()
            .is_none_or(|s| s.load_balancers.is_empty())
    );

    let lb = cloud.load_balancer("alice", "lb").await;
    let id = lb["id"].as_str().unwrap();
    let listener = json!({"protocol": "HTTP", "protocol_port": 80, "loadbalancer_id": id});
    cloud
        .child("alice", "/v2/lbaas/listeners", "listener", listener.clone())
        .await;
    let twice = cloud
        .call(
            Method::POST,
            "alice",
            "/v2/lbaas/listeners",
            Some(json!({"listener": listener})),
        )
        .await;
    assert_fault(
        &twice,
        409,
        "Another Listener on this Load Balancer is already using protocol TCP and protocol_port 80",
    );
    let bad_protocol = cloud
        .call(Method::POST, "alice", "/v2/lbaas/listeners", Some(json!({"listener": {"protocol": "FTP", "protocol_port": 21, "loadbalancer_id": id}})))
        .await;
    assert_fault(
        &bad_protocol,
        400,
        "Invalid input for field/attribute protocol. Value: 'FTP'. Value should be one of: HTTP, HTTPS, PROMETHEUS, SCTP, TCP, TERMINATED_HTTPS, UDP",
    );
    let shown = cloud
        .get("alice", &format!("/v2/lbaas/loadbalancers/{id}"))
        .await
        .body["loadbalancer"]
        .clone();
    assert_eq!(shown["provisioning_status"], "ACTIVE");
    assert_eq!(shown["listeners"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn one_health_monitor_per_pool_with_http_defaults() {
    let cloud = cloud();
    let lb = cloud.load_balancer("alice", "lb").await;
    let pool = cloud
        .child(
            "alice",
            "/v2/lbaas/pools",
            "pool",
            json!({"protocol": "HTTP", "lb_algorithm": "SOURCE_IP", "loadbalancer_id": lb["id"],
                   "session_persistence": {"type": "APP_COOKIE", "cookie_name": "session"}}),
        )
        .await;
    assert_eq!(
        pool["session_persistence"],
        json!({"type": "APP_COOKIE", "cookie_name": "session", "persistence_timeout": null, "persistence_granularity": null})
    );
    let body =
        json!({"type": "HTTP", "delay": 5, "timeout": 3, "max_retries": 2, "pool_id": pool["id"]});
    let monitor = cloud
        .child(
            "alice",
            "/v2/lbaas/healthmonitors",
            "healthmonitor",
            body.clone(),
        )
        .await;
    assert_contains(
        &monitor,
        &json!({"http_method": "GET", "url_path": "/", "expected_codes": "200", "max_retries_down": 3, "name": ""}),
    );
    let again = cloud
        .call(
            Method::POST,
            "alice",
            "/v2/lbaas/healthmonitors",
            Some(json!({"healthmonitor": body})),
        )
        .await;
    assert_fault(&again, 409, "This pool already has a health monitor");
    let pool = cloud
        .get(
            "alice",
            &format!("/v2/lbaas/pools/{}", pool["id"].as_str().unwrap()),
        )
        .await
        .body["pool"]
        .clone();
    assert_eq!(pool["healthmonitor_id"], monitor["id"]);
    let deleted = cloud
        .call(
            Method::DELETE,
            "alice",
            &format!(
                "/v2/lbaas/healthmonitors/{}",
                monitor["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(deleted.status, 204);
    cloud.settle().await;
    let pool = cloud
        .get(
            "alice",
            &format!("/v2/lbaas/pools/{}", pool["id"].as_str().unwrap()),
        )
        .await
        .body["pool"]
        .clone();
    assert_eq!(pool["healthmonitor_id"], Value::Null);
}
