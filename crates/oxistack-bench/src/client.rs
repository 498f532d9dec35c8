//! A minimal HTTP/1.1 client and the latency bookkeeping every suite shares.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::json;

pub struct Connection {
    sender: SendRequest<Full<Bytes>>,
    authority: String,
}

impl Connection {
    pub async fn open(url: &str) -> anyhow::Result<Connection> {
        let authority = url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let stream = tokio::net::TcpStream::connect(&authority)
            .await
            .with_context(|| format!("cannot connect to {authority}"))?;
        stream.set_nodelay(true)?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        Ok(Connection { sender, authority })
    }

    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<serde_json::Value>,
    ) -> anyhow::Result<(StatusCode, hyper::HeaderMap, Bytes)> {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("host", &self.authority);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let body = match body {
            Some(json) => {
                request = request.header("content-type", "application/json");
                Full::new(Bytes::from(json.to_string()))
            }
            None => Full::new(Bytes::new()),
        };
        self.sender.ready().await?;
        let response = self.sender.send_request(request.body(body)?).await?;
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await?.to_bytes();
        Ok((parts.status, parts.headers, bytes))
    }
}

pub fn auth_body(user: &str, password: &str, project: &str) -> serde_json::Value {
    json!({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {"name": user, "domain": {"id": "default"}, "password": password}}},
        "scope": {"project": {"name": project, "domain": {"id": "default"}}}
    }})
}

pub async fn issue_token(connection: &mut Connection, password: &str) -> anyhow::Result<String> {
    let (status, headers, body) = connection
        .send(
            Method::POST,
            "/identity/v3/auth/tokens?nocatalog",
            &[],
            Some(auth_body("admin", password, "admin")),
        )
        .await?;
    if status != StatusCode::CREATED {
        bail!(
            "token issue failed: {status} {}",
            String::from_utf8_lossy(&body)
        );
    }
    Ok(headers
        .get("x-subject-token")
        .context("no X-Subject-Token")?
        .to_str()?
        .to_owned())
}

/// Latency figures of one measurement.
pub struct Sample {
    pub label: String,
    pub connections: usize,
    pub requests: usize,
    pub elapsed: Duration,
    pub latencies: Vec<Duration>,
}

impl Sample {
    fn percentile(&self, p: f64) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        sorted.get(index).copied().unwrap_or_default()
    }

    pub fn row(&self) -> String {
        format!(
            "| {:<44} | {:>5} | {:>8} | {:>9.0} | {:>8.2} | {:>8.2} |",
            self.label,
            self.connections,
            self.requests,
            self.requests as f64 / self.elapsed.as_secs_f64(),
            self.percentile(0.50).as_secs_f64() * 1000.0,
            self.percentile(0.99).as_secs_f64() * 1000.0,
        )
    }
}

/// Runs `GET path` with `headers` on `connections` connections for `duration`.
pub async fn measure_reads(
    url: &str,
    label: &str,
    path: &str,
    headers: &[(&str, &str)],
    connections: usize,
    duration: Duration,
) -> anyhow::Result<Sample> {
    let started = Instant::now();
    let mut tasks = Vec::new();
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    for _ in 0..connections {
        let (url, path, headers) = (url.to_owned(), path.to_owned(), headers.clone());
        tasks.push(tokio::spawn(async move {
            let mut connection = Connection::open(&url).await?;
            let headers: Vec<(&str, &str)> = headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            let mut latencies = Vec::new();
            while started.elapsed() < duration {
                let sent = Instant::now();
                let (status, _, body) = connection.send(Method::GET, &path, &headers, None).await?;
                if status != StatusCode::OK {
                    bail!("GET {path}: {status} {}", String::from_utf8_lossy(&body));
                }
                latencies.push(sent.elapsed());
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    Ok(Sample {
        label: label.to_owned(),
        connections,
        requests: latencies.len(),
        elapsed: started.elapsed(),
        latencies,
    })
}

impl Connection {
    /// Sends raw bytes, as an image upload does.
    pub async fn send_bytes(
        &mut self,
        method: Method,
        path: &str,
        token: &str,
        bytes: Vec<u8>,
    ) -> anyhow::Result<(StatusCode, hyper::HeaderMap, Bytes)> {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("host", &self.authority)
            .header("x-auth-token", token)
            .header("content-type", "application/octet-stream")
            .body(Full::new(Bytes::from(bytes)))?;
        self.sender.ready().await?;
        let response = self.sender.send_request(request).await?;
        let (parts, body) = response.into_parts();
        Ok((
            parts.status,
            parts.headers,
            body.collect().await?.to_bytes(),
        ))
    }
}

/// Prints samples as a Markdown table.
pub fn print_table(samples: &[Sample]) {
    println!(
        "| {:<44} | {:>5} | {:>8} | {:>9} | {:>8} | {:>8} |",
        "operation", "conns", "requests", "req/s", "p50 ms", "p99 ms"
    );
    println!(
        "|{}|{}|{}|{}|{}|{}|",
        "-".repeat(46),
        "-".repeat(7),
        "-".repeat(10),
        "-".repeat(11),
        "-".repeat(10),
        "-".repeat(10)
    );
    for sample in samples {
        println!("{}", sample.row());
    }
}

/// Sends `request` once and checks the status, timing it.
pub async fn timed(
    connection: &mut Connection,
    method: Method,
    path: &str,
    token: &str,
    body: Option<serde_json::Value>,
    expected: StatusCode,
) -> anyhow::Result<(Duration, serde_json::Value)> {
    let sent = Instant::now();
    let (status, _, bytes) = connection
        .send(method.clone(), path, &[("x-auth-token", token)], body)
        .await?;
    let elapsed = sent.elapsed();
    if status != expected {
        bail!(
            "{method} {path}: {status} {}",
            String::from_utf8_lossy(&bytes)
        );
    }
    let value = if bytes.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(&bytes)?
    };
    Ok((elapsed, value))
}
