//! Flavors: every flavor, public or not (`is_public=none`), with its
//! sizes; an admin creates one (Nova picks its id) or deletes one. An
//! empty ephemeral disk or swap is none; a size that is missing or not a
//! number is said so above the form, before Nova is asked.

use axum::Router;
use axum::extract::{Path, Query};
use axum::http::Method;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use maud::html;
use serde::Deserialize;
use serde_json::{Value, json};

use super::number;
use crate::Dashboard;
use crate::client::COMPUTE;
use crate::context::{Ctx, PageResult, Report};
use crate::form::CsrfForm;
use crate::layout::{self, action_button, field};
use crate::list::{ListQuery, Table};
use crate::pages::{items, segment, text, yes_no};
use crate::session::FlashKind;

const BASE: &str = "/dashboard/admin/flavors";

pub fn routes() -> Router<Dashboard> {
    Router::new()
        .route("/admin/flavors", get(list).post(create))
        .route("/admin/flavors/{id}/delete", post(delete))
}

async fn list(ctx: Ctx, Query(query): Query<ListQuery>) -> PageResult {
    ctx.require_admin()?;
    let body = ctx
        .get(format!("{COMPUTE}/flavors/detail?is_public=none"))
        .await?;
    let flavors = items(&body, "flavors");
    let table = Table::new(BASE, "Flavors", |f: &Value| text(&f["id"]))
        .column("name", "Name", |f: &Value| text(&f["name"]))
        .column("vcpus", "vCPUs", |f: &Value| {
            number(&f["vcpus"]).to_string()
        })
        .column("ram", "RAM", |f: &Value| {
            format!("{} MiB", number(&f["ram"]))
        })
        .column("disk", "Root disk", |f: &Value| {
            format!("{} GiB", number(&f["disk"]))
        })
        .column("ephemeral", "Ephemeral disk", |f: &Value| {
            format!("{} GiB", number(&f["OS-FLV-EXT-DATA:ephemeral"]))
        })
        .column("swap", "Swap", |f: &Value| {
            format!("{} MiB", number(&f["swap"]))
        })
        .column("public", "Public", |f: &Value| {
            yes_no(&f["os-flavor-access:is_public"]).to_owned()
        })
        .column("id", "ID", |f: &Value| text(&f["id"]))
        .cell("actions", "Actions", None, |f| {
            action_button(
                &ctx,
                &format!("{BASE}/{}/delete", segment(&text(&f["id"]))),
                "Delete",
                Some(&format!("Delete flavor {}?", text(&f["name"]))),
            )
        })
        .search(|f: &Value| format!("{} {}", text(&f["name"]), text(&f["id"])));
    let number_input = |id: &str, name: &str, min: u32, value: u32, required: bool| {
        html! { input id=(id) name=(name) type="number" min=(min) value=(value) required[required]; }
    };
    let body = html! {
        (table.render(&ctx, &query, flavors, "No flavors: create one below."))
        form.card method="post" action=(BASE) {
            h2 { "Create flavor" }
            (ctx.csrf_field())
            (field("Name", "flavor-name", html! { input #flavor-name name="name" type="text" required; }))
            p.hint { "Nova gives the flavor a new UUID as its id." }
            (field("vCPUs", "flavor-vcpus", number_input("flavor-vcpus", "vcpus", 1, 1, true)))
            (field("RAM (MiB)", "flavor-ram", number_input("flavor-ram", "ram", 1, 512, true)))
            (field("Root disk (GiB)", "flavor-disk", number_input("flavor-disk", "disk", 0, 1, true)))
            (field("Ephemeral disk (GiB)", "flavor-ephemeral", number_input("flavor-ephemeral", "ephemeral", 0, 0, false)))
            (field("Swap (MiB)", "flavor-swap", number_input("flavor-swap", "swap", 0, 0, false)))
            div.checks {
                label { input name="public" type="checkbox" value="true" checked; "Public (every project may use it)" }
            }
            button type="submit" { "Create flavor" }
        }
    };
    Ok(layout::page(&ctx, "Flavors", BASE, body))
}

/// The form as typed: sizes are read by [`flavor_request`], so that a
/// bad one is told in words rather than refused as a malformed form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CreateForm {
    name: String,
    vcpus: String,
    ram: String,
    disk: String,
    ephemeral: String,
    swap: String,
    /// Present only when the box is ticked.
    public: Option<String>,
}

/// A size from the form: a whole number, or `default` when empty (a
/// required size has none).
fn size(value: &str, label: &str, default: Option<u32>) -> Result<u32, String> {
    match (value.trim(), default) {
        ("", Some(default)) => Ok(default),
        ("", None) => Err(format!("{label} is required")),
        (value, _) => value
            .parse()
            .map_err(|_| format!("{label} must be a whole number, not {value:?}")),
    }
}

/// The `flavor` to create from `form`, or what is wrong with it.
fn flavor_request(form: &CreateForm) -> Result<Value, String> {
    Ok(json!({"flavor": {
        "name": form.name.trim(),
        "vcpus": size(&form.vcpus, "vCPUs", None)?,
        "ram": size(&form.ram, "RAM", None)?,
        "disk": size(&form.disk, "Root disk", None)?,
        "OS-FLV-EXT-DATA:ephemeral": size(&form.ephemeral, "Ephemeral disk", Some(0))?,
        "swap": size(&form.swap, "Swap", Some(0))?,
        "os-flavor-access:is_public": form.public.is_some(),
    }}))
}

async fn create(ctx: Ctx, CsrfForm(form): CsrfForm<CreateForm>) -> PageResult {
    ctx.require_admin()?;
    let name = form.name.trim();
    let flavor = match flavor_request(&form) {
        Ok(flavor) => flavor,
        Err(problem) => {
            let message = format!("Could not create flavor {name}: {problem}.");
            ctx.flash(FlashKind::Error, None, message);
            return Ok(Redirect::to(BASE).into_response());
        }
    };
    let path = format!("{COMPUTE}/flavors");
    let report = Report {
        about: None,
        done: &format!("Created flavor {name}."),
        failed: &format!("Could not create flavor {name}"),
        back: BASE,
    };
    Ok(ctx.create(path, &flavor, "/flavor/id", report).await)
}

async fn delete(
    ctx: Ctx,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<Vec<(String, String)>>,
) -> PageResult {
    ctx.require_admin()?;
    let flavor = format!("{COMPUTE}/flavors/{}", segment(&id));
    let report = Report {
        about: None,
        done: "Deleted the flavor.",
        failed: "Could not delete the flavor",
        back: BASE,
    };
    Ok(ctx.act(Method::DELETE, flavor, None, report).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(vcpus: &str, ephemeral: &str) -> CreateForm {
        CreateForm {
            name: "m1".into(),
            vcpus: vcpus.into(),
            ram: "512".into(),
            disk: "1".into(),
            ephemeral: ephemeral.into(),
            ..CreateForm::default()
        }
    }

    #[test]
    fn empty_ephemeral_and_swap_are_none() {
        let flavor = flavor_request(&form("2", "")).unwrap_or_default();
        assert_eq!(flavor["flavor"]["OS-FLV-EXT-DATA:ephemeral"], 0);
        assert_eq!(flavor["flavor"]["swap"], 0);
        assert_eq!(flavor["flavor"]["vcpus"], 2);
    }

    #[test]
    fn a_missing_or_bad_size_is_said_in_words() {
        assert_eq!(
            flavor_request(&form("", "0")),
            Err("vCPUs is required".into())
        );
        assert_eq!(
            flavor_request(&form("2", "x")),
            Err("Ephemeral disk must be a whole number, not \"x\"".into())
        );
    }
}
