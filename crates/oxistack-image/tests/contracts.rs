//! The image service as another service uses it through
//! [`oxistack_contracts::Images`]: an image reserved for a caller, its data
//! taken from a file as an upload takes it, and a failed import discarded.

use std::collections::HashMap;
use std::sync::Arc;

use md5::{Digest, Md5};
use oxistack_auth::{AuthContext, NamedRef, Scope};
use oxistack_contracts::{ContractError, Images, NewImage};
use oxistack_db::Db;
use oxistack_image::{ImageService, ImageStatus, MIGRATIONS, Visibility};
use sha2::Sha512;

fn context(project: &str, roles: &[&str]) -> Arc<AuthContext> {
    let named = |n: &str| NamedRef {
        id: n.into(),
        name: n.into(),
    };
    Arc::new(AuthContext {
        user: named(&format!("{project}-user")),
        user_domain: named("default"),
        scope: Scope::Project {
            project: named(project),
            domain: named("default"),
        },
        roles: roles.iter().map(|r| named(r)).collect(),
        methods: vec!["password".into()],
        issued_at: chrono::Utc::now(),
        expires_at: chrono::Utc::now() + chrono::Duration::hours(1),
        audit_id: "audit".into(),
        application_credential: None,
    })
}

fn service() -> (Arc<ImageService>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("cloud.db")).unwrap();
    db.migrate("image", MIGRATIONS).unwrap();
    let service = ImageService::new(db, dir.path().join("images")).unwrap();
    (service, dir)
}

fn request(name: &str) -> NewImage {
    NewImage {
        name: name.into(),
        disk_format: "raw".into(),
        container_format: "bare".into(),
        visibility: None,
        protected: false,
        properties: HashMap::new(),
    }
}

#[tokio::test]
async fn a_reserved_image_takes_a_files_data_as_an_upload_does() {
    let (service, dir) = service();
    let alice = context("project-a", &["member", "reader"]);
    let mut new = request("from-volume");
    new.properties = HashMap::from([
        ("os_distro".to_owned(), "cirros".to_owned()),
        // Not properties Glance lets a client set: left out.
        ("owner".to_owned(), "project-b".to_owned()),
        ("os_glance_importing".to_owned(), "x".to_owned()),
    ]);
    let reserved = service.reserve_image(&alice, new).await.unwrap();
    assert_eq!(reserved.name, "from-volume");
    assert_eq!(
        (
            reserved.disk_format.as_str(),
            reserved.container_format.as_str()
        ),
        ("raw", "bare")
    );
    assert_eq!(
        (reserved.visibility.as_str(), reserved.protected),
        ("shared", false)
    );
    let queued = service.show(&alice, &reserved.id).await.unwrap();
    assert_eq!(queued.status, ImageStatus::Queued);
    assert_eq!(queued.owner.as_deref(), Some("project-a"));
    assert_eq!(
        queued.properties.get("os_distro").map(String::as_str),
        Some("cirros")
    );
    assert!(!queued.properties.contains_key("owner"));
    assert!(!queued.properties.contains_key("os_glance_importing"));

    // More than one read block, not a multiple of it.
    let data: Vec<u8> = (0..(3 * 1024 * 1024 + 17))
        .map(|i| (i % 251) as u8)
        .collect();
    let file = dir.path().join("export.raw");
    std::fs::write(&file, &data).unwrap();
    let summary = service
        .import_file(&alice, &reserved.id, &file)
        .await
        .unwrap();
    assert_eq!(summary.status, "active");
    assert_eq!(summary.size, Some(data.len() as u64));

    let image = service.show(&alice, &reserved.id).await.unwrap();
    assert_eq!(image.status, ImageStatus::Active);
    assert_eq!(image.size, Some(data.len() as i64));
    assert_eq!(image.checksum, Some(hex::encode(Md5::digest(&data))));
    assert_eq!(image.os_hash_algo.as_deref(), Some("sha512"));
    assert_eq!(
        image.os_hash_value,
        Some(hex::encode(Sha512::digest(&data)))
    );
    let stored = service.data_file(&reserved.id).expect("the image has data");
    assert_eq!(std::fs::read(stored).unwrap(), data);
    // The file stays the caller's.
    assert!(file.exists());

    // Discarding leaves an active image alone.
    service.discard_image(&alice, &reserved.id).await.unwrap();
    assert_eq!(
        service.show(&alice, &reserved.id).await.unwrap().status,
        ImageStatus::Active
    );
}

#[tokio::test]
async fn a_failed_import_leaves_a_queued_image_that_is_discarded() {
    let (service, dir) = service();
    let alice = context("project-a", &["member", "reader"]);
    let mut new = request("doomed");
    new.protected = true;
    new.visibility = Some("private".into());
    let reserved = service.reserve_image(&alice, new).await.unwrap();
    assert_eq!(
        (reserved.visibility.as_str(), reserved.protected),
        ("private", true)
    );

    let missing = dir.path().join("never-written");
    let failed = service.import_file(&alice, &reserved.id, &missing).await;
    assert!(
        matches!(failed, Err(ContractError::Internal { .. })),
        "{failed:?}"
    );
    let image = service.show(&alice, &reserved.id).await.unwrap();
    assert_eq!(image.status, ImageStatus::Queued);

    // Another project cannot discard it; its owner can, protected or not.
    let bob = context("project-b", &["member", "reader"]);
    service.discard_image(&bob, &reserved.id).await.unwrap();
    assert!(service.show(&alice, &reserved.id).await.is_ok());
    service.discard_image(&alice, &reserved.id).await.unwrap();
    assert!(service.find(&alice, &reserved.id).await.unwrap().is_none());
}

#[tokio::test]
async fn reserving_follows_the_image_policy() {
    let (service, _dir) = service();
    let reader = context("project-a", &["reader"]);
    let refused = service.reserve_image(&reader, request("no")).await;
    assert!(
        matches!(refused, Err(ContractError::Forbidden(_))),
        "{refused:?}"
    );

    let mut public = request("public");
    public.visibility = Some("public".into());
    let admin = context("admin-project", &["admin", "member", "reader"]);
    let reserved = service.reserve_image(&admin, public).await.unwrap();
    let image = service.show(&admin, &reserved.id).await.unwrap();
    assert_eq!(image.visibility, Visibility::Public);
}
