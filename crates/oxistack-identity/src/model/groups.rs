//! Groups and their members.

use oxistack_db::rusqlite::{self, Connection, Row, params};

use super::{Filtered, Result, USER_COLUMNS, User, get_by_id, run};

#[derive(Debug, Clone)]
pub struct Group {
    pub id: String,
    pub name: String,
    pub domain_id: String,
    pub description: String,
}

const COLUMNS: &str = "id, name, domain_id, description";

impl Group {
    fn from_row(row: &Row) -> rusqlite::Result<Self> {
        Ok(Group {
            id: row.get(0)?,
            name: row.get(1)?,
            domain_id: row.get(2)?,
            description: row.get(3)?,
        })
    }
}

pub fn group(conn: &Connection, id: &str) -> Result<Option<Group>> {
    get_by_id(conn, COLUMNS, "groups", id, Group::from_row)
}

pub fn groups(
    conn: &Connection,
    name: Option<String>,
    domain_id: Option<String>,
) -> Result<Vec<Group>> {
    Filtered::select(COLUMNS, "groups")
        .eq("name", name)
        .eq("domain_id", domain_id)
        .all(conn, Group::from_row)
}

pub fn groups_of_user(conn: &Connection, user_id: &str) -> Result<Vec<Group>> {
    Filtered::select(COLUMNS, "groups")
        .condition(
            "id IN (SELECT group_id FROM group_members WHERE user_id = ?)",
            user_id.to_owned(),
        )
        .all(conn, Group::from_row)
}

pub fn insert(conn: &Connection, g: &Group) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO groups (id, name, domain_id, description) VALUES (?1, ?2, ?3, ?4)",
        params![g.id, g.name, g.domain_id, g.description],
    )
    .map(drop)
}

pub fn save(conn: &Connection, g: &Group) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE groups SET name = ?2, description = ?3 WHERE id = ?1",
        params![g.id, g.name, g.description],
    )
    .map(drop)
}

/// Deletes a group with its role assignments; memberships go by the
/// foreign key.
pub fn delete(conn: &Connection, id: &str) -> Result<()> {
    run(
        conn,
        "DELETE FROM assignments WHERE actor_kind = 'group' AND actor_id = ?1",
        [id],
    )?;
    run(conn, "DELETE FROM groups WHERE id = ?1", [id])?;
    Ok(())
}

pub fn members(conn: &Connection, group_id: &str) -> Result<Vec<User>> {
    Filtered::select(USER_COLUMNS, "users")
        .condition(
            "id IN (SELECT user_id FROM group_members WHERE group_id = ?)",
            group_id.to_owned(),
        )
        .all(conn, User::from_row)
}

pub fn member_ids(conn: &Connection, group_id: &str) -> Result<Vec<String>> {
    Ok(conn
        .prepare_cached("SELECT user_id FROM group_members WHERE group_id = ?1")?
        .query_map([group_id], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?)
}

pub fn add_member(conn: &Connection, group_id: &str, user_id: &str) -> Result<()> {
    run(
        conn,
        "INSERT OR IGNORE INTO group_members (group_id, user_id) VALUES (?1, ?2)",
        [group_id, user_id],
    )
    .map(drop)
}

pub fn is_member(conn: &Connection, group_id: &str, user_id: &str) -> Result<bool> {
    let count: i64 = conn.query_row(
        "SELECT count(*) FROM group_members WHERE group_id = ?1 AND user_id = ?2",
        [group_id, user_id],
        |row| row.get(0),
    )?;
    Ok(count > 0)
}

/// Answers whether the user was a member.
pub fn remove_member(conn: &Connection, group_id: &str, user_id: &str) -> Result<bool> {
    run(
        conn,
        "DELETE FROM group_members WHERE group_id = ?1 AND user_id = ?2",
        [group_id, user_id],
    )
    .map(|removed| removed > 0)
}
