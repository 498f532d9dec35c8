//! `oxistack`: an OpenStack-compatible cloud on one Linux server.

mod adapters;
mod cloud;
mod config;
mod credentials;

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
