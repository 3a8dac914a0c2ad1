//! `committer --config FILE`: runs a committer until SIGINT or SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// A CellChain committer: pulls blocks from the orderers, validates and commits
/// them, and serves the validated block feed and ledger queries over HTTP.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// The committer configuration file (YAML; see the crate docs of `config`).
    #[arg(long)]
    config: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    cellchain_node::process::run_node(
        "info",
        || cellchain_committer::config::CommitterConfig::load(&args.config),
        |c| c.listen,
        cellchain_committer::boot::run,
    )
}
