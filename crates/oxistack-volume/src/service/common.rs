//! What the operations of every resource share, so that volumes,
//! snapshots, attachments and types answer alike: one record read or
//! changed as a caller the policy allows (found only if the caller sees
//! it), a list scoped to the caller's project unless an administrator
//! asks for all, metadata merged or replaced, a key removed, a requested
//! status checked against those allowed.

use oxistack_auth::{Action, AuthContext};
use oxistack_db::rusqlite::Connection;

use super::{VolumeError, VolumeService, authorize};
use crate::model::Metadata;

/// Whose metadata: the records that keep a metadata map of their own.
#[derive(Clone, Copy, Debug)]
pub enum MetadataHolder {
    Volume,
    Snapshot,
}

/// What changes one record `R` in the transaction that saves it,
/// answering `T` (the bound every `change_*` takes, written once).
pub(super) trait Change<R, T>:
    FnOnce(&Connection, &mut R) -> Result<T, VolumeError> + Send + 'static
{
}

impl<R, T, F> Change<R, T> for F where
    F: FnOnce(&Connection, &mut R) -> Result<T, VolumeError> + Send + 'static
{
}

impl VolumeService {
    /// `f` over record `id` in one transaction, as `caller`, once the
    /// policy allows `action`: a read-only one for [`Action::ReadVolumes`],
    /// a writing one for every other action.
    pub(super) async fn run_as<T, F>(
        &self,
        caller: &AuthContext,
        action: Action,
        id: &str,
        f: F,
    ) -> Result<T, VolumeError>
    where
        F: FnOnce(&Connection, &AuthContext, &str) -> Result<T, VolumeError> + Send + 'static,
        T: Send + 'static,
    {
        authorize(caller, action)?;
        let caller = caller.clone();
        let id = id.to_owned();
        if matches!(action, Action::ReadVolumes) {
            self.db().read(move |conn| f(conn, &caller, &id)).await
        } else {
            self.db().write(move |tx| f(tx, &caller, &id)).await
        }
    }

    /// `f` in a read transaction with the project a list is scoped to:
    /// the caller's, or `None` (every project) when an administrator asks
    /// for `all_tenants`.
    pub(super) async fn read_scoped<T, F>(
        &self,
        caller: &AuthContext,
        all_tenants: bool,
        f: F,
    ) -> Result<T, VolumeError>
    where
        F: FnOnce(&Connection, Option<&str>) -> Result<T, VolumeError> + Send + 'static,
        T: Send + 'static,
    {
        authorize(caller, Action::ReadVolumes)?;
        if all_tenants {
            authorize(caller, Action::ListAllProjectsVolumes)?;
        }
        let caller = caller.clone();
        self.db()
            .read(move |conn| {
                let scope = if all_tenants {
                    None
                } else {
                    caller.project_id()
                };
                f(conn, scope)
            })
            .await
    }

    /// The metadata of volume or snapshot `id`.
    pub async fn metadata(
        &self,
        caller: &AuthContext,
        holder: MetadataHolder,
        id: &str,
    ) -> Result<Metadata, VolumeError> {
        Ok(match holder {
            MetadataHolder::Volume => self.show_volume(caller, id).await?.volume.metadata,
            MetadataHolder::Snapshot => self.show_snapshot(caller, id).await?.metadata,
        })
    }

    /// Merges (or with `replace`, replaces) the metadata of volume or
    /// snapshot `id`; the whole metadata after.
    pub async fn set_metadata(
        &self,
        caller: &AuthContext,
        holder: MetadataHolder,
        id: &str,
        given: Metadata,
        replace: bool,
    ) -> Result<Metadata, VolumeError> {
        self.change_metadata(caller, holder, id, move |metadata| {
            if replace {
                *metadata = given;
            } else {
                metadata.extend(given);
            }
            Ok(metadata.clone())
        })
        .await
    }

    /// Removes `key` from the metadata of volume or snapshot `id`.
    pub async fn delete_metadata(
        &self,
        caller: &AuthContext,
        holder: MetadataHolder,
        id: &str,
        key: &str,
    ) -> Result<(), VolumeError> {
        let key = key.to_owned();
        self.change_metadata(caller, holder, id, move |metadata| {
            remove_key(metadata, &key, || "Metadata item was not found".into())
        })
        .await
    }

    /// Changes the metadata of volume or snapshot `id` with `f`, in the
    /// transaction that saves the record.
    async fn change_metadata<T, F>(
        &self,
        caller: &AuthContext,
        holder: MetadataHolder,
        id: &str,
        f: F,
    ) -> Result<T, VolumeError>
    where
        F: FnOnce(&mut Metadata) -> Result<T, VolumeError> + Send + 'static,
        T: Send + 'static,
    {
        match holder {
            MetadataHolder::Volume => {
                self.change_volume(caller, id, move |_, volume| f(&mut volume.metadata))
                    .await
            }
            MetadataHolder::Snapshot => {
                self.change_snapshot(caller, id, Action::WriteVolumes, move |snapshot| {
                    f(&mut snapshot.metadata)
                })
                .await
            }
        }
    }
}

/// Removes `key`; `missing` says why not when there is no such key.
pub(super) fn remove_key(
    map: &mut Metadata,
    key: &str,
    missing: impl FnOnce() -> String,
) -> Result<(), VolumeError> {
    map.remove(key)
        .map(|_| ())
        .ok_or_else(|| VolumeError::Missing(missing()))
}

/// A status asked for (`what`: "status", "attach status"), when given,
/// must be one of `allowed`.
pub(super) fn check_status(
    requested: Option<&str>,
    allowed: &[&str],
    what: &str,
) -> Result<(), VolumeError> {
    match requested {
        Some(s) if !allowed.contains(&s) => Err(VolumeError::BadRequest(format!(
            "Must specify a valid {what}: {s}"
        ))),
        _ => Ok(()),
    }
}
