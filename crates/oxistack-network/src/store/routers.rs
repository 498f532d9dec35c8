use oxistack_db::rusqlite::{Connection, Row, params};
use oxistack_http::ApiError;

use super::{FIRST_OWN_COLUMN as C, Prefilter, STANDARD_COLUMNS, Scope};
use crate::model::{FixedIp, Gateway, Router};

/// A project sees its own routers only.
const VISIBLE: &str = "r.project_id = ?";

pub fn list(
    conn: &Connection,
    scope: Scope<'_>,
    prefilter: &Prefilter,
) -> Result<Vec<Router>, ApiError> {
    let select = format!(
        "SELECT {STANDARD_COLUMNS}, r.name, r.admin_state_up, r.gateway_network_id,
            r.gateway_port_id, r.enable_snat, r.routes, r.availability_zone_hints
         FROM routers r"
    );
    let mut routers = super::select(conn, &select, VISIBLE, scope, prefilter, router_from_row)?;
    let gateway_ports: Vec<String> = routers
        .iter()
        .filter_map(|r| r.gateway.as_ref().map(|g| g.port_id.clone()))
        .collect();
    let mut addresses = super::grouped(
        conn,
        "SELECT port_id, subnet_id, ip_address FROM ip_allocations
         WHERE port_id IN (SELECT value FROM json_each(?1)) ORDER BY rowid",
        &gateway_ports,
        |row| {
            Ok((
                row.get(0)?,
                FixedIp {
                    subnet_id: row.get(1)?,
                    ip_address: super::required(row, 2)?,
                },
            ))
        },
    )?;
    let ids: Vec<String> = routers.iter().map(|r| r.std.id.clone()).collect();
    let mut tags = super::tags::of(conn, &ids)?;
    for router in &mut routers {
        if let Some(gateway) = &mut router.gateway {
            gateway.external_fixed_ips = addresses.remove(&gateway.port_id).unwrap_or_default();
        }
        router.std.tags = tags.remove(&router.std.id).unwrap_or_default();
    }
    Ok(routers)
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
                external_fixed_ips: Vec::new(),
            }),
            _ => None,
        },
        routes: super::json(row, C + 5)?,
        availability_zone_hints: super::json(row, C + 6)?,
    })
}

/// Writes `router` whole, inserting it if new. Its gateway port is saved
/// separately, as a port.
pub fn save(conn: &Connection, router: &Router) -> Result<(), ApiError> {
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
) -> Result<Option<String>, ApiError> {
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
