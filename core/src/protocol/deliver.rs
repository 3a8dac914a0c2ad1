//! Deliver: a signed request for a channel's blocks, served by orderers (raw blocks)
//! and committers (validated blocks) only to identities the channel's Readers
//! policy admits.

use serde::{Deserialize, Serialize};

use super::proposal::Timestamp;
use super::{decode, encode, signing, ProtocolError};
use crate::bytes::Bytes;
use crate::crypto::{CryptoError, Signer};
use crate::identity::SerializedIdentity;

/// Which blocks a client wants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliverRequest {
    pub channel_id: String,
    /// First block number to send.
    pub start: u64,
    /// Last block number to send (inclusive); `None` follows the channel: the stream
    /// stays open and carries new blocks as they are made.
    #[serde(default)]
    pub stop: Option<u64>,
    pub creator: SerializedIdentity,
    /// When the client made the request; servers refuse one too far from their clock,
    /// which bounds how long a captured request can be replayed.
    pub timestamp: Timestamp,
}

/// A deliver request as sent: the exact request bytes and the creator's signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedDeliverRequest {
    pub request: Bytes,
    /// Over [`signing::deliver_message`] of `request`.
    pub signature: Bytes,
}

impl SignedDeliverRequest {
    pub fn sign(request: &DeliverRequest, signer: &dyn Signer) -> Result<Self, CryptoError> {
        let bytes = encode(request);
        let signature = signer.sign(&signing::deliver_message(&bytes))?;
        Ok(SignedDeliverRequest {
            request: bytes,
            signature: Bytes(signature),
        })
    }

    pub fn parse(&self) -> Result<DeliverRequest, ProtocolError> {
        decode("deliver request", &self.request)
    }

    /// The bytes the signature covers.
    pub fn signed_message(&self) -> Vec<u8> {
        signing::deliver_message(&self.request)
    }
}
