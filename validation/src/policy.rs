//! Endorsement policy with Fabric's state-based endorsement: a key with a
//! key-level policy is governed by it instead of the chaincode's policy.

use cellchain_core::config::ChannelConfig;
use cellchain_core::identity::Identity;
use cellchain_core::policy::{SignaturePolicy, SignerRef};

use crate::chaincode::EndorsementPolicy;

/// What the policy of one transaction is decided on, kept from the parallel
/// checks so the decision can be retaken in block order.
#[derive(Debug)]
pub(crate) struct PolicyInput {
    /// The invoked chaincode (the only namespace written).
    pub namespace: String,
    pub chaincode_policy: EndorsementPolicy,
    /// Distinct, verified endorsers (peers of the channel).
    pub endorsers: Vec<Identity>,
    /// Each key written (value, delete or metadata), once, with its key-level
    /// policy in committed state.
    pub written: Vec<(String, Option<String>)>,
    /// Whether the transaction writes private data (never under a key-level policy).
    pub writes_private: bool,
}

impl PolicyInput {
    /// Whether the endorsers satisfy the policy, `policy_of` giving each written
    /// key's policy in force before this transaction (`None`: none in this block,
    /// use the committed one).
    pub(crate) fn satisfied<'a>(
        &'a self,
        channel: &ChannelConfig,
        in_block: impl Fn(&str) -> Option<Option<&'a str>>,
    ) -> bool {
        let signers: Vec<SignerRef<'_>> = self.endorsers.iter().map(SignerRef::from).collect();
        let mut chaincode_policy_needed = self.written.is_empty() || self.writes_private;
        for (key, committed) in &self.written {
            let policy = in_block(key).unwrap_or(committed.as_deref());
            match policy {
                Some(text) => {
                    // A policy that does not parse can never be met (and cannot be
                    // set by a valid transaction: see check 15).
                    match SignaturePolicy::parse(text) {
                        Ok(p) if p.evaluate(&signers) => {}
                        _ => return false,
                    }
                }
                None => chaincode_policy_needed = true,
            }
        }
        if !chaincode_policy_needed {
            return true;
        }
        match &self.chaincode_policy {
            EndorsementPolicy::Signature(p) => p.evaluate(&signers),
            // An unknown channel policy name cannot be met.
            EndorsementPolicy::Channel(name) => channel
                .evaluate_policy(name, &self.endorsers)
                .unwrap_or(false),
        }
    }
}
