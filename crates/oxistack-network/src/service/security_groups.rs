//! Security groups and their rules, and each project's `default` group.

use oxistack_auth::AuthContext;
use oxistack_db::rusqlite::Connection;

use super::access::{self, DESCRIPTION_MAX, found, owner, require_owner, scope, update_text};
use super::quotas;
use crate::errors::{NetworkError, bad_request, conflict, invalid_input};
use crate::kind::Kind;
use crate::model::{Direction, EtherType, Rule, SecurityGroup, Standard};
use crate::rules;
use crate::store::{self, Prefilter, Scope};
use crate::wire::{RuleCreate, SecurityGroupCreate, SecurityGroupUpdate};

pub const DEFAULT_NAME: &str = "default";

/// The id of the project's `default` group, made now if it does not exist:
/// Neutron's default rules let everything out and let in what comes from
/// the group's own members.
pub fn ensure_default(conn: &Connection, project: &str) -> Result<String, NetworkError> {
    if let Some(id) = store::security_groups::default_of(conn, project)? {
        return Ok(id);
    }
    let group = SecurityGroup {
        std: Standard::new(project, "Default security group".to_owned()),
        name: DEFAULT_NAME.to_owned(),
        is_default: true,
        rules: Vec::new(),
    };
    store::security_groups::save(conn, &group)?;
    for ethertype in [EtherType::Ipv4, EtherType::Ipv6] {
        insert_rule(conn, &group, Direction::Egress, ethertype, None)?;
        insert_rule(
            conn,
            &group,
            Direction::Ingress,
            ethertype,
            Some(group.std.id.clone()),
        )?;
    }
    Ok(group.std.id)
}

/// Adds an any-protocol rule to a group being made.
fn insert_rule(
    conn: &Connection,
    group: &SecurityGroup,
    direction: Direction,
    ethertype: EtherType,
    remote_group_id: Option<String>,
) -> Result<(), NetworkError> {
    store::security_groups::insert_rule(
        conn,
        &Rule {
            std: Standard::new(&group.std.project_id, String::new()),
            security_group_id: group.std.id.clone(),
            direction,
            ethertype,
            protocol: None,
            port_range_min: None,
            port_range_max: None,
            remote_ip_prefix: None,
            remote_group_id,
        },
    )
}

pub fn create(
    conn: &Connection,
    caller: &AuthContext,
    request: SecurityGroupCreate,
) -> Result<SecurityGroup, NetworkError> {
    let project = owner(caller, request.project_id, request.tenant_id)?;
    require_stateful(request.stateful)?;
    let name = access::name(request.name)?;
    ensure_default(conn, &project)?;
    if name == DEFAULT_NAME {
        return Err(conflict(
            "SecurityGroupDefaultAlreadyExists",
            "Default security group already exists.",
        ));
    }
    quotas::check(conn, &project, Kind::SecurityGroup)?;
    let description = access::text("description", request.description, DESCRIPTION_MAX)?;
    insert_group(conn, Standard::new(&project, description), name)
}

/// Saves a new group (not a `default` one) with the rules Neutron gives a
/// new group: everything out, nothing in, until told otherwise.
pub fn insert_group(
    conn: &Connection,
    std: Standard,
    name: String,
) -> Result<SecurityGroup, NetworkError> {
    let group = SecurityGroup {
        std,
        name,
        is_default: false,
        rules: Vec::new(),
    };
    store::security_groups::save(conn, &group)?;
    for ethertype in [EtherType::Ipv4, EtherType::Ipv6] {
        insert_rule(conn, &group, Direction::Egress, ethertype, None)?;
    }
    Ok(group)
}

fn require_stateful(stateful: Option<bool>) -> Result<(), NetworkError> {
    if stateful == Some(false) {
        return Err(invalid_input(
            "stateful",
            "only stateful security groups are supported",
        ));
    }
    Ok(())
}

pub fn update(
    conn: &Connection,
    caller: &AuthContext,
    id: &str,
    request: SecurityGroupUpdate,
) -> Result<(), NetworkError> {
    let mut group = load(conn, caller, id)?;
    require_owner(caller, &group.std.project_id)?;
    require_stateful(request.stateful)?;
    if let Some(name) = &request.name
        && name != &group.name
    {
        if group.is_default {
            return Err(conflict(
                "SecurityGroupCannotUpdateDefault",
                "Updating default security group not allowed.",
            ));
        }
        if name == DEFAULT_NAME {
            return Err(conflict(
                "SecurityGroupDefaultAlreadyExists",
                "Default security group already exists.",
            ));
        }
    }
    access::update_name(&mut group.name, request.name)?;
    update_text(
        &mut group.std.description,
        "description",
        request.description,
        DESCRIPTION_MAX,
    )?;
    group.std.touch();
    store::security_groups::save(conn, &group)
}

/// Deletes a group no port uses, with its rules (and other groups' rules
/// naming it as their remote group). A project's `default` group stays
/// unless the administrator removes it.
pub fn delete(conn: &Connection, caller: &AuthContext, id: &str) -> Result<(), NetworkError> {
    let group = load(conn, caller, id)?;
    require_owner(caller, &group.std.project_id)?;
    if group.is_default && !caller.is_admin() {
        return Err(conflict(
            "SecurityGroupCannotRemoveDefault",
            "Removing default security group not allowed.",
        ));
    }
    if store::ports::group_in_use(conn, id)? {
        return Err(conflict(
            "SecurityGroupInUse",
            format!("Security Group {id} in use."),
        ));
    }
    store::delete(conn, "security_groups", id)
}

pub fn create_rule(
    conn: &Connection,
    caller: &AuthContext,
    request: RuleCreate,
) -> Result<Rule, NetworkError> {
    let group = load(conn, caller, &request.security_group_id)?;
    require_owner(caller, &group.std.project_id)?;
    // A rule belongs to its group's project; naming another is a mistake.
    if let Some(project) = request.project_id.as_ref().or(request.tenant_id.as_ref())
        && project != &group.std.project_id
    {
        owner(
            caller,
            request.project_id.clone(),
            request.tenant_id.clone(),
        )?;
        return Err(invalid_input(
            "project_id",
            format!(
                "the rule would be in a group of project {}",
                group.std.project_id
            ),
        ));
    }
    let direction = Direction::parse(&request.direction).ok_or_else(|| {
        invalid_input(
            "direction",
            format!("'{}' is not ingress or egress", request.direction),
        )
    })?;
    let ethertype = match &request.ethertype {
        None => EtherType::Ipv4,
        Some(text) => EtherType::parse(text)
            .ok_or_else(|| invalid_input("ethertype", format!("'{text}' is not IPv4 or IPv6")))?,
    };
    let protocol = rules::normalize_protocol(&request.protocol, ethertype)?;
    let (port_range_min, port_range_max) = rules::validate_ports(
        protocol.as_deref(),
        ethertype,
        request.port_range_min,
        request.port_range_max,
    )?;
    if request.remote_ip_prefix.is_some() && request.remote_group_id.is_some() {
        return Err(bad_request(
            "SecurityGroupRemoteGroupAndRemoteIpPrefix",
            "Only remote_ip_prefix or remote_group_id may be provided.",
        ));
    }
    let remote_ip_prefix = request
        .remote_ip_prefix
        .as_deref()
        .map(|prefix| rules::parse_remote_prefix(prefix, ethertype))
        .transpose()?;
    if let Some(remote) = &request.remote_group_id {
        load(conn, caller, remote)?;
    }
    let rule = Rule {
        std: Standard::new(
            &group.std.project_id,
            access::text("description", request.description, DESCRIPTION_MAX)?,
        ),
        security_group_id: group.std.id.clone(),
        direction,
        ethertype,
        protocol,
        port_range_min,
        port_range_max,
        remote_ip_prefix,
        remote_group_id: request.remote_group_id,
    };
    if let Some(existing) = store::security_groups::same_rule(conn, &rule)? {
        return Err(rule_exists(&existing));
    }
    quotas::check(conn, &group.std.project_id, Kind::SecurityGroupRule)?;
    store::security_groups::insert_rule(conn, &rule)?;
    store::touch(conn, "security_groups", &group.std.id)?;
    Ok(rule)
}

fn rule_exists(existing: &str) -> NetworkError {
    conflict(
        "SecurityGroupRuleExists",
        format!("Security group rule already exists. Rule id is {existing}."),
    )
}

pub fn delete_rule(conn: &Connection, caller: &AuthContext, id: &str) -> Result<(), NetworkError> {
    let rule = found(
        store::security_groups::list_rules(conn, scope(caller), &Prefilter::id(id))?,
        Kind::SecurityGroupRule,
        id,
    )?;
    require_owner(caller, &rule.std.project_id)?;
    store::delete(conn, "security_group_rules", id)?;
    store::touch(conn, "security_groups", &rule.security_group_id)
}

/// The group `id` if the caller can see it.
pub fn load(
    conn: &Connection,
    caller: &AuthContext,
    id: &str,
) -> Result<SecurityGroup, NetworkError> {
    found(
        store::security_groups::list(conn, scope(caller), &Prefilter::id(id))?,
        Kind::SecurityGroup,
        id,
    )
}

/// Resolves a group name or id as `project` sees it: an id first, then a
/// unique name (409 when several groups have it).
pub fn resolve(conn: &Connection, project: &str, name_or_id: &str) -> Result<String, NetworkError> {
    let scope = Scope::Project(project);
    if let Some(group) =
        store::security_groups::list(conn, scope, &Prefilter::id(name_or_id))?.pop()
    {
        return Ok(group.std.id);
    }
    if name_or_id == DEFAULT_NAME {
        return ensure_default(conn, project);
    }
    let named = store::security_groups::list(
        conn,
        scope,
        &Prefilter::new().with("name", vec![name_or_id.to_owned()]),
    )?;
    match named.as_slice() {
        [only] => Ok(only.std.id.clone()),
        [] => Err(Kind::SecurityGroup.not_found(name_or_id)),
        _ => Err(conflict(
            "NoUniqueMatch",
            format!(
                "Multiple security groups found matching '{name_or_id}'. Use an ID to be more specific."
            ),
        )),
    }
}
