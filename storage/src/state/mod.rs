//! [`StateStore`]: the world state of one channel, derived from its blocks, on sled.
//!
//! It holds what the committer's validation reads and what queries ask: public
//! values with their versions, key metadata (key-level policies), the hashes of
//! private writes (every peer) and private values (members only, purged when their
//! collection's block-to-live runs out), the history of every public key, the
//! tx-id index and the savepoint (blocks applied and the last commit hash).
//!
//! Everything lives in one sled tree under one-byte key prefixes (layout in
//! `keys.rs`), so one block's updates go in as one sled batch: atomic on a crash
//! and for readers. The store is derived: the committer replays from
//! [`StateStore::savepoint`] the blocks it is missing, and a damaged or outdated
//! state directory is cured by deleting it and replaying from block 0.

mod apply;
mod codec;
mod error;
mod keys;
mod read;

use std::ops::Deref;
use std::path::Path;
use std::sync::{Arc, RwLock};

use cellchain_core::protocol::Version;
use cellchain_core::Hash32;

pub use error::StateStoreError;
pub use read::{HistoryEntry, Page, StateReader, StateView, TxStatus};

use read::Shared;

/// The on-disk format this code writes and reads.
const FORMAT: u32 = 1;

/// A private value a member organisation stores, passed to [`StateStore::apply`]
/// beside the block's hashed writes. The committer passes only values whose hashes
/// matched the block's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivateWrite {
    pub namespace: String,
    pub collection: String,
    pub key: String,
    /// `None` deletes the value.
    pub value: Option<Vec<u8>>,
    /// The writing transaction's `(block, tx)`.
    pub version: Version,
    /// The collection's `block_to_live`: the value is kept for this many blocks
    /// after the block that wrote it and purged when block `version.block +
    /// block_to_live + 1` is applied (Fabric's rule); 0 keeps it for ever.
    pub block_to_live: u64,
}

/// The world state of one channel on one node, with its single writer.
///
/// `StateStore` is `Send + Sync`. Only the owner of the `StateStore` applies
/// batches (`apply` takes `&mut self`); other threads read through
/// [`StateReader`]s from [`reader`](StateStore::reader) while it does, and never
/// see part of a batch: each read method is consistent on its own, and a
/// [`StateView`] keeps several reads on the same height. The store dereferences to
/// its own [`StateReader`], so every read method is available on it too.
///
/// One process owns a state directory: sled locks it, and a second open fails.
#[derive(Debug)]
pub struct StateStore {
    reader: StateReader,
    height: u64,
    commit_hash: Option<Hash32>,
    /// Set when a write or flush failed: sled may or may not hold the batch.
    poisoned: Option<String>,
}

impl StateStore {
    /// Opens (or creates) the state database in `dir`.
    pub fn open(dir: impl AsRef<Path>) -> Result<StateStore, StateStoreError> {
        let dir = dir.as_ref().to_path_buf();
        let open_err = |e: sled::Error| StateStoreError::Open {
            dir: dir.clone(),
            reason: e.to_string(),
        };
        let db = crate::open_sled(&dir).map_err(open_err)?;
        let shared = Shared {
            dir: dir.clone(),
            db,
            lock: RwLock::new(()),
        };
        match shared.get_raw(keys::FORMAT)? {
            Some(b) => {
                let found = codec::decode_format(&b)
                    .ok_or_else(|| shared.corrupt("the format entry does not decode".into()))?;
                if found != FORMAT {
                    return Err(StateStoreError::UnsupportedFormat {
                        dir,
                        found,
                        supported: FORMAT,
                    });
                }
            }
            None => {
                shared
                    .db
                    .insert(keys::FORMAT, &FORMAT.to_be_bytes())
                    .map_err(open_err)?;
                shared.db.flush().map_err(open_err)?;
            }
        }
        let (height, commit_hash) = shared.savepoint()?;
        Ok(StateStore {
            reader: StateReader {
                shared: Arc::new(shared),
            },
            height,
            commit_hash,
            poisoned: None,
        })
    }

    /// `(height, commit hash)`: the number of blocks applied, which is the number
    /// of the next block to apply, and the commit hash of the last one (`None`
    /// before the first). The committer replays its block store from `height`.
    pub fn savepoint(&self) -> (u64, Option<Hash32>) {
        (self.height, self.commit_hash)
    }

    /// See [`StateView::range`]. (Spelled out here because the store's
    /// [`CommittedState::range`](cellchain_validation::CommittedState::range) would
    /// otherwise win over the reader's method wherever that trait is in scope.)
    pub fn range(
        &self,
        ns: &str,
        start: &str,
        end: &str,
        page_size: usize,
        bookmark: Option<&str>,
    ) -> Result<Page<(String, Vec<u8>, Version)>, StateStoreError> {
        self.reader.range(ns, start, end, page_size, bookmark)
    }

    /// A read handle for other threads.
    pub fn reader(&self) -> StateReader {
        self.reader.clone()
    }
}

impl Deref for StateStore {
    type Target = StateReader;

    fn deref(&self) -> &StateReader {
        &self.reader
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<StateStore>();
        check::<StateReader>();
    }
}
