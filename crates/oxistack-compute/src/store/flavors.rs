//! Flavors, their extra specs and the projects allowed to use private ones.

use std::collections::{BTreeMap, HashMap};

use crate::service::ComputeError;
use oxistack_db::is_unique_violation;
use oxistack_db::rusqlite::{Connection, OptionalExtension, Row, params};

use super::{Sql, time_column};
use crate::model::{Flavor, storage_time};

const COLUMNS: &str = "id, name, memory_mb, vcpus, root_gb, ephemeral_gb, swap, rxtx_factor, \
    is_public, disabled, description, created_at";

fn from_row(row: &Row) -> oxistack_db::rusqlite::Result<Flavor> {
    Ok(Flavor {
        id: row.get(0)?,
        name: row.get(1)?,
        ram: row.get(2)?,
        vcpus: row.get(3)?,
        disk: row.get(4)?,
        ephemeral: row.get(5)?,
        swap: row.get(6)?,
        rxtx_factor: row.get(7)?,
        is_public: row.get(8)?,
        disabled: row.get(9)?,
        description: row.get(10)?,
        extra_specs: BTreeMap::new(),
        created_at: time_column(row, 11)?,
    })
}

/// Which flavors a listing includes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visibility {
    All,
    PrivateOnly,
    /// Public flavors and the private ones `project` was given access to:
    /// what a project member sees.
    UsableBy(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortDir {
    Asc,
    Desc,
}

impl SortDir {
    pub fn sql(self) -> &'static str {
        match self {
            SortDir::Asc => "ASC",
            SortDir::Desc => "DESC",
        }
    }
}

/// The columns a flavor list may be sorted on, by Nova's names.
pub fn sort_column(key: &str) -> Option<&'static str> {
    Some(match key {
        "flavorid" | "id" => "id",
        "name" => "name",
        "memory_mb" => "memory_mb",
        "vcpus" => "vcpus",
        "root_gb" => "root_gb",
        "ephemeral_gb" => "ephemeral_gb",
        "swap" => "swap",
        "rxtx_factor" => "rxtx_factor",
        "is_public" => "is_public",
        "disabled" => "disabled",
        "created_at" => "created_at",
        _ => return None,
    })
}

/// What a flavor list asks for, whoever asks.
#[derive(Debug, Clone)]
pub struct FlavorSelection {
    pub min_ram: Option<u64>,
    pub min_disk: Option<u64>,
    /// A column of [`sort_column`].
    pub sort_column: &'static str,
    pub sort_dir: SortDir,
    pub limit: usize,
    pub marker: Option<String>,
}

/// A selection within what its caller may see.
#[derive(Debug, Clone)]
pub struct FlavorQuery {
    pub visibility: Visibility,
    pub include_disabled: bool,
    pub selection: FlavorSelection,
}

/// Flavor `id` with its extra specs, whoever may see it.
pub fn find(conn: &Connection, id: &str) -> Result<Option<Flavor>, ComputeError> {
    let sql = format!("SELECT {COLUMNS} FROM compute_flavors WHERE id = ?1");
    let flavor = conn
        .prepare_cached(&sql)?
        .query_row([id], from_row)
        .optional()?;
    let Some(mut flavor) = flavor else {
        return Ok(None);
    };
    flavor.extra_specs = extra_specs(conn, id)?;
    Ok(Some(flavor))
}

/// Whether `project` may use flavor `flavor` (public, or shared with it).
pub fn usable_by(conn: &Connection, flavor: &Flavor, project: &str) -> Result<bool, ComputeError> {
    if flavor.is_public {
        return Ok(true);
    }
    let shared = conn
        .prepare_cached(
            "SELECT 1 FROM compute_flavor_projects WHERE flavor_id = ?1 AND project_id = ?2",
        )?
        .exists(params![flavor.id, project])?;
    Ok(shared)
}

/// The flavors matching `query`, with their extra specs, in its order and
/// after its marker. A marker the query cannot see is a 400.
pub fn list(conn: &Connection, query: &FlavorQuery) -> Result<Vec<Flavor>, ComputeError> {
    let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM compute_flavors f WHERE 1"));
    visibility_condition(&mut sql, &query.visibility);
    if !query.include_disabled {
        sql.text(" AND f.disabled = 0");
    }
    if let Some(min_ram) = query.selection.min_ram {
        sql.text(" AND f.memory_mb >= ").bind(min_ram as i64);
    }
    if let Some(min_disk) = query.selection.min_disk {
        sql.text(" AND f.root_gb >= ").bind(min_disk as i64);
    }
    let (column, dir) = (query.selection.sort_column, query.selection.sort_dir);
    if let Some(marker) = &query.selection.marker {
        let mut check = Sql::new("SELECT 1 FROM compute_flavors f WHERE f.id = ");
        check.bind(marker.clone());
        visibility_condition(&mut check, &query.visibility);
        if check.query(conn, |_| Ok(()))?.is_empty() {
            return Err(ComputeError::invalid(format!(
                "marker [{marker}] not found"
            )));
        }
        let after = match dir {
            SortDir::Asc => ">",
            SortDir::Desc => "<",
        };
        let marker_value = |c: &str| format!("(SELECT m.{c} FROM compute_flavors m WHERE m.id = ");
        sql.text(&format!(" AND (f.{column} {after} "))
            .text(&marker_value(column))
            .bind(marker.clone())
            .text(&format!(") OR (f.{column} = "))
            .text(&marker_value(column))
            .bind(marker.clone())
            .text(&format!(") AND f.id {after} "))
            .bind(marker.clone())
            .text("))");
    }
    sql.text(&format!(
        " ORDER BY f.{column} {0}, f.id {0} LIMIT ",
        dir.sql()
    ))
    .bind(query.selection.limit as i64);
    let mut flavors = sql.query(conn, from_row)?;
    let mut specs = extra_specs_of(conn, flavors.iter().map(|f| f.id.as_str()))?;
    for flavor in &mut flavors {
        flavor.extra_specs = specs.remove(&flavor.id).unwrap_or_default();
    }
    Ok(flavors)
}

fn visibility_condition(sql: &mut Sql, visibility: &Visibility) {
    match visibility {
        Visibility::All => {}
        Visibility::PrivateOnly => {
            sql.text(" AND f.is_public = 0");
        }
        Visibility::UsableBy(project) => {
            sql.text(" AND (f.is_public = 1 OR EXISTS (SELECT 1 FROM compute_flavor_projects p")
                .text(" WHERE p.flavor_id = f.id AND p.project_id = ")
                .bind(project.clone())
                .text("))");
        }
    }
}

/// Inserts `flavor`; a taken id or name is a 409 naming it.
pub fn insert(conn: &Connection, flavor: &Flavor) -> Result<(), ComputeError> {
    if conn
        .prepare_cached("SELECT 1 FROM compute_flavors WHERE name = ?1")?
        .exists([&flavor.name])?
    {
        return Err(ComputeError::conflict(format!(
            "Flavor with name {} already exists.",
            flavor.name
        )));
    }
    let inserted = conn.execute(
        &format!(
            "INSERT INTO compute_flavors ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
        ),
        params![
            flavor.id,
            flavor.name,
            flavor.ram,
            flavor.vcpus,
            flavor.disk,
            flavor.ephemeral,
            flavor.swap,
            flavor.rxtx_factor,
            flavor.is_public,
            flavor.disabled,
            flavor.description,
            storage_time(&flavor.created_at),
        ],
    );
    match inserted {
        Err(e) if is_unique_violation(&e) => Err(ComputeError::conflict(format!(
            "Flavor with ID {} already exists.",
            flavor.id
        ))),
        other => other.map(drop).map_err(ComputeError::from),
    }?;
    for (key, value) in &flavor.extra_specs {
        set_extra_spec(conn, &flavor.id, key, value)?;
    }
    Ok(())
}

pub fn set_description(
    conn: &Connection,
    id: &str,
    description: Option<&str>,
) -> Result<(), ComputeError> {
    conn.prepare_cached("UPDATE compute_flavors SET description = ?2 WHERE id = ?1")?
        .execute(params![id, description])?;
    Ok(())
}

pub fn delete(conn: &Connection, id: &str) -> Result<(), ComputeError> {
    conn.prepare_cached("DELETE FROM compute_flavors WHERE id = ?1")?
        .execute([id])?;
    Ok(())
}

pub fn extra_specs(conn: &Connection, id: &str) -> Result<BTreeMap<String, String>, ComputeError> {
    Ok(extra_specs_of(conn, [id])?.remove(id).unwrap_or_default())
}

fn extra_specs_of<'a>(
    conn: &Connection,
    ids: impl IntoIterator<Item = &'a str>,
) -> Result<HashMap<String, BTreeMap<String, String>>, ComputeError> {
    let mut sql = Sql::new(
        "SELECT flavor_id, key, value FROM compute_flavor_extra_specs WHERE flavor_id IN ",
    );
    sql.bind_list(ids.into_iter().map(str::to_owned));
    let mut specs: HashMap<String, BTreeMap<String, String>> = HashMap::new();
    for (flavor, key, value) in
        sql.query(conn, |r| Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?)))?
    {
        specs.entry(flavor).or_default().insert(key, value);
    }
    Ok(specs)
}

pub fn set_extra_spec(
    conn: &Connection,
    id: &str,
    key: &str,
    value: &str,
) -> Result<(), ComputeError> {
    conn.prepare_cached(
        "INSERT INTO compute_flavor_extra_specs (flavor_id, key, value) VALUES (?1, ?2, ?3)
         ON CONFLICT (flavor_id, key) DO UPDATE SET value = excluded.value",
    )?
    .execute(params![id, key, value])?;
    Ok(())
}

/// Removes one extra spec; false if the flavor had no such key.
pub fn delete_extra_spec(conn: &Connection, id: &str, key: &str) -> Result<bool, ComputeError> {
    let removed = conn
        .prepare_cached("DELETE FROM compute_flavor_extra_specs WHERE flavor_id = ?1 AND key = ?2")?
        .execute(params![id, key])?;
    Ok(removed > 0)
}

/// The projects a private flavor is shared with.
pub fn access(conn: &Connection, id: &str) -> Result<Vec<String>, ComputeError> {
    let mut statement = conn.prepare_cached(
        "SELECT project_id FROM compute_flavor_projects WHERE flavor_id = ?1 ORDER BY project_id",
    )?;
    let projects = statement.query_map([id], |r| r.get(0))?;
    Ok(projects.collect::<Result<_, _>>()?)
}

/// Shares a private flavor with `project`; false if it already was.
pub fn add_access(conn: &Connection, id: &str, project: &str) -> Result<bool, ComputeError> {
    let added = conn
        .prepare_cached(
            "INSERT INTO compute_flavor_projects (flavor_id, project_id) VALUES (?1, ?2)
             ON CONFLICT DO NOTHING",
        )?
        .execute(params![id, project])?;
    Ok(added > 0)
}

/// Stops sharing a flavor with `project`; false if it was not shared.
pub fn remove_access(conn: &Connection, id: &str, project: &str) -> Result<bool, ComputeError> {
    let removed = conn
        .prepare_cached(
            "DELETE FROM compute_flavor_projects WHERE flavor_id = ?1 AND project_id = ?2",
        )?
        .execute(params![id, project])?;
    Ok(removed > 0)
}
