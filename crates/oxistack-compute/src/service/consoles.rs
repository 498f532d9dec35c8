//! Remote consoles, as Nova's serial console: asking for a console issues
//! a token bound to the server, valid for [`CONSOLE_TOKEN_TTL`], inside the
//! URL of the serial proxy; the proxy (a websocket on the cloud's own
//! listener, which that token alone authorises) connects the client to
//! the guest's serial port through the driver.
//!
//! Tokens are 32 random bytes of which only the SHA-256 is kept, in
//! memory: a restart invalidates them (and closes their consoles anyway).
//! As Nova's, a token may be used again until it expires; a console open
//! when it expires stays open.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use oxistack_auth::{Action, AuthContext};
use oxistack_tasks::CancellationToken;
use oxistack_virt::{DriverError, SerialConsole};
use rand::RngCore;
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use super::ComputeService;
use super::error::{ComputeError, authorize};
use crate::model::{Server, TaskState, VmState};
use crate::store;

/// How long a console token is valid: Nova's `[consoleauth] token_ttl`.
pub const CONSOLE_TOKEN_TTL: Duration = Duration::from_secs(600);

/// Where the router serves the serial proxy, below the compute mount.
pub const SERIAL_PROXY_PATH: &str = "/serial-console";

/// The compute endpoint's public URL until the binary tells the service
/// its own (the cloud's default listener).
const DEFAULT_PUBLIC_URL: &str = "http://127.0.0.1:8080/compute";

/// Nova's refusal of a console token it does not know or that expired.
const INVALID_TOKEN: &str = "The token '***' is invalid or has expired";

/// The kinds of remote console Nova's API names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsoleProtocol {
    Vnc,
    Spice,
    Serial,
    Rdp,
    Mks,
}

impl ConsoleProtocol {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsoleProtocol::Vnc => "vnc",
            ConsoleProtocol::Spice => "spice",
            ConsoleProtocol::Serial => "serial",
            ConsoleProtocol::Rdp => "rdp",
            ConsoleProtocol::Mks => "mks",
        }
    }
}

/// A request for a remote console: `protocol` and Nova's `type`
/// (`serial` for a serial console).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleRequest {
    pub protocol: ConsoleProtocol,
    pub console_type: String,
}

/// A console granted: where to connect, and until when the URL is good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteConsole {
    pub protocol: ConsoleProtocol,
    pub console_type: String,
    /// `ws://HOST:PORT/compute/serial-console?token=TOKEN`.
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

/// A serial console the proxy may relay: the guest's stream, and a token
/// cancelled when the cloud shuts down, which ends the relay.
pub struct ConsoleSession {
    pub server_id: String,
    pub stream: SerialConsole,
    pub stop: CancellationToken,
}

/// What a websocket to the proxy came with, for its checks.
#[derive(Debug, Clone, Default)]
pub struct ConsoleConnect {
    /// The `token` query parameter.
    pub token: String,
    /// The `Origin` header a browser sends (absent from other clients).
    pub origin: Option<String>,
    /// The `Host` header the request was made to.
    pub host: Option<String>,
}

struct Grant {
    server_id: String,
    expires: Instant,
}

/// The console tokens issued, by the SHA-256 of the token.
#[derive(Default)]
pub(crate) struct ConsoleTokens {
    grants: Mutex<HashMap<[u8; 32], Grant>>,
    /// The compute endpoint's public URL, e.g. `http://host:8080/compute`.
    public_url: std::sync::OnceLock<String>,
}

impl ConsoleTokens {
    fn grants(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Grant>> {
        self.grants.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new token for `server_id`, valid for [`CONSOLE_TOKEN_TTL`];
    /// expired ones are forgotten on the way.
    fn issue(&self, server_id: &str) -> String {
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        let token = URL_SAFE_NO_PAD.encode(bytes);
        let now = Instant::now();
        let mut grants = self.grants();
        grants.retain(|_, grant| grant.expires > now);
        grants.insert(
            digest(&token),
            Grant {
                server_id: server_id.to_owned(),
                expires: now + CONSOLE_TOKEN_TTL,
            },
        );
        token
    }

    /// The server a valid token was issued for.
    fn server_of(&self, token: &str) -> Option<String> {
        let grants = self.grants();
        grants
            .get(&digest(token))
            .filter(|grant| grant.expires > Instant::now())
            .map(|grant| grant.server_id.clone())
    }

    /// The proxy's URL for `token`: the compute endpoint's public URL with
    /// `ws` for `http` (`wss` for `https`).
    fn url(&self, token: &str) -> String {
        let public = self
            .public_url
            .get()
            .map_or(DEFAULT_PUBLIC_URL, String::as_str)
            .trim_end_matches('/');
        let base = match public.split_once("://") {
            Some(("https", rest)) => format!("wss://{rest}"),
            Some((_, rest)) => format!("ws://{rest}"),
            None => format!("ws://{public}"),
        };
        format!("{base}{SERIAL_PROXY_PATH}?token={token}")
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn not_ready(id: &str) -> ComputeError {
    ComputeError::conflict(format!("Instance {id} is not ready"))
}

fn unavailable(console_type: &str) -> ComputeError {
    ComputeError::invalid(format!("Unavailable console type {console_type}."))
}

/// Whether a server's guest may be connected to: active and not going away.
fn ready(server: &Server) -> bool {
    server.vm_state == VmState::Active && server.task_state != Some(TaskState::Deleting)
}

/// The host name of a `Host` header (`host:port`, `[v6]:port`) or of an
/// `Origin` URL (`scheme://host:port`), lower-cased.
fn host_name(text: &str) -> Option<String> {
    let authority = text.split_once("://").map_or(text, |(_, rest)| rest);
    let authority = authority.split('/').next()?;
    let name = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next()?,
        None => authority
            .rsplit_once(':')
            .map_or(authority, |(name, _)| name),
    };
    (!name.is_empty()).then(|| name.to_ascii_lowercase())
}

impl ComputeService {
    /// Tells the service the public URL of its endpoint (the cloud's
    /// public URL and the compute mount, `http://host:8080/compute`), for
    /// the console URLs it hands out. Only the first call counts.
    pub fn set_public_url(&self, compute_url: &str) {
        let _ = self.consoles.public_url.set(compute_url.to_owned());
    }

    /// A URL to a server's remote console (Nova's `POST
    /// /servers/{id}/remote-consoles` and the older `os-get*Console`
    /// actions). Only serial consoles exist here; the others are
    /// unavailable, as in a Nova whose VNC, SPICE and MKS proxies are off.
    pub async fn create_remote_console(
        &self,
        caller: &Arc<AuthContext>,
        id: &str,
        request: &ConsoleRequest,
    ) -> Result<RemoteConsole, ComputeError> {
        let server = self.visible_server(caller, id).await?;
        authorize(caller, Action::ConnectServerConsole)?;
        if request.protocol == ConsoleProtocol::Rdp {
            return Err(unavailable("rdp"));
        }
        // A server still being scheduled has no host to connect to.
        if server.vm_state == VmState::Building {
            return Err(not_ready(&server.id));
        }
        if request.protocol != ConsoleProtocol::Serial {
            return Err(unavailable(&request.console_type));
        }
        if request.console_type != "serial" {
            return Err(ComputeError::invalid(format!(
                "Invalid console type {}",
                request.console_type
            )));
        }
        if !ready(&server) {
            return Err(not_ready(&server.id));
        }
        let token = self.consoles.issue(&server.id);
        let expires_at = Utc::now()
            + chrono::Duration::from_std(CONSOLE_TOKEN_TTL).unwrap_or(chrono::Duration::zero());
        Ok(RemoteConsole {
            protocol: request.protocol,
            console_type: request.console_type.clone(),
            url: self.consoles.url(&token),
            expires_at,
        })
    }

    /// Opens the serial console a token grants (the serial proxy, before
    /// it upgrades to a websocket). The token alone authorises it; a
    /// browser's `Origin` must name the host the request was made to, so
    /// no other site can open a console with its visitor's URL.
    pub async fn connect_serial_console(
        &self,
        connect: &ConsoleConnect,
    ) -> Result<ConsoleSession, ComputeError> {
        let Some(server_id) = self.consoles.server_of(&connect.token) else {
            return Err(ComputeError::Unauthorized(INVALID_TOKEN.into()));
        };
        if let Some(origin) = &connect.origin {
            let Some(origin_host) = host_name(origin) else {
                return Err(ComputeError::forbidden("Origin header not valid."));
            };
            if connect.host.as_deref().and_then(host_name) != Some(origin_host) {
                return Err(ComputeError::forbidden(
                    "Origin header does not match this host.",
                ));
            }
        }
        let id = server_id.clone();
        let server = self
            .read(move |conn| store::servers::find(conn, &id))
            .await?;
        // A deleted server's tokens die with it.
        let Some(server) = server else {
            return Err(ComputeError::Unauthorized(INVALID_TOKEN.into()));
        };
        if !ready(&server) {
            return Err(not_ready(&server_id));
        }
        let stream = match self.driver.serial_console(&server_id).await {
            Ok(stream) => stream,
            Err(DriverError::NotFound(_) | DriverError::NotRunning(_)) => {
                return Err(not_ready(&server_id));
            }
            Err(DriverError::ConsoleUnavailable { reason, .. }) => {
                tracing::info!(server = %server_id, %reason, "no serial console");
                return Err(unavailable("serial"));
            }
            Err(error) => {
                return Err(ComputeError::internal(
                    format!("connecting to the serial console of {server_id}"),
                    error,
                ));
            }
        };
        Ok(ConsoleSession {
            server_id,
            stream,
            stop: self.tasks.stop_token(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_of_hosts_and_origins() {
        assert_eq!(host_name("cloud:8080").as_deref(), Some("cloud"));
        assert_eq!(host_name("Cloud").as_deref(), Some("cloud"));
        assert_eq!(host_name("http://cloud:8080").as_deref(), Some("cloud"));
        assert_eq!(host_name("https://cloud/x").as_deref(), Some("cloud"));
        assert_eq!(host_name("[fd00::1]:8080").as_deref(), Some("fd00::1"));
        assert_eq!(host_name("http://[fd00::1]").as_deref(), Some("fd00::1"));
        assert_eq!(host_name("null"), Some("null".into()));
        assert_eq!(host_name("http://"), None);
    }

    #[test]
    fn urls_follow_the_public_url() {
        let tokens = ConsoleTokens::default();
        assert_eq!(
            tokens.url("t"),
            "ws://127.0.0.1:8080/compute/serial-console?token=t"
        );
        tokens
            .public_url
            .set("https://cloud.example:8443/compute/".into())
            .unwrap();
        assert_eq!(
            tokens.url("t"),
            "wss://cloud.example:8443/compute/serial-console?token=t"
        );
    }

    #[test]
    fn tokens_name_their_server_until_they_expire() {
        let tokens = ConsoleTokens::default();
        let token = tokens.issue("server-1");
        assert_eq!(token.len(), 43);
        assert_eq!(tokens.server_of(&token).as_deref(), Some("server-1"));
        assert_eq!(tokens.server_of("forged"), None);
        tokens.grants().values_mut().for_each(|grant| {
            grant.expires = Instant::now() - Duration::from_secs(1);
        });
        assert_eq!(tokens.server_of(&token), None);
        tokens.issue("server-2");
        assert_eq!(tokens.grants().len(), 1, "expired tokens are forgotten");
    }
}
