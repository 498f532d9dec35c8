//! Keystone v3 wire types: request bodies as clients send them, which are
//! also the typed requests the service takes (they map one to one), and
//! entities as the API reference shows them.

use oxistack_http::field::{not_null, nullable};
use oxistack_http::{ApiError, envelope};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::model::{Domain, Group, Project, Role, User};

#[derive(Serialize)]
pub struct SelfLink {
    #[serde(rename = "self")]
    pub self_: String,
}

impl SelfLink {
    /// The link to `id` in `collection` under the versioned root `v3`.
    pub fn to(v3: &str, collection: &str, id: &str) -> SelfLink {
        SelfLink {
            self_: format!("{v3}/{collection}/{id}"),
        }
    }
}

/// The `links` of a collection. Keystone lists are not paginated.
#[derive(Serialize)]
pub struct CollectionLinks {
    #[serde(rename = "self")]
    pub self_: String,
    pub previous: Option<String>,
    pub next: Option<String>,
}

/// `{"<key>": [items], "links": {...}}`
pub fn collection<T: Serialize>(key: &str, items: Vec<T>, self_url: String) -> Value {
    let mut map = Map::new();
    map.insert(
        key.to_owned(),
        serde_json::to_value(items).unwrap_or_default(),
    );
    map.insert(
        "links".to_owned(),
        serde_json::to_value(CollectionLinks {
            self_: self_url,
            previous: None,
            next: None,
        })
        .unwrap_or_default(),
    );
    Value::Object(map)
}

/// `{"<key>": item}`
pub fn member<T: Serialize>(key: &str, item: T) -> Value {
    let mut map = Map::new();
    map.insert(
        key.to_owned(),
        serde_json::to_value(item).unwrap_or_default(),
    );
    Value::Object(map)
}

#[derive(Serialize)]
pub struct DomainView {
    pub id: String,
    pub name: String,
    pub description: String,
    pub enabled: bool,
    pub tags: Vec<String>,
    pub options: Map<String, Value>,
    pub links: SelfLink,
}

impl DomainView {
    pub fn new(d: Domain, v3: &str) -> Self {
        DomainView {
            links: SelfLink::to(v3, "domains", &d.id),
            id: d.id,
            name: d.name,
            description: d.description,
            enabled: d.enabled,
            tags: Vec::new(),
            options: Map::new(),
        }
    }
}

#[derive(Serialize)]
pub struct ProjectView {
    pub id: String,
    pub name: String,
    pub domain_id: String,
    pub description: String,
    pub enabled: bool,
    /// Top-level projects have their domain as parent, as in Keystone.
    pub parent_id: String,
    pub is_domain: bool,
    pub tags: Vec<String>,
    pub options: Map<String, Value>,
    pub links: SelfLink,
}

impl ProjectView {
    pub fn new(p: Project, v3: &str) -> Self {
        ProjectView {
            links: SelfLink::to(v3, "projects", &p.id),
            id: p.id,
            name: p.name,
            parent_id: p.domain_id.clone(),
            domain_id: p.domain_id,
            description: p.description,
            enabled: p.enabled,
            is_domain: false,
            tags: p.tags,
            options: Map::new(),
        }
    }
}

#[derive(Serialize)]
pub struct UserView {
    pub id: String,
    pub name: String,
    pub domain_id: String,
    pub enabled: bool,
    pub password_expires_at: Option<String>,
    pub options: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_project_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub links: SelfLink,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl UserView {
    pub fn new(u: User, v3: &str) -> Self {
        UserView {
            links: SelfLink::to(v3, "users", &u.id),
            id: u.id,
            name: u.name,
            domain_id: u.domain_id,
            enabled: u.enabled,
            password_expires_at: None,
            options: Map::new(),
            default_project_id: u.default_project_id,
            description: u.description,
            email: u.email,
            extra: u.extra,
        }
    }
}

#[derive(Serialize)]
pub struct GroupView {
    pub id: String,
    pub name: String,
    pub domain_id: String,
    pub description: String,
    pub links: SelfLink,
}

impl GroupView {
    pub fn new(g: Group, v3: &str) -> Self {
        GroupView {
            links: SelfLink::to(v3, "groups", &g.id),
            id: g.id,
            name: g.name,
            domain_id: g.domain_id,
            description: g.description,
        }
    }
}

#[derive(Serialize)]
pub struct RoleView {
    pub id: String,
    pub name: String,
    pub domain_id: Option<String>,
    pub description: String,
    pub options: Map<String, Value>,
    pub links: SelfLink,
}

impl RoleView {
    pub fn new(r: Role, v3: &str) -> Self {
        RoleView {
            links: SelfLink::to(v3, "roles", &r.id),
            id: r.id,
            name: r.name,
            domain_id: None,
            description: r.description,
            options: Map::new(),
        }
    }
}

// ---- requests -------------------------------------------------------------

/// Takes an update request out of its envelope, refusing one that changes
/// nothing, as Keystone's `minProperties: 1` does.
pub fn update_envelope<T: DeserializeOwned>(body: Value, key: &str) -> Result<T, ApiError> {
    if body
        .get(key)
        .and_then(Value::as_object)
        .is_some_and(Map::is_empty)
    {
        return Err(ApiError::bad_request(format!(
            "Invalid input for field '{key}': {{}} does not have enough properties."
        )));
    }
    envelope(body, key)
}

#[derive(Deserialize)]
pub struct DomainCreate {
    pub name: String,
    pub description: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub enabled: Option<bool>,
}

#[derive(Deserialize)]
pub struct DomainUpdate {
    #[serde(default, deserialize_with = "not_null")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "not_null")]
    pub enabled: Option<bool>,
}

#[derive(Deserialize)]
pub struct ProjectCreate {
    pub name: String,
    pub domain_id: Option<String>,
    pub parent_id: Option<String>,
    pub description: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub is_domain: bool,
    #[serde(default, deserialize_with = "not_null")]
    pub tags: Option<Vec<String>>,
}

#[derive(Deserialize)]
pub struct ProjectUpdate {
    #[serde(default, deserialize_with = "not_null")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "not_null")]
    pub enabled: Option<bool>,
    #[serde(default, deserialize_with = "not_null")]
    pub tags: Option<Vec<String>>,
}

#[derive(Deserialize)]
pub struct UserCreate {
    pub name: String,
    #[serde(default, deserialize_with = "not_null")]
    pub domain_id: Option<String>,
    pub password: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub enabled: Option<bool>,
    pub default_project_id: Option<String>,
    pub description: Option<String>,
    pub email: Option<String>,
    /// Any other attributes: Keystone keeps them with the user.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Deserialize)]
pub struct UserUpdate {
    #[serde(default, deserialize_with = "not_null")]
    pub name: Option<String>,
    pub password: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub enabled: Option<bool>,
    #[serde(default, deserialize_with = "nullable")]
    pub default_project_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub email: Option<Option<String>>,
    /// Any other attributes: Keystone keeps them with the user.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Deserialize)]
pub struct PasswordChange {
    pub password: String,
    pub original_password: String,
}

#[derive(Deserialize)]
pub struct GroupCreate {
    pub name: String,
    #[serde(default, deserialize_with = "not_null")]
    pub domain_id: Option<String>,
    pub description: Option<String>,
}

#[derive(Deserialize)]
pub struct GroupUpdate {
    #[serde(default, deserialize_with = "not_null")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub description: Option<Option<String>>,
}

#[derive(Deserialize)]
pub struct RoleCreate {
    pub name: String,
    pub description: Option<String>,
    /// Domain-specific roles are not supported; only null is accepted.
    pub domain_id: Option<String>,
}

#[derive(Deserialize)]
pub struct RoleUpdate {
    #[serde(default, deserialize_with = "not_null")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub description: Option<Option<String>>,
}

/// `{"id": ...}` or `{"name": ...}`, as roles are referenced in requests.
#[derive(Deserialize)]
pub struct RoleIdentifier {
    #[serde(default, deserialize_with = "not_null")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub name: Option<String>,
}

#[derive(Deserialize)]
pub struct AppCredentialCreate {
    pub name: String,
    pub secret: Option<String>,
    pub description: Option<String>,
    pub expires_at: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub roles: Option<Vec<RoleIdentifier>>,
    /// Keystone's schema allows `null`, meaning false.
    pub unrestricted: Option<bool>,
    /// Access rules are accepted only when empty: they are not enforced.
    #[serde(default, deserialize_with = "not_null")]
    pub access_rules: Option<Vec<Value>>,
}

// ---- authentication requests ---------------------------------------------

#[derive(Deserialize)]
pub struct Auth {
    pub identity: AuthIdentity,
    #[serde(default, deserialize_with = "not_null")]
    pub scope: Option<ScopeBody>,
}

#[derive(Deserialize)]
pub struct AuthIdentity {
    pub methods: Vec<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub password: Option<PasswordMethod>,
    #[serde(default, deserialize_with = "not_null")]
    pub token: Option<TokenMethod>,
    #[serde(default, deserialize_with = "not_null")]
    pub application_credential: Option<AppCredentialMethod>,
}

#[derive(Deserialize)]
pub struct PasswordMethod {
    pub user: PasswordUser,
}

#[derive(Deserialize)]
pub struct PasswordUser {
    #[serde(default, deserialize_with = "not_null")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub domain: Option<NameOrId>,
    pub password: String,
}

#[derive(Deserialize)]
pub struct TokenMethod {
    pub id: String,
}

#[derive(Deserialize)]
pub struct AppCredentialMethod {
    #[serde(default, deserialize_with = "not_null")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub user: Option<AppCredentialUser>,
    pub secret: String,
}

#[derive(Deserialize, Clone, Default)]
pub struct AppCredentialUser {
    #[serde(default, deserialize_with = "not_null")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub domain: Option<NameOrId>,
}

#[derive(Deserialize, Clone, Default)]
pub struct NameOrId {
    #[serde(default, deserialize_with = "not_null")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub name: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
pub enum ScopeBody {
    /// The literal string "unscoped".
    Keyword(String),
    Target(ScopeTarget),
}

#[derive(Deserialize)]
pub struct ScopeTarget {
    #[serde(default, deserialize_with = "not_null")]
    pub project: Option<ProjectScope>,
    #[serde(default, deserialize_with = "not_null")]
    pub domain: Option<NameOrId>,
    #[serde(default, deserialize_with = "not_null")]
    pub system: Option<SystemScope>,
}

#[derive(Deserialize)]
pub struct ProjectScope {
    #[serde(default, deserialize_with = "not_null")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub domain: Option<NameOrId>,
}

#[derive(Deserialize)]
pub struct SystemScope {
    #[serde(default)]
    pub all: bool,
}
