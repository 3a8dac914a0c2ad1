//! Endorsement latency and throughput, in-process through the router (no
//! socket): kitchen-sink `put` (one write), the contract run in wasmtime against
//! a sled replica, the endorsement signed with ring.
//!
//! `cargo bench -p cellchain-endorser --bench endorse [-- FILTER]`
//!
//! Criterion measures one request at a time (latency: JSON parse, creator
//! certificate (cached), signature check, ACL, replay check, simulation, payload
//! encoding and signing, response JSON); then a fixed load with 1..8 requests in
//! flight reports endorsements/s on this machine.

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use cellchain_endorser::checks::Mode;
use cellchain_endorser::endorse::now;
use criterion::{criterion_group, Criterion};
use serde_json::json;
use support::*;
use tower::ServiceExt;

fn signed_puts(net: &Net, n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let p = proposal(
                &net.client,
                KS,
                "put",
                vec![json!(format!("key{i}")), json!("value")],
            );
            serde_json::to_vec(&sign(p, &net.client)).unwrap()
        })
        .collect()
}

async fn endorse_once(app: &axum::Router, body: Vec<u8>) {
    let request = Request::builder()
        .method("POST")
        .uri(format!("/v1/channels/{CHANNEL}/endorse"))
        .body(Body::from(body))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    assert!(bytes.windows(11).any(|w| w == b"endorsement"));
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn bench(c: &mut Criterion) {
    let rt = runtime();
    let net = Net::new();
    let e = net.endorser();
    let app = cellchain_endorser::service::router(e.clone());
    let bodies = signed_puts(&net, 512);
    let mut g = c.benchmark_group("endorse");
    g.measurement_time(Duration::from_secs(8));
    let mut i = 0;
    g.bench_function("kitchen_sink_put_via_router", |b| {
        b.iter(|| {
            i = (i + 1) % bodies.len();
            rt.block_on(endorse_once(&app, bodies[i].clone()));
        })
    });
    let mut i = 0;
    g.bench_function("kitchen_sink_put_handle_direct", |b| {
        b.iter(|| {
            i = (i + 1) % bodies.len();
            let r = e.handle(CHANNEL, &bodies[i], Mode::Propose, now()).unwrap();
            assert!(r.endorsement.is_some());
        })
    });
    g.finish();
}

/// A fixed number of endorsements with `in_flight` requests at a time.
fn throughput() {
    let rt = runtime();
    let net = Net::new();
    let e = net.endorser();
    let app = cellchain_endorser::service::router(e.clone());
    let total = 4000;
    let bodies = Arc::new(signed_puts(&net, total));
    println!("\nendorsement throughput, kitchen-sink put, in-process router, 2 tokio workers");
    println!("| in flight | endorsements | seconds | endorsements/s | mean latency ms |");
    println!("|---|---|---|---|---|");
    for in_flight in [1usize, 2, 4, 8] {
        let started = Instant::now();
        rt.block_on(async {
            let mut tasks = Vec::new();
            for w in 0..in_flight {
                let (app, bodies) = (app.clone(), bodies.clone());
                tasks.push(tokio::spawn(async move {
                    let mut i = w;
                    while i < total {
                        endorse_once(&app, bodies[i].clone()).await;
                        i += in_flight;
                    }
                }));
            }
            for t in tasks {
                t.await.unwrap();
            }
        });
        let secs = started.elapsed().as_secs_f64();
        println!(
            "| {in_flight} | {total} | {secs:.2} | {:.0} | {:.3} |",
            total as f64 / secs,
            secs * 1000.0 * in_flight as f64 / total as f64
        );
    }
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    if filter.is_none_or(|f| "throughput".contains(&f)) {
        throughput();
    }
}
