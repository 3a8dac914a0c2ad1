//! Read/write sets: what a simulation read (with versions) and what it would write.
//!
//! The committer accepts a transaction only if every version it read is still the
//! committed version (MVCC) and every range it scanned still holds the same keys
//! (phantom check). Private-data writes appear here only as hashes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::bytes::{Bytes, Hash32};

/// The version of a committed key: the block and the transaction within it that
/// last wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Version {
    pub block: u64,
    pub tx: u32,
}

/// One key read; `version` is `None` when the key did not exist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvRead {
    pub key: String,
    pub version: Option<Version>,
}

/// One key written or deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvWrite {
    pub key: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_delete: bool,
    #[serde(default, skip_serializing_if = "Bytes::is_empty")]
    pub value: Bytes,
}

/// A range scan `[start_key, end_key)` and every key it returned, so the committer
/// can re-run it and detect phantoms (keys inserted or deleted inside the range).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangeQueryInfo {
    pub start_key: String,
    /// Exclusive; empty means "to the end of the namespace".
    pub end_key: String,
    /// False when the chaincode stopped early (pagination): the committer then
    /// checks only up to the last key read.
    pub itr_exhausted: bool,
    pub reads: Vec<KvRead>,
}

/// Metadata written for a key; the entry `VALIDATION_PARAMETER` holds a key-level
/// endorsement policy that overrides the chaincode's policy for that key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvMetadataWrite {
    pub key: String,
    /// Entry name to value; an empty map removes all metadata of the key.
    pub entries: BTreeMap<String, Bytes>,
}

/// The metadata entry name of a key-level endorsement policy (as in Fabric).
pub const VALIDATION_PARAMETER: &str = "VALIDATION_PARAMETER";

/// A read of a private key, by hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvReadHash {
    pub key_hash: Hash32,
    pub version: Option<Version>,
}

/// A write of a private key: only the hashes of key and value reach the block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvWriteHash {
    pub key_hash: Hash32,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_delete: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_hash: Option<Hash32>,
}

/// The hashed part of a private data collection's read/write set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectionHashedRwSet {
    pub collection: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hashed_reads: Vec<KvReadHash>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hashed_writes: Vec<KvWriteHash>,
    /// SHA-256 of the private write set kept off the block, so a member committer
    /// can check the values it fetches from another member.
    pub pvt_rwset_hash: Hash32,
}

/// Reads and writes of one chaincode namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NsRwSet {
    pub namespace: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reads: Vec<KvRead>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub range_queries: Vec<RangeQueryInfo>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub writes: Vec<KvWrite>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metadata_writes: Vec<KvMetadataWrite>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub collections: Vec<CollectionHashedRwSet>,
}

/// The whole read/write set of a transaction, one entry per namespace touched.
/// Simulators emit namespaces, reads and writes sorted by name and key, so that
/// endorsers running the same code produce identical bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxRwSet {
    pub ns_rwsets: Vec<NsRwSet>,
}

impl TxRwSet {
    /// True when the transaction writes nothing (a pure query).
    pub fn is_read_only(&self) -> bool {
        self.ns_rwsets.iter().all(|ns| {
            ns.writes.is_empty()
                && ns.metadata_writes.is_empty()
                && ns.collections.iter().all(|c| c.hashed_writes.is_empty())
        })
    }
}
