//! What exactly each signature covers.
//!
//! Every signed message is `TAG || body`, where the tag names the kind of message and
//! the protocol version and ends with a NUL byte. Distinct tags make a signature
//! valid for one kind of message only: a signed proposal cannot be passed off as a
//! transaction envelope, an endorsement or a block.

use crate::bytes::Hash32;
use crate::identity::SerializedIdentity;

pub const PROPOSAL: &[u8] = b"cellchain/proposal/v1\0";
pub const ENDORSEMENT: &[u8] = b"cellchain/endorsement/v1\0";
pub const ENVELOPE: &[u8] = b"cellchain/envelope/v1\0";
pub const BLOCK: &[u8] = b"cellchain/block/v1\0";
pub const CONFIG: &[u8] = b"cellchain/config/v1\0";
pub const DELIVER: &[u8] = b"cellchain/deliver/v1\0";
pub const CLUSTER: &[u8] = b"cellchain/cluster/v1\0";
pub const QUERY: &[u8] = b"cellchain/query/v1\0";
pub const INSTALL: &[u8] = b"cellchain/install/v1\0";

fn tagged(tag: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let len = tag.len() + parts.iter().map(|p| p.len()).sum::<usize>();
    let mut m = Vec::with_capacity(len);
    m.extend_from_slice(tag);
    for p in parts {
        m.extend_from_slice(p);
    }
    m
}

/// The unambiguous byte form of an identity inside signed messages:
/// `u32 length of msp id || msp id || certificate PEM`.
pub fn identity_bytes(id: &SerializedIdentity) -> Vec<u8> {
    let mut v = Vec::with_capacity(4 + id.msp_id.len() + id.cert.len());
    v.extend_from_slice(&(id.msp_id.len() as u32).to_be_bytes());
    v.extend_from_slice(id.msp_id.as_bytes());
    v.extend_from_slice(id.cert.as_bytes());
    v
}

/// Signed by the client: the proposal bytes.
pub fn proposal_message(proposal: &[u8]) -> Vec<u8> {
    tagged(PROPOSAL, &[proposal])
}

/// Signed by an endorser: the response payload bound to the endorser's identity
/// (all endorsers sign the same payload bytes; each adds itself).
pub fn endorsement_message(payload: &[u8], endorser: &SerializedIdentity) -> Vec<u8> {
    tagged(ENDORSEMENT, &[payload, &identity_bytes(endorser)])
}

/// Signed by the client: the envelope payload.
pub fn envelope_message(payload: &[u8]) -> Vec<u8> {
    tagged(ENVELOPE, &[payload])
}

/// Signed by each orderer: the block header hash and the last config block number.
pub fn block_message(header_hash: &Hash32, last_config: u64) -> Vec<u8> {
    tagged(BLOCK, &[&header_hash.0, &last_config.to_be_bytes()])
}

/// Signed by an organisation admin approving a channel configuration.
pub fn config_message(config: &[u8], signer: &SerializedIdentity) -> Vec<u8> {
    tagged(CONFIG, &[config, &identity_bytes(signer)])
}

/// Signed by a client asking for a channel's blocks (deliver request bytes).
pub fn deliver_message(request: &[u8]) -> Vec<u8> {
    tagged(DELIVER, &[request])
}

/// Signed by an orderer sending a request to another orderer of its cluster (a
/// batch of Raft messages and forwarded envelopes, or a block pull).
pub fn cluster_message(body: &[u8]) -> Vec<u8> {
    tagged(CLUSTER, &[body])
}

/// Signed by a client querying a committer's ledger (query request bytes).
pub fn query_message(request: &[u8]) -> Vec<u8> {
    tagged(QUERY, &[request])
}

/// Signed by an organisation's admin: a chaincode install request (with the
/// whole package in it).
pub fn install_message(request: &[u8]) -> Vec<u8> {
    tagged(INSTALL, &[request])
}
