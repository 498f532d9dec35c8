//! `os-volume_upload_image`: the volume goes `uploading` and back, its
//! data is exported and handed to the image service, and what Cinder
//! refuses is refused.

mod support;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::http::Method;
use serde_json::{Value, json};
use support::{IMAGE, assert_fault, cloud, cloud_over};

const SERVER: &str = "5b3c2f6e-8a1d-4e0b-9c7f-2d4a6b8c0e11";

fn upload(args: Value) -> Option<Value> {
    Some(json!({"os-volume_upload_image": args}))
}

async fn action(
    cloud: &support::Cloud,
    token: &str,
    id: &str,
    body: Option<Value>,
) -> support::Reply {
    cloud
        .call(Method::POST, token, &format!("/volumes/{id}/action"), body)
        .await
}

#[tokio::test]
async fn an_available_volume_is_uploaded_and_returns_to_available() {
    let cloud = cloud();
    let volume = cloud
        .volume(
            "alice",
            json!({"size": 2, "imageRef": IMAGE, "description": "d"}),
        )
        .await;
    let id = volume["id"].as_str().unwrap();
    cloud.images.hold_imports.store(true, Ordering::SeqCst);

    let reply = action(
        &cloud,
        "alice",
        id,
        upload(json!({"image_name": "backup", "disk_format": "qcow2",
            "visibility": "private", "protected": "true"})),
    )
    .await;
    assert_eq!(reply.status.as_u16(), 202, "{}", reply.body);
    let answer = &reply.body["os-volume_upload_image"];
    assert_eq!(answer["id"], id);
    assert_eq!(answer["status"], "uploading");
    assert_eq!(answer["size"], 2);
    assert_eq!(answer["display_description"], "d");
    assert_eq!(answer["image_name"], "backup");
    assert_eq!(answer["disk_format"], "qcow2");
    assert_eq!(answer["container_format"], "bare");
    assert_eq!(answer["visibility"], "private");
    assert_eq!(answer["protected"], true);
    assert_eq!(answer["volume_type"]["name"], "__DEFAULT__");
    assert!(answer["updated_at"].is_string());
    let image_id = answer["image_id"].as_str().unwrap().to_owned();

    // While the data is copied the volume is uploading and busy.
    let shown = cloud.get("alice", &format!("/volumes/{id}")).await;
    assert_eq!(shown.body["volume"]["status"], "uploading");
    let again = action(&cloud, "alice", id, upload(json!({"image_name": "again"}))).await;
    assert_fault(
        &again,
        400,
        &format!("Invalid volume: Volume {id} status must be available"),
    );

    cloud.images.hold_imports.store(false, Ordering::SeqCst);
    cloud
        .wait("alice", &format!("/volumes/{id}"), "volume", "available")
        .await;
    let reserved = cloud.images.reserved.lock().unwrap().clone();
    assert_eq!(
        reserved.len(),
        1,
        "only the first request reserved an image"
    );
    assert_eq!(reserved[0].name, "backup");
    assert_eq!(reserved[0].visibility.as_deref(), Some("private"));
    assert!(reserved[0].protected);
    // The source image's properties, not the attributes Glance sets.
    assert_eq!(
        reserved[0].properties.get("os_distro").map(String::as_str),
        Some("cirros")
    );
    assert!(!reserved[0].properties.contains_key("image_id"));
    assert!(!reserved[0].properties.contains_key("disk_format"));
    let imported = cloud.images.imported.lock().unwrap().clone();
    assert_eq!(imported.len(), 1);
    assert_eq!(imported[0].0, image_id);
    // The backend's export, which the service removes once imported.
    assert!(
        imported[0]
            .1
            .to_string_lossy()
            .contains("oxistack-fake-export-"),
        "{:?}",
        imported[0].1
    );
    assert!(!imported[0].1.exists(), "the export was not removed");
    assert!(cloud.images.discarded.lock().unwrap().is_empty());
}

#[tokio::test]
async fn an_in_use_volume_needs_force_and_stays_in_use() {
    let cloud = cloud();
    let volume = cloud.volume("alice", json!({"size": 1})).await;
    let id = volume["id"].as_str().unwrap();
    let attached = action(
        &cloud,
        "alice",
        id,
        Some(json!({"os-attach": {"instance_uuid": SERVER, "mountpoint": "/dev/vdb"}})),
    )
    .await;
    assert_eq!(attached.status.as_u16(), 202, "{}", attached.body);

    let refused = action(&cloud, "alice", id, upload(json!({"image_name": "x"}))).await;
    assert_fault(
        &refused,
        400,
        &format!("Invalid volume: Volume {id} status must be available"),
    );
    assert!(cloud.images.reserved.lock().unwrap().is_empty());
    let shown = cloud.get("alice", &format!("/volumes/{id}")).await;
    assert_eq!(shown.body["volume"]["status"], "in-use");

    cloud.images.hold_imports.store(true, Ordering::SeqCst);
    let forced = action(
        &cloud,
        "alice",
        id,
        upload(json!({"image_name": "x", "force": "True"})),
    )
    .await;
    assert_eq!(forced.status.as_u16(), 202, "{}", forced.body);
    let shown = cloud.get("alice", &format!("/volumes/{id}")).await;
    assert_eq!(shown.body["volume"]["status"], "uploading");
    cloud.images.hold_imports.store(false, Ordering::SeqCst);
    let done = cloud
        .wait("alice", &format!("/volumes/{id}"), "volume", "in-use")
        .await;
    assert_eq!(done["attachments"][0]["server_id"], SERVER);
    assert_eq!(cloud.images.imported.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_failed_import_discards_the_image_and_frees_the_volume() {
    let cloud = cloud();
    let volume = cloud.volume("alice", json!({"size": 1})).await;
    let id = volume["id"].as_str().unwrap();
    cloud.images.fail_imports.store(true, Ordering::SeqCst);
    let reply = action(&cloud, "alice", id, upload(json!({"image_name": "x"}))).await;
    assert_eq!(reply.status.as_u16(), 202, "{}", reply.body);
    let image_id = reply.body["os-volume_upload_image"]["image_id"]
        .as_str()
        .unwrap()
        .to_owned();
    cloud
        .wait("alice", &format!("/volumes/{id}"), "volume", "available")
        .await;
    // The worker discards before it settles the volume.
    assert_eq!(*cloud.images.discarded.lock().unwrap(), vec![image_id]);
    assert!(cloud.images.imported.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_refused_reservation_leaves_the_volume_as_it_was() {
    let cloud = cloud();
    let volume = cloud.volume("alice", json!({"size": 1})).await;
    let id = volume["id"].as_str().unwrap();
    let refused = action(
        &cloud,
        "alice",
        id,
        upload(json!({"image_name": "x", "container_format": "ovf"})),
    )
    .await;
    assert_fault(&refused, 400, "Invalid container format 'ovf'.");
    let shown = cloud.get("alice", &format!("/volumes/{id}")).await;
    assert_eq!(shown.body["volume"]["status"], "available");
}

#[tokio::test]
async fn refusals() {
    let cloud = cloud();
    let volume = cloud.volume("alice", json!({"size": 1})).await;
    let id = volume["id"].as_str().unwrap();

    let bad_format = action(
        &cloud,
        "alice",
        id,
        upload(json!({"image_name": "x", "disk_format": "iso"})),
    )
    .await;
    assert_eq!(bad_format.status.as_u16(), 400, "{}", bad_format.body);
    let unsupported = action(
        &cloud,
        "alice",
        id,
        upload(json!({"image_name": "x", "disk_format": "vmdk"})),
    )
    .await;
    assert_fault(
        &unsupported,
        400,
        "Invalid input received: disk_format vmdk is not supported by this cloud: use raw or qcow2.",
    );
    let nameless = action(&cloud, "alice", id, upload(json!({"force": false}))).await;
    assert_eq!(nameless.status.as_u16(), 400, "{}", nameless.body);
    let unknown = action(
        &cloud,
        "alice",
        id,
        upload(json!({"image_name": "x", "colour": "red"})),
    )
    .await;
    assert_eq!(unknown.status.as_u16(), 400, "{}", unknown.body);
    // visibility and protected arrived with 3.1.
    let early = cloud
        .call_at(
            "3.0",
            Method::POST,
            "alice",
            &format!("/volumes/{id}/action"),
            upload(json!({"image_name": "x", "visibility": "private"})),
        )
        .await;
    assert_eq!(early.status.as_u16(), 400, "{}", early.body);
    // Making a public image takes an administrator.
    let public = action(
        &cloud,
        "alice",
        id,
        upload(json!({"image_name": "x", "visibility": "public"})),
    )
    .await;
    assert_eq!(public.status.as_u16(), 403, "{}", public.body);
    let reader = action(&cloud, "reader", id, upload(json!({"image_name": "x"}))).await;
    assert_eq!(reader.status.as_u16(), 403, "{}", reader.body);
    let other = action(&cloud, "bob", id, upload(json!({"image_name": "x"}))).await;
    assert_fault(&other, 404, &format!("Volume {id} could not be found."));

    assert!(cloud.images.reserved.lock().unwrap().is_empty());
    let shown = cloud.get("alice", &format!("/volumes/{id}")).await;
    assert_eq!(shown.body["volume"]["status"], "available");
}

#[tokio::test]
async fn recover_settles_an_interrupted_upload() {
    let cloud = cloud();
    let free = cloud.volume("alice", json!({"size": 1})).await;
    let busy = cloud.volume("alice", json!({"size": 1})).await;
    let (free, busy) = (
        free["id"].as_str().unwrap().to_owned(),
        busy["id"].as_str().unwrap().to_owned(),
    );
    let attached = action(
        &cloud,
        "alice",
        &busy,
        Some(json!({"os-attach": {"instance_uuid": SERVER, "mountpoint": "/dev/vdb"}})),
    )
    .await;
    assert_eq!(attached.status.as_u16(), 202, "{}", attached.body);
    cloud.images.hold_imports.store(true, Ordering::SeqCst);
    for (id, force) in [(&free, false), (&busy, true)] {
        let reply = action(
            &cloud,
            "alice",
            id,
            upload(json!({"image_name": "x", "force": force})),
        )
        .await;
        assert_eq!(reply.status.as_u16(), 202, "{}", reply.body);
    }

    // A crash: the held uploads never finish in this process.
    let support::Cloud {
        dir, db, backend, ..
    } = cloud;
    let restarted = cloud_over(dir, db, Arc::clone(&backend));
    for id in [&free, &busy] {
        let shown = restarted.get("alice", &format!("/volumes/{id}")).await;
        assert_eq!(shown.body["volume"]["status"], "uploading");
    }
    restarted.service.recover().await.unwrap();
    let status = |id: &str| {
        let restarted = &restarted;
        let path = format!("/volumes/{id}");
        async move { restarted.get("alice", &path).await.body["volume"]["status"].clone() }
    };
    assert_eq!(status(&free).await, "available");
    assert_eq!(status(&busy).await, "in-use");
}
