//! The image service as compute and block storage use it: [`Images`]
//! implemented on [`ImageService`]. Images made for another service go
//! through the same operations as over the API (create, then upload), so
//! the same policy, statuses and checksums apply.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures_util::future::BoxFuture;
use oxistack_auth::AuthContext;
use oxistack_contracts::{ContractError, ImageSummary, Images, NewImage, ReservedImage};
use serde_json::{Map, Value};

use crate::model::{self, Key};
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

    fn reserve_image<'a>(
        &'a self,
        caller: &'a AuthContext,
        request: NewImage,
    ) -> BoxFuture<'a, Result<ReservedImage, ContractError>> {
        Box::pin(async move {
            let image = ImageService::create(self, &Arc::new(caller.clone()), create_body(request))
                .await
                .map_err(contract_error)?;
            Ok(ReservedImage {
                name: image.name.unwrap_or_default(),
                disk_format: image.disk_format.unwrap_or_default(),
                container_format: image.container_format.unwrap_or_default(),
                visibility: image.visibility.as_str().to_owned(),
                protected: image.protected,
                id: image.id,
            })
        })
    }

    fn import_file<'a>(
        &'a self,
        caller: &'a AuthContext,
        id: &'a str,
        file: &'a Path,
    ) -> BoxFuture<'a, Result<ImageSummary, ContractError>> {
        Box::pin(async move {
            ImageService::upload_file(self, &Arc::new(caller.clone()), id, file)
                .await
                .map(summary)
                .map_err(contract_error)
        })
    }

    fn discard_image<'a>(
        &'a self,
        caller: &'a AuthContext,
        id: &'a str,
    ) -> BoxFuture<'a, Result<(), ContractError>> {
        Box::pin(async move {
            ImageService::discard_queued(self, &Arc::new(caller.clone()), id)
                .await
                .map_err(contract_error)
        })
    }
}

/// The `POST /v2/images` body for `request`: its attributes, and those of
/// its properties Glance lets a client set as properties (an attribute's
/// or a reserved key's name is left out rather than refused).
fn create_body(request: NewImage) -> Map<String, Value> {
    let mut body = Map::new();
    for (key, value) in request.properties {
        if matches!(model::classify(&key), Key::Property(_)) {
            body.insert(key, Value::String(value));
        }
    }
    body.insert("name".into(), Value::String(request.name));
    body.insert("disk_format".into(), Value::String(request.disk_format));
    body.insert(
        "container_format".into(),
        Value::String(request.container_format),
    );
    if let Some(visibility) = request.visibility {
        body.insert("visibility".into(), Value::String(visibility));
    }
    body.insert("protected".into(), Value::Bool(request.protected));
    body
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
