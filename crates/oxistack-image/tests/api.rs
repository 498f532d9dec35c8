//! The image API driven end to end through its router, with a fake token
//! validator: an admin, two member projects and a reader.

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode};
use futures_util::StreamExt;
use http_body_util::BodyExt;
use md5::{Digest, Md5};
use oxistack_auth::{AuthContext, NamedRef, Scope, TokenValidator, unauthenticated};
use oxistack_db::Db;
use oxistack_http::ApiError;
use oxistack_image::{ImageService, MIGRATIONS, router};
use serde_json::{Value, json};
use sha2::Sha512;
use tower::ServiceExt;

const PATCH_TYPE: &str = "application/openstack-images-v2.1-json-patch";
const OCTETS: &str = "application/octet-stream";

struct FakeTokens(HashMap<&'static str, Arc<AuthContext>>);

impl TokenValidator for FakeTokens {
    fn validate<'a>(
        &'a self,
        token: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<Arc<AuthContext>, ApiError>> + Send + 'a>> {
        Box::pin(async move { self.0.get(token).cloned().ok_or_else(unauthenticated) })
    }
}

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

struct Cloud {
    router: Router,
    db: Db,
    store: PathBuf,
    _dir: tempfile::TempDir,
}

fn cloud() -> Cloud {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("cloud.db")).unwrap();
    db.migrate("image", MIGRATIONS).unwrap();
    let store = dir.path().join("images");
    let service = ImageService::new(db.clone(), store.clone()).unwrap();
    let tokens = FakeTokens(HashMap::from([
        (
            "admin",
            context("admin-project", &["admin", "member", "reader"]),
        ),
        ("alice", context("project-a", &["member", "reader"])),
        ("bob", context("project-b", &["member", "reader"])),
        ("reader", context("project-a", &["reader"])),
    ]));
    Cloud {
        router: router(service, Arc::new(tokens)),
        db,
        store,
        _dir: dir,
    }
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    /// Asserts a Glance-format error with `status`, returning its message.
    fn error(&self, status: u16) -> String {
        assert_eq!(
            self.status.as_u16(),
            status,
            "{}",
            String::from_utf8_lossy(&self.body)
        );
        let body = self.json();
        let reason = self.status.canonical_reason().unwrap();
        assert_eq!(body["code"], format!("{status} {reason}"), "{body}");
        assert_eq!(body["title"], reason, "{body}");
        body["message"].as_str().expect("a message").to_owned()
    }
}

impl Cloud {
    async fn send(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        content_type: Option<&str>,
        body: Body,
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            request = request.header("x-auth-token", token);
        }
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        self.send_request(request.body(body).unwrap()).await
    }

    async fn send_request(&self, request: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body: body.collect().await.unwrap().to_bytes(),
        }
    }

    async fn get(&self, uri: &str, token: &str) -> Reply {
        self.send(Method::GET, uri, Some(token), None, Body::empty())
            .await
    }

    async fn json(&self, method: Method, uri: &str, token: &str, body: Value) -> Reply {
        self.send(
            method,
            uri,
            Some(token),
            Some("application/json"),
            Body::from(body.to_string()),
        )
        .await
    }

    async fn patch(&self, id: &str, token: &str, ops: Value) -> Reply {
        let uri = format!("/v2/images/{id}");
        self.send(
            Method::PATCH,
            &uri,
            Some(token),
            Some(PATCH_TYPE),
            Body::from(ops.to_string()),
        )
        .await
    }

    async fn delete(&self, uri: &str, token: &str) -> Reply {
        self.send(Method::DELETE, uri, Some(token), None, Body::empty())
            .await
    }

    async fn create(&self, token: &str, body: Value) -> String {
        let reply = self.json(Method::POST, "/v2/images", token, body).await;
        assert_eq!(
            reply.status,
            StatusCode::CREATED,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        reply.json()["id"].as_str().unwrap().to_owned()
    }

    async fn upload(&self, id: &str, token: &str, body: Body) -> Reply {
        self.send(
            Method::PUT,
            &format!("/v2/images/{id}/file"),
            Some(token),
            Some(OCTETS),
            body,
        )
        .await
    }

    async fn show(&self, id: &str) -> Value {
        let reply = self.get(&format!("/v2/images/{id}"), "admin").await;
        assert_eq!(reply.status, StatusCode::OK);
        reply.json()
    }

    async fn names(&self, query: &str, token: &str) -> Vec<String> {
        let reply = self.get(&format!("/v2/images{query}"), token).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        names(&reply.json())
    }

    fn stored_files(&self) -> Vec<String> {
        files_in(&self.store)
    }
}

fn names(page: &Value) -> Vec<String> {
    page["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_owned())
        .collect()
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn hex_md5(data: &[u8]) -> String {
    hex::encode(Md5::digest(data))
}

fn hex_sha512(data: &[u8]) -> String {
    hex::encode(Sha512::digest(data))
}

fn image_body(name: &str) -> Value {
    json!({"name": name, "disk_format": "raw", "container_format": "bare"})
}

#[tokio::test]
async fn version_discovery_is_open_and_names_the_mount_point() {
    let cloud = cloud();
    let reply = cloud
        .send(Method::GET, "/", None, None, Body::empty())
        .await;
    assert_eq!(reply.status, StatusCode::MULTIPLE_CHOICES);
    let versions = reply.json()["versions"].as_array().unwrap().clone();
    assert_eq!(versions[0]["id"], "v2.17");
    assert_eq!(versions[0]["status"], "CURRENT");
    assert_eq!(
        versions[0]["links"][0],
        json!({"rel": "self", "href": "http://localhost/v2/"})
    );
    assert!(versions.iter().skip(1).all(|v| v["status"] == "SUPPORTED"));
    assert_eq!(versions.last().unwrap()["id"], "v2.0");

    // Nested as the binary does, the links include the mount point and host.
    let nested = Router::new().nest("/image", cloud.router.clone());
    for (uri, status) in [("/image", 300), ("/image/versions", 200)] {
        let request = Request::get(uri)
            .header("host", "192.0.2.1:8080")
            .body(Body::empty())
            .unwrap();
        let response = nested.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{uri}");
        let body: Value =
            serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes())
                .unwrap();
        assert_eq!(
            body["versions"][0]["links"][0]["href"],
            "http://192.0.2.1:8080/image/v2/"
        );
    }

    let reply = cloud
        .send(Method::GET, "/v2/images", None, None, Body::empty())
        .await;
    reply.error(401);
    let reply = cloud
        .send(
            Method::GET,
            "/v2/images",
            Some("forged"),
            None,
            Body::empty(),
        )
        .await;
    reply.error(401);
}

#[tokio::test]
async fn create_upload_download_round_trip() {
    let cloud = cloud();
    let reply = cloud
        .json(
            Method::POST,
            "/v2/images",
            "alice",
            json!({"name": "cirros", "disk_format": "qcow2", "container_format": "bare", "min_ram": 64,
                   "tags": ["small", "test"], "os_distro": "cirros", "owner_specified.openstack.md5": ""}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let image = reply.json();
    let id = image["id"].as_str().unwrap().to_owned();
    assert_eq!(
        reply.headers["location"],
        format!("http://localhost/v2/images/{id}").as_str()
    );
    assert_eq!(image["status"], "queued");
    assert_eq!(image["visibility"], "shared");
    assert_eq!(image["owner"], "project-a");
    assert_eq!(image["min_ram"], 64);
    assert_eq!(image["min_disk"], 0);
    assert_eq!(image["protected"], false);
    assert_eq!(image["os_hidden"], false);
    assert_eq!(image["tags"], json!(["small", "test"]));
    assert_eq!(image["os_distro"], "cirros");
    assert_eq!(image["owner_specified.openstack.md5"], "");
    assert_eq!(image["size"], Value::Null);
    assert_eq!(image["checksum"], Value::Null);
    assert_eq!(image["self"], format!("/v2/images/{id}"));
    assert_eq!(image["file"], format!("/v2/images/{id}/file"));
    assert_eq!(image["schema"], "/v2/schemas/image");
    let created_at = image["created_at"].as_str().unwrap();
    assert!(
        created_at.len() == 20 && created_at.ends_with('Z'),
        "{created_at}"
    );

    let reply = cloud.get(&format!("/v2/images/{id}/file"), "alice").await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "no data yet");

    // A qcow2 header announcing a 1 GiB disk, then some payload.
    let mut data = b"QFI\xfb\0\0\0\x03".to_vec();
    data.extend_from_slice(&[0; 16]);
    data.extend_from_slice(&(1u64 << 30).to_be_bytes());
    data.extend((0..100_000u32).map(|i| (i % 251) as u8));
    let reply = cloud.upload(&id, "alice", Body::from(data.clone())).await;
    assert_eq!(
        reply.status,
        StatusCode::NO_CONTENT,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );

    let image = cloud.show(&id).await;
    assert_eq!(image["status"], "active");
    assert_eq!(image["size"], data.len());
    assert_eq!(image["virtual_size"], 1u64 << 30);
    assert_eq!(image["checksum"], hex_md5(&data));
    assert_eq!(image["os_hash_algo"], "sha512");
    assert_eq!(image["os_hash_value"], hex_sha512(&data));
    assert_eq!(cloud.stored_files(), [id.as_str()]);

    let reply = cloud.get(&format!("/v2/images/{id}/file"), "alice").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.headers["content-type"], OCTETS);
    assert_eq!(reply.headers["content-md5"], hex_md5(&data).as_str());
    assert_eq!(
        reply.headers["content-length"],
        data.len().to_string().as_str()
    );
    assert_eq!(reply.body, data);

    // Data goes in once: an active image refuses another upload.
    let reply = cloud.upload(&id, "alice", Body::from("again")).await;
    assert!(reply.error(409).contains("active"));
    assert_eq!(cloud.show(&id).await["checksum"], hex_md5(&data));
}

#[tokio::test]
async fn multi_mebibyte_uploads_are_streamed_in_chunks() {
    let cloud = cloud();
    let id = cloud.create("alice", image_body("big")).await;
    // 5 MiB and a bit, in odd-sized chunks, without a Content-Length.
    let chunk: Vec<u8> = (0..77_777u32).map(|i| (i * 7 % 256) as u8).collect();
    let chunks: Vec<Result<Bytes, std::io::Error>> =
        (0..68).map(|_| Ok(Bytes::from(chunk.clone()))).collect();
    let expected: Vec<u8> = chunks
        .iter()
        .flat_map(|c| c.as_ref().unwrap().to_vec())
        .collect();
    assert!(expected.len() > 5 << 20);
    let body = Body::from_stream(futures_util::stream::iter(chunks));
    let reply = cloud.upload(&id, "alice", body).await;
    assert_eq!(
        reply.status,
        StatusCode::NO_CONTENT,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );

    let image = cloud.show(&id).await;
    assert_eq!(image["size"], expected.len());
    assert_eq!(
        image["virtual_size"],
        expected.len(),
        "a raw image is its own disk"
    );
    assert_eq!(image["checksum"], hex_md5(&expected));
    assert_eq!(image["os_hash_value"], hex_sha512(&expected));
    let reply = cloud.get(&format!("/v2/images/{id}/file"), "alice").await;
    assert_eq!(reply.body.len(), expected.len());
    assert!(reply.body == expected);
}

#[tokio::test]
async fn a_broken_upload_returns_the_image_to_queued_without_data() {
    let cloud = cloud();
    let id = cloud.create("alice", image_body("flaky")).await;
    let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(Bytes::from(vec![1; 3 << 20])),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "client went away",
        )),
    ];
    let reply = cloud
        .upload(
            &id,
            "alice",
            Body::from_stream(futures_util::stream::iter(chunks)),
        )
        .await;
    assert!(reply.error(400).contains("client went away"));
    let image = cloud.show(&id).await;
    assert_eq!(image["status"], "queued");
    assert_eq!(image["size"], Value::Null);
    assert!(
        cloud.stored_files().is_empty(),
        "{:?}",
        cloud.stored_files()
    );

    // The announced size must match what arrives.
    let reply = cloud
        .send(
            Method::PUT,
            &format!("/v2/images/{id}/file"),
            Some("alice"),
            Some(OCTETS),
            Body::from("12345"),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "a retry works");
    assert_eq!(cloud.show(&id).await["size"], 5);

    let other = cloud.create("alice", image_body("announced")).await;
    let request = Request::put(format!("/v2/images/{other}/file"))
        .header("x-auth-token", "alice")
        .header("content-type", OCTETS)
        .header("x-openstack-image-size", "6")
        .body(Body::from("12345"))
        .unwrap();
    let response = cloud.router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(cloud.show(&other).await["status"], "queued");
    assert_eq!(cloud.stored_files(), [id]);
}

#[tokio::test]
async fn an_abandoned_upload_is_rolled_back() {
    let cloud = cloud();
    let id = cloud.create("alice", image_body("abandoned")).await;
    // Some data, then a client that never finishes: the request is dropped.
    let first: Result<Bytes, std::io::Error> = Ok(Bytes::from(vec![9; 2 << 20]));
    let stalled = futures_util::stream::iter([first]).chain(futures_util::stream::pending());
    let upload = cloud.upload(&id, "alice", Body::from_stream(stalled));
    assert!(
        tokio::time::timeout(Duration::from_millis(500), upload)
            .await
            .is_err()
    );

    let mut status = Value::Null;
    for _ in 0..100 {
        status = cloud.show(&id).await["status"].clone();
        if status == "queued" && cloud.stored_files().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(status, "queued");
    assert!(
        cloud.stored_files().is_empty(),
        "{:?}",
        cloud.stored_files()
    );
    assert_eq!(
        cloud.upload(&id, "alice", Body::from("fine")).await.status,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn a_restart_rolls_back_uploads_it_interrupted() {
    let cloud = cloud();
    let id = cloud.create("alice", image_body("crashed")).await;
    let stuck = id.clone();
    cloud
        .db
        .write_blocking(move |tx| {
            tx.execute(
                "UPDATE images SET status = 'saving' WHERE id = ?1",
                [&stuck],
            )?;
            Ok::<_, oxistack_db::DbError>(())
        })
        .unwrap();
    std::fs::write(cloud.store.join(&id), b"half").unwrap();
    std::fs::write(cloud.store.join(format!(".{id}.x.partial")), b"half").unwrap();

    ImageService::new(cloud.db.clone(), cloud.store.clone()).unwrap();
    assert_eq!(cloud.show(&id).await["status"], "queued");
    assert!(
        cloud.stored_files().is_empty(),
        "{:?}",
        cloud.stored_files()
    );
}

#[tokio::test]
async fn lists_filter_sort_and_paginate() {
    let cloud = cloud();
    for (name, token, extra) in [
        (
            "delta",
            "alice",
            json!({"tags": ["linux"], "os_distro": "debian"}),
        ),
        (
            "alpha",
            "alice",
            json!({"visibility": "public", "tags": ["linux", "small"]}),
        ),
        (
            "charlie",
            "alice",
            json!({"visibility": "private", "disk_format": "qcow2"}),
        ),
        ("bravo", "alice", json!({"os_hidden": true})),
        ("echo", "bob", json!({"visibility": "public"})),
        ("foxtrot", "bob", json!({"visibility": "private"})),
        ("golf", "bob", json!({"visibility": "community"})),
    ] {
        let mut body = image_body(name);
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        cloud.create(token, body).await;
    }
    let alpha_id = cloud.get("/v2/images?name=alpha", "alice").await.json()["images"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    cloud.upload(&alpha_id, "alice", Body::from("data")).await;

    // Default: newest first; own images, others' public ones; no hidden or community.
    assert_eq!(
        cloud.names("", "alice").await,
        ["echo", "charlie", "alpha", "delta"]
    );
    // Bob sees his own private and community images, but not Alice's private ones.
    assert_eq!(
        cloud.names("", "bob").await,
        ["golf", "foxtrot", "echo", "alpha"]
    );
    assert_eq!(
        cloud.names("?sort=name:asc", "admin").await,
        ["alpha", "charlie", "delta", "echo", "foxtrot"]
    );
    assert_eq!(
        cloud.names("?sort_key=name&sort_dir=desc", "alice").await,
        ["echo", "delta", "charlie", "alpha"]
    );
    assert_eq!(
        cloud.names("?visibility=community", "alice").await,
        ["golf"]
    );
    assert_eq!(
        cloud.names("?visibility=all&sort=name:asc", "alice").await,
        ["alpha", "charlie", "delta", "echo", "golf"]
    );
    assert_eq!(cloud.names("?os_hidden=True", "alice").await, ["bravo"]);
    assert_eq!(cloud.names("?name=delta", "alice").await, ["delta"]);
    assert_eq!(
        cloud
            .names("?name=in:delta,echo,foxtrot&sort=name:asc", "alice")
            .await,
        ["delta", "echo"]
    );
    assert_eq!(cloud.names("?status=active", "alice").await, ["alpha"]);
    assert_eq!(cloud.names("?owner=project-b", "alice").await, ["echo"]);
    assert_eq!(
        cloud.names("?tag=linux&sort=name", "alice").await,
        ["delta", "alpha"]
    );
    assert_eq!(
        cloud.names("?tag=linux&tag=small", "alice").await,
        ["alpha"]
    );
    assert_eq!(
        cloud.names("?disk_format=qcow2", "alice").await,
        ["charlie"]
    );
    assert_eq!(cloud.names("?os_distro=debian", "alice").await, ["delta"]);
    assert_eq!(cloud.names("?size_min=1", "alice").await, ["alpha"]);
    // `size` is a core attribute, filtered exactly (not as a property).
    assert_eq!(cloud.names("?size=4", "alice").await, ["alpha"]);
    assert!(cloud.names("?size=5", "alice").await.is_empty());
    assert_eq!(
        cloud.names("?visibility=private", "alice").await,
        ["charlie"]
    );
    assert_eq!(
        cloud
            .names(
                "?created_at=gte:2000-01-01T00:00:00Z&sort=name:asc&limit=1",
                "alice"
            )
            .await,
        ["alpha"]
    );
    assert!(
        cloud
            .names("?created_at=lt:2000-01-01T00:00:00Z", "alice")
            .await
            .is_empty()
    );

    // Pages of two, following the links Glance's clients follow.
    let mut uri = "/v2/images?limit=2&sort=name:asc&visibility=all".to_owned();
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page = cloud.get(&uri, "admin").await.json();
        pages += 1;
        assert_eq!(page["schema"], "/v2/schemas/images");
        assert_eq!(
            page["first"],
            "/v2/images?limit=2&sort=name%3Aasc&visibility=all"
        );
        seen.extend(names(&page));
        match page["next"].as_str() {
            Some(next) => {
                assert!(
                    next.starts_with("/v2/images?limit=2&sort=name%3Aasc&visibility=all&marker="),
                    "{next}"
                );
                uri = next.to_owned();
            }
            None => break,
        }
    }
    assert_eq!(
        seen,
        ["alpha", "charlie", "delta", "echo", "foxtrot", "golf"]
    );
    // As in Glance, a full page always links to a next one, which may be empty.
    assert_eq!(pages, 4);

    // Descending by a column with NULLs (size) still pages through everything.
    let mut uri =
        "/v2/images?limit=1&sort_key=size&sort_dir=desc&sort_key=name&sort_dir=asc".to_owned();
    let mut by_size = Vec::new();
    loop {
        let page = cloud.get(&uri, "alice").await.json();
        by_size.extend(names(&page));
        let Some(next) = page["next"].as_str() else {
            break;
        };
        uri = next.to_owned();
    }
    assert_eq!(by_size, ["alpha", "charlie", "delta", "echo"]);

    for bad in [
        "?sort_key=owner",
        "?sort=name:sideways",
        "?limit=0",
        "?limit=-2",
        "?limit=many",
        "?marker=not-an-image",
    ] {
        let message = cloud
            .get(&format!("/v2/images{bad}"), "alice")
            .await
            .error(400);
        assert!(!message.is_empty(), "{bad}");
    }
    let message = cloud
        .get("/v2/images?sort_key=owner", "alice")
        .await
        .error(400);
    assert!(
        message.contains("name") && message.contains("created_at"),
        "{message}"
    );
    // A marker the caller cannot see is refused, not used.
    let foxtrot = cloud.get("/v2/images?name=foxtrot", "bob").await.json()["images"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    cloud
        .get(&format!("/v2/images?marker={foxtrot}"), "alice")
        .await
        .error(400);
}

#[tokio::test]
async fn private_images_are_invisible_to_other_projects() {
    let cloud = cloud();
    let id = cloud.create("alice", json!({"name": "secret", "visibility": "private", "disk_format": "raw", "container_format": "bare"})).await;
    let uri = format!("/v2/images/{id}");
    for reply in [
        cloud.get(&uri, "bob").await,
        cloud.get(&format!("{uri}/file"), "bob").await,
        cloud
            .patch(
                &id,
                "bob",
                json!([{"op": "replace", "path": "/name", "value": "mine"}]),
            )
            .await,
        cloud.delete(&uri, "bob").await,
        cloud.upload(&id, "bob", Body::from("x")).await,
        cloud
            .send(
                Method::PUT,
                &format!("{uri}/tags/x"),
                Some("bob"),
                None,
                Body::empty(),
            )
            .await,
        cloud.get(&format!("{uri}/members"), "bob").await,
    ] {
        let message = reply.error(404);
        assert!(message.contains(&id), "{message}");
    }
    assert!(cloud.names("?visibility=all", "bob").await.is_empty());
    assert_eq!(cloud.get(&uri, "admin").await.status, StatusCode::OK);
    assert_eq!(cloud.names("", "admin").await, ["secret"]);
    assert_eq!(cloud.show(&id).await["name"], "secret", "nothing changed");
}

#[tokio::test]
async fn public_images_are_readable_but_not_writable_by_others() {
    let cloud = cloud();
    let id = cloud.create("alice", json!({"name": "shared-os", "visibility": "public", "disk_format": "raw", "container_format": "bare"})).await;
    cloud.upload(&id, "alice", Body::from("os bits")).await;
    let uri = format!("/v2/images/{id}");
    assert_eq!(cloud.get(&uri, "bob").await.status, StatusCode::OK);
    assert_eq!(
        cloud.get(&format!("{uri}/file"), "bob").await.body,
        "os bits"
    );

    let message = cloud.delete(&uri, "bob").await.error(403);
    assert_eq!(message, "You are not permitted to delete this image.");
    let message = cloud
        .patch(
            &id,
            "bob",
            json!([{"op": "replace", "path": "/name", "value": "x"}]),
        )
        .await
        .error(403);
    assert_eq!(message, "You are not permitted to modify this image.");
    cloud
        .send(
            Method::PUT,
            &format!("{uri}/tags/x"),
            Some("bob"),
            None,
            Body::empty(),
        )
        .await
        .error(403);
    cloud
        .send(
            Method::POST,
            &format!("{uri}/actions/deactivate"),
            Some("bob"),
            None,
            Body::empty(),
        )
        .await
        .error(403);
    assert_eq!(cloud.show(&id).await["name"], "shared-os");
    assert_eq!(cloud.show(&id).await["tags"], json!([]));

    // The administrator may act on any project's image.
    let reply = cloud
        .patch(
            &id,
            "admin",
            json!([{"op": "add", "path": "/os_distro", "value": "fedora"}]),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        cloud.delete(&uri, "admin").await.status,
        StatusCode::NO_CONTENT
    );
    cloud.get(&uri, "alice").await.error(404);
    assert!(cloud.stored_files().is_empty());
}

#[tokio::test]
async fn the_reader_role_cannot_write() {
    let cloud = cloud();
    let id = cloud.create("alice", image_body("project-a image")).await;
    let uri = format!("/v2/images/{id}");
    assert_eq!(cloud.get(&uri, "reader").await.status, StatusCode::OK);
    assert_eq!(cloud.names("", "reader").await, ["project-a image"]);
    let message = cloud
        .json(Method::POST, "/v2/images", "reader", image_body("nope"))
        .await
        .error(403);
    assert!(message.contains("image:add_image"), "{message}");
    cloud
        .patch(
            &id,
            "reader",
            json!([{"op": "replace", "path": "/name", "value": "x"}]),
        )
        .await
        .error(403);
    cloud.delete(&uri, "reader").await.error(403);
    cloud
        .upload(&id, "reader", Body::from("x"))
        .await
        .error(403);
    cloud
        .send(
            Method::PUT,
            &format!("{uri}/tags/t"),
            Some("reader"),
            None,
            Body::empty(),
        )
        .await
        .error(403);
    assert_eq!(
        cloud.names("?visibility=all", "admin").await,
        ["project-a image"]
    );
    assert_eq!(cloud.show(&id).await["status"], "queued");
}

#[tokio::test]
async fn protected_images_cannot_be_deleted() {
    let cloud = cloud();
    let id = cloud.create("alice", json!({"name": "keep", "protected": true, "disk_format": "raw", "container_format": "bare"})).await;
    cloud.upload(&id, "alice", Body::from("precious")).await;
    let uri = format!("/v2/images/{id}");
    let message = cloud.delete(&uri, "alice").await.error(403);
    assert_eq!(
        message,
        format!("Image {id} is protected and cannot be deleted.")
    );
    cloud.delete(&uri, "admin").await.error(403);
    assert_eq!(cloud.stored_files(), [id.as_str()]);

    let reply = cloud
        .patch(
            &id,
            "alice",
            json!([{"op": "replace", "path": "/protected", "value": false}]),
        )
        .await;
    assert_eq!(reply.json()["protected"], false);
    assert_eq!(
        cloud.delete(&uri, "alice").await.status,
        StatusCode::NO_CONTENT
    );
    cloud.get(&uri, "alice").await.error(404);
    cloud.get(&format!("{uri}/file"), "alice").await.error(404);
    cloud.delete(&uri, "alice").await.error(404);
    assert!(cloud.stored_files().is_empty());
}

#[tokio::test]
async fn json_patch_updates_and_refusals() {
    let cloud = cloud();
    let id = cloud
        .create(
            "alice",
            json!({"name": "before", "tags": ["a", "c"], "os_distro": "ubuntu"}),
        )
        .await;
    let reply = cloud
        .patch(
            &id,
            "alice",
            json!([
                {"op": "replace", "path": "/name", "value": "after"},
                {"op": "replace", "path": "/visibility", "value": "public"},
                {"op": "add", "path": "/protected", "value": true},
                {"op": "add", "path": "/os_hidden", "value": true},
                {"op": "add", "path": "/min_disk", "value": 10},
                {"op": "add", "path": "/min_ram", "value": 1024},
                {"op": "add", "path": "/disk_format", "value": "qcow2"},
                {"op": "add", "path": "/container_format", "value": "bare"},
                {"op": "add", "path": "/hw_disk_bus", "value": "scsi"},
                {"op": "remove", "path": "/os_distro"},
                {"op": "add", "path": "/tags/1", "value": "b"},
            ]),
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let image = reply.json();
    assert_eq!(image["name"], "after");
    assert_eq!(image["visibility"], "public");
    assert_eq!(image["protected"], true);
    assert_eq!(image["os_hidden"], true);
    assert_eq!(
        (image["min_disk"].clone(), image["min_ram"].clone()),
        (json!(10), json!(1024))
    );
    assert_eq!(
        (
            image["disk_format"].clone(),
            image["container_format"].clone()
        ),
        (json!("qcow2"), json!("bare"))
    );
    assert_eq!(image["hw_disk_bus"], "scsi");
    assert!(image.get("os_distro").is_none());
    assert_eq!(image["tags"], json!(["a", "b", "c"]));
    assert_eq!(
        cloud.show(&id).await,
        image,
        "what PATCH answered is what was stored"
    );

    // Refusals: each leaves the image exactly as it was, even after valid operations.
    for (ops, status) in [
        (
            json!([{"op": "replace", "path": "/name", "value": "x"}, {"op": "replace", "path": "/id", "value": "x"}]),
            403,
        ),
        (
            json!([{"op": "replace", "path": "/name", "value": "x"}, {"op": "replace", "path": "/status", "value": "active"}]),
            403,
        ),
        (
            json!([{"op": "add", "path": "/checksum", "value": "0"}]),
            403,
        ),
        (json!([{"op": "add", "path": "/size", "value": 1}]), 403),
        (json!([{"op": "remove", "path": "/name"}]), 403),
        (
            json!([{"op": "replace", "path": "/owner", "value": "project-b"}]),
            403,
        ),
        (
            json!([{"op": "replace", "path": "/name", "value": "x"}, {"op": "add", "path": "/min_ram", "value": "lots"}]),
            400,
        ),
        (
            json!([{"op": "replace", "path": "/disk_format", "value": "floppy"}]),
            400,
        ),
        (
            json!([{"op": "replace", "path": "/visibility", "value": "everyone"}]),
            400,
        ),
        (
            json!([{"op": "copy", "path": "/name", "from": "/os_distro"}]),
            400,
        ),
        (
            json!([{"op": "add", "path": "/name/first", "value": "x"}]),
            400,
        ),
        (json!({"op": "add", "path": "/name", "value": "x"}), 400),
        (
            json!([{"op": "replace", "path": "/name", "value": "x"}, {"op": "replace", "path": "/nonexistent", "value": "x"}]),
            409,
        ),
        (json!([{"op": "remove", "path": "/nonexistent"}]), 409),
    ] {
        let reply = cloud.patch(&id, "alice", ops.clone()).await;
        let message = reply.error(status);
        assert!(!message.is_empty(), "{ops}");
        assert_eq!(cloud.show(&id).await, image, "{ops} changed the image");
    }
    let message = cloud
        .patch(
            &id,
            "alice",
            json!([{"op": "add", "path": "/min_ram", "value": "lots"}]),
        )
        .await
        .error(400);
    assert!(message.contains("min_ram"), "{message}");

    let reply = cloud
        .send(
            Method::PATCH,
            &format!("/v2/images/{id}"),
            Some("alice"),
            Some("application/json"),
            Body::from("[]"),
        )
        .await;
    reply.error(415);
    assert!(
        reply.headers["accept-patch"]
            .to_str()
            .unwrap()
            .contains(PATCH_TYPE)
    );
    let reply = cloud
        .send(
            Method::PATCH,
            &format!("/v2/images/{id}"),
            Some("alice"),
            Some(PATCH_TYPE),
            Body::from("[{"),
        )
        .await;
    assert!(reply.error(400).contains("Malformed JSON"));

    // Formats are fixed once the image has data.
    let active = cloud.create("alice", image_body("active")).await;
    cloud.upload(&active, "alice", Body::from("x")).await;
    cloud
        .patch(
            &active,
            "alice",
            json!([{"op": "replace", "path": "/disk_format", "value": "qcow2"}]),
        )
        .await
        .error(403);
    assert_eq!(cloud.show(&active).await["disk_format"], "raw");
}

#[tokio::test]
async fn tags_are_added_and_removed() {
    let cloud = cloud();
    let id = cloud.create("alice", image_body("tagged")).await;
    let tag_uri = |tag: &str| format!("/v2/images/{id}/tags/{tag}");
    for tag in ["x86_64", "ubuntu", "x86_64"] {
        let reply = cloud
            .send(
                Method::PUT,
                &tag_uri(tag),
                Some("alice"),
                None,
                Body::empty(),
            )
            .await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT);
    }
    assert_eq!(cloud.show(&id).await["tags"], json!(["ubuntu", "x86_64"]));
    assert_eq!(
        cloud.delete(&tag_uri("ubuntu"), "alice").await.status,
        StatusCode::NO_CONTENT
    );
    cloud.delete(&tag_uri("ubuntu"), "alice").await.error(404);
    let long = "t".repeat(256);
    cloud
        .send(
            Method::PUT,
            &tag_uri(&long),
            Some("alice"),
            None,
            Body::empty(),
        )
        .await
        .error(400);
    assert_eq!(cloud.show(&id).await["tags"], json!(["x86_64"]));
}

#[tokio::test]
async fn shared_images_reach_their_members() {
    let cloud = cloud();
    let id = cloud.create("alice", image_body("for bob")).await;
    let members = format!("/v2/images/{id}/members");
    let bob_member = format!("{members}/project-b");
    cloud
        .get(&format!("/v2/images/{id}"), "bob")
        .await
        .error(404);

    // Only the owner shares.
    cloud
        .json(
            Method::POST,
            &members,
            "bob",
            json!({"member": "project-b"}),
        )
        .await
        .error(404);
    let reply = cloud
        .json(
            Method::POST,
            &members,
            "alice",
            json!({"member": "project-b"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let member = reply.json();
    assert_eq!(member["member_id"], "project-b");
    assert_eq!(member["image_id"], id.as_str());
    assert_eq!(member["status"], "pending");
    assert_eq!(member["schema"], "/v2/schemas/member");
    cloud
        .json(
            Method::POST,
            &members,
            "alice",
            json!({"member": "project-b"}),
        )
        .await
        .error(409);
    cloud
        .json(
            Method::POST,
            &members,
            "alice",
            json!({"member": "project-c"}),
        )
        .await;

    // A pending member sees the image, but it is not listed by default.
    assert_eq!(
        cloud.get(&format!("/v2/images/{id}"), "bob").await.status,
        StatusCode::OK
    );
    assert!(cloud.names("", "bob").await.is_empty());
    assert_eq!(
        cloud.names("?member_status=pending", "bob").await,
        ["for bob"]
    );
    assert_eq!(cloud.names("?member_status=all", "bob").await, ["for bob"]);
    cloud
        .json(
            Method::POST,
            &members,
            "bob",
            json!({"member": "project-d"}),
        )
        .await
        .error(403);

    // Only the member answers.
    cloud
        .json(
            Method::PUT,
            &bob_member,
            "alice",
            json!({"status": "accepted"}),
        )
        .await
        .error(403);
    cloud
        .json(Method::PUT, &bob_member, "bob", json!({"status": "maybe"}))
        .await
        .error(400);
    cloud
        .json(
            Method::PUT,
            &format!("{members}/project-c"),
            "bob",
            json!({"status": "accepted"}),
        )
        .await
        .error(404);
    let reply = cloud
        .json(
            Method::PUT,
            &bob_member,
            "bob",
            json!({"status": "accepted", "member": "project-b"}),
        )
        .await;
    assert_eq!(reply.json()["status"], "accepted");
    assert_eq!(cloud.names("", "bob").await, ["for bob"]);
    assert!(
        cloud
            .names("?member_status=pending", "bob")
            .await
            .is_empty()
    );

    // The owner sees every member, a member only itself.
    let ids = |reply: Reply| -> Vec<String> {
        let body = reply.json();
        assert_eq!(body["schema"], "/v2/schemas/members");
        body["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["member_id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        ids(cloud.get(&members, "alice").await),
        ["project-b", "project-c"]
    );
    assert_eq!(ids(cloud.get(&members, "bob").await), ["project-b"]);
    assert_eq!(
        cloud.get(&bob_member, "bob").await.json()["status"],
        "accepted"
    );
    cloud
        .get(&format!("{members}/project-c"), "bob")
        .await
        .error(404);

    // Unsharing is the owner's.
    cloud.delete(&bob_member, "bob").await.error(403);
    assert_eq!(
        cloud.delete(&bob_member, "alice").await.status,
        StatusCode::NO_CONTENT
    );
    cloud.delete(&bob_member, "alice").await.error(404);
    cloud
        .get(&format!("/v2/images/{id}"), "bob")
        .await
        .error(404);

    // Only shared images have members.
    let public = cloud
        .create("alice", json!({"name": "p", "visibility": "public"}))
        .await;
    let message = cloud
        .json(
            Method::POST,
            &format!("/v2/images/{public}/members"),
            "alice",
            json!({"member": "x"}),
        )
        .await
        .error(403);
    assert!(message.contains("shared"), "{message}");
    cloud
        .get(&format!("/v2/images/{public}/members/x"), "alice")
        .await
        .error(404);
}

#[tokio::test]
async fn images_can_be_deactivated_and_reactivated() {
    let cloud = cloud();
    let id = cloud.create("alice", json!({"name": "d", "visibility": "public", "disk_format": "raw", "container_format": "bare"})).await;
    let action = |name: &str| format!("/v2/images/{id}/actions/{name}");
    cloud
        .send(
            Method::POST,
            &action("deactivate"),
            Some("alice"),
            None,
            Body::empty(),
        )
        .await
        .error(403);
    cloud.upload(&id, "alice", Body::from("bits")).await;
    let reply = cloud
        .send(
            Method::POST,
            &action("deactivate"),
            Some("alice"),
            None,
            Body::empty(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(cloud.show(&id).await["status"], "deactivated");
    cloud
        .get(&format!("/v2/images/{id}/file"), "bob")
        .await
        .error(403);
    assert_eq!(
        cloud
            .get(&format!("/v2/images/{id}/file"), "admin")
            .await
            .body,
        "bits"
    );
    cloud
        .send(
            Method::POST,
            &action("explode"),
            Some("alice"),
            None,
            Body::empty(),
        )
        .await
        .error(404);
    cloud
        .send(
            Method::POST,
            &action("reactivate"),
            Some("alice"),
            None,
            Body::empty(),
        )
        .await;
    assert_eq!(
        cloud
            .get(&format!("/v2/images/{id}/file"), "bob")
            .await
            .body,
        "bits"
    );
}

#[tokio::test]
async fn create_validates_everything_before_storing() {
    let cloud = cloud();
    for (body, status, hint) in [
        (json!({"name": "x", "disk_format": "floppy"}), 400, "qcow2"),
        (json!({"name": "x", "container_format": "box"}), 400, "bare"),
        (json!({"name": "x", "min_ram": "512"}), 400, "min_ram"),
        (json!({"name": "x", "min_disk": -1}), 400, "min_disk"),
        (
            json!({"name": "x", "visibility": "everyone"}),
            400,
            "community",
        ),
        (json!({"name": "x", "protected": "yes"}), 400, "protected"),
        (json!({"name": "x", "tags": "one"}), 400, "tags"),
        (json!({"name": "x", "os_distro": 7}), 400, "os_distro"),
        (json!({"name": "x".repeat(256)}), 400, "name"),
        (json!({"name": "x", "id": "not-a-uuid"}), 400, "id"),
        (json!({"name": "x", "status": "active"}), 403, "status"),
        (json!({"name": "x", "checksum": "0"}), 403, "checksum"),
        (json!({"name": "x", "self": "/elsewhere"}), 403, "self"),
        (json!({"name": "x", "deleted": "true"}), 403, "reserved"),
        (
            json!({"name": "x", "os_glance_import_task": "t"}),
            403,
            "reserved",
        ),
        (json!({"name": "x", "owner": "project-b"}), 403, "project-b"),
        (json!(["name"]), 400, "object"),
    ] {
        let message = cloud
            .json(Method::POST, "/v2/images", "alice", body.clone())
            .await
            .error(status);
        assert!(message.contains(hint), "{body}: {message}");
    }
    assert!(
        cloud
            .names("?visibility=all&os_hidden=false", "admin")
            .await
            .is_empty(),
        "nothing was created"
    );

    // A chosen id is kept, and cannot be taken twice.
    let id = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9";
    assert_eq!(
        cloud
            .create("alice", json!({"id": id, "name": "chosen"}))
            .await,
        id
    );
    let message = cloud
        .json(
            Method::POST,
            "/v2/images",
            "bob",
            json!({"id": id, "name": "again"}),
        )
        .await
        .error(409);
    assert!(message.contains(id), "{message}");
    assert_eq!(cloud.show(id).await["name"], "chosen");
    // The administrator may create images for other projects; members may publish.
    let reply = cloud
        .json(
            Method::POST,
            "/v2/images",
            "admin",
            json!({"name": "given", "owner": "project-b"}),
        )
        .await;
    assert_eq!(reply.json()["owner"], "project-b");
    let reply = cloud
        .json(
            Method::POST,
            "/v2/images",
            "bob",
            json!({"name": "pub", "visibility": "public"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
}

#[tokio::test]
async fn bad_requests_get_glance_errors_everywhere() {
    let cloud = cloud();
    let id = cloud.create("alice", image_body("target")).await;
    let no_formats = cloud.create("alice", json!({"name": "no formats"})).await;
    let big = Body::from(format!(
        "{{\"name\": \"{}\"}}",
        "x".repeat(oxistack_http::MAX_JSON_BODY)
    ));
    let cases: Vec<(Method, String, Option<&str>, Body, u16)> = vec![
        (
            Method::GET,
            "/v2/images/not-a-uuid".into(),
            None,
            Body::empty(),
            404,
        ),
        (
            Method::GET,
            "/v2/images/3f2504e0-4f89-41d3-9a0c-0305e82c3301".into(),
            None,
            Body::empty(),
            404,
        ),
        (
            Method::PATCH,
            "/v2/images/nope".into(),
            Some(PATCH_TYPE),
            Body::from("[]"),
            404,
        ),
        (
            Method::DELETE,
            "/v2/images/nope".into(),
            None,
            Body::empty(),
            404,
        ),
        (
            Method::GET,
            "/v2/images/nope/file".into(),
            None,
            Body::empty(),
            404,
        ),
        (
            Method::PUT,
            "/v2/images/nope/file".into(),
            Some(OCTETS),
            Body::from("x"),
            404,
        ),
        (
            Method::GET,
            "/v2/images/nope/members".into(),
            None,
            Body::empty(),
            404,
        ),
        (
            Method::POST,
            "/v2/images".into(),
            Some("application/json"),
            Body::from("{\"name\":"),
            400,
        ),
        (
            Method::POST,
            "/v2/images".into(),
            Some("application/json"),
            Body::empty(),
            400,
        ),
        (
            Method::POST,
            "/v2/images".into(),
            Some("application/json"),
            big,
            413,
        ),
        (
            Method::PUT,
            format!("/v2/images/{id}/file"),
            Some("text/plain"),
            Body::from("x"),
            415,
        ),
        (
            Method::PUT,
            format!("/v2/images/{id}/file"),
            None,
            Body::from("x"),
            415,
        ),
        (
            Method::PUT,
            format!("/v2/images/{no_formats}/file"),
            Some(OCTETS),
            Body::from("x"),
            400,
        ),
        (
            Method::POST,
            format!("/v2/images/{id}/members"),
            Some("application/json"),
            Body::from("{}"),
            400,
        ),
        (
            Method::POST,
            format!("/v2/images/{id}/members"),
            Some("application/json"),
            Body::from("{\"member\": \"\"}"),
            400,
        ),
        (
            Method::POST,
            format!("/v2/images/{id}/members"),
            Some("application/json"),
            Body::from("{\"member\": 5}"),
            400,
        ),
        (
            Method::PUT,
            format!("/v2/images/{id}/members/project-b"),
            Some("application/json"),
            Body::from("{}"),
            400,
        ),
        (
            Method::GET,
            "/v2/schemas/unicorn".into(),
            None,
            Body::empty(),
            404,
        ),
        (Method::GET, "/v2/unicorns".into(), None, Body::empty(), 404),
        (Method::PUT, "/v2/images".into(), None, Body::empty(), 405),
        (
            Method::GET,
            "/v2/info/stores".into(),
            None,
            Body::empty(),
            404,
        ),
        (
            Method::GET,
            "/v2/images?member_status=maybe".into(),
            None,
            Body::empty(),
            400,
        ),
        (
            Method::GET,
            "/v2/images?os_hidden=perhaps".into(),
            None,
            Body::empty(),
            400,
        ),
        (
            Method::GET,
            "/v2/images?changes-since=2020-01-01T00:00:00Z".into(),
            None,
            Body::empty(),
            400,
        ),
    ];
    for (method, uri, content_type, body, status) in cases {
        let label = format!("{method} {uri}");
        let reply = cloud
            .send(method, &uri, Some("alice"), content_type, body)
            .await;
        let message = reply.error(status);
        assert!(!message.is_empty(), "{label}");
    }
    // None of it changed anything.
    assert_eq!(cloud.show(&id).await["status"], "queued");
    assert_eq!(cloud.show(&no_formats).await["status"], "queued");
    assert!(
        cloud
            .get(&format!("/v2/images/{id}/members"), "alice")
            .await
            .json()["members"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        cloud.names("?sort=name:asc", "alice").await,
        ["no formats", "target"]
    );
    assert!(cloud.stored_files().is_empty());
}

#[tokio::test]
async fn schemas_and_import_info_are_served() {
    let cloud = cloud();
    let schema = cloud.get("/v2/schemas/image", "bob").await.json();
    assert_eq!(schema["name"], "image");
    assert!(
        schema["properties"]["disk_format"]["enum"]
            .as_array()
            .unwrap()
            .contains(&json!("ploop"))
    );
    assert_eq!(
        cloud.get("/v2/schemas/images", "bob").await.json()["name"],
        "images"
    );
    assert_eq!(
        cloud.get("/v2/schemas/member", "bob").await.json()["name"],
        "member"
    );
    assert_eq!(
        cloud.get("/v2/schemas/members", "bob").await.json()["name"],
        "members"
    );
    let info = cloud.get("/v2/info/import", "bob").await.json();
    assert_eq!(info["import-methods"]["value"], json!([]));
    cloud
        .send(Method::GET, "/v2/schemas/image", None, None, Body::empty())
        .await
        .error(401);
}

/// Lists are served from a cache of rendered pages; every kind of change
/// must show in the very next listing.
#[tokio::test]
async fn lists_reflect_every_change_at_once() {
    let cloud = cloud();
    assert!(cloud.names("", "alice").await.is_empty());
    let id = cloud.create("alice", image_body("first")).await;
    assert_eq!(cloud.names("", "alice").await, ["first"]);
    let renamed = cloud
        .patch(
            &id,
            "alice",
            json!([{"op": "replace", "path": "/name", "value": "renamed"}]),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK);
    assert_eq!(cloud.names("", "alice").await, ["renamed"]);
    // Another project's view is cached apart and changes too.
    assert!(cloud.names("", "bob").await.is_empty());
    let public = cloud
        .patch(
            &id,
            "admin",
            json!([{"op": "replace", "path": "/visibility", "value": "public"}]),
        )
        .await;
    assert_eq!(public.status, StatusCode::OK);
    assert_eq!(cloud.names("", "bob").await, ["renamed"]);
    let uploaded = cloud
        .upload(&id, "alice", Body::from(vec![7u8; 1024]))
        .await;
    assert_eq!(uploaded.status, StatusCode::NO_CONTENT);
    let page = cloud.get("/v2/images", "bob").await.json();
    assert_eq!(page["images"][0]["status"], "active");
    assert_eq!(
        cloud
            .delete(&format!("/v2/images/{id}"), "alice")
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert!(cloud.names("", "bob").await.is_empty());
    assert!(cloud.names("", "alice").await.is_empty());
}

/// The binary trims a trailing slash before routing and marks the request
/// (`oxistack_http::mark_trailing_slash`); `/v2/images/` then names the
/// image with an empty id: a 404 whatever the method, as in Glance.
#[tokio::test]
async fn an_empty_image_id_in_the_path_is_not_found() {
    let cloud = cloud();
    let id = cloud.create("alice", image_body("kept")).await;
    let trimmed = |method: Method, token: Option<&str>| {
        let mut request = Request::builder().method(method).uri("/v2/images/");
        if let Some(token) = token {
            request = request.header("x-auth-token", token);
        }
        let mut request = oxistack_http::mark_trailing_slash(request.body(Body::empty()).unwrap());
        *request.uri_mut() = "/v2/images".parse().unwrap();
        request
    };
    for method in [Method::GET, Method::DELETE, Method::POST, Method::PATCH] {
        let reply = cloud.send_request(trimmed(method, Some("alice"))).await;
        assert_eq!(reply.error(404), "The resource could not be found.");
    }
    assert_eq!(
        cloud.send_request(trimmed(Method::GET, None)).await.status,
        StatusCode::UNAUTHORIZED
    );
    // Unmarked, the collection answers as before: the list, and 405 for DELETE.
    assert_eq!(cloud.names("", "alice").await, ["kept"]);
    assert_eq!(
        cloud.delete("/v2/images", "alice").await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
    cloud.show(&id).await;
}
