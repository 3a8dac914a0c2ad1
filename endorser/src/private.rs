//! Private values written by endorsed simulations, kept in memory per tx id
//! until they are disseminated to the collection's member peers (not built yet:
//! dissemination and the transient store on disk are future work). The map is
//! bounded: the oldest entries go first. Values are never logged; `Debug` shows
//! only their shape.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::Mutex;

use cellchain_core::protocol::TxId;
use cellchain_simulator::PrivateWrites;

/// The private writes of one endorsed transaction.
#[derive(Clone, PartialEq, Eq)]
pub struct PrivateEntry {
    pub channel: String,
    pub chaincode: String,
    /// The replica height the simulation ran at.
    pub height: u64,
    pub writes: PrivateWrites,
}

impl fmt::Debug for PrivateEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: usize = self.writes.values().map(|c| c.len()).sum();
        f.debug_struct("PrivateEntry")
            .field("channel", &self.channel)
            .field("chaincode", &self.chaincode)
            .field("height", &self.height)
            .field("collections", &self.writes.keys().collect::<Vec<_>>())
            .field("keys", &keys)
            .finish_non_exhaustive()
    }
}

/// A bounded map from tx id to private writes.
pub struct PrivateStore {
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    map: HashMap<TxId, PrivateEntry>,
    order: VecDeque<TxId>,
    evicted: u64,
}

impl PrivateStore {
    pub fn new(capacity: usize) -> PrivateStore {
        PrivateStore {
            capacity: capacity.max(1),
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Keeps `entry` for `tx_id` (replacing an earlier one of the same tx id),
    /// evicting the oldest entries beyond the capacity.
    pub fn insert(&self, tx_id: TxId, entry: PrivateEntry) {
        let mut inner = self.inner.lock().expect("private store lock");
        if inner.map.insert(tx_id, entry).is_none() {
            inner.order.push_back(tx_id);
        }
        while inner.map.len() > self.capacity {
            let Some(old) = inner.order.pop_front() else {
                break;
            };
            if inner.map.remove(&old).is_some() {
                inner.evicted += 1;
            }
        }
    }

    pub fn get(&self, tx_id: &TxId) -> Option<PrivateEntry> {
        self.inner
            .lock()
            .expect("private store lock")
            .map
            .get(tx_id)
            .cloned()
    }

    /// Removes and returns the entry (once disseminated or committed).
    pub fn take(&self, tx_id: &TxId) -> Option<PrivateEntry> {
        let mut inner = self.inner.lock().expect("private store lock");
        let entry = inner.map.remove(tx_id)?;
        inner.order.retain(|t| t != tx_id);
        Some(entry)
    }

    pub fn len(&self) -> usize {
        self.inner.lock().expect("private store lock").map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entries dropped because the store was full.
    pub fn evicted(&self) -> u64 {
        self.inner.lock().expect("private store lock").evicted
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cellchain_core::Hash32;

    fn tx(n: u8) -> TxId {
        TxId(Hash32([n; 32]))
    }

    fn entry(value: &str) -> PrivateEntry {
        let mut writes = PrivateWrites::new();
        writes
            .entry("secret".into())
            .or_default()
            .insert("k".into(), Some(value.as_bytes().to_vec()));
        PrivateEntry {
            channel: "ch".into(),
            chaincode: "cc".into(),
            height: 1,
            writes,
        }
    }

    #[test]
    fn the_oldest_entries_are_evicted_beyond_the_capacity() {
        let store = PrivateStore::new(2);
        store.insert(tx(1), entry("a"));
        store.insert(tx(2), entry("b"));
        store.insert(tx(3), entry("c"));
        assert_eq!(store.len(), 2);
        assert_eq!(store.evicted(), 1);
        assert!(store.get(&tx(1)).is_none());
        assert_eq!(store.take(&tx(2)), Some(entry("b")));
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn debug_output_never_shows_values() {
        let text = format!("{:?}", entry("top-secret-value"));
        assert!(!text.contains("top-secret-value"), "{text}");
        assert!(text.contains("secret"), "{text}");
    }
}
