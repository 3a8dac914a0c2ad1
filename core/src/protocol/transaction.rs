//! Transaction envelopes: what the client broadcasts and the orderer puts in blocks.

use serde::{Deserialize, Serialize};

use super::proposal::{Endorsement, Header, Proposal, ProposalResponsePayload};
use super::{decode, encode, signing, ProtocolError};
use crate::bytes::{sha256, Bytes, Hash32};
use crate::crypto::{CryptoError, Signer};
use crate::identity::SerializedIdentity;
use crate::merkle;

/// A signed transaction as broadcast to the orderer and stored in a block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The exact JSON bytes of the [`Payload`].
    pub payload: Bytes,
    /// The creator's signature over [`signing::envelope_message`].
    pub signature: Bytes,
}

impl Envelope {
    /// Encodes and signs a payload as its creator.
    pub fn sign(payload: &Payload, signer: &dyn Signer) -> Result<Envelope, CryptoError> {
        let bytes = encode(payload);
        let signature = signer.sign(&signing::envelope_message(&bytes))?;
        Ok(Envelope {
            payload: bytes,
            signature: Bytes(signature),
        })
    }

    pub fn parse_payload(&self) -> Result<Payload, ProtocolError> {
        decode("envelope payload", &self.payload)
    }

    /// The bytes the creator's signature covers.
    pub fn signed_message(&self) -> Vec<u8> {
        signing::envelope_message(&self.payload)
    }

    /// This envelope's leaf in its block's Merkle tree: both the payload and the
    /// signature are covered, length-framed so the boundary cannot shift.
    pub fn leaf_hash(&self) -> Hash32 {
        let mut data = Vec::with_capacity(8 + self.payload.len() + self.signature.len());
        data.extend_from_slice(&(self.payload.len() as u32).to_be_bytes());
        data.extend_from_slice(&self.payload);
        data.extend_from_slice(&(self.signature.len() as u32).to_be_bytes());
        data.extend_from_slice(&self.signature);
        merkle::leaf_hash(&data)
    }

    /// Size on the wire, for the orderer's byte limits.
    pub fn size(&self) -> usize {
        self.payload.len() + self.signature.len()
    }
}

/// Header and body of an envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payload {
    pub header: Header,
    pub data: PayloadData,
}

/// What an envelope carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PayloadData {
    /// An endorsed chaincode invocation.
    Endorser(EndorserTransaction),
    /// A channel configuration (the genesis block's only transaction, or an update).
    Config(ConfigTransaction),
}

/// An invocation with its endorsements.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndorserTransaction {
    /// The exact proposal bytes the client signed (transient inputs excluded).
    pub proposal: Bytes,
    /// The exact [`ProposalResponsePayload`] bytes every endorser signed.
    pub response_payload: Bytes,
    pub endorsements: Vec<Endorsement>,
}

impl EndorserTransaction {
    /// Decodes proposal and response payload and checks that they belong together
    /// and to `header`: same header fields, and the payload answers this proposal.
    pub fn parse(
        &self,
        header: &Header,
    ) -> Result<(Proposal, ProposalResponsePayload), ProtocolError> {
        let proposal: Proposal = decode("proposal", &self.proposal)?;
        let h = &proposal.header;
        let field = if h.channel_id != header.channel_id {
            Some("channel_id")
        } else if h.tx_id != header.tx_id {
            Some("tx_id")
        } else if h.creator != header.creator {
            Some("creator")
        } else if h.nonce != header.nonce {
            Some("nonce")
        } else if h.timestamp != header.timestamp {
            Some("timestamp")
        } else {
            None
        };
        if let Some(field) = field {
            return Err(ProtocolError::HeaderMismatch { field });
        }
        let payload: ProposalResponsePayload =
            decode("proposal response payload", &self.response_payload)?;
        if payload.proposal_hash != sha256(&self.proposal) {
            return Err(ProtocolError::ProposalHashMismatch);
        }
        Ok((proposal, payload))
    }
}

/// A channel configuration with the admin signatures approving it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigTransaction {
    /// The exact JSON bytes of the channel configuration.
    pub config: Bytes,
    pub signatures: Vec<ConfigSignature>,
}

/// One organisation admin's signature over a configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigSignature {
    pub signer: SerializedIdentity,
    /// Over [`signing::config_message`] of the config bytes and the signer.
    pub signature: Bytes,
}

impl ConfigSignature {
    pub fn sign(
        config: &[u8],
        signer_id: SerializedIdentity,
        signer: &dyn Signer,
    ) -> Result<ConfigSignature, CryptoError> {
        let signature = signer.sign(&signing::config_message(config, &signer_id))?;
        Ok(ConfigSignature {
            signer: signer_id,
            signature: Bytes(signature),
        })
    }

    pub fn signed_message(&self, config: &[u8]) -> Vec<u8> {
        signing::config_message(config, &self.signer)
    }
}
