use oxistack_db::rusqlite::{Connection, OptionalExtension, Row, params};

use super::{FIRST_OWN_COLUMN as C, Prefilter, STANDARD_COLUMNS, Scope};
use crate::errors::NetworkError;
use crate::model::{Direction, EtherType, Rule, SecurityGroup};
use crate::rules;

/// A project sees its own groups, and the rules in them.
const VISIBLE: &str = "r.project_id = ?";

pub fn list(
    conn: &Connection,
    scope: Scope<'_>,
    prefilter: &Prefilter,
) -> Result<Vec<SecurityGroup>, NetworkError> {
    let select = format!("SELECT {STANDARD_COLUMNS}, r.name, r.is_default FROM security_groups r");
    let mut groups = super::select(conn, &select, VISIBLE, scope, prefilter, |row| {
        Ok(SecurityGroup {
            std: super::standard(row)?,
            name: row.get(C)?,
            is_default: row.get(C + 1)?,
            rules: Vec::new(),
        })
    })?;
    let ids: Vec<String> = groups.iter().map(|g| g.std.id.clone()).collect();
    let mut rules = group_rules(conn, &ids)?;
    for group in &mut groups {
        group.rules = rules.remove(&group.std.id).unwrap_or_default();
    }
    Ok(groups)
}

const RULE_COLUMNS: &str = "r.security_group_id, r.direction, r.ethertype, r.protocol,
    r.port_range_min, r.port_range_max, r.remote_ip_prefix, r.remote_group_id";

pub fn list_rules(
    conn: &Connection,
    scope: Scope<'_>,
    prefilter: &Prefilter,
) -> Result<Vec<Rule>, NetworkError> {
    let select = format!("SELECT {STANDARD_COLUMNS}, {RULE_COLUMNS} FROM security_group_rules r");
    super::select(conn, &select, VISIBLE, scope, prefilter, rule_from_row)
}

fn group_rules(
    conn: &Connection,
    group_ids: &[String],
) -> Result<std::collections::HashMap<String, Vec<Rule>>, NetworkError> {
    let sql = format!(
        "SELECT {STANDARD_COLUMNS}, {RULE_COLUMNS} FROM security_group_rules r
         WHERE r.security_group_id IN (SELECT value FROM json_each(?1)) ORDER BY r.rowid"
    );
    super::grouped(conn, &sql, group_ids, |row| {
        let rule = rule_from_row(row)?;
        Ok((rule.security_group_id.clone(), rule))
    })
}

fn rule_from_row(row: &Row<'_>) -> oxistack_db::rusqlite::Result<Rule> {
    Ok(Rule {
        std: super::standard(row)?,
        security_group_id: row.get(C)?,
        direction: super::named(row, C + 1, Direction::parse)?,
        ethertype: super::named(row, C + 2, EtherType::parse)?,
        protocol: row.get(C + 3)?,
        port_range_min: row.get(C + 4)?,
        port_range_max: row.get(C + 5)?,
        remote_ip_prefix: super::parsed(row, C + 6)?,
        remote_group_id: row.get(C + 7)?,
    })
}

/// Writes `group`'s own attributes, inserting it if new; rules are saved
/// one by one with [`insert_rule`].
pub fn save(conn: &Connection, group: &SecurityGroup) -> Result<(), NetworkError> {
    let (project_id, description, created_at, updated_at, revision) =
        super::standard_values(&group.std);
    conn.prepare_cached(
        "INSERT INTO security_groups (id, project_id, description, created_at, updated_at,
            revision_number, name, is_default)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (id) DO UPDATE SET description = excluded.description,
            updated_at = excluded.updated_at, revision_number = excluded.revision_number,
            name = excluded.name",
    )?
    .execute(params![
        group.std.id,
        project_id,
        description,
        created_at,
        updated_at,
        revision,
        group.name,
        group.is_default,
    ])?;
    Ok(())
}

pub fn insert_rule(conn: &Connection, rule: &Rule) -> Result<(), NetworkError> {
    let (project_id, description, created_at, updated_at, revision) =
        super::standard_values(&rule.std);
    conn.prepare_cached(
        "INSERT INTO security_group_rules (id, project_id, description, created_at, updated_at,
            revision_number, security_group_id, direction, ethertype, protocol, port_range_min,
            port_range_max, remote_ip_prefix, remote_group_id, fingerprint)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    )?
    .execute(params![
        rule.std.id,
        project_id,
        description,
        created_at,
        updated_at,
        revision,
        rule.security_group_id,
        rule.direction.as_str(),
        rule.ethertype.as_str(),
        rule.protocol,
        rule.port_range_min,
        rule.port_range_max,
        rule.remote_ip_prefix.map(|p| p.to_string()),
        rule.remote_group_id,
        rules::fingerprint(rule),
    ])?;
    Ok(())
}

/// The id of the group's rule that is the same rule as `rule`, if any.
pub fn same_rule(conn: &Connection, rule: &Rule) -> Result<Option<String>, NetworkError> {
    Ok(conn
        .prepare_cached(
            "SELECT id FROM security_group_rules WHERE security_group_id = ?1 AND fingerprint = ?2",
        )?
        .query_row(
            params![rule.security_group_id, rules::fingerprint(rule)],
            |row| row.get(0),
        )
        .optional()?)
}

/// The id of the project's default group, if made yet.
pub fn default_of(conn: &Connection, project_id: &str) -> Result<Option<String>, NetworkError> {
    Ok(conn
        .prepare_cached("SELECT id FROM security_groups WHERE project_id = ?1 AND is_default")?
        .query_row([project_id], |row| row.get(0))
        .optional()?)
}

/// Which of `ids` are groups of `project`, without loading their rules.
pub fn of_project(
    conn: &Connection,
    project: &str,
    ids: &[String],
) -> Result<Vec<String>, NetworkError> {
    let mut statement = conn.prepare_cached(
        "SELECT id FROM security_groups
         WHERE project_id = ?1 AND id IN (SELECT value FROM json_each(?2))",
    )?;
    let rows = statement.query_map(params![project, super::to_json(ids)], |row| row.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}
