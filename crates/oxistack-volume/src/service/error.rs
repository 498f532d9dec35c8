//! The volume service's refusals and failures, knowing nothing of HTTP:
//! each refusal carries the text of the Cinder exception it stands for
//! (`InvalidVolume`, `VolumeNotFound`, `VolumeSizeExceedsAvailableQuota`,
//! ...), a failure of the cloud keeps its cause for the log.

use oxistack_contracts::ContractError;
use oxistack_db::DbError;
use oxistack_list::ListError;
use oxistack_volstore::BackendError;

#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    #[error("Volume {0} could not be found.")]
    VolumeNotFound(String),
    #[error("Snapshot {0} could not be found.")]
    SnapshotNotFound(String),
    #[error("Volume type {0} could not be found.")]
    TypeNotFound(String),
    #[error("Volume attachment could not be found with filter: attachment_id = {0}.")]
    AttachmentNotFound(String),
    #[error("Image {0} could not be found.")]
    ImageNotFound(String),
    /// Other `NotFound`s with their own text (metadata keys, type access).
    #[error("{0}")]
    Missing(String),
    /// Cinder's `InvalidVolume`.
    #[error("Invalid volume: {0}")]
    InvalidVolume(String),
    /// Cinder's `InvalidSnapshot`.
    #[error("Invalid snapshot: {0}")]
    InvalidSnapshot(String),
    /// Cinder's `InvalidInput`.
    #[error("Invalid input received: {0}")]
    InvalidInput(String),
    /// Cinder's `InvalidVolumeType`.
    #[error("Invalid volume type: {0}")]
    InvalidType(String),
    /// A 400 with its own wording (schema validation, webob's
    /// `HTTPBadRequest`).
    #[error("{0}")]
    BadRequest(String),
    /// A duplicate (`VolumeTypeExists`, `VolumeTypeAccessExists`).
    #[error("{0}")]
    Conflict(String),
    /// Cinder's `QuotaError`s (413).
    #[error("{0}")]
    OverQuota(String),
    /// Cinder's `PolicyNotAuthorized`.
    #[error("Policy doesn't allow {0} to be performed.")]
    Forbidden(&'static str),
    #[error(transparent)]
    List(#[from] ListError),
    /// Another service refused or failed a call made for the request.
    #[error(transparent)]
    Contract(#[from] ContractError),
    #[error("the database failed: {0}")]
    Storage(#[from] DbError),
    #[error("the volume backend failed: {0}")]
    Backend(#[from] BackendError),
    #[error("the service failed: {0}")]
    Internal(String),
}

impl From<oxistack_db::rusqlite::Error> for VolumeError {
    fn from(error: oxistack_db::rusqlite::Error) -> Self {
        VolumeError::Storage(DbError::from(error))
    }
}

impl VolumeError {
    /// Cinder's `VolumeSizeExceedsAvailableQuota`.
    pub fn size_quota(name: &str, requested: u64, quota: i64, consumed: u64) -> VolumeError {
        VolumeError::OverQuota(format!(
            "Requested volume or snapshot exceeds allowed {name} quota. Requested {requested}G, \
             quota is {quota}G and {consumed}G has been consumed."
        ))
    }
}
