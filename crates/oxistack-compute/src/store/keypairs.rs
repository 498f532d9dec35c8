//! Key pairs, owned by users (not projects), as in Nova.

use crate::service::ComputeError;
use oxistack_db::is_unique_violation;
use oxistack_db::rusqlite::{Connection, OptionalExtension, Row, params};

use super::time_column;
use crate::model::{Keypair, storage_time};

const COLUMNS: &str = "number, user_id, name, public_key, fingerprint, created_at";

/// The only key type stored; Nova's `x509` is refused at the API.
pub const SSH: &str = "ssh";

fn from_row(row: &Row) -> oxistack_db::rusqlite::Result<Keypair> {
    Ok(Keypair {
        number: row.get(0)?,
        user_id: row.get(1)?,
        name: row.get(2)?,
        public_key: row.get(3)?,
        fingerprint: row.get(4)?,
        created_at: time_column(row, 5)?,
    })
}

pub fn find(conn: &Connection, user_id: &str, name: &str) -> Result<Option<Keypair>, ComputeError> {
    let sql = format!("SELECT {COLUMNS} FROM compute_keypairs WHERE user_id = ?1 AND name = ?2");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![user_id, name], from_row)
        .optional()?)
}

/// A user's key pairs by name, after `marker` (a name), at most `limit`.
pub fn list(
    conn: &Connection,
    user_id: &str,
    marker: Option<&str>,
    limit: usize,
) -> Result<Vec<Keypair>, ComputeError> {
    if let Some(marker) = marker
        && find(conn, user_id, marker)?.is_none()
    {
        return Err(ComputeError::invalid(format!(
            "marker [{marker}] not found"
        )));
    }
    let sql = format!(
        "SELECT {COLUMNS} FROM compute_keypairs WHERE user_id = ?1 AND name > ?2 ORDER BY name LIMIT ?3"
    );
    let mut statement = conn.prepare_cached(&sql)?;
    let rows = statement.query_map(
        params![user_id, marker.unwrap_or(""), limit as i64],
        from_row,
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn count(conn: &Connection, user_id: &str) -> Result<u64, ComputeError> {
    Ok(conn
        .prepare_cached("SELECT COUNT(*) FROM compute_keypairs WHERE user_id = ?1")?
        .query_row([user_id], |r| r.get(0))?)
}

/// Stores a new key pair and fills in its number; a taken name is a 409.
pub fn insert(conn: &Connection, keypair: &mut Keypair) -> Result<(), ComputeError> {
    let inserted = conn
        .prepare_cached(
            "INSERT INTO compute_keypairs (user_id, name, type, public_key, fingerprint, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![
            keypair.user_id,
            keypair.name,
            SSH,
            keypair.public_key,
            keypair.fingerprint,
            storage_time(&keypair.created_at),
        ]);
    match inserted {
        Err(e) if is_unique_violation(&e) => {
            return Err(ComputeError::conflict(format!(
                "Key pair '{}' already exists.",
                keypair.name
            )));
        }
        other => other?,
    };
    keypair.number = conn.last_insert_rowid();
    Ok(())
}

/// Deletes a key pair; false if the user has none by that name.
pub fn delete(conn: &Connection, user_id: &str, name: &str) -> Result<bool, ComputeError> {
    let removed = conn
        .prepare_cached("DELETE FROM compute_keypairs WHERE user_id = ?1 AND name = ?2")?
        .execute(params![user_id, name])?;
    Ok(removed > 0)
}
