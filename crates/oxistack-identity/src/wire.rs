//! Keystone v3 wire types: request bodies as clients send them and
//! entities as the API reference shows them.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::model::{Domain, Group, Project, Role, User};

#[derive(Serialize)]
pub struct SelfLink {
    #[serde(rename = "self")]
    pub self_: String,
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
            links: SelfLink {
                self_: format!("{v3}/domains/{}", d.id),
            },
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
            links: SelfLink {
                self_: format!("{v3}/projects/{}", p.id),
            },
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
}

impl UserView {
    pub fn new(u: User, v3: &str) -> Self {
        UserView {
            links: SelfLink {
                self_: format!("{v3}/users/{}", u.id),
            },
            id: u.id,
            name: u.name,
            domain_id: u.domain_id,
            enabled: u.enabled,
            password_expires_at: None,
            options: Map::new(),
            default_project_id: u.default_project_id,
            description: u.description,
            email: u.email,
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
            links: SelfLink {
                self_: format!("{v3}/groups/{}", g.id),
            },
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
            links: SelfLink {
                self_: format!("{v3}/roles/{}", r.id),
            },
            id: r.id,
            name: r.name,
            domain_id: None,
            description: r.description,
            options: Map::new(),
        }
    }
}

// ---- requests -------------------------------------------------------------

/// Name limits follow Keystone's schema: 1 to 255 characters.
pub fn validate_name(field: &str, name: &str) -> Result<(), oxistack_http::ApiError> {
    if name.trim().is_empty() || name.chars().count() > 255 {
        return Err(oxistack_http::ApiError::bad_request(format!(
            "Invalid input for field '{field}': must be a non-empty string of at most 255 characters."
        )));
    }
    Ok(())
}

#[derive(Deserialize)]
pub struct DomainCreate {
    pub name: String,
    pub description: Option<String>,
    pub enabled: Option<bool>,
}

#[derive(Deserialize)]
pub struct DomainUpdate {
    pub name: Option<String>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
}

#[derive(Deserialize)]
pub struct ProjectCreate {
    pub name: String,
    pub domain_id: Option<String>,
    pub parent_id: Option<String>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
    #[serde(default)]
    pub is_domain: bool,
    pub tags: Option<Vec<String>>,
}

#[derive(Deserialize)]
pub struct ProjectUpdate {
    pub name: Option<String>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
    pub tags: Option<Vec<String>>,
}

#[derive(Deserialize)]
pub struct UserCreate {
    pub name: String,
    pub domain_id: Option<String>,
    pub password: Option<String>,
    pub enabled: Option<bool>,
    pub default_project_id: Option<String>,
    pub description: Option<String>,
    pub email: Option<String>,
}

#[derive(Deserialize)]
pub struct UserUpdate {
    pub name: Option<String>,
    pub password: Option<String>,
    pub enabled: Option<bool>,
    pub default_project_id: Option<String>,
    pub description: Option<String>,
    pub email: Option<String>,
}

#[derive(Deserialize)]
pub struct PasswordChange {
    pub password: String,
    pub original_password: String,
}

#[derive(Deserialize)]
pub struct GroupCreate {
    pub name: String,
    pub domain_id: Option<String>,
    pub description: Option<String>,
}

#[derive(Deserialize)]
pub struct GroupUpdate {
    pub name: Option<String>,
    pub description: Option<String>,
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
    pub name: Option<String>,
    pub description: Option<String>,
}

/// `{"id": ...}` or `{"name": ...}`, as roles are referenced in requests.
#[derive(Deserialize)]
pub struct RoleIdentifier {
    pub id: Option<String>,
    pub name: Option<String>,
}

#[derive(Deserialize)]
pub struct AppCredentialCreate {
    pub name: String,
    pub secret: Option<String>,
    pub description: Option<String>,
    pub expires_at: Option<String>,
    pub roles: Option<Vec<RoleIdentifier>>,
    #[serde(default)]
    pub unrestricted: bool,
    /// Access rules are accepted only when empty: they are not enforced.
    pub access_rules: Option<Vec<Value>>,
}

// ---- authentication requests ---------------------------------------------

#[derive(Deserialize)]
pub struct Auth {
    pub identity: AuthIdentity,
    pub scope: Option<ScopeBody>,
}

#[derive(Deserialize)]
pub struct AuthIdentity {
    pub methods: Vec<String>,
    pub password: Option<PasswordMethod>,
    pub token: Option<TokenMethod>,
    pub application_credential: Option<AppCredentialMethod>,
}

#[derive(Deserialize)]
pub struct PasswordMethod {
    pub user: PasswordUser,
}

#[derive(Deserialize)]
pub struct PasswordUser {
    pub id: Option<String>,
    pub name: Option<String>,
    pub domain: Option<NameOrId>,
    pub password: String,
}

#[derive(Deserialize)]
pub struct TokenMethod {
    pub id: String,
}

#[derive(Deserialize)]
pub struct AppCredentialMethod {
    pub id: Option<String>,
    pub name: Option<String>,
    pub user: Option<AppCredentialUser>,
    pub secret: String,
}

#[derive(Deserialize)]
pub struct AppCredentialUser {
    pub id: Option<String>,
    pub name: Option<String>,
    pub domain: Option<NameOrId>,
}

#[derive(Deserialize, Clone, Default)]
pub struct NameOrId {
    pub id: Option<String>,
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
    pub project: Option<ProjectScope>,
    pub domain: Option<NameOrId>,
    pub system: Option<SystemScope>,
}

#[derive(Deserialize)]
pub struct ProjectScope {
    pub id: Option<String>,
    pub name: Option<String>,
    pub domain: Option<NameOrId>,
}

#[derive(Deserialize)]
pub struct SystemScope {
    #[serde(default)]
    pub all: bool,
}
