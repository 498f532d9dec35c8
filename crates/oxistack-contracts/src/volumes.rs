//! What the volume service (Cinder) and compute (Nova) offer each other.
//!
//! Compute attaches volumes as Nova does with Cinder's attachments API:
//! it reserves an attachment for the server (the volume turns
//! `attaching`, or stays `in-use` for a second multi-attach server),
//! plugs the disk it is handed into the guest, then completes the
//! attachment (`in-use`), or releases it if plugging failed. Detaching
//! unplugs first and releases after. Boot from volume creates the volume
//! through the same service, so quotas and types apply as to any volume.
//!
//! The other way round, a volume that changes under a running guest
//! (extended while attached) is Nova's "external event": the volume
//! service asks compute, through [`VolumeHosts`], to make the guests see it.

use std::path::PathBuf;

use futures_util::future::BoxFuture;
use oxistack_auth::AuthContext;

use crate::ContractError;

/// A volume as compute needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeSummary {
    pub id: String,
    pub name: String,
    pub project_id: String,
    /// Cinder's status: `available`, `in-use`, `creating`, `error`...
    pub status: String,
    pub size_gib: u64,
    pub multiattach: bool,
    pub bootable: bool,
}

/// Where a volume's data is on this host and how a hypervisor opens it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeLocation {
    /// The file a guest's disk is backed by (its qcow2 chain's top, or a
    /// raw file). It keeps its path for the volume's life.
    pub path: PathBuf,
    /// `qcow2` or `raw`.
    pub format: String,
    /// Several guests write it at once (a multi-attach volume): the
    /// hypervisor must share it rather than lock it.
    pub shareable: bool,
    pub read_only: bool,
}

/// A reserved attachment: the id to complete or release it by, and the
/// disk to plug.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentGrant {
    pub attachment_id: String,
    pub volume: VolumeSummary,
    pub location: VolumeLocation,
}

/// An attachment the volume service holds for a server, for compute's
/// reconciliation after a restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerAttachment {
    pub attachment_id: String,
    pub volume_id: String,
    /// `attaching`, `attached` or `detaching`.
    pub attach_status: String,
}

/// A volume made for a server to boot from (`--boot-from-volume`, or a
/// block device mapping with `source_type` image or blank and
/// `destination_type` volume).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootVolumeRequest {
    pub name: String,
    pub size_gib: u64,
    /// The image whose data the volume starts with; `None` for a blank one.
    pub image_id: Option<String>,
    pub volume_type: Option<String>,
}

/// The volume service as compute uses it.
pub trait Volumes: Send + Sync + 'static {
    /// The volume `id` if the caller can see it; `None` otherwise.
    fn find<'a>(
        &'a self,
        caller: &'a AuthContext,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<VolumeSummary>, ContractError>>;

    /// Reserves an attachment of volume `volume_id` to `server_id`:
    /// `NotFound` if the caller cannot see it, `Conflict` (with Cinder's
    /// words) if it cannot be attached now: not `available`, or already
    /// attached and not multi-attach, or already attached to that server.
    fn reserve<'a>(
        &'a self,
        caller: &'a AuthContext,
        volume_id: &'a str,
        server_id: &'a str,
    ) -> BoxFuture<'a, Result<AttachmentGrant, ContractError>>;

    /// The disk of an attachment that exists, for compute to plug again
    /// (a resumed attach, a guest started again).
    fn location<'a>(
        &'a self,
        attachment_id: &'a str,
    ) -> BoxFuture<'a, Result<AttachmentGrant, ContractError>>;

    /// Marks a reserved attachment done: the volume is `in-use`, attached
    /// at `mountpoint` (e.g. `/dev/vdb`).
    fn complete<'a>(
        &'a self,
        attachment_id: &'a str,
        mountpoint: &'a str,
    ) -> BoxFuture<'a, Result<(), ContractError>>;

    /// Marks an attachment as being detached (`detaching`), before the
    /// disk is unplugged.
    fn begin_detach<'a>(
        &'a self,
        attachment_id: &'a str,
    ) -> BoxFuture<'a, Result<(), ContractError>>;

    /// Removes an attachment (after the disk is unplugged, or when plugging
    /// failed); the volume is `available` again once it has none. An
    /// attachment that is already gone is fine.
    fn release<'a>(&'a self, attachment_id: &'a str) -> BoxFuture<'a, Result<(), ContractError>>;

    /// Every attachment held for `server_id`.
    fn server_attachments<'a>(
        &'a self,
        server_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<ServerAttachment>, ContractError>>;

    /// Creates a volume for a server to boot from and returns once it is
    /// `available` (or failed, as `Internal`/`Invalid`).
    fn create_boot_volume<'a>(
        &'a self,
        caller: &'a AuthContext,
        request: &'a BootVolumeRequest,
    ) -> BoxFuture<'a, Result<VolumeSummary, ContractError>>;

    /// Deletes a volume that a deleted server's mapping said to delete on
    /// termination, once detached. An absent volume is fine.
    fn delete_volume<'a>(&'a self, volume_id: &'a str) -> BoxFuture<'a, Result<(), ContractError>>;
}

/// What compute offers the volume service: Nova's external events.
pub trait VolumeHosts: Send + Sync + 'static {
    /// Volume `volume_id`, attached to `server_id`, grew to `size_bytes`:
    /// make the running guest see the new size (a stopped one sees it at
    /// its next start).
    fn volume_extended<'a>(
        &'a self,
        server_id: &'a str,
        volume_id: &'a str,
        size_bytes: u64,
    ) -> BoxFuture<'a, Result<(), ContractError>>;
}
