//! Tags of any resource, keyed by its id.

use std::collections::HashMap;

use oxistack_db::rusqlite::Connection;

use crate::errors::NetworkError;

/// The tags of each of `ids`, sorted.
pub fn of(conn: &Connection, ids: &[String]) -> Result<HashMap<String, Vec<String>>, NetworkError> {
    super::grouped(
        conn,
        "SELECT resource_id, tag FROM tags
         WHERE resource_id IN (SELECT value FROM json_each(?1)) ORDER BY resource_id, tag",
        ids,
        |row| Ok((row.get(0)?, row.get(1)?)),
    )
}

pub fn replace(conn: &Connection, id: &str, tags: &[String]) -> Result<(), NetworkError> {
    delete_all(conn, id)?;
    for tag in tags {
        add(conn, id, tag)?;
    }
    Ok(())
}

pub fn add(conn: &Connection, id: &str, tag: &str) -> Result<(), NetworkError> {
    conn.prepare_cached("INSERT OR IGNORE INTO tags (resource_id, tag) VALUES (?1, ?2)")?
        .execute([id, tag])?;
    Ok(())
}

/// Removes one tag; false if the resource did not have it.
pub fn remove(conn: &Connection, id: &str, tag: &str) -> Result<bool, NetworkError> {
    Ok(conn
        .prepare_cached("DELETE FROM tags WHERE resource_id = ?1 AND tag = ?2")?
        .execute([id, tag])?
        > 0)
}

pub fn delete_all(conn: &Connection, id: &str) -> Result<(), NetworkError> {
    conn.prepare_cached("DELETE FROM tags WHERE resource_id = ?1")?
        .execute([id])?;
    Ok(())
}
