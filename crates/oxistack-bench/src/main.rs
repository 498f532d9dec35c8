//! `oxistack-bench`: measures a running oxistack over loopback and prints a
//! table. Run by scripts/bench.sh, which starts the cloud for it.
//!
//! Every connection is a keep-alive HTTP/1.1 connection driven by its own
//! task, as a real client pool would; latencies are per request, measured
//! from sending the request to receiving the whole body.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::json;

#[derive(Parser)]
#[command(about = "Benchmarks a running oxistack's identity and image APIs")]
struct Args {
    /// Base URL of the cloud, e.g. http://127.0.0.1:8080
    #[arg(long)]
    url: String,
    /// Admin password.
    #[arg(long, default_value = "pw")]
    password: String,
    /// Images to create before listing them.
    #[arg(long, default_value_t = 1000)]
    images: usize,
    /// Seconds each read measurement runs.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Tokens to issue for the issuance measurement.
    #[arg(long, default_value_t = 40)]
    tokens: usize,
}

struct Connection {
    sender: SendRequest<Full<Bytes>>,
    authority: String,
}

impl Connection {
    async fn open(url: &str) -> anyhow::Result<Connection> {
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

    async fn send(
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

fn auth_body(user: &str, password: &str, project: &str) -> serde_json::Value {
    json!({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {"name": user, "domain": {"id": "default"}, "password": password}}},
        "scope": {"project": {"name": project, "domain": {"id": "default"}}}
    }})
}

async fn issue_token(connection: &mut Connection, password: &str) -> anyhow::Result<String> {
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
struct Sample {
    label: String,
    connections: usize,
    requests: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Sample {
    fn percentile(&self, p: f64) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        sorted.get(index).copied().unwrap_or_default()
    }

    fn row(&self) -> String {
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
async fn measure_reads(
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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut connection = Connection::open(&args.url).await?;
    let mut samples = Vec::new();

    // Token issuance: bounded by the Argon2id password hash, on purpose.
    // Issued from 2 connections so both cores hash.
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..2 {
        let (url, password, count) = (args.url.clone(), args.password.clone(), args.tokens / 2);
        tasks.push(tokio::spawn(async move {
            let mut connection = Connection::open(&url).await?;
            let mut latencies = Vec::new();
            for _ in 0..count {
                let sent = Instant::now();
                issue_token(&mut connection, &password).await?;
                latencies.push(sent.elapsed());
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    samples.push(Sample {
        label: "POST /v3/auth/tokens (password, Argon2id)".into(),
        connections: 2,
        requests: latencies.len(),
        elapsed: started.elapsed(),
        latencies,
    });

    // Token validation: a fresh token's first use reads the database; later
    // uses hit the in-memory cache.
    let admin = issue_token(&mut connection, &args.password).await?;
    let mut fresh = Vec::new();
    for _ in 0..20 {
        fresh.push(issue_token(&mut connection, &args.password).await?);
    }
    let started = Instant::now();
    let mut latencies = Vec::new();
    for subject in &fresh {
        let sent = Instant::now();
        let (status, _, _) = connection
            .send(
                Method::GET,
                "/identity/v3/auth/tokens?nocatalog",
                &[("x-auth-token", subject), ("x-subject-token", subject)],
                None,
            )
            .await?;
        if status != StatusCode::OK {
            bail!("token validation failed: {status}");
        }
        latencies.push(sent.elapsed());
    }
    samples.push(Sample {
        label: "GET /v3/auth/tokens, first use (uncached)".into(),
        connections: 1,
        requests: latencies.len(),
        elapsed: started.elapsed(),
        latencies,
    });
    samples.push(
        measure_reads(
            &args.url,
            "GET /v3/auth/tokens, repeated (cached)",
            "/identity/v3/auth/tokens?nocatalog",
            &[("x-auth-token", &admin), ("x-subject-token", &admin)],
            1,
            Duration::from_secs(2),
        )
        .await?,
    );

    // 1,000 images to list.
    let existing = connection
        .send(
            Method::GET,
            "/image/v2/images?limit=1000",
            &[("x-auth-token", &admin)],
            None,
        )
        .await?;
    let have = serde_json::from_slice::<serde_json::Value>(&existing.2)?["images"]
        .as_array()
        .map_or(0, Vec::len);
    for index in have..args.images {
        let (status, _, body) = connection
            .send(
                Method::POST,
                "/image/v2/images",
                &[("x-auth-token", &admin)],
                Some(json!({"name": format!("bench-{index:04}"), "disk_format": "qcow2", "container_format": "bare"})),
            )
            .await?;
        if status != StatusCode::CREATED {
            bail!(
                "image create failed: {status} {}",
                String::from_utf8_lossy(&body)
            );
        }
    }

    let duration = Duration::from_secs(args.seconds);
    let auth = [("x-auth-token", admin.as_str())];
    for connections in [1, 64] {
        samples.push(
            measure_reads(
                &args.url,
                "GET /identity/v3/projects",
                "/identity/v3/projects",
                &auth,
                connections,
                duration,
            )
            .await?,
        );
    }
    for connections in [1, 64] {
        samples.push(
            measure_reads(
                &args.url,
                &format!("GET /image/v2/images ({} images, limit=1000)", args.images),
                "/image/v2/images?limit=1000",
                &auth,
                connections,
                duration,
            )
            .await?,
        );
    }
    for connections in [1, 64] {
        samples.push(
            measure_reads(
                &args.url,
                "GET /image/v2/images (default page of 25)",
                "/image/v2/images",
                &auth,
                connections,
                duration,
            )
            .await?,
        );
    }

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
    for sample in &samples {
        println!("{}", sample.row());
    }
    Ok(())
}
