//! The contracts a network runs: built to wasm, packaged to
//! `DIR/chaincode/<name>.package.json` (a [`ChaincodePackage`]), and the
//! definition each gets on a channel (deployed through the lifecycle by
//! [`super::deploy`]).
//!
//! By default the three therapy contracts (`chaincode/contracts/patient-batch`,
//! `release`, `data-sharing`) are deployed on the first channel of the topology
//! (the consortium channel, `atmp` in `channel-configs/atmp-network.yaml`). The
//! chaincode name is the crate's package name, the definition's version the
//! crate's version, and its package label `NAME_VERSION`. Endorsement policies,
//! over the channel's writing (not read-only) members:
//!
//! - `patient-batch`: `OutOf(2, <each writer>.peer)`: a custody or identity event
//!   is attested by two organisations, never one alone;
//! - `release`: `AND('CdmoMSP.peer', 'SponsorMSP.peer')` when both are members
//!   (the manufacturer and the sponsor's QA/QP: the policy the contract itself
//!   puts on each batch's keys), else like patient-batch;
//! - `data-sharing`: `OutOf(2, <each writer>.peer)`, with one private collection
//!   `patient-links-<MSPID>` per treating site (member: that organisation only,
//!   `block_to_live: 0`: the links live as long as the patient's record). The
//!   sites are the writing members whose MSP id contains `Hospital` (any case),
//!   or every writing member when none does;
//! - any other contract: the channel's `Endorsement` policy.
//!
//! With a single writing member, `OutOf(2, ...)` becomes `OR(...)`.
//!
//! An explicit policy per contract overrides these rules:
//! `DIR/chaincode/policies.json`, `{"<name>": "<policy>"}` (written by
//! `cellchain bench` from its workload's `chaincode.policy`; see
//! [`set_policy_override`]). A committed definition whose policy differs from
//! its override is upgraded with the next sequence.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};
use cellchain_core::lifecycle::{ChaincodePackage, CollectionConfig, EndorsementPolicy};
use cellchain_core::policy::SignaturePolicy;

/// The contracts deployed when `--contracts` is not given, relative to the
/// workspace root.
pub const DEFAULT_CONTRACTS: [&str; 3] = [
    "chaincode/contracts/patient-batch",
    "chaincode/contracts/release",
    "chaincode/contracts/data-sharing",
];

/// A contract built and packaged, ready to install.
#[derive(Debug, Clone)]
pub struct Contract {
    /// The chaincode name (the crate's package name).
    pub name: String,
    /// The crate's version: the definition's version.
    pub version: String,
    /// The package (label `NAME_VERSION`).
    pub package: ChaincodePackage,
    /// The package file's bytes (`DIR/chaincode/<name>.package.json`), as installed.
    pub package_bytes: Vec<u8>,
}

/// The Cargo workspace root: the first ancestor of `start` whose Cargo.toml has
/// a `[workspace]` table.
pub fn workspace_root(start: &Path) -> Option<PathBuf> {
    let start = fs::canonicalize(start).ok()?;
    start
        .ancestors()
        .find(|d| fs::read_to_string(d.join("Cargo.toml")).is_ok_and(|t| t.contains("[workspace]")))
        .map(Path::to_path_buf)
}

/// The package name and version of the crate in `crate_dir` (`cargo metadata`,
/// so that `version.workspace = true` is resolved).
pub fn crate_name_version(crate_dir: &Path) -> anyhow::Result<(String, String)> {
    let manifest = crate_dir.join("Cargo.toml");
    if !manifest.is_file() {
        bail!(
            "no Cargo.toml in {}: give the directory of a contract crate",
            crate_dir.display()
        );
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--manifest-path",
        ])
        .arg(&manifest)
        .output()
        .context("could not run cargo metadata")?;
    if !out.status.success() {
        bail!(
            "cargo metadata failed for {}: {}",
            manifest.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let meta: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("cargo metadata printed no JSON")?;
    let manifest_abs = fs::canonicalize(&manifest)?;
    let package = meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["manifest_path"].as_str().map(Path::new) == Some(manifest_abs.as_path()))
        .with_context(|| format!("{} is not a package of its workspace", manifest.display()))?;
    let name = package["name"].as_str().unwrap_or_default().to_string();
    let version = package["version"].as_str().unwrap_or_default().to_string();
    Ok((name, version))
}

/// The default package label of a crate: `NAME_VERSION`.
pub fn default_label(name: &str, version: &str) -> String {
    format!("{name}_{version}")
}

/// Builds the contract crate in `crate_dir` and packages its module.
pub fn package(crate_dir: &Path, label: Option<&str>) -> anyhow::Result<ChaincodePackage> {
    let built = cellchain_chaincode_build::build_contract(crate_dir)
        .with_context(|| format!("building contract {}", crate_dir.display()))?;
    let (_, version) = crate_name_version(crate_dir)?;
    let label = label.map_or_else(|| default_label(&built.package, &version), String::from);
    ChaincodePackage::new(label, &built.package, &version, built.wasm)
        .map_err(|e| anyhow::anyhow!("cannot package {}: {e}", built.package))
}

/// Builds each contract crate (cargo rebuilds only what changed), packages it
/// and writes `DIR/chaincode/<name>.package.json` when it differs.
pub fn build(
    crates: &[String],
    workspace: Option<&Path>,
    dir: &Path,
) -> anyhow::Result<Vec<Contract>> {
    let out_dir = dir.join("chaincode");
    fs::create_dir_all(&out_dir).with_context(|| format!("cannot create {}", out_dir.display()))?;
    let mut out = Vec::new();
    for c in crates {
        let path = Path::new(c);
        let crate_dir = if path.is_absolute() {
            path.to_path_buf()
        } else {
            match workspace {
                Some(w) => w.join(path),
                None => bail!(
                    "cannot find the CellChain workspace to build contract {c} in: run from \
                     inside it, or give the contract's absolute path with --contracts"
                ),
            }
        };
        eprint!("building contract {c} ... ");
        let package = package(&crate_dir, None)?;
        let name = package.contract.clone();
        let file = out_dir.join(format!("{name}.package.json"));
        let bytes = package.to_bytes();
        if fs::read(&file).ok().as_deref() != Some(&bytes[..]) {
            fs::write(&file, &bytes).with_context(|| format!("cannot write {}", file.display()))?;
        }
        eprintln!("{} (package {})", file.display(), package.package_id());
        if out.iter().any(|o: &Contract| o.name == name) {
            bail!("contract {name} is listed twice");
        }
        out.push(Contract {
            name,
            version: package.contract_version.clone(),
            package,
            package_bytes: bytes,
        });
    }
    Ok(out)
}

/// Where the explicit endorsement policies are, relative to DIR.
pub const POLICIES_FILE: &str = "chaincode/policies.json";

/// The explicit endorsement policies of DIR (contract name -> policy text);
/// empty when there is no `DIR/chaincode/policies.json`.
pub fn policy_overrides(dir: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    let path = dir.join(POLICIES_FILE);
    match fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is not a JSON object of contract name to policy",
                path.display()
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Records `policy` as contract `name`'s explicit endorsement policy in DIR
/// (checked to parse first); the next deploy uses it.
pub fn set_policy_override(dir: &Path, name: &str, policy: &str) -> anyhow::Result<()> {
    SignaturePolicy::parse(policy)
        .map_err(|e| anyhow::anyhow!("policy {policy} of contract {name}: {e}"))?;
    let mut all = policy_overrides(dir)?;
    if all.get(name).map(String::as_str) == Some(policy) {
        return Ok(());
    }
    all.insert(name.to_string(), policy.to_string());
    let path = dir.join(POLICIES_FILE);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    fs::write(&path, serde_json::to_string_pretty(&all)? + "\n")
        .with_context(|| format!("cannot write {}", path.display()))
}

/// The policy of contract `name`: its explicit override when `overrides` has
/// one, else [`definition_policy`]'s; and whether it was overridden.
pub fn policy_with_override(
    name: &str,
    writers: &[String],
    overrides: &BTreeMap<String, String>,
) -> anyhow::Result<(EndorsementPolicy, Vec<CollectionConfig>, bool)> {
    let (policy, collections) = definition_policy(name, writers)?;
    match overrides.get(name) {
        Some(p) => {
            let parsed = SignaturePolicy::parse(p)
                .map_err(|e| anyhow::anyhow!("policy {p} of contract {name}: {e}"))?;
            Ok((EndorsementPolicy::Signature(parsed), collections, true))
        }
        None => Ok((policy, collections, false)),
    }
}

/// The endorsement policy and collections of contract `name` on a channel
/// whose writing members are `writers` (rules in the module documentation).
pub fn definition_policy(
    name: &str,
    writers: &[String],
) -> anyhow::Result<(EndorsementPolicy, Vec<CollectionConfig>)> {
    let peers = |orgs: &[String]| {
        orgs.iter()
            .map(|o| format!("'{o}.peer'"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let two_of_writers = || {
        if writers.len() >= 2 {
            format!("OutOf(2, {})", peers(writers))
        } else {
            format!("OR({})", peers(writers))
        }
    };
    let channel = || EndorsementPolicy::Channel("Endorsement".into());
    let signature = |p: String| -> anyhow::Result<EndorsementPolicy> {
        let parsed = SignaturePolicy::parse(&p)
            .map_err(|e| anyhow::anyhow!("policy {p} of contract {name}: {e}"))?;
        Ok(EndorsementPolicy::Signature(parsed))
    };
    Ok(match name {
        _ if writers.is_empty() => (channel(), vec![]),
        "patient-batch" => (signature(two_of_writers())?, vec![]),
        "release" => {
            let both = ["CdmoMSP", "SponsorMSP"];
            if both.iter().all(|m| writers.iter().any(|w| w == m)) {
                (
                    signature("AND('CdmoMSP.peer', 'SponsorMSP.peer')".into())?,
                    vec![],
                )
            } else {
                (signature(two_of_writers())?, vec![])
            }
        }
        "data-sharing" => (
            signature(two_of_writers())?,
            sites(writers)
                .into_iter()
                .map(|w| CollectionConfig {
                    name: format!("patient-links-{w}"),
                    member_orgs: vec![w.clone()],
                    required_peer_count: 0,
                    block_to_live: 0,
                    member_only_read: true,
                    member_only_write: true,
                })
                .collect(),
        ),
        _ => (channel(), vec![]),
    })
}

/// The treating sites among `writers`: those named like a hospital, else all.
fn sites(writers: &[String]) -> Vec<&String> {
    let hospitals: Vec<&String> = writers
        .iter()
        .filter(|w| w.to_ascii_lowercase().contains("hospital"))
        .collect();
    if hospitals.is_empty() {
        writers.iter().collect()
    } else {
        hospitals
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn therapy_policies_parse_and_collections_are_per_writer() {
        let writers: Vec<String> = ["HospitalAMSP", "HospitalBMSP", "CdmoMSP", "SponsorMSP"]
            .map(String::from)
            .to_vec();
        for name in ["patient-batch", "release", "data-sharing"] {
            let (p, _) = definition_policy(name, &writers).unwrap();
            assert!(matches!(p, EndorsementPolicy::Signature(_)), "{name}");
        }
        let (release, _) = definition_policy("release", &writers).unwrap();
        assert_eq!(
            release,
            EndorsementPolicy::Signature(
                SignaturePolicy::parse("AND('CdmoMSP.peer', 'SponsorMSP.peer')").unwrap()
            )
        );
        let (_, colls) = definition_policy("data-sharing", &writers).unwrap();
        assert_eq!(colls.len(), 2);
        assert_eq!(colls[0].name, "patient-links-HospitalAMSP");
        assert_eq!(colls[1].name, "patient-links-HospitalBMSP");
        assert_eq!(colls[0].member_orgs, ["HospitalAMSP"]);
        let (other, _) = definition_policy("test-kitchen-sink", &writers).unwrap();
        assert_eq!(other, EndorsementPolicy::Channel("Endorsement".into()));
        let plain = ["Org1MSP".to_string(), "Org2MSP".to_string()];
        assert_eq!(
            definition_policy("data-sharing", &plain).unwrap().1.len(),
            2
        );
        let (one, _) = definition_policy("patient-batch", &writers[..1]).unwrap();
        assert_eq!(
            one,
            EndorsementPolicy::Signature(
                SignaturePolicy::parse("OR('HospitalAMSP.peer')").unwrap()
            )
        );
    }
}
