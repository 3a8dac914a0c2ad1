//! The block-order half of validation: the view of committed state plus the
//! writes of the earlier valid transactions of the block, and the MVCC and
//! phantom checks against it.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;

use cellchain_core::bytes::Hash32;
use cellchain_core::protocol::{
    KvRead, RangeQueryInfo, TxRwSet, TxValidationCode as Code, Version, VALIDATION_PARAMETER,
};

use crate::{CommittedState, StateError};

/// What the earlier valid transactions of this block changed.
#[derive(Default)]
pub(crate) struct BlockOverlay {
    /// Namespace -> key -> new version (`None`: deleted). Ordered for ranges.
    values: HashMap<String, BTreeMap<String, Option<Version>>>,
    /// (namespace, key) -> key-level policy now in force (`None`: removed).
    policies: HashMap<(String, String), Option<String>>,
    /// (namespace, collection, key hash) -> new version (`None`: deleted).
    private: HashMap<(String, String, Hash32), Option<Version>>,
}

impl BlockOverlay {
    /// The key-level policy `key` has after the earlier valid transactions, if
    /// one of them changed it (`Some(None)`: removed).
    pub(crate) fn policy(&self, ns: &str, key: &str) -> Option<Option<&str>> {
        self.policies
            .get(&(ns.to_string(), key.to_string()))
            .map(Option::as_deref)
    }

    /// Whether an earlier valid transaction changed the policy of one of `keys`.
    pub(crate) fn touches_policy<'k>(
        &self,
        ns: &str,
        mut keys: impl Iterator<Item = &'k str>,
    ) -> bool {
        !self.policies.is_empty() && keys.any(|k| self.policy(ns, k).is_some())
    }

    /// Records the writes of a valid transaction (see the crate docs for the rules).
    pub(crate) fn apply(&mut self, rwset: &TxRwSet, version: Version) {
        for ns in &rwset.ns_rwsets {
            let values = self.values.entry(ns.namespace.clone()).or_default();
            for w in &ns.writes {
                values.insert(w.key.clone(), (!w.is_delete).then_some(version));
                if w.is_delete {
                    self.policies
                        .insert((ns.namespace.clone(), w.key.clone()), None);
                }
            }
            for m in &ns.metadata_writes {
                let policy = m
                    .entries
                    .get(VALIDATION_PARAMETER)
                    .map(|p| String::from_utf8_lossy(p).into_owned());
                self.policies
                    .insert((ns.namespace.clone(), m.key.clone()), policy);
            }
            for c in &ns.collections {
                for w in &c.hashed_writes {
                    self.private.insert(
                        (ns.namespace.clone(), c.collection.clone(), w.key_hash),
                        (!w.is_delete).then_some(version),
                    );
                }
            }
        }
    }

    fn version(
        &self,
        state: &dyn CommittedState,
        ns: &str,
        key: &str,
    ) -> Result<Option<Version>, StateError> {
        match self.values.get(ns).and_then(|m| m.get(key)) {
            Some(v) => Ok(*v),
            None => state.version(ns, key),
        }
    }

    /// Checks 17 and 18 for one transaction: `Valid`, `MvccReadConflict` or
    /// `PhantomReadConflict`.
    pub(crate) fn check_reads(
        &self,
        state: &dyn CommittedState,
        rwset: &TxRwSet,
    ) -> Result<Code, StateError> {
        for ns in &rwset.ns_rwsets {
            for r in &ns.reads {
                if self.version(state, &ns.namespace, &r.key)? != r.version {
                    return Ok(Code::MvccReadConflict);
                }
            }
            for c in &ns.collections {
                for r in &c.hashed_reads {
                    let key = (ns.namespace.clone(), c.collection.clone(), r.key_hash);
                    let current = match self.private.get(&key) {
                        Some(v) => *v,
                        None => state.private_version(&ns.namespace, &c.collection, &r.key_hash)?,
                    };
                    if current != r.version {
                        return Ok(Code::MvccReadConflict);
                    }
                }
            }
        }
        for ns in &rwset.ns_rwsets {
            for q in &ns.range_queries {
                if !self.range_unchanged(state, &ns.namespace, q)? {
                    return Ok(Code::PhantomReadConflict);
                }
            }
        }
        Ok(Code::Valid)
    }

    /// Re-runs a range query over committed state plus this block's writes and
    /// compares keys and versions. A query that stopped early (`!itr_exhausted`)
    /// is compared only up to the last key it returned, as in Fabric.
    fn range_unchanged(
        &self,
        state: &dyn CommittedState,
        ns: &str,
        q: &RangeQueryInfo,
    ) -> Result<bool, StateError> {
        // The end of the re-run, exclusive: the query's end, or just past the
        // last key read ("k\0" is the least key greater than "k").
        let end: String = if q.itr_exhausted {
            q.end_key.clone()
        } else {
            match q.reads.last() {
                // Never past the query's own end.
                Some(last) if !q.end_key.is_empty() && last.key >= q.end_key => q.end_key.clone(),
                Some(last) => format!("{}\0", last.key),
                None => return Ok(true),
            }
        };
        let in_range = |k: &str| k >= q.start_key.as_str() && (end.is_empty() || k < end.as_str());
        let empty = BTreeMap::new();
        let overlay = self.values.get(ns).unwrap_or(&empty);
        let upper = if end.is_empty() {
            Bound::Unbounded
        } else {
            Bound::Excluded(end.clone())
        };
        let local: Vec<(&String, &Option<Version>)> =
            if q.start_key.as_str() > end.as_str() && !end.is_empty() {
                Vec::new()
            } else {
                overlay
                    .range((Bound::Included(q.start_key.clone()), upper))
                    .collect()
            };
        // Enough committed keys to tell whether more than `reads` survive this
        // block's deletes; if the store has more than that, the result grew.
        let deletes = local.iter().filter(|(_, v)| v.is_none()).count();
        let limit = q.reads.len() + deletes + 1;
        let committed = state.range(ns, &q.start_key, &end, limit)?;
        if committed.len() >= limit {
            return Ok(false);
        }
        let mut merged: BTreeMap<&str, Version> = committed
            .iter()
            .filter(|(k, _)| in_range(k))
            .map(|(k, v)| (k.as_str(), *v))
            .collect();
        for (k, v) in local {
            match v {
                Some(v) => merged.insert(k.as_str(), *v),
                None => merged.remove(k.as_str()),
            };
        }
        let expected = q
            .reads
            .iter()
            .map(|KvRead { key, version }| (key.as_str(), *version));
        Ok(
            merged.len() == q.reads.len()
                && merged.iter().map(|(k, v)| (*k, Some(*v))).eq(expected),
        )
    }
}
