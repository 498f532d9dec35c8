//! The image service as compute uses it: [`Images`] implemented on
//! [`ImageService`].

use std::path::PathBuf;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use oxistack_auth::AuthContext;
use oxistack_contracts::{ContractError, ImageSummary, Images};

use crate::{Image, ImageError, ImageService};

impl Images for ImageService {
    fn find<'a>(
        &'a self,
        caller: &'a AuthContext,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ImageSummary>, ContractError>> {
        Box::pin(async move {
            let image = ImageService::find(self, &Arc::new(caller.clone()), id)
                .await
                .map_err(contract_error)?;
            Ok(image.map(summary))
        })
    }

    fn data_file(&self, id: &str) -> Option<PathBuf> {
        ImageService::data_file(self, id)
    }
}

/// An image service error in the contract's terms: refusals keep their
/// message, the service's own failures their cause.
fn contract_error(error: ImageError) -> ContractError {
    match error {
        ImageError::NotFound(message) | ImageError::Gone(message) => {
            ContractError::NotFound(message)
        }
        ImageError::Invalid(message) => ContractError::Invalid(message),
        ImageError::Conflict(message) => ContractError::Conflict(message),
        ImageError::Forbidden(message) => ContractError::Forbidden(message),
        failure @ (ImageError::Storage(_) | ImageError::Internal { .. }) => {
            ContractError::internal("the image service", failure)
        }
    }
}

/// An image as compute needs it: sizes never negative, properties as given.
fn summary(image: Image) -> ImageSummary {
    ImageSummary {
        name: image.name.unwrap_or_default(),
        status: image.status.as_str().to_owned(),
        min_disk: image.min_disk.max(0) as u64,
        min_ram: image.min_ram.max(0) as u64,
        size: image.size.map(|s| s.max(0) as u64),
        disk_format: image.disk_format,
        properties: image.properties.into_iter().collect(),
        id: image.id,
    }
}
