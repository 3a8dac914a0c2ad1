//! Orderer throughput and block latency with three orderer processes on loopback.
//!
//! `cargo bench -p cellchain-orderer --bench throughput [-- ENVELOPES]`
//!
//! For each batch setting (max message count 500; batch timeout 100 ms and 2 s),
//! starts a fresh three-node cluster, pre-signs ~1 KB envelopes, and broadcasts
//! them from many concurrent clients (spread over the three orderers) with a
//! bounded number in flight. Reports envelopes/s, MB/s, and the latency of a
//! broadcast call, which answers once the envelope's block is committed by Raft
//! and stored (so it is the block latency a client sees).

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{Cluster, Settings, CHANNEL};

fn main() {
    let envelopes: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(20_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!(
        "orderer throughput: 3 orderers on loopback, envelopes of ~1 KB, max message count 500"
    );
    println!("| batch timeout | in flight | envelopes | envelopes/s | MB/s | p50 ms | p90 ms | p99 ms | max ms | blocks | mean block |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    // Saturating load, then light load (where the batch timeout sets the latency).
    for (timeout, in_flight, count) in [
        ("100ms", 1000, envelopes),
        ("2s", 1000, envelopes),
        ("100ms", 10, 1000),
        ("2s", 10, 100),
    ] {
        runtime.block_on(run(count, timeout, in_flight));
    }
}

async fn run(total: usize, batch_timeout: &'static str, in_flight: usize) {
    let mut c = Cluster::new(
        3,
        Settings {
            max_message_count: 500,
            batch_timeout,
            absolute_max_bytes: "10 MiB",
            preferred_max_bytes: "2 MiB",
            snapshot_interval_size: "64 MiB",
            broadcast_timeout: "30s",
        },
    );
    c.start_all();
    c.wait_leader(CHANNEL).await;
    let probe = c.envelope(&c.client, CHANNEL, 0).size();
    let filler = 1024usize.saturating_sub(probe) * 3 / 4;
    let envelopes: Vec<Vec<u8>> = (0..total)
        .map(|_| serde_json::to_vec(&c.envelope(&c.client, CHANNEL, filler)).unwrap())
        .collect();
    let size = c.envelope(&c.client, CHANNEL, filler).size();
    let start_height = c.height(0, CHANNEL).await;

    let c = Arc::new(c);
    let envelopes = Arc::new(envelopes);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for k in 0..in_flight {
        let (c, envelopes, next) = (c.clone(), envelopes.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= envelopes.len() {
                    return latencies;
                }
                let t = Instant::now();
                let (status, body) = c.broadcast_raw(k % 3, CHANNEL, envelopes[i].clone()).await;
                assert_eq!(status, 200, "{body}");
                latencies.push(t.elapsed());
            }
        }));
    }
    let mut latencies: Vec<Duration> = Vec::new();
    for t in tasks {
        latencies.extend(t.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let blocks = c.height(0, CHANNEL).await - start_height;
    println!(
        "| {batch_timeout} | {in_flight} | {total} | {:.0} | {:.2} | {:.0} | {:.0} | {:.0} | {:.0} | {blocks} | {:.0} |",
        total as f64 / elapsed,
        (total * size) as f64 / elapsed / 1e6,
        ms(pct(0.5)),
        ms(pct(0.9)),
        ms(pct(0.99)),
        ms(*latencies.last().unwrap()),
        total as f64 / blocks.max(1) as f64,
    );
    eprintln!("  (envelope size {size} B, {elapsed:.1} s)");
}
