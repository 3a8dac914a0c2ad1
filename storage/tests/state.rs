//! The state store's rules: atomic, durable, in-order batches; reads, pagination,
//! history, tx ids, private data and the validator's `CommittedState` view.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use cellchain_core::bytes::sha256;
use cellchain_core::protocol::{TxId, TxValidationCode, Version, VALIDATION_PARAMETER};
use cellchain_core::Hash32;
use cellchain_storage::{open_sled, PrivateWrite, StateStore, StateStoreError, TxStatus};
use cellchain_validation::{
    CommittedState, HashedWrite, MetadataWrite, StateWrite, TxOutcome, UpdateBatch,
};

const NS: &str = "cc";

fn v(block: u64, tx: u32) -> Version {
    Version { block, tx }
}

fn tx_id(block: u64, tx: u32) -> TxId {
    TxId(sha256(format!("tx {block}/{tx}").as_bytes()))
}

fn commit_hash(block: u64) -> Hash32 {
    sha256(format!("commit {block}").as_bytes())
}

/// A batch for `block` whose transactions `0..txs` are all valid.
fn batch(block: u64, txs: u32) -> UpdateBatch {
    UpdateBatch {
        block,
        transactions: (0..txs)
            .map(|i| TxOutcome {
                tx_id: tx_id(block, i),
                index: i,
                code: TxValidationCode::Valid,
            })
            .collect(),
        ..UpdateBatch::default()
    }
}

fn put(b: &mut UpdateBatch, tx: u32, key: &str, value: &[u8]) {
    b.writes.push(StateWrite {
        namespace: NS.into(),
        key: key.into(),
        value: Some(value.to_vec()),
        version: v(b.block, tx),
    });
}

fn del(b: &mut UpdateBatch, tx: u32, key: &str) {
    b.writes.push(StateWrite {
        namespace: NS.into(),
        key: key.into(),
        value: None,
        version: v(b.block, tx),
    });
}

fn set_policy(b: &mut UpdateBatch, tx: u32, key: &str, policy: Option<&str>) {
    let entries = policy
        .map(|p| BTreeMap::from([(VALIDATION_PARAMETER.to_string(), p.as_bytes().to_vec())]))
        .unwrap_or_default();
    b.metadata.push(MetadataWrite {
        namespace: NS.into(),
        key: key.into(),
        entries,
        version: v(b.block, tx),
    });
}

/// Applies `b` with no private values and the test commit hash.
fn apply(store: &mut StateStore, b: &UpdateBatch) {
    store.apply(b, commit_hash(b.block), &[]).unwrap();
}

/// Applies empty batches up to (not including) `block`.
fn skip_to(store: &mut StateStore, block: u64) {
    while store.savepoint().0 < block {
        let next = store.savepoint().0;
        apply(store, &batch(next, 0));
    }
}

fn value(store: &StateStore, key: &str) -> Option<(Vec<u8>, Version)> {
    store.get(NS, key).unwrap()
}

#[test]
fn empty_store_starts_at_height_zero() {
    let dir = tempfile::tempdir().unwrap();
    let store = StateStore::open(dir.path()).unwrap();
    assert_eq!(store.savepoint(), (0, None));
    assert_eq!(store.reader().savepoint().unwrap(), (0, None));
    assert_eq!(value(&store, "a"), None);
}

#[test]
fn apply_then_reopen_returns_the_same_values_versions_and_savepoint() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut store = StateStore::open(dir.path()).unwrap();
        let mut b = batch(0, 2);
        put(&mut b, 0, "a", b"1");
        put(&mut b, 1, "b", b"2");
        apply(&mut store, &b);
        let mut b = batch(1, 1);
        put(&mut b, 0, "a", b"3");
        apply(&mut store, &b);
        assert_eq!(store.savepoint(), (2, Some(commit_hash(1))));
    }
    let store = StateStore::open(dir.path()).unwrap();
    assert_eq!(store.savepoint(), (2, Some(commit_hash(1))));
    assert_eq!(
        store.reader().savepoint().unwrap(),
        (2, Some(commit_hash(1)))
    );
    assert_eq!(value(&store, "a"), Some((b"3".to_vec(), v(1, 0))));
    assert_eq!(value(&store, "b"), Some((b"2".to_vec(), v(0, 1))));
    assert_eq!(value(&store, "c"), None);
    // Same key in another namespace is another key.
    assert_eq!(store.get("other", "a").unwrap(), None);
}

#[test]
fn delete_removes_the_value_and_records_a_history_entry() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = StateStore::open(dir.path()).unwrap();
    let mut b = batch(0, 1);
    put(&mut b, 0, "k", b"v");
    apply(&mut store, &b);
    let mut b = batch(1, 1);
    del(&mut b, 0, "k");
    apply(&mut store, &b);

    assert_eq!(value(&store, "k"), None);
    assert_eq!(store.version(NS, "k").unwrap(), None);
    let history = store.history(NS, "k", 0, None).unwrap();
    assert_eq!(history.bookmark, None);
    let summary: Vec<_> = history
        .items
        .iter()
        .map(|e| (e.version, e.tx_id, e.is_delete, e.value.clone()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (v(1, 0), tx_id(1, 0), true, vec![]),
            (v(0, 0), tx_id(0, 0), false, b"v".to_vec()),
        ]
    );
}

#[test]
fn batch_for_the_wrong_block_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = StateStore::open(dir.path()).unwrap();
    let mut b = batch(0, 1);
    put(&mut b, 0, "k", b"v0");
    apply(&mut store, &b);

    for wrong in [0, 2, 7] {
        let mut b = batch(wrong, 1);
        put(&mut b, 0, "k", b"wrong");
        let err = store.apply(&b, commit_hash(wrong), &[]).unwrap_err();
        assert_eq!(
            err,
            StateStoreError::NotNext {
                dir: dir.path().to_path_buf(),
                expected: 1,
                got: wrong,
            }
        );
        assert!(err.to_string().contains("replay blocks from number 1"));
    }
    // A write whose version is of another block.
    let mut b = batch(1, 1);
    put(&mut b, 0, "k", b"wrong");
    b.writes[0].version = v(0, 0);
    assert!(matches!(
        store.apply(&b, commit_hash(1), &[]),
        Err(StateStoreError::ForeignVersion { block: 1, .. })
    ));
    // A write from a transaction that is not valid.
    let mut b = batch(1, 1);
    b.transactions[0].code = TxValidationCode::MvccReadConflict;
    put(&mut b, 0, "k", b"wrong");
    assert!(matches!(
        store.apply(&b, commit_hash(1), &[]),
        Err(StateStoreError::NoValidTx {
            block: 1,
            tx: 0,
            ..
        })
    ));

    assert_eq!(store.savepoint(), (1, Some(commit_hash(0))));
    assert_eq!(value(&store, "k"), Some((b"v0".to_vec(), v(0, 0))));
    assert_eq!(store.history(NS, "k", 0, None).unwrap().items.len(), 1);
    assert_eq!(store.tx_status(&tx_id(1, 0)).unwrap(), None);
    drop(store);
    let store = StateStore::open(dir.path()).unwrap();
    assert_eq!(store.savepoint(), (1, Some(commit_hash(0))));
}

/// Keys of several shapes: composite keys (U+0000 separators) sort first.
fn range_keys() -> Vec<String> {
    let mut keys = vec![
        "\u{0}asset\u{0}1\u{0}".to_string(),
        "\u{0}asset\u{0}1\u{0}a\u{0}".to_string(),
        "\u{0}asset\u{0}2\u{0}".to_string(),
        "\u{0}owner\u{0}alice\u{0}asset1\u{0}".to_string(),
        "\u{1}".to_string(),
        "a".to_string(),
        "a\u{0}".to_string(),
        "ab".to_string(),
        "b".to_string(),
        "é".to_string(),
        "\u{10FFFF}".to_string(),
    ];
    keys.extend((0..20).map(|i| format!("key{i:03}")));
    keys.sort();
    keys
}

#[test]
fn range_pages_return_every_key_once_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = StateStore::open(dir.path()).unwrap();
    let keys = range_keys();
    let mut b = batch(0, 1);
    for k in &keys {
        put(&mut b, 0, k, k.as_bytes());
    }
    // Neighbouring namespaces must not leak into the range.
    for ns in ["c", "cc\u{0}", "ccc"] {
        b.writes.push(StateWrite {
            namespace: ns.into(),
            key: "a".into(),
            value: Some(b"x".to_vec()),
            version: v(0, 0),
        });
    }
    apply(&mut store, &b);

    for page_size in [0, 1, 2, 3, 7, keys.len(), keys.len() + 1] {
        let mut got = Vec::new();
        let mut bookmark = None;
        loop {
            let page = store
                .range(NS, "", "", page_size, bookmark.as_deref())
                .unwrap();
            assert!(page_size == 0 || page.items.len() <= page_size);
            for (k, value, version) in page.items {
                assert_eq!(value, k.as_bytes());
                assert_eq!(version, v(0, 0));
                got.push(k);
            }
            match page.bookmark {
                Some(b) => bookmark = Some(b),
                None => break,
            }
        }
        assert_eq!(got, keys, "page size {page_size}");
    }

    // Bounds: a partial composite key, and a range of simple keys only.
    let asset1: Vec<_> = store
        .range(
            NS,
            "\u{0}asset\u{0}1\u{0}",
            "\u{0}asset\u{0}1\u{0}\u{10FFFF}",
            0,
            None,
        )
        .unwrap()
        .items
        .into_iter()
        .map(|(k, _, _)| k)
        .collect();
    assert_eq!(asset1, keys[0..2]);
    let simple = CommittedState::range(&*store, NS, "\u{1}", "", 0).unwrap();
    assert_eq!(simple.len(), keys.len() - 4);
    assert_eq!(simple[0].0, "\u{1}");
    let limited = CommittedState::range(&*store, NS, "a", "b", 2).unwrap();
    assert_eq!(
        limited,
        vec![("a".to_string(), v(0, 0)), ("a\u{0}".to_string(), v(0, 0))]
    );
    // Empty and inverted ranges.
    assert!(store.range(NS, "b", "b", 0, None).unwrap().items.is_empty());
    assert!(store.range(NS, "z", "a", 0, None).unwrap().items.is_empty());
    assert!(store
        .range("none", "", "", 0, None)
        .unwrap()
        .items
        .is_empty());
    // A bookmark from outside the range is refused.
    assert!(matches!(
        store.range(NS, "b", "c", 1, Some("a")),
        Err(StateStoreError::BadBookmark { .. })
    ));
}

#[test]
fn history_pages_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = StateStore::open(dir.path()).unwrap();
    for block in 0..5u64 {
        let mut b = batch(block, 2);
        put(&mut b, 0, "k", format!("{block}.0").as_bytes());
        put(&mut b, 1, "k", format!("{block}.1").as_bytes());
        // A longer key sharing the prefix has its own history.
        put(&mut b, 1, "k\u{0}x", b"other");
        apply(&mut store, &b);
    }
    let expected: Vec<Version> = (0..5u64).rev().flat_map(|b| [v(b, 1), v(b, 0)]).collect();
    for page_size in [0, 1, 3, 10, 11] {
        let mut got = Vec::new();
        let mut bookmark = None;
        loop {
            let page = store
                .history(NS, "k", page_size, bookmark.as_deref())
                .unwrap();
            for e in page.items {
                assert_eq!(
                    e.value,
                    format!("{}.{}", e.version.block, e.version.tx).as_bytes()
                );
                assert_eq!(e.tx_id, tx_id(e.version.block, e.version.tx));
                assert!(!e.is_delete);
                got.push(e.version);
            }
            match page.bookmark {
                Some(b) => bookmark = Some(b),
                None => break,
            }
        }
        assert_eq!(got, expected, "page size {page_size}");
    }
    assert_eq!(
        store.history(NS, "k\u{0}x", 0, None).unwrap().items.len(),
        5
    );
    assert!(store.history(NS, "none", 0, None).unwrap().items.is_empty());
    assert!(matches!(
        store.history(NS, "k", 1, Some("nonsense")),
        Err(StateStoreError::BadBookmark { .. })
    ));
}

#[test]
fn tx_status_records_valid_and_invalid_outcomes() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = StateStore::open(dir.path()).unwrap();
    let mut b = batch(0, 3);
    b.transactions[1].code = TxValidationCode::MvccReadConflict;
    // Transaction 2 repeats transaction 0's id: the first entry stays.
    b.transactions[2].tx_id = tx_id(0, 0);
    b.transactions[2].code = TxValidationCode::DuplicateTxid;
    apply(&mut store, &b);
    let mut b = batch(1, 1);
    b.transactions[0].tx_id = tx_id(0, 1);
    b.transactions[0].code = TxValidationCode::DuplicateTxid;
    apply(&mut store, &b);

    let status = |id| store.tx_status(&id).unwrap();
    let code = TxValidationCode::Valid;
    assert_eq!(
        status(tx_id(0, 0)),
        Some(TxStatus {
            block: 0,
            index: 0,
            code
        })
    );
    let code = TxValidationCode::MvccReadConflict;
    assert_eq!(
        status(tx_id(0, 1)),
        Some(TxStatus {
            block: 0,
            index: 1,
            code
        })
    );
    assert_eq!(status(tx_id(9, 9)), None);
    assert!(store.is_committed(&tx_id(0, 1)).unwrap());
    assert!(!store.is_committed(&tx_id(9, 9)).unwrap());
}

#[test]
fn committed_state_agrees_with_the_writes() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = StateStore::open(dir.path()).unwrap();
    let policy = "AND('Org1.peer', 'Org2.peer')";
    let mut b = batch(0, 2);
    put(&mut b, 0, "k", b"v");
    set_policy(&mut b, 0, "k", Some(policy));
    // A policy on a key without a value is kept: it governs the first write.
    set_policy(&mut b, 1, "absent", Some(policy));
    apply(&mut store, &b);
    assert_eq!(store.version(NS, "k").unwrap(), Some(v(0, 0)));
    assert_eq!(store.key_policy(NS, "k").unwrap().as_deref(), Some(policy));
    assert_eq!(
        store.key_policy(NS, "absent").unwrap().as_deref(),
        Some(policy)
    );
    assert_eq!(store.version(NS, "absent").unwrap(), None);

    // A metadata write alone keeps the value and its version (validation's rule).
    let mut b = batch(1, 1);
    set_policy(&mut b, 0, "k", Some("OR('Org1.peer')"));
    apply(&mut store, &b);
    assert_eq!(value(&store, "k"), Some((b"v".to_vec(), v(0, 0))));
    assert_eq!(
        store.key_policy(NS, "k").unwrap().as_deref(),
        Some("OR('Org1.peer')")
    );
    assert_eq!(store.history(NS, "k", 0, None).unwrap().items.len(), 1);

    // Removing the metadata removes the policy.
    let mut b = batch(2, 1);
    set_policy(&mut b, 0, "k", None);
    apply(&mut store, &b);
    assert_eq!(store.key_policy(NS, "k").unwrap(), None);
    assert_eq!(store.key_metadata(NS, "k").unwrap(), None);
    assert_eq!(store.version(NS, "k").unwrap(), Some(v(0, 0)));

    // A delete removes the key's metadata with it.
    let mut b = batch(3, 2);
    set_policy(&mut b, 0, "k", Some(policy));
    del(&mut b, 1, "k");
    apply(&mut store, &b);
    assert_eq!(store.version(NS, "k").unwrap(), None);
    assert_eq!(store.key_policy(NS, "k").unwrap(), None);
    assert_eq!(
        CommittedState::range(&*store, NS, "", "", 0).unwrap(),
        vec![]
    );

    // The reader and a view give the same answers as the store.
    let mut b = batch(4, 1);
    put(&mut b, 0, "k2", b"x");
    set_policy(&mut b, 0, "k2", Some(policy));
    apply(&mut store, &b);
    let reader = store.reader();
    assert_eq!(reader.version(NS, "k2").unwrap(), Some(v(4, 0)));
    assert_eq!(
        reader.view().key_policy(NS, "k2").unwrap().as_deref(),
        Some(policy)
    );
}

fn private_write(key: &str, value: Option<&[u8]>, version: Version, btl: u64) -> PrivateWrite {
    PrivateWrite {
        namespace: NS.into(),
        collection: "coll".into(),
        key: key.into(),
        value: value.map(<[u8]>::to_vec),
        version,
        block_to_live: btl,
    }
}

#[test]
fn private_values_are_stored_and_purged_exactly_at_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = StateStore::open(dir.path()).unwrap();
    let private = |store: &StateStore, key| store.get_private(NS, "coll", key).unwrap();
    let b = batch(0, 1);
    let writes = [
        private_write("short", Some(b"s"), v(0, 0), 2),
        private_write("forever", Some(b"f"), v(0, 0), 0),
        private_write("rewritten", Some(b"r0"), v(0, 0), 2),
    ];
    store.apply(&b, commit_hash(0), &writes).unwrap();
    assert_eq!(private(&store, "short"), Some((b"s".to_vec(), v(0, 0))));

    // "rewritten" gets a new value at block 1 that lives until block 4.
    let b = batch(1, 1);
    let writes = [private_write("rewritten", Some(b"r1"), v(1, 0), 2)];
    store.apply(&b, commit_hash(1), &writes).unwrap();
    apply(&mut store, &batch(2, 0));
    // Block-to-live 2 from block 0: still there after blocks 1 and 2 ...
    assert_eq!(private(&store, "short"), Some((b"s".to_vec(), v(0, 0))));
    apply(&mut store, &batch(3, 0));
    // ... and purged when block 0 + 2 + 1 = 3 is applied; the rewrite is not.
    assert_eq!(private(&store, "short"), None);
    assert_eq!(
        private(&store, "rewritten"),
        Some((b"r1".to_vec(), v(1, 0)))
    );
    apply(&mut store, &batch(4, 0));
    assert_eq!(private(&store, "rewritten"), None);

    // A private delete removes the value, and a reopen keeps all this.
    let b = batch(5, 1);
    let writes = [private_write("forever", None, v(5, 0), 0)];
    store.apply(&b, commit_hash(5), &writes).unwrap();
    assert_eq!(private(&store, "forever"), None);
    skip_to(&mut store, 30);
    drop(store);
    let store = StateStore::open(dir.path()).unwrap();
    assert_eq!(store.savepoint().0, 30);
    assert_eq!(private(&store, "short"), None);
}

#[test]
fn hashed_private_writes_are_visible_through_private_version() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = StateStore::open(dir.path()).unwrap();
    let key_hash = sha256(b"secret-key");
    let value_hash = sha256(b"secret-value");
    let hashed = |block, value_hash| HashedWrite {
        namespace: NS.into(),
        collection: "coll".into(),
        key_hash,
        value_hash,
        version: v(block, 0),
    };
    let mut b = batch(0, 1);
    b.hashed_writes.push(hashed(0, Some(value_hash)));
    apply(&mut store, &b);
    assert_eq!(
        store.private_version(NS, "coll", &key_hash).unwrap(),
        Some(v(0, 0))
    );
    assert_eq!(
        store.get_private_hash(NS, "coll", &key_hash).unwrap(),
        Some((value_hash, v(0, 0)))
    );
    assert_eq!(store.private_version(NS, "other", &key_hash).unwrap(), None);

    let mut b = batch(1, 1);
    b.hashed_writes.push(hashed(1, None));
    apply(&mut store, &b);
    assert_eq!(store.private_version(NS, "coll", &key_hash).unwrap(), None);
}

#[test]
fn a_reader_never_sees_half_a_batch() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = StateStore::open(dir.path()).unwrap();
    let reader = store.reader();
    let done = Arc::new(AtomicBool::new(false));
    let checker = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut checks = 0u64;
            let mut last = 0u64;
            while !done.load(Ordering::Acquire) || checks == 0 {
                // Two single reads in one view, and one range scan: both whole.
                let view = reader.view();
                let a = view.get(NS, "a").unwrap().map(|(value, _)| value);
                let z = view.get(NS, "z").unwrap().map(|(value, _)| value);
                let (height, _) = view.savepoint().unwrap();
                drop(view);
                assert_eq!(a, z, "a view mixed two blocks");
                let expected = height.checked_sub(1).map(|b| b.to_string().into_bytes());
                assert_eq!(a, expected, "view at height {height}");
                let page = reader.range(NS, "", "", 0, None).unwrap();
                let values: Vec<_> = page.items.iter().map(|(_, v, _)| v.clone()).collect();
                assert!(values.len() != 1, "a range saw one of two keys");
                assert!(
                    values.windows(2).all(|w| w[0] == w[1]),
                    "a range mixed two blocks"
                );
                assert!(height >= last, "height went back");
                last = height;
                checks += 1;
            }
            checks
        })
    };
    for block in 0..200u64 {
        let mut b = batch(block, 2);
        let value = block.to_string();
        put(&mut b, 0, "a", value.as_bytes());
        put(&mut b, 1, "z", value.as_bytes());
        apply(&mut store, &b);
    }
    done.store(true, Ordering::Release);
    let checks = checker.join().expect("the reader saw half a batch");
    assert!(checks > 0);
}

#[test]
fn open_errors_name_the_directory_and_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    // Only one process (or handle) may own a state directory.
    let store = StateStore::open(dir.path()).unwrap();
    let err = StateStore::open(dir.path()).unwrap_err();
    assert!(matches!(&err, StateStoreError::Open { dir: d, .. } if d == dir.path()));
    assert!(err.to_string().contains("only one process"), "{err}");
    drop(store);

    // A directory written in another format is refused, not misread.
    let other = dir.path().join("other");
    {
        let db = sled::open(&other).unwrap();
        db.insert("#format", &9u32.to_be_bytes()).unwrap();
        db.flush().unwrap();
    }
    let err = StateStore::open(&other).unwrap_err();
    assert_eq!(
        err,
        StateStoreError::UnsupportedFormat {
            dir: other.clone(),
            found: 9,
            supported: 2,
        }
    );
    assert!(err.to_string().contains("delete the directory"), "{err}");
}

/// The raw keys with tag `tag` in the state directory `dir` (its store closed).
fn raw_keys(dir: &std::path::Path, tag: u8) -> Vec<Vec<u8>> {
    raw_keys_in(&open_sled(dir).unwrap(), tag)
}

#[test]
fn private_values_are_found_by_key_hash_until_deleted_or_purged() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = StateStore::open(dir.path()).unwrap();
    let by_hash = |store: &StateStore, key: &str| {
        let found = store
            .get_private_by_hash(NS, "coll", &sha256(key.as_bytes()))
            .unwrap();
        // The reader and a view agree with the store.
        assert_eq!(
            store
                .reader()
                .get_private_by_hash(NS, "coll", &sha256(key.as_bytes()))
                .unwrap(),
            found
        );
        assert_eq!(
            store
                .view()
                .get_private_by_hash(NS, "coll", &sha256(key.as_bytes()))
                .unwrap(),
            found
        );
        found
    };
    let found = |key: &str, value: &[u8], version| Some((key.to_string(), value.to_vec(), version));

    let writes = [
        private_write("short", Some(b"s"), v(0, 0), 2),
        private_write("\u{0}comp\u{0}1\u{0}", Some(b"c"), v(0, 0), 0),
        private_write("deleted", Some(b"d"), v(0, 0), 0),
    ];
    store.apply(&batch(0, 1), commit_hash(0), &writes).unwrap();
    assert_eq!(by_hash(&store, "short"), found("short", b"s", v(0, 0)));
    assert_eq!(
        by_hash(&store, "\u{0}comp\u{0}1\u{0}"),
        found("\u{0}comp\u{0}1\u{0}", b"c", v(0, 0))
    );
    // Only under its own namespace and collection, and only for a stored key.
    let h = sha256(b"short");
    assert_eq!(store.get_private_by_hash(NS, "other", &h).unwrap(), None);
    assert_eq!(store.get_private_by_hash("cc2", "coll", &h).unwrap(), None);
    assert_eq!(by_hash(&store, "never"), None);

    // A rewrite is found with its new value, a delete is gone, a late value (of
    // an earlier block) is found; one that arrives already expired is not kept.
    let writes = [
        private_write("\u{0}comp\u{0}1\u{0}", Some(b"c1"), v(1, 0), 0),
        private_write("deleted", None, v(1, 1), 0),
        private_write("late", Some(b"l"), v(0, 0), 0),
    ];
    store.apply(&batch(1, 2), commit_hash(1), &writes).unwrap();
    assert_eq!(
        by_hash(&store, "\u{0}comp\u{0}1\u{0}"),
        found("\u{0}comp\u{0}1\u{0}", b"c1", v(1, 0))
    );
    assert_eq!(by_hash(&store, "deleted"), None);
    assert_eq!(by_hash(&store, "late"), found("late", b"l", v(0, 0)));
    let expired = [private_write("expired", Some(b"x"), v(0, 0), 1)];
    store.apply(&batch(2, 1), commit_hash(2), &expired).unwrap();
    assert_eq!(store.get_private(NS, "coll", "expired").unwrap(), None);
    assert_eq!(by_hash(&store, "expired"), None);

    // Purged at block 0 + 2 + 1 = 3 with its value.
    assert_eq!(by_hash(&store, "short"), found("short", b"s", v(0, 0)));
    apply(&mut store, &batch(3, 0));
    assert_eq!(by_hash(&store, "short"), None);

    // After a reopen the same answers, and the index holds exactly the stored
    // values: deletes and purges removed their entries, not only their values.
    drop(store);
    let store = StateStore::open(dir.path()).unwrap();
    assert_eq!(by_hash(&store, "late"), found("late", b"l", v(0, 0)));
    assert_eq!(by_hash(&store, "short"), None);
    drop(store);
    let index = raw_keys(dir.path(), b'k');
    let values = raw_keys(dir.path(), b'v');
    assert_eq!(values.len(), 2, "comp and late");
    assert_eq!(index.len(), values.len(), "one index entry per value");
    for key in ["\u{0}comp\u{0}1\u{0}", "late"] {
        let h = sha256(key.as_bytes());
        assert!(index.iter().any(|k| k.ends_with(h.as_bytes())), "{key:?}");
    }
}

#[test]
fn staged_private_writes_are_durable_until_their_block_is_applied() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = StateStore::open(dir.path()).unwrap();
    let mut b = batch(0, 1);
    put(&mut b, 0, "pub", b"p");
    apply(&mut store, &b);

    // Only the next block (1) may be staged.
    let staged = vec![
        private_write("a", Some(b"secret-a"), v(1, 0), 3),
        private_write("b", None, v(1, 1), 0),
    ];
    for wrong in [0, 2] {
        assert_eq!(
            store.stage_private(wrong, &staged).unwrap_err(),
            StateStoreError::NotNext {
                dir: dir.path().to_path_buf(),
                expected: 1,
                got: wrong,
            }
        );
        assert_eq!(store.staged_private(wrong).unwrap(), vec![]);
    }
    assert_eq!(store.staged_private(1).unwrap(), vec![]);
    store
        .stage_private(1, &[private_write("old", Some(b"o"), v(1, 0), 0)])
        .unwrap();
    // Staging again replaces.
    store.stage_private(1, &staged).unwrap();
    assert_eq!(store.staged_private(1).unwrap(), staged);

    // Staged values are seen by no other read.
    let check_invisible = |store: &StateStore| {
        assert_eq!(store.get_private(NS, "coll", "a").unwrap(), None);
        assert_eq!(
            store
                .get_private_by_hash(NS, "coll", &sha256(b"a"))
                .unwrap(),
            None
        );
        assert_eq!(store.get(NS, "a").unwrap(), None);
        let page = store.range(NS, "", "", 0, None).unwrap();
        assert_eq!(page.items.len(), 1, "only the public key");
        assert_eq!(
            CommittedState::range(store, NS, "", "", 0).unwrap().len(),
            1
        );
        assert!(store.history(NS, "a", 0, None).unwrap().items.is_empty());
        assert_eq!(
            store.private_version(NS, "coll", &sha256(b"a")).unwrap(),
            None
        );
        assert_eq!(store.savepoint(), (1, Some(commit_hash(0))));
    };
    check_invisible(&store);

    // A crash after staging (and appending the block): all there on reopen.
    drop(store);
    let mut store = StateStore::open(dir.path()).unwrap();
    check_invisible(&store);
    assert_eq!(store.reader().staged_private(1).unwrap(), staged);
    assert_eq!(store.view().staged_private(1).unwrap(), staged);

    // The apply of block 1 removes them even though it passes other writes.
    let b = batch(1, 1);
    let other = [private_write("c", Some(b"c"), v(1, 0), 0)];
    store.apply(&b, commit_hash(1), &other).unwrap();
    assert_eq!(store.staged_private(1).unwrap(), vec![]);
    assert_eq!(store.get_private(NS, "coll", "a").unwrap(), None);
    // Staged for block 2, which a crash keeps from being applied: only block 2's
    // entry is there on reopen, and its apply removes it.
    store.stage_private(2, &staged).unwrap();
    drop(store);
    let mut store = StateStore::open(dir.path()).unwrap();
    assert_eq!(store.staged_private(1).unwrap(), vec![]);
    assert_eq!(store.staged_private(2).unwrap(), staged);
    apply(&mut store, &batch(2, 0));
    assert_eq!(store.staged_private(2).unwrap(), vec![]);
    drop(store);
    assert!(raw_keys(dir.path(), b'q').is_empty());
}

#[test]
fn damaged_staged_and_index_entries_are_reported_as_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut store = StateStore::open(dir.path()).unwrap();
        store
            .apply(
                &batch(0, 1),
                commit_hash(0),
                &[private_write("a", Some(b"1"), v(0, 0), 0)],
            )
            .unwrap();
        store
            .stage_private(1, &[private_write("b", Some(b"2"), v(1, 0), 0)])
            .unwrap();
    }
    {
        let db = open_sled(dir.path()).unwrap();
        let staged = raw_keys_in(&db, b'q');
        assert_eq!(staged.len(), 1);
        let bytes = db.get(&staged[0]).unwrap().unwrap();
        db.insert(&staged[0], &bytes[..bytes.len() - 1]).unwrap();
        // The index entry of "a" names another key.
        let index = raw_keys_in(&db, b'k');
        assert_eq!(index.len(), 1);
        db.insert(&index[0], b"b").unwrap();
        db.flush().unwrap();
    }
    let store = StateStore::open(dir.path()).unwrap();
    let err = store.staged_private(1).unwrap_err();
    assert!(matches!(err, StateStoreError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("staged for block 1"), "{err}");
    let err = store
        .get_private_by_hash(NS, "coll", &sha256(b"a"))
        .unwrap_err();
    assert!(matches!(err, StateStoreError::Corrupt { .. }), "{err}");
}

fn raw_keys_in(db: &sled::Db, tag: u8) -> Vec<Vec<u8>> {
    db.scan_prefix([tag])
        .map(|e| e.unwrap().0.to_vec())
        .collect()
}

#[test]
fn a_format_1_store_gets_its_key_hash_index_on_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut store = StateStore::open(dir.path()).unwrap();
        let writes = [
            private_write("a", Some(b"1"), v(0, 0), 0),
            private_write("b", Some(b"2"), v(0, 0), 5),
        ];
        store.apply(&batch(0, 1), commit_hash(0), &writes).unwrap();
    }
    // Make it what format 1 wrote: no index entries.
    {
        let db = open_sled(dir.path()).unwrap();
        for k in raw_keys_in(&db, b'k') {
            db.remove(k).unwrap();
        }
        db.insert("#format", &1u32.to_be_bytes()).unwrap();
        db.flush().unwrap();
    }
    let store = StateStore::open(dir.path()).unwrap();
    assert_eq!(
        store
            .get_private_by_hash(NS, "coll", &sha256(b"b"))
            .unwrap(),
        Some(("b".to_string(), b"2".to_vec(), v(0, 0)))
    );
    assert_eq!(store.savepoint(), (1, Some(commit_hash(0))));
    drop(store);
    let db = open_sled(dir.path()).unwrap();
    assert_eq!(
        db.get("#format").unwrap().unwrap().as_ref(),
        &2u32.to_be_bytes()
    );
    assert_eq!(raw_keys_in(&db, b'k').len(), 2);
}
