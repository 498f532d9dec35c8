//! The service catalog's tables: regions, services and their endpoints.
//! Bootstrap writes them from the configuration; the API only reads them.

use oxistack_db::rusqlite::{self, Connection, OptionalExtension, Row};

use super::Result;

/// An endpoint with the service it belongs to.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub id: String,
    pub service_id: String,
    pub service_type: String,
    pub service_name: String,
    pub interface: String,
    pub region_id: String,
    pub url: String,
    pub enabled: bool,
}

#[derive(Debug, Clone)]
pub struct RegisteredService {
    pub id: String,
    pub service_type: String,
    pub name: String,
    pub description: String,
    pub enabled: bool,
}

#[derive(Debug, Clone)]
pub struct Region {
    pub id: String,
    pub description: String,
}

const ENDPOINT_QUERY: &str =
    "SELECT e.id, e.service_id, s.type, s.name, e.interface, e.region_id, e.url, e.enabled
     FROM endpoints e JOIN services s ON s.id = e.service_id";

fn endpoint_row(row: &Row) -> rusqlite::Result<Endpoint> {
    Ok(Endpoint {
        id: row.get(0)?,
        service_id: row.get(1)?,
        service_type: row.get(2)?,
        service_name: row.get(3)?,
        interface: row.get(4)?,
        region_id: row.get(5)?,
        url: row.get(6)?,
        enabled: row.get(7)?,
    })
}

fn service_row(row: &Row) -> rusqlite::Result<RegisteredService> {
    Ok(RegisteredService {
        id: row.get(0)?,
        service_type: row.get(1)?,
        name: row.get(2)?,
        description: row.get(3)?,
        enabled: row.get(4)?,
    })
}

fn region_row(row: &Row) -> rusqlite::Result<Region> {
    Ok(Region {
        id: row.get(0)?,
        description: row.get(1)?,
    })
}

/// Every endpoint, grouped by service type.
pub fn endpoints(conn: &Connection) -> Result<Vec<Endpoint>> {
    let mut stmt =
        conn.prepare_cached(&format!("{ENDPOINT_QUERY} ORDER BY s.type, e.interface"))?;
    let rows = stmt.query_map([], endpoint_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

pub fn endpoint(conn: &Connection, id: &str) -> Result<Option<Endpoint>> {
    Ok(conn
        .prepare_cached(&format!("{ENDPOINT_QUERY} WHERE e.id = ?1"))?
        .query_row([id], endpoint_row)
        .optional()?)
}

const SERVICE_QUERY: &str = "SELECT id, type, name, description, enabled FROM services";

pub fn services(conn: &Connection) -> Result<Vec<RegisteredService>> {
    let mut stmt = conn.prepare_cached(&format!("{SERVICE_QUERY} ORDER BY type"))?;
    let rows = stmt.query_map([], service_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

pub fn service(conn: &Connection, id: &str) -> Result<Option<RegisteredService>> {
    Ok(conn
        .prepare_cached(&format!("{SERVICE_QUERY} WHERE id = ?1"))?
        .query_row([id], service_row)
        .optional()?)
}

pub fn regions(conn: &Connection) -> Result<Vec<Region>> {
    let mut stmt = conn.prepare_cached("SELECT id, description FROM regions ORDER BY id")?;
    let rows = stmt.query_map([], region_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

pub fn region(conn: &Connection, id: &str) -> Result<Option<Region>> {
    Ok(conn
        .prepare_cached("SELECT id, description FROM regions WHERE id = ?1")?
        .query_row([id], region_row)
        .optional()?)
}
