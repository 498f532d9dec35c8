//! Remote consoles: `POST /servers/{id}/remote-consoles` (2.6+), the
//! older `os-get*Console` actions (2.1 to 2.5), and the serial proxy the
//! URLs they answer point to: `GET /serial-console?token=...`, a websocket
//! that relays the guest's serial port (binary frames out, binary or text
//! frames in), reached without `X-Auth-Token` since its token authorises it.

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use oxistack_auth::Caller;
use oxistack_http::microversion::Microversion;
use oxistack_http::{ApiError, JsonBody};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{Service, envelope, invalid, not_in_version};
use crate::service::consoles::{
    ConsoleConnect, ConsoleProtocol, ConsoleRequest, ConsoleSession, RemoteConsole,
};
use crate::versions::REMOTE_CONSOLES;

/// The protocols `remote_console.protocol` takes (Nova's schema; `mks`
/// from 2.8), and the types `remote_console.type` takes (`webmks` from
/// 2.8, `spice-direct` from 2.99).
const PROTOCOLS: &[(&str, ConsoleProtocol)] = &[
    ("vnc", ConsoleProtocol::Vnc),
    ("spice", ConsoleProtocol::Spice),
    ("serial", ConsoleProtocol::Serial),
    ("rdp", ConsoleProtocol::Rdp),
    ("mks", ConsoleProtocol::Mks),
];
const TYPES: &[&str] = &[
    "novnc",
    "xvpvnc",
    "spice-html5",
    "serial",
    "rdp-html5",
    "webmks",
    "spice-direct",
];

/// `POST /servers/{id}/remote-consoles`.
pub async fn create(
    State(service): Service,
    Caller(caller): Caller,
    version: Microversion,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    if !version.at_least(REMOTE_CONSOLES) {
        return Err(not_in_version(version));
    }
    let request = remote_console_request(body, version)?;
    let console = service
        .create_remote_console(&caller, &id, &request)
        .await?;
    Ok(envelope(
        "remote_console",
        json!({
            "protocol": console.protocol.as_str(),
            "type": console.console_type,
            "url": console.url,
        }),
    )
    .into_response())
}

/// Parses `{"remote_console": {"protocol": ..., "type": ...}}` as Nova's
/// schema of `version` does.
fn remote_console_request(body: Value, version: Microversion) -> Result<ConsoleRequest, ApiError> {
    let Value::Object(mut body) = body else {
        return Err(invalid("remote_console", "is required"));
    };
    if let Some(key) = body.keys().find(|k| *k != "remote_console") {
        return Err(invalid(key, "is not an attribute of this request"));
    }
    let console = match body.remove("remote_console") {
        Some(Value::Object(console)) => console,
        Some(other) => {
            return Err(invalid(
                "remote_console",
                format!("{other} is not an object"),
            ));
        }
        None => return Err(invalid("remote_console", "is required")),
    };
    only("remote_console", &console, &["protocol", "type"])?;
    let mks = version.at_least(crate::versions::MKS_CONSOLES);
    let protocols: Vec<&str> = PROTOCOLS
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| mks || *name != "mks")
        .collect();
    let types: Vec<&str> = TYPES
        .iter()
        .copied()
        .filter(|t| mks || *t != "webmks")
        .filter(|t| version.at_least(crate::versions::SPICE_DIRECT) || *t != "spice-direct")
        .collect();
    let protocol = one_of("remote_console", &console, "protocol", &protocols)?;
    let console_type = one_of("remote_console", &console, "type", &types)?;
    let protocol = PROTOCOLS
        .iter()
        .find(|(name, _)| *name == protocol)
        .map(|(_, protocol)| *protocol)
        .ok_or_else(|| invalid("remote_console.protocol", "is not a known protocol"))?;
    Ok(ConsoleRequest {
        protocol,
        console_type,
    })
}

/// The answer of an `os-get*Console` action.
fn render_action(console: RemoteConsole) -> Response {
    envelope(
        "console",
        json!({"type": console.console_type, "url": console.url}),
    )
    .into_response()
}

/// The `os-getSerialConsole`, `os-getVNCConsole` and `os-getSPICEConsole`
/// actions (2.1 to 2.5; `POST /remote-consoles` replaced them), whose
/// argument is `{"type": ...}`.
pub async fn action(
    service: &crate::ComputeService,
    caller: &std::sync::Arc<oxistack_auth::AuthContext>,
    version: Microversion,
    id: &str,
    name: &str,
    argument: Value,
) -> Result<Response, ApiError> {
    if version.at_least(REMOTE_CONSOLES) {
        return Err(not_in_version(version));
    }
    let (protocol, types): (ConsoleProtocol, &[&str]) = match name {
        "os-getSerialConsole" => (ConsoleProtocol::Serial, &["serial"]),
        "os-getVNCConsole" => (ConsoleProtocol::Vnc, &["novnc", "xvpvnc"]),
        _ => (ConsoleProtocol::Spice, &["spice-html5"]),
    };
    let members = match argument {
        Value::Object(members) => members,
        other => return Err(invalid(name, format!("{other} is not an object"))),
    };
    only(name, &members, &["type"])?;
    let console_type = one_of(name, &members, "type", types)?;
    let request = ConsoleRequest {
        protocol,
        console_type,
    };
    let console = service.create_remote_console(caller, id, &request).await?;
    Ok(render_action(console))
}

fn only(object: &str, members: &Map<String, Value>, known: &[&str]) -> Result<(), ApiError> {
    match members.keys().find(|k| !known.contains(&k.as_str())) {
        Some(key) => Err(invalid(
            &format!("{object}.{key}"),
            "is not an attribute of this request",
        )),
        None => Ok(()),
    }
}

/// A required string member that must be one of `allowed`.
fn one_of(
    object: &str,
    members: &Map<String, Value>,
    key: &str,
    allowed: &[&str],
) -> Result<String, ApiError> {
    let field = format!("{object}.{key}");
    match members.get(key) {
        None => Err(invalid(&field, "is required")),
        Some(Value::String(value)) if allowed.contains(&value.as_str()) => Ok(value.clone()),
        Some(other) => Err(invalid(
            &field,
            format!("{other} is not one of {allowed:?}"),
        )),
    }
}

#[derive(Deserialize)]
pub struct ProxyQuery {
    #[serde(default)]
    token: String,
}

/// `GET /serial-console?token=...`: the serial proxy. The token is checked
/// (and the console opened) before the upgrade, so a refused one is an
/// HTTP error in Nova's format; websockify clients asking for the
/// `binary` subprotocol get it.
pub async fn serial_proxy(
    State(service): Service,
    Query(query): Query<ProxyQuery>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let header = |name: header::HeaderName| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    let session = service
        .connect_serial_console(&ConsoleConnect {
            token: query.token,
            origin: header(header::ORIGIN),
            host: header(header::HOST),
        })
        .await?;
    Ok(upgrade
        .protocols(["binary"])
        .on_upgrade(move |socket| relay(socket, session)))
}

/// Relays bytes both ways until either side closes (or the cloud stops).
async fn relay(socket: WebSocket, session: ConsoleSession) {
    let ConsoleSession {
        server_id,
        stream,
        stop,
    } = session;
    tracing::info!(server = %server_id, "serial console connected");
    let (mut guest_out, mut guest_in) = tokio::io::split(stream);
    let (mut to_browser, mut from_browser) = socket.split();
    let to_guest = async {
        while let Some(Ok(message)) = from_browser.next().await {
            let bytes = match message {
                Message::Binary(bytes) => bytes,
                Message::Text(text) => text.as_bytes().to_vec().into(),
                Message::Close(_) => break,
                Message::Ping(_) | Message::Pong(_) => continue,
            };
            if guest_in.write_all(&bytes).await.is_err() || guest_in.flush().await.is_err() {
                break;
            }
        }
    };
    let to_client = async {
        let mut buffer = vec![0u8; 16 * 1024];
        loop {
            match guest_out.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(read) => {
                    let frame = Message::Binary(buffer[..read].to_vec().into());
                    if to_browser.send(frame).await.is_err() {
                        return;
                    }
                }
            }
        }
        let _ = to_browser.send(Message::Close(None)).await;
    };
    tokio::select! {
        () = to_guest => {}
        () = to_client => {}
        () = stop.cancelled() => {}
    }
    tracing::info!(server = %server_id, "serial console disconnected");
}
