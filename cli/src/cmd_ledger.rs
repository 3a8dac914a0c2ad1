//! `cellchain ledger verify`: re-check a channel's block files offline, the tool an
//! auditor runs on a ledger copy thirty years from now.

use std::path::PathBuf;
use std::process::ExitCode;

use cellchain_core::crypto::default_provider;

#[derive(clap::Subcommand)]
pub enum LedgerCommand {
    /// Verify every block of a block directory: genesis, CRCs, hash links, data
    /// hashes (Merkle roots) and consenter signatures. Reports the first bad block.
    Verify {
        /// The channel's block directory (segment files blocks_NNNNNN.dat).
        #[arg(long)]
        dir: PathBuf,
    },
}

pub fn run(cmd: LedgerCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        LedgerCommand::Verify { dir } => {
            match cellchain_storage::verify_ledger(&dir, default_provider()) {
                Ok(r) => {
                    println!(
                        "ledger of channel {} verified: {} blocks, {} transactions, last block hash {}",
                        r.channel,
                        r.blocks,
                        r.transactions,
                        r.last_hash
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    println!("invalid: {e}");
                    if let Some(n) = e.block() {
                        println!("first bad block: {n}");
                    }
                    Ok(ExitCode::from(1))
                }
            }
        }
    }
}
