//! [`SdkError`]: everything that can go wrong between the client and the network,
//! each variant naming what failed and where (which file, node or transaction).

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use cellchain_core::crypto::CryptoError;
use cellchain_core::lifecycle::Readiness;
use cellchain_core::protocol::{TxId, TxValidationCode};
use cellchain_core::Hash32;

use crate::plan::PlanError;

/// One failed try at one node, kept when the SDK moved on to the next node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The node as named in the connection profile.
    pub node: String,
    /// What went wrong there.
    pub reason: String,
}

impl fmt::Display for Attempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.node, self.reason)
    }
}

fn list<T: fmt::Display>(items: &[T]) -> String {
    if items.is_empty() {
        return "none".into();
    }
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

fn endorser_hashes(endorsers: &[(String, Hash32)]) -> String {
    endorsers
        .iter()
        .map(|(e, h)| format!("{e} -> {}", &h.to_hex()[..16]))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What went wrong in the SDK.
#[derive(Debug, thiserror::Error)]
pub enum SdkError {
    /// A certificate, key, profile or checkpoint file could not be read or written.
    #[error("cannot {action} {what} {}: {source}", path.display())]
    File {
        action: &'static str,
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The private key is not a PKCS#8 P-256 key.
    #[error("the private key {origin} cannot be used: {source}")]
    Key {
        origin: String,
        #[source]
        source: CryptoError,
    },
    /// The connection profile does not parse or is inconsistent.
    #[error("connection profile {origin}: {reason}")]
    Profile { origin: String, reason: String },
    /// The SDK was asked something the profile cannot serve (unknown organisation,
    /// no endorser, no orderer, ...).
    #[error("{reason}")]
    Config { reason: String },
    /// Signing a request failed.
    #[error("cannot sign the {what}: {source}")]
    Sign {
        what: &'static str,
        #[source]
        source: CryptoError,
    },
    /// A node answered with an HTTP error that retrying elsewhere would not fix.
    #[error("{role} {node} refused the {request} ({status} {kind}): {message}")]
    Rejected {
        role: &'static str,
        node: String,
        request: &'static str,
        status: u16,
        kind: String,
        message: String,
    },
    /// A node answered 200 with something the SDK cannot use.
    #[error("{role} {node} sent a bad answer to the {request}: {reason}")]
    BadAnswer {
        role: &'static str,
        node: String,
        request: &'static str,
        reason: String,
    },
    /// No node of the kind needed could serve the request (each was unreachable or
    /// overloaded); every attempt is listed.
    #[error(
        "no {role} of {scope} could serve the {request}; tried {}",
        list(attempts)
    )]
    Unavailable {
        role: &'static str,
        scope: String,
        request: &'static str,
        attempts: Vec<Attempt>,
    },
    /// The chaincode refused or failed (status 4xx/5xx of the contract).
    #[error("chaincode error at endorser {endorser}: status {status}: {message}")]
    Chaincode {
        endorser: String,
        status: u16,
        message: String,
    },
    /// The endorsers simulated different results (non-deterministic chaincode, or
    /// replicas at different heights): the payload hash of each is listed.
    #[error(
        "endorsers disagree on the result (non-deterministic chaincode, or endorsers at different ledger heights): {}",
        endorser_hashes(endorsers)
    )]
    NonDeterministic { endorsers: Vec<(String, Hash32)> },
    /// The chaincode has no committed definition on the channel, so there is
    /// no endorsement policy to plan endorsements with.
    #[error(
        "chaincode {chaincode} is not defined on channel {channel} (no committed definition): \
         deploy it with the lifecycle (install, approve, commit), or name the endorsing \
         organisations with `Contract::with_endorsing_orgs`"
    )]
    NoPolicy { chaincode: String, channel: String },
    /// A chaincode definition cannot be committed yet: the approvals do not
    /// satisfy the channel's `LifecycleEndorsement` policy. The readiness names
    /// who approved, who approved something else (each differing field) and
    /// who has not approved.
    #[error("{0}")]
    NotReady(Box<Readiness>),
    /// The endorsement policy cannot be met with the profile's endorsers.
    #[error("cannot plan endorsements of chaincode {chaincode}: {source}")]
    Plan {
        chaincode: String,
        #[source]
        source: PlanError,
    },
    /// An orderer refused the transaction envelope.
    #[error("orderer {orderer} refused transaction {tx_id} ({status} {kind}): {message}")]
    Broadcast {
        orderer: String,
        tx_id: TxId,
        status: u16,
        kind: String,
        message: String,
    },
    /// The transaction was ordered but the committers marked it invalid: its writes
    /// were not applied.
    #[error("transaction {tx_id} was committed in block {block} as invalid: {code}")]
    Invalid {
        tx_id: TxId,
        code: TxValidationCode,
        block: u64,
    },
    /// The commit status did not arrive in time.
    #[error(
        "transaction {tx_id} was ordered but no committer reported it committed within {} ms (asked {})",
        waited.as_millis(), committers.join(", ")
    )]
    CommitTimeout {
        tx_id: TxId,
        waited: Duration,
        committers: Vec<String>,
    },
    /// The block feed or its checkpoint failed.
    #[error("block events of channel {channel}: {reason}")]
    Events { channel: String, reason: String },
}

impl SdkError {
    /// Whether the transaction failed an MVCC or phantom read check, so that
    /// re-running it from scratch may succeed.
    pub fn is_read_conflict(&self) -> bool {
        matches!(
            self,
            SdkError::Invalid {
                code: TxValidationCode::MvccReadConflict | TxValidationCode::PhantomReadConflict,
                ..
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cellchain_core::bytes::sha256;

    #[test]
    fn invalid_names_the_transaction_block_and_code() {
        let tx_id = TxId(sha256(b"tx"));
        let e = SdkError::Invalid {
            tx_id,
            code: TxValidationCode::MvccReadConflict,
            block: 7,
        };
        assert_eq!(
            e.to_string(),
            format!("transaction {tx_id} was committed in block 7 as invalid: MVCC_READ_CONFLICT")
        );
        assert!(e.is_read_conflict());
    }

    #[test]
    fn non_deterministic_lists_each_endorser_with_a_hash_prefix() {
        let e = SdkError::NonDeterministic {
            endorsers: vec![
                ("peer0.org1".into(), sha256(b"a")),
                ("peer0.org2".into(), sha256(b"b")),
            ],
        };
        let text = e.to_string();
        assert!(text.contains("peer0.org1 -> ca978112ca1bbdca"), "{text}");
        assert!(text.contains("peer0.org2 -> 3e23e8160039594a"), "{text}");
        assert!(!e.is_read_conflict());
    }

    #[test]
    fn unavailable_lists_every_attempt() {
        let e = SdkError::Unavailable {
            role: "orderer",
            scope: "channel ch".into(),
            request: "broadcast",
            attempts: vec![
                Attempt {
                    node: "o1:7050".into(),
                    reason: "connection refused".into(),
                },
                Attempt {
                    node: "o2:7050".into(),
                    reason: "503 no_leader: election".into(),
                },
            ],
        };
        assert_eq!(
            e.to_string(),
            "no orderer of channel ch could serve the broadcast; tried o1:7050: connection refused; \
             o2:7050: 503 no_leader: election"
        );
    }

    #[test]
    fn chaincode_and_rejection_errors_name_the_node() {
        let e = SdkError::Chaincode {
            endorser: "e1:7051".into(),
            status: 400,
            message: "no such asset".into(),
        };
        assert_eq!(
            e.to_string(),
            "chaincode error at endorser e1:7051: status 400: no such asset"
        );
        let e = SdkError::Rejected {
            role: "endorser",
            node: "e1:7051".into(),
            request: "proposal",
            status: 403,
            kind: "access_denied".into(),
            message: "not a writer".into(),
        };
        assert_eq!(
            e.to_string(),
            "endorser e1:7051 refused the proposal (403 access_denied): not a writer"
        );
        let e = SdkError::NoPolicy {
            chaincode: "cc".into(),
            channel: "ch".into(),
        };
        assert!(
            e.to_string()
                .starts_with("chaincode cc is not defined on channel ch"),
            "{e}"
        );
    }
}
