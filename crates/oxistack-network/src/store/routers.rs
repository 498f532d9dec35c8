use oxistack_db::rusqlite::{Connection, Row, params};

use super::{FIRST_OWN_COLUMN as C, Prefilter, STANDARD_COLUMNS, Scope};
use crate::errors::NetworkError;
use crate::model::{Gateway, Router};

/// A project sees its own routers only.
const VISIBLE: &str = "r.project_id = ?";

pub fn list(
    conn: &Connection,
    scope: Scope<'_>,
    prefilter: &Prefilter,
) -> Result<Vec<Router>, NetworkError> {
    let select = format!(
        "SELECT {STANDARD_COLUMNS}, r.name, r.admin_state_up, r.gateway_network_id,
            r.gateway_port_id, r.enable_snat, r.routes, r.availability_zone_hints, {}
         FROM routers r",
        super::fixed_ips_of("r.gateway_port_id")
    );
    super::select(conn, &select, VISIBLE, scope, prefilter, router_from_row)
}

fn router_from_row(row: &Row<'_>) -> oxistack_db::rusqlite::Result<Router> {
    let network_id: Option<String> = row.get(C + 2)?;
    let port_id: Option<String> = row.get(C + 3)?;
    Ok(Router {
        std: super::standard(row)?,
        name: row.get(C)?,
        admin_state_up: row.get(C + 1)?,
        gateway: match (network_id, port_id) {
            (Some(network_id), Some(port_id)) => Some(Gateway {
                network_id,
                port_id,
                enable_snat: row.get(C + 4)?,
                external_fixed_ips: super::json(row, C + 7)?,
            }),
            _ => None,
        },
        routes: super::json(row, C + 5)?,
        availability_zone_hints: super::json(row, C + 6)?,
    })
}

/// Writes `router` whole, inserting it if new. Its gateway port is saved
/// separately, as a port.
pub fn save(conn: &Connection, router: &Router) -> Result<(), NetworkError> {
    let (project_id, description, created_at, updated_at, revision) =
        super::standard_values(&router.std);
    let gateway = router.gateway.as_ref();
    conn.prepare_cached(
        "INSERT INTO routers (id, project_id, description, created_at, updated_at, revision_number,
            name, admin_state_up, gateway_network_id, gateway_port_id, enable_snat, routes,
            availability_zone_hints)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
         ON CONFLICT (id) DO UPDATE SET description = excluded.description,
            updated_at = excluded.updated_at, revision_number = excluded.revision_number,
            name = excluded.name, admin_state_up = excluded.admin_state_up,
            gateway_network_id = excluded.gateway_network_id,
            gateway_port_id = excluded.gateway_port_id, enable_snat = excluded.enable_snat,
            routes = excluded.routes, availability_zone_hints = excluded.availability_zone_hints",
    )?
    .execute(params![
        router.std.id,
        project_id,
        description,
        created_at,
        updated_at,
        revision,
        router.name,
        router.admin_state_up,
        gateway.map(|g| &g.network_id),
        gateway.map(|g| &g.port_id),
        gateway.is_none_or(|g| g.enable_snat),
        super::to_json(&router.routes),
        super::to_json(&router.availability_zone_hints),
    ])?;
    Ok(())
}

/// The router connecting a subnet (through an interface) to an external
/// network (through its gateway), the first made if several do.
pub fn connecting(
    conn: &Connection,
    subnet_id: &str,
    network_id: &str,
) -> Result<Option<String>, NetworkError> {
    use oxistack_db::rusqlite::OptionalExtension;
    Ok(conn
        .prepare_cached(
            "SELECT r.id FROM routers r
             JOIN ports p ON p.device_id = r.id AND p.device_owner = ?3
             JOIN ip_allocations a ON a.port_id = p.id
             WHERE r.gateway_network_id = ?2 AND a.subnet_id = ?1
             ORDER BY r.rowid LIMIT 1",
        )?
        .query_row(
            params![
                subnet_id,
                network_id,
                oxistack_netplane::DEVICE_OWNER_ROUTER_INTERFACE
            ],
            |row| row.get(0),
        )
        .optional()?)
}
