//! Launching instances: one form with what Nova's `POST /servers` takes
//! from a person (image, flavor, networks, key pair, security groups,
//! count, user data), its choices read from the project's own images,
//! flavors, networks, key pairs and security groups.

use axum::http::Method;
use base64::Engine;
use maud::{Markup, html};
use serde_json::{Map, Value, json};

use super::{BASE, fetch_list};
use crate::client::{COMPUTE, IMAGE, NETWORK};
use crate::context::{Ctx, PageResult};
use crate::form::{self, CsrfForm};
use crate::layout::{self, field};
use crate::pages::text;

/// A checkbox for each of `choices` (id, label), inside a fieldset.
fn checkboxes(legend: &str, name: &str, choices: &[(String, String, bool)]) -> Markup {
    html! {
        fieldset.checks {
            legend { (legend) }
            @for (index, (value, label, checked)) in choices.iter().enumerate() {
                @let id = format!("{name}-{index}");
                label for=(id) {
                    input #(id) type="checkbox" name=(name) value=(value) checked[*checked];
                    (label)
                }
            }
            @if choices.is_empty() { p.hint { "None available." } }
        }
    }
}

pub async fn form(ctx: Ctx) -> PageResult {
    let project = ctx.auth.project_id.clone();
    let images = fetch_list(
        &ctx,
        format!("{IMAGE}/images?limit=1000&status=active"),
        "images",
    )
    .await?;
    let mut flavors = fetch_list(&ctx, format!("{COMPUTE}/flavors/detail"), "flavors").await?;
    let networks = fetch_list(&ctx, format!("{NETWORK}/networks"), "networks").await?;
    let keypair_list = fetch_list(&ctx, format!("{COMPUTE}/os-keypairs"), "keypairs").await?;
    let groups = fetch_list(
        &ctx,
        format!("{NETWORK}/security-groups?project_id={project}"),
        "security_groups",
    )
    .await?;

    let mut images: Vec<(String, String)> = images
        .iter()
        .map(|image| (text(&image["id"]), text(&image["name"])))
        .collect();
    images.sort_by(|a, b| a.1.cmp(&b.1));
    flavors.sort_by_key(|f| (f["ram"].as_u64(), f["vcpus"].as_u64(), f["disk"].as_u64()));
    let flavors: Vec<(String, String)> = flavors
        .iter()
        .map(|f| {
            let label = format!(
                "{} ({} vCPU, {} MB RAM, {} GB disk)",
                text(&f["name"]),
                text(&f["vcpus"]),
                text(&f["ram"]),
                text(&f["disk"])
            );
            (text(&f["id"]), label)
        })
        .collect();
    // The project's own networks and shared ones; an external network
    // takes no instances unless it is shared too.
    let networks: Vec<&Value> = networks
        .iter()
        .filter(|n| {
            n["shared"] == json!(true)
                || (n["router:external"] != json!(true) && text(&n["project_id"]) == project)
        })
        .collect();
    let only_network = networks.len() == 1;
    let networks: Vec<(String, String, bool)> = networks
        .iter()
        .map(|n| (text(&n["id"]), text(&n["name"]), only_network))
        .collect();
    let mut keypairs: Vec<(String, String)> = vec![(String::new(), "No key pair".to_owned())];
    keypairs.extend(keypair_list.iter().map(|entry| {
        let name = text(&entry["keypair"]["name"]);
        (name.clone(), name)
    }));
    let groups: Vec<(String, String, bool)> = groups
        .iter()
        .map(|g| {
            let name = text(&g["name"]);
            (text(&g["id"]), name.clone(), name == "default")
        })
        .collect();

    let body = html! {
        form.card method="post" action=(format!("{BASE}/launch")) {
            (ctx.csrf_field())
            (field("Instance name", "launch-name", html! { input #launch-name name="name" type="text" required; }))
            (field("Image", "launch-image", layout::select("image", "launch-image", &images, None)))
            (field("Flavor", "launch-flavor", layout::select("flavor", "launch-flavor", &flavors, None)))
            (checkboxes("Networks", "network", &networks))
            (field("Key pair", "launch-key", layout::select("key_name", "launch-key", &keypairs, None)))
            (checkboxes("Security groups", "security_group", &groups))
            (field("Count", "launch-count", html! { input #launch-count name="count" type="number" min="1" value="1" required; }))
            (field("User data", "launch-user-data", html! {
                textarea #launch-user-data name="user_data" placeholder="#cloud-config" {}
            }))
            p.hint { "User data is passed to the instance as it is (cloud-init reads it at first boot)." }
            button type="submit" { "Launch instance" }
        }
    };
    Ok(layout::page(&ctx, "Launch Instance", BASE, body))
}

/// Launches `count` instances at once (`min_count = max_count = count`).
pub async fn launch(ctx: Ctx, CsrfForm(pairs): CsrfForm<Vec<(String, String)>>) -> PageResult {
    let name = form::value(&pairs, "name")
        .unwrap_or_default()
        .trim()
        .to_owned();
    // Sent as typed: Nova's schema judges it (a string of digits passes).
    let count = form::value(&pairs, "count")
        .unwrap_or("1")
        .trim()
        .to_owned();
    let mut server = Map::new();
    server.insert("name".into(), json!(name));
    server.insert(
        "imageRef".into(),
        json!(form::value(&pairs, "image").unwrap_or_default()),
    );
    server.insert(
        "flavorRef".into(),
        json!(form::value(&pairs, "flavor").unwrap_or_default()),
    );
    let networks = form::values(&pairs, "network");
    // No network chosen: Nova decides, as `openstack server create` does.
    server.insert(
        "networks".into(),
        match networks.is_empty() {
            true => json!("auto"),
            false => networks.iter().map(|id| json!({"uuid": id})).collect(),
        },
    );
    let groups: Vec<Value> = form::values(&pairs, "security_group")
        .iter()
        .map(|id| json!({"name": id}))
        .collect();
    if !groups.is_empty() {
        server.insert("security_groups".into(), Value::Array(groups));
    }
    if let Some(key) = form::value(&pairs, "key_name") {
        server.insert("key_name".into(), json!(key));
    }
    if let Some(user_data) = form::value(&pairs, "user_data") {
        // Nova takes user data base64-encoded.
        let encoded = base64::engine::general_purpose::STANDARD.encode(user_data);
        server.insert("user_data".into(), json!(encoded));
    }
    server.insert("min_count".into(), json!(count));
    server.insert("max_count".into(), json!(count));
    let launched = ctx
        .call(
            Method::POST,
            format!("{COMPUTE}/servers"),
            Some(&json!({ "server": server })),
        )
        .await;
    let first = launched
        .as_ref()
        .map(|body| text(&body["server"]["id"]))
        .unwrap_or_default();
    let (about, done) = match count.as_str() {
        "1" => (Some(first.as_str()), format!("Launched instance {name}.")),
        _ => (None, format!("Launched {count} instances named {name}.")),
    };
    Ok(ctx.finish(launched, about, done, "Could not launch instance", BASE))
}
