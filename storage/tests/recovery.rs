//! Crash recovery on open: a torn last record is cut away; any other damage stops
//! the open and names the block, and is never skipped.

mod common;

use std::path::Path;

use cellchain_core::protocol::Block;
use cellchain_storage::{BlockStore, FileBlockStore, OpenReport, StoreError, StoreOptions};
use common::*;

/// A store of `n` blocks (two envelopes each) in `dir`, closed again.
fn store_of(dir: &Path, n: u64, options: StoreOptions) -> Vec<Block> {
    let blocks = chain(n, 2);
    let (mut store, _) = FileBlockStore::open(dir, options).unwrap();
    for b in &blocks {
        store.append(b).unwrap();
    }
    blocks
}

fn reopen(dir: &Path) -> Result<(FileBlockStore, OpenReport), StoreError> {
    FileBlockStore::open(dir, StoreOptions::default())
}

/// After recovery the earlier blocks are intact and the store takes the lost block again.
fn assert_recovered(dir: &Path, blocks: &[Block], kept: usize) {
    let (mut store, _) = reopen(dir).unwrap();
    assert_eq!(store.height(), kept as u64);
    let all: Vec<_> = store.iter_from(0).map(Result::unwrap).collect();
    assert_eq!(all, blocks[..kept]);
    assert_eq!(store.last_hash(), Some(blocks[kept - 1].hash()));
    store
        .append(&next_block(Some(&blocks[kept - 1]), 2))
        .unwrap();
    drop(store);
    let (store, report) = reopen(dir).unwrap();
    assert_eq!(report.truncated, None);
    assert_eq!(store.height(), kept as u64 + 1);
}

#[test]
fn torn_tail_cut_mid_record_is_truncated_on_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    let blocks = store_of(tmp.path(), 3, StoreOptions::default());
    let seg = segment(tmp.path(), 0);
    let last = records(&seg)[2];
    let full = file_len(&seg);
    truncate(&seg, last.offset + 20 + last.len as u64 / 2);

    let (store, report) = reopen(tmp.path()).unwrap();
    let torn = report.truncated.clone().expect("a torn tail");
    assert_eq!((torn.number, torn.offset), (2, last.offset));
    assert_eq!(torn.file, seg);
    assert_eq!(report.blocks, 2);
    assert_eq!(report.truncated_bytes(), 20 + last.len as u64 / 2);
    assert!(full > last.offset + report.truncated_bytes());
    assert_eq!(
        file_len(&seg),
        last.offset,
        "the torn bytes are gone from disk"
    );
    drop(store);
    assert_recovered(tmp.path(), &blocks, 2);
}

#[test]
fn torn_tail_inside_the_record_header_is_truncated() {
    let tmp = tempfile::tempdir().unwrap();
    let blocks = store_of(tmp.path(), 3, StoreOptions::default());
    let seg = segment(tmp.path(), 0);
    let last = records(&seg)[2];
    truncate(&seg, last.offset + 7);
    let (_, report) = reopen(tmp.path()).unwrap();
    assert_eq!(report.truncated_bytes(), 7);
    assert_recovered(tmp.path(), &blocks, 2);
}

#[test]
fn garbage_appended_after_the_last_block_is_truncated() {
    let tmp = tempfile::tempdir().unwrap();
    let blocks = store_of(tmp.path(), 3, StoreOptions::default());
    let seg = segment(tmp.path(), 0);
    let len = file_len(&seg);
    append_bytes(
        &seg,
        b"\x13\x37 this is not a record, just noise left by a crash",
    );
    let (_, report) = reopen(tmp.path()).unwrap();
    let torn = report.truncated.unwrap();
    assert_eq!((torn.number, torn.offset), (3, len));
    assert_eq!(file_len(&seg), len);
    assert_recovered(tmp.path(), &blocks, 3);
}

#[test]
fn zero_filled_tail_is_truncated() {
    // After a crash some filesystems show the new file size with the data blocks
    // never written: zeros where the record should be.
    let tmp = tempfile::tempdir().unwrap();
    let blocks = store_of(tmp.path(), 2, StoreOptions::default());
    let seg = segment(tmp.path(), 0);
    append_bytes(&seg, &[0u8; 4096]);
    let (_, report) = reopen(tmp.path()).unwrap();
    assert_eq!(report.truncated_bytes(), 4096);
    assert_recovered(tmp.path(), &blocks, 2);
}

#[test]
fn bad_crc_in_the_last_record_is_a_torn_tail() {
    // A record whose size reached the disk but not all of its bytes cannot be told
    // from one damaged later: the last record is never trusted without its CRC.
    let tmp = tempfile::tempdir().unwrap();
    let blocks = store_of(tmp.path(), 3, StoreOptions::default());
    let seg = segment(tmp.path(), 0);
    let last = records(&seg)[2];
    flip_byte(&seg, last.offset + 20 + 5);
    let (_, report) = reopen(tmp.path()).unwrap();
    let torn = report.truncated.unwrap();
    assert!(torn.reason.contains("CRC"), "{}", torn.reason);
    assert_recovered(tmp.path(), &blocks, 2);
}

#[test]
fn flipped_byte_in_a_middle_block_is_an_error_naming_the_block() {
    let tmp = tempfile::tempdir().unwrap();
    store_of(tmp.path(), 4, StoreOptions::default());
    let seg = segment(tmp.path(), 0);
    let rec = records(&seg)[1];
    let len = file_len(&seg);
    flip_byte(&seg, rec.offset + 20 + rec.len as u64 / 2);

    let e = reopen(tmp.path()).unwrap_err();
    assert!(
        matches!(&e, StoreError::BadCrc { number: 1, file, offset, .. }
            if *file == seg && *offset == rec.offset),
        "{e}"
    );
    assert_eq!(e.block(), Some(1));
    assert!(e.to_string().contains("block 1"), "{e}");
    assert_eq!(
        file_len(&seg),
        len,
        "nothing is cut when the damage is not at the tail"
    );
}

#[test]
fn damaged_record_header_in_the_middle_is_an_error_naming_the_block() {
    let tmp = tempfile::tempdir().unwrap();
    store_of(tmp.path(), 4, StoreOptions::default());
    let seg = segment(tmp.path(), 0);
    let recs = records(&seg);

    flip_byte(&seg, recs[2].offset); // the magic
    let e = reopen(tmp.path()).unwrap_err();
    assert!(
        matches!(e, StoreError::BadMagic { number: 2, offset, .. } if offset == recs[2].offset),
        "{e}"
    );
    flip_byte(&seg, recs[2].offset);

    flip_byte(&seg, recs[1].offset + 15); // the length, now one byte off
    let e = reopen(tmp.path()).unwrap_err();
    assert!(matches!(e, StoreError::BadCrc { number: 1, .. }), "{e}");
    flip_byte(&seg, recs[1].offset + 15);

    flip_byte(&seg, recs[1].offset + 12 - 1); // the block number: 1 becomes 0
    let e = reopen(tmp.path()).unwrap_err();
    assert_eq!(
        e,
        StoreError::OutOfSequence {
            file: seg.clone(),
            offset: recs[1].offset,
            expected: 1,
            found: 0
        }
    );
    flip_byte(&seg, recs[1].offset + 12 - 1);
    assert_eq!(reopen(tmp.path()).unwrap().0.height(), 4);
}

#[test]
fn an_intact_record_with_the_wrong_number_at_the_end_is_an_error() {
    // A crash leaves a prefix of the right record, never a whole other one.
    let tmp = tempfile::tempdir().unwrap();
    let blocks = store_of(tmp.path(), 3, StoreOptions::default());
    let seg = segment(tmp.path(), 0);
    let len = file_len(&seg);
    write_raw(&seg, &blocks[1]);
    assert_eq!(
        reopen(tmp.path()).unwrap_err(),
        StoreError::OutOfSequence {
            file: seg,
            offset: len,
            expected: 3,
            found: 1
        }
    );
}

#[test]
fn damage_at_the_end_of_a_sealed_segment_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    store_of(tmp.path(), 4, StoreOptions { segment_size: 1 });
    let seg1 = segment(tmp.path(), 1);
    truncate(&seg1, file_len(&seg1) - 3);
    let e = reopen(tmp.path()).unwrap_err();
    assert!(
        matches!(&e, StoreError::TruncatedRecord { number: 1, file, offset: 0, .. } if *file == seg1),
        "{e}"
    );
}

#[test]
fn torn_tail_in_the_last_of_several_segments_is_truncated() {
    let tmp = tempfile::tempdir().unwrap();
    let blocks = store_of(tmp.path(), 4, StoreOptions { segment_size: 1 });
    let seg3 = segment(tmp.path(), 3);
    truncate(&seg3, 11);
    let (_, report) = reopen(tmp.path()).unwrap();
    assert_eq!(report.truncated.unwrap().file, seg3);
    assert_eq!(report.segments, 4);
    assert_recovered(tmp.path(), &blocks, 3);
}

#[test]
fn a_missing_segment_is_an_error_naming_the_first_lost_block() {
    let tmp = tempfile::tempdir().unwrap();
    store_of(tmp.path(), 4, StoreOptions { segment_size: 1 });
    std::fs::remove_file(segment(tmp.path(), 2)).unwrap();
    assert_eq!(
        reopen(tmp.path()).unwrap_err(),
        StoreError::MissingSegment {
            number: 2,
            file: segment(tmp.path(), 2)
        }
    );
}

#[test]
fn damage_after_open_is_found_on_read() {
    let tmp = tempfile::tempdir().unwrap();
    store_of(tmp.path(), 4, StoreOptions::default());
    let (store, _) = reopen(tmp.path()).unwrap();
    let seg = segment(tmp.path(), 0);
    let rec = records(&seg)[2];
    flip_byte(&seg, rec.offset + 20 + 3);
    assert!(matches!(
        store.get(2),
        Err(StoreError::BadCrc { number: 2, .. })
    ));
    // Iteration yields the intact blocks, then the error, then stops.
    let results: Vec<_> = store.iter_from(0).collect();
    assert_eq!(results.len(), 3);
    assert!(results[..2].iter().all(Result::is_ok));
    assert_eq!(results[2].as_ref().unwrap_err().block(), Some(2));
}

#[test]
fn files_that_are_not_segments_are_left_alone() {
    let tmp = tempfile::tempdir().unwrap();
    store_of(tmp.path(), 2, StoreOptions::default());
    std::fs::write(tmp.path().join("NOTES.txt"), "operator notes").unwrap();
    std::fs::write(tmp.path().join("blocks_1.dat"), "too few digits").unwrap();
    assert_eq!(reopen(tmp.path()).unwrap().0.height(), 2);
}
