//! `cellchain policy ...` (not written yet).

use std::process::ExitCode;

#[derive(clap::Subcommand)]
pub enum PolicyCommand {}

pub fn run(cmd: PolicyCommand) -> anyhow::Result<ExitCode> {
    match cmd {}
}
