//! `oxistack-bench`: measures a running oxistack over loopback and prints a
//! table. Run by scripts/bench.sh, which starts the cloud for it.
//!
//! Every connection is a keep-alive HTTP/1.1 connection driven by its own
//! task, as a real client pool would; latencies are per request, measured
//! from sending the request to receiving the whole body.

mod client;
mod compute;
mod foundation;

use clap::{Parser, ValueEnum};

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Suite {
    /// Identity and image: tokens, validation, authenticated reads.
    Foundation,
    /// Compute and networking: server create and list, security group rules.
    Compute,
    All,
}

#[derive(Parser)]
#[command(about = "Benchmarks a running oxistack's APIs")]
pub struct Args {
    /// Base URL of the cloud, e.g. http://127.0.0.1:8080
    #[arg(long)]
    url: String,
    /// Admin password.
    #[arg(long, default_value = "pw")]
    password: String,
    #[arg(long, value_enum, default_value = "all")]
    suite: Suite,
    /// Images to create before listing them.
    #[arg(long, default_value_t = 1000)]
    images: usize,
    /// Servers to create (fake compute driver) before listing them.
    #[arg(long, default_value_t = 1000)]
    servers: usize,
    /// Security group rules to create.
    #[arg(long, default_value_t = 200)]
    rules: usize,
    /// Seconds each read measurement runs.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Tokens to issue for the issuance measurement.
    #[arg(long, default_value_t = 40)]
    tokens: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut samples = Vec::new();
    if matches!(args.suite, Suite::Foundation | Suite::All) {
        samples.extend(foundation::run(&args).await?);
    }
    if matches!(args.suite, Suite::Compute | Suite::All) {
        samples.extend(compute::run(&args).await?);
    }
    client::print_table(&samples);
    Ok(())
}
