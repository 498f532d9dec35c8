//! The handlers: each parses its request (path, query, the JSON body's
//! envelope), calls one service method and renders the result as
//! Octavia's document with Octavia's status code (201 created, 202 for
//! failover and the member batch, 204 deleted).

use axum::Json;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use oxistack_auth::Caller;
use oxistack_http::{ApiError, JsonBody, base_url, envelope};
use oxistack_list::{Collection, ListQuery, Page, requested_fields, select_fields};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::{Service, kind};
use crate::model::Kind;
use crate::service::{Catalog, LbError, ListKind};
use crate::wire::documents::Document;
use crate::wire::{
    CatalogBody, ListenerCreate, ListenerUpdate, LoadBalancerCreate, LoadBalancerUpdate,
    MemberCreate, MemberUpdate, MembersReplace, MonitorCreate, MonitorUpdate, PolicyCreate,
    PolicyUpdate, PoolCreate, PoolUpdate, RuleCreate, RuleUpdate,
};

type Pairs = Query<Vec<(String, String)>>;

/// `{"<key>": document}` with the status given.
fn one(status: StatusCode, key: &str, document: Document) -> Response {
    (status, Json(json!({ key: document }))).into_response()
}

fn body<T: DeserializeOwned>(body: Value, key: &str) -> Result<T, ApiError> {
    envelope(body, key)
}

/// A boolean query parameter as Octavia reads them (`true`, `1`, `yes`...).
fn flag(pairs: &[(String, String)], name: &str) -> bool {
    pairs.iter().any(|(k, v)| {
        k == name
            && matches!(
                v.to_ascii_lowercase().as_str(),
                "true" | "1" | "yes" | "on" | "y" | "t"
            )
    })
}

/// Octavia's sort parameters as the list machinery takes them: `sort=
/// name:asc,id` and comma-separated `sort_key`/`sort_dir` become one
/// `sort_key` and one `sort_dir` per key, `asc` where no direction is
/// given (Octavia's default).
fn octavia_sort(pairs: &[(String, String)]) -> Vec<(String, String)> {
    let value = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let split = |v: Option<&str>| -> Vec<String> {
        v.map(|v| v.split(',').map(|s| s.trim().to_owned()).collect())
            .unwrap_or_default()
    };
    let keys: Vec<(String, String)> = match value("sort") {
        Some(sort) => sort
            .split(',')
            .map(|part| match part.split_once(':') {
                Some((key, dir)) => (key.to_owned(), dir.to_owned()),
                None => (part.to_owned(), "asc".to_owned()),
            })
            .collect(),
        None => {
            let dirs = split(value("sort_dir"));
            split(value("sort_key"))
                .into_iter()
                .enumerate()
                .map(|(i, key)| (key, dirs.get(i).cloned().unwrap_or_else(|| "asc".into())))
                .collect()
        }
    };
    let mut out: Vec<(String, String)> = pairs
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "sort" | "sort_key" | "sort_dir"))
        .cloned()
        .collect();
    for (key, dir) in keys {
        out.push(("sort_key".into(), key));
        out.push(("sort_dir".into(), dir));
    }
    out
}

async fn list_of(
    service: Service,
    caller: Caller,
    headers: HeaderMap,
    uri: OriginalUri,
    pairs: Vec<(String, String)>,
    what: ListKind,
) -> Result<Response, ApiError> {
    let State(service) = service;
    let Caller(caller) = caller;
    let collection = what.collection();
    let parent = what.parent_filter();
    let (parents, rest): (Vec<_>, Vec<_>) = octavia_sort(&pairs)
        .into_iter()
        .partition(|(key, _)| Some(key.as_str()) == parent);
    let parents = parents.into_iter().map(|(_, id)| id).collect();
    let query = ListQuery::parse(collection, &rest).map_err(LbError::List)?;
    let page = service.list(&caller, what, query.clone(), parents).await?;
    Ok(list_body(
        &headers,
        uri.0.path(),
        &pairs,
        collection,
        &query,
        &page,
    ))
}

/// `{"<plural>": [...], "<plural>_links": [...]}` for a page of a list
/// the client reached at `path` with `pairs`.
fn list_body(
    headers: &HeaderMap,
    path: &str,
    pairs: &[(String, String)],
    collection: &Collection,
    query: &ListQuery,
    page: &Page<Document>,
) -> Response {
    let url = format!("{}{}", base_url(headers), path);
    let links = oxistack_list::links(query, page, &url, pairs);
    Json(json!({
        collection.plural: page.documents(query.fields.as_deref()),
        format!("{}_links", collection.plural): links,
    }))
    .into_response()
}

pub async fn list_load_balancers(
    service: Service,
    caller: Caller,
    headers: HeaderMap,
    uri: OriginalUri,
    Query(pairs): Pairs,
) -> Result<Response, ApiError> {
    list_of(
        service,
        caller,
        headers,
        uri,
        pairs,
        ListKind::Top(Kind::LoadBalancer),
    )
    .await
}

pub async fn list<const K: u8>(
    service: Service,
    caller: Caller,
    headers: HeaderMap,
    uri: OriginalUri,
    Query(pairs): Pairs,
) -> Result<Response, ApiError> {
    list_of(service, caller, headers, uri, pairs, ListKind::Top(kind(K))).await
}

pub async fn list_members(
    service: Service,
    caller: Caller,
    headers: HeaderMap,
    uri: OriginalUri,
    Path(pool_id): Path<String>,
    Query(pairs): Pairs,
) -> Result<Response, ApiError> {
    list_of(
        service,
        caller,
        headers,
        uri,
        pairs,
        ListKind::MembersOf(pool_id),
    )
    .await
}

pub async fn show<const K: u8>(
    State(service): Service,
    Caller(caller): Caller,
    Path(id): Path<String>,
    Query(pairs): Pairs,
) -> Result<Response, ApiError> {
    let document = service.show_object(&caller, kind(K), &id).await?;
    let document = select_fields(document, requested_fields(&pairs).as_deref());
    Ok(one(StatusCode::OK, kind(K).as_str(), document))
}

pub async fn delete<const K: u8>(
    State(service): Service,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    service.delete_object(&caller, kind(K), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn stats<const K: u8>(
    State(service): Service,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let stats = service.stats(&caller, kind(K), &id).await?;
    Ok(Json(json!({ "stats": stats })).into_response())
}

pub async fn create_load_balancer(
    State(service): Service,
    Caller(caller): Caller,
    JsonBody(value): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let request: LoadBalancerCreate = body(value, "loadbalancer")?;
    let document = service.create_load_balancer(&caller, request).await?;
    Ok(one(StatusCode::CREATED, "loadbalancer", document))
}

pub async fn update_load_balancer(
    State(service): Service,
    Caller(caller): Caller,
    Path(id): Path<String>,
    JsonBody(value): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let request: LoadBalancerUpdate = body(value, "loadbalancer")?;
    let document = service.update_load_balancer(&caller, &id, request).await?;
    Ok(one(StatusCode::OK, "loadbalancer", document))
}

pub async fn delete_load_balancer(
    State(service): Service,
    Caller(caller): Caller,
    Path(id): Path<String>,
    Query(pairs): Pairs,
) -> Result<StatusCode, ApiError> {
    service
        .delete_load_balancer(&caller, &id, flag(&pairs, "cascade"))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn status(
    State(service): Service,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(service.load_balancer_status(&caller, &id).await?).into_response())
}

pub async fn failover(
    State(service): Service,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    service.failover(&caller, &id).await?;
    Ok(StatusCode::ACCEPTED)
}

pub async fn create_listener(
    State(service): Service,
    Caller(caller): Caller,
    JsonBody(value): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let request: ListenerCreate = body(value, "listener")?;
    let document = service.create_listener(&caller, request).await?;
    Ok(one(StatusCode::CREATED, "listener", document))
}

pub async fn update_listener(
    State(service): Service,
    Caller(caller): Caller,
    Path(id): Path<String>,
    JsonBody(value): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let request: ListenerUpdate = body(value, "listener")?;
    let document = service.update_listener(&caller, &id, request).await?;
    Ok(one(StatusCode::OK, "listener", document))
}

pub async fn create_pool(
    State(service): Service,
    Caller(caller): Caller,
    JsonBody(value): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let request: PoolCreate = body(value, "pool")?;
    let document = service.create_pool(&caller, request).await?;
    Ok(one(StatusCode::CREATED, "pool", document))
}

pub async fn update_pool(
    State(service): Service,
    Caller(caller): Caller,
    Path(id): Path<String>,
    JsonBody(value): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let request: PoolUpdate = body(value, "pool")?;
    let document = service.update_pool(&caller, &id, request).await?;
    Ok(one(StatusCode::OK, "pool", document))
}

pub async fn create_member(
    State(service): Service,
    Caller(caller): Caller,
    Path(pool_id): Path<String>,
    JsonBody(value): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let request: MemberCreate = body(value, "member")?;
    let document = service.create_member(&caller, &pool_id, request).await?;
    Ok(one(StatusCode::CREATED, "member", document))
}

pub async fn show_member(
    State(service): Service,
    Caller(caller): Caller,
    Path((pool_id, id)): Path<(String, String)>,
    Query(pairs): Pairs,
) -> Result<Response, ApiError> {
    let document = service.show_member(&caller, &pool_id, &id).await?;
    let document = select_fields(document, requested_fields(&pairs).as_deref());
    Ok(one(StatusCode::OK, "member", document))
}

pub async fn update_member(
    State(service): Service,
    Caller(caller): Caller,
    Path((pool_id, id)): Path<(String, String)>,
    JsonBody(value): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let request: MemberUpdate = body(value, "member")?;
    let document = service
        .update_member(&caller, &pool_id, &id, request)
        .await?;
    Ok(one(StatusCode::OK, "member", document))
}

pub async fn delete_member(
    State(service): Service,
    Caller(caller): Caller,
    Path((pool_id, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    service.delete_member(&caller, &pool_id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn replace_members(
    State(service): Service,
    Caller(caller): Caller,
    Path(pool_id): Path<String>,
    Query(pairs): Pairs,
    JsonBody(request): JsonBody<MembersReplace>,
) -> Result<StatusCode, ApiError> {
    service
        .replace_members(
            &caller,
            &pool_id,
            request.members,
            flag(&pairs, "additive_only"),
        )
        .await?;
    Ok(StatusCode::ACCEPTED)
}

pub async fn create_monitor(
    State(service): Service,
    Caller(caller): Caller,
    JsonBody(value): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let request: MonitorCreate = body(value, "healthmonitor")?;
    let document = service.create_monitor(&caller, request).await?;
    Ok(one(StatusCode::CREATED, "healthmonitor", document))
}

pub async fn update_monitor(
    State(service): Service,
    Caller(caller): Caller,
    Path(id): Path<String>,
    JsonBody(value): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let request: MonitorUpdate = body(value, "healthmonitor")?;
    let document = service.update_monitor(&caller, &id, request).await?;
    Ok(one(StatusCode::OK, "healthmonitor", document))
}

pub async fn create_policy(
    State(service): Service,
    Caller(caller): Caller,
    JsonBody(value): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let request: PolicyCreate = body(value, "l7policy")?;
    let document = service.create_policy(&caller, request).await?;
    Ok(one(StatusCode::CREATED, "l7policy", document))
}

pub async fn update_policy(
    State(service): Service,
    Caller(caller): Caller,
    Path(id): Path<String>,
    JsonBody(value): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let request: PolicyUpdate = body(value, "l7policy")?;
    let document = service.update_policy(&caller, &id, request).await?;
    Ok(one(StatusCode::OK, "l7policy", document))
}

pub async fn list_rules(
    service: Service,
    caller: Caller,
    headers: HeaderMap,
    uri: OriginalUri,
    Path(policy_id): Path<String>,
    Query(pairs): Pairs,
) -> Result<Response, ApiError> {
    list_of(
        service,
        caller,
        headers,
        uri,
        pairs,
        ListKind::RulesOf(policy_id),
    )
    .await
}

pub async fn create_rule(
    State(service): Service,
    Caller(caller): Caller,
    Path(policy_id): Path<String>,
    JsonBody(value): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let request: RuleCreate = body(value, "rule")?;
    let document = service.create_rule(&caller, &policy_id, request).await?;
    Ok(one(StatusCode::CREATED, "rule", document))
}

pub async fn show_rule(
    State(service): Service,
    Caller(caller): Caller,
    Path((policy_id, id)): Path<(String, String)>,
    Query(pairs): Pairs,
) -> Result<Response, ApiError> {
    let document = service.show_rule(&caller, &policy_id, &id).await?;
    let document = select_fields(document, requested_fields(&pairs).as_deref());
    Ok(one(StatusCode::OK, "rule", document))
}

pub async fn update_rule(
    State(service): Service,
    Caller(caller): Caller,
    Path((policy_id, id)): Path<(String, String)>,
    JsonBody(value): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let request: RuleUpdate = body(value, "rule")?;
    let document = service
        .update_rule(&caller, &policy_id, &id, request)
        .await?;
    Ok(one(StatusCode::OK, "rule", document))
}

pub async fn delete_rule(
    State(service): Service,
    Caller(caller): Caller,
    Path((policy_id, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    service.delete_rule(&caller, &policy_id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The catalogs, as const parameters of their handlers.
pub const FLAVOR_PROFILE: u8 = 0;
pub const FLAVOR: u8 = 1;
pub const ZONE_PROFILE: u8 = 2;
pub const ZONE: u8 = 3;

fn catalog(c: u8) -> Catalog {
    match c {
        FLAVOR_PROFILE => Catalog::FlavorProfile,
        FLAVOR => Catalog::Flavor,
        ZONE_PROFILE => Catalog::ZoneProfile,
        _ => Catalog::Zone,
    }
}

pub async fn list_catalog<const C: u8>(
    State(service): Service,
    Caller(caller): Caller,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Query(pairs): Pairs,
) -> Result<Response, ApiError> {
    let catalog = catalog(C);
    let collection = catalog.collection();
    let query = ListQuery::parse(collection, &octavia_sort(&pairs)).map_err(LbError::List)?;
    let page = service
        .list_catalog(&caller, catalog, query.clone())
        .await?;
    Ok(list_body(
        &headers,
        uri.path(),
        &pairs,
        collection,
        &query,
        &page,
    ))
}

pub async fn create_catalog<const C: u8>(
    State(service): Service,
    Caller(caller): Caller,
    JsonBody(value): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let catalog = catalog(C);
    let request: CatalogBody = body(value, catalog.singular())?;
    let document = service.put_catalog(&caller, catalog, None, request).await?;
    Ok(one(StatusCode::CREATED, catalog.singular(), document))
}

pub async fn show_catalog<const C: u8>(
    State(service): Service,
    Caller(caller): Caller,
    Path(id): Path<String>,
    Query(pairs): Pairs,
) -> Result<Response, ApiError> {
    let catalog = catalog(C);
    let document = service.show_catalog(&caller, catalog, &id).await?;
    let document = select_fields(document, requested_fields(&pairs).as_deref());
    Ok(one(StatusCode::OK, catalog.singular(), document))
}

pub async fn update_catalog<const C: u8>(
    State(service): Service,
    Caller(caller): Caller,
    Path(id): Path<String>,
    JsonBody(value): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let catalog = catalog(C);
    let request: CatalogBody = body(value, catalog.singular())?;
    let document = service
        .put_catalog(&caller, catalog, Some(&id), request)
        .await?;
    Ok(one(StatusCode::OK, catalog.singular(), document))
}

pub async fn delete_catalog<const C: u8>(
    State(service): Service,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    service.delete_catalog(&caller, catalog(C), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
