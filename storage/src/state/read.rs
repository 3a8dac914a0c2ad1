//! Reading committed state: [`StateReader`] (a cheap, cloneable handle for other
//! threads) and [`StateView`] (a consistent view over several reads).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, RwLockReadGuard};

use cellchain_core::bytes::sha256;
use cellchain_core::protocol::{TxId, TxValidationCode, Version, VALIDATION_PARAMETER};
use cellchain_core::Hash32;
use cellchain_validation::{CommittedState, StateError};

use super::{codec, keys, PrivateWrite, StateStoreError};

/// What the writer and every reader of one state directory share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) dir: PathBuf,
    /// The default tree of this database holds everything (layout in `keys`).
    pub(crate) db: sled::Db,
    /// Held for reading by a [`StateView`] and for writing while a batch goes in,
    /// so that a view sees whole blocks only. sled makes each single read and each
    /// batch atomic, but a scan or a sequence of reads could straddle two batches.
    pub(crate) lock: RwLock<()>,
}

impl Shared {
    pub(crate) fn read_err(&self, e: sled::Error) -> StateStoreError {
        StateStoreError::Read {
            dir: self.dir.clone(),
            reason: e.to_string(),
        }
    }

    pub(crate) fn corrupt(&self, what: String) -> StateStoreError {
        StateStoreError::Corrupt {
            dir: self.dir.clone(),
            what,
        }
    }

    pub(crate) fn get_raw(&self, key: &[u8]) -> Result<Option<sled::IVec>, StateStoreError> {
        self.db.get(key).map_err(|e| self.read_err(e))
    }

    pub(crate) fn savepoint(&self) -> Result<(u64, Option<Hash32>), StateStoreError> {
        match self.get_raw(keys::SAVEPOINT)? {
            None => Ok((0, None)),
            Some(b) => codec::decode_savepoint(&b)
                .ok_or_else(|| self.corrupt("the savepoint entry does not decode".into())),
        }
    }
}

/// One page of a paginated query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass this to the same query to get the next page; `None` on the last page.
    /// Opaque: for a range it is the next key, for a history the next version.
    pub bookmark: Option<String>,
}

/// One write of a key, as [`StateView::history`] returns it (Fabric's
/// `KeyModification`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// The writing transaction's (block, index in block).
    pub version: Version,
    pub tx_id: TxId,
    pub is_delete: bool,
    /// The value written; empty for a delete.
    pub value: Vec<u8>,
}

/// Where and how a transaction was committed ([`StateView::tx_status`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxStatus {
    pub block: u64,
    /// Position in the block.
    pub index: u32,
    pub code: TxValidationCode,
}

/// A cloneable, `Send + Sync` read handle on a state store, for the threads that
/// serve queries while the committer applies blocks. Each method is consistent on
/// its own (a range page never mixes two blocks); for several reads that must see
/// the same block height, take a [`view`](StateReader::view).
#[derive(Debug, Clone)]
pub struct StateReader {
    pub(crate) shared: Arc<Shared>,
}

/// A consistent read-only view of committed state: while it lives no batch is
/// applied, so every read through it sees the same whole blocks (as Fabric's
/// simulators hold the commit lock for reading).
///
/// Keep a view for one query or one simulation: it holds back the writer. Do not
/// take a second view, or call the reader's own methods, on a thread that holds
/// one; the lock is not reentrant and a waiting writer would deadlock them.
#[derive(Debug)]
pub struct StateView<'a> {
    shared: &'a Shared,
    _guard: RwLockReadGuard<'a, ()>,
}

impl StateReader {
    /// A consistent view over several reads; see [`StateView`].
    pub fn view(&self) -> StateView<'_> {
        // A poisoned lock only means a writer panicked between batches; the data
        // is whatever sled committed, which is whole batches.
        let guard = self.shared.lock.read().unwrap_or_else(|e| e.into_inner());
        StateView {
            shared: &self.shared,
            _guard: guard,
        }
    }

    /// The state directory.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// See [`StateView::savepoint`].
    pub fn savepoint(&self) -> Result<(u64, Option<Hash32>), StateStoreError> {
        self.view().savepoint()
    }

    /// See [`StateView::get`].
    pub fn get(&self, ns: &str, key: &str) -> Result<Option<(Vec<u8>, Version)>, StateStoreError> {
        self.view().get(ns, key)
    }

    /// See [`StateView::range`].
    pub fn range(
        &self,
        ns: &str,
        start: &str,
        end: &str,
        page_size: usize,
        bookmark: Option<&str>,
    ) -> Result<Page<(String, Vec<u8>, Version)>, StateStoreError> {
        self.view().range(ns, start, end, page_size, bookmark)
    }

    /// See [`StateView::history`].
    pub fn history(
        &self,
        ns: &str,
        key: &str,
        page_size: usize,
        bookmark: Option<&str>,
    ) -> Result<Page<HistoryEntry>, StateStoreError> {
        self.view().history(ns, key, page_size, bookmark)
    }

    /// See [`StateView::tx_status`].
    pub fn tx_status(&self, tx_id: &TxId) -> Result<Option<TxStatus>, StateStoreError> {
        self.view().tx_status(tx_id)
    }

    /// See [`StateView::get_private`].
    pub fn get_private(
        &self,
        ns: &str,
        collection: &str,
        key: &str,
    ) -> Result<Option<(Vec<u8>, Version)>, StateStoreError> {
        self.view().get_private(ns, collection, key)
    }

    /// See [`StateView::get_private_hash`].
    pub fn get_private_hash(
        &self,
        ns: &str,
        collection: &str,
        key_hash: &Hash32,
    ) -> Result<Option<(Hash32, Version)>, StateStoreError> {
        self.view().get_private_hash(ns, collection, key_hash)
    }

    /// See [`StateView::get_private_by_hash`].
    pub fn get_private_by_hash(
        &self,
        ns: &str,
        collection: &str,
        key_hash: &Hash32,
    ) -> Result<Option<(String, Vec<u8>, Version)>, StateStoreError> {
        self.view().get_private_by_hash(ns, collection, key_hash)
    }

    /// See [`StateView::staged_private`].
    pub fn staged_private(&self, block: u64) -> Result<Vec<PrivateWrite>, StateStoreError> {
        self.view().staged_private(block)
    }

    /// See [`StateView::key_metadata`].
    pub fn key_metadata(
        &self,
        ns: &str,
        key: &str,
    ) -> Result<Option<BTreeMap<String, Vec<u8>>>, StateStoreError> {
        self.view().key_metadata(ns, key)
    }
}

impl StateView<'_> {
    /// `(height, commit hash)`: the number of blocks applied (the next block to
    /// apply) and the commit hash of the last one (`None` before the first).
    pub fn savepoint(&self) -> Result<(u64, Option<Hash32>), StateStoreError> {
        self.shared.savepoint()
    }

    /// The value and version of a public key; `None` if absent or deleted.
    pub fn get(&self, ns: &str, key: &str) -> Result<Option<(Vec<u8>, Version)>, StateStoreError> {
        let Some(bytes) = self.shared.get_raw(&keys::state(ns, key))? else {
            return Ok(None);
        };
        let (version, value) = codec::decode_value(&bytes)
            .ok_or_else(|| self.shared.corrupt(format!("the value of {ns}/{key:?}")))?;
        Ok(Some((value.to_vec(), version)))
    }

    /// Public keys in `[start, end)` of `ns` in key order (byte order of UTF-8,
    /// which is code-point order: composite keys, starting with U+0000, come
    /// first). An empty `end` runs to the end of the namespace. At most
    /// `page_size` items (0: all); when more remain, the page's bookmark is the
    /// next key, to pass back for the next page.
    pub fn range(
        &self,
        ns: &str,
        start: &str,
        end: &str,
        page_size: usize,
        bookmark: Option<&str>,
    ) -> Result<Page<(String, Vec<u8>, Version)>, StateStoreError> {
        let from = match bookmark {
            None => start,
            Some(b) if b < start || (!end.is_empty() && b >= end) => {
                return Err(StateStoreError::BadBookmark {
                    bookmark: b.to_string(),
                    reason: format!("it is outside the range [{start:?}, {end:?})"),
                })
            }
            Some(b) => b,
        };
        let mut items = Vec::new();
        let mut next = None;
        for entry in self.scan(ns, from, end)? {
            let (key, bytes) = entry?;
            if page_size != 0 && items.len() == page_size {
                next = Some(key);
                break;
            }
            let (version, value) = codec::decode_value(&bytes)
                .ok_or_else(|| self.shared.corrupt(format!("the value of {ns}/{key:?}")))?;
            items.push((key, value.to_vec(), version));
        }
        Ok(Page {
            items,
            bookmark: next,
        })
    }

    /// The raw entries of `[start, end)` of `ns`, keys decoded.
    fn scan<'s>(
        &'s self,
        ns: &str,
        start: &str,
        end: &str,
    ) -> Result<
        impl Iterator<Item = Result<(String, sled::IVec), StateStoreError>> + 's,
        StateStoreError,
    > {
        let prefix = keys::ns_prefix(keys::STATE, ns);
        let mut lo = prefix.clone();
        lo.extend_from_slice(start.as_bytes());
        let hi = if end.is_empty() {
            keys::prefix_end(&prefix).expect("a state prefix starts with a tag below 0xFF")
        } else {
            let mut hi = prefix.clone();
            hi.extend_from_slice(end.as_bytes());
            hi
        };
        // sled panics on a range whose start is past its end; such a range is empty.
        let iter = (lo < hi).then(|| self.shared.db.range(lo..hi));
        let shared = self.shared;
        let ns = ns.to_string();
        Ok(iter.into_iter().flatten().map(move |entry| {
            let (k, v) = entry.map_err(|e| shared.read_err(e))?;
            let key = std::str::from_utf8(&k[prefix.len()..])
                .map_err(|_| shared.corrupt(format!("a key of namespace {ns} is not UTF-8")))?;
            Ok((key.to_string(), v))
        }))
    }

    /// The writes of one key, newest first (as Fabric 2's `GetHistoryForKey`),
    /// deletes included. At most `page_size` entries (0: all); the bookmark names
    /// the next (older) entry.
    pub fn history(
        &self,
        ns: &str,
        key: &str,
        page_size: usize,
        bookmark: Option<&str>,
    ) -> Result<Page<HistoryEntry>, StateStoreError> {
        let prefix = keys::history_prefix(ns, key);
        let iter = match bookmark {
            None => self.shared.db.scan_prefix(&prefix),
            Some(b) => {
                let v = parse_history_bookmark(b)?;
                self.shared
                    .db
                    .range(prefix.clone()..=keys::history(ns, key, v.block, v.tx))
            }
        };
        let mut items = Vec::new();
        let mut next = None;
        for entry in iter.rev() {
            let (k, bytes) = entry.map_err(|e| self.shared.read_err(e))?;
            let bad = || {
                self.shared
                    .corrupt(format!("a history entry of {ns}/{key:?}"))
            };
            let version = codec::decode_value(&k[prefix.len()..])
                .filter(|(_, rest)| rest.is_empty())
                .ok_or_else(bad)?
                .0;
            if page_size != 0 && items.len() == page_size {
                next = Some(format!("{}:{}", version.block, version.tx));
                break;
            }
            let (tx_id, value) = codec::decode_history(&bytes).ok_or_else(bad)?;
            items.push(HistoryEntry {
                version,
                tx_id,
                is_delete: value.is_none(),
                value: value.unwrap_or_default(),
            });
        }
        Ok(Page {
            items,
            bookmark: next,
        })
    }

    /// Where a transaction was committed and its validation code, valid or not.
    /// For a tx id that appears more than once, the first occurrence.
    pub fn tx_status(&self, tx_id: &TxId) -> Result<Option<TxStatus>, StateStoreError> {
        let Some(bytes) = self.shared.get_raw(&keys::tx(tx_id.0.as_bytes()))? else {
            return Ok(None);
        };
        let (block, index, code) = codec::decode_tx(&bytes)
            .ok_or_else(|| self.shared.corrupt(format!("the tx-id entry of {tx_id}")))?;
        Ok(Some(TxStatus { block, index, code }))
    }

    /// A private value of a collection this organisation is a member of, until it
    /// is purged; `None` if absent, deleted, purged, or never received.
    pub fn get_private(
        &self,
        ns: &str,
        collection: &str,
        key: &str,
    ) -> Result<Option<(Vec<u8>, Version)>, StateStoreError> {
        let Some(bytes) = self.shared.get_raw(&keys::private(ns, collection, key))? else {
            return Ok(None);
        };
        let (version, _expiry, value) = codec::decode_private(&bytes).ok_or_else(|| {
            self.shared
                .corrupt(format!("the private value of {ns}/{collection}/{key:?}"))
        })?;
        Ok(Some((value.to_vec(), version)))
    }

    /// The value hash and version of a private key, by key hash: what every peer
    /// of the channel knows, member or not.
    pub fn get_private_hash(
        &self,
        ns: &str,
        collection: &str,
        key_hash: &Hash32,
    ) -> Result<Option<(Hash32, Version)>, StateStoreError> {
        let key = keys::hashed(ns, collection, key_hash.as_bytes());
        let Some(bytes) = self.shared.get_raw(&key)? else {
            return Ok(None);
        };
        let (version, hash) = codec::decode_hashed(&bytes).ok_or_else(|| {
            self.shared
                .corrupt(format!("the private hash of {ns}/{collection}/{key_hash}"))
        })?;
        Ok(Some((hash, version)))
    }

    /// A private value by the hash of its key (`sha256(key)`, as blocks carry
    /// it): `(key, value, version)`, for a member to answer which values a block
    /// wrote. `None` when [`get_private`](StateView::get_private) of the key
    /// would be: never received, deleted or purged.
    pub fn get_private_by_hash(
        &self,
        ns: &str,
        collection: &str,
        key_hash: &Hash32,
    ) -> Result<Option<(String, Vec<u8>, Version)>, StateStoreError> {
        let index = keys::private_index(ns, collection, key_hash.as_bytes());
        let Some(bytes) = self.shared.get_raw(&index)? else {
            return Ok(None);
        };
        let bad = || {
            self.shared.corrupt(format!(
                "the key-hash index entry of {ns}/{collection}/{key_hash}"
            ))
        };
        let key = std::str::from_utf8(&bytes).map_err(|_| bad())?;
        if sha256(key.as_bytes()) != *key_hash {
            return Err(bad());
        }
        Ok(self
            .get_private(ns, collection, key)?
            .map(|(value, version)| (key.to_string(), value, version)))
    }

    /// The private writes staged for `block` by
    /// [`StateStore::stage_private`](super::StateStore::stage_private) and not yet
    /// removed by its apply, as staged; empty if none are.
    pub fn staged_private(&self, block: u64) -> Result<Vec<PrivateWrite>, StateStoreError> {
        let Some(bytes) = self.shared.get_raw(&keys::staged(block))? else {
            return Ok(Vec::new());
        };
        codec::decode_staged(&bytes).ok_or_else(|| {
            self.shared
                .corrupt(format!("the private writes staged for block {block}"))
        })
    }

    /// The metadata entries of a public key (such as `VALIDATION_PARAMETER`), if
    /// any are set.
    pub fn key_metadata(
        &self,
        ns: &str,
        key: &str,
    ) -> Result<Option<BTreeMap<String, Vec<u8>>>, StateStoreError> {
        let Some(bytes) = self.shared.get_raw(&keys::metadata(ns, key))? else {
            return Ok(None);
        };
        codec::decode_metadata(&bytes)
            .map(Some)
            .ok_or_else(|| self.shared.corrupt(format!("the metadata of {ns}/{key:?}")))
    }
}

fn parse_history_bookmark(b: &str) -> Result<Version, StateStoreError> {
    let bad = || StateStoreError::BadBookmark {
        bookmark: b.to_string(),
        reason: "a history bookmark is `block:tx`".into(),
    };
    let (block, tx) = b.split_once(':').ok_or_else(bad)?;
    Ok(Version {
        block: block.parse().map_err(|_| bad())?,
        tx: tx.parse().map_err(|_| bad())?,
    })
}

fn state_err(e: StateStoreError) -> StateError {
    StateError(e.to_string())
}

impl CommittedState for StateView<'_> {
    fn version(&self, ns: &str, key: &str) -> Result<Option<Version>, StateError> {
        let Some(bytes) = self
            .shared
            .get_raw(&keys::state(ns, key))
            .map_err(state_err)?
        else {
            return Ok(None);
        };
        codec::decode_value(&bytes)
            .map(|(v, _)| Some(v))
            .ok_or_else(|| state_err(self.shared.corrupt(format!("the value of {ns}/{key:?}"))))
    }

    fn range(
        &self,
        ns: &str,
        start: &str,
        end: &str,
        limit: usize,
    ) -> Result<Vec<(String, Version)>, StateError> {
        let mut out = Vec::new();
        for entry in self.scan(ns, start, end).map_err(state_err)? {
            if limit != 0 && out.len() == limit {
                break;
            }
            let (key, bytes) = entry.map_err(state_err)?;
            let (version, _) = codec::decode_value(&bytes).ok_or_else(|| {
                state_err(self.shared.corrupt(format!("the value of {ns}/{key:?}")))
            })?;
            out.push((key, version));
        }
        Ok(out)
    }

    /// The `VALIDATION_PARAMETER` entry as text. Bytes that are not UTF-8 are
    /// converted lossily rather than refused: an error here would stop every
    /// block, while a garbled policy fails to parse and fails only the
    /// transactions that write the key.
    fn key_policy(&self, ns: &str, key: &str) -> Result<Option<String>, StateError> {
        let meta = self.key_metadata(ns, key).map_err(state_err)?;
        Ok(meta
            .and_then(|mut m| m.remove(VALIDATION_PARAMETER))
            .map(|p| String::from_utf8_lossy(&p).into_owned()))
    }

    fn private_version(
        &self,
        ns: &str,
        collection: &str,
        key_hash: &Hash32,
    ) -> Result<Option<Version>, StateError> {
        Ok(self
            .get_private_hash(ns, collection, key_hash)
            .map_err(state_err)?
            .map(|(_, v)| v))
    }

    fn is_committed(&self, tx_id: &TxId) -> Result<bool, StateError> {
        Ok(self.tx_status(tx_id).map_err(state_err)?.is_some())
    }
}

/// Implements [`CommittedState`] for a handle by taking a [`StateView`] per call.
macro_rules! committed_state_through_view {
    ($ty:ty) => {
        impl CommittedState for $ty {
            fn version(&self, ns: &str, key: &str) -> Result<Option<Version>, StateError> {
                self.view().version(ns, key)
            }
            fn range(
                &self,
                ns: &str,
                start: &str,
                end: &str,
                limit: usize,
            ) -> Result<Vec<(String, Version)>, StateError> {
                CommittedState::range(&self.view(), ns, start, end, limit)
            }
            fn key_policy(&self, ns: &str, key: &str) -> Result<Option<String>, StateError> {
                self.view().key_policy(ns, key)
            }
            fn private_version(
                &self,
                ns: &str,
                collection: &str,
                key_hash: &Hash32,
            ) -> Result<Option<Version>, StateError> {
                self.view().private_version(ns, collection, key_hash)
            }
            fn is_committed(&self, tx_id: &TxId) -> Result<bool, StateError> {
                self.view().is_committed(tx_id)
            }
        }
    };
}

committed_state_through_view!(StateReader);
committed_state_through_view!(super::StateStore);
