//! The chaincode definitions in force on a channel. They live in the channel's
//! state, in the [`LIFECYCLE`] namespace, written by committed lifecycle
//! transactions; [`DefinitionSet`] is the committer's and endorser's cache of
//! them, loaded at start and refreshed after each block that changes them.

use std::collections::BTreeMap;

use cellchain_core::lifecycle::{self, LifecycleKey, LIFECYCLE};
pub use cellchain_core::lifecycle::{ChaincodeDefinition, CollectionConfig, EndorsementPolicy};

/// The chaincode definitions in force on one channel, by name. `_lifecycle`
/// itself is built in and answered by every set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DefinitionSet(pub BTreeMap<String, ChaincodeDefinition>);

impl crate::Definitions for DefinitionSet {
    fn definition(&self, chaincode: &str) -> Option<ChaincodeDefinition> {
        if chaincode == LIFECYCLE {
            return Some(lifecycle::builtin_definition());
        }
        self.0.get(chaincode).cloned()
    }
}

impl DefinitionSet {
    /// The set from the committed entries of the [`LIFECYCLE`] namespace (every
    /// key with its value; approvals and other keys are skipped). A stored
    /// definition that does not decode is an error: the ledger is damaged.
    pub fn from_entries<'a>(
        entries: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> Result<DefinitionSet, String> {
        let mut set = DefinitionSet::default();
        for (key, value) in entries {
            set.apply(key, Some(value))?;
        }
        Ok(set)
    }

    /// Applies one committed write of the [`LIFECYCLE`] namespace (`None`: a
    /// delete). Returns whether a definition changed.
    pub fn apply(&mut self, key: &str, value: Option<&[u8]>) -> Result<bool, String> {
        let Some(LifecycleKey::Definition { chaincode }) = LifecycleKey::parse(key) else {
            return Ok(false);
        };
        match value {
            None => Ok(self.0.remove(chaincode).is_some()),
            Some(v) => {
                let def = lifecycle::decode_definition(v)
                    .map_err(|e| format!("the committed definition {key} does not decode: {e}"))?;
                self.0.insert(chaincode.to_string(), def);
                Ok(true)
            }
        }
    }
}

/// Whether any write of `batch`-like `(namespace, key)` pairs touches a
/// definition, so a cache must be refreshed.
pub fn touches_definitions<'a>(writes: impl IntoIterator<Item = (&'a str, &'a str)>) -> bool {
    writes.into_iter().any(|(ns, key)| {
        ns == LIFECYCLE
            && matches!(
                LifecycleKey::parse(key),
                Some(LifecycleKey::Definition { .. })
            )
    })
}
