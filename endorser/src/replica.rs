//! One channel's state replica: a [`StateStore`] kept current from the
//! committer's validated blocks (no re-validation: the blocks carry their
//! validation codes and commit hash), the channel's chaincode definitions
//! cached from it, and the [`SnapshotState`] adapter the chaincode runtime
//! reads through.
//!
//! ## Chaincode definitions
//!
//! The definitions in force live in the replica's state, in the `_lifecycle`
//! namespace (keys `definition/NAME`, written by committed `_lifecycle`
//! transactions). The replica keeps them in a [`DefinitionSet`] cache: loaded
//! when it opens, and replaced after each applied block whose writes touch a
//! definition ([`touches_definitions`], [`DefinitionSet::apply`]). The cache
//! remembers the height it belongs to; [`Replica::definitions_at`] answers a
//! simulation's snapshot with the cache when the heights agree and otherwise
//! (a block applied a moment ago, the cache not yet replaced) reads the
//! definitions from the snapshot itself, so a simulation never pairs a state
//! with definitions of another height.
//!
//! A simulation holds one storage [`StateView`] from its first read to its
//! last: no block is applied meanwhile, so it never sees half a block. The
//! writer (the feed follower) waits for running simulations to release their
//! views, and simulations are short (fuel and the wall-clock backstop bound them).
//!
//! ## Private values
//!
//! A block carries only the hashes of private writes. The replica keeps the
//! values of the collections its organisation is a member of, so that
//! simulations read them: [`Replica::private_needs`] says which a block wrote
//! (`cellchain_validation::private_needs` with this endorser's MSP id and the
//! definitions in force before the block); the follower fetches them from its committer
//! ([`crate::feed`], outside any lock), [`checked_private_writes`] keeps only
//! values whose key and value hashes match the block's (a need not offered or
//! not matching is logged at warn, without values, and left out), and
//! [`Replica::apply_block_with_private`] applies the block and those values in
//! one atomic store batch, refusing any value that does not match a hashed
//! write of the block.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use cellchain_core::bytes::sha256;
use cellchain_core::lifecycle::{LifecycleKey, DEFINITION_PREFIX, LIFECYCLE};
use cellchain_core::protocol::{Block, CollectionPrivateData, PrivateData, Version};
use cellchain_core::Hash32;
use cellchain_simulator::{StateError, StateView as SimStateView, VersionedValue};
use cellchain_storage::{PrivateWrite, StateReader, StateStore, StateStoreError, StateView};
use cellchain_validation::{
    match_private_partial, offered_for, private_needs, touches_definitions, updates_from_block,
    DefinitionSet, PrivateNeed, ReplayError, UpdateBatch,
};
use tokio::sync::watch;

/// Why a block from the feed could not be applied. The follower logs it and
/// reconnects from the replica's height.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplicaError {
    /// The block is ahead of the replica: blocks are missing in between.
    #[error("block {got} does not follow the replica's height {expected}")]
    Gap { expected: u64, got: u64 },
    /// The block has no validation codes or no commit hash.
    #[error("block {block} has not been validated (validation codes or commit hash missing): the feed must be the committer's validated block feed")]
    NotValidated { block: u64 },
    /// Block 0 is not the genesis block this endorser was configured with.
    #[error("block 0 from the feed is not the genesis block of channel {channel}: the committer serves another channel or network")]
    NotOurGenesis { channel: String },
    /// The block does not link to the block applied before it.
    #[error("block {block} does not link to the previous block (hash chain broken)")]
    BrokenChain { block: u64 },
    /// The block's updates cannot be derived.
    #[error(transparent)]
    Replay(#[from] ReplayError),
    /// A private value passed with the block matches no hashed write of it
    /// (a caller's bug: values must go through [`checked_private_writes`]).
    #[error("block {block}: a private value of {namespace}/{collection} passed with the block does not match any of its hashed writes; nothing applied")]
    UncheckedPrivate {
        block: u64,
        namespace: String,
        collection: String,
    },
    /// The state store refused or failed.
    #[error("state store: {0}")]
    Store(String),
    /// A committed chaincode definition does not decode: the ledger is damaged.
    #[error("channel {channel}: {reason}")]
    BadDefinition { channel: String, reason: String },
}

impl From<StateStoreError> for ReplicaError {
    fn from(e: StateStoreError) -> Self {
        ReplicaError::Store(e.to_string())
    }
}

/// What [`Replica::apply_block`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The block is now part of the replica.
    Applied,
    /// The replica already had it (a resent block after a reconnect).
    AlreadyHad,
}

/// One channel's replica and what the status and metrics report of it.
pub struct Replica {
    pub channel: String,
    genesis_hash: Hash32,
    reader: StateReader,
    /// The single writer; taken only by the feed follower (and tests).
    store: Mutex<StateStore>,
    /// Header hash of the last block applied by this process, for the chain check.
    last_hash: Mutex<Option<Hash32>>,
    height: watch::Sender<u64>,
    commit_hash: Mutex<Option<Hash32>>,
    connected: AtomicBool,
    blocks_applied: AtomicU64,
    feed_failures: AtomicU64,
    /// This endorser's organisation: the collections whose member
    /// organisations include it are those whose values the replica keeps.
    membership: Option<String>,
    /// The chaincode definitions in force, and the height they belong to.
    definitions: RwLock<(u64, Arc<DefinitionSet>)>,
    private_stored: AtomicU64,
    private_missing: AtomicU64,
}

/// What [`checked_private_writes`] made of the values offered for a block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckedPrivate {
    /// Values matching the block's hashes, ready for the store.
    pub writes: Vec<PrivateWrite>,
    /// Needs (transaction, namespace, collection) not offered.
    pub missing: usize,
    /// Needs whose offered values did not match the block's hashes.
    pub mismatched: usize,
}

impl Replica {
    /// Opens (or creates) the replica of `channel` in `dir`, whose block 0 must
    /// hash to `genesis_hash`.
    pub fn open(dir: &Path, channel: &str, genesis_hash: Hash32) -> Result<Replica, ReplicaError> {
        let store = StateStore::open(dir)?;
        let (height, commit_hash) = store.savepoint();
        let definitions = {
            let view = store.reader();
            let view = view.view();
            load_definitions(channel, &view)?
        };
        tracing::debug!(%channel, height, defined = definitions.0.len(), "chaincode definitions loaded from the replica");
        Ok(Replica {
            channel: channel.to_string(),
            genesis_hash,
            reader: store.reader(),
            store: Mutex::new(store),
            last_hash: Mutex::new(None),
            height: watch::Sender::new(height),
            commit_hash: Mutex::new(commit_hash),
            connected: AtomicBool::new(false),
            blocks_applied: AtomicU64::new(0),
            feed_failures: AtomicU64::new(0),
            membership: None,
            definitions: RwLock::new((height, Arc::new(definitions))),
            private_stored: AtomicU64::new(0),
            private_missing: AtomicU64::new(0),
        })
    }

    /// Keeps the private values of the collections (of the definitions in
    /// force) whose member organisations include `msp_id` (this endorser's).
    /// Without it the replica keeps no private values.
    pub fn with_membership(mut self, msp_id: &str) -> Replica {
        self.membership = Some(msp_id.to_string());
        self
    }

    /// The chaincode definitions in force after the last applied block (the
    /// cache; see the module docs).
    pub fn definitions(&self) -> Arc<DefinitionSet> {
        self.definitions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .1
            .clone()
    }

    /// The definitions in force at the snapshot `view`, whose height is
    /// `height`: the cache when it belongs to that height, else read from the
    /// snapshot.
    pub fn definitions_at(
        &self,
        view: &StateView<'_>,
        height: u64,
    ) -> Result<Arc<DefinitionSet>, ReplicaError> {
        {
            let cached = self.definitions.read().unwrap_or_else(|e| e.into_inner());
            if cached.0 == height {
                return Ok(cached.1.clone());
            }
        }
        Ok(Arc::new(load_definitions(&self.channel, view)?))
    }

    /// Replaces the cache after block `block` was applied with `updates`.
    /// Called by the single writer, after the store applied the block.
    fn refresh_definitions(&self, updates: &UpdateBatch) {
        let mut cached = self.definitions.write().unwrap_or_else(|e| e.into_inner());
        let touched = touches_definitions(
            updates
                .writes
                .iter()
                .map(|w| (w.namespace.as_str(), w.key.as_str())),
        );
        if touched {
            let mut set = DefinitionSet::clone(&cached.1);
            for w in updates.writes.iter().filter(|w| w.namespace == LIFECYCLE) {
                let Some(LifecycleKey::Definition { chaincode }) = LifecycleKey::parse(&w.key)
                else {
                    continue;
                };
                if let Err(reason) = set.apply(&w.key, w.value.as_deref()) {
                    // Validation lets only decodable definitions through.
                    tracing::error!(channel = %self.channel, block = updates.block, key = %w.key, %reason, "a committed chaincode definition does not decode; the endorser keeps the previous one");
                    continue;
                }
                match set.0.get(chaincode) {
                    Some(d) => tracing::info!(
                        channel = %self.channel,
                        block = updates.block,
                        chaincode = %d.name,
                        version = %d.version,
                        sequence = d.sequence,
                        wasm_sha256 = %d.wasm_hash,
                        "chaincode definition in force"
                    ),
                    None => {
                        tracing::info!(channel = %self.channel, block = updates.block, %chaincode, "chaincode definition removed")
                    }
                }
            }
            cached.1 = Arc::new(set);
        }
        cached.0 = updates.block + 1;
    }

    /// The private values this replica's organisation must obtain before
    /// applying `block`: none for a block the replica already has, or without
    /// [membership](Replica::with_membership).
    pub fn private_needs(&self, block: &Block) -> Result<Vec<PrivateNeed>, ReplicaError> {
        if self.membership.is_none() || block.header.number < self.height() {
            return Ok(Vec::new());
        }
        Ok(self.needs_of(&replica_updates(block)?))
    }

    /// As [`Replica::private_needs`], from the block's updates already derived.
    /// The definitions are those in force before the block: a block that
    /// commits a definition is judged under the previous one.
    pub fn needs_of(&self, updates: &UpdateBatch) -> Vec<PrivateNeed> {
        match &self.membership {
            Some(msp_id) if updates.block >= self.height() && !updates.hashed_writes.is_empty() => {
                private_needs(updates, self.definitions().as_ref(), msp_id)
            }
            _ => Vec::new(),
        }
    }

    /// Private values stored with blocks by this process.
    pub fn private_stored(&self) -> u64 {
        self.private_stored.load(Ordering::Relaxed)
    }

    /// Needs left without values (not offered, or not matching).
    pub fn private_missing(&self) -> u64 {
        self.private_missing.load(Ordering::Relaxed)
    }

    /// Counts needs left without values (the follower, after checking).
    pub fn count_private_missing(&self, n: u64) {
        self.private_missing.fetch_add(n, Ordering::Relaxed);
    }

    /// The number of blocks applied: the next block wanted from the feed.
    pub fn height(&self) -> u64 {
        *self.height.borrow()
    }

    /// Follows the height (tests and status wait on it).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.height.subscribe()
    }

    pub fn commit_hash(&self) -> Option<Hash32> {
        *self.commit_hash.lock().expect("commit hash lock")
    }

    pub fn reader(&self) -> &StateReader {
        &self.reader
    }

    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    pub fn set_connected(&self, connected: bool) {
        self.connected.store(connected, Ordering::Relaxed);
    }

    /// Blocks applied by this process.
    pub fn blocks_applied(&self) -> u64 {
        self.blocks_applied.load(Ordering::Relaxed)
    }

    pub fn feed_failures(&self) -> u64 {
        self.feed_failures.load(Ordering::Relaxed)
    }

    pub fn count_feed_failure(&self) {
        self.feed_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// Applies one validated block, atomically and durably (blocking: the store
    /// fsyncs), without private values. Blocks below the height are skipped; a
    /// gap is refused.
    pub fn apply_block(&self, block: &Block) -> Result<Applied, ReplicaError> {
        self.apply_block_with_private(block, &[])
    }

    /// Applies one validated block and the private values of its organisation's
    /// collections (from [`checked_private_writes`]) in one atomic, durable
    /// store batch (blocking: the store fsyncs). Blocks below the height are
    /// skipped; a gap is refused; a value that matches no hashed write of the
    /// block (key hash, value hash, version) refuses the whole block
    /// ([`ReplicaError::UncheckedPrivate`]): unchecked values are never stored.
    pub fn apply_block_with_private(
        &self,
        block: &Block,
        private: &[PrivateWrite],
    ) -> Result<Applied, ReplicaError> {
        self.apply_validated(block, None, private)
    }

    /// As [`Replica::apply_block_with_private`], with the block's updates
    /// already derived (`None`: derive them here); the follower derives them
    /// once for both [`Replica::needs_of`] and the apply.
    pub fn apply_validated(
        &self,
        block: &Block,
        updates: Option<&UpdateBatch>,
        private: &[PrivateWrite],
    ) -> Result<Applied, ReplicaError> {
        let mut store = self.store.lock().expect("store lock");
        let (height, _) = store.savepoint();
        let number = block.header.number;
        if number < height {
            return Ok(Applied::AlreadyHad);
        }
        if number > height {
            return Err(ReplicaError::Gap {
                expected: height,
                got: number,
            });
        }
        let commit_hash = block
            .metadata
            .commit_hash
            .ok_or(ReplicaError::NotValidated { block: number })?;
        let mut last_hash = self.last_hash.lock().expect("hash lock");
        if number == 0 && block.hash() != self.genesis_hash {
            return Err(ReplicaError::NotOurGenesis {
                channel: self.channel.clone(),
            });
        }
        if let Some(previous) = *last_hash {
            if block.header.previous_hash != previous {
                return Err(ReplicaError::BrokenChain { block: number });
            }
        }
        let derived;
        let updates = match updates {
            Some(u) => u,
            None => {
                derived = replica_updates(block)?;
                &derived
            }
        };
        check_against_block(updates, private)?;
        store.apply(updates, commit_hash, private)?;
        self.refresh_definitions(updates);
        self.private_stored
            .fetch_add(private.len() as u64, Ordering::Relaxed);
        *last_hash = Some(block.hash());
        *self.commit_hash.lock().expect("commit hash lock") = Some(commit_hash);
        self.blocks_applied.fetch_add(1, Ordering::Relaxed);
        self.height.send_replace(number + 1);
        Ok(Applied::Applied)
    }
}

/// The update batch of a validated block: [`updates_from_block`], which commits
/// the genesis block as the committer does (no state, no tx id indexed).
pub fn replica_updates(block: &Block) -> Result<UpdateBatch, ReplicaError> {
    if block.metadata.validation_codes.len() != block.data.envelopes.len() {
        return Err(ReplicaError::NotValidated {
            block: block.header.number,
        });
    }
    Ok(updates_from_block(block)?)
}

/// The committed definitions of the snapshot `view` (`definition/` keys of
/// the `_lifecycle` namespace).
pub fn load_definitions(
    channel: &str,
    view: &StateView<'_>,
) -> Result<DefinitionSet, ReplicaError> {
    // `0` sorts just after `/`: the end of the `definition/` keys.
    let end = format!("{}0", DEFINITION_PREFIX.trim_end_matches('/'));
    let page = view.range(LIFECYCLE, DEFINITION_PREFIX, &end, 0, None)?;
    DefinitionSet::from_entries(
        page.items
            .iter()
            .map(|(k, v, _)| (k.as_str(), v.as_slice())),
    )
    .map_err(|reason| ReplicaError::BadDefinition {
        channel: channel.to_string(),
        reason,
    })
}

/// Refuses a private value that is not one of `updates`' hashed writes.
fn check_against_block(
    updates: &UpdateBatch,
    private: &[PrivateWrite],
) -> Result<(), ReplicaError> {
    for w in private {
        let key_hash = sha256(w.key.as_bytes());
        let value_hash = w.value.as_deref().map(sha256);
        let matches = updates.hashed_writes.iter().any(|h| {
            h.namespace == w.namespace
                && h.collection == w.collection
                && h.key_hash == key_hash
                && h.value_hash == value_hash
                && h.version == w.version
        });
        if !matches {
            return Err(ReplicaError::UncheckedPrivate {
                block: updates.block,
                namespace: w.namespace.clone(),
                collection: w.collection.clone(),
            });
        }
    }
    Ok(())
}

/// The store writes for `needs` (of block `block` on `channel`) from the values
/// `data` offers: for each need, the offered collection data checked with
/// [`match_private_partial`] against the block's hashes. The committer cannot
/// offer deletes (a deleted key is gone from its store), so a delete not offered
/// is resolved here: `key_of` finds the key by its hash among the values this
/// replica holds (none held: nothing to delete). A value not offered, or an offer
/// that does not match, is logged at warn (tx id, namespace, collection, never
/// values) and left out: the block is applied without it.
pub fn checked_private_writes(
    channel: &str,
    block: u64,
    needs: &[PrivateNeed],
    data: &PrivateData,
    key_of: &dyn Fn(&str, &str, &Hash32) -> Option<String>,
) -> CheckedPrivate {
    let mut out = CheckedPrivate::default();
    let nothing = CollectionPrivateData {
        collection: String::new(),
        writes: Vec::new(),
    };
    for need in needs {
        let offered = offered_for(data, need).unwrap_or(&nothing);
        let (matched, left) = match match_private_partial(need, offered) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(
                    %channel,
                    block,
                    tx_id = %need.tx_id,
                    namespace = %need.namespace,
                    collection = %need.collection,
                    reason = %e,
                    "the private values offered by the committer do not match the block's hashes; not stored"
                );
                out.mismatched += 1;
                continue;
            }
        };
        let write = |key: String, value: Option<Vec<u8>>, version| PrivateWrite {
            namespace: need.namespace.clone(),
            collection: need.collection.clone(),
            key,
            value,
            version,
            block_to_live: need.block_to_live,
        };
        out.writes.extend(
            matched
                .into_iter()
                .map(|m| write(m.key, m.value, m.write.version)),
        );
        let mut unresolved = 0;
        for w in left {
            if w.value_hash.is_some() {
                unresolved += 1;
            } else if let Some(key) = key_of(&need.namespace, &need.collection, &w.key_hash) {
                out.writes.push(write(key, None, w.version));
            }
        }
        if unresolved > 0 {
            tracing::warn!(
                %channel,
                block,
                tx_id = %need.tx_id,
                namespace = %need.namespace,
                collection = %need.collection,
                keys = unresolved,
                "the committer did not offer private values of a collection this organisation is a member of; the replica goes on without them"
            );
            out.missing += 1;
        }
    }
    out
}

/// The chaincode runtime's view of state: one storage [`StateView`] (a snapshot
/// held for the whole simulation), with the versions the store keeps.
pub struct SnapshotState<'a, 'v> {
    pub view: &'a StateView<'v>,
}

fn state_err(e: StateStoreError) -> StateError {
    StateError {
        reason: e.to_string(),
    }
}

impl SimStateView for SnapshotState<'_, '_> {
    fn get(&self, namespace: &str, key: &str) -> Result<Option<VersionedValue>, StateError> {
        Ok(self
            .view
            .get(namespace, key)
            .map_err(state_err)?
            .map(|(value, version)| VersionedValue { value, version }))
    }

    fn range(
        &self,
        namespace: &str,
        start: &str,
        end: &str,
        limit: usize,
    ) -> Result<Vec<(String, VersionedValue)>, StateError> {
        // The simulator always asks for at least one entry; the store reads 0
        // as "all", so it is never passed.
        let page = self
            .view
            .range(namespace, start, end, limit.max(1), None)
            .map_err(state_err)?;
        Ok(page
            .items
            .into_iter()
            .map(|(k, value, version)| (k, VersionedValue { value, version }))
            .collect())
    }

    fn get_private(
        &self,
        namespace: &str,
        collection: &str,
        key: &str,
    ) -> Result<Option<VersionedValue>, StateError> {
        Ok(self
            .view
            .get_private(namespace, collection, key)
            .map_err(state_err)?
            .map(|(value, version)| VersionedValue { value, version }))
    }

    fn get_private_hash(
        &self,
        namespace: &str,
        collection: &str,
        key: &str,
    ) -> Result<Option<(Hash32, Version)>, StateError> {
        // Private keys are indexed by the hash of the key, as the simulator
        // writes them into the read/write set.
        self.view
            .get_private_hash(namespace, collection, &sha256(key.as_bytes()))
            .map_err(state_err)
    }
}
