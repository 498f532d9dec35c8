//! The networking tables and every SQL statement that touches them.
//! Functions take a connection or transaction and run inside the closures
//! given to [`oxistack_db::Db::read`] and [`oxistack_db::Db::write`], so a
//! caller combines several of them into one transaction.

pub mod floating_ips;
pub mod networks;
pub mod ports;
pub mod quotas;
pub mod routers;
pub mod security_groups;
pub mod subnets;
pub mod tags;

use std::collections::HashMap;

use oxistack_db::Migration;
use oxistack_db::rusqlite::types::Type;
use oxistack_db::rusqlite::{self, Connection, OptionalExtension, Row, params_from_iter};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::errors::NetworkError;
use crate::model::{Standard, parse_storage_time, storage_time};

/// The networking service's tables, applied with
/// `db.migrate("network", MIGRATIONS)`. Ids are UUIDs, unique across
/// tables, which lets tags refer to any resource. Lists, pools and routes
/// that are only ever read whole are JSON columns; what is searched or
/// must be unique (addresses, MACs, rules, group membership) has columns
/// and indexes.
pub const MIGRATIONS: &[Migration] = &[
    "
    CREATE TABLE networks (
        id TEXT PRIMARY KEY,
        project_id TEXT NOT NULL,
        name TEXT NOT NULL,
        description TEXT NOT NULL,
        admin_state_up INTEGER NOT NULL,
        shared INTEGER NOT NULL,
        external INTEGER NOT NULL,
        mtu INTEGER NOT NULL,
        port_security_enabled INTEGER NOT NULL,
        network_type TEXT NOT NULL,
        physical_network TEXT,
        segmentation_id INTEGER,
        availability_zone_hints TEXT NOT NULL,
        -- UTC, RFC 3339 with microseconds: text order is time order.
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        revision_number INTEGER NOT NULL
    );
    CREATE INDEX networks_by_project ON networks (project_id);
    CREATE UNIQUE INDEX vxlan_networks_by_vni ON networks (segmentation_id)
        WHERE network_type = 'vxlan';
    CREATE UNIQUE INDEX flat_networks_by_physical_network ON networks (physical_network)
        WHERE network_type = 'flat';

    CREATE TABLE subnets (
        id TEXT PRIMARY KEY,
        project_id TEXT NOT NULL,
        name TEXT NOT NULL,
        description TEXT NOT NULL,
        network_id TEXT NOT NULL REFERENCES networks (id),
        cidr TEXT NOT NULL,
        gateway_ip TEXT,
        allocation_pools TEXT NOT NULL,
        dns_nameservers TEXT NOT NULL,
        host_routes TEXT NOT NULL,
        enable_dhcp INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        revision_number INTEGER NOT NULL
    );
    CREATE INDEX subnets_by_network ON subnets (network_id);
    CREATE INDEX subnets_by_project ON subnets (project_id);

    CREATE TABLE ports (
        id TEXT PRIMARY KEY,
        project_id TEXT NOT NULL,
        name TEXT NOT NULL,
        description TEXT NOT NULL,
        network_id TEXT NOT NULL REFERENCES networks (id),
        mac_address TEXT NOT NULL,
        admin_state_up INTEGER NOT NULL,
        device_id TEXT NOT NULL,
        device_owner TEXT NOT NULL,
        port_security_enabled INTEGER NOT NULL,
        allowed_address_pairs TEXT NOT NULL,
        binding_host_id TEXT NOT NULL,
        binding_profile TEXT NOT NULL,
        binding_vnic_type TEXT NOT NULL,
        created_by_compute INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        revision_number INTEGER NOT NULL
    );
    CREATE UNIQUE INDEX ports_by_network_and_mac ON ports (network_id, mac_address);
    CREATE INDEX ports_by_device ON ports (device_id);
    CREATE INDEX ports_by_project ON ports (project_id);

    -- A port's fixed IPs, in the order they were given.
    CREATE TABLE ip_allocations (
        port_id TEXT NOT NULL REFERENCES ports (id) ON DELETE CASCADE,
        subnet_id TEXT NOT NULL REFERENCES subnets (id),
        ip_address TEXT NOT NULL,
        PRIMARY KEY (subnet_id, ip_address)
    );
    CREATE INDEX ip_allocations_by_port ON ip_allocations (port_id);

    CREATE TABLE security_groups (
        id TEXT PRIMARY KEY,
        project_id TEXT NOT NULL,
        name TEXT NOT NULL,
        description TEXT NOT NULL,
        is_default INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        revision_number INTEGER NOT NULL
    );
    CREATE INDEX security_groups_by_project ON security_groups (project_id);
    -- One default group per project, even when two requests race to make it.
    CREATE UNIQUE INDEX default_security_groups ON security_groups (project_id)
        WHERE is_default;

    CREATE TABLE security_group_rules (
        id TEXT PRIMARY KEY,
        project_id TEXT NOT NULL,
        description TEXT NOT NULL,
        security_group_id TEXT NOT NULL REFERENCES security_groups (id) ON DELETE CASCADE,
        direction TEXT NOT NULL,
        ethertype TEXT NOT NULL,
        protocol TEXT,
        port_range_min INTEGER,
        port_range_max INTEGER,
        remote_ip_prefix TEXT,
        remote_group_id TEXT REFERENCES security_groups (id) ON DELETE CASCADE,
        -- What makes two rules of a group the same rule (see rules::fingerprint).
        fingerprint TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        revision_number INTEGER NOT NULL
    );
    CREATE UNIQUE INDEX security_group_rules_by_fingerprint
        ON security_group_rules (security_group_id, fingerprint);
    CREATE INDEX security_group_rules_by_remote_group ON security_group_rules (remote_group_id);
    CREATE INDEX security_group_rules_by_project ON security_group_rules (project_id);

    CREATE TABLE port_security_groups (
        port_id TEXT NOT NULL REFERENCES ports (id) ON DELETE CASCADE,
        security_group_id TEXT NOT NULL REFERENCES security_groups (id),
        position INTEGER NOT NULL,
        PRIMARY KEY (port_id, security_group_id)
    );
    CREATE INDEX port_security_groups_by_group ON port_security_groups (security_group_id);

    CREATE TABLE routers (
        id TEXT PRIMARY KEY,
        project_id TEXT NOT NULL,
        name TEXT NOT NULL,
        description TEXT NOT NULL,
        admin_state_up INTEGER NOT NULL,
        gateway_network_id TEXT REFERENCES networks (id),
        gateway_port_id TEXT,
        enable_snat INTEGER NOT NULL,
        routes TEXT NOT NULL,
        availability_zone_hints TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        revision_number INTEGER NOT NULL
    );
    CREATE INDEX routers_by_project ON routers (project_id);
    CREATE INDEX routers_by_gateway_network ON routers (gateway_network_id);

    CREATE TABLE floating_ips (
        id TEXT PRIMARY KEY,
        project_id TEXT NOT NULL,
        description TEXT NOT NULL,
        floating_network_id TEXT NOT NULL REFERENCES networks (id),
        floating_port_id TEXT NOT NULL REFERENCES ports (id),
        floating_ip_address TEXT NOT NULL,
        port_id TEXT REFERENCES ports (id),
        fixed_ip_address TEXT,
        router_id TEXT REFERENCES routers (id),
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        revision_number INTEGER NOT NULL
    );
    CREATE INDEX floating_ips_by_project ON floating_ips (project_id);
    CREATE INDEX floating_ips_by_port ON floating_ips (port_id);
    CREATE INDEX floating_ips_by_router ON floating_ips (router_id);
    CREATE INDEX floating_ips_by_address ON floating_ips (floating_ip_address);

    CREATE TABLE tags (
        resource_id TEXT NOT NULL,
        tag TEXT NOT NULL,
        PRIMARY KEY (resource_id, tag)
    );

    -- Per-project limits that differ from the defaults.
    CREATE TABLE network_quotas (
        project_id TEXT NOT NULL,
        resource TEXT NOT NULL,
        hard_limit INTEGER NOT NULL,
        PRIMARY KEY (project_id, resource)
    );

    -- Marks that the default networks were created once, so that a
    -- restart does not bring back what an operator deleted.
    CREATE TABLE network_bootstrap (
        done_at TEXT NOT NULL
    );
",
    // Load balancers: which of a load balancer's ports are legs on its
    // members' subnets (the others are VIPs, which get the default route).
    "ALTER TABLE ports ADD COLUMN load_balancer_member INTEGER NOT NULL DEFAULT 0;",
];

/// Whose resources a query returns.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    /// Every resource: the administrator and the service itself.
    All,
    /// What this project may see.
    Project(&'a str),
}

/// Restrictions a list pushes down to the database, where indexes answer
/// them: each column's text must be one of its values.
#[derive(Debug, Clone, Default)]
pub struct Prefilter {
    conditions: Vec<(&'static str, Vec<String>)>,
}

impl Prefilter {
    pub fn new() -> Prefilter {
        Prefilter::default()
    }

    /// Just the resource `id`.
    pub fn id(id: &str) -> Prefilter {
        Prefilter::new().with("id", vec![id.to_owned()])
    }

    pub fn with(mut self, column: &'static str, values: Vec<String>) -> Prefilter {
        self.conditions.push((column, values));
        self
    }
}

/// The standard attributes' columns, selected first by every list; the
/// tags come along as one JSON array, sorted, so that a list is one query.
pub const STANDARD_COLUMNS: &str = "r.rowid, r.id, r.project_id, r.description, r.created_at,
    r.updated_at, r.revision_number,
    (SELECT json_group_array(tag) FROM (SELECT tag FROM tags WHERE resource_id = r.id ORDER BY tag))";
/// Where each list's own columns start.
pub const FIRST_OWN_COLUMN: usize = 8;

/// A column with the fixed IPs of the port whose id is `port_id` (an SQL
/// expression), in the order they were given, as one JSON array.
pub fn fixed_ips_of(port_id: &str) -> String {
    format!(
        "(SELECT json_group_array(json_object('subnet_id', subnet_id, 'ip_address', ip_address))
          FROM (SELECT subnet_id, ip_address FROM ip_allocations WHERE port_id = {port_id} ORDER BY rowid))"
    )
}

/// Runs `select` (`SELECT ... FROM table r`, possibly joined) restricted
/// to what `scope` may see (`visibility` is its condition for a project,
/// with one `?` for the project id) and to `prefilter`, in creation order.
pub fn select<T>(
    conn: &Connection,
    select: &str,
    visibility: &str,
    scope: Scope<'_>,
    prefilter: &Prefilter,
    map: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>, NetworkError> {
    let mut sql = select.to_owned();
    let mut params = Vec::new();
    match scope {
        Scope::All => sql.push_str(" WHERE 1"),
        Scope::Project(project) => {
            sql.push_str(&format!(" WHERE ({visibility})"));
            params.push(project.to_owned());
        }
    }
    for (column, values) in &prefilter.conditions {
        sql.push_str(&format!(
            " AND r.{column} IN (SELECT value FROM json_each(?))"
        ));
        params.push(to_json(values));
    }
    sql.push_str(" ORDER BY r.rowid");
    let mut statement = conn.prepare_cached(&sql)?;
    let rows = statement.query_map(params_from_iter(params), map)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Runs `sql`, whose first `?` is a JSON array of ids and whose rows map
/// to (id, value) pairs, grouping the values by id in row order.
pub fn grouped<T>(
    conn: &Connection,
    sql: &str,
    ids: &[String],
    mut map: impl FnMut(&Row<'_>) -> rusqlite::Result<(String, T)>,
) -> Result<HashMap<String, Vec<T>>, NetworkError> {
    let mut groups: HashMap<String, Vec<T>> = HashMap::new();
    let mut statement = conn.prepare_cached(sql)?;
    let mut rows = statement.query([to_json(&ids)])?;
    while let Some(row) = rows.next()? {
        let (id, value) = map(row)?;
        groups.entry(id).or_default().push(value);
    }
    Ok(groups)
}

/// The standard attributes of a row selected with [`STANDARD_COLUMNS`].
pub fn standard(row: &Row<'_>) -> rusqlite::Result<Standard> {
    Ok(Standard {
        seq: row.get(0)?,
        id: row.get(1)?,
        project_id: row.get(2)?,
        description: row.get(3)?,
        created_at: time(row, 4)?,
        updated_at: time(row, 5)?,
        revision_number: row.get(6)?,
        tags: json(row, 7)?,
    })
}

fn time(row: &Row<'_>, index: usize) -> rusqlite::Result<chrono::DateTime<chrono::Utc>> {
    let text: String = row.get(index)?;
    parse_storage_time(&text).ok_or_else(|| conversion_error(index, format!("bad time {text}")))
}

/// A column holding JSON.
pub fn json<T: DeserializeOwned>(row: &Row<'_>, index: usize) -> rusqlite::Result<T> {
    let text: String = row.get(index)?;
    serde_json::from_str(&text).map_err(|e| conversion_error(index, e.to_string()))
}

/// A column holding text that parses as `T` (addresses, CIDRs), or NULL.
pub fn parsed<T: std::str::FromStr>(row: &Row<'_>, index: usize) -> rusqlite::Result<Option<T>> {
    let text: Option<String> = row.get(index)?;
    text.map(|text| {
        text.parse()
            .map_err(|_| conversion_error(index, format!("cannot parse {text}")))
    })
    .transpose()
}

pub fn required<T: std::str::FromStr>(row: &Row<'_>, index: usize) -> rusqlite::Result<T> {
    parsed(row, index)?.ok_or(rusqlite::Error::InvalidColumnType(
        index,
        "unexpected NULL".into(),
        Type::Null,
    ))
}

/// A text column holding one of an enum's names.
pub fn named<T>(
    row: &Row<'_>,
    index: usize,
    parse: impl Fn(&str) -> Option<T>,
) -> rusqlite::Result<T> {
    let text: String = row.get(index)?;
    parse(&text).ok_or_else(|| conversion_error(index, format!("unknown value {text}")))
}

fn conversion_error(index: usize, detail: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(index, Type::Text, detail.into())
}

pub fn to_json<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).expect("plain data serializes")
}

/// The values of the standard columns to write, in
/// `project_id, description, created_at, updated_at, revision_number` order.
pub fn standard_values(std: &Standard) -> (String, String, String, String, i64) {
    (
        std.project_id.clone(),
        std.description.clone(),
        storage_time(&std.created_at),
        storage_time(&std.updated_at),
        std.revision_number,
    )
}

/// Counts `table`'s rows owned by `project_id`, for quotas.
pub fn count_owned(conn: &Connection, table: &str, project_id: &str) -> Result<i64, NetworkError> {
    let sql = format!("SELECT COUNT(*) FROM {table} WHERE project_id = ?1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([project_id], |row| row.get(0))?)
}

/// Deletes the row `id` of `table` and its tags.
pub fn delete(conn: &Connection, table: &str, id: &str) -> Result<(), NetworkError> {
    conn.prepare_cached(&format!("DELETE FROM {table} WHERE id = ?1"))?
        .execute([id])?;
    tags::delete_all(conn, id)
}

/// Records a change of `id` in `table`: a new revision, updated now.
pub fn touch(conn: &Connection, table: &str, id: &str) -> Result<(), NetworkError> {
    let sql = format!(
        "UPDATE {table} SET revision_number = revision_number + 1, updated_at = ?2 WHERE id = ?1"
    );
    conn.prepare_cached(&sql)?
        .execute([id, &storage_time(&chrono::Utc::now())])?;
    Ok(())
}

pub fn bootstrapped(conn: &Connection) -> Result<bool, NetworkError> {
    Ok(conn
        .query_row("SELECT 1 FROM network_bootstrap", [], |_| Ok(()))
        .optional()?
        .is_some())
}

pub fn mark_bootstrapped(conn: &Connection) -> Result<(), NetworkError> {
    conn.execute(
        "INSERT INTO network_bootstrap (done_at) VALUES (?1)",
        [storage_time(&chrono::Utc::now())],
    )?;
    Ok(())
}
