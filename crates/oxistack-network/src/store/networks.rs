use oxistack_db::rusqlite::{Connection, Row, params};

use super::{FIRST_OWN_COLUMN as C, Prefilter, STANDARD_COLUMNS, Scope};
use crate::errors::NetworkError;
use crate::model::{Network, NetworkType};

/// A project sees its own networks, shared ones and external ones.
const VISIBLE: &str = "r.project_id = ? OR r.shared OR r.external";

pub fn list(
    conn: &Connection,
    scope: Scope<'_>,
    prefilter: &Prefilter,
) -> Result<Vec<Network>, NetworkError> {
    let select = format!(
        "SELECT {STANDARD_COLUMNS}, r.name, r.admin_state_up, r.shared, r.external, r.mtu,
            r.port_security_enabled, r.network_type, r.physical_network, r.segmentation_id,
            r.availability_zone_hints,
            (SELECT json_group_array(id) FROM
                (SELECT id FROM subnets WHERE network_id = r.id ORDER BY rowid))
         FROM networks r"
    );
    super::select(conn, &select, VISIBLE, scope, prefilter, network_from_row)
}

fn network_from_row(row: &Row<'_>) -> oxistack_db::rusqlite::Result<Network> {
    Ok(Network {
        std: super::standard(row)?,
        name: row.get(C)?,
        admin_state_up: row.get(C + 1)?,
        shared: row.get(C + 2)?,
        external: row.get(C + 3)?,
        mtu: row.get(C + 4)?,
        port_security_enabled: row.get(C + 5)?,
        network_type: super::named(row, C + 6, NetworkType::parse)?,
        physical_network: row.get(C + 7)?,
        segmentation_id: row.get(C + 8)?,
        availability_zone_hints: super::json(row, C + 9)?,
        subnet_ids: super::json(row, C + 10)?,
    })
}

/// Writes `network` whole, inserting it if new.
pub fn save(conn: &Connection, network: &Network) -> Result<(), NetworkError> {
    let (project_id, description, created_at, updated_at, revision) =
        super::standard_values(&network.std);
    conn.prepare_cached(
        "INSERT INTO networks (id, project_id, description, created_at, updated_at, revision_number,
            name, admin_state_up, shared, external, mtu, port_security_enabled, network_type,
            physical_network, segmentation_id, availability_zone_hints)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
         ON CONFLICT (id) DO UPDATE SET project_id = excluded.project_id,
            description = excluded.description, updated_at = excluded.updated_at,
            revision_number = excluded.revision_number, name = excluded.name,
            admin_state_up = excluded.admin_state_up, shared = excluded.shared,
            external = excluded.external, mtu = excluded.mtu,
            port_security_enabled = excluded.port_security_enabled,
            network_type = excluded.network_type, physical_network = excluded.physical_network,
            segmentation_id = excluded.segmentation_id,
            availability_zone_hints = excluded.availability_zone_hints",
    )?
    .execute(params![
        network.std.id,
        project_id,
        description,
        created_at,
        updated_at,
        revision,
        network.name,
        network.admin_state_up,
        network.shared,
        network.external,
        network.mtu,
        network.port_security_enabled,
        network.network_type.as_str(),
        network.physical_network,
        network.segmentation_id,
        super::to_json(&network.availability_zone_hints),
    ])?;
    Ok(())
}

/// The lowest VXLAN identifier no network uses.
pub fn free_vni(conn: &Connection) -> Result<u32, NetworkError> {
    Ok(conn
        .prepare_cached(
            "SELECT COALESCE(MIN(n.segmentation_id + 1), 1) FROM (
                SELECT 0 AS segmentation_id
                UNION ALL SELECT segmentation_id FROM networks WHERE network_type = 'vxlan'
             ) n
             WHERE NOT EXISTS (SELECT 1 FROM networks m
                 WHERE m.network_type = 'vxlan' AND m.segmentation_id = n.segmentation_id + 1)",
        )?
        .query_row([], |row| row.get(0))?)
}

/// Whether another network already uses this segment.
pub fn segment_taken(
    conn: &Connection,
    network_type: NetworkType,
    physical_network: Option<&str>,
    segmentation_id: Option<u32>,
) -> Result<bool, NetworkError> {
    Ok(conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM networks WHERE network_type = ?1
                AND (physical_network IS ?2 AND ?1 = 'flat' OR segmentation_id IS ?3 AND ?1 = 'vxlan'))",
        )?
        .query_row(params![network_type.as_str(), physical_network, segmentation_id], |row| row.get(0))?)
}
