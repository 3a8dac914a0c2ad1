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

/// The chaincode definitions in force on one channel, by name: the
/// [`crate::Definitions`] the committer and endorser use until definitions are
/// committed through the lifecycle.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DefinitionSet(pub std::collections::BTreeMap<String, ChaincodeDefinition>);

impl crate::Definitions for DefinitionSet {
    fn definition(&self, chaincode: &str) -> Option<ChaincodeDefinition> {
        self.0.get(chaincode).cloned()
    }
}

/// A definitions file: chaincode definitions per channel (YAML).
///
/// ```yaml
/// channels:
///   atmp:
///     - name: patient-batch
///       version: "1.0"
///       sequence: 1
///       endorsement_policy: { signature: "OR('HospitalAMSP.peer', 'CdmoMSP.peer')" }
///     - name: release
///       version: "1.0"
///       sequence: 1
///       endorsement_policy: { channel: Endorsement }
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct DefinitionsFile {
    channels: std::collections::BTreeMap<String, Vec<ChaincodeDefinition>>,
}

/// Parses a definitions file into a [`DefinitionSet`] per channel. A chaincode
/// defined twice on a channel is refused.
pub fn parse_definitions(
    yaml: &str,
) -> Result<std::collections::BTreeMap<String, DefinitionSet>, String> {
    let file: DefinitionsFile = serde_yaml::from_str(yaml).map_err(|e| e.to_string())?;
    let mut out = std::collections::BTreeMap::new();
    for (channel, defs) in file.channels {
        let mut set = DefinitionSet::default();
        for d in defs {
            if set.0.contains_key(&d.name) {
                return Err(format!(
                    "chaincode {} is defined twice on channel {channel}",
                    d.name
                ));
            }
            set.0.insert(d.name.clone(), d);
        }
        out.insert(channel, set);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Definitions;

    #[test]
    fn a_definitions_file_parses_per_channel_and_refuses_duplicates() {
        let yaml = r#"
channels:
  atmp:
    - name: patient-batch
      version: "1.0"
      sequence: 1
      endorsement_policy: { signature: "OR('HospitalAMSP.peer', 'CdmoMSP.peer')" }
      collections:
        - { name: patient-links-HospitalAMSP, member_orgs: [HospitalAMSP], block_to_live: 10 }
    - name: release
      version: "2.0"
      sequence: 2
      endorsement_policy: { channel: Endorsement }
"#;
        let sets = parse_definitions(yaml).unwrap();
        let atmp = &sets["atmp"];
        let pb = atmp.definition("patient-batch").unwrap();
        assert_eq!(pb.sequence, 1);
        assert!(matches!(
            pb.endorsement_policy,
            EndorsementPolicy::Signature(_)
        ));
        assert_eq!(pb.collections[0].block_to_live, 10);
        assert!(pb.collections[0].member_only_read);
        assert_eq!(
            atmp.definition("release").unwrap().endorsement_policy,
            EndorsementPolicy::Channel("Endorsement".into())
        );
        assert!(atmp.definition("nope").is_none());
        let twice = "channels:\n  a:\n    - {name: x, version: '1', sequence: 1, endorsement_policy: {channel: Endorsement}}\n    - {name: x, version: '1', sequence: 1, endorsement_policy: {channel: Endorsement}}\n";
        assert!(parse_definitions(twice)
            .unwrap_err()
            .contains("defined twice"));
        assert!(parse_definitions("channels: {a: [{name: x}]}").is_err());
    }
}
