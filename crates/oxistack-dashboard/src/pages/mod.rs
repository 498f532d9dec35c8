//! One module per panel, as Horizon splits its dashboards: `project/...`
//! pages act in the signed-in project, `admin/...` and `identity/...`
//! pages are for admins (anyone else gets a 404, and the API would refuse
//! them anyway).

use axum::Router;

use crate::Dashboard;

pub mod admin;
pub mod auth;
pub mod floating_ips;
pub mod identity;
pub mod images;
pub mod instances;
pub mod key_pairs;
pub mod load_balancers;
pub mod networks;
/// Shared by the network panels.
pub mod neutron;
pub mod overview;
pub mod routers;
pub mod security_groups;
pub mod topology;
pub mod volumes;

pub fn routes() -> Router<Dashboard> {
    Router::new()
        .merge(auth::routes())
        .merge(key_pairs::routes())
        .merge(overview::routes())
        .merge(instances::routes())
        .merge(images::routes())
        .merge(volumes::routes())
        .merge(networks::routes())
        .merge(routers::routes())
        .merge(security_groups::routes())
        .merge(floating_ips::routes())
        .merge(topology::routes())
        .merge(load_balancers::routes())
        .merge(admin::routes())
        .merge(identity::routes())
}

/// A JSON value as text: strings as they are, `null` as "", anything
/// else as JSON.
pub fn text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// An object's name, or its id when it has none.
pub fn name_of(object: &serde_json::Value) -> String {
    match text(&object["name"]) {
        name if name.is_empty() => text(&object["id"]),
        name => name,
    }
}

/// "Yes" or "No" for a JSON boolean.
pub fn yes_no(value: &serde_json::Value) -> &'static str {
    match value.as_bool() {
        Some(true) => "Yes",
        _ => "No",
    }
}

/// The objects under `key` of a list answer (`{"networks": [...]}`).
pub fn items(body: &serde_json::Value, key: &str) -> Vec<serde_json::Value> {
    body[key].as_array().cloned().unwrap_or_default()
}

/// Select choices whose values are their own labels.
pub fn options(values: &[&str]) -> Vec<(String, String)> {
    values
        .iter()
        .map(|value| ((*value).to_owned(), (*value).to_owned()))
        .collect()
}

/// What a page reads from a service that may not be there (`[services]
/// volume = false` leaves Cinder out): its answer, `None` when the
/// service is not mounted (404), or the API's reason for refusing, which
/// the page shows in that part alone.
pub type Part = Result<Option<serde_json::Value>, String>;

/// GETs `path` as a [`Part`]; only a lost session ends the page.
pub async fn read_part(
    ctx: &crate::context::Ctx,
    path: String,
) -> Result<Part, crate::context::PageError> {
    match ctx.call(axum::http::Method::GET, path, None).await {
        Ok(body) => Ok(Ok(Some(body))),
        Err(failure) if failure.is_not_found() => Ok(Ok(None)),
        Err(failure) if failure.is_unauthorized() => Err(crate::context::PageError::SignIn),
        Err(failure) => Ok(Err(failure.message)),
    }
}

/// `name` made safe as one path segment (key pair names may hold spaces;
/// "." and ".." alone are dot segments, so they are encoded whole).
pub fn segment(name: &str) -> String {
    if name == "." || name == ".." {
        return "%2E".repeat(name.len());
    }
    name.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(byte).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}
