//! `cellchain`: the command line of a CellChain consortium.
//!
//! Each subcommand lives in its own module with its clap arguments and a `run`
//! function returning the process exit code; `main` only parses and dispatches.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod bench;
mod client;
mod clock;
mod cmd_bench;
mod cmd_block;
mod cmd_chaincode;
mod cmd_channel;
mod cmd_crypto;
mod cmd_demo;
mod cmd_identity;
mod cmd_ledger;
mod cmd_lifecycle;
mod cmd_network;
mod cmd_policy;
mod cmd_tx;
mod cryptogen;
mod demo;
mod network;
mod simulate;

#[derive(Parser)]
#[command(
    name = "cellchain",
    version,
    about = "CellChain: a permissioned ledger for advanced-therapy supply chains",
    long_about = None,
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate certificate authorities and identities for a network.
    #[command(subcommand)]
    Crypto(cmd_crypto::CryptoCommand),
    /// Evaluate endorsement policies.
    #[command(subcommand)]
    Policy(cmd_policy::PolicyCommand),
    /// Inspect and verify X.509 identities.
    #[command(subcommand)]
    Identity(cmd_identity::IdentityCommand),
    /// Channel configuration and genesis blocks.
    #[command(subcommand)]
    Channel(cmd_channel::ChannelCommand),
    /// Inspect and verify a channel's ledger (block files) offline.
    #[command(subcommand)]
    Ledger(cmd_ledger::LedgerCommand),
    /// Build, test-run and scaffold chaincode (Rust contracts compiled to wasm),
    /// and deploy it through the lifecycle: package, install, approve, commit.
    #[command(subcommand)]
    Chaincode(cmd_chaincode::ChaincodeCommand),
    /// Run a local network: `up` starts every node of a topology, `down` stops
    /// them, `status` reports them.
    #[command(subcommand)]
    Network(cmd_network::NetworkCommand),
    /// Run the vein-to-vein story over the local network (started if needed):
    /// each case's timeline, then block height, validation codes, throughput.
    Demo(cmd_demo::DemoArgs),
    /// Submit a transaction: endorse, order, wait for the commit; print its tx id,
    /// block, validation code and result (exit 1 if invalid).
    Invoke(cmd_tx::InvokeArgs),
    /// Evaluate a read-only chaincode function on one endorser; print the result.
    Query(cmd_tx::QueryArgs),
    /// Committed transactions: `show TXID`.
    #[command(subcommand)]
    Tx(cmd_tx::TxCommand),
    /// Validated blocks: `show N`.
    #[command(subcommand)]
    Block(cmd_block::BlockCommand),
    /// Follow a channel's validated blocks, or a chaincode's events.
    Events(cmd_block::EventsArgs),
    /// Benchmark the network with a workload file (like Hyperledger Caliper):
    /// throughput, latency, CPU and memory per round; --json, --html reports.
    Bench(cmd_bench::BenchArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Crypto(c) => cmd_crypto::run(c),
        Command::Policy(c) => cmd_policy::run(c),
        Command::Identity(c) => cmd_identity::run(c),
        Command::Channel(c) => cmd_channel::run(c),
        Command::Chaincode(c) => cmd_chaincode::run(c),
        Command::Ledger(c) => cmd_ledger::run(c),
        Command::Network(c) => cmd_network::run(c),
        Command::Demo(a) => cmd_demo::run(a),
        Command::Invoke(a) => cmd_tx::run_invoke(a),
        Command::Query(a) => cmd_tx::run_query(a),
        Command::Tx(c) => cmd_tx::run_tx(c),
        Command::Block(c) => cmd_block::run_block(c),
        Command::Events(a) => cmd_block::run_events(a),
        Command::Bench(a) => cmd_bench::run(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            // One clear line, then the chain of causes.
            eprintln!("error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::from(2)
        }
    }
}
