//! Transaction validation (step 5 of the flow), as pure functions: no IO, no
//! clock, no threads of its own beyond scoped workers for signature checks.
//!
//! [`validate_block`] (or [`Validator::validate_block`], which keeps its
//! identity cache across blocks) takes a block that the committer has already
//! checked as a block (orderer signature, hash chain) and decides each
//! transaction: one [`TxValidationCode`] per envelope, stored in the block's
//! metadata (data, not an error), and the [`UpdateBatch`] of the valid
//! transactions' writes, which the committer applies atomically with the block.
//! Infrastructure failures (the committed state cannot be read) are
//! [`ValidationError`]s and stop the block. [`commit_hash`] chains the result
//! into the commit hash two committers compare.
//!
//! What it reads of the world is behind two small traits the committer
//! implements: [`CommittedState`] (versions, ranges, key-level policies and tx ids
//! committed before this block) and [`Definitions`] (the chaincode definitions
//! in force).
//!
//! # Order of checks
//!
//! Per transaction, the first failure deciding the code (the numbers are
//! Fabric's `TxValidationCode`s, see `cellchain_core::protocol::TxValidationCode`):
//!
//! | # | rule | code |
//! |---|---|---|
//! | 1 | the envelope has payload bytes | `NilEnvelope` (1) |
//! | 2 | the payload parses as a `Payload` | `BadPayload` (2) |
//! | 3 | the header names this channel | `TargetChainNotFound` (14) |
//! | 4 | tx id = SHA-256(nonce \|\| creator) | `BadProposalTxid` (8) |
//! | 5 | the creator is a valid member at the header timestamp, and its envelope signature verifies | `BadCreatorSignature` (4) |
//! | 6 | the tx id is not committed before, nor used by an earlier authentic transaction of this block | `DuplicateTxid` (9) |
//! | 7 | the payload is an endorser transaction (configuration updates are not supported in a normal block) | `UnsupportedTxPayload` (7) |
//! | 8 | the proposal parses and its header equals the payload header | `InvalidEndorserTransaction` (5) |
//! | 9 | the response payload parses, its `proposal_hash` is SHA-256 of the proposal bytes, and it names the proposal's chaincode | `BadResponsePayload` (21) |
//! | 10 | the chaincode response is a success (2xx; contracts answer 200) | `InvalidEndorserTransaction` (5) |
//! | 11 | the chaincode is defined on the channel | `InvalidChaincode` (25) |
//! | 12 | the endorsed (version, sequence) is the current definition | `ChaincodeVersionConflict` (18) |
//! | 13 | each namespace appears once in the read/write set | `BadRwset` (22) |
//! | 14 | writes, metadata writes and private writes only in the invoked chaincode's namespace, private writes only to its defined collections, and to a member-only-write collection only by a creator of a member organisation; in `_lifecycle`, only value writes of well-formed keys holding a definition of the key's chaincode, by an admin, an approval only by an admin of the approving organisation | `IllegalWriteset` (23) |
//! | 15 | each key written at most once per kind; deletes carry no value; private writes carry a value hash unless deletes; a `VALIDATION_PARAMETER` is a signature policy | `InvalidWriteset` (24) |
//! | 16 | the endorsements (valid peers of the channel whose signature over `endorsement_message(response_payload, endorser)` verifies, distinct by certificate; others count as missing) satisfy the key-level policies of the written keys and, if a written key has none or nothing is written, the chaincode's policy; in `_lifecycle`, an approval of organisation X needs X's peer and a definition the channel's `LifecycleEndorsement` | `EndorsementPolicyFailure` (10) |
//! | 17 | in block order: every read version (public, and private by key hash) equals the committed one, counting earlier valid transactions of the block | `MvccReadConflict` (11) |
//! | 18 | in block order: every range query re-run over committed state plus earlier valid writes returns the same keys and versions | `PhantomReadConflict` (12) |
//!
//! Rules 1 to 16 run in parallel across transactions (`workers` scoped
//! threads); rule 6's in-block part and rules 17-18 run in block order. Rule 16
//! is evaluated first against committed key-level policies, and again in block
//! order for a transaction that writes a key whose policy an earlier valid
//! transaction of the block set, changed or removed.
//!
//! Choices worth knowing:
//! - **Certificates are judged at the transaction's header timestamp**, the
//!   creator's and the endorsers' alike: the endorser refused proposals too far
//!   from its clock, so that time is bounded, and a transaction endorsed just
//!   before a certificate expired stays valid when it commits after. Revocation
//!   is judged by the channel configuration in force.
//! - **Stale definition**: `ChaincodeVersionConflict` (18), as documented on
//!   the code in `cellchain-core`; Fabric 1.x reported a chaincode upgraded
//!   since endorsement as `EXPIRED_CHAINCODE` (17).
//! - **A bad endorsement counts as missing** (Fabric drops invalid signatures
//!   from the signature set): a transaction with enough good endorsements is
//!   valid even if it also carries a bad one.
//! - **A chaincode policy naming an unknown channel policy** cannot be met:
//!   `EndorsementPolicyFailure`, not an error that would stop the channel.
//! - **Only authentic tx ids are recorded** ([`UpdateBatch::transactions`]):
//!   rules 1-5 passed, not a duplicate. Otherwise anyone could burn someone
//!   else's tx id with a forged envelope, or overwrite the outcome of the
//!   original transaction with that of a replay.
//!
//! # State semantics the store must share
//!
//! The in-block view of earlier valid transactions follows the same rules the
//! store applies to an [`UpdateBatch`], transaction by transaction:
//! a value write sets the key's version to `(block, tx)` and keeps its metadata;
//! a delete removes the key and its metadata (so its key-level policy);
//! a metadata write replaces the key's whole metadata (an empty map removes it)
//! after the value writes of the same transaction, and does not change the
//! key's version.

pub mod chaincode;
mod check;
mod commit;
mod identity_cache;
mod mvcc;
mod policy;
pub mod private;
mod replay;
mod validator;

use cellchain_core::bytes::Hash32;
use cellchain_core::protocol::{TxId, TxValidationCode, Version};
use serde::{Deserialize, Serialize};

pub use chaincode::{
    touches_definitions, ChaincodeDefinition, CollectionConfig, DefinitionSet, EndorsementPolicy,
};
pub use commit::{commit_hash, COMMIT_HASH_TAG};
pub use private::{
    match_private, match_private_partial, offered_for, private_needs, MatchedPrivate,
    PrivateMismatch, PrivateNeed,
};
pub use replay::{updates_from_block, ReplayError};
pub use validator::{validate_block, Validator};

/// The committed state as of the end of the previous block. Implemented by the
/// committer's state store; tests pass an in-memory fake. Every call of one
/// block's validation must be answered from the same snapshot; calls come from
/// several worker threads at once.
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
    /// metadata entry, Fabric signature policy text as UTF-8), if one is set.
    /// A delete of the key removes it; a value write keeps it.
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

/// The chaincode definitions in force on the channel: those committed through
/// the lifecycle before this block (see `cellchain_core::lifecycle`). A
/// definition committed in a block governs from the next block on, so a
/// transaction in the same block as an upgrade is judged under the old one.
/// `_lifecycle` itself is built in and never asked for.
pub trait Definitions {
    /// The definition of `chaincode` in force for this block, `None` if the
    /// chaincode is not defined on the channel.
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

/// Everything a block changes in the state store, in block order (within one
/// transaction: value writes, then metadata writes; see the crate docs).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateBatch {
    pub block: u64,
    pub writes: Vec<StateWrite>,
    pub metadata: Vec<MetadataWrite>,
    pub hashed_writes: Vec<HashedWrite>,
    /// Every transaction whose tx id is authentic (checks 1-5 passed) and not
    /// a duplicate, valid or not: each tx id at most once.
    pub transactions: Vec<TxOutcome>,
}

/// The result of validating one block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedBlock {
    /// One code per envelope, in block order.
    pub codes: Vec<TxValidationCode>,
    pub updates: UpdateBatch,
}
