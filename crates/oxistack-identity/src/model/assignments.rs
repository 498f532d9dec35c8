//! Role assignments: who (a user or a group) holds which role where (a
//! project, a domain, or the whole system).

use oxistack_db::rusqlite::{self, Connection};

use super::{Result, run};

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

/// One row of the assignments table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub actor: ActorKind,
    pub actor_id: String,
    pub target: TargetKind,
    pub target_id: String,
    pub role_id: String,
}

pub fn all(conn: &Connection) -> Result<Vec<Assignment>> {
    let mut stmt = conn.prepare_cached(
        "SELECT actor_kind, actor_id, target_kind, target_id, role_id FROM assignments",
    )?;
    let rows = stmt.query_map([], |row| {
        let actor: String = row.get(0)?;
        let target: String = row.get(2)?;
        Ok(Assignment {
            actor: if actor == "group" {
                ActorKind::Group
            } else {
                ActorKind::User
            },
            actor_id: row.get(1)?,
            target: match target.as_str() {
                "project" => TargetKind::Project,
                "domain" => TargetKind::Domain,
                _ => TargetKind::System,
            },
            target_id: row.get(3)?,
            role_id: row.get(4)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

fn key(a: &Assignment) -> [&str; 5] {
    [
        a.actor.as_str(),
        &a.actor_id,
        a.target.as_str(),
        &a.target_id,
        &a.role_id,
    ]
}

pub fn exists(conn: &Connection, a: &Assignment) -> Result<bool> {
    let count: i64 = conn.query_row(
        "SELECT count(*) FROM assignments
         WHERE actor_kind = ?1 AND actor_id = ?2 AND target_kind = ?3 AND target_id = ?4 AND role_id = ?5",
        key(a),
        |row| row.get(0),
    )?;
    Ok(count > 0)
}

/// Grants the role; granting it again changes nothing.
pub fn insert(conn: &Connection, a: &Assignment) -> Result<()> {
    run(
        conn,
        "INSERT OR IGNORE INTO assignments (actor_kind, actor_id, target_kind, target_id, role_id)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        key(a),
    )
    .map(drop)
}

/// Answers whether the assignment existed.
pub fn delete(conn: &Connection, a: &Assignment) -> Result<bool> {
    run(
        conn,
        "DELETE FROM assignments
         WHERE actor_kind = ?1 AND actor_id = ?2 AND target_kind = ?3 AND target_id = ?4 AND role_id = ?5",
        key(a),
    )
    .map(|removed| removed > 0)
}
