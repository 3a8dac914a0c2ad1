//! Blocks: the ledger of record.
//!
//! The header commits to the previous block (hash chain) and to the envelopes
//! (Merkle root), and is what orderers sign. Metadata is added after ordering: the
//! orderers' signatures, then the committer's validation codes and commit hash.

use serde::{Deserialize, Serialize};

use super::transaction::Envelope;
use super::validation_code::TxValidationCode;
use super::{signing, ProtocolError};
use crate::bytes::{sha256_parts, Bytes, Hash32};
use crate::crypto::{CryptoError, Signer};
use crate::identity::SerializedIdentity;
use crate::merkle;

const HEADER_TAG: &[u8] = b"cellchain/block-header/v1\0";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockHeader {
    pub number: u64,
    /// Hash of the previous block's header; zero for the genesis block.
    pub previous_hash: Hash32,
    /// Merkle root (RFC 6962) over the envelopes' leaf hashes.
    pub data_hash: Hash32,
}

impl BlockHeader {
    /// The block's hash: SHA-256 over a fixed binary layout of the header
    /// (`tag || number (8 bytes, big-endian) || previous_hash || data_hash`), so it
    /// never depends on how JSON was formatted.
    pub fn hash(&self) -> Hash32 {
        sha256_parts(&[
            HEADER_TAG,
            &self.number.to_be_bytes(),
            &self.previous_hash.0,
            &self.data_hash.0,
        ])
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockData {
    pub envelopes: Vec<Envelope>,
}

/// An orderer's signature over a block header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockSignature {
    pub signer: SerializedIdentity,
    /// Over [`signing::block_message`] of the header hash and `last_config`.
    pub signature: Bytes,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockMetadata {
    /// Number of the configuration block in force for this block (covered by the
    /// orderers' signatures).
    pub last_config: u64,
    #[serde(default)]
    pub signatures: Vec<BlockSignature>,
    /// One code per envelope, set by the committer; empty until validated.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub validation_codes: Vec<TxValidationCode>,
    /// The committer's running hash over validation results and state updates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_hash: Option<Hash32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    pub header: BlockHeader,
    pub data: BlockData,
    pub metadata: BlockMetadata,
}

impl Block {
    /// Assembles an unsigned block over `envelopes`, computing its data hash.
    pub fn new(
        number: u64,
        previous_hash: Hash32,
        envelopes: Vec<Envelope>,
        last_config: u64,
    ) -> Block {
        let data_hash = Self::data_hash_of(&envelopes);
        Block {
            header: BlockHeader {
                number,
                previous_hash,
                data_hash,
            },
            data: BlockData { envelopes },
            metadata: BlockMetadata {
                last_config,
                ..Default::default()
            },
        }
    }

    /// Merkle root over the envelopes.
    pub fn data_hash_of(envelopes: &[Envelope]) -> Hash32 {
        let leaves: Vec<Hash32> = envelopes.iter().map(Envelope::leaf_hash).collect();
        merkle::root(&leaves)
    }

    pub fn hash(&self) -> Hash32 {
        self.header.hash()
    }

    /// Checks that the header's data hash is the Merkle root of the envelopes.
    pub fn check_data_hash(&self) -> Result<(), ProtocolError> {
        let expected = Self::data_hash_of(&self.data.envelopes);
        if expected != self.header.data_hash {
            return Err(ProtocolError::DataHashMismatch {
                number: self.header.number,
                expected: expected.to_hex(),
                found: self.header.data_hash.to_hex(),
            });
        }
        Ok(())
    }

    /// The bytes an orderer signs for this block.
    pub fn signed_message(&self) -> Vec<u8> {
        signing::block_message(&self.hash(), self.metadata.last_config)
    }

    /// Adds `signer`'s signature to the metadata.
    pub fn sign(
        &mut self,
        signer_id: SerializedIdentity,
        signer: &dyn Signer,
    ) -> Result<(), CryptoError> {
        let signature = signer.sign(&self.signed_message())?;
        self.metadata.signatures.push(BlockSignature {
            signer: signer_id,
            signature: Bytes(signature),
        });
        Ok(())
    }

    /// Proof that envelope `index` is in this block, checkable against the header.
    pub fn inclusion_proof(&self, index: usize) -> Option<merkle::InclusionProof> {
        let leaves: Vec<Hash32> = self
            .data
            .envelopes
            .iter()
            .map(Envelope::leaf_hash)
            .collect();
        merkle::prove(&leaves, index)
    }
}
