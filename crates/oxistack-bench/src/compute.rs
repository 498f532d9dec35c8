//! The compute suite: server create and list with the fake driver, and
//! security group rules.

use std::time::{Duration, Instant};

use hyper::{Method, StatusCode};
use serde_json::json;

use crate::Args;
use crate::client::{Connection, Sample, issue_token, measure_reads, timed};

fn sample(label: &str, started: Instant, latencies: Vec<Duration>) -> Sample {
    Sample {
        label: label.to_owned(),
        connections: 1,
        requests: latencies.len(),
        elapsed: started.elapsed(),
        latencies,
    }
}

/// Creates `args.servers` servers one after the other (the API's own cost:
/// the fake driver does nothing), lists them in detail, then creates
/// `args.rules` security group rules and lists them.
pub async fn run(args: &Args) -> anyhow::Result<Vec<Sample>> {
    let mut connection = Connection::open(&args.url).await?;
    let token = issue_token(&mut connection, &args.password).await?;
    let mut samples = Vec::new();

    // The admin project needs room for 1,000 servers, their ports and the rules.
    let project = project_of(&mut connection, &token).await?;
    let unlimited = json!({"quota_set": {"instances": -1, "cores": -1, "ram": -1}});
    timed(
        &mut connection,
        Method::PUT,
        &format!("/compute/v2.1/os-quota-sets/{project}"),
        &token,
        Some(unlimited),
        StatusCode::OK,
    )
    .await?;
    let unlimited = json!({"quota": {"port": -1, "security_group_rule": -1, "security_group": -1}});
    timed(
        &mut connection,
        Method::PUT,
        &format!("/networking/v2.0/quotas/{project}"),
        &token,
        Some(unlimited),
        StatusCode::OK,
    )
    .await?;

    // A network big enough for every server's port, and a bootable image.
    let (_, network) = timed(
        &mut connection,
        Method::POST,
        "/networking/v2.0/networks",
        &token,
        Some(json!({"network": {"name": "bench"}})),
        StatusCode::CREATED,
    )
    .await?;
    let network_id = network["network"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let subnet =
        json!({"subnet": {"network_id": network_id, "cidr": "10.123.0.0/16", "ip_version": 4}});
    timed(
        &mut connection,
        Method::POST,
        "/networking/v2.0/subnets",
        &token,
        Some(subnet),
        StatusCode::CREATED,
    )
    .await?;
    let image = json!({"name": "bench-boot", "disk_format": "raw", "container_format": "bare"});
    let (_, image) = timed(
        &mut connection,
        Method::POST,
        "/image/v2/images",
        &token,
        Some(image),
        StatusCode::CREATED,
    )
    .await?;
    let image_id = image["id"].as_str().unwrap_or_default().to_owned();
    let (status, _, body) = connection
        .send_bytes(
            Method::PUT,
            &format!("/image/v2/images/{image_id}/file"),
            &token,
            vec![0u8; 4096],
        )
        .await?;
    anyhow::ensure!(
        status == StatusCode::NO_CONTENT,
        "image upload: {status} {}",
        String::from_utf8_lossy(&body)
    );

    let started = Instant::now();
    let mut latencies = Vec::new();
    for index in 0..args.servers {
        let server = json!({"server": {
            "name": format!("bench-{index:04}"),
            "imageRef": image_id,
            "flavorRef": "42",
            "networks": [{"uuid": network_id}],
        }});
        let (elapsed, _) = timed(
            &mut connection,
            Method::POST,
            "/compute/v2.1/servers",
            &token,
            Some(server),
            StatusCode::ACCEPTED,
        )
        .await?;
        latencies.push(elapsed);
    }
    samples.push(sample(
        &format!("POST /servers (fake driver, {} servers)", args.servers),
        started,
        latencies,
    ));

    let duration = Duration::from_secs(args.seconds);
    let auth = [
        ("x-auth-token", token.as_str()),
        ("openstack-api-version", "compute 2.100"),
    ];
    samples.push(
        measure_reads(
            &args.url,
            &format!("GET /servers/detail ({} servers)", args.servers),
            "/compute/v2.1/servers/detail?limit=1000",
            &auth,
            1,
            duration,
        )
        .await?,
    );

    let group = json!({"security_group": {"name": "bench"}});
    let (_, group) = timed(
        &mut connection,
        Method::POST,
        "/networking/v2.0/security-groups",
        &token,
        Some(group),
        StatusCode::CREATED,
    )
    .await?;
    let group_id = group["security_group"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let started = Instant::now();
    let mut latencies = Vec::new();
    for index in 0..args.rules {
        let port = 10000 + index as u64;
        let rule = json!({"security_group_rule": {
            "security_group_id": group_id,
            "direction": "ingress",
            "protocol": "tcp",
            "port_range_min": port,
            "port_range_max": port,
        }});
        let (elapsed, _) = timed(
            &mut connection,
            Method::POST,
            "/networking/v2.0/security-group-rules",
            &token,
            Some(rule),
            StatusCode::CREATED,
        )
        .await?;
        latencies.push(elapsed);
    }
    samples.push(sample(
        &format!("POST /security-group-rules ({})", args.rules),
        started,
        latencies,
    ));
    samples.push(
        measure_reads(
            &args.url,
            &format!("GET /security-group-rules ({}+)", args.rules),
            &format!("/networking/v2.0/security-group-rules?security_group_id={group_id}"),
            &auth[..1],
            1,
            duration,
        )
        .await?,
    );
    Ok(samples)
}

/// The project the admin token is scoped to.
async fn project_of(connection: &mut Connection, token: &str) -> anyhow::Result<String> {
    let (status, _, body) = connection
        .send(
            Method::GET,
            "/identity/v3/auth/tokens?nocatalog",
            &[("x-auth-token", token), ("x-subject-token", token)],
            None,
        )
        .await?;
    anyhow::ensure!(status == StatusCode::OK, "token validation: {status}");
    let document: serde_json::Value = serde_json::from_slice(&body)?;
    Ok(document["token"]["project"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned())
}
