//! Unit tests of the pieces that need no contract.

use super::*;
use crate::abi::{encode_range, signature_text, AbiType, IMPORTS};

/// The import rows of ABI.md: name, parameter count, result type.
fn abi_md_imports() -> Vec<(String, usize, String)> {
    let md = include_str!("../../ABI.md");
    let section = md
        .split("## Host imports")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("ABI.md has a Host imports section");
    section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let name = cells[1].trim_matches('`').to_string();
            let sig = cells[2]
                .split('`')
                .nth(1)
                .expect("a signature in backquotes");
            let (params, result) = sig.split_once("->").expect("params -> result");
            let params = params.trim().trim_start_matches('(').trim_end_matches(')');
            let count = params.split(',').filter(|p| !p.trim().is_empty()).count();
            (name, count, result.trim().to_string())
        })
        .collect()
}

#[test]
fn import_table_matches_abi_md() {
    let md = abi_md_imports();
    let ours: Vec<(String, usize, String)> = IMPORTS
        .iter()
        .map(|i| {
            let result = match i.results {
                [] => "()".to_string(),
                [t] => t.name().to_string(),
                _ => unreachable!("ABI imports return at most one value"),
            };
            (i.name.to_string(), i.params.len(), result)
        })
        .collect();
    assert_eq!(ours, md);
    // ABI.md: pointers, lengths, levels, statuses and limits are all i32.
    assert!(IMPORTS
        .iter()
        .all(|i| i.params.iter().all(|p| *p == AbiType::I32)));
}

#[test]
fn every_import_of_the_table_is_linked_with_its_signature() {
    // A module importing the whole table installs only if the linker provides
    // each import with exactly that signature (install instantiates once).
    let imports: String = IMPORTS
        .iter()
        .map(|i| {
            let params: Vec<&str> = i.params.iter().map(|t| t.name()).collect();
            let results: Vec<&str> = i.results.iter().map(|t| t.name()).collect();
            format!(
                r#"(import "cellchain" "{}" (func (param {}) (result {})))"#,
                i.name,
                params.join(" "),
                results.join(" ")
            )
        })
        .collect();
    let wasm = wat::parse_str(format!(
        r#"(module {imports} (memory (export "memory") 1)
             (func (export "cellchain_abi_v1"))
             (func (export "cellchain_invoke") (result i32) (i32.const 0)))"#
    ))
    .unwrap();
    let rt = Runtime::new(
        RuntimeConfig {
            max_concurrent_instances: 2,
            ..RuntimeConfig::default()
        },
        None,
    )
    .unwrap();
    rt.install(&wasm).unwrap();
}

#[test]
fn signatures_are_written_like_wasm_text() {
    assert_eq!(
        signature_text(&["i32", "i32"], &["i64"]),
        "(i32, i32) -> (i64)"
    );
    assert_eq!(signature_text::<&str>(&[], &[]), "() -> ()");
}

#[test]
fn range_encoding_follows_abi_md() {
    let rows = vec![
        ("a".to_string(), b"xy".to_vec()),
        ("bc".to_string(), vec![]),
    ];
    assert_eq!(
        encode_range(&rows, true),
        [
            &2u32.to_le_bytes()[..],
            &1u32.to_le_bytes(),
            b"a",
            &2u32.to_le_bytes(),
            b"xy",
            &2u32.to_le_bytes(),
            b"bc",
            &0u32.to_le_bytes(),
            &[1],
        ]
        .concat()
    );
    assert_eq!(encode_range(&[], false), [0, 0, 0, 0, 0]);
}

#[test]
fn default_config_has_abi_md_limits() {
    let c = RuntimeConfig::default();
    assert_eq!(c.fuel, 100_000_000);
    assert_eq!(c.memory_bytes, 64 << 20);
    assert_eq!(c.wall_clock_ms, 2_000);
    assert_eq!(c.max_input_bytes, 1 << 20);
    assert_eq!(c.limits, Limits::default());
    c.check().unwrap();
}

#[test]
fn config_reads_partial_json_with_defaults() {
    let c: RuntimeConfig = serde_json::from_str(r#"{"fuel": 5000000}"#).unwrap();
    assert_eq!(c.fuel, 5_000_000);
    assert_eq!(c.memory_bytes, RuntimeConfig::default().memory_bytes);
    let e = serde_json::from_str::<RuntimeConfig>(r#"{"fuell": 1}"#).unwrap_err();
    assert!(e.to_string().contains("unknown field"), "{e}");
}

#[test]
fn config_refuses_a_memory_limit_that_is_not_whole_pages() {
    let e = RuntimeConfig {
        memory_bytes: 100_000,
        ..RuntimeConfig::default()
    }
    .check()
    .unwrap_err();
    assert!(e.to_string().contains("memory_bytes"), "{e}");
    assert!(Runtime::new(
        RuntimeConfig {
            fuel: 0,
            ..RuntimeConfig::default()
        },
        None
    )
    .is_err());
}

#[test]
fn epoch_deadline_covers_the_whole_wall_clock_budget() {
    let c = RuntimeConfig {
        wall_clock_ms: 2_000,
        epoch_tick_ms: 10,
        ..RuntimeConfig::default()
    };
    // The deadline is relative to the current epoch, which may be about to
    // tick: one extra tick guarantees at least the full budget.
    assert_eq!(c.epoch_deadline_ticks(), 201);
    let c = RuntimeConfig {
        wall_clock_ms: 15,
        epoch_tick_ms: 10,
        ..RuntimeConfig::default()
    };
    assert_eq!(c.epoch_deadline_ticks(), 3);
}

#[test]
fn engine_hash_is_stable_for_the_same_configuration() {
    let engine = || {
        wasmtime::Engine::new(
            wasmtime::Config::new()
                .consume_fuel(true)
                .cranelift_nan_canonicalization(true),
        )
        .unwrap()
    };
    let a = cache::engine_hash(&engine());
    assert_eq!(a, cache::engine_hash(&engine()));
    assert_eq!(a.len(), 32);
    let other = wasmtime::Engine::new(wasmtime::Config::new().consume_fuel(false)).unwrap();
    assert_ne!(a, cache::engine_hash(&other));
}

#[test]
fn invoke_errors_become_500_responses() {
    let r = InvokeError::OutOfFuel { limit: 7 }.to_response();
    assert_eq!(r.status, 500);
    assert!(r.message.contains("out of fuel"), "{}", r.message);
}

#[test]
fn runtime_and_installed_chaincode_are_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Runtime>();
    assert_send_sync::<InstalledChaincode>();
}
