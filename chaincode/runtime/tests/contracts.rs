//! The real test contracts, built from Rust with the contract profile and run
//! through the runtime: the hostile one fails in every way it tries, the one
//! that wants a clock is refused at install, and the kitchen sink exercises
//! every API call with the read/write sets it should record.

mod common;

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use cellchain_chaincode_build::{build_contract, workspace_crate};
use cellchain_chaincode_runtime::{
    InstallError, InstalledChaincode, Invocation, InvokeError, InvokeOutcome, RuntimeConfig,
    SimError,
};
use cellchain_core::bytes::{sha256, Bytes};
use cellchain_core::crypto::{default_provider, signer_from_pkcs8_pem};
use cellchain_core::protocol::{KvRead, KvWrite, Version};
use common::*;
use serde_json::{json, Value};

fn wasm(name: &str) -> Vec<u8> {
    build_contract(&workspace_crate(&format!(
        "chaincode/test-contracts/{name}"
    )))
    .unwrap_or_else(|e| panic!("building {name}: {e}"))
    .wasm
}

/// Each contract is built once per test binary (cargo serialises the builds).
fn hostile() -> Arc<InstalledChaincode> {
    static CC: OnceLock<Arc<InstalledChaincode>> = OnceLock::new();
    CC.get_or_init(|| install(&wasm("hostile"))).clone()
}

fn sink() -> Arc<InstalledChaincode> {
    static CC: OnceLock<Arc<InstalledChaincode>> = OnceLock::new();
    CC.get_or_init(|| install(&wasm("kitchen-sink"))).clone()
}

fn call(function: &str, args: Value) -> Invocation {
    let mut inv = invocation(function);
    inv.args = args.as_array().expect("an array of arguments").clone();
    inv
}

fn ok(cc: &InstalledChaincode, function: &str, args: Value) -> InvokeOutcome {
    let out = run(cc, &call(function, args)).unwrap_or_else(|e| panic!("{function} failed: {e}"));
    assert_eq!(out.response.status, 200, "{function}: {:?}", out.response);
    out
}

fn json_of(out: &InvokeOutcome) -> Value {
    serde_json::from_slice(out.response.payload.as_slice()).expect("a JSON payload")
}

fn v1() -> Option<Version> {
    Some(Version { block: 1, tx: 0 })
}

fn w(key: &str, value: &str) -> KvWrite {
    KvWrite {
        key: key.into(),
        is_delete: false,
        value: Bytes(value.as_bytes().to_vec()),
    }
}

// ---- hostile -----------------------------------------------------------------

#[test]
fn hostile_ping_works() {
    assert_eq!(json_of(&ok(&hostile(), "ping", json!([]))), json!("pong"));
}

#[test]
fn hostile_spin_runs_out_of_fuel_quickly() {
    let started = Instant::now();
    assert_eq!(
        run(&hostile(), &call("spin", json!([]))).unwrap_err(),
        InvokeError::OutOfFuel { limit: 100_000_000 }
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn hostile_grow_hits_the_memory_limit() {
    assert_eq!(
        run(&hostile(), &call("grow", json!([]))).unwrap_err(),
        InvokeError::MemoryLimit {
            limit: 64 * 1024 * 1024
        }
    );
}

#[test]
fn hostile_huge_value_is_refused_by_the_value_limit() {
    assert_eq!(
        run(&hostile(), &call("huge_value", json!([]))).unwrap_err(),
        InvokeError::Limit(SimError::ValueTooLarge {
            key: "huge".into(),
            len: 2 * 1024 * 1024,
            max: 1024 * 1024
        })
    );
}

#[test]
fn hostile_trap_is_a_trap() {
    match run(&hostile(), &call("trap", json!([]))).unwrap_err() {
        InvokeError::Trap { message } => assert!(message.contains("unreachable"), "{message}"),
        other => panic!("expected a trap, got {other:?}"),
    }
}

#[test]
fn hostile_panic_reports_its_message() {
    match run(&hostile(), &call("panic_message", json!([]))).unwrap_err() {
        InvokeError::Panic { message } => {
            assert!(
                message.contains("the batch record is inconsistent"),
                "{message}"
            )
        }
        other => panic!("expected a panic, got {other:?}"),
    }
}

#[test]
fn hostile_deep_recursion_is_a_trap_not_a_crash() {
    match run(&hostile(), &call("deep", json!([]))).unwrap_err() {
        // 256-byte frames on the wasm stack: the native stack limit
        // (max_wasm_stack_bytes) is reached before the shadow stack in memory.
        InvokeError::Trap { message } => {
            assert!(message.contains("call stack exhausted"), "{message}")
        }
        other => panic!("expected a trap, got {other:?}"),
    }
}

#[test]
fn hostile_big_response_is_refused() {
    // Making and JSON-encoding a 10 MiB string costs more than the default
    // 100 M fuel, which would stop it first: give it enough to reach the cap.
    let cc = runtime_with(RuntimeConfig {
        fuel: 2_000_000_000,
        ..test_config()
    })
    .install(&wasm("hostile"))
    .unwrap();
    let e = run(&cc, &call("big_response", json!([]))).unwrap_err();
    assert!(
        matches!(e, InvokeError::ResponseTooLarge { max: 1_048_576, .. }),
        "{e:?}"
    );
}

#[test]
fn hostile_failures_leave_the_chaincode_serving() {
    let cc = hostile();
    let pong = ok(&cc, "ping", json!([]));
    for f in [
        "spin",
        "grow",
        "huge_value",
        "trap",
        "panic_message",
        "deep",
        "big_response",
    ] {
        let err = run(&cc, &call(f, json!([]))).unwrap_err();
        assert_eq!(ok(&cc, "ping", json!([])), pong, "after {f}: {err}");
    }
}

#[test]
fn hostile_spin_meets_the_wall_clock_backstop_when_fuel_is_unlimited() {
    let cc = runtime_with(RuntimeConfig {
        fuel: u64::MAX / 2,
        wall_clock_ms: 100,
        ..test_config()
    })
    .install(&wasm("hostile"))
    .unwrap();
    assert_eq!(
        run(&cc, &call("spin", json!([]))).unwrap_err(),
        InvokeError::Timeout { millis: 100 }
    );
}

// ---- wants-time ----------------------------------------------------------------

#[test]
fn a_contract_importing_a_clock_is_refused_at_install() {
    let e = match runtime().install(&wasm("wants-time")) {
        Ok(_) => panic!("wants-time was accepted"),
        Err(e) => e,
    };
    assert_eq!(
        e,
        InstallError::UnknownImport {
            module: "env".into(),
            name: "now".into()
        }
    );
}

// ---- kitchen sink ------------------------------------------------------------------

#[test]
fn sink_put_records_one_write_and_no_read() {
    let out = ok(&sink(), "put", json!(["k1", "v1"]));
    assert_eq!(out.response.payload.as_slice(), b"null");
    assert_eq!(out.output.rwset.writes, [w("k1", "v1")]);
    assert!(out.output.rwset.reads.is_empty());
}

#[test]
fn sink_get_reads_the_committed_value_with_its_version() {
    let out = ok(&sink(), "get", json!(["a"]));
    assert_eq!(json_of(&out), json!("1"));
    assert_eq!(
        out.output.rwset.reads,
        [KvRead {
            key: "a".into(),
            version: v1()
        }]
    );
    let out = ok(&sink(), "get", json!(["absent"]));
    assert_eq!(json_of(&out), Value::Null);
    assert_eq!(out.output.rwset.reads[0].version, None);
}

#[test]
fn sink_json_delete_and_read_own_write() {
    let out = ok(&sink(), "put_json", json!(["doc", {"t": -150.5}]));
    assert_eq!(
        out.output.rwset.writes[0].value.as_slice(),
        br#"{"t":-150.5}"#
    );
    let out = ok(&sink(), "del", json!(["a"]));
    assert!(out.output.rwset.writes[0].is_delete);
    // Fabric semantics: a read after a write sees the committed value.
    let out = ok(&sink(), "read_own_write", json!(["a", "new"]));
    assert_eq!(json_of(&out), json!("1"));
    assert_eq!(out.output.rwset.writes, [w("a", "new")]);
}

#[test]
fn sink_rw10_reads_ten_and_writes_ten() {
    let out = ok(&sink(), "rw10", json!(["k", "v"]));
    assert_eq!(out.output.rwset.reads.len(), 10);
    assert_eq!(out.output.rwset.writes.len(), 10);
    assert_eq!(json_of(&out), json!(0));
}

#[test]
fn sink_ranges_and_composite_keys() {
    let out = ok(&sink(), "range", json!(["a", "c"]));
    assert_eq!(
        json_of(&out),
        json!([{"key": "a", "value": "1"}, {"key": "b", "value": "2"}])
    );
    assert_eq!(out.output.rwset.range_queries.len(), 1);
    assert_eq!(out.output.rwset.range_queries[0].reads.len(), 2);

    let out = ok(&sink(), "range_page", json!(["a", "", 2, null]));
    let page = json_of(&out);
    assert_eq!(page["entries"].as_array().unwrap().len(), 2);
    assert!(page["bookmark"].is_string(), "{page}");

    let key = json_of(&ok(&sink(), "tag", json!(["red", "x1", "apple"])));
    let split = json_of(&ok(&sink(), "split_key", json!([key])));
    assert_eq!(split, json!(["tag~id", ["red", "x1"]]));
    let out = ok(&sink(), "by_tag", json!(["red"]));
    assert_eq!(json_of(&out), json!([]));
}

#[test]
fn sink_private_data_and_transient_inputs() {
    let mut inv = call("put_private", json!(["coll", "p"]));
    inv.transient
        .insert("value".into(), Bytes(b"secret".to_vec()));
    let out = run(&sink(), &inv).unwrap();
    assert_eq!(out.response.status, 200, "{:?}", out.response);
    assert_eq!(
        out.output.private_writes["coll"]["p"],
        Some(b"secret".to_vec())
    );
    assert!(out.output.rwset.writes.is_empty());
    assert_eq!(out.output.rwset.collections[0].hashed_writes.len(), 1);
    // Without the transient input: a domain error, not a failure.
    let out = run(&sink(), &call("put_private", json!(["coll", "p"]))).unwrap();
    assert_eq!(out.response.status, 400);

    let mut inv = call("transient", json!(["value"]));
    inv.transient.insert("value".into(), Bytes(b"t".to_vec()));
    let out = run(&sink(), &inv).unwrap();
    assert_eq!(json_of(&out), json!({"value": "t", "keys": ["value"]}));

    assert_eq!(
        json_of(&ok(&sink(), "get_private", json!(["coll", "p"]))),
        Value::Null
    );
    assert_eq!(
        json_of(&ok(&sink(), "private_hash", json!(["coll", "p"]))),
        Value::Null
    );
    let out = ok(&sink(), "del_private", json!(["coll", "p"]));
    assert_eq!(out.output.private_writes["coll"]["p"], None);
}

#[test]
fn sink_events_and_the_event_limit() {
    let out = ok(&sink(), "emit", json!(["shipped", {"id": 1}]));
    assert_eq!(out.output.events.len(), 1);
    assert_eq!(out.output.events[0].name, "shipped");
    let out = ok(&sink(), "emit_many", json!([3]));
    let names: Vec<&str> = out.output.events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["e0", "e1", "e2"]);
    assert_eq!(
        run(&sink(), &call("emit_many", json!([17]))).unwrap_err(),
        InvokeError::Limit(SimError::TooManyEvents { max: 16 })
    );
}

#[test]
fn sink_sees_the_caller_and_the_proposal() {
    let mut inv = call("whoami", json!([]));
    inv.transient.insert("t".into(), Bytes(b"x".to_vec()));
    let out = run(&sink(), &inv).unwrap();
    let who = json_of(&out);
    assert_eq!(who["msp_id"], "Org1MSP");
    assert_eq!(who["role"], "client");
    assert_eq!(who["attributes"], json!({"role": "QP"}));
    assert_eq!(who["common_name"], "alice");
    assert_eq!(who["cert_hash"], sha256(b"alice's certificate").to_hex());
    assert_eq!(who["tx_id"], sha256(b"tx-1").to_hex());
    assert_eq!(who["channel_id"], "ch1");
    assert_eq!(
        who["timestamp"],
        json!({"seconds": 1_700_000_000, "nanos": 123})
    );
    assert_eq!(who["function"], "whoami");
    assert_eq!(who["transient_keys"], json!(["t"]));

    assert_eq!(
        json_of(&ok(&sink(), "require_role", json!(["QP"]))),
        json!("alice")
    );
    let out = run(&sink(), &call("require_role", json!(["COURIER"]))).unwrap();
    assert_eq!(out.response.status, 400);
}

#[test]
fn sink_key_policy_crypto_and_cross_contract_reads() {
    let out = ok(
        &sink(),
        "set_key_policy",
        json!(["a", "OR('Org1MSP.peer')"]),
    );
    assert_eq!(out.output.rwset.metadata_writes[0].key, "a");
    assert!(matches!(
        run(&sink(), &call("set_key_policy", json!(["a", "OR("]))).unwrap_err(),
        InvokeError::Limit(SimError::BadKeyPolicy { .. })
    ));

    assert_eq!(
        json_of(&ok(&sink(), "sha256", json!(["abc"]))),
        json!(sha256(b"abc").to_hex())
    );

    let signer = signer_from_pkcs8_pem(default_provider(), KEY).unwrap();
    let sig = signer.sign(b"release").unwrap();
    let pk = hex(signer.public_key().as_bytes());
    let verify = |msg: &str| json_of(&ok(&sink(), "verify_p256", json!([pk, msg, hex(&sig)])));
    assert_eq!(verify("release"), json!(true));
    assert_eq!(verify("recall"), json!(false));

    let out = ok(&sink(), "read_other", json!(["other", "x"]));
    assert_eq!(json_of(&out), json!("foreign"));
    assert_eq!(out.output.foreign_reads[0].namespace, "other");
}

#[test]
fn sink_domain_errors_are_400_responses() {
    let out = run(&sink(), &call("fail", json!(["no stock"]))).unwrap();
    assert_eq!(out.response.status, 400);
    assert_eq!(out.response.message, "refused: no stock");
    assert!(out.output.rwset.writes.is_empty());
}

#[test]
fn sink_float_stats_are_deterministic_with_nan() {
    let a = ok(&sink(), "float_stats", json!(["cold", []]));
    let b = runtime()
        .install(&wasm("kitchen-sink"))
        .unwrap()
        .invoke(&call("float_stats", json!(["cold", []])), &state())
        .unwrap();
    assert_eq!(a, b);
    let stats = json_of(&a);
    assert_eq!(stats["mean"], Value::Null);
    assert_eq!(
        stats["nan_fields"],
        json!(["mean", "min", "max", "sqrt_mean"])
    );
    let out = ok(&sink(), "float_stats", json!(["cryo", [-150.5, -149.5]]));
    assert_eq!(json_of(&out)["mean"], json!(-150.0));
    assert_eq!(json_of(&out)["nan_fields"], json!(["sqrt_mean"]));
}

#[test]
fn sink_logs_reach_the_outcome() {
    let out = ok(&sink(), "log", json!(["hello"]));
    let levels: Vec<u8> = out.logs.iter().map(|l| l.level).collect();
    assert_eq!(levels, [0, 1, 2, 3, 4]);
    assert!(out.logs.iter().all(|l| l.message == "hello"));
}

#[test]
fn sink_unknown_function_is_a_domain_error() {
    let out = run(&sink(), &call("no_such_function", json!([]))).unwrap();
    assert_eq!(out.response.status, 400, "{:?}", out.response);
}

#[test]
fn sink_eight_threads_agree_on_rw10() {
    let cc = sink();
    let expected = ok(&cc, "rw10", json!(["k", "v"]));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let cc = cc.clone();
            std::thread::spawn(move || ok(&cc, "rw10", json!(["k", "v"])))
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), expected);
    }
}

const KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgiqNXOTv4sLpF0wVw
qQ+YdIz/sml2XTrCP8NLzqS95QqhRANCAASRAtHaNOhMoKFijeL6teWgTXcbBIxM
juEA/WSjg/a7Aab5f7thv/LEyi2JsA5SZhDncLl4G4QOpVBcXnTc9v3d
-----END PRIVATE KEY-----
";

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
