//! Vein to vein: one autologous CAR-T batch from the order to the infusion,
//! a second one held for a temperature excursion, and consent-gated access
//! to the first patient's data, granted and then refused after withdrawal.
//!
//! The three therapy contracts (patient-batch, release, data-sharing) are
//! built to .wasm and run in the endorser's real wasmtime runtime with the
//! production configuration (through `WasmHarness`): an in-memory channel
//! where every successful transaction is committed in a block of its own.
//! Each step prints who did what, the resulting state and the events.
//! Any unexpected answer stops the story with exit code 1.
//!
//! cargo run -p vein-to-vein-example --release

use std::process::exit;

use cellchain_chaincode_harness::{
    caller, sha256, CallerBuilder, Harness, Invocation, Outcome, Timestamp, WasmHarness,
};
use serde_json::{json, Value};
use therapy_common::ids::{din_check_character, gs1_check_digit};
use therapy_common::{DATA_SHARING, PATIENT_BATCH, RELEASE};

const MINUTE: i64 = 60;
const HOUR: i64 = 3600;
const DAY: i64 = 86_400;
/// 2026-02-23T08:00:00Z: the sponsor sets the product up.
const START: i64 = 1_771_833_600;

// ---- the people (channel-configs/atmp-network.yaml) ------------------------------

fn dr_ng() -> CallerBuilder {
    caller("HospitalAMSP")
        .role("SITE_CLIN")
        .common_name("dr-ng")
}
fn nurse_okafor() -> CallerBuilder {
    caller("HospitalAMSP")
        .role("APHERESIS")
        .common_name("nurse-okafor")
}
fn driver_lee() -> CallerBuilder {
    caller("CourierMSP")
        .role("COURIER")
        .common_name("driver-lee")
}
fn tech_ruiz() -> CallerBuilder {
    caller("CdmoMSP").role("MFG").common_name("tech-ruiz")
}
fn analyst_sato() -> CallerBuilder {
    caller("QcLabMSP").role("QC").common_name("analyst-sato")
}
fn qa_berg() -> CallerBuilder {
    caller("SponsorMSP").role("QA").common_name("qa-berg")
}
fn qa_ito() -> CallerBuilder {
    caller("SponsorMSP").role("QA").common_name("qa-ito")
}
fn qp_varga() -> CallerBuilder {
    caller("SponsorMSP").role("QP").common_name("qp-varga")
}
fn inspector() -> CallerBuilder {
    caller("RegulatorMSP")
        .role("AUDITOR")
        .common_name("inspector")
}

// ---- the story's machinery ------------------------------------------------------------

/// The channel, and printing of each step.
struct Story {
    h: WasmHarness,
}

impl Story {
    fn new() -> Story {
        println!("Building the three contracts to .wasm and installing them in the runtime...");
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../chaincode/contracts");
        let mut h = WasmHarness::new();
        for name in [PATIENT_BATCH, RELEASE, DATA_SHARING] {
            h.deploy_crate(name, format!("{root}/{name}"));
            println!(
                "  {name:13} module sha256 {}",
                h.module_sha256(name).to_hex()
            );
        }
        h.set_timestamp(Timestamp::new(START, 0));
        Story { h }
    }

    fn chapter(&self, title: &str) {
        println!("\n== {title} ==");
    }

    fn wait(&mut self, seconds: i64) {
        self.h.advance_time(seconds);
    }

    fn now(&self) -> i64 {
        self.h.timestamp().seconds
    }

    /// Submits a transaction that must succeed, prints it, returns the payload.
    fn act(&mut self, who: CallerBuilder, contract: &str, function: &str, args: Value) -> Value {
        let out = self.submit(who.clone(), contract, function, args, None);
        if !out.is_ok() {
            fail(&format!(
                "{function} failed with {}: {}",
                out.status(),
                out.message()
            ));
        }
        let payload = out.value();
        self.print(&who, function, &describe(&payload), &out);
        payload
    }

    /// Submits a transaction that must be refused (status 400, nothing
    /// committed) with a message containing `fragment`.
    fn refused(
        &mut self,
        who: CallerBuilder,
        contract: &str,
        function: &str,
        args: Value,
        fragment: &str,
    ) {
        let height = self.h.height();
        let out = self.submit(who.clone(), contract, function, args, None);
        if out.status() != 400 || !out.message().contains(fragment) || self.h.height() != height {
            fail(&format!(
                "{function} should have been refused with {fragment:?}; got {}: {}",
                out.status(),
                out.message()
            ));
        }
        self.print(&who, function, &format!("REFUSED: {}", out.message()), &out);
    }

    /// A query, by the regulator's inspector (read-only).
    fn query(&mut self, contract: &str, function: &str, args: Value) -> Value {
        let out = self
            .h
            .invoke_with(Invocation::new(contract, function, args).caller(inspector()));
        if !out.is_ok() {
            fail(&format!("query {function} failed: {}", out.message()));
        }
        out.value()
    }

    fn submit(
        &mut self,
        who: CallerBuilder,
        contract: &str,
        function: &str,
        args: Value,
        transient: Option<(&str, &str)>,
    ) -> Outcome {
        let mut inv = Invocation::new(contract, function, args).caller(who);
        if let Some((k, v)) = transient {
            inv = inv.transient(k, v);
        }
        self.h.submit_with(inv)
    }

    fn print(&self, who: &CallerBuilder, function: &str, result: &str, out: &Outcome) {
        let c = who.clone().build();
        let role = c.attributes.get("role").cloned().unwrap_or_default();
        println!(
            "[{}] {} ({}, {role}) {function}: {result}",
            utc(self.now()),
            c.common_name,
            c.msp_id
        );
        for e in &out.events {
            let payload: Value = serde_json::from_slice(&e.payload.0).unwrap_or(Value::Null);
            println!("      event {}{}", e.name, event_detail(&payload));
        }
    }
}

fn fail(message: &str) -> ! {
    eprintln!("\nUNEXPECTED: {message}");
    exit(1)
}

fn expect(condition: bool, message: &str) {
    if !condition {
        fail(message);
    }
}

/// The resulting state of a transaction's answer, in words.
fn describe(v: &Value) -> String {
    if let (Some(state), Some(custodian)) = (v.get("state"), v.get("custodian_msp")) {
        let open = v["deviations"]
            .as_array()
            .map_or(0, |d| d.iter().filter(|d| d["closure"].is_null()).count());
        return format!(
            "case {} is {state}, held by {custodian}, {open} open deviation(s)",
            v["coi"]
        );
    }
    if let Some(passed) = v.get("passed") {
        return format!(
            "result {} of {} = {} {}: passed {passed}",
            v["id"], v["test_code"], v["value"], v["unit"]
        );
    }
    if let Some(batch) = v.get("batch") {
        return format!("batch {} is {}", batch["coi"], batch["status"]);
    }
    if let Some(d) = v.get("decision") {
        return match d.as_str() {
            Some("Granted") => format!(
                "GRANTED, grant {} (conditions {})",
                v["grant_id"], v["conditions"]
            ),
            _ => format!("REFUSED on consent {}: {}", v["consent"], v["reason"]),
        };
    }
    if let Some(status) = v.get("status") {
        return format!(
            "{} {status}",
            v.get("id")
                .or(v.get("product_code"))
                .unwrap_or(&Value::Null)
        );
    }
    if let Some(id) = v.get("id").or(v.get("product_code")) {
        return format!("recorded {id}");
    }
    v.to_string()
}

fn event_detail(p: &Value) -> String {
    let mut parts = Vec::new();
    for key in [
        "from",
        "to",
        "from_msp",
        "to_msp",
        "kind",
        "holds",
        "reason",
        "grantee_msp",
        "consent",
        "superseded_grants",
    ] {
        if let Some(v) = p.get(key) {
            if !v.is_null() {
                parts.push(format!("{key}={v}"));
            }
        }
    }
    if let Some(next) = p.get("next").filter(|n| !n.is_null()) {
        parts.push(format!("next: {} {}", next["msp_id"], next["operation"]));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    }
}

fn hash(document: &str) -> String {
    sha256(document.as_bytes()).to_hex()
}

fn din(seq: u32) -> String {
    let base = format!("A123426{seq:06}");
    format!("{base}00{}", din_check_character(&base))
}

fn sscc(serial: u64) -> String {
    let data = format!("00614141{serial:09}");
    format!("{data}{}", gs1_check_digit(&data).unwrap())
}

/// `2026-03-02T08:00:00Z`.
fn utc(seconds: i64) -> String {
    let (days, secs) = (seconds.div_euclid(DAY), seconds.rem_euclid(DAY));
    // Civil from days (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

// ---- the journey --------------------------------------------------------------------------

struct Patient {
    coi: &'static str,
    pseudonym: &'static str,
    din: String,
    serial: u64,
}

fn case(s: &mut Story, who: CallerBuilder, function: &str, args: Value) -> Value {
    s.act(who, PATIENT_BATCH, function, args)
}

fn expect_state(case: &Value, state: &str) {
    expect(
        case["state"] == state,
        &format!("case should be {state}, is {}", case["state"]),
    );
}

/// Order, slot, collection, and hand-over of the chilled bag to the courier.
fn order_to_courier(s: &mut Story, p: &Patient) {
    s.act(dr_ng(), PATIENT_BATCH, "create_case", json!([{"coi": p.coi, "pseudonym": p.pseudonym, "product_code": "CART-19", "manufacturer_msp": "CdmoMSP"}]));
    s.wait(2 * HOUR);
    case(
        s,
        tech_ruiz(),
        "confirm_slot",
        json!([{"coi": p.coi, "note": "slot HX-2026-W11-03"}]),
    );
    s.wait(7 * DAY);
    let c = case(
        s,
        nurse_okafor(),
        "record_collection",
        json!([{"coi": p.coi, "din": p.din}]),
    );
    expect_state(&c, "COLLECTED");
    s.wait(30 * MINUTE);
    case(
        s,
        dr_ng(),
        "propose_handover",
        json!([{"coi": p.coi, "to_msp": "CourierMSP",
        "shipment": {"sscc": sscc(p.serial), "logger_id": format!("LOG-{}", p.serial), "route": "to_manufacturing"}}]),
    );
    s.wait(10 * MINUTE);
    let c = case(s, driver_lee(), "accept_handover", json!([{"coi": p.coi}]));
    expect_state(&c, "IN_TRANSIT_TO_MFG");
}

fn logger(
    s: &Story,
    p: &Patient,
    serial: u64,
    leg: i64,
    (min, mean, max): (f64, f64, f64),
) -> Value {
    json!([{"coi": p.coi, "logger_id": format!("LOG-{serial}"), "min_c": min, "max_c": max, "mean_c": mean,
            "count": leg / 300, "first_reading": utc(s.now() - leg), "last_reading": utc(s.now() - 300),
            "logger_file_sha256": hash(&format!("LOG-{serial}.csv"))}])
}

/// Arrival at the CDMO, manufacturing, QC, certification and release.
fn cdmo_to_release(s: &mut Story, p: &Patient, certify_should_fail: Option<&str>) {
    s.wait(5 * MINUTE);
    case(
        s,
        driver_lee(),
        "propose_handover",
        json!([{"coi": p.coi, "to_msp": "CdmoMSP"}]),
    );
    s.wait(15 * MINUTE);
    let c = case(s, tech_ruiz(), "accept_handover", json!([{"coi": p.coi}]));
    expect_state(&c, "RECEIVED_AT_MFG");
    s.wait(2 * HOUR);
    case(
        s,
        tech_ruiz(),
        "start_manufacturing",
        json!([{"coi": p.coi}]),
    );
    s.wait(10 * DAY);
    let c = case(
        s,
        tech_ruiz(),
        "complete_manufacturing",
        json!([{"coi": p.coi, "document_sha256": hash("batch record")}]),
    );
    expect_state(&c, "QC_PENDING");
    s.wait(30 * MINUTE);
    s.act(tech_ruiz(), RELEASE, "open_batch", json!([{"coi": p.coi}]));
    s.wait(4 * DAY);
    for (code, value, unit) in [
        ("VIAB", json!(91.5), "%"),
        ("VCN", json!(2.1), "copies/cell"),
        ("STER", json!("no growth"), "n/a"),
    ] {
        s.wait(5 * MINUTE);
        s.act(
            analyst_sato(),
            RELEASE,
            "record_result",
            json!([{"coi": p.coi, "test_code": code, "value": value, "unit": unit}]),
        );
    }
    s.wait(4 * HOUR);
    if let Some(missing) = certify_should_fail {
        let sha = s.query(RELEASE, "get_batch", json!([p.coi]))["batch_sha256"].clone();
        s.refused(
            qp_varga(),
            RELEASE,
            "certify",
            json!([{"coi": p.coi, "batch_record_sha256": sha}]),
            missing,
        );
        return;
    }
    certify_and_release(s, p);
}

fn certify_and_release(s: &mut Story, p: &Patient) {
    let batch = s.query(RELEASE, "get_batch", json!([p.coi]));
    expect(
        batch["batch"]["status"] == "EVIDENCE_COMPLETE",
        "the release contract should have set EVIDENCE_COMPLETE",
    );
    println!(
        "      (release set EVIDENCE_COMPLETE itself; the QP reviews batch record {})",
        batch["batch_sha256"]
    );
    let b = s.act(
        qp_varga(),
        RELEASE,
        "certify",
        json!([{"coi": p.coi, "batch_record_sha256": batch["batch_sha256"]}]),
    );
    expect(
        b["batch"]["status"] == "RELEASED",
        "certification should release the batch",
    );
    s.wait(10 * MINUTE);
    let c = case(
        s,
        qp_varga(),
        "record_release_decision",
        json!([{"coi": p.coi}]),
    );
    expect_state(&c, "RELEASED");
}

fn main() {
    let mut s = Story::new();

    s.chapter("Set-up: the sponsor configures CART-19 and approves its specification");
    s.act(
        qa_berg(),
        PATIENT_BATCH,
        "configure_product",
        json!([{
        "product_code": "CART-19", "spec_version": 1, "manufacturer_msps": ["CdmoMSP"],
        "routes": [{"route": "to_manufacturing", "range": {"min_c": 2.0, "max_c": 8.0}},
                   {"route": "to_site", "range": {"max_c": -150.0}}],
        "collection_to_receipt_max_hours": 48, "thaw_to_infusion_max_minutes": 30,
        "reason": "CC-2026-014 initial configuration"}]),
    );
    s.wait(HOUR);
    let tests = json!([
        {"code": "VIAB", "name": "Viability", "method": "flow cytometry", "unit": "%", "criterion": {"kind": "at_least", "min": 70.0}, "required": true},
        {"code": "STER", "name": "Sterility", "method": "Ph. Eur. 2.6.27", "unit": "n/a", "criterion": {"kind": "equals", "value": "no growth"}, "required": true},
        {"code": "VCN", "name": "Vector copy number", "method": "ddPCR", "unit": "copies/cell", "criterion": {"kind": "between", "min": 0.5, "max": 5.0}, "required": true}]);
    let draft = s.act(
        qa_berg(),
        RELEASE,
        "create_spec",
        json!([{"product_code": "CART-19", "version": 1, "tests": tests}]),
    );
    s.wait(DAY);
    s.act(
        qa_ito(),
        RELEASE,
        "approve_spec",
        json!([{"product_code": "CART-19", "version": 1, "spec_sha256": draft["spec_sha256"]}]),
    );

    // ---- patient one ----
    s.chapter("Patient one: order to infusion");
    s.wait(6 * DAY - HOUR);
    let one = Patient {
        coi: "CHA123426000101",
        pseudonym: "3f2a9c1b7e4d60a58b9c0d1e2f3a4b5c",
        din: din(101),
        serial: 101,
    };
    order_to_courier(&mut s, &one);
    s.wait(17 * HOUR);
    let readings = logger(&s, &one, 101, 17 * HOUR, (3.2, 4.9, 6.8));
    case(&mut s, driver_lee(), "record_shipment_condition", readings);
    cdmo_to_release(&mut s, &one, None);
    s.wait(17 * HOUR);
    case(
        &mut s,
        tech_ruiz(),
        "propose_handover",
        json!([{"coi": one.coi, "to_msp": "CourierMSP",
        "shipment": {"sscc": sscc(5101), "logger_id": "LOG-5101", "route": "to_site"}}]),
    );
    s.wait(15 * MINUTE);
    case(
        &mut s,
        driver_lee(),
        "accept_handover",
        json!([{"coi": one.coi}]),
    );
    s.wait(7 * HOUR);
    let readings = logger(&s, &one, 5101, 7 * HOUR, (-187.5, -181.0, -176.2));
    case(&mut s, driver_lee(), "record_shipment_condition", readings);
    s.wait(5 * MINUTE);
    case(
        &mut s,
        driver_lee(),
        "propose_handover",
        json!([{"coi": one.coi, "to_msp": "HospitalAMSP"}]),
    );
    s.wait(15 * MINUTE);
    let c = case(
        &mut s,
        dr_ng(),
        "accept_handover",
        json!([{"coi": one.coi}]),
    );
    expect_state(&c, "RECEIVED_AT_SITE");
    s.wait(22 * HOUR);
    case(&mut s, dr_ng(), "record_thaw", json!([{"coi": one.coi}]));
    s.wait(20 * MINUTE);
    s.refused(
        dr_ng(),
        PATIENT_BATCH,
        "record_infusion",
        json!([{"coi": one.coi, "scanned_coi": one.coi, "scanned_din": din(102)}]),
        "IDENTITY MISMATCH",
    );
    let c = case(
        &mut s,
        dr_ng(),
        "record_infusion",
        json!([{"coi": one.coi, "scanned_coi": one.coi, "scanned_din": one.din}]),
    );
    expect_state(&c, "INFUSED");
    let view = s.query(PATIENT_BATCH, "get_case", json!([one.coi]));
    let timeline = view["timeline"].as_array().cloned().unwrap_or_default();
    println!(
        "  The regulator reads the timeline of {} ({} events):",
        one.coi,
        timeline.len()
    );
    for e in &timeline {
        println!(
            "    #{:<2} {:26} by {:13} {:13} -> {:18} custodian {}",
            e["seq"],
            e["what"]["operation"].as_str().unwrap_or(""),
            e["who"]["common_name"].as_str().unwrap_or(""),
            e["who"]["msp_id"].as_str().unwrap_or(""),
            e["state_after"].as_str().unwrap_or(""),
            e["custodian_after"].as_str().unwrap_or("")
        );
    }
    expect(
        timeline.len() == 18,
        "patient one's timeline should have 18 events",
    );
    expect(
        view["custodian_msp"] == "HospitalAMSP",
        "the site should hold the (infused) product",
    );

    // ---- patient two ----
    s.chapter("Patient two: a temperature excursion on the way to the CDMO");
    let two = Patient {
        coi: "CHA123426000102",
        pseudonym: "8c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f",
        din: din(202),
        serial: 202,
    };
    s.wait(DAY);
    order_to_courier(&mut s, &two);
    s.wait(17 * HOUR);
    let readings = logger(&s, &two, 202, 17 * HOUR, (3.1, 7.4, 11.6));
    let c = case(&mut s, driver_lee(), "record_shipment_condition", readings);
    expect_state(&c, "ON_HOLD");
    s.wait(5 * MINUTE);
    s.refused(
        driver_lee(),
        PATIENT_BATCH,
        "propose_handover",
        json!([{"coi": two.coi, "to_msp": "CdmoMSP"}]),
        "ON_HOLD",
    );
    s.wait(HOUR);
    case(
        &mut s,
        qa_ito(),
        "report_deviation",
        json!([{"coi": two.coi, "kind": "TEMPERATURE_EXCURSION", "hold": false,
        "description": "investigation DEV-2026-031 of the 11.6 °C excursion"}]),
    );
    s.wait(10 * MINUTE);
    let c = case(
        &mut s,
        qa_ito(),
        "close_deviation",
        json!([{"coi": two.coi, "deviation_id": 1,
        "reason": "hold lifted: impact assessment IA-2026-031 allows manufacturing at risk; investigation continues as deviation 2"}]),
    );
    expect_state(&c, "IN_TRANSIT_TO_MFG");
    cdmo_to_release(&mut s, &two, Some("condition record not clean"));
    s.wait(HOUR);
    case(
        &mut s,
        qa_ito(),
        "close_deviation",
        json!([{"coi": two.coi, "deviation_id": 2,
        "reason": "DEV-2026-031 closed: QC within specification, no product impact"}]),
    );
    s.wait(10 * MINUTE);
    s.act(qa_ito(), RELEASE, "reevaluate", json!([two.coi]));
    certify_and_release(&mut s, &two);

    // ---- data ----
    s.chapter("Patient one's data: consent, access, withdrawal");
    s.wait(DAY);
    let out = s.submit(
        dr_ng(),
        DATA_SHARING,
        "link_patient",
        json!([one.coi]),
        Some(("patient_record_ref", "MRN-NG-0048213")),
    );
    expect(out.is_ok(), "link_patient should succeed");
    expect(
        !serde_json::to_string(&out.rwset)
            .unwrap()
            .contains("MRN-NG"),
        "the patient link must stay out of the block",
    );
    s.print(
        &dr_ng(),
        "link_patient",
        &format!(
            "stored in private collection {} (the block carries only its hash)",
            out.value()["collection"]
        ),
        &out,
    );
    let expires = s.now() + 5 * 365 * DAY;
    s.act(dr_ng(), DATA_SHARING, "register_consent", json!([{"consent_id": "consent-p1", "coi": one.coi, "pseudonym": one.pseudonym,
        "permitted_uses": ["HMB", "IRB"], "recipients": ["SponsorMSP"], "expires_at": {"seconds": expires, "nanos": 0},
        "form_sha256": hash("consent-form-p1.pdf")}]));
    s.act(
        dr_ng(),
        DATA_SHARING,
        "register_dataset",
        json!([{"dataset_id": "ds-p1", "root": hash("ds-p1 root"),
        "uri": "s3://northgate-research/cart19/ds-p1", "consents": ["consent-p1"]}]),
    );
    s.wait(DAY);
    let request = json!([{"datasets": ["ds-p1"], "purpose": "HMB", "protocol_sha256": hash("protocol-CRS-prediction-v2.pdf")}]);
    let granted = s.act(qa_ito(), DATA_SHARING, "request_access", request.clone());
    expect(
        granted["decision"] == "Granted",
        "the first request should be granted",
    );
    s.wait(3 * DAY);
    s.act(qa_ito(), DATA_SHARING, "record_training_run", json!([{"run_id": "run-crs-001", "grants": [granted["grant_id"]],
        "dataset_roots": [{"dataset": "ds-p1", "root": hash("ds-p1 root")}], "model_sha256": hash("crs-model-v1.onnx")}]));
    s.wait(7 * DAY);
    s.act(
        dr_ng(),
        DATA_SHARING,
        "withdraw_consent",
        json!(["consent-p1"]),
    );
    s.wait(HOUR);
    let refused = s.act(qa_ito(), DATA_SHARING, "request_access", request);
    expect(
        refused["decision"] == "Refused" && refused["reason"]["reason"] == "ConsentWithdrawn",
        "after withdrawal the request should be refused on the consent",
    );

    println!(
        "\nThe story ran as expected: {} blocks committed.",
        s.h.height()
    );
}
