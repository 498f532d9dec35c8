//! Image data: streamed in by `PUT .../file`, streamed out by `GET .../file`.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use oxistack_auth::Caller;
use oxistack_http::ApiError;
use tokio_util::io::ReaderStream;

use super::{Service, image_id};
use crate::service::Download;

/// The size clients announce for the data they upload (openstacksdk does).
const IMAGE_SIZE_HEADER: &str = "x-openstack-image-size";

/// How much of a file each chunk of a download carries.
const DOWNLOAD_CHUNK: usize = 64 * 1024;

pub async fn upload(
    State(service): Service,
    Caller(caller): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let id = image_id(&id)?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let media_type = content_type
        .and_then(|v| v.split(';').next())
        .map(str::trim);
    if media_type != Some("application/octet-stream") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "Image data must be sent as application/octet-stream, not {}.",
                content_type.unwrap_or("a body without Content-Type")
            ),
        ));
    }
    let announced_size = match headers.get(IMAGE_SIZE_HEADER) {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .and_then(|v| v.trim().parse::<i64>().ok())
                .filter(|size| *size >= 0)
                .ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "{IMAGE_SIZE_HEADER} must be a non-negative integer."
                    ))
                })?,
        ),
    };
    service
        .upload(&caller, id, announced_size, body.into_data_stream())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn download(
    State(service): Service,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let Download::Data {
        file,
        size,
        checksum,
    } = service.download(&caller, image_id(&id)?).await?
    else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let mut response =
        Body::from_stream(ReaderStream::with_capacity(file, DOWNLOAD_CHUNK)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Some(size) = size {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    }
    // Glance sends the hex MD5 here, which clients check the data against.
    if let Some(checksum) = checksum.and_then(|c| HeaderValue::from_str(&c).ok()) {
        headers.insert(HeaderName::from_static("content-md5"), checksum);
    }
    Ok(response)
}
