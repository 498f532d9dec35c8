//! What a client asks before using the API: versions, schemas, and which
//! import methods and stores exist.

use axum::Json;
use axum::extract::{OriginalUri, Path};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use oxistack_auth::Caller;
use oxistack_http::{ApiError, base_url};

use crate::schemas;
use crate::wire::{ImportInfo, ImportMethods, Link, Version, VersionList};

/// The image API versions a Glance without an image cache or multiple
/// stores announces, newest first; they all share the v2 endpoint.
const VERSIONS: &[(&str, &str)] = &[
    ("v2.17", "CURRENT"),
    ("v2.15", "SUPPORTED"),
    ("v2.9", "SUPPORTED"),
    ("v2.7", "SUPPORTED"),
    ("v2.6", "SUPPORTED"),
    ("v2.5", "SUPPORTED"),
    ("v2.4", "SUPPORTED"),
    ("v2.3", "SUPPORTED"),
    ("v2.2", "SUPPORTED"),
    ("v2.1", "SUPPORTED"),
    ("v2.0", "SUPPORTED"),
];

/// `GET /`: the versions as a choice (300), as Glance answers its root.
pub async fn versions_choice(headers: HeaderMap, uri: OriginalUri) -> Response {
    (StatusCode::MULTIPLE_CHOICES, version_list(&headers, &uri)).into_response()
}

/// `GET /versions`: the same list, asked for explicitly (200).
pub async fn versions(headers: HeaderMap, uri: OriginalUri) -> Response {
    version_list(&headers, &uri).into_response()
}

fn version_list(headers: &HeaderMap, OriginalUri(uri): &OriginalUri) -> Json<VersionList> {
    // The path the service is mounted at (`/image`): what the client asked
    // for, less this route's own part.
    let path = uri.path();
    let mount = path
        .strip_suffix("/versions")
        .unwrap_or(path)
        .trim_end_matches('/');
    let href = format!("{}{mount}/v2/", base_url(headers));
    Json(VersionList {
        versions: VERSIONS
            .iter()
            .map(|(id, status)| Version {
                id: (*id).to_owned(),
                status,
                links: vec![Link {
                    rel: "self",
                    href: href.clone(),
                }],
            })
            .collect(),
    })
}

/// `GET /v2/schemas/{image,images,member,members}`.
pub async fn schema(_: Caller, Path(name): Path<String>) -> Result<Response, ApiError> {
    let schema = match name.as_str() {
        "image" => schemas::image(),
        "images" => schemas::images(),
        "member" => schemas::member(),
        "members" => schemas::members(),
        _ => {
            return Err(ApiError::not_found(format!(
                "There is no schema named '{name}'."
            )));
        }
    };
    Ok(Json(schema).into_response())
}

/// `GET /v2/info/import`: no interoperable import methods; clients upload
/// data directly with `PUT /v2/images/{id}/file`.
pub async fn import_info(_: Caller) -> Json<ImportInfo> {
    Json(ImportInfo {
        import_methods: ImportMethods {
            description: "Import methods available.",
            kind: "array",
            value: Vec::new(),
        },
    })
}

/// `GET /v2/info/stores`: like a Glance with a single store, there are no
/// stores to choose from.
pub async fn stores_info(_: Caller) -> ApiError {
    ApiError::not_found(
        "This cloud keeps images in a single store; there are no stores to choose from.",
    )
}
