//! `/v3/domains`

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query};
use axum::response::Response;
use oxistack_auth::{Action, Caller, Scope, authorize};
use oxistack_http::ApiError;
use serde_json::Value;

use super::entity::Entity;
use super::{State, V3, no_content, parse_bool};
use crate::model::{self, DEFAULT_DOMAIN_ID, Domain, Filtered, Result, new_id, require};
use crate::wire::{DomainCreate, DomainUpdate, DomainView, collection, member};
use oxistack_db::rusqlite::{self, Connection, params};

pub async fn list(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>> {
    authorize(&caller, Action::ListDomains)?;
    let enabled = parse_bool("enabled", query.get("enabled"))?;
    let name = query.get("name").cloned();
    let domains = service
        .read(move |conn| {
            Filtered::select(model::DOMAIN_COLUMNS, "domains")
                .eq("name", name)
                .eq("enabled", enabled)
                .all(conn, Domain::from_row)
        })
        .await?;
    let views = domains
        .into_iter()
        .map(|d| DomainView::new(d, &v3))
        .collect();
    Ok(Json(collection("domains", views, format!("{v3}/domains"))))
}

/// A caller may read the domain of their user or of their project.
fn may_read(caller: &Caller, domain_id: &str) -> bool {
    caller.is_admin()
        || caller.user_domain.id == domain_id
        || matches!(&caller.scope, Scope::Project { domain, .. } if domain.id == domain_id)
        || matches!(&caller.scope, Scope::Domain(domain) if domain.id == domain_id)
}

pub async fn show(
    axum::extract::State(service): State,
    caller: Caller,
    V3(v3): V3,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    let wanted = id.clone();
    let domain = service
        .read(move |conn| model::domain(conn, &wanted))
        .await?;
    let domain = domain.filter(|d| may_read(&caller, &d.id));
    Ok(Json(member(
        "domain",
        DomainView::new(require(domain, "domain", &id)?, &v3),
    )))
}

impl Entity for Domain {
    const KIND: &'static str = "domain";
    const MANAGE: Action = Action::ManageDomains;
    type Create = DomainCreate;
    type Update = DomainUpdate;
    type View = DomainView;

    fn name(&self) -> &str {
        &self.name
    }

    fn from_create(request: DomainCreate, _caller: &Caller) -> Result<Self> {
        Ok(Domain {
            id: new_id(),
            name: request.name,
            description: request.description.unwrap_or_default(),
            enabled: request.enabled.unwrap_or(true),
        })
    }

    fn renamed(update: &DomainUpdate) -> Option<&str> {
        update.name.as_deref()
    }

    fn apply(&mut self, update: DomainUpdate) -> Result<()> {
        if update.enabled == Some(false) && self.id == DEFAULT_DOMAIN_ID {
            return Err(ApiError::forbidden(
                "The default domain cannot be disabled.",
            ));
        }
        if let Some(name) = update.name {
            self.name = name;
        }
        if let Some(description) = update.description {
            self.description = description;
        }
        if let Some(enabled) = update.enabled {
            self.enabled = enabled;
        }
        Ok(())
    }

    fn load(conn: &Connection, id: &str) -> Result<Option<Self>> {
        model::domain(conn, id)
    }

    fn insert(&self, conn: &Connection) -> rusqlite::Result<()> {
        conn.execute(
            "INSERT INTO domains (id, name, description, enabled) VALUES (?1, ?2, ?3, ?4)",
            params![self.id, self.name, self.description, self.enabled],
        )
        .map(drop)
    }

    fn save(&self, conn: &Connection) -> rusqlite::Result<()> {
        conn.execute(
            "UPDATE domains SET name = ?2, description = ?3, enabled = ?4 WHERE id = ?1",
            params![self.id, self.name, self.description, self.enabled],
        )
        .map(drop)
    }

    fn view(self, v3: &str) -> DomainView {
        DomainView::new(self, v3)
    }
}

/// Keystone requires a domain to be disabled before it is deleted; here it
/// must also be empty, so deleting a domain never silently takes its
/// projects and users with it.
pub async fn delete(
    axum::extract::State(service): State,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response> {
    authorize(&caller, Action::ManageDomains)?;
    service
        .change(move |tx| {
            let domain = require(model::domain(tx, &id)?, "domain", &id)?;
            if domain.id == DEFAULT_DOMAIN_ID {
                return Err(ApiError::forbidden("The default domain cannot be deleted."));
            }
            if domain.enabled {
                return Err(ApiError::forbidden(
                    "Cannot delete a domain that is enabled, please disable it first.",
                ));
            }
            let in_use: i64 = tx.query_row(
                "SELECT (SELECT count(*) FROM projects WHERE domain_id = ?1)
                      + (SELECT count(*) FROM users WHERE domain_id = ?1)
                      + (SELECT count(*) FROM groups WHERE domain_id = ?1)",
                [&id],
                |row| row.get(0),
            )?;
            if in_use > 0 {
                return Err(ApiError::conflict(format!(
                    "Domain {id} still holds projects, users or groups; delete them first."
                )));
            }
            tx.execute(
                "DELETE FROM assignments WHERE target_kind = 'domain' AND target_id = ?1",
                [&id],
            )?;
            tx.execute("DELETE FROM domains WHERE id = ?1", [&id])?;
            Ok(())
        })
        .await?;
    Ok(no_content())
}
