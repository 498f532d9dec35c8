//! `/flavors`: DevStack's sizes and the administrator's own, their extra
//! specs, and which projects may use the private ones. Parsing and
//! rendering; the service decides.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use oxistack_auth::{AuthContext, Caller};
use oxistack_http::microversion::Microversion;
use oxistack_http::{ApiError, JsonBody};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::flavor_pages::{FlavorPages, PageKey};
use super::{QueryPairs, Service, envelope, invalid, not_in_version};
use crate::ComputeService;
use crate::model::Flavor;
use crate::query::{Page, last, parse_bool, parse_dir};
use crate::service::flavors::{
    AccessChange, FlavorListing, NewFlavor, Publicity, extra_specs_visible,
};
use crate::store::flavors::{FlavorSelection, SortDir, sort_column};
use crate::validate::{is_metadata_key, parse_boolean, since, validate_description, validate_name};
use crate::versions::FLAVOR_DESCRIPTION;
use crate::wire::{FlavorAccess, FlavorSummary, FlavorView, Link, Urls, given, present};

#[derive(Serialize)]
struct FlavorPage<T> {
    flavors: Vec<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    flavors_links: Option<Vec<Link>>,
}

/// The listing `GET /flavors[/detail]` asks for. `is_public` takes
/// oslo's booleans (`t`, `no`, `1`...) and `none` for every flavor.
fn flavor_listing(pairs: &[(String, String)]) -> Result<FlavorListing, ApiError> {
    let publicity = match last(pairs, "is_public") {
        None => None,
        Some(value) if value.eq_ignore_ascii_case("none") => Some(Publicity::Any),
        Some(value) => match parse_bool("is_public", value) {
            Ok(true) => Some(Publicity::Public),
            Ok(false) => Some(Publicity::Private),
            Err(_) => {
                return Err(ApiError::bad_request(format!(
                    "Invalid is_public filter [{value}]"
                )));
            }
        },
    };
    let minimum = |name: &str| -> Result<Option<u64>, ApiError> {
        last(pairs, name)
            .map(|v| {
                v.parse::<u64>()
                    .map_err(|_| ApiError::bad_request(format!("Invalid {name} filter [{v}]")))
            })
            .transpose()
    };
    let sort_key = last(pairs, "sort_key").unwrap_or("flavorid");
    let page = Page::parse(pairs)?;
    let selection = FlavorSelection {
        min_ram: minimum("minRam")?,
        min_disk: minimum("minDisk")?,
        sort_column: sort_column(sort_key).ok_or_else(|| {
            ApiError::bad_request(format!(
                "Invalid value for query parameter 'sort_key': '{sort_key}' is not a sort key"
            ))
        })?,
        sort_dir: last(pairs, "sort_dir")
            .map(parse_dir)
            .transpose()?
            .unwrap_or(SortDir::Asc),
        limit: page.limit,
        marker: page.marker,
    };
    Ok(FlavorListing {
        publicity,
        selection,
    })
}

/// A flavor list, from the rendered pages when flavors have not changed
/// since it was last rendered for the same request and caller.
async fn listed(
    service: &ComputeService,
    pages: &FlavorPages,
    caller: &AuthContext,
    version: Microversion,
    urls: &Urls,
    pairs: Vec<(String, String)>,
    detail: bool,
) -> Result<Response, ApiError> {
    let key = PageKey {
        detail,
        admin: caller.is_admin(),
        project: caller.project_id().map(str::to_owned),
        extra_specs: extra_specs_visible(caller),
        version,
        api: urls.api.clone(),
        query: pairs,
    };
    let generation = service.flavor_generation(caller)?;
    if let Some(body) = pages.get(&key, generation) {
        return Ok(json_page(body));
    }
    let listing = flavor_listing(&key.query)?;
    let limit = listing.selection.limit;
    let flavors = service.list_flavors(caller, listing).await?;
    let page = |path| urls.page_links(path, &key.query, &flavors, limit, |f| &f.id);
    let body = if detail {
        serde_json::to_vec(&FlavorPage {
            flavors: flavors
                .iter()
                .map(|f| FlavorView::new(f, urls, version, key.extra_specs))
                .collect(),
            flavors_links: page("flavors/detail"),
        })
    } else {
        serde_json::to_vec(&FlavorPage {
            flavors: flavors
                .iter()
                .map(|f| FlavorSummary::new(f, urls, version))
                .collect(),
            flavors_links: page("flavors"),
        })
    }
    .map_err(ApiError::internal)?;
    let body = Bytes::from(body);
    pages.put(key, generation, body.clone());
    Ok(json_page(body))
}

fn json_page(body: Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

pub async fn list(
    State(service): Service,
    Extension(pages): Extension<Arc<FlavorPages>>,
    Caller(caller): Caller,
    version: Microversion,
    urls: Urls,
    Query(pairs): QueryPairs,
) -> Result<Response, ApiError> {
    listed(&service, &pages, &caller, version, &urls, pairs, false).await
}

pub async fn list_detail(
    State(service): Service,
    Extension(pages): Extension<Arc<FlavorPages>>,
    Caller(caller): Caller,
    version: Microversion,
    urls: Urls,
    Query(pairs): QueryPairs,
) -> Result<Response, ApiError> {
    listed(&service, &pages, &caller, version, &urls, pairs, true).await
}

fn flavor_document(
    flavor: &Flavor,
    caller: &AuthContext,
    urls: &Urls,
    version: Microversion,
) -> Response {
    let extra_specs = extra_specs_visible(caller);
    envelope(
        "flavor",
        FlavorView::new(flavor, urls, version, extra_specs),
    )
    .into_response()
}

pub async fn show(
    State(service): Service,
    Caller(caller): Caller,
    version: Microversion,
    urls: Urls,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let flavor = service.show_flavor(&caller, &id).await?;
    Ok(flavor_document(&flavor, &caller, &urls, version))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FlavorBody {
    name: String,
    ram: Value,
    vcpus: Value,
    disk: Value,
    #[serde(default)]
    id: Option<Value>,
    #[serde(
        rename = "OS-FLV-EXT-DATA:ephemeral",
        default,
        deserialize_with = "given"
    )]
    ephemeral: Option<Value>,
    #[serde(default, deserialize_with = "given")]
    swap: Option<Value>,
    #[serde(default, deserialize_with = "given")]
    rxtx_factor: Option<Value>,
    #[serde(
        rename = "os-flavor-access:is_public",
        default,
        deserialize_with = "given"
    )]
    is_public: Option<Value>,
    description: Option<String>,
}

/// A whole number at least `minimum`, given as a number or a numeric
/// string, as Nova's flavor schema takes them; `null` is no number.
fn flavor_number(field: &str, value: &Value, minimum: u64) -> Result<u64, ApiError> {
    let invalid = || {
        invalid(
            &format!("flavor.{field}"),
            format!("must be an integer of at least {minimum}."),
        )
    };
    let number = match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    match number {
        Some(n) if n >= minimum && n <= i64::MAX as u64 => Ok(n),
        _ => Err(invalid()),
    }
}

/// A flavor id as Nova accepts one: printable ASCII letters, digits,
/// `.`, `_`, `-` and inner spaces, up to 255 characters.
fn flavor_id(value: Option<Value>) -> Result<Option<String>, ApiError> {
    let id = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(id)) if id == "auto" => return Ok(None),
        Some(Value::String(id)) => id,
        Some(Value::Number(n)) => n.to_string(),
        Some(other) => {
            return Err(invalid("flavor.id", format!("{other} is not a flavor id.")));
        }
    };
    let valid = !id.is_empty()
        && id.len() <= 255
        && !id.starts_with(' ')
        && !id.ends_with(' ')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-_ ".contains(&b));
    if valid {
        Ok(Some(id))
    } else {
        Err(invalid(
            "flavor.id",
            format!("'{id}' may only have letters, digits, '.', '_', '-' and inner spaces."),
        ))
    }
}

/// `POST /flavors`, checked as Nova's schema checks it.
fn new_flavor(body: Value, version: Microversion) -> Result<NewFlavor, ApiError> {
    let request: FlavorBody = oxistack_http::envelope(body, "flavor")?;
    validate_name("flavor.name", &request.name)?;
    since(
        "flavor.description",
        request.description.is_some(),
        version,
        FLAVOR_DESCRIPTION,
    )?;
    validate_description("flavor.description", request.description.as_deref())?;
    let rxtx_factor = match &request.rxtx_factor {
        None => 1.0,
        Some(value) => value
            .as_f64()
            .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
            .filter(|f| *f > 0.0 && f.is_finite())
            .ok_or_else(|| invalid("flavor.rxtx_factor", "must be a positive number."))?,
    };
    let optional = |field: &str, value: Option<&Value>| -> Result<u64, ApiError> {
        Ok(value
            .map(|v| flavor_number(field, v, 0))
            .transpose()?
            .unwrap_or(0))
    };
    let vcpus = flavor_number("vcpus", &request.vcpus, 1)?;
    Ok(NewFlavor {
        id: flavor_id(request.id)?,
        name: request.name,
        ram: flavor_number("ram", &request.ram, 1)?,
        vcpus: u32::try_from(vcpus).map_err(|_| invalid("flavor.vcpus", "too large."))?,
        disk: flavor_number("disk", &request.disk, 0)?,
        ephemeral: optional("OS-FLV-EXT-DATA:ephemeral", request.ephemeral.as_ref())?,
        swap: optional("swap", request.swap.as_ref())?,
        rxtx_factor,
        is_public: match &request.is_public {
            None => true,
            Some(value) => parse_boolean("flavor.os-flavor-access:is_public", value)?,
        },
        description: request.description,
    })
}

pub async fn create(
    State(service): Service,
    Caller(caller): Caller,
    version: Microversion,
    urls: Urls,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let new = new_flavor(body, version)?;
    let flavor = service.create_flavor(&caller, new).await?;
    Ok(flavor_document(&flavor, &caller, &urls, version))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FlavorChange {
    /// Required, `null` included, as Nova's schema has it.
    #[serde(deserialize_with = "present")]
    description: Option<Option<String>>,
}

/// `PUT /flavors/{id}` (2.55): only the description changes.
pub async fn update(
    State(service): Service,
    Caller(caller): Caller,
    version: Microversion,
    urls: Urls,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    if !version.at_least(FLAVOR_DESCRIPTION) {
        return Err(not_in_version(version));
    }
    let change: FlavorChange = oxistack_http::envelope(body, "flavor")?;
    let description = change
        .description
        .ok_or_else(|| invalid("flavor", "'description' is a required property"))?;
    validate_description("flavor.description", description.as_deref())?;
    let flavor = service.describe_flavor(&caller, &id, description).await?;
    Ok(flavor_document(&flavor, &caller, &urls, version))
}

pub async fn delete(
    State(service): Service,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    service.delete_flavor(&caller, &id).await?;
    Ok(StatusCode::ACCEPTED)
}

fn access_document(flavor_id: &str, projects: &[String]) -> Response {
    let entries: Vec<FlavorAccess> = projects
        .iter()
        .map(|p| FlavorAccess {
            flavor_id,
            tenant_id: p,
        })
        .collect();
    envelope("flavor_access", entries).into_response()
}

/// `GET /flavors/{id}/os-flavor-access`: who may use a private flavor.
pub async fn access(
    State(service): Service,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let projects = service.flavor_access(&caller, &id).await?;
    Ok(access_document(&id, &projects))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TenantAccess {
    tenant: String,
}

/// `POST /flavors/{id}/action`: `addTenantAccess` and `removeTenantAccess`.
pub async fn action(
    State(service): Service,
    Caller(caller): Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let Value::Object(body) = body else {
        return Err(ApiError::bad_request(
            "The action body must be a JSON object naming one action.",
        ));
    };
    let (key, change) = match body.keys().next().map(String::as_str) {
        Some("addTenantAccess") if body.len() == 1 => ("addTenantAccess", AccessChange::Add),
        Some("removeTenantAccess") if body.len() == 1 => {
            ("removeTenantAccess", AccessChange::Remove)
        }
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "There is no such action: {other}"
            )));
        }
        None => return Err(ApiError::bad_request("The action body names no action.")),
    };
    let request: TenantAccess = oxistack_http::envelope(Value::Object(body), key)?;
    if request.tenant.is_empty() || request.tenant.len() > 255 {
        return Err(invalid(
            &format!("{key}.tenant"),
            "must be 1 to 255 characters.",
        ));
    }
    let projects = service
        .change_flavor_access(&caller, &id, change, &request.tenant)
        .await?;
    Ok(access_document(&id, &projects))
}

pub async fn extra_specs(
    State(service): Service,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let specs = service.flavor_extra_specs(&caller, &id).await?;
    Ok(envelope("extra_specs", specs).into_response())
}

/// Extra spec keys and values as Nova bounds them; values may be given as
/// numbers or booleans and are kept as text.
fn extra_specs_from(
    body: Map<String, Value>,
    field: &str,
) -> Result<BTreeMap<String, String>, ApiError> {
    let mut specs = BTreeMap::new();
    for (key, value) in body {
        if !is_metadata_key(&key) {
            return Err(invalid(
                field,
                format!(
                    "'{key}' is not a valid extra spec key (1 to 255 letters, digits, '-', '_', ':', '.', ' ')."
                ),
            ));
        }
        let text = match value {
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            Value::Bool(true) => "True".to_owned(),
            Value::Bool(false) => "False".to_owned(),
            other => {
                return Err(invalid(
                    &format!("{field}.{key}"),
                    format!("{other} is not a string, number or boolean."),
                ));
            }
        };
        if text.chars().count() > 255 {
            return Err(invalid(
                &format!("{field}.{key}"),
                "longer than 255 characters.",
            ));
        }
        specs.insert(key, text);
    }
    Ok(specs)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtraSpecsBody {
    extra_specs: Map<String, Value>,
}

/// `POST /flavors/{id}/os-extra_specs`: adds or changes the given specs.
pub async fn add_extra_specs(
    State(service): Service,
    Caller(caller): Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ExtraSpecsBody>,
) -> Result<Response, ApiError> {
    let specs = extra_specs_from(body.extra_specs, "extra_specs")?;
    service
        .set_flavor_extra_specs(&caller, &id, specs.clone())
        .await?;
    Ok(envelope("extra_specs", specs).into_response())
}

pub async fn extra_spec(
    State(service): Service,
    Caller(caller): Caller,
    Path((id, key)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let value = service.flavor_extra_spec(&caller, &id, &key).await?;
    Ok(Json(BTreeMap::from([(key, value)])).into_response())
}

/// `PUT /flavors/{id}/os-extra_specs/{key}` with `{"<key>": "<value>"}`.
pub async fn set_extra_spec(
    State(service): Service,
    Caller(caller): Caller,
    Path((id, key)): Path<(String, String)>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<Response, ApiError> {
    if body.len() != 1 || !body.contains_key(&key) {
        return Err(ApiError::bad_request(format!(
            "Request body and URI mismatch: the body must be {{\"{key}\": <value>}}."
        )));
    }
    let specs = extra_specs_from(body, &key)?;
    service
        .set_flavor_extra_specs(&caller, &id, specs.clone())
        .await?;
    Ok(Json(specs).into_response())
}

/// `DELETE /flavors/{id}/os-extra_specs/{key}`: 200, as Nova answers it.
pub async fn delete_extra_spec(
    State(service): Service,
    Caller(caller): Caller,
    Path((id, key)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    service.delete_flavor_extra_spec(&caller, &id, &key).await?;
    Ok(StatusCode::OK)
}
