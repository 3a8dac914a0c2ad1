//! Chaincode runtime costs with the kitchen-sink test contract (Rust, built
//! with the contract profile): compiling the module, loading it from the
//! on-disk cache, and invoking it with the cache warm (a fresh instance per
//! invocation) for a simple `put` and for `rw10` (10 reads + 10 writes), plus
//! `echo` (no state access) as the floor. Prints the fuel of each operation.
//!
//! cargo bench -p cellchain-chaincode-runtime -- --warm-up-time 1 --measurement-time 3

use std::collections::BTreeMap;
use std::sync::Arc;

use cellchain_chaincode_build::{build_contract, workspace_crate};
use cellchain_chaincode_runtime::{
    CallerInfo, InstalledChaincode, Invocation, Runtime, RuntimeConfig,
};
use cellchain_core::bytes::sha256;
use cellchain_core::identity::Role;
use cellchain_core::protocol::{Timestamp, TxId, Version};
use cellchain_simulator::MemoryState;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::{json, Value};

const NS: &str = "sink";

fn invocation(function: &str, args: Value) -> Invocation {
    Invocation {
        chaincode: NS.into(),
        function: function.into(),
        args: args.as_array().unwrap().clone(),
        tx_id: TxId(sha256(b"tx")),
        channel_id: "ch1".into(),
        timestamp: Timestamp {
            seconds: 1_700_000_000,
            nanos: 0,
        },
        caller: CallerInfo {
            msp_id: "Org1MSP".into(),
            role: Role::Client,
            attributes: BTreeMap::new(),
            common_name: "alice".into(),
            subject: "CN=alice,OU=client,O=Org1".into(),
            cert_hash: sha256(b"cert"),
        },
        transient: BTreeMap::new(),
    }
}

/// `k0`..`k9` exist with 100-byte values, so `rw10`'s reads return data.
fn state() -> MemoryState {
    let mut s = MemoryState::new();
    for i in 0..10u32 {
        s.put(
            NS,
            &format!("k{i}"),
            &[b'x'; 100],
            Version { block: 1, tx: i },
        );
    }
    s
}

fn bench(c: &mut Criterion) {
    let wasm = build_contract(&workspace_crate("chaincode/test-contracts/kitchen-sink"))
        .expect("building the kitchen sink")
        .wasm;
    println!("\nkitchen-sink module: {} bytes", wasm.len());

    let mut g = c.benchmark_group("install");
    g.sample_size(10);
    let rt = Runtime::new(RuntimeConfig::default(), None).unwrap();
    g.bench_function("compile", |b| b.iter(|| rt.install(&wasm).unwrap()));
    g.finish();

    let mut g = c.benchmark_group("install");
    let dir = tempfile::tempdir().unwrap();
    let cached = Runtime::new(RuntimeConfig::default(), Some(dir.path().to_path_buf())).unwrap();
    cached.install(&wasm).unwrap();
    g.bench_function("load_from_cache", |b| {
        b.iter(|| cached.install(&wasm).unwrap())
    });
    g.finish();

    let cc: Arc<InstalledChaincode> = cached.install(&wasm).unwrap();
    let state = state();
    let calls = [
        ("echo", invocation("echo", json!(["x"]))),
        ("put", invocation("put", json!(["k1", "v".repeat(100)]))),
        ("rw10", invocation("rw10", json!(["k", "v".repeat(100)]))),
    ];
    println!("fuel per invocation (guest code and host calls):");
    for (name, inv) in &calls {
        let out = cc.invoke(inv, &state).unwrap();
        assert_eq!(out.response.status, 200, "{name}: {:?}", out.response);
        println!("  {name:5} {:>8} fuel", out.fuel_used);
    }
    println!(
        "host call charges (ABI.md): base 1000 + 1/byte; put of a 2-byte key and \
         100-byte value = 1102; verify_p256 = 100000 + msg/4; sha256 = 1000 + len/4\n"
    );

    let mut g = c.benchmark_group("invoke");
    g.throughput(Throughput::Elements(1));
    for (name, inv) in &calls {
        g.bench_function(*name, |b| b.iter(|| cc.invoke(inv, &state).unwrap()));
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
