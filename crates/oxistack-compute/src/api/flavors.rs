//! `/flavors`: DevStack's sizes and the administrator's own, their extra
//! specs, and which projects may use the private ones.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use oxistack_auth::policy::allows;
use oxistack_auth::{Action, AuthContext, Caller, authorize};
use oxistack_http::microversion::Microversion;
use oxistack_http::{ApiError, JsonBody};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{QueryPairs, Service, envelope, not_in_version};
use crate::ComputeService;
use crate::model::{Flavor, flavor_not_found, new_id};
use crate::query::{Page, last, parse_dir};
use crate::store::flavors::{self as store, FlavorQuery, SortDir, Visibility};
use crate::validate::{invalid, parse_boolean, since, validate_description, validate_name};
use crate::versions::FLAVOR_DESCRIPTION;
use crate::wire::{FlavorAccess, FlavorSummary, FlavorView, Link, Urls};

#[derive(Serialize)]
struct FlavorPage<T> {
    flavors: Vec<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    flavors_links: Option<Vec<Link>>,
}

/// The listing `GET /flavors[/detail]` asks for, as Nova scopes it:
/// administrators choose with `is_public` (public ones by default, `None`
/// for all), everyone else sees the enabled public flavors and the private
/// ones shared with their project.
fn flavor_query(pairs: &[(String, String)], caller: &AuthContext) -> Result<FlavorQuery, ApiError> {
    let usable = Visibility::UsableBy(caller.project_id().unwrap_or_default().to_owned());
    let visibility = match last(pairs, "is_public") {
        _ if !caller.is_admin() => usable,
        None => usable,
        Some(value) if value.eq_ignore_ascii_case("none") => Visibility::All,
        Some(value) => match parse_boolean("is_public", &Value::String(value.to_owned())) {
            Ok(true) => usable,
            Ok(false) => Visibility::PrivateOnly,
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
    Ok(FlavorQuery {
        visibility,
        include_disabled: caller.is_admin(),
        min_ram: minimum("minRam")?,
        min_disk: minimum("minDisk")?,
        sort_column: store::sort_column(sort_key).ok_or_else(|| {
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
    })
}

async fn listed(
    service: &ComputeService,
    caller: &AuthContext,
    pairs: &[(String, String)],
) -> Result<(Vec<Flavor>, usize), ApiError> {
    authorize(caller, Action::ReadFlavors)?;
    let query = flavor_query(pairs, caller)?;
    let limit = query.limit;
    let flavors = service.read(move |conn| store::list(conn, &query)).await?;
    Ok((flavors, limit))
}

pub async fn list(
    State(service): Service,
    Caller(caller): Caller,
    version: Microversion,
    urls: Urls,
    Query(pairs): QueryPairs,
) -> Result<Response, ApiError> {
    let (flavors, limit) = listed(&service, &caller, &pairs).await?;
    Ok(Json(FlavorPage {
        flavors: flavors
            .iter()
            .map(|f| FlavorSummary::new(f, &urls, version))
            .collect(),
        flavors_links: urls.page_links("flavors", &pairs, &flavors, limit, |f| &f.id),
    })
    .into_response())
}

pub async fn list_detail(
    State(service): Service,
    Caller(caller): Caller,
    version: Microversion,
    urls: Urls,
    Query(pairs): QueryPairs,
) -> Result<Response, ApiError> {
    let (flavors, limit) = listed(&service, &caller, &pairs).await?;
    let extra_specs = allows(&caller, Action::ReadFlavorExtraSpecs.rule());
    Ok(Json(FlavorPage {
        flavors: flavors
            .iter()
            .map(|f| FlavorView::new(f, &urls, version, extra_specs))
            .collect(),
        flavors_links: urls.page_links("flavors/detail", &pairs, &flavors, limit, |f| &f.id),
    })
    .into_response())
}

/// Flavor `id` if the caller may see it: administrators every flavor,
/// others the public ones and those shared with their project.
async fn visible_flavor(
    service: &ComputeService,
    caller: &Arc<AuthContext>,
    id: &str,
) -> Result<Flavor, ApiError> {
    let (caller, id) = (caller.clone(), id.to_owned());
    service
        .read(move |conn| {
            let flavor = store::find(conn, &id)?.ok_or_else(|| flavor_not_found(&id))?;
            let project = caller.project_id().unwrap_or_default();
            if caller.is_admin() || store::usable_by(conn, &flavor, project)? {
                Ok(flavor)
            } else {
                Err(flavor_not_found(&id))
            }
        })
        .await
}

fn flavor_document(
    flavor: &Flavor,
    caller: &AuthContext,
    urls: &Urls,
    version: Microversion,
) -> Response {
    let extra_specs = allows(caller, Action::ReadFlavorExtraSpecs.rule());
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
    authorize(&caller, Action::ReadFlavors)?;
    let flavor = visible_flavor(&service, &caller, &id).await?;
    Ok(flavor_document(&flavor, &caller, &urls, version))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewFlavor {
    name: String,
    ram: Value,
    vcpus: Value,
    disk: Value,
    #[serde(default)]
    id: Option<Value>,
    #[serde(rename = "OS-FLV-EXT-DATA:ephemeral")]
    ephemeral: Option<Value>,
    swap: Option<Value>,
    rxtx_factor: Option<Value>,
    #[serde(rename = "os-flavor-access:is_public")]
    is_public: Option<Value>,
    description: Option<String>,
}

/// A whole number at least `minimum`, given as a number or a numeric
/// string, as Nova's flavor schema takes them.
fn flavor_number(
    field: &str,
    value: Option<&Value>,
    minimum: u64,
) -> Result<Option<u64>, ApiError> {
    let invalid = || {
        invalid(
            &format!("flavor.{field}"),
            format!("must be an integer of at least {minimum}."),
        )
    };
    let number = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        Some(_) => None,
    };
    match number {
        Some(n) if n >= minimum && n <= i64::MAX as u64 => Ok(Some(n)),
        _ => Err(invalid()),
    }
}

/// A flavor id as Nova accepts one: printable ASCII letters, digits,
/// `.`, `_`, `-` and inner spaces, up to 255 characters.
fn flavor_id(value: Option<Value>) -> Result<String, ApiError> {
    let id = match value {
        None | Some(Value::Null) => return Ok(new_id()),
        Some(Value::String(id)) if id == "auto" => return Ok(new_id()),
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
        Ok(id)
    } else {
        Err(invalid(
            "flavor.id",
            format!("'{id}' may only have letters, digits, '.', '_', '-' and inner spaces."),
        ))
    }
}

pub async fn create(
    State(service): Service,
    Caller(caller): Caller,
    version: Microversion,
    urls: Urls,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    authorize(&caller, Action::ManageFlavors)?;
    let request: NewFlavor = oxistack_http::envelope(body, "flavor")?;
    validate_name("flavor.name", &request.name)?;
    since(
        "flavor.description",
        request.description.is_some(),
        version,
        FLAVOR_DESCRIPTION,
    )?;
    validate_description("flavor.description", request.description.as_deref())?;
    let rxtx_factor = match &request.rxtx_factor {
        None | Some(Value::Null) => 1.0,
        Some(value) => value
            .as_f64()
            .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
            .filter(|f| *f > 0.0 && f.is_finite())
            .ok_or_else(|| invalid("flavor.rxtx_factor", "must be a positive number."))?,
    };
    let vcpus = flavor_number("vcpus", Some(&request.vcpus), 1)?.unwrap_or(1);
    let flavor = Flavor {
        id: flavor_id(request.id)?,
        name: request.name,
        ram: flavor_number("ram", Some(&request.ram), 1)?.unwrap_or(1),
        vcpus: u32::try_from(vcpus).map_err(|_| invalid("flavor.vcpus", "too large."))?,
        disk: flavor_number("disk", Some(&request.disk), 0)?.unwrap_or(0),
        ephemeral: flavor_number("OS-FLV-EXT-DATA:ephemeral", request.ephemeral.as_ref(), 0)?
            .unwrap_or(0),
        swap: flavor_number("swap", request.swap.as_ref(), 0)?.unwrap_or(0),
        rxtx_factor,
        is_public: match &request.is_public {
            None | Some(Value::Null) => true,
            Some(value) => parse_boolean("flavor.os-flavor-access:is_public", value)?,
        },
        disabled: false,
        description: request.description,
        extra_specs: BTreeMap::new(),
        created_at: Utc::now(),
    };
    let stored = flavor.clone();
    service.write(move |tx| store::insert(tx, &stored)).await?;
    Ok(flavor_document(&flavor, &caller, &urls, version))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FlavorChange {
    description: Option<String>,
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
    authorize(&caller, Action::ManageFlavors)?;
    let change: FlavorChange = oxistack_http::envelope(body, "flavor")?;
    validate_description("flavor.description", change.description.as_deref())?;
    let flavor = service
        .write(move |tx| {
            let mut flavor = store::find(tx, &id)?.ok_or_else(|| flavor_not_found(&id))?;
            store::set_description(tx, &id, change.description.as_deref())?;
            flavor.description = change.description;
            Ok(flavor)
        })
        .await?;
    Ok(flavor_document(&flavor, &caller, &urls, version))
}

pub async fn delete(
    State(service): Service,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    authorize(&caller, Action::ManageFlavors)?;
    service
        .write(move |tx| {
            store::find(tx, &id)?.ok_or_else(|| flavor_not_found(&id))?;
            store::delete(tx, &id)
        })
        .await?;
    Ok(StatusCode::ACCEPTED)
}

/// The flavor `id` for administrators' changes, 404 if it does not exist.
fn existing(conn: &oxistack_db::rusqlite::Connection, id: &str) -> Result<Flavor, ApiError> {
    store::find(conn, id)?.ok_or_else(|| flavor_not_found(id))
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
    authorize(&caller, Action::ManageFlavors)?;
    let lookup = id.clone();
    let projects = service
        .read(move |conn| {
            let flavor = existing(conn, &lookup)?;
            if flavor.is_public {
                return Err(ApiError::not_found(
                    "Access list not available for public flavors.",
                ));
            }
            store::access(conn, &lookup)
        })
        .await?;
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
    let add = match body.keys().next().map(String::as_str) {
        Some("addTenantAccess") if body.len() == 1 => true,
        Some("removeTenantAccess") if body.len() == 1 => false,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "There is no such action: {other}"
            )));
        }
        None => return Err(ApiError::bad_request("The action body names no action.")),
    };
    authorize(&caller, Action::ManageFlavors)?;
    let key = if add {
        "addTenantAccess"
    } else {
        "removeTenantAccess"
    };
    let request: TenantAccess = oxistack_http::envelope(Value::Object(body), key)?;
    if request.tenant.is_empty() || request.tenant.len() > 255 {
        return Err(invalid(
            &format!("{key}.tenant"),
            "must be 1 to 255 characters.",
        ));
    }
    let flavor_id = id.clone();
    let projects = service
        .write(move |tx| {
            let flavor = existing(tx, &flavor_id)?;
            let tenant = &request.tenant;
            if add {
                if flavor.is_public {
                    return Err(ApiError::conflict("Can not add access to a public flavor."));
                }
                if !store::add_access(tx, &flavor_id, tenant)? {
                    return Err(ApiError::conflict(format!(
                        "Flavor access already exists for flavor {flavor_id} and project {tenant} combination."
                    )));
                }
            } else if !store::remove_access(tx, &flavor_id, tenant)? {
                return Err(ApiError::not_found(format!(
                    "Flavor access not found for {flavor_id} / {tenant} combination."
                )));
            }
            store::access(tx, &flavor_id)
        })
        .await?;
    Ok(access_document(&id, &projects))
}

pub async fn extra_specs(
    State(service): Service,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    authorize(&caller, Action::ReadFlavorExtraSpecs)?;
    let flavor = visible_flavor(&service, &caller, &id).await?;
    Ok(envelope("extra_specs", flavor.extra_specs).into_response())
}

/// Extra spec keys and values as Nova bounds them; values may be given as
/// numbers or booleans and are kept as text.
fn extra_specs_from(
    body: Map<String, Value>,
    field: &str,
) -> Result<BTreeMap<String, String>, ApiError> {
    let mut specs = BTreeMap::new();
    for (key, value) in body {
        let valid_key = !key.is_empty()
            && key.len() <= 255
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_:. ".contains(&b));
        if !valid_key {
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
    authorize(&caller, Action::ManageFlavors)?;
    let specs = extra_specs_from(body.extra_specs, "extra_specs")?;
    let stored = specs.clone();
    service
        .write(move |tx| {
            existing(tx, &id)?;
            for (key, value) in &stored {
                store::set_extra_spec(tx, &id, key, value)?;
            }
            Ok(())
        })
        .await?;
    Ok(envelope("extra_specs", specs).into_response())
}

fn no_such_spec(id: &str, key: &str) -> ApiError {
    ApiError::not_found(format!("Flavor {id} has no extra specs with key {key}."))
}

pub async fn extra_spec(
    State(service): Service,
    Caller(caller): Caller,
    Path((id, key)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    authorize(&caller, Action::ReadFlavorExtraSpecs)?;
    let flavor = visible_flavor(&service, &caller, &id).await?;
    let value = flavor
        .extra_specs
        .get(&key)
        .ok_or_else(|| no_such_spec(&id, &key))?;
    Ok(Json(BTreeMap::from([(key.as_str(), value.as_str())])).into_response())
}

/// `PUT /flavors/{id}/os-extra_specs/{key}` with `{"<key>": "<value>"}`.
pub async fn set_extra_spec(
    State(service): Service,
    Caller(caller): Caller,
    Path((id, key)): Path<(String, String)>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<Response, ApiError> {
    authorize(&caller, Action::ManageFlavors)?;
    if body.len() != 1 || !body.contains_key(&key) {
        return Err(ApiError::bad_request(format!(
            "Request body and URI mismatch: the body must be {{\"{key}\": <value>}}."
        )));
    }
    let specs = extra_specs_from(body, &key)?;
    let stored = specs.clone();
    service
        .write(move |tx| {
            existing(tx, &id)?;
            for (key, value) in &stored {
                store::set_extra_spec(tx, &id, key, value)?;
            }
            Ok(())
        })
        .await?;
    Ok(Json(specs).into_response())
}

pub async fn delete_extra_spec(
    State(service): Service,
    Caller(caller): Caller,
    Path((id, key)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    authorize(&caller, Action::ManageFlavors)?;
    service
        .write(move |tx| {
            existing(tx, &id)?;
            if store::delete_extra_spec(tx, &id, &key)? {
                Ok(())
            } else {
                Err(no_such_spec(&id, &key))
            }
        })
        .await?;
    Ok(StatusCode::ACCEPTED)
}
