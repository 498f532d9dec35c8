//! Per-project quota limits that differ from the defaults.

use std::collections::HashMap;

use crate::service::ComputeError;
use oxistack_db::rusqlite::{Connection, params};

/// The limits set for `project`, by resource name.
pub fn overrides(conn: &Connection, project: &str) -> Result<HashMap<String, i64>, ComputeError> {
    let mut statement = conn
        .prepare_cached("SELECT resource, hard_limit FROM compute_quotas WHERE project_id = ?1")?;
    let rows = statement.query_map([project], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn set(
    conn: &Connection,
    project: &str,
    resource: &str,
    limit: i64,
) -> Result<(), ComputeError> {
    conn.prepare_cached(
        "INSERT INTO compute_quotas (project_id, resource, hard_limit) VALUES (?1, ?2, ?3)
         ON CONFLICT (project_id, resource) DO UPDATE SET hard_limit = excluded.hard_limit",
    )?
    .execute(params![project, resource, limit])?;
    Ok(())
}

/// Returns every limit of `project` to its default.
pub fn reset(conn: &Connection, project: &str) -> Result<(), ComputeError> {
    conn.prepare_cached("DELETE FROM compute_quotas WHERE project_id = ?1")?
        .execute([project])?;
    Ok(())
}
