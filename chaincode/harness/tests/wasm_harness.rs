//! The wasm harness on the shipped test contracts: a hostile contract's
//! failures come back as 500 outcomes with the runtime's reason (not as a
//! crash of the test), the harness keeps working after each, configurations
//! and refusals reach the test, and modules are built and compiled once.

use std::sync::Arc;

use cellchain_chaincode_build::workspace_crate;
use cellchain_chaincode_harness::wasm::{build_once, cache_dir};
use cellchain_chaincode_harness::{
    caller, Backend, Harness, InstallError, Invocation, Limits, RuntimeConfig, Version, WasmHarness,
};
use serde_json::json;

const HOSTILE: &str = "chaincode/test-contracts/hostile";
const SINK: &str = "chaincode/test-contracts/kitchen-sink";
/// hostile's `PANIC_MESSAGE` (the harness does not depend on the contract).
const PANIC_MESSAGE: &str = "the batch record is inconsistent";

fn hostile() -> WasmHarness {
    let mut h = WasmHarness::new();
    h.deploy_crate("hostile", workspace_crate(HOSTILE));
    h
}

#[test]
fn a_well_behaved_call_reports_its_fuel() {
    let mut h = hostile();
    assert_eq!(h.backend(), Backend::Wasm);
    assert_eq!(h.fuel_used(), None);
    let out = h.evaluate("hostile", "ping", json!([]));
    assert_eq!(out.json::<String>(), "pong");
    let fuel = h.fuel_used().expect("a completed call reports its fuel");
    assert!(fuel > 0 && fuel < 1_000_000, "ping used {fuel} fuel");
    // Deterministic: the same call costs the same (a different tx id has the
    // same length, so the input costs the same too).
    h.evaluate("hostile", "ping", json!([])).assert_ok();
    assert_eq!(h.fuel_used(), Some(fuel));
}

#[test]
fn an_endless_loop_runs_out_of_fuel() {
    let mut h = hostile();
    let out = h.submit("hostile", "spin", json!([]));
    out.assert_error(500, "ran out of fuel (limit 100000000)");
    assert_eq!(out.committed, None);
    assert_eq!(h.fuel_used(), None);
    assert_eq!(h.height(), 0);
    // The harness, the module and the shared runtime keep working.
    h.evaluate("hostile", "ping", json!([])).assert_ok();
}

#[test]
fn unbounded_allocation_hits_the_memory_limit() {
    let mut h = hostile();
    h.submit("hostile", "grow", json!([])).assert_error(
        500,
        "tried to grow its memory beyond the limit of 67108864 bytes",
    );
    h.evaluate("hostile", "ping", json!([])).assert_ok();
}

#[test]
fn a_panic_reports_its_message() {
    let mut h = hostile();
    let out = h.submit("hostile", "panic_message", json!([]));
    out.assert_error(500, &format!("the contract panicked: {PANIC_MESSAGE}"));
    // The runtime discards a failed simulation.
    assert_eq!(out.rwset.ns_rwsets.len(), 0);
    assert!(out.events.is_empty() && out.logs.is_empty());
}

#[test]
fn traps_stack_overflows_and_size_caps_are_outcomes() {
    let mut h = hostile();
    h.submit("hostile", "trap", json!([]))
        .assert_error(500, "the contract trapped: wasm trap: wasm `unreachable`");
    h.submit("hostile", "deep", json!([]))
        .assert_error(500, "call stack exhausted");
    h.submit("hostile", "huge_value", json!([])).assert_error(
        500,
        "value of 2097152 bytes for key \"huge\" exceeds the limit of 1048576 bytes",
    );
    h.evaluate("hostile", "big_response", json!([]))
        .assert_error(
            500,
            "response of 4194306 bytes exceeds the limit of 1048576",
        );
    h.evaluate("hostile", "sized_response", json!([1000]))
        .assert_ok();
}

#[test]
fn a_configuration_of_its_own_gets_a_runtime_of_its_own() {
    let mut h = hostile();
    h.evaluate("hostile", "ping", json!([])).assert_ok();
    let fuel = h.fuel_used().unwrap();
    // Half of what it needs. (Not `fuel - 1`: wasmtime checks fuel at
    // function entries and loop headers only, so the last straight-line code
    // of an invocation may overshoot the limit by a few dozen units.)
    h.set_config(RuntimeConfig {
        fuel: fuel / 2,
        ..RuntimeConfig::default()
    });
    h.evaluate("hostile", "ping", json!([]))
        .assert_error(500, &format!("ran out of fuel (limit {})", fuel / 2));
    assert_eq!(h.fuel_used(), None);
    // Another harness still has the production configuration.
    let mut other = hostile();
    assert_eq!(other.config(), RuntimeConfig::default());
    other.evaluate("hostile", "ping", json!([])).assert_ok();
    // set_limits is the configuration's `limits`.
    let limits = Limits {
        max_value_bytes: 10,
        ..Limits::default()
    };
    other.set_limits(limits);
    assert_eq!(other.config().limits, limits);
}

#[test]
fn submit_commits_like_the_native_harness() {
    let mut h = WasmHarness::new();
    h.deploy_crate("sink", workspace_crate(SINK));
    h.set_caller(caller("Org2MSP"));
    let out = h.submit("sink", "put", json!(["k", "v1"]));
    assert_eq!(out.committed, Some(Version { block: 1, tx: 0 }));
    assert_eq!(h.get_state("sink", "k").as_deref(), Some(&b"v1"[..]));
    assert_eq!(h.put_state("sink", "j", b"x"), Version { block: 2, tx: 0 });
    // A query commits nothing; a 400 commits nothing.
    h.invoke("sink", "put", json!(["k", "v2"])).assert_ok();
    h.submit("sink", "fail", json!(["no"]))
        .assert_error(400, "refused: no");
    assert_eq!(h.height(), 2);
    assert_eq!(h.version("sink", "k"), Some(Version { block: 1, tx: 0 }));
}

#[test]
#[should_panic(expected = "tx id \"not-hex\": the runtime takes 64 lower-case hex characters")]
fn a_tx_id_a_proposal_could_not_carry_is_a_test_bug() {
    let mut h = hostile();
    h.invoke_with(Invocation::new("hostile", "ping", json!([])).tx_id("not-hex"));
}

#[test]
#[should_panic(expected = "no contract deployed as \"nope\"; deployed: [\"hostile\"]")]
fn invoking_an_undeployed_contract_is_a_test_bug() {
    hostile().invoke("nope", "ping", json!([]));
}

#[test]
fn a_module_importing_a_clock_is_refused_at_deploy() {
    let mut h = WasmHarness::new();
    let err = h
        .try_deploy_crate(
            "clock",
            workspace_crate("chaincode/test-contracts/wants-time"),
        )
        .err()
        .expect("the runtime refuses a clock import");
    assert!(
        matches!(&err, InstallError::UnknownImport { module, name } if module == "env" && name == "now"),
        "{err:?}"
    );
}

#[test]
fn modules_are_built_once_and_cached_on_disk() {
    let a = build_once(&workspace_crate(HOSTILE));
    // Another spelling of the same directory is the same build.
    let b = build_once(&workspace_crate(
        "chaincode/../chaincode/test-contracts/hostile",
    ));
    assert!(Arc::ptr_eq(&a, &b));
    let mut h = WasmHarness::new();
    h.deploy_wasm("by-bytes", &a.wasm);
    assert_eq!(h.module_sha256("by-bytes"), a.sha256);
    h.evaluate("by-bytes", "ping", json!([])).assert_ok();

    let dir = cache_dir().expect("tests run from a Cargo target directory");
    assert!(dir.ends_with("chaincode-cache"), "{}", dir.display());
    let cached = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(Result::ok)
        .any(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with(&a.sha256.to_hex()) && name.ends_with(".cwasm")
        });
    assert!(
        cached,
        "no compiled module for {} in {}",
        a.sha256,
        dir.display()
    );
}
