//! Application credentials: a secret a user mints for a program (the
//! Kubernetes cloud provider, Cluster API) that authenticates as that user
//! on one project with at most the roles chosen at creation.

use chrono::{DateTime, Utc};
use oxistack_db::rusqlite::{self, Connection, OptionalExtension, Row, params};

use super::{Result, run};

#[derive(Debug, Clone)]
pub struct AppCredential {
    pub id: String,
    pub name: String,
    pub user_id: String,
    pub project_id: String,
    pub secret_hash: String,
    pub description: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub unrestricted: bool,
    pub role_ids: Vec<String>,
}

const COLUMNS: &str =
    "id, name, user_id, project_id, secret_hash, description, expires_at, unrestricted, role_ids";

fn from_row(row: &Row) -> rusqlite::Result<AppCredential> {
    let expires_at: Option<String> = row.get(6)?;
    let role_ids: String = row.get(8)?;
    Ok(AppCredential {
        id: row.get(0)?,
        name: row.get(1)?,
        user_id: row.get(2)?,
        project_id: row.get(3)?,
        secret_hash: row.get(4)?,
        description: row.get(5)?,
        expires_at: expires_at
            .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
            .map(|t| t.with_timezone(&Utc)),
        unrestricted: row.get(7)?,
        role_ids: serde_json::from_str(&role_ids).unwrap_or_default(),
    })
}

pub fn load(conn: &Connection, id: &str) -> Result<Option<AppCredential>> {
    let sql = format!("SELECT {COLUMNS} FROM application_credentials WHERE id = ?1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([id], from_row)
        .optional()?)
}

pub fn load_by_name(conn: &Connection, user_id: &str, name: &str) -> Result<Option<AppCredential>> {
    let sql =
        format!("SELECT {COLUMNS} FROM application_credentials WHERE user_id = ?1 AND name = ?2");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([user_id, name], from_row)
        .optional()?)
}

pub fn list(conn: &Connection, user_id: &str, name: Option<&str>) -> Result<Vec<AppCredential>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM application_credentials
         WHERE user_id = ?1 AND (?2 IS NULL OR name = ?2) ORDER BY name"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![user_id, name], from_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

pub fn insert(conn: &Connection, credential: &AppCredential) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO application_credentials
             (id, name, user_id, project_id, secret_hash, description, expires_at, unrestricted, role_ids)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            credential.id,
            credential.name,
            credential.user_id,
            credential.project_id,
            credential.secret_hash,
            credential.description,
            credential.expires_at.map(|t| t.to_rfc3339()),
            credential.unrestricted,
            serde_json::to_string(&credential.role_ids).unwrap_or_else(|_| "[]".into()),
        ],
    )?;
    Ok(())
}

/// Deletes a credential (the tokens issued for it are revoked apart).
pub fn delete(conn: &Connection, id: &str) -> Result<()> {
    run(
        conn,
        "DELETE FROM application_credentials WHERE id = ?1",
        [id],
    )
    .map(drop)
}
