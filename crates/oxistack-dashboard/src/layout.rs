//! The one look of every page: the shell (header with the project
//! switcher, the navigation, the messages) and the small parts pages are
//! built from (status badges, action buttons, form fields). Pages are
//! plain server-rendered HTML; `dashboard.js` only adds the confirmation
//! dialog, the refresh of pending rows and upload progress, so every
//! page works without it and with the keyboard alone.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::context::Ctx;
use crate::session::{Flash, FlashKind};

/// The navigation: (section, [(label, path)]); admin sections last.
const PROJECT_NAV: &[(&str, &str)] = &[
    ("Overview", "/dashboard/project/"),
    ("Instances", "/dashboard/project/instances"),
    ("Images", "/dashboard/project/images"),
    ("Key Pairs", "/dashboard/project/key_pairs"),
    ("Volumes", "/dashboard/project/volumes"),
    ("Snapshots", "/dashboard/project/snapshots"),
    ("Network Topology", "/dashboard/project/network_topology"),
    ("Networks", "/dashboard/project/networks"),
    ("Routers", "/dashboard/project/routers"),
    ("Security Groups", "/dashboard/project/security_groups"),
    ("Floating IPs", "/dashboard/project/floating_ips"),
    ("Load Balancers", "/dashboard/project/load_balancers"),
];
const ADMIN_NAV: &[(&str, &str)] = &[
    ("Hypervisors", "/dashboard/admin/hypervisors"),
    ("All Instances", "/dashboard/admin/instances"),
    ("All Volumes", "/dashboard/admin/volumes"),
    ("Flavors", "/dashboard/admin/flavors"),
    ("System Information", "/dashboard/admin/info"),
];
const IDENTITY_NAV: &[(&str, &str)] = &[
    ("Projects", "/dashboard/identity/projects"),
    ("Users", "/dashboard/identity/users"),
    ("Groups", "/dashboard/identity/groups"),
];

/// A whole page for the signed-in user; `current` is the navigation path
/// the page belongs to.
pub fn page(ctx: &Ctx, title: &str, current: &str, body: Markup) -> Response {
    // The body is rendered first, so its rows have claimed their messages.
    let top = ctx.remaining_flashes();
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/dashboard/project/" { "oxistack" }
                    (project_switcher(ctx))
                    span.user { "Signed in as " strong { (ctx.auth.user_name) } }
                    form.inline method="post" action="/dashboard/auth/logout" {
                        (ctx.csrf_field())
                        button.link type="submit" { "Sign out" }
                    }
                }
                div.frame {
                    nav.side aria-label="Main" {
                        (nav_section("Project", PROJECT_NAV, current))
                        @if ctx.is_admin() {
                            (nav_section("Admin", ADMIN_NAV, current))
                            (nav_section("Identity", IDENTITY_NAV, current))
                        }
                    }
                    main #main tabindex="-1" {
                        h1 { (title) }
                        (flashes(&top))
                        (body)
                    }
                }
                (confirm_dialog())
            }
        }
    };
    Html(markup.into_string()).into_response()
}

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            meta name="color-scheme" content="light dark";
            title { (title) " - oxistack" }
            link rel="stylesheet" href=(crate::assets::url("dashboard.css"));
            script src=(crate::assets::url("dashboard.js")) defer {}
        }
    }
}

fn nav_section(label: &str, items: &[(&str, &str)], current: &str) -> Markup {
    html! {
        h2.nav-title { (label) }
        ul {
            @for (name, path) in items {
                li {
                    @if *path == current {
                        a href=(path) aria-current="page" { (name) }
                    } @else {
                        a href=(path) { (name) }
                    }
                }
            }
        }
    }
}

fn project_switcher(ctx: &Ctx) -> Markup {
    let auth = &ctx.auth;
    html! {
        @if auth.projects.len() > 1 {
            form.inline.switcher method="post" action="/dashboard/auth/switch" {
                (ctx.csrf_field())
                label for="switch-project" { "Project" }
                select #switch-project name="project_id" {
                    @for (id, name) in &auth.projects {
                        option value=(id) selected[*id == auth.project_id] { (name) }
                    }
                }
                button type="submit" { "Switch" }
            }
        } @else {
            span.project { "Project " strong { (auth.project_name) } }
        }
    }
}

/// The page's own confirmation dialog for destructive actions
/// (`data-confirm` on a form); without script the form posts directly.
fn confirm_dialog() -> Markup {
    html! {
        dialog #confirm aria-labelledby="confirm-text" {
            form method="dialog" {
                p #confirm-text {}
                div.actions {
                    button value="cancel" { "Cancel" }
                    button.danger value="confirm" { "Confirm" }
                }
            }
        }
    }
}

/// Messages: successes as a status, failures as an alert.
pub fn flashes(flashes: &[Flash]) -> Markup {
    html! {
        @for flash in flashes {
            @match flash.kind {
                FlashKind::Ok => p.flash.flash-ok role="status" { (flash.text) },
                FlashKind::Error => p.flash.flash-error role="alert" { (flash.text) },
            }
        }
    }
}

/// A page for a failure, outside the signed-in shell.
pub fn error_page(status: StatusCode, message: &str) -> Html<String> {
    let title = status.canonical_reason().unwrap_or("Error");
    Html(
        html! {
            (DOCTYPE)
            html lang="en" {
                (head(title))
                body.plain {
                    main #main.card {
                        h1 { (status.as_u16()) " " (title) }
                        p.flash.flash-error role="alert" { (message) }
                        p { a href="/dashboard/project/" { "Back to the dashboard" } }
                    }
                }
            }
        }
        .into_string(),
    )
}

/// Statuses that change by themselves soon: their rows refresh.
pub fn is_pending(status: &str) -> bool {
    let status = status.to_ascii_uppercase();
    [
        "BUILD",
        "PENDING",
        "CREATING",
        "ATTACHING",
        "DETACHING",
        "DELETING",
        "EXTENDING",
        "UPLOADING",
        "DOWNLOADING",
        "QUEUED",
        "SAVING",
        "IMPORTING",
        "REBOOT",
        "RESERVED",
        "MIGRATING",
        "RESIZE",
        "BACKING-UP",
        "RESTORING",
    ]
    .iter()
    .any(|pending| status.contains(pending))
}

/// A status as a coloured badge; the cell is `td[data-status]`.
pub fn status_cell(status: &str) -> Markup {
    html! { td data-status=(status) { (badge(status)) } }
}

/// A status as a coloured badge, for a place that is not a list's status
/// cell (a second status column, a detail page).
pub fn badge(status: &str) -> Markup {
    let upper = status.to_ascii_uppercase();
    let class = if is_pending(status) {
        "badge pending"
    } else if upper.contains("ERROR") || upper.contains("OFFLINE") || upper == "DOWN" {
        "badge bad"
    } else if ["ACTIVE", "AVAILABLE", "IN-USE", "ONLINE", "UP"].contains(&upper.as_str()) {
        "badge good"
    } else {
        "badge"
    };
    html! { span class=(class) { (status) } }
}

/// A button posting to `action` (with the CSRF token); `confirm` asks
/// first, in the page's dialog.
pub fn action_button(ctx: &Ctx, action: &str, label: &str, confirm: Option<&str>) -> Markup {
    html! {
        form.inline method="post" action=(action) data-confirm=[confirm] {
            (ctx.csrf_field())
            @if confirm.is_some() {
                button.danger type="submit" { (label) }
            } @else {
                button type="submit" { (label) }
            }
        }
    }
}

/// A labelled form field.
pub fn field(label: &str, id: &str, input: Markup) -> Markup {
    html! {
        div.field {
            label for=(id) { (label) }
            (input)
        }
    }
}

/// A `<select>` of `(value, label)` options.
pub fn select(
    name: &str,
    id: &str,
    options: &[(String, String)],
    selected: Option<&str>,
) -> Markup {
    html! {
        select name=(name) id=(id) {
            @for (value, label) in options {
                option value=(value) selected[Some(value.as_str()) == selected] { (label) }
            }
        }
    }
}

/// Raw SVG or other trusted markup built by this crate.
pub fn trusted(markup: String) -> Markup {
    PreEscaped(markup)
}
