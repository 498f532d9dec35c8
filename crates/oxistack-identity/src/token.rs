//! Token issuance, validation and revocation.
//!
//! A token is 32 random bytes (URL-safe base64): it cannot be forged, and
//! the database keeps only its SHA-256 with the scope and expiry. Roles are
//! not frozen into the token: validation recomputes them from the current
//! assignments, so a removed role or a disabled user takes effect at once.
//! Validated tokens are cached in memory; any identity change clears the
//! cache, so the cache never answers differently from the database.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use base64::Engine;
use chrono::{DateTime, Duration, SubsecRound, Utc};
use oxistack_auth::{AppCredentialRef, AuthContext, NamedRef, Scope};
use oxistack_db::Db;
use oxistack_db::rusqlite::{Connection, OptionalExtension, params};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::model::{self, SYSTEM_TARGET, TargetKind, app_credentials, groups, roles};
use crate::service::{IdentityError, Result};

/// What a new token is scoped to, by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeRequest {
    Project(String),
    Domain(String),
    System,
    Unscoped,
}

/// The facts recorded when a token is issued.
pub struct TokenGrant {
    pub user_id: String,
    pub scope: ScopeRequest,
    pub methods: Vec<String>,
    pub app_credential_id: Option<String>,
    /// Never later than this (an application credential's own expiry).
    pub not_after: Option<DateTime<Utc>>,
    /// Keeps the audit chain when a token is rescoped from another.
    pub parent_audit_id: Option<String>,
}

pub struct Tokens {
    db: Db,
    lifetime: Duration,
    cache: RwLock<HashMap<String, Arc<AuthContext>>>,
}

/// Bound on cached validations, so a flood of distinct tokens cannot grow
/// memory without limit.
const MAX_CACHED: usize = 100_000;

fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn random_audit_id() -> String {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl Tokens {
    pub fn new(db: Db, lifetime: Duration) -> Self {
        Tokens {
            db,
            lifetime,
            cache: RwLock::new(HashMap::new()),
        }
    }

    /// Records a new token inside the caller's transaction and returns it
    /// with the context it grants. Fails as unauthenticated if the grant
    /// gives no authority (a scope on which the user holds no role).
    pub fn issue(&self, conn: &Connection, grant: TokenGrant) -> Result<(String, AuthContext)> {
        let token = random_token();
        let issued_at = Utc::now().trunc_subsecs(6);
        let mut expires_at = issued_at + self.lifetime;
        if let Some(limit) = grant.not_after {
            expires_at = expires_at.min(limit);
        }
        let (scope_kind, scope_id) = match &grant.scope {
            ScopeRequest::Project(id) => ("project", Some(id.as_str())),
            ScopeRequest::Domain(id) => ("domain", Some(id.as_str())),
            ScopeRequest::System => ("system", Some(SYSTEM_TARGET)),
            ScopeRequest::Unscoped => ("unscoped", None),
        };
        let row = TokenRow {
            user_id: grant.user_id,
            scope_kind: scope_kind.to_owned(),
            scope_id: scope_id.map(str::to_owned),
            methods: grant.methods,
            issued_at,
            expires_at,
            audit_id: grant.parent_audit_id.unwrap_or_else(random_audit_id),
            app_credential_id: grant.app_credential_id,
        };
        let context = build_context(conn, &row)?.ok_or(IdentityError::Unauthenticated)?;
        conn.execute(
            "INSERT INTO tokens (token_hash, user_id, scope_kind, scope_id, methods, issued_at,
                                 expires_at, audit_id, app_credential_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                digest(&token),
                row.user_id,
                row.scope_kind,
                row.scope_id,
                row.methods.join(","),
                row.issued_at.to_rfc3339(),
                row.expires_at.to_rfc3339(),
                row.audit_id,
                row.app_credential_id,
            ],
        )?;
        Ok((token, context))
    }

    /// The context a live token grants, or unauthenticated.
    pub async fn validate(&self, token: &str) -> Result<Arc<AuthContext>> {
        if let Some(context) = self
            .cache
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(token)
            && context.expires_at > Utc::now()
        {
            return Ok(context.clone());
        }
        let hash = digest(token);
        let context = self
            .db
            .read(move |conn| {
                let Some(row) = TokenRow::load(conn, &hash)? else {
                    return Ok(None);
                };
                if row.expires_at <= Utc::now() {
                    return Ok(None);
                }
                build_context(conn, &row)
            })
            .await?
            .ok_or(IdentityError::Unauthenticated)?;
        let context = Arc::new(context);
        let mut cache = self.cache.write().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
        cache.insert(token.to_owned(), context.clone());
        Ok(context)
    }

    /// Forgets every cached validation. Called after any identity change
    /// that could alter what a token grants.
    pub fn invalidate_cache(&self) {
        self.cache
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Revokes one token. Answers whether it existed.
    pub fn revoke(&self, conn: &Connection, token: &str) -> Result<bool> {
        let removed = conn.execute("DELETE FROM tokens WHERE token_hash = ?1", [digest(token)])?;
        self.invalidate_cache();
        Ok(removed > 0)
    }

    /// Revokes every token of a user, optionally only those scoped to one
    /// project (a role removed there).
    pub fn revoke_user(
        &self,
        conn: &Connection,
        user_id: &str,
        project_id: Option<&str>,
    ) -> Result<()> {
        match project_id {
            Some(project) => conn.execute(
                "DELETE FROM tokens WHERE user_id = ?1 AND scope_kind = 'project' AND scope_id = ?2",
                [user_id, project],
            )?,
            None => conn.execute("DELETE FROM tokens WHERE user_id = ?1", [user_id])?,
        };
        self.invalidate_cache();
        Ok(())
    }

    /// Revokes the tokens of every member of a group (a group role removed).
    pub fn revoke_group_members(
        &self,
        conn: &Connection,
        group_id: &str,
        project_id: Option<&str>,
    ) -> Result<()> {
        for user in groups::member_ids(conn, group_id)? {
            self.revoke_user(conn, &user, project_id)?;
        }
        Ok(())
    }

    /// Revokes every token scoped to a project (the project is deleted).
    pub fn revoke_project(&self, conn: &Connection, project_id: &str) -> Result<()> {
        conn.execute(
            "DELETE FROM tokens WHERE scope_kind = 'project' AND scope_id = ?1",
            [project_id],
        )?;
        self.invalidate_cache();
        Ok(())
    }

    /// Revokes the tokens issued for an application credential.
    pub fn revoke_app_credential(&self, conn: &Connection, credential_id: &str) -> Result<()> {
        conn.execute(
            "DELETE FROM tokens WHERE app_credential_id = ?1",
            [credential_id],
        )?;
        self.invalidate_cache();
        Ok(())
    }

    /// Deletes expired tokens; run periodically.
    pub async fn purge_expired(&self) -> Result<usize> {
        self.db
            .write(|tx| {
                Ok(tx.execute(
                    "DELETE FROM tokens WHERE expires_at <= ?1",
                    [Utc::now().to_rfc3339()],
                )?)
            })
            .await
    }
}

struct TokenRow {
    user_id: String,
    scope_kind: String,
    scope_id: Option<String>,
    methods: Vec<String>,
    issued_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    audit_id: String,
    app_credential_id: Option<String>,
}

fn parse_time(text: String) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&text)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

impl TokenRow {
    fn load(conn: &Connection, hash: &str) -> Result<Option<TokenRow>> {
        Ok(conn
            .prepare_cached(
                "SELECT user_id, scope_kind, scope_id, methods, issued_at, expires_at, audit_id,
                        app_credential_id
                 FROM tokens WHERE token_hash = ?1",
            )?
            .query_row([hash], |row| {
                let methods: String = row.get(3)?;
                Ok(TokenRow {
                    user_id: row.get(0)?,
                    scope_kind: row.get(1)?,
                    scope_id: row.get(2)?,
                    methods: methods.split(',').map(str::to_owned).collect(),
                    issued_at: parse_time(row.get(4)?),
                    expires_at: parse_time(row.get(5)?),
                    audit_id: row.get(6)?,
                    app_credential_id: row.get(7)?,
                })
            })
            .optional()?)
    }
}

fn named(id: &str, name: &str) -> NamedRef {
    NamedRef {
        id: id.to_owned(),
        name: name.to_owned(),
    }
}

/// What a token row grants now, or `None` if it grants nothing any more
/// (user or project gone or disabled, no role left on the scope).
fn build_context(conn: &Connection, row: &TokenRow) -> Result<Option<AuthContext>> {
    let Some(user) = model::user(conn, &row.user_id)? else {
        return Ok(None);
    };
    let Some(user_domain) = model::domain(conn, &user.domain_id)? else {
        return Ok(None);
    };
    if !user.enabled || !user_domain.enabled {
        return Ok(None);
    }
    let (scope, mut roles) = match (row.scope_kind.as_str(), row.scope_id.as_deref()) {
        ("project", Some(id)) => {
            let Some(project) = model::project(conn, id)? else {
                return Ok(None);
            };
            let Some(domain) = model::domain(conn, &project.domain_id)? else {
                return Ok(None);
            };
            if !project.enabled || !domain.enabled {
                return Ok(None);
            }
            let roles = roles::effective_roles(conn, &user.id, TargetKind::Project, &project.id)?;
            (
                Scope::Project {
                    project: named(&project.id, &project.name),
                    domain: named(&domain.id, &domain.name),
                },
                roles,
            )
        }
        ("domain", Some(id)) => {
            let Some(domain) = model::domain(conn, id)? else {
                return Ok(None);
            };
            if !domain.enabled {
                return Ok(None);
            }
            let roles = roles::effective_roles(conn, &user.id, TargetKind::Domain, &domain.id)?;
            (Scope::Domain(named(&domain.id, &domain.name)), roles)
        }
        ("system", _) => (
            Scope::System,
            roles::effective_roles(conn, &user.id, TargetKind::System, SYSTEM_TARGET)?,
        ),
        _ => (Scope::Unscoped, Vec::new()),
    };
    let mut application_credential = None;
    if let Some(id) = &row.app_credential_id {
        let Some(credential) = app_credentials::load(conn, id)? else {
            return Ok(None);
        };
        // An application credential delegates at most the roles it was
        // created with, and only while the user still holds them.
        let delegated = roles::expand_implied(conn, &credential.role_ids)?;
        roles.retain(|role| delegated.contains(role));
        application_credential = Some(AppCredentialRef {
            id: credential.id,
            name: credential.name,
            restricted: !credential.unrestricted,
        });
    }
    if scope != Scope::Unscoped && roles.is_empty() {
        return Ok(None);
    }
    Ok(Some(AuthContext {
        user: named(&user.id, &user.name),
        user_domain: named(&user_domain.id, &user_domain.name),
        scope,
        roles: roles.iter().map(|r| named(&r.id, &r.name)).collect(),
        methods: row.methods.clone(),
        issued_at: row.issued_at,
        expires_at: row.expires_at,
        audit_id: row.audit_id.clone(),
        application_credential,
    }))
}

/// Keystone's timestamp format in tokens: microseconds and a `Z`.
pub fn format_time(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Keystone's format for the times it stores as naive UTC (an application
/// credential's expiry): microseconds, no zone.
pub fn format_naive_time(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}
