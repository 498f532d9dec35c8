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

/// `name` made safe as one path segment (key pair names may hold spaces).
pub fn segment(name: &str) -> String {
    name.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(byte).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}
