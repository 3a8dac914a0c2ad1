//! A chaincode definition: what the organisations of a channel approve and
//! commit through the lifecycle, and what validation then enforces.

use serde::{Deserialize, Serialize};

use crate::bytes::Hash32;
use crate::policy::SignaturePolicy;

/// The definition of a chaincode in force on a channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChaincodeDefinition {
    pub name: String,
    pub version: String,
    /// Raised by every upgrade; endorsements made under another sequence are invalid.
    pub sequence: u64,
    /// SHA-256 of the contract's wasm module: every endorser runs exactly this code.
    pub wasm_hash: Hash32,
    pub endorsement_policy: EndorsementPolicy,
    #[serde(default)]
    pub collections: Vec<CollectionConfig>,
}

/// Who must endorse a chaincode's transactions. Written as
/// `{signature: "AND(...)"}` or `{channel: Endorsement}` (JSON and YAML alike).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "PolicyRepr", into = "PolicyRepr")]
pub enum EndorsementPolicy {
    /// A signature policy, e.g. `AND('Org1MSP.peer', 'Org2MSP.peer')`.
    Signature(SignaturePolicy),
    /// A channel policy by name, e.g. `Endorsement` (MAJORITY Endorsement by default).
    Channel(String),
}

/// The written form of [`EndorsementPolicy`]: exactly one of the two fields.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyRepr {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    signature: Option<SignaturePolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    channel: Option<String>,
}

impl TryFrom<PolicyRepr> for EndorsementPolicy {
    type Error = String;
    fn try_from(r: PolicyRepr) -> Result<Self, String> {
        match (r.signature, r.channel) {
            (Some(s), None) => Ok(EndorsementPolicy::Signature(s)),
            (None, Some(c)) => Ok(EndorsementPolicy::Channel(c)),
            _ => Err(
                "an endorsement policy is either {signature: \"AND(...)\"} or {channel: NAME}"
                    .into(),
            ),
        }
    }
}

impl From<EndorsementPolicy> for PolicyRepr {
    fn from(p: EndorsementPolicy) -> Self {
        match p {
            EndorsementPolicy::Signature(s) => PolicyRepr {
                signature: Some(s),
                channel: None,
            },
            EndorsementPolicy::Channel(c) => PolicyRepr {
                signature: None,
                channel: Some(c),
            },
        }
    }
}

/// A private data collection of a chaincode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollectionConfig {
    pub name: String,
    /// The organisations that hold the private values.
    pub member_orgs: Vec<String>,
    /// How many other member peers an endorser must hand the values to before endorsing.
    #[serde(default)]
    pub required_peer_count: u32,
    /// Private values are purged this many blocks after they were written (0: never).
    #[serde(default)]
    pub block_to_live: u64,
    /// Only members may read the values through the chaincode.
    #[serde(default = "yes")]
    pub member_only_read: bool,
    /// Only members may write the collection through the chaincode.
    #[serde(default = "yes")]
    pub member_only_write: bool,
}

fn yes() -> bool {
    true
}
