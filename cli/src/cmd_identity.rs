//! `cellchain identity ...` (not written yet).

use std::process::ExitCode;

#[derive(clap::Subcommand)]
pub enum IdentityCommand {}

pub fn run(cmd: IdentityCommand) -> anyhow::Result<ExitCode> {
    match cmd {}
}
