//! Behaviour Tempest's network suite holds Neutron to, where this service
//! differed: each test names the Tempest test it stands for.

mod support;

use serde_json::{Value, json};
use support::*;

/// `test_external_network_extension.test_delete_external_networks_with_floating_ip`:
/// deleting an external network takes its unassociated floating IPs along;
/// one forwarding to a port still keeps it in use.
#[tokio::test]
async fn an_external_network_goes_with_its_idle_floating_ips() {
    let cloud = cloud();
    let external = cloud
        .create("admin", "network", json!({"router:external": true}))
        .await;
    let external = external["id"].as_str().unwrap().to_owned();
    cloud
        .create(
            "admin",
            "subnet",
            json!({"network_id": external, "cidr": "198.51.100.0/24", "enable_dhcp": false}),
        )
        .await;
    let idle = cloud
        .create(
            "admin",
            "floatingip",
            json!({"floating_network_id": external}),
        )
        .await;
    let floating_before = cloud.count("/v2.0/floatingips", "floatingips").await;
    let ports_before = cloud.count("/v2.0/ports", "ports").await;

    // An associated floating IP keeps the network in use, changing nothing.
    let (internal, subnet) = cloud
        .network_with_subnet("admin", "inside", "10.30.0.0/24")
        .await;
    let router = cloud
        .create(
            "admin",
            "router",
            json!({"external_gateway_info": {"network_id": external}}),
        )
        .await;
    let router = router["id"].as_str().unwrap().to_owned();
    cloud
        .put(
            &format!("/v2.0/routers/{router}/add_router_interface"),
            "admin",
            json!({"subnet_id": subnet}),
        )
        .await
        .ok(200);
    let port = cloud
        .create("admin", "port", json!({"network_id": internal}))
        .await;
    let associated = cloud
        .create(
            "admin",
            "floatingip",
            json!({"floating_network_id": external, "port_id": port["id"]}),
        )
        .await;
    cloud
        .delete(&format!("/v2.0/networks/{external}"), "admin")
        .await
        .error(409, "NetworkInUse");
    assert_eq!(
        cloud.count("/v2.0/floatingips", "floatingips").await,
        floating_before + 1,
        "the refused delete kept the idle floating IP"
    );

    // Without the router and the associated floating IP, the network goes,
    // and the idle floating IP and its port with it.
    let associated = associated["id"].as_str().unwrap();
    cloud
        .delete(&format!("/v2.0/floatingips/{associated}"), "admin")
        .await
        .ok(204);
    cloud
        .put(
            &format!("/v2.0/routers/{router}/remove_router_interface"),
            "admin",
            json!({"subnet_id": subnet}),
        )
        .await
        .ok(200);
    cloud
        .delete(&format!("/v2.0/routers/{router}"), "admin")
        .await
        .ok(204);
    cloud
        .delete(&format!("/v2.0/networks/{external}"), "admin")
        .await
        .ok(204);
    let idle = idle["id"].as_str().unwrap();
    cloud
        .get(&format!("/v2.0/floatingips/{idle}"), "admin")
        .await
        .error(404, "FloatingIPNotFound");
    assert_eq!(
        cloud.count("/v2.0/floatingips", "floatingips").await,
        floating_before - 1
    );
    // The idle floating IP's port went; the internal port stays.
    assert_eq!(
        cloud.count("/v2.0/ports", "ports").await,
        ports_before - 1 + 2,
        "the internal network's DHCP port and the port remain"
    );
}

/// `test_networks.test_external_network_visibility` with the
/// `subnet-external-network` extension: an external network's subnets are
/// everybody's to see, and say so.
#[tokio::test]
async fn subnets_say_whether_their_network_is_external() {
    let cloud = cloud();
    let extensions = cloud.list("/v2.0/extensions", "bob", "extensions").await;
    assert!(
        extensions
            .iter()
            .any(|e| e["alias"] == "subnet-external-network")
    );
    let public = cloud.id_of("network", "public").await;
    let subnets = cloud
        .list(
            &format!("/v2.0/subnets?network_id={public}"),
            "bob",
            "subnets",
        )
        .await;
    assert_eq!(names(&subnets), ["public-subnet"]);
    assert_eq!(subnets[0]["router:external"], true);
    let external = cloud
        .list("/v2.0/subnets?router:external=true", "admin", "subnets")
        .await;
    assert_eq!(names(&external), ["public-subnet"]);
    let internal = cloud
        .list("/v2.0/subnets?router:external=false", "admin", "subnets")
        .await;
    assert_eq!(names(&internal), ["shared-subnet", "private-subnet"]);
    // The flag follows the network.
    let (network, subnet) = cloud
        .network_with_subnet("admin", "later", "10.31.0.0/24")
        .await;
    cloud
        .put(
            &format!("/v2.0/networks/{network}"),
            "admin",
            json!({"network": {"router:external": true}}),
        )
        .await
        .ok(200);
    let shown = cloud.get(&format!("/v2.0/subnets/{subnet}"), "admin").await;
    assert_eq!(shown.ok(200)["subnet"]["router:external"], true);
}

/// Tempest's `create_subnet` tries the next CIDR only when Neutron's words
/// say the last one overlapped.
#[tokio::test]
async fn an_overlapping_subnet_says_so_in_neutrons_words() {
    let cloud = cloud();
    let (network, _) = cloud
        .network_with_subnet("alice", "n", "10.32.0.0/24")
        .await;
    let message = cloud
        .post(
            "/v2.0/subnets",
            "alice",
            json!({"subnet": {"network_id": network, "cidr": "10.32.0.0/28", "ip_version": 4}}),
        )
        .await
        .error(400, "InvalidInput");
    assert!(
        message.contains("overlaps with another subnet"),
        "{message}"
    );
}

/// `test_security_groups_negative.test_create_security_group_rule_with_invalid_ports`.
#[tokio::test]
async fn invalid_rule_ports_are_named_as_neutron_names_them() {
    let cloud = cloud();
    let group = cloud
        .create("alice", "security_group", json!({"name": "g"}))
        .await;
    for (protocol, min, max, words) in [
        ("tcp", json!(-16), json!(80), "Invalid value for port -16"),
        (
            "tcp",
            json!(80),
            json!(79),
            "port_range_min must be <= port_range_max",
        ),
        (
            "tcp",
            json!(80),
            json!(65536),
            "Invalid value for port 65536",
        ),
        (
            "tcp",
            Value::Null,
            json!(6),
            "port_range_min must be <= port_range_max",
        ),
        ("icmp", json!(1), json!(256), "Invalid value for ICMP code"),
        (
            "icmp",
            Value::Null,
            json!(6),
            "ICMP type (port-range-min) is missing",
        ),
        ("icmp", json!(300), json!(1), "Invalid value for ICMP type"),
    ] {
        let reply = cloud
            .post(
                "/v2.0/security-group-rules",
                "alice",
                json!({"security_group_rule": {"security_group_id": group["id"], "direction": "ingress",
                       "ethertype": "IPv4", "protocol": protocol, "port_range_min": min, "port_range_max": max}}),
            )
            .await;
        assert_eq!(reply.status.as_u16(), 400, "{}", reply.body);
        let message = reply.body["NeutronError"]["message"].as_str().unwrap();
        assert!(message.contains(words), "{protocol} {min} {max}: {message}");
    }
}
