//! The contracts a network runs: built to wasm, copied to `DIR/chaincode`, and
//! defined in `DIR/definitions.yaml` (the format of
//! `cellchain_validation::parse_definitions`).
//!
//! By default the three therapy contracts (`chaincode/contracts/patient-batch`,
//! `release`, `data-sharing`) are deployed on the first channel of the topology
//! (the consortium channel, `atmp` in `channel-configs/atmp-network.yaml`). The
//! chaincode name is the crate's package name; every definition has version
//! `1.0` and sequence 1. Endorsement policies, over the channel's writing
//! (not read-only) members:
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

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use cellchain_core::config::NetworkConfig;
use serde::Serialize;

/// The contracts deployed when `--contracts` is not given, relative to the
/// workspace root.
pub const DEFAULT_CONTRACTS: [&str; 3] = [
    "chaincode/contracts/patient-batch",
    "chaincode/contracts/release",
    "chaincode/contracts/data-sharing",
];

/// A contract ready to install.
#[derive(Debug, Clone)]
pub struct Contract {
    /// The chaincode name (the package name).
    pub name: String,
    /// `DIR/chaincode/<name>.wasm`.
    pub wasm: PathBuf,
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

/// Builds each contract crate (cargo rebuilds only what changed) and copies its
/// module to `DIR/chaincode/<name>.wasm` when it differs.
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
        let built = cellchain_chaincode_build::build_contract(&crate_dir)
            .with_context(|| format!("building contract {}", crate_dir.display()))?;
        let wasm = out_dir.join(format!("{}.wasm", built.package));
        if fs::read(&wasm).ok().as_deref() != Some(&built.wasm[..]) {
            fs::write(&wasm, &built.wasm)
                .with_context(|| format!("cannot write {}", wasm.display()))?;
        }
        eprintln!("{} (sha256 {})", wasm.display(), built.sha256.to_hex());
        if out.iter().any(|o: &Contract| o.name == built.package) {
            bail!("contract {} is listed twice", built.package);
        }
        out.push(Contract {
            name: built.package,
            wasm,
        });
    }
    Ok(out)
}

#[derive(Serialize)]
struct DefinitionsFile {
    channels: BTreeMap<String, Vec<Definition>>,
}

#[derive(Serialize)]
struct Definition {
    name: String,
    version: String,
    sequence: u64,
    endorsement_policy: BTreeMap<&'static str, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    collections: Vec<Collection>,
}

#[derive(Serialize)]
struct Collection {
    name: String,
    member_orgs: Vec<String>,
    required_peer_count: u32,
    block_to_live: u64,
}

/// The definitions file text for `contracts` on `channels`, and the signature
/// policy of each contract on the first of them (for the connection profile;
/// contracts under a channel policy are left out).
pub fn definitions_yaml(
    net: &NetworkConfig,
    contracts: &[Contract],
    channels: &[String],
) -> anyhow::Result<(String, Vec<(String, String)>)> {
    let mut policies = Vec::new();
    let mut file = DefinitionsFile {
        channels: BTreeMap::new(),
    };
    for ch in channels {
        let Some(def) = net.channel(ch) else {
            bail!("channel {ch} is not in the topology");
        };
        let writers: Vec<String> = def
            .organizations
            .iter()
            .filter(|o| net.organization(o).is_some_and(|o| !o.read_only))
            .cloned()
            .collect();
        let defs: Vec<Definition> = contracts
            .iter()
            .map(|c| definition(&c.name, &writers))
            .collect();
        if policies.is_empty() {
            policies = defs
                .iter()
                .filter_map(|d| {
                    let p = d.endorsement_policy.get("signature")?;
                    Some((d.name.clone(), p.clone()))
                })
                .collect();
        }
        file.channels.insert(ch.clone(), defs);
    }
    let header = "# Written by `cellchain network up` on every start; edits are overwritten.\n";
    Ok((
        format!("{header}{}", serde_yaml::to_string(&file)?),
        policies,
    ))
}

fn definition(name: &str, writers: &[String]) -> Definition {
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
    let signature = |p: String| BTreeMap::from([("signature", p)]);
    let (policy, collections) = match name {
        _ if writers.is_empty() => (
            BTreeMap::from([("channel", "Endorsement".to_string())]),
            vec![],
        ),
        "patient-batch" => (signature(two_of_writers()), vec![]),
        "release" => {
            let both = ["CdmoMSP", "SponsorMSP"];
            if both.iter().all(|m| writers.iter().any(|w| w == m)) {
                (
                    signature("AND('CdmoMSP.peer', 'SponsorMSP.peer')".into()),
                    vec![],
                )
            } else {
                (signature(two_of_writers()), vec![])
            }
        }
        "data-sharing" => (
            signature(two_of_writers()),
            sites(writers)
                .into_iter()
                .map(|w| Collection {
                    name: format!("patient-links-{w}"),
                    member_orgs: vec![w.clone()],
                    required_peer_count: 0,
                    block_to_live: 0,
                })
                .collect(),
        ),
        _ => (
            BTreeMap::from([("channel", "Endorsement".to_string())]),
            vec![],
        ),
    };
    Definition {
        name: name.to_string(),
        version: "1.0".into(),
        sequence: 1,
        endorsement_policy: policy,
        collections,
    }
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
    use cellchain_core::policy::SignaturePolicy;

    #[test]
    fn therapy_policies_parse_and_collections_are_per_writer() {
        let writers: Vec<String> = ["HospitalAMSP", "HospitalBMSP", "CdmoMSP", "SponsorMSP"]
            .map(String::from)
            .to_vec();
        for name in ["patient-batch", "release", "data-sharing"] {
            let d = definition(name, &writers);
            let p = &d.endorsement_policy["signature"];
            SignaturePolicy::parse(p).unwrap_or_else(|e| panic!("{name}: {p}: {e}"));
        }
        assert_eq!(
            definition("release", &writers).endorsement_policy["signature"],
            "AND('CdmoMSP.peer', 'SponsorMSP.peer')"
        );
        let ds = definition("data-sharing", &writers);
        assert_eq!(ds.collections.len(), 2);
        assert_eq!(ds.collections[1].name, "patient-links-HospitalBMSP");
        assert_eq!(ds.collections[0].name, "patient-links-HospitalAMSP");
        assert_eq!(ds.collections[0].member_orgs, ["HospitalAMSP"]);
        let other = definition("test-kitchen-sink", &writers);
        assert_eq!(other.endorsement_policy["channel"], "Endorsement");
        let plain = ["Org1MSP".to_string(), "Org2MSP".to_string()];
        assert_eq!(definition("data-sharing", &plain).collections.len(), 2);
        let one = definition("patient-batch", &writers[..1]);
        assert_eq!(
            one.endorsement_policy["signature"],
            "OR('HospitalAMSP.peer')"
        );
    }
}
