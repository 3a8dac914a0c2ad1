//! The block store's contract: what it keeps, in which order, and what it refuses.

mod common;

use cellchain_core::Hash32;
use cellchain_storage::{BlockStore, FileBlockStore, MemBlockStore, StoreError, StoreOptions};
use common::*;

fn open(dir: &std::path::Path) -> FileBlockStore {
    FileBlockStore::open(dir, StoreOptions::default())
        .unwrap()
        .0
}

#[test]
fn empty_store_has_no_blocks() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ledger/ch");
    let (store, report) = FileBlockStore::open(&dir, StoreOptions::default()).unwrap();
    assert_eq!(store.height(), 0);
    assert_eq!(store.last_hash(), None);
    assert_eq!(store.get(0).unwrap(), None);
    assert_eq!(store.iter_from(0).count(), 0);
    assert_eq!(report.blocks, 0);
    assert_eq!(report.segments, 1);
    assert_eq!(report.truncated_bytes(), 0);
    assert_eq!(store.segments(), [segment(&dir, 0)]);
}

#[test]
fn appended_blocks_read_back_and_survive_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    let blocks = chain(5, 3);
    {
        let mut store = open(tmp.path());
        for b in &blocks {
            store.append(b).unwrap();
        }
        assert_eq!(store.height(), 5);
        assert_eq!(store.last_hash(), Some(blocks[4].hash()));
        for b in &blocks {
            assert_eq!(store.get(b.header.number).unwrap().as_ref(), Some(b));
        }
        assert_eq!(store.get(5).unwrap(), None);
        assert_eq!(store.get(u64::MAX).unwrap(), None);
    }
    let (mut store, report) = FileBlockStore::open(tmp.path(), StoreOptions::default()).unwrap();
    assert_eq!(report.blocks, 5);
    assert_eq!(report.truncated, None);
    assert_eq!(store.height(), 5);
    assert_eq!(store.last_hash(), Some(blocks[4].hash()));
    let tail: Vec<_> = store.iter_from(2).map(Result::unwrap).collect();
    assert_eq!(tail, blocks[2..]);
    assert_eq!(store.iter_from(5).count(), 0);

    // Appending continues where the previous process stopped.
    let next = next_block(blocks.last(), 1);
    store.append(&next).unwrap();
    assert_eq!(open(tmp.path()).get(5).unwrap(), Some(next));
}

#[test]
fn refuses_a_block_with_the_wrong_number() {
    let tmp = tempfile::tempdir().unwrap();
    let blocks = chain(3, 1);
    let mut store = open(tmp.path());
    assert_eq!(
        store.append(&blocks[1]),
        Err(StoreError::NotNext {
            expected: 0,
            got: 1
        })
    );
    store.append(&blocks[0]).unwrap();
    assert_eq!(
        store.append(&blocks[2]),
        Err(StoreError::NotNext {
            expected: 1,
            got: 2
        })
    );
    assert_eq!(
        store.append(&blocks[0]),
        Err(StoreError::NotNext {
            expected: 1,
            got: 0
        })
    );
    assert_eq!(store.height(), 1);
}

#[test]
fn refuses_a_block_that_does_not_chain() {
    let tmp = tempfile::tempdir().unwrap();
    let blocks = chain(2, 1);
    let mut store = open(tmp.path());

    let mut first = blocks[0].clone();
    first.header.previous_hash = Hash32([7; 32]);
    assert_eq!(
        store.append(&first),
        Err(StoreError::BrokenChain {
            number: 0,
            expected: Hash32::ZERO,
            found: Hash32([7; 32]),
        })
    );

    store.append(&blocks[0]).unwrap();
    let mut second = blocks[1].clone();
    second.header.previous_hash = Hash32([9; 32]);
    assert_eq!(
        store.append(&second),
        Err(StoreError::BrokenChain {
            number: 1,
            expected: blocks[0].hash(),
            found: Hash32([9; 32]),
        })
    );
    assert_eq!(store.last_hash(), Some(blocks[0].hash()));
}

#[test]
fn refuses_a_block_whose_data_hash_is_not_the_merkle_root() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = open(tmp.path());
    let mut block = chain(1, 3).remove(0);
    let signed_root = block.header.data_hash;
    block.data.envelopes[1].payload.0.push(b' ');
    let e = store.append(&block).unwrap_err();
    assert!(
        matches!(e, StoreError::BadDataHash { number: 0, found, .. } if found == signed_root),
        "{e}"
    );
    assert_eq!(store.height(), 0);
}

#[test]
fn refused_appends_write_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let blocks = chain(2, 2);
    let mut store = open(tmp.path());
    store.append(&blocks[0]).unwrap();
    let len = file_len(&segment(tmp.path(), 0));
    let mut bad = blocks[1].clone();
    bad.header.previous_hash = Hash32::ZERO;
    store.append(&bad).unwrap_err();
    store.append(&blocks[0]).unwrap_err();
    assert_eq!(file_len(&segment(tmp.path(), 0)), len);
    drop(store);
    assert_eq!(open(tmp.path()).height(), 1);
}

#[test]
fn segments_roll_over_at_the_configured_size() {
    let tmp = tempfile::tempdir().unwrap();
    let blocks = chain(7, 2);
    // Room for two records of these blocks per segment, not three.
    let record = 20 + cellchain_core::protocol::encode(&blocks[3]).len() as u64;
    let options = StoreOptions {
        segment_size: record * 5 / 2,
    };
    {
        let (mut store, _) = FileBlockStore::open(tmp.path(), options.clone()).unwrap();
        for b in &blocks {
            store.append(b).unwrap();
        }
        assert_eq!(store.segments().len(), 4);
    }
    let numbers: Vec<Vec<u64>> = (0..4)
        .map(|id| {
            records(&segment(tmp.path(), id))
                .iter()
                .map(|r| r.number)
                .collect()
        })
        .collect();
    assert_eq!(numbers, [vec![0, 1], vec![2, 3], vec![4, 5], vec![6]]);

    let (store, report) = FileBlockStore::open(tmp.path(), options).unwrap();
    assert_eq!((report.blocks, report.segments), (7, 4));
    let all: Vec<_> = store.iter_from(0).map(Result::unwrap).collect();
    assert_eq!(all, blocks);
    assert_eq!(store.get(3).unwrap().as_ref(), Some(&blocks[3]));
    assert_eq!(store.last_hash(), Some(blocks[6].hash()));
}

#[test]
fn a_block_larger_than_a_segment_gets_a_segment_of_its_own() {
    let tmp = tempfile::tempdir().unwrap();
    let blocks = chain(3, 4);
    let options = StoreOptions { segment_size: 1 };
    let (mut store, _) = FileBlockStore::open(tmp.path(), options.clone()).unwrap();
    for b in &blocks {
        store.append(b).unwrap();
    }
    assert_eq!(store.segments().len(), 3);
    drop(store);
    let (store, _) = FileBlockStore::open(tmp.path(), options).unwrap();
    assert_eq!(store.get(2).unwrap().as_ref(), Some(&blocks[2]));
}

#[test]
fn reopening_with_another_segment_size_keeps_the_existing_segments() {
    let tmp = tempfile::tempdir().unwrap();
    let blocks = chain(4, 1);
    let (mut store, _) =
        FileBlockStore::open(tmp.path(), StoreOptions { segment_size: 1 }).unwrap();
    store.append(&blocks[0]).unwrap();
    store.append(&blocks[1]).unwrap();
    drop(store);
    let mut store = open(tmp.path());
    store.append(&blocks[2]).unwrap();
    store.append(&blocks[3]).unwrap();
    // The large default fills the last existing segment instead of starting a new one.
    assert_eq!(store.segments().len(), 2);
    assert_eq!(
        store.iter_from(0).map(Result::unwrap).collect::<Vec<_>>(),
        blocks
    );
}

#[test]
fn memory_store_applies_the_same_rules() {
    let blocks = chain(3, 2);
    let mut mem = MemBlockStore::new();
    assert_eq!(mem.last_hash(), None);
    assert_eq!(
        mem.append(&blocks[1]),
        Err(StoreError::NotNext {
            expected: 0,
            got: 1
        })
    );
    for b in &blocks {
        mem.append(b).unwrap();
    }
    let mut broken = next_block(blocks.last(), 1);
    broken.header.previous_hash = Hash32::ZERO;
    assert!(matches!(
        mem.append(&broken),
        Err(StoreError::BrokenChain { number: 3, .. })
    ));
    assert_eq!(mem.height(), 3);
    assert_eq!(mem.last_hash(), Some(blocks[2].hash()));
    assert_eq!(mem.get(1).unwrap().as_ref(), Some(&blocks[1]));
    assert_eq!(mem.get(3).unwrap(), None);
    let tail: Vec<_> = mem.iter_from(1).map(Result::unwrap).collect();
    assert_eq!(tail, blocks[1..]);
}

#[test]
fn consumers_can_hold_the_store_as_a_trait_object() {
    let tmp = tempfile::tempdir().unwrap();
    let mut stores: Vec<Box<dyn BlockStore>> =
        vec![Box::new(open(tmp.path())), Box::new(MemBlockStore::new())];
    for store in &mut stores {
        for b in chain(2, 1) {
            store.append(&b).unwrap();
        }
        assert_eq!(store.height(), 2);
    }
}
