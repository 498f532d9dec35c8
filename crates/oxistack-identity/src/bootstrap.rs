//! First-start setup, as DevStack's `keystone-manage bootstrap` and
//! stack.sh leave a cloud: the default domain, projects admin, demo and
//! service, users admin and demo, the standard and Octavia roles with
//! admin ⇒ member ⇒ reader, and a catalog entry for every enabled service.
//!
//! Idempotent: what exists is left alone (a password changed since is kept),
//! so a second start changes nothing. Only the catalog follows the config,
//! since endpoints move when the listen address does.

use oxistack_db::rusqlite::{Connection, OptionalExtension, params};

use crate::IdentityService;
use crate::model::{
    self, ActorKind, Assignment, DEFAULT_DOMAIN_ID, SYSTEM_TARGET, TargetKind, assignments, new_id,
    roles,
};
use crate::password;
use crate::service::Result;

/// One service in the catalog.
#[derive(Debug, Clone)]
pub struct CatalogService {
    /// Catalog type, e.g. `identity`, `image`, `compute`.
    pub service_type: String,
    /// Catalog name, e.g. `keystone`, `glance`.
    pub name: String,
    /// The URL all three interfaces (public, internal, admin) point at.
    pub url: String,
}

/// What bootstrap needs from the configuration.
pub struct Bootstrap<'a> {
    pub admin_password: &'a str,
    pub region: &'a str,
    pub services: &'a [CatalogService],
}

/// What bootstrap did, and the ids other services' bootstraps need.
#[derive(Debug, PartialEq, Eq)]
pub struct BootstrapReport {
    /// True on the very first start of this state directory.
    pub created_users: bool,
    pub admin_project_id: String,
    pub demo_project_id: String,
}

/// Roles every cloud has: Keystone's defaults (since 2024.1 these include
/// `manager`, between admin and member, which Tempest's dynamic
/// credentials ask for), the `service` role, and the roles Octavia's
/// policies know.
const ROLES: &[&str] = &[
    "admin",
    "manager",
    "member",
    "reader",
    "service",
    "load-balancer_observer",
    "load-balancer_global_observer",
    "load-balancer_member",
    "load-balancer_quota_admin",
    "load-balancer_admin",
];

/// As keystone-manage bootstrap makes them: admin ⇒ manager ⇒ member ⇒
/// reader. Clouds bootstrapped before `manager` existed keep their
/// admin ⇒ member as well, which changes nothing anyone can do.
const IMPLICATIONS: &[(&str, &str)] = &[
    ("admin", "manager"),
    ("manager", "member"),
    ("member", "reader"),
];

impl IdentityService {
    pub fn bootstrap(&self, config: &Bootstrap) -> Result<BootstrapReport> {
        // Hash before taking the write lock: it is deliberately slow.
        let admin_hash = password::hash_blocking(config.admin_password)?;
        let report = self.db.write_blocking(|tx| -> Result<BootstrapReport> {
            ensure_domain(tx)?;
            let mut role_ids = std::collections::HashMap::new();
            for name in ROLES {
                role_ids.insert(*name, ensure_role(tx, name)?);
            }
            for (prior, implied) in IMPLICATIONS {
                roles::add_implication(tx, &role_ids[prior], &role_ids[implied])?;
            }
            let admin_project =
                ensure_project(tx, "admin", "Bootstrap project for initializing the cloud.")?;
            let demo_project = ensure_project(tx, "demo", "")?;
            ensure_project(tx, "service", "")?;
            let (admin_user, created_admin) = ensure_user(tx, "admin", &admin_hash)?;
            let (demo_user, _) = ensure_user(tx, "demo", &admin_hash)?;
            assign(
                tx,
                &admin_user,
                TargetKind::Project,
                &admin_project,
                &role_ids["admin"],
            )?;
            assign(
                tx,
                &admin_user,
                TargetKind::System,
                SYSTEM_TARGET,
                &role_ids["admin"],
            )?;
            assign(
                tx,
                &demo_user,
                TargetKind::Project,
                &demo_project,
                &role_ids["member"],
            )?;
            sync_catalog(tx, config.region, config.services)?;
            Ok(BootstrapReport {
                created_users: created_admin,
                admin_project_id: admin_project,
                demo_project_id: demo_project,
            })
        })?;
        self.tokens.invalidate_cache();
        Ok(report)
    }
}

fn ensure_domain(conn: &Connection) -> Result<()> {
    conn.execute(
        "INSERT OR IGNORE INTO domains (id, name, description) VALUES (?1, 'Default', 'The default domain')",
        [DEFAULT_DOMAIN_ID],
    )?;
    Ok(())
}

fn ensure_role(conn: &Connection, name: &str) -> Result<String> {
    if let Some(role) = roles::role_by_name(conn, name)? {
        return Ok(role.id);
    }
    let id = new_id();
    conn.execute("INSERT INTO roles (id, name) VALUES (?1, ?2)", [&id, name])?;
    Ok(id)
}

fn ensure_project(conn: &Connection, name: &str, description: &str) -> Result<String> {
    if let Some(project) = model::project_by_name(conn, DEFAULT_DOMAIN_ID, name)? {
        return Ok(project.id);
    }
    let id = new_id();
    conn.execute(
        "INSERT INTO projects (id, name, domain_id, description) VALUES (?1, ?2, ?3, ?4)",
        [&id, name, DEFAULT_DOMAIN_ID, description],
    )?;
    Ok(id)
}

/// Returns the user's id and whether it was created now.
fn ensure_user(conn: &Connection, name: &str, password_hash: &str) -> Result<(String, bool)> {
    if let Some(user) = model::user_by_name(conn, DEFAULT_DOMAIN_ID, name)? {
        return Ok((user.id, false));
    }
    let id = new_id();
    conn.execute(
        "INSERT INTO users (id, name, domain_id, password_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![id, name, DEFAULT_DOMAIN_ID, password_hash, chrono::Utc::now().to_rfc3339()],
    )?;
    Ok((id, true))
}

fn assign(
    conn: &Connection,
    user_id: &str,
    target: TargetKind,
    target_id: &str,
    role_id: &str,
) -> Result<()> {
    assignments::insert(
        conn,
        &Assignment {
            actor: ActorKind::User,
            actor_id: user_id.to_owned(),
            target,
            target_id: target_id.to_owned(),
            role_id: role_id.to_owned(),
        },
    )
}

/// Makes the catalog list exactly the enabled services, at their current
/// URLs, for the configured region.
fn sync_catalog(conn: &Connection, region: &str, services: &[CatalogService]) -> Result<()> {
    conn.execute("INSERT OR IGNORE INTO regions (id) VALUES (?1)", [region])?;
    let wanted: Vec<&str> = services.iter().map(|s| s.service_type.as_str()).collect();
    let existing: Vec<String> = conn
        .prepare("SELECT type FROM services")?
        .query_map([], |row| row.get(0))?
        .collect::<std::result::Result<_, _>>()?;
    for stale in existing.iter().filter(|t| !wanted.contains(&t.as_str())) {
        conn.execute("DELETE FROM services WHERE type = ?1", [stale])?;
    }
    for service in services {
        let service_id: String = match conn
            .query_row(
                "SELECT id FROM services WHERE type = ?1",
                [&service.service_type],
                |row| row.get(0),
            )
            .optional()?
        {
            Some(id) => {
                conn.execute(
                    "UPDATE services SET name = ?2 WHERE id = ?1 AND name != ?2",
                    [&id, &service.name],
                )?;
                id
            }
            None => {
                let id = new_id();
                conn.execute(
                    "INSERT INTO services (id, type, name) VALUES (?1, ?2, ?3)",
                    [&id, &service.service_type, &service.name],
                )?;
                id
            }
        };
        // Endpoints in other regions belong to a previous configuration.
        conn.execute(
            "DELETE FROM endpoints WHERE service_id = ?1 AND region_id != ?2",
            [&service_id, region],
        )?;
        for interface in ["public", "internal", "admin"] {
            let updated = conn.execute(
                "UPDATE endpoints SET url = ?4 WHERE service_id = ?1 AND interface = ?2 AND region_id = ?3 AND url != ?4",
                [&service_id, interface, region, &service.url],
            )?;
            if updated == 0 {
                conn.execute(
                    "INSERT OR IGNORE INTO endpoints (id, service_id, interface, region_id, url)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    [&new_id(), &service_id, interface, region, &service.url],
                )?;
            }
        }
    }
    Ok(())
}
