//! The compute API driven through its router, with in-memory tokens,
//! network and image services and the fake driver.

#[allow(dead_code)] // each test crate uses its own part of the shared support
mod support;

use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use oxistack_virt::{ComputeDriver, FakeDriver, InstanceState};
use serde_json::{Value, json};
use support::{BROKEN_IMAGE, Cloud, IMAGE};

const ED25519: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIN2bwENvgPrminI8dwBW9T/RMtUcuorTD3V8zdPXWbBD alice@example";
const ED25519_FINGERPRINT: &str = "fe:72:10:ca:7b:92:a6:43:97:da:b2:e9:4c:63:00:37";

fn names(servers: &Value) -> Vec<String> {
    let mut names: Vec<String> = servers
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

/// The sorted names of the servers alice lists with `query`.
async fn names_listed(cloud: &Cloud, query: &str) -> Vec<String> {
    let reply = cloud
        .get(&format!("/v2.1/servers?{query}"), "alice", "2.100")
        .await;
    names(&reply.expect(200)["servers"])
}

fn server_body(name: &str, flavor: &str, network: &str) -> Value {
    json!({"name": name, "imageRef": IMAGE, "flavorRef": flavor, "networks": [{"uuid": network}]})
}

/// A cloud where project-a has the `kubenet` network, a `k8s` security
/// group and two floating IPs.
fn kubernetes_cloud() -> (Cloud, String) {
    let cloud = Cloud::new();
    let network = cloud
        .networking
        .add_network("kubenet", "project-a", false, 50);
    cloud.networking.add_security_group("default", "project-a");
    cloud.networking.add_security_group("k8s", "project-a");
    cloud.networking.add_floating_ip("172.24.4.10", "project-a");
    cloud.networking.add_floating_ip("172.24.4.11", "project-a");
    (cloud, network)
}

#[tokio::test]
async fn version_discovery_is_open_and_microversions_are_negotiated() {
    let cloud = Cloud::new();
    // The mount point itself; the binary trims trailing slashes.
    let root = cloud
        .send(Method::GET, "", None, None, None)
        .await
        .expect(200);
    let versions = root["versions"].as_array().unwrap();
    // Nova lists its legacy v2.0 first, as Tempest checks.
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0]["id"], "v2.0");
    assert_eq!(versions[1]["id"], "v2.1");
    assert_eq!(versions[1]["min_version"], "2.1");
    assert_eq!(versions[1]["version"], "2.100");
    assert_eq!(
        versions[1]["links"][0]["href"],
        "http://localhost/compute/v2.1/"
    );
    let doc = cloud
        .send(Method::GET, "/v2.1", None, None, None)
        .await
        .expect(200);
    assert_eq!(doc["version"]["status"], "CURRENT");
    assert_eq!(doc["version"]["media-types"][0]["base"], "application/json");

    let asked = |version: Option<&'static str>, legacy: Option<&'static str>| {
        let cloud = &cloud;
        async move {
            let mut request = axum::http::Request::builder()
                .uri("/compute/v2.1/flavors")
                .header("x-auth-token", "alice");
            if let Some(v) = version {
                request = request.header("openstack-api-version", v);
            }
            if let Some(v) = legacy {
                request = request.header("x-openstack-nova-api-version", v);
            }
            use tower::ServiceExt;
            cloud
                .router
                .clone()
                .oneshot(request.body(axum::body::Body::empty()).unwrap())
                .await
                .unwrap()
        }
    };
    let answered = |response: &axum::response::Response| {
        (
            response.status().as_u16(),
            response
                .headers()
                .get("openstack-api-version")
                .map(|v| v.to_str().unwrap().to_owned()),
            response
                .headers()
                .get("x-openstack-nova-api-version")
                .map(|v| v.to_str().unwrap().to_owned()),
        )
    };
    let default = asked(None, None).await;
    assert_eq!(
        answered(&default),
        (200, Some("compute 2.1".into()), Some("2.1".into()))
    );
    let vary = default
        .headers()
        .get("vary")
        .unwrap()
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        vary.contains("openstack-api-version") && vary.contains("x-openstack-nova-api-version")
    );
    assert_eq!(
        answered(&asked(Some("compute 2.47"), None).await).1,
        Some("compute 2.47".into())
    );
    assert_eq!(
        answered(&asked(Some("compute latest"), None).await).1,
        Some("compute 2.100".into())
    );
    assert_eq!(
        answered(&asked(None, Some("2.10")).await).2,
        Some("2.10".into())
    );
    assert_eq!(answered(&asked(Some("compute 2.101"), None).await).0, 406);
    assert_eq!(answered(&asked(Some("compute 2.x"), None).await).0, 400);

    let refused = cloud.get("/v2.1/flavors", "alice", "2.101").await;
    assert!(
        refused
            .error(406)
            .contains("Minimum is 2.1 and maximum is 2.100")
    );
    assert_eq!(refused.json()["notAcceptable"]["code"], 406);
    let unauthenticated = cloud
        .send(Method::GET, "/v2.1/servers", None, None, None)
        .await;
    unauthenticated.error(401);
    cloud
        .get("/v2.1/no-such-thing", "alice", "2.1")
        .await
        .error(404);
}

/// The seed's flow, through the API as the stock clients drive it.
#[tokio::test]
async fn the_seed_flow_builds_a_kubernetes_cluster_and_tears_it_down() {
    let (cloud, network) = kubernetes_cloud();

    // openstack keypair create --public-key (the SDK asks for 2.10).
    let created = cloud
        .post(
            "/v2.1/os-keypairs",
            "alice",
            "2.10",
            json!({"keypair": {"name": "seed", "public_key": ED25519}}),
        )
        .await
        .expect(201);
    assert_eq!(created["keypair"]["fingerprint"], ED25519_FINGERPRINT);
    assert_eq!(created["keypair"]["type"], "ssh");
    assert!(created["keypair"].get("private_key").is_none());

    // openstack server create --flavor d4 --network kubenet --key-name seed master1
    let mut ids = Vec::new();
    for name in ["master1", "worker1"] {
        let mut body = server_body(name, "d4", &network);
        body["key_name"] = json!("seed");
        body["security_groups"] = json!([{"name": "default"}]);
        body["block_device_mapping_v2"] = json!([{"uuid": IMAGE, "boot_index": 0, "source_type": "image",
            "destination_type": "local", "delete_on_termination": true}]);
        let reply = cloud
            .post("/v2.1/servers", "alice", "2.100", json!({"server": body}))
            .await;
        let server = reply.expect(202)["server"].clone();
        assert!(server["adminPass"].as_str().unwrap().len() >= 12);
        assert_eq!(server["OS-DCF:diskConfig"], "MANUAL");
        assert_eq!(server["security_groups"], json!([{"name": "default"}]));
        assert!(
            reply.headers["location"]
                .to_str()
                .unwrap()
                .ends_with(server["id"].as_str().unwrap())
        );
        ids.push(server["id"].as_str().unwrap().to_owned());
    }
    for id in &ids {
        let server = cloud.wait_for(id, "ACTIVE").await;
        assert_eq!(server["OS-EXT-STS:power_state"], 1);
        assert_eq!(server["OS-EXT-STS:task_state"], Value::Null);
        assert_eq!(server["OS-EXT-STS:vm_state"], "active");
        assert_eq!(server["key_name"], "seed");
        assert_eq!(
            cloud.driver.state(id).await.unwrap(),
            InstanceState::Running
        );
    }
    let spec = cloud.driver.spec(&ids[0]).unwrap();
    assert_eq!(
        (spec.vcpus, spec.memory_mib, spec.root_disk_gib),
        (4, 4096, 20)
    );
    assert_eq!(spec.metadata.key.as_ref().unwrap().data, ED25519);
    assert_eq!(spec.nics.len(), 1);

    // openstack server create --min 2 --max 2 c
    let mut body = server_body("c", "1", &network);
    body["min_count"] = json!(2);
    body["max_count"] = json!(2);
    cloud.create_server("alice", "2.100", body).await;
    let listed = cloud
        .get("/v2.1/servers?name=%5Ec-", "alice", "2.100")
        .await
        .expect(200);
    assert_eq!(names(&listed["servers"]), ["c-1", "c-2"]);
    let c_ids: Vec<String> = listed["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    for id in &c_ids {
        let server = cloud.wait_for(id, "ACTIVE").await;
        let name = server["name"].as_str().unwrap();
        assert_eq!(server["OS-EXT-SRV-ATTR:hostname"], name);
    }
    let reservations: Vec<Value> =
        futures_util::future::join_all(c_ids.iter().map(|id| cloud.server(id, "admin", "2.3")))
            .await
            .into_iter()
            .map(|s| s["OS-EXT-SRV-ATTR:reservation_id"].clone())
            .collect();
    assert_eq!(reservations[0], reservations[1]);

    // openstack server add security group master1 k8s
    cloud
        .post(
            &format!("/v2.1/servers/{}/action", ids[0]),
            "alice",
            "2.100",
            json!({"addSecurityGroup": {"name": "k8s"}}),
        )
        .await
        .expect(202);
    let master = cloud.server(&ids[0], "alice", "2.100").await;
    let groups: Vec<&str> = master["security_groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(groups, ["default", "k8s"]);

    // The floating IP through Nova's old action: gone in 2.44.
    let add_fip = json!({"addFloatingIp": {"address": "172.24.4.10"}});
    let action = format!("/v2.1/servers/{}/action", ids[0]);
    cloud
        .post(&action, "alice", "2.44", add_fip.clone())
        .await
        .error(404);
    cloud
        .post(&action, "alice", "2.43", add_fip)
        .await
        .expect(202);

    // openstack server list: addresses per network, fixed then floating.
    let detail = cloud
        .get("/v2.1/servers/detail", "alice", "2.100")
        .await
        .expect(200);
    assert_eq!(
        names(&detail["servers"]),
        ["c-1", "c-2", "master1", "worker1"]
    );
    let master = detail["servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "master1")
        .unwrap();
    let addresses = master["addresses"]["kubenet"].as_array().unwrap();
    assert_eq!(addresses.len(), 2);
    assert_eq!(addresses[0]["OS-EXT-IPS:type"], "fixed");
    assert_eq!(addresses[0]["version"], 4);
    assert!(
        addresses[0]["addr"]
            .as_str()
            .unwrap()
            .starts_with("10.0.0.")
    );
    assert_eq!(addresses[1]["OS-EXT-IPS:type"], "floating");
    assert_eq!(addresses[1]["addr"], "172.24.4.10");
    assert_eq!(
        addresses[0]["OS-EXT-IPS-MAC:mac_addr"],
        addresses[1]["OS-EXT-IPS-MAC:mac_addr"]
    );

    // Filters.
    assert_eq!(
        names_listed(&cloud, "flavor=d4").await,
        ["master1", "worker1"]
    );
    assert_eq!(names_listed(&cloud, "status=ACTIVE").await.len(), 4);
    assert_eq!(
        names_listed(&cloud, "status=SHUTOFF").await,
        Vec::<String>::new()
    );
    assert_eq!(
        names_listed(&cloud, &format!("image={IMAGE}")).await.len(),
        4
    );
    assert_eq!(
        names_listed(&cloud, "ip=%5E10%5C.0%5C.0%5C.1%5B01%5D%24").await,
        ["master1", "worker1"]
    );
    assert_eq!(names_listed(&cloud, "name=worker").await, ["worker1"]);
    assert_eq!(
        names_listed(&cloud, "changes-since=2000-01-01T00:00:00Z")
            .await
            .len(),
        4
    );
    assert_eq!(
        names_listed(&cloud, "changes-since=2999-01-01T00:00:00Z")
            .await
            .len(),
        0
    );

    // Pagination: newest first, with a next link while pages are full.
    let page = cloud
        .get("/v2.1/servers?limit=3", "alice", "2.100")
        .await
        .expect(200);
    assert_eq!(page["servers"].as_array().unwrap().len(), 3);
    let next = page["servers_links"][0]["href"].as_str().unwrap();
    assert_eq!(page["servers_links"][0]["rel"], "next");
    let next = next.strip_prefix("http://localhost/compute").unwrap();
    let rest = cloud.get(next, "alice", "2.100").await.expect(200);
    assert_eq!(rest["servers"].as_array().unwrap().len(), 1);
    assert!(rest.get("servers_links").is_none());

    // One call to the network service for a whole detailed list.
    let calls = cloud.networking.ports_of_calls();
    cloud
        .get("/v2.1/servers/detail", "alice", "2.100")
        .await
        .expect(200);
    assert_eq!(cloud.networking.ports_of_calls(), calls + 1);

    // openstack server delete: the ports go, the floating IP is freed.
    let master_ports = cloud.networking.ports_of_device(&ids[0]);
    assert_eq!(
        cloud.networking.floating_ip_port("172.24.4.10"),
        Some(master_ports[0].id.clone())
    );
    for id in ids.iter().chain(&c_ids) {
        cloud
            .delete(&format!("/v2.1/servers/{id}"), "alice", "2.100")
            .await
            .expect(204);
    }
    for id in ids.iter().chain(&c_ids) {
        cloud.wait_gone(id).await;
        assert!(cloud.networking.ports_of_device(id).is_empty());
        assert_eq!(cloud.driver.state(id).await.unwrap(), InstanceState::Absent);
    }
    assert_eq!(cloud.networking.port_count(), 0);
    assert_eq!(cloud.networking.floating_ip_port("172.24.4.10"), None);
    let empty = cloud
        .get("/v2.1/servers", "alice", "2.100")
        .await
        .expect(200);
    assert_eq!(empty["servers"], json!([]));
}

#[tokio::test]
async fn server_documents_take_the_shape_of_the_microversion() {
    let (cloud, network) = kubernetes_cloud();
    let id = cloud
        .create_server("alice", "2.1", server_body("vm", "d4", &network))
        .await;
    cloud.wait_for(&id, "ACTIVE").await;

    let v2_1 = cloud.server(&id, "alice", "2.1").await;
    assert_eq!(v2_1["flavor"]["id"], "d4");
    assert_eq!(
        v2_1["flavor"]["links"][0]["href"],
        "http://localhost/compute/flavors/d4"
    );
    assert_eq!(v2_1["image"]["id"], IMAGE);
    assert_eq!(
        v2_1["links"][0]["href"],
        format!("http://localhost/compute/v2.1/servers/{id}")
    );
    assert_eq!(v2_1["links"][1]["rel"], "bookmark");
    for absent in [
        "locked",
        "description",
        "tags",
        "host_status",
        "OS-EXT-SRV-ATTR:host",
        "OS-EXT-SRV-ATTR:hostname",
        "server_groups",
    ] {
        assert!(v2_1.get(absent).is_none(), "{absent} at 2.1");
    }
    assert_eq!(v2_1["OS-EXT-AZ:availability_zone"], "nova");
    assert_eq!(v2_1["os-extended-volumes:volumes_attached"], json!([]));
    assert_eq!(v2_1["progress"], 0);
    assert_eq!(v2_1["hostId"].as_str().unwrap().len(), 56);

    let v2_47 = cloud.server(&id, "alice", "2.47").await;
    assert_eq!(
        v2_47["flavor"],
        json!({"vcpus": 4, "ram": 4096, "disk": 20, "ephemeral": 0, "swap": 0, "original_name": "ds4G", "extra_specs": {}})
    );
    assert_eq!(v2_47["locked"], false);
    assert_eq!(v2_47["description"], Value::Null);
    assert_eq!(v2_47["tags"], json!([]));
    assert!(v2_47.get("locked_reason").is_none());

    let latest = cloud.server(&id, "alice", "latest").await;
    assert_eq!(latest["locked_reason"], Value::Null);
    assert_eq!(latest["pinned_availability_zone"], Value::Null);
    assert_eq!(latest["scheduler_hints"], json!({}));
    assert_eq!(latest["server_groups"], json!([]));
    assert_eq!(latest["trusted_image_certificates"], Value::Null);
    assert_eq!(latest["image"]["properties"]["os_distro"], "centos");
    assert_eq!(latest["OS-EXT-SRV-ATTR:hostname"], "vm");
    assert!(
        latest.get("OS-EXT-SRV-ATTR:host").is_none(),
        "members do not see hosts"
    );

    // Administrators see where servers run.
    let admin = cloud.server(&id, "admin", "2.16").await;
    assert_eq!(admin["OS-EXT-SRV-ATTR:host"], "fake-host");
    assert_eq!(admin["OS-EXT-SRV-ATTR:instance_name"], "instance-00000001");
    assert_eq!(admin["OS-EXT-SRV-ATTR:root_device_name"], "/dev/vda");
    assert_eq!(admin["host_status"], "UP");
    assert!(
        cloud
            .server(&id, "admin", "2.2")
            .await
            .get("OS-EXT-SRV-ATTR:reservation_id")
            .is_none()
    );

    // Updates answer a lean document before 2.75, the full one from it.
    let rename = |name: &str| json!({"server": {"name": name}});
    let lean = cloud
        .put(
            &format!("/v2.1/servers/{id}"),
            "alice",
            "2.74",
            rename("vm2"),
        )
        .await
        .expect(200);
    assert_eq!(lean["server"]["name"], "vm2");
    assert!(lean["server"].get("OS-EXT-STS:vm_state").is_none());
    assert!(
        lean["server"]["addresses"]["kubenet"][0]
            .get("OS-EXT-IPS:type")
            .is_none()
    );
    let full = cloud
        .put(
            &format!("/v2.1/servers/{id}"),
            "alice",
            "2.75",
            rename("vm3"),
        )
        .await
        .expect(200);
    assert_eq!(full["server"]["OS-EXT-STS:vm_state"], "active");
    let described = cloud
        .put(
            &format!("/v2.1/servers/{id}"),
            "alice",
            "2.19",
            json!({"server": {"description": "the one"}}),
        )
        .await
        .expect(200);
    assert_eq!(described["server"]["description"], "the one");
    cloud
        .put(
            &format!("/v2.1/servers/{id}"),
            "alice",
            "2.18",
            json!({"server": {"description": "x"}}),
        )
        .await
        .error(400);

    // The plain list is just ids, names and links.
    let list = cloud.get("/v2.1/servers", "alice", "2.1").await.expect(200);
    assert_eq!(list["servers"][0].as_object().unwrap().len(), 3);
}

#[tokio::test]
async fn devstack_flavors_private_flavors_and_extra_specs() {
    let cloud = Cloud::new();
    let list = cloud.get("/v2.1/flavors", "alice", "2.1").await.expect(200);
    let ids: Vec<&str> = list["flavors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "1", "2", "3", "4", "42", "5", "84", "c1", "d1", "d2", "d3", "d4"
        ]
    );
    let tiny = cloud
        .get("/v2.1/flavors/1", "alice", "2.1")
        .await
        .expect(200)["flavor"]
        .clone();
    assert_eq!(
        (
            tiny["name"].as_str(),
            tiny["ram"].as_u64(),
            tiny["disk"].as_u64(),
            tiny["vcpus"].as_u64()
        ),
        (Some("m1.tiny"), Some(512), Some(1), Some(1))
    );
    assert_eq!(tiny["swap"], "");
    assert_eq!(tiny["os-flavor-access:is_public"], true);
    assert_eq!(tiny["OS-FLV-EXT-DATA:ephemeral"], 0);
    assert!(tiny.get("extra_specs").is_none());
    let tiny = cloud
        .get("/v2.1/flavors/1", "alice", "2.75")
        .await
        .expect(200)["flavor"]
        .clone();
    assert_eq!(tiny["swap"], 0);
    assert_eq!(tiny["description"], Value::Null);
    for (id, name, ram, disk, vcpus) in [
        ("c1", "cirros256", 256, 1, 1),
        ("d4", "ds4G", 4096, 20, 4),
        ("42", "m1.nano", 128, 1, 1),
        ("84", "m1.micro", 192, 1, 1),
    ] {
        let flavor = cloud
            .get(&format!("/v2.1/flavors/{id}"), "alice", "2.1")
            .await
            .expect(200)["flavor"]
            .clone();
        assert_eq!(flavor["name"], name);
        assert_eq!(
            (
                flavor["ram"].as_u64(),
                flavor["disk"].as_u64(),
                flavor["vcpus"].as_u64()
            ),
            (Some(ram), Some(disk), Some(vcpus))
        );
    }

    let big = cloud
        .get(
            "/v2.1/flavors/detail?minRam=4096&minDisk=40",
            "alice",
            "2.1",
        )
        .await
        .expect(200);
    let ids: Vec<&str> = big["flavors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["3", "4", "5"]);
    let page = cloud
        .get("/v2.1/flavors?limit=2&marker=2", "alice", "2.1")
        .await
        .expect(200);
    let ids: Vec<&str> = page["flavors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["3", "4"]);
    assert!(
        page["flavors_links"][0]["href"]
            .as_str()
            .unwrap()
            .contains("marker=4")
    );
    cloud
        .get("/v2.1/flavors?marker=nope", "alice", "2.1")
        .await
        .error(400);
    cloud
        .get("/v2.1/flavors?minRam=lots", "alice", "2.1")
        .await
        .error(400);
    cloud
        .get("/v2.1/flavors/nope", "alice", "2.1")
        .await
        .error(404);

    // Only administrators manage flavors.
    let private = json!({"flavor": {"name": "private.big", "ram": 1024, "vcpus": 2, "disk": 10, "id": "big", "os-flavor-access:is_public": false}});
    cloud
        .post("/v2.1/flavors", "alice", "2.1", private.clone())
        .await
        .error(403);
    let created = cloud
        .post("/v2.1/flavors", "admin", "2.1", private.clone())
        .await
        .expect(200);
    assert_eq!(created["flavor"]["os-flavor-access:is_public"], false);
    assert!(
        cloud
            .post("/v2.1/flavors", "admin", "2.1", private)
            .await
            .error(409)
            .contains("private.big")
    );

    // A private flavor is invisible until shared with the project.
    cloud
        .get("/v2.1/flavors/big", "alice", "2.1")
        .await
        .error(404);
    let visible = |token: &'static str| {
        let cloud = &cloud;
        async move {
            let list = cloud.get("/v2.1/flavors", token, "2.1").await.expect(200);
            list["flavors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["id"] == "big")
        }
    };
    assert!(!visible("alice").await);
    let add = json!({"addTenantAccess": {"tenant": "project-a"}});
    let access = cloud
        .post("/v2.1/flavors/big/action", "admin", "2.1", add.clone())
        .await
        .expect(200);
    assert_eq!(
        access["flavor_access"],
        json!([{"flavor_id": "big", "tenant_id": "project-a"}])
    );
    cloud
        .post("/v2.1/flavors/big/action", "admin", "2.1", add)
        .await
        .error(409);
    cloud
        .post(
            "/v2.1/flavors/1/action",
            "admin",
            "2.1",
            json!({"addTenantAccess": {"tenant": "p"}}),
        )
        .await
        .error(409);
    assert!(visible("alice").await);
    assert!(!visible("bob").await);
    cloud
        .get("/v2.1/flavors/big", "alice", "2.1")
        .await
        .expect(200);
    let listed = cloud
        .get("/v2.1/flavors/big/os-flavor-access", "admin", "2.1")
        .await
        .expect(200);
    assert_eq!(listed["flavor_access"][0]["tenant_id"], "project-a");
    cloud
        .get("/v2.1/flavors/1/os-flavor-access", "admin", "2.1")
        .await
        .error(404);
    // Administrators see private flavors only when they ask for all.
    assert!(!visible("admin").await);
    let all = cloud
        .get("/v2.1/flavors?is_public=None", "admin", "2.1")
        .await
        .expect(200);
    assert!(
        all["flavors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["id"] == "big")
    );
    let remove = json!({"removeTenantAccess": {"tenant": "project-a"}});
    cloud
        .post("/v2.1/flavors/big/action", "admin", "2.1", remove.clone())
        .await
        .expect(200);
    cloud
        .post("/v2.1/flavors/big/action", "admin", "2.1", remove)
        .await
        .error(404);
    assert!(!visible("alice").await);
    cloud
        .post(
            "/v2.1/flavors/big/action",
            "admin",
            "2.1",
            json!({"fly": {}}),
        )
        .await
        .error(400);

    // Extra specs.
    let specs = json!({"extra_specs": {"hw:cpu_policy": "dedicated", "quota:cpu_shares": 1024}});
    cloud
        .post(
            "/v2.1/flavors/big/os-extra_specs",
            "alice",
            "2.1",
            specs.clone(),
        )
        .await
        .error(403);
    let set = cloud
        .post("/v2.1/flavors/big/os-extra_specs", "admin", "2.1", specs)
        .await
        .expect(200);
    assert_eq!(set["extra_specs"]["quota:cpu_shares"], "1024");
    let one = cloud
        .get(
            "/v2.1/flavors/big/os-extra_specs/hw:cpu_policy",
            "admin",
            "2.1",
        )
        .await
        .expect(200);
    assert_eq!(one, json!({"hw:cpu_policy": "dedicated"}));
    cloud
        .put(
            "/v2.1/flavors/big/os-extra_specs/hw:cpu_policy",
            "admin",
            "2.1",
            json!({"other": "x"}),
        )
        .await
        .error(400);
    cloud
        .put(
            "/v2.1/flavors/big/os-extra_specs/hw:cpu_policy",
            "admin",
            "2.1",
            json!({"hw:cpu_policy": "shared"}),
        )
        .await
        .expect(200);
    let shown = cloud
        .get("/v2.1/flavors/big", "admin", "2.61")
        .await
        .expect(200);
    assert_eq!(shown["flavor"]["extra_specs"]["hw:cpu_policy"], "shared");
    cloud
        .delete(
            "/v2.1/flavors/big/os-extra_specs/hw:cpu_policy",
            "admin",
            "2.1",
        )
        .await
        .expect(200);
    cloud
        .delete(
            "/v2.1/flavors/big/os-extra_specs/hw:cpu_policy",
            "admin",
            "2.1",
        )
        .await
        .error(404);
    cloud
        .post(
            "/v2.1/flavors/big/os-extra_specs",
            "admin",
            "2.1",
            json!({"extra_specs": {"bad/key": "x"}}),
        )
        .await
        .error(400);

    // Descriptions from 2.55, then delete.
    cloud
        .put(
            "/v2.1/flavors/big",
            "admin",
            "2.54",
            json!({"flavor": {"description": "d"}}),
        )
        .await
        .error(404);
    let described = cloud
        .put(
            "/v2.1/flavors/big",
            "admin",
            "2.55",
            json!({"flavor": {"description": "d"}}),
        )
        .await
        .expect(200);
    assert_eq!(described["flavor"]["description"], "d");
    cloud
        .delete("/v2.1/flavors/big", "alice", "2.1")
        .await
        .error(403);
    cloud
        .delete("/v2.1/flavors/big", "admin", "2.1")
        .await
        .expect(202);
    cloud
        .get("/v2.1/flavors/big", "admin", "2.1")
        .await
        .error(404);

    // A default flavor the administrator deleted stays deleted across
    // restarts: bootstrap only seeds the first start.
    cloud
        .delete("/v2.1/flavors/42", "admin", "2.1")
        .await
        .expect(202);
    let restarted = cloud.restarted(Arc::new(FakeDriver::new()));
    restarted
        .get("/v2.1/flavors/42", "admin", "2.1")
        .await
        .error(404);
    restarted
        .get("/v2.1/flavors/84", "admin", "2.1")
        .await
        .expect(200);
    let services = restarted
        .get("/v2.1/os-services", "admin", "2.1")
        .await
        .expect(200);
    assert_eq!(services["services"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn keypairs_are_imported_generated_and_private_to_their_user() {
    let cloud = Cloud::new();
    let imported = cloud
        .post(
            "/v2.1/os-keypairs",
            "alice",
            "2.1",
            json!({"keypair": {"name": "mine", "public_key": ED25519}}),
        )
        .await
        .expect(200);
    assert!(imported["keypair"].get("type").is_none());
    let shown = cloud
        .get("/v2.1/os-keypairs/mine", "alice", "2.2")
        .await
        .expect(200);
    assert_eq!(shown["keypair"]["fingerprint"], ED25519_FINGERPRINT);
    assert_eq!(shown["keypair"]["user_id"], "alice");
    assert_eq!(shown["keypair"]["type"], "ssh");
    assert_eq!(shown["keypair"]["deleted"], false);

    // Generated below 2.92, refused from it.
    let generated = cloud
        .post(
            "/v2.1/os-keypairs",
            "alice",
            "2.91",
            json!({"keypair": {"name": "gen"}}),
        )
        .await
        .expect(201);
    assert!(
        generated["keypair"]["private_key"]
            .as_str()
            .unwrap()
            .contains("OPENSSH PRIVATE KEY")
    );
    cloud
        .post(
            "/v2.1/os-keypairs",
            "alice",
            "2.92",
            json!({"keypair": {"name": "gen2"}}),
        )
        .await
        .error(400);
    cloud
        .post(
            "/v2.1/os-keypairs",
            "alice",
            "2.92",
            json!({"keypair": {"name": "a@b.c", "public_key": ED25519}}),
        )
        .await
        .expect(201);
    cloud
        .post(
            "/v2.1/os-keypairs",
            "alice",
            "2.91",
            json!({"keypair": {"name": "a@b.d", "public_key": ED25519}}),
        )
        .await
        .error(400);
    cloud
        .post(
            "/v2.1/os-keypairs",
            "alice",
            "2.10",
            json!({"keypair": {"name": "mine", "public_key": ED25519}}),
        )
        .await
        .error(409);
    let bad = cloud
        .post(
            "/v2.1/os-keypairs",
            "alice",
            "2.10",
            json!({"keypair": {"name": "bad", "public_key": "ssh-rsa AAAA"}}),
        )
        .await;
    assert!(bad.error(400).contains("Keypair data is invalid"));

    // Another user's key pairs are not there; an administrator may name the user.
    cloud
        .get("/v2.1/os-keypairs/mine", "carol", "2.10")
        .await
        .error(404);
    let carols = cloud
        .get("/v2.1/os-keypairs", "carol", "2.10")
        .await
        .expect(200);
    assert_eq!(carols["keypairs"], json!([]));
    cloud
        .get("/v2.1/os-keypairs/mine?user_id=alice", "carol", "2.10")
        .await
        .error(403);
    cloud
        .get("/v2.1/os-keypairs/mine?user_id=alice", "admin", "2.10")
        .await
        .expect(200);
    cloud
        .delete("/v2.1/os-keypairs/mine", "carol", "2.10")
        .await
        .error(404);

    // Paginated from 2.35, by name.
    let page = cloud
        .get("/v2.1/os-keypairs?limit=1", "alice", "2.35")
        .await
        .expect(200);
    assert_eq!(page["keypairs"][0]["keypair"]["name"], "a@b.c");
    assert!(
        page["keypairs_links"][0]["href"]
            .as_str()
            .unwrap()
            .contains("marker=a%40b.c")
    );
    let all = cloud
        .get("/v2.1/os-keypairs?limit=1", "alice", "2.34")
        .await
        .expect(200);
    assert_eq!(all["keypairs"].as_array().unwrap().len(), 3);

    cloud
        .delete("/v2.1/os-keypairs/mine", "alice", "2.1")
        .await
        .expect(202);
    cloud
        .delete("/v2.1/os-keypairs/gen", "alice", "2.2")
        .await
        .expect(204);
    cloud
        .delete("/v2.1/os-keypairs/gen", "alice", "2.2")
        .await
        .error(404);
}

#[tokio::test]
async fn quotas_limit_creation_and_can_be_changed_by_administrators() {
    let cloud = Cloud::new();
    let network = cloud
        .networking
        .add_network("net-b", "project-b", false, 50);
    let limits = cloud.get("/v2.1/limits", "bob", "2.1").await.expect(200)["limits"].clone();
    let absolute = &limits["absolute"];
    assert_eq!(absolute["maxTotalInstances"], 10);
    assert_eq!(absolute["maxTotalCores"], 20);
    assert_eq!(absolute["maxTotalRAMSize"], 51200);
    assert_eq!(absolute["maxTotalKeypairs"], 100);
    assert_eq!(absolute["maxServerMeta"], 128);
    assert_eq!(absolute["maxServerGroups"], 10);
    assert_eq!(absolute["maxServerGroupMembers"], 10);
    assert_eq!(absolute["maxSecurityGroups"], 10);
    assert_eq!(absolute["maxPersonality"], 5);
    assert_eq!(limits["rate"], json!([]));
    let newer =
        cloud.get("/v2.1/limits", "bob", "2.57").await.expect(200)["limits"]["absolute"].clone();
    for gone in [
        "maxSecurityGroups",
        "maxTotalFloatingIps",
        "maxImageMeta",
        "maxPersonality",
    ] {
        assert!(newer.get(gone).is_none(), "{gone}");
    }

    let quota = cloud
        .get("/v2.1/os-quota-sets/project-b", "bob", "2.1")
        .await
        .expect(200)["quota_set"]
        .clone();
    assert_eq!(quota["id"], "project-b");
    assert_eq!(quota["instances"], 10);
    assert_eq!(quota["floating_ips"], 10);
    assert!(
        cloud
            .get("/v2.1/os-quota-sets/project-b", "bob", "2.57")
            .await
            .expect(200)["quota_set"]
            .get("injected_files")
            .is_none()
    );
    cloud
        .get("/v2.1/os-quota-sets/project-a", "bob", "2.1")
        .await
        .error(403);
    cloud
        .put(
            "/v2.1/os-quota-sets/project-b",
            "bob",
            "2.1",
            json!({"quota_set": {"instances": 1}}),
        )
        .await
        .error(403);
    cloud
        .put(
            "/v2.1/os-quota-sets/project-b",
            "admin",
            "2.1",
            json!({"quota_set": {"bogus": 1}}),
        )
        .await
        .error(400);
    cloud
        .put(
            "/v2.1/os-quota-sets/project-b",
            "admin",
            "2.36",
            json!({"quota_set": {"floating_ips": 1}}),
        )
        .await
        .error(400);
    let updated = cloud
        .put(
            "/v2.1/os-quota-sets/project-b",
            "admin",
            "2.1",
            json!({"quota_set": {"instances": 2, "cores": "8"}}),
        )
        .await
        .expect(200);
    assert_eq!(updated["quota_set"]["instances"], 2);
    assert_eq!(updated["quota_set"]["cores"], 8);

    // Asking for more than fits creates what fits, down to min_count.
    let mut body = server_body("many", "1", &network);
    body["max_count"] = json!(5);
    cloud.create_server("bob", "2.1", body).await;
    assert_eq!(cloud.server_count().await, 2);
    let message = cloud
        .post(
            "/v2.1/servers",
            "bob",
            "2.1",
            json!({"server": server_body("one-more", "1", &network)}),
        )
        .await
        .error(403);
    assert_eq!(
        message,
        "Quota exceeded for instances: Requested 1, but already used 2 of 2 instances"
    );
    assert_eq!(
        cloud.server_count().await,
        2,
        "a refused create records nothing"
    );

    let detail = cloud
        .get("/v2.1/os-quota-sets/project-b/detail", "bob", "2.1")
        .await
        .expect(200);
    assert_eq!(
        detail["quota_set"]["instances"],
        json!({"limit": 2, "in_use": 2, "reserved": 0})
    );
    assert_eq!(detail["quota_set"]["cores"]["in_use"], 2);
    cloud
        .put(
            "/v2.1/os-quota-sets/project-b",
            "admin",
            "2.1",
            json!({"quota_set": {"instances": 1}}),
        )
        .await
        .error(400);
    cloud
        .put(
            "/v2.1/os-quota-sets/project-b",
            "admin",
            "2.1",
            json!({"quota_set": {"instances": 1, "force": true}}),
        )
        .await
        .expect(200);

    // Cores: a large flavor hits them first.
    cloud
        .delete("/v2.1/os-quota-sets/project-b", "admin", "2.1")
        .await
        .expect(202);
    let message = cloud
        .post("/v2.1/servers", "bob", "2.1", json!({"server": {"name": "huge", "imageRef": IMAGE, "flavorRef": "5", "min_count": 3, "networks": [{"uuid": network}]}}))
        .await
        .error(403);
    assert!(
        message.starts_with("Quota exceeded for cores: Requested 24"),
        "{message}"
    );
    let defaults = cloud
        .get("/v2.1/os-quota-sets/project-b/defaults", "bob", "2.1")
        .await
        .expect(200);
    assert_eq!(defaults["quota_set"]["instances"], 10);
}

#[tokio::test]
async fn projects_are_isolated_and_readers_only_read() {
    let (cloud, network) = kubernetes_cloud();
    let id = cloud
        .create_server("alice", "2.37", server_body("private", "1", &network))
        .await;
    cloud.wait_for(&id, "ACTIVE").await;

    // Another project's server is a 404, whatever is asked of it.
    let path = format!("/v2.1/servers/{id}");
    cloud.get(&path, "bob", "2.1").await.error(404);
    cloud.delete(&path, "bob", "2.1").await.error(404);
    cloud
        .post(
            &format!("{path}/action"),
            "bob",
            "2.1",
            json!({"os-stop": null}),
        )
        .await
        .error(404);
    cloud
        .get(&format!("{path}/metadata"), "bob", "2.1")
        .await
        .error(404);
    cloud
        .get(&format!("{path}/os-interface"), "bob", "2.1")
        .await
        .error(404);
    let bobs = cloud.get("/v2.1/servers", "bob", "2.1").await.expect(200);
    assert_eq!(bobs["servers"], json!([]));
    cloud
        .get("/v2.1/servers?all_tenants=1", "bob", "2.1")
        .await
        .error(403);
    let everyone = cloud
        .get("/v2.1/servers/detail?all_tenants=True", "admin", "2.1")
        .await
        .expect(200);
    assert_eq!(everyone["servers"][0]["tenant_id"], "project-a");
    let admins_own = cloud.get("/v2.1/servers", "admin", "2.1").await.expect(200);
    assert_eq!(admins_own["servers"], json!([]));
    cloud.get(&path, "admin", "2.1").await.expect(200);

    // Another project's server group is a 404 too.
    let group = cloud
        .post(
            "/v2.1/os-server-groups",
            "alice",
            "2.64",
            json!({"server_group": {"name": "g", "policy": "affinity"}}),
        )
        .await
        .expect(200)["server_group"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    cloud
        .get(&format!("/v2.1/os-server-groups/{group}"), "bob", "2.64")
        .await
        .error(404);
    cloud
        .delete(&format!("/v2.1/os-server-groups/{group}"), "bob", "2.64")
        .await
        .error(404);

    // The reader role reads and nothing more.
    cloud.get(&path, "reader", "2.1").await.expect(200);
    cloud
        .get("/v2.1/servers/detail", "reader", "2.1")
        .await
        .expect(200);
    let refused = cloud
        .post(
            "/v2.1/servers",
            "reader",
            "2.37",
            json!({"server": server_body("r", "1", &network)}),
        )
        .await;
    assert!(refused.error(403).contains("os_compute_api:servers:create"));
    assert_eq!(refused.json()["forbidden"]["code"], 403);
    cloud.delete(&path, "reader", "2.1").await.error(403);
    cloud
        .post(
            &format!("{path}/action"),
            "reader",
            "2.1",
            json!({"reboot": {"type": "SOFT"}}),
        )
        .await
        .error(403);
    cloud
        .put(&path, "reader", "2.1", json!({"server": {"name": "x"}}))
        .await
        .error(403);
    cloud
        .post(
            &format!("{path}/metadata"),
            "reader",
            "2.1",
            json!({"metadata": {"a": "b"}}),
        )
        .await
        .error(403);
    cloud
        .post(
            "/v2.1/os-keypairs",
            "reader",
            "2.10",
            json!({"keypair": {"name": "k", "public_key": ED25519}}),
        )
        .await
        .error(403);
    cloud
        .post(
            "/v2.1/os-server-groups",
            "reader",
            "2.64",
            json!({"server_group": {"name": "g", "policy": "affinity"}}),
        )
        .await
        .error(403);
    assert_eq!(cloud.server(&id, "alice", "2.1").await["name"], "private");
}

#[tokio::test]
async fn a_failed_build_ends_in_error_with_a_fault_and_no_ports() {
    let (cloud, network) = kubernetes_cloud();
    cloud.driver.fail_spawns_of_image(BROKEN_IMAGE);
    let mut body = server_body("broken", "1", &network);
    body["imageRef"] = json!(BROKEN_IMAGE);
    let id = cloud.create_server("alice", "2.37", body).await;
    let server = cloud.wait_for(&id, "ERROR").await;
    assert_eq!(server["fault"]["code"], 500);
    let message = server["fault"]["message"].as_str().unwrap();
    assert!(
        message.contains(&id) && message.contains(BROKEN_IMAGE),
        "{message}"
    );
    assert!(server["fault"]["created"].as_str().unwrap().ends_with('Z'));
    assert_eq!(server["OS-EXT-STS:vm_state"], "error");
    assert!(cloud.networking.ports_of_device(&id).is_empty());
    assert_eq!(cloud.networking.port_count(), 0);
    assert_eq!(
        cloud.driver.state(&id).await.unwrap(),
        InstanceState::Absent
    );

    // A network without free addresses fails the build the same way.
    let tiny = cloud.networking.add_network("tiny", "project-a", false, 1);
    let mut body = server_body("two-nics", "1", &network);
    body["networks"] = json!([{"uuid": network}, {"uuid": tiny}, {"uuid": tiny}]);
    let id = cloud.create_server("alice", "2.37", body).await;
    let server = cloud.wait_for(&id, "ERROR").await;
    assert!(
        server["fault"]["message"]
            .as_str()
            .unwrap()
            .contains("No more IP addresses")
    );
    assert_eq!(
        cloud.networking.port_count(),
        0,
        "ports made before the failure are released"
    );

    // An ERROR server can be deleted.
    cloud
        .delete(&format!("/v2.1/servers/{id}"), "alice", "2.37")
        .await
        .expect(204);
    cloud.wait_gone(&id).await;
}

#[tokio::test]
async fn servers_stop_start_reboot_pause_and_lock() {
    let (cloud, network) = kubernetes_cloud();
    let id = cloud
        .create_server("alice", "2.73", server_body("vm", "1", &network))
        .await;
    cloud.wait_for(&id, "ACTIVE").await;
    let action = format!("/v2.1/servers/{id}/action");
    let act = |token: &'static str, body: Value| {
        let (cloud, action) = (&cloud, action.clone());
        async move { cloud.post(&action, token, "2.73", body).await }
    };

    act("alice", json!({"os-stop": null})).await.expect(202);
    let stopped = cloud.wait_for(&id, "SHUTOFF").await;
    assert_eq!(stopped["OS-EXT-STS:power_state"], 4);
    assert_eq!(stopped["OS-EXT-STS:vm_state"], "stopped");
    assert_eq!(
        cloud.driver.state(&id).await.unwrap(),
        InstanceState::Shutdown
    );
    let conflict = act("alice", json!({"os-stop": null})).await.error(409);
    assert_eq!(
        conflict,
        format!("Cannot 'stop' instance {id} while it is in vm_state stopped")
    );
    act("alice", json!({"reboot": {"type": "SOFT"}}))
        .await
        .error(409);
    act("alice", json!({"os-start": null})).await.expect(202);
    cloud.wait_for(&id, "ACTIVE").await;
    act("alice", json!({"reboot": {"type": "HARD"}}))
        .await
        .expect(202);
    cloud.wait_for(&id, "ACTIVE").await;
    act("alice", json!({"pause": null})).await.expect(202);
    assert_eq!(
        cloud.wait_for(&id, "PAUSED").await["OS-EXT-STS:power_state"],
        3
    );
    act("alice", json!({"unpause": null})).await.expect(202);
    cloud.wait_for(&id, "ACTIVE").await;

    // Nova tails the pieces between newlines: the last line and its
    // newline are the last two.
    let console = act("alice", json!({"os-getConsoleOutput": {"length": 2}}))
        .await
        .expect(200);
    assert_eq!(console["output"], "[fake] Hard reboot\n");
    let console = act("alice", json!({"os-getConsoleOutput": {"length": "-1"}}))
        .await
        .expect(200);
    assert!(
        console["output"]
            .as_str()
            .unwrap()
            .starts_with("[fake] vm booted")
    );

    // Locked by its owner: members cannot act, administrators can.
    act("alice", json!({"lock": {"locked_reason": "maintenance"}}))
        .await
        .expect(202);
    let locked = cloud.server(&id, "alice", "2.73").await;
    assert_eq!(
        (locked["locked"].clone(), locked["locked_reason"].clone()),
        (json!(true), json!("maintenance"))
    );
    assert!(
        act("carol", json!({"os-stop": null}))
            .await
            .error(409)
            .contains("is locked")
    );
    cloud
        .delete(&format!("/v2.1/servers/{id}"), "alice", "2.73")
        .await
        .error(409);
    let filtered = cloud
        .get("/v2.1/servers?locked=true", "alice", "2.73")
        .await
        .expect(200);
    assert_eq!(filtered["servers"].as_array().unwrap().len(), 1);
    cloud
        .get("/v2.1/servers?locked=true", "alice", "2.72")
        .await
        .error(400);
    act("admin", json!({"reboot": {"type": "HARD"}}))
        .await
        .expect(202);
    cloud.wait_for(&id, "ACTIVE").await;
    act("carol", json!({"unlock": null})).await.expect(202);

    // An administrator's lock needs an administrator to lift it.
    act("admin", json!({"lock": null})).await.expect(202);
    act("alice", json!({"unlock": null})).await.error(403);
    act("admin", json!({"unlock": null})).await.expect(202);
    assert_eq!(cloud.server(&id, "alice", "2.73").await["locked"], false);
}

#[tokio::test]
async fn metadata_tags_and_interfaces() {
    let (cloud, network) = kubernetes_cloud();
    let mut body = server_body("vm", "1", &network);
    body["metadata"] = json!({"role": "master"});
    body["tags"] = json!(["k8s"]);
    let id = cloud.create_server("alice", "2.52", body).await;
    cloud.wait_for(&id, "ACTIVE").await;
    let base = format!("/v2.1/servers/{id}");

    // Metadata.
    assert_eq!(
        cloud
            .get(&format!("{base}/metadata"), "alice", "2.1")
            .await
            .expect(200)["metadata"],
        json!({"role": "master"})
    );
    let merged = cloud
        .post(
            &format!("{base}/metadata"),
            "alice",
            "2.1",
            json!({"metadata": {"zone": "a"}}),
        )
        .await
        .expect(200);
    assert_eq!(merged["metadata"], json!({"role": "master", "zone": "a"}));
    let item = cloud
        .put(
            &format!("{base}/metadata/zone"),
            "alice",
            "2.1",
            json!({"meta": {"zone": "b"}}),
        )
        .await
        .expect(200);
    assert_eq!(item["meta"], json!({"zone": "b"}));
    cloud
        .put(
            &format!("{base}/metadata/zone"),
            "alice",
            "2.1",
            json!({"meta": {"other": "b"}}),
        )
        .await
        .error(400);
    assert_eq!(
        cloud
            .get(&format!("{base}/metadata/zone"), "alice", "2.1")
            .await
            .expect(200)["meta"]["zone"],
        "b"
    );
    cloud
        .delete(&format!("{base}/metadata/zone"), "alice", "2.1")
        .await
        .expect(204);
    cloud
        .get(&format!("{base}/metadata/zone"), "alice", "2.1")
        .await
        .error(404);
    let replaced = cloud
        .put(
            &format!("{base}/metadata"),
            "alice",
            "2.1",
            json!({"metadata": {"only": "this"}}),
        )
        .await
        .expect(200);
    assert_eq!(replaced["metadata"], json!({"only": "this"}));
    let too_many: serde_json::Map<String, Value> =
        (0..129).map(|i| (format!("k{i}"), json!("v"))).collect();
    assert!(
        cloud
            .put(
                &format!("{base}/metadata"),
                "alice",
                "2.1",
                json!({"metadata": too_many})
            )
            .await
            .error(403)
            .contains("metadata items")
    );
    assert_eq!(
        cloud.server(&id, "alice", "2.1").await["metadata"],
        json!({"only": "this"})
    );

    // Tags, from 2.26.
    cloud
        .get(&format!("{base}/tags"), "alice", "2.25")
        .await
        .error(404);
    assert_eq!(
        cloud
            .get(&format!("{base}/tags"), "alice", "2.26")
            .await
            .expect(200)["tags"],
        json!(["k8s"])
    );
    let added = cloud
        .send(
            Method::PUT,
            &format!("{base}/tags/etcd"),
            Some("alice"),
            Some("2.26"),
            None,
        )
        .await;
    assert_eq!(added.status, StatusCode::CREATED);
    assert!(
        added.headers["location"]
            .to_str()
            .unwrap()
            .ends_with("/tags/etcd")
    );
    let again = cloud
        .send(
            Method::PUT,
            &format!("{base}/tags/etcd"),
            Some("alice"),
            Some("2.26"),
            None,
        )
        .await;
    assert_eq!(again.status, StatusCode::NO_CONTENT);
    cloud
        .get(&format!("{base}/tags/etcd"), "alice", "2.26")
        .await
        .expect(204);
    let tagged = cloud
        .get("/v2.1/servers?tags=k8s,etcd", "alice", "2.26")
        .await
        .expect(200);
    assert_eq!(tagged["servers"].as_array().unwrap().len(), 1);
    let not_tagged = cloud
        .get("/v2.1/servers?not-tags-any=etcd", "alice", "2.26")
        .await
        .expect(200);
    assert_eq!(not_tagged["servers"], json!([]));
    cloud
        .delete(&format!("{base}/tags/etcd"), "alice", "2.26")
        .await
        .expect(204);
    cloud
        .delete(&format!("{base}/tags/etcd"), "alice", "2.26")
        .await
        .error(404);
    cloud
        .put(
            &format!("{base}/tags"),
            "alice",
            "2.26",
            json!({"tags": ["a", "b"]}),
        )
        .await
        .expect(200);
    cloud
        .put(
            &format!("{base}/tags"),
            "alice",
            "2.26",
            json!({"tags": ["bad/tag"]}),
        )
        .await
        .error(400);
    cloud
        .delete(&format!("{base}/tags"), "alice", "2.26")
        .await
        .expect(204);
    assert_eq!(cloud.server(&id, "alice", "2.26").await["tags"], json!([]));

    // Interfaces: attach a port on another network, see it, detach it.
    let storage = cloud
        .networking
        .add_network("storage", "project-a", false, 10);
    let listed = cloud
        .get(&format!("{base}/os-interface"), "alice", "2.1")
        .await
        .expect(200);
    assert_eq!(listed["interfaceAttachments"].as_array().unwrap().len(), 1);
    let attached = cloud
        .post(
            &format!("{base}/os-interface"),
            "alice",
            "2.70",
            json!({"interfaceAttachment": {"net_id": storage}}),
        )
        .await
        .expect(200)["interfaceAttachment"]
        .clone();
    assert_eq!(attached["net_id"], storage);
    assert_eq!(attached["port_state"], "ACTIVE");
    assert_eq!(attached["tag"], Value::Null);
    let port = attached["port_id"].as_str().unwrap().to_owned();
    assert_eq!(cloud.driver.spec(&id).unwrap().nics.len(), 2);
    cloud
        .get(&format!("{base}/os-interface/{port}"), "alice", "2.1")
        .await
        .expect(200);
    let user_port = cloud.networking.add_port(&storage, "project-a");
    cloud
        .post(
            &format!("{base}/os-interface"),
            "alice",
            "2.1",
            json!({"interfaceAttachment": {"port_id": user_port}}),
        )
        .await
        .expect(200);
    cloud
        .post(
            &format!("{base}/os-interface"),
            "alice",
            "2.1",
            json!({"interfaceAttachment": {"port_id": user_port, "net_id": storage}}),
        )
        .await
        .error(400);
    cloud
        .delete(&format!("{base}/os-interface/{port}"), "alice", "2.1")
        .await
        .expect(202);
    cloud
        .delete(&format!("{base}/os-interface/{user_port}"), "alice", "2.1")
        .await
        .expect(202);
    cloud
        .delete(&format!("{base}/os-interface/{port}"), "alice", "2.1")
        .await
        .error(404);
    assert_eq!(cloud.networking.ports_of_device(&id).len(), 1);
    assert_eq!(
        cloud.networking.port_count(),
        2,
        "the user's own port stays, unbound"
    );
    let addresses = cloud
        .get(&format!("{base}/ips"), "alice", "2.1")
        .await
        .expect(200);
    assert_eq!(addresses["addresses"]["kubenet"][0]["version"], 4);
    cloud
        .get(&format!("{base}/ips/kubenet"), "alice", "2.1")
        .await
        .expect(200);
    cloud
        .get(&format!("{base}/ips/storage"), "alice", "2.1")
        .await
        .error(404);
}

#[tokio::test]
async fn server_groups_and_the_single_host() {
    let (cloud, network) = kubernetes_cloud();
    let old = cloud
        .post(
            "/v2.1/os-server-groups",
            "alice",
            "2.1",
            json!({"server_group": {"name": "old", "policies": ["anti-affinity"]}}),
        )
        .await
        .expect(200);
    assert_eq!(old["server_group"]["policies"], json!(["anti-affinity"]));
    assert_eq!(old["server_group"]["metadata"], json!({}));
    assert!(old["server_group"].get("project_id").is_none());
    cloud
        .post(
            "/v2.1/os-server-groups",
            "alice",
            "2.1",
            json!({"server_group": {"name": "soft", "policies": ["soft-affinity"]}}),
        )
        .await
        .error(400);
    let group = cloud
        .post("/v2.1/os-server-groups", "alice", "2.64", json!({"server_group": {"name": "masters", "policy": "anti-affinity", "rules": {"max_server_per_host": 2}}}))
        .await
        .expect(200)["server_group"]
        .clone();
    assert_eq!(group["policy"], "anti-affinity");
    assert_eq!(group["rules"], json!({"max_server_per_host": 2}));
    assert_eq!(group["project_id"], "project-a");
    assert!(group.get("policies").is_none());
    let group_id = group["id"].as_str().unwrap().to_owned();

    // Two members fit the host; a third cannot be placed anywhere.
    let mut body = server_body("m", "1", &network);
    body["min_count"] = json!(3);
    let reply = cloud
        .post(
            "/v2.1/servers",
            "alice",
            "2.100",
            json!({"server": body, "OS-SCH-HNT:scheduler_hints": {"group": group_id}}),
        )
        .await;
    reply.expect(202);
    let listed = cloud
        .get("/v2.1/servers/detail", "alice", "2.100")
        .await
        .expect(200);
    let mut statuses = Vec::new();
    for server in listed["servers"].as_array().unwrap() {
        let id = server["id"].as_str().unwrap();
        assert_eq!(server["scheduler_hints"], json!({"group": group_id}));
        statuses.push(if server["name"] == "m-3" {
            let failed = cloud.wait_for(id, "ERROR").await;
            assert!(
                failed["fault"]["message"]
                    .as_str()
                    .unwrap()
                    .starts_with("No valid host was found")
            );
            "ERROR"
        } else {
            cloud.wait_for(id, "ACTIVE").await;
            "ACTIVE"
        });
    }
    statuses.sort();
    assert_eq!(statuses, ["ACTIVE", "ACTIVE", "ERROR"]);
    let shown = cloud
        .get(
            &format!("/v2.1/os-server-groups/{group_id}"),
            "alice",
            "2.64",
        )
        .await
        .expect(200);
    assert_eq!(
        shown["server_group"]["members"].as_array().unwrap().len(),
        3
    );
    let member = shown["server_group"]["members"][0].as_str().unwrap();
    assert_eq!(
        cloud.server(member, "alice", "2.71").await["server_groups"],
        json!([group_id])
    );

    let mine = cloud
        .get("/v2.1/os-server-groups", "alice", "2.64")
        .await
        .expect(200);
    assert_eq!(mine["server_groups"].as_array().unwrap().len(), 2);
    cloud
        .get("/v2.1/os-server-groups?all_projects=true", "alice", "2.64")
        .await
        .error(403);
    let limited = cloud
        .get("/v2.1/os-server-groups?limit=1&offset=1", "alice", "2.64")
        .await
        .expect(200);
    assert_eq!(limited["server_groups"][0]["name"], "masters");
    cloud
        .delete(
            &format!("/v2.1/os-server-groups/{group_id}"),
            "alice",
            "2.64",
        )
        .await
        .expect(204);
    cloud
        .get(
            &format!("/v2.1/os-server-groups/{group_id}"),
            "alice",
            "2.64",
        )
        .await
        .error(404);
    let bad_hint = cloud
        .post("/v2.1/servers", "alice", "2.100", json!({"server": server_body("x", "1", &network), "OS-SCH-HNT:scheduler_hints": {"group": group_id}}))
        .await;
    assert!(bad_hint.error(400).contains(&group_id));
}

#[tokio::test]
async fn resume_after_a_restart_re_drives_what_was_left() {
    let (cloud, network) = kubernetes_cloud();
    let running = cloud
        .create_server("alice", "2.37", server_body("running", "1", &network))
        .await;
    let stopped = cloud
        .create_server("alice", "2.37", server_body("stopped", "1", &network))
        .await;
    cloud.wait_for(&running, "ACTIVE").await;
    cloud.wait_for(&stopped, "ACTIVE").await;
    cloud
        .post(
            &format!("/v2.1/servers/{stopped}/action"),
            "alice",
            "2.37",
            json!({"os-stop": null}),
        )
        .await
        .expect(202);
    cloud.wait_for(&stopped, "SHUTOFF").await;
    let running_ports = cloud.networking.ports_of_device(&running);

    // A build the restart interrupts: the old driver never finishes it.
    cloud.driver.set_spawn_delay(Duration::from_secs(3600));
    let building = cloud
        .create_server("alice", "2.37", server_body("building", "1", &network))
        .await;
    for _ in 0..100 {
        if cloud.server(&building, "alice", "latest").await["OS-EXT-STS:task_state"] == "spawning" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // The host rebooted: its hypervisor has nothing but an instance that
    // belongs to no server.
    let rebooted = Arc::new(FakeDriver::new());
    let mut stray = rebooted_spec("stray");
    stray.nics.clear();
    rebooted.spawn(&stray).await.unwrap();
    let restarted = cloud.restarted(rebooted.clone());
    restarted.service.resume().await.unwrap();

    let server = restarted.server(&running, "alice", "latest").await;
    assert_eq!(server["status"], "ACTIVE");
    assert_eq!(
        rebooted.state(&running).await.unwrap(),
        InstanceState::Running
    );
    assert_eq!(
        rebooted.spec(&running).unwrap().nics[0].port_id,
        running_ports[0].id,
        "the instance comes back on its own ports"
    );
    assert_eq!(
        restarted.server(&stopped, "alice", "latest").await["status"],
        "SHUTOFF"
    );
    assert_eq!(
        rebooted.state(&stopped).await.unwrap(),
        InstanceState::Absent
    );
    assert_eq!(
        restarted.server(&building, "alice", "latest").await["status"],
        "ACTIVE"
    );
    assert_eq!(restarted.networking.ports_of_device(&building).len(), 1);
    assert_eq!(
        rebooted.state("stray").await.unwrap(),
        InstanceState::Absent
    );

    // A stopped server whose instance the host lost starts again when asked.
    restarted
        .post(
            &format!("/v2.1/servers/{stopped}/action"),
            "alice",
            "2.37",
            json!({"os-start": null}),
        )
        .await
        .expect(202);
    restarted.wait_for(&stopped, "ACTIVE").await;
    assert_eq!(
        rebooted.state(&stopped).await.unwrap(),
        InstanceState::Running
    );
}

fn rebooted_spec(id: &str) -> oxistack_virt::InstanceSpec {
    oxistack_virt::InstanceSpec {
        id: id.into(),
        name: id.into(),
        hostname: id.into(),
        project_id: "p".into(),
        availability_zone: "nova".into(),
        vcpus: 1,
        memory_mib: 64,
        root_disk_gib: 1,
        image: oxistack_virt::ImageSource {
            id: IMAGE.into(),
            path: None,
            disk_format: None,
        },
        nics: Vec::new(),
        config_drive: false,
        metadata: oxistack_virt::InstanceMetadata::default(),
        root_volume: None,
        volumes: Vec::new(),
    }
}

#[tokio::test]
async fn bad_input_is_a_clear_400_that_changes_nothing() {
    let (cloud, network) = kubernetes_cloud();
    let create = |server: Value, version: &'static str| {
        let cloud = &cloud;
        async move {
            cloud
                .post("/v2.1/servers", "alice", version, json!({"server": server}))
                .await
                .error(400)
        }
    };
    let good = server_body("vm", "1", &network);
    let with = |key: &str, value: Value| {
        let mut body = good.clone();
        body[key] = value;
        body
    };
    assert!(
        create(
            json!({"imageRef": IMAGE, "flavorRef": "1", "networks": "none"}),
            "2.37"
        )
        .await
        .contains("server.name")
    );
    assert!(
        create(with("flavorRef", json!("nope")), "2.37")
            .await
            .contains("Flavor nope could not be found")
    );
    assert!(
        create(
            with("imageRef", json!("1e3f8cd3-0be9-4b4d-bb8d-f4c1e69c1b4a")),
            "2.37"
        )
        .await
        .contains("could not be found")
    );
    let missing = "3b2e6a3e-5a0b-4b63-9d4e-53a2c7f4c1aa";
    assert!(
        create(with("networks", json!([{"uuid": missing}])), "2.37")
            .await
            .contains(&format!("Network {missing} could not be found"))
    );
    let mut no_networks = good.clone();
    no_networks.as_object_mut().unwrap().remove("networks");
    assert!(
        create(no_networks, "2.37")
            .await
            .contains("server.networks")
    );
    assert!(
        create(with("networks", json!("everything")), "2.37")
            .await
            .contains("server.networks")
    );
    assert!(
        create(with("user_data", json!("not base64!")), "2.37")
            .await
            .contains("server.user_data")
    );
    assert!(
        create(with("key_name", json!("missing")), "2.37")
            .await
            .contains("Invalid key_name")
    );
    assert!(
        create(
            with("security_groups", json!([{"name": "missing"}])),
            "2.37"
        )
        .await
        .contains("missing")
    );
    assert!(
        create(with("max_count", json!("many")), "2.37")
            .await
            .contains("server.max_count")
    );
    assert!(
        create(with("metadata", json!({"k": "v".repeat(256)})), "2.37")
            .await
            .contains("server.metadata.k")
    );
    assert!(
        create(with("tags", json!(["t"])), "2.51")
            .await
            .contains("server.tags")
    );
    assert!(
        create(with("availability_zone", json!("elsewhere")), "2.37")
            .await
            .contains("availability zone")
    );
    assert!(
        create(with("unknown", json!(1)), "2.37")
            .await
            .contains("unknown")
    );
    let malformed = cloud
        .send(
            Method::POST,
            "/v2.1/servers",
            Some("alice"),
            Some("2.37"),
            None,
        )
        .await;
    malformed.error(400);
    let mut request = axum::http::Request::builder()
        .method(Method::POST)
        .uri("/compute/v2.1/servers")
        .header("x-auth-token", "alice");
    request = request.header("content-type", "application/json");
    use tower::ServiceExt;
    let response = cloud
        .router
        .clone()
        .oneshot(
            request
                .body(axum::body::Body::from("{\"server\": "))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        cloud.server_count().await,
        0,
        "no refused create recorded anything"
    );
    assert_eq!(cloud.networking.port_count(), 0);

    let id = cloud.create_server("alice", "2.37", good.clone()).await;
    cloud.wait_for(&id, "ACTIVE").await;
    let action = format!("/v2.1/servers/{id}/action");
    for (body, field) in [
        (json!({"reboot": {}}), "reboot.type"),
        (json!({"reboot": {"type": "GENTLE"}}), "reboot.type"),
        (json!({"fly": null}), "no such action: fly"),
        (json!({"os-stop": null, "os-start": null}), "exactly one"),
        (json!({"addSecurityGroup": {}}), "addSecurityGroup.name"),
        (json!({"os-getConsoleOutput": {"length": -2}}), "length"),
        (
            json!({"addFloatingIp": {"address": "not-an-ip"}}),
            "addFloatingIp.address",
        ),
        (
            json!({"lock": {"locked_reason": "why"}}),
            "lock.locked_reason",
        ),
    ] {
        let message = cloud
            .post(&action, "alice", "2.43", body.clone())
            .await
            .error(400);
        assert!(message.contains(field), "{body}: {message}");
    }
    for (query, version) in [
        ("limit=-1", "2.1"),
        ("limit=ten", "2.1"),
        ("marker=8c1f2b8e-5a0b-4b63-9d4e-53a2c7f4c1aa", "2.1"),
        ("status=SLEEPING", "2.38"),
        ("bogus=1", "2.75"),
        ("sort_key=secret", "2.1"),
        ("changes-since=yesterday", "2.1"),
        ("name=%28", "2.1"),
    ] {
        cloud
            .get(&format!("/v2.1/servers?{query}"), "alice", version)
            .await
            .error(400);
    }
    let before = cloud
        .get("/v2.1/servers?status=SLEEPING", "alice", "2.37")
        .await
        .expect(200);
    assert_eq!(
        before["servers"],
        json!([]),
        "before 2.38 an unknown status matches nothing"
    );
    cloud
        .get("/v2.1/servers?bogus=1", "alice", "2.74")
        .await
        .expect(200);
    let unsupported = cloud
        .post(&action, "alice", "2.37", json!({"suspend": null}))
        .await;
    assert!(unsupported.error(501).contains("'suspend'"));
    cloud
        .put(
            &format!("/v2.1/servers/{id}"),
            "alice",
            "2.37",
            json!({"server": {"name": ""}}),
        )
        .await
        .error(400);
    cloud
        .put(
            &format!("/v2.1/servers/{id}"),
            "alice",
            "2.37",
            json!({"server": {"color": "red"}}),
        )
        .await
        .error(400);
    cloud
        .post(
            &format!("/v2.1/servers/{id}/metadata"),
            "alice",
            "2.37",
            json!({"metadata": {"k": 1}}),
        )
        .await
        .error(400);
    cloud
        .post(
            "/v2.1/flavors",
            "admin",
            "2.37",
            json!({"flavor": {"name": "f", "ram": 0, "vcpus": 1, "disk": 1}}),
        )
        .await
        .error(400);
    cloud
        .post(
            "/v2.1/flavors",
            "admin",
            "2.37",
            json!({"flavor": {"name": "f", "ram": 1, "vcpus": 1, "disk": 1, "id": "a/b"}}),
        )
        .await
        .error(400);
    cloud
        .post(
            "/v2.1/os-keypairs",
            "alice",
            "2.37",
            json!({"keypair": {"name": "bad!name", "public_key": ED25519}}),
        )
        .await
        .error(400);
    cloud
        .post(
            "/v2.1/os-server-groups",
            "alice",
            "2.64",
            json!({"server_group": {"name": "g", "policy": "together"}}),
        )
        .await
        .error(400);
    cloud
        .get("/v2.1/servers/not-a-server", "alice", "2.37")
        .await
        .error(404);
    let unchanged = cloud.server(&id, "alice", "2.37").await;
    assert_eq!(unchanged["name"], "vm");
    assert_eq!(unchanged["metadata"], json!({}));
    assert_eq!(cloud.server_count().await, 1);
}

#[tokio::test]
async fn the_host_shows_as_one_hypervisor_zone_and_set_of_services() {
    let cloud = Cloud::new();
    let zones = cloud
        .get("/v2.1/os-availability-zone", "alice", "2.1")
        .await
        .expect(200);
    assert_eq!(
        zones["availabilityZoneInfo"],
        json!([{"zoneName": "nova", "zoneState": {"available": true}, "hosts": null}])
    );
    cloud
        .get("/v2.1/os-availability-zone/detail", "alice", "2.1")
        .await
        .error(403);
    let detail = cloud
        .get("/v2.1/os-availability-zone/detail", "admin", "2.1")
        .await
        .expect(200);
    assert_eq!(
        detail["availabilityZoneInfo"][1]["hosts"]["fake-host"]["nova-compute"]["available"],
        true
    );

    cloud
        .get("/v2.1/os-services", "alice", "2.1")
        .await
        .error(403);
    let services = cloud
        .get("/v2.1/os-services", "admin", "2.1")
        .await
        .expect(200);
    let binaries: Vec<&str> = services["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["binary"].as_str().unwrap())
        .collect();
    assert_eq!(
        binaries,
        ["nova-conductor", "nova-scheduler", "nova-compute"]
    );
    assert_eq!(services["services"][2]["id"], 3);
    let uuids = cloud
        .get("/v2.1/os-services?binary=nova-compute", "admin", "2.53")
        .await
        .expect(200);
    assert_eq!(uuids["services"].as_array().unwrap().len(), 1);
    assert_eq!(uuids["services"][0]["id"].as_str().unwrap().len(), 36);
    assert_eq!(uuids["services"][0]["forced_down"], false);

    // One host that neither resizes nor migrates: no migrations, for
    // administrators only.
    cloud
        .get("/v2.1/os-migrations", "alice", "2.1")
        .await
        .error(403);
    let migrations = cloud
        .get("/v2.1/os-migrations", "admin", "2.1")
        .await
        .expect(200);
    assert_eq!(migrations, json!({"migrations": []}));

    let old = cloud
        .get("/v2.1/os-hypervisors/detail", "admin", "2.1")
        .await
        .expect(200);
    let hypervisor = &old["hypervisors"][0];
    assert_eq!(hypervisor["id"], 1);
    assert_eq!(hypervisor["vcpus"], 16);
    assert_eq!(hypervisor["memory_mb_used"], 512);
    assert!(hypervisor["cpu_info"].is_string());
    cloud
        .get("/v2.1/os-hypervisors/1", "admin", "2.1")
        .await
        .expect(200);
    let sdk = cloud
        .get(
            "/v2.1/os-hypervisors/detail?with_servers=true",
            "admin",
            "2.88",
        )
        .await
        .expect(200);
    let hypervisor = &sdk["hypervisors"][0];
    assert!(hypervisor.get("vcpus").is_none());
    assert_eq!(hypervisor["servers"], json!([]));
    let uuid = hypervisor["id"].as_str().unwrap();
    let shown = cloud
        .get(&format!("/v2.1/os-hypervisors/{uuid}"), "admin", "2.88")
        .await
        .expect(200);
    assert!(
        shown["hypervisor"]["uptime"]
            .as_str()
            .unwrap()
            .contains("up")
    );
    cloud
        .get("/v2.1/os-hypervisors/1", "admin", "2.53")
        .await
        .error(400);
    cloud
        .get("/v2.1/os-hypervisors", "alice", "2.1")
        .await
        .error(403);
}

/// A server's background work runs under the cloud's supervisor: shutdown
/// waits for a build under way instead of cutting it off in the middle.
#[tokio::test]
async fn shutdown_waits_for_a_build_under_way() {
    let (cloud, network) = kubernetes_cloud();
    cloud.driver.set_spawn_delay(Duration::from_millis(300));
    let id = cloud
        .create_server("alice", "2.37", server_body("slow", "1", &network))
        .await;
    let overran = cloud.tasks.shutdown(Duration::from_secs(10)).await;
    assert!(overran.is_empty(), "{overran:?}");
    assert_eq!(
        cloud.driver.state(&id).await.unwrap(),
        InstanceState::Running,
        "shutdown returned before the build finished"
    );
    assert_eq!(
        cloud.server(&id, "admin", "latest").await["status"],
        "ACTIVE"
    );
}
