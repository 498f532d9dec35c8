use oxistack_db::rusqlite::{Connection, Row, params};

use super::{FIRST_OWN_COLUMN as C, Prefilter, STANDARD_COLUMNS, Scope};
use crate::errors::NetworkError;
use crate::model::{Association, FloatingIp};

/// A project sees its own floating IPs only.
const VISIBLE: &str = "r.project_id = ?";

pub fn list(
    conn: &Connection,
    scope: Scope<'_>,
    prefilter: &Prefilter,
) -> Result<Vec<FloatingIp>, NetworkError> {
    let select = format!(
        "SELECT {STANDARD_COLUMNS}, r.floating_network_id, r.floating_port_id,
            r.floating_ip_address, r.port_id, r.fixed_ip_address, r.router_id
         FROM floating_ips r"
    );
    super::select(
        conn,
        &select,
        VISIBLE,
        scope,
        prefilter,
        floating_ip_from_row,
    )
}

fn floating_ip_from_row(row: &Row<'_>) -> oxistack_db::rusqlite::Result<FloatingIp> {
    let port_id: Option<String> = row.get(C + 3)?;
    let fixed_ip_address = super::parsed(row, C + 4)?;
    let router_id: Option<String> = row.get(C + 5)?;
    Ok(FloatingIp {
        std: super::standard(row)?,
        floating_network_id: row.get(C)?,
        floating_port_id: row.get(C + 1)?,
        floating_ip_address: super::required(row, C + 2)?,
        association: match (port_id, fixed_ip_address, router_id) {
            (Some(port_id), Some(fixed_ip_address), Some(router_id)) => Some(Association {
                port_id,
                fixed_ip_address,
                router_id,
            }),
            _ => None,
        },
    })
}

/// Writes `floating_ip` whole, inserting it if new.
pub fn save(conn: &Connection, floating_ip: &FloatingIp) -> Result<(), NetworkError> {
    let (project_id, description, created_at, updated_at, revision) =
        super::standard_values(&floating_ip.std);
    let association = floating_ip.association.as_ref();
    conn.prepare_cached(
        "INSERT INTO floating_ips (id, project_id, description, created_at, updated_at,
            revision_number, floating_network_id, floating_port_id, floating_ip_address, port_id,
            fixed_ip_address, router_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
         ON CONFLICT (id) DO UPDATE SET description = excluded.description,
            updated_at = excluded.updated_at, revision_number = excluded.revision_number,
            port_id = excluded.port_id, fixed_ip_address = excluded.fixed_ip_address,
            router_id = excluded.router_id",
    )?
    .execute(params![
        floating_ip.std.id,
        project_id,
        description,
        created_at,
        updated_at,
        revision,
        floating_ip.floating_network_id,
        floating_ip.floating_port_id,
        floating_ip.floating_ip_address.to_string(),
        association.map(|a| &a.port_id),
        association.map(|a| a.fixed_ip_address.to_string()),
        association.map(|a| &a.router_id),
    ])?;
    Ok(())
}

/// The floating IPs forwarding to any of these ports.
pub fn of_ports(conn: &Connection, port_ids: Vec<String>) -> Result<Vec<FloatingIp>, NetworkError> {
    list(
        conn,
        Scope::All,
        &Prefilter::new().with("port_id", port_ids),
    )
}

/// The floating IPs associated through a router.
pub fn through_router(conn: &Connection, router_id: &str) -> Result<Vec<FloatingIp>, NetworkError> {
    list(
        conn,
        Scope::All,
        &Prefilter::new().with("router_id", vec![router_id.to_owned()]),
    )
}

/// Deletes a floating IP and the port reserving its address.
pub fn remove(conn: &Connection, floating_ip: &FloatingIp) -> Result<(), NetworkError> {
    super::delete(conn, "floating_ips", &floating_ip.std.id)?;
    super::delete(conn, "ports", &floating_ip.floating_port_id)
}

/// The floating IPs taken from the external network `network_id`.
pub fn on_network(conn: &Connection, network_id: &str) -> Result<Vec<FloatingIp>, NetworkError> {
    list(
        conn,
        Scope::All,
        &Prefilter::new().with("floating_network_id", vec![network_id.to_owned()]),
    )
}
