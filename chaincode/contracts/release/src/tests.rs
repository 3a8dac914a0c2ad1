//! Every transaction and every refusal of the release contract, each scenario
//! run by `both!` natively and as the built .wasm. The case summary that
//! patient-batch would write is seeded into the committed state directly
//! (`seed_case_summary`), as a committed transaction of patient-batch would.

use cellchain_chaincode_harness::{
    both, caller, CallerBuilder, Harness, Invocation, NativeHarness, Outcome, WasmHarness,
    VALIDATION_PARAMETER,
};
use serde_json::{json, Value};
use therapy_common::{
    batch_status, batch_summary_key, case_summary_key, BatchSummary, CaseSummary, PATIENT_BATCH,
    RELEASE,
};

use crate::contract::{Release, EVENT_SPEC_APPROVED, EVENT_STATUS_CHANGED};
use crate::msg::{BatchStatusChanged, BatchView, SpecView};
use crate::state::{batch_key, decision_key, meaning, Deviation, QcResult};

const NS: &str = RELEASE;
const COI: &str = "CHA123426000123";
const COI2: &str = "CHA123426000124";
const PRODUCT: &str = "CART-19";
const POLICY: &str = "AND('CdmoMSP.peer', 'SponsorMSP.peer')";

fn native() -> NativeHarness {
    let mut h = NativeHarness::new();
    h.deploy::<Release>(NS);
    h
}

fn wasm() -> WasmHarness {
    let mut h = WasmHarness::new();
    h.deploy_crate(NS, env!("CARGO_MANIFEST_DIR"));
    h
}

both!(
    a_spec_is_drafted_then_approved_with_a_bound_e_signature,
    spec_refusals,
    opening_reads_the_case_and_sets_the_key_level_policy,
    open_batch_refusals,
    pass_fail_is_computed_and_completion_is_automatic,
    result_refusals,
    an_oos_result_opens_an_investigation_and_the_latest_retest_counts,
    deviations_block_completeness_until_closed,
    an_unclean_case_blocks_until_reevaluated,
    the_qp_certifies_with_an_e_signature,
    certification_refusals,
    an_oos_batch_is_rejected_with_a_signature,
    an_oos_batch_is_exceptionally_released_with_request_and_risk_hashes,
    queries_read_without_writing,
);

// ---- callers ------------------------------------------------------------------

fn qa_author() -> CallerBuilder {
    caller("SponsorMSP").role("QA").common_name("qa-author")
}
fn qa() -> CallerBuilder {
    caller("SponsorMSP").role("QA").common_name("qa-reviewer")
}
fn qp() -> CallerBuilder {
    caller("SponsorMSP")
        .role("QP")
        .common_name("qualified-person")
}
fn qc() -> CallerBuilder {
    caller("QcLabMSP").role("QC").common_name("analyst")
}
fn mfg() -> CallerBuilder {
    caller("CdmoMSP").role("MFG").common_name("manufacturing")
}

fn call(h: &mut impl Harness, who: CallerBuilder, function: &str, args: Value) -> Outcome {
    h.submit_with(Invocation::new(NS, function, args).caller(who))
}

// ---- set-up -------------------------------------------------------------------

fn case(coi: &str, state: &str) -> CaseSummary {
    CaseSummary {
        coi: coi.into(),
        pseudonym: "0123456789abcdef0123456789abcdef".into(),
        site_msp: "HospitalAMSP".into(),
        product_code: PRODUCT.into(),
        spec_version: 1,
        state: state.into(),
        custodian_msp: "CdmoMSP".into(),
        din: Some("A123426000123".into()),
        custody_clean: true,
        condition_clean: true,
        open_deviations: 0,
    }
}

/// Commits a case summary in patient-batch's namespace, as patient-batch would.
fn seed_case_summary(h: &mut impl Harness, case: &CaseSummary) {
    h.put_state(
        PATIENT_BATCH,
        &case_summary_key(&case.coi),
        &serde_json::to_vec(case).unwrap(),
    );
}

fn spec_tests() -> Value {
    json!([
        {"code": "VIAB", "name": "Viability", "method": "flow cytometry, 7-AAD", "unit": "%",
         "criterion": {"kind": "at_least", "min": 70.0}, "required": true},
        {"code": "STER", "name": "Sterility", "method": "Ph. Eur. 2.6.27", "unit": "n/a",
         "criterion": {"kind": "equals", "value": "no growth"}, "required": true},
        {"code": "VCN", "name": "Vector copy number", "method": "ddPCR", "unit": "copies/cell",
         "criterion": {"kind": "between", "min": 0.5, "max": 5.0}, "required": false}
    ])
}

fn create_spec(h: &mut impl Harness, version: u32) -> SpecView {
    call(
        h,
        qa_author(),
        "create_spec",
        json!([{"product_code": PRODUCT, "version": version, "tests": spec_tests()}]),
    )
    .json()
}

fn approve(h: &mut impl Harness, version: u32, sha: &str) -> Outcome {
    call(
        h,
        qa(),
        "approve_spec",
        json!([{"product_code": PRODUCT, "version": version, "spec_sha256": sha}]),
    )
}

fn approved_spec(h: &mut impl Harness) -> SpecView {
    let draft = create_spec(h, 1);
    approve(h, 1, &draft.spec_sha256).json()
}

/// An approved spec, the case in QC_PENDING and its batch opened.
fn opened(h: &mut impl Harness, coi: &str) -> BatchView {
    if h.get_state(NS, &crate::state::spec_key(PRODUCT, 1).unwrap())
        .is_none()
    {
        approved_spec(h);
    }
    seed_case_summary(h, &case(coi, "QC_PENDING"));
    call(h, mfg(), "open_batch", json!([{"coi": coi}])).json()
}

fn result(h: &mut impl Harness, coi: &str, test: &str, value: Value, unit: &str) -> Outcome {
    call(
        h,
        qc(),
        "record_result",
        json!([{"coi": coi, "test_code": test, "value": value, "unit": unit}]),
    )
}

fn retest(h: &mut impl Harness, test: &str, value: Value, unit: &str, of: &str) -> Outcome {
    call(
        h,
        qc(),
        "record_result",
        json!([{"coi": COI, "test_code": test, "value": value, "unit": unit, "retest_of": of}]),
    )
}

/// Every required test passed: EVIDENCE_COMPLETE.
fn complete(h: &mut impl Harness, coi: &str) {
    result(h, coi, "VIAB", json!(85.5), "%").assert_ok();
    result(h, coi, "STER", json!("no growth"), "n/a").assert_ok();
}

fn batch(h: &mut impl Harness, coi: &str) -> BatchView {
    h.evaluate(NS, "get_batch", json!([coi])).json()
}

fn status_events(out: &Outcome) -> Vec<BatchStatusChanged> {
    out.events
        .iter()
        .filter(|e| e.name == EVENT_STATUS_CHANGED)
        .map(|e| serde_json::from_slice(&e.payload).unwrap())
        .collect()
}

fn summary(h: &impl Harness, coi: &str) -> BatchSummary {
    h.get_state_json(NS, &batch_summary_key(coi)).unwrap()
}

// ---- specifications -------------------------------------------------------------

fn a_spec_is_drafted_then_approved_with_a_bound_e_signature(h: &mut impl Harness) {
    let draft = create_spec(h, 1);
    assert_eq!(draft.status, "DRAFT");
    assert_eq!(draft.spec.drafted_by.name, "qa-author");
    assert_eq!(draft.spec_sha256.len(), 64);
    // The hash is over the exact stored bytes.
    let stored = h
        .get_state(NS, &crate::state::spec_key(PRODUCT, 1).unwrap())
        .unwrap();
    assert_eq!(
        draft.spec_sha256,
        cellchain_chaincode_harness::sha256(&stored).to_hex()
    );

    h.advance_time(3600);
    let out = approve(h, 1, &draft.spec_sha256);
    let approved: SpecView = out.json();
    assert_eq!(approved.status, "APPROVED");
    let sig = approved.approval.unwrap();
    assert_eq!(sig.signer, "qa-reviewer");
    assert_eq!(sig.msp_id, "SponsorMSP");
    assert_eq!(sig.meaning, meaning::APPROVED);
    assert_eq!(sig.signed_at, h.timestamp());
    assert_eq!(sig.record, "spec CART-19 v1");
    assert_eq!(sig.record_sha256, draft.spec_sha256);
    assert_eq!(out.events[0].name, EVENT_SPEC_APPROVED);

    let got: SpecView = h.evaluate(NS, "get_spec", json!([PRODUCT, 1])).json();
    assert_eq!(got.status, "APPROVED");
    assert_eq!(got.spec_sha256, draft.spec_sha256);

    // Immutable once approved; the next version is a new record.
    approve(h, 1, &draft.spec_sha256)
        .assert_error(400, "CART-19 v1 is already approved (by qa-reviewer)");
    call(
        h,
        qa_author(),
        "create_spec",
        json!([{"product_code": PRODUCT, "version": 1, "tests": spec_tests()}]),
    )
    .assert_error(400, "product CART-19 takes version 2 next, not 1");
    assert_eq!(create_spec(h, 2).spec.version, 2);
    let v2: SpecView = h.evaluate(NS, "get_spec", json!([PRODUCT, 2])).json();
    assert_eq!(v2.status, "DRAFT");
}

fn spec_refusals(h: &mut impl Harness) {
    let spec = |tests: Value| json!([{"product_code": PRODUCT, "version": 1, "tests": tests}]);
    call(h, qc(), "create_spec", spec(spec_tests()))
        .assert_error(400, "create_spec needs the role QA; the caller has QC");
    call(h, qa(), "create_spec", spec(json!([])))
        .assert_error(400, "a specification needs at least one test");
    let viab = spec_tests()[0].clone();
    call(h, qa(), "create_spec", spec(json!([viab, viab])))
        .assert_error(400, "test code VIAB appears more than once");
    call(
        h,
        qa(),
        "create_spec",
        spec(
            json!([{"code": "X", "name": "x", "method": "m", "unit": "%",
                     "criterion": {"kind": "between", "min": 5.0, "max": 1.0}, "required": true}]),
        ),
    )
    .assert_error(400, "test X: min is above max");
    call(
        h,
        qa(),
        "create_spec",
        spec(
            json!([{"code": "X", "name": " ", "method": "m", "unit": "%",
                     "criterion": {"kind": "at_most", "max": 1.0}, "required": true}]),
        ),
    )
    .assert_error(400, "test name must not be empty");
    call(
        h,
        qa(),
        "create_spec",
        json!([{"product_code": "bad code", "version": 1, "tests": spec_tests()}]),
    )
    .assert_error(400, "invalid product code \"bad code\"");

    let draft = create_spec(h, 1);
    call(
        h,
        qa_author(),
        "approve_spec",
        json!([{"product_code": PRODUCT, "version": 1, "spec_sha256": draft.spec_sha256}]),
    )
    .assert_error(400, "qa-author@SponsorMSP drafted this specification");
    approve(h, 1, &"0".repeat(64)).assert_error(400, "changed since you reviewed it");
    approve(h, 1, "nothex").assert_error(400, "spec_sha256 must be a SHA-256");
    approve(h, 7, &draft.spec_sha256)
        .assert_error(400, "product CART-19 has no specification version 7");
    call(
        h,
        qp(),
        "approve_spec",
        json!([{"product_code": PRODUCT, "version": 1, "spec_sha256": draft.spec_sha256}]),
    )
    .assert_error(400, "approve_spec needs the role QA");
}

// ---- opening --------------------------------------------------------------------

fn opening_reads_the_case_and_sets_the_key_level_policy(h: &mut impl Harness) {
    approved_spec(h);
    seed_case_summary(h, &case(COI, "IN_MANUFACTURING"));
    let out = call(h, mfg(), "open_batch", json!([{"coi": COI}]));
    let view: BatchView = out.json();
    assert_eq!(view.batch.status, batch_status::TESTING);
    assert_eq!(view.batch.manufacturer_msp, "CdmoMSP");
    assert_eq!(view.batch.sponsor_msp, "SponsorMSP");
    assert_eq!(view.batch.spec_version, 1);
    assert_eq!(view.decision.status, "PENDING");
    assert_eq!(view.signatures.len(), 1, "the spec approval");

    // The case summary was read cross-contract (so MVCC covers it).
    let pb = out.ns(PATIENT_BATCH).unwrap();
    assert_eq!(pb.reads[0].key, case_summary_key(COI));
    // The release record keys carry AND(manufacturer, sponsor).
    let rw = out.ns(NS).unwrap();
    let mut with_policy: Vec<&str> = rw
        .metadata_writes
        .iter()
        .filter(|m| m.entries[VALIDATION_PARAMETER].0 == POLICY.as_bytes())
        .map(|m| m.key.as_str())
        .collect();
    with_policy.sort();
    let mut expected = vec![
        batch_key(COI).unwrap(),
        decision_key(COI).unwrap(),
        batch_summary_key(COI),
    ];
    expected.sort();
    assert_eq!(with_policy, expected);
    assert_eq!(
        summary(h, COI),
        BatchSummary {
            coi: COI.into(),
            status: batch_status::TESTING.into(),
            spec_version: 1,
            qc_passed: false
        }
    );
    assert_eq!(
        status_events(&out),
        [BatchStatusChanged {
            coi: COI.into(),
            from: None,
            to: batch_status::TESTING.into(),
            reason: "batch opened".into()
        }]
    );
}

fn open_batch_refusals(h: &mut impl Harness) {
    call(h, mfg(), "open_batch", json!([{"coi": COI}]))
        .assert_error(400, "no case summary for CHA123426000123 in patient-batch");
    seed_case_summary(h, &case(COI, "COLLECTED"));
    call(h, mfg(), "open_batch", json!([{"coi": COI}])).assert_error(
        400,
        "case CHA123426000123 is COLLECTED; a batch is opened in",
    );
    seed_case_summary(h, &case(COI, "QC_PENDING"));
    call(h, qc(), "open_batch", json!([{"coi": COI}]))
        .assert_error(400, "open_batch needs the role MFG; the caller has QC");
    call(
        h,
        caller("OtherCdmoMSP").role("MFG"),
        "open_batch",
        json!([{"coi": COI}]),
    )
    .assert_error(
        400,
        "case CHA123426000123 is held by CdmoMSP; OtherCdmoMSP cannot open",
    );
    call(h, mfg(), "open_batch", json!([{"coi": COI}]))
        .assert_error(400, "product CART-19 has no specification version 1");
    create_spec(h, 1);
    call(h, mfg(), "open_batch", json!([{"coi": COI}]))
        .assert_error(400, "specification CART-19 v1 is not approved yet");
    let sha: SpecView = h.evaluate(NS, "get_spec", json!([PRODUCT, 1])).json();
    approve(h, 1, &sha.spec_sha256).assert_ok();
    call(h, mfg(), "open_batch", json!([{"coi": COI}])).assert_ok();
    call(h, mfg(), "open_batch", json!([{"coi": COI}])).assert_error(
        400,
        "batch CHA123426000123 is already open (status TESTING)",
    );
    call(h, mfg(), "open_batch", json!([{"coi": ""}])).assert_error(400, "invalid COI \"\"");
}

// ---- results ----------------------------------------------------------------------

fn pass_fail_is_computed_and_completion_is_automatic(h: &mut impl Harness) {
    opened(h, COI);
    let out = result(h, COI, "VIAB", json!(85.5), "%");
    let r: QcResult = out.json();
    assert!(r.passed);
    assert_eq!(r.id, "R1");
    assert_eq!(r.recorded_by.name, "analyst");
    assert!(status_events(&out).is_empty(), "STER is still missing");
    // A non-required test does not block, and its pass/fail is computed too.
    let r: QcResult = result(h, COI, "VCN", json!(2), "copies/cell").json();
    assert!(r.passed);

    // The result that completes the evidence sets EVIDENCE_COMPLETE itself.
    let out = result(h, COI, "STER", json!("no growth"), "n/a");
    assert!(out.json::<QcResult>().passed);
    assert_eq!(
        status_events(&out),
        [BatchStatusChanged {
            coi: COI.into(),
            from: Some(batch_status::TESTING.into()),
            to: batch_status::EVIDENCE_COMPLETE.into(),
            reason: "every required test passed, every deviation closed, case clean".into()
        }]
    );
    let s = summary(h, COI);
    assert_eq!(s.status, batch_status::EVIDENCE_COMPLETE);
    assert!(s.qc_passed);
    let view = batch(h, COI);
    assert_eq!(view.batch.results.len(), 3);
    assert_eq!(view.batch.history.len(), 2);
}

fn result_refusals(h: &mut impl Harness) {
    result(h, COI, "VIAB", json!(80), "%").assert_error(400, "no batch for CHA123426000123");
    opened(h, COI);
    call(
        h,
        mfg(),
        "record_result",
        json!([{"coi": COI, "test_code": "VIAB", "value": 80, "unit": "%"}]),
    )
    .assert_error(400, "record_result needs the role QC; the caller has MFG");
    result(h, COI, "PH", json!(7), "pH")
        .assert_error(400, "specification CART-19 v1 has no test PH");
    result(h, COI, "VIAB", json!(0.8), "fraction")
        .assert_error(400, "test VIAB is reported in \"%\", not \"fraction\"");
    result(h, COI, "VIAB", json!("high"), "%")
        .assert_error(400, "test VIAB takes a number as its value");
    result(h, COI, "STER", json!(0), "n/a").assert_error(400, "test STER takes text as its value");
    // Pass/fail is never taken from the caller: an extra field is ignored.
    let r: QcResult = call(
        h,
        qc(),
        "record_result",
        json!([{"coi": COI, "test_code": "VCN", "value": 9, "unit": "copies/cell", "passed": true}]),
    )
    .json();
    assert!(!r.passed);
    result(h, COI, "VCN", json!(1), "copies/cell").assert_error(
        400,
        "test VCN already has result R1: record a retest with retest_of",
    );
    retest(h, "VIAB", json!(80), "%", "R1")
        .assert_error(400, "result R1 is not an original result of test VIAB");
    retest(h, "VCN", json!(1), "copies/cell", "R9")
        .assert_error(400, "result R9 is not an original result of test VCN");
}

fn an_oos_result_opens_an_investigation_and_the_latest_retest_counts(h: &mut impl Harness) {
    opened(h, COI);
    let out = result(h, COI, "VIAB", json!(50), "%");
    assert!(!out.json::<QcResult>().passed);
    assert_eq!(status_events(&out)[0].to, batch_status::OOS_INVESTIGATION);
    assert_eq!(
        status_events(&out)[0].reason,
        "result R1 of test VIAB is out of specification"
    );
    assert!(!summary(h, COI).qc_passed);

    call(
        h,
        qa(),
        "close_oos_investigation",
        json!([{"coi": COI, "reason": "pipetting error found"}]),
    )
    .assert_error(400, "the latest results of [\"VIAB\"] still fail");

    let r: QcResult = retest(h, "VIAB", json!(78), "%", "R1").json();
    assert!(r.passed);
    assert_eq!(r.retest_of.as_deref(), Some("R1"));
    // A retest links to the original, not to another retest.
    retest(h, "VIAB", json!(79), "%", "R2")
        .assert_error(400, "result R2 is not an original result of test VIAB");
    assert_eq!(summary(h, COI).status, batch_status::OOS_INVESTIGATION);

    call(
        h,
        qc(),
        "close_oos_investigation",
        json!([{"coi": COI, "reason": "x"}]),
    )
    .assert_error(400, "close_oos_investigation needs the role QA");
    call(
        h,
        qa(),
        "close_oos_investigation",
        json!([{"coi": COI, "reason": ""}]),
    )
    .assert_error(400, "reason must not be empty");
    let out = call(
        h,
        qa(),
        "close_oos_investigation",
        json!([{"coi": COI, "reason": "pipetting error found"}]),
    );
    let view: BatchView = out.json();
    assert_eq!(view.batch.status, batch_status::TESTING);
    call(
        h,
        qa(),
        "close_oos_investigation",
        json!([{"coi": COI, "reason": "again"}]),
    )
    .assert_error(
        400,
        "close_oos_investigation needs batch CHA123426000123 in OOS_INVESTIGATION; it is TESTING",
    );

    let out = result(h, COI, "STER", json!("no growth"), "n/a");
    assert_eq!(status_events(&out)[0].to, batch_status::EVIDENCE_COMPLETE);
    assert!(summary(h, COI).qc_passed, "the passing retest counts");

    // A later failing retest counts too, and is itself OOS.
    let out = retest(h, "VIAB", json!(60), "%", "R1");
    assert_eq!(status_events(&out)[0].to, batch_status::OOS_INVESTIGATION);
    assert!(!summary(h, COI).qc_passed);
}

// ---- deviations and the case ----------------------------------------------------

fn deviations_block_completeness_until_closed(h: &mut impl Harness) {
    opened(h, COI);
    complete(h, COI);
    let dev = |desc: &str| json!([{"coi": COI, "description": desc}]);
    call(h, qc(), "open_deviation", dev("x")).assert_error(400, "open_deviation needs the role QA");
    call(h, caller("CdmoMSP").role("QA"), "open_deviation", dev("x")).assert_error(
        400,
        "open_deviation on batch CHA123426000123 is for SponsorMSP; the caller is from CdmoMSP",
    );
    call(h, qa(), "open_deviation", dev("")).assert_error(400, "description must not be empty");

    let out = call(h, qa(), "open_deviation", dev("label reprinted"));
    let d: Deviation = out.json();
    assert_eq!(d.id, "D1");
    assert_eq!(status_events(&out)[0].to, batch_status::TESTING);

    let hash = batch(h, COI).batch_sha256;
    call(
        h,
        qp(),
        "certify",
        json!([{"coi": COI, "batch_record_sha256": hash}]),
    )
    .assert_error(
        400,
        "batch CHA123426000123 cannot be released: missing open deviations: D1",
    );

    let close =
        |id: &str, reason: &str| json!([{"coi": COI, "deviation_id": id, "reason": reason}]);
    call(h, qa(), "close_deviation", close("D1", "")).assert_error(400, "reason must not be empty");
    call(h, qa(), "close_deviation", close("D9", "x"))
        .assert_error(400, "batch CHA123426000123 has no deviation D9");
    call(
        h,
        caller("CdmoMSP").role("QA"),
        "close_deviation",
        close("D1", "x"),
    )
    .assert_error(400, "is for SponsorMSP");
    let out = call(h, qa(), "close_deviation", close("D1", "reprint verified"));
    let d: Deviation = out.json();
    assert_eq!(d.closure.unwrap().reason, "reprint verified");
    assert_eq!(status_events(&out)[0].to, batch_status::EVIDENCE_COMPLETE);
    call(h, qa(), "close_deviation", close("D1", "again"))
        .assert_error(400, "deviation D1 is already closed");
}

fn an_unclean_case_blocks_until_reevaluated(h: &mut impl Harness) {
    opened(h, COI);
    let mut dirty = case(COI, "QC_PENDING");
    dirty.condition_clean = false;
    dirty.open_deviations = 1;
    seed_case_summary(h, &dirty);
    complete(h, COI);
    assert_eq!(summary(h, COI).status, batch_status::TESTING);
    assert!(summary(h, COI).qc_passed);
    let hash = batch(h, COI).batch_sha256;
    call(h, qp(), "certify", json!([{"coi": COI, "batch_record_sha256": hash}])).assert_error(
        400,
        "missing case not clean: condition record not clean (excursion or missed window), 1 open case deviation(s)",
    );

    // Nothing changed: reevaluate writes nothing.
    let out = call(h, mfg(), "reevaluate", json!([COI]));
    out.assert_ok();
    assert!(out.ns(NS).unwrap().writes.is_empty());
    call(
        h,
        caller("RegulatorMSP").role("AUDITOR"),
        "reevaluate",
        json!([COI]),
    )
    .assert_error(
        400,
        "reevaluate needs the role MFG or QC or QA or QP; the caller has AUDITOR",
    );

    // patient-batch resolves the excursion: reevaluate completes the batch.
    seed_case_summary(h, &case(COI, "QC_PENDING"));
    let out = call(h, mfg(), "reevaluate", json!([COI]));
    assert_eq!(
        out.json::<BatchView>().batch.status,
        batch_status::EVIDENCE_COMPLETE
    );
    assert_eq!(status_events(&out).len(), 1);

    // And the other way when the case goes on hold.
    seed_case_summary(h, &case(COI, "ON_HOLD"));
    let out = call(h, qa(), "reevaluate", json!([COI]));
    assert_eq!(out.json::<BatchView>().batch.status, batch_status::TESTING);
    assert!(status_events(&out)[0]
        .reason
        .contains("case not clean: state is ON_HOLD, not QC_PENDING"));
}

// ---- decisions --------------------------------------------------------------------

fn the_qp_certifies_with_an_e_signature(h: &mut impl Harness) {
    opened(h, COI);
    complete(h, COI);
    let before = batch(h, COI);
    let stored = h.get_state(NS, &batch_key(COI).unwrap()).unwrap();
    assert_eq!(
        before.batch_sha256,
        cellchain_chaincode_harness::sha256(&stored).to_hex(),
        "the hash shown is the hash of the stored record"
    );
    h.advance_time(600);
    let out = call(
        h,
        qp(),
        "certify",
        json!([{"coi": COI, "batch_record_sha256": before.batch_sha256}]),
    );
    let view: BatchView = out.json();
    assert_eq!(view.batch.status, batch_status::RELEASED);
    assert_eq!(view.decision.status, batch_status::RELEASED);
    let sig = view.decision.signature.clone().unwrap();
    assert_eq!(sig.signer, "qualified-person");
    assert_eq!(sig.msp_id, "SponsorMSP");
    assert_eq!(sig.meaning, meaning::RELEASED);
    assert_eq!(sig.signed_at, h.timestamp());
    assert_eq!(sig.record_sha256, before.batch_sha256);
    assert_eq!(view.signatures.len(), 2);
    assert_eq!(status_events(&out)[0].to, batch_status::RELEASED);
    assert!(summary(h, COI).is_released());
    // The decision record was written (its key carries the policy since opening).
    let written: Vec<&str> = out
        .ns(NS)
        .unwrap()
        .writes
        .iter()
        .map(|w| w.key.as_str())
        .collect();
    assert!(written.contains(&decision_key(COI).unwrap().as_str()));

    // Final.
    result(h, COI, "VCN", json!(1), "copies/cell")
        .assert_error(400, "batch CHA123426000123 is RELEASED, a final status");
}

fn certification_refusals(h: &mut impl Harness) {
    opened(h, COI);
    let hash = batch(h, COI).batch_sha256;
    let certify = |hash: &str| json!([{"coi": COI, "batch_record_sha256": hash}]);
    call(h, qp(), "certify", certify(&hash)).assert_error(
        400,
        "missing tests not passed: VIAB (no result), STER (no result)",
    );
    complete(h, COI);
    call(h, qp(), "certify", certify(&hash)).assert_error(400, "it changed since you reviewed it");
    let hash = batch(h, COI).batch_sha256;
    call(h, qa(), "certify", certify(&hash)).assert_error(400, "certify needs the role QP");
    call(h, caller("CdmoMSP").role("QP"), "certify", certify(&hash))
        .assert_error(400, "certify on batch CHA123426000123 is for SponsorMSP");
    call(h, qp(), "certify", certify("abc"))
        .assert_error(400, "batch_record_sha256 must be a SHA-256");
    // An OOS result blocks certification whatever else is complete.
    result(h, COI, "VCN", json!(99), "copies/cell").assert_ok();
    let hash = batch(h, COI).batch_sha256;
    call(h, qp(), "certify", certify(&hash)).assert_error(
        400,
        "certify needs batch CHA123426000123 in EVIDENCE_COMPLETE; it is OOS_INVESTIGATION",
    );
}

fn an_oos_batch_is_rejected_with_a_signature(h: &mut impl Harness) {
    opened(h, COI);
    result(h, COI, "STER", json!("growth"), "n/a").assert_ok();
    let hash = batch(h, COI).batch_sha256;
    let reject = |reason: &str, hash: &str| json!([{"coi": COI, "reason": reason, "batch_record_sha256": hash}]);
    call(h, qc(), "reject", reject("x", &hash)).assert_error(400, "reject needs the role QA or QP");
    call(h, qa(), "reject", reject(" ", &hash)).assert_error(400, "reason must not be empty");
    let out = call(
        h,
        qa(),
        "reject",
        reject("sterility failure confirmed", &hash),
    );
    let view: BatchView = out.json();
    assert_eq!(view.batch.status, batch_status::REJECTED);
    let sig = view.decision.signature.unwrap();
    assert_eq!(sig.meaning, meaning::REJECTED);
    assert_eq!(sig.signer, "qa-reviewer");
    assert_eq!(
        view.decision.reason.as_deref(),
        Some("sterility failure confirmed")
    );
    assert_eq!(
        status_events(&out)[0],
        BatchStatusChanged {
            coi: COI.into(),
            from: Some(batch_status::OOS_INVESTIGATION.into()),
            to: batch_status::REJECTED.into(),
            reason: "sterility failure confirmed".into()
        }
    );
    let s = summary(h, COI);
    assert!(!s.is_released());
    let hash = batch(h, COI).batch_sha256;
    call(h, qp(), "reject", reject("again", &hash))
        .assert_error(400, "batch CHA123426000123 is REJECTED, a final status");
}

fn an_oos_batch_is_exceptionally_released_with_request_and_risk_hashes(h: &mut impl Harness) {
    opened(h, COI);
    opened(h, COI2);
    result(h, COI, "VIAB", json!(62), "%").assert_ok();
    let physician = "a".repeat(64);
    let risk = "b".repeat(64);
    let args = |hash: &str, coi: &str, physician: &str| {
        json!([{"coi": coi, "reason": "no alternative therapy; physician request",
                "physician_request_sha256": physician,
                "risk_assessment_sha256": "b".repeat(64),
                "batch_record_sha256": hash}])
    };
    // STER has no result yet: an exception covers a failure, not a gap.
    let hash = batch(h, COI).batch_sha256;
    call(h, qp(), "exceptional_release", args(&hash, COI, &physician))
        .assert_error(400, "missing tests not passed: STER (no result)");
    call(h, qp(), "exceptional_release", args(&hash, COI, "zz"))
        .assert_error(400, "physician_request_sha256 must be a SHA-256");
    call(h, qa(), "exceptional_release", args(&hash, COI, &physician))
        .assert_error(400, "exceptional_release needs the role QP");
    let hash2 = batch(h, COI2).batch_sha256;
    call(
        h,
        qp(),
        "exceptional_release",
        args(&hash2, COI2, &physician),
    )
    .assert_error(
        400,
        "exceptional_release needs batch CHA123426000124 in OOS_INVESTIGATION; it is TESTING",
    );

    result(h, COI, "STER", json!("no growth"), "n/a").assert_ok();
    let hash = batch(h, COI).batch_sha256;
    let out = call(h, qp(), "exceptional_release", args(&hash, COI, &physician));
    let view: BatchView = out.json();
    assert_eq!(view.batch.status, batch_status::EXCEPTIONAL_RELEASE);
    assert_eq!(
        view.decision.physician_request_sha256.as_deref(),
        Some(physician.as_str())
    );
    assert_eq!(
        view.decision.risk_assessment_sha256.as_deref(),
        Some(risk.as_str())
    );
    let sig = view.decision.signature.unwrap();
    assert_eq!(sig.meaning, meaning::EXCEPTIONALLY_RELEASED);
    assert_eq!(sig.record_sha256, hash);
    let s = summary(h, COI);
    assert!(s.is_released());
    assert!(!s.qc_passed, "released by exception, not because QC passed");
}

fn queries_read_without_writing(h: &mut impl Harness) {
    h.evaluate(NS, "get_batch", json!([COI]))
        .assert_error(400, "no batch for CHA123426000123: open it first");
    h.evaluate(NS, "get_spec", json!([PRODUCT, 1]))
        .assert_error(400, "product CART-19 has no specification version 1");
    opened(h, COI);
    complete(h, COI);
    let out = h.evaluate(NS, "get_batch", json!([COI]));
    assert!(out.rwset.is_read_only());
    let view: BatchView = out.json();
    assert_eq!(view.batch.results.len(), 2);
    assert_eq!(view.summary, summary(h, COI));
    let out = h.evaluate(
        NS,
        "get_spec",
        json!({"product_code": PRODUCT, "version": 1}),
    );
    assert!(out.rwset.is_read_only());
    assert_eq!(out.json::<SpecView>().spec.tests.len(), 3);
}

#[test]
fn metadata_lists_the_transactions_and_marks_queries() {
    let m = native().metadata(NS);
    let flags: Vec<(&str, bool)> = m
        .functions
        .iter()
        .map(|f| (f.name.as_str(), f.evaluate))
        .collect();
    assert_eq!(
        flags,
        [
            ("create_spec", false),
            ("approve_spec", false),
            ("open_batch", false),
            ("record_result", false),
            ("open_deviation", false),
            ("close_deviation", false),
            ("reevaluate", false),
            ("certify", false),
            ("reject", false),
            ("exceptional_release", false),
            ("close_oos_investigation", false),
            ("get_batch", true),
            ("get_spec", true),
        ]
    );
}

#[test]
fn the_release_policy_names_both_organisations_once() {
    use crate::contract::release_policy;
    assert_eq!(release_policy("CdmoMSP", "SponsorMSP"), POLICY);
    assert_eq!(
        release_policy("SponsorMSP", "SponsorMSP"),
        "AND('SponsorMSP.peer')"
    );
}
