//! `oxistack`: an OpenStack-compatible cloud on one Linux server.

mod adapters;
mod cirros;
mod cloud;
mod config;
mod control;
mod credentials;
mod host;
mod launch;
mod systemd;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Config;

#[derive(Parser)]
#[command(
    name = "oxistack",
    version,
    about = "An OpenStack-compatible cloud on one Linux server"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole cloud in the foreground (like DevStack's stack.sh, in seconds).
    Up {
        /// TOML configuration file (the equivalent of DevStack's local.conf).
        #[arg(long, short, env = "OXISTACK_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Print shell exports to act as USER on PROJECT: `source <(oxistack openrc kube kube)`.
    Openrc {
        user: String,
        project: String,
        #[arg(long, short, env = "OXISTACK_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Run COMMAND on the sandbox's external network, as a machine on the LAN: `oxistack outside -- ssh cirros@172.24.4.10`.
    Outside {
        #[arg(long, short, env = "OXISTACK_CONFIG")]
        config: Option<PathBuf>,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        command: Vec<OsString>,
    },
    /// Bring the host's networks and instances in line with the database now.
    Reconcile {
        #[arg(long, short, env = "OXISTACK_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Stop the cloud and remove everything it made on the host (namespaces, bridges, taps, nftables tables, QEMU processes), keeping its state: `oxistack up` brings it all back. Guests are suspended to disk and resume where they were.
    Teardown {
        #[arg(long, short, env = "OXISTACK_CONFIG")]
        config: Option<PathBuf>,
        /// Kill the guests instead, as a power loss does: they boot again.
        #[arg(long)]
        hard: bool,
    },
    /// Start the cloud at boot with systemd: `oxistack service install`, `oxistack service uninstall`.
    Service {
        #[command(subcommand)]
        action: ServiceAction,
    },
    /// One load balancer's proxy, started by the load-balancer data plane.
    #[command(hide = true)]
    LbProxy(oxistack_lbproxy::ProxyArgs),
}

#[derive(Subcommand)]
enum ServiceAction {
    /// Write a systemd unit that runs `oxistack up` at boot with this configuration (config file and OXISTACK_* overrides), restarts it on failure and stops it with `oxistack teardown`; enable it where systemd runs.
    Install {
        #[arg(long, short, env = "OXISTACK_CONFIG")]
        config: Option<PathBuf>,
        /// Where the unit goes.
        #[arg(long, env = "OXISTACK_UNIT_DIR", default_value = systemd::DEFAULT_UNIT_DIR)]
        unit_dir: PathBuf,
    },
    /// Disable the unit (stopping the cloud with the teardown, which keeps its state) and remove it.
    Uninstall {
        #[arg(long, env = "OXISTACK_UNIT_DIR", default_value = systemd::DEFAULT_UNIT_DIR)]
        unit_dir: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("oxistack: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Up { config } => {
            let config = Config::load(config.as_deref())?;
            init_logging();
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            runtime.block_on(cloud::up(config))
        }
        Command::Openrc {
            user,
            project,
            config,
        } => {
            let config = Config::load(config.as_deref())?;
            let password = match std::env::var_os("OS_PASSWORD") {
                Some(_) => None,
                None => Some(credentials::admin_password(&config, false)?.password),
            };
            print!(
                "{}",
                credentials::openrc(&config, &user, &project, password.as_deref())
            );
            Ok(())
        }
        Command::Outside { config, command } => {
            let config = Config::load(config.as_deref())?;
            host::outside(&config, &command)
        }
        Command::Reconcile { config } => {
            let config = Config::load(config.as_deref())?;
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
                .block_on(control::request_reconcile(&config))
        }
        Command::Teardown { config, hard } => {
            let config = Config::load(config.as_deref())?;
            let service_result = std::env::var("SERVICE_RESULT").ok();
            if let Some(result) = systemd::failed_service_result(service_result.as_deref()) {
                println!(
                    "oxistack teardown: oxistack up ended on its own ({result}); guests and load balancers keep running for the restart to adopt"
                );
                return Ok(());
            }
            host::teardown(&config, hard)
        }
        Command::Service {
            action: ServiceAction::Install { config, unit_dir },
        } => systemd::install(&Config::load(config.as_deref())?, &unit_dir),
        Command::Service {
            action: ServiceAction::Uninstall { unit_dir },
        } => systemd::uninstall(&unit_dir),
        Command::LbProxy(args) => oxistack_lbproxy::run_proxy(args),
    }
}

/// Readable logs on stderr; `RUST_LOG` overrides the default `info`.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
}
