//! The volume service's operations: typed calls (a caller and a typed
//! request, a typed result or a [`VolumeError`]) that check the policy
//! themselves and make each change in one write transaction. What takes
//! time (making, copying, growing, uploading and removing data) runs afterwards as a
//! supervised task ([`work`]) that moves the record from its transitional
//! status (`creating`, `deleting`, `extending`, `uploading`) to its outcome, so clients
//! poll as they do with Cinder. [`VolumeService::recover`] settles what a
//! crash left transitional.

mod actions;
mod attachments;
mod common;
mod error;
mod lists;
mod quotas;
mod server;
mod snapshots;
mod types;
mod upload;
mod volumes;
mod work;

use std::sync::{Arc, RwLock};

use oxistack_auth::policy::allows;
use oxistack_auth::{Action, AuthContext};
use oxistack_contracts::{Images, VolumeHosts};
use oxistack_db::Db;
use oxistack_db::rusqlite::Connection;
use oxistack_volstore::VolumeBackend;

use crate::model::{Snapshot, Volume, VolumeDetail, status};
use crate::store;
use common::Change;

pub use attachments::NewAttachment;
pub use common::MetadataHolder;
pub use error::VolumeError;
pub use lists::{ListRequest, Listed};
pub use quotas::{QuotaSet, Usage};
pub use snapshots::{NewSnapshot, SnapshotUpdate};
pub use types::{NewType, TypeUpdate};
pub use upload::{ImageUpload, UploadStarted};
pub use volumes::{NewVolume, ProjectUsage, ResetStatus, VolumeUpdate};

/// The volume service: records in the database, data in the backend.
pub struct VolumeService {
    worker: work::Worker,
    tasks: oxistack_tasks::Supervisor,
}

impl VolumeService {
    /// The service over `db` (migrated with [`crate::MIGRATIONS`]), keeping
    /// data in `backend`, reading images for volumes made from them from
    /// `images`, running its background work under `tasks`.
    pub fn new(
        db: Db,
        backend: Arc<dyn VolumeBackend>,
        images: Arc<dyn Images>,
        tasks: &oxistack_tasks::Supervisor,
    ) -> Arc<Self> {
        Arc::new(VolumeService {
            worker: work::Worker {
                db,
                backend,
                images,
                hosts: Arc::new(RwLock::new(None)),
            },
            tasks: tasks.clone(),
        })
    }

    /// Late-bound: compute is built after the volume service.
    pub fn set_hosts(&self, hosts: Arc<dyn VolumeHosts>) {
        *self.worker.hosts.write().unwrap_or_else(|e| e.into_inner()) = Some(hosts);
    }

    /// First start: the default volume types. Idempotent.
    pub fn bootstrap(&self) -> Result<(), VolumeError> {
        self.worker.db.write_blocking(|tx| types::bootstrap(tx))
    }

    /// After every start: what a crash interrupted becomes what the
    /// backend shows, then the backend drops what no record names.
    pub async fn recover(&self) -> Result<(), VolumeError> {
        self.worker.recover().await
    }

    fn db(&self) -> &Db {
        &self.worker.db
    }

    /// Runs `job` as a supervised task named `name`.
    fn spawn<F>(&self, name: String, job: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        self.tasks.spawn(name, |_stop| job);
    }

    /// Changes volume `id` (visible to `caller`, who must own it) in one
    /// transaction: `f` decides and changes the record, which is saved.
    async fn change_volume<T: Send + 'static>(
        &self,
        caller: &AuthContext,
        id: &str,
        f: impl Change<Volume, T>,
    ) -> Result<T, VolumeError> {
        self.run_as(caller, Action::WriteVolumes, id, move |tx, caller, id| {
            let mut volume = visible_volume(tx, caller, id)?;
            let value = f(tx, &mut volume)?;
            volume.touch();
            store::put_volume(tx, &volume)?;
            Ok(value)
        })
        .await
    }
}

pub(crate) fn authorize(caller: &AuthContext, action: Action) -> Result<(), VolumeError> {
    if allows(caller, action.rule()) {
        Ok(())
    } else {
        Err(VolumeError::Forbidden(action.name()))
    }
}

/// Whether the caller may act as administrator of volumes.
pub(crate) fn is_admin(caller: &AuthContext) -> bool {
    allows(caller, Action::ManageVolumeStatus.rule())
}

/// Volume `id` if the caller sees its project; another project's is
/// "not found", as Cinder answers.
pub(crate) fn visible_volume(
    conn: &Connection,
    caller: &AuthContext,
    id: &str,
) -> Result<Volume, VolumeError> {
    store::volume(conn, id)?
        .filter(|v| caller.can_see_project(&v.project_id))
        .ok_or_else(|| VolumeError::VolumeNotFound(id.to_owned()))
}

pub(crate) fn visible_snapshot(
    conn: &Connection,
    caller: &AuthContext,
    id: &str,
) -> Result<Snapshot, VolumeError> {
    store::snapshot(conn, id)?
        .filter(|s| caller.can_see_project(&s.project_id))
        .ok_or_else(|| VolumeError::SnapshotNotFound(id.to_owned()))
}

/// A volume with its type's name and its attachments.
pub(crate) fn detail(conn: &Connection, volume: Volume) -> Result<VolumeDetail, VolumeError> {
    let type_name = store::volume_type(conn, &volume.volume_type_id)?.map(|t| t.name);
    let attachments = store::attachments_of(conn, &volume.id)?;
    Ok(VolumeDetail {
        volume,
        type_name,
        attachments,
    })
}

/// The status a volume returns to once nothing transitional happens to
/// it: `in-use` while anything is attached, else `available`.
pub(crate) fn settled_status(
    conn: &Connection,
    volume_id: &str,
) -> Result<&'static str, VolumeError> {
    let attached = store::attachments_of(conn, volume_id)?
        .iter()
        .any(|a| a.status == crate::model::attach::ATTACHED);
    Ok(if attached {
        status::IN_USE
    } else {
        status::AVAILABLE
    })
}
