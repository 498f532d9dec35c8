//! The harness the API tests share: the networking router over a fresh
//! database with a fake token validator (an admin, the demo project, two
//! member projects and a reader) and the fake data plane, and helpers to
//! call it and read Neutron's answers.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::http::{Method, StatusCode};
use oxistack_auth::AuthContext;
use oxistack_db::Db;
use oxistack_netplane::FakeDataPlane;
use oxistack_network::{MIGRATIONS, NetworkDefaults, NetworkService, router};
use oxistack_tasks::Supervisor;
use oxistack_testkit::{Call, FakeTokens, project_caller};
use serde_json::{Value, json};

pub const ADMIN_PROJECT: &str = "admin-project";
pub const DEMO_PROJECT: &str = "demo-project";

/// A caller of `project` with `roles`, its user named after the project.
pub fn context(project: &str, roles: &[&str]) -> Arc<AuthContext> {
    project_caller(&format!("{project}-user"), project, roles)
}

pub fn defaults() -> NetworkDefaults {
    NetworkDefaults {
        admin_project_id: ADMIN_PROJECT.into(),
        demo_project_id: DEMO_PROJECT.into(),
        floating_range: "172.24.4.0/24".into(),
        pool_start: "172.24.4.2".parse().unwrap(),
        pool_end: "172.24.4.254".parse().unwrap(),
        gateway: "172.24.4.1".parse().unwrap(),
    }
}

pub struct Cloud {
    pub router: Router,
    pub service: Arc<NetworkService>,
    pub dataplane: Arc<FakeDataPlane>,
    pub tokens: HashMap<&'static str, Arc<AuthContext>>,
    pub db: Db,
    pub _dir: tempfile::TempDir,
}

pub fn cloud() -> Cloud {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("cloud.db")).unwrap();
    db.migrate("network", MIGRATIONS).unwrap();
    let dataplane = Arc::new(FakeDataPlane::new());
    let service = NetworkService::new(db.clone(), dataplane.clone(), &Supervisor::new());
    service.bootstrap(&defaults()).unwrap();
    let tokens = HashMap::from([
        (
            "admin",
            context(ADMIN_PROJECT, &["admin", "member", "reader"]),
        ),
        ("demo", context(DEMO_PROJECT, &["member", "reader"])),
        ("alice", context("project-a", &["member", "reader"])),
        ("bob", context("project-b", &["member", "reader"])),
        ("reader", context("project-a", &["reader"])),
    ]);
    Cloud {
        router: router(service.clone(), Arc::new(FakeTokens(tokens.clone()))),
        service,
        dataplane,
        tokens,
        db,
        _dir: dir,
    }
}

pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
}

impl Reply {
    /// Asserts a Neutron-format error with `status` and `kind`, returning
    /// its message.
    pub fn error(&self, status: u16, kind: &str) -> String {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        let error = &self.body["NeutronError"];
        assert_eq!(error["type"], kind, "{}", self.body);
        assert_eq!(error["detail"], "", "{}", self.body);
        error["message"].as_str().expect("a message").to_owned()
    }

    pub fn ok(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        &self.body
    }
}

impl Cloud {
    pub async fn call(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let reply = Call::new(method, uri)
            .token(token)
            .json(body)
            .send(&self.router)
            .await;
        Reply {
            status: reply.status,
            body: reply.json_or_null(),
        }
    }

    pub async fn get(&self, uri: &str, token: &str) -> Reply {
        self.call(Method::GET, uri, Some(token), None).await
    }

    pub async fn post(&self, uri: &str, token: &str, body: Value) -> Reply {
        self.call(Method::POST, uri, Some(token), Some(body)).await
    }

    pub async fn put(&self, uri: &str, token: &str, body: Value) -> Reply {
        self.call(Method::PUT, uri, Some(token), Some(body)).await
    }

    pub async fn delete(&self, uri: &str, token: &str) -> Reply {
        self.call(Method::DELETE, uri, Some(token), None).await
    }

    /// Creates a resource (`network` in `networks`), returning its document.
    pub async fn create(&self, token: &str, singular: &str, attributes: Value) -> Value {
        let collection = collection_path(singular);
        let reply = self
            .post(
                &format!("/v2.0/{collection}"),
                token,
                json!({ singular: attributes }),
            )
            .await;
        reply.ok(201)[singular].clone()
    }

    /// The id of the resource named `name`, as the admin sees it.
    pub async fn id_of(&self, singular: &str, name: &str) -> String {
        let collection = collection_path(singular);
        let reply = self
            .get(&format!("/v2.0/{collection}?name={name}"), "admin")
            .await;
        let items = reply.ok(200)[plural(singular)].as_array().unwrap().clone();
        assert_eq!(items.len(), 1, "{name}: {items:?}");
        items[0]["id"].as_str().unwrap().to_owned()
    }

    pub async fn list(&self, uri: &str, token: &str, key: &str) -> Vec<Value> {
        self.get(uri, token).await.ok(200)[key]
            .as_array()
            .unwrap()
            .clone()
    }

    pub fn caller(&self, token: &str) -> Arc<AuthContext> {
        self.tokens[token].clone()
    }

    /// A network with one subnet, owned by `token`'s project.
    pub async fn network_with_subnet(
        &self,
        token: &str,
        name: &str,
        cidr: &str,
    ) -> (String, String) {
        let network = self.create(token, "network", json!({"name": name})).await;
        let id = network["id"].as_str().unwrap().to_owned();
        let subnet = self
            .create(token, "subnet", json!({"network_id": id, "cidr": cidr, "ip_version": 4, "name": format!("{name}-subnet")}))
            .await;
        (id, subnet["id"].as_str().unwrap().to_owned())
    }

    pub async fn count(&self, uri: &str, key: &str) -> usize {
        self.list(uri, "admin", key).await.len()
    }
}

pub fn collection_path(singular: &str) -> String {
    match singular {
        "floatingip" => "floatingips".into(),
        "security_group" => "security-groups".into(),
        "security_group_rule" => "security-group-rules".into(),
        other => format!("{other}s"),
    }
}

pub fn plural(singular: &str) -> String {
    match singular {
        "floatingip" => "floatingips".into(),
        other => format!("{other}s"),
    }
}

pub fn ids(items: &[Value]) -> Vec<&str> {
    items.iter().map(|i| i["id"].as_str().unwrap()).collect()
}

pub fn names(items: &[Value]) -> Vec<&str> {
    items.iter().map(|i| i["name"].as_str().unwrap()).collect()
}

/// The body `openstack security group rule create` sends for an ingress
/// IPv4 rule.
pub fn cli_rule(group: &str, protocol: &str, ports: Option<(u16, u16)>) -> Value {
    let mut rule = json!({
        "security_group_id": group, "direction": "ingress", "ethertype": "IPv4",
        "protocol": protocol, "remote_ip_prefix": "0.0.0.0/0",
    });
    if let Some((min, max)) = ports {
        rule["port_range_min"] = json!(min);
        rule["port_range_max"] = json!(max);
    }
    rule
}
