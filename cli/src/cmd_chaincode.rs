//! `cellchain chaincode ...`: build contracts to wasm and run them locally
//! (`build`, `simulate`, `new`), and deploy them on a running network through
//! the chaincode lifecycle (`package`, `install`, `query-installed`, `approve`,
//! `check-commit-readiness`, `commit`, `query-committed`; in
//! [`crate::cmd_lifecycle`]).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};

use crate::cmd_lifecycle::{
    ApproveArgs, CommitArgs, InstallArgs, PackageArgs, QueryCommittedArgs, QueryInstalledArgs,
    ReadinessArgs,
};

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
    /// Run one invocation of a .wasm module locally, through the endorser's
    /// runtime, and print the response, read/write set, events and fuel used.
    Simulate(SimulateArgs),
    /// Start a new contract crate from the template (layout, tests included).
    New {
        /// The crate name, e.g. `cold-chain-audit` (lower case, digits, '-').
        name: String,
        /// Where to create it. Default: chaincode/contracts/NAME of the CellChain
        /// checkout around the current directory, added to its workspace.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// The CellChain checkout whose contract API the new crate uses, when
        /// --dir is outside it.
        #[arg(long)]
        cellchain_path: Option<PathBuf>,
    },
    /// Build a contract crate and write a chaincode package file (the module, a
    /// label, the crate's name and version); print its package id
    /// (LABEL:SHA256).
    Package(PackageArgs),
    /// Install a package on the endorsers of your organisation (as its admin);
    /// print each endorser's package id and whether it had it already.
    Install(InstallArgs),
    /// List the packages installed on the endorsers of your organisation.
    QueryInstalled(QueryInstalledArgs),
    /// Approve a chaincode definition for your organisation (as its admin): a
    /// transaction endorsed by your organisation's endorser.
    Approve(ApproveArgs),
    /// Show which organisations approved a definition, which approved another
    /// (and the fields that differ), which did not, and whether the approvals
    /// satisfy the channel's LifecycleEndorsement policy.
    CheckCommitReadiness(ReadinessArgs),
    /// Commit a chaincode definition once enough organisations approved it; it
    /// is in force from the next block.
    Commit(CommitArgs),
    /// Show the chaincode definitions committed on the channel.
    QueryCommitted(QueryCommittedArgs),
}

#[derive(clap::Args)]
pub struct SimulateArgs {
    /// The chaincode module.
    #[arg(long)]
    pub wasm: PathBuf,
    /// The function to call.
    #[arg(long = "fn")]
    pub function: String,
    /// Arguments as JSON: an array (positional), an object (named), or one value.
    #[arg(long, default_value = "[]")]
    pub args: String,
    /// The caller's certificate (PEM). Without it, a local client identity of
    /// organisation LocalMSP is used.
    #[arg(long)]
    pub caller: Option<PathBuf>,
    /// The caller's CA certificate; by default found from the crypto directory
    /// layout (`<MSPID>/users|nodes/<name>/cert.pem` -> `<MSPID>/ca/ca.pem`).
    #[arg(long)]
    pub ca: Option<PathBuf>,
    /// The caller's MSP id; by default the `<MSPID>` directory of the certificate.
    #[arg(long)]
    pub msp_id: Option<String>,
    /// Committed state to run against (JSON; see `cellchain chaincode simulate --help`):
    /// `{"public": {"NAMESPACE": {"KEY": VALUE}}, "private": {"NAMESPACE": {"COLLECTION": {"KEY": VALUE}}}}`.
    /// A value is stored as its JSON text, except a string "base64:..." which is
    /// stored as the decoded bytes.
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// A transient (private) input, KEY=VALUE; repeatable.
    #[arg(long = "transient", value_name = "KEY=VALUE")]
    pub transient: Vec<String>,
    /// The chaincode name (its state namespace).
    #[arg(long, default_value = "cc")]
    pub name: String,
    /// The channel name the contract sees.
    #[arg(long, default_value = "localchannel")]
    pub channel: String,
    /// Fuel for this invocation (default: the production limit).
    #[arg(long)]
    pub fuel: Option<u64>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cmd: ChaincodeCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ChaincodeCommand::Build { path, output } => build(&path, output.as_deref()),
        ChaincodeCommand::Simulate(args) => crate::simulate::run(&args),
        ChaincodeCommand::New {
            name,
            dir,
            cellchain_path,
        } => new_contract(&name, dir.as_deref(), cellchain_path.as_deref()),
        ChaincodeCommand::Package(a) => crate::cmd_lifecycle::package(a),
        ChaincodeCommand::Install(a) => crate::cmd_lifecycle::install(a),
        ChaincodeCommand::QueryInstalled(a) => crate::cmd_lifecycle::query_installed(a),
        ChaincodeCommand::Approve(a) => crate::cmd_lifecycle::approve(a),
        ChaincodeCommand::CheckCommitReadiness(a) => crate::cmd_lifecycle::readiness(a),
        ChaincodeCommand::Commit(a) => crate::cmd_lifecycle::commit(a),
        ChaincodeCommand::QueryCommitted(a) => crate::cmd_lifecycle::query_committed(a),
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

/// The template's sources, compiled into the binary so `new` works from any
/// directory.
const TEMPLATE: &[(&str, &str)] = &[
    (
        "src/lib.rs",
        include_str!("../../chaincode/template/src/lib.rs"),
    ),
    (
        "src/contract.rs",
        include_str!("../../chaincode/template/src/contract.rs"),
    ),
    (
        "src/msg.rs",
        include_str!("../../chaincode/template/src/msg.rs"),
    ),
    (
        "src/state.rs",
        include_str!("../../chaincode/template/src/state.rs"),
    ),
    (
        "src/error.rs",
        include_str!("../../chaincode/template/src/error.rs"),
    ),
];

/// The CellChain checkout containing `start`, if any: the directory holding the
/// workspace Cargo.toml and `chaincode/contract`.
fn find_checkout(start: &Path) -> Option<PathBuf> {
    let start = std::fs::canonicalize(start).ok()?;
    start
        .ancestors()
        .find(|d| {
            d.join("chaincode/contract/Cargo.toml").is_file() && d.join("Cargo.toml").is_file()
        })
        .map(Path::to_path_buf)
}

fn new_contract(
    name: &str,
    dir: Option<&Path>,
    cellchain_path: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        bail!("invalid contract name {name:?}: use lower case letters, digits and '-', starting with a letter");
    }
    let cwd = std::env::current_dir()?;
    let target = match dir {
        Some(d) => d.join(name),
        None => {
            let root = find_checkout(&cwd).context(
                "not inside a CellChain checkout: pass --dir DIR and --cellchain-path CHECKOUT",
            )?;
            root.join("chaincode/contracts").join(name)
        }
    };
    if target.exists() {
        bail!(
            "{} already exists: choose another name or directory",
            target.display()
        );
    }
    std::fs::create_dir_all(target.join("src"))
        .with_context(|| format!("cannot create {}", target.display()))?;
    let parent = std::fs::canonicalize(target.parent().expect("target has a parent"))?;
    let in_checkout = find_checkout(&parent);

    let manifest = match (&in_checkout, cellchain_path) {
        // Inside the checkout: a workspace member like the shipped contracts.
        (Some(root), None) => {
            add_workspace_member(root, &target)?;
            member_manifest(name)
        }
        (_, Some(checkout)) => {
            let checkout = std::fs::canonicalize(checkout)
                .with_context(|| format!("cannot find {}", checkout.display()))?;
            if !checkout.join("chaincode/contract/Cargo.toml").is_file() {
                bail!(
                    "{} is not a CellChain checkout (no chaincode/contract)",
                    checkout.display()
                );
            }
            standalone_manifest(name, &checkout)
        }
        (None, None) => bail!(
            "{} is outside a CellChain checkout: pass --cellchain-path CHECKOUT so the new \
             crate can find the contract API",
            target.display()
        ),
    };
    std::fs::write(target.join("Cargo.toml"), manifest)?;
    for (file, text) in TEMPLATE {
        std::fs::write(target.join(file), text)?;
    }
    println!("created contract {name} in {}", target.display());
    println!(
        "  test it:   cargo test --manifest-path {}/Cargo.toml",
        target.display()
    );
    println!(
        "  build it:  cellchain chaincode build {}",
        target.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn member_manifest(name: &str) -> String {
    format!(
        r#"[package]
name = "{name}"
description = "A CellChain contract"
version.workspace = true
edition.workspace = true
license.workspace = true
rust-version.workspace = true

[lib]
crate-type = ["cdylib", "rlib"]

[dependencies]
cellchain-contract.workspace = true
serde.workspace = true
thiserror.workspace = true

[dev-dependencies]
cellchain-chaincode-harness.workspace = true
serde_json.workspace = true
"#
    )
}

fn standalone_manifest(name: &str, checkout: &Path) -> String {
    let c = checkout.display();
    format!(
        r#"[package]
name = "{name}"
description = "A CellChain contract"
version = "0.1.0"
edition = "2021"

[lib]
crate-type = ["cdylib", "rlib"]

[dependencies]
cellchain-contract = {{ path = "{c}/chaincode/contract" }}
serde = {{ version = "1", features = ["derive"] }}
thiserror = "2"

[dev-dependencies]
cellchain-chaincode-harness = {{ path = "{c}/chaincode/harness" }}
serde_json = "1"

# A crate of its own, not a member of the CellChain workspace.
[workspace]

{profile}"#,
        profile = cellchain_chaincode_build::PROFILE_TOML
    )
}

/// Adds the new crate to the checkout's `[workspace] members`.
fn add_workspace_member(root: &Path, target: &Path) -> anyhow::Result<()> {
    let path = root.join("Cargo.toml");
    let text = std::fs::read_to_string(&path)?;
    // `root` is canonical; canonicalise the (existing) parent of the new crate too.
    let parent = std::fs::canonicalize(target.parent().unwrap_or(target))?;
    let full = parent.join(target.file_name().unwrap_or_default());
    let rel = full
        .strip_prefix(root)
        .context("the new crate is not under the checkout")?
        .to_string_lossy()
        .replace('\\', "/");
    let entry = format!("    \"{rel}\",\n");
    if text.contains(&format!("\"{rel}\"")) {
        return Ok(());
    }
    let Some(pos) = text.find("members = [\n") else {
        bail!(
            "cannot find `members = [` in {}; add \"{rel}\" to it by hand",
            path.display()
        );
    };
    let at = pos + "members = [\n".len();
    let updated = format!("{}{}{}", &text[..at], entry, &text[at..]);
    std::fs::write(&path, updated)?;
    println!("added {rel} to the workspace members in {}", path.display());
    Ok(())
}
