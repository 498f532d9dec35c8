//! The proxy process: one per load balancer, started detached by
//! [`crate::ProcessPlane`] so it outlives oxistack.
//!
//! It enters the load balancer's network namespace on its main thread
//! before the runtime starts, so every thread and socket it ever makes
//! lives there. It then serves its directory's config file, re-reads it
//! on SIGHUP (reconfiguring without dropping connections, see
//! [`crate::Engine`]), rewrites its status file about every 500 ms and
//! exits on SIGTERM or SIGINT.

use std::fs::File;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use nix::sched::{CloneFlags, setns};
use oxistack_lbplane::LoadBalancer;
use tokio::signal::unix::{SignalKind, signal};

use crate::engine::Engine;
use crate::files::{CONFIG_FILE, ProxyStatus, STATUS_FILE, write_atomic};

/// How often the status file is rewritten.
const STATUS_INTERVAL: Duration = Duration::from_millis(500);

/// The proxy's command line (`oxistack lb-proxy --namespace NS --dir DIR`).
#[derive(Debug, Clone, clap::Args)]
pub struct ProxyArgs {
    /// Network namespace to serve in, entered before anything else;
    /// without it the proxy serves in the namespace it starts in.
    #[arg(long)]
    pub namespace: Option<String>,
    /// The proxy's directory: `config.json` in, `status.json` out.
    #[arg(long)]
    pub dir: PathBuf,
}

/// Runs the proxy until SIGTERM or SIGINT.
pub fn run_proxy(args: ProxyArgs) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Already set when the caller logs on its own: keep theirs.
    let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
    if let Some(namespace) = &args.namespace {
        let target = File::open(oxistack_netns::path(namespace))
            .with_context(|| format!("opening network namespace {namespace}"))?;
        setns(target.as_fd(), CloneFlags::CLONE_NEWNET)
            .with_context(|| format!("entering network namespace {namespace}"))?;
    }
    // One thread, as the haproxy of an Octavia amphora (one vCPU) has: a
    // connection's client side, its member side and the pooled member
    // connection's task then never wake one another across threads. On
    // the benchmark's topology this thread answered 37,000 keep-alive
    // requests a second where a two-worker runtime answered 28,600.
    // Load balancers are processes of their own, so several of them
    // still use every core.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(serve(&args.dir))
}

async fn serve(dir: &Path) -> anyhow::Result<()> {
    // Signal handlers first: the data plane starts the proxy with SIGHUP
    // ignored, so a reload requested before this point is not lost — the
    // config below is read after it.
    let mut hangup = signal(SignalKind::hangup()).context("SIGHUP handler")?;
    let mut terminate = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("SIGINT handler")?;
    let engine = Engine::new();
    let mut config_error = load(&engine, dir);
    let mut ticks = tokio::time::interval(STATUS_INTERVAL);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = hangup.recv() => {
                tracing::info!("reloading the configuration");
                config_error = load(&engine, dir);
            }
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
        }
        let status = ProxyStatus {
            observation: engine.observe(),
            config_error: config_error.clone(),
        };
        let written = serde_json::to_vec(&status)
            .map_err(std::io::Error::other)
            .and_then(|json| write_atomic(&dir.join(STATUS_FILE), &json));
        if let Err(error) = written {
            tracing::warn!("cannot write the status file: {error}");
        }
    }
    tracing::info!("stopping");
    engine.stop();
    Ok(())
}

/// Serves the config file's load balancer; returns why it could not,
/// keeping what it served before when the file is unreadable.
fn load(engine: &Engine, dir: &Path) -> Option<String> {
    let path = dir.join(CONFIG_FILE);
    let result = std::fs::read(&path)
        .map_err(|e| format!("reading {}: {e}", path.display()))
        .and_then(|bytes| {
            serde_json::from_slice::<LoadBalancer>(&bytes)
                .map_err(|e| format!("parsing {}: {e}", path.display()))
        })
        .and_then(|lb| engine.apply(&lb).map_err(|e| e.to_string()));
    match result {
        Ok(()) => None,
        Err(error) => {
            tracing::warn!("{error}");
            Some(error)
        }
    }
}
