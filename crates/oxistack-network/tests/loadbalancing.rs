//! Networking as the load-balancer service uses it: the
//! `LoadBalancerNetworking` contract on the service, checked through the
//! Neutron API and the state handed to the (fake) data plane.

mod support;

use oxistack_contracts::{
    ContractError, DEVICE_OWNER_LOADBALANCER, ListenerOpening, LoadBalancerNetworking, VipPort,
    VipRequest, vip_device_id,
};
use oxistack_netplane::{NetworkState, PortMatch, Remote};
use serde_json::{Value, json};
use support::*;

const LB: &str = "5b0c3f1e-9d2a-4c7b-8e6f-1a2b3c4d5e6f";

fn request(project: &str) -> VipRequest {
    VipRequest {
        load_balancer_id: LB.into(),
        project_id: project.into(),
        ..VipRequest::default()
    }
}

async fn vip(cloud: &Cloud, token: &str, request: VipRequest) -> Result<VipPort, ContractError> {
    let caller = cloud.caller(token);
    LoadBalancerNetworking::create_vip(&*cloud.service, &caller, request).await
}

async fn lb_ports(cloud: &Cloud) -> Vec<Value> {
    cloud
        .list(
            &format!("/v2.0/ports?device_id={}", vip_device_id(LB)),
            "admin",
            "ports",
        )
        .await
}

async fn applied(cloud: &Cloud) -> NetworkState {
    LoadBalancerNetworking::sync_host(&*cloud.service)
        .await
        .unwrap();
    cloud.dataplane.last_applied().unwrap()
}

/// What a refused request must leave alone: every port and group.
async fn snapshot(cloud: &Cloud) -> (Value, Value) {
    (
        cloud.get("/v2.0/ports", "admin").await.ok(200).clone(),
        cloud
            .get("/v2.0/security-groups", "admin")
            .await
            .ok(200)
            .clone(),
    )
}

#[test]
fn the_contract_and_the_data_plane_agree_on_the_names() {
    assert_eq!(
        DEVICE_OWNER_LOADBALANCER,
        oxistack_netplane::DEVICE_OWNER_LOADBALANCER
    );
    assert_eq!(
        vip_device_id("x"),
        format!("{}x", oxistack_netplane::LOAD_BALANCER_DEVICE_PREFIX)
    );
}

#[tokio::test]
async fn a_vip_on_a_subnet_is_an_octavia_port_in_its_own_group() {
    let cloud = cloud();
    let subnet = cloud.id_of("subnet", "private-subnet").await;
    let network = cloud.id_of("network", "private").await;
    let vip = vip(
        &cloud,
        "demo",
        VipRequest {
            subnet_id: Some(subnet.clone()),
            ..request(DEMO_PROJECT)
        },
    )
    .await
    .unwrap();
    assert_eq!(
        (vip.network_id.as_str(), vip.subnet_id.as_str()),
        (network.as_str(), subnet.as_str())
    );
    assert!(vip.created);

    // `openstack port list --device-id lb-$LB_ID` finds it.
    let ports = lb_ports(&cloud).await;
    assert_eq!(ports.len(), 1, "{ports:?}");
    let port = &ports[0];
    assert_eq!(port["id"], vip.port_id.as_str());
    assert_eq!(port["name"], format!("octavia-lb-{LB}"));
    assert_eq!(port["device_owner"], "Octavia");
    assert_eq!(port["project_id"], DEMO_PROJECT);
    assert_eq!(port["admin_state_up"], true);
    assert_eq!(port["status"], "ACTIVE");
    assert_eq!(port["fixed_ips"][0]["ip_address"], vip.address.to_string());
    assert_eq!(port["security_groups"], json!([LB]));

    // The group is the project's, named as Octavia names it, and lets
    // nothing in yet.
    let group = cloud
        .get(&format!("/v2.0/security-groups/{LB}"), "demo")
        .await;
    let group = &group.ok(200)["security_group"];
    assert_eq!(group["name"], format!("lb-{LB}"));
    assert_eq!(group["project_id"], DEMO_PROJECT);
    let rules = group["security_group_rules"].as_array().unwrap();
    assert!(
        rules.iter().all(|r| r["direction"] == "egress"),
        "{rules:?}"
    );

    // The data plane learns it is a load balancer's VIP.
    let state = applied(&cloud).await;
    assert_eq!(state.load_balancers.len(), 1);
    assert_eq!(state.load_balancers[0].id, LB);
    assert_eq!(state.load_balancers[0].vip_port_id, vip.port_id);
    let planned = state.ports.iter().find(|p| p.id == vip.port_id).unwrap();
    assert_eq!(planned.load_balancer_id(), Some(LB));

    // A second VIP for the same load balancer is refused.
    let again = self::vip(
        &cloud,
        "demo",
        VipRequest {
            subnet_id: Some(subnet),
            ..request(DEMO_PROJECT)
        },
    )
    .await;
    assert!(
        matches!(again, Err(ContractError::Conflict(_))),
        "{again:?}"
    );
}

#[tokio::test]
async fn a_vip_on_a_network_takes_its_subnet_or_the_address_asked_for() {
    let cloud = cloud();
    let network = cloud.id_of("network", "private").await;
    let subnet = cloud.id_of("subnet", "private-subnet").await;
    let vip = vip(
        &cloud,
        "demo",
        VipRequest {
            network_id: Some(network.clone()),
            address: Some("10.0.0.50".parse().unwrap()),
            ..request(DEMO_PROJECT)
        },
    )
    .await
    .unwrap();
    assert_eq!(vip.subnet_id, subnet);
    assert_eq!(vip.address.to_string(), "10.0.0.50");
    LoadBalancerNetworking::release(&*cloud.service, LB)
        .await
        .unwrap();

    let vip = self::vip(
        &cloud,
        "demo",
        VipRequest {
            network_id: Some(network),
            ..request(DEMO_PROJECT)
        },
    )
    .await
    .unwrap();
    assert_eq!(vip.subnet_id, subnet);
}

#[tokio::test]
async fn refusals_change_nothing() {
    let cloud = cloud();
    let subnet = cloud.id_of("subnet", "private-subnet").await;
    let before = snapshot(&cloud).await;

    // Another project's subnet does not exist for alice.
    let refused = vip(
        &cloud,
        "alice",
        VipRequest {
            subnet_id: Some(subnet.clone()),
            ..request("project-a")
        },
    )
    .await;
    assert!(
        matches!(refused, Err(ContractError::NotFound(_))),
        "{refused:?}"
    );
    assert_eq!(snapshot(&cloud).await, before);

    // An address some port holds is taken.
    let network = cloud.id_of("network", "private").await;
    let before = {
        cloud
            .create(
                "demo",
                "port",
                json!({"network_id": network, "fixed_ips": [{"ip_address": "10.0.0.40"}]}),
            )
            .await;
        snapshot(&cloud).await
    };
    let refused = vip(
        &cloud,
        "demo",
        VipRequest {
            subnet_id: Some(subnet.clone()),
            address: Some("10.0.0.40".parse().unwrap()),
            ..request(DEMO_PROJECT)
        },
    )
    .await;
    assert!(
        matches!(refused, Err(ContractError::Conflict(_))),
        "{refused:?}"
    );
    assert_eq!(snapshot(&cloud).await, before);

    // The administrator may use any project's subnet.
    vip(
        &cloud,
        "admin",
        VipRequest {
            subnet_id: Some(subnet),
            ..request("project-a")
        },
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn a_users_port_becomes_the_vip_and_is_only_unbound_at_release() {
    let cloud = cloud();
    let network = cloud.id_of("network", "private").await;
    let port = cloud
        .create(
            "demo",
            "port",
            json!({"network_id": network, "name": "mine"}),
        )
        .await;
    let port_id = port["id"].as_str().unwrap().to_owned();
    let vip = vip(
        &cloud,
        "demo",
        VipRequest {
            port_id: Some(port_id.clone()),
            ..request(DEMO_PROJECT)
        },
    )
    .await
    .unwrap();
    assert!(!vip.created);
    assert_eq!(vip.port_id, port_id);
    let shown = cloud.get(&format!("/v2.0/ports/{port_id}"), "demo").await;
    let shown = &shown.ok(200)["port"];
    assert_eq!(shown["name"], "mine");
    assert_eq!(shown["device_id"], vip_device_id(LB));
    assert_eq!(shown["device_owner"], "Octavia");
    assert_eq!(shown["security_groups"], json!([LB]));

    LoadBalancerNetworking::release(&*cloud.service, LB)
        .await
        .unwrap();
    let shown = cloud.get(&format!("/v2.0/ports/{port_id}"), "demo").await;
    let shown = &shown.ok(200)["port"];
    assert_eq!(shown["device_id"], "");
    assert_eq!(shown["device_owner"], "");
    let default = cloud
        .list(
            "/v2.0/security-groups?name=default",
            "demo",
            "security_groups",
        )
        .await[0]["id"]
        .clone();
    assert_eq!(shown["security_groups"], json!([default]));
    cloud
        .get(&format!("/v2.0/security-groups/{LB}"), "admin")
        .await
        .error(404, "SecurityGroupNotFound");

    // A bound port cannot be taken.
    let server_port = cloud
        .create(
            "demo",
            "port",
            json!({"network_id": network, "device_id": "server-1", "device_owner": "compute:nova"}),
        )
        .await;
    let refused = self::vip(
        &cloud,
        "demo",
        VipRequest {
            port_id: Some(server_port["id"].as_str().unwrap().into()),
            ..request(DEMO_PROJECT)
        },
    )
    .await;
    assert!(
        matches!(refused, Err(ContractError::Conflict(_))),
        "{refused:?}"
    );
}

#[tokio::test]
async fn openings_are_exactly_the_listeners_ports() {
    let cloud = cloud();
    let subnet = cloud.id_of("subnet", "private-subnet").await;
    vip(
        &cloud,
        "demo",
        VipRequest {
            subnet_id: Some(subnet),
            ..request(DEMO_PROJECT)
        },
    )
    .await
    .unwrap();
    let openings = vec![
        ListenerOpening {
            protocol: "tcp",
            port: 80,
            allowed_cidrs: vec![],
        },
        ListenerOpening {
            protocol: "udp",
            port: 53,
            allowed_cidrs: vec![
                "10.1.0.0/16".parse().unwrap(),
                "192.168.7.0/24".parse().unwrap(),
            ],
        },
    ];
    let service = &*cloud.service;
    LoadBalancerNetworking::set_openings(service, LB, openings.clone())
        .await
        .unwrap();
    let first = rules(&cloud).await;
    let texts: Vec<&str> = first.iter().map(|(text, _)| text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "egress IPv4 any null-null -",
            "egress IPv6 any null-null -",
            "ingress IPv4 tcp 80-80 0.0.0.0/0",
            "ingress IPv4 udp 53-53 10.1.0.0/16",
            "ingress IPv4 udp 53-53 192.168.7.0/24",
        ]
    );
    // The same openings again change nothing, not even rule ids.
    LoadBalancerNetworking::set_openings(service, LB, openings)
        .await
        .unwrap();
    assert_eq!(rules(&cloud).await, first);

    // The data plane gets them as matches.
    let state = applied(&cloud).await;
    let group = state.security_groups.iter().find(|g| g.id == LB).unwrap();
    assert!(group.rules.iter().any(|r| r.protocol == Some(6)
        && r.destination == PortMatch::Ports { min: 80, max: 80 }
        && r.remote == Remote::Any));

    // Replacing them drops the old ones.
    LoadBalancerNetworking::set_openings(
        service,
        LB,
        vec![ListenerOpening {
            protocol: "tcp",
            port: 443,
            allowed_cidrs: vec![],
        }],
    )
    .await
    .unwrap();
    let texts: Vec<String> = rules(&cloud).await.into_iter().map(|(t, _)| t).collect();
    assert_eq!(
        texts,
        [
            "egress IPv4 any null-null -",
            "egress IPv6 any null-null -",
            "ingress IPv4 tcp 443-443 0.0.0.0/0",
        ]
    );
    let refused = LoadBalancerNetworking::set_openings(
        service,
        LB,
        vec![ListenerOpening {
            protocol: "icmp",
            port: 1,
            allowed_cidrs: vec![],
        }],
    )
    .await;
    assert!(
        matches!(refused, Err(ContractError::Invalid(_))),
        "{refused:?}"
    );
}

#[tokio::test]
async fn member_subnets_get_a_port_each() {
    let cloud = cloud();
    let subnet = cloud.id_of("subnet", "private-subnet").await;
    let vip = vip(
        &cloud,
        "demo",
        VipRequest {
            subnet_id: Some(subnet.clone()),
            ..request(DEMO_PROJECT)
        },
    )
    .await
    .unwrap();
    let (_, backends) = cloud
        .network_with_subnet("demo", "backends", "10.9.0.0/24")
        .await;
    let service = &*cloud.service;
    // The VIP's own subnet needs no port of its own.
    LoadBalancerNetworking::set_member_subnets(service, LB, vec![backends.clone(), subnet])
        .await
        .unwrap();
    let ports = lb_ports(&cloud).await;
    assert_eq!(ports.len(), 2, "{ports:?}");
    let member = ports
        .iter()
        .find(|p| p["id"] != vip.port_id.as_str())
        .unwrap();
    assert_eq!(member["fixed_ips"][0]["subnet_id"], backends.as_str());
    assert_eq!(member["device_owner"], "Octavia");
    assert_eq!(member["security_groups"], json!([LB]));
    let member_id = member["id"].as_str().unwrap().to_owned();

    // Again: nothing changes. The data plane still sees one VIP.
    LoadBalancerNetworking::set_member_subnets(service, LB, vec![backends.clone()])
        .await
        .unwrap();
    let ids: Vec<Value> = lb_ports(&cloud)
        .await
        .iter()
        .map(|p| p["id"].clone())
        .collect();
    assert!(ids.contains(&json!(member_id)), "{ids:?}");
    let state = applied(&cloud).await;
    assert_eq!(state.load_balancers.len(), 1);
    assert_eq!(state.load_balancers[0].vip_port_id, vip.port_id);
    assert_eq!(
        state
            .ports
            .iter()
            .filter(|p| p.load_balancer_id() == Some(LB))
            .count(),
        2
    );

    let refused =
        LoadBalancerNetworking::set_member_subnets(service, LB, vec!["no-such-subnet".into()])
            .await;
    assert!(
        matches!(refused, Err(ContractError::Invalid(_))),
        "{refused:?}"
    );
    assert_eq!(lb_ports(&cloud).await.len(), 2);

    LoadBalancerNetworking::set_member_subnets(service, LB, vec![])
        .await
        .unwrap();
    let ports = lb_ports(&cloud).await;
    assert_eq!(ports.len(), 1);
    assert_eq!(ports[0]["id"], vip.port_id.as_str());
}

#[tokio::test]
async fn the_vip_port_is_the_load_balancers_until_it_is_released() {
    let cloud = cloud();
    let subnet = cloud.id_of("subnet", "private-subnet").await;
    let vip = vip(
        &cloud,
        "demo",
        VipRequest {
            subnet_id: Some(subnet),
            ..request(DEMO_PROJECT)
        },
    )
    .await
    .unwrap();

    // Neutron's API refuses to delete it, even for the administrator.
    for token in ["demo", "admin"] {
        let message = cloud
            .delete(&format!("/v2.0/ports/{}", vip.port_id), token)
            .await
            .error(409, "PortInUse");
        assert!(message.contains(LB), "{message}");
    }

    // Nor may the port API move it to another device, or make a port
    // pose as a load balancer's.
    let refused = cloud
        .put(
            &format!("/v2.0/ports/{}", vip.port_id),
            "demo",
            json!({"port": {"device_id": "server-1", "device_owner": "compute:nova"}}),
        )
        .await;
    refused.error(409, "PortInUse");
    let network = cloud.id_of("network", "private").await;
    let posing = cloud
        .post(
            "/v2.0/ports",
            "demo",
            json!({"port": {"network_id": network, "device_owner": "Octavia", "device_id": vip_device_id(LB)}}),
        )
        .await;
    posing.error(400, "InvalidInput");
    let renamed = cloud
        .put(
            &format!("/v2.0/ports/{}", vip.port_id),
            "demo",
            json!({"port": {"name": "still mine", "device_owner": "Octavia"}}),
        )
        .await;
    assert_eq!(renamed.ok(200)["port"]["name"], "still mine");

    // A floating IP goes on it as on an instance's port, description kept.
    let public = cloud.id_of("network", "public").await;
    let floating = cloud
        .create(
            "demo",
            "floatingip",
            json!({"floating_network_id": public, "description": "  VIP of my LB \u{e9} "}),
        )
        .await;
    let floating_id = floating["id"].as_str().unwrap().to_owned();
    let associated = cloud
        .put(
            &format!("/v2.0/floatingips/{floating_id}"),
            "demo",
            json!({"floatingip": {"port_id": vip.port_id}}),
        )
        .await;
    let associated = &associated.ok(200)["floatingip"];
    assert_eq!(associated["fixed_ip_address"], vip.address.to_string());
    assert_eq!(associated["description"], "  VIP of my LB \u{e9} ");
    let state = applied(&cloud).await;
    let planned = state
        .floating_ips
        .iter()
        .find(|f| f.id == floating_id)
        .unwrap();
    assert_eq!(planned.fixed_ip_address, Some(vip.address));
    assert!(planned.router_id.is_some());

    // Released: port and group gone, the floating IP kept, unassociated.
    let service = &*cloud.service;
    LoadBalancerNetworking::release(service, LB).await.unwrap();
    assert!(lb_ports(&cloud).await.is_empty());
    cloud
        .get(&format!("/v2.0/security-groups/{LB}"), "admin")
        .await
        .error(404, "SecurityGroupNotFound");
    let kept = cloud
        .get(&format!("/v2.0/floatingips/{floating_id}"), "demo")
        .await;
    let kept = &kept.ok(200)["floatingip"];
    assert_eq!(kept["port_id"], Value::Null);
    assert_eq!(kept["description"], "  VIP of my LB \u{e9} ");
    LoadBalancerNetworking::release(service, LB).await.unwrap();
    assert!(applied(&cloud).await.load_balancers.is_empty());
}

#[tokio::test]
async fn subnet_network_answers_what_the_caller_sees() {
    let cloud = cloud();
    let subnet = cloud.id_of("subnet", "private-subnet").await;
    let network = cloud.id_of("network", "private").await;
    let service = &*cloud.service;
    let demo = cloud.caller("demo");
    assert_eq!(
        LoadBalancerNetworking::subnet_network(service, &demo, &subnet)
            .await
            .unwrap(),
        network
    );
    let alice = cloud.caller("alice");
    let hidden = LoadBalancerNetworking::subnet_network(service, &alice, &subnet).await;
    assert!(
        matches!(hidden, Err(ContractError::NotFound(_))),
        "{hidden:?}"
    );
}

/// The load balancer's group's rules as text, with their ids, sorted.
async fn rules(cloud: &Cloud) -> Vec<(String, String)> {
    let mut rules: Vec<(String, String)> = cloud
        .list(
            &format!("/v2.0/security-group-rules?security_group_id={LB}"),
            "demo",
            "security_group_rules",
        )
        .await
        .into_iter()
        .map(|r| {
            let text = format!(
                "{} {} {} {}-{} {}",
                r["direction"].as_str().unwrap(),
                r["ethertype"].as_str().unwrap(),
                r["protocol"].as_str().unwrap_or("any"),
                r["port_range_min"],
                r["port_range_max"],
                r["remote_ip_prefix"].as_str().unwrap_or("-"),
            );
            (text, r["id"].as_str().unwrap().to_owned())
        })
        .collect();
    rules.sort();
    rules
}
