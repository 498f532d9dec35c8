//! The SQL, and nothing else. Volumes, snapshots, attachments and types
//! are one row each: their id, the columns the service looks them up by,
//! and their record as JSON; the `rowid` is their creation order. Quotas
//! are one row per project (or class) and resource.

use oxistack_db::Migration;
use oxistack_db::rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::model::{Attachment, Snapshot, Volume, VolumeType};
use crate::service::VolumeError;

pub const MIGRATIONS: &[Migration] = &["CREATE TABLE cinder_volumes (
        id TEXT PRIMARY KEY,
        project_id TEXT NOT NULL,
        body TEXT NOT NULL
    );
    CREATE INDEX cinder_volumes_project ON cinder_volumes (project_id);
    CREATE TABLE cinder_snapshots (
        id TEXT PRIMARY KEY,
        project_id TEXT NOT NULL,
        volume_id TEXT NOT NULL,
        body TEXT NOT NULL
    );
    CREATE INDEX cinder_snapshots_volume ON cinder_snapshots (volume_id);
    CREATE TABLE cinder_attachments (
        id TEXT PRIMARY KEY,
        volume_id TEXT NOT NULL,
        instance_uuid TEXT,
        body TEXT NOT NULL
    );
    CREATE INDEX cinder_attachments_volume ON cinder_attachments (volume_id);
    CREATE INDEX cinder_attachments_instance ON cinder_attachments (instance_uuid);
    CREATE TABLE cinder_types (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        body TEXT NOT NULL
    );
    CREATE TABLE cinder_type_access (
        type_id TEXT NOT NULL,
        project_id TEXT NOT NULL,
        PRIMARY KEY (type_id, project_id)
    );
    CREATE TABLE cinder_quotas (
        project_id TEXT NOT NULL,
        resource TEXT NOT NULL,
        hard_limit INTEGER NOT NULL,
        PRIMARY KEY (project_id, resource)
    );
    CREATE TABLE cinder_quota_classes (
        class_name TEXT NOT NULL,
        resource TEXT NOT NULL,
        hard_limit INTEGER NOT NULL,
        PRIMARY KEY (class_name, resource)
    );"];

fn decode<T: DeserializeOwned>(body: &str) -> Result<T, VolumeError> {
    serde_json::from_str(body).map_err(|e| VolumeError::Internal(format!("a stored record: {e}")))
}

fn encode<T: Serialize>(record: &T) -> String {
    serde_json::to_string(record).expect("records serialize")
}

/// Rows of `table` matching `filter` (an SQL condition on `?1`), with
/// their creation order.
fn rows<T: DeserializeOwned>(
    conn: &Connection,
    table: &str,
    filter: &str,
    value: Option<&str>,
) -> Result<Vec<(i64, T)>, VolumeError> {
    let sql = format!("SELECT rowid, body FROM {table} WHERE {filter} ORDER BY rowid");
    let mut statement = conn.prepare(&sql)?;
    let found = statement.query_map([value], |row| {
        Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
    })?;
    let mut out = Vec::new();
    for row in found {
        let (seq, body) = row?;
        out.push((seq, decode(&body)?));
    }
    Ok(out)
}

fn one<T: DeserializeOwned>(
    conn: &Connection,
    table: &str,
    id: &str,
) -> Result<Option<T>, VolumeError> {
    let sql = format!("SELECT body FROM {table} WHERE id = ?1");
    let body: Option<String> = conn.query_row(&sql, [id], |row| row.get(0)).optional()?;
    body.map(|b| decode(&b)).transpose()
}

fn remove(conn: &Connection, table: &str, id: &str) -> Result<(), VolumeError> {
    conn.execute(&format!("DELETE FROM {table} WHERE id = ?1"), [id])?;
    Ok(())
}

/// The volumes of `project` (every project's for `None`).
pub fn volumes(
    conn: &Connection,
    project: Option<&str>,
) -> Result<Vec<(i64, Volume)>, VolumeError> {
    rows(
        conn,
        "cinder_volumes",
        "?1 IS NULL OR project_id = ?1",
        project,
    )
}

pub fn volume(conn: &Connection, id: &str) -> Result<Option<Volume>, VolumeError> {
    one(conn, "cinder_volumes", id)
}

/// Inserts or updates a volume, keeping its creation order.
pub fn put_volume(conn: &Connection, volume: &Volume) -> Result<(), VolumeError> {
    conn.execute(
        "INSERT INTO cinder_volumes (id, project_id, body) VALUES (?1, ?2, ?3)
         ON CONFLICT(id) DO UPDATE SET body = excluded.body",
        params![volume.id, volume.project_id, encode(volume)],
    )?;
    Ok(())
}

pub fn delete_volume(conn: &Connection, id: &str) -> Result<(), VolumeError> {
    remove(conn, "cinder_volumes", id)
}

pub fn snapshots(
    conn: &Connection,
    project: Option<&str>,
) -> Result<Vec<(i64, Snapshot)>, VolumeError> {
    rows(
        conn,
        "cinder_snapshots",
        "?1 IS NULL OR project_id = ?1",
        project,
    )
}

pub fn snapshots_of(conn: &Connection, volume_id: &str) -> Result<Vec<Snapshot>, VolumeError> {
    Ok(
        rows(conn, "cinder_snapshots", "volume_id = ?1", Some(volume_id))?
            .into_iter()
            .map(|(_, s)| s)
            .collect(),
    )
}

pub fn snapshot(conn: &Connection, id: &str) -> Result<Option<Snapshot>, VolumeError> {
    one(conn, "cinder_snapshots", id)
}

pub fn put_snapshot(conn: &Connection, snapshot: &Snapshot) -> Result<(), VolumeError> {
    conn.execute(
        "INSERT INTO cinder_snapshots (id, project_id, volume_id, body) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(id) DO UPDATE SET body = excluded.body",
        params![
            snapshot.id,
            snapshot.project_id,
            snapshot.volume_id,
            encode(snapshot)
        ],
    )?;
    Ok(())
}

pub fn delete_snapshot(conn: &Connection, id: &str) -> Result<(), VolumeError> {
    remove(conn, "cinder_snapshots", id)
}

/// Every attachment, in creation order.
pub fn attachments(conn: &Connection) -> Result<Vec<(i64, Attachment)>, VolumeError> {
    rows(conn, "cinder_attachments", "?1 IS NULL", None)
}

pub fn attachments_of(conn: &Connection, volume_id: &str) -> Result<Vec<Attachment>, VolumeError> {
    Ok(rows(
        conn,
        "cinder_attachments",
        "volume_id = ?1",
        Some(volume_id),
    )?
    .into_iter()
    .map(|(_, a)| a)
    .collect())
}

pub fn attachments_of_server(
    conn: &Connection,
    server_id: &str,
) -> Result<Vec<Attachment>, VolumeError> {
    Ok(rows(
        conn,
        "cinder_attachments",
        "instance_uuid = ?1",
        Some(server_id),
    )?
    .into_iter()
    .map(|(_, a)| a)
    .collect())
}

pub fn attachment(conn: &Connection, id: &str) -> Result<Option<Attachment>, VolumeError> {
    one(conn, "cinder_attachments", id)
}

pub fn put_attachment(conn: &Connection, attachment: &Attachment) -> Result<(), VolumeError> {
    conn.execute(
        "INSERT INTO cinder_attachments (id, volume_id, instance_uuid, body) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(id) DO UPDATE SET body = excluded.body, instance_uuid = excluded.instance_uuid",
        params![
            attachment.id,
            attachment.volume_id,
            attachment.instance_uuid,
            encode(attachment)
        ],
    )?;
    Ok(())
}

pub fn delete_attachment(conn: &Connection, id: &str) -> Result<(), VolumeError> {
    remove(conn, "cinder_attachments", id)
}

pub fn types(conn: &Connection) -> Result<Vec<(i64, VolumeType)>, VolumeError> {
    rows(conn, "cinder_types", "?1 IS NULL", None)
}

pub fn volume_type(conn: &Connection, id: &str) -> Result<Option<VolumeType>, VolumeError> {
    one(conn, "cinder_types", id)
}

pub fn type_by_name(conn: &Connection, name: &str) -> Result<Option<VolumeType>, VolumeError> {
    let body: Option<String> = conn
        .query_row(
            "SELECT body FROM cinder_types WHERE name = ?1",
            [name],
            |row| row.get(0),
        )
        .optional()?;
    body.map(|b| decode(&b)).transpose()
}

/// Stores a type; `false` if another type has its name.
pub fn put_type(conn: &Connection, volume_type: &VolumeType) -> Result<bool, VolumeError> {
    let result = conn.execute(
        "INSERT INTO cinder_types (id, name, body) VALUES (?1, ?2, ?3)
         ON CONFLICT(id) DO UPDATE SET name = excluded.name, body = excluded.body",
        params![volume_type.id, volume_type.name, encode(volume_type)],
    );
    match result {
        Ok(_) => Ok(true),
        Err(e) if oxistack_db::is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

pub fn delete_type(conn: &Connection, id: &str) -> Result<(), VolumeError> {
    conn.execute("DELETE FROM cinder_type_access WHERE type_id = ?1", [id])?;
    remove(conn, "cinder_types", id)
}

pub fn type_access(conn: &Connection, type_id: &str) -> Result<Vec<String>, VolumeError> {
    let mut statement = conn.prepare(
        "SELECT project_id FROM cinder_type_access WHERE type_id = ?1 ORDER BY project_id",
    )?;
    let found = statement.query_map([type_id], |row| row.get(0))?;
    Ok(found.collect::<Result<_, _>>()?)
}

/// Grants or revokes; whether anything changed.
pub fn set_type_access(
    conn: &Connection,
    type_id: &str,
    project_id: &str,
    granted: bool,
) -> Result<bool, VolumeError> {
    let changed = if granted {
        conn.execute(
            "INSERT OR IGNORE INTO cinder_type_access (type_id, project_id) VALUES (?1, ?2)",
            params![type_id, project_id],
        )?
    } else {
        conn.execute(
            "DELETE FROM cinder_type_access WHERE type_id = ?1 AND project_id = ?2",
            params![type_id, project_id],
        )?
    };
    Ok(changed > 0)
}

/// The limits set for `owner` in `table` (project or class quotas).
pub fn limits(
    conn: &Connection,
    table: QuotaTable,
    owner: &str,
) -> Result<Vec<(String, i64)>, VolumeError> {
    let (table, column) = table.names();
    let mut statement = conn.prepare(&format!(
        "SELECT resource, hard_limit FROM {table} WHERE {column} = ?1"
    ))?;
    let found = statement.query_map([owner], |row| Ok((row.get(0)?, row.get(1)?)))?;
    Ok(found.collect::<Result<_, _>>()?)
}

pub fn set_limit(
    conn: &Connection,
    table: QuotaTable,
    owner: &str,
    resource: &str,
    limit: i64,
) -> Result<(), VolumeError> {
    let (table, column) = table.names();
    conn.execute(
        &format!(
            "INSERT INTO {table} ({column}, resource, hard_limit) VALUES (?1, ?2, ?3)
             ON CONFLICT({column}, resource) DO UPDATE SET hard_limit = excluded.hard_limit"
        ),
        params![owner, resource, limit],
    )?;
    Ok(())
}

pub fn clear_limits(conn: &Connection, table: QuotaTable, owner: &str) -> Result<(), VolumeError> {
    let (table, column) = table.names();
    conn.execute(&format!("DELETE FROM {table} WHERE {column} = ?1"), [owner])?;
    Ok(())
}

#[derive(Debug, Clone, Copy)]
pub enum QuotaTable {
    Project,
    Class,
}

impl QuotaTable {
    fn names(self) -> (&'static str, &'static str) {
        match self {
            QuotaTable::Project => ("cinder_quotas", "project_id"),
            QuotaTable::Class => ("cinder_quota_classes", "class_name"),
        }
    }
}
