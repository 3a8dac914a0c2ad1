//! `cellchain channel ...` (not written yet).

use std::process::ExitCode;

#[derive(clap::Subcommand)]
pub enum ChannelCommand {}

pub fn run(cmd: ChannelCommand) -> anyhow::Result<ExitCode> {
    match cmd {}
}
