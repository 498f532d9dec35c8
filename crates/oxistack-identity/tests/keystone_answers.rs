//! Answers that Tempest's identity tests expect as Keystone gives them:
//! status codes, fields and formats where oxistack once differed.

mod support;

use axum::http::{Method, StatusCode};
use serde_json::json;

use support::*;

/// What a domain holds: (collection, envelope key).
const DOMAIN_MEMBERS: [(&str, &str); 3] = [
    ("/v3/users", "user"),
    ("/v3/groups", "group"),
    ("/v3/projects", "project"),
];

/// Creates a user, group or project named "x" in `domain`.
async fn create_in_domain(
    cloud: &Cloud,
    admin: &str,
    path: &str,
    kind: &str,
    domain: &str,
) -> Reply {
    let body = json!({kind: {"name": "x", "domain_id": domain, "password": "pw"}});
    cloud
        .call(Method::POST, path, Some(admin), Some(body))
        .await
}

#[tokio::test]
async fn users_keep_the_attributes_keystone_does_not_define() {
    let cloud = cloud().await;
    let admin = cloud.admin().await;
    let created = cloud
        .call(
            Method::POST,
            "/v3/users",
            Some(&admin),
            Some(json!({"user": {"name": "ann", "project_id": "p1", "team": {"size": 3}}})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["user"]["project_id"], "p1");
    let path = format!("/v3/users/{}", id(&created.body["user"]));
    let updated = cloud
        .call(
            Method::PATCH,
            &path,
            Some(&admin),
            Some(json!({"user": {"project_id": "p2", "enabled": false}})),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.body);
    let shown = cloud.call(Method::GET, &path, Some(&admin), None).await;
    assert_eq!(shown.body["user"]["project_id"], "p2");
    assert_eq!(shown.body["user"]["team"], json!({"size": 3}));
    assert_eq!(shown.body["user"]["enabled"], false);
    // What Keystone owns is not an attribute a client sets.
    let owned = cloud
        .call(
            Method::PATCH,
            &path,
            Some(&admin),
            Some(json!({"user": {"id": "forged", "links": {}}})),
        )
        .await;
    assert_eq!(owned.body["user"]["id"], id(&created.body["user"]));
}

#[tokio::test]
async fn a_missing_domain_is_keystones_404() {
    let cloud = cloud().await;
    let admin = cloud.admin().await;
    for (path, kind) in DOMAIN_MEMBERS {
        let reply = create_in_domain(&cloud, &admin, path, kind, "nowhere").await;
        assert_eq!(
            reply.status,
            StatusCode::NOT_FOUND,
            "{path}: {}",
            reply.body
        );
        assert_eq!(
            reply.body["error"]["message"],
            "Could not find domain: nowhere."
        );
    }
}

#[tokio::test]
async fn the_original_password_is_what_allows_changing_it() {
    let cloud = cloud().await;
    let admin = cloud.admin().await;
    let (_, user) = cloud.tenant("kube", "member").await;
    let path = format!("/v3/users/{user}/password");
    let changed = cloud
        .call(
            Method::POST,
            &path,
            Some(&admin),
            Some(json!({"user": {"password": "new", "original_password": "pw"}})),
        )
        .await;
    assert_eq!(changed.status, StatusCode::NO_CONTENT, "{}", changed.body);
    assert_eq!(
        cloud.login("kube", "new", Some("kube")).await.status,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn users_may_check_and_revoke_any_of_their_own_tokens() {
    let cloud = cloud().await;
    let first = cloud.token("demo", PASSWORD, "demo").await;
    let second = cloud.token("demo", PASSWORD, "demo").await;
    for method in [Method::HEAD, Method::GET] {
        let reply = cloud.about_token(method.clone(), &first, &second).await;
        assert_eq!(reply.status, StatusCode::OK, "{method}");
    }
    let revoked = cloud.about_token(Method::DELETE, &first, &second).await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    let gone = cloud.about_token(Method::GET, &first, &second).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    // Another user's token stays the administrators' business.
    let admin = cloud.admin().await;
    let other = cloud.about_token(Method::DELETE, &first, &admin).await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn application_credential_expiry_is_naive_utc_as_keystone_writes_it() {
    let cloud = cloud().await;
    let admin = cloud.admin().await;
    let users = cloud
        .call(Method::GET, "/v3/users?name=admin", Some(&admin), None)
        .await;
    let admin_id = id(&users.body["users"][0]);
    let expires = (chrono::Utc::now() + chrono::Duration::hours(1))
        .naive_utc()
        .format("%Y-%m-%dT%H:%M:%S%.6f")
        .to_string();
    let created = cloud
        .call(
            Method::POST,
            &format!("/v3/users/{admin_id}/application_credentials"),
            Some(&admin),
            Some(json!({"application_credential": {"name": "ci", "expires_at": expires}})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(
        created.body["application_credential"]["expires_at"],
        expires
    );
}

#[tokio::test]
async fn checking_an_implied_role_is_204_and_showing_it_200() {
    let cloud = cloud().await;
    let admin = cloud.admin().await;
    let (prior, implied) = (cloud.role_id("admin").await, cloud.role_id("manager").await);
    let path = format!("/v3/roles/{prior}/implies/{implied}");
    let check = cloud.call(Method::HEAD, &path, Some(&admin), None).await;
    assert_eq!(check.status, StatusCode::NO_CONTENT);
    let show = cloud.call(Method::GET, &path, Some(&admin), None).await;
    assert_eq!(show.status, StatusCode::OK);
    assert_eq!(
        show.body["role_inference"]["implies"]["id"],
        implied.as_str()
    );
    let reader = cloud.role_id("reader").await;
    let missing = format!("/v3/roles/{prior}/implies/{reader}");
    let absent = cloud.call(Method::HEAD, &missing, Some(&admin), None).await;
    assert_eq!(absent.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn deleting_a_disabled_domain_deletes_what_it_holds() {
    let cloud = cloud().await;
    let admin = cloud.admin().await;
    let domain = cloud
        .create_id(&admin, "domain", json!({"name": "gone"}))
        .await;
    let mut held = Vec::new();
    for (path, kind) in DOMAIN_MEMBERS {
        let reply = create_in_domain(&cloud, &admin, path, kind, &domain).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{path}: {}", reply.body);
        held.push(format!("{path}/{}", id(&reply.body[kind])));
    }
    let domain_path = format!("/v3/domains/{domain}");
    let enabled = cloud
        .call(Method::DELETE, &domain_path, Some(&admin), None)
        .await;
    assert_eq!(
        enabled.status,
        StatusCode::FORBIDDEN,
        "enabled domains stay"
    );
    cloud
        .call(
            Method::PATCH,
            &domain_path,
            Some(&admin),
            Some(json!({"domain": {"enabled": false}})),
        )
        .await;
    let deleted = cloud
        .call(Method::DELETE, &domain_path, Some(&admin), None)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    for path in held.iter().chain([&domain_path]) {
        let reply = cloud.call(Method::GET, path, Some(&admin), None).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
    }
}
