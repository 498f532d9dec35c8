use oxistack_db::is_unique_violation;
use oxistack_db::rusqlite::{Connection, Row, params};

use super::{FIRST_OWN_COLUMN as C, Prefilter, STANDARD_COLUMNS, Scope};
use crate::errors::{NetworkError, conflict};
use crate::model::{Binding, FixedIp, Port};
use oxistack_contracts::PortSummary;

/// A project sees its own ports only.
const VISIBLE: &str = "r.project_id = ?";

pub fn list(
    conn: &Connection,
    scope: Scope<'_>,
    prefilter: &Prefilter,
) -> Result<Vec<Port>, NetworkError> {
    let select = format!(
        "SELECT {STANDARD_COLUMNS}, r.name, r.network_id, r.mac_address, r.admin_state_up,
            r.device_id, r.device_owner, r.port_security_enabled, r.allowed_address_pairs,
            r.binding_host_id, r.binding_profile, r.binding_vnic_type, r.created_by_compute,
            r.load_balancer_member,
            {}, (SELECT json_group_array(security_group_id) FROM (SELECT security_group_id
                FROM port_security_groups WHERE port_id = r.id ORDER BY position))
         FROM ports r",
        super::fixed_ips_of("r.id")
    );
    super::select(conn, &select, VISIBLE, scope, prefilter, port_from_row)
}

fn port_from_row(row: &Row<'_>) -> oxistack_db::rusqlite::Result<Port> {
    Ok(Port {
        std: super::standard(row)?,
        name: row.get(C)?,
        network_id: row.get(C + 1)?,
        mac_address: row.get(C + 2)?,
        admin_state_up: row.get(C + 3)?,
        device_id: row.get(C + 4)?,
        device_owner: row.get(C + 5)?,
        port_security_enabled: row.get(C + 6)?,
        allowed_address_pairs: super::json(row, C + 7)?,
        binding: Binding {
            host_id: row.get(C + 8)?,
            profile: super::json(row, C + 9)?,
            vnic_type: row.get(C + 10)?,
        },
        created_by_service: row.get(C + 11)?,
        load_balancer_member: row.get(C + 12)?,
        fixed_ips: super::json(row, C + 13)?,
        security_groups: super::json(row, C + 14)?,
    })
}

/// Writes `port` whole, inserting it if new, with its addresses and groups.
pub fn save(conn: &Connection, port: &Port) -> Result<(), NetworkError> {
    let (project_id, description, created_at, updated_at, revision) =
        super::standard_values(&port.std);
    let saved = conn
        .prepare_cached(
            "INSERT INTO ports (id, project_id, description, created_at, updated_at, revision_number,
                name, network_id, mac_address, admin_state_up, device_id, device_owner,
                port_security_enabled, allowed_address_pairs, binding_host_id, binding_profile,
                binding_vnic_type, created_by_compute, load_balancer_member)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
                ?19)
             ON CONFLICT (id) DO UPDATE SET description = excluded.description,
                updated_at = excluded.updated_at, revision_number = excluded.revision_number,
                name = excluded.name, mac_address = excluded.mac_address,
                admin_state_up = excluded.admin_state_up, device_id = excluded.device_id,
                device_owner = excluded.device_owner,
                port_security_enabled = excluded.port_security_enabled,
                allowed_address_pairs = excluded.allowed_address_pairs,
                binding_host_id = excluded.binding_host_id,
                binding_profile = excluded.binding_profile,
                binding_vnic_type = excluded.binding_vnic_type,
                created_by_compute = excluded.created_by_compute,
                load_balancer_member = excluded.load_balancer_member",
        )?
        .execute(params![
            port.std.id,
            project_id,
            description,
            created_at,
            updated_at,
            revision,
            port.name,
            port.network_id,
            port.mac_address,
            port.admin_state_up,
            port.device_id,
            port.device_owner,
            port.port_security_enabled,
            super::to_json(&port.allowed_address_pairs),
            port.binding.host_id,
            super::to_json(&port.binding.profile),
            port.binding.vnic_type,
            port.created_by_service,
            port.load_balancer_member,
        ]);
    match saved {
        Err(e) if is_unique_violation(&e) => {
            return Err(conflict(
                "MacAddressInUse",
                format!(
                    "Unable to complete operation for network {}. The mac address {} is in use.",
                    port.network_id, port.mac_address
                ),
            ));
        }
        other => other?,
    };
    conn.prepare_cached("DELETE FROM ip_allocations WHERE port_id = ?1")?
        .execute([&port.std.id])?;
    for fixed_ip in &port.fixed_ips {
        let inserted = conn
            .prepare_cached(
                "INSERT INTO ip_allocations (port_id, subnet_id, ip_address) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![
                port.std.id,
                fixed_ip.subnet_id,
                fixed_ip.ip_address.to_string()
            ]);
        match inserted {
            Err(e) if is_unique_violation(&e) => {
                return Err(address_taken(&port.network_id, fixed_ip));
            }
            other => other?,
        };
    }
    conn.prepare_cached("DELETE FROM port_security_groups WHERE port_id = ?1")?
        .execute([&port.std.id])?;
    for (position, group) in port.security_groups.iter().enumerate() {
        conn.prepare_cached(
            "INSERT INTO port_security_groups (port_id, security_group_id, position) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![port.std.id, group, position as i64])?;
    }
    Ok(())
}

pub fn address_taken(network_id: &str, fixed_ip: &FixedIp) -> NetworkError {
    conflict(
        "IpAddressAlreadyAllocated",
        format!(
            "IP address {} already allocated in subnet {} of network {network_id}.",
            fixed_ip.ip_address, fixed_ip.subnet_id
        ),
    )
}

/// Whether a port holds the address on the subnet.
pub fn address_in_use(
    conn: &Connection,
    fixed_ip: &FixedIp,
) -> Result<Option<String>, NetworkError> {
    use oxistack_db::rusqlite::OptionalExtension;
    Ok(conn
        .prepare_cached(
            "SELECT port_id FROM ip_allocations WHERE subnet_id = ?1 AND ip_address = ?2",
        )?
        .query_row(
            params![fixed_ip.subnet_id, fixed_ip.ip_address.to_string()],
            |row| row.get(0),
        )
        .optional()?)
}

/// Ports on a network other than those of `except_owners`.
pub fn on_network(
    conn: &Connection,
    network_id: &str,
    except_owners: &[&str],
) -> Result<Vec<Port>, NetworkError> {
    let mut ports = list(
        conn,
        Scope::All,
        &Prefilter::new().with("network_id", vec![network_id.to_owned()]),
    )?;
    ports.retain(|port| !except_owners.contains(&port.device_owner.as_str()));
    Ok(ports)
}

/// Whether any port uses the security group.
pub fn group_in_use(conn: &Connection, group_id: &str) -> Result<bool, NetworkError> {
    Ok(conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM port_security_groups WHERE security_group_id = ?1)",
        )?
        .query_row([group_id], |row| row.get(0))?)
}

/// Ports as the compute service shows them, selected by `column` (`id` or
/// `device_id`): one query, each related list gathered by an indexed
/// subquery. Returns (device id, summary) pairs in creation order.
pub fn summaries(
    conn: &Connection,
    column: SummaryKey,
    values: &[String],
) -> Result<Vec<(String, PortSummary)>, NetworkError> {
    let column = match column {
        SummaryKey::PortId => "id",
        SummaryKey::DeviceId => "device_id",
    };
    let sql = format!(
        "SELECT p.device_id, p.id, p.network_id, n.name, p.mac_address, p.admin_state_up,
            p.created_by_compute,
            (SELECT json_group_array(json_object('subnet_id', a.subnet_id, 'ip_address', a.ip_address))
             FROM (SELECT subnet_id, ip_address FROM ip_allocations WHERE port_id = p.id ORDER BY rowid) a),
            (SELECT json_group_array(f.floating_ip_address)
             FROM (SELECT floating_ip_address FROM floating_ips WHERE port_id = p.id ORDER BY rowid) f),
            (SELECT json_group_array(g.name)
             FROM (SELECT s.name FROM port_security_groups m JOIN security_groups s ON s.id = m.security_group_id
                   WHERE m.port_id = p.id ORDER BY m.position) g)
         FROM ports p JOIN networks n ON n.id = p.network_id
         WHERE p.{column} IN (SELECT value FROM json_each(?1))
         ORDER BY p.rowid"
    );
    let mut statement = conn.prepare_cached(&sql)?;
    let rows = statement.query_map([super::to_json(values)], |row| {
        let device_id: String = row.get(0)?;
        let status = crate::model::port_status(row.get(5)?, &device_id);
        Ok((
            device_id,
            PortSummary {
                id: row.get(1)?,
                network_id: row.get(2)?,
                network_name: row.get(3)?,
                mac_address: row.get(4)?,
                created_by_compute: row.get(6)?,
                fixed_ips: super::json(row, 7)?,
                floating_ips: super::json(row, 8)?,
                security_groups: super::json(row, 9)?,
                status: status.to_owned(),
            },
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// What [`summaries`] selects ports by.
#[derive(Debug, Clone, Copy)]
pub enum SummaryKey {
    PortId,
    DeviceId,
}
