//! The chaincode definitions in force on one channel, as the committer knows
//! them: a cache of the committed `definition/` keys of the channel's
//! `_lifecycle` namespace.
//!
//! The cache is loaded from the state store when the channel starts, after the
//! ledger is opened (so after recovery replayed any blocks the state was
//! missing), and refreshed by the puller right after each block whose update
//! batch writes a definition is committed, before the next block is validated.
//! Validation therefore judges every block under the definitions in force at
//! its start: a transaction in the same block as the commit that changes its
//! definition is judged under the old one.
//!
//! Readers take a snapshot ([`DefinitionCache::current`], an `Arc`): the lock is
//! held only to clone or swap the `Arc`, never across validation or an await.

use std::sync::{Arc, RwLock};

use cellchain_core::lifecycle::{LifecycleKey, DEFINITION_PREFIX, LIFECYCLE};
use cellchain_storage::{StateReader, StateStoreError};
use cellchain_validation::{touches_definitions, DefinitionSet, StateWrite, UpdateBatch};

/// Why the definitions of a channel could not be loaded or refreshed.
#[derive(Debug, thiserror::Error)]
pub enum DefinitionsError {
    #[error("channel {channel}: cannot read the chaincode definitions from the state: {source}")]
    State {
        channel: String,
        source: StateStoreError,
    },
    /// A committed definition does not decode: the ledger is damaged.
    #[error("channel {channel}: {reason}")]
    Damaged { channel: String, reason: String },
}

/// A change of one chaincode's definition made by a committed block.
#[derive(Debug, Clone, PartialEq)]
pub enum DefinitionChange {
    /// The definition is now in force (first definition or upgrade).
    InForce(Box<cellchain_validation::ChaincodeDefinition>),
    /// The definition was deleted (validation admits no such write today).
    Removed { chaincode: String },
}

/// The chaincode definitions in force on one channel.
#[derive(Debug)]
pub struct DefinitionCache {
    channel: String,
    set: RwLock<Arc<DefinitionSet>>,
}

impl DefinitionCache {
    /// A cache holding `set` (for tests and for a channel whose state was read
    /// elsewhere).
    pub fn new(channel: impl Into<String>, set: DefinitionSet) -> DefinitionCache {
        DefinitionCache {
            channel: channel.into(),
            set: RwLock::new(Arc::new(set)),
        }
    }

    /// Loads the definitions committed in `state` (every `definition/` key of
    /// the `_lifecycle` namespace).
    pub fn load(channel: &str, state: &StateReader) -> Result<DefinitionCache, DefinitionsError> {
        let page = state
            .range(LIFECYCLE, DEFINITION_PREFIX, &prefix_end(), 0, None)
            .map_err(|source| DefinitionsError::State {
                channel: channel.to_string(),
                source,
            })?;
        let set = DefinitionSet::from_entries(
            page.items
                .iter()
                .map(|(key, value, _)| (key.as_str(), value.as_slice())),
        )
        .map_err(|reason| DefinitionsError::Damaged {
            channel: channel.to_string(),
            reason,
        })?;
        Ok(DefinitionCache::new(channel, set))
    }

    /// The definitions in force now. A snapshot: later refreshes do not change it.
    pub fn current(&self) -> Arc<DefinitionSet> {
        self.set.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Applies the definition writes of a committed block (see
    /// [`definition_writes`]) and logs each change. Returns the changes.
    pub fn apply(
        &self,
        block: u64,
        writes: &[StateWrite],
    ) -> Result<Vec<DefinitionChange>, DefinitionsError> {
        if writes.is_empty() {
            return Ok(Vec::new());
        }
        let mut next = DefinitionSet::clone(&self.current());
        let mut changes = Vec::new();
        for w in writes {
            let changed = next.apply(&w.key, w.value.as_deref()).map_err(|reason| {
                DefinitionsError::Damaged {
                    channel: self.channel.clone(),
                    reason: format!("block {block}: {reason}"),
                }
            })?;
            if !changed {
                continue;
            }
            let Some(LifecycleKey::Definition { chaincode }) = LifecycleKey::parse(&w.key) else {
                continue;
            };
            match next.0.get(chaincode) {
                Some(def) => {
                    tracing::info!(
                        block,
                        "chaincode {} sequence {} is now in force on channel {} (version {}, wasm {})",
                        def.name,
                        def.sequence,
                        self.channel,
                        def.version,
                        def.wasm_hash
                    );
                    changes.push(DefinitionChange::InForce(Box::new(def.clone())));
                }
                None => {
                    tracing::info!(
                        block,
                        "chaincode {chaincode} is no longer defined on channel {}",
                        self.channel
                    );
                    changes.push(DefinitionChange::Removed {
                        chaincode: chaincode.to_string(),
                    });
                }
            }
        }
        *self.set.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(next);
        Ok(changes)
    }
}

/// The writes of `updates` that change a definition (in block order); empty
/// when the block touches none.
pub fn definition_writes(updates: &UpdateBatch) -> Vec<StateWrite> {
    let touches = touches_definitions(
        updates
            .writes
            .iter()
            .map(|w| (w.namespace.as_str(), w.key.as_str())),
    );
    if !touches {
        return Vec::new();
    }
    updates
        .writes
        .iter()
        .filter(|w| {
            w.namespace == LIFECYCLE
                && matches!(
                    LifecycleKey::parse(&w.key),
                    Some(LifecycleKey::Definition { .. })
                )
        })
        .cloned()
        .collect()
}

/// The end of the `definition/` key range: the prefix with its last byte raised.
fn prefix_end() -> String {
    let mut end = DEFINITION_PREFIX.to_string();
    let last = end.pop().expect("the prefix is not empty");
    end.push(char::from(last as u8 + 1));
    end
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::definitions;
    use cellchain_core::lifecycle::{approval_key, definition_key, encode_definition};
    use cellchain_core::protocol::Version;

    fn write(ns: &str, key: &str, value: Option<Vec<u8>>) -> StateWrite {
        StateWrite {
            namespace: ns.into(),
            key: key.into(),
            value,
            version: Version { block: 3, tx: 0 },
        }
    }

    #[test]
    fn the_key_range_covers_exactly_the_definitions() {
        assert_eq!(prefix_end(), "definition0");
        assert!("definition/zzz" < prefix_end().as_str());
        assert!("definition/" < "definition/a");
        assert!("definitions" > prefix_end().as_str());
    }

    #[test]
    fn only_definition_writes_of_the_lifecycle_namespace_are_picked() {
        let def = definitions().0["cc"].clone();
        let mut updates = UpdateBatch {
            writes: vec![
                write("cc", "definition/cc", Some(b"x".to_vec())),
                write(
                    LIFECYCLE,
                    &approval_key("cc", "Org1MSP"),
                    Some(encode_definition(&def)),
                ),
            ],
            ..UpdateBatch::default()
        };
        assert!(definition_writes(&updates).is_empty());
        updates.writes.push(write(
            LIFECYCLE,
            &definition_key("cc"),
            Some(encode_definition(&def)),
        ));
        let picked = definition_writes(&updates);
        assert_eq!(picked.len(), 1);
        assert_eq!(picked[0].key, "definition/cc");
    }

    #[test]
    fn apply_swaps_in_a_new_set_and_leaves_earlier_snapshots_alone() {
        let cache = DefinitionCache::new("ch", DefinitionSet::default());
        let before = cache.current();
        let mut def = definitions().0["cc"].clone();
        def.sequence = 2;
        def.version = "2.0".into();
        let changes = cache
            .apply(
                3,
                &[write(
                    LIFECYCLE,
                    &definition_key("cc"),
                    Some(encode_definition(&def)),
                )],
            )
            .unwrap();
        assert_eq!(
            changes,
            vec![DefinitionChange::InForce(Box::new(def.clone()))]
        );
        assert!(before.0.is_empty());
        assert_eq!(cache.current().0["cc"], def);
        // A delete removes it; nothing to apply changes nothing.
        let changes = cache
            .apply(4, &[write(LIFECYCLE, &definition_key("cc"), None)])
            .unwrap();
        assert_eq!(
            changes,
            vec![DefinitionChange::Removed {
                chaincode: "cc".into()
            }]
        );
        assert!(cache.current().0.is_empty());
        assert!(cache.apply(5, &[]).unwrap().is_empty());
        // A value that is not a definition is a damaged ledger, and changes nothing.
        let e = cache
            .apply(
                6,
                &[write(LIFECYCLE, &definition_key("cc"), Some(b"{".to_vec()))],
            )
            .unwrap_err();
        assert!(matches!(e, DefinitionsError::Damaged { .. }), "{e}");
        assert!(e.to_string().contains("block 6"), "{e}");
        assert!(cache.current().0.is_empty());
    }
}
