//! The people, identifiers and steps of the vein-to-vein story, shared by
//! `tests/vein_to_vein.rs` and `benches/endorsement.rs` (which includes this
//! file with `#[path]`, hence the `dead_code` allowance: each uses a part).
//!
//! Steps move the harness clock forward by realistic amounts before acting
//! (`advance_time`), never back, and record every timeline event they cause
//! in the patient's [`Journal`], so a test can compare `get_case`'s timeline
//! with what was done, who did it and when.
#![allow(dead_code)]

use cellchain_chaincode_harness::{
    caller, sha256, CallerBuilder, Harness, Invocation, Outcome, Timestamp,
};
use patient_batch::msg::CaseView;
use patient_batch::state::{Case, State};
use patient_batch::time::format_utc;
use release::msg::BatchView;
use serde_json::{json, Value};
use therapy_common::ids::{din_check_character, gs1_check_digit};
use therapy_common::{DATA_SHARING, PATIENT_BATCH, RELEASE};

pub const SITE_A: &str = "HospitalAMSP";
pub const SITE_B: &str = "HospitalBMSP";
pub const CDMO: &str = "CdmoMSP";
pub const COURIER: &str = "CourierMSP";
pub const QC_LAB: &str = "QcLabMSP";
pub const SPONSOR: &str = "SponsorMSP";
pub const REGULATOR: &str = "RegulatorMSP";
pub const PRODUCT: &str = "CART-19";

pub const MINUTE: i64 = 60;
pub const HOUR: i64 = 3600;
pub const DAY: i64 = 86_400;

/// 2026-03-02T08:00:00Z, a Monday: the product is configured a week before.
pub const SETUP_TIME: i64 = 1_772_409_600 + 8 * HOUR - 7 * DAY;

// ---- the people (users of channel-configs/atmp-network.yaml) --------------------

pub fn dr_ng() -> CallerBuilder {
    caller(SITE_A).role("SITE_CLIN").common_name("dr-ng")
}
pub fn nurse_okafor() -> CallerBuilder {
    caller(SITE_A).role("APHERESIS").common_name("nurse-okafor")
}
pub fn dr_osei() -> CallerBuilder {
    caller(SITE_B).role("SITE_CLIN").common_name("dr-osei")
}
pub fn nurse_lind() -> CallerBuilder {
    caller(SITE_B).role("APHERESIS").common_name("nurse-lind")
}
pub fn driver_lee() -> CallerBuilder {
    caller(COURIER).role("COURIER").common_name("driver-lee")
}
pub fn tech_ruiz() -> CallerBuilder {
    caller(CDMO).role("MFG").common_name("tech-ruiz")
}
pub fn analyst_sato() -> CallerBuilder {
    caller(QC_LAB).role("QC").common_name("analyst-sato")
}
/// Drafts specifications (four eyes: another QA approves).
pub fn qa_berg() -> CallerBuilder {
    caller(SPONSOR).role("QA").common_name("qa-berg")
}
pub fn qa_ito() -> CallerBuilder {
    caller(SPONSOR).role("QA").common_name("qa-ito")
}
pub fn qp_varga() -> CallerBuilder {
    caller(SPONSOR).role("QP").common_name("qp-varga")
}
pub fn inspector() -> CallerBuilder {
    caller(REGULATOR).role("AUDITOR").common_name("inspector")
}

// ---- identifiers and times ------------------------------------------------------------

/// A DIN with its flags and ISO 7064 check character.
pub fn din(fin_year: &str, seq: u32) -> String {
    let base = format!("{fin_year}{seq:06}");
    format!("{base}00{}", din_check_character(&base))
}

/// An SSCC with its GS1 check digit.
pub fn sscc(serial: u64) -> String {
    let data = format!("00614141{serial:09}");
    format!("{data}{}", gs1_check_digit(&data).unwrap())
}

/// The SHA-256 (hex) of an off-chain document.
pub fn doc_hash(name: &str) -> String {
    sha256(name.as_bytes()).to_hex()
}

pub fn ts(seconds: i64) -> Timestamp {
    Timestamp::new(seconds, 0)
}

/// RFC 3339 in the site's zone (+01:00), as a scanner in Europe sends it.
pub fn local_time(utc_seconds: i64) -> String {
    let shifted = format_utc(ts(utc_seconds + HOUR));
    format!("{}+01:00", shifted.trim_end_matches('Z'))
}

pub fn utc_time(utc_seconds: i64) -> String {
    format_utc(ts(utc_seconds))
}

// ---- a patient ------------------------------------------------------------------------

/// One timeline event as the story did it: what, who, and when (event time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    pub operation: String,
    pub who: String,
    pub msp: String,
    pub role: String,
    pub event_time: i64,
}

pub type Journal = Vec<Done>;

/// A user of the network, as a constructor.
pub type Person = fn() -> CallerBuilder;

/// A patient's case and what travels with it.
pub struct Patient {
    pub coi: &'static str,
    pub pseudonym: &'static str,
    pub site: &'static str,
    pub din: String,
    pub sscc_in: String,
    pub sscc_out: String,
    pub logger_in: String,
    pub logger_out: String,
    pub clinician: Person,
    pub apheresis: Person,
    pub journal: Journal,
}

impl Patient {
    /// Patient one, at Northgate (Hospital A).
    pub fn one() -> Patient {
        Patient::new(
            "CHA123426000101",
            "3f2a9c1b7e4d60a58b9c0d1e2f3a4b5c",
            SITE_A,
            101,
        )
    }

    /// Patient two, at Northgate too.
    pub fn two() -> Patient {
        Patient::new(
            "CHA123426000102",
            "8c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f",
            SITE_A,
            102,
        )
    }

    /// Patient three, at Riverside (Hospital B).
    pub fn three() -> Patient {
        Patient::new(
            "CHB567826000303",
            "d41d8cd98f00b204e9800998ecf8427e",
            SITE_B,
            303,
        )
    }

    fn new(coi: &'static str, pseudonym: &'static str, site: &'static str, n: u32) -> Patient {
        let site_a = site == SITE_A;
        let clinician: Person = if site_a { dr_ng } else { dr_osei };
        let apheresis: Person = if site_a { nurse_okafor } else { nurse_lind };
        let fin = if site_a { "A123426" } else { "B567826" };
        Patient {
            coi,
            pseudonym,
            site,
            din: din(fin, n),
            sscc_in: sscc(u64::from(n)),
            sscc_out: sscc(5000 + u64::from(n)),
            logger_in: format!("LOG-2-8-{n}"),
            logger_out: format!("LOG-LN2-{n}"),
            clinician,
            apheresis,
            journal: Vec::new(),
        }
    }
}

// ---- calls ------------------------------------------------------------------------------

pub fn submit(
    h: &mut impl Harness,
    who: CallerBuilder,
    contract: &str,
    function: &str,
    args: Value,
) -> Outcome {
    h.submit_with(Invocation::new(contract, function, args).caller(who))
}

pub fn evaluate(
    h: &mut impl Harness,
    who: CallerBuilder,
    contract: &str,
    function: &str,
    args: Value,
) -> Outcome {
    h.invoke_with(Invocation::new(contract, function, args).caller(who))
}

/// Submits a patient-batch transaction that must succeed and append one
/// timeline event at `event_time` (the clock unless given), and journals it.
#[track_caller]
pub fn case_step(
    h: &mut impl Harness,
    p: &mut Patient,
    who: CallerBuilder,
    function: &str,
    args: Value,
    event_time: Option<i64>,
) -> (Case, Outcome) {
    let actor = who.clone().build();
    let out = submit(h, who, PATIENT_BATCH, function, args);
    let case: Case = out.json();
    p.journal.push(Done {
        operation: function.to_string(),
        who: actor.common_name,
        msp: actor.msp_id,
        role: actor.attributes["role"].clone(),
        event_time: event_time.unwrap_or(h.timestamp().seconds),
    });
    (case, out)
}

/// Asserts a refusal (status 400) naming `fragment`, and that nothing was
/// written or committed.
#[track_caller]
pub fn refused(out: &Outcome, height_before: u64, h: &impl Harness, fragment: &str) {
    out.assert_error(400, fragment);
    assert!(out.rwset.is_read_only(), "a refusal wrote: {:?}", out.rwset);
    assert!(out.events.is_empty(), "a refusal emitted {:?}", out.events);
    assert_eq!(h.height(), height_before, "a refusal was committed");
}

pub fn get_case(h: &mut impl Harness, coi: &str) -> CaseView {
    evaluate(h, inspector(), PATIENT_BATCH, "get_case", json!([coi])).json()
}

pub fn get_batch(h: &mut impl Harness, coi: &str) -> BatchView {
    evaluate(h, inspector(), RELEASE, "get_batch", json!([coi])).json()
}

/// The names of the events an outcome emitted, in order.
pub fn event_names(out: &Outcome) -> Vec<&str> {
    out.events.iter().map(|e| e.name.as_str()).collect()
}

/// The payload of the only event called `name`.
#[track_caller]
pub fn event(out: &Outcome, name: &str) -> Value {
    let found: Vec<_> = out.events.iter().filter(|e| e.name == name).collect();
    assert_eq!(found.len(), 1, "events {:?}", event_names(out));
    serde_json::from_slice(&found[0].payload.0).unwrap()
}

// ---- the network's standing data ---------------------------------------------------------

pub fn spec_tests() -> Value {
    json!([
        {"code": "VIAB", "name": "Viability", "method": "flow cytometry, 7-AAD", "unit": "%",
         "criterion": {"kind": "at_least", "min": 70.0}, "required": true},
        {"code": "STER", "name": "Sterility", "method": "Ph. Eur. 2.6.27", "unit": "n/a",
         "criterion": {"kind": "equals", "value": "no growth"}, "required": true},
        {"code": "VCN", "name": "Vector copy number", "method": "ddPCR", "unit": "copies/cell",
         "criterion": {"kind": "between", "min": 0.5, "max": 5.0}, "required": true}
    ])
}

/// The sponsor's QA configures CART-19 (2-8 °C inbound, LN2 vapour
/// outbound) and drafts specification v1, which another QA approves.
pub fn configure_product_and_spec(h: &mut impl Harness) {
    h.set_timestamp(ts(SETUP_TIME));
    submit(
        h,
        qa_berg(),
        PATIENT_BATCH,
        "configure_product",
        json!([{
            "product_code": PRODUCT,
            "spec_version": 1,
            "manufacturer_msps": [CDMO],
            "routes": [
                {"route": "to_manufacturing", "range": {"min_c": 2.0, "max_c": 8.0}},
                {"route": "to_site", "range": {"max_c": -150.0}}
            ],
            "collection_to_receipt_max_hours": 48,
            "thaw_to_infusion_max_minutes": 30,
            "reason": "CC-2026-014 initial configuration"
        }]),
    )
    .assert_ok();
    h.advance_time(HOUR);
    let draft = submit(
        h,
        qa_berg(),
        RELEASE,
        "create_spec",
        json!([{"product_code": PRODUCT, "version": 1, "tests": spec_tests()}]),
    )
    .value();
    h.advance_time(DAY);
    let approved = submit(
        h,
        qa_ito(),
        RELEASE,
        "approve_spec",
        json!([{"product_code": PRODUCT, "version": 1, "spec_sha256": draft["spec_sha256"]}]),
    );
    assert_eq!(event_names(&approved), ["SpecApproved"]);
    assert_eq!(approved.value()["status"], "APPROVED");
}

// ---- the journey, step by step ------------------------------------------------------------

/// The site orders the batch; the CDMO confirms a slot two hours later.
pub fn order(h: &mut impl Harness, p: &mut Patient) -> Outcome {
    let clin = (p.clinician)();
    let (case, out) = case_step(
        h,
        p,
        clin,
        "create_case",
        json!([{"coi": p.coi, "pseudonym": p.pseudonym, "product_code": PRODUCT,
                "manufacturer_msp": CDMO,
                "location": {"read_point": "urn:epc:id:sgln:5012345.00001.0", "biz_location": "northgate-ward-7"}}]),
        None,
    );
    assert_eq!(case.state, State::Ordered);
    h.advance_time(2 * HOUR);
    let (case, _) = case_step(
        h,
        p,
        tech_ruiz(),
        "confirm_slot",
        json!([{"coi": p.coi, "note": "slot HX-2026-W11-03"}]),
        None,
    );
    assert_eq!(case.state, State::SlotConfirmed);
    out
}

/// A week later the apheresis unit collects; the scanner's event time is
/// 15 minutes before the transaction, in local time.
pub fn collect(h: &mut impl Harness, p: &mut Patient) -> Outcome {
    h.advance_time(7 * DAY);
    let when = h.timestamp().seconds - 15 * MINUTE;
    let aph = (p.apheresis)();
    let (case, out) = case_step(
        h,
        p,
        aph,
        "record_collection",
        json!([{"coi": p.coi, "din": p.din, "event_time": local_time(when)}]),
        Some(when),
    );
    assert_eq!(case.state, State::Collected);
    out
}

/// The site hands the chilled bag to the courier (2-8 °C leg).
pub fn hand_to_courier(h: &mut impl Harness, p: &mut Patient) -> (Outcome, Outcome) {
    h.advance_time(30 * MINUTE);
    let clin = (p.clinician)();
    let (_, proposed) = case_step(
        h,
        p,
        clin,
        "propose_handover",
        json!([{"coi": p.coi, "to_msp": COURIER, "shipment":
            {"sscc": p.sscc_in, "logger_id": p.logger_in, "route": "to_manufacturing"}}]),
        None,
    );
    h.advance_time(10 * MINUTE);
    let (case, accepted) = case_step(
        h,
        p,
        driver_lee(),
        "accept_handover",
        json!([{"coi": p.coi}]),
        None,
    );
    assert_eq!(case.state, State::InTransitToMfg);
    assert_eq!(case.custodian_msp, COURIER);
    (proposed, accepted)
}

/// The courier records the logger summary of a leg at arrival: readings
/// from the pick-up (`leg_seconds` ago) to five minutes ago.
pub fn record_condition(
    h: &mut impl Harness,
    p: &mut Patient,
    logger: &str,
    leg_seconds: i64,
    (min, mean, max): (f64, f64, f64),
) -> Outcome {
    let now = h.timestamp().seconds;
    let (_, out) = case_step(
        h,
        p,
        driver_lee(),
        "record_shipment_condition",
        json!([{
            "coi": p.coi, "logger_id": logger,
            "min_c": min, "max_c": max, "mean_c": mean,
            "count": (leg_seconds / (5 * MINUTE)) as u32,
            "first_reading": utc_time(now - leg_seconds),
            "last_reading": utc_time(now - 5 * MINUTE),
            "logger_file_sha256": doc_hash(&format!("{logger}.csv"))
        }]),
        None,
    );
    out
}

/// Overnight drive to the CDMO; the courier records the 2-8 °C logger.
pub fn drive_to_cdmo(h: &mut impl Harness, p: &mut Patient, readings: (f64, f64, f64)) -> Outcome {
    h.advance_time(17 * HOUR + 20 * MINUTE);
    let logger = p.logger_in.clone();
    record_condition(h, p, &logger, 17 * HOUR + 20 * MINUTE, readings)
}

/// The courier hands over to the CDMO, which accepts.
pub fn deliver_to_cdmo(h: &mut impl Harness, p: &mut Patient) -> Outcome {
    h.advance_time(5 * MINUTE);
    case_step(
        h,
        p,
        driver_lee(),
        "propose_handover",
        json!([{"coi": p.coi, "to_msp": CDMO}]),
        None,
    );
    h.advance_time(15 * MINUTE);
    let (case, out) = case_step(
        h,
        p,
        tech_ruiz(),
        "accept_handover",
        json!([{"coi": p.coi}]),
        None,
    );
    assert_eq!(case.state, State::ReceivedAtMfg);
    assert_eq!(case.custodian_msp, CDMO);
    out
}

/// Ten days of manufacturing; the batch record's hash at completion.
pub fn manufacture(h: &mut impl Harness, p: &mut Patient) -> Outcome {
    h.advance_time(2 * HOUR);
    case_step(
        h,
        p,
        tech_ruiz(),
        "start_manufacturing",
        json!([{"coi": p.coi}]),
        None,
    );
    h.advance_time(10 * DAY + 8 * HOUR);
    let (case, out) = case_step(
        h,
        p,
        tech_ruiz(),
        "complete_manufacturing",
        json!([{"coi": p.coi, "document_sha256": doc_hash(&format!("batch-record-{}", p.coi))}]),
        None,
    );
    assert_eq!(case.state, State::QcPending);
    out
}

/// The CDMO opens the batch in release against spec v1.
pub fn open_batch(h: &mut impl Harness, p: &Patient) -> Outcome {
    h.advance_time(30 * MINUTE);
    let out = submit(
        h,
        tech_ruiz(),
        RELEASE,
        "open_batch",
        json!([{"coi": p.coi}]),
    );
    out.assert_ok();
    out
}

pub fn qc_result(
    h: &mut impl Harness,
    p: &Patient,
    code: &str,
    value: Value,
    unit: &str,
) -> Outcome {
    h.advance_time(5 * MINUTE);
    submit(
        h,
        analyst_sato(),
        RELEASE,
        "record_result",
        json!([{"coi": p.coi, "test_code": code, "value": value, "unit": unit}]),
    )
}

/// Four days later the QC lab reports viability, VCN and (last) sterility.
/// Returns the three outcomes in that order.
pub fn qc_results(h: &mut impl Harness, p: &Patient, viability: f64) -> [Outcome; 3] {
    h.advance_time(4 * DAY);
    let viab = qc_result(h, p, "VIAB", json!(viability), "%");
    let vcn = qc_result(h, p, "VCN", json!(2.1), "copies/cell");
    let ster = qc_result(h, p, "STER", json!("no growth"), "n/a");
    for o in [&viab, &vcn, &ster] {
        o.assert_ok();
    }
    [viab, vcn, ster]
}

/// The QP reviews the batch record and certifies it (e-signature bound to
/// the record's SHA-256).
pub fn certify(h: &mut impl Harness, p: &Patient) -> Outcome {
    h.advance_time(4 * HOUR);
    let batch = get_batch(h, p.coi);
    submit(
        h,
        qp_varga(),
        RELEASE,
        "certify",
        json!([{"coi": p.coi, "batch_record_sha256": batch.batch_sha256}]),
    )
}

/// The QP records release's decision in patient-batch: RELEASED.
pub fn record_release_decision(h: &mut impl Harness, p: &mut Patient) -> Outcome {
    h.advance_time(10 * MINUTE);
    let (case, out) = case_step(
        h,
        p,
        qp_varga(),
        "record_release_decision",
        json!([{"coi": p.coi}]),
        None,
    );
    assert_eq!(case.state, State::Released);
    out
}

/// Next morning the cryoshipper goes out; the courier records the LN2
/// logger at the site that afternoon and hands over to the clinician.
pub fn ship_to_site(h: &mut impl Harness, p: &mut Patient) -> Outcome {
    h.advance_time(17 * HOUR);
    case_step(
        h,
        p,
        tech_ruiz(),
        "propose_handover",
        json!([{"coi": p.coi, "to_msp": COURIER, "shipment":
            {"sscc": p.sscc_out, "logger_id": p.logger_out, "route": "to_site"}}]),
        None,
    );
    h.advance_time(15 * MINUTE);
    let (case, _) = case_step(
        h,
        p,
        driver_lee(),
        "accept_handover",
        json!([{"coi": p.coi}]),
        None,
    );
    assert_eq!(case.state, State::InTransitToSite);
    h.advance_time(7 * HOUR + 45 * MINUTE);
    let logger = p.logger_out.clone();
    record_condition(
        h,
        p,
        &logger,
        7 * HOUR + 45 * MINUTE,
        (-187.5, -181.0, -176.2),
    )
    .assert_ok();
    h.advance_time(5 * MINUTE);
    let site = p.site;
    case_step(
        h,
        p,
        driver_lee(),
        "propose_handover",
        json!([{"coi": p.coi, "to_msp": site}]),
        None,
    );
    h.advance_time(15 * MINUTE);
    let clin = (p.clinician)();
    let (case, out) = case_step(h, p, clin, "accept_handover", json!([{"coi": p.coi}]), None);
    assert_eq!(case.state, State::ReceivedAtSite);
    assert_eq!(case.custodian_msp, p.site);
    out
}

/// The next morning the clinician thaws the bag at the bedside.
pub fn thaw(h: &mut impl Harness, p: &mut Patient) -> Outcome {
    h.advance_time(17 * HOUR + 40 * MINUTE);
    let clin = (p.clinician)();
    let (case, out) = case_step(h, p, clin, "record_thaw", json!([{"coi": p.coi}]), None);
    assert_eq!(case.state, State::Thawed);
    out
}

/// The bedside scan request (COI and DIN read off the bag), 20 minutes after
/// the thaw.
pub fn infusion_request(h: &mut impl Harness, p: &Patient, scanned_din: &str) -> Value {
    h.advance_time(20 * MINUTE);
    json!([{"coi": p.coi, "scanned_coi": p.coi, "scanned_din": scanned_din,
            "event_time": local_time(h.timestamp().seconds)}])
}

/// Order to QC_PENDING with a clean cold chain.
pub fn to_qc_pending(h: &mut impl Harness, p: &mut Patient) {
    order(h, p);
    collect(h, p);
    hand_to_courier(h, p);
    drive_to_cdmo(h, p, (3.2, 4.9, 6.8)).assert_ok();
    deliver_to_cdmo(h, p);
    manufacture(h, p);
}

/// Order to RELEASED, every test passing.
pub fn to_released(h: &mut impl Harness, p: &mut Patient) {
    to_qc_pending(h, p);
    open_batch(h, p);
    qc_results(h, p, 91.5);
    certify(h, p).assert_ok();
    record_release_decision(h, p);
}

/// Order to RELEASED by exceptional release: viability out of specification.
pub fn to_exceptional_release(h: &mut impl Harness, p: &mut Patient) -> Outcome {
    to_qc_pending(h, p);
    open_batch(h, p);
    qc_results(h, p, 58.0);
    h.advance_time(DAY);
    let batch = get_batch(h, p.coi);
    let out = submit(
        h,
        qp_varga(),
        RELEASE,
        "exceptional_release",
        json!([{
            "coi": p.coi,
            "reason": "no alternative therapy; treating physician requests use of the OOS batch",
            "physician_request_sha256": doc_hash(&format!("physician-request-{}", p.coi)),
            "risk_assessment_sha256": doc_hash(&format!("risk-assessment-{}", p.coi)),
            "batch_record_sha256": batch.batch_sha256
        }]),
    );
    out.assert_ok();
    record_release_decision(h, p);
    out
}

/// Deploy-independent: the namespaces the three contracts are deployed under.
pub const NAMESPACES: [&str; 3] = [PATIENT_BATCH, RELEASE, DATA_SHARING];
