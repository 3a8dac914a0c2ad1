//! The host functions of ABI.md, driven by WAT contracts: what each one does,
//! what it records, what it charges, and how each misuse fails.

mod common;

use cellchain_chaincode_runtime::{InvokeError, InvokeOutcome, RuntimeConfig, SimError};
use cellchain_core::bytes::{sha256, Bytes};
use cellchain_core::crypto::{default_provider, signer_from_pkcs8_pem};
use cellchain_core::protocol::{KvRead, Version};
use common::*;

/// A contract whose answer is the result of `call` (an ABI `R` call): 200 with
/// the bytes, or 400 "none" for -1. `data` holds its strings.
fn echo(data: &str, call: &str) -> Vec<u8> {
    contract(
        &format!(r#"{data} (data (i32.const 8000) "none")"#),
        &format!(
            r#"(local $n i64)
    (local.set $n {call})
    (if (i64.lt_s (local.get $n) (i64.const 0))
      (then (call $set_response (i32.const 400) (i32.const 8000) (i32.const 4))
            (return (i32.const 0))))
    (call $take_result (i32.const 65536))
    (call $set_response (i32.const 200) (i32.const 65536) (i32.wrap_i64 (local.get $n)))
    (i32.const 0)"#
        ),
    )
}

fn payload(out: &InvokeOutcome) -> &[u8] {
    assert_eq!(out.response.status, 200, "{:?}", out.response);
    out.response.payload.as_slice()
}

fn abi_violation(err: InvokeError) -> String {
    match err {
        InvokeError::AbiViolation { reason } => reason,
        other => panic!("expected an ABI violation, got {other:?}"),
    }
}

#[test]
fn input_is_the_invocation_as_abi_json() {
    let cc = install(&echo("", "(call $input)"));
    let mut inv = invocation("create_batch");
    inv.transient.insert("secret".into(), Bytes(b"s".to_vec()));
    let out = run(&cc, &inv).unwrap();
    let json: serde_json::Value = serde_json::from_slice(payload(&out)).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "function": "create_batch",
            "args": ["batch-1", 42],
            "tx_id": sha256(b"tx-1").to_hex(),
            "channel_id": "ch1",
            "timestamp": {"seconds": 1_700_000_000, "nanos": 123},
            "caller": {
                "msp_id": "Org1MSP",
                "role": "client",
                "attributes": {"role": "QP"},
                "common_name": "alice",
                "subject": "CN=alice,OU=client,O=Org1",
                "cert_hash": sha256(b"alice's certificate").to_hex(),
            },
            "transient_keys": ["secret"],
        })
    );
}

#[test]
fn input_above_the_cap_is_refused_before_running() {
    let cc = runtime_with(RuntimeConfig {
        max_input_bytes: 100,
        ..test_config()
    })
    .install(&modes())
    .unwrap();
    assert!(matches!(
        run(&cc, &invocation("x")).unwrap_err(),
        InvokeError::InputTooLarge { max: 100, .. }
    ));
}

#[test]
fn get_state_returns_the_committed_value_and_records_its_version() {
    // Writes first: reads never see the transaction's own writes.
    let cc = install(&contract(
        r#"(data (i32.const 0) "a") (data (i32.const 8) "new") (data (i32.const 16) "zz")"#,
        r#"(local $n i64)
    (call $put_state (i32.const 0) (i32.const 1) (i32.const 8) (i32.const 3))
    (drop (call $get_state (i32.const 16) (i32.const 2)))
    (local.set $n (call $get_state (i32.const 0) (i32.const 1)))
    (call $take_result (i32.const 4096))
    (call $set_response (i32.const 200) (i32.const 4096) (i32.wrap_i64 (local.get $n)))
    (i32.const 0)"#,
    ));
    let out = run(&cc, &invocation("f")).unwrap();
    assert_eq!(payload(&out), b"1");
    assert_eq!(
        out.output.rwset.reads,
        vec![
            KvRead {
                key: "a".into(),
                version: Some(Version { block: 1, tx: 0 })
            },
            KvRead {
                key: "zz".into(),
                version: None
            },
        ]
    );
    assert_eq!(out.output.rwset.writes[0].value.as_slice(), b"new");
}

#[test]
fn missing_key_returns_minus_one() {
    let cc = install(&echo(
        r#"(data (i32.const 0) "nope")"#,
        "(call $get_state (i32.const 0) (i32.const 4))",
    ));
    let out = run(&cc, &invocation("f")).unwrap();
    assert_eq!(out.response.status, 400);
    assert_eq!(out.response.message, "none");
}

#[test]
fn get_state_of_reads_another_namespace_and_records_it_there() {
    let cc = install(&echo(
        r#"(data (i32.const 0) "other") (data (i32.const 8) "x")"#,
        "(call $get_state_of (i32.const 0) (i32.const 5) (i32.const 8) (i32.const 1))",
    ));
    let out = run(&cc, &invocation("f")).unwrap();
    assert_eq!(payload(&out), b"foreign");
    assert!(out.output.rwset.reads.is_empty());
    assert_eq!(out.output.foreign_reads.len(), 1);
    assert_eq!(out.output.foreign_reads[0].namespace, "other");
    assert_eq!(
        out.output.foreign_reads[0].reads[0].version,
        Some(Version { block: 2, tx: 1 })
    );
}

/// Decodes ABI.md's range encoding.
fn decode_range(mut b: &[u8]) -> (Vec<(String, Vec<u8>)>, bool) {
    let u32_at = |b: &mut &[u8]| {
        let v = u32::from_le_bytes(b[..4].try_into().unwrap());
        *b = &b[4..];
        v as usize
    };
    let n = u32_at(&mut b);
    let mut rows = Vec::new();
    for _ in 0..n {
        let kl = u32_at(&mut b);
        let k = String::from_utf8(b[..kl].to_vec()).unwrap();
        b = &b[kl..];
        let vl = u32_at(&mut b);
        rows.push((k, b[..vl].to_vec()));
        b = &b[vl..];
    }
    assert_eq!(b.len(), 1);
    (rows, b[0] == 1)
}

#[test]
fn range_returns_the_abi_encoding_and_records_the_scan() {
    let all = install(&echo(
        "",
        "(call $get_state_range (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0))",
    ));
    let out = run(&all, &invocation("f")).unwrap();
    let (rows, more) = decode_range(payload(&out));
    let keys: Vec<&str> = rows.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["a", "b", "c", "k"]);
    assert_eq!(rows[0].1, b"1");
    assert!(!more);
    assert!(out.output.rwset.range_queries[0].itr_exhausted);

    let two = install(&echo(
        r#"(data (i32.const 0) "b")"#,
        "(call $get_state_range (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 0) (i32.const 2))",
    ));
    let out = run(&two, &invocation("f")).unwrap();
    let (rows, more) = decode_range(payload(&out));
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].0, "b");
    assert!(more);
}

#[test]
fn negative_range_limit_is_an_abi_violation() {
    let cc = install(&echo(
        "",
        "(call $get_state_range (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const -1))",
    ));
    assert!(abi_violation(run(&cc, &invocation("f")).unwrap_err()).contains("negative"));
}

#[test]
fn private_writes_stay_aside_and_hashes_go_in_the_rwset() {
    let cc = install(&contract(
        r#"(data (i32.const 0) "coll") (data (i32.const 8) "p") (data (i32.const 16) "secret")
           (data (i32.const 24) "q")"#,
        r#"(call $put_private (i32.const 0) (i32.const 4) (i32.const 8) (i32.const 1) (i32.const 16) (i32.const 6))
    (call $del_private (i32.const 0) (i32.const 4) (i32.const 24) (i32.const 1))
    (drop (call $get_private (i32.const 0) (i32.const 4) (i32.const 24) (i32.const 1)))
    (drop (call $get_private_hash (i32.const 0) (i32.const 4) (i32.const 8) (i32.const 1)))
    (call $set_response (i32.const 200) (i32.const 0) (i32.const 0))
    (i32.const 0)"#,
    ));
    let out = run(&cc, &invocation("f")).unwrap();
    let coll = &out.output.private_writes["coll"];
    assert_eq!(coll["p"], Some(b"secret".to_vec()));
    assert_eq!(coll["q"], None);
    let hashed = &out.output.rwset.collections[0];
    assert_eq!(hashed.collection, "coll");
    assert_eq!(hashed.hashed_writes.len(), 2);
    assert_eq!(hashed.hashed_reads.len(), 2);
    assert!(out.output.rwset.writes.is_empty());
}

#[test]
fn get_transient_returns_the_value_or_minus_one() {
    let cc = install(&echo(
        r#"(data (i32.const 0) "secret")"#,
        "(call $get_transient (i32.const 0) (i32.const 6))",
    ));
    let mut inv = invocation("f");
    inv.transient.insert("secret".into(), Bytes(b"42".to_vec()));
    assert_eq!(payload(&run(&cc, &inv).unwrap()), b"42");
    assert_eq!(run(&cc, &invocation("f")).unwrap().response.status, 400);
}

#[test]
fn key_level_policy_is_parsed_and_recorded() {
    let policy = "OR('Org1MSP.peer', 'Org2MSP.peer')";
    let cc = install(&contract(
        &format!(r#"(data (i32.const 0) "a") (data (i32.const 8) "{policy}")"#),
        &format!(
            r#"(call $set_key_policy (i32.const 0) (i32.const 1) (i32.const 8) (i32.const {}))
    (call $set_response (i32.const 200) (i32.const 0) (i32.const 0)) (i32.const 0)"#,
            policy.len()
        ),
    ));
    let out = run(&cc, &invocation("f")).unwrap();
    assert_eq!(out.output.rwset.metadata_writes[0].key, "a");
    assert_eq!(out.output.rwset.metadata_writes[0].entries.len(), 1);
}

#[test]
fn malformed_key_level_policy_fails_the_simulation() {
    let cc = install(&contract(
        r#"(data (i32.const 0) "a") (data (i32.const 8) "OR(")"#,
        r#"(call $set_key_policy (i32.const 0) (i32.const 1) (i32.const 8) (i32.const 3))
    (call $set_response (i32.const 200) (i32.const 0) (i32.const 0)) (i32.const 0)"#,
    ));
    assert!(matches!(
        run(&cc, &invocation("f")).unwrap_err(),
        InvokeError::Limit(SimError::BadKeyPolicy { .. })
    ));
}

#[test]
fn events_are_kept_in_emission_order() {
    let cc = install(&contract(
        r#"(data (i32.const 0) "second") (data (i32.const 8) "first") (data (i32.const 16) "p")"#,
        r#"(call $emit_event (i32.const 8) (i32.const 5) (i32.const 16) (i32.const 1))
    (call $emit_event (i32.const 0) (i32.const 6) (i32.const 16) (i32.const 0))
    (call $set_response (i32.const 200) (i32.const 0) (i32.const 0)) (i32.const 0)"#,
    ));
    let out = run(&cc, &invocation("f")).unwrap();
    let names: Vec<&str> = out.output.events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["first", "second"]);
    assert_eq!(out.output.events[0].chaincode, "cc");
    assert_eq!(out.output.events[0].payload.as_slice(), b"p");
}

#[test]
fn sha256_writes_the_digest() {
    let cc = install(&contract(
        r#"(data (i32.const 0) "abc")"#,
        r#"(call $sha256 (i32.const 0) (i32.const 3) (i32.const 64))
    (call $set_response (i32.const 200) (i32.const 64) (i32.const 32)) (i32.const 0)"#,
    ));
    let out = run(&cc, &invocation("f")).unwrap();
    assert_eq!(payload(&out), &sha256(b"abc").0);
}

const KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgiqNXOTv4sLpF0wVw
qQ+YdIz/sml2XTrCP8NLzqS95QqhRANCAASRAtHaNOhMoKFijeL6teWgTXcbBIxM
juEA/WSjg/a7Aab5f7thv/LEyi2JsA5SZhDncLl4G4QOpVBcXnTc9v3d
-----END PRIVATE KEY-----
";

fn wat_bytes(b: &[u8]) -> String {
    b.iter().map(|x| format!("\\{x:02x}")).collect()
}

#[test]
fn verify_p256_accepts_a_valid_signature_and_rejects_others() {
    let signer = signer_from_pkcs8_pem(default_provider(), KEY).unwrap();
    let msg = b"release batch 7";
    let sig = signer.sign(msg).unwrap();
    let pk = signer.public_key();
    let verify = |sig: &[u8], pk: &[u8]| {
        let cc = install(&contract(
            &format!(
                r#"(data (i32.const 0) "{}") (data (i32.const 100) "{}") (data (i32.const 200) "{}")"#,
                wat_bytes(pk),
                wat_bytes(msg),
                wat_bytes(sig)
            ),
            &format!(
                r#"(i32.store8 (i32.const 500)
      (call $verify_p256 (i32.const 0) (i32.const {}) (i32.const 100) (i32.const {})
                         (i32.const 200) (i32.const {})))
    (call $set_response (i32.const 200) (i32.const 500) (i32.const 1)) (i32.const 0)"#,
                pk.len(),
                msg.len(),
                sig.len()
            ),
        ));
        payload(&run(&cc, &invocation("f")).unwrap())[0]
    };
    assert_eq!(verify(&sig, pk.as_bytes()), 1);
    let mut bad = sig.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert_eq!(verify(&bad, pk.as_bytes()), 0);
    assert_eq!(verify(&sig, b"not a key"), 0);
}

#[test]
fn log_lines_are_kept_and_truncated() {
    let long = "x".repeat(2000);
    let cc = install(&contract(
        &format!(r#"(data (i32.const 0) "hello") (data (i32.const 100) "{long}")"#),
        r#"(call $log (i32.const 2) (i32.const 0) (i32.const 5))
    (call $log (i32.const 9) (i32.const 100) (i32.const 2000))
    (call $set_response (i32.const 200) (i32.const 0) (i32.const 0)) (i32.const 0)"#,
    ));
    let out = run(&cc, &invocation("f")).unwrap();
    assert_eq!(out.logs.len(), 2);
    assert_eq!(
        (out.logs[0].level, out.logs[0].message.as_str()),
        (2, "hello")
    );
    assert_eq!(out.logs[1].level, 4, "levels above 4 are trace");
    assert_eq!(out.logs[1].message.len(), 1024);
}

#[test]
fn domain_error_is_a_400_response_not_a_failure() {
    let cc = install(&contract(
        r#"(data (i32.const 0) "batch not found")"#,
        r#"(call $set_response (i32.const 400) (i32.const 0) (i32.const 15)) (i32.const 0)"#,
    ));
    let out = run(&cc, &invocation("f")).unwrap();
    assert_eq!(out.response.status, 400);
    assert_eq!(out.response.message, "batch not found");
}

#[test]
fn pointer_out_of_bounds_is_an_abi_violation() {
    let cc = install(&modes());
    let reason = abi_violation(run(&cc, &mode("b")).unwrap_err());
    assert!(reason.contains("outside the guest memory"), "{reason}");
}

#[test]
fn invalid_utf8_key_is_an_abi_violation() {
    let cc = install(&modes());
    let reason = abi_violation(run(&cc, &mode("u")).unwrap_err());
    assert!(reason.contains("not valid UTF-8"), "{reason}");
}

#[test]
fn take_result_without_pending_data_is_an_abi_violation() {
    let cc = install(&modes());
    let reason = abi_violation(run(&cc, &mode("x")).unwrap_err());
    assert!(reason.contains("no pending result"), "{reason}");
}

#[test]
fn a_minus_one_result_clears_the_pending_one() {
    let cc = install(&contract(
        r#"(data (i32.const 0) "a") (data (i32.const 8) "zz")"#,
        r#"(drop (call $get_state (i32.const 0) (i32.const 1)))
    (drop (call $get_state (i32.const 8) (i32.const 2)))
    (call $take_result (i32.const 100))
    (i32.const 0)"#,
    ));
    abi_violation(run(&cc, &invocation("f")).unwrap_err());
}

#[test]
fn returning_without_set_response_is_no_response() {
    let cc = install(&modes());
    assert_eq!(run(&cc, &mode("n")).unwrap_err(), InvokeError::NoResponse);
}

#[test]
fn non_zero_return_is_an_abi_violation() {
    let cc = install(&modes());
    let reason = abi_violation(run(&cc, &mode("z")).unwrap_err());
    assert!(reason.contains("returned 7"), "{reason}");
}

#[test]
fn set_response_twice_is_an_abi_violation() {
    let cc = install(&modes());
    let reason = abi_violation(run(&cc, &mode("2")).unwrap_err());
    assert!(reason.contains("twice"), "{reason}");
}

#[test]
fn unknown_status_is_an_abi_violation() {
    let cc = install(&contract(
        "",
        r#"(call $set_response (i32.const 302) (i32.const 0) (i32.const 0)) (i32.const 0)"#,
    ));
    abi_violation(run(&cc, &invocation("f")).unwrap_err());
}

#[test]
fn oversized_and_empty_keys_are_limits() {
    let big = install(&contract(
        "",
        r#"(call $put_state (i32.const 0) (i32.const 1025) (i32.const 0) (i32.const 1)) (i32.const 0)"#,
    ));
    assert_eq!(
        run(&big, &invocation("f")).unwrap_err(),
        InvokeError::Limit(SimError::KeyTooLarge {
            len: 1025,
            max: 1024
        })
    );
    let empty = install(&contract(
        "",
        r#"(call $put_state (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 1)) (i32.const 0)"#,
    ));
    assert_eq!(
        run(&empty, &invocation("f")).unwrap_err(),
        InvokeError::Limit(SimError::EmptyKey)
    );
}

#[test]
fn host_calls_charge_one_fuel_per_byte() {
    // Two modules that differ only in the length passed to put_state: the
    // fuel difference is exactly the extra bytes (ABI.md: 1 per byte).
    let put = |len: u32| {
        let cc = install(&contract(
            r#"(data (i32.const 0) "k")"#,
            &format!(
                r#"(call $put_state (i32.const 0) (i32.const 1) (i32.const 100) (i32.const {len}))
    (call $set_response (i32.const 200) (i32.const 0) (i32.const 0)) (i32.const 0)"#
            ),
        ));
        run(&cc, &invocation("f")).unwrap().fuel_used
    };
    assert_eq!(put(1100) - put(100), 1000);
    // And a host call costs at least its base of 1,000.
    assert!(put(0) > 2 * 1000);
}

#[test]
fn nan_results_are_canonical() {
    // 0/0 gives the negative default NaN (0xffc00000) on x86; wasm leaves
    // the sign unspecified, and canonicalisation makes it 0x7fc00000 everywhere.
    let cc = install(&contract(
        "",
        r#"(local $z f32) (local $zz f64)
    (i32.store (i32.const 0) (i32.reinterpret_f32 (f32.div (local.get $z) (local.get $z))))
    (i64.store (i32.const 8) (i64.reinterpret_f64 (f64.div (local.get $zz) (local.get $zz))))
    (i32.store (i32.const 16) (i32.reinterpret_f32 (f32.sqrt (f32.const -1))))
    (call $set_response (i32.const 200) (i32.const 0) (i32.const 20)) (i32.const 0)"#,
    ));
    let out = run(&cc, &invocation("f")).unwrap();
    let p = payload(&out);
    assert_eq!(u32::from_le_bytes(p[0..4].try_into().unwrap()), 0x7fc0_0000);
    assert_eq!(
        u64::from_le_bytes(p[8..16].try_into().unwrap()),
        0x7ff8_0000_0000_0000
    );
    assert_eq!(
        u32::from_le_bytes(p[16..20].try_into().unwrap()),
        0x7fc0_0000
    );
}
