//! The block store's costs that shape the orderer: appending a block (fsync
//! included) and opening a store (the scan that rebuilds the index).
//!
//! cargo bench -p cellchain-storage -- --warm-up-time 1 --measurement-time 3
//!
//! Stores live under the target directory (not /tmp, which may be a tmpfs where
//! fsync costs nothing). The open benches run with the files in the page cache.

use std::hint::black_box;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use cellchain_core::protocol::{encode, Block, Envelope};
use cellchain_core::{Bytes, Hash32};
use cellchain_storage::{BlockStore, FileBlockStore, StoreOptions};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};

/// A small envelope: about the size of a minimal transaction without certificates.
fn envelope(block: u64, i: u64) -> Envelope {
    let mut payload = format!("{{\"block\":{block},\"tx\":{i},\"data\":\"").into_bytes();
    payload.resize(200, b'x');
    payload.extend_from_slice(b"\"}");
    Envelope {
        payload: Bytes(payload),
        signature: Bytes(vec![0x30; 71]),
    }
}

fn block_after(prev: Option<&Block>, envelopes: u64) -> Block {
    let (number, previous) = prev.map_or((0, Hash32::ZERO), |p| (p.header.number + 1, p.hash()));
    Block::new(
        number,
        previous,
        (0..envelopes).map(|i| envelope(number, i)).collect(),
        0,
    )
}

fn tmp_dir() -> tempfile::TempDir {
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap()
}

fn fill(dir: &Path, blocks: u64, envelopes: u64) {
    let (mut store, _) = FileBlockStore::open(dir, StoreOptions::default()).unwrap();
    let mut prev: Option<Block> = None;
    for _ in 0..blocks {
        let b = block_after(prev.as_ref(), envelopes);
        store.append(&b).unwrap();
        prev = Some(b);
    }
}

fn bench_append(c: &mut Criterion) {
    let sample = block_after(None, 500);
    eprintln!(
        "block of 500 envelopes: {} bytes of JSON",
        encode(&sample).len()
    );
    let mut g = c.benchmark_group("append");
    g.sample_size(20);

    let tmp = tmp_dir();
    let (mut store, _) = FileBlockStore::open(tmp.path(), StoreOptions::default()).unwrap();
    let mut prev: Option<Block> = None;
    // Only `append` is timed: the block is built outside the clock.
    g.bench_function("block_500_envelopes_fsync", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let block = block_after(prev.as_ref(), 500);
                let start = Instant::now();
                store.append(&block).unwrap();
                total += start.elapsed();
                prev = Some(block);
            }
            total
        })
    });
    drop(store);

    // The CPU part of that append, to tell it from the disk.
    g.bench_function("cpu_only_500_envelopes_data_hash_json_crc", |b| {
        b.iter(|| {
            let root = Block::data_hash_of(&sample.data.envelopes);
            let bytes = encode(&sample);
            black_box((root, crc32fast::hash(&bytes)))
        })
    });

    // The disk alone: one write of that size plus fdatasync, and of a small record.
    let size = encode(&sample).len();
    for (name, len) in [
        ("write_fdatasync_4KiB", 4096),
        ("write_fdatasync_block", size),
    ] {
        let tmp = tmp_dir();
        let mut f = std::fs::File::create(tmp.path().join("raw")).unwrap();
        let buf = vec![0x5a; len];
        g.bench_function(name, |b| {
            b.iter(|| {
                f.write_all(&buf).unwrap();
                f.sync_data().unwrap();
            })
        });
    }
    g.finish();
}

fn bench_open(c: &mut Criterion) {
    let mut g = c.benchmark_group("open");
    g.sample_size(10);
    for (name, blocks, envelopes) in [
        ("1000_blocks_500_envelopes", 1_000, 500),
        ("10000_blocks_10_envelopes", 10_000, 10),
    ] {
        let tmp = tmp_dir();
        let start = Instant::now();
        fill(tmp.path(), blocks, envelopes);
        eprintln!(
            "filled {name} in {:.1?}; {} segment(s)",
            start.elapsed(),
            FileBlockStore::open(tmp.path(), StoreOptions::default())
                .unwrap()
                .1
                .segments
        );
        g.bench_function(name, |b| {
            b.iter_batched(
                || (),
                |()| {
                    let (store, report) =
                        FileBlockStore::open(tmp.path(), StoreOptions::default()).unwrap();
                    assert_eq!(report.blocks, blocks);
                    store
                },
                // Dropping the store (closing its file) is not part of opening it.
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, bench_append, bench_open);
criterion_main!(benches);
