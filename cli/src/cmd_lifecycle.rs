//! The chaincode lifecycle commands of `cellchain chaincode`: `package`,
//! `install`, `query-installed`, `approve`, `check-commit-readiness`, `commit`
//! and `query-committed`, through the SDK against the network of `cellchain
//! network up`. They act as an organisation's admin (by default the first
//! admin of the first writing organisation of the channel); errors are one line
//! and a hint, exit 1.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use cellchain_core::identity::Role;
use cellchain_core::lifecycle::{
    check_name, ChaincodeDefinition, ChaincodePackage, CollectionConfig, EndorsementPolicy,
    Readiness,
};
use cellchain_core::policy::SignaturePolicy;
use cellchain_core::Hash32;
use cellchain_sdk::SdkError;
use serde_json::json;

use crate::client::{block_on, fail, sdk, ClientArgs, Session, DEFAULT_DIR, NOT_READY_HINT};
use crate::network::contracts;

const PACKAGE_EXAMPLES: &str = "\
Examples:
  cellchain chaincode package chaincode/contracts/patient-batch --label patient-batch_1.1 --output patient-batch.pkg.json
  cellchain chaincode package . (label NAME_VERSION, file LABEL.package.json)";

const INSTALL_EXAMPLES: &str = "\
Examples:
  cellchain chaincode install patient-batch.pkg.json
  cellchain chaincode install patient-batch.pkg.json --user CdmoMSP/admin --dir /tmp/net";

const DEFINITION_EXAMPLES: &str = "\
Examples:
  cellchain chaincode approve --name patient-batch --version 1.1 --sequence 2 --package patient-batch.pkg.json \\
      --policy \"OutOf(2, 'HospitalAMSP.peer', 'CdmoMSP.peer', 'SponsorMSP.peer')\" --user HospitalAMSP/admin
  cellchain chaincode check-commit-readiness --name patient-batch --version 1.1 --sequence 2 \\
      --package patient-batch.pkg.json --policy \"OutOf(2, ...)\" --json
  cellchain chaincode commit --name release --version 1.1 --wasm-hash 3f9c...e1 --channel-policy Endorsement

Every organisation's admin approves the same definition (name, version, sequence,
module hash, policy, collections); once the approvals satisfy the channel's
LifecycleEndorsement policy, any admin commits it.";

const QUERY_EXAMPLES: &str = "\
Examples:
  cellchain chaincode query-committed
  cellchain chaincode query-committed --name patient-batch --json
  cellchain chaincode query-installed --user SponsorMSP/admin";

/// The flags of the lifecycle commands that talk to the network: as the client
/// commands', but the default identity is an admin.
#[derive(clap::Args, Debug, Clone)]
pub struct AdminArgs {
    /// The network directory written by `cellchain network up` (connection.yaml,
    /// network.json, crypto/).
    #[arg(long, value_name = "DIR", default_value = DEFAULT_DIR)]
    pub dir: PathBuf,
    /// The identity to act as, MSP/USER: its certificate and key are
    /// DIR/crypto/<MSP>/users/<USER>/{cert.pem,key.pem}. Lifecycle changes need
    /// an organisation's admin. Default: the first user with role admin of the
    /// first writing (not read-only) organisation of the channel, in topology
    /// order.
    #[arg(long, value_name = "MSP/USER")]
    pub user: Option<String>,
    /// The channel. Default: the first channel of the network's topology.
    #[arg(long, value_name = "CH")]
    pub channel: Option<String>,
}

impl AdminArgs {
    fn open(&self) -> anyhow::Result<Session> {
        Session::open_as(
            &ClientArgs {
                dir: self.dir.clone(),
                user: self.user.clone(),
                channel: self.channel.clone(),
            },
            Role::Admin,
        )
    }
}

/// `cellchain chaincode package`.
#[derive(clap::Args)]
#[command(after_help = PACKAGE_EXAMPLES)]
pub struct PackageArgs {
    /// The contract crate's directory (holding its Cargo.toml).
    #[arg(default_value = ".")]
    path: PathBuf,
    /// The package's label: 1 to 64 of A-Z a-z 0-9 . _ + -. Default: the crate's
    /// NAME_VERSION.
    #[arg(long, value_name = "LABEL")]
    label: Option<String>,
    /// The package file to write. Default: LABEL.package.json.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// `cellchain chaincode install`.
#[derive(clap::Args)]
#[command(after_help = INSTALL_EXAMPLES)]
pub struct InstallArgs {
    /// The package file written by `cellchain chaincode package`.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Print a JSON array of {endorser, package_id, already_installed}.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    client: AdminArgs,
}

/// `cellchain chaincode query-installed`.
#[derive(clap::Args)]
#[command(after_help = QUERY_EXAMPLES)]
pub struct QueryInstalledArgs {
    /// Print a JSON array of {endorser, packages: [{package_id, label, contract,
    /// contract_version, wasm_sha256}]}.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    client: AdminArgs,
}

/// A chaincode definition, as the lifecycle commands take it.
#[derive(clap::Args, Debug, Clone)]
#[command(group(clap::ArgGroup::new("module").required(true).args(["package", "wasm_hash"])))]
#[command(group(clap::ArgGroup::new("endorsement").args(["policy", "channel_policy"])))]
pub struct DefinitionArgs {
    /// The chaincode name clients invoke on the channel (1 to 64 of a-z 0-9 - _).
    #[arg(long, value_name = "NAME")]
    name: String,
    /// The definition's version, e.g. 1.1 (1 to 64 characters, no '/' or space).
    #[arg(long, value_name = "VERSION")]
    version: String,
    /// The definition's sequence: 1 for the first, one more for each upgrade.
    /// Default: the committed sequence + 1 (1 when none is committed).
    #[arg(long, value_name = "N")]
    sequence: Option<u64>,
    /// The package file: the definition names its module's SHA-256.
    #[arg(long, value_name = "FILE")]
    package: Option<PathBuf>,
    /// The module's SHA-256 (64 hex digits, as `package` and `query-installed`
    /// print it), instead of --package.
    #[arg(long, value_name = "HEX")]
    wasm_hash: Option<String>,
    /// A signature endorsement policy, e.g. "AND('Org1MSP.peer', 'Org2MSP.peer')"
    /// or "OutOf(2, 'A.peer', 'B.peer', 'C.peer')".
    #[arg(long, value_name = "POLICY")]
    policy: Option<String>,
    /// A channel policy by name instead of --policy. Default (when neither is
    /// given): Endorsement.
    #[arg(long, value_name = "NAME")]
    channel_policy: Option<String>,
    /// Private data collections: a YAML or JSON file holding a list of {name,
    /// member_orgs, required_peer_count, block_to_live, member_only_read,
    /// member_only_write}.
    #[arg(long, value_name = "FILE")]
    collections: Option<PathBuf>,
}

/// `cellchain chaincode approve`.
#[derive(clap::Args)]
#[command(after_help = DEFINITION_EXAMPLES)]
pub struct ApproveArgs {
    #[command(flatten)]
    definition: DefinitionArgs,
    #[command(flatten)]
    client: AdminArgs,
}

/// `cellchain chaincode check-commit-readiness`.
#[derive(clap::Args)]
#[command(after_help = DEFINITION_EXAMPLES)]
pub struct ReadinessArgs {
    #[command(flatten)]
    definition: DefinitionArgs,
    /// Print the readiness as JSON: {chaincode, sequence, policy, ready,
    /// approved: [MSP], differing: {MSP: [field differences]}, missing: [MSP]}.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    client: AdminArgs,
}

/// `cellchain chaincode commit`.
#[derive(clap::Args)]
#[command(after_help = DEFINITION_EXAMPLES)]
pub struct CommitArgs {
    #[command(flatten)]
    definition: DefinitionArgs,
    #[command(flatten)]
    client: AdminArgs,
}

/// `cellchain chaincode query-committed`.
#[derive(clap::Args)]
#[command(after_help = QUERY_EXAMPLES)]
pub struct QueryCommittedArgs {
    /// Only this chaincode (exit 1 when it is not defined).
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// Print JSON: the definition with --name, else an array of definitions
    /// ({name, version, sequence, wasm_hash, endorsement_policy, collections}).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    client: AdminArgs,
}

// ---------------------------------------------------------------------------
// package

pub fn package(a: PackageArgs) -> anyhow::Result<ExitCode> {
    block_on(async move {
        let path = &a.path;
        eprintln!(
            "building {} for wasm32 (profile contract) ...",
            path.display()
        );
        let package = contracts::package(path, a.label.as_deref()).map_err(|e| {
            fail(
                format!("{e:#}").replace('\n', " "),
                "give the directory of a contract crate (`cellchain chaincode new` makes one) \
                 and a label of 1 to 64 of A-Z a-z 0-9 . _ + -",
            )
        })?;
        let output = a
            .output
            .unwrap_or_else(|| PathBuf::from(format!("{}.package.json", package.label)));
        std::fs::write(&output, package.to_bytes()).map_err(|e| {
            fail(
                format!("cannot write {}: {e}", output.display()),
                "choose another --output",
            )
        })?;
        eprintln!(
            "wrote {}: contract {} {}, module {} bytes, sha256 {}",
            output.display(),
            package.contract,
            package.contract_version,
            package.wasm.len(),
            package.wasm_sha256.to_hex()
        );
        println!("{}", package.package_id());
        Ok(ExitCode::SUCCESS)
    })
}

/// Reads and checks a package file.
fn read_package(path: &Path) -> anyhow::Result<(Vec<u8>, ChaincodePackage)> {
    let bytes = std::fs::read(path).map_err(|e| {
        fail(
            format!("cannot read package {}: {e}", path.display()),
            "give the file `cellchain chaincode package` wrote",
        )
    })?;
    let package = ChaincodePackage::from_bytes(&bytes).map_err(|e| {
        fail(
            format!("{} is not a chaincode package: {e}", path.display()),
            "write one with `cellchain chaincode package CRATE_DIR --output FILE`",
        )
    })?;
    Ok((bytes, package))
}

// ---------------------------------------------------------------------------
// install, query-installed

pub fn install(a: InstallArgs) -> anyhow::Result<ExitCode> {
    block_on(async move {
        let (bytes, package) = read_package(&a.file)?;
        let s = a.client.open()?;
        eprintln!(
            "installing {} on the endorsers of {} as {} ...",
            package.package_id(),
            s.msp_id(),
            s.user
        );
        let installed = s
            .gateway
            .install(&bytes)
            .await
            .map_err(|e| lifecycle_error(&format!("installing as {}", s.user), e, &s))?;
        if a.json {
            println!("{}", serde_json::to_string_pretty(&installed)?);
            return Ok(ExitCode::SUCCESS);
        }
        for i in &installed {
            println!(
                "{}  {}  {}",
                i.endorser,
                i.package_id,
                if i.already_installed {
                    "already installed"
                } else {
                    "installed"
                }
            );
        }
        Ok(ExitCode::SUCCESS)
    })
}

pub fn query_installed(a: QueryInstalledArgs) -> anyhow::Result<ExitCode> {
    block_on(async move {
        let s = a.client.open()?;
        let all = s.gateway.query_installed().await.map_err(|e| {
            lifecycle_error(
                &format!("listing the installed packages as {}", s.user),
                e,
                &s,
            )
        })?;
        if a.json {
            let v: Vec<_> = all
                .iter()
                .map(|(endorser, packages)| json!({"endorser": endorser, "packages": packages}))
                .collect();
            println!("{}", serde_json::to_string_pretty(&v)?);
            return Ok(ExitCode::SUCCESS);
        }
        for (endorser, packages) in &all {
            println!("{endorser}: {} package(s)", packages.len());
            for p in packages {
                println!("  {}  {} {}", p.package_id, p.contract, p.contract_version);
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

// ---------------------------------------------------------------------------
// definitions

/// A definition from the flags, all but a defaulted sequence.
struct Proposed {
    def: ChaincodeDefinition,
    sequence_given: bool,
}

/// Checks the definition flags before anything is asked of the network.
fn parse_definition(a: &DefinitionArgs) -> anyhow::Result<Proposed> {
    check_name(&a.name).map_err(|e| {
        fail(
            format!("--name: {e}"),
            "the chaincode name is the contract crate's name, e.g. patient-batch",
        )
    })?;
    let wasm_hash = match (&a.package, &a.wasm_hash) {
        (Some(file), _) => read_package(file)?.1.wasm_sha256,
        (None, Some(hex)) => Hash32::from_hex(hex.trim()).map_err(|e| {
            fail(
                format!("--wasm-hash: {e}"),
                "give the module's SHA-256 as 64 hex digits (`cellchain chaincode \
                 query-installed` lists them), or --package FILE",
            )
        })?,
        (None, None) => {
            return Err(fail(
                "the definition needs the module: give --package FILE or --wasm-hash HEX",
                "`cellchain chaincode package` writes a package file",
            ))
        }
    };
    let endorsement_policy = match (&a.policy, &a.channel_policy) {
        (Some(text), _) => {
            EndorsementPolicy::Signature(SignaturePolicy::parse(text).map_err(|e| {
                fail(
                    format!("--policy {text:?} is not a signature policy: {e}"),
                    "write it like \"AND('Org1MSP.peer', OR('Org2MSP.peer', 'Org3MSP.peer'))\" \
                     or \"OutOf(2, 'A.peer', 'B.peer', 'C.peer')\"; `cellchain policy eval` \
                     tries one",
                )
            })?)
        }
        (None, Some(name)) => EndorsementPolicy::Channel(name.clone()),
        (None, None) => EndorsementPolicy::Channel("Endorsement".into()),
    };
    let collections = match &a.collections {
        None => Vec::new(),
        Some(file) => {
            let text = std::fs::read_to_string(file).map_err(|e| {
                fail(
                    format!("cannot read --collections {}: {e}", file.display()),
                    "give a YAML or JSON file holding a list of collections",
                )
            })?;
            serde_yaml::from_str::<Vec<CollectionConfig>>(&text).map_err(|e| {
                fail(
                    format!(
                        "--collections {} is not a list of collections: {}",
                        file.display(),
                        e.to_string().replace('\n', " ")
                    ),
                    "each item has name and member_orgs, and may have required_peer_count, \
                     block_to_live, member_only_read, member_only_write",
                )
            })?
        }
    };
    Ok(Proposed {
        def: ChaincodeDefinition {
            name: a.name.clone(),
            version: a.version.clone(),
            sequence: a.sequence.unwrap_or(0),
            wasm_hash,
            endorsement_policy,
            collections,
        },
        sequence_given: a.sequence.is_some(),
    })
}

/// The definition with its sequence: as given, else the committed one + 1.
async fn resolve(p: Proposed, s: &Session) -> anyhow::Result<ChaincodeDefinition> {
    let mut def = p.def;
    if !p.sequence_given {
        let committed = s
            .network()
            .lifecycle()
            .query_committed(&def.name)
            .await
            .map_err(|e| {
                lifecycle_error(
                    &format!("reading the committed definition of {}", def.name),
                    e,
                    s,
                )
            })?;
        def.sequence = committed.map_or(1, |c| c.sequence + 1);
        eprintln!(
            "sequence {} (the committed sequence + 1; give --sequence to choose)",
            def.sequence
        );
    }
    Ok(def)
}

fn describe(def: &ChaincodeDefinition) -> String {
    format!(
        "{} version {} sequence {}",
        def.name, def.version, def.sequence
    )
}

pub fn approve(a: ApproveArgs) -> anyhow::Result<ExitCode> {
    block_on(async move {
        let proposed = parse_definition(&a.definition)?;
        let s = a.client.open()?;
        let def = resolve(proposed, &s).await?;
        eprintln!(
            "approving {} for {} on channel {} as {} ...",
            describe(&def),
            s.msp_id(),
            s.channel,
            s.user
        );
        let done = s
            .network()
            .lifecycle()
            .approve(&def)
            .await
            .map_err(|e| lifecycle_error(&format!("approving {}", describe(&def)), e, &s))?;
        println!(
            "approved {} (wasm {}) for {} on channel {}: block {}, tx {}",
            describe(&def),
            def.wasm_hash.to_hex(),
            s.msp_id(),
            s.channel,
            done.block,
            done.tx_id
        );
        Ok(ExitCode::SUCCESS)
    })
}

pub fn readiness(a: ReadinessArgs) -> anyhow::Result<ExitCode> {
    block_on(async move {
        let proposed = parse_definition(&a.definition)?;
        let s = a.client.open()?;
        let def = resolve(proposed, &s).await?;
        let r = s
            .network()
            .lifecycle()
            .check_commit_readiness(&def)
            .await
            .map_err(|e| {
                lifecycle_error(
                    &format!("checking the readiness of {}", describe(&def)),
                    e,
                    &s,
                )
            })?;
        if a.json {
            println!("{}", serde_json::to_string_pretty(&r)?);
        } else {
            print_readiness(&def, &s.channel, &r);
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn print_readiness(def: &ChaincodeDefinition, channel: &str, r: &Readiness) {
    println!("{} on channel {channel}", describe(def));
    let width = r
        .approved
        .iter()
        .chain(r.differing.keys())
        .chain(&r.missing)
        .map(String::len)
        .max()
        .unwrap_or(0);
    for org in &r.approved {
        println!("  {org:<width$}  approved");
    }
    for (org, fields) in &r.differing {
        println!("  {org:<width$}  differs: {}", fields.join("; "));
    }
    for org in &r.missing {
        println!("  {org:<width$}  missing");
    }
    println!(
        "LifecycleEndorsement ({}): {}",
        r.policy,
        if r.ready {
            "met: ready to commit"
        } else {
            "not met: not ready to commit"
        }
    );
}

pub fn commit(a: CommitArgs) -> anyhow::Result<ExitCode> {
    block_on(async move {
        let proposed = parse_definition(&a.definition)?;
        let s = a.client.open()?;
        let def = resolve(proposed, &s).await?;
        eprintln!(
            "committing {} on channel {} as {} ...",
            describe(&def),
            s.channel,
            s.user
        );
        let done = s
            .network()
            .lifecycle()
            .commit(&def)
            .await
            .map_err(|e| lifecycle_error(&format!("committing {}", describe(&def)), e, &s))?;
        println!(
            "committed {} on channel {}: block {}, tx {}",
            describe(&def),
            s.channel,
            done.block,
            done.tx_id
        );
        Ok(ExitCode::SUCCESS)
    })
}

pub fn query_committed(a: QueryCommittedArgs) -> anyhow::Result<ExitCode> {
    block_on(async move {
        let s = a.client.open()?;
        let lifecycle = s.network().lifecycle();
        let doing = "querying the committed chaincode definitions";
        let defs = match &a.name {
            Some(name) => match lifecycle
                .query_committed(name)
                .await
                .map_err(|e| lifecycle_error(doing, e, &s))?
            {
                Some(def) => {
                    if a.json {
                        println!("{}", serde_json::to_string_pretty(&def)?);
                        return Ok(ExitCode::SUCCESS);
                    }
                    vec![def]
                }
                None => {
                    return Err(fail(
                        format!("chaincode {name} is not defined on channel {}", s.channel),
                        format!(
                            "`cellchain chaincode query-committed --dir {}` lists the chaincodes \
                             that are",
                            s.dir.display()
                        ),
                    ))
                }
            },
            None => lifecycle
                .query_committed_all()
                .await
                .map_err(|e| lifecycle_error(doing, e, &s))?,
        };
        if a.json {
            println!("{}", serde_json::to_string_pretty(&defs)?);
            return Ok(ExitCode::SUCCESS);
        }
        if defs.is_empty() {
            println!("no chaincode is defined on channel {}", s.channel);
            return Ok(ExitCode::SUCCESS);
        }
        for d in &defs {
            println!("{}", describe(d));
            println!("  wasm_hash    {}", d.wasm_hash.to_hex());
            println!("  endorsement  {}", policy_text(&d.endorsement_policy));
            for c in &d.collections {
                println!(
                    "  collection   {} (members {}; block_to_live {})",
                    c.name,
                    c.member_orgs.join(", "),
                    c.block_to_live
                );
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn policy_text(p: &EndorsementPolicy) -> String {
    match p {
        EndorsementPolicy::Signature(s) => s.to_string(),
        EndorsementPolicy::Channel(c) => format!("channel policy {c}"),
    }
}

/// An SDK error of a lifecycle command, with a hint fitting the lifecycle.
fn lifecycle_error(doing: &str, e: SdkError, s: &Session) -> anyhow::Error {
    let d = s.dir.display();
    match &e {
        SdkError::NotReady(r) => fail(r.to_string(), NOT_READY_HINT),
        SdkError::Chaincode {
            status: 403,
            message,
            ..
        } => fail(
            format!("{doing}: {message}"),
            format!(
                "lifecycle changes are made by an organisation's admin: give --user MSP/admin \
                 (the users are the directories {d}/crypto/<MSP>/users/<USER>)"
            ),
        ),
        SdkError::Chaincode {
            status, message, ..
        } => {
            let hint = if message.contains("LifecycleEndorsement") {
                NOT_READY_HINT.to_string()
            } else if message.contains("sequence") {
                format!(
                    "`cellchain chaincode query-committed --dir {d}` shows the committed \
                     sequence; the next definition has that sequence + 1"
                )
            } else {
                "check the definition's flags (`cellchain chaincode approve --help`)".to_string()
            };
            fail(format!("{doing}: status {status}: {message}"), hint)
        }
        SdkError::Rejected { kind, .. } if kind == "bad_package" => fail(
            format!("{doing}: {e}"),
            "the endorser cannot run the package's module: fix the contract and package it \
             again with `cellchain chaincode package`",
        ),
        SdkError::Rejected { status: 413, .. } => fail(
            format!("{doing}: {e}"),
            "the package is over the endorsers' 16 MiB limit: make the contract smaller",
        ),
        SdkError::Rejected { status: 401, .. } | SdkError::Rejected { status: 403, .. } => fail(
            format!("{doing}: {e}"),
            "installing needs an admin of the endorsers' organisation: give --user MSP/admin",
        ),
        _ => sdk(doing, e, &s.dir),
    }
}
