//! Shared pieces of the runtime's integration tests: a small runtime, an
//! invocation, and WAT contracts written directly against ABI.md.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;

use cellchain_chaincode_runtime::{
    CallerInfo, InstalledChaincode, Invocation, InvokeError, InvokeOutcome, Runtime, RuntimeConfig,
};
use cellchain_core::bytes::{sha256, Bytes};
use cellchain_core::identity::Role;
use cellchain_core::protocol::{Timestamp, TxId, Version};
use cellchain_simulator::MemoryState;

/// A configuration with a small instance pool: tests create many runtimes.
pub fn test_config() -> RuntimeConfig {
    RuntimeConfig {
        max_concurrent_instances: 16,
        ..RuntimeConfig::default()
    }
}

pub fn runtime() -> Runtime {
    Runtime::new(test_config(), None).expect("runtime")
}

pub fn runtime_with(config: RuntimeConfig) -> Runtime {
    Runtime::new(config, None).expect("runtime")
}

pub fn install(wasm: &[u8]) -> Arc<InstalledChaincode> {
    runtime().install(wasm).expect("install")
}

pub fn caller() -> CallerInfo {
    CallerInfo {
        msp_id: "Org1MSP".into(),
        role: Role::Client,
        attributes: BTreeMap::from([("role".to_string(), "QP".to_string())]),
        common_name: "alice".into(),
        subject: "CN=alice,OU=client,O=Org1".into(),
        cert_hash: sha256(b"alice's certificate"),
    }
}

pub fn invocation(function: &str) -> Invocation {
    Invocation {
        chaincode: "cc".into(),
        function: function.into(),
        args: vec![serde_json::json!("batch-1"), serde_json::json!(42)],
        tx_id: TxId(sha256(b"tx-1")),
        channel_id: "ch1".into(),
        timestamp: Timestamp {
            seconds: 1_700_000_000,
            nanos: 123,
        },
        caller: caller(),
        transient: BTreeMap::new(),
    }
}

/// An invocation of the `modes` module with transient `mode` = `mode`.
pub fn mode(mode: &str) -> Invocation {
    let mut inv = invocation("mode");
    inv.transient
        .insert("mode".into(), Bytes(mode.as_bytes().to_vec()));
    inv
}

pub fn state() -> MemoryState {
    let mut s = MemoryState::new();
    for (k, v) in [("a", "1"), ("b", "2"), ("c", "3"), ("k", "old")] {
        s.put("cc", k, v.as_bytes(), Version { block: 1, tx: 0 });
    }
    s.put("other", "x", b"foreign", Version { block: 2, tx: 1 });
    s
}

pub fn run(cc: &InstalledChaincode, inv: &Invocation) -> Result<InvokeOutcome, InvokeError> {
    cc.invoke(inv, &state())
}

/// Every import of ABI.md, with its exact signature.
pub const IMPORTS: &str = r#"
  (import "cellchain" "input" (func $input (result i64)))
  (import "cellchain" "take_result" (func $take_result (param i32)))
  (import "cellchain" "get_state" (func $get_state (param i32 i32) (result i64)))
  (import "cellchain" "get_state_of" (func $get_state_of (param i32 i32 i32 i32) (result i64)))
  (import "cellchain" "put_state" (func $put_state (param i32 i32 i32 i32)))
  (import "cellchain" "del_state" (func $del_state (param i32 i32)))
  (import "cellchain" "get_state_range" (func $get_state_range (param i32 i32 i32 i32 i32) (result i64)))
  (import "cellchain" "get_private" (func $get_private (param i32 i32 i32 i32) (result i64)))
  (import "cellchain" "get_private_hash" (func $get_private_hash (param i32 i32 i32 i32) (result i64)))
  (import "cellchain" "put_private" (func $put_private (param i32 i32 i32 i32 i32 i32)))
  (import "cellchain" "del_private" (func $del_private (param i32 i32 i32 i32)))
  (import "cellchain" "get_transient" (func $get_transient (param i32 i32) (result i64)))
  (import "cellchain" "set_key_policy" (func $set_key_policy (param i32 i32 i32 i32)))
  (import "cellchain" "emit_event" (func $emit_event (param i32 i32 i32 i32)))
  (import "cellchain" "sha256" (func $sha256 (param i32 i32 i32)))
  (import "cellchain" "verify_p256" (func $verify_p256 (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "cellchain" "log" (func $log (param i32 i32 i32)))
  (import "cellchain" "set_response" (func $set_response (param i32 i32 i32)))
  (import "cellchain" "panic_message" (func $panic_message (param i32 i32)))
"#;

/// A contract: every import, a 40-page memory, the ABI marker, `extra`
/// (functions, data) and `cellchain_invoke` with `body` (which leaves an i32).
pub fn contract(extra: &str, body: &str) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(module
  {IMPORTS}
  (memory (export "memory") 40)
  (func (export "cellchain_abi_v1"))
  {extra}
  (func (export "cellchain_invoke") (result i32)
    {body}))"#
    ))
    .expect("valid WAT")
}

/// `set_response(200, "ok")` then return 0.
pub const OK: &str =
    r#"(call $set_response (i32.const 200) (i32.const 8) (i32.const 2)) (i32.const 0)"#;

/// Data every `modes` body can use: "ok" at 8, "k" at 16, "v" at 24, "mode" at
/// 32, the panic text at 64, a bad UTF-8 key at 160.
pub const DATA: &str = r#"
  (data (i32.const 8) "ok")
  (data (i32.const 16) "k")
  (data (i32.const 24) "v")
  (data (i32.const 32) "mode")
  (data (i32.const 64) "the batch record is inconsistent")
  (data (i32.const 160) "\ff\fe")
  (data (i32.const 176) "ev")
"#;

/// One module whose behaviour is chosen by the transient input `mode` (the
/// first byte): `o` behaves, every other letter misbehaves in one way. One
/// module lets a test check that the same installed chaincode keeps serving
/// after each kind of failure.
pub fn modes() -> Vec<u8> {
    contract(
        &format!(
            r#"{DATA}
  (func $deep (param i32) (result i32)
    (i32.add (call $deep (i32.add (local.get 0) (i32.const 1))) (i32.const 1)))
  (func $mode (result i32)
    (if (i64.lt_s (call $get_transient (i32.const 32) (i32.const 4)) (i64.const 0))
      (then (return (i32.const 111))))
    (call $take_result (i32.const 1024))
    (i32.load8_u (i32.const 1024)))"#
        ),
        r#"(local $m i32) (local $i i32)
    (local.set $m (call $mode))
    ;; s: spin forever
    (if (i32.eq (local.get $m) (i32.const 115)) (then (loop $l (br $l))))
    ;; g: grow memory forever
    (if (i32.eq (local.get $m) (i32.const 103))
      (then (loop $l (drop (memory.grow (i32.const 16))) (br $l))))
    ;; h: a 2 MiB value
    (if (i32.eq (local.get $m) (i32.const 104))
      (then (call $put_state (i32.const 16) (i32.const 1) (i32.const 0) (i32.const 2097152))))
    ;; t: a trap
    (if (i32.eq (local.get $m) (i32.const 116)) (then unreachable))
    ;; p: a panic
    (if (i32.eq (local.get $m) (i32.const 112))
      (then (call $panic_message (i32.const 64) (i32.const 32)) unreachable))
    ;; d: unbounded recursion
    (if (i32.eq (local.get $m) (i32.const 100)) (then (drop (call $deep (i32.const 0)))))
    ;; b: a key pointer outside memory
    (if (i32.eq (local.get $m) (i32.const 98))
      (then (call $put_state (i32.const -16) (i32.const 100) (i32.const 24) (i32.const 1))))
    ;; u: a key that is not UTF-8
    (if (i32.eq (local.get $m) (i32.const 117))
      (then (call $put_state (i32.const 160) (i32.const 2) (i32.const 24) (i32.const 1))))
    ;; r: a 2 MiB response
    (if (i32.eq (local.get $m) (i32.const 114))
      (then (call $set_response (i32.const 200) (i32.const 0) (i32.const 2097152))))
    ;; n: no response
    (if (i32.eq (local.get $m) (i32.const 110)) (then (return (i32.const 0))))
    ;; x: take_result with nothing pending
    (if (i32.eq (local.get $m) (i32.const 120)) (then (call $take_result (i32.const 0))))
    ;; z: a non-zero return
    (if (i32.eq (local.get $m) (i32.const 122))
      (then (call $set_response (i32.const 200) (i32.const 8) (i32.const 2)) (return (i32.const 7))))
    ;; e: 17 events (the limit is 16)
    (if (i32.eq (local.get $m) (i32.const 101))
      (then (loop $l
        (call $emit_event (i32.const 176) (i32.const 2) (i32.const 8) (i32.const 2))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $l (i32.lt_u (local.get $i) (i32.const 17))))))
    ;; 2: set_response twice
    (if (i32.eq (local.get $m) (i32.const 50))
      (then (call $set_response (i32.const 200) (i32.const 8) (i32.const 2))))
    ;; o (and anything else): put k = v, answer "ok"
    (call $put_state (i32.const 16) (i32.const 1) (i32.const 24) (i32.const 1))
    (call $set_response (i32.const 200) (i32.const 8) (i32.const 2))
    (i32.const 0)"#,
    )
}
