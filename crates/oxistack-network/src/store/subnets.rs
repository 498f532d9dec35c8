use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use oxistack_db::rusqlite::{Connection, Row, params};

use super::{FIRST_OWN_COLUMN as C, Prefilter, STANDARD_COLUMNS, Scope};
use crate::errors::NetworkError;
use crate::model::Subnet;

/// A project sees its own subnets and those of shared and external networks.
const VISIBLE: &str = "r.project_id = ?
    OR r.network_id IN (SELECT id FROM networks WHERE shared OR external)";

pub fn list(
    conn: &Connection,
    scope: Scope<'_>,
    prefilter: &Prefilter,
) -> Result<Vec<Subnet>, NetworkError> {
    let select = format!(
        "SELECT {STANDARD_COLUMNS}, r.name, r.network_id, r.cidr, r.gateway_ip, r.allocation_pools,
            r.dns_nameservers, r.host_routes, r.enable_dhcp,
            (SELECT external FROM networks WHERE id = r.network_id)
         FROM subnets r"
    );
    super::select(conn, &select, VISIBLE, scope, prefilter, subnet_from_row)
}

fn subnet_from_row(row: &Row<'_>) -> oxistack_db::rusqlite::Result<Subnet> {
    Ok(Subnet {
        std: super::standard(row)?,
        name: row.get(C)?,
        network_id: row.get(C + 1)?,
        cidr: super::required(row, C + 2)?,
        gateway_ip: super::parsed(row, C + 3)?,
        allocation_pools: super::json(row, C + 4)?,
        dns_nameservers: super::json(row, C + 5)?,
        host_routes: super::json(row, C + 6)?,
        enable_dhcp: row.get(C + 7)?,
        external: row.get(C + 8)?,
    })
}

/// The subnets of a network, as the service sees them.
pub fn of_network(conn: &Connection, network_id: &str) -> Result<Vec<Subnet>, NetworkError> {
    list(
        conn,
        Scope::All,
        &Prefilter::new().with("network_id", vec![network_id.to_owned()]),
    )
}

/// Writes `subnet` whole, inserting it if new.
pub fn save(conn: &Connection, subnet: &Subnet) -> Result<(), NetworkError> {
    let (project_id, description, created_at, updated_at, revision) =
        super::standard_values(&subnet.std);
    conn.prepare_cached(
        "INSERT INTO subnets (id, project_id, description, created_at, updated_at, revision_number,
            name, network_id, cidr, gateway_ip, allocation_pools, dns_nameservers, host_routes,
            enable_dhcp)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
         ON CONFLICT (id) DO UPDATE SET description = excluded.description,
            updated_at = excluded.updated_at, revision_number = excluded.revision_number,
            name = excluded.name, gateway_ip = excluded.gateway_ip,
            allocation_pools = excluded.allocation_pools,
            dns_nameservers = excluded.dns_nameservers, host_routes = excluded.host_routes,
            enable_dhcp = excluded.enable_dhcp",
    )?
    .execute(params![
        subnet.std.id,
        project_id,
        description,
        created_at,
        updated_at,
        revision,
        subnet.name,
        subnet.network_id,
        subnet.cidr.to_string(),
        subnet.gateway_ip.map(|ip| ip.to_string()),
        super::to_json(&subnet.allocation_pools),
        super::to_json(&subnet.dns_nameservers),
        super::to_json(&subnet.host_routes),
        subnet.enable_dhcp,
    ])?;
    Ok(())
}

/// The addresses of a subnet that ports hold.
pub fn allocated(conn: &Connection, subnet_id: &str) -> Result<BTreeSet<Ipv4Addr>, NetworkError> {
    let mut statement =
        conn.prepare_cached("SELECT ip_address FROM ip_allocations WHERE subnet_id = ?1")?;
    let rows = statement.query_map([subnet_id], |row| row.get::<_, String>(0))?;
    let mut taken = BTreeSet::new();
    for text in rows {
        let text = text?;
        taken.insert(
            text.parse().map_err(|_| {
                NetworkError::Internal(format!("stored address {text} is not IPv4"))
            })?,
        );
    }
    Ok(taken)
}

/// Ports with an address on the subnet, other than those of `except_owners`.
pub fn ports_using(
    conn: &Connection,
    subnet_id: &str,
    except_owners: &[&str],
) -> Result<Vec<String>, NetworkError> {
    let mut statement = conn.prepare_cached(
        "SELECT DISTINCT p.id FROM ip_allocations a JOIN ports p ON p.id = a.port_id
         WHERE a.subnet_id = ?1 AND p.device_owner NOT IN (SELECT value FROM json_each(?2))",
    )?;
    let rows = statement.query_map(params![subnet_id, super::to_json(except_owners)], |row| {
        row.get(0)
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
