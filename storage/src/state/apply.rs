//! [`StateStore::apply`]: one block's updates as one sled batch; and
//! [`StateStore::stage_private`], the private values of the next block kept
//! durably until it is applied.

use std::collections::{BTreeMap, HashMap, HashSet};

use cellchain_core::protocol::{TxId, Version};
use cellchain_core::Hash32;
use cellchain_validation::{MetadataWrite, StateWrite, UpdateBatch};

use super::{codec, keys, PrivateWrite, StateStore, StateStoreError};

/// A public write or a metadata write, put in version order.
enum PublicOp<'a> {
    Write(&'a StateWrite),
    Metadata(&'a MetadataWrite),
}

impl StateStore {
    /// Applies the updates of block `updates.block` and records `commit_hash` as
    /// its commit hash, atomically and durably: everything below goes into one
    /// sled batch, which is flushed (fsynced) before this returns `Ok`.
    ///
    /// - Public writes and deletes, each with its version, and one history entry
    ///   per write (the tx id comes from the batch's outcome at that index).
    /// - Metadata writes replace the key's whole metadata (an empty map removes
    ///   it) and leave its value and version alone, also for a key that has no
    ///   value yet (its policy then governs the key's first write); a delete
    ///   removes the key's metadata. Writes and metadata writes of one key are
    ///   applied in version order (a value write before a metadata write of the
    ///   same transaction). These are the rules of `cellchain-validation`'s
    ///   in-block view, so validation and the store agree on every version.
    /// - Hashed private writes (key hash to value hash and version).
    /// - `private`: values of collections this organisation is a member of, with a
    ///   purge-index entry at their expiry block (see
    ///   [`PrivateWrite::block_to_live`]) and an entry in the key-hash index
    ///   ([`StateView::get_private_by_hash`](super::StateView::get_private_by_hash)).
    ///   Values whose expiry is at or before this block, stored earlier, are
    ///   purged in the same batch, index entries with them.
    /// - The private writes staged for this block
    ///   ([`stage_private`](StateStore::stage_private)) are removed, whether or
    ///   not `private` holds the same writes.
    /// - The tx-id index: every outcome, valid or not; a tx id already indexed
    ///   (a duplicate) keeps its first entry.
    /// - The savepoint: height `updates.block + 1` and `commit_hash`.
    ///
    /// Refused, with nothing changed: a batch for another block than the next
    /// ([`StateStoreError::NotNext`]), a public, metadata or hashed write whose
    /// version is of another block ([`StateStoreError::ForeignVersion`]), a
    /// public write from a transaction that is not valid in the batch's outcomes
    /// ([`StateStoreError::NoValidTx`]). After a failed write or flush the store
    /// refuses every batch ([`StateStoreError::Poisoned`]) until reopened.
    pub fn apply(
        &mut self,
        updates: &UpdateBatch,
        commit_hash: Hash32,
        private: &[PrivateWrite],
    ) -> Result<(), StateStoreError> {
        let shared = std::sync::Arc::clone(&self.reader.shared);
        let block = updates.block;
        self.check_next(block)?;
        let mut batch = Builder::new(self, block);
        batch.public(updates)?;
        batch.hashed(updates)?;
        batch.private(private)?;
        batch.purge()?;
        batch.transactions(updates)?;
        let mut sled_batch = batch.finish();
        sled_batch.insert(
            keys::SAVEPOINT,
            codec::encode_savepoint(block + 1, Some(&commit_hash)),
        );
        sled_batch.remove(keys::staged(block));

        let written = {
            // Readers holding a view finish first, then see the whole batch.
            let _guard = shared.lock.write().unwrap_or_else(|e| e.into_inner());
            shared.db.apply_batch(sled_batch)
        };
        self.check_written(written.and_then(|_| shared.db.flush().map(|_| ())))?;
        self.height = block + 1;
        self.commit_hash = Some(commit_hash);
        Ok(())
    }

    /// Stages the private values fetched for block `block`, the next to apply,
    /// durably: the entry is flushed (fsynced) before this returns `Ok`, so the
    /// committer may append the block to its block store next. After a crash
    /// before the block's [`apply`](StateStore::apply), the committer reads them
    /// back with [`staged_private`](super::StateReader::staged_private) to replay
    /// the block; its apply removes them.
    ///
    /// Staging the same block again replaces what was staged. The writes are kept
    /// as given, unchecked; nothing but `staged_private` reads them.
    ///
    /// Refused, with nothing changed: a block that is not the next to apply
    /// ([`StateStoreError::NotNext`]). After a failed write or flush, here or in
    /// `apply`, the store refuses both ([`StateStoreError::Poisoned`]) until
    /// reopened.
    pub fn stage_private(
        &mut self,
        block: u64,
        writes: &[PrivateWrite],
    ) -> Result<(), StateStoreError> {
        self.check_next(block)?;
        let shared = std::sync::Arc::clone(&self.reader.shared);
        let written = shared
            .db
            .insert(keys::staged(block), codec::encode_staged(writes));
        self.check_written(written.and_then(|_| shared.db.flush().map(|_| ())))
    }

    /// Refuses a write when the store is poisoned or `block` is not the next.
    fn check_next(&self, block: u64) -> Result<(), StateStoreError> {
        let dir = || self.reader.shared.dir.clone();
        if let Some(reason) = &self.poisoned {
            return Err(StateStoreError::Poisoned {
                dir: dir(),
                reason: reason.clone(),
            });
        }
        if block != self.height {
            return Err(StateStoreError::NotNext {
                dir: dir(),
                expected: self.height,
                got: block,
            });
        }
        Ok(())
    }

    /// Poisons the store if a write or its flush failed.
    fn check_written<T>(&mut self, result: sled::Result<T>) -> Result<(), StateStoreError> {
        if let Err(e) = result {
            let reason = e.to_string();
            self.poisoned = Some(reason.clone());
            return Err(StateStoreError::Write {
                dir: self.reader.shared.dir.clone(),
                reason,
            });
        }
        Ok(())
    }
}

/// Collects one block's entries, reading committed state where a write depends
/// on it. Only the single writer builds batches, so reading without the view
/// lock is safe: nothing else changes the tree meanwhile.
struct Builder<'s> {
    store: &'s StateStore,
    block: u64,
    /// Public values after this batch, by state key (`None`: deleted).
    state: BTreeMap<Vec<u8>, Option<(Version, Vec<u8>)>>,
    /// Metadata after this batch, by metadata key (`None`: removed).
    metadata: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    /// Private values after this batch, by private key: `(expiry, entry)`. Set
    /// through [`Builder::set_private`], which keeps the key-hash index in step.
    private: BTreeMap<Vec<u8>, Option<(u64, Vec<u8>)>>,
    /// Everything else: history, hashes, tx ids, purge index, key-hash index.
    other: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
}

impl<'s> Builder<'s> {
    fn new(store: &'s StateStore, block: u64) -> Self {
        Builder {
            store,
            block,
            state: BTreeMap::new(),
            metadata: BTreeMap::new(),
            private: BTreeMap::new(),
            other: BTreeMap::new(),
        }
    }

    fn get_raw(&self, key: &[u8]) -> Result<Option<sled::IVec>, StateStoreError> {
        self.store.reader.shared.get_raw(key)
    }

    fn corrupt(&self, what: String) -> StateStoreError {
        self.store.reader.shared.corrupt(what)
    }

    fn check_version(
        &self,
        what: &'static str,
        namespace: &str,
        key: impl FnOnce() -> String,
        version: Version,
    ) -> Result<(), StateStoreError> {
        if version.block == self.block {
            return Ok(());
        }
        Err(StateStoreError::ForeignVersion {
            block: self.block,
            what,
            namespace: namespace.to_string(),
            key: key(),
            version,
        })
    }

    fn public(&mut self, updates: &UpdateBatch) -> Result<(), StateStoreError> {
        let valid: HashMap<u32, TxId> = updates
            .transactions
            .iter()
            .filter(|t| t.code.is_valid())
            .map(|t| (t.index, t.tx_id))
            .collect();
        let mut ops = Vec::with_capacity(updates.writes.len() + updates.metadata.len());
        for w in &updates.writes {
            self.check_version("the write of", &w.namespace, || w.key.clone(), w.version)?;
            ops.push((w.version, PublicOp::Write(w)));
        }
        for m in &updates.metadata {
            self.check_version(
                "the metadata write of",
                &m.namespace,
                || m.key.clone(),
                m.version,
            )?;
            ops.push((m.version, PublicOp::Metadata(m)));
        }
        // Stable: within one version, value writes (pushed first) come first.
        ops.sort_by_key(|(v, _)| *v);
        for (version, op) in ops {
            match op {
                PublicOp::Write(w) => {
                    let tx_id =
                        valid
                            .get(&version.tx)
                            .ok_or_else(|| StateStoreError::NoValidTx {
                                block: self.block,
                                namespace: w.namespace.clone(),
                                key: w.key.clone(),
                                tx: version.tx,
                            })?;
                    self.other.insert(
                        keys::history(&w.namespace, &w.key, version.block, version.tx),
                        Some(codec::encode_history(tx_id, w.value.as_deref())),
                    );
                    let key = keys::state(&w.namespace, &w.key);
                    self.state
                        .insert(key, w.value.clone().map(|value| (version, value)));
                    if w.value.is_none() {
                        self.metadata
                            .insert(keys::metadata(&w.namespace, &w.key), None);
                    }
                }
                PublicOp::Metadata(m) => {
                    // The key's value and version stay as they are: the rule
                    // cellchain-validation's in-block view applies too.
                    let entries =
                        (!m.entries.is_empty()).then(|| codec::encode_metadata(&m.entries));
                    self.metadata
                        .insert(keys::metadata(&m.namespace, &m.key), entries);
                }
            }
        }
        Ok(())
    }

    fn hashed(&mut self, updates: &UpdateBatch) -> Result<(), StateStoreError> {
        for w in &updates.hashed_writes {
            self.check_version(
                "the private write of key hash",
                &w.namespace,
                || format!("{}/{}", w.collection, w.key_hash),
                w.version,
            )?;
            let key = keys::hashed(&w.namespace, &w.collection, w.key_hash.as_bytes());
            let entry = w.value_hash.map(|h| codec::encode_hashed(w.version, &h));
            self.other.insert(key, entry);
        }
        Ok(())
    }

    /// The expiry of the private value stored under `key` before this write:
    /// from this batch if it wrote the key already, else from the tree.
    fn private_expiry(&self, key: &[u8]) -> Result<Option<u64>, StateStoreError> {
        if let Some(entry) = self.private.get(key) {
            return Ok(entry.as_ref().map(|(expiry, _)| *expiry));
        }
        match self.get_raw(key)? {
            None => Ok(None),
            Some(b) => codec::decode_private(&b)
                .map(|(_, expiry, _)| Some(expiry))
                .ok_or_else(|| self.corrupt("a private value does not decode".into())),
        }
    }

    /// Sets the private value under `key` after this batch (`None`: none), and its
    /// key-hash index entry with it: present exactly when the value is.
    fn set_private(
        &mut self,
        key: Vec<u8>,
        entry: Option<(u64, Vec<u8>)>,
    ) -> Result<(), StateStoreError> {
        let (index, plain) = keys::index_of_private(&key)
            .ok_or_else(|| self.corrupt("a private-value key does not decode".into()))?;
        let plain = entry.as_ref().map(|_| plain.to_vec());
        self.other.insert(index, plain);
        self.private.insert(key, entry);
        Ok(())
    }

    fn private(&mut self, writes: &[PrivateWrite]) -> Result<(), StateStoreError> {
        let mut writes: Vec<&PrivateWrite> = writes.iter().collect();
        writes.sort_by_key(|w| w.version);
        for w in writes {
            let key = keys::private(&w.namespace, &w.collection, &w.key);
            // The old value's purge-index entry goes with it.
            if let Some(old) = self.private_expiry(&key)? {
                if old != u64::MAX {
                    self.other
                        .insert(keys::purge(old, &w.namespace, &w.collection, &w.key), None);
                }
            }
            let expiry = match w.block_to_live {
                0 => u64::MAX,
                btl => w.version.block.saturating_add(btl).saturating_add(1),
            };
            let entry = match &w.value {
                // Already expired (a late value): keep nothing.
                Some(_) if expiry <= self.block => None,
                Some(value) => {
                    if expiry != u64::MAX {
                        let purge = keys::purge(expiry, &w.namespace, &w.collection, &w.key);
                        self.other.insert(purge, Some(Vec::new()));
                    }
                    Some((expiry, codec::encode_private(w.version, expiry, value)))
                }
                None => None,
            };
            self.set_private(key, entry)?;
        }
        Ok(())
    }

    /// Purges the private values whose expiry is at or before this block.
    fn purge(&mut self) -> Result<(), StateStoreError> {
        let shared = &self.store.reader.shared;
        let lo = [keys::PURGE];
        let mut hi = vec![keys::PURGE];
        hi.extend_from_slice(&(self.block.saturating_add(1)).to_be_bytes());
        let mut purged = Vec::new();
        for entry in shared.db.range(&lo[..]..&hi[..]) {
            let (k, _) = entry.map_err(|e| shared.read_err(e))?;
            let (expiry, target) = keys::purge_target(&k)
                .ok_or_else(|| self.corrupt("a purge-index entry does not decode".into()))?;
            purged.push((k.to_vec(), expiry, target));
        }
        for (index_key, expiry, target) in purged {
            self.other.insert(index_key, None);
            // A value rewritten in this batch has a later expiry and its own entry;
            // one rewritten earlier lost this index entry then. Check anyway.
            if !self.private.contains_key(&target) && self.private_expiry(&target)? == Some(expiry)
            {
                self.set_private(target, None)?;
            }
        }
        Ok(())
    }

    fn transactions(&mut self, updates: &UpdateBatch) -> Result<(), StateStoreError> {
        let mut seen = HashSet::new();
        for t in &updates.transactions {
            let key = keys::tx(t.tx_id.0.as_bytes());
            if !seen.insert(t.tx_id) || self.get_raw(&key)?.is_some() {
                continue;
            }
            self.other
                .insert(key, Some(codec::encode_tx(self.block, t.index, t.code)));
        }
        Ok(())
    }

    fn finish(self) -> sled::Batch {
        let mut batch = sled::Batch::default();
        let state = self.state.into_iter().map(|(k, v)| {
            (
                k,
                v.map(|(version, value)| codec::encode_value(version, &value)),
            )
        });
        let private = self
            .private
            .into_iter()
            .map(|(k, v)| (k, v.map(|(_, entry)| entry)));
        for (k, v) in state.chain(self.metadata).chain(private).chain(self.other) {
            match v {
                Some(v) => batch.insert(k, v),
                None => batch.remove(k),
            }
        }
        batch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_poisoned_store_refuses_staging_and_stages_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = StateStore::open(dir.path()).unwrap();
        let w = PrivateWrite {
            namespace: "cc".into(),
            collection: "coll".into(),
            key: "k".into(),
            value: Some(b"v".to_vec()),
            version: Version { block: 0, tx: 0 },
            block_to_live: 0,
        };
        store.stage_private(0, std::slice::from_ref(&w)).unwrap();
        store.poisoned = Some("disk full".into());
        let err = store.stage_private(0, &[]).unwrap_err();
        assert_eq!(
            err,
            StateStoreError::Poisoned {
                dir: dir.path().to_path_buf(),
                reason: "disk full".into(),
            }
        );
        // The earlier staging stands; apply is refused alike.
        assert_eq!(store.staged_private(0).unwrap(), vec![w]);
        let batch = UpdateBatch::default();
        assert!(matches!(
            store.apply(&batch, Hash32([0; 32]), &[]),
            Err(StateStoreError::Poisoned { .. })
        ));
        assert_eq!(store.staged_private(0).unwrap().len(), 1);
    }
}
