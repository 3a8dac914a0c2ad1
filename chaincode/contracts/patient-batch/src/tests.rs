//! Every transition and every refusal of patient-batch, each scenario run by
//! `both!` natively (`<name>::native`) and as the built .wasm in the
//! endorser's runtime (`<name>::wasm`).
//!
//! Release's [`BatchSummary`] is seeded into the harness state directly
//! (`seed_batch_summary`, through `Harness::put_state`), so the release
//! decision is tested without the release contract.

use cellchain_chaincode_harness::{
    both, caller, CallerBuilder, Harness, Invocation, NativeHarness, Outcome, WasmHarness,
};
use serde_json::{json, Value};
use therapy_common::ids::{din_check_character, gs1_check_digit};
use therapy_common::{
    batch_status, batch_summary_key, case_summary_key, BatchSummary, CaseSummary, PATIENT_BATCH,
    RELEASE,
};

use crate::msg::{CaseStateChanged, CaseView, DeviationEvent, HandoverEvent};
use crate::state::{site_state_key, Case, DeviationKind, ProductConfig, State};
use crate::PatientBatch;

const NS: &str = PATIENT_BATCH;
const COI: &str = "CHA123426000123";
const COI2: &str = "CHA123426000124";
const PSEUDONYM: &str = "3f2a9c1b7e4d60a58b9c0d1e2f3a4b5c";
const PRODUCT: &str = "CART-19";
const SHA: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
const SITE: &str = "HospitalAMSP";
const MFG: &str = "CdmoMSP";
const COURIER: &str = "CourierMSP";

fn native() -> NativeHarness {
    let mut h = NativeHarness::new();
    h.deploy::<PatientBatch>(NS);
    h
}

fn wasm() -> WasmHarness {
    let mut h = WasmHarness::new();
    h.deploy_crate(NS, env!("CARGO_MANIFEST_DIR"));
    h
}

// ---- the people ------------------------------------------------------------------

fn qa() -> CallerBuilder {
    caller("SponsorMSP").role("QA").common_name("qa-reviewer")
}
fn qp() -> CallerBuilder {
    caller("SponsorMSP")
        .role("QP")
        .common_name("qualified-person")
}
fn clin() -> CallerBuilder {
    caller(SITE).role("SITE_CLIN").common_name("clinician")
}
fn aph() -> CallerBuilder {
    caller(SITE).role("APHERESIS").common_name("apheresis")
}
fn mfg() -> CallerBuilder {
    caller(MFG).role("MFG").common_name("manufacturing")
}
fn courier() -> CallerBuilder {
    caller(COURIER).role("COURIER").common_name("courier")
}
fn auditor() -> CallerBuilder {
    caller("RegulatorMSP")
        .role("AUDITOR")
        .common_name("inspector")
}

// ---- identifiers -------------------------------------------------------------------

fn din(seq: u32) -> String {
    let base = format!("A123426{seq:06}");
    format!("{base}00{}", din_check_character(&base))
}

fn sscc(serial: u64) -> String {
    let data = format!("00614141{serial:09}");
    format!("{data}{}", gs1_check_digit(&data).unwrap())
}

// ---- calls -----------------------------------------------------------------------------

fn call(h: &mut impl Harness, who: CallerBuilder, function: &str, args: Value) -> Outcome {
    h.submit_with(Invocation::new(NS, function, args).caller(who))
}

#[track_caller]
fn ok(h: &mut impl Harness, who: CallerBuilder, function: &str, args: Value) -> Case {
    call(h, who, function, args).json()
}

/// Asserts a refusal with `fragment` in its message, and that it wrote nothing.
#[track_caller]
fn refused(h: &mut impl Harness, who: CallerBuilder, function: &str, args: Value, fragment: &str) {
    let height = h.height();
    let out = call(h, who, function, args);
    out.assert_error(400, fragment);
    assert!(out.rwset.is_read_only(), "{function} wrote on refusal");
    assert_eq!(h.height(), height);
}

fn step(coi: &str) -> Value {
    json!([{ "coi": coi }])
}

fn reason(coi: &str, reason: &str) -> Value {
    json!([{ "coi": coi, "reason": reason }])
}

fn view(h: &mut impl Harness, coi: &str) -> CaseView {
    h.evaluate(NS, "get_case", json!([coi])).json()
}

fn summary(h: &impl Harness, coi: &str) -> CaseSummary {
    h.get_state_json(NS, &case_summary_key(coi)).unwrap()
}

fn product_request(spec_version: u32) -> Value {
    json!([{
        "product_code": PRODUCT,
        "spec_version": spec_version,
        "manufacturer_msps": [MFG],
        "routes": [
            {"route": "to_manufacturing", "range": {"min_c": 2.0, "max_c": 8.0}},
            {"route": "to_site", "range": {"max_c": -150.0}}
        ],
        "collection_to_receipt_max_hours": 48,
        "thaw_to_infusion_max_minutes": 30,
        "reason": "CC-2026-001 initial configuration"
    }])
}

/// Seeds release's batch summary as if the release contract had written it.
fn seed_batch_summary(h: &mut impl Harness, coi: &str, status: &str, spec_version: u32) {
    let summary = BatchSummary {
        coi: coi.to_string(),
        status: status.to_string(),
        spec_version,
        qc_passed: status != batch_status::REJECTED,
    };
    h.put_state(
        RELEASE,
        &batch_summary_key(coi),
        &serde_json::to_vec(&summary).unwrap(),
    );
}

// ---- the path, step by step ------------------------------------------------------------

fn configure(h: &mut impl Harness) -> ProductConfig {
    call(h, qa(), "configure_product", product_request(1)).json()
}

fn order(h: &mut impl Harness, coi: &str) -> Case {
    ok(
        h,
        clin(),
        "create_case",
        json!([{"coi": coi, "pseudonym": PSEUDONYM, "product_code": PRODUCT, "manufacturer_msp": MFG}]),
    )
}

fn condition(coi: &str, logger: &str, min: f64, max: f64) -> Value {
    json!([{
        "coi": coi, "logger_id": logger,
        "min_c": min, "max_c": max, "mean_c": (min + max) / 2.0, "count": 120,
        "first_reading": "2026-01-01T00:00:00Z", "last_reading": "2026-01-01T00:00:00Z",
        "logger_file_sha256": SHA
    }])
}

/// Runs the happy path for `coi` until the case is in `target`.
fn advance_to(h: &mut impl Harness, coi: &str, target: State) -> Case {
    let seq = coi[9..].parse::<u32>().unwrap();
    let path = [
        State::Ordered,
        State::SlotConfirmed,
        State::Collected,
        State::InTransitToMfg,
        State::ReceivedAtMfg,
        State::InManufacturing,
        State::QcPending,
        State::Released,
        State::InTransitToSite,
        State::ReceivedAtSite,
        State::Thawed,
        State::Infused,
    ];
    let mut case = order(h, coi);
    for next in path.into_iter().skip(1) {
        if case.state == target {
            break;
        }
        h.advance_time(600);
        case = match next {
            State::SlotConfirmed => ok(h, mfg(), "confirm_slot", step(coi)),
            State::Collected => ok(
                h,
                aph(),
                "record_collection",
                json!([{"coi": coi, "din": din(seq)}]),
            ),
            State::InTransitToMfg => {
                ok(
                    h,
                    clin(),
                    "propose_handover",
                    json!([{"coi": coi, "to_msp": COURIER, "shipment":
                        {"sscc": sscc(u64::from(seq)), "logger_id": "LOG-IN", "route": "to_manufacturing"}}]),
                );
                ok(h, courier(), "accept_handover", step(coi))
            }
            State::ReceivedAtMfg => {
                ok(
                    h,
                    courier(),
                    "record_shipment_condition",
                    condition(coi, "LOG-IN", 3.1, 6.4),
                );
                ok(
                    h,
                    courier(),
                    "propose_handover",
                    json!([{"coi": coi, "to_msp": MFG}]),
                );
                ok(h, mfg(), "accept_handover", step(coi))
            }
            State::InManufacturing => ok(h, mfg(), "start_manufacturing", step(coi)),
            State::QcPending => ok(
                h,
                mfg(),
                "complete_manufacturing",
                json!([{"coi": coi, "document_sha256": SHA}]),
            ),
            State::Released => {
                seed_batch_summary(h, coi, batch_status::RELEASED, 1);
                ok(h, qp(), "record_release_decision", step(coi))
            }
            State::InTransitToSite => {
                ok(
                    h,
                    mfg(),
                    "propose_handover",
                    json!([{"coi": coi, "to_msp": COURIER, "shipment":
                        {"sscc": sscc(1000 + u64::from(seq)), "logger_id": "LOG-OUT", "route": "to_site"}}]),
                );
                ok(h, courier(), "accept_handover", step(coi))
            }
            State::ReceivedAtSite => {
                ok(
                    h,
                    courier(),
                    "record_shipment_condition",
                    condition(coi, "LOG-OUT", -185.0, -170.0),
                );
                ok(
                    h,
                    courier(),
                    "propose_handover",
                    json!([{"coi": coi, "to_msp": SITE}]),
                );
                ok(h, clin(), "accept_handover", step(coi))
            }
            State::Thawed => ok(h, clin(), "record_thaw", step(coi)),
            State::Infused => ok(
                h,
                clin(),
                "record_infusion",
                json!([{"coi": coi, "scanned_coi": coi, "scanned_din": din(seq)}]),
            ),
            _ => unreachable!(),
        };
        assert_eq!(case.state, next);
    }
    assert_eq!(case.state, target, "the happy path does not reach {target}");
    case
}

/// A configured product and a case in `target`.
fn setup(h: &mut impl Harness, target: State) -> Case {
    configure(h);
    advance_to(h, COI, target)
}

both!(
    products_are_versioned_and_cases_keep_theirs,
    product_configuration_is_checked,
    the_full_path_from_order_to_infusion,
    every_change_writes_summary_index_and_events,
    create_case_refuses_bad_requests,
    each_operation_checks_role_and_organisation,
    illegal_transitions_name_the_state_and_what_was_expected,
    collections_check_the_din_and_recollection_keeps_the_old_one,
    custody_moves_only_by_two_party_handover,
    handover_proposals_are_checked,
    reject_and_cancel_leave_custody_where_it_was,
    excursion_puts_the_case_on_hold_until_qa_closes_it,
    condition_records_are_checked,
    collection_to_receipt_breach_is_a_deviation,
    thaw_to_infusion_breach_is_a_deviation,
    bedside_mismatch_fails_and_writes_nothing,
    event_times_in_the_future_or_back_dated_are_refused,
    release_decision_follows_the_release_contract,
    auditors_read_and_never_write,
    cancel_destroy_and_reported_deviations,
    corrections_are_new_events,
    queries_find_cases_and_refuse_unknown_ones,
);

fn products_are_versioned_and_cases_keep_theirs(h: &mut impl Harness) {
    let v1 = configure(h);
    assert_eq!((v1.version, v1.spec_version), (1, 1));
    assert_eq!(v1.sponsor_msp, "SponsorMSP");
    order(h, COI);
    let v2: ProductConfig = call(h, qa(), "configure_product", product_request(2)).json();
    assert_eq!((v2.version, v2.spec_version), (2, 2));
    // The existing case keeps version 1; a new one gets version 2.
    let old = view(h, COI).case;
    assert_eq!((old.product_version, old.spec_version), (1, 1));
    let new = order(h, COI2);
    assert_eq!((new.product_version, new.spec_version), (2, 2));
    let current: ProductConfig = h.evaluate(NS, "get_product", json!([PRODUCT, null])).json();
    assert_eq!(current, v2);
    let first: ProductConfig = h.evaluate(NS, "get_product", json!([PRODUCT, 1])).json();
    assert_eq!(first, v1);
    h.evaluate(NS, "get_product", json!([PRODUCT, 7]))
        .assert_error(400, "product CART-19 has no configuration version 7");
    h.evaluate(NS, "get_product", json!(["NOPE", null]))
        .assert_error(400, "product NOPE is not configured");
    // Only the sponsor's QA configures further versions.
    refused(
        h,
        caller("OtherSponsorMSP").role("QA"),
        "configure_product",
        product_request(3),
        "only the product's sponsor (SponsorMSP) may do this; the caller is from OtherSponsorMSP",
    );
    refused(
        h,
        mfg(),
        "configure_product",
        product_request(3),
        "configure_product needs role QA ; the caller has MFG",
    );
}

fn product_configuration_is_checked(h: &mut impl Harness) {
    let mut bad = product_request(1);
    bad[0]["routes"] = json!([{"route": "to_site", "range": {"max_c": -150.0}}]);
    refused(
        h,
        qa(),
        "configure_product",
        bad,
        "exactly one range for route to_manufacturing (got 0)",
    );
    let mut bad = product_request(1);
    bad[0]["routes"][0]["range"] = json!({"min_c": 8.0, "max_c": 2.0});
    refused(
        h,
        qa(),
        "configure_product",
        bad,
        "min_c 8 is above max_c 2",
    );
    let mut bad = product_request(1);
    bad[0]["manufacturer_msps"] = json!([]);
    refused(
        h,
        qa(),
        "configure_product",
        bad,
        "at least one manufacturer",
    );
    let mut bad = product_request(1);
    bad[0]["reason"] = json!(" ");
    refused(
        h,
        qa(),
        "configure_product",
        bad,
        "invalid reason: it is required",
    );
    let mut bad = product_request(1);
    bad[0]["thaw_to_infusion_max_minutes"] = json!(0);
    refused(h, qa(), "configure_product", bad, "longer than 0");
    let mut bad = product_request(1);
    bad[0]["colour"] = json!("blue");
    refused(h, qa(), "configure_product", bad, "unknown field `colour`");
}

fn the_full_path_from_order_to_infusion(h: &mut impl Harness) {
    let case = setup(h, State::Infused);
    assert_eq!(case.custodian_msp, SITE);
    assert_eq!(case.current_din(), Some(din(123).as_str()));
    assert!(case.deviations.is_empty());
    assert_eq!(case.conditions.len(), 2);
    assert!(case.conditions.iter().all(|c| !c.excursion));
    let v = view(h, COI);
    // Every change is an event, in order; states chain without gaps.
    let ops: Vec<&str> = v
        .timeline
        .iter()
        .map(|e| e.what.operation.as_str())
        .collect();
    assert_eq!(
        ops,
        [
            "create_case",
            "confirm_slot",
            "record_collection",
            "propose_handover",
            "accept_handover",
            "record_shipment_condition",
            "propose_handover",
            "accept_handover",
            "start_manufacturing",
            "complete_manufacturing",
            "record_release_decision",
            "propose_handover",
            "accept_handover",
            "record_shipment_condition",
            "propose_handover",
            "accept_handover",
            "record_thaw",
            "record_infusion",
        ]
    );
    for (i, e) in v.timeline.iter().enumerate() {
        assert_eq!(e.seq, i as u64);
        if i > 0 {
            assert_eq!(e.state_before, v.timeline[i - 1].state_after);
            assert!(e.when.event_time >= v.timeline[i - 1].when.event_time);
        }
        assert_eq!(e.what.ids[0], format!("coi:{COI}"));
    }
    let collect = &v.timeline[2];
    assert_eq!(collect.who.common_name, "apheresis");
    assert_eq!(collect.who.role.as_deref(), Some("APHERESIS"));
    assert_eq!(collect.what.ids[1], format!("din:{}", din(123)));
    let receipt = &v.timeline[7];
    assert_eq!(
        (receipt.state_before, receipt.state_after),
        (State::InTransitToMfg, State::ReceivedAtMfg)
    );
    assert_eq!(receipt.custodian_after, MFG);
    assert_eq!(receipt.why.biz_step, "receiving");
    let infusion = v.timeline.last().unwrap();
    assert_eq!(infusion.why.disposition, "dispensed");
    assert_eq!(v.custodian_msp, SITE);
    assert!(v.pending_handover.is_none());
    let s = summary(h, COI);
    assert_eq!(s.state, "INFUSED");
    assert!(s.custody_clean && s.condition_clean);
    assert_eq!(s.open_deviations, 0);
    assert_eq!(s.pseudonym, PSEUDONYM);
}

fn every_change_writes_summary_index_and_events(h: &mut impl Harness) {
    configure(h);
    let out = call(
        h,
        clin(),
        "create_case",
        json!([{"coi": COI, "pseudonym": PSEUDONYM, "product_code": PRODUCT, "manufacturer_msp": MFG,
                "event_time": "2025-12-31T18:55:00-05:00",
                "location": {"read_point": "urn:epc:id:sgln:0614141.00001.0"}}]),
    );
    let case: Case = out.json();
    assert_eq!(case.site_msp, SITE);
    assert_eq!(case.custodian_msp, SITE);
    let created: CaseStateChanged = serde_json::from_slice(&out.events[0].payload).unwrap();
    assert_eq!(out.events[0].name, "CaseStateChanged");
    assert_eq!((created.from, created.to), (None, State::Ordered));
    let next = created.next.unwrap();
    assert_eq!(
        (next.msp_id.as_str(), next.operation.as_str()),
        (MFG, "confirm_slot")
    );
    let e = &view(h, COI).timeline[0];
    assert_eq!(e.when.event_time_zone_offset, "-05:00");
    assert_eq!(e.when.record_time, h.timestamp());
    assert_eq!(
        e.where_.read_point.as_deref(),
        Some("urn:epc:id:sgln:0614141.00001.0")
    );
    let summary_key = case_summary_key(COI);
    let s = summary(h, COI);
    assert_eq!(
        (s.state.as_str(), s.custodian_msp.as_str()),
        ("ORDERED", SITE)
    );
    assert_eq!(s.din, None);

    let out = call(h, mfg(), "confirm_slot", step(COI));
    out.assert_ok();
    let rw = out.ns(NS).unwrap();
    let deleted: Vec<&str> = rw
        .writes
        .iter()
        .filter(|w| w.is_delete)
        .map(|w| w.key.as_str())
        .collect();
    let old = site_state_key(SITE, State::Ordered, COI).unwrap();
    let new = site_state_key(SITE, State::SlotConfirmed, COI).unwrap();
    assert_eq!(deleted, [old.as_str()]);
    assert!(rw.writes.iter().any(|w| w.key == new && !w.is_delete));
    assert!(rw.writes.iter().any(|w| w.key == summary_key));
    assert_eq!(summary(h, COI).state, "SLOT_CONFIRMED");
    let changed: CaseStateChanged = serde_json::from_slice(&out.events[0].payload).unwrap();
    assert_eq!(
        (changed.from, changed.to),
        (Some(State::Ordered), State::SlotConfirmed)
    );
    assert_eq!(changed.next.unwrap().roles, ["APHERESIS"]);
    let in_state: Vec<Case> = h
        .evaluate(
            NS,
            "cases_by_site_and_state",
            json!([SITE, "SLOT_CONFIRMED"]),
        )
        .json();
    assert_eq!(in_state.len(), 1);
    let before: Vec<Case> = h
        .evaluate(NS, "cases_by_site_and_state", json!([SITE, "ORDERED"]))
        .json();
    assert!(before.is_empty());
}

fn create_case_refuses_bad_requests(h: &mut impl Harness) {
    configure(h);
    let req = |coi: &str, pseudonym: &str, product: &str, mfg_msp: &str| json!([{"coi": coi, "pseudonym": pseudonym, "product_code": product, "manufacturer_msp": mfg_msp}]);
    refused(
        h,
        clin(),
        "create_case",
        req("CHA1234 26 000123", PSEUDONYM, PRODUCT, MFG),
        "invalid COI",
    );
    refused(
        h,
        clin(),
        "create_case",
        req(COI, "Jane Doe 1970-01-01", PRODUCT, MFG),
        "invalid pseudonym: the pseudonym must be exactly 32 lower-case hex",
    );
    refused(
        h,
        clin(),
        "create_case",
        req(COI, PSEUDONYM, "CART-99", MFG),
        "product CART-99 is not configured",
    );
    refused(
        h,
        clin(),
        "create_case",
        req(COI, PSEUDONYM, PRODUCT, "GarageLabMSP"),
        "GarageLabMSP may not manufacture CART-19; allowed: CdmoMSP",
    );
    refused(
        h,
        aph(),
        "create_case",
        req(COI, PSEUDONYM, PRODUCT, MFG),
        "create_case needs role SITE_CLIN ; the caller has APHERESIS",
    );
    refused(
        h,
        caller(SITE),
        "create_case",
        req(COI, PSEUDONYM, PRODUCT, MFG),
        "the caller has no role attribute",
    );
    order(h, COI);
    refused(
        h,
        caller("HospitalBMSP").role("SITE_CLIN"),
        "create_case",
        req(COI, PSEUDONYM, PRODUCT, MFG),
        "case CHA123426000123 already exists (site HospitalAMSP, state ORDERED)",
    );
}

fn each_operation_checks_role_and_organisation(h: &mut impl Harness) {
    let other_cdmo = || caller("OtherCdmoMSP").role("MFG");
    let site_b = |role: &str| caller("HospitalBMSP").role(role);
    configure(h);
    order(h, COI);
    refused(
        h,
        other_cdmo(),
        "confirm_slot",
        step(COI),
        "only the case's manufacturer (CdmoMSP) may do this; the caller is from OtherCdmoMSP",
    );
    refused(
        h,
        clin(),
        "confirm_slot",
        step(COI),
        "confirm_slot needs role MFG ; the caller has SITE_CLIN",
    );
    refused(
        h,
        site_b("SITE_CLIN"),
        "cancel_case",
        reason(COI, "x"),
        "only the treating site (HospitalAMSP)",
    );
    ok(h, mfg(), "confirm_slot", step(COI));
    let collect = json!([{"coi": COI, "din": din(123)}]);
    refused(
        h,
        site_b("APHERESIS"),
        "record_collection",
        collect.clone(),
        "only the treating site (HospitalAMSP) may do this; the caller is from HospitalBMSP",
    );
    refused(
        h,
        clin(),
        "record_collection",
        collect.clone(),
        "record_collection needs role APHERESIS ; the caller has SITE_CLIN",
    );
    ok(h, aph(), "record_collection", collect);
    let case = advance_to(h, COI2, State::ReceivedAtMfg);
    refused(
        h,
        other_cdmo(),
        "start_manufacturing",
        step(&case.coi),
        "only the case's manufacturer",
    );
    refused(
        h,
        qa(),
        "start_manufacturing",
        step(&case.coi),
        "needs role MFG",
    );
    refused(
        h,
        courier(),
        "request_recollection",
        reason(&case.coi, "x"),
        "needs role MFG or SITE_CLIN",
    );
    advance_to(h, "CHA123426000125", State::ReceivedAtSite);
    refused(
        h,
        site_b("SITE_CLIN"),
        "record_thaw",
        step("CHA123426000125"),
        "only the treating site (HospitalAMSP)",
    );
    refused(
        h,
        aph(),
        "record_thaw",
        step("CHA123426000125"),
        "record_thaw needs role SITE_CLIN",
    );
    refused(
        h,
        caller("OtherSponsorMSP").role("QA"),
        "report_deviation",
        json!([{"coi": COI, "kind": "OTHER", "description": "x", "hold": true}]),
        "only the product's sponsor (SponsorMSP)",
    );
}

fn illegal_transitions_name_the_state_and_what_was_expected(h: &mut impl Harness) {
    setup(h, State::Ordered);
    refused(
        h,
        aph(),
        "record_collection",
        json!([{"coi": COI, "din": din(123)}]),
        "record_collection is not allowed for case CHA123426000123 in state ORDERED; it needs state SLOT_CONFIRMED",
    );
    refused(
        h,
        mfg(),
        "start_manufacturing",
        step(COI),
        "in state ORDERED; it needs state RECEIVED_AT_MFG",
    );
    refused(
        h,
        clin(),
        "record_thaw",
        step(COI),
        "it needs state RECEIVED_AT_SITE",
    );
    refused(
        h,
        clin(),
        "propose_handover",
        json!([{"coi": COI, "to_msp": COURIER}]),
        "it needs state COLLECTED, IN_TRANSIT_TO_MFG, RELEASED, IN_TRANSIT_TO_SITE",
    );
    refused(
        h,
        mfg(),
        "complete_manufacturing",
        step(COI),
        "it needs state IN_MANUFACTURING",
    );
    refused(
        h,
        qp(),
        "record_release_decision",
        step(COI),
        "it needs state QC_PENDING",
    );
    refused(
        h,
        mfg(),
        "request_recollection",
        reason(COI, "x"),
        "it needs state COLLECTED, RECEIVED_AT_MFG, IN_MANUFACTURING, QC_PENDING, REJECTED",
    );
    refused(
        h,
        clin(),
        "accept_handover",
        step(COI),
        "case CHA123426000123 has no pending handover",
    );
    // The error is typed: the exact variant, with the state and what was expected.
    let e = crate::error::CaseError::IllegalTransition {
        coi: COI.into(),
        operation: "record_thaw",
        state: State::Ordered,
        expected: vec![State::ReceivedAtSite],
    };
    assert_eq!(
        e.to_string(),
        "record_thaw is not allowed for case CHA123426000123 in state ORDERED; it needs state RECEIVED_AT_SITE"
    );
}

fn collections_check_the_din_and_recollection_keeps_the_old_one(h: &mut impl Harness) {
    setup(h, State::SlotConfirmed);
    let mut bad = din(123);
    bad.pop();
    bad.push(if din(123).ends_with('0') { '1' } else { '0' });
    refused(
        h,
        aph(),
        "record_collection",
        json!([{"coi": COI, "din": bad}]),
        "invalid DIN",
    );
    refused(
        h,
        aph(),
        "record_collection",
        json!([{"coi": COI, "din": "A12342600012300"}]),
        "exactly 16",
    );
    // Up to receipt at manufacturing, then the material turns out unusable.
    let case = advance_to(h, COI2, State::ReceivedAtMfg);
    assert_eq!(case.current_din(), Some(din(124).as_str()));
    // A DIN belongs to one case only.
    refused(
        h,
        aph(),
        "record_collection",
        json!([{"coi": COI, "din": din(124)}]),
        "DIN A12342600012400",
    );
    let case = ok(
        h,
        mfg(),
        "request_recollection",
        reason(COI2, "cell count below minimum"),
    );
    assert_eq!(case.state, State::Recollect);
    assert_eq!(summary(h, COI2).din, None);
    ok(h, mfg(), "confirm_slot", step(COI2));
    refused(
        h,
        aph(),
        "record_collection",
        json!([{"coi": COI2, "din": din(124)}]),
        "is already used by case CHA123426000124",
    );
    let case = ok(
        h,
        aph(),
        "record_collection",
        json!([{"coi": COI2, "din": din(500)}]),
    );
    assert_eq!(case.state, State::Collected);
    assert_eq!(case.custodian_msp, SITE);
    assert_eq!(case.collections.len(), 2);
    assert!(!case.collections[0].current);
    assert_eq!(case.collections[0].din, din(124));
    assert_eq!(case.current_din(), Some(din(500).as_str()));
    assert_eq!(summary(h, COI2).din, Some(din(500)));
}

fn custody_moves_only_by_two_party_handover(h: &mut impl Harness) {
    setup(h, State::Collected);
    let shipment = json!({"sscc": sscc(7), "logger_id": "LOG-IN", "route": "to_manufacturing"});
    // Only the custodian proposes.
    refused(
        h,
        courier(),
        "propose_handover",
        json!([{"coi": COI, "to_msp": COURIER, "shipment": shipment}]),
        "propose_handover needs role SITE_CLIN or APHERESIS ; the caller has COURIER",
    );
    refused(
        h,
        caller("HospitalBMSP").role("SITE_CLIN"),
        "propose_handover",
        json!([{"coi": COI, "to_msp": COURIER, "shipment": shipment}]),
        "only the current custodian (HospitalAMSP) may do this; the caller is from HospitalBMSP",
    );
    let out = call(
        h,
        clin(),
        "propose_handover",
        json!([{"coi": COI, "to_msp": COURIER, "shipment": shipment}]),
    );
    let case: Case = out.json();
    assert_eq!(case.state, State::Collected);
    assert_eq!(case.custodian_msp, SITE);
    let proposed = out
        .events
        .iter()
        .find(|e| e.name == "HandoverProposed")
        .unwrap();
    let proposed: HandoverEvent = serde_json::from_slice(&proposed.payload).unwrap();
    assert_eq!(
        (proposed.from_msp.as_str(), proposed.to_msp.as_str()),
        (SITE, COURIER)
    );
    assert_eq!(proposed.shipment.unwrap().sscc, sscc(7));
    let s = summary(h, COI);
    assert!(!s.custody_clean, "a pending handover is not clean custody");
    assert_eq!(view(h, COI).pending_handover.unwrap().to_msp, COURIER);
    // Only one pending handover.
    refused(
        h,
        clin(),
        "propose_handover",
        json!([{"coi": COI, "to_msp": "OtherCourierMSP", "shipment": shipment}]),
        "already has a handover pending from HospitalAMSP to CourierMSP",
    );
    // Only the named receiver accepts.
    refused(
        h,
        caller("OtherCourierMSP").role("COURIER"),
        "accept_handover",
        step(COI),
        "only the named receiver (CourierMSP) may do this; the caller is from OtherCourierMSP",
    );
    refused(
        h,
        caller(COURIER).role("MFG"),
        "accept_handover",
        step(COI),
        "needs role COURIER",
    );
    let case = ok(h, courier(), "accept_handover", step(COI));
    assert_eq!(
        (case.state, case.custodian_msp.as_str()),
        (State::InTransitToMfg, COURIER)
    );
    assert!(summary(h, COI).custody_clean);
    // The site no longer holds it.
    refused(
        h,
        clin(),
        "propose_handover",
        json!([{"coi": COI, "to_msp": MFG}]),
        "needs role COURIER ; the caller has SITE_CLIN",
    );
    // Courier relay: custody moves, the state stays, the shipment goes on.
    ok(
        h,
        courier(),
        "propose_handover",
        json!([{"coi": COI, "to_msp": "RelayCourierMSP"}]),
    );
    let case = ok(
        h,
        caller("RelayCourierMSP").role("COURIER"),
        "accept_handover",
        step(COI),
    );
    assert_eq!(
        (case.state, case.custodian_msp.as_str()),
        (State::InTransitToMfg, "RelayCourierMSP")
    );
    // The shipment ends only once its condition is on record.
    let relay = || caller("RelayCourierMSP").role("COURIER");
    ok(
        h,
        relay(),
        "propose_handover",
        json!([{"coi": COI, "to_msp": MFG}]),
    );
    refused(
        h,
        mfg(),
        "accept_handover",
        step(COI),
        &format!(
            "record the condition of shipment {} (record_shipment_condition) before accepting it",
            sscc(7)
        ),
    );
    ok(
        h,
        relay(),
        "record_shipment_condition",
        condition(COI, "LOG-IN", 4.0, 5.0),
    );
    let case = ok(h, mfg(), "accept_handover", step(COI));
    assert_eq!(
        (case.state, case.custodian_msp.as_str()),
        (State::ReceivedAtMfg, MFG)
    );
    let timeline = view(h, COI).timeline;
    let accepted: Vec<&str> = timeline
        .iter()
        .map(|e| e.custodian_after.as_str())
        .collect();
    assert!(accepted.ends_with(&[
        COURIER,
        "RelayCourierMSP",
        "RelayCourierMSP",
        "RelayCourierMSP",
        MFG
    ]));
}

fn handover_proposals_are_checked(h: &mut impl Harness) {
    setup(h, State::Collected);
    let to = |to: &str, shipment: Value| json!([{"coi": COI, "to_msp": to, "shipment": shipment}]);
    let good = json!({"sscc": sscc(7), "logger_id": "LOG-IN", "route": "to_manufacturing"});
    refused(h, clin(), "propose_handover", to(MFG, good.clone()),
        "case CHA123426000123 in state COLLECTED cannot be handed to CdmoMSP; expected a courier organisation");
    refused(h, clin(), "propose_handover", to(COURIER, Value::Null),
        "a handover in state COLLECTED starts a shipment; give shipment {sscc, logger_id, route: to_manufacturing}");
    refused(
        h,
        clin(),
        "propose_handover",
        to(
            COURIER,
            json!({"sscc": "006141411234567891", "logger_id": "L", "route": "to_manufacturing"}),
        ),
        "invalid SSCC",
    );
    refused(
        h,
        clin(),
        "propose_handover",
        to(
            COURIER,
            json!({"sscc": sscc(7), "logger_id": "L", "route": "to_site"}),
        ),
        "the shipment goes to_manufacturing, not to_site",
    );
    ok(h, clin(), "propose_handover", to(COURIER, good));
    ok(h, courier(), "accept_handover", step(COI));
    refused(
        h,
        courier(),
        "propose_handover",
        to(SITE, Value::Null),
        "cannot be handed to HospitalAMSP; expected the manufacturer CdmoMSP or another courier",
    );
    refused(
        h,
        courier(),
        "propose_handover",
        to(
            MFG,
            json!({"sscc": sscc(8), "logger_id": "LOG-IN", "route": "to_manufacturing"}),
        ),
        &format!(
            "the shipment under way is SSCC {} with logger LOG-IN",
            sscc(7)
        ),
    );
}

fn reject_and_cancel_leave_custody_where_it_was(h: &mut impl Harness) {
    setup(h, State::Collected);
    let propose = json!([{"coi": COI, "to_msp": COURIER, "shipment":
        {"sscc": sscc(7), "logger_id": "LOG-IN", "route": "to_manufacturing"}}]);
    ok(h, clin(), "propose_handover", propose.clone());
    refused(
        h,
        clin(),
        "reject_handover",
        reason(COI, "no"),
        "needs role COURIER",
    );
    refused(
        h,
        caller("OtherCourierMSP").role("COURIER"),
        "reject_handover",
        reason(COI, "no"),
        "only the named receiver (CourierMSP)",
    );
    let out = call(
        h,
        courier(),
        "reject_handover",
        reason(COI, "box seal broken"),
    );
    let case: Case = out.json();
    assert!(out.events.iter().any(|e| e.name == "HandoverRejected"));
    assert_eq!(
        (case.state, case.custodian_msp.as_str()),
        (State::Collected, SITE)
    );
    assert!(case.pending_handover.is_none());
    refused(
        h,
        courier(),
        "reject_handover",
        reason(COI, "again"),
        "has no pending handover",
    );
    ok(h, clin(), "propose_handover", propose);
    refused(
        h,
        courier(),
        "cancel_handover",
        reason(COI, "x"),
        "cancel_handover needs role SITE_CLIN or APHERESIS",
    );
    refused(
        h,
        caller("HospitalBMSP").role("APHERESIS"),
        "cancel_handover",
        reason(COI, "x"),
        "only the current custodian (HospitalAMSP)",
    );
    refused(
        h,
        clin(),
        "cancel_handover",
        reason(COI, ""),
        "invalid reason: it is required",
    );
    let case = ok(
        h,
        aph(),
        "cancel_handover",
        reason(COI, "courier late, rebooking"),
    );
    assert!(case.pending_handover.is_none());
    assert!(summary(h, COI).custody_clean);
    let last = view(h, COI).timeline.pop().unwrap();
    assert_eq!(last.what.note.as_deref(), Some("courier late, rebooking"));
}

fn excursion_puts_the_case_on_hold_until_qa_closes_it(h: &mut impl Harness) {
    setup(h, State::InTransitToMfg);
    ok(
        h,
        courier(),
        "propose_handover",
        json!([{"coi": COI, "to_msp": MFG}]),
    );
    let out = call(
        h,
        courier(),
        "record_shipment_condition",
        condition(COI, "LOG-IN", 3.0, 9.5),
    );
    let case: Case = out.json();
    assert_eq!(case.state, State::OnHold);
    assert_eq!(case.held_from, Some(State::InTransitToMfg));
    let d = &case.deviations[0];
    assert_eq!(
        (d.id, d.kind, d.holds),
        (1, DeviationKind::TemperatureExcursion, true)
    );
    assert!(
        d.description.contains("3 .. 9.5 °C, allowed 2 .. 8 °C"),
        "{}",
        d.description
    );
    assert!(case.conditions[0].excursion);
    let opened = out
        .events
        .iter()
        .find(|e| e.name == "DeviationOpened")
        .unwrap();
    let opened: DeviationEvent = serde_json::from_slice(&opened.payload).unwrap();
    assert_eq!(opened.deviation_id, 1);
    let s = summary(h, COI);
    assert_eq!(s.state, "ON_HOLD");
    assert!(!s.condition_clean);
    assert_eq!(s.open_deviations, 1);
    let event = view(h, COI).timeline.pop().unwrap();
    assert_eq!(event.why.disposition, "non_conformant");
    assert_eq!(event.what.sensor.unwrap().max_c, 9.5);
    // Held: the pending handover cannot complete.
    refused(
        h,
        mfg(),
        "accept_handover",
        step(COI),
        "in state ON_HOLD; it needs state IN_TRANSIT_TO_MFG",
    );
    let close = |id: u32| json!([{"coi": COI, "deviation_id": id, "reason": "stability data cover 9.5 °C for 40 min"}]);
    refused(
        h,
        courier(),
        "close_deviation",
        close(1),
        "close_deviation needs role QA",
    );
    refused(
        h,
        caller("OtherSponsorMSP").role("QA"),
        "close_deviation",
        close(1),
        "only the product's sponsor",
    );
    refused(
        h,
        qa(),
        "close_deviation",
        close(9),
        "case CHA123426000123 has no deviation 9",
    );
    refused(
        h,
        qa(),
        "close_deviation",
        json!([{"coi": COI, "deviation_id": 1, "reason": ""}]),
        "it is required",
    );
    let case = ok(h, qa(), "close_deviation", close(1));
    assert_eq!(case.state, State::InTransitToMfg);
    assert_eq!(case.held_from, None);
    assert_eq!(
        case.deviations[0]
            .closure
            .as_ref()
            .unwrap()
            .closed_by
            .common_name,
        "qa-reviewer"
    );
    let s = summary(h, COI);
    assert!(s.condition_clean);
    assert_eq!(s.open_deviations, 0);
    refused(
        h,
        qa(),
        "close_deviation",
        close(1),
        "deviation 1 of case CHA123426000123 is already closed",
    );
    let case = ok(h, mfg(), "accept_handover", step(COI));
    assert_eq!(case.state, State::ReceivedAtMfg);
}

fn condition_records_are_checked(h: &mut impl Harness) {
    setup(h, State::InTransitToMfg);
    refused(
        h,
        courier(),
        "record_shipment_condition",
        condition(COI, "LOG-X", 3.0, 4.0),
        "the shipment's logger is LOG-IN, not LOG-X",
    );
    refused(
        h,
        caller("OtherCourierMSP").role("COURIER"),
        "record_shipment_condition",
        condition(COI, "LOG-IN", 3.0, 4.0),
        "only the courier in custody (CourierMSP)",
    );
    refused(
        h,
        mfg(),
        "record_shipment_condition",
        condition(COI, "LOG-IN", 3.0, 4.0),
        "needs role COURIER",
    );
    let mut bad = condition(COI, "LOG-IN", 3.0, 4.0);
    bad[0]["logger_file_sha256"] = json!("not-a-hash");
    refused(
        h,
        courier(),
        "record_shipment_condition",
        bad,
        "invalid logger file SHA-256",
    );
    let mut bad = condition(COI, "LOG-IN", 3.0, 4.0);
    bad[0]["mean_c"] = json!(7.0);
    refused(
        h,
        courier(),
        "record_shipment_condition",
        bad,
        "min <= mean <= max",
    );
    let mut bad = condition(COI, "LOG-IN", 3.0, 4.0);
    bad[0]["count"] = json!(0);
    refused(
        h,
        courier(),
        "record_shipment_condition",
        bad,
        "count must be at least 1",
    );
    let mut bad = condition(COI, "LOG-IN", 3.0, 4.0);
    bad[0]["first_reading"] = json!("2026-01-02T00:00:00Z");
    refused(
        h,
        courier(),
        "record_shipment_condition",
        bad,
        "the first reading is after the last",
    );
    let mut bad = condition(COI, "LOG-IN", 3.0, 4.0);
    bad[0]["first_reading"] = json!("yesterday");
    refused(
        h,
        courier(),
        "record_shipment_condition",
        bad,
        "first_reading",
    );
    // Cold product in the to_site range would be an excursion on the way in.
    let case = ok(
        h,
        courier(),
        "record_shipment_condition",
        condition(COI, "LOG-IN", 1.5, 4.0),
    );
    assert_eq!(case.state, State::OnHold);
    // A second excursion while held adds a deviation; the case stays held.
    let case = ok(
        h,
        courier(),
        "record_shipment_condition",
        condition(COI, "LOG-IN", 3.0, 12.0),
    );
    assert_eq!((case.state, case.deviations.len()), (State::OnHold, 2));
    ok(
        h,
        qa(),
        "close_deviation",
        json!([{"coi": COI, "deviation_id": 1, "reason": "ok"}]),
    );
    assert_eq!(
        view(h, COI).case.state,
        State::OnHold,
        "deviation 2 still holds"
    );
}

fn collection_to_receipt_breach_is_a_deviation(h: &mut impl Harness) {
    setup(h, State::InTransitToMfg);
    ok(
        h,
        courier(),
        "record_shipment_condition",
        condition(COI, "LOG-IN", 3.0, 5.0),
    );
    ok(
        h,
        courier(),
        "propose_handover",
        json!([{"coi": COI, "to_msp": MFG}]),
    );
    h.advance_time(50 * 3600);
    let case = ok(h, mfg(), "accept_handover", step(COI));
    assert_eq!(case.state, State::ReceivedAtMfg, "a breach does not block");
    let d = &case.deviations[0];
    assert_eq!(d.kind, DeviationKind::CollectionToReceiptWindow);
    assert!(!d.holds);
    assert!(
        d.description.contains("the product allows 48h"),
        "{}",
        d.description
    );
    let s = summary(h, COI);
    assert!(!s.condition_clean);
    assert_eq!(s.open_deviations, 1);
    let last = view(h, COI).timeline.pop().unwrap();
    assert_eq!(last.what.deviations, [1]);
}

fn thaw_to_infusion_breach_is_a_deviation(h: &mut impl Harness) {
    setup(h, State::Thawed);
    h.advance_time(45 * 60);
    let case = ok(
        h,
        clin(),
        "record_infusion",
        json!([{"coi": COI, "scanned_coi": COI, "scanned_din": din(123)}]),
    );
    assert_eq!(case.state, State::Infused);
    assert_eq!(case.deviations[0].kind, DeviationKind::ThawToInfusionWindow);
    assert_eq!(
        case.deviations[0].description,
        "thaw to infusion took 45 min; the product allows 30 min"
    );
    assert!(!summary(h, COI).condition_clean);
}

fn bedside_mismatch_fails_and_writes_nothing(h: &mut impl Harness) {
    setup(h, State::Thawed);
    refused(h, clin(), "record_infusion",
        json!([{"coi": COI, "scanned_coi": COI, "scanned_din": din(999)}]),
        &format!("IDENTITY MISMATCH: case CHA123426000123 has DIN {}; scanned COI CHA123426000123, DIN {}", din(123), din(999)));
    refused(
        h,
        clin(),
        "record_infusion",
        json!([{"coi": COI, "scanned_coi": COI2, "scanned_din": din(123)}]),
        "IDENTITY MISMATCH",
    );
    assert_eq!(view(h, COI).case.state, State::Thawed);
    assert_eq!(summary(h, COI).state, "THAWED");
}

fn event_times_in_the_future_or_back_dated_are_refused(h: &mut impl Harness) {
    configure(h);
    // The harness clock starts at 2026-01-01T00:00:00Z.
    let create = |t: &str| {
        json!([{"coi": COI, "pseudonym": PSEUDONYM, "product_code": PRODUCT,
        "manufacturer_msp": MFG, "event_time": t}])
    };
    refused(h, clin(), "create_case", create("2026-01-01T00:10:00Z"),
        "event time 2026-01-01T00:10:00Z is later than the record time 2026-01-01T00:00:00Z plus 300 s");
    refused(
        h,
        clin(),
        "create_case",
        create("2026-01-01T00:00:00"),
        "invalid event time",
    );
    // Within the skew is accepted (the scanner's clock runs a little ahead).
    ok(
        h,
        clin(),
        "create_case",
        create("2026-01-01T01:04:00+01:00"),
    );
    h.advance_time(3600);
    let slot = |t: &str| json!([{"coi": COI, "event_time": t}]);
    refused(h, mfg(), "confirm_slot", slot("2025-12-31T23:59:59Z"),
        "event time 2025-12-31T23:59:59Z is before case CHA123426000123's previous event at 2026-01-01T00:04:00Z; back-dated entries are refused");
    let case = ok(h, mfg(), "confirm_slot", slot("2026-01-01T00:30:00Z"));
    assert_eq!(case.last_event_time.seconds, 1_767_225_600 + 1800);
    // An event without a time is "now", never before the previous one.
    let case = ok(
        h,
        aph(),
        "record_collection",
        json!([{"coi": COI, "din": din(123)}]),
    );
    assert_eq!(case.collections[0].collected_at, h.timestamp());
}

fn release_decision_follows_the_release_contract(h: &mut impl Harness) {
    setup(h, State::QcPending);
    refused(h, qp(), "record_release_decision", step(COI),
        "release has no batch record for case CHA123426000123; the batch must be released there first");
    seed_batch_summary(h, COI, batch_status::EVIDENCE_COMPLETE, 1);
    refused(
        h,
        qp(),
        "record_release_decision",
        step(COI),
        "the batch of case CHA123426000123 is EVIDENCE_COMPLETE in release",
    );
    seed_batch_summary(h, COI, batch_status::RELEASED, 2);
    refused(
        h,
        qp(),
        "record_release_decision",
        step(COI),
        "was tested against specification 2, the case needs 1",
    );
    refused(
        h,
        courier(),
        "record_release_decision",
        step(COI),
        "needs role QP or QA or MFG",
    );
    refused(
        h,
        caller("OtherCdmoMSP").role("MFG"),
        "record_release_decision",
        step(COI),
        "only the case's manufacturer",
    );
    seed_batch_summary(h, COI, batch_status::EXCEPTIONAL_RELEASE, 1);
    let out = call(h, qp(), "record_release_decision", step(COI));
    let case: Case = out.json();
    assert_eq!(case.state, State::Released);
    // The cross-contract read is in the read set, for the committer's MVCC check.
    let release_reads = out.ns(RELEASE).unwrap();
    assert_eq!(release_reads.reads[0].key, batch_summary_key(COI));
    assert!(release_reads.writes.is_empty());
    // A rejected batch.
    advance_to(h, COI2, State::QcPending);
    seed_batch_summary(h, COI2, batch_status::REJECTED, 1);
    let case = ok(h, mfg(), "record_release_decision", step(COI2));
    assert_eq!(case.state, State::Rejected);
    assert_eq!(summary(h, COI2).state, "REJECTED");
    refused(
        h,
        mfg(),
        "propose_handover",
        json!([{"coi": COI2, "to_msp": COURIER, "shipment": {"sscc": sscc(9), "logger_id": "L", "route": "to_site"}}]),
        "in state REJECTED",
    );
}

fn auditors_read_and_never_write(h: &mut impl Harness) {
    setup(h, State::Collected);
    for (function, args) in [
        ("configure_product", product_request(2)),
        ("confirm_slot", step(COI)),
        ("propose_handover", json!([{"coi": COI, "to_msp": COURIER}])),
        (
            "close_deviation",
            json!([{"coi": COI, "deviation_id": 1, "reason": "x"}]),
        ),
        ("destroy", reason(COI, "x")),
    ] {
        refused(
            h,
            auditor(),
            function,
            args,
            &format!("{function}: the AUDITOR role is read-only"),
        );
    }
    let v: CaseView = h
        .invoke_with(Invocation::new(NS, "get_case", json!([COI])).caller(auditor()))
        .json();
    assert_eq!(v.case.state, State::Collected);
}

fn cancel_destroy_and_reported_deviations(h: &mut impl Harness) {
    configure(h);
    order(h, COI);
    refused(h, clin(), "cancel_case", reason(COI, ""), "it is required");
    let case = ok(
        h,
        clin(),
        "cancel_case",
        reason(COI, "patient no longer eligible"),
    );
    assert_eq!(case.state, State::Cancelled);
    refused(h, mfg(), "confirm_slot", step(COI), "in state CANCELLED");
    advance_to(h, COI2, State::InManufacturing);
    refused(
        h,
        clin(),
        "cancel_case",
        reason(COI2, "x"),
        "in state IN_MANUFACTURING; it needs state ORDERED, SLOT_CONFIRMED, RECOLLECT",
    );
    let hold =
        json!([{"coi": COI2, "kind": "OTHER", "description": "bioreactor alarm", "hold": true}]);
    let case = ok(h, mfg(), "report_deviation", hold);
    assert_eq!(
        (case.state, case.held_from),
        (State::OnHold, Some(State::InManufacturing))
    );
    assert!(
        summary(h, COI2).condition_clean,
        "an OTHER deviation is not a condition issue"
    );
    assert_eq!(summary(h, COI2).open_deviations, 1);
    let custody = json!([{"coi": COI2, "kind": "CUSTODY", "description": "seal number differs", "hold": false}]);
    ok(h, qa(), "report_deviation", custody);
    assert!(!summary(h, COI2).custody_clean);
    refused(
        h,
        courier(),
        "destroy",
        reason(COI2, "x"),
        "needs role QA or MFG",
    );
    let case = ok(
        h,
        qa(),
        "destroy",
        reason(COI2, "bioreactor contamination confirmed"),
    );
    assert_eq!(case.state, State::Destroyed);
    refused(
        h,
        mfg(),
        "report_deviation",
        json!([{"coi": COI2, "kind": "OTHER", "description": "late", "hold": false}]),
        "report_deviation is not allowed for case CHA123426000124 in state DESTROYED",
    );
    // Deviations of a destroyed case can still be closed.
    ok(
        h,
        qa(),
        "close_deviation",
        json!([{"coi": COI2, "deviation_id": 2, "reason": "investigated"}]),
    );
}

fn corrections_are_new_events(h: &mut impl Harness) {
    setup(h, State::Collected);
    refused(
        h,
        aph(),
        "declare_correction",
        json!([{"coi": COI, "corrects": 99, "reason": "x"}]),
        "case CHA123426000123 has no timeline event 99",
    );
    refused(
        h,
        mfg(),
        "declare_correction",
        json!([{"coi": COI, "corrects": 2, "reason": "x"}]),
        "needs role QA or APHERESIS",
    );
    refused(
        h,
        caller("HospitalBMSP").role("APHERESIS"),
        "declare_correction",
        json!([{"coi": COI, "corrects": 2, "reason": "x"}]),
        "only the organisation that recorded the event (HospitalAMSP)",
    );
    let before = view(h, COI).timeline;
    let case = ok(
        h,
        aph(),
        "declare_correction",
        json!([{"coi": COI, "corrects": 2, "reason": "collection ended 14:05, not 14:50"}]),
    );
    assert_eq!(case.state, State::Collected);
    let after = view(h, COI).timeline;
    assert_eq!(after.len(), before.len() + 1);
    assert_eq!(
        after[..before.len()],
        before[..],
        "earlier events are never edited"
    );
    let correction = after.last().unwrap();
    assert_eq!(correction.what.corrects, Some(2));
    assert_eq!(correction.state_before, correction.state_after);
    ok(
        h,
        qa(),
        "declare_correction",
        json!([{"coi": COI, "corrects": 2, "reason": "QA note"}]),
    );
}

fn queries_find_cases_and_refuse_unknown_ones(h: &mut impl Harness) {
    configure(h);
    order(h, COI2);
    order(h, COI);
    let cases: Vec<Case> = h
        .evaluate(NS, "cases_by_site_and_state", json!([SITE, "ORDERED"]))
        .json();
    let cois: Vec<&str> = cases.iter().map(|c| c.coi.as_str()).collect();
    assert_eq!(cois, [COI, COI2]);
    let none: Vec<Case> = h
        .evaluate(
            NS,
            "cases_by_site_and_state",
            json!(["HospitalBMSP", "ORDERED"]),
        )
        .json();
    assert!(none.is_empty());
    h.evaluate(NS, "cases_by_site_and_state", json!([SITE, "Ordered"]))
        .assert_error(
            400,
            "\"Ordered\" is not a state; use one of ORDERED, SLOT_CONFIRMED",
        );
    let out = h.evaluate(NS, "get_case", json!(["CHZ999926000001"]));
    out.assert_error(400, "case CHZ999926000001 does not exist");
    let out = h.evaluate(NS, "get_case", json!([COI]));
    assert!(out.rwset.is_read_only());
    let v: CaseView = out.json();
    assert_eq!(v.summary, summary(h, COI));
}

#[test]
fn metadata_marks_the_queries() {
    let m = native().metadata(NS);
    let queries: Vec<&str> = m
        .functions
        .iter()
        .filter(|f| f.evaluate)
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(
        queries,
        ["get_case", "cases_by_site_and_state", "get_product"]
    );
    assert_eq!(m.functions.len(), 23);
}
