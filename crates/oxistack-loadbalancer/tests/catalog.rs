//! Flavors, availability zones and their profiles: an administrator's to
//! manage, anyone's to read and to pick for a load balancer.

mod support;

use axum::http::Method;
use serde_json::{Value, json};
use support::{SUBNET, UNKNOWN, assert_fault, cloud};

#[tokio::test]
async fn flavors_and_zones_are_offered_and_picked() {
    let cloud = cloud();
    let post = |token: &'static str, path: &'static str, key: &'static str, body: Value| {
        cloud.call(Method::POST, token, path, Some(json!({ key: body })))
    };
    let profile = post(
        "admin",
        "/v2/lbaas/flavorprofiles",
        "flavorprofile",
        json!({"name": "fp", "provider_name": "oxistack", "flavor_data": "{}"}),
    )
    .await;
    assert_eq!(profile.status, 201, "{}", profile.body);
    let profile_id = profile.body["flavorprofile"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let topology = post(
        "admin",
        "/v2/lbaas/flavorprofiles",
        "flavorprofile",
        json!({"name": "ha", "provider_name": "oxistack", "flavor_data": "{\"loadbalancer_topology\": \"ACTIVE_STANDBY\"}"}),
    )
    .await;
    assert_eq!(topology.status, 400, "{}", topology.body);
    let refused = post(
        "alice",
        "/v2/lbaas/flavors",
        "flavor",
        json!({"name": "small", "flavor_profile_id": profile_id}),
    )
    .await;
    assert_fault(
        &refused,
        403,
        "Policy does not allow this request to be performed.",
    );
    let flavor = post(
        "admin",
        "/v2/lbaas/flavors",
        "flavor",
        json!({"name": "small", "flavor_profile_id": profile_id}),
    )
    .await;
    assert_eq!(flavor.status, 201, "{}", flavor.body);
    let flavor = flavor.body["flavor"].clone();
    assert_eq!(
        flavor,
        json!({"id": flavor["id"], "name": "small", "description": "", "enabled": true, "flavor_profile_id": profile_id})
    );
    let listed = cloud.get("alice", "/v2/lbaas/flavors").await.body;
    assert_eq!(listed["flavors"], json!([flavor]));
    assert_eq!(
        cloud.get("alice", "/v2/lbaas/flavorprofiles").await.status,
        403
    );

    let zone_profile = post(
        "admin",
        "/v2/lbaas/availabilityzoneprofiles",
        "availability_zone_profile",
        json!({"name": "azp", "provider_name": "oxistack", "availability_zone_data": "{}"}),
    )
    .await;
    let zone_profile_id = zone_profile.body["availability_zone_profile"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let zone = post(
        "admin",
        "/v2/lbaas/availabilityzones",
        "availability_zone",
        json!({"name": "az1", "availability_zone_profile_id": zone_profile_id}),
    )
    .await;
    assert_eq!(zone.status, 201, "{}", zone.body);

    let lb = cloud
        .create_load_balancer(
            "alice",
            json!({"loadbalancer": {"vip_subnet_id": SUBNET, "flavor_id": flavor["id"], "availability_zone": "az1"}}),
        )
        .await;
    assert_eq!(
        (lb["flavor_id"].clone(), lb["availability_zone"].clone()),
        (flavor["id"].clone(), json!("az1"))
    );
    let create = |body: Value| {
        cloud.call(
            Method::POST,
            "alice",
            "/v2/lbaas/loadbalancers",
            Some(json!({"loadbalancer": body})),
        )
    };
    assert_fault(
        &create(json!({"vip_subnet_id": SUBNET, "flavor_id": UNKNOWN})).await,
        400,
        "Validation failure: Invalid flavor_id.",
    );
    assert_fault(
        &create(json!({"vip_subnet_id": SUBNET, "availability_zone": "az2"})).await,
        400,
        "Validation failure: Invalid availability_zone.",
    );
    let flavor_path = format!("/v2/lbaas/flavors/{}", flavor["id"].as_str().unwrap());
    let in_use = cloud
        .call(Method::DELETE, "admin", &flavor_path, None)
        .await;
    assert_fault(
        &in_use,
        409,
        &format!(
            "Flavor {} is in use and cannot be modified.",
            flavor["id"].as_str().unwrap()
        ),
    );
    let disabled = cloud
        .call(
            Method::PUT,
            "admin",
            &flavor_path,
            // As WSME reads a boolean, a string too.
            Some(json!({"flavor": {"enabled": "false"}})),
        )
        .await;
    assert_eq!(disabled.body["flavor"]["enabled"], false);
    let refused = create(json!({"vip_subnet_id": SUBNET, "flavor_id": flavor["id"]})).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    let profile_in_use = cloud
        .call(
            Method::DELETE,
            "admin",
            &format!("/v2/lbaas/flavorprofiles/{profile_id}"),
            None,
        )
        .await;
    assert_eq!(profile_in_use.status, 409);
}
