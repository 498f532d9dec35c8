use std::collections::HashMap;

use oxistack_db::rusqlite::{Connection, params};

use crate::errors::NetworkError;

/// The project's limits that differ from the defaults.
pub fn overrides(
    conn: &Connection,
    project_id: &str,
) -> Result<HashMap<String, i64>, NetworkError> {
    let mut statement = conn
        .prepare_cached("SELECT resource, hard_limit FROM network_quotas WHERE project_id = ?1")?;
    let rows = statement.query_map([project_id], |row| Ok((row.get(0)?, row.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Projects with limits of their own.
pub fn projects(conn: &Connection) -> Result<Vec<String>, NetworkError> {
    let mut statement =
        conn.prepare_cached("SELECT DISTINCT project_id FROM network_quotas ORDER BY project_id")?;
    let rows = statement.query_map([], |row| row.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn set(
    conn: &Connection,
    project_id: &str,
    resource: &str,
    limit: i64,
) -> Result<(), NetworkError> {
    conn.prepare_cached(
        "INSERT INTO network_quotas (project_id, resource, hard_limit) VALUES (?1, ?2, ?3)
         ON CONFLICT (project_id, resource) DO UPDATE SET hard_limit = excluded.hard_limit",
    )?
    .execute(params![project_id, resource, limit])?;
    Ok(())
}

pub fn reset(conn: &Connection, project_id: &str) -> Result<(), NetworkError> {
    conn.prepare_cached("DELETE FROM network_quotas WHERE project_id = ?1")?
        .execute([project_id])?;
    Ok(())
}
