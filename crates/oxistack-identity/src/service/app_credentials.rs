//! Application credentials: a user mints one with a project-scoped token;
//! it is bound to that project and delegates the token's roles, or the
//! subset named in the request. A restricted credential can neither mint
//! nor delete others.

use base64::Engine;
use chrono::Utc;
use oxistack_auth::AuthContext;
use oxistack_db::rusqlite::Connection;
use rand::RngCore;

use super::error::{IdentityError, Result};
use super::require_self_or_admin;
use super::validate::{self, NAME_LENGTH};
use crate::IdentityService;
use crate::model::{self, AppCredential, Role, app_credentials, new_id, roles};
use crate::password;
use crate::wire::{AppCredentialCreate, RoleIdentifier};

/// A credential with the roles it delegates.
#[derive(Debug, Clone)]
pub struct DelegatedCredential {
    pub credential: AppCredential,
    pub roles: Vec<Role>,
}

fn with_roles(conn: &Connection, credential: AppCredential) -> Result<DelegatedCredential> {
    let mut roles = Vec::new();
    for id in &credential.role_ids {
        if let Some(role) = roles::role(conn, id)? {
            roles.push(role);
        }
    }
    Ok(DelegatedCredential { credential, roles })
}

fn random_secret() -> String {
    let mut bytes = [0u8; 48];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn refuse_if_restricted(caller: &AuthContext, what: &str) -> Result<()> {
    if caller
        .application_credential
        .as_ref()
        .is_some_and(|c| c.restricted)
    {
        return Err(IdentityError::forbidden(format!(
            "A restricted application credential cannot be used to {what}."
        )));
    }
    Ok(())
}

/// The roles to delegate: only what the caller holds now, and named roles
/// must be among them. No roles (absent or empty, as the CLI sends) means
/// all of them.
fn delegated_roles(caller: &AuthContext, wanted: Option<&[RoleIdentifier]>) -> Result<Vec<String>> {
    let held = &caller.roles;
    match wanted {
        None | Some([]) => Ok(held.iter().map(|r| r.id.clone()).collect()),
        Some(wanted) => wanted
            .iter()
            .map(|role| {
                held.iter()
                    .find(|r| {
                        role.id.as_deref() == Some(r.id.as_str())
                            || role.name.as_deref() == Some(r.name.as_str())
                    })
                    .map(|r| r.id.clone())
                    .ok_or_else(|| {
                        IdentityError::forbidden(format!(
                            "The role {} is not held on the project, so it cannot be delegated.",
                            role.name.as_deref().or(role.id.as_deref()).unwrap_or("?")
                        ))
                    })
            })
            .collect(),
    }
}

/// The credential `credential_id` of `user_id`, or 404.
fn owned(conn: &Connection, user_id: &str, credential_id: &str) -> Result<AppCredential> {
    app_credentials::load(conn, credential_id)?
        .filter(|c| c.user_id == user_id)
        .ok_or_else(|| IdentityError::not_found("application credential", credential_id))
}

impl IdentityService {
    /// Creates a credential for the caller's own user on the caller's
    /// project; answers it with its secret, which is never shown again.
    pub async fn create_app_credential(
        &self,
        caller: &AuthContext,
        user_id: &str,
        request: AppCredentialCreate,
    ) -> Result<(DelegatedCredential, String)> {
        if caller.user.id != user_id {
            return Err(IdentityError::forbidden(
                "Application credentials can only be created by their own user.",
            ));
        }
        refuse_if_restricted(caller, "create another application credential")?;
        validate::name("application_credential.name", &request.name, NAME_LENGTH)?;
        if request
            .access_rules
            .as_ref()
            .is_some_and(|rules| !rules.is_empty())
        {
            return Err(IdentityError::invalid(
                "Invalid input for field 'application_credential.access_rules': access rules are not supported.",
            ));
        }
        let project_id = caller
            .project_id()
            .ok_or_else(|| {
                IdentityError::forbidden("Application credentials require a project-scoped token.")
            })?
            .to_owned();
        let expires_at = match &request.expires_at {
            None => None,
            Some(text) => Some(oxistack_http::time::parse_client_time(text).ok_or_else(|| {
                IdentityError::invalid(format!(
                    "Invalid input for field 'application_credential.expires_at': '{text}' is not an ISO 8601 time."
                ))
            })?),
        };
        if expires_at.is_some_and(|t| t <= Utc::now()) {
            return Err(IdentityError::invalid(
                "Invalid input for field 'application_credential.expires_at': the expiry is in the past.",
            ));
        }
        let role_ids = delegated_roles(caller, request.roles.as_deref())?;
        let secret = request.secret.unwrap_or_else(random_secret);
        if secret.is_empty() {
            return Err(IdentityError::invalid(
                "Invalid input for field 'application_credential.secret': must not be empty.",
            ));
        }
        validate::password("application_credential.secret", &secret)?;
        let credential = AppCredential {
            id: new_id(),
            name: request.name,
            user_id: user_id.to_owned(),
            project_id,
            secret_hash: password::hash(secret.clone()).await?,
            description: request.description,
            expires_at,
            unrestricted: request.unrestricted.unwrap_or(false),
            role_ids,
        };
        let created = self
            .change(move |tx| {
                app_credentials::insert(tx, &credential).map_err(model::conflict_on_duplicate(
                    "application_credential",
                    &credential.name,
                ))?;
                with_roles(tx, credential)
            })
            .await?;
        Ok((created, secret))
    }

    pub async fn list_app_credentials(
        &self,
        caller: &AuthContext,
        user_id: &str,
        name: Option<String>,
    ) -> Result<Vec<DelegatedCredential>> {
        require_self_or_admin(caller, user_id)?;
        let user_id = user_id.to_owned();
        self.read(move |conn| {
            model::require(model::user(conn, &user_id)?, "user", &user_id)?;
            app_credentials::list(conn, &user_id, name.as_deref())?
                .into_iter()
                .map(|credential| with_roles(conn, credential))
                .collect()
        })
        .await
    }

    pub async fn get_app_credential(
        &self,
        caller: &AuthContext,
        user_id: &str,
        credential_id: &str,
    ) -> Result<DelegatedCredential> {
        require_self_or_admin(caller, user_id)?;
        let (user_id, credential_id) = (user_id.to_owned(), credential_id.to_owned());
        self.read(move |conn| with_roles(conn, owned(conn, &user_id, &credential_id)?))
            .await
    }

    /// Deleting a credential also invalidates the tokens issued for it.
    pub async fn delete_app_credential(
        &self,
        caller: &AuthContext,
        user_id: &str,
        credential_id: &str,
    ) -> Result<()> {
        require_self_or_admin(caller, user_id)?;
        refuse_if_restricted(caller, "delete application credentials")?;
        let (user_id, credential_id) = (user_id.to_owned(), credential_id.to_owned());
        let tokens = self.tokens.clone();
        self.change(move |tx| {
            owned(tx, &user_id, &credential_id)?;
            tokens.revoke_app_credential(tx, &credential_id)?;
            app_credentials::delete(tx, &credential_id)
        })
        .await
    }
}
