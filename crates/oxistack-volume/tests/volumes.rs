//! Volumes through the API: versions and microversions, create from each
//! source, list filters/sort/pages/count, update, metadata, refusals with
//! Cinder's codes and words, quotas, visibility across projects.

mod support;

use axum::http::{Method, StatusCode};
use serde_json::json;
use support::{IMAGE, PROJECT_A, assert_fault, cloud};

#[tokio::test]
async fn versions_and_microversion_negotiation() {
    let cloud = cloud();
    let root = cloud.call(Method::GET, "alice", "/", None).await;
    assert_eq!(root.status, StatusCode::MULTIPLE_CHOICES);
    let version = &root.body["versions"][0];
    assert_eq!(version["id"], "v3.0");
    assert_eq!(version["status"], "CURRENT");
    assert_eq!(version["version"], "3.71");
    assert_eq!(version["min_version"], "3.0");
    let v3 = cloud.call(Method::GET, "nobody", "/v3", None).await;
    assert_eq!(v3.status, StatusCode::OK);
    let catalog = cloud
        .call(Method::GET, "nobody", &format!("/v3/{PROJECT_A}"), None)
        .await;
    assert_eq!(catalog.status, StatusCode::OK);
    let self_link = &catalog.body["versions"][0]["links"][1];
    assert_eq!(self_link["rel"], "self");
    assert_eq!(self_link["href"], "http://localhost/v3/");

    let at = cloud
        .call_at("3.50", Method::GET, "alice", "/volumes", None)
        .await;
    assert_eq!(at.version.as_deref(), Some("volume 3.50"));
    let latest = cloud
        .call_at("latest", Method::GET, "alice", "/volumes", None)
        .await;
    assert_eq!(latest.version.as_deref(), Some("volume 3.71"));
    let too_new = cloud
        .call_at("3.72", Method::GET, "alice", "/volumes", None)
        .await;
    assert_eq!(too_new.status, StatusCode::NOT_ACCEPTABLE);
    let legacy = axum::http::Request::get(format!("/v3/{PROJECT_A}/volumes"))
        .header("x-auth-token", "alice")
        .header("openstack-volume-microversion", "3.40")
        .body(axum::body::Body::empty())
        .unwrap();
    let response = tower::ServiceExt::oneshot(cloud.router.clone(), legacy)
        .await
        .unwrap();
    assert_eq!(response.headers()["openstack-api-version"], "volume 3.40");
    let vary = response.headers()["vary"].to_str().unwrap();
    assert!(vary.contains("openstack-api-version"), "{vary}");
    let unauthenticated = cloud.call(Method::GET, "nobody", "/volumes", None).await;
    assert_eq!(unauthenticated.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn create_show_and_version_dependent_fields() {
    let cloud = cloud();
    let reply = cloud
        .create_volume("alice", json!({"size": 1, "name": "v1"}))
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    assert_eq!(reply.body["volume"]["status"], "creating");
    // The `os-vol-*` extensions extend show and detail, not create.
    assert!(
        reply.body["volume"]
            .get("os-vol-tenant-attr:tenant_id")
            .is_none(),
        "{}",
        reply.body
    );
    let id = reply.body["volume"]["id"].as_str().unwrap().to_owned();
    let volume = cloud
        .wait("alice", &format!("/volumes/{id}"), "volume", "available")
        .await;
    assert_eq!(volume["bootable"], "false");
    assert_eq!(volume["volume_type"], "__DEFAULT__");
    assert_eq!(volume["os-vol-tenant-attr:tenant_id"], PROJECT_A);
    assert_eq!(volume["multiattach"], false);
    assert_eq!(volume["attachments"], json!([]));
    assert_eq!(volume["consumes_quota"], true);
    assert!(volume["volume_type_id"].is_string());
    assert!(volume.get("os-vol-host-attr:host").is_none());
    let created = volume["created_at"].as_str().unwrap();
    assert!(
        !created.ends_with('Z') && created.split('.').nth(1).unwrap().len() == 6,
        "{created}"
    );
    assert_eq!(cloud.backend.volume_size(&id), Some(1));

    let old = cloud
        .call_at("3.0", Method::GET, "alice", &format!("/volumes/{id}"), None)
        .await;
    for absent in [
        "group_id",
        "volume_type_id",
        "consumes_quota",
        "shared_targets",
    ] {
        assert!(old.body["volume"].get(absent).is_none(), "{absent}");
    }
    let admin = cloud
        .call_at(
            "3.61",
            Method::GET,
            "admin",
            &format!("/volumes/{id}"),
            None,
        )
        .await;
    assert!(
        admin.body["volume"]["os-vol-host-attr:host"]
            .as_str()
            .unwrap()
            .contains("@lvmdriver-1#")
    );
    assert!(
        admin.body["volume"]
            .as_object()
            .unwrap()
            .contains_key("cluster_name")
    );
    // Project-less URLs (3.67) name the same volume.
    let bare = cloud.get("alice", &format!("/v3/volumes/{id}")).await;
    assert_eq!(bare.body["volume"]["id"], id.as_str());
    assert!(
        bare.body["volume"]["links"][0]["href"]
            .as_str()
            .unwrap()
            .contains("/v3/volumes/")
    );
}

#[tokio::test]
async fn refusals_of_create() {
    let cloud = cloud();
    // (token, volume, status, the fault's message where Cinder's words matter)
    let refusals = [
        (
            "alice",
            json!({"size": 1, "availability_zone": "elsewhere"}),
            400,
            Some("Availability zone 'elsewhere' is invalid."),
        ),
        (
            "alice",
            json!({"size": 0}),
            400,
            Some("Invalid input received: Volume size '0' must be an integer and greater than 0"),
        ),
        (
            "alice",
            json!({"size": 1, "volume_type": "gold"}),
            404,
            Some("Volume type gold could not be found."),
        ),
        ("alice", json!({"size": 1, "name": "a\u{1b}b"}), 400, None),
        ("reader", json!({"size": 1}), 403, None),
    ];
    for (token, volume, status, message) in refusals {
        let reply = cloud.create_volume(token, volume).await;
        match message {
            Some(message) => assert_fault(&reply, status, message),
            None => assert_eq!(reply.status.as_u16(), status, "{}", reply.body),
        }
    }
    assert!(
        cloud.get("alice", "/volumes").await.body["volumes"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn lists_filter_sort_page_and_count() {
    let cloud = cloud();
    let mut ids = Vec::new();
    for (name, size, meta) in [("a", 1, "x"), ("b", 3, "y"), ("c", 2, "x")] {
        let v = cloud
            .volume(
                "alice",
                json!({"size": size, "name": name, "metadata": {"k": meta}}),
            )
            .await;
        ids.push(v["id"].as_str().unwrap().to_owned());
    }
    cloud.volume("bob", json!({"size": 1, "name": "a"})).await;
    let names = |body: &serde_json::Value| -> Vec<String> {
        body["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = cloud.get("alice", "/volumes").await;
    assert_eq!(names(&all.body), ["c", "b", "a"], "newest first");
    assert!(
        all.body["volumes"][0].get("status").is_none(),
        "a brief list"
    );
    let detail = cloud.get("alice", "/volumes/detail?sort=size:asc").await;
    assert_eq!(names(&detail.body), ["a", "c", "b"]);
    assert_eq!(detail.body["volumes"][0]["status"], "available");
    let legacy = cloud
        .get("alice", "/volumes/detail?sort_key=name&sort_dir=desc")
        .await;
    assert_eq!(names(&legacy.body), ["c", "b", "a"]);
    let by_name = cloud.get("alice", "/volumes/detail?name=b").await;
    assert_eq!(names(&by_name.body), ["b"]);
    let meta = cloud
        .get(
            "alice",
            "/volumes/detail?metadata=%7B%22k%22%3A%20%22x%22%7D",
        )
        .await;
    assert_eq!(names(&meta.body), ["c", "a"]);
    let like = cloud.get("alice", "/volumes/detail?name~=b").await;
    assert_eq!(names(&like.body), ["b"]);
    let paged = cloud
        .get(
            "alice",
            "/volumes/detail?sort=name:asc&limit=2&with_count=true",
        )
        .await;
    assert_eq!(names(&paged.body), ["a", "b"]);
    assert_eq!(paged.body["count"], 3);
    let next = paged.body["volumes_links"][0]["href"].as_str().unwrap();
    assert!(next.contains(&format!("marker={}", ids[1])), "{next}");
    let rest = cloud
        .get(
            "alice",
            &format!("/volumes/detail?sort=name:asc&limit=2&marker={}", ids[1]),
        )
        .await;
    assert_eq!(names(&rest.body), ["c"]);
    assert!(rest.body.get("volumes_links").is_none());
    let old_count = cloud
        .call_at(
            "3.44",
            Method::GET,
            "alice",
            "/volumes?with_count=true",
            None,
        )
        .await;
    assert!(old_count.body.get("count").is_none());
    let everyone = cloud.get("admin", "/volumes?all_tenants=1").await;
    assert_eq!(everyone.body["volumes"].as_array().unwrap().len(), 4);
    let forbidden = cloud.get("alice", "/volumes?all_tenants=1").await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    let bad_sort = cloud.get("alice", "/volumes?sort=bogus:asc").await;
    assert_eq!(bad_sort.status, StatusCode::BAD_REQUEST);
    let summary = cloud.get("alice", "/volumes/summary").await;
    assert_eq!(summary.body["volume-summary"]["total_count"], 3);
    assert_eq!(summary.body["volume-summary"]["total_size"], 6);
    assert_eq!(
        summary.body["volume-summary"]["metadata"]["k"],
        json!(["x", "y"])
    );
}

#[tokio::test]
async fn update_metadata_and_other_projects() {
    let cloud = cloud();
    let v = cloud
        .volume(
            "alice",
            json!({"size": 1, "name": "old", "metadata": {"a": "1"}}),
        )
        .await;
    let path = format!("/volumes/{}", v["id"].as_str().unwrap());
    let updated = cloud
        .put(
            "alice",
            &path,
            json!({"volume": {"name": "new", "description": "d"}}),
        )
        .await;
    assert_eq!(updated.body["volume"]["name"], "new");
    assert_eq!(updated.body["volume"]["description"], "d");
    let merged = cloud
        .post(
            "alice",
            &format!("{path}/metadata"),
            json!({"metadata": {"b": "2"}}),
        )
        .await;
    assert_eq!(merged.body["metadata"], json!({"a": "1", "b": "2"}));
    let replaced = cloud
        .put(
            "alice",
            &format!("{path}/metadata"),
            json!({"metadata": {"c": "3"}}),
        )
        .await;
    assert_eq!(replaced.body["metadata"], json!({"c": "3"}));
    let item = cloud.get("alice", &format!("{path}/metadata/c")).await;
    assert_eq!(item.body, json!({"meta": {"c": "3"}}));
    let deleted = cloud.delete("alice", &format!("{path}/metadata/c")).await;
    assert_eq!(deleted.status, StatusCode::OK);
    let gone = cloud.delete("alice", &format!("{path}/metadata/c")).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);

    let id = v["id"].as_str().unwrap();
    let hidden = cloud.get("bob", &path).await;
    assert_fault(&hidden, 404, &format!("Volume {id} could not be found."));
    let delete = cloud.delete("bob", &path).await;
    assert_eq!(delete.status, StatusCode::NOT_FOUND);
    assert_eq!(cloud.get("admin", &path).await.status, StatusCode::OK);
}

#[tokio::test]
async fn delete_refusals_cascade_and_extend() {
    let cloud = cloud();
    let v = cloud.volume("alice", json!({"size": 1})).await;
    let id = v["id"].as_str().unwrap().to_owned();
    let path = format!("/volumes/{id}");
    let shrink = cloud
        .post(
            "alice",
            &format!("{path}/action"),
            json!({"os-extend": {"new_size": 1}}),
        )
        .await;
    assert_fault(
        &shrink,
        400,
        "Invalid input received: New size for extend must be greater than current size. (current: 1, extended: 1).",
    );
    let grow = cloud
        .post(
            "alice",
            &format!("{path}/action"),
            json!({"os-extend": {"new_size": 3}}),
        )
        .await;
    assert_eq!(grow.status, StatusCode::ACCEPTED, "{}", grow.body);
    let grown = cloud.wait("alice", &path, "volume", "available").await;
    assert_eq!(grown["size"], 3);
    assert_eq!(cloud.backend.volume_size(&id), Some(3));

    cloud.snapshot("alice", json!({"volume_id": id})).await;
    let refused = cloud.delete("alice", &path).await;
    assert_fault(
        &refused,
        400,
        "Invalid volume: Volume status must be available or error or error_restoring or error_extending or \
         error_managing and must not be migrating, attached, belong to a group, have snapshots, awaiting a \
         transfer, or be disassociated from snapshots after volume transfer.",
    );
    let cascade = cloud.delete("alice", &format!("{path}?cascade=true")).await;
    assert_eq!(cascade.status, StatusCode::ACCEPTED);
    cloud.wait("alice", &path, "volume", "gone").await;
    assert!(cloud.backend.volume_ids().is_empty());
    let snapshots = cloud.get("alice", "/snapshots").await;
    assert!(snapshots.body["snapshots"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn volumes_from_image_snapshot_and_volume() {
    let cloud = cloud();
    let from_image = cloud
        .volume("alice", json!({"size": 2, "imageRef": IMAGE}))
        .await;
    assert_eq!(from_image["bootable"], "true");
    assert_eq!(from_image["volume_image_metadata"]["image_id"], IMAGE);
    assert_eq!(from_image["volume_image_metadata"]["os_distro"], "cirros");
    let snapshot = cloud
        .snapshot("alice", json!({"volume_id": from_image["id"]}))
        .await;
    let from_snapshot = cloud
        .volume("alice", json!({"snapshot_id": snapshot["id"]}))
        .await;
    assert_eq!(from_snapshot["size"], 2);
    assert_eq!(from_snapshot["snapshot_id"], snapshot["id"]);
    assert_eq!(from_snapshot["bootable"], "true");
    let too_small = cloud
        .create_volume("alice", json!({"size": 1, "snapshot_id": snapshot["id"]}))
        .await;
    assert_eq!(too_small.status, StatusCode::BAD_REQUEST);
    let clone = cloud
        .volume(
            "alice",
            json!({"source_volid": from_image["id"], "size": 4}),
        )
        .await;
    assert_eq!(clone["source_volid"], from_image["id"]);
    assert_eq!(clone["size"], 4);
    let missing = cloud
        .create_volume("alice", json!({"size": 1, "imageRef": "nope"}))
        .await;
    assert_fault(&missing, 404, "Image nope could not be found.");
}

#[tokio::test]
async fn a_failed_creation_is_error() {
    let cloud = cloud();
    cloud.backend.fail_creates(true);
    let reply = cloud.create_volume("alice", json!({"size": 1})).await;
    let id = reply.body["volume"]["id"].as_str().unwrap();
    cloud
        .wait("alice", &format!("/volumes/{id}"), "volume", "error")
        .await;
    let deleted = cloud.delete("alice", &format!("/volumes/{id}")).await;
    assert_eq!(deleted.status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn quotas_limits_and_413() {
    let cloud = cloud();
    let quotas = cloud
        .get("alice", &format!("/os-quota-sets/{PROJECT_A}"))
        .await;
    assert_eq!(quotas.body["quota_set"]["volumes"], 10);
    assert_eq!(quotas.body["quota_set"]["gigabytes"], 1000);
    assert_eq!(quotas.body["quota_set"]["per_volume_gigabytes"], -1);
    assert_eq!(quotas.body["quota_set"]["volumes___DEFAULT__"], -1);
    let set = cloud
        .put(
            "admin",
            &format!("/os-quota-sets/{PROJECT_A}"),
            json!({"quota_set": {"gigabytes": 3, "volumes": 2}}),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    let denied = cloud
        .put(
            "alice",
            &format!("/os-quota-sets/{PROJECT_A}"),
            json!({"quota_set": {"gigabytes": 3}}),
        )
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    cloud.volume("alice", json!({"size": 2})).await;
    let over = cloud.create_volume("alice", json!({"size": 2})).await;
    assert_fault(
        &over,
        413,
        "Requested volume or snapshot exceeds allowed gigabytes quota. Requested 2G, quota is 3G and 2G has been consumed.",
    );
    cloud.volume("alice", json!({"size": 1})).await;
    let count = cloud.create_volume("alice", json!({"size": 1})).await;
    assert_fault(
        &count,
        413,
        "Maximum number of volumes allowed (2) exceeded for quota 'volumes'.",
    );
    let usage = cloud
        .get("alice", &format!("/os-quota-sets/{PROJECT_A}?usage=true"))
        .await;
    assert_eq!(
        usage.body["quota_set"]["gigabytes"],
        json!({"limit": 3, "in_use": 3, "reserved": 0})
    );
    let limits = cloud.get("alice", "/limits").await;
    let absolute = &limits.body["limits"]["absolute"];
    assert_eq!(absolute["maxTotalVolumes"], 2);
    assert_eq!(absolute["totalVolumesUsed"], 2);
    assert_eq!(absolute["totalGigabytesUsed"], 3);
    assert_eq!(limits.body["limits"]["rate"], json!([]));
    let reset = cloud
        .delete("admin", &format!("/os-quota-sets/{PROJECT_A}"))
        .await;
    assert_eq!(reset.status, StatusCode::OK);
    let defaults = cloud
        .get("alice", &format!("/os-quota-sets/{PROJECT_A}/defaults"))
        .await;
    assert_eq!(defaults.body["quota_set"]["snapshots"], 10);
    let other = cloud.get("alice", "/os-quota-sets/project-b").await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn zones_services_and_extras() {
    let cloud = cloud();
    let zones = cloud.get("alice", "/os-availability-zone").await;
    assert_eq!(
        zones.body["availabilityZoneInfo"],
        json!([{"zoneName": "nova", "zoneState": {"available": true}}])
    );
    let services = cloud.get("admin", "/os-services").await;
    let binaries: Vec<&str> = services.body["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["binary"].as_str().unwrap())
        .collect();
    assert_eq!(binaries, ["cinder-scheduler", "cinder-volume"]);
    assert_eq!(
        cloud.get("alice", "/os-services").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        cloud.get("alice", "/backups").await.body,
        json!({"backups": []})
    );
    assert_eq!(
        cloud.get("alice", "/extensions").await.status,
        StatusCode::OK
    );
    let unknown = cloud.get("alice", "/nothing-here").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.body["itemNotFound"]["code"], 404);
}
