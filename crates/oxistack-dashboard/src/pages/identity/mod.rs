//! Horizon's Identity dashboard: projects, users, groups and who holds
//! which role where, all through Keystone's API. Each handler starts with
//! `ctx.require_admin()?`, so anyone else gets the 404 page (Keystone
//! would refuse them anyway).

use std::collections::HashMap;

use axum::Router;
use serde_json::Value;

use crate::Dashboard;
use crate::client::IDENTITY;
use crate::context::{Ctx, PageError};
use crate::pages::text;

mod assignments;
mod groups;
mod projects;
mod users;

pub fn routes() -> Router<Dashboard> {
    Router::new()
        .merge(projects::routes())
        .merge(users::routes())
        .merge(groups::routes())
        .merge(assignments::routes())
}

/// The objects of a list answer (`GET path` → `{collection: [...]}`).
async fn objects(ctx: &Ctx, path: &str, collection: &str) -> Result<Vec<Value>, PageError> {
    let body = ctx.get(path).await?;
    Ok(body[collection].as_array().cloned().unwrap_or_default())
}

/// The names of a list's objects by id, for pages that show a name where
/// the API gives an id (projects, domains, images, servers).
pub(crate) async fn names_by_id(
    ctx: &Ctx,
    path: &str,
    collection: &str,
) -> Result<HashMap<String, String>, PageError> {
    Ok(objects(ctx, path, collection)
        .await?
        .iter()
        .map(|object| (text(&object["id"]), text(&object["name"])))
        .collect())
}

/// `(id, name)` options for a `<select>`, sorted by name.
async fn options(ctx: &Ctx, kind: &str) -> Result<Vec<(String, String)>, PageError> {
    let mut options: Vec<(String, String)> = names_by_id(ctx, &format!("{IDENTITY}/{kind}"), kind)
        .await?
        .into_iter()
        .collect();
    options.sort_by_key(|(_, name)| name.to_lowercase());
    Ok(options)
}

/// "Yes" or "No" for Keystone's `enabled`.
fn enabled(object: &Value) -> String {
    match object["enabled"].as_bool() {
        Some(false) => "No".to_owned(),
        _ => "Yes".to_owned(),
    }
}
