//! Key pairs: SSH keys, owned by users rather than projects, as in Nova.
//! Another user's key pair does not exist for the caller, unless an
//! administrator names the user.

use chrono::Utc;
use oxistack_auth::{Action, AuthContext};

use super::ComputeService;
use super::error::{ComputeError, Result, authorize};
use crate::keys;
use crate::model::{Keypair, keypair_not_found};
use crate::quota::{Limits, Resource};
use crate::store::keypairs as store;

/// `GET /os-keypairs`: one user's key pairs by name.
#[derive(Debug, Clone, Default)]
pub struct KeypairListing {
    /// Another user's, for an administrator; the caller's when `None`.
    pub user_id: Option<String>,
    /// At most this many after `marker`; all of them when `None`.
    pub limit: Option<usize>,
    pub marker: Option<String>,
}

/// A key pair to import (`public_key`) or to generate.
#[derive(Debug, Clone)]
pub struct NewKeypair {
    pub name: String,
    /// An OpenSSH public key line, stored exactly as given; a new key is
    /// generated when `None`.
    pub public_key: Option<String>,
    /// The owner, for an administrator; the caller when `None`.
    pub user_id: Option<String>,
}

/// A stored key pair, with its private key if it was generated.
#[derive(Debug, Clone)]
pub struct CreatedKeypair {
    pub keypair: Keypair,
    pub private_key: Option<String>,
}

/// The user whose key pairs a request acts on: the caller, or the user an
/// administrator names.
fn owner(caller: &AuthContext, named: Option<&str>) -> Result<String> {
    match named {
        Some(user) if user != caller.user.id => {
            authorize(caller, Action::ManageOtherUsersKeypairs)?;
            Ok(user.to_owned())
        }
        _ => Ok(caller.user.id.clone()),
    }
}

impl ComputeService {
    pub async fn list_keypairs(
        &self,
        caller: &AuthContext,
        listing: KeypairListing,
    ) -> Result<Vec<Keypair>> {
        authorize(caller, Action::ReadKeypairs)?;
        let user = owner(caller, listing.user_id.as_deref())?;
        let limit = listing.limit.unwrap_or(usize::MAX).min(i64::MAX as usize);
        self.read(move |conn| store::list(conn, &user, listing.marker.as_deref(), limit))
            .await
    }

    /// Key pair `name` of the caller, or of `user_id` for an administrator.
    pub async fn show_keypair(
        &self,
        caller: &AuthContext,
        user_id: Option<&str>,
        name: &str,
    ) -> Result<Keypair> {
        authorize(caller, Action::ReadKeypairs)?;
        let user = owner(caller, user_id)?;
        let name = name.to_owned();
        self.read(move |conn| {
            store::find(conn, &user, &name)?.ok_or_else(|| keypair_not_found(&name, &user))
        })
        .await
    }

    /// Imports or generates a key pair within the caller's project's
    /// `key_pairs` quota (counted per user, as Nova counts it).
    pub async fn create_keypair(
        &self,
        caller: &AuthContext,
        new: NewKeypair,
    ) -> Result<CreatedKeypair> {
        authorize(caller, Action::ManageKeypairs)?;
        let user = owner(caller, new.user_id.as_deref())?;
        let (public_key, private_key) = match new.public_key {
            Some(public_key) => (public_key, None),
            None => {
                let generated = keys::generate()?;
                (generated.public_key, Some(generated.private_key))
            }
        };
        let mut keypair = Keypair {
            number: 0,
            user_id: user,
            name: new.name,
            fingerprint: keys::fingerprint(&public_key)?,
            public_key,
            created_at: Utc::now(),
        };
        let project = caller.project_id().map(str::to_owned);
        let keypair = self
            .write(move |tx| {
                let limits = match &project {
                    Some(project) => Limits::of(tx, project)?,
                    None => Limits::defaults(),
                };
                let used = store::count(tx, &keypair.user_id)?;
                if limits.room(Resource::KeyPairs, used, 1) == Some(0) {
                    return Err(ComputeError::forbidden(
                        "Quota exceeded, too many key pairs.",
                    ));
                }
                store::insert(tx, &mut keypair)?;
                Ok(keypair)
            })
            .await?;
        Ok(CreatedKeypair {
            keypair,
            private_key,
        })
    }

    pub async fn delete_keypair(
        &self,
        caller: &AuthContext,
        user_id: Option<&str>,
        name: &str,
    ) -> Result<()> {
        authorize(caller, Action::ManageKeypairs)?;
        let user = owner(caller, user_id)?;
        let name = name.to_owned();
        self.write(move |tx| {
            if store::delete(tx, &user, &name)? {
                Ok(())
            } else {
                Err(keypair_not_found(&name, &user))
            }
        })
        .await
    }
}
