//! Chaincode definitions as validation needs them: name, version, sequence,
//! endorsement policy and private data collections. The lifecycle (approve and
//! commit per channel) produces them; until then the committer is given them.

use cellchain_core::policy::SignaturePolicy;
use serde::{Deserialize, Serialize};

/// The definition of a chaincode in force on a channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChaincodeDefinition {
    pub name: String,
    pub version: String,
    /// Raised by every upgrade; endorsements made under another sequence are invalid.
    pub sequence: u64,
    pub endorsement_policy: EndorsementPolicy,
    #[serde(default)]
    pub collections: Vec<CollectionConfig>,
}

/// Who must endorse a chaincode's transactions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndorsementPolicy {
    /// A signature policy, e.g. `AND('Org1MSP.peer', 'Org2MSP.peer')`.
    Signature(SignaturePolicy),
    /// A channel policy by name, e.g. `Endorsement` (MAJORITY Endorsement by default).
    Channel(String),
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
