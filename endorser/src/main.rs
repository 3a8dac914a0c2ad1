//! `endorser --config FILE`: runs an endorser until SIGINT or SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// A CellChain endorser: simulates chaincode against a state replica and signs the results.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// The endorser configuration file (YAML; see the crate docs of `config`).
    #[arg(long)]
    config: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    cellchain_node::process::run_node(
        "info,wasmtime=warn,cranelift=warn",
        || cellchain_endorser::config::EndorserConfig::load(&args.config),
        |c| c.listen,
        cellchain_endorser::boot::run,
    )
}
