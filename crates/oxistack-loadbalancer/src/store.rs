//! The SQL, and nothing else. Every object is one row of `lbaas_objects`:
//! its id, its kind, the load balancer it belongs to, its project and its
//! record as JSON; the row's `rowid` is its creation order. A load
//! balancer's tree is read and written as a whole, which is how the
//! service changes it (one tree per request, one transaction).

use std::collections::HashMap;

use oxistack_db::Migration;
use oxistack_db::rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::model::{Kind, LoadBalancer, Tree};
use crate::service::LbError;

pub const MIGRATIONS: &[Migration] = &[
    "CREATE TABLE lbaas_objects (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        load_balancer_id TEXT NOT NULL,
        project_id TEXT NOT NULL,
        body TEXT NOT NULL
    );
    CREATE INDEX lbaas_objects_tree ON lbaas_objects (load_balancer_id);
    CREATE INDEX lbaas_objects_project ON lbaas_objects (project_id);
    CREATE TABLE lbaas_quotas (
        project_id TEXT PRIMARY KEY,
        body TEXT NOT NULL
    );",
    // Flavors, availability zones and their profiles: small documents by
    // kind and id (a zone's id is its name).
    "CREATE TABLE lbaas_catalog (
        kind TEXT NOT NULL,
        id TEXT NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (kind, id)
    );",
];

fn decode<T: DeserializeOwned>(body: &str) -> Result<T, LbError> {
    serde_json::from_str(body).map_err(|e| LbError::Internal(format!("a stored record: {e}")))
}

fn encode<T: Serialize>(record: &T) -> String {
    serde_json::to_string(record).expect("records serialize")
}

/// The trees of `project` (every project's for `None`), in creation order.
pub fn trees(conn: &Connection, project: Option<&str>) -> Result<Vec<Tree>, LbError> {
    let mut statement = conn.prepare(
        "SELECT rowid, id, kind, load_balancer_id, body FROM lbaas_objects
         WHERE ?1 IS NULL OR project_id = ?1 ORDER BY rowid",
    )?;
    let rows = statement.query_map([project], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, String>(2)?,
            row.get::<_, String>(3)?,
            row.get::<_, String>(4)?,
        ))
    })?;
    let mut trees: Vec<Tree> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut children = Vec::new();
    for row in rows {
        let (seq, id, kind, lb_id, body) = row?;
        if kind == Kind::LoadBalancer.as_str() {
            let mut tree = Tree::new(decode::<LoadBalancer>(&body)?);
            tree.seq.insert(id, seq);
            index.insert(lb_id, trees.len());
            trees.push(tree);
        } else {
            children.push((seq, id, kind, lb_id, body));
        }
    }
    for (seq, id, kind, lb_id, body) in children {
        let Some(&at) = index.get(&lb_id) else {
            continue;
        };
        let tree = &mut trees[at];
        tree.seq.insert(id, seq);
        match kind.as_str() {
            "listener" => tree.listeners.push(decode(&body)?),
            "pool" => tree.pools.push(decode(&body)?),
            "member" => tree.members.push(decode(&body)?),
            "healthmonitor" => tree.monitors.push(decode(&body)?),
            "l7policy" => tree.policies.push(decode(&body)?),
            "rule" => tree.rules.push(decode(&body)?),
            other => {
                return Err(LbError::Internal(format!(
                    "a stored object of kind {other}"
                )));
            }
        }
    }
    Ok(trees)
}

/// The tree of load balancer `lb_id`, if it exists.
pub fn tree(conn: &Connection, lb_id: &str) -> Result<Option<Tree>, LbError> {
    let project: Option<String> = conn
        .query_row(
            "SELECT project_id FROM lbaas_objects WHERE id = ?1 AND kind = 'loadbalancer'",
            [lb_id],
            |row| row.get(0),
        )
        .optional()?;
    let Some(project) = project else {
        return Ok(None);
    };
    Ok(trees(conn, Some(&project))?
        .into_iter()
        .find(|t| t.lb.id == lb_id))
}

/// The load balancer an object of `kind` with `id` belongs to.
pub fn owner(conn: &Connection, kind: Kind, id: &str) -> Result<Option<String>, LbError> {
    Ok(conn
        .query_row(
            "SELECT load_balancer_id FROM lbaas_objects WHERE id = ?1 AND kind = ?2",
            [id, kind.as_str()],
            |row| row.get(0),
        )
        .optional()?)
}

/// Writes `tree` as it now is: every object inserted or replaced (keeping
/// its creation order), those no longer in it deleted.
pub fn save(conn: &Connection, tree: &Tree) -> Result<(), LbError> {
    let lb_id = &tree.lb.id;
    let project = &tree.lb.project_id;
    let mut ids = Vec::new();
    let mut upsert = conn.prepare_cached(
        "INSERT INTO lbaas_objects (id, kind, load_balancer_id, project_id, body)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT(id) DO UPDATE SET body = excluded.body",
    )?;
    let mut put = |id: &str, kind: Kind, body: String| -> Result<(), LbError> {
        upsert.execute(params![id, kind.as_str(), lb_id, project, body])?;
        ids.push(id.to_owned());
        Ok(())
    };
    put(lb_id, Kind::LoadBalancer, encode(&tree.lb))?;
    for o in &tree.listeners {
        put(&o.id, Kind::Listener, encode(o))?;
    }
    for o in &tree.pools {
        put(&o.id, Kind::Pool, encode(o))?;
    }
    for o in &tree.members {
        put(&o.id, Kind::Member, encode(o))?;
    }
    for o in &tree.monitors {
        put(&o.id, Kind::HealthMonitor, encode(o))?;
    }
    for o in &tree.policies {
        put(&o.id, Kind::L7Policy, encode(o))?;
    }
    for o in &tree.rules {
        put(&o.id, Kind::L7Rule, encode(o))?;
    }
    conn.execute(
        "DELETE FROM lbaas_objects WHERE load_balancer_id = ?1
         AND id NOT IN (SELECT value FROM json_each(?2))",
        params![lb_id, encode(&ids)],
    )?;
    Ok(())
}

/// Deletes load balancer `lb_id` and everything under it.
pub fn delete_tree(conn: &Connection, lb_id: &str) -> Result<(), LbError> {
    conn.execute(
        "DELETE FROM lbaas_objects WHERE load_balancer_id = ?1",
        [lb_id],
    )?;
    Ok(())
}

/// A project's quota record, if it has one of its own.
pub fn quota(conn: &Connection, project: &str) -> Result<Option<serde_json::Value>, LbError> {
    let body: Option<String> = conn
        .query_row(
            "SELECT body FROM lbaas_quotas WHERE project_id = ?1",
            [project],
            |row| row.get(0),
        )
        .optional()?;
    body.map(|b| decode(&b)).transpose()
}

/// Every project's own quota record.
pub fn quotas(conn: &Connection) -> Result<Vec<(String, serde_json::Value)>, LbError> {
    let mut statement =
        conn.prepare("SELECT project_id, body FROM lbaas_quotas ORDER BY project_id")?;
    let rows = statement.query_map([], |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
    })?;
    let mut quotas = Vec::new();
    for row in rows {
        let (project, body) = row?;
        quotas.push((project, decode(&body)?));
    }
    Ok(quotas)
}

pub fn set_quota(
    conn: &Connection,
    project: &str,
    body: Option<&serde_json::Value>,
) -> Result<(), LbError> {
    match body {
        Some(body) => conn.execute(
            "INSERT INTO lbaas_quotas (project_id, body) VALUES (?1, ?2)
             ON CONFLICT(project_id) DO UPDATE SET body = excluded.body",
            params![project, encode(body)],
        )?,
        None => conn.execute("DELETE FROM lbaas_quotas WHERE project_id = ?1", [project])?,
    };
    Ok(())
}

/// Every entry of a catalog `kind`, in creation order.
pub fn catalog(conn: &Connection, kind: &str) -> Result<Vec<(i64, serde_json::Value)>, LbError> {
    let mut statement =
        conn.prepare("SELECT rowid, body FROM lbaas_catalog WHERE kind = ?1 ORDER BY rowid")?;
    let rows = statement.query_map([kind], |row| {
        Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
    })?;
    let mut entries = Vec::new();
    for row in rows {
        let (seq, body) = row?;
        entries.push((seq, decode(&body)?));
    }
    Ok(entries)
}

/// Writes a catalog entry (`None` deletes it).
pub fn set_catalog(
    conn: &Connection,
    kind: &str,
    id: &str,
    body: Option<&serde_json::Value>,
) -> Result<(), LbError> {
    match body {
        Some(body) => conn.execute(
            "INSERT INTO lbaas_catalog (kind, id, body) VALUES (?1, ?2, ?3)
             ON CONFLICT(kind, id) DO UPDATE SET body = excluded.body",
            params![kind, id, encode(body)],
        )?,
        None => conn.execute(
            "DELETE FROM lbaas_catalog WHERE kind = ?1 AND id = ?2",
            [kind, id],
        )?,
    };
    Ok(())
}

/// Whether any load balancer's record has `field` equal to `value` (a
/// flavor or zone in use).
pub fn load_balancer_uses(conn: &Connection, field: &str, value: &str) -> Result<bool, LbError> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM lbaas_objects WHERE kind = 'loadbalancer'
             AND json_extract(body, '$.' || ?1) = ?2 LIMIT 1",
            [field, value],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}
