//! Volumes on servers through Nova's API (`os-volume_attachments`, block
//! device mappings), against an in-memory volume service and the fake
//! driver: what is plugged into the instance, what the volume service is
//! told, and what a restart finishes.

#[allow(dead_code)] // each test crate uses its own part of the shared support
mod support;

use std::sync::Arc;

use oxistack_db::rusqlite::params;
use oxistack_virt::FakeDriver;
use serde_json::{Value, json};
use support::{Cloud, IMAGE};

fn cloud_with_network() -> (Cloud, String) {
    let cloud = Cloud::new();
    let network = cloud
        .networking
        .add_network("kubenet", "project-a", false, 50);
    cloud.networking.add_security_group("default", "project-a");
    (cloud, network)
}

async fn active_server(cloud: &Cloud, network: &str, name: &str) -> String {
    let id = cloud
        .create_server(
            "alice",
            "2.37",
            json!({"name": name, "imageRef": IMAGE, "flavorRef": "1", "networks": [{"uuid": network}]}),
        )
        .await;
    cloud.wait_for(&id, "ACTIVE").await;
    id
}

async fn attach(cloud: &Cloud, server: &str, volume: &str, version: &str) -> support::Reply {
    cloud
        .post(
            &format!("/v2.1/servers/{server}/os-volume_attachments"),
            "alice",
            version,
            json!({"volumeAttachment": {"volumeId": volume}}),
        )
        .await
}

fn plugged(cloud: &Cloud, server: &str) -> Vec<String> {
    cloud
        .driver
        .spec(server)
        .unwrap()
        .volumes
        .iter()
        .map(|v| v.volume_id.clone())
        .collect()
}

#[tokio::test]
async fn a_volume_is_plugged_listed_and_unplugged() {
    let (cloud, network) = cloud_with_network();
    let server = active_server(&cloud, &network, "c-1").await;
    let volume = cloud.volumes.add("project-a", false);

    let attached = attach(&cloud, &server, &volume, "2.79").await.expect(200);
    let attachment = &attached["volumeAttachment"];
    assert_eq!(attachment["volumeId"], volume.as_str());
    assert_eq!(attachment["serverId"], server.as_str());
    assert_eq!(attachment["device"], "/dev/vdb");
    assert_eq!(attachment["delete_on_termination"], false);
    assert_eq!(plugged(&cloud, &server), vec![volume.clone()]);
    let disk = &cloud.driver.spec(&server).unwrap().volumes[0];
    assert_eq!(disk.serial(), volume[..20]);
    assert_eq!(cloud.volumes.get(&volume).unwrap().summary.status, "in-use");

    let shown = cloud.server(&server, "alice", "2.79").await;
    assert_eq!(
        shown["os-extended-volumes:volumes_attached"],
        json!([{"id": volume, "delete_on_termination": false}])
    );
    let listed = cloud
        .get(
            &format!("/v2.1/servers/{server}/os-volume_attachments"),
            "alice",
            "2.89",
        )
        .await
        .expect(200);
    let entry = &listed["volumeAttachments"][0];
    assert!(entry.get("id").is_none(), "2.89 drops id: {entry}");
    assert!(
        entry["attachment_id"].is_string() && entry["bdm_uuid"].is_string(),
        "{entry}"
    );

    cloud
        .delete(
            &format!("/v2.1/servers/{server}/os-volume_attachments/{volume}"),
            "alice",
            "2.79",
        )
        .await
        .expect(202);
    assert!(plugged(&cloud, &server).is_empty());
    assert_eq!(
        cloud.volumes.get(&volume).unwrap().summary.status,
        "available"
    );
    let shown = cloud.server(&server, "alice", "2.79").await;
    assert_eq!(shown["os-extended-volumes:volumes_attached"], json!([]));
}

#[tokio::test]
async fn refusals_change_nothing() {
    let (cloud, network) = cloud_with_network();
    let first = active_server(&cloud, &network, "c-1").await;
    let second = active_server(&cloud, &network, "c-2").await;
    let volume = cloud.volumes.add("project-a", false);
    let shared = cloud.volumes.add("project-a", true);
    let foreign = cloud.volumes.add("project-b", false);

    // Another project's volume does not exist for alice.
    let message = attach(&cloud, &first, &foreign, "2.79").await.error(404);
    assert_eq!(message, format!("Volume {foreign} could not be found."));
    // A volume in use cannot be attached to a second server.
    attach(&cloud, &first, &volume, "2.79").await.expect(200);
    attach(&cloud, &second, &volume, "2.79").await.error(400);
    // A multi-attach volume needs 2.60, then goes on both.
    let message = attach(&cloud, &first, &shared, "2.59").await.error(400);
    assert!(message.contains("2.60"), "{message}");
    attach(&cloud, &first, &shared, "2.60").await.expect(200);
    attach(&cloud, &second, &shared, "2.60").await.expect(200);
    assert_eq!(plugged(&cloud, &first), [volume.clone(), shared.clone()]);
    assert_eq!(plugged(&cloud, &second), vec![shared.clone()]);
    // Detaching what is not attached is a 404; a malformed id a 400.
    cloud
        .delete(
            &format!("/v2.1/servers/{second}/os-volume_attachments/{volume}"),
            "alice",
            "2.79",
        )
        .await
        .error(404);
    let reply = attach(&cloud, &first, "not-a-uuid", "2.79").await;
    reply.error(400);
    // bob sees neither the server nor its attachments.
    cloud
        .get(
            &format!("/v2.1/servers/{first}/os-volume_attachments"),
            "bob",
            "2.79",
        )
        .await
        .error(404);
    assert_eq!(cloud.volumes.get(&volume).unwrap().attachments.len(), 1);
}

#[tokio::test]
async fn a_server_boots_from_a_volume_that_goes_with_it() {
    let (cloud, network) = cloud_with_network();
    let body = json!({"name": "b1", "imageRef": "", "flavorRef": "1", "networks": [{"uuid": network}],
        "block_device_mapping_v2": [{"uuid": IMAGE, "boot_index": 0, "source_type": "image",
            "destination_type": "volume", "volume_size": 2, "delete_on_termination": true}]});
    let server = cloud.create_server("alice", "2.37", body).await;
    let shown = cloud.wait_for(&server, "ACTIVE").await;
    assert_eq!(shown["image"], "");
    let root = shown["os-extended-volumes:volumes_attached"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let spec = cloud.driver.spec(&server).unwrap();
    assert_eq!(spec.root_volume.unwrap().volume_id, root);
    let volume = cloud.volumes.get(&root).unwrap();
    assert_eq!(
        (volume.summary.status.as_str(), volume.summary.size_gib),
        ("in-use", 2)
    );
    // The root volume cannot be detached.
    cloud
        .delete(
            &format!("/v2.1/servers/{server}/os-volume_attachments/{root}"),
            "alice",
            "2.79",
        )
        .await
        .error(400);

    cloud
        .delete(&format!("/v2.1/servers/{server}"), "alice", "2.79")
        .await
        .expect(204);
    cloud.wait_gone(&server).await;
    assert!(cloud.volumes.get(&root).is_none(), "delete_on_termination");
}

#[tokio::test]
async fn a_restart_finishes_an_interrupted_attach_and_detach() {
    let (cloud, network) = cloud_with_network();
    let server = active_server(&cloud, &network, "c-1").await;
    let attaching = cloud.volumes.add("project-a", false);
    let detaching = cloud.volumes.add("project-a", false);
    attach(&cloud, &server, &attaching, "2.79")
        .await
        .expect(200);
    attach(&cloud, &server, &detaching, "2.79")
        .await
        .expect(200);

    // As a crash leaves them: one attach reserved but never completed, one
    // detach begun but never finished.
    cloud
        .volumes
        .set_status(&attaching, "attaching", "attaching");
    cloud
        .volumes
        .set_status(&detaching, "detaching", "detaching");
    let row: String = cloud
        .db
        .read(move |conn| {
            Ok::<_, oxistack_db::DbError>(conn.query_row(
                "SELECT block_devices FROM compute_servers WHERE id = ?1",
                params![server_id_of(conn)],
                |r| r.get(0),
            )?)
        })
        .await
        .unwrap();
    let mut devices: Vec<Value> = serde_json::from_str(&row).unwrap();
    devices[0]["state"] = json!("attaching");
    devices[1]["state"] = json!("detaching");
    let saved = serde_json::to_string(&devices).unwrap();
    cloud
        .db
        .write(move |tx| {
            Ok::<_, oxistack_db::DbError>(tx.execute(
                "UPDATE compute_servers SET block_devices = ?1",
                params![saved],
            )?)
        })
        .await
        .unwrap();

    let restarted = cloud.restarted(cloud.driver.clone() as Arc<FakeDriver>);
    restarted.service.resume().await.unwrap();
    assert_eq!(
        restarted.volumes.get(&attaching).unwrap().summary.status,
        "in-use"
    );
    assert_eq!(
        restarted.volumes.get(&detaching).unwrap().summary.status,
        "available"
    );
    assert_eq!(plugged(&restarted, &server), vec![attaching.clone()]);
    let shown = restarted.server(&server, "alice", "2.79").await;
    assert_eq!(
        shown["os-extended-volumes:volumes_attached"],
        json!([{"id": attaching, "delete_on_termination": false}])
    );
}

fn server_id_of(conn: &oxistack_db::rusqlite::Connection) -> String {
    conn.query_row("SELECT id FROM compute_servers", [], |r| r.get(0))
        .unwrap()
}
