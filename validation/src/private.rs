//! Private data at commit: which private values a member organisation must obtain
//! for a validated block, and the check of values offered by another node
//! against the hashes the block carries.
//!
//! The block holds only the hash of each private key and value. A member of a
//! collection obtains the values off the block (from an endorser that kept them,
//! or from its own committer) and stores only values whose key and value hashes
//! match a hashed write of a valid transaction: a node that offers anything else
//! is not believed.

use std::collections::{BTreeMap, HashMap};

use cellchain_core::bytes::sha256;
use cellchain_core::protocol::{CollectionPrivateData, PrivateData, TxId};
use cellchain_core::Hash32;

use crate::{Definitions, HashedWrite, UpdateBatch};

/// One collection's hashed writes by one valid transaction, whose values an
/// organisation that is a member of the collection stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivateNeed {
    pub tx_id: TxId,
    pub tx_index: u32,
    pub namespace: String,
    pub collection: String,
    /// The collection's block-to-live (0: kept for ever).
    pub block_to_live: u64,
    /// The hashed writes, in block order.
    pub writes: Vec<HashedWrite>,
}

/// The private values `msp_id` must obtain for `updates`: one entry per (valid
/// transaction, namespace, collection) with hashed writes, in collections whose
/// member organisations include `msp_id`, in block order.
pub fn private_needs(
    updates: &UpdateBatch,
    defs: &impl Definitions,
    msp_id: &str,
) -> Vec<PrivateNeed> {
    let tx_ids: HashMap<u32, TxId> = updates
        .transactions
        .iter()
        .map(|t| (t.index, t.tx_id))
        .collect();
    let mut grouped: BTreeMap<(u32, String, String), Vec<HashedWrite>> = BTreeMap::new();
    for w in &updates.hashed_writes {
        grouped
            .entry((w.version.tx, w.namespace.clone(), w.collection.clone()))
            .or_default()
            .push(w.clone());
    }
    let mut needs = Vec::new();
    for ((tx_index, namespace, collection), writes) in grouped {
        let Some(def) = defs.definition(&namespace) else {
            continue;
        };
        let Some(coll) = def.collections.iter().find(|c| c.name == collection) else {
            continue;
        };
        if !coll.member_orgs.iter().any(|m| m == msp_id) {
            continue;
        }
        let Some(tx_id) = tx_ids.get(&tx_index) else {
            continue;
        };
        needs.push(PrivateNeed {
            tx_id: *tx_id,
            tx_index,
            namespace,
            collection,
            block_to_live: coll.block_to_live,
            writes,
        });
    }
    needs
}

/// Values offered for a [`PrivateNeed`] that do not match the block's hashes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrivateMismatch {
    #[error("tx {tx_id} {namespace}/{collection}: offered a key the block does not write (key hash {key_hash})")]
    UnexpectedKey {
        tx_id: TxId,
        namespace: String,
        collection: String,
        key_hash: Hash32,
    },
    #[error("tx {tx_id} {namespace}/{collection}: key hash {key_hash} offered twice")]
    DuplicateKey {
        tx_id: TxId,
        namespace: String,
        collection: String,
        key_hash: Hash32,
    },
    #[error("tx {tx_id} {namespace}/{collection}: the value offered for key hash {key_hash} does not hash to the block's value hash")]
    ValueHash {
        tx_id: TxId,
        namespace: String,
        collection: String,
        key_hash: Hash32,
    },
    #[error("tx {tx_id} {namespace}/{collection}: {missing} written key(s) not offered")]
    Incomplete {
        tx_id: TxId,
        namespace: String,
        collection: String,
        missing: usize,
    },
}

/// A checked private value: the key, the value (`None`: deleted) and the write
/// it belongs to.
#[derive(Clone, PartialEq, Eq)]
pub struct MatchedPrivate {
    pub key: String,
    pub value: Option<Vec<u8>>,
    pub write: HashedWrite,
}

/// Never shows the value.
impl std::fmt::Debug for MatchedPrivate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MatchedPrivate")
            .field("key", &self.key)
            .field("value_len", &self.value.as_ref().map(Vec::len))
            .field("write", &self.write)
            .finish()
    }
}

/// Checks `offered` against `need`: every offered key must hash to a key hash
/// the transaction wrote, once, its value to that write's value hash (a delete
/// has no value), and every written key must be offered.
pub fn match_private(
    need: &PrivateNeed,
    offered: &CollectionPrivateData,
) -> Result<Vec<MatchedPrivate>, PrivateMismatch> {
    let (matched, missing) = match_private_partial(need, offered)?;
    if !missing.is_empty() {
        return Err(PrivateMismatch::Incomplete {
            tx_id: need.tx_id,
            namespace: need.namespace.clone(),
            collection: need.collection.clone(),
            missing: missing.len(),
        });
    }
    Ok(matched)
}

/// As [`match_private`], but a written key that is not offered is returned as
/// missing instead of failing the whole collection: for a node that can fill
/// some gaps itself (a delete, whose key it finds in its own store) or keep
/// what it got. Offered values are still all checked: one bad offer fails it.
pub fn match_private_partial(
    need: &PrivateNeed,
    offered: &CollectionPrivateData,
) -> Result<(Vec<MatchedPrivate>, Vec<HashedWrite>), PrivateMismatch> {
    let by_hash: HashMap<Hash32, &HashedWrite> =
        need.writes.iter().map(|w| (w.key_hash, w)).collect();
    let mut out: HashMap<Hash32, MatchedPrivate> = HashMap::new();
    for kv in &offered.writes {
        let key_hash = sha256(kv.key.as_bytes());
        let Some(write) = by_hash.get(&key_hash) else {
            return Err(PrivateMismatch::UnexpectedKey {
                tx_id: need.tx_id,
                namespace: need.namespace.clone(),
                collection: need.collection.clone(),
                key_hash,
            });
        };
        let value = kv.value.as_ref().map(|b| b.0.clone());
        if value.as_deref().map(sha256) != write.value_hash {
            return Err(PrivateMismatch::ValueHash {
                tx_id: need.tx_id,
                namespace: need.namespace.clone(),
                collection: need.collection.clone(),
                key_hash,
            });
        }
        let matched = MatchedPrivate {
            key: kv.key.clone(),
            value,
            write: (*write).clone(),
        };
        if out.insert(key_hash, matched).is_some() {
            return Err(PrivateMismatch::DuplicateKey {
                tx_id: need.tx_id,
                namespace: need.namespace.clone(),
                collection: need.collection.clone(),
                key_hash,
            });
        }
    }
    // Block order of the writes.
    let mut matched = Vec::with_capacity(out.len());
    let mut missing = Vec::new();
    for w in &need.writes {
        match out.remove(&w.key_hash) {
            Some(m) => matched.push(m),
            None => missing.push(w.clone()),
        }
    }
    Ok((matched, missing))
}

/// The collection data `data` offers for `need`, if any.
pub fn offered_for<'a>(
    data: &'a PrivateData,
    need: &PrivateNeed,
) -> Option<&'a CollectionPrivateData> {
    data.txs
        .iter()
        .filter(|t| t.tx_id == need.tx_id && t.namespace == need.namespace)
        .flat_map(|t| t.collections.iter())
        .find(|c| c.collection == need.collection)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        ChaincodeDefinition, CollectionConfig, DefinitionSet, EndorsementPolicy, TxOutcome,
    };
    use cellchain_core::protocol::{PrivateKv, TxPrivateData, TxValidationCode, Version};
    use cellchain_core::Bytes;

    fn defs() -> DefinitionSet {
        let mut set = DefinitionSet::default();
        set.0.insert(
            "cc".into(),
            ChaincodeDefinition {
                name: "cc".into(),
                version: "1".into(),
                sequence: 1,
                wasm_hash: cellchain_core::bytes::sha256(b"cc"),
                endorsement_policy: EndorsementPolicy::Signature(
                    cellchain_core::policy::SignaturePolicy::parse("OR('Org1MSP.peer')").unwrap(),
                ),
                collections: vec![CollectionConfig {
                    name: "secret".into(),
                    member_orgs: vec!["Org1MSP".into()],
                    required_peer_count: 0,
                    block_to_live: 3,
                    member_only_read: true,
                    member_only_write: true,
                }],
            },
        );
        set
    }

    fn tx(n: u8) -> TxId {
        TxId(Hash32([n; 32]))
    }

    fn batch() -> UpdateBatch {
        let write = |tx: u32, coll: &str, key: &str, value: Option<&str>| HashedWrite {
            namespace: "cc".into(),
            collection: coll.into(),
            key_hash: sha256(key.as_bytes()),
            value_hash: value.map(|v| sha256(v.as_bytes())),
            version: Version { block: 7, tx },
        };
        UpdateBatch {
            block: 7,
            hashed_writes: vec![
                write(0, "secret", "a", Some("va")),
                write(0, "secret", "b", None),
                write(0, "other", "c", Some("vc")),
                write(2, "secret", "d", Some("vd")),
            ],
            transactions: [0, 1, 2]
                .map(|i| TxOutcome {
                    tx_id: tx(i as u8),
                    index: i,
                    code: TxValidationCode::Valid,
                })
                .to_vec(),
            ..UpdateBatch::default()
        }
    }

    fn kv(key: &str, value: Option<&str>) -> PrivateKv {
        PrivateKv {
            key: key.into(),
            value: value.map(|v| Bytes(v.as_bytes().to_vec())),
        }
    }

    #[test]
    fn a_member_needs_its_collections_of_valid_transactions_only() {
        let needs = private_needs(&batch(), &defs(), "Org1MSP");
        // "other" is not a defined collection: nobody is its member.
        assert_eq!(needs.len(), 2);
        assert_eq!((needs[0].tx_id, needs[0].writes.len()), (tx(0), 2));
        assert_eq!((needs[1].tx_id, needs[1].block_to_live), (tx(2), 3));
        assert!(private_needs(&batch(), &defs(), "Org2MSP").is_empty());
    }

    #[test]
    fn offered_values_must_match_every_hash() {
        let need = &private_needs(&batch(), &defs(), "Org1MSP")[0];
        let offer = |writes: Vec<PrivateKv>| CollectionPrivateData {
            collection: "secret".into(),
            writes,
        };
        let ok = match_private(need, &offer(vec![kv("b", None), kv("a", Some("va"))])).unwrap();
        assert_eq!(ok[0].key, "a");
        assert_eq!(ok[0].value.as_deref(), Some(&b"va"[..]));
        assert_eq!((ok[1].key.as_str(), ok[1].value.clone()), ("b", None));

        let err = |writes| match_private(need, &offer(writes)).unwrap_err();
        assert!(matches!(
            err(vec![kv("a", Some("forged")), kv("b", None)]),
            PrivateMismatch::ValueHash { .. }
        ));
        assert!(matches!(
            err(vec![kv("a", Some("va"))]),
            PrivateMismatch::Incomplete { missing: 1, .. }
        ));
        assert!(matches!(
            err(vec![kv("a", Some("va")), kv("z", None)]),
            PrivateMismatch::UnexpectedKey { .. }
        ));
        assert!(matches!(
            err(vec![
                kv("a", Some("va")),
                kv("a", Some("va")),
                kv("b", None)
            ]),
            PrivateMismatch::DuplicateKey { .. }
        ));
        let (partial, missing) =
            match_private_partial(need, &offer(vec![kv("a", Some("va"))])).unwrap();
        assert_eq!((partial.len(), missing.len()), (1, 1));
        assert_eq!(missing[0].key_hash, sha256(b"b"));
        assert!(match_private_partial(need, &offer(vec![kv("a", Some("forged"))])).is_err());
        // A delete offered with a value is a mismatch too.
        assert!(matches!(
            err(vec![kv("a", Some("va")), kv("b", Some("x"))]),
            PrivateMismatch::ValueHash { .. }
        ));
    }

    #[test]
    fn offered_data_is_found_by_tx_namespace_and_collection() {
        let need = &private_needs(&batch(), &defs(), "Org1MSP")[1];
        let data = PrivateData {
            txs: vec![TxPrivateData {
                tx_id: tx(2),
                namespace: "cc".into(),
                collections: vec![CollectionPrivateData {
                    collection: "secret".into(),
                    writes: vec![kv("d", Some("vd"))],
                }],
            }],
        };
        let offered = offered_for(&data, need).unwrap();
        assert_eq!(match_private(need, offered).unwrap().len(), 1);
        let first = &private_needs(&batch(), &defs(), "Org1MSP")[0];
        assert!(offered_for(&data, first).is_none());
    }

    #[test]
    fn matched_values_are_not_shown_in_debug_output() {
        let need = &private_needs(&batch(), &defs(), "Org1MSP")[1];
        let m = match_private(
            need,
            &CollectionPrivateData {
                collection: "secret".into(),
                writes: vec![kv("d", Some("vd-top-secret"))],
            },
        );
        assert!(m.is_err());
        let m = MatchedPrivate {
            key: "d".into(),
            value: Some(b"top-secret".to_vec()),
            write: need.writes[0].clone(),
        };
        assert!(!format!("{m:?}").contains("top-secret"));
    }
}
