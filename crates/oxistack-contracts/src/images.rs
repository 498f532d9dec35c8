//! What the image service offers compute: the images a caller may boot
//! and where their data is on this host.

use std::collections::HashMap;
use std::path::PathBuf;

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

/// The image service as compute uses it.
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
}
