//! A small QMP client: QEMU's JSON control protocol over an instance's
//! unix socket. One connection per operation; every exchange is bounded by
//! a timeout so a wedged QEMU cannot hang the compute service.

use std::collections::VecDeque;
use std::io;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::time::{Instant, timeout_at};

#[derive(Debug, thiserror::Error)]
pub enum QmpError {
    #[error("cannot connect to QEMU's control socket: {0}")]
    Connect(#[source] io::Error),
    #[error("talking to QEMU's control socket failed: {0}")]
    Io(#[source] io::Error),
    #[error("QEMU did not answer {what} within {timeout:?}")]
    Timeout { what: String, timeout: Duration },
    #[error("QEMU closed its control socket")]
    Closed,
    #[error("QEMU sent something that is not QMP: {0}")]
    Protocol(String),
    #[error("QEMU refused {command}: {description}")]
    Refused {
        command: String,
        /// QMP's error class, e.g. `DeviceNotFound` or `GenericError`.
        class: String,
        description: String,
    },
}

impl QmpError {
    /// Whether QEMU answered that the object named in the command does not
    /// exist, which removals treat as already done.
    pub fn is_not_found(&self) -> bool {
        match self {
            QmpError::Refused {
                class, description, ..
            } => {
                class == "DeviceNotFound"
                    || description.contains("not found")
                    // blockdev-del of a node that does not exist
                    || description.starts_with("Failed to find node")
            }
            _ => false,
        }
    }
}

/// A QMP session past capability negotiation.
pub struct QmpClient {
    lines: Lines<BufReader<OwnedReadHalf>>,
    writer: OwnedWriteHalf,
    timeout: Duration,
    next_id: u64,
    /// Events that arrived while waiting for replies, for `wait_event`.
    events: VecDeque<Value>,
}

impl QmpClient {
    /// Connects, reads the greeting and leaves negotiation mode; each step
    /// and every later exchange must finish within `timeout`.
    pub async fn connect(socket: &Path, timeout: Duration) -> Result<QmpClient, QmpError> {
        let deadline = Instant::now() + timeout;
        let stream = timeout_at(deadline, UnixStream::connect(socket))
            .await
            .map_err(|_| QmpError::Timeout {
                what: "the connection".into(),
                timeout,
            })?
            .map_err(QmpError::Connect)?;
        let (reader, writer) = stream.into_split();
        let mut client = QmpClient {
            lines: BufReader::new(reader).lines(),
            writer,
            timeout,
            next_id: 0,
            events: VecDeque::new(),
        };
        let greeting = client.read_message("the greeting", deadline).await?;
        if greeting.get("QMP").is_none() {
            return Err(QmpError::Protocol(format!(
                "expected a greeting, got {greeting}"
            )));
        }
        client.execute("qmp_capabilities", None).await?;
        Ok(client)
    }

    /// Runs `command` and returns its `return` value. Events that arrive
    /// meanwhile are kept for [`QmpClient::wait_event`].
    pub async fn execute(
        &mut self,
        command: &str,
        arguments: Option<Value>,
    ) -> Result<Value, QmpError> {
        self.next_id += 1;
        let id = self.next_id;
        let mut request = json!({ "execute": command, "id": id });
        if let Some(arguments) = arguments {
            request["arguments"] = arguments;
        }
        let mut line = request.to_string().into_bytes();
        line.push(b'\n');
        let deadline = Instant::now() + self.timeout;
        timeout_at(deadline, self.writer.write_all(&line))
            .await
            .map_err(|_| self.timeout_error(command))?
            .map_err(QmpError::Io)?;
        loop {
            let message = self.read_message(command, deadline).await?;
            if message.get("event").is_some() {
                self.events.push_back(message);
                continue;
            }
            // A reply to an earlier, timed-out request of this session.
            if message.get("id") != Some(&json!(id)) {
                continue;
            }
            if let Some(value) = message.get("return") {
                return Ok(value.clone());
            }
            if let Some(error) = message.get("error") {
                let field = |name: &str| {
                    error
                        .get(name)
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned()
                };
                return Err(QmpError::Refused {
                    command: command.to_owned(),
                    class: field("class"),
                    description: field("desc"),
                });
            }
            return Err(QmpError::Protocol(format!(
                "reply without return or error: {message}"
            )));
        }
    }

    /// The guest's run state (`running`, `paused`, `inmigrate`, ...) as
    /// `query-status` reports it.
    pub async fn query_status(&mut self) -> Result<String, QmpError> {
        let reply = self.execute("query-status", None).await?;
        reply
            .get("status")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| QmpError::Protocol(format!("query-status without a status: {reply}")))
    }

    /// Waits up to `timeout` for an event that `matches`, including one
    /// that arrived during an earlier command.
    pub async fn wait_event(
        &mut self,
        matches: impl Fn(&Value) -> bool,
        timeout: Duration,
    ) -> Result<Value, QmpError> {
        if let Some(position) = self.events.iter().position(&matches) {
            return Ok(self.events.remove(position).unwrap_or_default());
        }
        let deadline = Instant::now() + timeout;
        loop {
            let message = self
                .read_message("with the awaited event", deadline)
                .await?;
            if message.get("event").is_some() && matches(&message) {
                return Ok(message);
            }
        }
    }

    async fn read_message(&mut self, what: &str, deadline: Instant) -> Result<Value, QmpError> {
        let line = timeout_at(deadline, self.lines.next_line())
            .await
            .map_err(|_| self.timeout_error(what))?
            .map_err(QmpError::Io)?
            .ok_or(QmpError::Closed)?;
        serde_json::from_str(&line).map_err(|e| QmpError::Protocol(format!("{e}: {line}")))
    }

    fn timeout_error(&self, what: &str) -> QmpError {
        QmpError::Timeout {
            what: what.to_owned(),
            timeout: self.timeout,
        }
    }
}

/// Whether `event` is QEMU's `DEVICE_DELETED` for device `id`.
pub fn is_device_deleted(event: &Value, id: &str) -> bool {
    event.get("event").and_then(Value::as_str) == Some("DEVICE_DELETED")
        && event.pointer("/data/device").and_then(Value::as_str) == Some(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::UnixListener;

    /// A QMP server that greets, then answers each request with the next
    /// scripted lines (in which `ID` stands for the request's id).
    async fn fake_server(socket: std::path::PathBuf, script: Vec<Vec<&'static str>>) -> Vec<Value> {
        let listener = UnixListener::bind(&socket).unwrap();
        let (stream, _) = listener.accept().await.unwrap();
        let (reader, mut writer) = stream.into_split();
        let mut lines = BufReader::new(reader).lines();
        writer
            .write_all(b"{\"QMP\": {\"version\": {\"qemu\": {\"major\": 7, \"minor\": 2, \"micro\": 0}}, \"capabilities\": []}}\r\n")
            .await
            .unwrap();
        let mut requests = Vec::new();
        for replies in script {
            let Some(line) = lines.next_line().await.unwrap() else {
                break;
            };
            let request: Value = serde_json::from_str(&line).unwrap();
            for reply in replies {
                let reply = reply.replace("ID", &request["id"].to_string());
                writer.write_all(reply.as_bytes()).await.unwrap();
                writer.write_all(b"\r\n").await.unwrap();
            }
            requests.push(request);
        }
        requests
    }

    #[tokio::test]
    async fn negotiates_runs_commands_and_keeps_events() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("qmp.sock");
        let server = tokio::spawn(fake_server(
            socket.clone(),
            vec![
                vec![r#"{"return": {}, "id": ID}"#],
                vec![
                    r#"{"event": "RESUME", "data": {}, "timestamp": {"seconds": 1, "microseconds": 2}}"#,
                    r#"{"return": {"status": "running", "running": true}, "id": ID}"#,
                ],
                vec![
                    r#"{"event": "DEVICE_DELETED", "data": {"device": "nic-1"}}"#,
                    r#"{"error": {"class": "DeviceNotFound", "desc": "Device 'nic-2' not found"}, "id": ID}"#,
                ],
            ],
        ));
        // The listener must exist before the client connects.
        while !socket.exists() {
            tokio::task::yield_now().await;
        }
        let mut client = QmpClient::connect(&socket, Duration::from_secs(2))
            .await
            .unwrap();
        let status = client.execute("query-status", None).await.unwrap();
        assert_eq!(status["status"], "running");
        let error = client
            .execute("device_del", Some(json!({ "id": "nic-2" })))
            .await
            .unwrap_err();
        assert!(error.is_not_found(), "{error}");
        assert!(error.to_string().contains("Device 'nic-2' not found"));
        let event = client
            .wait_event(
                |e| is_device_deleted(e, "nic-1"),
                Duration::from_millis(100),
            )
            .await
            .unwrap();
        assert_eq!(event["data"]["device"], "nic-1");

        let requests = server.await.unwrap();
        assert_eq!(requests[0]["execute"], "qmp_capabilities");
        assert_eq!(requests[1]["execute"], "query-status");
        assert_eq!(requests[2]["arguments"]["id"], "nic-2");
    }

    #[tokio::test]
    async fn a_silent_server_times_out_and_a_closed_one_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("qmp.sock");
        let listener = UnixListener::bind(&socket).unwrap();
        let silent = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(2)).await;
            drop(stream);
        });
        let error = QmpClient::connect(&socket, Duration::from_millis(100))
            .await
            .err()
            .unwrap();
        assert!(matches!(error, QmpError::Timeout { .. }), "{error}");
        silent.abort();

        let closing = dir.path().join("closing.sock");
        let listener = UnixListener::bind(&closing).unwrap();
        tokio::spawn(async move { drop(listener.accept().await) });
        let error = QmpClient::connect(&closing, Duration::from_secs(1))
            .await
            .err()
            .unwrap();
        assert!(matches!(error, QmpError::Closed), "{error}");
    }

    #[tokio::test]
    async fn a_missing_socket_fails_to_connect() {
        let dir = tempfile::tempdir().unwrap();
        let error = QmpClient::connect(&dir.path().join("none"), Duration::from_secs(1))
            .await
            .err()
            .unwrap();
        assert!(matches!(error, QmpError::Connect(_)), "{error}");
    }
}
