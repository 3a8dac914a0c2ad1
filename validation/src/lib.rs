//! Transaction validation (step 5 of the flow), as pure functions: no IO, no
//! clock, no threads of its own beyond scoped workers for signature checks.
//!
//! [`validate_block`] takes a block that the committer has already checked as a
//! block (orderer signature, hash chain) and decides each transaction: one
//! [`TxValidationCode`] per envelope, stored in the block's metadata (data, not
//! an error), and the [`UpdateBatch`] of the valid transactions' writes, which the
//! committer applies atomically with the block. Infrastructure failures (the
//! committed state cannot be read) are [`ValidationError`]s and stop the block.
//!
//! What it reads of the world is behind two small traits the committer
//! implements: [`CommittedState`] (versions, ranges, key-level policies and tx ids
//! committed before this block) and [`Definitions`] (the chaincode definitions
//! in force).
//!
//! Order of checks per transaction, the first failure deciding the code:
//! well-formed envelope and payload; channel; tx id = H(nonce, creator); creator
//! a valid channel member whose signature verifies; duplicate tx id (committed
//! before, or earlier in this block); endorser transaction well formed, response
//! payload bound to this proposal; chaincode defined and the endorsed definition
//! (version, sequence) current; each endorsement signature; endorsement policy
//! (the chaincode's, and for each written key with a key-level policy that policy
//! instead, including the policy in force before a metadata write replaces it);
//! then, in block order, MVCC (every read version equals the committed version,
//! counting earlier valid transactions of this block) and phantom reads (every
//! range query re-run against committed state plus earlier valid writes).
//! Everything up to the policy check runs in parallel across transactions.

pub mod chaincode;

use cellchain_core::bytes::Hash32;
use cellchain_core::protocol::{TxId, TxValidationCode, Version};
use serde::{Deserialize, Serialize};

pub use chaincode::{ChaincodeDefinition, CollectionConfig, EndorsementPolicy};

/// The committed state as of the end of the previous block. Implemented by the
/// committer's state store; tests pass an in-memory fake.
pub trait CommittedState {
    /// Version of `key` in namespace `ns`, `None` if absent (never written, or deleted).
    fn version(&self, ns: &str, key: &str) -> Result<Option<Version>, StateError>;
    /// Keys in `[start, end)` of `ns` (an empty `end`: to the end of the
    /// namespace) with their versions, in key order, at most `limit` of them
    /// (0: no limit).
    fn range(
        &self,
        ns: &str,
        start: &str,
        end: &str,
        limit: usize,
    ) -> Result<Vec<(String, Version)>, StateError>;
    /// The key-level endorsement policy of `key` (its `VALIDATION_PARAMETER`
    /// metadata entry, Fabric policy text), if one is set.
    fn key_policy(&self, ns: &str, key: &str) -> Result<Option<String>, StateError>;
    /// Version of a private key, by the hash of its key, in `collection`.
    fn private_version(
        &self,
        ns: &str,
        collection: &str,
        key_hash: &Hash32,
    ) -> Result<Option<Version>, StateError>;
    /// Whether `tx_id` is in a block committed before this one (valid or not).
    fn is_committed(&self, tx_id: &TxId) -> Result<bool, StateError>;
}

/// The chaincode definitions in force on the channel.
pub trait Definitions {
    fn definition(&self, chaincode: &str) -> Option<ChaincodeDefinition>;
}

/// Reading committed state failed: the block cannot be validated now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot read committed state: {0}")]
pub struct StateError(pub String);

/// An infrastructure failure that stops the block (not a property of a transaction).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    #[error(transparent)]
    State(#[from] StateError),
}

/// One public write of a valid transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateWrite {
    pub namespace: String,
    pub key: String,
    /// `None` deletes the key.
    pub value: Option<Vec<u8>>,
    /// `(block, tx)` of the writing transaction: the key's new version.
    pub version: Version,
}

/// A metadata write (key-level policy) of a valid transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataWrite {
    pub namespace: String,
    pub key: String,
    /// The key's metadata after the write; an empty map removes it.
    pub entries: std::collections::BTreeMap<String, Vec<u8>>,
    pub version: Version,
}

/// A private-data write of a valid transaction, as the block knows it: hashes.
/// Members store the value too, once they have it and it matches `value_hash`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HashedWrite {
    pub namespace: String,
    pub collection: String,
    pub key_hash: Hash32,
    /// `None` deletes the key.
    pub value_hash: Option<Hash32>,
    pub version: Version,
}

/// The outcome of one transaction, valid or not, for the tx-id index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxOutcome {
    pub tx_id: TxId,
    /// Position in the block.
    pub index: u32,
    pub code: TxValidationCode,
}

/// Everything a block changes in the state store, in block order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateBatch {
    pub block: u64,
    pub writes: Vec<StateWrite>,
    pub metadata: Vec<MetadataWrite>,
    pub hashed_writes: Vec<HashedWrite>,
    /// Every transaction whose tx id could be read, valid or not.
    pub transactions: Vec<TxOutcome>,
}

/// The result of validating one block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedBlock {
    /// One code per envelope, in block order.
    pub codes: Vec<TxValidationCode>,
    pub updates: UpdateBatch,
}
