//! The compute services of this host, created once so that their UUIDs
//! (and the hypervisor's) stay the same across restarts.

use crate::service::ComputeError;
use oxistack_db::rusqlite::{Connection, Row, params};

use super::{Sql, time_column};
use crate::model::{AVAILABILITY_ZONE, INTERNAL_ZONE, new_id, storage_time};
use chrono::{DateTime, Utc};

/// The services a DevStack with one compute host lists, in Nova's order.
const SERVICES: &[(&str, &str)] = &[
    ("nova-conductor", INTERNAL_ZONE),
    ("nova-scheduler", INTERNAL_ZONE),
    ("nova-compute", AVAILABILITY_ZONE),
];

pub const COMPUTE_BINARY: &str = "nova-compute";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRecord {
    /// The integer id shown before microversion 2.53.
    pub number: i64,
    pub uuid: String,
    pub binary: String,
    pub zone: String,
    /// The hypervisor's UUID, for the compute service.
    pub node_uuid: Option<String>,
    pub created_at: DateTime<Utc>,
}

fn from_row(row: &Row) -> oxistack_db::rusqlite::Result<ServiceRecord> {
    Ok(ServiceRecord {
        number: row.get(0)?,
        uuid: row.get(1)?,
        binary: row.get(2)?,
        zone: row.get(3)?,
        node_uuid: row.get(4)?,
        created_at: time_column(row, 5)?,
    })
}

/// Creates the host's services if they do not exist yet; true if it did
/// (the compute service's first start).
pub fn ensure(conn: &Connection) -> Result<bool, ComputeError> {
    let mut created = false;
    for (number, (binary, zone)) in SERVICES.iter().enumerate() {
        let node_uuid = (*binary == COMPUTE_BINARY).then(new_id);
        let inserted = conn
            .prepare_cached(
                "INSERT INTO compute_services (number, uuid, service_binary, zone, node_uuid, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
            )?
            .execute(params![
                number as i64 + 1,
                new_id(),
                binary,
                zone,
                node_uuid,
                storage_time(&Utc::now()),
            ])?;
        created |= inserted > 0;
    }
    Ok(created)
}

pub fn all(conn: &Connection) -> Result<Vec<ServiceRecord>, ComputeError> {
    Sql::new(
        "SELECT number, uuid, service_binary, zone, node_uuid, created_at FROM compute_services ORDER BY number",
    )
    .query(conn, from_row)
}
