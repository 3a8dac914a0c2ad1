//! The state store's costs that shape the committer: applying one block's updates
//! (flush included) and the reads validation makes.
//!
//! cargo bench -p cellchain-storage --bench state -- --warm-up-time 1 --measurement-time 3
//!
//! Stores live under the target directory (not /tmp, which may be a tmpfs where
//! fsync costs nothing).

use std::hint::black_box;
use std::time::{Duration, Instant};

use cellchain_core::bytes::sha256;
use cellchain_core::protocol::{TxId, TxValidationCode, Version};
use cellchain_storage::StateStore;
use cellchain_validation::{CommittedState, StateWrite, TxOutcome, UpdateBatch};
use criterion::{criterion_group, criterion_main, Criterion};

const NS: &str = "asset";
const KEYS: u64 = 10_000;

/// Block `block` of `txs` transactions, each writing one 200-byte value to one of
/// `KEYS` keys.
fn batch(block: u64, txs: u32) -> UpdateBatch {
    let mut b = UpdateBatch {
        block,
        ..UpdateBatch::default()
    };
    for tx in 0..txs {
        let tx_id = TxId(sha256(format!("{block}/{tx}").as_bytes()));
        b.transactions.push(TxOutcome {
            tx_id,
            index: tx,
            code: TxValidationCode::Valid,
        });
        let key = (block * u64::from(txs) + u64::from(tx)) % KEYS;
        b.writes.push(StateWrite {
            namespace: NS.into(),
            key: format!("key{key:06}"),
            value: Some(vec![0x5a; 200]),
            version: Version { block, tx },
        });
    }
    b
}

fn bench_state(c: &mut Criterion) {
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let mut store = StateStore::open(tmp.path()).unwrap();
    // Fill every key once so reads and overwrites meet a populated tree.
    while store.savepoint().0 * 500 < KEYS {
        let next = store.savepoint().0;
        store.apply(&batch(next, 500), sha256(b"c"), &[]).unwrap();
    }
    let mut g = c.benchmark_group("state");
    g.sample_size(20);
    // Only `apply` is timed: the batch is built outside the clock.
    g.bench_function("apply_block_500_writes_flush", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let updates = batch(store.savepoint().0, 500);
                let start = Instant::now();
                store.apply(&updates, sha256(b"c"), &[]).unwrap();
                total += start.elapsed();
            }
            total
        })
    });
    g.bench_function("version", |b| {
        let mut i = 0u64;
        b.iter(|| {
            i = (i + 7919) % KEYS;
            black_box(store.version(NS, &format!("key{i:06}")).unwrap())
        })
    });
    g.bench_function("range_100_keys", |b| {
        b.iter(|| black_box(CommittedState::range(&*store, NS, "key005000", "", 100).unwrap()))
    });
    g.finish();
}

criterion_group!(benches, bench_state);
criterion_main!(benches);
