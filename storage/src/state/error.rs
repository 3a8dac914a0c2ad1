//! Why the state store refused a batch or could not be read. One variant per rule;
//! each names the directory or the batch and says what to do.

use std::path::PathBuf;

use cellchain_core::protocol::Version;

/// An error of the [`StateStore`](super::StateStore).
///
/// State is derived from the blocks, so the cure for damage is always the same:
/// stop the node, delete the state directory and restart; the committer rebuilds
/// state by replaying the block store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateStoreError {
    /// sled could not open the database.
    #[error("cannot open the state database in {}: {reason} (check the path and its permissions; only one process may open a state directory at a time)", dir.display())]
    Open { dir: PathBuf, reason: String },
    /// The directory holds a state database written in another format.
    #[error("the state database in {} has format {found}, this node reads format {supported}: delete the directory and restart to rebuild state from the blocks; private data values are not in the blocks and are lost with it", dir.display())]
    UnsupportedFormat {
        dir: PathBuf,
        found: u32,
        supported: u32,
    },
    /// The batch is not for the next block: applying it would skip or repeat one.
    #[error("state in {} holds {expected} blocks, so the next batch must be for block {expected}, not block {got}: replay blocks from number {expected}", dir.display())]
    NotNext {
        dir: PathBuf,
        expected: u64,
        got: u64,
    },
    /// A write in the batch carries a version from another block.
    #[error("batch for block {block}: {what} {namespace}/{key:?} has version {version:?} of another block; a batch holds only its own block's writes")]
    ForeignVersion {
        block: u64,
        what: &'static str,
        namespace: String,
        key: String,
        version: Version,
    },
    /// A public write's version names no valid transaction of the batch, so its
    /// history entry would have no tx id.
    #[error("batch for block {block}: the write of {namespace}/{key:?} comes from transaction {tx}, which is not a valid transaction of the batch's outcomes")]
    NoValidTx {
        block: u64,
        namespace: String,
        key: String,
        tx: u32,
    },
    /// sled failed to write or flush a batch; the batch may or may not be applied.
    #[error("cannot write to the state database in {}: {reason} (check the disk and its free space, then restart the node: it replays the blocks the state is missing)", dir.display())]
    Write { dir: PathBuf, reason: String },
    /// An earlier write failed, so what sled holds is unknown.
    #[error("the state store in {} refuses batches after a failed write ({reason}); restart the node so that it replays from the savepoint", dir.display())]
    Poisoned { dir: PathBuf, reason: String },
    /// sled failed to read.
    #[error("cannot read the state database in {}: {reason} (check the disk; if this persists, delete the directory and restart to rebuild state from the blocks; private data values are not in the blocks and are lost with it)", dir.display())]
    Read { dir: PathBuf, reason: String },
    /// An entry does not decode: the database is damaged.
    #[error("the state database in {} is damaged: {what} (delete the directory and restart to rebuild state from the blocks; private data values are not in the blocks and are lost with it)", dir.display())]
    Corrupt { dir: PathBuf, what: String },
    /// A pagination bookmark that this query did not hand out.
    #[error("bookmark {bookmark:?} is not valid for this query: {reason} (pass the bookmark of the previous page of the same query, or none for the first page)")]
    BadBookmark { bookmark: String, reason: String },
}
