//! The identity store: its entities and all of their SQL. Functions take a
//! `&Connection` so the service composes them inside one transaction; the
//! store never decides what a caller may do.

pub mod app_credentials;
pub mod assignments;
pub mod catalog;
pub mod groups;
pub mod roles;

use oxistack_db::rusqlite::{self, Connection, OptionalExtension, Row, params};
use serde_json::{Map, Value};

use crate::service::{IdentityError, Result};

pub use app_credentials::AppCredential;
pub use assignments::{ActorKind, Assignment, SYSTEM_TARGET, TargetKind};
pub use groups::Group;
pub use roles::Role;

pub const DEFAULT_DOMAIN_ID: &str = "default";

/// Maps a uniqueness violation to Keystone's 409; other errors pass through.
pub fn conflict_on_duplicate(
    kind: &'static str,
    name: &str,
) -> impl FnOnce(rusqlite::Error) -> IdentityError {
    move |error| {
        if oxistack_db::is_unique_violation(&error) {
            IdentityError::Duplicate {
                kind,
                name: name.to_owned(),
            }
        } else {
            error.into()
        }
    }
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

#[derive(Debug, Clone)]
pub struct Domain {
    pub id: String,
    pub name: String,
    pub description: String,
    pub enabled: bool,
}

#[derive(Debug, Clone)]
pub struct Project {
    pub id: String,
    pub name: String,
    pub domain_id: String,
    pub description: String,
    pub enabled: bool,
    pub tags: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub name: String,
    pub domain_id: String,
    pub enabled: bool,
    pub password_hash: Option<String>,
    pub default_project_id: Option<String>,
    pub description: Option<String>,
    pub email: Option<String>,
    /// Attributes the client gave beyond Keystone's own, kept and shown
    /// as given.
    pub extra: Map<String, Value>,
}

pub const DOMAIN_COLUMNS: &str = "id, name, description, enabled";
pub const PROJECT_COLUMNS: &str = "id, name, domain_id, description, enabled, tags";
pub const USER_COLUMNS: &str =
    "id, name, domain_id, enabled, password_hash, default_project_id, description, email, extra";

impl Domain {
    pub fn from_row(row: &Row) -> rusqlite::Result<Self> {
        Ok(Domain {
            id: row.get(0)?,
            name: row.get(1)?,
            description: row.get(2)?,
            enabled: row.get(3)?,
        })
    }
}

impl Project {
    pub fn from_row(row: &Row) -> rusqlite::Result<Self> {
        let tags: String = row.get(5)?;
        Ok(Project {
            id: row.get(0)?,
            name: row.get(1)?,
            domain_id: row.get(2)?,
            description: row.get(3)?,
            enabled: row.get(4)?,
            tags: serde_json::from_str(&tags).unwrap_or_default(),
        })
    }
}

impl User {
    pub fn from_row(row: &Row) -> rusqlite::Result<Self> {
        let extra: String = row.get(8)?;
        Ok(User {
            id: row.get(0)?,
            name: row.get(1)?,
            domain_id: row.get(2)?,
            enabled: row.get(3)?,
            password_hash: row.get(4)?,
            default_project_id: row.get(5)?,
            description: row.get(6)?,
            email: row.get(7)?,
            extra: serde_json::from_str(&extra).unwrap_or_default(),
        })
    }
}

/// A list query with optional equality filters, built without string
/// concatenation of values: only column names from our own code go into SQL.
pub struct Filtered {
    sql: String,
    values: Vec<rusqlite::types::Value>,
}

impl Filtered {
    pub fn select(columns: &str, table: &str) -> Self {
        Filtered {
            sql: format!("SELECT {columns} FROM {table} WHERE 1=1"),
            values: Vec::new(),
        }
    }

    pub fn eq(
        mut self,
        column: &'static str,
        value: Option<impl Into<rusqlite::types::Value>>,
    ) -> Self {
        if let Some(value) = value {
            self.values.push(value.into());
            self.sql
                .push_str(&format!(" AND {column} = ?{}", self.values.len()));
        }
        self
    }

    /// Adds a condition, e.g. a subquery, in which every `?` is bound to `value`.
    pub fn condition(mut self, sql: &str, value: impl Into<rusqlite::types::Value>) -> Self {
        self.values.push(value.into());
        let n = self.values.len();
        self.sql
            .push_str(&format!(" AND {}", sql.replace("?", &format!("?{n}"))));
        self
    }

    /// Adds a condition that binds no value.
    pub fn where_sql(mut self, sql: &'static str) -> Self {
        self.sql.push_str(" AND ");
        self.sql.push_str(sql);
        self
    }

    pub fn all<T>(
        mut self,
        conn: &Connection,
        map: fn(&Row) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>> {
        self.sql.push_str(" ORDER BY name");
        let mut stmt = conn.prepare_cached(&self.sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(self.values.iter()), map)?;
        Ok(rows.collect::<rusqlite::Result<Vec<T>>>()?)
    }
}

pub fn get_by_id<T>(
    conn: &Connection,
    columns: &str,
    table: &str,
    id: &str,
    map: fn(&Row) -> rusqlite::Result<T>,
) -> Result<Option<T>> {
    let sql = format!("SELECT {columns} FROM {table} WHERE id = ?1");
    Ok(conn.prepare_cached(&sql)?.query_row([id], map).optional()?)
}

/// Looks an entity up by id or answers Keystone's 404.
pub fn require<T>(found: Option<T>, kind: &str, id: &str) -> Result<T> {
    found.ok_or_else(|| IdentityError::not_found(kind, id))
}

/// Runs `sql` with `params` and answers how many rows it touched.
fn run(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<usize> {
    Ok(conn.prepare_cached(sql)?.execute(params)?)
}

// ---- domains ---------------------------------------------------------------

pub fn domain(conn: &Connection, id: &str) -> Result<Option<Domain>> {
    get_by_id(conn, DOMAIN_COLUMNS, "domains", id, Domain::from_row)
}

pub fn domain_by_name(conn: &Connection, name: &str) -> Result<Option<Domain>> {
    let sql = format!("SELECT {DOMAIN_COLUMNS} FROM domains WHERE name = ?1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([name], Domain::from_row)
        .optional()?)
}

pub fn domains(
    conn: &Connection,
    name: Option<String>,
    enabled: Option<bool>,
) -> Result<Vec<Domain>> {
    Filtered::select(DOMAIN_COLUMNS, "domains")
        .eq("name", name)
        .eq("enabled", enabled)
        .all(conn, Domain::from_row)
}

pub fn insert_domain(conn: &Connection, d: &Domain) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO domains (id, name, description, enabled) VALUES (?1, ?2, ?3, ?4)",
        params![d.id, d.name, d.description, d.enabled],
    )
    .map(drop)
}

pub fn save_domain(conn: &Connection, d: &Domain) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE domains SET name = ?2, description = ?3, enabled = ?4 WHERE id = ?1",
        params![d.id, d.name, d.description, d.enabled],
    )
    .map(drop)
}

/// Deletes a domain with the role assignments on it.
pub fn delete_domain(conn: &Connection, id: &str) -> Result<()> {
    run(
        conn,
        "DELETE FROM assignments WHERE target_kind = 'domain' AND target_id = ?1",
        [id],
    )?;
    run(conn, "DELETE FROM domains WHERE id = ?1", [id])?;
    Ok(())
}

// ---- projects --------------------------------------------------------------

pub fn project(conn: &Connection, id: &str) -> Result<Option<Project>> {
    get_by_id(conn, PROJECT_COLUMNS, "projects", id, Project::from_row)
}

pub fn project_by_name(conn: &Connection, domain_id: &str, name: &str) -> Result<Option<Project>> {
    let sql = format!("SELECT {PROJECT_COLUMNS} FROM projects WHERE domain_id = ?1 AND name = ?2");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([domain_id, name], Project::from_row)
        .optional()?)
}

/// The projects on which a user holds a role, directly or through a group.
const PROJECTS_OF_USER: &str =
    "id IN (SELECT target_id FROM assignments WHERE target_kind = 'project'
    AND ((actor_kind = 'user' AND actor_id = ?)
      OR (actor_kind = 'group' AND actor_id IN
            (SELECT group_id FROM group_members WHERE user_id = ?))))";

/// What a project listing asks for; every filter is an equality.
#[derive(Debug, Clone, Default)]
pub struct ProjectFilter {
    pub name: Option<String>,
    pub domain_id: Option<String>,
    /// Keystone's top-level projects have their domain as parent.
    pub parent_id: Option<String>,
    pub enabled: Option<bool>,
    /// Only the projects this user holds a role on.
    pub held_by: Option<String>,
}

pub fn projects(conn: &Connection, filter: ProjectFilter) -> Result<Vec<Project>> {
    let mut query = Filtered::select(PROJECT_COLUMNS, "projects")
        .eq("name", filter.name)
        .eq("domain_id", filter.domain_id)
        .eq("domain_id", filter.parent_id)
        .eq("enabled", filter.enabled);
    if let Some(user_id) = filter.held_by {
        query = query.condition(PROJECTS_OF_USER, user_id);
    }
    query.all(conn, Project::from_row)
}

/// Projects on which `user_id` holds any role, directly or through a group.
pub fn projects_of_user(conn: &Connection, user_id: &str) -> Result<Vec<Project>> {
    projects(
        conn,
        ProjectFilter {
            held_by: Some(user_id.to_owned()),
            ..ProjectFilter::default()
        },
    )
}

fn tags_json(tags: &[String]) -> String {
    serde_json::to_string(tags).unwrap_or_else(|_| "[]".to_owned())
}

pub fn insert_project(conn: &Connection, p: &Project) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO projects (id, name, domain_id, description, enabled, tags) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![p.id, p.name, p.domain_id, p.description, p.enabled, tags_json(&p.tags)],
    )
    .map(drop)
}

pub fn save_project(conn: &Connection, p: &Project) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE projects SET name = ?2, description = ?3, enabled = ?4, tags = ?5 WHERE id = ?1",
        params![p.id, p.name, p.description, p.enabled, tags_json(&p.tags)],
    )
    .map(drop)
}

/// Deletes a project with the role assignments on it; users who had it
/// as their default project are left without one.
pub fn delete_project(conn: &Connection, id: &str) -> Result<()> {
    run(
        conn,
        "DELETE FROM assignments WHERE target_kind = 'project' AND target_id = ?1",
        [id],
    )?;
    run(
        conn,
        "UPDATE users SET default_project_id = NULL WHERE default_project_id = ?1",
        [id],
    )?;
    run(conn, "DELETE FROM projects WHERE id = ?1", [id])?;
    Ok(())
}

// ---- users -----------------------------------------------------------------

pub fn user(conn: &Connection, id: &str) -> Result<Option<User>> {
    get_by_id(conn, USER_COLUMNS, "users", id, User::from_row)
}

pub fn user_by_name(conn: &Connection, domain_id: &str, name: &str) -> Result<Option<User>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE domain_id = ?1 AND name = ?2");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([domain_id, name], User::from_row)
        .optional()?)
}

pub fn users(
    conn: &Connection,
    name: Option<String>,
    domain_id: Option<String>,
    enabled: Option<bool>,
) -> Result<Vec<User>> {
    Filtered::select(USER_COLUMNS, "users")
        .eq("name", name)
        .eq("domain_id", domain_id)
        .eq("enabled", enabled)
        .all(conn, User::from_row)
}

pub fn insert_user(conn: &Connection, u: &User) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO users (id, name, domain_id, enabled, password_hash, default_project_id,
                            description, email, created_at, extra)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            u.id,
            u.name,
            u.domain_id,
            u.enabled,
            u.password_hash,
            u.default_project_id,
            u.description,
            u.email,
            chrono::Utc::now().to_rfc3339(),
            Value::Object(u.extra.clone()).to_string()
        ],
    )
    .map(drop)
}

pub fn save_user(conn: &Connection, u: &User) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE users SET name = ?2, enabled = ?3, password_hash = ?4, default_project_id = ?5,
                          description = ?6, email = ?7, extra = ?8
         WHERE id = ?1",
        params![
            u.id,
            u.name,
            u.enabled,
            u.password_hash,
            u.default_project_id,
            u.description,
            u.email,
            Value::Object(u.extra.clone()).to_string()
        ],
    )
    .map(drop)
}

pub fn set_password_hash(conn: &Connection, user_id: &str, hash: &str) -> Result<()> {
    run(
        conn,
        "UPDATE users SET password_hash = ?2 WHERE id = ?1",
        [user_id, hash],
    )
    .map(drop)
}

/// Deletes a user with their role assignments; memberships and
/// application credentials go by the foreign keys.
pub fn delete_user(conn: &Connection, id: &str) -> Result<()> {
    run(
        conn,
        "DELETE FROM assignments WHERE actor_kind = 'user' AND actor_id = ?1",
        [id],
    )?;
    run(conn, "DELETE FROM users WHERE id = ?1", [id])?;
    Ok(())
}
