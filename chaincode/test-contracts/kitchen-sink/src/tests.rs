//! Every transaction of the kitchen sink and every refusal, asserting on
//! responses, read/write sets, private hashes, events and logs. Each scenario
//! runs twice (`both!`): natively through the harness (`<name>::native`) and
//! as the built .wasm in the endorser's runtime with its production limits
//! (`<name>::wasm`). `native_and_wasm_agree_byte_for_byte` then runs every
//! function both ways in lockstep and compares the signed bytes.

use cellchain_chaincode_harness::{
    both, caller, sha256, Backend, Harness, Invocation, KvRead, KvReadHash, KvWrite, KvWriteHash,
    Limits, LogLevel, NativeHarness, Outcome, RangeQueryInfo, Timestamp, Version, WasmHarness,
    VALIDATION_PARAMETER,
};
use serde_json::{json, Value};

use crate::msg::{CallerInfo, Entry, EntryPage, Tagged, TransientInfo};
use crate::state::tag_key;
use crate::KitchenSink;

const NS: &str = "sink";

fn native() -> NativeHarness {
    let mut h = NativeHarness::new();
    h.deploy::<KitchenSink>(NS);
    h
}

/// The kitchen sink built to .wasm (once per test run) in the runtime.
fn wasm() -> WasmHarness {
    let mut h = WasmHarness::new();
    h.deploy_crate(NS, env!("CARGO_MANIFEST_DIR"));
    h
}

both!(
    put_records_a_write_and_get_a_versioned_read,
    json_values_round_trip,
    del_records_a_delete,
    reads_never_see_the_transactions_own_writes,
    rw10_reads_ten_keys_and_writes_ten,
    echo_returns_its_argument_and_touches_nothing,
    empty_and_oversized_keys_are_refused,
    ranges_return_simple_keys_and_record_the_scan,
    long_ranges_are_fetched_page_by_page_from_the_host,
    paginated_ranges_hand_out_bookmarks,
    simple_ranges_refuse_composite_bounds,
    composite_keys_are_written_queried_by_prefix_and_split,
    invalid_composite_keys_are_refused,
    private_values_reach_the_block_only_as_hashes,
    private_writes_need_their_transient_input_and_a_collection,
    transient_inputs_are_visible_to_the_call_only,
    events_are_kept_in_order_with_their_payloads,
    too_many_events_or_an_unnamed_event_are_refused,
    whoami_reports_the_caller_and_the_proposal,
    roles_come_from_the_certificate_attribute,
    key_policies_become_metadata_writes,
    a_malformed_key_policy_fails_the_invocation,
    sha256_is_computed_by_the_host,
    p256_signatures_verify_only_for_the_signed_message,
    cross_contract_reads_are_recorded_in_the_other_namespace,
    a_domain_error_reaches_the_client_and_commits_nothing,
    float_results_with_nan_are_stored_as_null,
    logs_are_captured_at_each_level_and_truncated,
    unknown_functions_and_bad_arguments_are_domain_errors,
);

fn write(key: &str, value: &str) -> KvWrite {
    KvWrite {
        key: key.into(),
        is_delete: false,
        value: value.as_bytes().to_vec().into(),
    }
}

fn read(key: &str, version: Option<Version>) -> KvRead {
    KvRead {
        key: key.into(),
        version,
    }
}

fn v(block: u64) -> Option<Version> {
    Some(Version { block, tx: 0 })
}

fn ns(out: &Outcome) -> &cellchain_chaincode_harness::NsRwSet {
    out.ns(NS)
        .expect("the contract's namespace is in the read/write set")
}

// ---- public state ------------------------------------------------------------

fn put_records_a_write_and_get_a_versioned_read(h: &mut impl Harness) {
    let out = h.submit(NS, "put", json!(["k", "v1"]));
    out.assert_ok();
    assert_eq!(out.payload(), b"null");
    assert_eq!(ns(&out).writes, [write("k", "v1")]);
    assert!(ns(&out).reads.is_empty());
    assert_eq!(out.committed, v(1));

    let out = h.evaluate(NS, "get", json!(["k"]));
    assert_eq!(out.json::<Option<String>>().as_deref(), Some("v1"));
    assert_eq!(ns(&out).reads, [read("k", v(1))]);
    assert!(out.rwset.is_read_only());

    let out = h.evaluate(NS, "get", json!(["absent"]));
    assert_eq!(out.json::<Option<String>>(), None);
    assert_eq!(ns(&out).reads, [read("absent", None)]);
}

fn json_values_round_trip(h: &mut impl Harness) {
    let doc = json!({"temp": -150.5, "ok": true, "tags": ["a"]});
    h.submit(NS, "put_json", json!(["doc", doc])).assert_ok();
    assert_eq!(h.get_state_json::<Value>(NS, "doc"), Some(doc.clone()));
    assert_eq!(h.evaluate(NS, "get_json", json!(["doc"])).value(), doc);
    // Text that is not JSON is refused by the typed read, naming the key.
    h.submit(NS, "put", json!(["text", "not json"])).assert_ok();
    h.evaluate(NS, "get_json", json!(["text"]))
        .assert_error(400, "the value of \"text\" is not the expected JSON");
}

fn del_records_a_delete(h: &mut impl Harness) {
    h.submit(NS, "put", json!(["k", "v"])).assert_ok();
    let out = h.submit(NS, "del", json!(["k"]));
    assert_eq!(
        ns(&out).writes,
        [KvWrite {
            key: "k".into(),
            is_delete: true,
            value: Default::default()
        }]
    );
    assert_eq!(h.get_state(NS, "k"), None);
}

fn reads_never_see_the_transactions_own_writes(h: &mut impl Harness) {
    let out = h.submit(NS, "read_own_write", json!(["k", "v1"]));
    assert_eq!(out.json::<Option<String>>(), None);
    let out = h.submit(NS, "read_own_write", json!(["k", "v2"]));
    assert_eq!(out.json::<Option<String>>().as_deref(), Some("v1"));
    assert_eq!(ns(&out).reads, [read("k", v(1))]);
    assert_eq!(ns(&out).writes, [write("k", "v2")]);
}

fn rw10_reads_ten_keys_and_writes_ten(h: &mut impl Harness) {
    let out = h.submit(NS, "rw10", json!(["acct", "1"]));
    assert_eq!(out.json::<u32>(), 0);
    assert_eq!(ns(&out).reads.len(), 10);
    assert!(ns(&out).reads.iter().all(|r| r.version.is_none()));
    assert_eq!(ns(&out).writes.len(), 10);
    let out = h.submit(NS, "rw10", json!(["acct", "2"]));
    assert_eq!(out.json::<u32>(), 10);
    assert!(ns(&out).reads.iter().all(|r| r.version == v(1)));
    assert_eq!(ns(&out).writes[9], write("acct9", "2"));
}

fn echo_returns_its_argument_and_touches_nothing(h: &mut impl Harness) {
    let value = json!({"nested": [1, 2.5, null, "x"]});
    let out = h.evaluate(NS, "echo", json!([value]));
    assert_eq!(out.value(), value);
    assert!(out.rwset.is_read_only());
    assert!(ns(&out).reads.is_empty() && ns(&out).range_queries.is_empty());
}

fn empty_and_oversized_keys_are_refused(h: &mut impl Harness) {
    // The guest refuses an empty key as a domain error ...
    h.submit(NS, "put", json!(["", "v"]))
        .assert_error(400, "empty key");
    // ... the host refuses a key above its limit: a trap, status 500.
    let out = h.submit(NS, "put", json!(["k".repeat(2000), "v"]));
    out.assert_error(500, "key of 2000 bytes exceeds the limit of 1024 bytes");
    assert!(out.rwset.is_read_only());
    assert_eq!(h.height(), 0);
}

// ---- ranges and composite keys -------------------------------------------------

fn seed(h: &mut impl Harness, keys: &[&str]) {
    for k in keys {
        h.submit(NS, "put", json!([k, format!("v-{k}")]))
            .assert_ok();
    }
}

fn ranges_return_simple_keys_and_record_the_scan(h: &mut impl Harness) {
    seed(h, &["a", "b", "c", "d"]);
    h.submit(NS, "tag", json!(["red", "x", "1"])).assert_ok();

    let out = h.evaluate(NS, "range", json!(["b", "d"]));
    let keys: Vec<String> = out
        .json::<Vec<Entry>>()
        .into_iter()
        .map(|e| e.key)
        .collect();
    assert_eq!(keys, ["b", "c"]);
    assert_eq!(
        ns(&out).range_queries,
        [RangeQueryInfo {
            start_key: "b".into(),
            end_key: "d".into(),
            itr_exhausted: true,
            reads: vec![read("b", v(2)), read("c", v(3))],
        }]
    );

    // "" to "": every simple key, none of the composite ones, starting at
    // U+0001 as Fabric does.
    let out = h.evaluate(NS, "range", json!(["", ""]));
    let entries: Vec<Entry> = out.json();
    assert_eq!(entries.len(), 4);
    assert_eq!(entries[0].value, "v-a");
    assert_eq!(ns(&out).range_queries[0].start_key, "\u{1}");
}

fn long_ranges_are_fetched_page_by_page_from_the_host(h: &mut impl Harness) {
    seed(h, &["a", "b", "c", "d", "e"]);
    h.set_limits(Limits {
        max_range_results: 2,
        ..Limits::default()
    });
    let out = h.evaluate(NS, "range", json!(["", ""]));
    assert_eq!(out.json::<Vec<Entry>>().len(), 5);
    let scans: Vec<(&str, bool, usize)> = ns(&out)
        .range_queries
        .iter()
        .map(|r| (r.start_key.as_str(), r.itr_exhausted, r.reads.len()))
        .collect();
    assert_eq!(
        scans,
        [
            ("\u{1}", false, 2),
            ("b\u{0}", false, 2),
            ("d\u{0}", true, 1)
        ]
    );
}

fn paginated_ranges_hand_out_bookmarks(h: &mut impl Harness) {
    seed(h, &["a", "b", "c"]);
    let page1: EntryPage = h
        .evaluate(NS, "range_page", json!(["", "", 2, null]))
        .json();
    assert_eq!(page1.entries.len(), 2);
    assert_eq!(page1.bookmark.as_deref(), Some("b"));
    let out = h.evaluate(NS, "range_page", json!(["", "", 2, page1.bookmark]));
    let page2: EntryPage = out.json();
    assert_eq!(
        page2.entries,
        [Entry {
            key: "c".into(),
            value: "v-c".into()
        }]
    );
    assert_eq!(page2.bookmark, None);
    assert_eq!(ns(&out).range_queries[0].start_key, "b\u{0}");
    assert!(ns(&out).range_queries[0].itr_exhausted);
    // Named arguments may leave the optional bookmark out.
    let out = h.evaluate(
        NS,
        "range_page",
        json!({"start": "", "end": "", "page_size": 1}),
    );
    assert_eq!(out.json::<EntryPage>().bookmark.as_deref(), Some("a"));
}

fn simple_ranges_refuse_composite_bounds(h: &mut impl Harness) {
    h.evaluate(NS, "range", json!(["\u{0}tag~id\u{0}", ""]))
        .assert_error(400, "reserved for composite keys");
}

fn composite_keys_are_written_queried_by_prefix_and_split(h: &mut impl Harness) {
    let out = h.submit(NS, "tag", json!(["red", "x1", "one"]));
    assert_eq!(out.json::<String>(), "\u{0}tag~id\u{0}red\u{0}x1\u{0}");
    assert_eq!(
        ns(&out).writes,
        [write(&tag_key("red", "x1").unwrap(), "one")]
    );
    h.submit(NS, "tag", json!(["red", "x2", "two"])).assert_ok();
    h.submit(NS, "tag", json!(["redder", "x3", "three"]))
        .assert_ok();
    seed(h, &["plain"]);

    let out = h.evaluate(NS, "by_tag", json!(["red"]));
    assert_eq!(
        out.json::<Vec<Tagged>>(),
        [
            Tagged {
                tag: "red".into(),
                id: "x1".into(),
                value: "one".into()
            },
            Tagged {
                tag: "red".into(),
                id: "x2".into(),
                value: "two".into()
            },
        ]
    );
    let scan = &ns(&out).range_queries[0];
    assert_eq!(scan.start_key, "\u{0}tag~id\u{0}red\u{0}");
    assert_eq!(scan.end_key, "\u{0}tag~id\u{0}red\u{0}\u{10FFFF}");

    let page: EntryPage = h
        .evaluate(NS, "by_tag_page", json!(["red", 1, null]))
        .json();
    assert_eq!(page.entries[0].value, "one");
    let page: EntryPage = h
        .evaluate(NS, "by_tag_page", json!(["red", 1, page.bookmark]))
        .json();
    assert_eq!(page.entries[0].value, "two");
    // The host looks one key ahead, so the last page says it is the last.
    assert_eq!(page.bookmark, None);

    let key = h
        .evaluate(NS, "composite_key", json!(["t", ["a", "b"]]))
        .json::<String>();
    assert_eq!(key, "\u{0}t\u{0}a\u{0}b\u{0}");
    let split: (String, Vec<String>) = h.evaluate(NS, "split_key", json!([key])).json();
    assert_eq!(
        split,
        ("t".to_string(), vec!["a".to_string(), "b".to_string()])
    );
}

fn invalid_composite_keys_are_refused(h: &mut impl Harness) {
    h.evaluate(NS, "composite_key", json!(["t", ["a\u{0}b"]]))
        .assert_error(400, "contains U+0000 at byte 1");
    h.submit(NS, "tag", json!(["x\u{10FFFF}", "id", "v"]))
        .assert_error(400, "contains U+10FFFF");
    h.evaluate(NS, "split_key", json!(["plain"]))
        .assert_error(400, "\"plain\" is not a composite key");
}

// ---- private data and transient inputs -------------------------------------------

fn private_values_reach_the_block_only_as_hashes(h: &mut impl Harness) {
    let secret = "patient-link-42";
    let out = h.submit_with(
        Invocation::new(NS, "put_private", json!(["hospital", "case-1"]))
            .transient("value", secret),
    );
    out.assert_ok();
    let coll = &ns(&out).collections[0];
    assert_eq!(coll.collection, "hospital");
    assert_eq!(
        coll.hashed_writes,
        [KvWriteHash {
            key_hash: sha256(b"case-1"),
            is_delete: false,
            value_hash: Some(sha256(secret.as_bytes())),
        }]
    );
    // Neither the value nor the key travels in the read/write set or the
    // proposal arguments; the endorser keeps the value aside.
    let rwset_json = serde_json::to_string(&out.rwset).unwrap();
    assert!(!rwset_json.contains(secret) && !rwset_json.contains("case-1"));
    assert!(ns(&out).writes.is_empty());
    assert_eq!(
        out.private_writes["hospital"]["case-1"].as_deref(),
        Some(secret.as_bytes())
    );
    assert_eq!(
        h.get_private(NS, "hospital", "case-1").as_deref(),
        Some(secret.as_bytes())
    );

    let out = h.evaluate(NS, "get_private", json!(["hospital", "case-1"]));
    assert_eq!(out.json::<Option<String>>().as_deref(), Some(secret));
    assert_eq!(
        ns(&out).collections[0].hashed_reads,
        [KvReadHash {
            key_hash: sha256(b"case-1"),
            version: v(1)
        }]
    );
    let out = h.evaluate(NS, "private_hash", json!(["hospital", "case-1"]));
    assert_eq!(
        out.json::<Option<String>>(),
        Some(sha256(secret.as_bytes()).to_hex())
    );
    assert_eq!(
        h.evaluate(NS, "private_hash", json!(["hospital", "nope"]))
            .json::<Option<String>>(),
        None
    );

    let out = h.submit(NS, "del_private", json!(["hospital", "case-1"]));
    assert!(ns(&out).collections[0].hashed_writes[0].is_delete);
    assert_eq!(h.get_private(NS, "hospital", "case-1"), None);
}

fn private_writes_need_their_transient_input_and_a_collection(h: &mut impl Harness) {
    h.submit(NS, "put_private", json!(["hospital", "case-1"]))
        .assert_error(400, "transient input \"value\" is required");
    h.submit_with(Invocation::new(NS, "put_private", json!(["", "k"])).transient("value", "x"))
        .assert_error(400, "empty private data collection name");
}

fn transient_inputs_are_visible_to_the_call_only(h: &mut impl Harness) {
    let out = h.evaluate(NS, "transient", json!(["a"]));
    assert_eq!(
        out.json::<TransientInfo>(),
        TransientInfo {
            value: None,
            keys: vec![]
        }
    );
    let out = h.invoke_with(
        Invocation::new(NS, "transient", json!(["a"]))
            .transient("b", "2")
            .transient("a", "1"),
    );
    assert_eq!(
        out.json::<TransientInfo>(),
        TransientInfo {
            value: Some("1".into()),
            keys: vec!["a".into(), "b".into()]
        }
    );
    assert!(out.rwset.is_read_only());
}

// ---- events, identity, key policies --------------------------------------------------

fn events_are_kept_in_order_with_their_payloads(h: &mut impl Harness) {
    let out = h.submit(NS, "emit", json!(["BatchReleased", {"batch": "b1"}]));
    assert_eq!(out.events.len(), 1);
    assert_eq!(out.events[0].chaincode, NS);
    assert_eq!(out.events[0].name, "BatchReleased");
    assert_eq!(out.events[0].payload.0, br#"{"batch":"b1"}"#);

    let out = h.submit(NS, "emit_many", json!([16]));
    let names: Vec<&str> = out.events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names.len(), 16);
    assert_eq!((names[0], names[15]), ("e0", "e15"));
    assert_eq!(out.events[15].payload.0, b"15");
}

fn too_many_events_or_an_unnamed_event_are_refused(h: &mut impl Harness) {
    h.submit(NS, "emit_many", json!([17]))
        .assert_error(500, "more than 16 events in one transaction");
    h.submit(NS, "emit", json!(["", 1]))
        .assert_error(400, "empty event name");
    assert_eq!(h.height(), 0);
}

fn whoami_reports_the_caller_and_the_proposal(h: &mut impl Harness) {
    h.set_caller(
        caller("HospitalMSP")
            .common_name("dr-who")
            .role("SITE_CLIN")
            .attribute("site", "S1"),
    );
    h.set_timestamp(Timestamp::new(1_800_000_000, 5));
    let out = h.invoke_with(
        Invocation::new(NS, "whoami", json!([]))
            .tx_id(&"ab".repeat(32))
            .transient("k", "v"),
    );
    let me: CallerInfo = out.json();
    assert_eq!(me.msp_id, "HospitalMSP");
    assert_eq!(me.role, "client");
    assert_eq!(me.common_name, "dr-who");
    assert_eq!(me.attributes["role"], "SITE_CLIN");
    assert_eq!(me.attributes["site"], "S1");
    assert_eq!(me.subject, "CN=dr-who,OU=client,O=HospitalMSP");
    assert_eq!(me.cert_hash.len(), 64);
    assert_eq!(me.tx_id, "ab".repeat(32));
    assert_eq!(me.channel_id, "testchannel");
    assert_eq!(me.timestamp, Timestamp::new(1_800_000_000, 5));
    assert_eq!(me.function, "whoami");
    assert_eq!(me.transient_keys, ["k"]);
    // Default tx ids are distinct, hex like real ones.
    let a: CallerInfo = h.evaluate(NS, "whoami", json!([])).json();
    let b: CallerInfo = h.evaluate(NS, "whoami", json!([])).json();
    assert_ne!(a.tx_id, b.tx_id);
    assert_eq!(a.tx_id.len(), 64);
}

fn roles_come_from_the_certificate_attribute(h: &mut impl Harness) {
    h.set_caller(caller("QaMSP").common_name("qp-anna").role("QP"));
    assert_eq!(
        h.evaluate(NS, "require_role", json!(["QP"]))
            .json::<String>(),
        "qp-anna"
    );
    h.evaluate(NS, "require_role", json!(["COURIER"]))
        .assert_error(
            400,
            "the caller's role is Some(\"QP\"), COURIER is required",
        );
    h.set_caller(caller("QaMSP"));
    h.evaluate(NS, "require_role", json!(["QP"]))
        .assert_error(400, "the caller's role is None, QP is required");
}

fn key_policies_become_metadata_writes(h: &mut impl Harness) {
    let policy = "AND('MfgMSP.peer', 'SponsorMSP.peer')";
    let out = h.submit(NS, "set_key_policy", json!(["release/b1", policy]));
    out.assert_ok();
    let meta = &ns(&out).metadata_writes;
    assert_eq!(meta.len(), 1);
    assert_eq!(meta[0].key, "release/b1");
    let stored = String::from_utf8(meta[0].entries[VALIDATION_PARAMETER].0.clone()).unwrap();
    assert!(
        stored.contains("MfgMSP") && stored.contains("SponsorMSP"),
        "{stored}"
    );
    // Empty text removes the policy: a metadata write with no entries.
    let out = h.submit(NS, "set_key_policy", json!(["release/b1", ""]));
    assert!(ns(&out).metadata_writes[0].entries.is_empty());
}

fn a_malformed_key_policy_fails_the_invocation(h: &mut impl Harness) {
    h.submit(NS, "set_key_policy", json!(["k", "AND('MfgMSP.peer'"]))
        .assert_error(500, "key-level endorsement policy for \"k\" is invalid");
}

// ---- crypto, cross-contract reads, errors, floats, logs ---------------------------------

fn sha256_is_computed_by_the_host(h: &mut impl Harness) {
    assert_eq!(
        h.evaluate(NS, "sha256", json!(["abc"])).json::<String>(),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

/// A public key (SEC1 hex), a message and its low-S signature (DER hex).
fn signed_message() -> (String, &'static str, String) {
    use p256::ecdsa::signature::Signer;
    use p256::ecdsa::{Signature, SigningKey};

    let key = SigningKey::from_slice(&[7u8; 32]).unwrap();
    let msg = "release batch b1";
    let sig: Signature = key.sign(msg.as_bytes());
    let sig = sig.normalize_s().unwrap_or(sig);
    let pk = hex::encode(key.verifying_key().to_encoded_point(false).as_bytes());
    (pk, msg, hex::encode(sig.to_der().as_bytes()))
}

fn p256_signatures_verify_only_for_the_signed_message(h: &mut impl Harness) {
    let (pk, msg, sig) = signed_message();
    let mut verify =
        |pk: &str, msg: &str, sig: &str| h.evaluate(NS, "verify_p256", json!([pk, msg, sig]));
    assert!(verify(&pk, msg, &sig).json::<bool>());
    assert!(!verify(&pk, "release batch b2", &sig).json::<bool>());
    // A malformed key is an invalid signature, not a failure.
    assert!(!verify("04", msg, &sig).json::<bool>());
    verify(&pk, msg, "zz").assert_error(400, "invalid hex digit");
}

fn cross_contract_reads_are_recorded_in_the_other_namespace(h: &mut impl Harness) {
    let at = h.put_state("other", "k", b"theirs");
    let out = h.evaluate(NS, "read_other", json!(["other", "k"]));
    assert_eq!(out.json::<Option<String>>().as_deref(), Some("theirs"));
    let other = out
        .ns("other")
        .expect("the other namespace is in the rwset");
    assert_eq!(other.reads, [read("k", Some(at))]);
    assert!(other.writes.is_empty());
    assert!(ns(&out).reads.is_empty());
    // Reading one's own namespace through get_state_of is a plain read.
    h.submit(NS, "put", json!(["mine", "1"])).assert_ok();
    let out = h.evaluate(NS, "read_other", json!([NS, "mine"]));
    assert_eq!(out.rwset.ns_rwsets.len(), 1);
    assert_eq!(ns(&out).reads, [read("mine", v(2))]);
    h.evaluate(NS, "read_other_json", json!(["", "k"]))
        .assert_error(400, "empty namespace");
}

fn a_domain_error_reaches_the_client_and_commits_nothing(h: &mut impl Harness) {
    let out = h.submit(NS, "fail", json!(["temperature excursion"]));
    out.assert_error(400, "refused: temperature excursion");
    assert_eq!(out.response.payload.len(), 0);
    assert_eq!(out.committed, None);
    assert_eq!(h.height(), 0);
}

fn float_results_with_nan_are_stored_as_null(h: &mut impl Harness) {
    let out = h.submit(NS, "float_stats", json!(["fresh", [2.0, 8.0, 5.0]]));
    let s = out.value();
    assert_eq!(s["mean"], json!(5.0));
    assert_eq!(s["min"], json!(2.0));
    assert_eq!(s["max"], json!(8.0));
    assert_eq!(s["nan_fields"], json!([]));

    let out = h.submit(NS, "float_stats", json!(["cryo", [-150.0, -152.0]]));
    let s = out.value();
    assert_eq!(s["mean"], json!(-151.0));
    assert_eq!(s["sqrt_mean"], Value::Null);
    assert_eq!(s["nan_fields"], json!(["sqrt_mean"]));

    let out = h.submit(NS, "float_stats", json!(["none", []]));
    assert_eq!(
        out.value()["nan_fields"],
        json!(["mean", "min", "max", "sqrt_mean"])
    );
    // Whatever bits a NaN had, the stored JSON is the same.
    assert_eq!(
        h.get_state_json::<Value>(NS, "stats/none").unwrap()["mean"],
        Value::Null
    );
}

fn logs_are_captured_at_each_level_and_truncated(h: &mut impl Harness) {
    let out = h.evaluate(NS, "log", json!(["hello"]));
    let levels: Vec<LogLevel> = out.logs.iter().map(|l| l.level).collect();
    assert_eq!(
        levels,
        [
            LogLevel::Error,
            LogLevel::Warn,
            LogLevel::Info,
            LogLevel::Debug,
            LogLevel::Trace
        ]
    );
    assert!(out.logs.iter().all(|l| l.message == "hello"));
    // Truncated to 1 KiB on a character boundary ("é" is two bytes).
    let out = h.evaluate(NS, "log", json!(["é".repeat(600)]));
    assert_eq!(out.logs[0].message.len(), 1024);
}

// ---- dispatch -------------------------------------------------------------------

fn unknown_functions_and_bad_arguments_are_domain_errors(h: &mut impl Harness) {
    h.evaluate(NS, "gett", json!(["k"])).assert_error(
        400,
        "unknown function gett; this contract has: put, get, put_json",
    );
    h.evaluate(NS, "get", json!([]))
        .assert_error(400, "get expects 1 argument (key: String), got 0");
    h.evaluate(NS, "emit_many", json!(["three"]))
        .assert_error(400, "emit_many: argument `count` must be u32");
    h.evaluate(NS, "range_page", json!({"start": "", "page_size": 1}))
        .assert_error(400, "range_page: missing argument `end` (expected String)");
}

#[test]
fn metadata_describes_every_function() {
    let m = native().metadata(NS);
    assert_eq!(m.name, "KitchenSink");
    assert_eq!(m.functions.len(), 32);
    let put_private = m.function("put_private").unwrap();
    assert_eq!(put_private.transient, ["value"]);
    assert!(!put_private.evaluate);
    assert!(m.function("get").unwrap().evaluate);
    assert_eq!(
        m.function("split_key").unwrap().returns,
        "(String, Vec<String>)"
    );
    assert_eq!(
        m.function("range_page").unwrap().params[3].ty,
        "Option<String>"
    );
}

// ---- native and wasm agree ----------------------------------------------------------

/// Both harnesses in lockstep: every step runs on each, and what the endorser
/// would sign must be the same bytes.
struct Lockstep {
    native: NativeHarness,
    wasm: WasmHarness,
    /// Functions called so far, to check that every one was.
    called: std::collections::BTreeSet<String>,
}

impl Lockstep {
    fn new() -> Lockstep {
        Lockstep {
            native: native(),
            wasm: wasm(),
            called: Default::default(),
        }
    }

    fn submit(&mut self, function: &str, args: Value) -> Outcome {
        self.step(true, Invocation::new(NS, function, args))
    }

    fn evaluate(&mut self, function: &str, args: Value) -> Outcome {
        self.step(false, Invocation::new(NS, function, args))
    }

    /// Runs `inv` both ways and compares. A completed invocation (200 or
    /// 400) must give identical responses, read/write sets (as encoded for
    /// the proposal response), private writes, events and logs. A failed one
    /// (500) must fail both ways for the same reason; the runtime wraps the
    /// message ("the contract panicked: ...") and discards the simulation, so
    /// only the native message and status are compared.
    #[track_caller]
    fn step(&mut self, submit: bool, inv: Invocation) -> Outcome {
        use cellchain_core::protocol::encode;

        self.called.insert(inv.function.clone());
        let what = format!("{}{}", inv.function, Value::from(inv.args.clone()));
        let (n, w) = if submit {
            (
                self.native.submit_with(inv.clone()),
                self.wasm.submit_with(inv),
            )
        } else {
            (
                self.native.invoke_with(inv.clone()),
                self.wasm.invoke_with(inv),
            )
        };
        assert_eq!(
            n.status(),
            w.status(),
            "{what}: native answered {:?}, wasm {:?}",
            n.response,
            w.response
        );
        if n.status() == 500 {
            assert!(
                w.message().contains(n.message()),
                "{what}: native failed with {:?}, wasm with {:?}",
                n.message(),
                w.message()
            );
            return n;
        }
        assert_eq!(n.response, w.response, "{what}: responses differ");
        let (nb, wb) = (encode(&n.rwset), encode(&w.rwset));
        assert!(
            nb == wb,
            "{what}: the read/write sets differ\nnative: {}\nwasm:   {}",
            String::from_utf8_lossy(&nb.0),
            String::from_utf8_lossy(&wb.0)
        );
        assert_eq!(n.private_writes, w.private_writes, "{what}: private writes");
        assert_eq!(encode(&n.events), encode(&w.events), "{what}: events");
        assert_eq!(n.logs, w.logs, "{what}: logs");
        assert_eq!(n.committed, w.committed, "{what}: commit");
        n
    }
}

/// Every function of the kitchen sink, successes and refusals, run natively
/// and as wasm on two channels kept in lockstep: the same responses and the
/// same read/write set bytes at every step, and the same world state at the
/// end. This is what lets the native tests above stand for the endorser.
#[test]
fn native_and_wasm_agree_byte_for_byte() {
    let mut h = Lockstep::new();
    assert_eq!(h.native.backend(), Backend::Native);
    assert_eq!(h.wasm.backend(), Backend::Wasm);
    let t = |f: &str, args: Value| Invocation::new(NS, f, args);

    // Public state.
    h.submit("put", json!(["k", "v1"]));
    h.submit("put", json!(["", "v"]));
    h.submit("put", json!(["k".repeat(2000), "v"]));
    h.evaluate("get", json!(["k"]));
    h.evaluate("get", json!(["absent"]));
    h.submit(
        "put_json",
        json!(["doc", {"temp": -150.5, "ok": true, "tags": ["a"]}]),
    );
    h.evaluate("get_json", json!(["doc"]));
    h.evaluate("get_json", json!(["k"]));
    h.submit("read_own_write", json!(["k", "v2"]));
    h.submit("rw10", json!(["acct", "1"]));
    h.submit("rw10", json!(["acct", "2"]));
    h.submit("del", json!(["acct3"]));
    h.evaluate(
        "echo",
        json!([[
            0.1,
            1e-7,
            5e-324,
            1.7976931348623157e308,
            -0.0,
            12345678901234567890u64
        ]]),
    );

    // Ranges and composite keys, including a host page smaller than the scan.
    for k in ["a", "b", "c", "d"] {
        h.submit("put", json!([k, format!("v-{k}")]));
    }
    h.evaluate("range", json!(["b", "d"]));
    h.evaluate("range", json!(["", ""]));
    h.evaluate("range", json!(["\u{0}tag~id\u{0}", ""]));
    h.evaluate("range_page", json!(["", "", 2, null]));
    h.evaluate("range_page", json!(["", "", 2, "b"]));
    h.submit("tag", json!(["red", "x1", "one"]));
    h.submit("tag", json!(["red", "x2", "two"]));
    h.submit("tag", json!(["x\u{10FFFF}", "id", "v"]));
    h.evaluate("by_tag", json!(["red"]));
    h.evaluate("by_tag_page", json!(["red", 1, null]));
    h.evaluate("composite_key", json!(["t", ["a", "b"]]));
    h.evaluate("composite_key", json!(["t", ["a\u{0}b"]]));
    h.evaluate("split_key", json!(["\u{0}t\u{0}a\u{0}b\u{0}"]));
    h.evaluate("split_key", json!(["plain"]));
    let small_pages = Limits {
        max_range_results: 2,
        ..Limits::default()
    };
    h.native.set_limits(small_pages);
    h.wasm.set_limits(small_pages);
    h.evaluate("range", json!(["", ""]));
    h.evaluate("by_tag", json!(["red"]));
    h.native.set_limits(Limits::default());
    h.wasm.set_limits(Limits::default());

    // Private data and transient inputs.
    h.step(
        true,
        t("put_private", json!(["hospital", "case-1"])).transient("value", "patient-link-42"),
    );
    h.submit("put_private", json!(["hospital", "case-2"]));
    h.step(
        true,
        t("put_private", json!(["", "k"])).transient("value", "x"),
    );
    h.evaluate("get_private", json!(["hospital", "case-1"]));
    h.evaluate("private_hash", json!(["hospital", "case-1"]));
    h.evaluate("private_hash", json!(["hospital", "nope"]));
    h.submit("del_private", json!(["hospital", "case-1"]));
    h.step(
        false,
        t("transient", json!(["a"]))
            .transient("b", "2")
            .transient("a", "1"),
    );

    // Events, identity, key policies.
    h.submit("emit", json!(["BatchReleased", {"batch": "b1"}]));
    h.submit("emit", json!(["", 1]));
    h.submit("emit_many", json!([16]));
    h.submit("emit_many", json!([17]));
    h.native
        .set_caller(caller("QaMSP").common_name("qp-anna").role("QP"));
    h.wasm
        .set_caller(caller("QaMSP").common_name("qp-anna").role("QP"));
    h.native.set_timestamp(Timestamp::new(1_800_000_000, 5));
    h.wasm.set_timestamp(Timestamp::new(1_800_000_000, 5));
    h.evaluate("whoami", json!([]));
    h.step(
        false,
        t("whoami", json!([]))
            .tx_id(&"ab".repeat(32))
            .transient("k", "v"),
    );
    h.evaluate("require_role", json!(["QP"]));
    h.evaluate("require_role", json!(["COURIER"]));
    h.submit(
        "set_key_policy",
        json!(["release/b1", "AND('MfgMSP.peer', 'SponsorMSP.peer')"]),
    );
    h.submit("set_key_policy", json!(["release/b1", ""]));
    h.submit("set_key_policy", json!(["k", "AND('MfgMSP.peer'"]));

    // Crypto, cross-contract reads, errors, floats, logs.
    h.evaluate("sha256", json!(["abc"]));
    let (pk, msg, sig) = signed_message();
    h.evaluate("verify_p256", json!([pk, msg, sig]));
    h.evaluate("verify_p256", json!([pk, "release batch b2", sig]));
    h.evaluate("verify_p256", json!(["04", msg, sig]));
    h.evaluate("verify_p256", json!([pk, msg, "zz"]));
    h.native.put_state("other", "k", b"theirs");
    h.wasm.put_state("other", "k", b"theirs");
    h.native.put_state("other", "doc", br#"{"n": 1}"#);
    h.wasm.put_state("other", "doc", br#"{"n": 1}"#);
    h.evaluate("read_other", json!(["other", "k"]));
    h.evaluate("read_other", json!([NS, "k"]));
    h.evaluate("read_other_json", json!(["other", "doc"]));
    h.evaluate("read_other_json", json!(["", "k"]));
    h.submit("fail", json!(["temperature excursion"]));
    for (name, readings) in [
        ("fresh", json!([2.0, 8.0, 5.0])),
        ("cryo", json!([-150.0, -152.0])),
        ("none", json!([])),
        ("decimal", json!([0.1, 0.2, 0.3])),
        (
            "huge",
            json!([1.7976931348623157e308, 1.7976931348623157e308]),
        ),
        ("subnormal", json!([5e-324, 1e-310])),
        ("negative-zero", json!([-0.0, -0.0])),
        ("mixed-zeros", json!([0.0, -0.0])),
    ] {
        h.submit("float_stats", json!([name, readings]));
    }
    h.evaluate("log", json!(["hello"]));
    h.evaluate("log", json!(["é".repeat(600)]));

    // Dispatch refusals.
    h.evaluate("gett", json!(["k"]));
    h.evaluate("get", json!([]));
    h.evaluate("emit_many", json!(["three"]));

    // Every function was called, and both channels hold the same state.
    h.called.remove("gett");
    let all: std::collections::BTreeSet<String> = h
        .native
        .metadata(NS)
        .functions
        .into_iter()
        .map(|f| f.name)
        .collect();
    assert_eq!(h.called, all, "functions called vs the contract's");
    assert_eq!(h.native.height(), h.wasm.height());
    // One block per successful submit above and per put_state: a step that
    // failed both ways where it should not would show here.
    assert_eq!(h.native.height(), 28);
    assert!(
        h.native.state() == h.wasm.state(),
        "the world states differ after the same transactions"
    );
}

/// `f64::min` leaves the sign of a zero result unspecified, and x86_64 and
/// wasm differ (`[0.0, -0.0]` gives 0.0 natively, -0.0 in wasm). `float_stats`
/// canonicalises zero (`+ 0.0`), so native and wasm store the same bytes: a
/// native test predicts what the endorser writes.
#[test]
fn signed_zero_results_are_identical_native_and_wasm() {
    let (mut n, mut w) = (native(), wasm());
    for readings in [json!([0.0, -0.0]), json!([-0.0, 0.0])] {
        let args = json!(["zeros", readings]);
        let (a, b) = (
            n.submit(NS, "float_stats", args.clone()),
            w.submit(NS, "float_stats", args),
        );
        assert_eq!(a.response, b.response, "{readings}");
        assert_eq!(
            cellchain_core::protocol::encode(&a.rwset),
            cellchain_core::protocol::encode(&b.rwset),
            "{readings}"
        );
        assert_eq!(a.value()["min"], json!(0.0), "{readings}");
    }
}
