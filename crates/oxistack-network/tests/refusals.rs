//! Garbage that Neutron refuses is refused here too, with a 400 that
//! changes nothing: `null` for attributes that need a value when given
//! (Neutron's validators and converters reject `None`), and names holding
//! control characters. Where Neutron turns `null` into an empty list, so
//! does this service.

mod support;

use serde_json::{Value, json};
use support::*;

/// Everything the admin can list, one document a line, to compare before
/// and after refusals.
async fn everything(cloud: &Cloud) -> Vec<String> {
    let mut all = Vec::new();
    for (path, key) in [
        ("networks", "networks"),
        ("subnets", "subnets"),
        ("ports", "ports"),
        ("routers", "routers"),
        ("floatingips", "floatingips"),
        ("security-groups", "security_groups"),
        ("security-group-rules", "security_group_rules"),
    ] {
        let documents = cloud.list(&format!("/v2.0/{path}"), "admin", key).await;
        all.extend(documents.iter().map(Value::to_string));
    }
    all
}

/// Asserts that the cloud holds exactly what it held `before`, naming the
/// documents that differ.
async fn assert_unchanged(cloud: &Cloud, before: &[String]) {
    let after = everything(cloud).await;
    let gone: Vec<&String> = before.iter().filter(|d| !after.contains(d)).collect();
    let new: Vec<&String> = after.iter().filter(|d| !before.contains(d)).collect();
    assert!(
        gone.is_empty() && new.is_empty(),
        "a refusal changed something: before {gone:#?}, after {new:#?}"
    );
}

#[tokio::test]
async fn null_where_neutron_needs_a_value_is_a_400_that_changes_nothing() {
    let cloud = cloud();
    let (network, subnet) = cloud
        .network_with_subnet("alice", "n", "10.20.0.0/24")
        .await;
    let public = cloud.id_of("network", "public").await;
    let group = cloud
        .create("alice", "security_group", json!({"name": "g"}))
        .await;
    let group = group["id"].as_str().unwrap().to_owned();
    let router = cloud.create("alice", "router", json!({"name": "r"})).await;
    let router = router["id"].as_str().unwrap().to_owned();
    let port = cloud
        .create("alice", "port", json!({"network_id": network}))
        .await;
    let port = port["id"].as_str().unwrap().to_owned();
    let before = everything(&cloud).await;

    let subnet_with = |attributes: Value| {
        let mut body = json!({"network_id": network, "cidr": "10.21.0.0/24"});
        body.as_object_mut()
            .unwrap()
            .extend(attributes.as_object().unwrap().clone());
        json!({ "subnet": body })
    };
    // (path, body, the attribute the message must name)
    let creates: Vec<(&str, Value, &str)> = vec![
        (
            "/v2.0/subnets",
            subnet_with(json!({"ip_version": null})),
            "subnet.ip_version",
        ),
        (
            "/v2.0/subnets",
            subnet_with(json!({"enable_dhcp": null})),
            "subnet.enable_dhcp",
        ),
        (
            "/v2.0/subnets",
            subnet_with(json!({"allocation_pools": null})),
            "subnet.allocation_pools",
        ),
        (
            "/v2.0/subnets",
            subnet_with(json!({"ipv6_ra_mode": null})),
            "subnet.ipv6_ra_mode",
        ),
        (
            "/v2.0/routers",
            json!({"router": {"name": "x", "external_gateway_info": {"network_id": null}}}),
            "router.external_gateway_info.network_id",
        ),
        (
            "/v2.0/routers",
            json!({"router": {"external_gateway_info": {"network_id": public, "enable_snat": null}}}),
            "router.external_gateway_info.enable_snat",
        ),
        (
            "/v2.0/routers",
            json!({"router": {"external_gateway_info": {"enable_snat": false}}}),
            "network_id",
        ),
        (
            "/v2.0/routers",
            json!({"router": {"admin_state_up": null}}),
            "router.admin_state_up",
        ),
        (
            "/v2.0/security-group-rules",
            json!({"security_group_rule": {"security_group_id": group, "direction": "ingress", "ethertype": null, "protocol": "tcp"}}),
            "security_group_rule.ethertype",
        ),
        (
            "/v2.0/security-group-rules",
            json!({"security_group_rule": {"security_group_id": group, "direction": "ingress", "description": null}}),
            "security_group_rule.description",
        ),
        (
            "/v2.0/security-groups",
            json!({"security_group": {"name": null}}),
            "security_group.name",
        ),
        (
            "/v2.0/networks",
            json!({"network": {"name": "x", "admin_state_up": null}}),
            "network.admin_state_up",
        ),
        (
            "/v2.0/networks",
            json!({"network": {"name": "x", "mtu": null}}),
            "network.mtu",
        ),
        (
            "/v2.0/networks",
            json!({"network": {"name": "x", "shared": null}}),
            "network.shared",
        ),
        (
            "/v2.0/ports",
            json!({"port": {"network_id": network, "fixed_ips": null}}),
            "port.fixed_ips",
        ),
        (
            "/v2.0/ports",
            json!({"port": {"network_id": network, "fixed_ips": [{"subnet_id": null}]}}),
            "port.fixed_ips[0].subnet_id",
        ),
        (
            "/v2.0/ports",
            json!({"port": {"network_id": network, "mac_address": null}}),
            "port.mac_address",
        ),
        (
            "/v2.0/ports",
            json!({"port": {"network_id": network, "name": null}}),
            "port.name",
        ),
        (
            "/v2.0/floatingips",
            json!({"floatingip": {"floating_network_id": public, "description": null}}),
            "floatingip.description",
        ),
    ];
    for (path, body, field) in creates {
        let reply = cloud.post(path, "alice", body.clone()).await;
        assert_eq!(reply.status.as_u16(), 400, "{path} {body}: {}", reply.body);
        let message = reply.body["NeutronError"]["message"].as_str().unwrap();
        assert!(message.contains(field), "{path} {body}: {message}");
    }
    let updates: Vec<(String, Value)> = vec![
        (
            format!("/v2.0/networks/{network}"),
            json!({"network": {"name": null}}),
        ),
        (
            format!("/v2.0/subnets/{subnet}"),
            json!({"subnet": {"enable_dhcp": null}}),
        ),
        (
            format!("/v2.0/ports/{port}"),
            json!({"port": {"admin_state_up": null}}),
        ),
        (
            format!("/v2.0/routers/{router}"),
            json!({"router": {"external_gateway_info": {"network_id": null}}}),
        ),
        (
            format!("/v2.0/security-groups/{group}"),
            json!({"security_group": {"description": null}}),
        ),
        (
            format!("/v2.0/routers/{router}/add_router_interface"),
            json!({"subnet_id": null}),
        ),
    ];
    for (path, body) in updates {
        let reply = cloud.put(&path, "alice", body.clone()).await;
        assert_eq!(reply.status.as_u16(), 400, "{path} {body}: {}", reply.body);
    }
    assert_unchanged(&cloud, &before).await;
}

#[tokio::test]
async fn null_lists_are_empty_lists_as_in_neutron() {
    let cloud = cloud();
    let network = cloud.create("alice", "network", json!({"name": "n"})).await;
    let network = network["id"].as_str().unwrap();
    let subnet = cloud
        .create(
            "alice",
            "subnet",
            json!({"network_id": network, "cidr": "10.22.0.0/24", "ip_version": 4,
                   "dns_nameservers": null, "host_routes": null}),
        )
        .await;
    assert_eq!(subnet["dns_nameservers"], json!([]));
    assert_eq!(subnet["host_routes"], json!([]));
    let port = cloud
        .create(
            "alice",
            "port",
            json!({"network_id": network, "security_groups": null, "allowed_address_pairs": null}),
        )
        .await;
    assert_eq!(port["security_groups"], json!([]), "null is no groups");
    assert_eq!(port["allowed_address_pairs"], json!([]));
    let id = subnet["id"].as_str().unwrap();
    cloud
        .put(
            &format!("/v2.0/subnets/{id}"),
            "alice",
            json!({"subnet": {"dns_nameservers": ["192.0.2.53"]}}),
        )
        .await
        .ok(200);
    let cleared = cloud
        .put(
            &format!("/v2.0/subnets/{id}"),
            "alice",
            json!({"subnet": {"dns_nameservers": null}}),
        )
        .await;
    assert_eq!(cleared.ok(200)["subnet"]["dns_nameservers"], json!([]));
}

#[tokio::test]
async fn names_with_control_characters_are_refused() {
    let cloud = cloud();
    let (network, _) = cloud
        .network_with_subnet("alice", "plain", "10.23.0.0/24")
        .await;
    let before = everything(&cloud).await;
    for bad in [
        "nul\0name",
        "\u{1b}[31mred",
        "two\nlines",
        "del\u{7f}",
        "c1\u{85}",
    ] {
        for (path, body) in [
            ("/v2.0/networks", json!({"network": {"name": bad}})),
            (
                "/v2.0/subnets",
                json!({"subnet": {"network_id": network, "cidr": "10.24.0.0/24", "name": bad}}),
            ),
            (
                "/v2.0/ports",
                json!({"port": {"network_id": network, "name": bad}}),
            ),
            ("/v2.0/routers", json!({"router": {"name": bad}})),
            (
                "/v2.0/security-groups",
                json!({"security_group": {"name": bad}}),
            ),
            (
                "/v2.0/networks",
                json!({"networks": [{"name": "fine"}, {"name": bad}]}),
            ),
        ] {
            let message = cloud
                .post(path, "alice", body.clone())
                .await
                .error(400, "InvalidInput");
            assert!(message.contains("control character"), "{body}: {message}");
        }
        cloud
            .put(
                &format!("/v2.0/networks/{network}"),
                "alice",
                json!({"network": {"name": bad}}),
            )
            .await
            .error(400, "InvalidInput");
    }
    assert_unchanged(&cloud, &before).await;
    // Printable text of any script, spaces included, is a fine name.
    let fine = cloud
        .create("alice", "network", json!({"name": "web 1 (prod) ✓ Ω"}))
        .await;
    assert_eq!(fine["name"], "web 1 (prod) ✓ Ω");
}
