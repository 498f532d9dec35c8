//! The one look of every page: the shell (header with the project
//! switcher, the navigation, the messages) and the small parts pages are
//! built from (status badges, action buttons, form fields). Pages are
//! plain server-rendered HTML; `dashboard.js` only adds the confirmation
//! dialog and the refresh of pending rows (upload progress is
//! `upload.js`, on the image upload page), so every page works without
//! it and with the keyboard alone.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

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

/// The statuses that change by themselves soon, as the services name
/// them: Nova's servers, Neutron's ports and routers, Cinder's volumes,
/// snapshots and backups, Glance's images, Octavia's provisioning. Not a
/// state that waits for someone (Nova's VERIFY_RESIZE, Glance's queued
/// image without data, Cinder's awaiting-transfer), nor any error
/// (Cinder's error_deleting, error_extending ...): those would refresh
/// forever.
const PENDING_STATUSES: &[&str] = &[
    // Nova
    "BUILD",
    "REBUILD",
    "REBOOT",
    "HARD_REBOOT",
    "RESIZE",
    "REVERT_RESIZE",
    "MIGRATING",
    "PASSWORD",
    // Neutron (BUILD too) and Octavia
    "ALLOCATING",
    "PENDING_CREATE",
    "PENDING_UPDATE",
    "PENDING_DELETE",
    // Cinder
    "creating",
    "attaching",
    "detaching",
    "deleting",
    "extending",
    "uploading",
    "downloading",
    "reserved",
    "maintenance",
    "backing-up",
    "restoring",
    "restoring-backup",
    "retyping",
    "unmanaging",
    // Glance
    "saving",
    "importing",
];

/// Whether `status` changes by itself soon (its row refreshes); any case.
pub fn is_pending(status: &str) -> bool {
    PENDING_STATUSES
        .iter()
        .any(|pending| pending.eq_ignore_ascii_case(status))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_statuses_that_change_by_themselves_are_pending() {
        for status in [
            "BUILD",
            "build",
            "HARD_REBOOT",
            "PENDING_CREATE",
            "creating",
            "restoring-backup",
            "saving",
        ] {
            assert!(is_pending(status), "{status}");
        }
        for status in [
            "ACTIVE",
            "VERIFY_RESIZE",
            "error_deleting",
            "error_extending",
            "error_restoring",
            "error_backing-up",
            "ERROR",
            "queued",
            "available",
            "",
        ] {
            assert!(!is_pending(status), "{status}");
        }
    }

    #[test]
    fn an_error_status_gets_the_bad_badge() {
        for status in ["error_deleting", "ERROR", "error_extending"] {
            assert!(
                badge(status).into_string().contains("badge bad"),
                "{status}"
            );
        }
        assert!(badge("deleting").into_string().contains("badge pending"));
        assert!(badge("ACTIVE").into_string().contains("badge good"));
    }
}
