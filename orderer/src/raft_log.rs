//! The durable Raft log of one channel: entries, hard state, conf state, the applied
//! index and the latest snapshot (metadata and data), kept in one sled tree and
//! mirrored in memory; [`RaftLog`] implements [`raft::Storage`].
//!
//! # Using it from the ready loop
//!
//! The order below is raft-rs's (see the crate docs, "Processing the `Ready` State"):
//!
//! 1. send `ready.take_messages()`;
//! 2. if `ready.snapshot()` is not empty: [`RaftLog::apply_snapshot`];
//! 3. apply `ready.take_committed_entries()`;
//! 4. + 5. [`RaftLog::persist`]`(ready.entries(), ready.hs())`: one atomic batch, fsynced;
//! 6. send `ready.take_persisted_messages()` (only now: they promise durability);
//! 7. `let light = node.advance(ready)`; if `light.commit_index()` is some:
//!    [`RaftLog::set_commit`] (before applying `light`'s committed entries), then
//!    `advance_apply` and [`RaftLog::set_applied`].
//!
//! The snapshot must be applied before `persist` because the hard state of the same
//! `Ready` commits up to the snapshot's index. A conf change applied with
//! `RawNode::apply_conf_change` returns the new `ConfState`: record it with
//! [`RaftLog::set_conf_state`] so that a restart sees it.
//!
//! On restart pass `Config::applied = max(log.applied(), log.snapshot_now() index)` capped
//! at the hard state's commit (raft-rs refuses an applied index below the first index - 1
//! or above the commit).
//!
//! # Errors
//!
//! Every method that writes either succeeds durably or returns an error. After a
//! write error the in-memory mirror may hold data that is not yet durable: drop the
//! `RaftLog`, halt the channel and reopen it. Reads through `raft::Storage` are served
//! from memory and fail only with raft's own `Compacted` / `Unavailable` /
//! `SnapshotTemporarilyUnavailable`.
//!
//! # Key layout (tree `raft_log` of a sled database in the channel's directory)
//!
//! | key                          | value                                        |
//! |------------------------------|----------------------------------------------|
//! | `m:version`                  | format version, u64 big-endian (`1`)         |
//! | `m:hard_state`               | `HardState`, protobuf                        |
//! | `m:conf_state`               | current `ConfState`, protobuf                |
//! | `m:snapshot_meta`            | latest `SnapshotMetadata`, protobuf          |
//! | `m:snapshot_data`            | latest snapshot's data, opaque bytes         |
//! | `m:applied`                  | applied index, u64 big-endian (not fsynced)  |
//! | `e` + index (u64 big-endian) | `Entry`, protobuf                            |
//!
//! Big-endian entry keys make sled's key order the index order. The entries kept are
//! exactly `snapshot index + 1 ..= last index`, without gaps.

use std::path::{Path, PathBuf};

use protobuf::Message as _;
use raft::prelude::{ConfState, Entry, HardState, Snapshot, SnapshotMetadata};
use raft::{GetEntriesContext, RaftState, Storage, StorageError};

#[cfg(test)]
mod tests;

/// The sled tree holding the log.
const TREE: &str = "raft_log";
/// The on-disk format this code writes and reads.
const FORMAT_VERSION: u64 = 1;

const KEY_VERSION: &[u8] = b"m:version";
const KEY_HARD_STATE: &[u8] = b"m:hard_state";
const KEY_CONF_STATE: &[u8] = b"m:conf_state";
const KEY_SNAPSHOT_META: &[u8] = b"m:snapshot_meta";
const KEY_SNAPSHOT_DATA: &[u8] = b"m:snapshot_data";
const KEY_APPLIED: &[u8] = b"m:applied";
const ENTRY_PREFIX: u8 = b'e';

fn entry_key(index: u64) -> [u8; 9] {
    let mut key = [0u8; 9];
    key[0] = ENTRY_PREFIX;
    key[1..].copy_from_slice(&index.to_be_bytes());
    key
}

fn entry_size(entry: &Entry) -> u64 {
    u64::from(entry.compute_size())
}

/// What can go wrong with a channel's Raft log. Every message names the log's directory.
#[derive(Debug, thiserror::Error)]
pub enum RaftLogError {
    #[error(
        "cannot create the raft log directory {dir}: {source}; check the path and its permissions"
    )]
    CreateDir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "cannot open the raft log in {dir}: {source}; check that no other orderer process \
         uses this directory and that it is readable and writable"
    )]
    Open {
        dir: PathBuf,
        #[source]
        source: sled::Error,
    },
    #[error(
        "cannot read the raft log in {dir} ({what}): {source}; the disk or the directory is \
         damaged: stop this channel, move the directory aside and let this orderer catch up \
         from the other consenters"
    )]
    Read {
        dir: PathBuf,
        what: &'static str,
        #[source]
        source: sled::Error,
    },
    #[error(
        "cannot write the raft log in {dir} ({what}): {source}; the disk may be full or \
         failing: stop this channel, fix the disk and restart the orderer"
    )]
    Write {
        dir: PathBuf,
        what: &'static str,
        #[source]
        source: sled::Error,
    },
    #[error(
        "{dir} holds a sled database whose raft log has no format version; it is not a \
         CellChain raft log: point the channel at an empty directory or at its own raft log"
    )]
    NotARaftLog { dir: PathBuf },
    #[error(
        "the raft log in {dir} has format version {found}, this orderer reads version \
         {FORMAT_VERSION}: run the orderer release that wrote it"
    )]
    UnsupportedVersion { dir: PathBuf, found: u64 },
    #[error("cannot encode {what} for the raft log in {dir}: {source}; this is a bug, report it")]
    Encode {
        dir: PathBuf,
        what: &'static str,
        #[source]
        source: protobuf::ProtobufError,
    },
    #[error(
        "the raft log in {dir} is corrupt: {what} does not decode ({source}); move the \
         directory aside and let this orderer catch up from the other consenters"
    )]
    CorruptRecord {
        dir: PathBuf,
        what: &'static str,
        #[source]
        source: protobuf::ProtobufError,
    },
    #[error(
        "the raft log in {dir} is corrupt: {what} is {len} bytes, not an 8-byte integer; move \
         the directory aside and let this orderer catch up from the other consenters"
    )]
    CorruptInteger {
        dir: PathBuf,
        what: &'static str,
        len: usize,
    },
    #[error(
        "the raft log in {dir} is corrupt: entry {index} does not decode ({source}); move the \
         directory aside and let this orderer catch up from the other consenters"
    )]
    CorruptEntry {
        dir: PathBuf,
        index: u64,
        #[source]
        source: protobuf::ProtobufError,
    },
    #[error(
        "the raft log in {dir} is corrupt: an entry key is {len} bytes long instead of 9; move \
         the directory aside and let this orderer catch up from the other consenters"
    )]
    CorruptEntryKey { dir: PathBuf, len: usize },
    #[error(
        "the raft log in {dir} is corrupt: the key of entry {key_index} holds entry \
         {entry_index}; move the directory aside and let this orderer catch up from the other \
         consenters"
    )]
    MisplacedEntry {
        dir: PathBuf,
        key_index: u64,
        entry_index: u64,
    },
    #[error(
        "the raft log in {dir} is corrupt: the entries after the snapshot are not consecutive \
         (expected entry {expected}, found entry {found}); move the directory aside and let this orderer catch up from the other \
         consenters"
    )]
    MissingEntry {
        dir: PathBuf,
        expected: u64,
        found: u64,
    },
    #[error(
        "the raft log in {dir} would commit index {commit} beyond its last entry {last_index}; \
         the ready loop must persist entries (and apply a snapshot) before committing them"
    )]
    CommitBeyondLog {
        dir: PathBuf,
        commit: u64,
        last_index: u64,
    },
    #[error(
        "the raft log in {dir} cannot append entry {index}: entries before {first_index} are \
         compacted; this is a bug in the ready loop"
    )]
    AppendCompacted {
        dir: PathBuf,
        index: u64,
        first_index: u64,
    },
    #[error(
        "the raft log in {dir} cannot append entry {index} after its last entry {last_index}: \
         the log would have a gap; this is a bug in the ready loop"
    )]
    AppendGap {
        dir: PathBuf,
        index: u64,
        last_index: u64,
    },
    #[error(
        "the raft log in {dir} cannot append entries that are not consecutive (expected index \
         {expected}, got {found}); this is a bug in the ready loop"
    )]
    AppendNotContiguous {
        dir: PathBuf,
        expected: u64,
        found: u64,
    },
    #[error(
        "the raft log in {dir} refuses an empty snapshot (index 0); this is a bug in the \
         ready loop"
    )]
    EmptySnapshot { dir: PathBuf },
    #[error(
        "the raft log in {dir} refuses snapshot {index}: it is older than its own snapshot \
         {snapshot_index}; drop this snapshot"
    )]
    SnapshotOutOfDate {
        dir: PathBuf,
        index: u64,
        snapshot_index: u64,
    },
    #[error(
        "the raft log in {dir} refuses snapshot {index}: it is below the commit index \
         {commit}; drop this snapshot"
    )]
    SnapshotBelowCommit {
        dir: PathBuf,
        index: u64,
        commit: u64,
    },
    #[error(
        "the raft log in {dir} cannot compact up to {applied}: only entries up to the commit \
         index {commit} may be compacted; compact at the applied index"
    )]
    CompactUncommitted {
        dir: PathBuf,
        applied: u64,
        commit: u64,
    },
}

/// The Raft log of one channel on this orderer: entries, hard state, conf state and the
/// latest snapshot's metadata and data, in a sled tree; implements `raft::Storage`.
///
/// Writes go to sled first and then to the in-memory mirror, which serves all reads.
pub struct RaftLog {
    dir: PathBuf,
    /// Kept so that the database lives as long as the log (the tree also holds it).
    _db: sled::Db,
    tree: sled::Tree,
    /// `entries[i]` has index `snapshot index + 1 + i`.
    entries: Vec<Entry>,
    /// Sum of the encoded sizes of `entries`.
    entries_bytes: u64,
    hard_state: HardState,
    conf_state: ConfState,
    /// Metadata and data of the latest snapshot (default when there is none).
    snapshot: Snapshot,
    applied: u64,
}

impl std::fmt::Debug for RaftLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RaftLog")
            .field("dir", &self.dir)
            .field("first_index", &self.first())
            .field("last_index", &self.last())
            .field("entries_bytes", &self.entries_bytes)
            .field("hard_state", &self.hard_state)
            .field("conf_state", &self.conf_state)
            .field("snapshot_index", &self.snapshot.get_metadata().index)
            .field("applied", &self.applied)
            .finish()
    }
}

impl RaftLog {
    /// Opens (or creates) the log in `dir`. A new log starts with ConfState voters =
    /// `voters` (the channel's consenter ids from its genesis block; empty for a node that
    /// joins later and waits for the leader's snapshot); an existing log keeps its own,
    /// see [`RaftLog::conf_state`].
    pub fn open(dir: &Path, voters: &[u64]) -> Result<RaftLog, RaftLogError> {
        let dir_buf = dir.to_path_buf();
        std::fs::create_dir_all(dir).map_err(|source| RaftLogError::CreateDir {
            dir: dir_buf.clone(),
            source,
        })?;
        let open_err = |source| RaftLogError::Open {
            dir: dir_buf.clone(),
            source,
        };
        let db = cellchain_storage::open_sled(dir).map_err(open_err)?;
        let tree = db.open_tree(TREE).map_err(open_err)?;
        let mut log = RaftLog {
            dir: dir_buf,
            _db: db,
            tree,
            entries: Vec::new(),
            entries_bytes: 0,
            hard_state: HardState::default(),
            conf_state: ConfState::default(),
            snapshot: Snapshot::default(),
            applied: 0,
        };
        match log.get(KEY_VERSION, "the format version")? {
            None if log.tree.is_empty() => log.create(voters)?,
            None => return Err(RaftLogError::NotARaftLog { dir: log.dir }),
            Some(bytes) => {
                let found = log.decode_u64(&bytes, "the format version")?;
                if found != FORMAT_VERSION {
                    return Err(RaftLogError::UnsupportedVersion {
                        dir: log.dir,
                        found,
                    });
                }
                log.load()?;
            }
        }
        Ok(log)
    }

    /// Writes the records of a new log.
    fn create(&mut self, voters: &[u64]) -> Result<(), RaftLogError> {
        let conf_state = ConfState {
            voters: voters.to_vec(),
            ..Default::default()
        };
        let mut batch = sled::Batch::default();
        batch.insert(KEY_VERSION, &FORMAT_VERSION.to_be_bytes()[..]);
        batch.insert(KEY_CONF_STATE, self.encode(&conf_state, "the conf state")?);
        batch.insert(
            KEY_HARD_STATE,
            self.encode(&self.hard_state, "the hard state")?,
        );
        batch.insert(
            KEY_SNAPSHOT_META,
            self.encode(self.snapshot.get_metadata(), "the snapshot metadata")?,
        );
        batch.insert(KEY_APPLIED, &0u64.to_be_bytes()[..]);
        self.apply(batch, "create the log")?;
        self.conf_state = conf_state;
        self.flush()
    }

    /// Loads an existing log into memory and checks its consistency.
    fn load(&mut self) -> Result<(), RaftLogError> {
        if let Some(bytes) = self.get(KEY_HARD_STATE, "the hard state")? {
            self.hard_state = self.decode(&bytes, "the hard state")?;
        }
        if let Some(bytes) = self.get(KEY_CONF_STATE, "the conf state")? {
            self.conf_state = self.decode(&bytes, "the conf state")?;
        }
        if let Some(bytes) = self.get(KEY_SNAPSHOT_META, "the snapshot metadata")? {
            let meta: SnapshotMetadata = self.decode(&bytes, "the snapshot metadata")?;
            self.snapshot.set_metadata(meta);
        }
        if let Some(bytes) = self.get(KEY_SNAPSHOT_DATA, "the snapshot data")? {
            self.snapshot.data = bytes.to_vec().into();
        }
        if let Some(bytes) = self.get(KEY_APPLIED, "the applied index")? {
            self.applied = self.decode_u64(&bytes, "the applied index")?;
        }

        let first_index = self.snapshot.get_metadata().index + 1;
        for (expected, item) in (first_index..).zip(self.tree.scan_prefix([ENTRY_PREFIX])) {
            let (key, value) = item.map_err(|source| RaftLogError::Read {
                dir: self.dir.clone(),
                what: "the entries",
                source,
            })?;
            let key_index = match <[u8; 8]>::try_from(&key[1..]) {
                Ok(be) => u64::from_be_bytes(be),
                Err(_) => {
                    return Err(RaftLogError::CorruptEntryKey {
                        dir: self.dir.clone(),
                        len: key.len(),
                    })
                }
            };
            let entry =
                Entry::parse_from_bytes(&value).map_err(|source| RaftLogError::CorruptEntry {
                    dir: self.dir.clone(),
                    index: key_index,
                    source,
                })?;
            if entry.index != key_index {
                return Err(RaftLogError::MisplacedEntry {
                    dir: self.dir.clone(),
                    key_index,
                    entry_index: entry.index,
                });
            }
            if key_index != expected {
                return Err(RaftLogError::MissingEntry {
                    dir: self.dir.clone(),
                    expected,
                    found: key_index,
                });
            }
            self.entries_bytes += entry_size(&entry);
            self.entries.push(entry);
        }
        if self.hard_state.commit > self.last() {
            return Err(RaftLogError::CommitBeyondLog {
                dir: self.dir.clone(),
                commit: self.hard_state.commit,
                last_index: self.last(),
            });
        }
        Ok(())
    }

    /// Step 4+5 of the ready loop in ONE atomic sled batch followed by a flush (fsync):
    /// append `entries` (an entry at index i replaces any entry >= i: the conflicting
    /// suffix is truncated, like `MemStorageCore::append`), and set the hard state if
    /// given. Durable on return.
    ///
    /// Where `MemStorageCore::append` panics (entries overwriting compacted ones, a gap
    /// after the last entry) this returns a typed error; so it does for a hard state whose
    /// commit lies beyond the resulting last entry (raft-rs would refuse to restart on it).
    pub fn persist(
        &mut self,
        entries: &[Entry],
        hard_state: Option<&HardState>,
    ) -> Result<(), RaftLogError> {
        if entries.is_empty() && hard_state.is_none() {
            return Ok(());
        }
        let first_index = self.first();
        let last_index = self.last();
        let mut batch = sled::Batch::default();
        // The in-memory entries kept (those before the first new one).
        let mut keep = self.entries.len();
        let mut new_last = last_index;
        let mut added_bytes = 0;
        if let Some(first) = entries.first() {
            if first.index < first_index {
                return Err(RaftLogError::AppendCompacted {
                    dir: self.dir.clone(),
                    index: first.index,
                    first_index,
                });
            }
            if first.index > last_index + 1 {
                return Err(RaftLogError::AppendGap {
                    dir: self.dir.clone(),
                    index: first.index,
                    last_index,
                });
            }
            for (expected, entry) in (first.index..).zip(entries) {
                if entry.index != expected {
                    return Err(RaftLogError::AppendNotContiguous {
                        dir: self.dir.clone(),
                        expected,
                        found: entry.index,
                    });
                }
            }
            keep = (first.index - first_index) as usize;
            new_last = first.index + entries.len() as u64 - 1;
            // The conflicting suffix beyond the new entries (the rest is overwritten).
            for index in new_last + 1..=last_index {
                batch.remove(&entry_key(index)[..]);
            }
            for entry in entries {
                let bytes = self.encode(entry, "an entry")?;
                added_bytes += bytes.len() as u64;
                batch.insert(&entry_key(entry.index)[..], bytes);
            }
        }
        if let Some(hs) = hard_state {
            if hs.commit > new_last {
                return Err(RaftLogError::CommitBeyondLog {
                    dir: self.dir.clone(),
                    commit: hs.commit,
                    last_index: new_last,
                });
            }
            batch.insert(KEY_HARD_STATE, self.encode(hs, "the hard state")?);
        }
        self.apply(batch, "append entries")?;
        if !entries.is_empty() {
            let removed: u64 = self.entries[keep..].iter().map(entry_size).sum();
            self.entries.truncate(keep);
            self.entries.extend_from_slice(entries);
            self.entries_bytes = self.entries_bytes - removed + added_bytes;
        }
        if let Some(hs) = hard_state {
            self.hard_state = hs.clone();
        }
        self.flush()
    }

    /// LightReady's commit index: update the hard state's commit (durable on return).
    pub fn set_commit(&mut self, commit: u64) -> Result<(), RaftLogError> {
        if commit == self.hard_state.commit {
            return Ok(());
        }
        if commit > self.last() {
            return Err(RaftLogError::CommitBeyondLog {
                dir: self.dir.clone(),
                commit,
                last_index: self.last(),
            });
        }
        let mut hs = self.hard_state.clone();
        hs.commit = commit;
        let bytes = self.encode(&hs, "the hard state")?;
        self.insert(KEY_HARD_STATE, bytes, "set the commit index")?;
        self.hard_state = hs;
        self.flush()
    }

    /// Records the conf state returned by `RawNode::apply_conf_change` (durable on
    /// return), so that `initial_state` returns it after a restart.
    pub fn set_conf_state(&mut self, conf_state: ConfState) -> Result<(), RaftLogError> {
        let bytes = self.encode(&conf_state, "the conf state")?;
        self.insert(KEY_CONF_STATE, bytes, "set the conf state")?;
        self.conf_state = conf_state;
        self.flush()
    }

    /// A snapshot received from the leader (follower): the log is replaced by the
    /// snapshot's metadata (index, term, conf state) and its data is kept; hard state
    /// commit/term raised to at least the snapshot's. Durable on return.
    ///
    /// Refused with a typed error: an empty snapshot (index 0), a snapshot older than the
    /// current one (index < first index - 1), and one below the commit index (raft-rs
    /// asserts the same in `RaftLog::restore`, so a snapshot from a `Ready` never is).
    /// All entries are dropped, even those after the snapshot's index, as
    /// `MemStorageCore::apply_snapshot` does: raft-rs only hands out a snapshot when its
    /// log does not match the snapshot's index and term.
    pub fn apply_snapshot(&mut self, mut snapshot: Snapshot) -> Result<(), RaftLogError> {
        let meta = snapshot.take_metadata();
        let index = meta.index;
        let snapshot_index = self.snapshot.get_metadata().index;
        if index == 0 {
            return Err(RaftLogError::EmptySnapshot {
                dir: self.dir.clone(),
            });
        }
        if index < snapshot_index {
            return Err(RaftLogError::SnapshotOutOfDate {
                dir: self.dir.clone(),
                index,
                snapshot_index,
            });
        }
        if index < self.hard_state.commit {
            return Err(RaftLogError::SnapshotBelowCommit {
                dir: self.dir.clone(),
                index,
                commit: self.hard_state.commit,
            });
        }
        let mut hs = self.hard_state.clone();
        hs.term = hs.term.max(meta.term);
        hs.commit = hs.commit.max(index);
        let conf_state = meta.get_conf_state().clone();

        let mut batch = sled::Batch::default();
        for entry in &self.entries {
            batch.remove(&entry_key(entry.index)[..]);
        }
        batch.insert(
            KEY_SNAPSHOT_META,
            self.encode(&meta, "the snapshot metadata")?,
        );
        batch.insert(KEY_SNAPSHOT_DATA, &snapshot.data[..]);
        batch.insert(KEY_CONF_STATE, self.encode(&conf_state, "the conf state")?);
        batch.insert(KEY_HARD_STATE, self.encode(&hs, "the hard state")?);
        self.apply(batch, "apply a snapshot")?;

        self.entries.clear();
        self.entries_bytes = 0;
        self.hard_state = hs;
        self.conf_state = conf_state;
        snapshot.set_metadata(meta);
        self.snapshot = snapshot;
        self.flush()
    }

    /// Log compaction after the application made `applied` durable elsewhere: records a
    /// snapshot at `applied` (its term from the log, the current conf state, and `data`,
    /// opaque bytes supplied by the caller), then deletes entries <= applied; the applied
    /// index recorded is raised to `applied`. Durable on return.
    ///
    /// Like `MemStorageCore::compact`, compacting at or below the current snapshot is a
    /// no-op (`data` is then ignored). Compacting beyond the commit index is an error
    /// (`MemStorageCore::compact` panics beyond the last index). `applied` should be the
    /// application's applied index: the conf state recorded is the current one.
    pub fn compact(&mut self, applied: u64, data: Vec<u8>) -> Result<(), RaftLogError> {
        let first_index = self.first();
        if applied < first_index {
            return Ok(());
        }
        if applied > self.hard_state.commit {
            return Err(RaftLogError::CompactUncommitted {
                dir: self.dir.clone(),
                applied,
                commit: self.hard_state.commit,
            });
        }
        // commit <= last index, so the entry is there.
        let drained = (applied - first_index + 1) as usize;
        let term = self.entries[drained - 1].term;
        let mut meta = SnapshotMetadata {
            index: applied,
            term,
            ..Default::default()
        };
        meta.set_conf_state(self.conf_state.clone());
        let new_applied = self.applied.max(applied);

        let mut batch = sled::Batch::default();
        for entry in &self.entries[..drained] {
            batch.remove(&entry_key(entry.index)[..]);
        }
        batch.insert(
            KEY_SNAPSHOT_META,
            self.encode(&meta, "the snapshot metadata")?,
        );
        batch.insert(KEY_SNAPSHOT_DATA, &data[..]);
        batch.insert(KEY_APPLIED, &new_applied.to_be_bytes()[..]);
        self.apply(batch, "compact the log")?;

        let removed: u64 = self.entries[..drained].iter().map(entry_size).sum();
        self.entries.drain(..drained);
        self.entries_bytes -= removed;
        let mut snapshot = Snapshot {
            data: data.into(),
            ..Default::default()
        };
        snapshot.set_metadata(meta);
        self.snapshot = snapshot;
        self.applied = new_applied;
        self.flush()
    }

    /// The applied index last recorded with `set_applied` (0 for a new log). Not fsynced:
    /// the caller keeps its own durable truth (block store height) and applying is
    /// idempotent.
    pub fn applied(&self) -> u64 {
        self.applied
    }

    /// Records the applied index (written to sled, not flushed: sled's background flush
    /// or the next durable write makes it durable).
    pub fn set_applied(&mut self, applied: u64) -> Result<(), RaftLogError> {
        self.insert(
            KEY_APPLIED,
            &applied.to_be_bytes()[..],
            "set the applied index",
        )?;
        self.applied = applied;
        Ok(())
    }

    /// Total encoded size of the entries kept (after the last snapshot): the caller
    /// compacts when this passes a threshold.
    pub fn entries_bytes(&self) -> u64 {
        self.entries_bytes
    }

    /// The hard state (term, vote, commit) last persisted.
    pub fn hard_state(&self) -> HardState {
        self.hard_state.clone()
    }

    /// The current conf state: the genesis voters for a new log, else the last one
    /// recorded (by `set_conf_state` or `apply_snapshot`).
    pub fn conf_state(&self) -> ConfState {
        self.conf_state.clone()
    }

    /// The latest snapshot (empty/default if none yet).
    pub fn snapshot_now(&self) -> Snapshot {
        self.snapshot.clone()
    }

    /// The directory holding the log.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn first(&self) -> u64 {
        self.snapshot.get_metadata().index + 1
    }

    fn last(&self) -> u64 {
        self.entries
            .last()
            .map_or(self.snapshot.get_metadata().index, |e| e.index)
    }

    fn get(&self, key: &[u8], what: &'static str) -> Result<Option<sled::IVec>, RaftLogError> {
        self.tree.get(key).map_err(|source| RaftLogError::Read {
            dir: self.dir.clone(),
            what,
            source,
        })
    }

    fn insert(
        &self,
        key: &[u8],
        value: impl Into<sled::IVec>,
        what: &'static str,
    ) -> Result<(), RaftLogError> {
        self.tree
            .insert(key, value)
            .map(drop)
            .map_err(|source| RaftLogError::Write {
                dir: self.dir.clone(),
                what,
                source,
            })
    }

    fn apply(&self, batch: sled::Batch, what: &'static str) -> Result<(), RaftLogError> {
        self.tree
            .apply_batch(batch)
            .map_err(|source| RaftLogError::Write {
                dir: self.dir.clone(),
                what,
                source,
            })
    }

    fn flush(&self) -> Result<(), RaftLogError> {
        self.tree
            .flush()
            .map(drop)
            .map_err(|source| RaftLogError::Write {
                dir: self.dir.clone(),
                what: "flush to disk",
                source,
            })
    }

    fn encode(
        &self,
        message: &impl protobuf::Message,
        what: &'static str,
    ) -> Result<Vec<u8>, RaftLogError> {
        message
            .write_to_bytes()
            .map_err(|source| RaftLogError::Encode {
                dir: self.dir.clone(),
                what,
                source,
            })
    }

    fn decode<M: protobuf::Message>(
        &self,
        bytes: &[u8],
        what: &'static str,
    ) -> Result<M, RaftLogError> {
        M::parse_from_bytes(bytes).map_err(|source| RaftLogError::CorruptRecord {
            dir: self.dir.clone(),
            what,
            source,
        })
    }

    fn decode_u64(&self, bytes: &[u8], what: &'static str) -> Result<u64, RaftLogError> {
        <[u8; 8]>::try_from(bytes)
            .map(u64::from_be_bytes)
            .map_err(|_| RaftLogError::CorruptInteger {
                dir: self.dir.clone(),
                what,
                len: bytes.len(),
            })
    }
}

impl Storage for RaftLog {
    fn initial_state(&self) -> raft::Result<RaftState> {
        Ok(RaftState::new(
            self.hard_state.clone(),
            self.conf_state.clone(),
        ))
    }

    /// Entries `[low, high)`, limited to `max_size` bytes (at least one entry) by
    /// `raft::util::limit_size`. `Compacted` if `low` is before the first index. Where
    /// `MemStorage` panics (`high` beyond last index + 1, `low > high`) this returns
    /// `Unavailable` (raft-rs checks bounds before calling, and treats it as fatal).
    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        _context: GetEntriesContext,
    ) -> raft::Result<Vec<Entry>> {
        let first_index = self.first();
        if low < first_index {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        if high > self.last() + 1 || low > high {
            return Err(raft::Error::Store(StorageError::Unavailable));
        }
        let lo = (low - first_index) as usize;
        let hi = (high - first_index) as usize;
        let mut entries = self.entries[lo..hi].to_vec();
        raft::util::limit_size(&mut entries, max_size.into());
        Ok(entries)
    }

    /// The term of entry `idx`, including the snapshot's index (first index - 1).
    fn term(&self, idx: u64) -> raft::Result<u64> {
        let meta = self.snapshot.get_metadata();
        if idx == meta.index {
            return Ok(meta.term);
        }
        let first_index = self.first();
        if idx < first_index {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        if idx > self.last() {
            return Err(raft::Error::Store(StorageError::Unavailable));
        }
        Ok(self.entries[(idx - first_index) as usize].term)
    }

    fn first_index(&self) -> raft::Result<u64> {
        Ok(self.first())
    }

    fn last_index(&self) -> raft::Result<u64> {
        Ok(self.last())
    }

    /// The stored snapshot (the last one from `compact` or `apply_snapshot`) if its index
    /// is at least `request_index`; otherwise, or if there is none,
    /// `SnapshotTemporarilyUnavailable`.
    ///
    /// raft-rs asks for a snapshot when a follower needs entries before our first index,
    /// i.e. at or before our stored snapshot, which then always serves. `request_index`
    /// is non-zero only after a follower's `request_snapshot`. On
    /// `SnapshotTemporarilyUnavailable` the leader skips this send and retries on the next
    /// append to that follower (any other error is fatal in raft-rs, as is an index-0
    /// snapshot, hence never returning the empty one). Unlike `MemStorage` this never
    /// builds a snapshot at the commit index: the data lives in the application, which
    /// supplies it through [`RaftLog::compact`].
    fn snapshot(&self, request_index: u64, _to: u64) -> raft::Result<Snapshot> {
        let index = self.snapshot.get_metadata().index;
        if index == 0 || index < request_index {
            return Err(raft::Error::Store(
                StorageError::SnapshotTemporarilyUnavailable,
            ));
        }
        Ok(self.snapshot.clone())
    }
}
