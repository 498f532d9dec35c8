//! Key pairs (Nova's `os-keypairs`): list, import a public key, create one
//! and take its private key away once (Nova keeps only the public half),
//! delete.

use axum::Router;
use axum::extract::{Path, Query};
use axum::http::Method;
use axum::routing::{get, post};
use base64::Engine;
use maud::html;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Dashboard;
use crate::client::COMPUTE;
use crate::context::{Ctx, PageResult, Report};
use crate::form::CsrfForm;
use crate::layout::{self, action_button, field};
use crate::list::{ListQuery, Table};
use crate::pages::{segment, text};

const BASE: &str = "/dashboard/project/key_pairs";

pub fn routes() -> Router<Dashboard> {
    Router::new()
        .route("/project/key_pairs", get(list))
        .route("/project/key_pairs/create", post(create))
        .route("/project/key_pairs/import", post(import))
        .route("/project/key_pairs/{name}", get(details))
        .route("/project/key_pairs/{name}/delete", post(delete))
}

async fn list(ctx: Ctx, Query(query): Query<ListQuery>) -> PageResult {
    let body = ctx.get(format!("{COMPUTE}/os-keypairs")).await?;
    let keypairs: Vec<Value> = body["keypairs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|entry| entry["keypair"].clone())
        .collect();
    let table = Table::new(BASE, "Key pairs", |k: &Value| text(&k["name"]))
        .cell(
            "name",
            "Name",
            Some(Box::new(|k: &Value| text(&k["name"]))),
            |k| html! { a href=(format!("{BASE}/{}", segment(&text(&k["name"])))) { (text(&k["name"])) } },
        )
        .column("type", "Type", |k: &Value| text(&k["type"]))
        .column("fingerprint", "Fingerprint", |k: &Value| text(&k["fingerprint"]))
        .cell("actions", "Actions", None, |k| {
            let name = text(&k["name"]);
            action_button(
                &ctx,
                &format!("{BASE}/{}/delete", segment(&name)),
                "Delete",
                Some(&format!("Delete key pair {name}?")),
            )
        })
        .search(|k: &Value| text(&k["name"]));
    let body = html! {
        (table.render(&ctx, &query, keypairs, "No key pairs yet: create or import one below."))
        div.quota {
            form.card method="post" action=(format!("{BASE}/create")) {
                h2 { "Create key pair" }
                (ctx.csrf_field())
                (field("Name", "create-name", html! { input #create-name name="name" type="text" required; }))
                p.hint { "The private key is shown once, right after it is made; Nova keeps only the public key." }
                button type="submit" { "Create key pair" }
            }
            form.card method="post" action=(format!("{BASE}/import")) {
                h2 { "Import public key" }
                (ctx.csrf_field())
                (field("Name", "import-name", html! { input #import-name name="name" type="text" required; }))
                (field("Public key", "import-key", html! { textarea #import-key name="public_key" required placeholder="ssh-ed25519 AAAA..." {} }))
                button type="submit" { "Import key pair" }
            }
        }
    };
    Ok(layout::page(&ctx, "Key Pairs", BASE, body))
}

#[derive(Deserialize)]
struct CreateForm {
    name: String,
}

/// Creates a key pair and shows its private key, this once.
async fn create(ctx: Ctx, CsrfForm(form): CsrfForm<CreateForm>) -> PageResult {
    let name = form.name.trim();
    let created = ctx
        .call(
            Method::POST,
            format!("{COMPUTE}/os-keypairs"),
            Some(&json!({"keypair": {"name": name}})),
        )
        .await;
    let keypair = match created {
        Ok(body) => body["keypair"].clone(),
        Err(failure) => {
            return Ok(ctx.finish::<()>(
                Err(failure),
                None,
                "",
                &format!("Could not create key pair {name}"),
                BASE,
            ));
        }
    };
    let private_key = text(&keypair["private_key"]);
    let download = format!(
        "data:application/x-pem-file;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(&private_key)
    );
    let body = html! {
        p.flash.flash-ok role="status" { "Created key pair " (name) "." }
        div.card {
            p { "This is the only time the private key is shown. Save it now." }
            p { a.button href=(download) download=(format!("{name}.pem")) { "Download " (name) ".pem" } }
            (field("Private key", "private-key", html! {
                textarea #private-key readonly rows="12" { (private_key) }
            }))
            p { a href=(BASE) { "Back to key pairs" } }
        }
    };
    Ok(layout::page(&ctx, "Key Pair Created", BASE, body))
}

#[derive(Deserialize)]
struct ImportForm {
    name: String,
    public_key: String,
}

async fn import(ctx: Ctx, CsrfForm(form): CsrfForm<ImportForm>) -> PageResult {
    let name = form.name.trim();
    let keypair = json!({"keypair": {"name": name, "public_key": form.public_key.trim()}});
    let keypairs = format!("{COMPUTE}/os-keypairs");
    let report = Report {
        about: Some(name),
        done: &format!("Imported key pair {name}."),
        failed: &format!("Could not import key pair {name}"),
        back: BASE,
    };
    Ok(ctx
        .act(Method::POST, keypairs, Some(&keypair), report)
        .await)
}

async fn details(ctx: Ctx, Path(name): Path<String>) -> PageResult {
    let body = ctx
        .get(format!("{COMPUTE}/os-keypairs/{}", segment(&name)))
        .await?;
    let keypair = &body["keypair"];
    let body = html! {
        dl.details.card {
            dt { "Name" } dd { (text(&keypair["name"])) }
            dt { "Type" } dd { (text(&keypair["type"])) }
            dt { "Fingerprint" } dd { (text(&keypair["fingerprint"])) }
            dt { "Created" } dd { (text(&keypair["created_at"])) }
            dt { "Public key" } dd { pre { (text(&keypair["public_key"])) } }
        }
        (action_button(&ctx, &format!("{BASE}/{}/delete", segment(&name)), "Delete key pair", Some(&format!("Delete key pair {name}?"))))
    };
    Ok(layout::page(&ctx, &format!("Key Pair {name}"), BASE, body))
}

async fn delete(
    ctx: Ctx,
    Path(name): Path<String>,
    CsrfForm(_): CsrfForm<Vec<(String, String)>>,
) -> PageResult {
    let keypair = format!("{COMPUTE}/os-keypairs/{}", segment(&name));
    let report = Report {
        about: None,
        done: &format!("Deleted key pair {name}."),
        failed: &format!("Could not delete key pair {name}"),
        back: BASE,
    };
    Ok(ctx.act(Method::DELETE, keypair, None, report).await)
}
