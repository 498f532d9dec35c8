//! `/v3/domains`

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query};
use axum::response::Response;
use oxistack_auth::Caller;
use serde_json::Value;

use super::entity::Document;
use super::{Result, State, V3, no_content, parse_bool};
use crate::model::Domain;
use crate::wire::{DomainView, collection, member};

impl Document for Domain {
    type View = DomainView;
    fn view(self, v3: &str) -> DomainView {
        DomainView::new(self, v3)
    }
}

pub async fn list(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>> {
    let enabled = parse_bool("enabled", query.get("enabled"))?;
    let domains = service
        .list_domains(&caller, query.get("name").cloned(), enabled)
        .await?;
    let views = domains.into_iter().map(|d| d.view(&v3)).collect();
    Ok(Json(collection("domains", views, format!("{v3}/domains"))))
}

pub async fn show(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    let domain = service.get_domain(&caller, &id).await?;
    Ok(Json(member("domain", domain.view(&v3))))
}

pub async fn delete(
    axum::extract::State(service): State,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response> {
    service.delete_domain(&caller, &id).await?;
    Ok(no_content())
}
