//! The identity API driven through its router, as clients drive it.

mod support;

use axum::http::{Method, StatusCode};
use oxistack_db::Db;
use oxistack_identity::{Bootstrap, IdentityService};
use serde_json::json;

use support::*;

#[tokio::test]
async fn version_discovery_needs_no_token() {
    let cloud = cloud().await;
    let root = cloud.call(Method::GET, "/", None, None).await;
    assert_eq!(root.status, StatusCode::MULTIPLE_CHOICES);
    assert_eq!(root.body["versions"]["values"][0]["id"], "v3.14");
    assert_eq!(
        root.body["versions"]["values"][0]["links"][0]["href"],
        "http://localhost/identity/v3/"
    );
    let v3 = cloud.call(Method::GET, "/v3", None, None).await;
    assert_eq!(v3.status, StatusCode::OK);
    assert_eq!(v3.body["version"]["status"], "stable");
}

#[tokio::test]
async fn project_token_carries_implied_roles_and_catalog() {
    let cloud = cloud().await;
    let reply = cloud.login("admin", PASSWORD, Some("admin")).await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert!(reply.subject_token.as_ref().unwrap().len() >= 40);
    let token = &reply.body["token"];
    assert_eq!(
        role_names(&reply.body),
        ["admin", "manager", "member", "reader"]
    );
    assert_eq!(token["project"]["name"], "admin");
    assert_eq!(token["user"]["domain"]["id"], "default");
    assert_eq!(token["methods"], json!(["password"]));
    let catalog = token["catalog"].as_array().unwrap();
    assert_eq!(catalog[0]["type"], "identity");
    let interfaces: Vec<&str> = catalog[0]["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["interface"].as_str().unwrap())
        .collect();
    assert_eq!(interfaces, ["admin", "internal", "public"]);
    assert!(token["expires_at"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn wrong_or_unknown_credentials_are_401_in_keystone_format() {
    let cloud = cloud().await;
    for (user, password) in [("admin", "wrong"), ("nobody", PASSWORD)] {
        let reply = cloud.login(user, password, Some("admin")).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(reply.body["error"]["code"], 401);
        assert_eq!(
            reply.body["error"]["message"],
            "The request you have made requires authentication."
        );
        assert!(reply.subject_token.is_none());
    }
    // A project the user has no role on is refused the same way.
    let reply = cloud.login("demo", PASSWORD, Some("admin")).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn unscoped_domain_and_system_tokens() {
    let cloud = cloud().await;
    let unscoped = cloud.login("admin", PASSWORD, None).await;
    assert_eq!(unscoped.status, StatusCode::CREATED);
    assert!(unscoped.body["token"].get("roles").is_none());
    assert!(unscoped.body["token"].get("catalog").is_none());
    let unscoped_token = unscoped.subject_token.unwrap();
    // An unscoped token authenticates but authorizes nothing.
    let users = cloud
        .call(Method::GET, "/v3/users", Some(&unscoped_token), None)
        .await;
    assert_eq!(users.status, StatusCode::FORBIDDEN);

    let domain_auth = |token: &str| {
        json!({"auth": {"identity": {"methods": ["token"], "token": {"id": token}},
                        "scope": {"domain": {"id": "default"}}}})
    };
    let refused = cloud
        .call(
            Method::POST,
            "/v3/auth/tokens",
            None,
            Some(domain_auth(&unscoped_token)),
        )
        .await;
    assert_eq!(
        refused.status,
        StatusCode::UNAUTHORIZED,
        "no role on the domain yet"
    );
    let admin = cloud.admin().await;
    let (admin_id, role) = (
        id(&unscoped.body["token"]["user"]),
        cloud.role_id("admin").await,
    );
    let grant = cloud
        .call(
            Method::PUT,
            &format!("/v3/domains/default/users/{admin_id}/roles/{role}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(grant.status, StatusCode::NO_CONTENT);
    let domain = cloud
        .call(
            Method::POST,
            "/v3/auth/tokens",
            None,
            Some(domain_auth(&unscoped_token)),
        )
        .await;
    assert_eq!(domain.status, StatusCode::CREATED, "{}", domain.body);
    assert_eq!(domain.body["token"]["domain"]["name"], "Default");
    assert_eq!(
        domain.body["token"]["methods"],
        json!(["password", "token"])
    );

    let system = cloud
        .call(Method::POST, "/v3/auth/tokens", None, Some(json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {"name": "admin", "domain": {"name": "Default"}, "password": PASSWORD}}},
            "scope": {"system": {"all": true}}}})))
        .await;
    assert_eq!(system.status, StatusCode::CREATED, "{}", system.body);
    assert_eq!(system.body["token"]["system"]["all"], true);
}

#[tokio::test]
async fn tokens_validate_and_revoke() {
    let cloud = cloud().await;
    let admin = cloud.admin().await;
    let demo = cloud.token("demo", PASSWORD, "demo").await;
    // Anyone may validate their own token; only admins another's.
    let own = cloud.about_token(Method::GET, &demo, &demo).await;
    assert_eq!(own.status, StatusCode::OK);
    assert_eq!(own.body["token"]["user"]["name"], "demo");
    assert_eq!(own.subject_token.as_deref(), Some(demo.as_str()));
    let other = cloud.about_token(Method::GET, &demo, &admin).await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);
    let head = cloud.about_token(Method::HEAD, &admin, &demo).await;
    assert_eq!(head.status, StatusCode::OK);

    let revoked = cloud.about_token(Method::DELETE, &admin, &demo).await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    let gone = cloud.about_token(Method::GET, &admin, &demo).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    let used = cloud
        .call(Method::GET, "/v3/auth/projects", Some(&demo), None)
        .await;
    assert_eq!(used.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn forged_and_missing_tokens_are_401() {
    let cloud = cloud().await;
    let admin = cloud.admin().await;
    let mut forged = admin.clone().into_bytes();
    forged[5] = if forged[5] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    for token in [Some(forged.as_str()), Some("garbage"), None] {
        let reply = cloud.call(Method::GET, "/v3/projects", token, None).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(reply.body["error"]["code"], 401);
    }
}

#[tokio::test]
async fn tokens_expire() {
    let cloud = cloud_with_lifetime(chrono::Duration::seconds(1)).await;
    let admin = cloud.admin().await;
    assert_eq!(
        cloud
            .call(Method::GET, "/v3/projects", Some(&admin), None)
            .await
            .status,
        StatusCode::OK
    );
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        cloud
            .call(Method::GET, "/v3/projects", Some(&admin), None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    // Rescoping cannot extend an expired token's life either.
    let rescope = json!({"auth": {"identity": {"methods": ["token"], "token": {"id": admin}}}});
    assert_eq!(
        cloud
            .call(Method::POST, "/v3/auth/tokens", None, Some(rescope))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(cloud.service.purge_expired_tokens().await.unwrap(), 1);
}

#[tokio::test]
async fn disabling_deleting_or_unassigning_revokes_tokens() {
    let cloud = cloud().await;
    let admin = cloud.admin().await;
    let (project, user) = cloud.tenant("kube", "member").await;
    let member = cloud.role_id("member").await;
    let check = |token: String| {
        let cloud = &cloud;
        async move {
            cloud
                .call(Method::GET, "/v3/auth/projects", Some(&token), None)
                .await
                .status
        }
    };

    let token = cloud.token("kube", "pw", "kube").await;
    let grant = format!("/v3/projects/{project}/users/{user}/roles/{member}");
    assert_eq!(
        cloud
            .call(Method::DELETE, &grant, Some(&admin), None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(check(token).await, StatusCode::UNAUTHORIZED, "role removed");
    assert_eq!(
        cloud
            .call(Method::PUT, &grant, Some(&admin), None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );

    let token = cloud.token("kube", "pw", "kube").await;
    let disable = json!({"user": {"enabled": false}});
    let reply = cloud
        .call(
            Method::PATCH,
            &format!("/v3/users/{user}"),
            Some(&admin),
            Some(disable),
        )
        .await;
    assert_eq!(reply.body["user"]["enabled"], false);
    assert_eq!(
        check(token.clone()).await,
        StatusCode::UNAUTHORIZED,
        "user disabled"
    );
    assert_eq!(
        cloud.login("kube", "pw", Some("kube")).await.status,
        StatusCode::UNAUTHORIZED
    );
    let enable = json!({"user": {"enabled": true}});
    cloud
        .call(
            Method::PATCH,
            &format!("/v3/users/{user}"),
            Some(&admin),
            Some(enable),
        )
        .await;
    assert_eq!(
        check(token).await,
        StatusCode::UNAUTHORIZED,
        "re-enabling does not revive revoked tokens"
    );

    let token = cloud.token("kube", "pw", "kube").await;
    assert_eq!(
        cloud
            .call(
                Method::DELETE,
                &format!("/v3/users/{user}"),
                Some(&admin),
                None
            )
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(check(token).await, StatusCode::UNAUTHORIZED, "user deleted");
}

#[tokio::test]
async fn implied_roles_follow_chains_and_refuse_cycles() {
    let cloud = cloud().await;
    let admin = cloud.admin().await;
    let mut ids = Vec::new();
    for name in ["alpha", "beta"] {
        let reply = cloud
            .call(
                Method::POST,
                "/v3/roles",
                Some(&admin),
                Some(json!({"role": {"name": name}})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED);
        ids.push(id(&reply.body["role"]));
    }
    let member = cloud.role_id("member").await;
    let imply = cloud
        .call(
            Method::PUT,
            &format!("/v3/roles/{}/implies/{}", ids[0], ids[1]),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(imply.status, StatusCode::CREATED);
    assert_eq!(imply.body["role_inference"]["implies"]["name"], "beta");
    let imply = cloud
        .call(
            Method::PUT,
            &format!("/v3/roles/{}/implies/{member}", ids[1]),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(imply.status, StatusCode::CREATED);
    let cycle = cloud
        .call(
            Method::PUT,
            &format!("/v3/roles/{member}/implies/{}", ids[0]),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(cycle.status, StatusCode::FORBIDDEN);

    let (_, _) = cloud.tenant("team", "alpha").await;
    let reply = cloud.login("team", "pw", Some("team")).await;
    assert_eq!(
        role_names(&reply.body),
        ["alpha", "beta", "member", "reader"]
    );

    let inferences = cloud
        .call(Method::GET, "/v3/role_inferences", Some(&admin), None)
        .await;
    let priors: Vec<&str> = inferences.body["role_inferences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["prior_role"]["name"].as_str().unwrap())
        .collect();
    assert!(
        priors.contains(&"admin") && priors.contains(&"alpha") && priors.contains(&"beta"),
        "{priors:?}"
    );
}

#[tokio::test]
async fn projects_are_scoped() {
    let cloud = cloud().await;
    let admin = cloud.admin().await;
    cloud.tenant("kube", "member").await;
    let kube = cloud.token("kube", "pw", "kube").await;
    let demo_id = id(&cloud
        .call(Method::GET, "/v3/projects?name=demo", Some(&admin), None)
        .await
        .body["projects"][0]);
    let hidden = cloud
        .call(
            Method::GET,
            &format!("/v3/projects/{demo_id}"),
            Some(&kube),
            None,
        )
        .await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
    // As in Keystone, listing all projects is for administrators; a member
    // lists the projects they hold a role on (`--my-projects`).
    assert_eq!(
        cloud
            .call(Method::GET, "/v3/projects", Some(&kube), None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let listed = cloud
        .call(Method::GET, "/v3/auth/projects", Some(&kube), None)
        .await;
    let names: Vec<&str> = listed.body["projects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["kube"]);
    assert_eq!(
        cloud
            .call(Method::GET, "/v3/users", Some(&kube), None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let create = cloud
        .call(
            Method::POST,
            "/v3/projects",
            Some(&kube),
            Some(json!({"project": {"name": "x"}})),
        )
        .await;
    assert_eq!(create.status, StatusCode::FORBIDDEN);
    assert!(
        create.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("identity:manage_projects")
    );
}

#[tokio::test]
async fn application_credentials_authenticate_with_delegated_roles() {
    let cloud = cloud().await;
    let (project, user) = cloud.tenant("kube", "member").await;
    let kube = cloud.token("kube", "pw", "kube").await;
    let path = format!("/v3/users/{user}/application_credentials");
    let created = cloud
        .call(
            Method::POST,
            &path,
            Some(&kube),
            Some(json!({"application_credential": {"name": "ccm", "roles": [{"name": "reader"}]}})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let credential = &created.body["application_credential"];
    assert_eq!(credential["project_id"], project.as_str());
    let (credential_id, secret) = (
        id(credential),
        credential["secret"].as_str().unwrap().to_owned(),
    );

    let auth = |secret: &str| {
        json!({"auth": {"identity": {"methods": ["application_credential"],
        "application_credential": {"id": credential_id, "secret": secret}}}})
    };
    let token = cloud
        .call(Method::POST, "/v3/auth/tokens", None, Some(auth(&secret)))
        .await;
    assert_eq!(token.status, StatusCode::CREATED, "{}", token.body);
    assert_eq!(
        role_names(&token.body),
        ["reader"],
        "only the delegated role"
    );
    assert_eq!(token.body["token"]["project"]["id"], project.as_str());
    assert_eq!(
        token.body["token"]["application_credential"]["restricted"],
        true
    );
    let by_name = json!({"auth": {"identity": {"methods": ["application_credential"],
        "application_credential": {"name": "ccm", "user": {"name": "kube", "domain": {"id": "default"}}, "secret": secret}}}});
    assert_eq!(
        cloud
            .call(Method::POST, "/v3/auth/tokens", None, Some(by_name))
            .await
            .status,
        StatusCode::CREATED
    );
    assert_eq!(
        cloud
            .call(Method::POST, "/v3/auth/tokens", None, Some(auth("wrong")))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );

    // The listing never shows the secret again; a restricted credential cannot mint more.
    let listed = cloud.call(Method::GET, &path, Some(&kube), None).await;
    assert!(
        listed.body["application_credentials"][0]
            .get("secret")
            .is_none()
    );
    let app_token = token.subject_token.unwrap();
    let minted = cloud
        .call(
            Method::POST,
            &path,
            Some(&app_token),
            Some(json!({"application_credential": {"name": "more"}})),
        )
        .await;
    assert_eq!(minted.status, StatusCode::FORBIDDEN);
    let duplicate = cloud
        .call(
            Method::POST,
            &path,
            Some(&kube),
            Some(json!({"application_credential": {"name": "ccm"}})),
        )
        .await;
    assert_eq!(duplicate.status, StatusCode::CONFLICT);
    let past = cloud
        .call(Method::POST, &path, Some(&kube), Some(json!({"application_credential": {"name": "old", "expires_at": "2001-01-01T00:00:00"}})))
        .await;
    assert_eq!(past.status, StatusCode::BAD_REQUEST);

    let deleted = cloud
        .call(
            Method::DELETE,
            &format!("{path}/{credential_id}"),
            Some(&kube),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(
        cloud
            .call(Method::GET, "/v3/auth/projects", Some(&app_token), None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn users_change_their_own_password() {
    let cloud = cloud().await;
    let (_, user) = cloud.tenant("kube", "member").await;
    let kube = cloud.token("kube", "pw", "kube").await;
    let path = format!("/v3/users/{user}/password");
    let wrong = cloud
        .call(
            Method::POST,
            &path,
            Some(&kube),
            Some(json!({"user": {"password": "new", "original_password": "nope"}})),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let changed = cloud
        .call(
            Method::POST,
            &path,
            Some(&kube),
            Some(json!({"user": {"password": "new", "original_password": "pw"}})),
        )
        .await;
    assert_eq!(changed.status, StatusCode::NO_CONTENT);
    assert_eq!(
        cloud
            .call(Method::GET, "/v3/auth/projects", Some(&kube), None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        cloud.login("kube", "pw", Some("kube")).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        cloud.login("kube", "new", Some("kube")).await.status,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn role_assignment_listing_names_everything() {
    let cloud = cloud().await;
    let admin = cloud.admin().await;
    let (project, user) = cloud.tenant("kube", "member").await;
    let lb = cloud.role_id("load-balancer_member").await;
    cloud
        .call(
            Method::PUT,
            &format!("/v3/projects/{project}/users/{user}/roles/{lb}"),
            Some(&admin),
            None,
        )
        .await;
    let listed = cloud
        .call(
            Method::GET,
            &format!("/v3/role_assignments?include_names=True&user.id={user}"),
            Some(&admin),
            None,
        )
        .await;
    let mut rows: Vec<String> = listed.body["role_assignments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            format!(
                "{}@{} {}@{}",
                a["role"]["name"].as_str().unwrap(),
                "",
                a["user"]["name"].as_str().unwrap(),
                a["scope"]["project"]["name"].as_str().unwrap()
            )
        })
        .collect();
    rows.sort();
    assert_eq!(
        rows,
        ["load-balancer_member@ kube@kube", "member@ kube@kube"]
    );
    let effective = cloud
        .call(
            Method::GET,
            &format!("/v3/role_assignments?effective&user.id={user}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(
        effective.body["role_assignments"].as_array().unwrap().len(),
        3,
        "member implies reader"
    );
}

#[tokio::test]
async fn bad_input_is_a_clear_4xx_that_changes_nothing() {
    let cloud = cloud().await;
    let admin = cloud.admin().await;
    let cases: Vec<(Method, &str, Vec<u8>, StatusCode, &str)> = vec![
        (
            Method::POST,
            "/v3/projects",
            b"{".to_vec(),
            StatusCode::BAD_REQUEST,
            "Malformed JSON",
        ),
        (
            Method::POST,
            "/v3/projects",
            b"".to_vec(),
            StatusCode::BAD_REQUEST,
            "empty",
        ),
        (
            Method::POST,
            "/v3/projects",
            br#"{"project": {"name": 5}}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "project.name",
        ),
        (
            Method::POST,
            "/v3/projects",
            br#"{"project": {"name": "p", "enabled": "yes"}}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "project.enabled",
        ),
        (
            Method::POST,
            "/v3/projects",
            br#"{"projet": {"name": "p"}}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "'project' member",
        ),
        (
            Method::POST,
            "/v3/projects",
            br#"{"project": {"name": ""}}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "project.name",
        ),
        (
            Method::POST,
            "/v3/users",
            br#"{"user": {"name": "u", "default_project_id": "nope"}}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "default_project_id",
        ),
        (
            Method::POST,
            "/v3/users",
            br#"{"user": {"name": "admin"}}"#.to_vec(),
            StatusCode::CONFLICT,
            "Duplicate",
        ),
        (
            Method::POST,
            "/v3/roles",
            br#"{"role": {"name": "admin"}}"#.to_vec(),
            StatusCode::CONFLICT,
            "Duplicate",
        ),
        (
            Method::POST,
            "/v3/groups",
            br#"{"group": {}}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "name",
        ),
        (
            Method::POST,
            "/v3/domains",
            br#"{"domain": {"name": ["x"]}}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "domain.name",
        ),
        (
            Method::PATCH,
            "/v3/projects/nope",
            br#"{"project": {"name": "x"}}"#.to_vec(),
            StatusCode::NOT_FOUND,
            "Could not find project: nope.",
        ),
        (
            Method::PATCH,
            "/v3/users/nope",
            br#"{"user": {"enabled": 1}}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "user.enabled",
        ),
        (
            Method::GET,
            "/v3/users/nope",
            Vec::new(),
            StatusCode::NOT_FOUND,
            "Could not find user",
        ),
        (
            Method::GET,
            "/v3/projects?enabled=maybe",
            Vec::new(),
            StatusCode::BAD_REQUEST,
            "enabled",
        ),
        (
            Method::PUT,
            "/v3/projects/nope/users/nope/roles/nope",
            Vec::new(),
            StatusCode::NOT_FOUND,
            "Could not find project",
        ),
        (
            Method::DELETE,
            "/v3/domains/default",
            Vec::new(),
            StatusCode::FORBIDDEN,
            "default domain",
        ),
        (
            Method::GET,
            "/v3/no-such-thing",
            Vec::new(),
            StatusCode::NOT_FOUND,
            "could not be found",
        ),
        (
            Method::PUT,
            "/v3/projects",
            Vec::new(),
            StatusCode::METHOD_NOT_ALLOWED,
            "Method Not Allowed",
        ),
        (
            Method::POST,
            "/v3/auth/tokens",
            br#"{"auth": {"identity": {"methods": []}}}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "methods",
        ),
        (
            Method::POST,
            "/v3/auth/tokens",
            br#"{"auth": {"identity": {"methods": ["password"]}}}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "password",
        ),
        (
            Method::POST,
            "/v3/auth/tokens",
            br#"{"auth": {"identity": {"methods": ["totp"]}}}"#.to_vec(),
            StatusCode::UNAUTHORIZED,
            "unsupported",
        ),
        (
            Method::POST,
            "/v3/auth/tokens",
            vec![b' '; 2 * 1024 * 1024],
            StatusCode::PAYLOAD_TOO_LARGE,
            "",
        ),
    ];
    let before = cloud
        .call(Method::GET, "/v3/projects", Some(&admin), None)
        .await
        .body["projects"]
        .as_array()
        .unwrap()
        .len();
    for (method, uri, body, status, needle) in cases {
        let reply = cloud
            .raw(method.clone(), uri, Some(&admin), body, &[])
            .await;
        assert_eq!(reply.status, status, "{method} {uri}: {}", reply.body);
        let message = reply.body["error"]["message"]
            .as_str()
            .unwrap_or_else(|| panic!("{method} {uri}: {}", reply.body));
        assert!(message.contains(needle), "{method} {uri}: {message}");
        assert_eq!(reply.body["error"]["code"], status.as_u16());
    }
    let after = cloud
        .call(Method::GET, "/v3/projects", Some(&admin), None)
        .await
        .body["projects"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(before, after);
}

#[tokio::test]
async fn state_survives_reopening_and_bootstrap_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("identity.db");
    let boot = |db: Db| {
        db.migrate("identity", oxistack_identity::MIGRATIONS)
            .unwrap();
        let service = IdentityService::new(db, chrono::Duration::hours(1));
        let report = service
            .bootstrap(&Bootstrap {
                admin_password: PASSWORD,
                region: "RegionOne",
                services: &[],
            })
            .unwrap();
        (service, report)
    };
    let (first, report) = boot(Db::open(&path).unwrap());
    assert!(report.created_users);
    let router = oxistack_identity::router(first.clone());
    let cloud = Cloud {
        router,
        service: first,
        _dir: tempfile::tempdir().unwrap(),
    };
    cloud.tenant("kube", "member").await;
    let token = cloud.token("kube", "pw", "kube").await;
    drop(cloud);

    let (second, report) = boot(Db::open(&path).unwrap());
    assert!(!report.created_users);
    let cloud = Cloud {
        router: oxistack_identity::router(second.clone()),
        service: second,
        _dir: dir,
    };
    assert_eq!(
        cloud
            .call(Method::GET, "/v3/auth/projects", Some(&token), None)
            .await
            .status,
        StatusCode::OK
    );
    let admin = cloud.admin().await;
    let users = cloud
        .call(Method::GET, "/v3/users", Some(&admin), None)
        .await;
    assert_eq!(
        users.body["users"].as_array().unwrap().len(),
        3,
        "admin, demo, kube: nothing duplicated"
    );
}

#[tokio::test]
async fn group_roles_reach_members_until_they_leave() {
    let cloud = cloud().await;
    let admin = cloud.admin().await;
    let project = cloud
        .create_id(&admin, "project", json!({"name": "team"}))
        .await;
    let user = cloud
        .create_id(&admin, "user", json!({"name": "ann", "password": "pw"}))
        .await;
    let group = cloud
        .call(
            Method::POST,
            "/v3/groups",
            Some(&admin),
            Some(json!({"group": {"name": "devs"}})),
        )
        .await;
    assert_eq!(group.status, StatusCode::CREATED);
    let group = id(&group.body["group"]);
    let member = cloud.role_id("member").await;
    let grant = format!("/v3/projects/{project}/groups/{group}/roles/{member}");
    assert_eq!(
        cloud
            .call(Method::PUT, &grant, Some(&admin), None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        cloud.login("ann", "pw", Some("team")).await.status,
        StatusCode::UNAUTHORIZED,
        "not a member yet"
    );

    let membership = format!("/v3/groups/{group}/users/{user}");
    assert_eq!(
        cloud
            .call(Method::PUT, &membership, Some(&admin), None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        cloud
            .call(Method::HEAD, &membership, Some(&admin), None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let reply = cloud.login("ann", "pw", Some("team")).await;
    assert_eq!(role_names(&reply.body), ["member", "reader"]);
    let token = reply.subject_token.unwrap();
    let members = cloud
        .call(
            Method::GET,
            &format!("/v3/groups/{group}/users"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(members.body["users"][0]["name"], "ann");
    let effective = cloud
        .call(
            Method::GET,
            &format!("/v3/role_assignments?effective&user.id={user}"),
            Some(&admin),
            None,
        )
        .await;
    let links = &effective.body["role_assignments"][0]["links"];
    assert!(
        links["membership"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/groups/{group}/users/{user}")),
        "{links}"
    );

    assert_eq!(
        cloud
            .call(Method::DELETE, &membership, Some(&admin), None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        cloud
            .call(Method::GET, "/v3/auth/projects", Some(&token), None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        cloud
            .call(Method::HEAD, &membership, Some(&admin), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}
