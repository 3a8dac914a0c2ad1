//! An in-memory [`StateView`]: the world state of the native test harness, of
//! `cellchain chaincode simulate --state FILE`, and of unit tests.

use std::collections::BTreeMap;
use std::ops::Bound;

use cellchain_core::bytes::{sha256, Hash32};
use cellchain_core::protocol::Version;
use serde::{Deserialize, Serialize};

use super::{PrivateWrites, SimulationOutput, StateError, StateView, VersionedValue};

/// Committed values of one namespace or collection: key -> (value, version).
pub type VersionedMap = BTreeMap<String, (Vec<u8>, Version)>;

/// Committed state held in ordered maps, with versions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryState {
    /// namespace -> key -> (value, version)
    pub public: BTreeMap<String, VersionedMap>,
    /// (namespace, collection) -> key -> (value, version)
    pub private: BTreeMap<(String, String), VersionedMap>,
}

impl MemoryState {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a committed value directly (test setup).
    pub fn put(&mut self, namespace: &str, key: &str, value: &[u8], version: Version) {
        self.public
            .entry(namespace.to_string())
            .or_default()
            .insert(key.to_string(), (value.to_vec(), version));
    }

    /// Sets a committed private value directly (test setup).
    pub fn put_private(
        &mut self,
        namespace: &str,
        collection: &str,
        key: &str,
        value: &[u8],
        version: Version,
    ) {
        self.private
            .entry((namespace.to_string(), collection.to_string()))
            .or_default()
            .insert(key.to_string(), (value.to_vec(), version));
    }

    /// Applies a simulation's writes as if committed at `version`, as a committer
    /// would for a valid transaction (no validation here).
    pub fn apply(&mut self, out: &SimulationOutput, version: Version) {
        let ns = &out.rwset.namespace;
        for w in &out.rwset.writes {
            let map = self.public.entry(ns.clone()).or_default();
            if w.is_delete {
                map.remove(&w.key);
            } else {
                map.insert(w.key.clone(), (w.value.0.clone(), version));
            }
        }
        self.apply_private(ns, &out.private_writes, version);
    }

    fn apply_private(&mut self, ns: &str, writes: &PrivateWrites, version: Version) {
        for (coll, kv) in writes {
            let map = self
                .private
                .entry((ns.to_string(), coll.clone()))
                .or_default();
            for (k, v) in kv {
                match v {
                    Some(v) => {
                        map.insert(k.clone(), (v.clone(), version));
                    }
                    None => {
                        map.remove(k);
                    }
                }
            }
        }
    }
}

impl StateView for MemoryState {
    fn get(&self, namespace: &str, key: &str) -> Result<Option<VersionedValue>, StateError> {
        Ok(self
            .public
            .get(namespace)
            .and_then(|m| m.get(key))
            .map(|(v, ver)| VersionedValue {
                value: v.clone(),
                version: *ver,
            }))
    }

    fn range(
        &self,
        namespace: &str,
        start: &str,
        end: &str,
        limit: usize,
    ) -> Result<Vec<(String, VersionedValue)>, StateError> {
        let Some(m) = self.public.get(namespace) else {
            return Ok(Vec::new());
        };
        let upper = if end.is_empty() {
            Bound::Unbounded
        } else {
            Bound::Excluded(end)
        };
        if !end.is_empty() && end <= start {
            return Ok(Vec::new());
        }
        Ok(m.range::<str, _>((Bound::Included(start), upper))
            .take(limit)
            .map(|(k, (v, ver))| {
                (
                    k.clone(),
                    VersionedValue {
                        value: v.clone(),
                        version: *ver,
                    },
                )
            })
            .collect())
    }

    fn get_private(
        &self,
        namespace: &str,
        collection: &str,
        key: &str,
    ) -> Result<Option<VersionedValue>, StateError> {
        Ok(self
            .private
            .get(&(namespace.to_string(), collection.to_string()))
            .and_then(|m| m.get(key))
            .map(|(v, ver)| VersionedValue {
                value: v.clone(),
                version: *ver,
            }))
    }

    fn get_private_hash(
        &self,
        namespace: &str,
        collection: &str,
        key: &str,
    ) -> Result<Option<(Hash32, Version)>, StateError> {
        Ok(self
            .get_private(namespace, collection, key)?
            .map(|v| (sha256(&v.value), v.version)))
    }
}
