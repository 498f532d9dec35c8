//! The running cloud's control socket: a Unix socket in the state
//! directory (0600, so only its owner may use it) through which
//! `oxistack reconcile` asks the cloud to bring the host in line with the
//! database now: the network, the instances, then the load balancers. One request per connection: the command's name on a
//! line; the answer is one line of JSON.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use oxistack_compute::ComputeService;
use oxistack_loadbalancer::LoadBalancerService;
use oxistack_network::NetworkService;
use oxistack_tasks::Supervisor;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use crate::config::Config;

const RECONCILE: &str = "reconcile";

pub fn socket_path(config: &Config) -> PathBuf {
    config.state_dir.join("control.sock")
}

/// What a reconciliation did, as `oxistack reconcile` prints it.
#[derive(Debug, Default, Serialize, Deserialize)]
struct ReconcileReport {
    error: Option<String>,
    network_ms: Option<f64>,
    compute_ms: Option<f64>,
    instances_acted_on: usize,
    #[serde(default)]
    load_balancer_ms: Option<f64>,
}

/// The services a reconciliation drives.
pub struct Reconcilers {
    pub network: Option<Arc<NetworkService>>,
    pub compute: Option<Arc<ComputeService>>,
    pub load_balancer: Option<Arc<LoadBalancerService>>,
}

/// Listens on the control socket, as a task of `tasks`, until shutdown; a
/// request under way at shutdown is answered first.
pub fn serve(path: &Path, reconcilers: Reconcilers, tasks: &Supervisor) -> anyhow::Result<()> {
    // A socket left by a killed run would make bind fail.
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot remove {}", path.display())),
    }
    let listener =
        UnixListener::bind(path).with_context(|| format!("cannot listen on {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    let reconcilers = Arc::new(reconcilers);
    let requests = tasks.clone();
    tasks.spawn_until_stopped("control socket", async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    let reconcilers = reconcilers.clone();
                    requests.spawn("control request", |_stop| async move {
                        if let Err(error) = answer(stream, &reconcilers).await {
                            tracing::warn!(%error, "control request failed");
                        }
                    });
                }
                Err(error) => {
                    tracing::warn!(%error, "control socket accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            }
        }
    });
    Ok(())
}

async fn answer(stream: UnixStream, reconcilers: &Reconcilers) -> anyhow::Result<()> {
    let (reader, mut writer) = stream.into_split();
    let mut line = String::new();
    BufReader::new(reader).read_line(&mut line).await?;
    let report = match line.trim() {
        RECONCILE => reconcile(reconcilers).await,
        other => ReconcileReport {
            error: Some(format!("unknown control command {other:?}")),
            ..ReconcileReport::default()
        },
    };
    let mut reply = serde_json::to_vec(&report)?;
    reply.push(b'\n');
    writer.write_all(&reply).await?;
    Ok(())
}

async fn reconcile(reconcilers: &Reconcilers) -> ReconcileReport {
    let mut report = ReconcileReport::default();
    if let Some(network) = &reconcilers.network {
        let started = Instant::now();
        if let Err(error) = network.reconcile_now().await {
            report.error = Some(format!("network: {error}"));
            return report;
        }
        report.network_ms = Some(started.elapsed().as_secs_f64() * 1000.0);
    }
    if let Some(compute) = &reconcilers.compute {
        let started = Instant::now();
        match compute.reconcile_instances().await {
            Ok(acted) => report.instances_acted_on = acted,
            Err(error) => {
                report.error = Some(format!("compute: {error}"));
                return report;
            }
        }
        report.compute_ms = Some(started.elapsed().as_secs_f64() * 1000.0);
    }
    if let Some(load_balancer) = &reconcilers.load_balancer {
        let started = Instant::now();
        if let Err(error) = load_balancer.reconcile_now().await {
            report.error = Some(format!("load balancers: {error}"));
            return report;
        }
        report.load_balancer_ms = Some(started.elapsed().as_secs_f64() * 1000.0);
    }
    report
}

/// `oxistack reconcile`: asks the running cloud to reconcile and prints
/// what it did.
pub async fn request_reconcile(config: &Config) -> anyhow::Result<()> {
    let path = socket_path(config);
    let stream = UnixStream::connect(&path).await.with_context(|| {
        format!(
            "oxistack is not running with state directory {} (no control socket at {})",
            config.state_dir.display(),
            path.display()
        )
    })?;
    let (reader, mut writer) = stream.into_split();
    writer
        .write_all(format!("{RECONCILE}\n").as_bytes())
        .await?;
    let mut line = String::new();
    BufReader::new(reader).read_line(&mut line).await?;
    let report: ReconcileReport =
        serde_json::from_str(&line).context("the cloud's answer was not understood")?;
    if let Some(error) = report.error {
        bail!("reconciliation failed: {error}");
    }
    let ms = |value: Option<f64>| value.map_or("-".to_owned(), |ms| format!("{ms:.1} ms"));
    println!(
        "reconciled: network {}, compute {} ({} instances acted on), load balancers {}",
        ms(report.network_ms),
        ms(report.compute_ms),
        report.instances_acted_on,
        ms(report.load_balancer_ms)
    );
    Ok(())
}
