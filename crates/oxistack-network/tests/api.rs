//! The networking API driven end to end through its router, with a fake
//! token validator (an admin, the demo project, two member projects and a
//! reader) and the fake data plane.

mod support;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{Method, StatusCode};
use oxistack_contracts::{PortRequest, PortSummary};
use oxistack_http::ApiError;
use oxistack_netplane::{FakeDataPlane, PortMatch, Remote};
use oxistack_network::NetworkService;
use oxistack_tasks::Supervisor;
use oxistack_testkit::Call;
use serde_json::{Value, json};
use support::*;

#[tokio::test]
async fn version_discovery_is_open_and_the_api_needs_a_token() {
    let cloud = cloud();
    let nested = Router::new().nest("/networking", cloud.router.clone());
    let response = Call::new(Method::GET, "/networking")
        .header("host", "192.0.2.1:8080")
        .send(&nested)
        .await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(
        response.json(),
        json!({"versions": [{"id": "v2.0", "status": "CURRENT",
                             "links": [{"href": "http://192.0.2.1:8080/networking/v2.0/", "rel": "self"}]}]})
    );

    cloud
        .call(Method::GET, "/v2.0/networks", None, None)
        .await
        .error(401, "NotAuthorized");
    cloud
        .call(Method::GET, "/v2.0/networks", Some("forged"), None)
        .await
        .error(401, "NotAuthorized");
    cloud
        .get("/v2.0/nothing-here", "alice")
        .await
        .error(404, "NotFound");
    cloud
        .call(
            Method::PUT,
            "/v2.0/security-group-rules/x",
            Some("alice"),
            Some(json!({})),
        )
        .await
        .error(405, "MethodNotAllowed");

    let resources = cloud.list("/v2.0", "alice", "resources").await;
    assert!(
        resources
            .iter()
            .any(|r| r["collection"] == "floatingips" && r["name"] == "floatingip")
    );
}

#[tokio::test]
async fn extensions_list_what_is_implemented() {
    let cloud = cloud();
    let extensions = cloud.list("/v2.0/extensions", "alice", "extensions").await;
    let aliases: Vec<&str> = extensions
        .iter()
        .map(|e| e["alias"].as_str().unwrap())
        .collect();
    for alias in [
        "security-group",
        "router",
        "external-net",
        "extraroute",
        "allowed-address-pairs",
        "port-security",
        "binding",
        "quotas",
        "standard-attr-tag",
        "standard-attr-description",
        "standard-attr-timestamp",
        "net-mtu",
        "provider",
        "availability_zone",
        "ext-gw-mode",
        "extraroute-atomic",
    ] {
        assert!(aliases.contains(&alias), "{alias} missing");
    }
    for absent in [
        "dns-integration",
        "qos",
        "subnet_allocation",
        "external-gateway-multihoming",
        "agent",
    ] {
        assert!(!aliases.contains(&absent), "{absent} listed");
    }
    let router = cloud.get("/v2.0/extensions/router", "alice").await;
    assert_eq!(router.ok(200)["extension"]["name"], "Neutron L3 Router");
    cloud
        .get("/v2.0/extensions/external-gateway-multihoming", "alice")
        .await
        .error(404, "ExtensionNotFound");
    // The CLI finds the availability zone extension by name, then lists zones.
    assert!(extensions.iter().any(|e| e["name"] == "Availability Zone"));
    let zones = cloud
        .list("/v2.0/availability_zones", "alice", "availability_zones")
        .await;
    assert_eq!(
        zones[0],
        json!({"name": "nova", "resource": "network", "state": "available"})
    );
}

#[tokio::test]
async fn bootstrap_creates_devstacks_networks_once() {
    let cloud = cloud();
    let networks = cloud.list("/v2.0/networks", "admin", "networks").await;
    assert_eq!(names(&networks), ["public", "shared", "private"]);
    let public = &networks[0];
    assert_eq!(public["router:external"], true);
    assert_eq!(public["project_id"], ADMIN_PROJECT);
    assert_eq!(public["provider:network_type"], "flat");
    assert_eq!(public["provider:physical_network"], "public");
    assert_eq!(public["mtu"], 1500);
    assert_eq!(networks[1]["shared"], true);
    let private = &networks[2];
    assert_eq!(
        (
            private["project_id"].as_str(),
            private["tenant_id"].as_str()
        ),
        (Some(DEMO_PROJECT), Some(DEMO_PROJECT))
    );
    assert_eq!(private["provider:network_type"], "vxlan");
    assert_eq!(private["mtu"], 1450);
    assert_eq!(private["status"], "ACTIVE");

    let subnets = cloud.list("/v2.0/subnets", "admin", "subnets").await;
    assert_eq!(
        names(&subnets),
        ["public-subnet", "shared-subnet", "private-subnet"]
    );
    assert_eq!(subnets[0]["enable_dhcp"], false);
    assert_eq!(subnets[0]["gateway_ip"], "172.24.4.1");
    assert_eq!(
        subnets[0]["allocation_pools"],
        json!([{"start": "172.24.4.2", "end": "172.24.4.254"}])
    );
    assert_eq!(subnets[1]["cidr"], "192.168.233.0/24");
    assert_eq!(subnets[2]["cidr"], "10.0.0.0/26");
    assert_eq!(subnets[2]["gateway_ip"], "10.0.0.1");
    assert_eq!(
        subnets[2]["allocation_pools"],
        json!([{"start": "10.0.0.2", "end": "10.0.0.62"}])
    );

    let routers = cloud.list("/v2.0/routers", "demo", "routers").await;
    assert_eq!(names(&routers), ["router1"]);
    let gateway = &routers[0]["external_gateway_info"];
    assert_eq!(gateway["network_id"], public["id"]);
    assert_eq!(gateway["enable_snat"], true);
    assert_eq!(gateway["external_fixed_ips"][0]["ip_address"], "172.24.4.2");
    let router_id = routers[0]["id"].as_str().unwrap();
    let interfaces = cloud
        .list(
            &format!("/v2.0/ports?device_id={router_id}&device_owner=network:router_interface"),
            "demo",
            "ports",
        )
        .await;
    assert_eq!(interfaces[0]["fixed_ips"][0]["ip_address"], "10.0.0.1");
    let dhcp = cloud
        .list("/v2.0/ports?device_owner=network:dhcp", "admin", "ports")
        .await;
    let dhcp_ips: Vec<&Value> = dhcp
        .iter()
        .map(|p| &p["fixed_ips"][0]["ip_address"])
        .collect();
    assert_eq!(dhcp_ips, [&json!("192.168.233.2"), &json!("10.0.0.2")]);

    // A second start, with a new service on the same database, changes nothing.
    let ports_before = cloud.list("/v2.0/ports", "admin", "ports").await;
    let again = NetworkService::new(
        cloud.db.clone(),
        Arc::new(FakeDataPlane::new()),
        &Supervisor::new(),
    );
    again.bootstrap(&defaults()).unwrap();
    cloud.service.bootstrap(&defaults()).unwrap();
    assert_eq!(
        cloud.list("/v2.0/networks", "admin", "networks").await,
        networks
    );
    assert_eq!(
        cloud.list("/v2.0/ports", "admin", "ports").await,
        ports_before
    );
    assert_eq!(cloud.count("/v2.0/routers", "routers").await, 1);
}

#[tokio::test]
async fn the_seeds_flow_works() {
    let cloud = cloud();
    // openstack network create kubenet
    let network = cloud
        .create(
            "alice",
            "network",
            json!({"name": "kubenet", "admin_state_up": true}),
        )
        .await;
    let network_id = network["id"].as_str().unwrap();
    assert_eq!(network["mtu"], 1450);
    assert_eq!(network["port_security_enabled"], true);
    assert!(
        network.get("provider:network_type").is_none(),
        "provider attributes are the admin's"
    );
    // openstack subnet create --network kubenet --subnet-range 172.16.0.0/24 --dns-nameserver 8.8.8.8
    let subnet = cloud
        .create(
            "alice",
            "subnet",
            json!({"name": "kubesubnet", "network_id": network_id, "ip_version": 4,
                   "cidr": "172.16.0.0/24", "dns_nameservers": ["8.8.8.8"]}),
        )
        .await;
    let subnet_id = subnet["id"].as_str().unwrap();
    assert_eq!(subnet["gateway_ip"], "172.16.0.1");
    assert_eq!(subnet["dns_nameservers"], json!(["8.8.8.8"]));
    assert_eq!(subnet["enable_dhcp"], true);
    // openstack router create kuberouter; router set --external-gateway public
    let router = cloud
        .create("alice", "router", json!({"name": "kuberouter"}))
        .await;
    let router_id = router["id"].as_str().unwrap();
    assert_eq!(router["external_gateway_info"], Value::Null);
    let public = cloud.id_of("network", "public").await;
    let set = cloud
        .put(
            &format!("/v2.0/routers/{router_id}"),
            "alice",
            json!({"router": {"external_gateway_info": {"network_id": public}}}),
        )
        .await;
    let gateway = &set.ok(200)["router"]["external_gateway_info"];
    assert_eq!(gateway["enable_snat"], true);
    assert_eq!(
        gateway["external_fixed_ips"][0]["ip_address"], "172.24.4.3",
        "router1's gateway has .2"
    );
    // openstack router add subnet kuberouter kubesubnet
    let added = cloud
        .put(
            &format!("/v2.0/routers/{router_id}/add_router_interface"),
            "alice",
            json!({"subnet_id": subnet_id}),
        )
        .await;
    let info = added.ok(200).clone();
    assert_eq!(info["id"], router_id);
    assert_eq!(info["subnet_id"], subnet_id);
    assert_eq!(info["subnet_ids"], json!([subnet_id]));
    assert_eq!(info["network_id"], network_id);
    assert_eq!(info["project_id"], "project-a");
    assert_eq!(info["tenant_id"], "project-a");
    let interface = cloud
        .get(
            &format!("/v2.0/ports/{}", info["port_id"].as_str().unwrap()),
            "alice",
        )
        .await;
    assert_eq!(
        interface.ok(200)["port"]["fixed_ips"],
        json!([{"subnet_id": subnet_id, "ip_address": "172.16.0.1"}])
    );
    assert_eq!(
        interface.body["port"]["device_owner"],
        "network:router_interface"
    );

    // openstack security group create kubesg, and its rules.
    let group = cloud
        .create(
            "alice",
            "security_group",
            json!({"name": "kubesg", "description": "kubesg"}),
        )
        .await;
    let group_id = group["id"].as_str().unwrap();
    assert_eq!(
        group["security_group_rules"].as_array().unwrap().len(),
        2,
        "egress IPv4 and IPv6"
    );
    let icmp = cloud
        .create(
            "alice",
            "security_group_rule",
            cli_rule(group_id, "icmp", None),
        )
        .await;
    assert_eq!(icmp["protocol"], "icmp");
    assert_eq!(icmp["port_range_min"], Value::Null);
    for (protocol, ports) in [
        ("TCP", (22, 22)),
        ("tcp", (2379, 2380)),
        ("tcp", (30000, 32767)),
        ("tcp", (6781, 6784)),
        ("udp", (8285, 8285)),
        ("udp", (8472, 8472)),
        ("udp", (6783, 6784)),
    ] {
        let rule = cloud
            .create(
                "alice",
                "security_group_rule",
                cli_rule(group_id, protocol, Some(ports)),
            )
            .await;
        assert_eq!(rule["protocol"], protocol.to_lowercase());
        assert_eq!(
            (
                rule["port_range_min"].as_u64(),
                rule["port_range_max"].as_u64()
            ),
            (Some(ports.0 as u64), Some(ports.1 as u64))
        );
        assert_eq!(rule["remote_ip_prefix"], "0.0.0.0/0");
        assert_eq!(rule["security_group_id"], group_id);
        assert_eq!(rule["project_id"], "project-a");
    }
    let rules = cloud
        .list(
            &format!("/v2.0/security-group-rules?security_group_id={group_id}"),
            "alice",
            "security_group_rules",
        )
        .await;
    assert_eq!(rules.len(), 10);

    // A server's port on kubenet, with the group.
    let port = cloud
        .create("alice", "port", json!({"network_id": network_id, "security_groups": [group_id], "device_id": "server-1", "device_owner": "compute:nova"}))
        .await;
    let port_id = port["id"].as_str().unwrap();
    assert_eq!(
        port["fixed_ips"][0]["ip_address"], "172.16.0.3",
        ".1 is the router's, .2 the DHCP server's"
    );
    assert_eq!(port["status"], "ACTIVE");
    assert_eq!(port["security_groups"], json!([group_id]));
    assert!(
        port["mac_address"]
            .as_str()
            .unwrap()
            .starts_with("fa:16:3e:")
    );

    // openstack floating ip create public; floating ip set --port; unset --port
    let floating = cloud
        .create(
            "alice",
            "floatingip",
            json!({"floating_network_id": public}),
        )
        .await;
    let floating_id = floating["id"].as_str().unwrap();
    assert_eq!(floating["floating_ip_address"], "172.24.4.4");
    assert_eq!(floating["status"], "DOWN");
    assert_eq!(floating["port_id"], Value::Null);
    let associated = cloud
        .put(
            &format!("/v2.0/floatingips/{floating_id}"),
            "alice",
            json!({"floatingip": {"port_id": port_id}}),
        )
        .await;
    let associated = associated.ok(200)["floatingip"].clone();
    assert_eq!(associated["port_id"], port_id);
    assert_eq!(associated["fixed_ip_address"], "172.16.0.3");
    assert_eq!(associated["router_id"], router_id);
    assert_eq!(associated["status"], "ACTIVE");
    let by_port = cloud
        .list(
            &format!("/v2.0/floatingips?port_id={port_id}"),
            "alice",
            "floatingips",
        )
        .await;
    assert_eq!(ids(&by_port), [floating_id]);
    let by_router = cloud
        .list(
            &format!("/v2.0/floatingips?router_id={router_id}&status=ACTIVE"),
            "alice",
            "floatingips",
        )
        .await;
    assert_eq!(ids(&by_router), [floating_id]);
    let by_address = cloud
        .list(
            "/v2.0/floatingips?floating_ip_address=172.24.4.4",
            "alice",
            "floatingips",
        )
        .await;
    assert_eq!(ids(&by_address), [floating_id]);

    // The router cannot lose what the floating IP needs.
    cloud
        .put(
            &format!("/v2.0/routers/{router_id}/remove_router_interface"),
            "alice",
            json!({"subnet_id": subnet_id}),
        )
        .await
        .error(409, "RouterInterfaceInUseByFloatingIP");
    cloud
        .put(
            &format!("/v2.0/routers/{router_id}"),
            "alice",
            json!({"router": {"external_gateway_info": {}}}),
        )
        .await
        .error(409, "RouterExternalGatewayInUseByFloatingIp");

    let disassociated = cloud
        .put(
            &format!("/v2.0/floatingips/{floating_id}"),
            "alice",
            json!({"floatingip": {"port_id": null}}),
        )
        .await;
    let disassociated = &disassociated.ok(200)["floatingip"];
    assert_eq!(
        (
            &disassociated["port_id"],
            &disassociated["router_id"],
            &disassociated["status"]
        ),
        (&Value::Null, &Value::Null, &json!("DOWN"))
    );
    assert_eq!(disassociated["revision_number"], 2);

    // Tear-down in the CLI's order.
    cloud
        .delete(&format!("/v2.0/floatingips/{floating_id}"), "alice")
        .await
        .ok(204);
    cloud
        .delete(&format!("/v2.0/ports/{port_id}"), "alice")
        .await
        .ok(204);
    cloud
        .delete(&format!("/v2.0/routers/{router_id}"), "alice")
        .await
        .error(409, "RouterInUse");
    let removed = cloud
        .put(
            &format!("/v2.0/routers/{router_id}/remove_router_interface"),
            "alice",
            json!({"subnet_id": subnet_id}),
        )
        .await;
    assert_eq!(removed.ok(200)["port_id"], info["port_id"]);
    cloud
        .delete(&format!("/v2.0/routers/{router_id}"), "alice")
        .await
        .ok(204);
    cloud
        .delete(&format!("/v2.0/security-groups/{group_id}"), "alice")
        .await
        .ok(204);
    cloud
        .delete(&format!("/v2.0/networks/{network_id}"), "alice")
        .await
        .ok(204);
    assert!(
        cloud
            .list("/v2.0/ports?tenant_id=project-a", "admin", "ports")
            .await
            .is_empty()
    );
    let gateway_ports = cloud
        .list(
            "/v2.0/ports?device_owner=network:router_gateway",
            "admin",
            "ports",
        )
        .await;
    assert_eq!(gateway_ports.len(), 1, "only router1's gateway is left");
}

#[tokio::test]
async fn every_project_gets_a_default_security_group() {
    let cloud = cloud();
    let groups = cloud
        .list("/v2.0/security-groups", "alice", "security_groups")
        .await;
    assert_eq!(names(&groups), ["default"]);
    let default = &groups[0];
    let default_id = default["id"].as_str().unwrap();
    assert_eq!(default["project_id"], "project-a");
    assert_eq!(default["stateful"], true);
    let rules: Vec<(String, String, Value)> = default["security_group_rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r["protocol"], Value::Null);
            assert_eq!(r["remote_ip_prefix"], Value::Null);
            (
                r["direction"].as_str().unwrap().into(),
                r["ethertype"].as_str().unwrap().into(),
                r["remote_group_id"].clone(),
            )
        })
        .collect();
    let own = json!(default_id);
    let mut expected = vec![
        ("egress".to_owned(), "IPv4".to_owned(), Value::Null),
        ("egress".into(), "IPv6".into(), Value::Null),
        ("ingress".into(), "IPv4".into(), own.clone()),
        ("ingress".into(), "IPv6".into(), own),
    ];
    let mut sorted = rules.clone();
    sorted.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    expected.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    assert_eq!(sorted, expected);
    // Listing again does not make another.
    assert_eq!(
        cloud
            .list("/v2.0/security-groups", "alice", "security_groups")
            .await
            .len(),
        1
    );

    cloud
        .delete(&format!("/v2.0/security-groups/{default_id}"), "alice")
        .await
        .error(409, "SecurityGroupCannotRemoveDefault");
    cloud
        .put(
            &format!("/v2.0/security-groups/{default_id}"),
            "alice",
            json!({"security_group": {"name": "other"}}),
        )
        .await
        .error(409, "SecurityGroupCannotUpdateDefault");
    cloud
        .post(
            "/v2.0/security-groups",
            "alice",
            json!({"security_group": {"name": "default"}}),
        )
        .await
        .error(409, "SecurityGroupDefaultAlreadyExists");
    let described = cloud
        .put(
            &format!("/v2.0/security-groups/{default_id}"),
            "alice",
            json!({"security_group": {"description": "mine"}}),
        )
        .await;
    assert_eq!(described.ok(200)["security_group"]["description"], "mine");

    // A port without groups gets the default one (bob's, made on the way);
    // without port security, none.
    let shared = cloud.id_of("network", "shared").await;
    let port = cloud
        .create("bob", "port", json!({"network_id": shared}))
        .await;
    let bob_default = cloud
        .list(
            "/v2.0/security-groups?name=default",
            "bob",
            "security_groups",
        )
        .await;
    assert_eq!(port["security_groups"], json!([bob_default[0]["id"]]));
    let unfiltered = cloud
        .create(
            "bob",
            "port",
            json!({"network_id": shared, "port_security_enabled": false}),
        )
        .await;
    assert_eq!(unfiltered["security_groups"], json!([]));
    cloud
        .post("/v2.0/ports", "bob", json!({"port": {"network_id": shared, "port_security_enabled": false, "security_groups": [bob_default[0]["id"]]}}))
        .await
        .error(400, "PortSecurityAndIPRequiredForSecurityGroups");
    let port_id = port["id"].as_str().unwrap();
    cloud
        .put(
            &format!("/v2.0/ports/{port_id}"),
            "bob",
            json!({"port": {"port_security_enabled": false}}),
        )
        .await
        .error(409, "PortSecurityPortHasSecurityGroup");
    // A group a port uses cannot go; another project's group cannot be used.
    let group = cloud
        .create("bob", "security_group", json!({"name": "web"}))
        .await;
    let group_id = group["id"].as_str().unwrap();
    cloud
        .put(
            &format!("/v2.0/ports/{port_id}"),
            "bob",
            json!({"port": {"security_groups": [group_id]}}),
        )
        .await
        .ok(200);
    cloud
        .delete(&format!("/v2.0/security-groups/{group_id}"), "bob")
        .await
        .error(409, "SecurityGroupInUse");
    cloud
        .put(
            &format!("/v2.0/ports/{port_id}"),
            "bob",
            json!({"port": {"security_groups": [default_id]}}),
        )
        .await
        .error(404, "SecurityGroupNotFound");
}

#[tokio::test]
async fn duplicate_rules_are_refused() {
    let cloud = cloud();
    let group = cloud
        .create("alice", "security_group", json!({"name": "dup"}))
        .await;
    let group_id = group["id"].as_str().unwrap();
    let first = cloud
        .create(
            "alice",
            "security_group_rule",
            cli_rule(group_id, "tcp", Some((22, 22))),
        )
        .await;
    let first_id = first["id"].as_str().unwrap();
    // The same rule, however it is spelt: by number, without the
    // everything-prefix, in other case.
    for same in [
        cli_rule(group_id, "tcp", Some((22, 22))),
        cli_rule(group_id, "6", Some((22, 22))),
        json!({"security_group_id": group_id, "direction": "ingress", "protocol": "TCP", "port_range_min": 22, "port_range_max": 22}),
    ] {
        let message = cloud
            .post(
                "/v2.0/security-group-rules",
                "alice",
                json!({"security_group_rule": same}),
            )
            .await
            .error(409, "SecurityGroupRuleExists");
        assert!(message.contains(first_id), "{message}");
    }
    // Different enough: another port, another prefix, egress.
    cloud
        .create(
            "alice",
            "security_group_rule",
            cli_rule(group_id, "tcp", Some((23, 23))),
        )
        .await;
    let mut narrower = cli_rule(group_id, "tcp", Some((22, 22)));
    narrower["remote_ip_prefix"] = json!("10.1.2.3/8");
    let narrower = cloud.create("alice", "security_group_rule", narrower).await;
    assert_eq!(
        narrower["remote_ip_prefix"], "10.0.0.0/8",
        "normalised to the network address"
    );
    let rules = cloud
        .list(
            &format!("/v2.0/security-group-rules?security_group_id={group_id}&protocol=tcp"),
            "alice",
            "security_group_rules",
        )
        .await;
    assert_eq!(rules.len(), 3);
    cloud
        .delete(&format!("/v2.0/security-group-rules/{first_id}"), "alice")
        .await
        .ok(204);
    cloud
        .get(&format!("/v2.0/security-group-rules/{first_id}"), "alice")
        .await
        .error(404, "SecurityGroupRuleNotFound");
    cloud
        .create(
            "alice",
            "security_group_rule",
            cli_rule(group_id, "tcp", Some((22, 22))),
        )
        .await;
}

#[tokio::test]
async fn subnets_are_validated() {
    let cloud = cloud();
    let (network, _) = cloud
        .network_with_subnet("alice", "net", "10.1.0.0/24")
        .await;
    let subnet = |attributes: Value| {
        let mut body = json!({"network_id": network, "ip_version": 4});
        body.as_object_mut()
            .unwrap()
            .extend(attributes.as_object().unwrap().clone());
        json!({ "subnet": body })
    };
    let message = cloud
        .post(
            "/v2.0/subnets",
            "alice",
            subnet(json!({"cidr": "10.1.0.128/25"})),
        )
        .await
        .error(400, "InvalidInput");
    assert!(message.contains("overlaps"), "{message}");
    let message = cloud
        .post(
            "/v2.0/subnets",
            "alice",
            subnet(json!({"cidr": "10.2.0.1/24"})),
        )
        .await
        .error(400, "InvalidInput");
    assert!(message.contains("10.2.0.0/24"), "{message}");
    for (attributes, status, kind) in [
        (
            json!({"cidr": "10.2.0.0/24", "gateway_ip": "10.3.0.1"}),
            400,
            "InvalidInput",
        ),
        (
            json!({"cidr": "10.2.0.0/24", "allocation_pools": [{"start": "10.2.0.5", "end": "10.2.1.5"}]}),
            400,
            "OutOfBoundsAllocationPool",
        ),
        (
            json!({"cidr": "10.2.0.0/24", "allocation_pools": [{"start": "10.2.0.5", "end": "10.2.0.9"}, {"start": "10.2.0.8", "end": "10.2.0.20"}]}),
            409,
            "OverlappingAllocationPools",
        ),
        (
            json!({"cidr": "10.2.0.0/24", "allocation_pools": [{"start": "10.2.0.1", "end": "10.2.0.9"}]}),
            409,
            "GatewayConflictWithAllocationPools",
        ),
        (
            json!({"cidr": "10.2.0.0/24", "dns_nameservers": ["1.1.1.1", "1.1.1.1"]}),
            400,
            "InvalidInput",
        ),
        (
            json!({"cidr": "10.2.0.0/24", "host_routes": [{"destination": "10.9.0.0/16", "nexthop": "nope"}]}),
            400,
            "BadRequest",
        ),
        (
            json!({"cidr": "fd00::/64", "ip_version": 6}),
            400,
            "InvalidInput",
        ),
        (
            json!({"cidr": "10.2.0.0/24", "subnetpool_id": "x"}),
            400,
            "BadRequest",
        ),
        (json!({}), 400, "BadRequest"),
    ] {
        cloud
            .post("/v2.0/subnets", "alice", subnet(attributes.clone()))
            .await
            .error(status, kind);
    }
    assert_eq!(
        cloud
            .count("/v2.0/subnets?tenant_id=project-a", "subnets")
            .await,
        1,
        "nothing was created"
    );
    // No gateway: the whole range is the pool.
    let gatewayless = cloud
        .post(
            "/v2.0/subnets",
            "alice",
            subnet(json!({"cidr": "10.4.0.0/29", "gateway_ip": null})),
        )
        .await;
    let gatewayless = &gatewayless.ok(201)["subnet"];
    assert_eq!(gatewayless["gateway_ip"], Value::Null);
    assert_eq!(
        gatewayless["allocation_pools"],
        json!([{"start": "10.4.0.1", "end": "10.4.0.6"}])
    );
}

#[tokio::test]
async fn an_exhausted_pool_is_a_409_that_changes_nothing() {
    let cloud = cloud();
    let network = cloud
        .create("alice", "network", json!({"name": "tiny"}))
        .await;
    let network_id = network["id"].as_str().unwrap();
    let subnet = cloud
        .create("alice", "subnet", json!({"network_id": network_id, "cidr": "10.9.0.0/29", "enable_dhcp": false,
                                          "allocation_pools": [{"start": "10.9.0.2", "end": "10.9.0.3"}]}))
        .await;
    for expected in ["10.9.0.2", "10.9.0.3"] {
        let port = cloud
            .create("alice", "port", json!({"network_id": network_id}))
            .await;
        assert_eq!(port["fixed_ips"][0]["ip_address"], expected);
    }
    let message = cloud
        .post(
            "/v2.0/ports",
            "alice",
            json!({"port": {"network_id": network_id, "name": "third"}}),
        )
        .await
        .error(409, "IpAddressGenerationFailure");
    assert!(message.contains(network_id), "{message}");
    assert_eq!(
        cloud
            .count(&format!("/v2.0/ports?network_id={network_id}"), "ports")
            .await,
        2
    );
    // An address outside the pool but in the subnet can still be asked for.
    let subnet_id = subnet["id"].as_str().unwrap();
    let port = cloud
        .create("alice", "port", json!({"network_id": network_id, "fixed_ips": [{"subnet_id": subnet_id, "ip_address": "10.9.0.5"}]}))
        .await;
    assert_eq!(port["fixed_ips"][0]["ip_address"], "10.9.0.5");
    cloud
        .post(
            "/v2.0/ports",
            "alice",
            json!({"port": {"network_id": network_id, "fixed_ips": [{"ip_address": "10.9.0.5"}]}}),
        )
        .await
        .error(409, "IpAddressAlreadyAllocated");
}

#[tokio::test]
async fn a_network_with_ports_is_in_use() {
    let cloud = cloud();
    let (network, subnet) = cloud
        .network_with_subnet("alice", "busy", "10.5.0.0/24")
        .await;
    let port = cloud
        .create("alice", "port", json!({"network_id": network}))
        .await;
    cloud
        .delete(&format!("/v2.0/networks/{network}"), "alice")
        .await
        .error(409, "NetworkInUse");
    cloud
        .delete(&format!("/v2.0/subnets/{subnet}"), "alice")
        .await
        .error(409, "SubnetInUse");
    // The DHCP port is the network's own and does not count.
    let dhcp = cloud
        .list(
            &format!("/v2.0/ports?network_id={network}&device_owner=network:dhcp"),
            "alice",
            "ports",
        )
        .await;
    assert_eq!(dhcp.len(), 1);
    cloud
        .delete(
            &format!("/v2.0/ports/{}", dhcp[0]["id"].as_str().unwrap()),
            "alice",
        )
        .await
        .error(409, "ServicePortInUse");
    cloud
        .delete(
            &format!("/v2.0/ports/{}", port["id"].as_str().unwrap()),
            "alice",
        )
        .await
        .ok(204);
    cloud
        .delete(&format!("/v2.0/networks/{network}"), "alice")
        .await
        .ok(204);
    cloud
        .get(&format!("/v2.0/networks/{network}"), "alice")
        .await
        .error(404, "NetworkNotFound");
    cloud
        .get(&format!("/v2.0/subnets/{subnet}"), "alice")
        .await
        .error(404, "SubnetNotFound");
    assert!(
        cloud
            .list(
                &format!("/v2.0/ports?network_id={network}"),
                "admin",
                "ports"
            )
            .await
            .is_empty()
    );
    // The external network is in use by router1's gateway.
    let public = cloud.id_of("network", "public").await;
    cloud
        .delete(&format!("/v2.0/networks/{public}"), "admin")
        .await
        .error(409, "NetworkInUse");
}

#[tokio::test]
async fn privileged_network_attributes_are_the_admins() {
    let cloud = cloud();
    for attributes in [
        json!({"name": "x", "router:external": true}),
        json!({"name": "x", "shared": true}),
        json!({"name": "x", "provider:network_type": "vxlan", "provider:segmentation_id": 77}),
        json!({"name": "x", "project_id": "project-b"}),
    ] {
        let message = cloud
            .post("/v2.0/networks", "alice", json!({"network": attributes}))
            .await
            .error(403, "PolicyNotAuthorized");
        assert!(message.contains("network:"), "{message}");
    }
    // Saying "not external" is no privilege.
    cloud
        .create(
            "alice",
            "network",
            json!({"name": "internal", "router:external": false, "shared": false}),
        )
        .await;
    let external = cloud
        .create("admin", "network", json!({"name": "ext2", "router:external": true, "provider:network_type": "flat", "provider:physical_network": "physnet2"}))
        .await;
    assert_eq!(external["mtu"], 1500);
    cloud
        .post("/v2.0/networks", "admin", json!({"network": {"provider:network_type": "flat", "provider:physical_network": "physnet2"}}))
        .await
        .error(409, "FlatNetworkInUse");
    let tunnel = cloud.create("admin", "network", json!({"provider:network_type": "vxlan", "provider:segmentation_id": 4242, "project_id": "project-b"})).await;
    assert_eq!(tunnel["provider:segmentation_id"], 4242);
    assert_eq!(tunnel["tenant_id"], "project-b");
    cloud
        .post("/v2.0/networks", "admin", json!({"network": {"provider:network_type": "vxlan", "provider:segmentation_id": 4242}}))
        .await
        .error(409, "TunnelIdInUse");
    cloud
        .post(
            "/v2.0/networks",
            "admin",
            json!({"network": {"provider:network_type": "vlan"}}),
        )
        .await
        .error(400, "InvalidInput");
    // Only the admin picks a floating IP's address or sets SNAT.
    let public = cloud.id_of("network", "public").await;
    cloud
        .post("/v2.0/floatingips", "alice", json!({"floatingip": {"floating_network_id": public, "floating_ip_address": "172.24.4.100"}}))
        .await
        .error(403, "PolicyNotAuthorized");
    cloud
        .post("/v2.0/routers", "alice", json!({"router": {"external_gateway_info": {"network_id": public, "enable_snat": false}}}))
        .await
        .error(403, "PolicyNotAuthorized");
    let floating = cloud.create("admin", "floatingip", json!({"floating_network_id": public, "floating_ip_address": "172.24.4.100", "project_id": "project-a"})).await;
    assert_eq!(floating["floating_ip_address"], "172.24.4.100");
    assert_eq!(floating["project_id"], "project-a");
}

#[tokio::test]
async fn other_projects_resources_are_invisible() {
    let cloud = cloud();
    let (network, subnet) = cloud
        .network_with_subnet("alice", "alices", "10.6.0.0/24")
        .await;
    let port = cloud
        .create(
            "alice",
            "port",
            json!({"network_id": network, "name": "alices-port"}),
        )
        .await;
    let port_id = port["id"].as_str().unwrap();
    cloud
        .get(&format!("/v2.0/networks/{network}"), "bob")
        .await
        .error(404, "NetworkNotFound");
    cloud
        .get(&format!("/v2.0/subnets/{subnet}"), "bob")
        .await
        .error(404, "SubnetNotFound");
    cloud
        .get(&format!("/v2.0/ports/{port_id}"), "bob")
        .await
        .error(404, "PortNotFound");
    cloud
        .delete(&format!("/v2.0/ports/{port_id}"), "bob")
        .await
        .error(404, "PortNotFound");
    cloud
        .put(
            &format!("/v2.0/networks/{network}"),
            "bob",
            json!({"network": {"name": "mine"}}),
        )
        .await
        .error(404, "NetworkNotFound");
    cloud
        .post(
            "/v2.0/ports",
            "bob",
            json!({"port": {"network_id": network}}),
        )
        .await
        .error(404, "NetworkNotFound");
    assert!(cloud.list("/v2.0/ports", "bob", "ports").await.is_empty());

    // Shared and external networks, and their subnets, are everybody's to see.
    let networks = cloud.list("/v2.0/networks", "bob", "networks").await;
    assert_eq!(names(&networks), ["public", "shared"]);
    let subnets = cloud.list("/v2.0/subnets", "bob", "subnets").await;
    assert_eq!(names(&subnets), ["public-subnet", "shared-subnet"]);
    // ...but not to change, and the gateway ports on them are not bob's.
    let shared = cloud.id_of("network", "shared").await;
    cloud
        .put(
            &format!("/v2.0/networks/{shared}"),
            "bob",
            json!({"network": {"name": "mine"}}),
        )
        .await
        .error(403, "PolicyNotAuthorized");
    cloud
        .delete(&format!("/v2.0/networks/{shared}"), "bob")
        .await
        .error(403, "PolicyNotAuthorized");
    let on_shared = cloud
        .create("bob", "port", json!({"network_id": shared}))
        .await;
    assert_eq!(on_shared["project_id"], "project-b");
    let public = cloud.id_of("network", "public").await;
    cloud
        .post(
            "/v2.0/ports",
            "bob",
            json!({"port": {"network_id": public}}),
        )
        .await
        .error(403, "PolicyNotAuthorized");
    cloud
        .post("/v2.0/ports", "bob", json!({"port": {"network_id": shared, "fixed_ips": [{"ip_address": "192.168.233.50"}]}}))
        .await
        .error(403, "PolicyNotAuthorized");

    // The reader reads and does nothing else.
    assert_eq!(
        names(
            &cloud
                .list("/v2.0/networks?name=alices", "reader", "networks")
                .await
        ),
        ["alices"]
    );
    cloud
        .post(
            "/v2.0/networks",
            "reader",
            json!({"network": {"name": "r"}}),
        )
        .await
        .error(403, "PolicyNotAuthorized");
    cloud
        .delete(&format!("/v2.0/ports/{port_id}"), "reader")
        .await
        .error(403, "PolicyNotAuthorized");
    cloud
        .put(
            &format!("/v2.0/networks/{network}/tags/x"),
            "reader",
            json!({}),
        )
        .await
        .error(403, "PolicyNotAuthorized");

    // The admin sees all, and the admin-only attributes.
    let port = cloud.get(&format!("/v2.0/ports/{port_id}"), "admin").await;
    assert_eq!(port.ok(200)["port"]["binding:vif_type"], "unbound");
    assert!(
        cloud
            .get(&format!("/v2.0/ports/{port_id}"), "alice")
            .await
            .body["port"]
            .get("binding:vif_type")
            .is_none()
    );
    assert_eq!(
        cloud
            .get(&format!("/v2.0/ports/{port_id}"), "alice")
            .await
            .body["port"]["binding:vnic_type"],
        "normal"
    );
}

#[tokio::test]
async fn quotas_are_enforced() {
    let cloud = cloud();
    let defaults = cloud.get("/v2.0/quotas/project-a/default", "alice").await;
    assert_eq!(
        defaults.ok(200)["quota"],
        json!({"network": 100, "subnet": 100, "port": 500, "router": 10, "floatingip": 50,
               "security_group": 10, "security_group_rule": 100})
    );
    cloud
        .put(
            "/v2.0/quotas/project-a",
            "alice",
            json!({"quota": {"network": 50}}),
        )
        .await
        .error(403, "PolicyNotAuthorized");
    cloud
        .get("/v2.0/quotas/project-b", "alice")
        .await
        .error(403, "PolicyNotAuthorized");
    cloud
        .put(
            "/v2.0/quotas/project-a",
            "admin",
            json!({"quota": {"networks": 1}}),
        )
        .await
        .error(400, "InvalidInput");
    cloud
        .put(
            "/v2.0/quotas/project-a",
            "admin",
            json!({"quota": {"network": -2}}),
        )
        .await
        .error(400, "InvalidInput");
    let set = cloud
        .put(
            "/v2.0/quotas/project-a",
            "admin",
            json!({"quota": {"network": 1, "security_group": "2"}}),
        )
        .await;
    assert_eq!(set.ok(200)["quota"]["network"], 1);
    assert_eq!(set.body["quota"]["security_group"], 2);
    cloud
        .create("alice", "network", json!({"name": "one"}))
        .await;
    let message = cloud
        .post(
            "/v2.0/networks",
            "alice",
            json!({"network": {"name": "two"}}),
        )
        .await
        .error(409, "OverQuota");
    assert!(message.contains("network"), "{message}");
    // The default group counts: one more group fits.
    cloud
        .create("alice", "security_group", json!({"name": "g1"}))
        .await;
    cloud
        .post(
            "/v2.0/security-groups",
            "alice",
            json!({"security_group": {"name": "g2"}}),
        )
        .await
        .error(409, "OverQuota");
    let details = cloud.get("/v2.0/quotas/project-a/details", "alice").await;
    assert_eq!(
        details.ok(200)["quota"]["network"],
        json!({"used": 1, "limit": 1, "reserved": 0})
    );
    assert_eq!(details.body["quota"]["security_group"]["used"], 2);
    let all = cloud.list("/v2.0/quotas", "admin", "quotas").await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["project_id"], "project-a");
    cloud
        .get("/v2.0/quotas", "alice")
        .await
        .error(403, "PolicyNotAuthorized");
    cloud
        .delete("/v2.0/quotas/project-a", "admin")
        .await
        .ok(204);
    assert_eq!(
        cloud.get("/v2.0/quotas/project-a", "alice").await.ok(200)["quota"]["network"],
        100
    );
    cloud
        .create("alice", "network", json!({"name": "two"}))
        .await;
}

#[tokio::test]
async fn lists_filter_select_sort_and_paginate() {
    let cloud = cloud();
    let (network, _) = cloud
        .network_with_subnet("alice", "lbnet", "10.7.0.0/24")
        .await;
    // A port found by its device, as the seed finds a load balancer's VIP
    // (tests/loadbalancing.rs has the real one: only the load-balancer
    // service makes ports with device owner Octavia).
    let vip = cloud
        .create(
            "alice",
            "port",
            json!({"network_id": network, "device_id": "lb-1234", "name": "octavia-lb-1234"}),
        )
        .await;
    cloud
        .create(
            "alice",
            "port",
            json!({"network_id": network, "device_id": "server-1"}),
        )
        .await;
    let found = cloud
        .list("/v2.0/ports?device_id=lb-1234", "alice", "ports")
        .await;
    assert_eq!(ids(&found), [vip["id"].as_str().unwrap()]);
    let either = cloud
        .list(
            "/v2.0/ports?device_id=lb-1234&device_id=server-1",
            "alice",
            "ports",
        )
        .await;
    assert_eq!(either.len(), 2);
    let address = vip["fixed_ips"][0]["ip_address"].as_str().unwrap();
    let by_ip = cloud
        .list(
            &format!("/v2.0/ports?fixed_ips=ip_address%3D{address}"),
            "alice",
            "ports",
        )
        .await;
    assert_eq!(ids(&by_ip), [vip["id"].as_str().unwrap()]);
    let by_substring = cloud
        .list(
            "/v2.0/ports?fixed_ips=ip_address_substr%3D10.7.0",
            "alice",
            "ports",
        )
        .await;
    assert_eq!(by_substring.len(), 3, "two ports and the DHCP port");
    // fields= as the CLI sends it: repeated, with names Neutron does not have.
    let selected = cloud
        .list("/v2.0/ports?device_id=lb-1234&fields=id&fields=name&fields=mac_address&fields=is_port_security_enabled", "alice", "ports")
        .await;
    let keys: Vec<&String> = selected[0].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["id", "mac_address", "name"]);
    let shown = cloud
        .get(
            &format!("/v2.0/ports/{}?fields=status", vip["id"].as_str().unwrap()),
            "alice",
        )
        .await;
    assert_eq!(shown.ok(200)["port"], json!({"status": "ACTIVE"}));
    // Booleans in Python's spelling.
    let external = cloud
        .list("/v2.0/networks?router:external=True", "alice", "networks")
        .await;
    assert_eq!(names(&external), ["public"]);
    cloud
        .get("/v2.0/networks?router:external=perhaps", "alice")
        .await
        .error(400, "HTTPBadRequest");
    cloud
        .get("/v2.0/networks?colour=blue", "alice")
        .await
        .error(400, "HTTPBadRequest");

    for name in ["n4", "n2", "n5", "n1", "n3"] {
        cloud
            .create("alice", "network", json!({"name": name}))
            .await;
    }
    let mut uri = "/v2.0/networks?sort_key=name&sort_dir=asc&limit=2&tenant_id=project-a&name=n1&name=n2&name=n3&name=n4&name=n5".to_owned();
    let mut pages = Vec::new();
    loop {
        let reply = cloud.get(&uri, "alice").await;
        let body = reply.ok(200).clone();
        pages.push(
            names(body["networks"].as_array().unwrap())
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>(),
        );
        let next = body["networks_links"]
            .as_array()
            .and_then(|links| links.iter().find(|l| l["rel"] == "next").cloned());
        match next {
            Some(link) => {
                uri = link["href"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("http://localhost")
                    .to_owned()
            }
            None => break,
        }
    }
    assert_eq!(pages, [vec!["n1", "n2"], vec!["n3", "n4"], vec!["n5"]]);
    let last = cloud.get(&uri, "alice").await;
    let previous = last.body["networks_links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["rel"] == "previous")
        .unwrap()
        .clone();
    assert!(
        previous["href"]
            .as_str()
            .unwrap()
            .contains("page_reverse=True"),
        "{previous}"
    );
    let back = cloud
        .get(
            previous["href"]
                .as_str()
                .unwrap()
                .trim_start_matches("http://localhost"),
            "alice",
        )
        .await;
    assert_eq!(
        names(back.ok(200)["networks"].as_array().unwrap()),
        ["n3", "n4"]
    );
    let desc = cloud
        .list(
            "/v2.0/networks?sort_key=name&sort_dir=desc&tenant_id=project-a",
            "alice",
            "networks",
        )
        .await;
    assert_eq!(names(&desc)[..2], ["n5", "n4"]);
    cloud
        .get("/v2.0/networks?sort_key=name", "alice")
        .await
        .error(400, "HTTPBadRequest");
    cloud
        .get("/v2.0/networks?marker=no-such-network&limit=1", "alice")
        .await
        .error(400, "HTTPBadRequest");
    cloud
        .get("/v2.0/networks?limit=-3", "alice")
        .await
        .error(400, "HTTPBadRequest");
}

#[tokio::test]
async fn tags_are_set_changed_and_filtered_on() {
    let cloud = cloud();
    let a = cloud.create("alice", "network", json!({"name": "a"})).await;
    let b = cloud.create("alice", "network", json!({"name": "b"})).await;
    let (a, b) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());
    let set = cloud
        .put(
            &format!("/v2.0/networks/{a}/tags"),
            "alice",
            json!({"tags": ["red", "big"]}),
        )
        .await;
    assert_eq!(set.ok(200)["tags"], json!(["big", "red"]));
    assert_eq!(
        cloud
            .put(&format!("/v2.0/networks/{b}/tags/red"), "alice", json!({}))
            .await
            .status,
        201
    );
    assert_eq!(
        cloud
            .get(&format!("/v2.0/networks/{b}/tags/red"), "alice")
            .await
            .status,
        204
    );
    cloud
        .get(&format!("/v2.0/networks/{b}/tags/blue"), "alice")
        .await
        .error(404, "TagNotFound");
    cloud
        .delete(&format!("/v2.0/networks/{b}/tags/blue"), "alice")
        .await
        .error(404, "TagNotFound");
    let added = cloud
        .post(
            &format!("/v2.0/networks/{b}/tags"),
            "alice",
            json!({"tags": ["small"]}),
        )
        .await;
    assert_eq!(added.ok(201)["tags"], json!(["red", "small"]));
    cloud
        .put(
            &format!("/v2.0/networks/{b}/tags"),
            "alice",
            json!({"tags": ["a,b"]}),
        )
        .await
        .error(400, "InvalidInput");

    let named = |query: &str| {
        let cloud = &cloud;
        let query = query.to_owned();
        async move {
            let list = cloud
                .list(
                    &format!("/v2.0/networks?tenant_id=project-a&{query}"),
                    "alice",
                    "networks",
                )
                .await;
            names(&list)
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(named("tags=red").await, ["a", "b"]);
    assert_eq!(named("tags=red,big").await, ["a"]);
    assert_eq!(named("tags-any=big,small").await, ["a", "b"]);
    assert_eq!(named("not-tags=red,big").await, ["b"]);
    assert_eq!(named("not-tags-any=small").await, ["a"]);

    let shown = cloud.get(&format!("/v2.0/networks/{a}"), "alice").await;
    assert_eq!(shown.ok(200)["network"]["tags"], json!(["big", "red"]));
    assert_eq!(shown.body["network"]["revision_number"], 1);
    cloud
        .delete(&format!("/v2.0/networks/{a}/tags"), "alice")
        .await
        .ok(204);
    assert_eq!(
        cloud
            .get(&format!("/v2.0/networks/{a}/tags"), "alice")
            .await
            .ok(200)["tags"],
        json!([])
    );
    cloud
        .put(
            &format!("/v2.0/networks/{a}/tags"),
            "bob",
            json!({"tags": ["x"]}),
        )
        .await
        .error(404, "NetworkNotFound");
}

#[tokio::test]
async fn bad_input_is_a_clear_400_that_changes_nothing() {
    let cloud = cloud();
    let (network, subnet) = cloud
        .network_with_subnet("alice", "checked", "10.8.0.0/24")
        .await;
    let group = cloud
        .create("alice", "security_group", json!({"name": "g"}))
        .await;
    let group = group["id"].as_str().unwrap().to_owned();
    let ports_before = cloud.count("/v2.0/ports", "ports").await;
    let rules_before = cloud
        .count("/v2.0/security-group-rules", "security_group_rules")
        .await;

    // (path, body, status, type, words the message must contain)
    let cases: Vec<(&str, Value, u16, &str, &str)> = vec![
        (
            "/v2.0/networks",
            json!({"network": {"name": "x", "colour": "red"}}),
            400,
            "BadRequest",
            "colour",
        ),
        (
            "/v2.0/networks",
            json!({"network": {"name": 5}}),
            400,
            "BadRequest",
            "network.name",
        ),
        (
            "/v2.0/networks",
            json!({"network": {"availability_zone_hints": ["mars"]}}),
            404,
            "AvailabilityZoneNotFound",
            "mars",
        ),
        (
            "/v2.0/networks",
            json!({"network": {"mtu": 9000}}),
            400,
            "InvalidInput",
            "mtu",
        ),
        (
            "/v2.0/networks",
            json!({"net": {}}),
            400,
            "HTTPBadRequest",
            "network",
        ),
        (
            "/v2.0/networks",
            json!({"networks": [{"name": "ok"}, {"name": 1}]}),
            400,
            "BadRequest",
            "networks[1].name",
        ),
        (
            "/v2.0/ports",
            json!({"port": {"network_id": network, "mac_address": "not-a-mac"}}),
            400,
            "InvalidInput",
            "mac_address",
        ),
        (
            "/v2.0/ports",
            json!({"port": {"network_id": network, "fixed_ips": [{"ip_address": "10.9.9.9"}]}}),
            400,
            "InvalidInput",
            "fixed_ips",
        ),
        (
            "/v2.0/ports",
            json!({"port": {"network_id": network, "fixed_ips": [{"subnet_id": subnet, "ip_address": "10.8.0.1"}]}}),
            400,
            "InvalidInput",
            "gateway",
        ),
        (
            "/v2.0/ports",
            json!({"port": {"network_id": network, "fixed_ips": [{"ip_address": "10.8.0.x"}]}}),
            400,
            "BadRequest",
            "port.fixed_ips[0].ip_address",
        ),
        (
            "/v2.0/ports",
            json!({"port": {"network_id": network, "binding:vnic_type": "warp"}}),
            400,
            "InvalidInput",
            "binding:vnic_type",
        ),
        (
            "/v2.0/ports",
            json!({"port": {"network_id": network, "allowed_address_pairs": [{"ip_address": "nope"}]}}),
            400,
            "InvalidInput",
            "allowed_address_pairs",
        ),
        (
            "/v2.0/ports",
            json!({"port": {"network_id": "missing"}}),
            404,
            "NetworkNotFound",
            "missing",
        ),
        (
            "/v2.0/ports",
            json!({"port": {"network_id": network, "security_groups": ["missing"]}}),
            404,
            "SecurityGroupNotFound",
            "missing",
        ),
        (
            "/v2.0/security-group-rules",
            json!({"security_group_rule": {"security_group_id": group, "direction": "sideways"}}),
            400,
            "InvalidInput",
            "direction",
        ),
        (
            "/v2.0/security-group-rules",
            json!({"security_group_rule": {"security_group_id": group, "direction": "ingress", "protocol": "tcpp"}}),
            400,
            "SecurityGroupRuleInvalidProtocol",
            "tcpp",
        ),
        (
            "/v2.0/security-group-rules",
            json!({"security_group_rule": {"security_group_id": group, "direction": "ingress", "protocol": "tcp", "port_range_min": 80, "port_range_max": 22}}),
            400,
            "SecurityGroupInvalidPortRange",
            "80",
        ),
        (
            "/v2.0/security-group-rules",
            json!({"security_group_rule": {"security_group_id": group, "direction": "ingress", "port_range_min": 80, "port_range_max": 80}}),
            400,
            "SecurityGroupProtocolRequiredWithPorts",
            "protocol",
        ),
        (
            "/v2.0/security-group-rules",
            json!({"security_group_rule": {"security_group_id": group, "direction": "ingress", "protocol": "gre", "port_range_min": 80, "port_range_max": 80}}),
            400,
            "SecurityGroupInvalidProtocolForPortRange",
            "gre",
        ),
        (
            "/v2.0/security-group-rules",
            json!({"security_group_rule": {"security_group_id": group, "direction": "ingress", "ethertype": "IPv4", "remote_ip_prefix": "::/0"}}),
            400,
            "SecurityGroupRuleParameterConflict",
            "IPv4",
        ),
        (
            "/v2.0/security-group-rules",
            json!({"security_group_rule": {"security_group_id": group, "direction": "ingress", "remote_ip_prefix": "10.0.0.0/8", "remote_group_id": group}}),
            400,
            "SecurityGroupRemoteGroupAndRemoteIpPrefix",
            "remote",
        ),
        (
            "/v2.0/security-group-rules",
            json!({"security_group_rule": {"security_group_id": group, "direction": "ingress", "remote_group_id": "missing"}}),
            404,
            "SecurityGroupNotFound",
            "missing",
        ),
        (
            "/v2.0/routers",
            json!({"router": {"external_gateway_info": {"network_id": network}}}),
            400,
            "BadRequest",
            "external",
        ),
        (
            "/v2.0/floatingips",
            json!({"floatingip": {"floating_network_id": network}}),
            400,
            "BadRequest",
            "external",
        ),
        (
            "/v2.0/floatingips",
            json!({"floatingip": {}}),
            400,
            "BadRequest",
            "floating_network_id",
        ),
    ];
    for (path, body, status, kind, words) in cases {
        let message = cloud
            .post(path, "alice", body.clone())
            .await
            .error(status, kind);
        assert!(message.contains(words), "{path} {body}: {message}");
    }
    // Choosing a router's mode is the administrator's (Neutron's policy);
    // even the administrator gets no distributed router here.
    cloud
        .post(
            "/v2.0/routers",
            "alice",
            json!({"router": {"distributed": true}}),
        )
        .await
        .error(403, "PolicyNotAuthorized");
    let message = cloud
        .post(
            "/v2.0/routers",
            "admin",
            json!({"router": {"distributed": true}}),
        )
        .await
        .error(400, "InvalidInput");
    assert!(message.contains("distributed"), "{message}");
    let malformed = Call::new(Method::POST, "/v2.0/networks")
        .token(Some("alice"))
        .body(None, "{")
        .send(&cloud.router)
        .await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    cloud
        .put(
            &format!("/v2.0/networks/{network}"),
            "alice",
            json!({"network": {"cidr": "x"}}),
        )
        .await
        .error(400, "BadRequest");
    cloud.put(&format!("/v2.0/subnets/{subnet}"), "alice", json!({"subnet": {"gateway_ip": "10.8.0.7", "allocation_pools": [{"start": "10.8.0.2", "end": "10.8.0.9"}]}}))
        .await
        .error(409, "GatewayConflictWithAllocationPools");
    let router = cloud.create("alice", "router", json!({"name": "r"})).await;
    let router = router["id"].as_str().unwrap();
    for body in [json!({}), json!({"subnet_id": subnet, "port_id": "p"})] {
        cloud
            .put(
                &format!("/v2.0/routers/{router}/add_router_interface"),
                "alice",
                body,
            )
            .await
            .error(400, "BadRequest");
    }
    cloud
        .put(&format!("/v2.0/routers/{router}"), "alice", json!({"router": {"routes": [{"destination": "10.50.0.0/16", "nexthop": "10.8.0.50"}]}}))
        .await
        .error(400, "InvalidRoutes");
    cloud
        .put(
            &format!("/v2.0/routers/{router}/remove_router_interface"),
            "alice",
            json!({"subnet_id": subnet}),
        )
        .await
        .error(404, "RouterInterfaceNotFoundForSubnet");
    assert_eq!(
        cloud.count("/v2.0/ports", "ports").await,
        ports_before,
        "no port was made"
    );
    assert_eq!(
        cloud
            .count("/v2.0/security-group-rules", "security_group_rules")
            .await,
        rules_before
    );
    assert_eq!(
        cloud
            .count("/v2.0/networks?tenant_id=project-a", "networks")
            .await,
        1,
        "the bulk create was all or nothing"
    );
}

#[tokio::test]
async fn routers_connect_subnets_and_carry_routes() {
    let cloud = cloud();
    let (network, subnet) = cloud
        .network_with_subnet("alice", "inner", "10.10.0.0/24")
        .await;
    let (_, overlapping) = cloud
        .network_with_subnet("alice", "overlap", "10.10.0.0/25")
        .await;
    let router = cloud.create("alice", "router", json!({"name": "r"})).await;
    let router = router["id"].as_str().unwrap().to_owned();
    let add = |subnet: &str| json!({"subnet_id": subnet});
    cloud
        .put(
            &format!("/v2.0/routers/{router}/add_router_interface"),
            "alice",
            add(&subnet),
        )
        .await
        .ok(200);
    cloud
        .put(
            &format!("/v2.0/routers/{router}/add_router_interface"),
            "alice",
            add(&subnet),
        )
        .await
        .error(400, "BadRequest");
    let message = cloud
        .put(
            &format!("/v2.0/routers/{router}/add_router_interface"),
            "alice",
            add(&overlapping),
        )
        .await
        .error(400, "BadRequest");
    assert!(message.contains("overlaps"), "{message}");

    // A floating IP needs a router between its port's subnet and the
    // external network.
    let port = cloud
        .create("alice", "port", json!({"network_id": network}))
        .await;
    let public = cloud.id_of("network", "public").await;
    cloud
        .post(
            "/v2.0/floatingips",
            "alice",
            json!({"floatingip": {"floating_network_id": public, "port_id": port["id"]}}),
        )
        .await
        .error(404, "ExternalGatewayForFloatingIPNotFound");
    cloud
        .put(
            &format!("/v2.0/routers/{router}"),
            "alice",
            json!({"router": {"external_gateway_info": {"network_id": public}}}),
        )
        .await
        .ok(200);
    let floating = cloud
        .create(
            "alice",
            "floatingip",
            json!({"floating_network_id": public, "port_id": port["id"]}),
        )
        .await;
    assert_eq!(floating["router_id"], router.as_str());
    let second = cloud
        .create(
            "alice",
            "floatingip",
            json!({"floating_network_id": public}),
        )
        .await;
    cloud
        .put(
            &format!("/v2.0/floatingips/{}", second["id"].as_str().unwrap()),
            "alice",
            json!({"floatingip": {"port_id": port["id"]}}),
        )
        .await
        .error(409, "FloatingIPPortAlreadyAssociated");

    // Routes, through the interface's subnet, and atomically added and removed.
    let route = json!({"destination": "10.20.0.0/16", "nexthop": "10.10.0.50"});
    let set = cloud
        .put(
            &format!("/v2.0/routers/{router}"),
            "alice",
            json!({"router": {"routes": [route]}}),
        )
        .await;
    assert_eq!(set.ok(200)["router"]["routes"], json!([route]));
    let other = json!({"destination": "10.30.0.0/16", "nexthop": "10.10.0.51"});
    let added = cloud
        .put(
            &format!("/v2.0/routers/{router}/add_extraroutes"),
            "alice",
            json!({"router": {"routes": [other]}}),
        )
        .await;
    assert_eq!(added.ok(200)["router"]["routes"], json!([route, other]));
    let removed = cloud
        .put(
            &format!("/v2.0/routers/{router}/remove_extraroutes"),
            "alice",
            json!({"router": {"routes": [route]}}),
        )
        .await;
    assert_eq!(removed.ok(200)["router"]["routes"], json!([other]));
    cloud
        .put(
            &format!("/v2.0/routers/{router}/remove_router_interface"),
            "alice",
            json!({"subnet_id": subnet}),
        )
        .await
        .error(409, "RouterInterfaceInUseByFloatingIP");
    // Deleting the port lets go of its floating IP.
    cloud
        .delete(
            &format!("/v2.0/ports/{}", port["id"].as_str().unwrap()),
            "alice",
        )
        .await
        .ok(204);
    let floating = cloud
        .get(
            &format!("/v2.0/floatingips/{}", floating["id"].as_str().unwrap()),
            "alice",
        )
        .await;
    assert_eq!(floating.ok(200)["floatingip"]["port_id"], Value::Null);
    cloud
        .put(
            &format!("/v2.0/routers/{router}/remove_router_interface"),
            "alice",
            json!({"subnet_id": subnet}),
        )
        .await
        .error(409, "RouterInterfaceInUseByRoute");
    cloud
        .put(
            &format!("/v2.0/routers/{router}"),
            "alice",
            json!({"router": {"routes": []}}),
        )
        .await
        .ok(200);
    cloud
        .put(
            &format!("/v2.0/routers/{router}/remove_router_interface"),
            "alice",
            json!({"subnet_id": subnet}),
        )
        .await
        .ok(200);
}

#[tokio::test]
async fn the_data_plane_follows_the_database() {
    let cloud = cloud();
    cloud.service.reconcile_now().await.unwrap();
    let applied = cloud.dataplane.applied_count();
    let state = cloud.dataplane.last_applied().unwrap();
    assert_eq!(state.networks.len(), 3);
    let router = &state.routers[0];
    let gateway = router.gateway.as_ref().unwrap();
    assert!(gateway.enable_snat);
    assert_eq!(gateway.addresses[0].to_string(), "172.24.4.2/24");
    assert_eq!(gateway.default_route.unwrap().to_string(), "172.24.4.1");
    assert_eq!(router.interfaces[0].address.to_string(), "10.0.0.1/26");

    // A change is applied by the background task, without waiting for it.
    let group = cloud
        .create("demo", "security_group", json!({"name": "web"}))
        .await;
    cloud
        .create(
            "demo",
            "security_group_rule",
            cli_rule(group["id"].as_str().unwrap(), "tcp", Some((80, 81))),
        )
        .await;
    let private = cloud.id_of("network", "private").await;
    let port = cloud
        .create(
            "demo",
            "port",
            json!({"network_id": private, "security_groups": [group["id"]]}),
        )
        .await;
    let port_id = port["id"].as_str().unwrap();
    let state = wait_for(&cloud, |state| state.ports.iter().any(|p| p.id == port_id)).await;
    assert!(cloud.dataplane.applied_count() > applied);
    let planned = state.ports.iter().find(|p| p.id == port_id).unwrap();
    assert_eq!(planned.security_group_ids, [group["id"].as_str().unwrap()]);
    let planned_group = state
        .security_groups
        .iter()
        .find(|g| g.id == group["id"])
        .unwrap();
    let http = planned_group
        .rules
        .iter()
        .find(|r| r.protocol == Some(6))
        .unwrap();
    assert_eq!(http.destination, PortMatch::Ports { min: 80, max: 81 });
    assert_eq!(http.remote, Remote::Any);

    // A failing data plane is retried; the API does not notice.
    cloud.dataplane.fail_next(1);
    cloud
        .delete(&format!("/v2.0/ports/{port_id}"), "demo")
        .await
        .ok(204);
    wait_for(&cloud, |state| !state.ports.iter().any(|p| p.id == port_id)).await;
}

/// Waits (up to 10 s) for the fake data plane to have applied a state
/// satisfying `done`.
async fn wait_for(
    cloud: &Cloud,
    done: impl Fn(&oxistack_netplane::NetworkState) -> bool,
) -> oxistack_netplane::NetworkState {
    for _ in 0..200 {
        if let Some(state) = cloud.dataplane.last_applied().filter(|s| done(s)) {
            return state;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the data plane never got the change");
}

#[tokio::test]
async fn the_compute_interface() {
    let cloud = cloud();
    let demo = cloud.caller("demo");
    let usable = cloud.service.usable_networks(&demo).await.unwrap();
    let usable: Vec<&str> = usable.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(usable, ["shared", "private"], "not the external network");
    let private = cloud.id_of("network", "private").await;

    let group = cloud
        .create("demo", "security_group", json!({"name": "web"}))
        .await;
    let group_id = group["id"].as_str().unwrap().to_owned();
    let resolved = cloud
        .service
        .resolve_security_groups(&demo, &["web".into(), group_id.clone(), "default".into()])
        .await
        .unwrap();
    assert_eq!(resolved[..2], [group_id.clone(), group_id.clone()]);
    cloud
        .service
        .resolve_security_groups(&demo, &["nope".into()])
        .await
        .unwrap_err();

    let port = cloud
        .service
        .create_port(
            &demo,
            PortRequest {
                network_id: private.clone(),
                fixed_ip: None,
                security_group_ids: vec![],
                device_id: "server-1".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(port.network_name, "private");
    assert_eq!(port.fixed_ips[0].ip_address.to_string(), "10.0.0.3");
    assert_eq!(port.security_groups, ["default"]);
    assert_eq!(port.status, "ACTIVE");
    assert!(port.created_by_compute);
    let shown = cloud
        .get(&format!("/v2.0/ports/{}", port.id), "admin")
        .await;
    assert_eq!(shown.ok(200)["port"]["device_owner"], "compute:nova");
    assert_eq!(shown.body["port"]["binding:vif_type"], "bridge");
    let fixed = cloud
        .service
        .create_port(
            &demo,
            PortRequest {
                network_id: private.clone(),
                fixed_ip: Some("10.0.0.40".parse().unwrap()),
                security_group_ids: vec![group_id.clone()],
                device_id: "server-2".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(fixed.fixed_ips[0].ip_address.to_string(), "10.0.0.40");
    assert_eq!(fixed.security_groups, ["web"]);

    // A user's port, bound to a server and released again.
    let user_port = cloud
        .create(
            "demo",
            "port",
            json!({"network_id": private, "name": "mine"}),
        )
        .await;
    let user_port_id = user_port["id"].as_str().unwrap();
    let bound = cloud
        .service
        .bind_port(&demo, user_port_id, "server-1")
        .await
        .unwrap();
    assert!(!bound.created_by_compute);
    let err = ApiError::from(
        cloud
            .service
            .bind_port(&demo, user_port_id, "server-9")
            .await
            .unwrap_err(),
    );
    assert_eq!((err.status.as_u16(), err.kind), (409, Some("PortInUse")));
    cloud
        .service
        .bind_port(&cloud.caller("alice"), user_port_id, "server-9")
        .await
        .unwrap_err();

    cloud
        .service
        .add_security_group(&demo, "server-1", "web")
        .await
        .unwrap();
    let floating = cloud
        .create(
            "demo",
            "floatingip",
            json!({"floating_network_id": cloud.id_of("network", "public").await}),
        )
        .await;
    let address: std::net::IpAddr = floating["floating_ip_address"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    cloud
        .service
        .associate_floating_ip(
            &demo,
            "server-1",
            address,
            Some("10.0.0.3".parse().unwrap()),
        )
        .await
        .unwrap();

    // Listing servers: one query for all of them.
    let servers = vec![
        "server-1".to_owned(),
        "server-2".to_owned(),
        "server-3".to_owned(),
    ];
    let ports = cloud.service.ports_of(&servers).await.unwrap();
    let server_1: &Vec<PortSummary> = &ports["server-1"];
    assert_eq!(server_1.len(), 2);
    assert_eq!(server_1[0].id, port.id);
    assert_eq!(server_1[0].floating_ips, [address]);
    assert_eq!(server_1[0].security_groups, ["default", "web"]);
    assert_eq!(server_1[1].id, user_port_id);
    assert_eq!(ports["server-2"].len(), 1);
    assert!(!ports.contains_key("server-3"));

    cloud
        .service
        .remove_security_group(&demo, "server-1", "web")
        .await
        .unwrap();
    let err = ApiError::from(
        cloud
            .service
            .remove_security_group(&demo, "server-1", "web")
            .await
            .unwrap_err(),
    );
    assert_eq!(err.status.as_u16(), 404);
    let err = ApiError::from(
        cloud
            .service
            .disassociate_floating_ip(&demo, "server-2", address)
            .await
            .unwrap_err(),
    );
    assert_eq!(err.status.as_u16(), 409);
    cloud
        .service
        .disassociate_floating_ip(&demo, "server-1", address)
        .await
        .unwrap();
    cloud
        .service
        .associate_floating_ip(&demo, "server-1", address, None)
        .await
        .unwrap();

    // Releasing: compute's port goes, the user's stays, unbound; the
    // floating IP is let go.
    cloud.service.release_ports("server-1").await.unwrap();
    cloud
        .get(&format!("/v2.0/ports/{}", port.id), "demo")
        .await
        .error(404, "PortNotFound");
    let kept = cloud
        .get(&format!("/v2.0/ports/{user_port_id}"), "demo")
        .await;
    assert_eq!(kept.ok(200)["port"]["device_id"], "");
    assert_eq!(kept.body["port"]["status"], "DOWN");
    let floating = cloud
        .get(
            &format!("/v2.0/floatingips/{}", floating["id"].as_str().unwrap()),
            "demo",
        )
        .await;
    assert_eq!(floating.ok(200)["floatingip"]["port_id"], Value::Null);
    let err = ApiError::from(
        cloud
            .service
            .release_port("server-2", &port.id)
            .await
            .unwrap_err(),
    );
    assert_eq!(err.status.as_u16(), 404);
    cloud
        .service
        .release_port("server-2", &fixed.id)
        .await
        .unwrap();
    assert!(cloud.service.ports_of(&servers).await.unwrap().is_empty());
}

#[tokio::test]
async fn ports_change_addresses_pairs_and_bindings() {
    let cloud = cloud();
    let (network, subnet) = cloud
        .network_with_subnet("alice", "p", "10.11.0.0/24")
        .await;
    let port = cloud
        .create(
            "alice",
            "port",
            json!({"network_id": network, "allowed_address_pairs": [{"ip_address": "10.11.0.100"}, {"ip_address": "10.11.0.5/24", "mac_address": "FA:16:3E:00:00:01"}],
                   "binding:host_id": "", "binding:profile": {}}),
        )
        .await;
    let id = port["id"].as_str().unwrap();
    let mac = port["mac_address"].as_str().unwrap();
    assert_eq!(
        port["allowed_address_pairs"],
        json!([{"ip_address": "10.11.0.100", "mac_address": mac}, {"ip_address": "10.11.0.0/24", "mac_address": "fa:16:3e:00:00:01"}])
    );
    assert_eq!(port["fixed_ips"][0]["ip_address"], "10.11.0.3");
    // Fixed IPs are replaced as a whole; an address the port keeps stays.
    let changed = cloud
        .put(
            &format!("/v2.0/ports/{id}"),
            "alice",
            json!({"port": {"fixed_ips": [{"subnet_id": subnet, "ip_address": "10.11.0.3"}, {"subnet_id": subnet, "ip_address": "10.11.0.20"}]}}),
        )
        .await;
    let addresses: Vec<&Value> = changed.ok(200)["port"]["fixed_ips"]
        .as_array()
        .unwrap()
        .iter()
        .map(|ip| &ip["ip_address"])
        .collect();
    assert_eq!(addresses, [&json!("10.11.0.3"), &json!("10.11.0.20")]);
    let moved = cloud
        .put(
            &format!("/v2.0/ports/{id}"),
            "alice",
            json!({"port": {"fixed_ips": [{"subnet_id": subnet}]}}),
        )
        .await;
    assert_eq!(
        moved.ok(200)["port"]["fixed_ips"][0]["ip_address"],
        "10.11.0.3"
    );
    assert_eq!(moved.body["port"]["fixed_ips"].as_array().unwrap().len(), 1);
    // The released address is free again.
    let other = cloud
        .create(
            "alice",
            "port",
            json!({"network_id": network, "fixed_ips": [{"ip_address": "10.11.0.20"}]}),
        )
        .await;
    assert_eq!(other["fixed_ips"][0]["ip_address"], "10.11.0.20");

    // Binding a port to a host is the administrator's.
    cloud
        .put(
            &format!("/v2.0/ports/{id}"),
            "alice",
            json!({"port": {"binding:host_id": "compute-1"}}),
        )
        .await
        .error(403, "PolicyNotAuthorized");
    let bound = cloud
        .put(
            &format!("/v2.0/ports/{id}"),
            "admin",
            json!({"port": {"binding:host_id": "compute-1", "binding:profile": {"a": "b"}}}),
        )
        .await;
    assert_eq!(bound.ok(200)["port"]["binding:vif_type"], "bridge");
    assert_eq!(bound.body["port"]["binding:profile"], json!({"a": "b"}));
    let on_host = cloud
        .list("/v2.0/ports?binding:host_id=compute-1", "admin", "ports")
        .await;
    assert_eq!(ids(&on_host), [id]);

    // Without port security, no pairs.
    cloud
        .put(
            &format!("/v2.0/ports/{id}"),
            "alice",
            json!({"port": {"security_groups": [], "port_security_enabled": false}}),
        )
        .await
        .error(409, "AddressPairAndPortSecurityRequired");
    let open = cloud
        .put(&format!("/v2.0/ports/{id}"), "alice", json!({"port": {"security_groups": [], "allowed_address_pairs": [], "port_security_enabled": false}}))
        .await;
    assert_eq!(open.ok(200)["port"]["port_security_enabled"], false);
    assert!(open.body["port"]["revision_number"].as_i64().unwrap() >= 4);
}

#[tokio::test]
async fn dhcp_follows_the_subnets() {
    let cloud = cloud();
    let (network, subnet) = cloud
        .network_with_subnet("alice", "d", "10.12.0.0/24")
        .await;
    let dhcp_uri = format!("/v2.0/ports?network_id={network}&device_owner=network:dhcp");
    let dhcp_ports = || cloud.list(&dhcp_uri, "alice", "ports");
    assert_eq!(
        dhcp_ports().await[0]["fixed_ips"][0]["ip_address"],
        "10.12.0.2"
    );
    let second = cloud
        .create(
            "alice",
            "subnet",
            json!({"network_id": network, "cidr": "10.13.0.0/24"}),
        )
        .await;
    let addresses: Vec<Value> = dhcp_ports().await[0]["fixed_ips"]
        .as_array()
        .unwrap()
        .iter()
        .map(|ip| ip["ip_address"].clone())
        .collect();
    assert_eq!(addresses, [json!("10.12.0.2"), json!("10.13.0.2")]);
    cloud
        .put(
            &format!("/v2.0/subnets/{subnet}"),
            "alice",
            json!({"subnet": {"enable_dhcp": false}}),
        )
        .await
        .ok(200);
    assert_eq!(
        dhcp_ports().await[0]["fixed_ips"].as_array().unwrap().len(),
        1
    );
    cloud
        .delete(
            &format!("/v2.0/subnets/{}", second["id"].as_str().unwrap()),
            "alice",
        )
        .await
        .ok(204);
    assert!(dhcp_ports().await.is_empty());
    let updated = cloud
        .put(&format!("/v2.0/subnets/{subnet}"), "alice", json!({"subnet": {"enable_dhcp": true, "dns_nameservers": ["1.1.1.1"], "name": "again"}}))
        .await;
    assert_eq!(
        updated.ok(200)["subnet"]["dns_nameservers"],
        json!(["1.1.1.1"])
    );
    assert_eq!(dhcp_ports().await.len(), 1);

    // A network another project uses through sharing cannot be unshared.
    let shared = cloud
        .create("admin", "network", json!({"name": "s", "shared": true}))
        .await;
    let shared_id = shared["id"].as_str().unwrap();
    cloud
        .create(
            "admin",
            "subnet",
            json!({"network_id": shared_id, "cidr": "10.14.0.0/24"}),
        )
        .await;
    cloud
        .create("bob", "port", json!({"network_id": shared_id}))
        .await;
    cloud
        .put(
            &format!("/v2.0/networks/{shared_id}"),
            "admin",
            json!({"network": {"shared": false}}),
        )
        .await
        .error(409, "InvalidSharedSetting");
}
