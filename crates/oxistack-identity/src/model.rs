//! The identity model and its SQL. Functions take a `&Connection` so they
//! compose inside one transaction; handlers decide what a request may do.

use oxistack_db::rusqlite::{self, Connection, OptionalExtension, Row, params};
use oxistack_http::ApiError;

pub type Result<T> = std::result::Result<T, ApiError>;

pub const DEFAULT_DOMAIN_ID: &str = "default";

/// Keystone's wording for a missing entity, e.g. "Could not find project: x."
pub fn not_found(kind: &str, id: &str) -> ApiError {
    ApiError::not_found(format!("Could not find {kind}: {id}."))
}

/// Maps a uniqueness violation to Keystone's 409; other errors pass through.
pub fn conflict_on_duplicate(
    kind: &'static str,
    name: &str,
) -> impl FnOnce(rusqlite::Error) -> ApiError {
    move |error| {
        if oxistack_db::is_unique_violation(&error) {
            ApiError::conflict(format!(
                "Conflict occurred attempting to store {kind} - Duplicate entry found with name {name}."
            ))
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
}

#[derive(Debug, Clone)]
pub struct Group {
    pub id: String,
    pub name: String,
    pub domain_id: String,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub id: String,
    pub name: String,
    pub description: String,
}

pub const DOMAIN_COLUMNS: &str = "id, name, description, enabled";
pub const PROJECT_COLUMNS: &str = "id, name, domain_id, description, enabled, tags";
pub const USER_COLUMNS: &str =
    "id, name, domain_id, enabled, password_hash, default_project_id, description, email";
pub const GROUP_COLUMNS: &str = "id, name, domain_id, description";
pub const ROLE_COLUMNS: &str = "id, name, description";

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
        Ok(User {
            id: row.get(0)?,
            name: row.get(1)?,
            domain_id: row.get(2)?,
            enabled: row.get(3)?,
            password_hash: row.get(4)?,
            default_project_id: row.get(5)?,
            description: row.get(6)?,
            email: row.get(7)?,
        })
    }
}

impl Group {
    pub fn from_row(row: &Row) -> rusqlite::Result<Self> {
        Ok(Group {
            id: row.get(0)?,
            name: row.get(1)?,
            domain_id: row.get(2)?,
            description: row.get(3)?,
        })
    }
}

impl Role {
    pub fn from_row(row: &Row) -> rusqlite::Result<Self> {
        Ok(Role {
            id: row.get(0)?,
            name: row.get(1)?,
            description: row.get(2)?,
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

pub fn group(conn: &Connection, id: &str) -> Result<Option<Group>> {
    get_by_id(conn, GROUP_COLUMNS, "groups", id, Group::from_row)
}

pub fn role(conn: &Connection, id: &str) -> Result<Option<Role>> {
    get_by_id(conn, ROLE_COLUMNS, "roles", id, Role::from_row)
}

pub fn role_by_name(conn: &Connection, name: &str) -> Result<Option<Role>> {
    let sql = format!("SELECT {ROLE_COLUMNS} FROM roles WHERE name = ?1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([name], Role::from_row)
        .optional()?)
}

/// Looks an entity up by id or answers Keystone's 404.
pub fn require<T>(found: Option<T>, kind: &str, id: &str) -> Result<T> {
    found.ok_or_else(|| not_found(kind, id))
}

/// Where a role is assigned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    Project,
    Domain,
    System,
}

impl TargetKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::Project => "project",
            TargetKind::Domain => "domain",
            TargetKind::System => "system",
        }
    }
}

/// Who holds an assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorKind {
    User,
    Group,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::User => "user",
            ActorKind::Group => "group",
        }
    }
}

/// The system scope has one target.
pub const SYSTEM_TARGET: &str = "all";

/// The roles `user_id` effectively holds on a target: assigned to the user
/// directly or through a group, plus every role those imply, transitively.
pub fn effective_roles(
    conn: &Connection,
    user_id: &str,
    target: TargetKind,
    target_id: &str,
) -> Result<Vec<Role>> {
    let mut stmt = conn.prepare_cached(
        "WITH RECURSIVE held(id) AS (
             SELECT role_id FROM assignments
             WHERE target_kind = ?1 AND target_id = ?2
               AND ((actor_kind = 'user' AND actor_id = ?3)
                 OR (actor_kind = 'group' AND actor_id IN
                       (SELECT group_id FROM group_members WHERE user_id = ?3)))
             UNION
             SELECT implied_role_id FROM implied_roles JOIN held ON prior_role_id = held.id
         )
         SELECT r.id, r.name, r.description FROM roles r JOIN held ON r.id = held.id ORDER BY r.name",
    )?;
    let rows = stmt.query_map(params![target.as_str(), target_id, user_id], Role::from_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// `role_ids` and every role they imply, transitively.
pub fn expand_implied(conn: &Connection, role_ids: &[String]) -> Result<Vec<Role>> {
    let json = serde_json::to_string(role_ids).map_err(ApiError::internal)?;
    let mut stmt = conn.prepare_cached(
        "WITH RECURSIVE held(id) AS (
             SELECT value FROM json_each(?1)
             UNION
             SELECT implied_role_id FROM implied_roles JOIN held ON prior_role_id = held.id
         )
         SELECT r.id, r.name, r.description FROM roles r JOIN held ON r.id = held.id ORDER BY r.name",
    )?;
    let rows = stmt.query_map([json], Role::from_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Projects on which `user_id` holds any role, directly or through a group.
pub fn projects_of_user(conn: &Connection, user_id: &str) -> Result<Vec<Project>> {
    Filtered::select(PROJECT_COLUMNS, "projects")
        .condition(
            "id IN (SELECT target_id FROM assignments WHERE target_kind = 'project'
                    AND ((actor_kind = 'user' AND actor_id = ?)
                      OR (actor_kind = 'group' AND actor_id IN
                            (SELECT group_id FROM group_members WHERE user_id = ?))))",
            user_id.to_owned(),
        )
        .all(conn, Project::from_row)
}
