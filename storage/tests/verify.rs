//! `verify_ledger`: offline re-check of a block directory from its genesis block.

mod common;

use std::path::Path;

use cellchain_core::config::GenesisError;
use cellchain_core::crypto::RingProvider;
use cellchain_core::identity::IdentityError;
use cellchain_core::protocol::Block;
use cellchain_core::Hash32;
use cellchain_storage::{
    verify_ledger, BlockStore, FileBlockStore, StoreError, StoreOptions, VerifyError,
};
use common::*;

/// Appends `blocks` through the store (which checks the chain, not signatures).
fn store(dir: &Path, blocks: &[Block]) {
    let (mut store, _) = FileBlockStore::open(dir, StoreOptions::default()).unwrap();
    for b in blocks {
        store.append(b).unwrap();
    }
}

fn verify(dir: &Path) -> Result<cellchain_storage::VerifyReport, VerifyError> {
    verify_ledger(dir, &RingProvider)
}

#[test]
fn a_chain_signed_by_a_consenter_verifies() {
    let ch = Channel::new();
    let tmp = tempfile::tempdir().unwrap();
    let mut blocks = ch.signed_chain(4);
    // Either consenter may sign; one good signature among bad ones is enough.
    blocks.push(ch.block_at(&blocks[4], NOW + 20_000, &[&ch.o3, &ch.o2]));
    store(tmp.path(), &blocks);

    let report = verify(tmp.path()).unwrap();
    assert_eq!(report.blocks, 6);
    assert_eq!(report.transactions, 1 + 5 * 2);
    assert_eq!(report.last_hash, blocks[5].hash());
    assert_eq!(report.channel, "ch");
}

#[test]
fn verification_spans_segments_and_changes_nothing() {
    let ch = Channel::new();
    let tmp = tempfile::tempdir().unwrap();
    let blocks = ch.signed_chain(3);
    let (mut s, _) = FileBlockStore::open(tmp.path(), StoreOptions { segment_size: 1 }).unwrap();
    for b in &blocks {
        s.append(b).unwrap();
    }
    let seg = segment(tmp.path(), 3);
    append_bytes(&seg, b"torn");
    let before = file_len(&seg);
    let e = verify(tmp.path()).unwrap_err();
    assert!(
        matches!(&e, VerifyError::TornTail(t) if t.number == 4 && t.file == seg && t.bytes == 4),
        "{e}"
    );
    assert_eq!(file_len(&seg), before, "verification repairs nothing");
    // The node's own open cuts the torn record; then the ledger verifies.
    FileBlockStore::open(tmp.path(), StoreOptions::default()).unwrap();
    assert_eq!(verify(tmp.path()).unwrap().blocks, 4);
}

#[test]
fn a_flipped_byte_in_a_block_file_fails_naming_the_block() {
    let ch = Channel::new();
    let tmp = tempfile::tempdir().unwrap();
    store(tmp.path(), &ch.signed_chain(4));
    let seg = segment(tmp.path(), 0);
    let rec = records(&seg)[2];
    flip_byte(&seg, rec.offset + 20 + rec.len as u64 / 3);
    let e = verify(tmp.path()).unwrap_err();
    assert!(
        matches!(&e, VerifyError::Store(StoreError::BadCrc { number: 2, offset, .. }) if *offset == rec.offset),
        "{e}"
    );
    assert_eq!(e.block(), Some(2));
}

#[test]
fn a_block_signed_by_a_non_consenter_fails() {
    let ch = Channel::new();
    let tmp = tempfile::tempdir().unwrap();
    let mut blocks = ch.signed_chain(2);
    // o3 is a valid orderer of a member organisation, but not a consenter.
    blocks.push(ch.block_at(&blocks[2], NOW + 10_000, &[&ch.o3]));
    store(tmp.path(), &blocks);
    let e = verify(tmp.path()).unwrap_err();
    assert!(
        matches!(&e, VerifyError::NotConsenter { number: 3, signer } if signer.contains("o3")),
        "{e}"
    );
}

#[test]
fn a_block_signed_by_a_client_fails() {
    let ch = Channel::new();
    let tmp = tempfile::tempdir().unwrap();
    let mut blocks = ch.signed_chain(1);
    blocks.push(ch.block_at(&blocks[1], NOW + 10_000, &[&ch.nurse]));
    store(tmp.path(), &blocks);
    let e = verify(tmp.path()).unwrap_err();
    assert!(
        matches!(e, VerifyError::NotConsenter { number: 2, .. }),
        "{e}"
    );
}

#[test]
fn a_block_with_no_signature_fails() {
    let ch = Channel::new();
    let tmp = tempfile::tempdir().unwrap();
    let mut blocks = ch.signed_chain(2);
    blocks.push(ch.block_at(&blocks[2], NOW + 10_000, &[]));
    blocks.push(ch.block_at(&blocks[3], NOW + 10_000, &[&ch.o1]));
    store(tmp.path(), &blocks);
    assert_eq!(
        verify(tmp.path()).unwrap_err(),
        VerifyError::NoSignature { number: 3 }
    );
}

#[test]
fn a_consenter_signature_over_another_block_fails() {
    let ch = Channel::new();
    let tmp = tempfile::tempdir().unwrap();
    let mut blocks = ch.signed_chain(2);
    let other = ch.block_at(&blocks[2], NOW + 10_000, &[&ch.o1]);
    let mut forged = ch.block_at(&blocks[2], NOW + 10_001, &[]);
    forged.metadata.signatures = other.metadata.signatures.clone();
    blocks.push(forged);
    store(tmp.path(), &blocks);
    let e = verify(tmp.path()).unwrap_err();
    assert!(
        matches!(&e, VerifyError::BadSignature { number: 3, signer } if signer.contains("o1")),
        "{e}"
    );
}

#[test]
fn a_broken_link_fails_naming_the_block() {
    let ch = Channel::new();
    let tmp = tempfile::tempdir().unwrap();
    let blocks = ch.signed_chain(3);
    store(tmp.path(), &blocks[..3]);
    // Block 3 written past the store's checks, linked to block 1 and properly signed.
    let mut bad = ch.block_at(&blocks[1], NOW + 10_000, &[]);
    bad.header.number = 3;
    bad.sign(ch.o1.id.clone(), ch.o1.signer.as_ref()).unwrap();
    write_raw(&segment(tmp.path(), 0), &bad);
    assert_eq!(
        verify(tmp.path()).unwrap_err(),
        VerifyError::BrokenChain {
            number: 3,
            expected: blocks[2].hash(),
            found: blocks[1].hash(),
        }
    );
}

#[test]
fn a_bad_data_hash_fails_naming_the_block() {
    let ch = Channel::new();
    let tmp = tempfile::tempdir().unwrap();
    let mut blocks = ch.signed_chain(2);
    // The orderer signed the header; an envelope was swapped afterwards.
    blocks[2].data.envelopes[1] = ch.tx(NOW, 99);
    store(tmp.path(), &blocks[..2]);
    write_raw(&segment(tmp.path(), 0), &blocks[2]);
    let e = verify(tmp.path()).unwrap_err();
    assert!(
        matches!(e, VerifyError::BadDataHash { number: 2, found, .. } if found == blocks[2].header.data_hash),
        "{e}"
    );
}

#[test]
fn consenter_certificates_are_judged_at_the_block_time() {
    let ch = Channel::new();
    let tmp = tempfile::tempdir().unwrap();
    let mut blocks = ch.signed_chain(1);
    // o1's certificate had expired when these transactions were made: o2 may still
    // sign such a block, o1 may not.
    blocks.push(ch.block_at(&blocks[1], O1_NOT_AFTER + 1, &[&ch.o2]));
    blocks.push(ch.block_at(&blocks[2], O1_NOT_AFTER + 1, &[&ch.o1]));
    store(tmp.path(), &blocks);
    let e = verify(tmp.path()).unwrap_err();
    assert!(
        matches!(
            &e,
            VerifyError::BadSigner {
                number: 3,
                reason: IdentityError::Expired { .. },
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn a_block_naming_a_later_configuration_is_refused() {
    let ch = Channel::new();
    let tmp = tempfile::tempdir().unwrap();
    let mut blocks = ch.signed_chain(1);
    let mut b = ch.block_at(&blocks[1], NOW + 10_000, &[]);
    b.metadata.last_config = 1;
    b.sign(ch.o1.id.clone(), ch.o1.signer.as_ref()).unwrap();
    blocks.push(b);
    store(tmp.path(), &blocks);
    assert_eq!(
        verify(tmp.path()).unwrap_err(),
        VerifyError::UnsupportedLastConfig {
            number: 2,
            last_config: 1
        }
    );
}

#[test]
fn block_zero_must_be_a_valid_genesis_block() {
    let tmp = tempfile::tempdir().unwrap();
    store(tmp.path(), &chain(2, 1));
    let e = verify(tmp.path()).unwrap_err();
    assert!(
        matches!(
            e,
            VerifyError::Genesis(
                GenesisError::EnvelopeCount { count: 1 } | GenesisError::Protocol(_)
            )
        ),
        "{e}"
    );
    assert_eq!(e.block(), Some(0));
}

#[test]
fn an_empty_directory_fails() {
    let tmp = tempfile::tempdir().unwrap();
    assert_eq!(
        verify(tmp.path()).unwrap_err(),
        VerifyError::Empty {
            dir: tmp.path().to_path_buf()
        }
    );
    let missing = tmp.path().join("nope");
    assert!(matches!(
        verify(&missing).unwrap_err(),
        VerifyError::Store(StoreError::Io { .. })
    ));
    let _ = Hash32::ZERO;
}
