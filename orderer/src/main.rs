//! `orderer --config FILE`: runs an ordering node until SIGINT or SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// A CellChain orderer: one Raft group per channel, broadcast and deliver over HTTP.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// The orderer configuration file (YAML; see the crate docs of `config`).
    #[arg(long)]
    config: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    cellchain_node::process::run_node(
        "info,raft=warn",
        || cellchain_orderer::config::OrdererConfig::load(&args.config),
        |c| c.listen,
        cellchain_orderer::boot::run,
    )
}
