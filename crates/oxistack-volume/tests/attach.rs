//! Attaching: the Volumes contract as compute drives it (single and
//! multi-attach), extending an attached volume, the attachments API, the
//! old attach actions, snapshots of in-use volumes and volume types.

mod support;

use axum::http::{Method, StatusCode};
use oxistack_contracts::{BootVolumeRequest, ContractError, Volumes};
use serde_json::json;
use support::{IMAGE, PROJECT_A, assert_fault, caller, cloud};

const SERVER: &str = "a1b2c3d4-0000-4000-8000-000000000001";
const OTHER_SERVER: &str = "a1b2c3d4-0000-4000-8000-000000000002";

#[tokio::test]
async fn the_contract_attaches_and_refuses_a_second_server() {
    let cloud = cloud();
    let alice = caller("alice", PROJECT_A, &["member", "reader"]);
    let v = cloud.volume("alice", json!({"size": 1})).await;
    let id = v["id"].as_str().unwrap();
    let grant = cloud.service.reserve(&alice, id, SERVER).await.unwrap();
    assert_eq!(grant.location.format, "qcow2");
    assert!(!grant.location.shareable);
    assert_eq!(
        cloud.get("alice", &format!("/volumes/{id}")).await.body["volume"]["status"],
        "attaching"
    );
    cloud
        .service
        .complete(&grant.attachment_id, "/dev/vdb")
        .await
        .unwrap();
    let shown = cloud.get("alice", &format!("/volumes/{id}")).await.body["volume"].clone();
    assert_eq!(shown["status"], "in-use");
    let attachment = &shown["attachments"][0];
    assert_eq!(attachment["server_id"], SERVER);
    assert_eq!(attachment["device"], "/dev/vdb");
    assert_eq!(attachment["attachment_id"], grant.attachment_id.as_str());
    assert_eq!(attachment["id"], id);

    let second = cloud
        .service
        .reserve(&alice, id, OTHER_SERVER)
        .await
        .unwrap_err();
    assert!(
        matches!(&second, ContractError::Conflict(m) if m == &format!(
            "Invalid volume: Volume {id} status must be available or downloading to reserve, but the current status is in-use.")),
        "{second:?}"
    );
    let same = cloud.service.reserve(&alice, id, SERVER).await.unwrap_err();
    assert!(matches!(same, ContractError::Conflict(_)), "{same:?}");
    let bob = caller("bob", "project-b", &["member", "reader"]);
    let hidden = cloud
        .service
        .reserve(&bob, id, OTHER_SERVER)
        .await
        .unwrap_err();
    assert!(
        matches!(&hidden, ContractError::NotFound(m) if m == &format!("Volume {id} could not be found."))
    );

    let delete = cloud
        .call(Method::DELETE, "alice", &format!("/volumes/{id}"), None)
        .await;
    assert_eq!(delete.status, StatusCode::BAD_REQUEST);
    let listed = cloud.service.server_attachments(SERVER).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].attach_status, "attached");

    cloud
        .service
        .begin_detach(&grant.attachment_id)
        .await
        .unwrap();
    assert_eq!(
        cloud.get("alice", &format!("/volumes/{id}")).await.body["volume"]["status"],
        "detaching"
    );
    cloud.service.release(&grant.attachment_id).await.unwrap();
    cloud.service.release(&grant.attachment_id).await.unwrap();
    let after = cloud.get("alice", &format!("/volumes/{id}")).await.body["volume"].clone();
    assert_eq!(after["status"], "available");
    assert_eq!(after["attachments"], json!([]));
    Volumes::delete_volume(&*cloud.service, id).await.unwrap();
    cloud
        .wait("alice", &format!("/volumes/{id}"), "volume", "gone")
        .await;
    Volumes::delete_volume(&*cloud.service, id).await.unwrap();
}

#[tokio::test]
async fn multiattach_volumes_attach_twice_and_grow_under_guests() {
    let cloud = cloud();
    let alice = caller("alice", PROJECT_A, &["member", "reader"]);
    let v = cloud
        .volume("alice", json!({"size": 1, "volume_type": "multiattach"}))
        .await;
    assert_eq!(v["multiattach"], true);
    let id = v["id"].as_str().unwrap();
    let first = cloud.service.reserve(&alice, id, SERVER).await.unwrap();
    assert_eq!(first.location.format, "raw");
    assert!(first.location.shareable);
    cloud
        .service
        .complete(&first.attachment_id, "/dev/vdb")
        .await
        .unwrap();
    let second = cloud
        .service
        .reserve(&alice, id, OTHER_SERVER)
        .await
        .unwrap();
    assert_eq!(
        cloud.get("alice", &format!("/volumes/{id}")).await.body["volume"]["status"],
        "in-use"
    );
    cloud
        .service
        .complete(&second.attachment_id, "/dev/vdc")
        .await
        .unwrap();

    let old = cloud
        .call_at(
            "3.41",
            Method::POST,
            "alice",
            &format!("/volumes/{id}/action"),
            Some(json!({"os-extend": {"new_size": 2}})),
        )
        .await;
    assert_fault(
        &old,
        400,
        &format!(
            "Invalid volume: Volume {id} status must be '{{'status': 'available'}}' to extend, currently in-use."
        ),
    );
    let grow = cloud
        .call_at(
            "3.42",
            Method::POST,
            "alice",
            &format!("/volumes/{id}/action"),
            Some(json!({"os-extend": {"new_size": 2}})),
        )
        .await;
    assert_eq!(grow.status, StatusCode::ACCEPTED, "{}", grow.body);
    let grown = cloud
        .wait("alice", &format!("/volumes/{id}"), "volume", "in-use")
        .await;
    assert_eq!(grown["size"], 2);
    let mut events = cloud.hosts.extended.lock().unwrap().clone();
    events.sort();
    let gib2 = 2 * 1024 * 1024 * 1024;
    assert_eq!(
        events,
        [
            (SERVER.to_owned(), id.to_owned(), gib2),
            (OTHER_SERVER.to_owned(), id.to_owned(), gib2)
        ]
    );
    assert_eq!(
        cloud.backend.volume_size(id),
        Some(1),
        "the hypervisor grows it, not the backend"
    );
    cloud.service.release(&first.attachment_id).await.unwrap();
    assert_eq!(
        cloud.get("alice", &format!("/volumes/{id}")).await.body["volume"]["status"],
        "in-use"
    );
    cloud.service.release(&second.attachment_id).await.unwrap();
    assert_eq!(
        cloud.get("alice", &format!("/volumes/{id}")).await.body["volume"]["status"],
        "available"
    );
}

#[tokio::test]
async fn boot_volumes_are_created_and_awaited() {
    let cloud = cloud();
    let alice = caller("alice", PROJECT_A, &["member", "reader"]);
    let request = BootVolumeRequest {
        name: "boot".into(),
        size_gib: 2,
        image_id: Some(IMAGE.into()),
        volume_type: None,
    };
    let summary = cloud
        .service
        .create_boot_volume(&alice, &request)
        .await
        .unwrap();
    assert_eq!(summary.status, "available");
    assert!(summary.bootable);
    assert_eq!(cloud.backend.volume_size(&summary.id), Some(2));
    cloud.backend.fail_creates(true);
    let failed = cloud
        .service
        .create_boot_volume(&alice, &request)
        .await
        .unwrap_err();
    assert!(
        matches!(failed, ContractError::Internal { .. }),
        "{failed:?}"
    );
    let found = cloud.service.find(&alice, &summary.id).await.unwrap();
    assert_eq!(found.unwrap().name, "boot");
    let bob = caller("bob", "project-b", &["member", "reader"]);
    assert!(
        cloud
            .service
            .find(&bob, &summary.id)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn the_attachments_api() {
    let cloud = cloud();
    let v = cloud.volume("alice", json!({"size": 1})).await;
    let id = v["id"].as_str().unwrap();
    let old = cloud
        .call_at(
            "3.26",
            Method::POST,
            "alice",
            "/attachments",
            Some(json!({"attachment": {"volume_uuid": id, "instance_uuid": SERVER}})),
        )
        .await;
    assert_eq!(old.status, StatusCode::NOT_FOUND);
    let created = cloud
        .call_at(
            "3.54",
            Method::POST,
            "alice",
            "/attachments",
            Some(json!({"attachment": {"volume_uuid": id, "instance_uuid": SERVER}})),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    assert_eq!(created.body["attachment"]["status"], "reserved");
    let attachment = created.body["attachment"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        cloud.get("alice", &format!("/volumes/{id}")).await.body["volume"]["status"],
        "reserved"
    );
    let again = cloud
        .call(
            Method::POST,
            "alice",
            "/attachments",
            Some(json!({"attachment": {"volume_uuid": id, "instance_uuid": OTHER_SERVER}})),
        )
        .await;
    assert_fault(
        &again,
        400,
        &format!(
            "Invalid volume: Volume {id} status must be available or downloading to reserve, but the current status is reserved."
        ),
    );
    let updated = cloud
        .call(
            Method::PUT,
            "alice",
            &format!("/attachments/{attachment}"),
            Some(json!({"attachment": {"connector": {"host": "h1", "mode": "rw"}}})),
        )
        .await;
    assert_eq!(
        updated.body["attachment"]["status"], "attaching",
        "{}",
        updated.body
    );
    assert_eq!(
        updated.body["attachment"]["connection_info"]["driver_volume_type"],
        "file"
    );
    let done = cloud
        .call(
            Method::POST,
            "alice",
            &format!("/attachments/{attachment}/action"),
            Some(json!({"os-complete": null})),
        )
        .await;
    assert_eq!(done.status, StatusCode::NO_CONTENT, "{}", done.body);
    assert_eq!(
        cloud.get("alice", &format!("/volumes/{id}")).await.body["volume"]["status"],
        "in-use"
    );
    let listed = cloud
        .get("alice", &format!("/attachments?volume_id={id}"))
        .await;
    assert_eq!(listed.body["attachments"][0]["status"], "attached");
    assert_eq!(listed.body["attachments"][0]["instance"], SERVER);
    let filtered = cloud
        .get("alice", "/attachments/detail?status=reserved")
        .await;
    assert!(filtered.body["attachments"].as_array().unwrap().is_empty());
    assert_eq!(
        cloud
            .get("bob", &format!("/attachments/{attachment}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let deleted = cloud
        .call(
            Method::DELETE,
            "alice",
            &format!("/attachments/{attachment}"),
            None,
        )
        .await;
    assert_eq!(deleted.body, json!({"attachments": []}));
    assert_eq!(
        cloud.get("alice", &format!("/volumes/{id}")).await.body["volume"]["status"],
        "available"
    );
}

#[tokio::test]
async fn old_style_attach_actions() {
    let cloud = cloud();
    let v = cloud.volume("alice", json!({"size": 1})).await;
    let id = v["id"].as_str().unwrap();
    let path = format!("/volumes/{id}/action");
    let action = |body| cloud.call(Method::POST, "alice", &path, Some(body));
    assert_eq!(
        action(json!({"os-reserve": null})).await.status,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        cloud.get("alice", &format!("/volumes/{id}")).await.body["volume"]["status"],
        "attaching"
    );
    let attach =
        action(json!({"os-attach": {"instance_uuid": SERVER, "mountpoint": "/dev/vdb"}})).await;
    assert_eq!(attach.status, StatusCode::ACCEPTED, "{}", attach.body);
    assert_eq!(
        cloud.get("alice", &format!("/volumes/{id}")).await.body["volume"]["status"],
        "in-use"
    );
    let info = action(json!({"os-initialize_connection": {"connector": {}}})).await;
    assert_eq!(info.body["connection_info"]["driver_volume_type"], "file");
    assert_eq!(
        action(json!({"os-begin_detaching": null})).await.status,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        action(json!({"os-roll_detaching": null})).await.status,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        action(json!({"os-detach": {}})).await.status,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        cloud.get("alice", &format!("/volumes/{id}")).await.body["volume"]["status"],
        "available"
    );
    let refused = action(json!({"os-begin_detaching": null})).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    let reset = action(json!({"os-reset_status": {"status": "error"}})).await;
    assert_eq!(reset.status, StatusCode::FORBIDDEN);
    let admin_reset = cloud
        .call(
            Method::POST,
            "admin",
            &format!("/volumes/{id}/action"),
            Some(json!({"os-reset_status": {"status": "error"}})),
        )
        .await;
    assert_eq!(admin_reset.status, StatusCode::ACCEPTED);
    assert_eq!(
        cloud.get("alice", &format!("/volumes/{id}")).await.body["volume"]["status"],
        "error"
    );
    let bootable = action(json!({"os-set_bootable": {"bootable": true}})).await;
    assert_eq!(bootable.status, StatusCode::OK);
    assert_eq!(
        cloud.get("alice", &format!("/volumes/{id}")).await.body["volume"]["bootable"],
        "true"
    );
    // A volume in error cannot become an image.
    let upload = action(json!({"os-volume_upload_image": {"image_name": "x"}})).await;
    assert_eq!(upload.status, StatusCode::BAD_REQUEST);
    assert!(
        upload.body["badRequest"]["message"]
            .as_str()
            .unwrap()
            .contains("status must be available"),
        "{}",
        upload.body
    );
    let force = cloud
        .call(
            Method::POST,
            "admin",
            &format!("/volumes/{id}/action"),
            Some(json!({"os-force_delete": {}})),
        )
        .await;
    assert_eq!(force.status, StatusCode::ACCEPTED);
    cloud
        .wait("alice", &format!("/volumes/{id}"), "volume", "gone")
        .await;
}

#[tokio::test]
async fn snapshots_of_in_use_volumes_need_force() {
    let cloud = cloud();
    let alice = caller("alice", PROJECT_A, &["member", "reader"]);
    let v = cloud.volume("alice", json!({"size": 1})).await;
    let id = v["id"].as_str().unwrap();
    let grant = cloud.service.reserve(&alice, id, SERVER).await.unwrap();
    cloud
        .service
        .complete(&grant.attachment_id, "/dev/vdb")
        .await
        .unwrap();
    let refused = cloud
        .call_at(
            "3.65",
            Method::POST,
            "alice",
            "/snapshots",
            Some(json!({"snapshot": {"volume_id": id}})),
        )
        .await;
    assert_fault(
        &refused,
        400,
        &format!(
            "Invalid volume: Volume {id} status must be available, but current status is: in-use."
        ),
    );
    let forced = cloud
        .snapshot(
            "alice",
            json!({"volume_id": id, "force": true, "name": "s1", "metadata": {"a": "b"}}),
        )
        .await;
    assert_eq!(forced["os-extended-snapshot-attributes:progress"], "100%");
    assert_eq!(
        forced["os-extended-snapshot-attributes:project_id"],
        PROJECT_A
    );
    assert_eq!(forced["user_id"], "alice");
    assert_eq!(forced["metadata"], json!({"a": "b"}));
    let at_366 = cloud
        .call_at(
            "3.66",
            Method::POST,
            "alice",
            "/snapshots",
            Some(json!({"snapshot": {"volume_id": id}})),
        )
        .await;
    assert_eq!(at_366.status, StatusCode::ACCEPTED);
    let old = cloud
        .call_at(
            "3.0",
            Method::GET,
            "alice",
            &format!("/snapshots/{}", forced["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert!(old.body["snapshot"].get("user_id").is_none());
    let listed = cloud
        .get(
            "alice",
            &format!("/snapshots/detail?volume_id={id}&sort=name:asc&limit=1"),
        )
        .await;
    assert_eq!(listed.body["snapshots"].as_array().unwrap().len(), 1);
    assert!(listed.body["snapshots_links"][0]["href"].is_string());
    let sid = forced["id"].as_str().unwrap();
    let renamed = cloud
        .call(
            Method::PUT,
            "alice",
            &format!("/snapshots/{sid}"),
            Some(json!({"snapshot": {"name": "s2"}})),
        )
        .await;
    assert_eq!(renamed.body["snapshot"]["name"], "s2");
    assert_eq!(
        cloud.get("bob", &format!("/snapshots/{sid}")).await.status,
        StatusCode::NOT_FOUND
    );
    let deleted = cloud
        .call(Method::DELETE, "alice", &format!("/snapshots/{sid}"), None)
        .await;
    assert_eq!(deleted.status, StatusCode::ACCEPTED);
    cloud
        .wait("alice", &format!("/snapshots/{sid}"), "snapshot", "gone")
        .await;
}

#[tokio::test]
async fn volume_types_default_access_and_specs() {
    let cloud = cloud();
    let default = cloud.get("alice", "/types/default").await;
    assert_eq!(default.body["volume_type"]["name"], "__DEFAULT__");
    assert_eq!(
        default.body["volume_type"]["description"],
        "Default Volume Type"
    );
    let listed = cloud.get("alice", "/types").await;
    let names: Vec<&str> = listed.body["volume_types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["__DEFAULT__", "lvmdriver-1", "multiattach"]);
    let multi = &listed.body["volume_types"][2];
    assert_eq!(multi["extra_specs"], json!({"multiattach": "<is> True"}));
    assert_eq!(
        listed.body["volume_types"][1]["extra_specs"],
        json!({}),
        "hidden from users"
    );
    let denied = cloud
        .call(
            Method::POST,
            "alice",
            "/types",
            Some(json!({"volume_type": {"name": "gold"}})),
        )
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    let gold = cloud
        .call(
            Method::POST,
            "admin",
            "/types",
            Some(
                json!({"volume_type": {"name": "gold", "os-volume-type-access:is_public": false}}),
            ),
        )
        .await;
    assert_eq!(gold.status, StatusCode::OK, "{}", gold.body);
    // `types_manage` renders the plain view, which `os-volume-type-access`
    // extends; `qos_specs_id` only `show` and `index` add, for an admin.
    assert_eq!(
        gold.body["volume_type"]["os-volume-type-access:is_public"],
        false
    );
    assert!(gold.body["volume_type"].get("qos_specs_id").is_none());
    let gold_id = gold.body["volume_type"]["id"].as_str().unwrap().to_owned();
    let shown = cloud.get("admin", &format!("/types/{gold_id}")).await;
    assert!(shown.body["volume_type"].get("qos_specs_id").is_some());
    let dup = cloud
        .call(
            Method::POST,
            "admin",
            "/types",
            Some(json!({"volume_type": {"name": "gold"}})),
        )
        .await;
    assert_fault(&dup, 409, "Volume Type gold already exists.");
    assert_eq!(
        cloud
            .get("alice", &format!("/types/{gold_id}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let grant = cloud
        .call(
            Method::POST,
            "admin",
            &format!("/types/{gold_id}/action"),
            Some(json!({"addProjectAccess": {"project": PROJECT_A}})),
        )
        .await;
    assert_eq!(grant.status, StatusCode::ACCEPTED, "{}", grant.body);
    assert_eq!(
        cloud
            .get("alice", &format!("/types/{gold_id}"))
            .await
            .status,
        StatusCode::OK
    );
    let access = cloud
        .get("admin", &format!("/types/{gold_id}/os-volume-type-access"))
        .await;
    assert_eq!(
        access.body["volume_type_access"],
        json!([{"volume_type_id": gold_id, "project_id": PROJECT_A}])
    );
    let specs = cloud
        .call(
            Method::POST,
            "admin",
            &format!("/types/{gold_id}/extra_specs"),
            Some(json!({"extra_specs": {"multiattach": "<is> True"}})),
        )
        .await;
    assert_eq!(specs.body["extra_specs"]["multiattach"], "<is> True");
    let v = cloud
        .volume("alice", json!({"size": 1, "volume_type": "gold"}))
        .await;
    assert_eq!(v["multiattach"], true);
    assert_eq!(v["volume_type"], "gold");
    let in_use = cloud
        .call(Method::DELETE, "admin", &format!("/types/{gold_id}"), None)
        .await;
    assert_eq!(in_use.status, StatusCode::BAD_REQUEST);
    let default_id = default.body["volume_type"]["id"].as_str().unwrap();
    let keep = cloud
        .call(
            Method::DELETE,
            "admin",
            &format!("/types/{default_id}"),
            None,
        )
        .await;
    assert_fault(&keep, 400, "Default volume type can not be deleted.");
    cloud.service.bootstrap().unwrap();
    assert_eq!(
        cloud.get("admin", "/types").await.body["volume_types"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
}
