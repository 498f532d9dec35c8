//! The load-balancer proxy on its own: what `oxistack lb-proxy` runs,
//! without the rest of the binary (the process tests start this one).

use clap::Parser;
use oxistack_lbproxy::{ProxyArgs, run_proxy};

#[derive(Parser)]
#[command(name = "oxistack-lbproxy", about = "One load balancer's proxy")]
struct Cli {
    #[command(flatten)]
    proxy: ProxyArgs,
}

fn main() -> anyhow::Result<()> {
    run_proxy(Cli::parse().proxy)
}
