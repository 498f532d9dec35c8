//! Server groups. Membership is the `server_group_id` of the servers.

use crate::service::ComputeError;
use oxistack_db::rusqlite::{Connection, OptionalExtension, Row, params};

use super::{Sql, servers, time_column};
use crate::model::{GroupPolicy, ServerGroup, storage_time};

const COLUMNS: &str = "id, project_id, user_id, name, policy, max_server_per_host, created_at";

fn from_row(row: &Row) -> oxistack_db::rusqlite::Result<ServerGroup> {
    let policy: String = row.get(4)?;
    Ok(ServerGroup {
        id: row.get(0)?,
        project_id: row.get(1)?,
        user_id: row.get(2)?,
        name: row.get(3)?,
        policy: GroupPolicy::parse(&policy).ok_or_else(|| {
            oxistack_db::rusqlite::Error::FromSqlConversionFailure(
                4,
                oxistack_db::rusqlite::types::Type::Text,
                format!("unknown policy {policy}").into(),
            )
        })?,
        max_server_per_host: row.get(5)?,
        members: Vec::new(),
        created_at: time_column(row, 6)?,
    })
}

fn with_members(
    conn: &Connection,
    mut groups: Vec<ServerGroup>,
) -> Result<Vec<ServerGroup>, ComputeError> {
    let ids: Vec<String> = groups.iter().map(|g| g.id.clone()).collect();
    let mut members = servers::group_members(conn, &ids)?;
    for group in &mut groups {
        group.members = members.remove(&group.id).unwrap_or_default();
    }
    Ok(groups)
}

pub fn find(conn: &Connection, id: &str) -> Result<Option<ServerGroup>, ComputeError> {
    let sql = format!("SELECT {COLUMNS} FROM compute_server_groups WHERE id = ?1");
    let group = conn
        .prepare_cached(&sql)?
        .query_row([id], from_row)
        .optional()?;
    Ok(with_members(conn, group.into_iter().collect())?.pop())
}

/// The groups of `project` (every project's if `None`), oldest first,
/// `offset` and `limit` applied as Nova's list does.
pub fn list(
    conn: &Connection,
    project: Option<&str>,
    offset: usize,
    limit: usize,
) -> Result<Vec<ServerGroup>, ComputeError> {
    let mut sql = Sql::new(&format!(
        "SELECT {COLUMNS} FROM compute_server_groups WHERE 1"
    ));
    if let Some(project) = project {
        sql.text(" AND project_id = ").bind(project.to_owned());
    }
    sql.text(" ORDER BY created_at, id LIMIT ")
        .bind(limit as i64)
        .text(" OFFSET ")
        .bind(offset as i64);
    with_members(conn, sql.query(conn, from_row)?)
}

pub fn count(conn: &Connection, project: &str) -> Result<u64, ComputeError> {
    Ok(conn
        .prepare_cached("SELECT COUNT(*) FROM compute_server_groups WHERE project_id = ?1")?
        .query_row([project], |r| r.get(0))?)
}

pub fn insert(conn: &Connection, group: &ServerGroup) -> Result<(), ComputeError> {
    conn.prepare_cached(&format!(
        "INSERT INTO compute_server_groups ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
    ))?
    .execute(params![
        group.id,
        group.project_id,
        group.user_id,
        group.name,
        group.policy.as_str(),
        group.max_server_per_host,
        storage_time(&group.created_at),
    ])?;
    Ok(())
}

pub fn delete(conn: &Connection, id: &str) -> Result<(), ComputeError> {
    conn.prepare_cached("DELETE FROM compute_server_groups WHERE id = ?1")?
        .execute([id])?;
    Ok(())
}
