//! Why the block store refused a block or found its files damaged. One variant per
//! rule; every variant that concerns a record names the block and where it lies.

use std::path::{Path, PathBuf};

use cellchain_core::Hash32;

/// An error of the block store: a refused append, a damaged file, or the disk.
///
/// The damage variants (`BadMagic`, `TruncatedRecord`, `BadCrc`, `OutOfSequence`,
/// `Undecodable`, `NumberMismatch`, `MissingSegment`) carry `number`, the block that
/// should be at that place, so an operator knows which block to restore. A damaged
/// *last* record is not among them: on open it is a torn append and is cut away
/// (see [`OpenReport`](crate::OpenReport)).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The operating system refused a file operation.
    #[error("{op} {}: {reason} (check the disk, its free space and the directory's permissions)", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        kind: std::io::ErrorKind,
        reason: String,
    },
    /// Appended block's number is not the store's height.
    #[error("block {got} is not the next block: the store holds {expected} blocks, so the next one is number {expected}")]
    NotNext { expected: u64, got: u64 },
    /// Appended block's previous hash is not the header hash of the last block.
    #[error("block {number} does not chain: its previous hash is {found} but the last block's hash is {expected}")]
    BrokenChain {
        number: u64,
        expected: Hash32,
        found: Hash32,
    },
    /// Appended block's data hash is not the Merkle root of its envelopes.
    #[error(
        "block {number}: data hash {found} is not the Merkle root of its envelopes ({expected})"
    )]
    BadDataHash {
        number: u64,
        expected: Hash32,
        found: Hash32,
    },
    /// A block's JSON does not fit the record's u32 length field.
    #[error("block {number} is {bytes} bytes of JSON; a record holds at most 4 GiB")]
    TooLarge { number: u64, bytes: usize },
    /// An earlier write or fsync failed, so what the file holds is unknown.
    #[error("the block store refuses writes after a failed write or fsync ({reason}); restart the node so that opening the store checks the files")]
    Poisoned { reason: String },
    /// A record does not start with the record magic (format version).
    #[error("block {number}: record at {}:{offset} does not start with the block record magic (found {found:#010x}); the file is damaged, restore it from another node", file.display())]
    BadMagic {
        number: u64,
        file: PathBuf,
        offset: u64,
        found: u32,
    },
    /// A record runs past the end of a file that later records or segments follow.
    #[error("block {number}: record at {}:{offset} is cut short ({reason}) but is not the last record; the file is damaged, restore it from another node", file.display())]
    TruncatedRecord {
        number: u64,
        file: PathBuf,
        offset: u64,
        reason: String,
    },
    /// A record's bytes do not match its CRC-32.
    #[error("block {number}: record at {}:{offset} fails its CRC-32 check (stored {expected:#010x}, computed {found:#010x}); the file is damaged, restore it from another node", file.display())]
    BadCrc {
        number: u64,
        file: PathBuf,
        offset: u64,
        expected: u32,
        found: u32,
    },
    /// An intact record holds another block than the one its place calls for.
    #[error("record at {}:{offset} holds block {found} where block {expected} belongs; blocks are stored in order without gaps", file.display())]
    OutOfSequence {
        file: PathBuf,
        offset: u64,
        expected: u64,
        found: u64,
    },
    /// An intact record's bytes are not the JSON of a block.
    #[error("block {number}: record at {}:{offset} passes its CRC but is not a block ({reason})", file.display())]
    Undecodable {
        number: u64,
        file: PathBuf,
        offset: u64,
        reason: String,
    },
    /// The block inside a record carries another number in its header.
    #[error("block {number}: record at {}:{offset} holds a block whose header says number {header_number}", file.display())]
    NumberMismatch {
        number: u64,
        file: PathBuf,
        offset: u64,
        header_number: u64,
    },
    /// Segment files are numbered from 0 without gaps; one is missing.
    #[error("segment file {} is missing (segments are numbered from 0 without gaps); block {number} onwards cannot be found", file.display())]
    MissingSegment { number: u64, file: PathBuf },
}

impl StoreError {
    /// Wraps an IO error with the operation and the file it concerned.
    pub(crate) fn io(op: &'static str, path: &Path, e: std::io::Error) -> StoreError {
        StoreError::Io {
            op,
            path: path.to_path_buf(),
            kind: e.kind(),
            reason: e.to_string(),
        }
    }

    /// The block this error is about, when it names one.
    pub fn block(&self) -> Option<u64> {
        match self {
            StoreError::Io { .. } | StoreError::Poisoned { .. } => None,
            StoreError::NotNext { got, .. } => Some(*got),
            StoreError::OutOfSequence { expected, .. } => Some(*expected),
            StoreError::BrokenChain { number, .. }
            | StoreError::BadDataHash { number, .. }
            | StoreError::TooLarge { number, .. }
            | StoreError::BadMagic { number, .. }
            | StoreError::TruncatedRecord { number, .. }
            | StoreError::BadCrc { number, .. }
            | StoreError::Undecodable { number, .. }
            | StoreError::NumberMismatch { number, .. }
            | StoreError::MissingSegment { number, .. } => Some(*number),
        }
    }
}
