//! The foundation suite: identity and image APIs.

use std::time::{Duration, Instant};

use anyhow::bail;
use hyper::{Method, StatusCode};
use serde_json::json;

use crate::Args;
use crate::client::{Connection, Sample, issue_token, measure_reads};

/// Token issuance and validation, and authenticated reads of projects and
/// images at 1 and 64 connections.
pub async fn run(args: &Args) -> anyhow::Result<Vec<Sample>> {
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

    Ok(samples)
}
