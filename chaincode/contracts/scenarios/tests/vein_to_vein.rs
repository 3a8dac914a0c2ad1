//! Vein to vein on one channel: patient-batch, release and data-sharing
//! deployed together, driven by the organisations of
//! `channel-configs/atmp-network.yaml`. Each scenario is written once and run
//! by `both!` natively (`<name>::native`) and as the three built .wasm
//! modules in the endorser's runtime (`<name>::wasm`).

mod support;

use cellchain_chaincode_harness::{both, Harness, Invocation, NativeHarness, WasmHarness};
use data_sharing::DataSharing;
use patient_batch::state::{Case, DeviationKind, State};
use patient_batch::{CaseError, PatientBatch};
use release::evidence::Missing;
use release::state::meaning;
use release::{Release, ReleaseError};
use serde_json::{json, Value};
use therapy_common::{
    batch_summary_key, case_summary_key, BatchSummary, CaseSummary, DATA_SHARING, PATIENT_BATCH,
    RELEASE,
};

use support::*;

/// 2026-03-02T08:00:00Z: patient one is ordered.
const DAY0: i64 = SETUP_TIME + 7 * DAY;

fn native() -> NativeHarness {
    let mut h = NativeHarness::new();
    h.deploy::<PatientBatch>(PATIENT_BATCH)
        .deploy::<Release>(RELEASE)
        .deploy::<DataSharing>(DATA_SHARING);
    h
}

fn wasm() -> WasmHarness {
    let mut h = WasmHarness::new();
    h.deploy_crate(
        PATIENT_BATCH,
        concat!(env!("CARGO_MANIFEST_DIR"), "/../patient-batch"),
    )
    .deploy_crate(RELEASE, concat!(env!("CARGO_MANIFEST_DIR"), "/../release"))
    .deploy_crate(
        DATA_SHARING,
        concat!(env!("CARGO_MANIFEST_DIR"), "/../data-sharing"),
    );
    h
}

both!(
    patient_one_happy_path,
    patient_two_excursion,
    patient_three_oos_exceptional_release,
    consent_gated_data,
    bedside_mismatch_writes_nothing,
    cross_contract_reads_are_in_the_read_set,
);

// ---- helpers ------------------------------------------------------------------------

fn case_summary(h: &impl Harness, coi: &str) -> CaseSummary {
    h.get_state_json(PATIENT_BATCH, &case_summary_key(coi))
        .unwrap()
}

fn batch_summary(h: &impl Harness, coi: &str) -> BatchSummary {
    h.get_state_json(RELEASE, &batch_summary_key(coi)).unwrap()
}

fn cases_at(h: &mut impl Harness, site: &str, state: &str) -> Vec<String> {
    let cases: Vec<Case> = evaluate(
        h,
        inspector(),
        PATIENT_BATCH,
        "cases_by_site_and_state",
        json!([site, state]),
    )
    .json();
    cases.into_iter().map(|c| c.coi).collect()
}

/// Asserts `get_case`'s timeline is exactly what the story journaled: every
/// event's operation, who (name, organisation, role) and event time, in order.
#[track_caller]
fn assert_timeline_is_the_journal(
    h: &mut impl Harness,
    p: &Patient,
) -> patient_batch::msg::CaseView {
    let view = get_case(h, p.coi);
    let seen: Vec<Done> = view
        .timeline
        .iter()
        .map(|e| Done {
            operation: e.what.operation.clone(),
            who: e.who.common_name.clone(),
            msp: e.who.msp_id.clone(),
            role: e.who.role.clone().unwrap_or_default(),
            event_time: e.when.event_time.seconds,
        })
        .collect();
    assert_eq!(seen, p.journal);
    for (i, e) in view.timeline.iter().enumerate() {
        assert_eq!(e.seq, i as u64);
        assert_eq!(e.coi, p.coi);
        // Event time never after the record time (beyond the scanner skew),
        // and never before the previous event.
        assert!(e.when.event_time.seconds <= e.when.record_time.seconds + 300);
        if i > 0 {
            assert!(e.when.event_time >= view.timeline[i - 1].when.event_time);
        }
    }
    view
}

/// The payload of `CaseStateChanged` as (from, to, next operation's MSP and name).
#[track_caller]
fn state_change(out: &cellchain_chaincode_harness::Outcome) -> (Value, Value, Value, Value) {
    let e = event(out, "CaseStateChanged");
    (
        e["from"].clone(),
        e["to"].clone(),
        e["next"]["msp_id"].clone(),
        e["next"]["operation"].clone(),
    )
}

#[track_caller]
fn status_change(out: &cellchain_chaincode_harness::Outcome) -> (Value, Value, String) {
    let e = event(out, "BatchStatusChanged");
    (
        e["from"].clone(),
        e["to"].clone(),
        e["reason"].as_str().unwrap().to_string(),
    )
}

// ---- patient one: the happy path ------------------------------------------------------

fn patient_one_happy_path(h: &mut impl Harness) {
    configure_product_and_spec(h);
    let mut p = Patient::one();
    h.set_timestamp(ts(DAY0));

    let created = order(h, &mut p);
    assert_eq!(
        state_change(&created),
        (
            Value::Null,
            json!("ORDERED"),
            json!(CDMO),
            json!("confirm_slot")
        )
    );
    collect(h, &mut p);
    let (proposed, accepted) = hand_to_courier(h, &mut p);
    assert_eq!(event_names(&proposed), ["HandoverProposed"]);
    assert_eq!(event(&proposed, "HandoverProposed")["to_msp"], COURIER);
    assert_eq!(
        event_names(&accepted),
        ["HandoverAccepted", "CaseStateChanged"]
    );
    let cold_chain = drive_to_cdmo(h, &mut p, (3.2, 4.9, 6.8));
    assert!(cold_chain.events.is_empty(), "a clean record opens nothing");
    deliver_to_cdmo(h, &mut p);
    manufacture(h, &mut p);
    assert!(case_summary(h, p.coi).condition_clean);

    // Release: the batch is opened, QC reports, and the last passing result
    // sets EVIDENCE_COMPLETE in the QC lab's own transaction.
    let opened = open_batch(h, &p);
    assert_eq!(
        status_change(&opened),
        (Value::Null, json!("TESTING"), "batch opened".into())
    );
    let [viab, vcn, ster] = qc_results(h, &p, 91.5);
    for partial in [&viab, &vcn] {
        assert_eq!(partial.value()["passed"], true);
        assert!(partial.events.is_empty(), "not complete yet");
    }
    assert_eq!(ster.value()["passed"], true);
    let (from, to, reason) = status_change(&ster);
    assert_eq!((from, to), (json!("TESTING"), json!("EVIDENCE_COMPLETE")));
    assert!(reason.contains("every required test passed"), "{reason}");
    let batch = get_batch(h, p.coi);
    let completed = batch.batch.history.last().unwrap();
    assert_eq!(completed.to, "EVIDENCE_COMPLETE");
    assert_eq!(
        (completed.by.name.as_str(), completed.by.msp_id.as_str()),
        ("analyst-sato", QC_LAB)
    );
    assert_eq!(
        batch_summary(h, p.coi),
        BatchSummary {
            coi: p.coi.into(),
            status: "EVIDENCE_COMPLETE".into(),
            spec_version: 1,
            qc_passed: true
        }
    );

    let certified = certify(h, &p);
    assert_eq!(
        status_change(&certified).1,
        json!("RELEASED"),
        "certification is the QP's"
    );
    let view: release::msg::BatchView = certified.json();
    let signature = view.decision.signature.unwrap();
    assert_eq!(
        (signature.signer.as_str(), signature.meaning.as_str()),
        ("qp-varga", meaning::RELEASED)
    );
    let decided = record_release_decision(h, &mut p);
    assert_eq!(
        state_change(&decided),
        (
            json!("QC_PENDING"),
            json!("RELEASED"),
            json!(CDMO),
            json!("propose_handover")
        )
    );
    assert_eq!(cases_at(h, SITE_A, "RELEASED"), [p.coi]);

    ship_to_site(h, &mut p);
    thaw(h, &mut p);
    let scan = infusion_request(h, &p, &p.din.clone());
    let when = h.timestamp().seconds;
    let (case, infused) = case_step(h, &mut p, dr_ng(), "record_infusion", scan, Some(when));
    assert_eq!(case.state, State::Infused);
    assert!(
        case.deviations.is_empty(),
        "thawed 20 min before: in the window"
    );
    let e = event(&infused, "CaseStateChanged");
    assert_eq!(
        (&e["from"], &e["to"]),
        (&json!("THAWED"), &json!("INFUSED"))
    );
    assert_eq!(e["next"], Value::Null, "INFUSED is terminal");

    // The whole timeline: what, who, when, and where the material was.
    let view = assert_timeline_is_the_journal(h, &p);
    let path: Vec<(&str, State, &str)> = view
        .timeline
        .iter()
        .map(|e| {
            (
                e.what.operation.as_str(),
                e.state_after,
                e.custodian_after.as_str(),
            )
        })
        .collect();
    use State::*;
    assert_eq!(
        path,
        [
            ("create_case", Ordered, SITE_A),
            ("confirm_slot", SlotConfirmed, SITE_A),
            ("record_collection", Collected, SITE_A),
            ("propose_handover", Collected, SITE_A),
            ("accept_handover", InTransitToMfg, COURIER),
            ("record_shipment_condition", InTransitToMfg, COURIER),
            ("propose_handover", InTransitToMfg, COURIER),
            ("accept_handover", ReceivedAtMfg, CDMO),
            ("start_manufacturing", InManufacturing, CDMO),
            ("complete_manufacturing", QcPending, CDMO),
            ("record_release_decision", Released, CDMO),
            ("propose_handover", Released, CDMO),
            ("accept_handover", InTransitToSite, COURIER),
            ("record_shipment_condition", InTransitToSite, COURIER),
            ("propose_handover", InTransitToSite, COURIER),
            ("accept_handover", ReceivedAtSite, SITE_A),
            ("record_thaw", Thawed, SITE_A),
            ("record_infusion", Infused, SITE_A),
        ]
    );
    // The scanner's local times keep their zone.
    assert_eq!(view.timeline[2].when.event_time_zone_offset, "+01:00");
    assert!(view.timeline[2]
        .what
        .ids
        .contains(&format!("din:{}", p.din)));
    assert_eq!(view.timeline[17].when.event_time_zone_offset, "+01:00");
    assert_eq!(view.timeline[0].when.event_time.seconds, DAY0);
    assert_eq!(
        view.timeline[17].when.event_time.seconds,
        DAY0 + 24 * DAY + 6 * HOUR + 35 * MINUTE,
        "ordered on 2 March 08:00, infused on 26 March at 14:35 UTC"
    );
    assert_eq!(view.case.conditions.len(), 2);
    assert!(view.case.conditions.iter().all(|c| !c.excursion));

    assert_eq!(view.custodian_msp, SITE_A);
    assert!(view.pending_handover.is_none());
    let summary = case_summary(h, p.coi);
    assert_eq!(summary.state, "INFUSED");
    assert_eq!(summary.custodian_msp, SITE_A);
    assert_eq!(summary.din.as_deref(), Some(p.din.as_str()));
    assert!(summary.custody_clean && summary.condition_clean);
    assert_eq!(cases_at(h, SITE_A, "INFUSED"), [p.coi]);
    assert!(cases_at(h, SITE_A, "RELEASED").is_empty());
    assert!(cases_at(h, SITE_B, "INFUSED").is_empty());
}

// ---- patient two: a temperature excursion -----------------------------------------------

fn patient_two_excursion(h: &mut impl Harness) {
    configure_product_and_spec(h);
    let mut p = Patient::two();
    h.set_timestamp(ts(DAY0 + 2 * DAY));
    order(h, &mut p);
    collect(h, &mut p);
    hand_to_courier(h, &mut p);

    // The logger shows 11.6 °C on the way to the CDMO: recorded, and held.
    let excursion = drive_to_cdmo(h, &mut p, (3.1, 7.4, 11.6));
    let opened = event(&excursion, "DeviationOpened");
    assert_eq!(
        (&opened["deviation_id"], &opened["kind"], &opened["holds"]),
        (&json!(1), &json!("TEMPERATURE_EXCURSION"), &json!(true))
    );
    hold_is_published(h, &p, &excursion);
    let case: Case = excursion.json();
    assert!(case.conditions[0].excursion);
    assert!(case.deviations[0].description.contains("11.6"));
    let summary = case_summary(h, p.coi);
    assert_eq!(summary.state, "ON_HOLD");
    assert!(!summary.condition_clean);
    assert_eq!(summary.open_deviations, 1);

    // Nothing moves while the case is held.
    h.advance_time(5 * MINUTE);
    let height = h.height();
    let out = submit(
        h,
        driver_lee(),
        PATIENT_BATCH,
        "propose_handover",
        json!([{"coi": p.coi, "to_msp": CDMO}]),
    );
    refused(&out, height, h, "ON_HOLD");

    // QA's impact assessment lifts the hold (manufacture at risk) while the
    // investigation stays open as a deviation of its own.
    h.advance_time(HOUR);
    let coi = p.coi;
    let (_, investigation) = case_step(
        h,
        &mut p,
        qa_ito(),
        "report_deviation",
        json!([{"coi": coi, "kind": "TEMPERATURE_EXCURSION", "hold": false,
                "description": "investigation DEV-2026-031 of the 11.6 °C excursion; product impact assessed with the QC results"}]),
        None,
    );
    assert_eq!(event(&investigation, "DeviationOpened")["deviation_id"], 2);
    h.advance_time(10 * MINUTE);
    let (case, resumed) = case_step(
        h,
        &mut p,
        qa_ito(),
        "close_deviation",
        json!([{"coi": coi, "deviation_id": 1,
                "reason": "hold lifted: impact assessment IA-2026-031 allows manufacturing at risk; investigation continues as deviation 2"}]),
        None,
    );
    assert_eq!(
        event_names(&resumed),
        ["DeviationClosed", "CaseStateChanged"]
    );
    assert_eq!(case.state, State::InTransitToMfg, "the case resumes");
    assert_eq!(case.held_from, None);

    deliver_to_cdmo(h, &mut p);
    manufacture(h, &mut p);
    open_batch(h, &p);
    let [_, _, ster] = qc_results(h, &p, 88.0);
    assert!(
        ster.events.is_empty(),
        "QC passed, but the case is not clean"
    );
    let batch = batch_summary(h, p.coi);
    assert_eq!((batch.status.as_str(), batch.qc_passed), ("TESTING", true));

    // The QP cannot certify while the investigation is open; the error says what is missing.
    let height = h.height();
    let refusal = certify(h, &p);
    let expected = ReleaseError::EvidenceIncomplete {
        coi: p.coi.into(),
        missing: Missing {
            tests_not_passed: vec![],
            open_deviations: vec![],
            case_not_clean: vec![
                "condition record not clean (excursion or missed window)".into(),
                "1 open case deviation(s)".into(),
            ],
        },
    };
    refused(&refusal, height, h, "condition record not clean");
    assert_eq!(refusal.message(), expected.to_string());

    // QA closes the investigation with its conclusion.
    h.advance_time(HOUR);
    let (case, closed) = case_step(
        h,
        &mut p,
        qa_ito(),
        "close_deviation",
        json!([{"coi": coi, "deviation_id": 2,
                "reason": "DEV-2026-031 closed: viability 88 %, sterile, VCN in range; no product impact"}]),
        None,
    );
    assert_eq!(event_names(&closed), ["DeviationClosed"]);
    assert_eq!(case.state, State::QcPending);
    let closure = case.deviations[1].closure.as_ref().unwrap();
    assert_eq!(
        (
            closure.closed_by.common_name.as_str(),
            closure.closed_by.msp_id.as_str()
        ),
        ("qa-ito", SPONSOR)
    );
    assert!(case_summary(h, p.coi).condition_clean);

    // Release learns it on re-evaluation: EVIDENCE_COMPLETE, then certification.
    h.advance_time(10 * MINUTE);
    let reevaluated = submit(h, qa_ito(), RELEASE, "reevaluate", json!([p.coi]));
    assert_eq!(status_change(&reevaluated).1, json!("EVIDENCE_COMPLETE"));
    certify(h, &p).assert_ok();
    record_release_decision(h, &mut p);
    assert_eq!(batch_summary(h, p.coi).status, "RELEASED");

    let view = assert_timeline_is_the_journal(h, &p);
    let kinds: Vec<(DeviationKind, bool, bool)> = view
        .case
        .deviations
        .iter()
        .map(|d| (d.kind, d.holds, d.closure.is_some()))
        .collect();
    assert_eq!(
        kinds,
        [
            (DeviationKind::TemperatureExcursion, true, true),
            (DeviationKind::TemperatureExcursion, false, true)
        ]
    );
    assert_eq!(cases_at(h, SITE_A, "RELEASED"), [p.coi]);
}

/// An excursion publishes the hold: the state change event (so QA is told to
/// act), the (site, state) index entry moved to ON_HOLD, and a timeline event
/// saying which state the case was held from.
fn hold_is_published(
    h: &mut impl Harness,
    p: &Patient,
    excursion: &cellchain_chaincode_harness::Outcome,
) {
    assert_eq!(
        event_names(excursion),
        ["DeviationOpened", "CaseStateChanged"]
    );
    assert!(cases_at(h, p.site, "IN_TRANSIT_TO_MFG").is_empty());
    assert_eq!(cases_at(h, p.site, "ON_HOLD"), [p.coi]);
    let event = get_case(h, p.coi).timeline.pop().unwrap();
    assert_eq!(event.what.operation, "record_shipment_condition");
    assert_eq!(
        (event.state_before, event.state_after),
        (State::InTransitToMfg, State::OnHold)
    );
}

// ---- patient three: out of specification, exceptional release --------------------------

fn patient_three_oos_exceptional_release(h: &mut impl Harness) {
    configure_product_and_spec(h);
    let mut p = Patient::three();
    h.set_timestamp(ts(DAY0 + 4 * DAY));
    to_qc_pending(h, &mut p);
    open_batch(h, &p);

    let [viab, _, ster] = qc_results(h, &p, 58.0);
    assert_eq!(
        viab.value()["passed"],
        false,
        "58 % < 70 %: computed, not given"
    );
    let (from, to, reason) = status_change(&viab);
    assert_eq!((from, to), (json!("TESTING"), json!("OOS_INVESTIGATION")));
    assert_eq!(reason, "result R1 of test VIAB is out of specification");
    assert!(ster.events.is_empty());
    assert_eq!(batch_summary(h, p.coi).status, "OOS_INVESTIGATION");

    // Neither normal certification nor the case's release is possible.
    let height = h.height();
    let out = certify(h, &p);
    refused(&out, height, h, "it is OOS_INVESTIGATION");
    h.advance_time(MINUTE);
    let out = submit(
        h,
        qp_varga(),
        PATIENT_BATCH,
        "record_release_decision",
        json!([{"coi": p.coi}]),
    );
    refused(&out, height, h, "OOS_INVESTIGATION");
    assert_eq!(
        out.message(),
        CaseError::BatchNotDecided {
            coi: p.coi.into(),
            status: "OOS_INVESTIGATION".into()
        }
        .to_string()
    );

    // The treating physician asks for the batch; the QP releases it exceptionally.
    h.advance_time(DAY);
    let batch = get_batch(h, p.coi);
    let physician = doc_hash("physician-request-CHB567826000303");
    let risk = doc_hash("risk-assessment-CHB567826000303");
    let released = submit(
        h,
        qp_varga(),
        RELEASE,
        "exceptional_release",
        json!([{
            "coi": p.coi,
            "reason": "no alternative therapy; the treating physician requests the OOS batch",
            "physician_request_sha256": physician,
            "risk_assessment_sha256": risk,
            "batch_record_sha256": batch.batch_sha256
        }]),
    );
    let (from, to, _) = status_change(&released);
    assert_eq!(
        (from, to),
        (json!("OOS_INVESTIGATION"), json!("EXCEPTIONAL_RELEASE"))
    );
    let view: release::msg::BatchView = released.json();
    assert_eq!(view.decision.status, "EXCEPTIONAL_RELEASE");
    assert_eq!(view.decision.physician_request_sha256, Some(physician));
    assert_eq!(view.decision.risk_assessment_sha256, Some(risk));
    let signature = view.decision.signature.unwrap();
    assert_eq!(signature.meaning, meaning::EXCEPTIONALLY_RELEASED);
    assert_eq!(signature.signer, "qp-varga");
    let summary = batch_summary(h, p.coi);
    assert_eq!(
        (summary.status.as_str(), summary.qc_passed),
        ("EXCEPTIONAL_RELEASE", false)
    );

    let decided = record_release_decision(h, &mut p);
    assert_eq!(state_change(&decided).1, json!("RELEASED"));
    let view = assert_timeline_is_the_journal(h, &p);
    let last = view.timeline.last().unwrap();
    assert_eq!(
        last.what.note.as_deref(),
        Some("release status EXCEPTIONAL_RELEASE")
    );
    assert_eq!(last.why.disposition, "conformant");
    assert_eq!(cases_at(h, SITE_B, "RELEASED"), [p.coi]);
    assert!(cases_at(h, SITE_A, "RELEASED").is_empty());
}

// ---- consent-gated data --------------------------------------------------------------------

fn consent_gated_data(h: &mut impl Harness) {
    configure_product_and_spec(h);
    let mut one = Patient::one();
    h.set_timestamp(ts(DAY0));
    to_released(h, &mut one);
    let mut three = Patient::three();
    to_exceptional_release(h, &mut three);
    h.advance_time(DAY);
    let now = h.timestamp().seconds;

    // The site links the pseudonym to its patient record: private data only.
    let mrn = "MRN-NG-0048213";
    let collection = "patient-links-HospitalAMSP";
    let linked = h.submit_with(
        Invocation::new(DATA_SHARING, "link_patient", json!([one.coi]))
            .caller(dr_ng())
            .transient("patient_record_ref", mrn),
    );
    assert_eq!(
        linked.value(),
        json!({"collection": collection, "key": one.pseudonym})
    );
    let private = &linked.private_writes[collection][one.pseudonym];
    assert!(String::from_utf8_lossy(private.as_ref().unwrap()).contains(mrn));
    let ns = linked.ns(DATA_SHARING).unwrap();
    assert!(ns.writes.is_empty(), "no public write: {:?}", ns.writes);
    assert_eq!(ns.collections.len(), 1);
    assert_eq!(ns.collections[0].collection, collection);
    assert_eq!(ns.collections[0].hashed_writes.len(), 1);
    let in_block = serde_json::to_string(&linked.rwset).unwrap();
    assert!(!in_block.contains(mrn) && !in_block.contains(one.pseudonym));
    assert!(!String::from_utf8_lossy(linked.payload()).contains(mrn));
    assert!(linked.events.is_empty());
    assert!(h
        .get_private(DATA_SHARING, collection, one.pseudonym)
        .is_some());
    for (namespace, keys) in &h.state().public {
        for (key, (value, _)) in keys {
            assert!(
                !String::from_utf8_lossy(value).contains(mrn),
                "{namespace}/{key} holds the patient record reference"
            );
        }
    }
    let other_site = evaluate(
        h,
        dr_osei(),
        DATA_SHARING,
        "get_patient_link",
        json!([one.coi]),
    );
    other_site.assert_error(400, "HospitalAMSP");

    // Consent for patient one, and the dataset it covers.
    h.advance_time(HOUR);
    let consent = submit(
        h,
        dr_ng(),
        DATA_SHARING,
        "register_consent",
        json!([{
            "consent_id": "consent-p1", "coi": one.coi, "pseudonym": one.pseudonym,
            "permitted_uses": ["HMB", "IRB"], "recipients": [SPONSOR],
            "expires_at": {"seconds": now + 5 * 365 * DAY, "nanos": 0},
            "form_sha256": doc_hash("consent-form-p1.pdf")
        }]),
    );
    assert_eq!(event_names(&consent), ["ConsentRegistered"]);
    h.advance_time(10 * MINUTE);
    let root = doc_hash("ds-p1 merkle root");
    submit(
        h,
        dr_ng(),
        DATA_SHARING,
        "register_dataset",
        json!([{"dataset_id": "ds-p1", "root": root,
                "uri": "s3://northgate-research/cart19/ds-p1", "consents": ["consent-p1"]}]),
    )
    .assert_ok();

    // The sponsor, a listed recipient, asks for health/medical research.
    let request = json!([{"datasets": ["ds-p1"], "purpose": "HMB",
                          "protocol_sha256": doc_hash("protocol-CRS-prediction-v2.pdf")}]);
    h.advance_time(DAY);
    let granted = submit(h, qa_ito(), DATA_SHARING, "request_access", request.clone());
    let decision = granted.value();
    assert_eq!(decision["decision"], "Granted", "{decision}");
    assert_eq!(decision["conditions"], json!(["IRB"]));
    let grant_id = decision["grant_id"].as_str().unwrap().to_string();
    assert_eq!(event(&granted, "AccessGranted")["grantee_msp"], SPONSOR);
    // The regulator reads; it does not request.
    let height = h.height();
    let out = submit(
        h,
        inspector(),
        DATA_SHARING,
        "request_access",
        request.clone(),
    );
    refused(&out, height, h, "read-only");

    h.advance_time(3 * DAY);
    let run = json!([{"run_id": "run-crs-001", "grants": [grant_id],
                      "dataset_roots": [{"dataset": "ds-p1", "root": root}],
                      "model_sha256": doc_hash("crs-model-v1.onnx")}]);
    let trained = submit(h, qa_ito(), DATA_SHARING, "record_training_run", run);
    assert_eq!(
        event(&trained, "TrainingRunRecorded")["run_id"],
        "run-crs-001"
    );

    // Patient one withdraws consent: the grant is superseded, the same request refused.
    h.advance_time(7 * DAY);
    let withdrawn = submit(
        h,
        dr_ng(),
        DATA_SHARING,
        "withdraw_consent",
        json!(["consent-p1"]),
    );
    assert_eq!(
        event(&withdrawn, "ConsentWithdrawn")["superseded_grants"],
        json!([grant_id])
    );
    let grant = evaluate(h, inspector(), DATA_SHARING, "get_grant", json!([grant_id])).value();
    assert_eq!(grant["status"], "SUPERSEDED_BY_WITHDRAWAL");
    h.advance_time(HOUR);
    let refused_now = submit(h, qa_ito(), DATA_SHARING, "request_access", request);
    let decision = refused_now.value();
    assert_eq!(decision["decision"], "Refused");
    assert_eq!(decision["consent"], "consent-p1");
    assert_eq!(
        decision["reason"],
        json!({"reason": "ConsentWithdrawn", "consent": "consent-p1"})
    );
    assert_eq!(
        event(&refused_now, "AccessRefused")["consent"],
        "consent-p1"
    );
    let record = evaluate(
        h,
        inspector(),
        DATA_SHARING,
        "get_access_request",
        json!([decision["request_id"]]),
    )
    .value();
    assert_eq!(record["decision"], decision, "the refusal is on record");
    let again = json!([{"run_id": "run-crs-002", "grants": [grant_id],
                        "dataset_roots": [{"dataset": "ds-p1", "root": root}],
                        "model_sha256": doc_hash("crs-model-v2.onnx")}]);
    let height = h.height();
    let out = submit(h, qa_ito(), DATA_SHARING, "record_training_run", again);
    refused(&out, height, h, "SUPERSEDED_BY_WITHDRAWAL");

    // Patient three (exceptional release, QC not passed): consent does not suffice.
    h.advance_time(HOUR);
    let now = h.timestamp().seconds;
    submit(
        h,
        dr_osei(),
        DATA_SHARING,
        "register_consent",
        json!([{
            "consent_id": "consent-p3", "coi": three.coi, "pseudonym": three.pseudonym,
            "permitted_uses": ["GRU"], "recipients": [SPONSOR],
            "expires_at": {"seconds": now + 365 * DAY, "nanos": 0},
            "form_sha256": doc_hash("consent-form-p3.pdf")
        }]),
    )
    .assert_ok();
    submit(
        h,
        dr_osei(),
        DATA_SHARING,
        "register_dataset",
        json!([{"dataset_id": "ds-p3", "root": doc_hash("ds-p3 merkle root"),
                "uri": "s3://riverside-research/cart19/ds-p3", "consents": ["consent-p3"]}]),
    )
    .assert_ok();
    h.advance_time(HOUR);
    let out = submit(
        h,
        qa_ito(),
        DATA_SHARING,
        "request_access",
        json!([{"datasets": ["ds-p3"], "purpose": "HMB",
                "protocol_sha256": doc_hash("protocol-CRS-prediction-v2.pdf")}]),
    );
    let decision = out.value();
    assert_eq!(decision["decision"], "Refused");
    assert_eq!(
        decision["reason"],
        json!({"reason": "BatchNotReleased", "coi": three.coi,
               "status": "EXCEPTIONAL_RELEASE without QC passed"})
    );
}

// ---- the bedside check --------------------------------------------------------------------

fn bedside_mismatch_writes_nothing(h: &mut impl Harness) {
    configure_product_and_spec(h);
    let mut p = Patient::one();
    h.set_timestamp(ts(DAY0));
    to_released(h, &mut p);
    ship_to_site(h, &mut p);
    thaw(h, &mut p);
    let case_key = patient_batch::state::case_key(p.coi).unwrap();
    let before = (
        h.get_state(PATIENT_BATCH, &case_key),
        h.get_state(PATIENT_BATCH, &case_summary_key(p.coi)),
    );

    // Another patient's bag (a valid DIN, not this case's).
    let wrong_din = din("A123426", 102);
    let scan = infusion_request(h, &p, &wrong_din);
    let height = h.height();
    let out = submit(h, dr_ng(), PATIENT_BATCH, "record_infusion", scan);
    refused(&out, height, h, "");
    assert_eq!(
        out.message(),
        CaseError::IdentityMismatch {
            coi: p.coi.into(),
            din: Some(p.din.clone()),
            scanned_coi: p.coi.into(),
            scanned_din: wrong_din.clone(),
        }
        .to_string()
    );
    assert!(out.private_writes.is_empty());
    // The wrong COI is refused the same way.
    let scan = json!([{"coi": p.coi, "scanned_coi": "CHA123426000102", "scanned_din": p.din}]);
    let out = submit(h, dr_ng(), PATIENT_BATCH, "record_infusion", scan);
    refused(&out, height, h, "CHA123426000102");
    assert_eq!(
        (
            h.get_state(PATIENT_BATCH, &case_key),
            h.get_state(PATIENT_BATCH, &case_summary_key(p.coi))
        ),
        before,
        "nothing written"
    );
    assert_eq!(get_case(h, p.coi).case.state, State::Thawed);
    assert_timeline_is_the_journal(h, &p);

    // The right bag.
    let scan = infusion_request(h, &p, &p.din.clone());
    let when = h.timestamp().seconds;
    let (case, _) = case_step(h, &mut p, dr_ng(), "record_infusion", scan, Some(when));
    assert_eq!(case.state, State::Infused);
}

// ---- MVCC coverage: cross-contract reads --------------------------------------------------

/// Asserts the outcome read `key` of `namespace` at its committed version
/// (so the committer's MVCC check covers it) and wrote nothing there.
#[track_caller]
fn reads_foreign(
    h: &impl Harness,
    out: &cellchain_chaincode_harness::Outcome,
    namespace: &str,
    key: &str,
) {
    out.assert_ok();
    let ns = out
        .ns(namespace)
        .unwrap_or_else(|| panic!("no {namespace} entry in {:?}", out.rwset));
    let read = ns
        .reads
        .iter()
        .find(|r| r.key == key)
        .unwrap_or_else(|| panic!("{key} not read in {namespace}: {:?}", ns.reads));
    assert_eq!(read.version, h.version(namespace, key), "{key}");
    assert!(read.version.is_some());
    assert!(
        ns.writes.is_empty() && ns.metadata_writes.is_empty(),
        "wrote into {namespace}"
    );
}

fn cross_contract_reads_are_in_the_read_set(h: &mut impl Harness) {
    configure_product_and_spec(h);
    let mut p = Patient::one();
    h.set_timestamp(ts(DAY0));
    to_qc_pending(h, &mut p);
    let case = case_summary_key(p.coi);
    let batch = batch_summary_key(p.coi);

    // release reads patient-batch's case summary in each write that settles.
    h.advance_time(30 * MINUTE);
    let inv = Invocation::new(RELEASE, "open_batch", json!([{"coi": p.coi}])).caller(tech_ruiz());
    let out = h.invoke_with(inv.clone());
    reads_foreign(h, &out, PATIENT_BATCH, &case);
    h.submit_with(inv).assert_ok();
    let [viab, vcn, ster] = qc_results(h, &p, 91.5);
    for out in [&viab, &vcn, &ster] {
        // Reads are checked against the state each was simulated on, which
        // no later transaction changed in patient-batch.
        reads_foreign(h, out, PATIENT_BATCH, &case);
    }
    h.advance_time(HOUR);
    let sha = get_batch(h, p.coi).batch_sha256;
    let certify = Invocation::new(
        RELEASE,
        "certify",
        json!([{"coi": p.coi, "batch_record_sha256": sha}]),
    )
    .caller(qp_varga());
    let out = h.invoke_with(certify.clone());
    reads_foreign(h, &out, PATIENT_BATCH, &case);
    h.submit_with(certify).assert_ok();

    // patient-batch reads release's batch summary to release the case.
    h.advance_time(10 * MINUTE);
    let decision = Invocation::new(
        PATIENT_BATCH,
        "record_release_decision",
        json!([{"coi": p.coi}]),
    )
    .caller(qp_varga());
    let out = h.invoke_with(decision.clone());
    reads_foreign(h, &out, RELEASE, &batch);
    h.submit_with(decision).assert_ok();

    // data-sharing reads the case summary (consent) and the batch summary (access).
    h.advance_time(DAY);
    let consent = Invocation::new(
        DATA_SHARING,
        "register_consent",
        json!([{
            "consent_id": "consent-p1", "coi": p.coi, "pseudonym": p.pseudonym,
            "permitted_uses": ["GRU"], "recipients": [SPONSOR],
            "expires_at": {"seconds": h.timestamp().seconds + 365 * DAY, "nanos": 0},
            "form_sha256": doc_hash("consent-form-p1.pdf")
        }]),
    )
    .caller(dr_ng());
    let out = h.invoke_with(consent.clone());
    reads_foreign(h, &out, PATIENT_BATCH, &case);
    h.submit_with(consent).assert_ok();
    submit(
        h,
        dr_ng(),
        DATA_SHARING,
        "register_dataset",
        json!([{"dataset_id": "ds-p1", "root": doc_hash("root"),
                "uri": "s3://northgate-research/ds-p1", "consents": ["consent-p1"]}]),
    )
    .assert_ok();
    let request = Invocation::new(
        DATA_SHARING,
        "request_access",
        json!([{"datasets": ["ds-p1"], "purpose": "GRU", "protocol_sha256": doc_hash("protocol")}]),
    )
    .caller(qa_ito());
    let out = h.invoke_with(request);
    assert_eq!(out.value()["decision"], "Granted");
    reads_foreign(h, &out, RELEASE, &batch);
    let link = Invocation::new(DATA_SHARING, "link_patient", json!([p.coi]))
        .caller(dr_ng())
        .transient("patient_record_ref", "MRN-1");
    let out = h.invoke_with(link);
    reads_foreign(h, &out, PATIENT_BATCH, &case);

    // No contract ever writes another's namespace: every write above was
    // checked by reads_foreign; the summaries are written by their owners only.
    assert_eq!(
        case_summary(h, p.coi).state,
        "RELEASED",
        "patient-batch wrote its summary"
    );
    assert_eq!(batch_summary(h, p.coi).status, "RELEASED");
}
