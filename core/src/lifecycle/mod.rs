//! The chaincode lifecycle, per channel, as pure rules.
//!
//! 1. **Package**: a contract's wasm module with a label ([`ChaincodePackage`]).
//! 2. **Install**: an organisation's admin uploads the package to its endorsers
//!    ([`SignedInstall`]); installing changes nothing on the ledger.
//! 3. **Approve**: each organisation's admin approves a [`ChaincodeDefinition`]
//!    (name, version, sequence, wasm hash, endorsement policy, collections) in a
//!    transaction of the built-in `_lifecycle` chaincode endorsed by its own peer.
//!    The approval is the key `approval/NAME/MSPID` of the [`LIFECYCLE`] namespace.
//! 4. **Commit**: a `_lifecycle` transaction writes `definition/NAME`. Each
//!    endorser refuses to endorse it unless its own organisation approved that
//!    exact definition and the approvals on the ledger satisfy the channel's
//!    `LifecycleEndorsement` policy ([`readiness`]); validation then requires the
//!    commit's endorsements to satisfy that policy, and the reads of the approval
//!    keys make a commit raced by a changed approval an MVCC conflict.
//!
//! An upgrade is the same with the next sequence. From the block after the commit,
//! validation refuses transactions endorsed under the old (version, sequence).
//!
//! Approvals are public state of the channel: every member can see who approved
//! what, which is what lets a failed commit name the organisations and the fields
//! that differ ([`differences`]).

mod definition;
mod package;

pub use definition::{ChaincodeDefinition, CollectionConfig, EndorsementPolicy};
pub use package::{ChaincodePackage, InstallRequest, SignedInstall, PACKAGE_FORMAT};

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::bytes::Hash32;
use crate::config::ChannelConfig;
use crate::identity::Role;
use crate::policy::SignerRef;

/// The built-in lifecycle chaincode and its state namespace.
pub const LIFECYCLE: &str = "_lifecycle";
/// The version and sequence endorsers report for `_lifecycle` itself.
pub const LIFECYCLE_VERSION: &str = "builtin";
pub const LIFECYCLE_SEQUENCE: u64 = 1;
/// The channel policy that approvals and commits must satisfy.
pub const LIFECYCLE_POLICY: &str = "LifecycleEndorsement";

/// The functions of `_lifecycle`. Arguments are JSON values, as for contracts.
pub mod functions {
    /// `approve(definition)`: the caller's organisation approves the definition.
    pub const APPROVE: &str = "approve";
    /// `commit(definition)`: the definition comes into force.
    pub const COMMIT: &str = "commit";
    /// `check_commit_readiness(definition)`: a [`super::Readiness`] (read only).
    pub const CHECK_COMMIT_READINESS: &str = "check_commit_readiness";
    /// `query_committed(name?)`: one definition, or all (read only).
    pub const QUERY_COMMITTED: &str = "query_committed";
    /// `query_approved(name)`: each organisation's approval of `name` (read only).
    pub const QUERY_APPROVED: &str = "query_approved";
}

/// The definition `_lifecycle` runs under: its transactions are endorsed per
/// key (see [`key_policy`]) and otherwise under `LifecycleEndorsement`.
pub fn builtin_definition() -> ChaincodeDefinition {
    ChaincodeDefinition {
        name: LIFECYCLE.into(),
        version: LIFECYCLE_VERSION.into(),
        sequence: LIFECYCLE_SEQUENCE,
        wasm_hash: Hash32([0; 32]),
        endorsement_policy: EndorsementPolicy::Channel(LIFECYCLE_POLICY.into()),
        collections: Vec::new(),
    }
}

/// A key of the [`LIFECYCLE`] namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LifecycleKey<'a> {
    /// `definition/NAME`: the committed definition.
    Definition { chaincode: &'a str },
    /// `approval/NAME/MSPID`: what that organisation approved last.
    Approval { chaincode: &'a str, org: &'a str },
}

impl<'a> LifecycleKey<'a> {
    pub fn parse(key: &'a str) -> Option<LifecycleKey<'a>> {
        let mut parts = key.split('/');
        let key = match (parts.next()?, parts.next()?, parts.next()) {
            ("definition", chaincode, None) => LifecycleKey::Definition { chaincode },
            ("approval", chaincode, Some(org)) if !org.is_empty() => {
                LifecycleKey::Approval { chaincode, org }
            }
            _ => return None,
        };
        if parts.next().is_some() || check_name(key.chaincode()).is_err() {
            return None;
        }
        Some(key)
    }

    pub fn chaincode(&self) -> &'a str {
        match self {
            LifecycleKey::Definition { chaincode } | LifecycleKey::Approval { chaincode, .. } => {
                chaincode
            }
        }
    }
}

pub fn definition_key(chaincode: &str) -> String {
    format!("definition/{chaincode}")
}

pub fn approval_key(chaincode: &str, org: &str) -> String {
    format!("approval/{chaincode}/{org}")
}

/// The prefix of every committed definition, for range reads.
pub const DEFINITION_PREFIX: &str = "definition/";

/// The policy of a written `_lifecycle` key that validation applies instead of
/// the built-in definition's: an approval of organisation X needs X's peer.
/// `None`: `LifecycleEndorsement`.
pub fn key_policy(key: &str) -> Option<String> {
    match LifecycleKey::parse(key)? {
        LifecycleKey::Approval { org, .. } => Some(format!("'{org}.peer'")),
        LifecycleKey::Definition { .. } => None,
    }
}

/// The stored form of a definition (an approval stores the approved definition).
pub fn encode_definition(def: &ChaincodeDefinition) -> Vec<u8> {
    serde_json::to_vec(def).expect("definitions always serialise")
}

pub fn decode_definition(bytes: &[u8]) -> Result<ChaincodeDefinition, String> {
    serde_json::from_slice(bytes).map_err(|e| e.to_string())
}

/// Chaincode names: 1 to 64 of `a-z 0-9 - _`, starting with a letter or digit
/// (names starting with `_` are reserved for built-in chaincode).
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && !name.starts_with(['_', '-']);
    if ok {
        Ok(())
    } else {
        Err(format!(
            "chaincode name {name:?} is not valid: 1 to 64 of a-z, 0-9, '-' and '_', starting with a letter or digit"
        ))
    }
}

/// Collection names, as Fabric's: upper case is allowed (contracts name
/// per-organisation collections after MSP ids, e.g. `patient-links-HospitalAMSP`).
fn collection_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && name.as_bytes()[0].is_ascii_alphanumeric()
}

/// Why a definition cannot be approved or committed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LifecycleError {
    #[error("{0}")]
    InvalidDefinition(String),
    #[error("chaincode {name} is at sequence {committed} on this channel; the next definition must have sequence {next}, not {proposed}")]
    WrongSequence {
        name: String,
        committed: u64,
        next: u64,
        proposed: u64,
    },
}

/// Checks a definition on its own and against the committed one: a valid name,
/// version, policy and collections, and the next sequence (committed + 1, or 1).
pub fn check_definition(
    channel: &ChannelConfig,
    committed: Option<&ChaincodeDefinition>,
    def: &ChaincodeDefinition,
) -> Result<(), LifecycleError> {
    let invalid = |m: String| Err(LifecycleError::InvalidDefinition(m));
    check_name(&def.name).map_err(LifecycleError::InvalidDefinition)?;
    if def.version.is_empty() || def.version.len() > 64 || def.version.contains(['/', ' ']) {
        return invalid(format!(
            "chaincode {} version {:?} is not valid: 1 to 64 characters, no '/' or space",
            def.name, def.version
        ));
    }
    match &def.endorsement_policy {
        EndorsementPolicy::Signature(p) => {
            if let Err(e) = p.check_organizations(|org| channel.organization(org).is_some()) {
                return invalid(format!("chaincode {} endorsement policy: {e}", def.name));
            }
        }
        EndorsementPolicy::Channel(name) => {
            if channel.policies.get(name).is_none() {
                return invalid(format!(
                    "chaincode {} endorsement policy names channel policy {name:?}, which channel {} does not have",
                    def.name, channel.channel_id
                ));
            }
        }
    }
    let mut names = std::collections::BTreeSet::new();
    for c in &def.collections {
        if !collection_name_ok(&c.name) || !names.insert(c.name.as_str()) {
            return invalid(format!(
                "chaincode {} collection {:?}: names must be distinct, 1 to 64 of A-Z, a-z, 0-9, '-' and '_', starting with a letter or digit",
                def.name, c.name
            ));
        }
        if c.member_orgs.is_empty() {
            return invalid(format!(
                "chaincode {} collection {} has no member organisations",
                def.name, c.name
            ));
        }
        if let Some(org) = c
            .member_orgs
            .iter()
            .find(|o| channel.organization(o).is_none())
        {
            return invalid(format!(
                "chaincode {} collection {} names {org}, which is not a member of channel {}",
                def.name, c.name, channel.channel_id
            ));
        }
    }
    let current = committed.map_or(0, |c| c.sequence);
    if def.sequence != current + 1 {
        return Err(LifecycleError::WrongSequence {
            name: def.name.clone(),
            committed: current,
            next: current + 1,
            proposed: def.sequence,
        });
    }
    Ok(())
}

/// Each field that differs between an approved definition and a proposed one,
/// as `field: approved X, proposed Y`.
pub fn differences(approved: &ChaincodeDefinition, proposed: &ChaincodeDefinition) -> Vec<String> {
    let mut out = Vec::new();
    let mut field = |name: &str, a: String, p: String| {
        if a != p {
            out.push(format!("{name}: approved {a}, proposed {p}"));
        }
    };
    field(
        "sequence",
        approved.sequence.to_string(),
        proposed.sequence.to_string(),
    );
    field(
        "version",
        approved.version.clone(),
        proposed.version.clone(),
    );
    field(
        "wasm_hash",
        approved.wasm_hash.to_hex(),
        proposed.wasm_hash.to_hex(),
    );
    field(
        "endorsement_policy",
        policy_text(&approved.endorsement_policy),
        policy_text(&proposed.endorsement_policy),
    );
    field(
        "collections",
        serde_json::to_string(&approved.collections).unwrap_or_default(),
        serde_json::to_string(&proposed.collections).unwrap_or_default(),
    );
    out
}

fn policy_text(p: &EndorsementPolicy) -> String {
    match p {
        EndorsementPolicy::Signature(s) => format!("signature {s}"),
        EndorsementPolicy::Channel(c) => format!("channel {c}"),
    }
}

/// Where the approvals of a definition stand against the channel's
/// `LifecycleEndorsement` policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Readiness {
    pub chaincode: String,
    pub sequence: u64,
    /// The policy text, e.g. `MAJORITY Endorsement`.
    pub policy: String,
    /// Whether the organisations in `approved` satisfy it.
    pub ready: bool,
    /// Organisations that approved exactly this definition.
    pub approved: Vec<String>,
    /// Organisations that approved something else, with each differing field.
    pub differing: BTreeMap<String, Vec<String>>,
    /// Endorsing organisations that approved nothing of this sequence.
    pub missing: Vec<String>,
}

impl std::fmt::Display for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "chaincode {} sequence {}: approvals {} the channel's LifecycleEndorsement policy ({}); approved: {}",
            self.chaincode,
            self.sequence,
            if self.ready { "satisfy" } else { "do not satisfy" },
            self.policy,
            list(&self.approved)
        )?;
        for (org, diffs) in &self.differing {
            write!(
                f,
                "; {org} approved a different definition ({})",
                diffs.join("; ")
            )?;
        }
        if !self.missing.is_empty() {
            write!(f, "; not approved by: {}", list(&self.missing))?;
        }
        Ok(())
    }
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

/// The readiness of `proposed` given each organisation's current approval
/// (`approvals`: MSP id → the definition it approved last, any sequence).
/// Approving organisations count as their peers against `LifecycleEndorsement`.
pub fn readiness(
    channel: &ChannelConfig,
    proposed: &ChaincodeDefinition,
    approvals: &BTreeMap<String, ChaincodeDefinition>,
) -> Readiness {
    let mut r = Readiness {
        chaincode: proposed.name.clone(),
        sequence: proposed.sequence,
        policy: channel
            .policies
            .get(LIFECYCLE_POLICY)
            .map(|p| p.to_string())
            .unwrap_or_else(|| "(missing)".into()),
        ready: false,
        approved: Vec::new(),
        differing: BTreeMap::new(),
        missing: Vec::new(),
    };
    for org in channel.organizations.iter().filter(|o| !o.read_only) {
        match approvals.get(&org.msp_id) {
            Some(a) if a == proposed => r.approved.push(org.msp_id.clone()),
            Some(a) if a.sequence == proposed.sequence => {
                r.differing
                    .insert(org.msp_id.clone(), differences(a, proposed));
            }
            _ => r.missing.push(org.msp_id.clone()),
        }
    }
    let signers: Vec<SignerRef<'_>> = r
        .approved
        .iter()
        .map(|org| SignerRef::new(org, Role::Peer))
        .collect();
    r.ready = channel
        .evaluate_policy_refs(LIFECYCLE_POLICY, &signers)
        .unwrap_or(false);
    r
}

#[cfg(test)]
mod tests;
