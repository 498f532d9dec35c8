//! Horizon's Identity dashboard: projects, users, groups and who holds
//! which role where, all through Keystone's API. Each handler starts with
//! `ctx.require_admin()?`, so anyone else gets the 404 page (Keystone
//! would refuse them anyway). What the three lists share (their table's
//! name and delete columns, the names shown for ids, deleting) is here.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::Path;
use axum::http::Method;
use axum::routing::post;
use maud::html;
use serde_json::Value;

use crate::Dashboard;
use crate::client::IDENTITY;
use crate::context::{Ctx, PageError, PageResult, Report};
use crate::form::CsrfForm;
use crate::layout::action_button;
use crate::list::Table;
use crate::pages::{items, segment, text};

mod assignments;
mod groups;
mod projects;
mod users;

pub fn routes() -> Router<Dashboard> {
    let panels = Router::new()
        .merge(projects::routes())
        .merge(users::routes())
        .merge(groups::routes())
        .merge(assignments::routes());
    DELETABLE
        .into_iter()
        .fold(panels, |router, (collection, kind)| {
            router.route(
                &format!("/identity/{collection}/{{id}}/delete"),
                post(
                    move |ctx: Ctx, Path(id): Path<String>, _: CsrfForm<Vec<(String, String)>>| {
                        delete(ctx, collection, kind, id)
                    },
                ),
            )
        })
}

/// The panels whose objects go the same way, `(collection, kind)`:
/// Keystone's `DELETE /{collection}/{id}`, then back to the list.
const DELETABLE: [(&str, &str); 3] = [
    ("projects", "project"),
    ("users", "user"),
    ("groups", "group"),
];

/// Deletes a project, user or group (the list's and the page's delete
/// buttons post here) and goes back to its list.
async fn delete(ctx: Ctx, collection: &str, kind: &str, id: String) -> PageResult {
    ctx.require_admin()?;
    let object = format!("{IDENTITY}/{collection}/{}", segment(&id));
    let report = Report {
        about: None,
        done: &format!("Deleted the {kind}."),
        failed: &format!("Could not delete the {kind}"),
        back: &format!("/dashboard/identity/{collection}"),
    };
    Ok(ctx.act(Method::DELETE, object, None, report).await)
}

/// The objects of a list answer (`GET path` → `{collection: [...]}`).
pub(crate) async fn objects(
    ctx: &Ctx,
    path: &str,
    collection: &str,
) -> Result<Vec<Value>, PageError> {
    let body = ctx.get(path).await?;
    Ok(items(&body, collection))
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

/// A column that names the object whose id an object holds at `field`
/// (a user's domain, a server's project) from the list at `path`, or
/// shows the id itself when that list does not have it (deleted since).
pub(crate) async fn name_column(
    ctx: &Ctx,
    path: &str,
    collection: &str,
    field: &'static str,
) -> Result<impl Fn(&Value) -> String + Clone + Send + Sync + use<>, PageError> {
    let names = Arc::new(names_by_id(ctx, path, collection).await?);
    Ok(move |object: &Value| {
        let id = text(&object[field]);
        names.get(&id).cloned().unwrap_or(id)
    })
}

/// The table each identity list starts from: rows by id, first a name
/// that links to the object's page under `base`.
fn list_table<'a>(base: &'static str, caption: &'static str) -> Table<'a, Value> {
    Table::new(base, caption, |object: &Value| text(&object["id"])).cell(
        "name",
        "Name",
        Some(Box::new(|object: &Value| text(&object["name"]))),
        move |object| html! { a href=(format!("{base}/{}", segment(&text(&object["id"])))) { (text(&object["name"])) } },
    )
}

/// The last column of an identity list: a button that deletes the row's
/// object after asking "Delete `kind` name?".
fn delete_cell<'a>(
    table: Table<'a, Value>,
    ctx: &'a Ctx,
    base: &'static str,
    kind: &'static str,
) -> Table<'a, Value> {
    table.cell("actions", "Actions", None, move |object| {
        action_button(
            ctx,
            &format!("{base}/{}/delete", segment(&text(&object["id"]))),
            "Delete",
            Some(&format!("Delete {kind} {}?", text(&object["name"]))),
        )
    })
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
