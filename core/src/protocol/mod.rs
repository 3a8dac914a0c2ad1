//! The messages of the execute-order-validate flow, with no IO.
//!
//! 1. A client signs a [`Proposal`] into a [`SignedProposal`].
//! 2. An endorser simulates it and answers with a [`ProposalResponse`]: the
//!    [`ProposalResponsePayload`] (read/write set, events, chaincode response) and
//!    its [`Endorsement`].
//! 3. The client wraps proposal, payload and endorsements into an [`Envelope`].
//! 4. The orderer puts envelopes into a [`Block`] and signs its header.
//! 5. The committer writes one [`TxValidationCode`] per envelope into the block's
//!    metadata, and the commit hash.
//!
//! "The bytes are the truth": every signed structure travels as the exact bytes
//! that were signed ([`Bytes`] holding JSON), and receivers parse those bytes
//! instead of re-serialising a value before verifying. Each kind of signature
//! covers a distinct domain tag (see [`signing`]), so bytes signed as one kind of
//! message can never be replayed as another.

mod block;
mod deliver;
mod proposal;
mod query;
mod rwset;
pub mod signing;
mod transaction;
mod validation_code;

pub use block::*;
pub use deliver::*;
pub use proposal::*;
pub use query::*;
pub use rwset::*;
pub use transaction::*;
pub use validation_code::*;

use crate::bytes::Bytes;

/// A message could not be decoded or is inconsistent with itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// The bytes are not valid JSON of the expected message.
    #[error("malformed {what}: {reason}")]
    Malformed { what: &'static str, reason: String },
    /// The tx id is not SHA-256(nonce || creator).
    #[error("tx id {found} does not match SHA-256(nonce || creator) = {expected}")]
    TxIdMismatch { expected: String, found: String },
    /// The transient inputs do not match the digest the creator signed.
    #[error("transient data does not match the digest in the signed proposal")]
    TransientDigestMismatch,
    /// The envelope's header differs from the header of the proposal it carries.
    #[error("envelope header does not match the proposal header ({field} differs)")]
    HeaderMismatch { field: &'static str },
    /// The proposal response payload was computed for another proposal.
    #[error("proposal response payload refers to another proposal (hash mismatch)")]
    ProposalHashMismatch,
    /// The block's data hash is not the Merkle root of its envelopes.
    #[error(
        "block {number}: data hash {found} is not the Merkle root of its envelopes ({expected})"
    )]
    DataHashMismatch {
        number: u64,
        expected: String,
        found: String,
    },
}

/// Parses `bytes` as JSON of `T`, naming the message kind on failure.
pub fn decode<T: serde::de::DeserializeOwned>(
    what: &'static str,
    bytes: &[u8],
) -> Result<T, ProtocolError> {
    serde_json::from_slice(bytes).map_err(|e| ProtocolError::Malformed {
        what,
        reason: e.to_string(),
    })
}

/// Serialises a message to the bytes that will be signed and carried.
pub fn encode<T: serde::Serialize>(value: &T) -> Bytes {
    // Serialising our own plain data types cannot fail: no maps with non-string
    // keys, no failing Serialize impls.
    Bytes(serde_json::to_vec(value).expect("protocol types always serialise"))
}

#[cfg(test)]
mod tests;
