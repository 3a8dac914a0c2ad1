//! `cellchain chaincode ...`: build contracts to wasm and run them locally.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

#[derive(clap::Subcommand)]
pub enum ChaincodeCommand {
    /// Build a contract crate into an optimised, stripped .wasm and print its SHA-256.
    Build {
        /// The contract crate's directory (holding its Cargo.toml).
        #[arg(default_value = ".")]
        path: PathBuf,
        /// Copy the module here as well.
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

pub fn run(cmd: ChaincodeCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ChaincodeCommand::Build { path, output } => build(&path, output.as_deref()),
    }
}

fn build(path: &std::path::Path, output: Option<&std::path::Path>) -> anyhow::Result<ExitCode> {
    eprintln!(
        "building {} for wasm32 (profile contract) ...",
        path.display()
    );
    let built = cellchain_chaincode_build::build_contract(path)?;
    let mut wasm_path = built.wasm_path.clone();
    if let Some(out) = output {
        std::fs::copy(&built.wasm_path, out)
            .with_context(|| format!("cannot write {}", out.display()))?;
        wasm_path = out.to_path_buf();
    }
    println!(
        "{}  {}  {} bytes  {}",
        built.sha256,
        built.package,
        built.wasm.len(),
        wasm_path.display()
    );
    Ok(ExitCode::SUCCESS)
}
