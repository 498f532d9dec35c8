//! What the image service offers compute and block storage: the images a
//! caller may boot, where their data is on this host, and images made
//! from data another service writes (Cinder's upload of a volume).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use futures_util::future::BoxFuture;
use oxistack_auth::AuthContext;

use crate::ContractError;

/// An image as compute needs it to boot a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSummary {
    pub id: String,
    pub name: String,
    /// Glance status; only `active` images boot.
    pub status: String,
    /// Minimum root disk in GiB and RAM in MiB the image needs.
    pub min_disk: u64,
    pub min_ram: u64,
    pub size: Option<u64>,
    pub disk_format: Option<String>,
    /// Extra properties (Nova shows them in `image.properties` from 2.98).
    pub properties: HashMap<String, String>,
}

/// An image to be made for `caller` from data that follows
/// ([`Images::reserve_image`], then [`Images::import_file`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewImage {
    pub name: String,
    pub disk_format: String,
    pub container_format: String,
    /// Glance's default (`shared`) if `None`.
    pub visibility: Option<String>,
    pub protected: bool,
    /// Extra properties; keys Glance reserves for itself are left out.
    pub properties: HashMap<String, String>,
}

/// A queued image as the image service recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReservedImage {
    pub id: String,
    pub name: String,
    pub disk_format: String,
    pub container_format: String,
    pub visibility: String,
    pub protected: bool,
}

/// The image service as compute and block storage use it.
pub trait Images: Send + Sync + 'static {
    /// The image `id` if the caller can see it; `None` if there is no
    /// such image or the caller cannot see it.
    fn find<'a>(
        &'a self,
        caller: &'a AuthContext,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ImageSummary>, ContractError>>;

    /// Where the data of image `id` is on this host, once uploaded. Not
    /// checked against a caller: compute asks only for images a server
    /// was already allowed to boot from.
    fn data_file(&self, id: &str) -> Option<PathBuf>;

    /// Records a `queued` image owned by the caller's project, under the
    /// image service's own policy (as `POST /v2/images`).
    fn reserve_image<'a>(
        &'a self,
        caller: &'a AuthContext,
        request: NewImage,
    ) -> BoxFuture<'a, Result<ReservedImage, ContractError>>;

    /// Takes the data of the queued image `id` from `file` (which stays
    /// the caller's to remove) as an upload does: `saving`, then `active`
    /// with its size and checksums.
    fn import_file<'a>(
        &'a self,
        caller: &'a AuthContext,
        id: &'a str,
        file: &'a Path,
    ) -> BoxFuture<'a, Result<ImageSummary, ContractError>>;

    /// Removes image `id` reserved by [`Images::reserve_image`] whose data
    /// never arrived (a failed import); an image that became active or is
    /// already gone is left alone.
    fn discard_image<'a>(
        &'a self,
        caller: &'a AuthContext,
        id: &'a str,
    ) -> BoxFuture<'a, Result<(), ContractError>>;
}
