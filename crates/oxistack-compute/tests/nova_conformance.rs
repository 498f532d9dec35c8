//! Behaviours where Nova's clients (Tempest, openstacksdk, configuration
//! management comparing what it sent with what it got back) notice any
//! difference: what is stored verbatim, what is refused, which status
//! answers which request.

#[allow(dead_code)] // each test crate uses its own part of the shared support
mod support;

use oxistack_compute::interfaces::{RemoteGroup, SecurityGroupRuleDetail};
use serde_json::{Value, json};
use support::{Cloud, IMAGE};

const ED25519: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIN2bwENvgPrminI8dwBW9T/RMtUcuorTD3V8zdPXWbBD alice@example";

/// A cloud where project-a has a network and the `default` and `web`
/// security groups, with one ACTIVE server of alice's in `web`.
async fn cloud_with_server() -> (Cloud, String) {
    let cloud = Cloud::new();
    let network = cloud.networking.add_network("net", "project-a", false, 20);
    cloud.networking.add_security_group("default", "project-a");
    cloud.networking.add_security_group("web", "project-a");
    let id = cloud
        .create_server(
            "alice",
            "2.37",
            json!({
                "name": "vm", "imageRef": IMAGE, "flavorRef": "1",
                "networks": [{"uuid": network}], "security_groups": [{"name": "web"}],
            }),
        )
        .await;
    cloud.wait_for(&id, "ACTIVE").await;
    (cloud, id)
}

async fn flavor_count(cloud: &Cloud) -> usize {
    cloud
        .get("/v2.1/flavors?is_public=none", "admin", "2.1")
        .await
        .expect(200)["flavors"]
        .as_array()
        .unwrap()
        .len()
}

#[tokio::test]
async fn an_imported_public_key_is_stored_and_returned_verbatim() {
    let cloud = Cloud::new();
    let key_file = format!("{ED25519}\n");
    let created = cloud
        .post(
            "/v2.1/os-keypairs",
            "alice",
            "2.2",
            json!({"keypair": {"name": "mine", "public_key": key_file}}),
        )
        .await
        .expect(201);
    assert_eq!(created["keypair"]["public_key"], key_file.as_str());
    let shown = cloud
        .get("/v2.1/os-keypairs/mine", "alice", "2.2")
        .await
        .expect(200);
    assert_eq!(shown["keypair"]["public_key"], key_file.as_str());
    let listed = cloud
        .get("/v2.1/os-keypairs", "alice", "2.2")
        .await
        .expect(200);
    assert_eq!(
        listed["keypairs"][0]["keypair"]["public_key"],
        key_file.as_str()
    );
}

fn rule(
    id: &str,
    ingress: bool,
    protocol: Option<&str>,
    ports: Option<(u16, u16)>,
) -> SecurityGroupRuleDetail {
    SecurityGroupRuleDetail {
        id: id.into(),
        ingress,
        protocol: protocol.map(str::to_owned),
        port_range_min: ports.map(|p| p.0),
        port_range_max: ports.map(|p| p.1),
        remote_ip_prefix: None,
        remote_group: None,
    }
}

#[tokio::test]
async fn a_servers_security_groups_are_listed_in_novas_shape_at_every_version() {
    let (cloud, id) = cloud_with_server().await;
    let web = cloud
        .networking
        .ports_of_device(&id)
        .first()
        .map(|p| p.security_groups.clone())
        .unwrap();
    assert_eq!(web, ["web"]);
    let web_id = cloud.networking.security_group_id("web", "project-a");
    let ssh = SecurityGroupRuleDetail {
        remote_ip_prefix: Some("10.0.0.0/8".into()),
        ..rule("r-ssh", true, Some("tcp"), Some((22, 22)))
    };
    let from_default = SecurityGroupRuleDetail {
        remote_group: Some(RemoteGroup {
            name: "default".into(),
            project_id: "project-a".into(),
        }),
        ..rule("r-group", true, None, None)
    };
    for added in [
        ssh,
        from_default,
        rule("r-tcp", true, Some("tcp"), None),
        rule("r-icmp", true, Some("icmp"), None),
        rule("r-out", false, None, None),
    ] {
        cloud.networking.add_security_group_rule(&web_id, added);
    }
    let path = format!("/v2.1/servers/{id}/os-security-groups");
    for version in ["2.1", "2.36", "2.100"] {
        let groups = cloud.get(&path, "alice", version).await.expect(200);
        assert_eq!(
            groups,
            json!({"security_groups": [{
                "id": web_id, "name": "web", "description": "web group", "tenant_id": "project-a",
                "rules": [
                    {"id": "r-ssh", "parent_group_id": web_id, "ip_protocol": "tcp",
                     "from_port": 22, "to_port": 22, "ip_range": {"cidr": "10.0.0.0/8"}, "group": {}},
                    {"id": "r-group", "parent_group_id": web_id, "ip_protocol": null,
                     "from_port": null, "to_port": null, "ip_range": {},
                     "group": {"name": "default", "tenant_id": "project-a"}},
                    {"id": "r-tcp", "parent_group_id": web_id, "ip_protocol": "tcp",
                     "from_port": 1, "to_port": 65535, "ip_range": {"cidr": "0.0.0.0/0"}, "group": {}},
                    {"id": "r-icmp", "parent_group_id": web_id, "ip_protocol": "icmp",
                     "from_port": -1, "to_port": -1, "ip_range": {"cidr": "0.0.0.0/0"}, "group": {}},
                ],
            }]}),
            "at {version}"
        );
    }
    cloud.get(&path, "bob", "2.1").await.error(404);
    cloud
        .get(
            "/v2.1/servers/not-a-server/os-security-groups",
            "alice",
            "2.1",
        )
        .await
        .error(404);
}

#[tokio::test]
async fn an_unsupported_action_finds_the_server_first() {
    let (cloud, id) = cloud_with_server().await;
    let missing = "3b2e6a3e-5a0b-4b63-9d4e-53a2c7f4c1aa";
    for action in [
        json!({"createImage": {"name": "snap"}}),
        json!({"resize": {"flavorRef": "2"}}),
        json!({"os-resetState": {"state": "error"}}),
        json!({"changePassword": {"adminPass": "x"}}),
    ] {
        for server in [missing, "not-a-uuid"] {
            cloud
                .post(
                    &format!("/v2.1/servers/{server}/action"),
                    "alice",
                    "2.1",
                    action.clone(),
                )
                .await
                .error(404);
        }
        let action_path = format!("/v2.1/servers/{id}/action");
        cloud
            .post(&action_path, "bob", "2.1", action.clone())
            .await
            .error(404);
        cloud
            .post(&action_path, "reader", "2.1", action.clone())
            .await
            .error(403);
        cloud
            .post(&action_path, "alice", "2.1", action.clone())
            .await
            .error(501);
    }
}

#[tokio::test]
async fn null_and_malformed_values_are_refused_and_change_nothing() {
    let (cloud, id) = cloud_with_server().await;
    let flavors = flavor_count(&cloud).await;
    let good = json!({"name": "f", "ram": 64, "vcpus": 1, "disk": 0});
    for field in [
        "ram",
        "vcpus",
        "disk",
        "swap",
        "OS-FLV-EXT-DATA:ephemeral",
        "rxtx_factor",
        "os-flavor-access:is_public",
    ] {
        let mut flavor = good.clone();
        flavor[field] = Value::Null;
        let message = cloud
            .post("/v2.1/flavors", "admin", "2.1", json!({"flavor": flavor}))
            .await
            .error(400);
        assert!(message.contains(field), "{field}: {message}");
    }
    assert_eq!(
        flavor_count(&cloud).await,
        flavors,
        "no refused flavor was made"
    );

    let server = format!("/v2.1/servers/{id}");
    cloud
        .put(&server, "alice", "2.1", json!({"server": {"name": null}}))
        .await
        .error(400);
    assert_eq!(cloud.server(&id, "alice", "2.1").await["name"], "vm");

    let action = format!("/v2.1/servers/{id}/action");
    for length in [json!("abc"), json!("1.5"), json!(true), json!(-2)] {
        let message = cloud
            .post(
                &action,
                "alice",
                "2.1",
                json!({"os-getConsoleOutput": {"length": length}}),
            )
            .await
            .error(400);
        assert!(message.contains("length"), "{message}");
    }
    for length in [json!("5"), json!(5), json!(-1), json!("-1"), Value::Null] {
        cloud
            .post(
                &action,
                "alice",
                "2.1",
                json!({"os-getConsoleOutput": {"length": length}}),
            )
            .await
            .expect(200);
    }
}

#[tokio::test]
async fn control_characters_are_refused_in_names_and_metadata_keys() {
    let (cloud, id) = cloud_with_server().await;
    let network = cloud.networking.add_network("other", "project-a", false, 5);
    for bad in ["a\0b", "tab\there", "esc\u{1b}[31m", "del\u{7f}"] {
        let server = json!({"server": {"name": bad, "imageRef": IMAGE, "flavorRef": "1", "networks": [{"uuid": network}]}});
        cloud
            .post("/v2.1/servers", "alice", "2.37", server)
            .await
            .error(400);
        cloud
            .put(
                &format!("/v2.1/servers/{id}"),
                "alice",
                "2.1",
                json!({"server": {"name": bad}}),
            )
            .await
            .error(400);
        let flavor = json!({"flavor": {"name": bad, "ram": 64, "vcpus": 1, "disk": 0}});
        cloud
            .post("/v2.1/flavors", "admin", "2.1", flavor)
            .await
            .error(400);
        let keypair = json!({"keypair": {"name": bad, "public_key": ED25519}});
        cloud
            .post("/v2.1/os-keypairs", "alice", "2.1", keypair)
            .await
            .error(400);
        let group = json!({"server_group": {"name": bad, "policies": ["affinity"]}});
        cloud
            .post("/v2.1/os-server-groups", "alice", "2.1", group)
            .await
            .error(400);
        let metadata = json!({"metadata": {bad: "v"}});
        cloud
            .post(
                &format!("/v2.1/servers/{id}/metadata"),
                "alice",
                "2.1",
                metadata,
            )
            .await
            .error(400);
    }
    assert_eq!(cloud.server_count().await, 1);
    let server = cloud.server(&id, "alice", "2.1").await;
    assert_eq!(
        (&server["name"], &server["metadata"]),
        (&json!("vm"), &json!({}))
    );
    let keypairs = cloud
        .get("/v2.1/os-keypairs", "alice", "2.1")
        .await
        .expect(200);
    assert_eq!(keypairs["keypairs"], json!([]));
    let groups = cloud
        .get("/v2.1/os-server-groups", "alice", "2.1")
        .await
        .expect(200);
    assert_eq!(groups["server_groups"], json!([]));
}

#[tokio::test]
async fn extra_spec_deletes_answer_200_and_is_public_takes_novas_booleans() {
    let cloud = Cloud::new();
    let private = json!({"flavor": {"name": "private", "ram": 64, "vcpus": 1, "disk": 0, "id": "p", "os-flavor-access:is_public": false}});
    cloud
        .post("/v2.1/flavors", "admin", "2.1", private)
        .await
        .expect(200);
    cloud
        .post(
            "/v2.1/flavors/p/os-extra_specs",
            "admin",
            "2.1",
            json!({"extra_specs": {"k": "v"}}),
        )
        .await
        .expect(200);
    let deleted = cloud
        .delete("/v2.1/flavors/p/os-extra_specs/k", "admin", "2.1")
        .await;
    assert_eq!(deleted.status.as_u16(), 200, "{}", deleted.text());

    let ids = |list: Value| -> Vec<String> {
        list["flavors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["id"].as_str().unwrap().to_owned())
            .collect()
    };
    for value in ["f", "false", "False", "no", "n", "0", "off"] {
        let list = cloud
            .get(&format!("/v2.1/flavors?is_public={value}"), "admin", "2.1")
            .await
            .expect(200);
        assert_eq!(ids(list), ["p"], "is_public={value}");
    }
    for value in ["t", "true", "yes", "y", "1", "on"] {
        let list = cloud
            .get(&format!("/v2.1/flavors?is_public={value}"), "admin", "2.1")
            .await
            .expect(200);
        assert!(!ids(list).contains(&"p".to_owned()), "is_public={value}");
    }
    for value in ["none", "None"] {
        let list = cloud
            .get(&format!("/v2.1/flavors?is_public={value}"), "admin", "2.1")
            .await
            .expect(200);
        assert_eq!(ids(list).len(), 13, "is_public={value}");
    }
    let message = cloud
        .get("/v2.1/flavors?is_public=maybe", "admin", "2.1")
        .await
        .error(400);
    assert!(
        message.contains("Invalid is_public filter [maybe]"),
        "{message}"
    );
}

#[tokio::test]
async fn access_addresses_are_kept_in_normal_form() {
    let (cloud, id) = cloud_with_server().await;
    let network = cloud.networking.add_network("more", "project-a", false, 5);
    let created = cloud
        .create_server(
            "alice",
            "2.37",
            json!({
                "name": "addressed", "imageRef": IMAGE, "flavorRef": "1",
                "networks": [{"uuid": network}],
                "accessIPv4": "1.1.1.1", "accessIPv6": "0000:0000:0000:0000:0000:babe:220.12.22.2",
            }),
        )
        .await;
    let shown = cloud.server(&created, "alice", "2.37").await;
    assert_eq!(shown["accessIPv6"], "::babe:dc0c:1602");
    assert_eq!(shown["accessIPv4"], "1.1.1.1");
    let server = format!("/v2.1/servers/{id}");
    let updated = cloud
        .put(
            &server,
            "alice",
            "2.1",
            json!({"server": {"accessIPv6": "2001:0db8:0000:0000:0000:0000:0000:0001"}}),
        )
        .await
        .expect(200);
    assert_eq!(updated["server"]["accessIPv6"], "2001:db8::1");
    for bad in [
        json!({"accessIPv4": "::1"}),
        json!({"accessIPv6": "1.2.3.4"}),
        json!({"accessIPv4": "x"}),
    ] {
        cloud
            .put(&server, "alice", "2.1", json!({"server": bad}))
            .await
            .error(400);
    }
    assert_eq!(
        cloud.server(&id, "alice", "2.1").await["accessIPv6"],
        "2001:db8::1"
    );
}

#[tokio::test]
async fn host_names_may_be_fully_qualified_from_2_94() {
    let (cloud, id) = cloud_with_server().await;
    let network = cloud.networking.add_network("more", "project-a", false, 5);
    let fqdn = format!("{}-guest-test.domaintest.com", "x".repeat(52));
    let body = |hostname: &str| {
        json!({"server": {
            "name": "fqdn", "imageRef": IMAGE, "flavorRef": "1",
            "networks": [{"uuid": network}], "hostname": hostname,
        }})
    };
    cloud
        .post("/v2.1/servers", "alice", "2.93", body(&fqdn))
        .await
        .error(400);
    let created = cloud
        .post("/v2.1/servers", "alice", "2.94", body(&fqdn))
        .await
        .expect(202);
    let created = created["server"]["id"].as_str().unwrap();
    assert_eq!(
        cloud.server(created, "alice", "2.94").await["OS-EXT-SRV-ATTR:hostname"],
        fqdn.as_str()
    );
    let server = format!("/v2.1/servers/{id}");
    cloud
        .put(
            &server,
            "alice",
            "2.90",
            json!({"server": {"hostname": "a.example"}}),
        )
        .await
        .error(400);
    let renamed = cloud
        .put(
            &server,
            "alice",
            "2.94",
            json!({"server": {"hostname": "a.example"}}),
        )
        .await
        .expect(200);
    assert_eq!(renamed["server"]["OS-EXT-SRV-ATTR:hostname"], "a.example");
    cloud
        .put(
            &server,
            "alice",
            "2.94",
            json!({"server": {"hostname": "no spaces"}}),
        )
        .await
        .error(400);
}

#[tokio::test]
async fn every_answer_carries_the_request_id_under_novas_name_too() {
    use axum::http::Request;
    use tower::ServiceExt;
    let cloud = Cloud::new();
    let router = cloud
        .router
        .clone()
        .layer(axum::middleware::from_fn(oxistack_http::request_id));
    for (uri, token) in [
        ("/compute/v2.1/flavors", Some("alice")),
        ("/compute/v2.1/servers/missing", Some("alice")),
        ("/compute/v2.1/servers", None),
        ("/compute", None),
    ] {
        let mut request = Request::builder().uri(uri);
        if let Some(token) = token {
            request = request.header("x-auth-token", token);
        }
        let response = router
            .clone()
            .oneshot(request.body(axum::body::Body::empty()).unwrap())
            .await
            .unwrap();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        let openstack = header("x-openstack-request-id");
        assert!(
            openstack
                .as_deref()
                .is_some_and(|id| id.starts_with("req-")),
            "{uri}"
        );
        assert_eq!(header("x-compute-request-id"), openstack, "{uri}");
    }
}

#[tokio::test]
async fn a_project_filter_needs_all_tenants_as_in_nova() {
    let (cloud, mine) = cloud_with_server().await;
    let admins = cloud
        .networking
        .add_network("admin-net", "admin-project", false, 5);
    let own = cloud
        .create_server(
            "admin",
            "2.37",
            json!({"name": "own", "imageRef": IMAGE, "flavorRef": "1", "networks": [{"uuid": admins}]}),
        )
        .await;
    let listed = |query: &'static str| {
        let cloud = &cloud;
        async move {
            let list = cloud
                .get(&format!("/v2.1/servers/detail?{query}"), "admin", "2.1")
                .await
                .expect(200);
            list["servers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    for query in ["tenant_id=project-a", "project_id=project-a"] {
        assert_eq!(listed(query).await, [own.as_str()], "{query}");
    }
    for query in [
        "all_tenants=1&tenant_id=project-a",
        "all_tenants=1&project_id=project-a",
    ] {
        assert_eq!(listed(query).await, [mine.as_str()], "{query}");
    }
    let mut everything = listed("all_tenants=1").await;
    everything.sort();
    let mut both = vec![own, mine];
    both.sort();
    assert_eq!(everything, both);
}

#[tokio::test]
async fn the_legacy_version_is_listed_first_and_its_document_followable() {
    let cloud = Cloud::new();
    let root = cloud
        .send(axum::http::Method::GET, "", None, None, None)
        .await
        .expect(200);
    let ids: Vec<&str> = root["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["v2.0", "v2.1"]);
    for version in root["versions"].as_array().unwrap() {
        let href = version["links"][0]["href"].as_str().unwrap();
        assert_eq!(version["links"][0]["rel"], "self");
        let path = href
            .strip_prefix("http://localhost/compute")
            .unwrap()
            .trim_end_matches('/');
        let document = cloud
            .send(axum::http::Method::GET, path, None, None, None)
            .await
            .expect(200);
        assert_eq!(document["version"]["id"], version["id"]);
        assert_eq!(document["version"]["links"][0]["href"], href);
        assert!(document["version"]["media-types"].is_array());
    }
}

#[tokio::test]
async fn a_whole_console_has_several_lines() {
    let (cloud, id) = cloud_with_server().await;
    let output = cloud
        .post(
            &format!("/v2.1/servers/{id}/action"),
            "alice",
            "2.1",
            json!({"os-getConsoleOutput": {}}),
        )
        .await
        .expect(200);
    let lines = output["output"].as_str().unwrap().split('\n').count();
    assert!(lines > 3, "{output}");
}

#[tokio::test]
async fn a_console_tail_has_as_many_pieces_as_asked_as_in_nova() {
    let (cloud, id) = cloud_with_server().await;
    let action = format!("/v2.1/servers/{id}/action");
    cloud
        .post(&action, "alice", "2.1", json!({"reboot": {"type": "HARD"}}))
        .await
        .expect(202);
    cloud.wait_for(&id, "ACTIVE").await;
    let output = cloud
        .post(
            &action,
            "alice",
            "2.1",
            json!({"os-getConsoleOutput": {"length": 3}}),
        )
        .await
        .expect(200);
    assert_eq!(
        output["output"].as_str().unwrap().split('\n').count(),
        3,
        "{output}"
    );
}

#[tokio::test]
async fn flavor_lists_follow_every_change_to_flavors() {
    let cloud = Cloud::new();
    let detail = |version: &'static str| {
        let cloud = &cloud;
        async move {
            cloud
                .get("/v2.1/flavors/detail?is_public=none", "admin", version)
                .await
                .expect(200)["flavors"]
                .as_array()
                .unwrap()
                .iter()
                .find(|f| f["id"] == "x")
                .cloned()
        }
    };
    assert_eq!(detail("2.61").await, None);
    let flavor = json!({"flavor": {"name": "x", "ram": 64, "vcpus": 1, "disk": 0, "id": "x"}});
    cloud
        .post("/v2.1/flavors", "admin", "2.1", flavor)
        .await
        .expect(200);
    assert_eq!(detail("2.61").await.unwrap()["extra_specs"], json!({}));
    cloud
        .post(
            "/v2.1/flavors/x/os-extra_specs",
            "admin",
            "2.1",
            json!({"extra_specs": {"k": "v"}}),
        )
        .await
        .expect(200);
    assert_eq!(
        detail("2.61").await.unwrap()["extra_specs"],
        json!({"k": "v"})
    );
    assert!(
        detail("2.1").await.unwrap().get("extra_specs").is_none(),
        "per microversion"
    );
    cloud
        .delete("/v2.1/flavors/x/os-extra_specs/k", "admin", "2.1")
        .await
        .expect(200);
    assert_eq!(detail("2.61").await.unwrap()["extra_specs"], json!({}));
    cloud
        .put(
            "/v2.1/flavors/x",
            "admin",
            "2.61",
            json!({"flavor": {"description": "small"}}),
        )
        .await
        .expect(200);
    assert_eq!(detail("2.61").await.unwrap()["description"], "small");
    cloud
        .delete("/v2.1/flavors/x", "admin", "2.1")
        .await
        .expect(202);
    assert_eq!(detail("2.61").await, None);
}
