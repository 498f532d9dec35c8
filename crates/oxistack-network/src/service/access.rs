//! Who may see and change what: visibility as database scopes, ownership
//! checks, and the project a new resource belongs to.

use oxistack_auth::{Action, AuthContext};

use crate::errors::{NetworkError, authorize, bad_request, invalid_input, missing};
use crate::kind::Kind;
use crate::store::Scope;

/// What the caller may see: everything for the administrator, else what
/// its project may.
pub fn scope(caller: &AuthContext) -> Scope<'_> {
    if caller.is_admin() {
        Scope::All
    } else {
        Scope::Project(caller.project_id().unwrap_or_default())
    }
}

/// The one resource a lookup by id found, or the kind's 404.
pub fn found<T>(mut found: Vec<T>, kind: Kind, id: &str) -> Result<T, NetworkError> {
    found.pop().ok_or_else(|| kind.not_found(id))
}

/// Changing a resource another project owns (which the caller can see only
/// if it is shared or external) takes the administrator.
pub fn require_owner(caller: &AuthContext, owner: &str) -> Result<(), NetworkError> {
    if caller.project_id() == Some(owner) {
        Ok(())
    } else {
        authorize(caller, Action::ActOnOtherProjectsNetworking)
    }
}

/// The project a new resource belongs to: the caller's, or the one named
/// by `project_id` (or its old name `tenant_id`), which only the
/// administrator may set to another project.
pub fn owner(
    caller: &AuthContext,
    project_id: Option<String>,
    tenant_id: Option<String>,
) -> Result<String, NetworkError> {
    let requested = match (project_id, tenant_id) {
        (Some(project), Some(tenant)) if project != tenant => {
            return Err(invalid_input(
                "project_id",
                "project_id and tenant_id are the same attribute and must not differ",
            ));
        }
        (project, tenant) => project.or(tenant),
    };
    match requested {
        Some(project) if project.is_empty() => Err(invalid_input("project_id", "it must not be empty")),
        Some(project) if caller.project_id() == Some(project.as_str()) => Ok(project),
        Some(project) => {
            authorize(caller, Action::ActOnOtherProjectsNetworking)?;
            Ok(project)
        }
        None => caller.project_id().map(str::to_owned).ok_or_else(|| {
            invalid_input(
                "project_id",
                "a project-scoped token, or project_id in the request, is needed to create a resource",
            )
        }),
    }
}

/// A name or description: at most `max` characters.
pub fn text(field: &str, value: Option<String>, max: usize) -> Result<String, NetworkError> {
    let value = value.unwrap_or_default();
    if value.chars().count() > max {
        return Err(invalid_input(
            field,
            format!("it is longer than {max} characters"),
        ));
    }
    Ok(value)
}

/// Names are at most 255 characters, descriptions 255 too (Neutron's
/// limits for standard attributes).
pub const NAME_MAX: usize = 255;
pub const DESCRIPTION_MAX: usize = 255;

/// A resource's name: at most [`NAME_MAX`] characters, none of them a
/// control character (Neutron's names are printable text).
pub fn name(value: Option<String>) -> Result<String, NetworkError> {
    let name = text("name", value, NAME_MAX)?;
    oxistack_http::text::refuse_control_characters("name", &name)
        .map_err(|refused| bad_request("InvalidInput", refused.message))?;
    Ok(name)
}

/// Renames a resource if the request has a name.
pub fn update_name(target: &mut String, value: Option<String>) -> Result<(), NetworkError> {
    if value.is_some() {
        *target = name(value)?;
    }
    Ok(())
}

/// Sets `target` to a new name or description if the request has one.
pub fn update_text(
    target: &mut String,
    field: &str,
    value: Option<String>,
    max: usize,
) -> Result<(), NetworkError> {
    if value.is_some() {
        *target = text(field, value, max)?;
    }
    Ok(())
}

/// Availability zone hints name zones that exist: the one zone, `nova`.
pub fn availability_zone_hints(hints: Option<Vec<String>>) -> Result<Vec<String>, NetworkError> {
    let hints = hints.unwrap_or_default();
    if let Some(unknown) = hints
        .iter()
        .find(|zone| zone.as_str() != crate::wire::AVAILABILITY_ZONE)
    {
        return Err(missing(
            "AvailabilityZoneNotFound",
            format!("AvailabilityZone {unknown} could not be found."),
        ));
    }
    Ok(hints)
}
