//! Recovery after a restart: what a crash left `creating`, `extending` or
//! `deleting` becomes what the backend shows, and the backend drops the
//! data no record names.

mod support;

use std::sync::Arc;

use axum::http::Method;
use oxistack_volstore::{FakeBackend, VolumeBackend, VolumeFormat, VolumeSource};
use serde_json::json;
use support::{cloud, cloud_over};

/// Rewrites volume `id`'s stored status, as a crash mid-operation leaves it.
fn set_status(db: &oxistack_db::Db, id: &str, status: &str) {
    db.write_blocking(|tx| {
        let body: String =
            tx.query_row("SELECT body FROM cinder_volumes WHERE id = ?1", [id], |r| {
                r.get(0)
            })?;
        let mut record: serde_json::Value = serde_json::from_str(&body).unwrap();
        record["status"] = json!(status);
        tx.execute(
            "UPDATE cinder_volumes SET body = ?1 WHERE id = ?2",
            [record.to_string(), id.to_owned()],
        )?;
        Ok::<_, oxistack_db::DbError>(())
    })
    .unwrap();
}

#[tokio::test]
async fn recover_settles_interrupted_work() {
    let cloud = cloud();
    let with_data = cloud
        .volume("alice", json!({"size": 1, "name": "with-data"}))
        .await;
    let without = cloud
        .volume("alice", json!({"size": 1, "name": "without-data"}))
        .await;
    let dying = cloud
        .volume("alice", json!({"size": 1, "name": "dying"}))
        .await;
    let id = |v: &serde_json::Value| v["id"].as_str().unwrap().to_owned();
    let (with_data, without, dying) = (id(&with_data), id(&without), id(&dying));
    set_status(&cloud.db, &with_data, "creating");
    set_status(&cloud.db, &without, "creating");
    set_status(&cloud.db, &dying, "deleting");
    cloud.backend.delete_volume(&without).await.unwrap();
    // Data no record names, as a crash between the backend and the
    // database leaves it.
    cloud
        .backend
        .create("orphan", 1, VolumeFormat::Qcow2, VolumeSource::Blank)
        .await
        .unwrap();

    let support::Cloud {
        dir, db, backend, ..
    } = cloud;
    let restarted = cloud_over(dir, db, Arc::clone(&backend));
    restarted.service.recover().await.unwrap();
    let status = |id: String| {
        let restarted = &restarted;
        async move { restarted.get("alice", &format!("/volumes/{id}")).await }
    };
    assert_eq!(
        status(with_data.clone()).await.body["volume"]["status"],
        "available"
    );
    assert_eq!(
        status(without.clone()).await.body["volume"]["status"],
        "error"
    );
    assert_eq!(status(dying.clone()).await.status.as_u16(), 404);
    let remaining: Vec<String> = FakeBackend::volume_ids(&backend);
    assert_eq!(remaining, std::slice::from_ref(&with_data));
    // The errored volume can still be deleted by its owner.
    let deleted = restarted
        .call(
            Method::DELETE,
            "alice",
            &format!("/volumes/{without}"),
            None,
        )
        .await;
    assert_eq!(deleted.status.as_u16(), 202);
}
