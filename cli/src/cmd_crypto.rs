//! `cellchain crypto ...` (not written yet).

use std::process::ExitCode;

#[derive(clap::Subcommand)]
pub enum CryptoCommand {}

pub fn run(cmd: CryptoCommand) -> anyhow::Result<ExitCode> {
    match cmd {}
}
