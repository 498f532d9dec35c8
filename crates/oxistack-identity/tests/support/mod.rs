//! The harness the identity API tests share: a bootstrapped identity
//! service over a fresh database, driven through its router as clients
//! drive it, and helpers to read Keystone's answers.

#![allow(dead_code)]

use std::sync::Arc;

use axum::Router;
use axum::http::{Method, StatusCode};
use oxistack_db::Db;
use oxistack_identity::{Bootstrap, CatalogService, IdentityService};
use oxistack_testkit::Call;
use serde_json::{Value, json};

pub const PASSWORD: &str = "pw";

pub struct Cloud {
    pub router: Router,
    pub service: Arc<IdentityService>,
    pub _dir: tempfile::TempDir,
}

pub async fn cloud_with_lifetime(lifetime: chrono::Duration) -> Cloud {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("identity.db")).unwrap();
    db.migrate("identity", oxistack_identity::MIGRATIONS)
        .unwrap();
    let service = IdentityService::new(db, lifetime);
    service
        .bootstrap(&Bootstrap {
            admin_password: PASSWORD,
            region: "RegionOne",
            services: &[CatalogService {
                service_type: "identity".into(),
                name: "keystone".into(),
                url: "http://localhost/identity".into(),
            }],
        })
        .unwrap();
    Cloud {
        router: oxistack_identity::router(service.clone()),
        service,
        _dir: dir,
    }
}

pub async fn cloud() -> Cloud {
    cloud_with_lifetime(chrono::Duration::hours(1)).await
}

pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub subject_token: Option<String>,
}

impl Cloud {
    pub async fn call(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let bytes = body.map(|b| b.to_string()).unwrap_or_default();
        self.raw(method, uri, token, bytes.into_bytes(), &[]).await
    }

    pub async fn raw(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: Vec<u8>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut call = Call::new(method, uri)
            .header("host", "localhost")
            .token(token);
        if !body.is_empty() {
            call = call.header("content-type", "application/json");
        }
        for (name, value) in headers {
            call = call.header(name, value);
        }
        let reply = call.body(None, body).send(&self.router).await;
        Reply {
            status: reply.status,
            body: reply.json_or_null(),
            subject_token: reply.header("x-subject-token"),
        }
    }

    /// Creates a `kind` (domain, project, user, group, role) with
    /// `attributes` as `token`, returning its id.
    pub async fn create_id(&self, token: &str, kind: &str, attributes: Value) -> String {
        let path = format!("/v3/{kind}s");
        let body = json!({ kind: attributes });
        let reply = self
            .call(Method::POST, &path, Some(token), Some(body))
            .await;
        id(&reply.body[kind])
    }

    /// `method` on `/v3/auth/tokens` about token `subject`, as `caller`:
    /// validating, checking or revoking a token.
    pub async fn about_token(&self, method: Method, caller: &str, subject: &str) -> Reply {
        let subject = [("x-subject-token", subject)];
        self.raw(
            method,
            "/v3/auth/tokens",
            Some(caller),
            Vec::new(),
            &subject,
        )
        .await
    }

    pub async fn login(&self, user: &str, password: &str, project: Option<&str>) -> Reply {
        let mut auth = json!({
            "identity": {"methods": ["password"], "password": {"user": {
                "name": user, "domain": {"id": "default"}, "password": password}}}
        });
        if let Some(project) = project {
            auth["scope"] = json!({"project": {"name": project, "domain": {"id": "default"}}});
        }
        self.call(
            Method::POST,
            "/v3/auth/tokens",
            None,
            Some(json!({"auth": auth})),
        )
        .await
    }

    pub async fn token(&self, user: &str, password: &str, project: &str) -> String {
        let reply = self.login(user, password, Some(project)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.subject_token.unwrap()
    }

    pub async fn admin(&self) -> String {
        self.token("admin", PASSWORD, "admin").await
    }

    /// Creates project `name` and user `name` (password "pw") with `role` on it.
    pub async fn tenant(&self, name: &str, role: &str) -> (String, String) {
        let admin = self.admin().await;
        let project = self
            .call(
                Method::POST,
                "/v3/projects",
                Some(&admin),
                Some(json!({"project": {"name": name}})),
            )
            .await;
        assert_eq!(project.status, StatusCode::CREATED, "{}", project.body);
        let user = self
            .call(
                Method::POST,
                "/v3/users",
                Some(&admin),
                Some(json!({"user": {"name": name, "password": "pw"}})),
            )
            .await;
        assert_eq!(user.status, StatusCode::CREATED, "{}", user.body);
        let (project_id, user_id) = (id(&project.body["project"]), id(&user.body["user"]));
        let role_id = self.role_id(role).await;
        let grant = self
            .call(
                Method::PUT,
                &format!("/v3/projects/{project_id}/users/{user_id}/roles/{role_id}"),
                Some(&admin),
                None,
            )
            .await;
        assert_eq!(grant.status, StatusCode::NO_CONTENT);
        (project_id, user_id)
    }

    pub async fn role_id(&self, name: &str) -> String {
        let admin = self.admin().await;
        let roles = self
            .call(
                Method::GET,
                &format!("/v3/roles?name={name}"),
                Some(&admin),
                None,
            )
            .await;
        id(&roles.body["roles"][0])
    }
}

pub fn id(value: &Value) -> String {
    value["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {value}"))
        .to_owned()
}

pub fn role_names(token: &Value) -> Vec<String> {
    let mut names: Vec<String> = token["token"]["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}
