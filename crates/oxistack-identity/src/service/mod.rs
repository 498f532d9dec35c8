//! The identity service's typed calls: the caller and a typed request in,
//! model entities or an [`IdentityError`] out. Every call checks policy
//! itself (with `oxistack_auth::policy`, the cloud's one table), so the
//! HTTP handlers in `api/` only parse and render, and any other user of
//! the service (a dashboard) gets the same decisions. Changes run in one
//! transaction through [`IdentityService::change`]; the SQL is the store's
//! (`model`).

mod app_credentials;
mod assignments;
mod auth;
mod catalog;
mod domains;
mod entity;
mod error;
mod groups;
mod projects;
mod roles;
mod users;
mod validate;

use oxistack_auth::{Action, AuthContext, Scope, policy};
use oxistack_db::rusqlite::{Connection, Transaction};

use crate::IdentityService;
use crate::model::DEFAULT_DOMAIN_ID;

pub use app_credentials::DelegatedCredential;
pub use assignments::{AssignmentFilter, DomainRef, GrantTarget, Reference, RoleAssignment};
pub use auth::{IssuedToken, ValidatedToken};
pub use entity::Entity;
pub use error::{BoxError, IdentityError, Result};
pub use roles::RoleInference;

impl IdentityService {
    /// Runs a read-only query on the identity tables.
    pub(crate) async fn read<T, F>(&self, f: F) -> Result<T>
    where
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        self.db.read(f).await
    }

    /// Runs an identity change in one transaction, then drops cached token
    /// validations so no token outlives what the change took away.
    pub(crate) async fn change<T, F>(&self, f: F) -> Result<T>
    where
        F: FnOnce(&Transaction) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let result = self.db.write(f).await;
        self.tokens.invalidate_cache();
        result
    }
}

/// Whether `caller` may do `action`, for calls that show more or less
/// rather than refuse (an administrator's listing shows everything).
fn allows(caller: &AuthContext, action: Action) -> bool {
    policy::allows(caller, action.rule())
}

/// Users may act on themselves; acting on another user is for admins.
/// Another user is a 404 to non-admins, so user ids cannot be probed.
fn require_self_or_admin(caller: &AuthContext, user_id: &str) -> Result<()> {
    if caller.user.id == user_id || allows(caller, Action::ActOnOtherUsers) {
        Ok(())
    } else {
        Err(IdentityError::not_found("user", user_id))
    }
}

/// The domain new projects, users and groups go to when the request names
/// none: the caller's project's domain, as Keystone does.
fn default_domain(caller: &AuthContext) -> String {
    match &caller.scope {
        Scope::Project { domain, .. } => domain.id.clone(),
        Scope::Domain(domain) => domain.id.clone(),
        _ => DEFAULT_DOMAIN_ID.to_owned(),
    }
}
