//! The database layer: one SQLite file per cloud, opened in WAL mode with
//! `synchronous=FULL` so that an acknowledged write survives `kill -9` and
//! power loss alike.
//!
//! SQLite allows one writer at a time, so writes go through a single
//! connection behind a mutex, on tokio's blocking pool so an fsync never
//! stalls the async runtime; reads use a small pool of connections that run
//! concurrently with the writer.
//!
//! Each service owns its tables and hands its ordered list of migrations to
//! [`Db::migrate`]; the applied versions are recorded per service in
//! `schema_migrations`, so services evolve their schemas independently.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OpenFlags, Transaction};

pub use rusqlite;

pub mod time;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("migration {version} of {component} failed: {source}")]
    Migration {
        component: String,
        version: usize,
        source: rusqlite::Error,
    },
    #[error(
        "the database at {path} was written by a newer oxistack ({component} schema version {found}, this build knows {known})"
    )]
    TooNew {
        path: PathBuf,
        component: String,
        found: usize,
        known: usize,
    },
}

/// A schema change: SQL run once, in order, inside one transaction.
pub type Migration = &'static str;

/// How many read connections are kept open; more are opened on demand
/// under a burst and closed again when the pool is full.
const READ_POOL_SIZE: usize = 8;

struct Inner {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
}

/// A cheap-to-clone handle on the cloud's database.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

impl Db {
    /// Opens (creating if needed) the database file at `path`.
    pub fn open(path: &Path) -> Result<Db, DbError> {
        let writer = open_connection(path, true)?;
        writer.pragma_update(None, "journal_mode", "WAL")?;
        writer.execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                component TEXT PRIMARY KEY,
                version INTEGER NOT NULL
            )",
        )?;
        Ok(Db {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                writer: Mutex::new(writer),
                readers: Mutex::new(Vec::new()),
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Brings `component`'s tables up to date by applying the migrations it
    /// has not seen yet, each in its own transaction.
    pub fn migrate(&self, component: &str, migrations: &[Migration]) -> Result<(), DbError> {
        let mut conn = self.inner.writer.lock().unwrap_or_else(|e| e.into_inner());
        let applied: usize = conn
            .query_row(
                "SELECT version FROM schema_migrations WHERE component = ?1",
                [component],
                |row| row.get::<_, i64>(0),
            )
            .map(|v| v as usize)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(0),
                e => Err(e),
            })?;
        if applied > migrations.len() {
            return Err(DbError::TooNew {
                path: self.inner.path.clone(),
                component: component.to_owned(),
                found: applied,
                known: migrations.len(),
            });
        }
        for (index, sql) in migrations.iter().enumerate().skip(applied) {
            let version = index + 1;
            let wrap = |source| DbError::Migration {
                component: component.to_owned(),
                version,
                source,
            };
            let tx = conn.transaction().map_err(wrap)?;
            tx.execute_batch(sql).map_err(wrap)?;
            tx.execute(
                "INSERT INTO schema_migrations (component, version) VALUES (?1, ?2)
                 ON CONFLICT(component) DO UPDATE SET version = excluded.version",
                rusqlite::params![component, version as i64],
            )
            .map_err(wrap)?;
            tx.commit().map_err(wrap)?;
            tracing::info!(component, version, "applied schema migration");
        }
        Ok(())
    }

    /// Runs `f` on a read connection. Reads see the last committed state.
    ///
    /// Reads run on the calling task's thread: in WAL mode they never wait
    /// for the writer or for an fsync, and API reads are short, so a trip to
    /// the blocking pool would cost more than the query itself.
    pub async fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let pooled = self
            .inner
            .readers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop();
        let conn = match pooled {
            Some(conn) => conn,
            None => open_connection(&self.inner.path, false)?,
        };
        let result = f(&conn);
        let mut pool = self.inner.readers.lock().unwrap_or_else(|e| e.into_inner());
        if pool.len() < READ_POOL_SIZE {
            pool.push(conn);
        }
        result
    }

    /// Runs `f` inside a write transaction, committed only if `f` succeeds:
    /// a failed request changes nothing.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&Transaction) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let inner = self.inner.clone();
        run_blocking(move || {
            let mut conn = inner.writer.lock().unwrap_or_else(|e| e.into_inner());
            let tx = conn.transaction().map_err(DbError::from)?;
            let value = f(&tx)?;
            tx.commit().map_err(DbError::from)?;
            Ok(value)
        })
        .await
    }

    /// Synchronous write, for start-up code that runs before the runtime
    /// serves requests (bootstrap, migrations of data).
    pub fn write_blocking<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&Transaction) -> Result<T, E>,
        E: From<DbError>,
    {
        let mut conn = self.inner.writer.lock().unwrap_or_else(|e| e.into_inner());
        let tx = conn.transaction().map_err(DbError::from)?;
        let value = f(&tx)?;
        tx.commit().map_err(DbError::from)?;
        Ok(value)
    }
}

async fn run_blocking<T, E, F>(f: F) -> Result<T, E>
where
    F: FnOnce() -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result,
        // A panic inside a query is a bug; surface it where it happened.
        Err(join_error) => std::panic::resume_unwind(join_error.into_panic()),
    }
}

fn open_connection(path: &Path, create: bool) -> Result<Connection, DbError> {
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let conn = Connection::open_with_flags(path, flags)?;
    // FULL: the WAL is fsynced at every commit, so an acknowledged write is
    // on disk before the client hears about it.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(conn)
}

/// True when a statement failed on a UNIQUE or PRIMARY KEY constraint,
/// which services report as 409 Conflict.
pub fn is_unique_violation(err: &rusqlite::Error) -> bool {
    matches!(
        err,
        rusqlite::Error::SqliteFailure(e, _)
            if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn committed_writes_are_visible_and_failed_ones_roll_back() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.db")).unwrap();
        db.migrate("test", &["CREATE TABLE t (v INTEGER NOT NULL)"])
            .unwrap();

        db.write(|tx| {
            tx.execute("INSERT INTO t VALUES (1)", [])
                .map_err(DbError::from)
        })
        .await
        .unwrap();
        let failed: Result<(), DbError> = db
            .write(|tx| {
                tx.execute("INSERT INTO t VALUES (2)", [])?;
                Err(DbError::Sqlite(rusqlite::Error::QueryReturnedNoRows))
            })
            .await;
        assert!(failed.is_err());
        let values: Vec<i64> = db
            .read(|c| {
                let mut stmt = c.prepare("SELECT v FROM t")?;
                let rows = stmt.query_map([], |r| r.get(0))?;
                rows.collect::<Result<_, _>>().map_err(DbError::from)
            })
            .await
            .unwrap();
        assert_eq!(values, vec![1]);
    }

    #[test]
    fn migrations_apply_once_and_resume() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let first = ["CREATE TABLE a (x INTEGER)"];
        Db::open(&path).unwrap().migrate("svc", &first).unwrap();
        // Re-running the same list is a no-op; a longer list applies only the tail.
        let db = Db::open(&path).unwrap();
        db.migrate("svc", &first).unwrap();
        db.migrate("svc", &[first[0], "ALTER TABLE a ADD COLUMN y TEXT"])
            .unwrap();
        // An older build refuses a newer database rather than corrupting it.
        assert!(matches!(
            db.migrate("svc", &first),
            Err(DbError::TooNew { .. })
        ));
    }
}
