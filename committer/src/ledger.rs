//! One channel's ledger on this node: the block files (the ledger of record) and
//! the state store derived from them, opened with recovery and extended one
//! validated block at a time. Synchronous: callers run it on a blocking thread.
//!
//! # Commit order and recovery
//!
//! A block is validated against the state as of the block before, its codes and
//! commit hash are written into its metadata, then it is **appended to the block
//! files (fsynced) first** and **applied to the state store second** (one atomic,
//! flushed sled batch). A crash between the two leaves the state behind the blocks,
//! never ahead; on open, [`Ledger::open`]:
//!
//! 1. opens the block files (a record torn by a crash is cut away: that block was
//!    never acknowledged) and writes the genesis block, with its code and commit
//!    hash, into a new store; an existing store must start with this genesis block;
//! 2. opens the state store and compares its savepoint height with the block height:
//!    - **state ahead of the blocks**: refused ([`LedgerError::StateAhead`]): the
//!      block files were replaced or truncated; state is derived, so delete the
//!      state directory to rebuild it from the blocks;
//!    - **state behind**: the missing blocks are replayed from the block files
//!      with `updates_from_block` (codes from their metadata, no re-validation);
//!      each recomputed commit hash must equal the one stored in the block;
//!    - **equal**: the state's commit hash must equal the last block's.
//!
//! # Private values
//!
//! A commit is two steps so that the private values of the block can be fetched
//! in between, off the ledger's thread ([`crate::private`]): [`Ledger::prepare`]
//! checks and validates the block and computes its commit hash (nothing is
//! written), [`Ledger::finish`] stores it. The private values (of collections this
//! organisation is a member of, checked against the block's hashes) are **staged**
//! in the state store first (durably, keyed by the block number), then the block
//! is appended, then the state is applied with them (which drops the staged
//! entry). Replay on open applies each replayed block with the values staged for
//! it, so values fetched before a crash between append and apply are not lost.
//! Values that could not be fetched in time are not stored: the member keeps only
//! the hashes the block carries for them (as every non-member does).

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use cellchain_core::crypto::CryptoProvider;
use cellchain_core::protocol::{Block, TxValidationCode};
use cellchain_core::Hash32;
use cellchain_storage::{
    check_next, BlockStore, FileBlockStore, PrivateWrite, StateReader, StateStore, StateStoreError,
    StoreError, StoreOptions,
};
use cellchain_validation::{
    commit_hash, updates_from_block, DefinitionSet, ReplayError, UpdateBatch, ValidationError,
    Validator,
};

use crate::pipeline::{committed_genesis, genesis_outcome, BlockRefused, BlockTrust};

/// An infrastructure failure of the ledger: the channel stops (the process exits
/// and a restart recovers from what is on disk).
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("block store of channel {channel}: {source}")]
    Blocks { channel: String, source: StoreError },
    #[error("state store of channel {channel}: {source}")]
    State {
        channel: String,
        source: StateStoreError,
    },
    /// The block store starts with another genesis block.
    #[error("the block store in {} holds another channel's genesis block ({found}, expected {expected}); point data_dir elsewhere", dir.display())]
    WrongGenesis {
        dir: PathBuf,
        found: Hash32,
        expected: Hash32,
    },
    /// The state has applied blocks the block files do not hold.
    #[error("the state store in {} has applied {state_height} blocks but the block files in {} hold only {block_height}: the block files were replaced or truncated. Restore them, or delete the state directory to rebuild state from the blocks (private data values are not in the blocks and are lost with it)", state_dir.display(), blocks_dir.display())]
    StateAhead {
        state_dir: PathBuf,
        blocks_dir: PathBuf,
        state_height: u64,
        block_height: u64,
    },
    /// A stored block's updates cannot be derived for replay.
    #[error("channel {channel}: cannot replay a stored block: {source}")]
    Replay {
        channel: String,
        source: ReplayError,
    },
    /// A stored block carries no commit hash: it was never committed by a committer.
    #[error("channel {channel}: stored block {number} carries no commit hash; the block files were not written by a committer")]
    MissingCommitHash { channel: String, number: u64 },
    /// Replaying a stored block gives another commit hash than the one it records.
    #[error("channel {channel}: replaying block {number} gives commit hash {recomputed}, but the block records {stored}: the block files or the state are damaged; verify the ledger (cellchain ledger verify), then delete the state directory to rebuild it (private data values are not in the blocks and are lost with it)")]
    CommitHashMismatch {
        channel: String,
        number: u64,
        stored: Hash32,
        recomputed: Hash32,
    },
    /// The chaincode definitions could not be refreshed from a committed block.
    #[error(transparent)]
    Definitions(#[from] crate::definitions::DefinitionsError),
    /// Committed state could not be read while validating.
    #[error("channel {channel}: cannot validate block {number}: {source}")]
    Validation {
        channel: String,
        number: u64,
        source: ValidationError,
    },
}

/// What opening a ledger found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovery {
    pub height: u64,
    /// Blocks replayed into the state from the block files.
    pub replayed: u64,
    /// Bytes of a torn last block record cut away.
    pub truncated_bytes: u64,
    pub commit_hash: Hash32,
}

/// The outcome of committing one block.
#[derive(Debug, Clone)]
pub struct Committed {
    pub number: u64,
    pub codes: Vec<TxValidationCode>,
    pub commit_hash: Hash32,
    pub validation_time: Duration,
    /// Block append (fsync) plus state apply (flush).
    pub commit_time: Duration,
}

/// A block checked and validated against the state, with its codes and commit
/// hash written into its metadata, ready for [`Ledger::finish`]. Nothing of it is
/// stored yet.
pub struct Prepared {
    block: Block,
    pub number: u64,
    pub codes: Vec<TxValidationCode>,
    /// The state updates of the block: what [`crate::private`] derives the
    /// private values this organisation needs from.
    pub updates: UpdateBatch,
    pub commit_hash: Hash32,
    pub validation_time: Duration,
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared")
            .field("number", &self.number)
            .field("txs", &self.codes.len())
            .field("commit_hash", &self.commit_hash)
            .finish_non_exhaustive()
    }
}

/// Why [`Ledger::prepare`] or [`Ledger::finish`] did not commit a block.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// The block is not acceptable from an orderer; the ledger is unchanged.
    #[error(transparent)]
    Refused(#[from] BlockRefused),
    /// The ledger failed; stop.
    #[error(transparent)]
    Fatal(#[from] LedgerError),
}

/// Where a channel's ledger lives under the data directory.
pub fn blocks_dir(data_dir: &Path, channel: &str) -> PathBuf {
    data_dir.join(channel).join("blocks")
}

pub fn state_dir(data_dir: &Path, channel: &str) -> PathBuf {
    data_dir.join(channel).join("state")
}

/// A channel's block files and state, with their single writer.
pub struct Ledger {
    channel: String,
    blocks: Arc<RwLock<FileBlockStore>>,
    state: StateStore,
}

impl Ledger {
    /// Opens (or creates) the ledger of the channel whose genesis block is
    /// `genesis` under `data_dir`, recovering as the module docs say.
    pub fn open(data_dir: &Path, genesis: &Block) -> Result<(Ledger, Recovery), LedgerError> {
        let channel = channel_of(genesis);
        let blocks_err = |source| LedgerError::Blocks {
            channel: channel.clone(),
            source,
        };
        let state_err = |source| LedgerError::State {
            channel: channel.clone(),
            source,
        };
        let bdir = blocks_dir(data_dir, &channel);
        let (mut store, report) =
            FileBlockStore::open(&bdir, StoreOptions::default()).map_err(blocks_err)?;
        if store.height() == 0 {
            store
                .append(&committed_genesis(genesis))
                .map_err(blocks_err)?;
            tracing::info!(%channel, "block store created with the genesis block");
        } else {
            let stored = store.get(0).map_err(blocks_err)?.expect("height > 0");
            if stored.hash() != genesis.hash() {
                return Err(LedgerError::WrongGenesis {
                    dir: bdir,
                    found: stored.hash(),
                    expected: genesis.hash(),
                });
            }
        }
        let sdir = state_dir(data_dir, &channel);
        let mut state = StateStore::open(&sdir).map_err(state_err)?;
        let block_height = store.height();
        let (state_height, _) = state.savepoint();
        if state_height > block_height {
            return Err(LedgerError::StateAhead {
                state_dir: sdir,
                blocks_dir: bdir,
                state_height,
                block_height,
            });
        }
        let mut replayed = 0;
        for number in state_height..block_height {
            let block = store
                .get(number)
                .map_err(blocks_err)?
                .expect("below the height");
            let updates = if number == 0 {
                genesis_outcome().1
            } else {
                updates_from_block(&block).map_err(|source| LedgerError::Replay {
                    channel: channel.clone(),
                    source,
                })?
            };
            let previous = state.savepoint().1.unwrap_or(Hash32::ZERO);
            let hash = check_stored_hash(&channel, &block, &previous, &updates)?;
            // Private values fetched for this block before a crash.
            let private = state.staged_private(number).map_err(state_err)?;
            state.apply(&updates, hash, &private).map_err(state_err)?;
            replayed += 1;
        }
        if replayed > 0 {
            tracing::info!(%channel, from = state_height, to = block_height, "replayed blocks the state was missing");
        }
        // Equal heights: the state must be the one these blocks produce.
        let last = store
            .get(block_height - 1)
            .map_err(blocks_err)?
            .expect("below the height");
        let stored = last
            .metadata
            .commit_hash
            .ok_or_else(|| LedgerError::MissingCommitHash {
                channel: channel.clone(),
                number: block_height - 1,
            })?;
        let (_, state_hash) = state.savepoint();
        if state_hash != Some(stored) {
            return Err(LedgerError::CommitHashMismatch {
                channel: channel.clone(),
                number: block_height - 1,
                stored,
                recomputed: state_hash.unwrap_or(Hash32::ZERO),
            });
        }
        let recovery = Recovery {
            height: block_height,
            replayed,
            truncated_bytes: report.truncated_bytes(),
            commit_hash: stored,
        };
        Ok((
            Ledger {
                channel,
                blocks: Arc::new(RwLock::new(store)),
                state,
            },
            recovery,
        ))
    }

    /// The block files, shared with the feed (which reads them).
    pub fn blocks(&self) -> Arc<RwLock<FileBlockStore>> {
        self.blocks.clone()
    }

    /// A read handle on the state, for queries.
    pub fn reader(&self) -> StateReader {
        self.state.reader()
    }

    /// Blocks committed (the next block's number).
    pub fn height(&self) -> u64 {
        self.state.savepoint().0
    }

    /// The last block's commit hash.
    pub fn commit_hash(&self) -> Hash32 {
        self.state.savepoint().1.unwrap_or(Hash32::ZERO)
    }

    /// Checks `block` (chain and consenter signature, see [`BlockTrust`]),
    /// validates it against the committed state and computes its commit hash.
    /// Nothing is written: [`finish`](Ledger::finish) stores it.
    #[allow(clippy::too_many_arguments)]
    pub fn prepare(
        &self,
        mut block: Block,
        trust: &BlockTrust,
        validator: &Validator,
        defs: &DefinitionSet,
        provider: &dyn CryptoProvider,
        workers: usize,
        now_unix: i64,
    ) -> Result<Prepared, CommitError> {
        let (height, previous) = self.state.savepoint();
        let last_hash = self.blocks.read().expect("block store lock").last_hash();
        trust.check_block(height, last_hash, &block, provider, now_unix)?;
        let number = block.header.number;
        let started = Instant::now();
        let validated = {
            let view = self.state.view();
            validator
                .validate_block(&block, &view, defs, provider, workers)
                .map_err(|source| LedgerError::Validation {
                    channel: self.channel.clone(),
                    number,
                    source,
                })?
        };
        let hash = commit_hash(
            &previous.unwrap_or(Hash32::ZERO),
            number,
            &validated.codes,
            &validated.updates,
        );
        block.metadata.validation_codes = validated.codes.clone();
        block.metadata.commit_hash = Some(hash);
        Ok(Prepared {
            block,
            number,
            codes: validated.codes,
            updates: validated.updates,
            commit_hash: hash,
            validation_time: started.elapsed(),
        })
    }

    /// Stores a prepared block with the private values obtained for it (checked
    /// against its hashes; see the module docs): values staged first, block files
    /// second (fsynced), state third. Refused, with nothing written, when the
    /// ledger has moved since [`prepare`](Ledger::prepare).
    pub fn finish(
        &mut self,
        prepared: Prepared,
        private: &[PrivateWrite],
    ) -> Result<Committed, CommitError> {
        let Prepared {
            block,
            number,
            codes,
            updates,
            commit_hash: hash,
            validation_time,
        } = prepared;
        let state_err = |source| LedgerError::State {
            channel: self.channel.clone(),
            source,
        };
        let started = Instant::now();
        {
            let last_hash = self.blocks.read().expect("block store lock").last_hash();
            check_next(self.height(), last_hash, &block).map_err(BlockRefused::Chain)?;
        }
        if !private.is_empty() {
            self.state
                .stage_private(number, private)
                .map_err(state_err)?;
        }
        self.blocks
            .write()
            .expect("block store lock")
            .append(&block)
            .map_err(|source| LedgerError::Blocks {
                channel: self.channel.clone(),
                source,
            })?;
        self.state
            .apply(&updates, hash, private)
            .map_err(state_err)?;
        Ok(Committed {
            number,
            codes,
            commit_hash: hash,
            validation_time,
            commit_time: started.elapsed(),
        })
    }

    /// [`prepare`](Ledger::prepare) then [`finish`](Ledger::finish) without
    /// private values.
    #[allow(clippy::too_many_arguments)]
    pub fn commit(
        &mut self,
        block: Block,
        trust: &BlockTrust,
        validator: &Validator,
        defs: &DefinitionSet,
        provider: &dyn CryptoProvider,
        workers: usize,
        now_unix: i64,
    ) -> Result<Committed, CommitError> {
        let prepared = self.prepare(block, trust, validator, defs, provider, workers, now_unix)?;
        self.finish(prepared, &[])
    }
}

/// The commit hash of a stored block recomputed from `updates`, checked against
/// the one in its metadata.
fn check_stored_hash(
    channel: &str,
    block: &Block,
    previous: &Hash32,
    updates: &UpdateBatch,
) -> Result<Hash32, LedgerError> {
    let number = block.header.number;
    let stored = block
        .metadata
        .commit_hash
        .ok_or_else(|| LedgerError::MissingCommitHash {
            channel: channel.to_string(),
            number,
        })?;
    let recomputed = commit_hash(previous, number, &block.metadata.validation_codes, updates);
    if recomputed != stored {
        return Err(LedgerError::CommitHashMismatch {
            channel: channel.to_string(),
            number,
            stored,
            recomputed,
        });
    }
    Ok(recomputed)
}

/// The channel a genesis block defines (its verified configuration names it; the
/// header of its one envelope says the same).
fn channel_of(genesis: &Block) -> String {
    genesis
        .data
        .envelopes
        .first()
        .and_then(|e| e.parse_payload().ok())
        .map(|p| p.header.channel_id)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definitions::DefinitionCache;
    use crate::fixtures::{
        block_after, block_with, definitions, fixture, lifecycle_commit, now, private_tx, Fixture,
    };
    use cellchain_core::bytes::sha256;
    use cellchain_core::crypto::default_provider;
    use cellchain_core::protocol::Version;

    fn copy_dir(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                copy_dir(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), target).unwrap();
            }
        }
    }

    /// Commits `n` empty consenter-signed blocks; returns the last commit hash.
    fn commit_blocks(f: &Fixture, ledger: &mut Ledger, n: usize) -> Hash32 {
        let msps = f.config.msp_set().unwrap();
        let trust = BlockTrust::new(&f.config, msps, now()).unwrap();
        let validator = Validator::new(f.config.clone()).unwrap();
        let defs = DefinitionSet::default();
        for _ in 0..n {
            let last = ledger
                .blocks()
                .read()
                .unwrap()
                .get(ledger.height() - 1)
                .unwrap()
                .unwrap();
            let block = block_after(&last, Some(&f.orderer));
            let c = ledger
                .commit(
                    block,
                    &trust,
                    &validator,
                    &defs,
                    default_provider(),
                    2,
                    now(),
                )
                .unwrap();
            assert_eq!(c.number + 1, ledger.height());
        }
        // A block that does not extend the chain is refused and changes nothing.
        let stale = block_after(&f.genesis, Some(&f.orderer));
        let height = ledger.height();
        assert!(matches!(
            ledger.commit(
                stale,
                &trust,
                &validator,
                &defs,
                default_provider(),
                2,
                now()
            ),
            Err(CommitError::Refused(BlockRefused::Chain(_)))
        ));
        assert_eq!(ledger.height(), height);
        ledger.commit_hash()
    }

    #[test]
    fn a_new_ledger_holds_the_genesis_block_with_its_commit_hash() {
        let f = fixture();
        let dir = tempfile::tempdir().unwrap();
        let (ledger, recovery) = Ledger::open(dir.path(), &f.genesis).unwrap();
        assert_eq!(recovery.height, 1);
        assert_eq!(recovery.commit_hash, genesis_outcome().2);
        let stored = ledger.blocks().read().unwrap().get(0).unwrap().unwrap();
        assert_eq!(stored.metadata.commit_hash, Some(genesis_outcome().2));
        drop(ledger);
        let (_, again) = Ledger::open(dir.path(), &f.genesis).unwrap();
        assert_eq!((again.height, again.replayed), (1, 0));
        // Another channel's genesis block is refused.
        let other = fixture();
        assert!(matches!(
            Ledger::open(dir.path(), &other.genesis),
            Err(LedgerError::WrongGenesis { .. })
        ));
    }

    #[test]
    fn blocks_the_state_is_missing_are_replayed_to_the_same_commit_hash() {
        let f = fixture();
        let a = tempfile::tempdir().unwrap();
        let (mut ledger, _) = Ledger::open(a.path(), &f.genesis).unwrap();
        let hash = commit_blocks(&f, &mut ledger, 3);
        drop(ledger);
        // A crash after appending blocks 1-3 but before applying them: a state at
        // height 1 beside block files of height 4.
        let b = tempfile::tempdir().unwrap();
        drop(Ledger::open(b.path(), &f.genesis).unwrap());
        std::fs::remove_dir_all(blocks_dir(b.path(), "ch")).unwrap();
        copy_dir(&blocks_dir(a.path(), "ch"), &blocks_dir(b.path(), "ch"));
        let (ledger, recovery) = Ledger::open(b.path(), &f.genesis).unwrap();
        assert_eq!((recovery.height, recovery.replayed), (4, 3));
        assert_eq!(ledger.commit_hash(), hash);
        drop(ledger);
        // State deleted: rebuilt from the blocks alone.
        std::fs::remove_dir_all(state_dir(b.path(), "ch")).unwrap();
        let (ledger, recovery) = Ledger::open(b.path(), &f.genesis).unwrap();
        assert_eq!((recovery.height, recovery.replayed), (4, 4));
        assert_eq!(ledger.commit_hash(), hash);
    }

    #[test]
    fn a_state_ahead_of_the_blocks_is_refused() {
        let f = fixture();
        let a = tempfile::tempdir().unwrap();
        let (mut ledger, _) = Ledger::open(a.path(), &f.genesis).unwrap();
        commit_blocks(&f, &mut ledger, 2);
        drop(ledger);
        std::fs::remove_dir_all(blocks_dir(a.path(), "ch")).unwrap();
        match Ledger::open(a.path(), &f.genesis) {
            Err(e @ LedgerError::StateAhead { .. }) => {
                assert!(matches!(
                    e,
                    LedgerError::StateAhead {
                        state_height: 3,
                        block_height: 1,
                        ..
                    }
                ));
                assert!(e.to_string().contains("delete the state directory"), "{e}");
            }
            other => panic!("expected StateAhead, got {:?}", other.map(|(_, r)| r)),
        }
    }

    #[test]
    fn a_stored_block_whose_commit_hash_does_not_replay_is_refused() {
        let f = fixture();
        let dir = tempfile::tempdir().unwrap();
        let (mut store, _) =
            FileBlockStore::open(blocks_dir(dir.path(), "ch"), StoreOptions::default()).unwrap();
        store.append(&committed_genesis(&f.genesis)).unwrap();
        let mut b1 = block_after(&f.genesis, Some(&f.orderer));
        b1.metadata.commit_hash = Some(Hash32([1; 32]));
        store.append(&b1).unwrap();
        drop(store);
        match Ledger::open(dir.path(), &f.genesis) {
            Err(LedgerError::CommitHashMismatch { number, .. }) => assert_eq!(number, 1),
            other => panic!(
                "expected CommitHashMismatch, got {:?}",
                other.map(|(_, r)| r)
            ),
        }
    }

    /// Prepares block 1 writing `secret/k` (and Org2's `theirs/t`); returns the
    /// prepared block and the private write of `secret/k` a fetch would find.
    fn prepare_private(f: &Fixture, ledger: &Ledger, value: &[u8]) -> (Prepared, PrivateWrite) {
        let trust = BlockTrust::new(&f.config, f.config.msp_set().unwrap(), now()).unwrap();
        let validator = Validator::new(f.config.clone()).unwrap();
        let (envelope, _) = private_tx(
            f,
            &[
                ("secret", "k", Some(value)),
                ("theirs", "t", Some(b"theirs")),
            ],
        );
        let block = block_with(f, &f.genesis, vec![envelope]);
        let prepared = ledger
            .prepare(
                block,
                &trust,
                &validator,
                &definitions(),
                default_provider(),
                1,
                now(),
            )
            .unwrap();
        assert_eq!(prepared.codes, vec![TxValidationCode::Valid]);
        assert_eq!(prepared.updates.hashed_writes.len(), 2);
        // Nothing is written by prepare.
        assert_eq!(ledger.height(), 1);
        assert_eq!(ledger.blocks().read().unwrap().height(), 1);
        let write = PrivateWrite {
            namespace: "cc".into(),
            collection: "secret".into(),
            key: "k".into(),
            value: Some(value.to_vec()),
            version: Version { block: 1, tx: 0 },
            block_to_live: 0,
        };
        (prepared, write)
    }

    #[test]
    fn a_block_finished_with_private_values_stores_them_beside_its_hashes() {
        let f = fixture();
        let dir = tempfile::tempdir().unwrap();
        let (mut ledger, _) = Ledger::open(dir.path(), &f.genesis).unwrap();
        let (prepared, write) = prepare_private(&f, &ledger, b"secret value");
        let hash = prepared.commit_hash;
        let c = ledger.finish(prepared, &[write]).unwrap();
        assert_eq!((c.number, c.commit_hash), (1, hash));
        assert_eq!(ledger.height(), 2);
        let reader = ledger.reader();
        assert_eq!(
            reader.get_private("cc", "secret", "k").unwrap(),
            Some((b"secret value".to_vec(), Version { block: 1, tx: 0 }))
        );
        assert!(reader.staged_private(1).unwrap().is_empty());
        // Org2's collection: the hash only.
        assert!(reader.get_private("cc", "theirs", "t").unwrap().is_none());
        assert!(reader
            .get_private_hash("cc", "theirs", &sha256(b"t"))
            .unwrap()
            .is_some());
        // The stored block carries its codes and commit hash; a reopen agrees.
        let stored = ledger.blocks().read().unwrap().get(1).unwrap().unwrap();
        assert_eq!(stored.metadata.commit_hash, Some(hash));
        drop((ledger, reader));
        let (ledger, recovery) = Ledger::open(dir.path(), &f.genesis).unwrap();
        assert_eq!((recovery.height, recovery.replayed), (2, 0));
        assert!(ledger
            .reader()
            .get_private("cc", "secret", "k")
            .unwrap()
            .is_some());
    }

    #[test]
    fn a_prepared_block_is_refused_when_the_ledger_moved_meanwhile() {
        let f = fixture();
        let dir = tempfile::tempdir().unwrap();
        let (mut ledger, _) = Ledger::open(dir.path(), &f.genesis).unwrap();
        let (prepared, write) = prepare_private(&f, &ledger, b"v");
        commit_blocks(&f, &mut ledger, 1);
        assert!(matches!(
            ledger.finish(prepared, &[write]),
            Err(CommitError::Refused(BlockRefused::Chain(_)))
        ));
        assert_eq!(ledger.height(), 2);
        assert!(ledger.reader().staged_private(2).unwrap().is_empty());
    }

    #[test]
    fn private_values_staged_before_a_crash_between_append_and_apply_are_replayed() {
        let f = fixture();
        let dir = tempfile::tempdir().unwrap();
        let (mut ledger, _) = Ledger::open(dir.path(), &f.genesis).unwrap();
        let (prepared, write) = prepare_private(&f, &ledger, b"survives");
        let hash = prepared.commit_hash;
        // finish up to the crash: values staged, block appended, state not applied.
        ledger.state.stage_private(1, &[write]).unwrap();
        ledger
            .blocks
            .write()
            .unwrap()
            .append(&prepared.block)
            .unwrap();
        drop(ledger);
        let (ledger, recovery) = Ledger::open(dir.path(), &f.genesis).unwrap();
        assert_eq!((recovery.height, recovery.replayed), (2, 1));
        assert_eq!(ledger.commit_hash(), hash);
        let reader = ledger.reader();
        assert_eq!(
            reader.get_private("cc", "secret", "k").unwrap(),
            Some((b"survives".to_vec(), Version { block: 1, tx: 0 }))
        );
        assert!(reader.staged_private(1).unwrap().is_empty());
    }

    #[test]
    fn definitions_are_loaded_from_the_replayed_state_after_a_crash_between_append_and_apply() {
        let f = fixture();
        let dir = tempfile::tempdir().unwrap();
        let (ledger, _) = Ledger::open(dir.path(), &f.genesis).unwrap();
        let trust = BlockTrust::new(&f.config, f.config.msp_set().unwrap(), now()).unwrap();
        let validator = Validator::new(f.config.clone()).unwrap();
        let def = definitions().0["cc"].clone();
        let (envelope, _) = lifecycle_commit(&f, &def, &[&f.peer, &f.peer2]);
        let block = block_with(&f, &f.genesis, vec![envelope]);
        let prepared = ledger
            .prepare(
                block,
                &trust,
                &validator,
                &DefinitionSet::default(),
                default_provider(),
                1,
                now(),
            )
            .unwrap();
        assert_eq!(prepared.codes, [TxValidationCode::Valid]);
        // finish up to the crash: block appended, state not applied.
        ledger
            .blocks
            .write()
            .unwrap()
            .append(&prepared.block)
            .unwrap();
        let stale = DefinitionCache::load("ch", &ledger.reader()).unwrap();
        assert!(stale.current().0.is_empty());
        drop((ledger, stale));
        let (ledger, recovery) = Ledger::open(dir.path(), &f.genesis).unwrap();
        assert_eq!((recovery.height, recovery.replayed), (2, 1));
        let cache = DefinitionCache::load("ch", &ledger.reader()).unwrap();
        assert_eq!(cache.current().0.len(), 1);
        assert_eq!(cache.current().0["cc"], def);
    }
}
