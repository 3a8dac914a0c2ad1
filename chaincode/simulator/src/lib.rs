//! Transaction simulation: what a chaincode invocation read and would write.
//!
//! In the flow this is step 2's bookkeeping: the endorser runs a contract against
//! its state replica, and every state access goes through a [`TxSimulator`], which
//! records reads with their committed versions, writes, range scans (for the
//! committer's phantom check), private-data writes (values kept aside, hashes into
//! the read/write set), key-level policies and events. [`TxSimulator::finish`]
//! yields the namespace's read/write set, sorted, so endorsers running the same
//! code produce identical bytes.
//!
//! Semantics follow Fabric: reads see the committed state only, never the
//! transaction's own writes; the last write of a key wins; a delete is a write.
//!
//! Pure logic, no wasm and no IO: the wasmtime runtime drives it from host calls,
//! and the native test harness drives it directly, so both record the very same
//! read/write sets. The state comes through the small [`StateView`] trait.

mod memory;

pub use memory::{MemoryState, VersionedMap};

use std::collections::BTreeMap;

use cellchain_core::bytes::{sha256, Bytes, Hash32};
use cellchain_core::policy::SignaturePolicy;
use cellchain_core::protocol::{
    ChaincodeEvent, CollectionHashedRwSet, KvMetadataWrite, KvRead, KvReadHash, KvWrite,
    KvWriteHash, NsRwSet, RangeQueryInfo, TxRwSet, Version, VALIDATION_PARAMETER,
};
use serde::{Deserialize, Serialize};

/// A committed value and the version that wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionedValue {
    pub value: Vec<u8>,
    pub version: Version,
}

/// A failure of the state store itself (not of the transaction).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("state store: {reason}")]
pub struct StateError {
    pub reason: String,
}

/// Read access to committed state at one height, as the simulator needs it.
/// Implementations must answer every call from the same snapshot.
pub trait StateView {
    /// The committed value of `key` in `namespace`.
    fn get(&self, namespace: &str, key: &str) -> Result<Option<VersionedValue>, StateError>;
    /// Keys in `[start, end)` in ascending byte order (`end` empty: no upper
    /// bound), at most `limit` of them.
    fn range(
        &self,
        namespace: &str,
        start: &str,
        end: &str,
        limit: usize,
    ) -> Result<Vec<(String, VersionedValue)>, StateError>;
    /// A private value, if this node's organisation holds the collection.
    fn get_private(
        &self,
        namespace: &str,
        collection: &str,
        key: &str,
    ) -> Result<Option<VersionedValue>, StateError>;
    /// The hash of a private value and its version (every member of the channel
    /// has the hashes).
    fn get_private_hash(
        &self,
        namespace: &str,
        collection: &str,
        key: &str,
    ) -> Result<Option<(Hash32, Version)>, StateError>;
}

/// Bounds on what one transaction may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    pub max_key_bytes: usize,
    pub max_value_bytes: usize,
    /// Sum of all keys and values written, public and private.
    pub max_write_bytes: usize,
    /// Entries returned by one range call.
    pub max_range_results: usize,
    pub max_events: usize,
    pub max_event_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_key_bytes: 1024,
            max_value_bytes: 1024 * 1024,
            max_write_bytes: 4 * 1024 * 1024,
            max_range_results: 1000,
            max_events: 16,
            max_event_bytes: 64 * 1024,
        }
    }
}

/// Why a state access was refused. The invocation fails with this message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    /// Keys must not be empty.
    #[error("empty key")]
    EmptyKey,
    /// A key above the size limit.
    #[error("key of {len} bytes exceeds the limit of {max} bytes")]
    KeyTooLarge { len: usize, max: usize },
    /// A value above the size limit.
    #[error("value of {len} bytes for key {key:?} exceeds the limit of {max} bytes")]
    ValueTooLarge { key: String, len: usize, max: usize },
    /// The transaction writes more than the limit in total.
    #[error("the transaction writes more than {max} bytes in total")]
    WriteSetTooLarge { max: usize },
    /// More events than allowed.
    #[error("more than {max} events in one transaction")]
    TooManyEvents { max: usize },
    /// An event payload above the size limit.
    #[error("event {name:?} payload of {len} bytes exceeds the limit of {max} bytes")]
    EventTooLarge {
        name: String,
        len: usize,
        max: usize,
    },
    /// Namespace names are non-empty.
    #[error("empty namespace")]
    EmptyNamespace,
    /// Collection names are non-empty.
    #[error("empty collection name")]
    EmptyCollection,
    /// A key-level policy that does not parse.
    #[error("key-level endorsement policy for {key:?} is invalid: {reason}")]
    BadKeyPolicy { key: String, reason: String },
    /// The state store failed.
    #[error(transparent)]
    State(#[from] StateError),
}

/// One page of a range scan: the entries, and whether more keys exist.
pub type RangePage = (Vec<(String, Vec<u8>)>, bool);

/// Private writes of one transaction: collection -> key -> value (`None` deletes).
/// Kept by the endorser, never put in a block.
pub type PrivateWrites = BTreeMap<String, BTreeMap<String, Option<Vec<u8>>>>;

/// What a simulation produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimulationOutput {
    /// The chaincode namespace's read/write set, sorted.
    pub rwset: NsRwSet,
    /// Reads of other chaincodes' namespaces on the same channel (read-only),
    /// sorted by namespace: the committer checks their versions too.
    pub foreign_reads: Vec<NsRwSet>,
    /// Private values, for the collection members only.
    pub private_writes: PrivateWrites,
    pub events: Vec<ChaincodeEvent>,
}

#[derive(Default)]
struct PrivateColl {
    reads: BTreeMap<String, Option<Version>>,
    writes: BTreeMap<String, Option<Vec<u8>>>,
}

/// Records one transaction's accesses to one chaincode namespace.
pub struct TxSimulator<'s, S: StateView + ?Sized> {
    state: &'s S,
    namespace: String,
    limits: Limits,
    reads: BTreeMap<String, Option<Version>>,
    foreign_reads: BTreeMap<String, BTreeMap<String, Option<Version>>>,
    writes: BTreeMap<String, Option<Vec<u8>>>,
    ranges: Vec<RangeQueryInfo>,
    metadata: BTreeMap<String, Option<SignaturePolicy>>,
    private: BTreeMap<String, PrivateColl>,
    events: Vec<ChaincodeEvent>,
    written_bytes: usize,
}

impl<'s, S: StateView + ?Sized> TxSimulator<'s, S> {
    pub fn new(state: &'s S, namespace: &str, limits: Limits) -> Self {
        TxSimulator {
            state,
            namespace: namespace.to_string(),
            limits,
            reads: BTreeMap::new(),
            foreign_reads: BTreeMap::new(),
            writes: BTreeMap::new(),
            ranges: Vec::new(),
            metadata: BTreeMap::new(),
            private: BTreeMap::new(),
            events: Vec::new(),
            written_bytes: 0,
        }
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    fn check_key(&self, key: &str) -> Result<(), SimError> {
        if key.is_empty() {
            return Err(SimError::EmptyKey);
        }
        if key.len() > self.limits.max_key_bytes {
            return Err(SimError::KeyTooLarge {
                len: key.len(),
                max: self.limits.max_key_bytes,
            });
        }
        Ok(())
    }

    fn charge_write(&mut self, key: &str, value_len: usize) -> Result<(), SimError> {
        if value_len > self.limits.max_value_bytes {
            return Err(SimError::ValueTooLarge {
                key: key.to_string(),
                len: value_len,
                max: self.limits.max_value_bytes,
            });
        }
        self.written_bytes += key.len() + value_len;
        if self.written_bytes > self.limits.max_write_bytes {
            return Err(SimError::WriteSetTooLarge {
                max: self.limits.max_write_bytes,
            });
        }
        Ok(())
    }

    /// The committed value of `key`; records the read with its version (the
    /// first read of a key is recorded; later reads return the same value).
    pub fn get_state(&mut self, key: &str) -> Result<Option<Vec<u8>>, SimError> {
        self.check_key(key)?;
        let v = self.state.get(&self.namespace, key)?;
        self.reads
            .entry(key.to_string())
            .or_insert(v.as_ref().map(|v| v.version));
        Ok(v.map(|v| v.value))
    }

    /// The committed value of `key` in another chaincode's namespace on the same
    /// channel (a cross-contract read). Recorded in that namespace's read set; a
    /// contract can never write outside its own namespace.
    pub fn get_state_of(
        &mut self,
        namespace: &str,
        key: &str,
    ) -> Result<Option<Vec<u8>>, SimError> {
        if namespace == self.namespace {
            return self.get_state(key);
        }
        if namespace.is_empty() {
            return Err(SimError::EmptyNamespace);
        }
        self.check_key(key)?;
        let v = self.state.get(namespace, key)?;
        self.foreign_reads
            .entry(namespace.to_string())
            .or_default()
            .entry(key.to_string())
            .or_insert(v.as_ref().map(|v| v.version));
        Ok(v.map(|v| v.value))
    }

    pub fn put_state(&mut self, key: &str, value: &[u8]) -> Result<(), SimError> {
        self.check_key(key)?;
        self.charge_write(key, value.len())?;
        self.writes.insert(key.to_string(), Some(value.to_vec()));
        Ok(())
    }

    pub fn del_state(&mut self, key: &str) -> Result<(), SimError> {
        self.check_key(key)?;
        self.charge_write(key, 0)?;
        self.writes.insert(key.to_string(), None);
        Ok(())
    }

    /// Keys in `[start, end)` (`end` empty: unbounded), at most `limit` (0 or
    /// above the cap: the cap). Returns the entries and whether more exist.
    /// Records the scan so the committer can re-run it: with `more`, only up to
    /// the last key returned.
    pub fn get_state_range(
        &mut self,
        start: &str,
        end: &str,
        limit: usize,
    ) -> Result<RangePage, SimError> {
        let cap = self.limits.max_range_results;
        let limit = if limit == 0 || limit > cap {
            cap
        } else {
            limit
        };
        let mut rows = self.state.range(&self.namespace, start, end, limit + 1)?;
        let more = rows.len() > limit;
        rows.truncate(limit);
        self.ranges.push(RangeQueryInfo {
            start_key: start.to_string(),
            end_key: end.to_string(),
            itr_exhausted: !more,
            reads: rows
                .iter()
                .map(|(k, v)| KvRead {
                    key: k.clone(),
                    version: Some(v.version),
                })
                .collect(),
        });
        Ok((rows.into_iter().map(|(k, v)| (k, v.value)).collect(), more))
    }

    fn coll(&mut self, collection: &str) -> &mut PrivateColl {
        self.private.entry(collection.to_string()).or_default()
    }

    /// A private value (`None` if absent or not held by this organisation);
    /// records a hashed read.
    pub fn get_private(
        &mut self,
        collection: &str,
        key: &str,
    ) -> Result<Option<Vec<u8>>, SimError> {
        check_collection(collection)?;
        self.check_key(key)?;
        let v = self.state.get_private(&self.namespace, collection, key)?;
        let version = v.as_ref().map(|v| v.version);
        self.coll(collection)
            .reads
            .entry(key.to_string())
            .or_insert(version);
        Ok(v.map(|v| v.value))
    }

    /// The hash of a private value; records a hashed read.
    pub fn get_private_hash(
        &mut self,
        collection: &str,
        key: &str,
    ) -> Result<Option<Hash32>, SimError> {
        check_collection(collection)?;
        self.check_key(key)?;
        let v = self
            .state
            .get_private_hash(&self.namespace, collection, key)?;
        let version = v.as_ref().map(|v| v.1);
        self.coll(collection)
            .reads
            .entry(key.to_string())
            .or_insert(version);
        Ok(v.map(|v| v.0))
    }

    pub fn put_private(
        &mut self,
        collection: &str,
        key: &str,
        value: &[u8],
    ) -> Result<(), SimError> {
        check_collection(collection)?;
        self.check_key(key)?;
        self.charge_write(key, value.len())?;
        self.coll(collection)
            .writes
            .insert(key.to_string(), Some(value.to_vec()));
        Ok(())
    }

    pub fn del_private(&mut self, collection: &str, key: &str) -> Result<(), SimError> {
        check_collection(collection)?;
        self.check_key(key)?;
        self.charge_write(key, 0)?;
        self.coll(collection).writes.insert(key.to_string(), None);
        Ok(())
    }

    /// Sets (or with empty text removes) the key-level endorsement policy of `key`.
    pub fn set_key_policy(&mut self, key: &str, policy: &str) -> Result<(), SimError> {
        self.check_key(key)?;
        let parsed = if policy.trim().is_empty() {
            None
        } else {
            Some(
                SignaturePolicy::parse(policy).map_err(|e| SimError::BadKeyPolicy {
                    key: key.to_string(),
                    reason: e.to_string(),
                })?,
            )
        };
        self.metadata.insert(key.to_string(), parsed);
        Ok(())
    }

    /// Records an event. Several events per transaction are kept in order.
    pub fn emit_event(&mut self, name: &str, payload: &[u8]) -> Result<(), SimError> {
        if payload.len() > self.limits.max_event_bytes {
            return Err(SimError::EventTooLarge {
                name: name.to_string(),
                len: payload.len(),
                max: self.limits.max_event_bytes,
            });
        }
        if self.events.len() >= self.limits.max_events {
            return Err(SimError::TooManyEvents {
                max: self.limits.max_events,
            });
        }
        self.events.push(ChaincodeEvent {
            chaincode: self.namespace.clone(),
            name: name.to_string(),
            payload: Bytes(payload.to_vec()),
        });
        Ok(())
    }

    /// The read/write set, private writes and events, in canonical order.
    pub fn finish(self) -> SimulationOutput {
        let mut collections = Vec::new();
        let mut private_writes = PrivateWrites::new();
        for (name, c) in self.private {
            let mut hashed_writes: Vec<KvWriteHash> = c
                .writes
                .iter()
                .map(|(k, v)| KvWriteHash {
                    key_hash: sha256(k.as_bytes()),
                    is_delete: v.is_none(),
                    value_hash: v.as_ref().map(|v| sha256(v)),
                })
                .collect();
            hashed_writes.sort_by_key(|w| w.key_hash);
            let mut hashed_reads: Vec<KvReadHash> = c
                .reads
                .iter()
                .map(|(k, v)| KvReadHash {
                    key_hash: sha256(k.as_bytes()),
                    version: *v,
                })
                .collect();
            hashed_reads.sort_by_key(|r| r.key_hash);
            collections.push(CollectionHashedRwSet {
                collection: name.clone(),
                hashed_reads,
                hashed_writes,
                pvt_rwset_hash: private_writes_hash(&c.writes),
            });
            if !c.writes.is_empty() {
                private_writes.insert(name, c.writes);
            }
        }
        let rwset = NsRwSet {
            namespace: self.namespace,
            reads: self
                .reads
                .into_iter()
                .map(|(key, version)| KvRead { key, version })
                .collect(),
            range_queries: self.ranges,
            writes: self
                .writes
                .into_iter()
                .map(|(key, v)| KvWrite {
                    key,
                    is_delete: v.is_none(),
                    value: Bytes(v.unwrap_or_default()),
                })
                .collect(),
            metadata_writes: self
                .metadata
                .into_iter()
                .map(|(key, p)| KvMetadataWrite {
                    key,
                    entries: p
                        .map(|p| {
                            BTreeMap::from([(
                                VALIDATION_PARAMETER.to_string(),
                                Bytes(p.to_string().into_bytes()),
                            )])
                        })
                        .unwrap_or_default(),
                })
                .collect(),
            collections,
        };
        let foreign_reads = self
            .foreign_reads
            .into_iter()
            .map(|(namespace, reads)| NsRwSet {
                namespace,
                reads: reads
                    .into_iter()
                    .map(|(key, version)| KvRead { key, version })
                    .collect(),
                ..NsRwSet::default()
            })
            .collect();
        SimulationOutput {
            rwset,
            foreign_reads,
            private_writes,
            events: self.events,
        }
    }
}

fn check_collection(collection: &str) -> Result<(), SimError> {
    if collection.is_empty() {
        return Err(SimError::EmptyCollection);
    }
    Ok(())
}

impl SimulationOutput {
    /// The whole transaction's read/write set: this namespace and the namespaces it
    /// read from, in namespace order.
    pub fn tx_rwset(&self) -> TxRwSet {
        let mut ns_rwsets = self.foreign_reads.clone();
        ns_rwsets.push(self.rwset.clone());
        ns_rwsets.sort_by(|a, b| a.namespace.cmp(&b.namespace));
        TxRwSet { ns_rwsets }
    }
}

/// The hash binding a collection's private writes to the public read/write set:
/// SHA-256 over, for each key in order, `u32 len || key || u8 present || u32 len ||
/// value`. A member committer checks the values it receives against it.
pub fn private_writes_hash(writes: &BTreeMap<String, Option<Vec<u8>>>) -> Hash32 {
    let mut buf = Vec::new();
    for (k, v) in writes {
        buf.extend_from_slice(&(k.len() as u32).to_be_bytes());
        buf.extend_from_slice(k.as_bytes());
        match v {
            Some(v) => {
                buf.push(1);
                buf.extend_from_slice(&(v.len() as u32).to_be_bytes());
                buf.extend_from_slice(v);
            }
            None => buf.push(0),
        }
    }
    sha256(&buf)
}

#[cfg(test)]
mod tests;
