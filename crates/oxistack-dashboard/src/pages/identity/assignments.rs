//! Role assignments, as the project, user and group pages show them: who
//! holds which role where (Keystone's `role_assignments` with names), a
//! form to grant one and a button to revoke one.
//!
//! A grant is named in URLs and row ids by one segment,
//! `scope:scope_id:actor:actor_id:role_id` (e.g.
//! `project:P:user:U:R`), from which the grant's Keystone path
//! (`/projects/P/users/U/roles/R`) is rebuilt, each id encoded.

use axum::Router;
use axum::extract::Path;
use axum::http::Method;
use axum::routing::post;
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::Value;

use super::options;
use crate::Dashboard;
use crate::client::IDENTITY;
use crate::context::{Ctx, PageError, PageResult, Report};
use crate::form::CsrfForm;
use crate::layout::{action_button, field, select};
use crate::list::{ListQuery, Table};
use crate::pages::{segment, text};

/// The identity page an assignment list belongs to.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Panel {
    Projects,
    Users,
    Groups,
}

impl Panel {
    const ALL: [Panel; 3] = [Panel::Projects, Panel::Users, Panel::Groups];

    fn path(self) -> &'static str {
        match self {
            Panel::Projects => "projects",
            Panel::Users => "users",
            Panel::Groups => "groups",
        }
    }

    /// The page of object `id` of this panel.
    fn page(self, id: &str) -> String {
        format!("/dashboard/identity/{}/{}", self.path(), segment(id))
    }

    /// The `role_assignments` filter for this panel's object.
    fn filter(self) -> &'static str {
        match self {
            Panel::Projects => "scope.project.id",
            Panel::Users => "user.id",
            Panel::Groups => "group.id",
        }
    }
}

pub fn routes() -> Router<Dashboard> {
    Panel::ALL.into_iter().fold(Router::new(), |router, panel| {
        let base = format!("/identity/{}/{{id}}/roles", panel.path());
        router
            .route(
                &base,
                post(
                    move |ctx: Ctx, path: Path<String>, form: CsrfForm<AddForm>| {
                        add(ctx, panel, path, form)
                    },
                ),
            )
            .route(
                &format!("{base}/{{grant}}/delete"),
                post(
                    move |ctx: Ctx,
                          path: Path<(String, String)>,
                          form: CsrfForm<Vec<(String, String)>>| {
                        remove(ctx, panel, path, form)
                    },
                ),
            )
    })
}

/// One grant: a role of a user or group on a project, a domain or the
/// system.
struct Grant {
    scope: String,
    scope_id: String,
    actor: String,
    actor_id: String,
    role_id: String,
}

impl Grant {
    /// The grant of one entry of `role_assignments` (inherited and
    /// effective entries are not listed, so each is a direct grant).
    fn of(assignment: &Value) -> Option<Grant> {
        let scope = &assignment["scope"];
        let (scope_kind, scope_id) = if scope["project"].is_object() {
            ("project", text(&scope["project"]["id"]))
        } else if scope["domain"].is_object() {
            ("domain", text(&scope["domain"]["id"]))
        } else if scope["system"].is_object() {
            ("system", "all".to_owned())
        } else {
            return None;
        };
        let (actor, actor_id) = match assignment["user"].is_object() {
            true => ("user", text(&assignment["user"]["id"])),
            false => ("group", text(&assignment["group"]["id"])),
        };
        Some(Grant {
            scope: scope_kind.to_owned(),
            scope_id,
            actor: actor.to_owned(),
            actor_id,
            role_id: text(&assignment["role"]["id"]),
        })
    }

    fn parse(name: &str) -> Option<Grant> {
        let parts: Vec<&str> = name.split(':').collect();
        let [scope, scope_id, actor, actor_id, role_id] = parts[..] else {
            return None;
        };
        let known = ["project", "domain", "system"].contains(&scope)
            && ["user", "group"].contains(&actor)
            && [scope_id, actor_id, role_id]
                .iter()
                .all(|id| !id.is_empty());
        known.then(|| Grant {
            scope: scope.to_owned(),
            scope_id: scope_id.to_owned(),
            actor: actor.to_owned(),
            actor_id: actor_id.to_owned(),
            role_id: role_id.to_owned(),
        })
    }

    /// The name in URLs and row ids.
    fn name(&self) -> String {
        [
            &self.scope,
            &self.scope_id,
            &self.actor,
            &self.actor_id,
            &self.role_id,
        ]
        .map(String::as_str)
        .join(":")
    }

    /// Keystone's path of this grant.
    fn api_path(&self) -> String {
        let target = match self.scope.as_str() {
            "system" => "system".to_owned(),
            scope => format!("{scope}s/{}", segment(&self.scope_id)),
        };
        format!(
            "{IDENTITY}/{target}/{}s/{}/roles/{}",
            self.actor,
            segment(&self.actor_id),
            segment(&self.role_id)
        )
    }
}

/// Who holds a role in an assignment (a user or a group), linked.
fn holder(assignment: &Value) -> Markup {
    let (panel, label, actor) = match assignment["user"].is_object() {
        true => (Panel::Users, "User", &assignment["user"]),
        false => (Panel::Groups, "Group", &assignment["group"]),
    };
    html! { (label) " " a href=(panel.page(&text(&actor["id"]))) { (text(&actor["name"])) } }
}

/// Where a role is held: a project (linked), a domain or the system.
fn scope(assignment: &Value) -> Markup {
    let scope = &assignment["scope"];
    html! {
        @if scope["project"].is_object() {
            "Project " a href=(Panel::Projects.page(&text(&scope["project"]["id"]))) { (text(&scope["project"]["name"])) }
        } @else if scope["domain"].is_object() {
            "Domain " (text(&scope["domain"]["name"]))
        } @else {
            "System"
        }
    }
}

/// The name of who holds the role, for sorting and the confirmation.
fn holder_name(assignment: &Value) -> String {
    text(&assignment["user"]["name"]) + &text(&assignment["group"]["name"])
}

/// The name of where the role is held, for sorting.
fn scope_name(assignment: &Value) -> String {
    let scope = &assignment["scope"];
    text(&scope["project"]["name"]) + &text(&scope["domain"]["name"])
}

/// The assignments of object `id` of `panel`, with the form to add one.
pub(super) async fn section(
    ctx: &Ctx,
    query: &ListQuery,
    panel: Panel,
    id: &str,
) -> Result<Markup, PageError> {
    let body = ctx
        .get(format!(
            "{IDENTITY}/role_assignments?{}={}&include_names=true",
            panel.filter(),
            segment(id)
        ))
        .await?;
    let assignments: Vec<Value> = body["role_assignments"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|assignment| Grant::of(assignment).is_some())
        .cloned()
        .collect();
    let page = panel.page(id);
    let grant_name = |a: &Value| Grant::of(a).map(|grant| grant.name()).unwrap_or_default();
    let table = Table::new(&page, "Role assignments", grant_name);
    let table = match panel {
        Panel::Projects => table.cell(
            "holder",
            "User or group",
            Some(Box::new(holder_name)),
            holder,
        ),
        Panel::Users | Panel::Groups => {
            table.cell("scope", "Scope", Some(Box::new(scope_name)), scope)
        }
    };
    let table = table
        .column("role", "Role", |a: &Value| text(&a["role"]["name"]))
        .cell("actions", "Actions", None, |a| {
            action_button(
                ctx,
                &format!("{page}/roles/{}/delete", segment(&grant_name(a))),
                "Remove",
                Some(&format!(
                    "Remove role {} from {}?",
                    text(&a["role"]["name"]),
                    holder_name(a)
                )),
            )
        });
    let roles = options(ctx, "roles").await?;
    let member = roles
        .iter()
        .find(|(_, name)| name == "member")
        .map(|(id, _)| id.as_str());
    let target = match panel {
        Panel::Projects => {
            let users = options(ctx, "users").await?;
            let groups = options(ctx, "groups").await?;
            field(
                "User or group",
                "grant-actor",
                html! {
                    select #grant-actor name="actor" required {
                        optgroup label="Users" {
                            @for (id, name) in &users { option value=(format!("user:{id}")) { (name) } }
                        }
                        optgroup label="Groups" {
                            @for (id, name) in &groups { option value=(format!("group:{id}")) { (name) } }
                        }
                    }
                },
            )
        }
        Panel::Users | Panel::Groups => field(
            "Project",
            "grant-project",
            select(
                "project_id",
                "grant-project",
                &options(ctx, "projects").await?,
                None,
            ),
        ),
    };
    Ok(html! {
        section aria-labelledby="assignments-title" {
            h2 #assignments-title { "Role assignments" }
            (table.render(ctx, query, assignments, "No roles are assigned here."))
            form.card method="post" action=(format!("{page}/roles")) {
                h3 { "Add a role assignment" }
                (ctx.csrf_field())
                (target)
                (field("Role", "grant-role", select("role_id", "grant-role", &roles, member)))
                button type="submit" { "Add role assignment" }
            }
        }
    })
}

#[derive(Deserialize)]
struct AddForm {
    /// `user:ID` or `group:ID`, on a project's page.
    actor: Option<String>,
    /// On a user's or group's page.
    project_id: Option<String>,
    role_id: String,
}

async fn add(
    ctx: Ctx,
    panel: Panel,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<AddForm>,
) -> PageResult {
    ctx.require_admin()?;
    let (actor, project_id) = match panel {
        Panel::Projects => (form.actor.unwrap_or_default(), id.clone()),
        Panel::Users => (format!("user:{id}"), form.project_id.unwrap_or_default()),
        Panel::Groups => (format!("group:{id}"), form.project_id.unwrap_or_default()),
    };
    let grant = Grant::parse(&format!("project:{project_id}:{actor}:{}", form.role_id))
        .ok_or_else(|| PageError::Invalid("Choose who gets which role.".into()))?;
    let report = Report {
        about: Some(&grant.name()),
        done: "Added the role assignment.",
        failed: "Could not add the role assignment",
        back: &panel.page(&id),
    };
    Ok(ctx.act(Method::PUT, grant.api_path(), None, report).await)
}

async fn remove(
    ctx: Ctx,
    panel: Panel,
    Path((id, grant)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<Vec<(String, String)>>,
) -> PageResult {
    ctx.require_admin()?;
    let grant = Grant::parse(&grant).ok_or(PageError::NotFound)?;
    let report = Report {
        about: None,
        done: "Removed the role assignment.",
        failed: "Could not remove the role assignment",
        back: &panel.page(&id),
    };
    Ok(ctx
        .act(Method::DELETE, grant.api_path(), None, report)
        .await)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_grant_names_itself_and_its_keystone_path() {
        let assignment = json!({
            "role": {"id": "r1", "name": "member"},
            "scope": {"project": {"id": "p1", "name": "kube"}},
            "group": {"id": "g1", "name": "ops"},
        });
        let grant = Grant::of(&assignment).expect("a project grant");
        assert_eq!(grant.name(), "project:p1:group:g1:r1");
        assert_eq!(
            grant.api_path(),
            "/identity/v3/projects/p1/groups/g1/roles/r1"
        );
        let system = json!({
            "role": {"id": "r2"}, "scope": {"system": {"all": true}}, "user": {"id": "u1"},
        });
        let system = Grant::parse(&Grant::of(&system).expect("a system grant").name());
        assert_eq!(
            system.map(|grant| grant.api_path()).as_deref(),
            Some("/identity/v3/system/users/u1/roles/r2")
        );
    }

    #[test]
    fn only_well_formed_grant_names_parse() {
        assert!(Grant::parse("project:p:user:u:r").is_some());
        for bad in [
            "project:p:user:u",
            "tenant:p:user:u:r",
            "project:p:robot:u:r",
            "project::user:u:r",
        ] {
            assert!(Grant::parse(bad).is_none(), "{bad}");
        }
    }
}
