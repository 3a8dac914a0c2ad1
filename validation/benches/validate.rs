//! validate_block over a block of 500 endorser transactions, each endorsed by
//! two organisations (AND policy) with a 100-byte blind write to its own key:
//! three signature verifications per transaction (creator + 2 endorsers).
//!
//! `cargo bench -p cellchain-validation --bench validate -- --measurement-time 5 --warm-up-time 1`
//!
//! The `mvcc` group isolates the MVCC check (rule 17): the same 500
//! transactions, each also reading 8 committed keys at their current version,
//! against the write-only block; the difference is the cost of the reads' checks.

#[path = "../tests/support/mod.rs"]
mod support;

use cellchain_core::bytes::Hash32;
use cellchain_core::protocol::{Block, TxValidationCode};
use cellchain_validation::validate_block;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use support::*;

const TXS: usize = 500;

fn bench(c: &mut Criterion) {
    let net = Net::new();
    let state = MemState::at(10);
    let defs = MemDefinitions::standard();
    let envelopes = (0..TXS)
        .map(|i| {
            net.tx(write(&format!("key{i:05}"), &[0xAB; 100]))
                .envelope()
        })
        .collect();
    let block = Block::new(10, Hash32::ZERO, envelopes, 0);
    let mut g = c.benchmark_group("validate_block");
    g.throughput(Throughput::Elements(TXS as u64));
    g.sample_size(10);
    for workers in [1usize, 2] {
        let out = validate_block(
            &block,
            &net.channel,
            &net.msps,
            &state,
            &defs,
            provider(),
            workers,
        )
        .unwrap();
        assert!(out.codes.iter().all(|c| *c == TxValidationCode::Valid));
        g.bench_with_input(
            BenchmarkId::new("500tx_2endorsements", workers),
            &workers,
            |b, &w| {
                b.iter(|| {
                    validate_block(
                        &block,
                        &net.channel,
                        &net.msps,
                        &state,
                        &defs,
                        provider(),
                        w,
                    )
                    .unwrap()
                })
            },
        );
    }
    g.finish();
}

const READS: usize = 8;

fn bench_mvcc(c: &mut Criterion) {
    let net = Net::new();
    let mut state = MemState::at(10);
    for i in 0..TXS * READS {
        state.put(CC, &format!("read{i:06}"), v(3, (i % 500) as u32));
    }
    let defs = MemDefinitions::standard();
    let block_of = |reads: usize| {
        let envelopes = (0..TXS)
            .map(|i| {
                let mut rw = write(&format!("key{i:05}"), &[0xAB; 100]);
                for r in 0..reads {
                    let k = i * READS + r;
                    rw.ns_rwsets[0].reads.push(kv_read(
                        &format!("read{k:06}"),
                        Some(v(3, (k % 500) as u32)),
                    ));
                }
                net.tx(rw).envelope()
            })
            .collect();
        Block::new(10, Hash32::ZERO, envelopes, 0)
    };
    let mut g = c.benchmark_group("mvcc");
    g.throughput(Throughput::Elements(TXS as u64));
    g.sample_size(10);
    for reads in [0usize, READS] {
        let block = block_of(reads);
        let out = validate_block(
            &block,
            &net.channel,
            &net.msps,
            &state,
            &defs,
            provider(),
            2,
        )
        .unwrap();
        assert!(out.codes.iter().all(|c| *c == TxValidationCode::Valid));
        g.bench_with_input(
            BenchmarkId::new("500tx_reads_per_tx", reads),
            &block,
            |b, block| {
                b.iter(|| {
                    validate_block(block, &net.channel, &net.msps, &state, &defs, provider(), 2)
                        .unwrap()
                })
            },
        );
    }
    g.finish();
}

criterion_group!(benches, bench, bench_mvcc);
criterion_main!(benches);
