//! Garbage that Keystone's schemas refuse must be a 400 here too, in
//! Keystone's error format, and change nothing: `null` where a value is
//! required, passwords over Keystone's maximum length, control characters
//! in names.

mod support;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use support::*;

/// Keystone's default `[identity] max_password_length`, in bytes.
const MAX_PASSWORD_BYTES: usize = 4096;

/// Entities that refused updates aim at, created before any refusal.
struct Targets {
    admin: String,
    admin_id: String,
    user: String,
    user_token: String,
    project: String,
    domain: String,
    group: String,
    role: String,
}

async fn targets(cloud: &Cloud) -> Targets {
    let admin = cloud.admin().await;
    let (project, user) = cloud.tenant("target", "member").await;
    let user_token = cloud.token("target", "pw", "target").await;
    let mut created = Vec::new();
    for (kind, body) in [
        ("domains", json!({"domain": {"name": "target-domain"}})),
        ("groups", json!({"group": {"name": "target-group"}})),
        ("roles", json!({"role": {"name": "target-role"}})),
    ] {
        let reply = cloud
            .call(
                Method::POST,
                &format!("/v3/{kind}"),
                Some(&admin),
                Some(body),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{kind}: {}", reply.body);
        let key = kind.trim_end_matches('s');
        created.push(id(&reply.body[key]));
    }
    let admin_id = {
        let users = cloud
            .call(Method::GET, "/v3/users?name=admin", Some(&admin), None)
            .await;
        id(&users.body["users"][0])
    };
    let [domain, group, role] = <[String; 3]>::try_from(created).unwrap();
    Targets {
        admin,
        admin_id,
        user,
        user_token,
        project,
        domain,
        group,
        role,
    }
}

/// Everything a refused request could have changed, as the API shows it.
async fn state(cloud: &Cloud, t: &Targets) -> Vec<Value> {
    let mut documents = Vec::new();
    for path in [
        "/v3/users".to_owned(),
        "/v3/projects".to_owned(),
        "/v3/domains".to_owned(),
        "/v3/groups".to_owned(),
        "/v3/roles".to_owned(),
        "/v3/role_assignments".to_owned(),
        format!("/v3/users/{}/application_credentials", t.admin_id),
        format!("/v3/groups/{}/users", t.group),
    ] {
        let reply = cloud.call(Method::GET, &path, Some(&t.admin), None).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.body);
        documents.push(reply.body);
    }
    documents
}

/// Sends each `(method, path, token, body, field)` and expects a 400 in
/// Keystone's format whose message names `field`; then checks that nothing
/// changed and that the target user's token (which a password change or a
/// disabling would revoke) still works.
async fn assert_refused(
    cloud: &Cloud,
    t: &Targets,
    cases: Vec<(Method, String, &str, Value, &str)>,
) {
    let before = state(cloud, t).await;
    for (method, path, token, body, field) in cases {
        let reply = cloud
            .call(method.clone(), &path, Some(token), Some(body.clone()))
            .await;
        let shown: String = body.to_string().chars().take(200).collect();
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{method} {path} {shown}: {}",
            reply.body
        );
        let error = &reply.body["error"];
        assert_eq!(error["code"], 400, "{method} {path}: {}", reply.body);
        assert_eq!(error["title"], "Bad Request", "{method} {path}");
        let message = error["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(field),
            "{method} {path} {shown}: {message:?} should name {field}"
        );
    }
    assert_eq!(
        state(cloud, t).await,
        before,
        "a refused request changed something"
    );
    let still_valid = cloud
        .call(Method::GET, "/v3/auth/projects", Some(&t.user_token), None)
        .await;
    assert_eq!(
        still_valid.status,
        StatusCode::OK,
        "the user's token was revoked"
    );
}

#[tokio::test]
async fn enabled_null_is_refused() {
    let cloud = cloud().await;
    let t = targets(&cloud).await;
    let admin = t.admin.as_str();
    let cases = vec![
        (
            Method::POST,
            "/v3/users".into(),
            admin,
            json!({"user": {"name": "n1", "enabled": null}}),
            "user.enabled",
        ),
        (
            Method::POST,
            "/v3/projects".into(),
            admin,
            json!({"project": {"name": "n1", "enabled": null}}),
            "project.enabled",
        ),
        (
            Method::POST,
            "/v3/domains".into(),
            admin,
            json!({"domain": {"name": "n1", "enabled": null}}),
            "domain.enabled",
        ),
        (
            Method::PATCH,
            format!("/v3/users/{}", t.user),
            admin,
            json!({"user": {"enabled": null}}),
            "user.enabled",
        ),
        (
            Method::PATCH,
            format!("/v3/projects/{}", t.project),
            admin,
            json!({"project": {"enabled": null}}),
            "project.enabled",
        ),
        (
            Method::PATCH,
            format!("/v3/domains/{}", t.domain),
            admin,
            json!({"domain": {"enabled": null}}),
            "domain.enabled",
        ),
    ];
    assert_refused(&cloud, &t, cases).await;
}

#[tokio::test]
async fn passwords_over_keystones_maximum_length_are_refused() {
    let cloud = cloud().await;
    let t = targets(&cloud).await;
    let admin = t.admin.as_str();
    let huge = "p".repeat(100 * 1024);
    // Keystone counts bytes: 2,049 two-byte characters are 4,098 bytes.
    let wide = "é".repeat(MAX_PASSWORD_BYTES / 2 + 1);
    let cases = vec![
        (
            Method::POST,
            "/v3/users".into(),
            admin,
            json!({"user": {"name": "n1", "password": huge}}),
            "4096",
        ),
        (
            Method::POST,
            "/v3/users".into(),
            admin,
            json!({"user": {"name": "n1", "password": wide}}),
            "4096",
        ),
        (
            Method::PATCH,
            format!("/v3/users/{}", t.user),
            admin,
            json!({"user": {"password": huge}}),
            "4096",
        ),
        (
            Method::POST,
            format!("/v3/users/{}/password", t.user),
            t.user_token.as_str(),
            json!({"user": {"original_password": "pw", "password": huge}}),
            "4096",
        ),
        (
            Method::POST,
            format!("/v3/users/{}/application_credentials", t.admin_id),
            admin,
            json!({"application_credential": {"name": "n1", "secret": huge}}),
            "4096",
        ),
    ];
    assert_refused(&cloud, &t, cases).await;

    // The maximum itself is a valid password.
    let longest = "p".repeat(MAX_PASSWORD_BYTES);
    let created = cloud
        .call(
            Method::POST,
            "/v3/users",
            Some(admin),
            Some(json!({"user": {"name": "longest", "password": longest}})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let login = cloud.login("longest", &longest, None).await;
    assert_eq!(login.status, StatusCode::CREATED, "{}", login.body);
}

#[tokio::test]
async fn control_characters_in_names_are_refused() {
    let cloud = cloud().await;
    let t = targets(&cloud).await;
    let admin = t.admin.as_str();
    let mut cases = Vec::new();
    for bad in [
        "nul\u{0}name",
        "line\nbreak",
        "\u{1b}[31mred",
        "del\u{7f}",
        "c1\u{85}",
    ] {
        cases.extend([
            (
                Method::POST,
                "/v3/users".to_owned(),
                admin,
                json!({"user": {"name": bad}}),
                "user.name",
            ),
            (
                Method::POST,
                "/v3/projects".to_owned(),
                admin,
                json!({"project": {"name": bad}}),
                "project.name",
            ),
            (
                Method::POST,
                "/v3/domains".to_owned(),
                admin,
                json!({"domain": {"name": bad}}),
                "domain.name",
            ),
            (
                Method::POST,
                "/v3/groups".to_owned(),
                admin,
                json!({"group": {"name": bad}}),
                "group.name",
            ),
            (
                Method::POST,
                "/v3/roles".to_owned(),
                admin,
                json!({"role": {"name": bad}}),
                "role.name",
            ),
            (
                Method::PATCH,
                format!("/v3/users/{}", t.user),
                admin,
                json!({"user": {"name": bad}}),
                "user.name",
            ),
            (
                Method::PATCH,
                format!("/v3/projects/{}", t.project),
                admin,
                json!({"project": {"name": bad}}),
                "project.name",
            ),
            (
                Method::PATCH,
                format!("/v3/domains/{}", t.domain),
                admin,
                json!({"domain": {"name": bad}}),
                "domain.name",
            ),
            (
                Method::PATCH,
                format!("/v3/groups/{}", t.group),
                admin,
                json!({"group": {"name": bad}}),
                "group.name",
            ),
            (
                Method::PATCH,
                format!("/v3/roles/{}", t.role),
                admin,
                json!({"role": {"name": bad}}),
                "role.name",
            ),
            (
                Method::POST,
                format!("/v3/users/{}/application_credentials", t.admin_id),
                admin,
                json!({"application_credential": {"name": bad}}),
                "application_credential.name",
            ),
            (
                Method::POST,
                "/v3/projects".to_owned(),
                admin,
                json!({"project": {"name": "n1", "tags": [bad]}}),
                "project.tags",
            ),
        ]);
    }
    assert_refused(&cloud, &t, cases).await;
}

#[tokio::test]
async fn other_nulls_where_keystone_requires_a_value_are_refused() {
    let cloud = cloud().await;
    let t = targets(&cloud).await;
    let admin = t.admin.as_str();
    let cases = vec![
        // A rename to null is not "no rename".
        (
            Method::PATCH,
            format!("/v3/users/{}", t.user),
            admin,
            json!({"user": {"name": null}}),
            "user.name",
        ),
        (
            Method::PATCH,
            format!("/v3/projects/{}", t.project),
            admin,
            json!({"project": {"name": null}}),
            "project.name",
        ),
        (
            Method::PATCH,
            format!("/v3/domains/{}", t.domain),
            admin,
            json!({"domain": {"name": null}}),
            "domain.name",
        ),
        (
            Method::PATCH,
            format!("/v3/groups/{}", t.group),
            admin,
            json!({"group": {"name": null}}),
            "group.name",
        ),
        (
            Method::PATCH,
            format!("/v3/roles/{}", t.role),
            admin,
            json!({"role": {"name": null}}),
            "role.name",
        ),
        // Users and groups must name their domain if they name one at all
        // (projects may say null: Keystone's schema allows it there).
        (
            Method::POST,
            "/v3/users".into(),
            admin,
            json!({"user": {"name": "n1", "domain_id": null}}),
            "user.domain_id",
        ),
        (
            Method::POST,
            "/v3/groups".into(),
            admin,
            json!({"group": {"name": "n1", "domain_id": null}}),
            "group.domain_id",
        ),
        // Tags are a list.
        (
            Method::POST,
            "/v3/projects".into(),
            admin,
            json!({"project": {"name": "n1", "tags": null}}),
            "project.tags",
        ),
        (
            Method::PATCH,
            format!("/v3/projects/{}", t.project),
            admin,
            json!({"project": {"tags": null}}),
            "project.tags",
        ),
        (
            Method::POST,
            format!("/v3/users/{}/application_credentials", t.admin_id),
            admin,
            json!({"application_credential": {"name": "n1", "roles": null}}),
            "application_credential.roles",
        ),
        (
            Method::POST,
            format!("/v3/users/{}/application_credentials", t.admin_id),
            admin,
            json!({"application_credential": {"name": "n1", "access_rules": null}}),
            "application_credential.access_rules",
        ),
        // An update must change something (Keystone: minProperties 1).
        (
            Method::PATCH,
            format!("/v3/projects/{}", t.project),
            admin,
            json!({"project": {}}),
            "project",
        ),
        (
            Method::PATCH,
            format!("/v3/users/{}", t.user),
            admin,
            json!({"user": {}}),
            "user",
        ),
    ];
    assert_refused(&cloud, &t, cases).await;

    // Authentication requests: a null credential or scope is no credential
    // or scope, and a token must not be issued for it.
    for (auth, field) in [
        (
            json!({"identity": {"methods": ["password"], "password": {"user": {
                "id": null, "name": "admin", "domain": {"id": "default"}, "password": PASSWORD}}}}),
            "auth.identity.password.user.id",
        ),
        (
            json!({"identity": {"methods": ["password"], "password": {"user": {
                "name": "admin", "domain": {"id": "default"}, "password": PASSWORD}}},
                "scope": null}),
            "auth.scope",
        ),
    ] {
        let reply = cloud
            .call(
                Method::POST,
                "/v3/auth/tokens",
                None,
                Some(json!({"auth": auth})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
        assert!(reply.subject_token.is_none());
        let message = reply.body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(field), "{message:?} should name {field}");
    }
}

#[tokio::test]
async fn names_and_tags_follow_keystones_limits() {
    let cloud = cloud().await;
    let t = targets(&cloud).await;
    let admin = t.admin.as_str();
    let long = "n".repeat(65);
    let cases = vec![
        // Project and domain names are at most 64 characters in Keystone.
        (
            Method::POST,
            "/v3/projects".into(),
            admin,
            json!({"project": {"name": long}}),
            "project.name",
        ),
        (
            Method::POST,
            "/v3/domains".into(),
            admin,
            json!({"domain": {"name": long}}),
            "domain.name",
        ),
        // Tags: no ',' or '/', 1 to 255 characters, at most 80, no repeats.
        (
            Method::POST,
            "/v3/projects".into(),
            admin,
            json!({"project": {"name": "n1", "tags": ["a,b"]}}),
            "project.tags",
        ),
        (
            Method::POST,
            "/v3/projects".into(),
            admin,
            json!({"project": {"name": "n1", "tags": ["a/b"]}}),
            "project.tags",
        ),
        (
            Method::POST,
            "/v3/projects".into(),
            admin,
            json!({"project": {"name": "n1", "tags": [""]}}),
            "project.tags",
        ),
        (
            Method::POST,
            "/v3/projects".into(),
            admin,
            json!({"project": {"name": "n1", "tags": ["x", "x"]}}),
            "project.tags",
        ),
        (
            Method::PATCH,
            format!("/v3/projects/{}", t.project),
            admin,
            json!({"project": {"tags": (0..81).map(|n| n.to_string()).collect::<Vec<_>>()}}),
            "project.tags",
        ),
    ];
    assert_refused(&cloud, &t, cases).await;
    let longest = "n".repeat(64);
    let created = cloud
        .call(
            Method::POST,
            "/v3/projects",
            Some(admin),
            Some(json!({"project": {"name": longest, "tags": ["k8s", "env:prod"]}})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
}
