//! The harness the API tests share: the volume router over a fresh
//! database, the in-memory volume backend, a fake image service with one
//! active image, a fake compute recording extension events, and helpers
//! to call the router and wait for background work.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::{Method, StatusCode};
use futures_util::future::BoxFuture;
use oxistack_auth::AuthContext;
use oxistack_contracts::{ContractError, ImageSummary, Images, VolumeHosts};
use oxistack_db::Db;
use oxistack_tasks::Supervisor;
use oxistack_testkit::{Call, FakeTokens, project_caller};
use oxistack_volstore::FakeBackend;
use oxistack_volume::{MIGRATIONS, VolumeService, router};
use serde_json::{Value, json};

pub const IMAGE: &str = "6f0e4a0c-1d7b-4c43-a8a3-1b8ad3b1e001";
pub const PROJECT_A: &str = "project-a";

/// One active image of 1 GiB with a property, readable by everyone.
pub struct FakeImages {
    pub file: PathBuf,
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
    let images = Arc::new(FakeImages { file });
    let tasks = Supervisor::new();
    let service = VolumeService::new(db.clone(), backend.clone(), images, &tasks);
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
        let reply = self
            .call(
                Method::POST,
                token,
                "/volumes",
                Some(json!({"volume": body})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
        let id = reply.body["volume"]["id"].as_str().unwrap().to_owned();
        self.wait(token, &format!("/volumes/{id}"), "volume", "available")
            .await
    }

    pub async fn snapshot(&self, token: &str, body: Value) -> Value {
        let reply = self
            .call(
                Method::POST,
                token,
                "/snapshots",
                Some(json!({"snapshot": body})),
            )
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
