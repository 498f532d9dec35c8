//! Roles and their implications (`admin` implies `member` implies
//! `reader`), and the roles a user effectively holds.

use oxistack_db::rusqlite::{self, Connection, OptionalExtension, Row, params};

use super::{Filtered, Result, TargetKind, get_by_id, run};
use crate::service::IdentityError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub id: String,
    pub name: String,
    pub description: String,
}

const COLUMNS: &str = "id, name, description";

impl Role {
    fn from_row(row: &Row) -> rusqlite::Result<Self> {
        Ok(Role {
            id: row.get(0)?,
            name: row.get(1)?,
            description: row.get(2)?,
        })
    }
}

pub fn role(conn: &Connection, id: &str) -> Result<Option<Role>> {
    get_by_id(conn, COLUMNS, "roles", id, Role::from_row)
}

pub fn role_by_name(conn: &Connection, name: &str) -> Result<Option<Role>> {
    let sql = format!("SELECT {COLUMNS} FROM roles WHERE name = ?1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([name], Role::from_row)
        .optional()?)
}

pub fn roles(conn: &Connection, name: Option<String>) -> Result<Vec<Role>> {
    Filtered::select(COLUMNS, "roles")
        .eq("name", name)
        .all(conn, Role::from_row)
}

pub fn insert(conn: &Connection, r: &Role) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO roles (id, name, description) VALUES (?1, ?2, ?3)",
        params![r.id, r.name, r.description],
    )
    .map(drop)
}

pub fn save(conn: &Connection, r: &Role) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE roles SET name = ?2, description = ?3 WHERE id = ?1",
        params![r.id, r.name, r.description],
    )
    .map(drop)
}

/// Deletes a role; its assignments and implications go by the foreign keys.
pub fn delete(conn: &Connection, id: &str) -> Result<()> {
    run(conn, "DELETE FROM roles WHERE id = ?1", [id]).map(drop)
}

/// The roles `prior_id` implies directly.
pub fn implied_by(conn: &Connection, prior_id: &str) -> Result<Vec<Role>> {
    Filtered::select(COLUMNS, "roles")
        .condition(
            "id IN (SELECT implied_role_id FROM implied_roles WHERE prior_role_id = ?)",
            prior_id.to_owned(),
        )
        .all(conn, Role::from_row)
}

/// Every role that implies another.
pub fn priors(conn: &Connection) -> Result<Vec<Role>> {
    Filtered::select(COLUMNS, "roles")
        .where_sql("id IN (SELECT prior_role_id FROM implied_roles)")
        .all(conn, Role::from_row)
}

pub fn implication_exists(conn: &Connection, prior_id: &str, implied_id: &str) -> Result<bool> {
    let count: i64 = conn.query_row(
        "SELECT count(*) FROM implied_roles WHERE prior_role_id = ?1 AND implied_role_id = ?2",
        [prior_id, implied_id],
        |row| row.get(0),
    )?;
    Ok(count > 0)
}

pub fn add_implication(conn: &Connection, prior_id: &str, implied_id: &str) -> Result<()> {
    run(
        conn,
        "INSERT OR IGNORE INTO implied_roles (prior_role_id, implied_role_id) VALUES (?1, ?2)",
        [prior_id, implied_id],
    )
    .map(drop)
}

/// Answers whether the implication existed.
pub fn remove_implication(conn: &Connection, prior_id: &str, implied_id: &str) -> Result<bool> {
    run(
        conn,
        "DELETE FROM implied_roles WHERE prior_role_id = ?1 AND implied_role_id = ?2",
        [prior_id, implied_id],
    )
    .map(|removed| removed > 0)
}

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
    let json = serde_json::to_string(role_ids)
        .map_err(|error| IdentityError::internal("encoding role ids", error))?;
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

/// The roles assigned directly to one actor on one target (no groups, no
/// implied roles): what a grant route lists.
pub fn granted(
    conn: &Connection,
    actor: super::ActorKind,
    actor_id: &str,
    target: TargetKind,
    target_id: &str,
) -> Result<Vec<Role>> {
    let mut stmt = conn.prepare_cached(
        "SELECT r.id, r.name, r.description FROM roles r JOIN assignments a ON a.role_id = r.id
         WHERE a.actor_kind = ?1 AND a.actor_id = ?2 AND a.target_kind = ?3 AND a.target_id = ?4
         ORDER BY r.name",
    )?;
    let rows = stmt.query_map(
        [actor.as_str(), actor_id, target.as_str(), target_id],
        Role::from_row,
    )?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}
