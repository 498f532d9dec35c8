//! Servers: one row each, their small collections in JSON columns.

use std::collections::HashMap;
use std::sync::LazyLock;

use crate::service::ComputeError;
use chrono::{DateTime, Utc};
use oxistack_db::rusqlite::types::Value as SqlValue;
use oxistack_db::rusqlite::{Connection, OptionalExtension, Row, params};

use super::flavors::SortDir;
use super::{Sql, json_column, optional_time_column, time_column, to_json};
use crate::model::{
    Fault, FlavorSnapshot, LockedBy, PowerState, Server, TaskState, VmState, storage_time,
};

const COLUMNS: &str = "number, id, project_id, user_id, name, description, hostname, image_id, \
    image_properties, flavor_id, flavor_name, vcpus, memory_mb, root_gb, ephemeral_gb, swap, \
    flavor_extra_specs, key_name, key_data, user_data, config_drive, metadata, tags, \
    security_groups, requested_networks, scheduler_hints, server_group_id, availability_zone, \
    host, reservation_id, launch_index, status, vm_state, task_state, power_state, locked_by, \
    locked_reason, fault_code, fault_message, fault_created, access_ipv4, access_ipv6, \
    disk_config, created_at, updated_at, launched_at, block_devices";

fn from_row(row: &Row) -> oxistack_db::rusqlite::Result<Server> {
    let bad_state = |index: usize, text: String| {
        oxistack_db::rusqlite::Error::FromSqlConversionFailure(
            index,
            oxistack_db::rusqlite::types::Type::Text,
            format!("unknown state {text}").into(),
        )
    };
    let vm_state: String = row.get(32)?;
    let task_state: Option<String> = row.get(33)?;
    let locked_by: Option<String> = row.get(35)?;
    let fault_code: Option<u16> = row.get(37)?;
    Ok(Server {
        number: row.get(0)?,
        id: row.get(1)?,
        project_id: row.get(2)?,
        user_id: row.get(3)?,
        name: row.get(4)?,
        description: row.get(5)?,
        hostname: row.get(6)?,
        image_id: row.get(7)?,
        image_properties: json_column(row, 8)?,
        flavor: FlavorSnapshot {
            id: row.get(9)?,
            name: row.get(10)?,
            vcpus: row.get(11)?,
            ram: row.get(12)?,
            disk: row.get(13)?,
            ephemeral: row.get(14)?,
            swap: row.get(15)?,
            extra_specs: json_column(row, 16)?,
        },
        key_name: row.get(17)?,
        key_data: row.get(18)?,
        user_data: row.get(19)?,
        config_drive: row.get(20)?,
        metadata: json_column(row, 21)?,
        tags: json_column(row, 22)?,
        security_groups: json_column(row, 23)?,
        requested_networks: json_column(row, 24)?,
        scheduler_hints: json_column(row, 25)?,
        server_group_id: row.get(26)?,
        availability_zone: row.get(27)?,
        host: row.get(28)?,
        reservation_id: row.get(29)?,
        launch_index: row.get(30)?,
        vm_state: VmState::parse(&vm_state).ok_or_else(|| bad_state(32, vm_state.clone()))?,
        task_state: match task_state {
            Some(text) => Some(TaskState::parse(&text).ok_or_else(|| bad_state(33, text.clone()))?),
            None => None,
        },
        power_state: PowerState::from_code(row.get(34)?),
        locked_by: match locked_by {
            Some(text) => Some(LockedBy::parse(&text).ok_or_else(|| bad_state(35, text.clone()))?),
            None => None,
        },
        locked_reason: row.get(36)?,
        fault: match fault_code {
            Some(code) => Some(Fault {
                code,
                message: row.get::<_, Option<String>>(38)?.unwrap_or_default(),
                created: optional_time_column(row, 39)?.unwrap_or_default(),
            }),
            None => None,
        },
        access_ipv4: row.get(40)?,
        access_ipv6: row.get(41)?,
        disk_config: row.get(42)?,
        created_at: time_column(row, 43)?,
        updated_at: time_column(row, 44)?,
        launched_at: optional_time_column(row, 45)?,
        block_devices: json_column(row, 46)?,
    })
}

/// The columns written on insert and save: all but `number`.
fn written_columns() -> impl Iterator<Item = &'static str> {
    COLUMNS.split(',').map(str::trim).skip(1)
}

static INSERT: LazyLock<String> = LazyLock::new(|| {
    let columns: Vec<&str> = written_columns().collect();
    let placeholders: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
    format!(
        "INSERT INTO compute_servers ({}) VALUES ({})",
        columns.join(", "),
        placeholders.join(", ")
    )
});

static SAVE: LazyLock<String> = LazyLock::new(|| {
    let assignments: Vec<String> = written_columns()
        .enumerate()
        .map(|(i, column)| format!("{column} = ?{}", i + 1))
        .collect();
    format!(
        "UPDATE compute_servers SET {} WHERE number = ?{}",
        assignments.join(", "),
        assignments.len() + 1
    )
});

/// Inserts a new server and fills in its number.
pub fn insert(conn: &Connection, server: &mut Server) -> Result<(), ComputeError> {
    let values = row_values(server)?;
    conn.prepare_cached(&INSERT)?
        .execute(oxistack_db::rusqlite::params_from_iter(values.iter()))?;
    server.number = conn.last_insert_rowid();
    Ok(())
}

/// Writes every column of `server` over the stored row.
pub fn save(conn: &Connection, server: &Server) -> Result<(), ComputeError> {
    let mut values = row_values(server)?;
    values.push(SqlValue::Integer(server.number));
    conn.prepare_cached(&SAVE)?
        .execute(oxistack_db::rusqlite::params_from_iter(values.iter()))?;
    Ok(())
}

/// The values of every column but `number`, in [`COLUMNS`] order.
fn row_values(s: &Server) -> Result<Vec<SqlValue>, ComputeError> {
    let text = |v: &str| SqlValue::Text(v.to_owned());
    let optional = |v: Option<&str>| v.map_or(SqlValue::Null, text);
    let number = |v: u64| SqlValue::Integer(v as i64);
    Ok(vec![
        text(&s.id),
        text(&s.project_id),
        text(&s.user_id),
        text(&s.name),
        optional(s.description.as_deref()),
        text(&s.hostname),
        text(&s.image_id),
        SqlValue::Text(to_json(&s.image_properties)?),
        text(&s.flavor.id),
        text(&s.flavor.name),
        number(s.flavor.vcpus.into()),
        number(s.flavor.ram),
        number(s.flavor.disk),
        number(s.flavor.ephemeral),
        number(s.flavor.swap),
        SqlValue::Text(to_json(&s.flavor.extra_specs)?),
        optional(s.key_name.as_deref()),
        optional(s.key_data.as_deref()),
        optional(s.user_data.as_deref()),
        SqlValue::Integer(s.config_drive.into()),
        SqlValue::Text(to_json(&s.metadata)?),
        SqlValue::Text(to_json(&s.tags)?),
        SqlValue::Text(to_json(&s.security_groups)?),
        SqlValue::Text(to_json(&s.requested_networks)?),
        SqlValue::Text(to_json(&s.scheduler_hints)?),
        optional(s.server_group_id.as_deref()),
        optional(s.availability_zone.as_deref()),
        optional(s.host.as_deref()),
        text(&s.reservation_id),
        number(s.launch_index.into()),
        text(s.status()),
        text(s.vm_state.as_str()),
        optional(s.task_state.map(TaskState::as_str)),
        number(s.power_state.code().into()),
        optional(s.locked_by.map(LockedBy::as_str)),
        optional(s.locked_reason.as_deref()),
        s.fault
            .as_ref()
            .map_or(SqlValue::Null, |f| number(f.code.into())),
        optional(s.fault.as_ref().map(|f| f.message.as_str())),
        s.fault
            .as_ref()
            .map_or(SqlValue::Null, |f| SqlValue::Text(storage_time(&f.created))),
        text(&s.access_ipv4),
        text(&s.access_ipv6),
        text(&s.disk_config),
        SqlValue::Text(storage_time(&s.created_at)),
        SqlValue::Text(storage_time(&s.updated_at)),
        s.launched_at
            .as_ref()
            .map_or(SqlValue::Null, |t| SqlValue::Text(storage_time(t))),
        SqlValue::Text(to_json(&s.block_devices)?),
    ])
}

pub fn find(conn: &Connection, id: &str) -> Result<Option<Server>, ComputeError> {
    let sql = format!("SELECT {COLUMNS} FROM compute_servers WHERE id = ?1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([id], from_row)
        .optional()?)
}

pub fn delete(conn: &Connection, id: &str) -> Result<(), ComputeError> {
    conn.prepare_cached("DELETE FROM compute_servers WHERE id = ?1")?
        .execute([id])?;
    Ok(())
}

/// Every server, for re-driving work after a restart.
pub fn all(conn: &Connection) -> Result<Vec<Server>, ComputeError> {
    Sql::new(&format!(
        "SELECT {COLUMNS} FROM compute_servers ORDER BY number"
    ))
    .query(conn, from_row)
}

/// The keys a server list may be sorted on (Nova's names) and the
/// expression each sorts by; none is NULL, so markers compare cleanly.
pub fn sort_expression(key: &str) -> Option<&'static str> {
    Some(match key {
        "created_at" => "s.created_at",
        "updated_at" => "s.updated_at",
        "display_name" => "s.name",
        "display_description" => "COALESCE(s.description, '')",
        "uuid" => "s.id",
        "hostname" => "s.hostname",
        "vm_state" => "s.vm_state",
        "task_state" => "COALESCE(s.task_state, '')",
        "power_state" => "s.power_state",
        "launched_at" => "COALESCE(s.launched_at, '')",
        "key_name" => "COALESCE(s.key_name, '')",
        "availability_zone" => "COALESCE(s.availability_zone, '')",
        "host" | "node" => "COALESCE(s.host, '')",
        "image_ref" => "s.image_id",
        "instance_type_id" => "s.flavor_id",
        "project_id" => "s.project_id",
        "user_id" => "s.user_id",
        "reservation_id" => "s.reservation_id",
        "launch_index" => "s.launch_index",
        "locked" => "(s.locked_by IS NOT NULL)",
        "locked_by" => "COALESCE(s.locked_by, '')",
        _ => return None,
    })
}

/// What a server list asks the database for. Filters that are regular
/// expressions (`name`, `ip`) are applied by the caller afterwards.
#[derive(Debug, Clone, Default)]
pub struct ServerQuery {
    /// Only this project's servers; `None` lists every project.
    pub project: Option<String>,
    pub user_id: Option<String>,
    pub statuses: Vec<String>,
    pub image_id: Option<String>,
    pub flavor_id: Option<String>,
    pub reservation_id: Option<String>,
    pub key_name: Option<String>,
    pub availability_zone: Option<String>,
    pub host: Option<String>,
    pub uuid: Option<String>,
    pub locked: Option<bool>,
    pub changes_since: Option<DateTime<Utc>>,
    pub changes_before: Option<DateTime<Utc>>,
    pub tags: Vec<String>,
    pub tags_any: Vec<String>,
    pub not_tags: Vec<String>,
    pub not_tags_any: Vec<String>,
    /// Sort expressions from [`sort_expression`], most significant first.
    pub sort: Vec<(&'static str, SortDir)>,
    pub marker: Option<String>,
    /// At most this many rows; `None` when the caller filters further.
    pub limit: Option<usize>,
}

/// The servers matching `query`, in its order, after its marker (which
/// must be a server the query could list, else 400).
pub fn list(conn: &Connection, query: &ServerQuery) -> Result<Vec<Server>, ComputeError> {
    let mut order: Vec<(&str, SortDir)> = query.sort.clone();
    let last_dir = order.last().map_or(SortDir::Desc, |(_, dir)| *dir);
    order.push(("s.id", last_dir));

    let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM compute_servers s WHERE 1"));
    if let Some(project) = &query.project {
        sql.text(" AND s.project_id = ").bind(project.clone());
    }
    if let Some(marker) = &query.marker {
        let expressions: Vec<&str> = order.iter().map(|(e, _)| *e).collect();
        let mut lookup = Sql::new(&format!(
            "SELECT {} FROM compute_servers s WHERE s.id = ",
            expressions.join(", ")
        ));
        lookup.bind(marker.clone());
        if let Some(project) = &query.project {
            lookup.text(" AND s.project_id = ").bind(project.clone());
        }
        let count = expressions.len();
        let values = lookup
            .query(conn, |row| {
                (0..count)
                    .map(|i| row.get::<_, SqlValue>(i))
                    .collect::<Result<Vec<_>, _>>()
            })?
            .pop()
            .ok_or_else(|| ComputeError::invalid(format!("marker [{marker}] not found")))?;
        after_marker(&mut sql, &order, values);
    }
    filters(&mut sql, query);
    let order_by: Vec<String> = order
        .iter()
        .map(|(expression, dir)| format!("{expression} {}", dir.sql()))
        .collect();
    sql.text(" ORDER BY ").text(&order_by.join(", "));
    if let Some(limit) = query.limit {
        sql.text(" LIMIT ").bind(limit as i64);
    }
    sql.query(conn, from_row)
}

/// Keyset pagination: rows strictly after the marker's sort values.
fn after_marker(sql: &mut Sql, order: &[(&str, SortDir)], marker: Vec<SqlValue>) {
    sql.text(" AND (");
    for position in 0..order.len() {
        if position > 0 {
            sql.text(" OR ");
        }
        sql.text("(");
        for (expression, value) in order.iter().zip(&marker).take(position) {
            sql.text(expression.0)
                .text(" = ")
                .bind(value.clone())
                .text(" AND ");
        }
        let (expression, dir) = order[position];
        let after = match dir {
            SortDir::Asc => " > ",
            SortDir::Desc => " < ",
        };
        sql.text(expression)
            .text(after)
            .bind(marker[position].clone())
            .text(")");
    }
    sql.text(")");
}

fn filters(sql: &mut Sql, query: &ServerQuery) {
    let equal = |sql: &mut Sql, column: &str, value: &Option<String>| {
        if let Some(value) = value {
            sql.text(" AND ")
                .text(column)
                .text(" = ")
                .bind(value.clone());
        }
    };
    equal(sql, "s.user_id", &query.user_id);
    equal(sql, "s.image_id", &query.image_id);
    equal(sql, "s.flavor_id", &query.flavor_id);
    equal(sql, "s.reservation_id", &query.reservation_id);
    equal(sql, "s.key_name", &query.key_name);
    equal(
        sql,
        "COALESCE(s.availability_zone, 'nova')",
        &query.availability_zone,
    );
    equal(sql, "s.host", &query.host);
    equal(sql, "s.id", &query.uuid);
    if !query.statuses.is_empty() {
        sql.text(" AND s.status IN ")
            .bind_list(query.statuses.iter().cloned());
    }
    if let Some(locked) = query.locked {
        sql.text(match locked {
            true => " AND s.locked_by IS NOT NULL",
            false => " AND s.locked_by IS NULL",
        });
    }
    if let Some(since) = &query.changes_since {
        sql.text(" AND s.updated_at >= ").bind(storage_time(since));
    }
    if let Some(before) = &query.changes_before {
        sql.text(" AND s.updated_at <= ").bind(storage_time(before));
    }
    let has_tag = |sql: &mut Sql, tag: &str| {
        sql.text("EXISTS (SELECT 1 FROM json_each(s.tags) t WHERE t.value = ")
            .bind(tag.to_owned())
            .text(")");
    };
    let has_any_tag = |sql: &mut Sql, tags: &[String]| {
        sql.text("EXISTS (SELECT 1 FROM json_each(s.tags) t WHERE t.value IN ")
            .bind_list(tags.iter().cloned())
            .text(")");
    };
    for tag in &query.tags {
        sql.text(" AND ");
        has_tag(sql, tag);
    }
    if !query.tags_any.is_empty() {
        sql.text(" AND ");
        has_any_tag(sql, &query.tags_any);
    }
    if !query.not_tags.is_empty() {
        sql.text(" AND NOT (");
        for (index, tag) in query.not_tags.iter().enumerate() {
            if index > 0 {
                sql.text(" AND ");
            }
            has_tag(sql, tag);
        }
        sql.text(")");
    }
    if !query.not_tags_any.is_empty() {
        sql.text(" AND NOT ");
        has_any_tag(sql, &query.not_tags_any);
    }
}

/// What a project's servers take from its quota.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub instances: u64,
    pub cores: u64,
    pub ram: u64,
}

pub fn usage(conn: &Connection, project: &str) -> Result<Usage, ComputeError> {
    Ok(conn
        .prepare_cached(
            "SELECT COUNT(*), COALESCE(SUM(vcpus), 0), COALESCE(SUM(memory_mb), 0)
             FROM compute_servers WHERE project_id = ?1",
        )?
        .query_row([project], |r| {
            Ok(Usage {
                instances: r.get(0)?,
                cores: r.get(1)?,
                ram: r.get(2)?,
            })
        })?)
}

/// What the servers placed on `host` take from it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HostLoad {
    pub servers: u64,
    pub vcpus: u64,
    pub memory_mb: u64,
    pub disk_gb: u64,
    /// Servers being built, stopped, rebooted...: Nova's `current_workload`.
    pub busy: u64,
}

pub fn host_load(conn: &Connection, host: &str) -> Result<HostLoad, ComputeError> {
    Ok(conn
        .prepare_cached(
            "SELECT COUNT(*), COALESCE(SUM(vcpus), 0), COALESCE(SUM(memory_mb), 0),
                    COALESCE(SUM(root_gb + ephemeral_gb), 0),
                    COALESCE(SUM(task_state IS NOT NULL), 0)
             FROM compute_servers WHERE host = ?1",
        )?
        .query_row([host], |r| {
            Ok(HostLoad {
                servers: r.get(0)?,
                vcpus: r.get(1)?,
                memory_mb: r.get(2)?,
                disk_gb: r.get(3)?,
                busy: r.get(4)?,
            })
        })?)
}

/// Names and ids of the servers on `host`, for `with_servers`.
pub fn on_host(conn: &Connection, host: &str) -> Result<Vec<(String, String)>, ComputeError> {
    let mut statement = conn.prepare_cached(
        "SELECT name, id FROM compute_servers WHERE host = ?1 ORDER BY created_at, id",
    )?;
    let rows = statement.query_map([host], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The member ids of each of `groups`.
pub fn group_members(
    conn: &Connection,
    groups: &[String],
) -> Result<HashMap<String, Vec<String>>, ComputeError> {
    let mut sql =
        Sql::new("SELECT server_group_id, id FROM compute_servers WHERE server_group_id IN ");
    sql.bind_list(groups.iter().cloned())
        .text(" ORDER BY created_at, id");
    let mut members: HashMap<String, Vec<String>> = HashMap::new();
    for (group, server) in sql.query(conn, |r| Ok((r.get::<_, String>(0)?, r.get(1)?)))? {
        members.entry(group).or_default().push(server);
    }
    Ok(members)
}

/// How many members of `group` hold a place on the host: all but those
/// that failed to build.
pub fn placed_group_members(conn: &Connection, group: &str) -> Result<u64, ComputeError> {
    Ok(conn
        .prepare_cached(
            "SELECT COUNT(*) FROM compute_servers WHERE server_group_id = ?1 AND vm_state != 'error'",
        )?
        .query_row(params![group], |r| r.get(0))?)
}

pub fn group_size(conn: &Connection, group: &str) -> Result<u64, ComputeError> {
    Ok(conn
        .prepare_cached("SELECT COUNT(*) FROM compute_servers WHERE server_group_id = ?1")?
        .query_row(params![group], |r| r.get(0))?)
}
