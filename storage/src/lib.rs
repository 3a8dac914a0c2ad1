//! Durable storage for CellChain nodes. In the flow of a transaction this is where
//! the orderer keeps the blocks it cuts (and serves them to Deliver) and where the
//! committer keeps its ledger of record, from which world state is derived.
//!
//! Blocks are the ledger of record: [`FileBlockStore`] appends each block as one
//! length-prefixed, CRC-checked record to a segment file and fsyncs it before
//! [`BlockStore::append`] returns, so a block is never acknowledged before it is
//! durable. It refuses a block that does not extend the chain. On open it rebuilds
//! its index by scanning, cuts away a record torn by a crash at the very end, and
//! refuses any other damage, naming the block.
//!
//! Consumers depend on the small [`BlockStore`] trait, so the backend can change and
//! tests can use [`MemBlockStore`]. [`verify_ledger`] re-checks a block directory
//! offline (`cellchain ledger verify`): CRCs, numbers, hash links, data hashes and
//! the orderers' signatures against the genesis block's consenters.
//!
//! World state is derived from the blocks: [`StateStore`] keeps one channel's
//! public and private state, key metadata, history, tx-id index and savepoint in
//! one sled tree, and applies each block's [`UpdateBatch`] as one atomic, flushed
//! sled batch. It implements the validator's [`CommittedState`]; readers on
//! other threads use [`StateReader`] and [`StateView`].
//!
//! [`UpdateBatch`]: cellchain_validation::UpdateBatch
//! [`CommittedState`]: cellchain_validation::CommittedState

mod error;
mod file_store;
mod segment;
mod sled_open;
pub mod state;
mod verify;

pub use error::StoreError;
pub use file_store::{FileBlockStore, OpenReport, StoreOptions};
pub use segment::TornTail;
pub use sled_open::open_sled;
pub use state::{
    HistoryEntry, Page, PrivateWrite, StateReader, StateStore, StateStoreError, StateView, TxStatus,
};
pub use verify::{verify_ledger, VerifyError, VerifyReport};

use cellchain_core::protocol::Block;
use cellchain_core::Hash32;

/// The blocks of one channel, in order from the genesis block: what the orderer
/// and the committer need from a block store.
pub trait BlockStore {
    /// Appends `block`, which must extend the chain: its number is [`height`]
    /// ([`StoreError::NotNext`]), its previous hash is [`last_hash`] (zero for block
    /// 0; [`StoreError::BrokenChain`]) and its data hash is the Merkle root of its
    /// envelopes ([`StoreError::BadDataHash`]). Signatures and the validity of the
    /// transactions are not checked here: that is the caller's job.
    ///
    /// When it returns `Ok` the block is durable (written and fsynced), so the
    /// caller may acknowledge it. A block refused by the rules above leaves no trace.
    /// After a failed write or fsync the block must not be acknowledged, and the
    /// store refuses further appends ([`StoreError::Poisoned`]) until it is reopened;
    /// the block may or may not be found then, like any unacknowledged write.
    ///
    /// [`height`]: BlockStore::height
    /// [`last_hash`]: BlockStore::last_hash
    fn append(&mut self, block: &Block) -> Result<(), StoreError>;

    /// The number of blocks stored, which is also the number of the next block.
    fn height(&self) -> u64;

    /// Block `number`, or `None` at or past the height. The stored bytes are checked
    /// again (CRC, number) on every read.
    fn get(&self, number: u64) -> Result<Option<Block>, StoreError>;

    /// The header hash of the last block (the next block's previous hash), `None`
    /// while the store is empty.
    fn last_hash(&self) -> Option<Hash32>;

    /// Blocks from `number` up to the height at the time of the call, in order.
    /// Empty if `number` is at or past the height; ends after the first error.
    fn iter_from(&self, number: u64) -> Box<dyn Iterator<Item = Result<Block, StoreError>> + '_>;
}

/// Checks that `block` extends a chain of `height` blocks whose last header hash is
/// `last_hash`: the rule every [`BlockStore::append`] applies.
pub fn check_next(height: u64, last_hash: Option<Hash32>, block: &Block) -> Result<(), StoreError> {
    let number = block.header.number;
    if number != height {
        return Err(StoreError::NotNext {
            expected: height,
            got: number,
        });
    }
    let expected = last_hash.unwrap_or(Hash32::ZERO);
    if block.header.previous_hash != expected {
        return Err(StoreError::BrokenChain {
            number,
            expected,
            found: block.header.previous_hash,
        });
    }
    let data_hash = Block::data_hash_of(&block.data.envelopes);
    if data_hash != block.header.data_hash {
        return Err(StoreError::BadDataHash {
            number,
            expected: data_hash,
            found: block.header.data_hash,
        });
    }
    Ok(())
}

/// A block store in memory with the same chaining rules, for consumers' tests.
#[derive(Debug, Clone, Default)]
pub struct MemBlockStore {
    blocks: Vec<Block>,
}

impl MemBlockStore {
    pub fn new() -> MemBlockStore {
        MemBlockStore::default()
    }
}

impl BlockStore for MemBlockStore {
    fn append(&mut self, block: &Block) -> Result<(), StoreError> {
        check_next(self.height(), self.last_hash(), block)?;
        self.blocks.push(block.clone());
        Ok(())
    }

    fn height(&self) -> u64 {
        self.blocks.len() as u64
    }

    fn get(&self, number: u64) -> Result<Option<Block>, StoreError> {
        Ok(usize::try_from(number)
            .ok()
            .and_then(|n| self.blocks.get(n))
            .cloned())
    }

    fn last_hash(&self) -> Option<Hash32> {
        self.blocks.last().map(Block::hash)
    }

    fn iter_from(&self, number: u64) -> Box<dyn Iterator<Item = Result<Block, StoreError>> + '_> {
        let from = usize::try_from(number).unwrap_or(usize::MAX);
        Box::new(self.blocks.iter().skip(from).cloned().map(Ok))
    }
}
