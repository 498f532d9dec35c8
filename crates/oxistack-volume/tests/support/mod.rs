//! The harness the API tests share: the volume router over a fresh
//! database, the in-memory volume backend, a fake image service with one
//! active image, a fake compute recording extension events, and helpers
//! to call the router and wait for background work.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::{Method, StatusCode};
use futures_util::future::BoxFuture;
use oxistack_auth::AuthContext;
use oxistack_contracts::{
    ContractError, ImageSummary, Images, NewImage, ReservedImage, VolumeHosts,
};
use oxistack_db::Db;
use oxistack_tasks::Supervisor;
use oxistack_testkit::{Call, FakeTokens, project_caller};
use oxistack_volstore::FakeBackend;
use oxistack_volume::{MIGRATIONS, VolumeService, router};
use serde_json::{Value, json};

pub const IMAGE: &str = "6f0e4a0c-1d7b-4c43-a8a3-1b8ad3b1e001";
pub const PROJECT_A: &str = "project-a";

/// One active image of 1 GiB with a property, readable by everyone;
/// images made from volumes are recorded, their imports can be held or
/// made to fail.
pub struct FakeImages {
    pub file: PathBuf,
    pub reserved: Mutex<Vec<NewImage>>,
    /// Image id and the file its data was taken from.
    pub imported: Mutex<Vec<(String, PathBuf)>>,
    pub discarded: Mutex<Vec<String>>,
    pub hold_imports: AtomicBool,
    pub fail_imports: AtomicBool,
}

impl FakeImages {
    pub fn new(file: PathBuf) -> FakeImages {
        FakeImages {
            file,
            reserved: Mutex::default(),
            imported: Mutex::default(),
            discarded: Mutex::default(),
            hold_imports: AtomicBool::new(false),
            fail_imports: AtomicBool::new(false),
        }
    }
}

impl Images for FakeImages {
    fn find<'a>(
        &'a self,
        _caller: &'a AuthContext,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ImageSummary>, ContractError>> {
        Box::pin(async move {
            Ok((id == IMAGE).then(|| ImageSummary {
                id: IMAGE.into(),
                name: "cirros".into(),
                status: "active".into(),
                min_disk: 1,
                min_ram: 0,
                size: Some(1024 * 1024 * 1024),
                disk_format: Some("qcow2".into()),
                properties: HashMap::from([("os_distro".into(), "cirros".into())]),
            }))
        })
    }

    fn data_file(&self, id: &str) -> Option<PathBuf> {
        (id == IMAGE).then(|| self.file.clone())
    }

    fn reserve_image<'a>(
        &'a self,
        _caller: &'a AuthContext,
        request: NewImage,
    ) -> BoxFuture<'a, Result<ReservedImage, ContractError>> {
        Box::pin(async move {
            if request.container_format != "bare" {
                return Err(ContractError::Invalid(format!(
                    "Invalid container format '{}'.",
                    request.container_format
                )));
            }
            let image = ReservedImage {
                id: uuid_like(self.reserved.lock().unwrap().len()),
                name: request.name.clone(),
                disk_format: request.disk_format.clone(),
                container_format: request.container_format.clone(),
                visibility: request
                    .visibility
                    .clone()
                    .unwrap_or_else(|| "shared".into()),
                protected: request.protected,
            };
            self.reserved.lock().unwrap().push(request);
            Ok(image)
        })
    }

    fn import_file<'a>(
        &'a self,
        _caller: &'a AuthContext,
        id: &'a str,
        file: &'a std::path::Path,
    ) -> BoxFuture<'a, Result<ImageSummary, ContractError>> {
        Box::pin(async move {
            while self.hold_imports.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            if self.fail_imports.load(Ordering::SeqCst) {
                return Err(ContractError::Invalid("the image data broke off".into()));
            }
            self.imported
                .lock()
                .unwrap()
                .push((id.to_owned(), file.to_owned()));
            Ok(ImageSummary {
                id: id.to_owned(),
                name: String::new(),
                status: "active".into(),
                min_disk: 0,
                min_ram: 0,
                size: None,
                disk_format: None,
                properties: HashMap::new(),
            })
        })
    }

    fn discard_image<'a>(
        &'a self,
        _caller: &'a AuthContext,
        id: &'a str,
    ) -> BoxFuture<'a, Result<(), ContractError>> {
        Box::pin(async move {
            self.discarded.lock().unwrap().push(id.to_owned());
            Ok(())
        })
    }
}

fn uuid_like(n: usize) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

/// Compute as the volume service sees it: records extension events.
#[derive(Default)]
pub struct FakeHosts {
    pub extended: Mutex<Vec<(String, String, u64)>>,
}

impl VolumeHosts for FakeHosts {
    fn volume_extended<'a>(
        &'a self,
        server_id: &'a str,
        volume_id: &'a str,
        size_bytes: u64,
    ) -> BoxFuture<'a, Result<(), ContractError>> {
        Box::pin(async move {
            self.extended
                .lock()
                .unwrap()
                .push((server_id.into(), volume_id.into(), size_bytes));
            Ok(())
        })
    }
}

pub struct Cloud {
    pub router: Router,
    pub service: Arc<VolumeService>,
    pub backend: Arc<FakeBackend>,
    pub hosts: Arc<FakeHosts>,
    pub images: Arc<FakeImages>,
    pub db: Db,
    pub tasks: Supervisor,
    pub dir: tempfile::TempDir,
}

pub fn cloud() -> Cloud {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("cloud.db")).unwrap();
    db.migrate("volume", MIGRATIONS).unwrap();
    let backend = Arc::new(FakeBackend::new());
    cloud_over(dir, db, backend)
}

/// A cloud over an existing database and backend (a restart).
pub fn cloud_over(dir: tempfile::TempDir, db: Db, backend: Arc<FakeBackend>) -> Cloud {
    let file = dir.path().join("image.qcow2");
    std::fs::write(&file, b"image").unwrap();
    let images = Arc::new(FakeImages::new(file));
    let tasks = Supervisor::new();
    let service = VolumeService::new(db.clone(), backend.clone(), images.clone(), &tasks);
    service.bootstrap().unwrap();
    let hosts = Arc::new(FakeHosts::default());
    service.set_hosts(hosts.clone());
    let tokens = HashMap::from([
        (
            "admin",
            project_caller("admin", "admin-project", &["admin", "member", "reader"]),
        ),
        (
            "alice",
            project_caller("alice", PROJECT_A, &["member", "reader"]),
        ),
        (
            "bob",
            project_caller("bob", "project-b", &["member", "reader"]),
        ),
        ("reader", project_caller("carol", PROJECT_A, &["reader"])),
    ]);
    Cloud {
        router: router(service.clone(), Arc::new(FakeTokens(tokens))),
        service,
        backend,
        hosts,
        images,
        db,
        tasks,
        dir,
    }
}

pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub version: Option<String>,
}

impl Cloud {
    /// Calls `path` (under `/v3/<project>` unless it starts with `/v3` or
    /// is `/`) as `token` at microversion `version`.
    pub async fn call_at(
        &self,
        version: &str,
        method: Method,
        token: &str,
        path: &str,
        body: Option<Value>,
    ) -> Reply {
        let uri = if path.starts_with("/v3") || path == "/" {
            path.to_owned()
        } else {
            format!("/v3/{PROJECT_A}{path}")
        };
        let reply = Call::new(method, &uri)
            .token(Some(token))
            .header("openstack-api-version", &format!("volume {version}"))
            .json(body)
            .send(&self.router)
            .await;
        Reply {
            status: reply.status,
            version: reply.header("openstack-api-version"),
            body: reply.json_or_null(),
        }
    }

    pub async fn call(
        &self,
        method: Method,
        token: &str,
        path: &str,
        body: Option<Value>,
    ) -> Reply {
        self.call_at("3.71", method, token, path, body).await
    }

    pub async fn get(&self, token: &str, path: &str) -> Reply {
        self.call(Method::GET, token, path, None).await
    }

    pub async fn post(&self, token: &str, path: &str, body: Value) -> Reply {
        self.call(Method::POST, token, path, Some(body)).await
    }

    pub async fn put(&self, token: &str, path: &str, body: Value) -> Reply {
        self.call(Method::PUT, token, path, Some(body)).await
    }

    pub async fn delete(&self, token: &str, path: &str) -> Reply {
        self.call(Method::DELETE, token, path, None).await
    }

    /// Asks for a volume from `body` (what goes under `"volume"`) as
    /// `token`, without waiting for it.
    pub async fn create_volume(&self, token: &str, body: Value) -> Reply {
        self.post(token, "/volumes", json!({ "volume": body }))
            .await
    }

    /// Waits until `path`'s `key` document has `status` (or is gone, for
    /// `"gone"`); its last document.
    pub async fn wait(&self, token: &str, path: &str, key: &str, status: &str) -> Value {
        for _ in 0..200 {
            let reply = self.get(token, path).await;
            if status == "gone" && reply.status == StatusCode::NOT_FOUND {
                return Value::Null;
            }
            if reply.body[key]["status"] == status {
                return reply.body[key].clone();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!(
            "{path} never became {status}: {}",
            self.get(token, path).await.body
        );
    }

    /// Creates a volume from `body` as `token` and waits until available.
    pub async fn volume(&self, token: &str, body: Value) -> Value {
        let reply = self.create_volume(token, body).await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
        let id = reply.body["volume"]["id"].as_str().unwrap().to_owned();
        self.wait(token, &format!("/volumes/{id}"), "volume", "available")
            .await
    }

    pub async fn snapshot(&self, token: &str, body: Value) -> Value {
        let reply = self
            .post(token, "/snapshots", json!({ "snapshot": body }))
            .await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
        let id = reply.body["snapshot"]["id"].as_str().unwrap().to_owned();
        self.wait(token, &format!("/snapshots/{id}"), "snapshot", "available")
            .await
    }
}

/// Asserts Cinder's fault: the status and the exact message.
pub fn assert_fault(reply: &Reply, status: u16, message: &str) {
    assert_eq!(reply.status.as_u16(), status, "{}", reply.body);
    let (_, fault) = reply
        .body
        .as_object()
        .and_then(|o| o.iter().next())
        .expect("a fault document");
    assert_eq!(fault["code"], status, "{}", reply.body);
    assert_eq!(fault["message"], message, "{}", reply.body);
}

pub fn caller(user: &str, project: &str, roles: &[&str]) -> Arc<AuthContext> {
    project_caller(user, project, roles)
}
