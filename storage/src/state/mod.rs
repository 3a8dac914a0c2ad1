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
//!
//! Private values are indexed by key hash too
//! ([`StateView::get_private_by_hash`]), because blocks carry only the hashes of
//! private keys: that is how a member answers "the private values block N wrote".
//!
//! A private value is not in the blocks, so replaying a block needs its values
//! again. The committer therefore stages them first
//! ([`StateStore::stage_private`], durable when it returns), then appends the
//! block to its block store, then applies it; after a crash between the append
//! and the apply it reads them back with [`StateReader::staged_private`] and
//! replays the block. Applying block N removes what was staged for it in the same
//! batch, so staged values never outlive their block's apply, and no other read
//! sees them.
//!
//! Private values never appear in `Debug` output: [`PrivateWrite`]'s shows the
//! value's length only.
//!
//! Format history: format 1 had no key-hash index of private values; opening a
//! format-1 directory builds the index from the values it holds and marks it
//! format 2 in one flushed batch (a format-2 directory is refused by older code).

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
const FORMAT: u32 = 2;

/// The format before the `k` index of private values by key hash; upgraded on
/// open by [`upgrade_from_1`].
const FORMAT_WITHOUT_PRIVATE_INDEX: u32 = 1;

/// A private value a member organisation stores, passed to [`StateStore::apply`]
/// beside the block's hashed writes. The committer passes only values whose hashes
/// matched the block's.
///
/// Its `Debug` output shows the value's length, never its bytes, so that private
/// data does not reach logs.
#[derive(Clone, PartialEq, Eq)]
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

impl std::fmt::Debug for PrivateWrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        /// The value as `Debug` shows it: its length, or that it is deleted.
        struct Redacted(Option<usize>);
        impl std::fmt::Debug for Redacted {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                match self.0 {
                    Some(len) => write!(f, "<{len} bytes>"),
                    None => f.write_str("deleted"),
                }
            }
        }
        f.debug_struct("PrivateWrite")
            .field("namespace", &self.namespace)
            .field("collection", &self.collection)
            .field("key", &self.key)
            .field("value", &Redacted(self.value.as_ref().map(Vec::len)))
            .field("version", &self.version)
            .field("block_to_live", &self.block_to_live)
            .finish()
    }
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
                if found == FORMAT_WITHOUT_PRIVATE_INDEX {
                    upgrade_from_1(&shared)?;
                } else if found != FORMAT {
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

/// Upgrades a format-1 directory: writes the `k` entry of every private value it
/// holds and the new format, in one batch, flushed.
fn upgrade_from_1(shared: &Shared) -> Result<(), StateStoreError> {
    let mut batch = sled::Batch::default();
    for entry in shared.db.scan_prefix([keys::PRIVATE]) {
        let (key, _) = entry.map_err(|e| shared.read_err(e))?;
        let (index, plain) = keys::index_of_private(&key)
            .ok_or_else(|| shared.corrupt("a private-value key does not decode".into()))?;
        batch.insert(index, plain);
    }
    batch.insert(keys::FORMAT, &FORMAT.to_be_bytes());
    let write_err = |e: sled::Error| StateStoreError::Write {
        dir: shared.dir.clone(),
        reason: format!("upgrading from format {FORMAT_WITHOUT_PRIVATE_INDEX}: {e}"),
    };
    shared.db.apply_batch(batch).map_err(write_err)?;
    shared.db.flush().map_err(write_err)?;
    Ok(())
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

    #[test]
    fn private_write_debug_never_shows_the_value() {
        let secret = b"top-secret-value".to_vec();
        let mut w = PrivateWrite {
            namespace: "cc".into(),
            collection: "coll".into(),
            key: "k1".into(),
            value: Some(secret.clone()),
            version: Version { block: 7, tx: 3 },
            block_to_live: 5,
        };
        for shown in [format!("{w:?}"), format!("{w:#?}")] {
            assert!(!shown.contains("top-secret"), "{shown}");
            // Nor as the numbers a derived Debug would print for a Vec<u8>.
            assert!(
                !shown.contains(&format!("{}, {}", secret[0], secret[1])),
                "{shown}"
            );
            for part in ["cc", "coll", "k1", "16 bytes", "block: 7", "tx: 3", "5"] {
                assert!(shown.contains(part), "{part} missing from {shown}");
            }
        }
        assert_eq!(
            format!("{w:?}"),
            "PrivateWrite { namespace: \"cc\", collection: \"coll\", key: \"k1\", \
             value: <16 bytes>, version: Version { block: 7, tx: 3 }, block_to_live: 5 }"
        );
        w.value = None;
        assert!(format!("{w:?}").contains("value: deleted"));
        w.value = Some(Vec::new());
        assert!(format!("{w:?}").contains("value: <0 bytes>"));
    }
}
