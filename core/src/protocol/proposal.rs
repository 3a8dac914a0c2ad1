//! Proposals (client to endorser) and proposal responses (endorser to client).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::rwset::TxRwSet;
use super::{decode, encode, signing, ProtocolError};
use crate::bytes::{sha256, sha256_parts, Bytes, Hash32};
use crate::crypto::{CryptoError, Signer};
use crate::identity::SerializedIdentity;

/// A transaction id: SHA-256(nonce || creator), as in Fabric. Because the creator
/// picks a fresh random nonce and signs the proposal, nobody else can produce a
/// valid transaction with the same id, and a replay is detected by the id alone.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TxId(pub Hash32);

impl TxId {
    /// `SHA-256(nonce || identity_bytes(creator))`.
    pub fn compute(nonce: &[u8], creator: &SerializedIdentity) -> TxId {
        TxId(sha256_parts(&[nonce, &signing::identity_bytes(creator)]))
    }
}

impl fmt::Display for TxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for TxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TxId({})", self.0)
    }
}

/// Wall-clock time as seconds and nanoseconds since the Unix epoch (UTC).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Timestamp {
    pub seconds: i64,
    pub nanos: u32,
}

impl Timestamp {
    pub fn from_unix_nanos(n: i128) -> Timestamp {
        Timestamp {
            seconds: n.div_euclid(1_000_000_000) as i64,
            nanos: n.rem_euclid(1_000_000_000) as u32,
        }
    }
    pub fn as_unix_nanos(&self) -> i128 {
        self.seconds as i128 * 1_000_000_000 + self.nanos as i128
    }
}

/// The header shared by a proposal and the transaction made from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub channel_id: String,
    pub tx_id: TxId,
    /// When the client made the proposal; endorsers refuse one too far from their clock.
    pub timestamp: Timestamp,
    pub creator: SerializedIdentity,
    /// At least 24 random bytes chosen by the client.
    pub nonce: Bytes,
}

impl Header {
    /// Makes a header for `creator` with the tx id derived from `nonce`.
    pub fn new(
        channel_id: &str,
        creator: SerializedIdentity,
        nonce: Vec<u8>,
        timestamp: Timestamp,
    ) -> Header {
        let tx_id = TxId::compute(&nonce, &creator);
        Header {
            channel_id: channel_id.to_string(),
            tx_id,
            timestamp,
            creator,
            nonce: Bytes(nonce),
        }
    }

    /// Checks that the tx id is SHA-256(nonce || creator).
    pub fn check_tx_id(&self) -> Result<(), ProtocolError> {
        let expected = TxId::compute(&self.nonce, &self.creator);
        if expected != self.tx_id {
            return Err(ProtocolError::TxIdMismatch {
                expected: expected.to_string(),
                found: self.tx_id.to_string(),
            });
        }
        Ok(())
    }
}

/// A request to run one chaincode function.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    pub header: Header,
    /// Chaincode name; the endorser runs the channel's current definition of it.
    pub chaincode: String,
    pub function: String,
    /// Positional arguments, each a JSON value the contract deserialises.
    #[serde(default)]
    pub args: Vec<serde_json::Value>,
    /// Digest of the transient (private) inputs, which travel beside the signed
    /// bytes and never reach the ledger; `None` when there are none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transient_digest: Option<Hash32>,
}

/// The digest that binds transient inputs to a signed proposal:
/// SHA-256 over `u32 len || key || u32 len || value` for each entry in key order.
pub fn transient_digest(transient: &BTreeMap<String, Bytes>) -> Hash32 {
    let mut buf = Vec::new();
    for (k, v) in transient {
        buf.extend_from_slice(&(k.len() as u32).to_be_bytes());
        buf.extend_from_slice(k.as_bytes());
        buf.extend_from_slice(&(v.len() as u32).to_be_bytes());
        buf.extend_from_slice(v);
    }
    sha256(&buf)
}

/// A proposal as signed by its creator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignedProposal {
    /// The exact JSON bytes of the [`Proposal`].
    pub proposal: Bytes,
    /// The creator's signature over [`signing::proposal_message`].
    pub signature: Bytes,
    /// Private inputs for the chaincode (never ordered, never stored in a block).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub transient: BTreeMap<String, Bytes>,
}

impl SignedProposal {
    /// Encodes and signs a proposal; sets the transient digest to match `transient`.
    pub fn sign(
        mut proposal: Proposal,
        transient: BTreeMap<String, Bytes>,
        signer: &dyn Signer,
    ) -> Result<SignedProposal, CryptoError> {
        proposal.transient_digest = (!transient.is_empty()).then(|| transient_digest(&transient));
        let bytes = encode(&proposal);
        let signature = signer.sign(&signing::proposal_message(&bytes))?;
        Ok(SignedProposal {
            proposal: bytes,
            signature: Bytes(signature),
            transient,
        })
    }

    /// Decodes the proposal and checks what can be checked without the channel's
    /// identities: the tx id and the transient digest. The creator's signature is
    /// verified by the endorser, which knows the channel's organisations.
    pub fn parse(&self) -> Result<Proposal, ProtocolError> {
        let p: Proposal = decode("proposal", &self.proposal)?;
        p.header.check_tx_id()?;
        let expected = (!self.transient.is_empty()).then(|| transient_digest(&self.transient));
        if expected != p.transient_digest {
            return Err(ProtocolError::TransientDigestMismatch);
        }
        Ok(p)
    }

    /// The bytes the creator's signature covers.
    pub fn signed_message(&self) -> Vec<u8> {
        signing::proposal_message(&self.proposal)
    }
}

/// The chaincode definition an endorser ran: the committer checks it is still the
/// current one when the transaction commits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChaincodeRef {
    pub name: String,
    pub version: String,
    /// The lifecycle sequence of the definition.
    pub sequence: u64,
}

/// What the chaincode function returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChaincodeResponse {
    /// 200 for success; 400 for a domain error of the contract; 500 for a failure
    /// of the execution (trap, fuel, memory).
    pub status: u16,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(default)]
    pub payload: Bytes,
}

impl ChaincodeResponse {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// An event emitted by a chaincode, delivered to clients once the transaction commits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChaincodeEvent {
    pub chaincode: String,
    pub name: String,
    #[serde(default)]
    pub payload: Bytes,
}

/// The result of a simulation; every endorser that agrees produces identical bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposalResponsePayload {
    /// SHA-256 of the proposal bytes this answers.
    pub proposal_hash: Hash32,
    pub chaincode: ChaincodeRef,
    pub rwset: TxRwSet,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<ChaincodeEvent>,
    pub response: ChaincodeResponse,
}

/// An endorser's signature over a response payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endorsement {
    pub endorser: SerializedIdentity,
    /// Over [`signing::endorsement_message`] of the payload bytes and the endorser.
    pub signature: Bytes,
}

impl Endorsement {
    /// Signs `payload` bytes as `endorser`.
    pub fn sign(
        payload: &[u8],
        endorser: SerializedIdentity,
        signer: &dyn Signer,
    ) -> Result<Endorsement, CryptoError> {
        let signature = signer.sign(&signing::endorsement_message(payload, &endorser))?;
        Ok(Endorsement {
            endorser,
            signature: Bytes(signature),
        })
    }

    pub fn signed_message(&self, payload: &[u8]) -> Vec<u8> {
        signing::endorsement_message(payload, &self.endorser)
    }
}

/// An endorser's answer to a signed proposal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposalResponse {
    /// The chaincode's response (also inside the payload when there is one); on a
    /// failed simulation, the only part present.
    pub response: ChaincodeResponse,
    /// The exact bytes of the [`ProposalResponsePayload`]; absent when the
    /// simulation failed, since a failure is never endorsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Bytes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endorsement: Option<Endorsement>,
    /// The height of the endorser's state replica when it simulated.
    pub ledger_height: u64,
    /// Advice to the client, outside the signed payload: the key-level
    /// endorsement policies in force, in the snapshot the endorser simulated
    /// on, for the keys the read/write set writes (values, deletes and
    /// metadata of the invoked namespace). A key the transaction gives its
    /// first policy is not listed (the existing policies are the ones the
    /// committer checks); a key replacing its policy lists the committed one.
    /// The client plans further endorsements from it (Fabric Gateway
    /// behaviour); the committer re-checks every policy regardless, so a wrong
    /// or missing entry costs at worst an invalid transaction. Empty, and left
    /// out of the JSON, when no written key has a policy or nothing was endorsed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key_policies: Vec<KeyPolicy>,
}

/// A key-level endorsement policy (the key's `VALIDATION_PARAMETER` metadata),
/// as an endorser reports it in [`ProposalResponse::key_policies`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct KeyPolicy {
    /// The chaincode namespace of the key.
    pub namespace: String,
    pub key: String,
    /// Signature policy text, e.g. `AND('Org1MSP.peer', 'Org2MSP.peer')`, as
    /// committed (it may fail to parse: then no endorsement can satisfy it).
    pub policy: String,
}

impl ProposalResponse {
    pub fn parse_payload(&self) -> Result<Option<ProposalResponsePayload>, ProtocolError> {
        self.payload
            .as_ref()
            .map(|b| decode("proposal response payload", b))
            .transpose()
    }
}
