//! Policies: whose signatures are enough.
//!
//! Every decision about "who may" in CellChain is a policy, written as text in the
//! channel configuration and carried as that text on the wire:
//!
//! - the **SDK** reads a chaincode's endorsement policy to plan which
//!   organisations' peers to ask for endorsements
//!   ([`SignaturePolicy::minimal_requirements`]);
//! - the **committer** checks, for every transaction in a block, that the verified
//!   endorsers satisfy that policy ([`SignaturePolicy::evaluate`]); a failure is the
//!   transaction's `EndorsementPolicyFailure`, not an error;
//! - the **orderer** checks the channel's `Writers` and `Readers` before accepting a
//!   broadcast or serving blocks, and channel updates are checked against `Admins`,
//!   usually an [`ImplicitMetaPolicy`] such as `MAJORITY Admins` over the
//!   organisations' own signature policies.
//!
//! Two forms, as in Hyperledger Fabric:
//!
//! - [`SignaturePolicy`], Fabric's policy DSL: `AND('Org1MSP.peer', 'Org2MSP.peer')`,
//!   `OR(..)`, `OutOf(2, ..)`, nested. Unlike Fabric, evaluation is exact: it finds
//!   an assignment of signers to principals whenever one exists (see [`eval`]).
//! - [`ImplicitMetaPolicy`], `ANY Readers` / `ALL Writers` / `MAJORITY Admins`,
//!   which combines the results of the organisations' sub-policies.
//!
//! [`Policy`] is either of the two, parsed from the same text field.
//!
//! Everything here is pure: the signers passed in are already verified
//! identities, and nothing reads a clock or does IO.

pub mod eval;
mod meta;
mod parse;
mod plan;
mod signature;

pub use eval::{Assignment, SignerRef, EVALUATION_BUDGET};
pub use meta::{ImplicitMetaPolicy, MetaRule};
pub use parse::{ParseRule, PolicyParseError, MAX_DEPTH, MAX_POLICY_LEN, MAX_PRINCIPALS};
pub use plan::Requirement;
pub use signature::{Principal, PrincipalRole, Principals, SignaturePolicy};

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a well-formed policy cannot be used as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The policy names an organisation that the channel does not have.
    #[error(
        "policy names organisation {msp_id} which is not a member of the channel: \
         add {msp_id} to the channel configuration first, or correct the MSP id in the policy"
    )]
    UnknownOrganization { msp_id: String },
    /// Exact evaluation would take more than `budget` steps. Only adversarial
    /// policies (many overlapping alternatives over the same organisations) get
    /// here; the count does not depend on the machine, so every node refuses alike.
    #[error(
        "policy is too complex to evaluate exactly (more than {budget} steps): \
         reduce the number of overlapping alternatives that name the same organisations"
    )]
    EvaluationTooComplex { budget: u64 },
    /// [`SignaturePolicy::minimal_requirements`] would list more than `limit`
    /// alternatives.
    #[error(
        "policy has more than {limit} minimal sets of signers: raise the limit, or plan by \
         evaluating candidate sets of endorsers instead"
    )]
    TooManyCombinations { limit: usize },
}

/// Either form of policy, as found in a channel configuration.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Policy {
    /// `AND('Org1MSP.peer', ...)` and friends.
    Signature(SignaturePolicy),
    /// `ANY Readers`, `ALL Writers`, `MAJORITY Admins`.
    ImplicitMeta(ImplicitMetaPolicy),
}

impl Policy {
    /// Parses either form. Text of exactly two bare words (`MAJORITY Admins`) is an
    /// implicit meta policy; anything else is read as a signature policy.
    pub fn parse(text: &str) -> Result<Policy, PolicyParseError> {
        if meta::looks_like_meta(text) {
            ImplicitMetaPolicy::parse(text).map(Policy::ImplicitMeta)
        } else {
            SignaturePolicy::parse(text).map(Policy::Signature)
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Policy::Signature(p) => p.fmt(f),
            Policy::ImplicitMeta(p) => p.fmt(f),
        }
    }
}

impl FromStr for Policy {
    type Err = PolicyParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Policy::parse(s)
    }
}

impl From<SignaturePolicy> for Policy {
    fn from(p: SignaturePolicy) -> Self {
        Policy::Signature(p)
    }
}

impl From<ImplicitMetaPolicy> for Policy {
    fn from(p: ImplicitMetaPolicy) -> Self {
        Policy::ImplicitMeta(p)
    }
}

impl Serialize for Policy {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Policy::Signature(p) => p.serialize(s),
            Policy::ImplicitMeta(p) => p.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Policy {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Policy::parse(&text).map_err(|e| serde::de::Error::custom(format!("policy {text:?}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_bare_words_are_an_implicit_meta_policy() {
        let p = Policy::parse("MAJORITY Admins").unwrap();
        assert_eq!(
            p,
            Policy::ImplicitMeta(ImplicitMetaPolicy {
                rule: MetaRule::Majority,
                sub_policy: "Admins".into()
            })
        );
        assert_eq!(p.to_string(), "MAJORITY Admins");
    }

    #[test]
    fn anything_else_is_a_signature_policy() {
        let p = Policy::parse("OR('A.peer', 'B.peer')").unwrap();
        assert!(matches!(p, Policy::Signature(_)));
        assert_eq!(p.to_string(), "OR('A.peer', 'B.peer')");
        assert!(matches!(
            Policy::parse("'A.admin'").unwrap(),
            Policy::Signature(_)
        ));
    }

    #[test]
    fn lower_case_meta_rule_is_refused_with_a_hint() {
        let e = Policy::parse("any Readers").unwrap_err();
        assert_eq!(e.rule, ParseRule::UnknownMetaRule { rule: "any".into() });
        assert!(e.expected.contains("upper case"), "{e}");
    }

    #[test]
    fn policy_serde_is_the_text_form() {
        let policies = vec![
            Policy::parse("ALL Writers").unwrap(),
            Policy::parse("OutOf(2, 'A.peer', 'B.peer', 'C.admin')").unwrap(),
        ];
        let json = serde_json::to_string(&policies).unwrap();
        assert_eq!(
            json,
            r#"["ALL Writers","OutOf(2, 'A.peer', 'B.peer', 'C.admin')"]"#
        );
        let back: Vec<Policy> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, policies);
    }

    #[test]
    fn policy_deserialize_error_names_the_position() {
        let e = serde_json::from_str::<Policy>(r#""AND('A.peer',)""#).unwrap_err();
        assert!(e.to_string().contains("at column 14"), "{e}");
    }

    #[test]
    fn unknown_organization_error_says_what_to_do() {
        let e = PolicyError::UnknownOrganization {
            msp_id: "Org9MSP".into(),
        };
        assert!(e
            .to_string()
            .starts_with("policy names organisation Org9MSP which is not a member of the channel"));
    }
}
