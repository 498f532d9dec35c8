//! `POST /servers/{id}/action`: one action per request, named by the
//! body's only member.

use std::net::IpAddr;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use oxistack_auth::Caller;
use oxistack_http::microversion::Microversion;
use oxistack_http::{ApiError, JsonBody};
use oxistack_virt::RebootKind;
use serde_json::{Map, Value, json};

use super::{Service, invalid, not_in_version};
use crate::service::{NetworkAction, PowerAction};
use crate::versions::{LOCKED_REASON, NETWORK_ACTIONS_REMOVED};

/// Nova's server actions this cloud does not offer (no images from
/// servers, migration or RDP consoles): a 501, as Nova answers
/// what its driver cannot do, rather than "no such action".
const UNSUPPORTED: &[&str] = &[
    "suspend",
    "resume",
    "rescue",
    "unrescue",
    "shelve",
    "shelveOffload",
    "unshelve",
    "resize",
    "confirmResize",
    "revertResize",
    "rebuild",
    "createImage",
    "createBackup",
    "migrate",
    "os-migrateLive",
    "evacuate",
    "changePassword",
    "os-resetState",
    "forceDelete",
    "restore",
    "trigger_crash_dump",
    "os-getRDPConsole",
    "addFixedIp",
    "removeFixedIp",
];

/// The members of an action's argument object (`null` counts as none).
fn members(action: &str, argument: Value) -> Result<Map<String, Value>, ApiError> {
    match argument {
        Value::Null => Ok(Map::new()),
        Value::Object(members) => Ok(members),
        other => Err(invalid(action, format!("{other} is not an object"))),
    }
}

/// A string member of an action's argument.
fn text(action: &str, members: &Map<String, Value>, key: &str) -> Result<Option<String>, ApiError> {
    match members.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(invalid(
            &format!("{action}.{key}"),
            format!("{other} is not a string"),
        )),
    }
}

/// Refuses members an action does not have.
fn only(action: &str, members: &Map<String, Value>, known: &[&str]) -> Result<(), ApiError> {
    match members.keys().find(|k| !known.contains(&k.as_str())) {
        Some(key) => Err(invalid(
            &format!("{action}.{key}"),
            "is not an attribute of this action",
        )),
        None => Ok(()),
    }
}

fn address(
    action: &str,
    members: &Map<String, Value>,
    key: &str,
) -> Result<Option<IpAddr>, ApiError> {
    text(action, members, key)?
        .map(|a| {
            a.parse().map_err(|_| {
                invalid(
                    &format!("{action}.{key}"),
                    format!("'{a}' is not an IP address"),
                )
            })
        })
        .transpose()
}

pub async fn perform(
    State(service): Service,
    Caller(caller): Caller,
    version: Microversion,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let Value::Object(body) = body else {
        return Err(ApiError::bad_request(
            "The action body must be a JSON object naming one action.",
        ));
    };
    if body.len() != 1 {
        return Err(ApiError::bad_request(
            "The action body must name exactly one action.",
        ));
    }
    let Some((action, argument)) = body.into_iter().next() else {
        return Err(ApiError::bad_request("The action body names no action."));
    };
    let name = action.as_str();
    let power = |action: PowerAction| {
        let (service, caller, id) = (service.clone(), caller.clone(), id.clone());
        async move {
            service.power_server(&caller, &id, action).await?;
            Ok::<_, ApiError>(StatusCode::ACCEPTED.into_response())
        }
    };
    match name {
        "os-start" | "os-stop" | "pause" | "unpause" => {
            only(name, &members(name, argument)?, &[])?;
            power(match name {
                "os-start" => PowerAction::Start,
                "os-stop" => PowerAction::Stop,
                "pause" => PowerAction::Pause,
                _ => PowerAction::Unpause,
            })
            .await
        }
        "reboot" => {
            let members = members(name, argument)?;
            only(name, &members, &["type"])?;
            let kind = match text(name, &members, "type")?
                .map(|t| t.to_ascii_uppercase())
                .as_deref()
            {
                Some("SOFT") => RebootKind::Soft,
                Some("HARD") => RebootKind::Hard,
                Some(other) => {
                    return Err(invalid(
                        "reboot.type",
                        format!("'{other}' is not SOFT or HARD"),
                    ));
                }
                None => return Err(invalid("reboot.type", "is required (SOFT or HARD)")),
            };
            power(PowerAction::Reboot(kind)).await
        }
        "lock" => {
            let members = members(name, argument)?;
            let known: &[&str] = if version.at_least(LOCKED_REASON) {
                &["locked_reason"]
            } else {
                &[]
            };
            only(name, &members, known)?;
            let reason = text(name, &members, "locked_reason")?;
            if reason.as_ref().is_some_and(|r| r.chars().count() > 255) {
                return Err(invalid(
                    "lock.locked_reason",
                    "is longer than 255 characters",
                ));
            }
            service.lock_server(&caller, &id, reason).await?;
            Ok(StatusCode::ACCEPTED.into_response())
        }
        "unlock" => {
            only(name, &members(name, argument)?, &[])?;
            service.unlock_server(&caller, &id).await?;
            Ok(StatusCode::ACCEPTED.into_response())
        }
        "os-getConsoleOutput" => {
            let members = members(name, argument)?;
            only(name, &members, &["length"])?;
            // Nova takes an integer or a string of digits; -1 is all.
            let length = match members.get("length") {
                None | Some(Value::Null) => Some(-1),
                Some(Value::Number(n)) => n.as_i64(),
                Some(Value::String(s)) => s.parse::<i64>().ok(),
                Some(_) => None,
            };
            let lines = match length {
                Some(-1) => None,
                Some(n) if n >= 0 => Some(n as usize),
                _ => {
                    return Err(invalid(
                        "os-getConsoleOutput.length",
                        "must be an integer of at least -1",
                    ));
                }
            };
            let output = service.console_output(&caller, &id, lines).await?;
            Ok(Json(json!({"output": output})).into_response())
        }
        "os-getSerialConsole" | "os-getVNCConsole" | "os-getSPICEConsole" => {
            super::consoles::action(&service, &caller, version, &id, name, argument).await
        }
        "addSecurityGroup" | "removeSecurityGroup" => {
            let members = members(name, argument)?;
            only(name, &members, &["name"])?;
            let group = text(name, &members, "name")?
                .filter(|g| !g.trim().is_empty())
                .ok_or_else(|| invalid(&format!("{name}.name"), "is required"))?;
            let action = if name == "addSecurityGroup" {
                NetworkAction::AddSecurityGroup(group)
            } else {
                NetworkAction::RemoveSecurityGroup(group)
            };
            service.server_network_action(&caller, &id, action).await?;
            Ok(StatusCode::ACCEPTED.into_response())
        }
        "addFloatingIp" | "removeFloatingIp" => {
            if version.at_least(NETWORK_ACTIONS_REMOVED) {
                return Err(not_in_version(version));
            }
            let members = members(name, argument)?;
            let adding = name == "addFloatingIp";
            only(
                name,
                &members,
                if adding {
                    &["address", "fixed_address"]
                } else {
                    &["address"]
                },
            )?;
            let floating = address(name, &members, "address")?
                .ok_or_else(|| invalid(&format!("{name}.address"), "is required"))?;
            let action = if adding {
                NetworkAction::AddFloatingIp {
                    address: floating,
                    fixed_address: address(name, &members, "fixed_address")?,
                }
            } else {
                NetworkAction::RemoveFloatingIp(floating)
            };
            service.server_network_action(&caller, &id, action).await?;
            Ok(StatusCode::ACCEPTED.into_response())
        }
        _ if UNSUPPORTED.contains(&name) => {
            // A server the caller cannot act on is a 404 (or 403) first,
            // as Nova looks it up before it finds it cannot do the action.
            service.actionable_server(&caller, &id).await?;
            Err(ApiError::new(
                StatusCode::NOT_IMPLEMENTED,
                format!("The '{name}' action is not supported by this cloud."),
            ))
        }
        _ => Err(ApiError::bad_request(format!(
            "There is no such action: {name}"
        ))),
    }
}
