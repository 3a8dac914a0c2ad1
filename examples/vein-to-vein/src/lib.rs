//! Vein to vein: one autologous CAR-T batch from the order to the infusion,
//! a second one held for a temperature excursion, and consent-gated access
//! to the first patient's data, granted and then refused after withdrawal.
//!
//! The story ([`run`]) is written once, against a [`Ledger`]: anything that
//! submits and evaluates transactions of the three therapy contracts
//! (patient-batch, release, data-sharing) as named people. Two ledgers run it:
//!
//! - [`wasm::WasmLedger`] (`cargo run -p vein-to-vein-example --release`): the
//!   contracts built to .wasm and run in the endorser's real wasmtime runtime
//!   through `WasmHarness`, an in-memory channel where every successful
//!   transaction is committed in a block of its own, on a simulated clock
//!   (the story's days pass instantly);
//! - the network of `cellchain network up`, through the client SDK
//!   (`cellchain demo`): real identities, endorsers, orderers and committers,
//!   on the wall clock.
//!
//! Each step prints who did what, the resulting state, the events and (on a
//! network) the transaction id and block. Any unexpected answer stops the
//! story with an [`Unexpected`] naming the step.

use std::fmt;

use serde_json::{json, Value};
use therapy_common::ids::{din_check_character, gs1_check_digit};
use therapy_common::{DATA_SHARING, PATIENT_BATCH, RELEASE};

pub mod wasm;

pub const MINUTE: i64 = 60;
pub const HOUR: i64 = 3600;
pub const DAY: i64 = 86_400;
/// The product the story configures and orders.
pub const PRODUCT: &str = "CART-19";

// ---- the people (channel-configs/atmp-network.yaml) ------------------------------

/// One of the story's people: a user of an organisation with a business role
/// (the `role` attribute of the certificate).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Person {
    pub name: &'static str,
    pub msp: &'static str,
    pub role: &'static str,
    /// Must be someone else than the other people of the same organisation
    /// and role (a second QA approving what the first drafted).
    pub distinct: bool,
}

const fn person(name: &'static str, msp: &'static str, role: &'static str) -> Person {
    Person {
        name,
        msp,
        role,
        distinct: false,
    }
}

pub const DR_NG: Person = person("dr-ng", "HospitalAMSP", "SITE_CLIN");
pub const NURSE_OKAFOR: Person = person("nurse-okafor", "HospitalAMSP", "APHERESIS");
pub const DRIVER_LEE: Person = person("driver-lee", "CourierMSP", "COURIER");
pub const TECH_RUIZ: Person = person("tech-ruiz", "CdmoMSP", "MFG");
pub const ANALYST_SATO: Person = person("analyst-sato", "QcLabMSP", "QC");
pub const QA_BERG: Person = person("qa-berg", "SponsorMSP", "QA");
/// Approves the specification qa-berg drafted: four eyes, so another person.
pub const QA_ITO: Person = Person {
    distinct: true,
    ..person("qa-ito", "SponsorMSP", "QA")
};
pub const QP_VARGA: Person = person("qp-varga", "SponsorMSP", "QP");
pub const INSPECTOR: Person = person("inspector", "RegulatorMSP", "AUDITOR");

/// Everyone in the story, in order of appearance.
pub const PEOPLE: [Person; 9] = [
    QA_BERG,
    QA_ITO,
    DR_NG,
    TECH_RUIZ,
    NURSE_OKAFOR,
    DRIVER_LEE,
    ANALYST_SATO,
    QP_VARGA,
    INSPECTOR,
];

// ---- the ledger ------------------------------------------------------------------------

/// A transaction committed as valid.
#[derive(Debug, Clone, Default)]
pub struct Committed {
    /// The contract's answer.
    pub value: Value,
    /// Chaincode events: name and JSON payload.
    pub events: Vec<(String, Value)>,
    /// The transaction id and block, when the ledger has them.
    pub tx: Option<(String, u64)>,
    /// What of the transaction reached the ledger (its write set, or the
    /// block), as text: to check that private inputs stayed out of it.
    pub on_ledger: Option<String>,
}

/// Why a call did not succeed.
#[derive(Debug, Clone)]
pub enum Failure {
    /// The contract refused (its status, usually 400, and message): nothing
    /// was ordered.
    Refused { status: u16, message: String },
    /// Anything else (network, invalid transaction, ...).
    Error(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Refused { status, message } => {
                write!(f, "refused by the contract ({status}): {message}")
            }
            Failure::Error(e) => f.write_str(e),
        }
    }
}

/// Where the story runs.
pub trait Ledger {
    /// Submits a transaction as `who` and waits until it is committed.
    fn submit(
        &mut self,
        who: &Person,
        contract: &str,
        function: &str,
        args: Value,
        transient: Option<(&str, &str)>,
    ) -> Result<Committed, Failure>;

    /// A read-only call as `who`.
    fn evaluate(
        &mut self,
        who: &Person,
        contract: &str,
        function: &str,
        args: Value,
    ) -> Result<Value, Failure>;

    /// Lets `seconds` of the story pass (a simulated clock moves; a real one
    /// does not wait).
    fn wait(&mut self, seconds: i64);

    /// The current time, Unix seconds.
    fn now(&self) -> i64;

    /// How `who` appears in the output.
    fn describe(&self, who: &Person) -> String {
        format!("{} ({}, {})", who.name, who.msp, who.role)
    }

    /// The chain height, when it tells whether a refused call committed
    /// nothing (an in-memory channel); `None` on a shared network.
    fn height(&self) -> Option<u64> {
        None
    }
}

/// An answer the story did not expect: the step and what happened.
#[derive(Debug, Clone)]
pub struct Unexpected {
    pub step: String,
    pub message: String,
}

impl fmt::Display for Unexpected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.step, self.message)
    }
}

impl std::error::Error for Unexpected {}

type R<T> = Result<T, Unexpected>;

// ---- identifiers ---------------------------------------------------------------------

/// The identifiers of one run of the story: fresh ones per run on a network
/// that keeps its ledger.
#[derive(Debug, Clone)]
pub struct RunIds {
    pub patients: [PatientIds; 2],
    /// A registered-nowhere DIN, scanned by mistake at the bedside.
    pub wrong_din: String,
    /// Serial of the cryo shipment back to the site.
    pub return_serial: u64,
    pub consent_id: String,
    pub dataset_id: String,
    pub training_run_id: String,
}

#[derive(Debug, Clone)]
pub struct PatientIds {
    pub coi: String,
    pub pseudonym: String,
    pub din: String,
    /// SSCC serial and logger of the shipment to manufacturing.
    pub serial: u64,
}

impl RunIds {
    /// The fixed identifiers of the in-memory story.
    pub fn fixed() -> RunIds {
        RunIds {
            patients: [
                PatientIds {
                    coi: "CHA123426000101".into(),
                    pseudonym: "3f2a9c1b7e4d60a58b9c0d1e2f3a4b5c".into(),
                    din: din("A1234", "26", 101),
                    serial: 101,
                },
                PatientIds {
                    coi: "CHA123426000102".into(),
                    pseudonym: "8c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f".into(),
                    din: din("A1234", "26", 202),
                    serial: 202,
                },
            ],
            wrong_din: din("A1234", "26", 102),
            return_serial: 5101,
            consent_id: "consent-p1".into(),
            dataset_id: "ds-p1".into(),
            training_run_id: "run-crs-001".into(),
        }
    }

    /// Identifiers derived from `now` (Unix seconds), distinct for every run
    /// started at least a second apart: COIs `CHA1234<yy><5 base-36><1|2>`,
    /// DINs whose facility and sequence digits come from the time (with their
    /// ISO 7064 check character), SSCCs with their GS1 check digit.
    pub fn fresh(now: i64) -> RunIds {
        let yy = &utc(now)[2..4];
        let t = now.max(0) as u64;
        const B36: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
        let mut stamp = String::new();
        let mut n = t % 36u64.pow(5);
        for _ in 0..5 {
            stamp.insert(0, B36[(n % 36) as usize] as char);
            n /= 36;
        }
        // Ten digits of (t * 4 + k): FIN digits + 6-digit sequence.
        let din_k = |k: u64| {
            let digits = format!("{:010}", (t * 4 + k) % 10_000_000_000);
            din(
                &format!("A{}", &digits[..4]),
                yy,
                digits[4..].parse().expect("digits"),
            )
        };
        let serial = |k: u64| (t * 4 + k) % 1_000_000_000;
        let patient = |k: u64| {
            let coi = format!("CHA1234{yy}{stamp}{}", k + 1);
            PatientIds {
                pseudonym: hash(&format!("pseudonym of {coi}"))[..32].to_string(),
                din: din_k(k),
                serial: serial(k),
                coi,
            }
        };
        let one = patient(0);
        RunIds {
            consent_id: format!("consent-{}", one.coi),
            dataset_id: format!("ds-{}", one.coi),
            training_run_id: format!("run-crs-{}", one.coi),
            patients: [one, patient(1)],
            wrong_din: din_k(2),
            return_serial: serial(3),
        }
    }
}

// ---- the story's machinery ------------------------------------------------------------

/// The ledger, and printing of each step.
struct Story<'a, L: Ledger> {
    l: &'a mut L,
    steps: u32,
}

impl<L: Ledger> Story<'_, L> {
    fn chapter(&self, title: &str) {
        println!("\n== {title} ==");
    }

    fn wait(&mut self, seconds: i64) {
        self.l.wait(seconds);
    }

    fn now(&self) -> i64 {
        self.l.now()
    }

    fn step(&mut self, who: &Person, function: &str) -> String {
        self.steps += 1;
        format!("step {} ({function} by {})", self.steps, who.name)
    }

    /// Submits a transaction that must succeed, prints it, returns the payload.
    fn act(&mut self, who: Person, contract: &str, function: &str, args: Value) -> R<Value> {
        let step = self.step(&who, function);
        let out = self
            .l
            .submit(&who, contract, function, args, None)
            .map_err(|e| unexpected(&step, e.to_string()))?;
        self.print(&who, function, &describe(&out.value), &out);
        Ok(out.value)
    }

    /// Submits a transaction that must be refused (status 400, nothing
    /// committed) with a message containing `fragment`.
    fn refused(
        &mut self,
        who: Person,
        contract: &str,
        function: &str,
        args: Value,
        fragment: &str,
    ) -> R<()> {
        let step = self.step(&who, function);
        let height = self.l.height();
        match self.l.submit(&who, contract, function, args, None) {
            Err(Failure::Refused { status, message })
                if status == 400 && message.contains(fragment) && self.l.height() == height =>
            {
                println!(
                    "[{}] {} {function}: REFUSED: {message}",
                    utc(self.now()),
                    self.l.describe(&who)
                );
                Ok(())
            }
            Err(e) => Err(unexpected(
                &step,
                format!("should have been refused with {fragment:?}; got: {e}"),
            )),
            Ok(c) => Err(unexpected(
                &step,
                format!(
                    "should have been refused with {fragment:?}; it was committed{}",
                    tx_text(&c)
                ),
            )),
        }
    }

    /// A query, by the regulator's inspector (read-only).
    fn query(&mut self, contract: &str, function: &str, args: Value) -> R<Value> {
        let step = format!("query {function} by {}", INSPECTOR.name);
        self.l
            .evaluate(&INSPECTOR, contract, function, args)
            .map_err(|e| unexpected(&step, e.to_string()))
    }

    fn print(&self, who: &Person, function: &str, result: &str, out: &Committed) {
        println!(
            "[{}] {} {function}: {result}{}",
            utc(self.now()),
            self.l.describe(who),
            tx_text(out)
        );
        for (name, payload) in &out.events {
            println!("      event {name}{}", event_detail(payload));
        }
    }
}

fn tx_text(c: &Committed) -> String {
    match &c.tx {
        Some((id, block)) => format!("\n      tx {} in block {block}", &id[..id.len().min(16)]),
        None => String::new(),
    }
}

fn unexpected(step: &str, message: String) -> Unexpected {
    Unexpected {
        step: step.to_string(),
        message,
    }
}

fn expect(condition: bool, step: &str, message: &str) -> R<()> {
    if condition {
        Ok(())
    } else {
        Err(unexpected(step, message.to_string()))
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

/// SHA-256 of a document's name, lower-case hex: the story's document hashes.
pub fn hash(document: &str) -> String {
    cellchain_chaincode_harness::sha256(document.as_bytes()).to_hex()
}

/// A DIN with its flags `00` and check character.
fn din(fin: &str, yy: &str, seq: u32) -> String {
    let base = format!("{fin}{yy}{seq:06}");
    format!("{base}00{}", din_check_character(&base))
}

fn sscc(serial: u64) -> String {
    let data = format!("00614141{serial:09}");
    format!("{data}{}", gs1_check_digit(&data).expect("digits"))
}

/// `2026-03-02T08:00:00Z`.
pub fn utc(seconds: i64) -> String {
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

fn case<L: Ledger>(s: &mut Story<L>, who: Person, function: &str, args: Value) -> R<Value> {
    s.act(who, PATIENT_BATCH, function, args)
}

fn expect_state(case: &Value, state: &str, step: &str) -> R<()> {
    expect(
        case["state"] == state,
        step,
        &format!("case should be {state}, is {}", case["state"]),
    )
}

/// The next specification version of the product: 1 on a new ledger, else
/// the first version neither the product nor the release contract has.
fn next_spec_version<L: Ledger>(s: &mut Story<L>) -> u32 {
    let current =
        s.l.evaluate(
            &INSPECTOR,
            PATIENT_BATCH,
            "get_product",
            json!([PRODUCT, null]),
        )
        .ok()
        .and_then(|p| p["spec_version"].as_u64())
        .unwrap_or(0) as u32;
    let mut v = current + 1;
    // A run stopped between drafting and configuring leaves a draft behind.
    while s
        .l
        .evaluate(&INSPECTOR, RELEASE, "get_spec", json!([PRODUCT, v]))
        .is_ok()
    {
        v += 1;
    }
    v
}

/// Order, slot, collection, and hand-over of the chilled bag to the courier.
fn order_to_courier<L: Ledger>(s: &mut Story<L>, p: &PatientIds) -> R<()> {
    let coi = p.coi.as_str();
    s.act(DR_NG, PATIENT_BATCH, "create_case", json!([{"coi": coi, "pseudonym": p.pseudonym, "product_code": PRODUCT, "manufacturer_msp": "CdmoMSP"}]))?;
    s.wait(2 * HOUR);
    case(
        s,
        TECH_RUIZ,
        "confirm_slot",
        json!([{"coi": coi, "note": "slot HX-2026-W11-03"}]),
    )?;
    s.wait(7 * DAY);
    let c = case(
        s,
        NURSE_OKAFOR,
        "record_collection",
        json!([{"coi": coi, "din": p.din}]),
    )?;
    expect_state(&c, "COLLECTED", "record_collection")?;
    s.wait(30 * MINUTE);
    case(
        s,
        DR_NG,
        "propose_handover",
        json!([{"coi": coi, "to_msp": "CourierMSP",
        "shipment": {"sscc": sscc(p.serial), "logger_id": format!("LOG-{}", p.serial), "route": "to_manufacturing"}}]),
    )?;
    s.wait(10 * MINUTE);
    let c = case(s, DRIVER_LEE, "accept_handover", json!([{"coi": coi}]))?;
    expect_state(&c, "IN_TRANSIT_TO_MFG", "accept_handover")
}

/// The logger's summary of a leg of `leg` seconds ending five minutes ago.
fn logger<L: Ledger>(
    s: &Story<L>,
    coi: &str,
    serial: u64,
    leg: i64,
    (min, mean, max): (f64, f64, f64),
) -> Value {
    json!([{"coi": coi, "logger_id": format!("LOG-{serial}"), "min_c": min, "max_c": max, "mean_c": mean,
            "count": leg / 300, "first_reading": utc(s.now() - leg), "last_reading": utc(s.now() - 300),
            "logger_file_sha256": hash(&format!("LOG-{serial}.csv"))}])
}

/// Arrival at the CDMO, manufacturing, QC, certification and release.
fn cdmo_to_release<L: Ledger>(
    s: &mut Story<L>,
    p: &PatientIds,
    certify_should_fail: Option<&str>,
) -> R<()> {
    let coi = p.coi.as_str();
    s.wait(5 * MINUTE);
    case(
        s,
        DRIVER_LEE,
        "propose_handover",
        json!([{"coi": coi, "to_msp": "CdmoMSP"}]),
    )?;
    s.wait(15 * MINUTE);
    let c = case(s, TECH_RUIZ, "accept_handover", json!([{"coi": coi}]))?;
    expect_state(&c, "RECEIVED_AT_MFG", "accept_handover")?;
    s.wait(2 * HOUR);
    case(s, TECH_RUIZ, "start_manufacturing", json!([{"coi": coi}]))?;
    s.wait(10 * DAY);
    let c = case(
        s,
        TECH_RUIZ,
        "complete_manufacturing",
        json!([{"coi": coi, "document_sha256": hash("batch record")}]),
    )?;
    expect_state(&c, "QC_PENDING", "complete_manufacturing")?;
    s.wait(30 * MINUTE);
    s.act(TECH_RUIZ, RELEASE, "open_batch", json!([{"coi": coi}]))?;
    s.wait(4 * DAY);
    for (code, value, unit) in [
        ("VIAB", json!(91.5), "%"),
        ("VCN", json!(2.1), "copies/cell"),
        ("STER", json!("no growth"), "n/a"),
    ] {
        s.wait(5 * MINUTE);
        s.act(
            ANALYST_SATO,
            RELEASE,
            "record_result",
            json!([{"coi": coi, "test_code": code, "value": value, "unit": unit}]),
        )?;
    }
    s.wait(4 * HOUR);
    if let Some(missing) = certify_should_fail {
        let sha = s.query(RELEASE, "get_batch", json!([coi]))?["batch_sha256"].clone();
        return s.refused(
            QP_VARGA,
            RELEASE,
            "certify",
            json!([{"coi": coi, "batch_record_sha256": sha}]),
            missing,
        );
    }
    certify_and_release(s, p)
}

fn certify_and_release<L: Ledger>(s: &mut Story<L>, p: &PatientIds) -> R<()> {
    let coi = p.coi.as_str();
    let batch = s.query(RELEASE, "get_batch", json!([coi]))?;
    expect(
        batch["batch"]["status"] == "EVIDENCE_COMPLETE",
        "get_batch",
        &format!(
            "the release contract should have set EVIDENCE_COMPLETE; the batch is {}",
            batch["batch"]["status"]
        ),
    )?;
    println!(
        "      (release set EVIDENCE_COMPLETE itself; the QP reviews batch record {})",
        batch["batch_sha256"]
    );
    let b = s.act(
        QP_VARGA,
        RELEASE,
        "certify",
        json!([{"coi": coi, "batch_record_sha256": batch["batch_sha256"]}]),
    )?;
    expect(
        b["batch"]["status"] == "RELEASED",
        "certify",
        "certification should release the batch",
    )?;
    s.wait(10 * MINUTE);
    let c = case(
        s,
        QP_VARGA,
        "record_release_decision",
        json!([{"coi": coi}]),
    )?;
    expect_state(&c, "RELEASED", "record_release_decision")
}

/// The regulator reads a case's timeline (a `get_case` evaluation) and the
/// story prints it; returns the case view.
fn print_timeline<L: Ledger>(s: &mut Story<L>, coi: &str) -> R<Value> {
    let view = s.query(PATIENT_BATCH, "get_case", json!([coi]))?;
    let timeline = view["timeline"].as_array().cloned().unwrap_or_default();
    println!(
        "  The regulator reads the timeline of {coi} ({} events; state {}, custodian {}):",
        timeline.len(),
        view["case"]["state"],
        view["custodian_msp"]
    );
    for e in &timeline {
        println!(
            "    #{:<2} {:26} by {:16} {:13} -> {:18} custodian {}",
            e["seq"],
            e["what"]["operation"].as_str().unwrap_or(""),
            e["who"]["common_name"].as_str().unwrap_or(""),
            e["who"]["msp_id"].as_str().unwrap_or(""),
            e["state_after"].as_str().unwrap_or(""),
            e["custodian_after"].as_str().unwrap_or("")
        );
    }
    Ok(view)
}

/// Runs the whole story on `ledger` with the identifiers `ids`.
pub fn run<L: Ledger>(ledger: &mut L, ids: &RunIds) -> Result<(), Unexpected> {
    let mut s = Story {
        l: ledger,
        steps: 0,
    };
    let s = &mut s;
    let [one, two] = &ids.patients;

    s.chapter("Set-up: the sponsor configures CART-19 and approves its specification");
    let version = next_spec_version(s);
    if version > 1 {
        println!(
            "  ({PRODUCT} exists on this ledger: this run adds specification version {version})"
        );
    }
    s.act(
        QA_BERG,
        PATIENT_BATCH,
        "configure_product",
        json!([{
        "product_code": PRODUCT, "spec_version": version, "manufacturer_msps": ["CdmoMSP"],
        "routes": [{"route": "to_manufacturing", "range": {"min_c": 2.0, "max_c": 8.0}},
                   {"route": "to_site", "range": {"max_c": -150.0}}],
        "collection_to_receipt_max_hours": 48, "thaw_to_infusion_max_minutes": 30,
        "reason": "CC-2026-014 initial configuration"}]),
    )?;
    s.wait(HOUR);
    let tests = json!([
        {"code": "VIAB", "name": "Viability", "method": "flow cytometry", "unit": "%", "criterion": {"kind": "at_least", "min": 70.0}, "required": true},
        {"code": "STER", "name": "Sterility", "method": "Ph. Eur. 2.6.27", "unit": "n/a", "criterion": {"kind": "equals", "value": "no growth"}, "required": true},
        {"code": "VCN", "name": "Vector copy number", "method": "ddPCR", "unit": "copies/cell", "criterion": {"kind": "between", "min": 0.5, "max": 5.0}, "required": true}]);
    let draft = s.act(
        QA_BERG,
        RELEASE,
        "create_spec",
        json!([{"product_code": PRODUCT, "version": version, "tests": tests}]),
    )?;
    s.wait(DAY);
    s.act(
        QA_ITO,
        RELEASE,
        "approve_spec",
        json!([{"product_code": PRODUCT, "version": version, "spec_sha256": draft["spec_sha256"]}]),
    )?;

    // ---- patient one ----
    s.chapter("Patient one: order to infusion");
    s.wait(6 * DAY - HOUR);
    order_to_courier(s, one)?;
    s.wait(17 * HOUR);
    let readings = logger(s, &one.coi, one.serial, 17 * HOUR, (3.2, 4.9, 6.8));
    case(s, DRIVER_LEE, "record_shipment_condition", readings)?;
    cdmo_to_release(s, one, None)?;
    s.wait(17 * HOUR);
    let back = ids.return_serial;
    case(
        s,
        TECH_RUIZ,
        "propose_handover",
        json!([{"coi": one.coi, "to_msp": "CourierMSP",
        "shipment": {"sscc": sscc(back), "logger_id": format!("LOG-{back}"), "route": "to_site"}}]),
    )?;
    s.wait(15 * MINUTE);
    case(s, DRIVER_LEE, "accept_handover", json!([{"coi": one.coi}]))?;
    s.wait(7 * HOUR);
    let readings = logger(s, &one.coi, back, 7 * HOUR, (-187.5, -181.0, -176.2));
    case(s, DRIVER_LEE, "record_shipment_condition", readings)?;
    s.wait(5 * MINUTE);
    case(
        s,
        DRIVER_LEE,
        "propose_handover",
        json!([{"coi": one.coi, "to_msp": "HospitalAMSP"}]),
    )?;
    s.wait(15 * MINUTE);
    let c = case(s, DR_NG, "accept_handover", json!([{"coi": one.coi}]))?;
    expect_state(&c, "RECEIVED_AT_SITE", "accept_handover")?;
    s.wait(22 * HOUR);
    case(s, DR_NG, "record_thaw", json!([{"coi": one.coi}]))?;
    s.wait(20 * MINUTE);
    s.refused(
        DR_NG,
        PATIENT_BATCH,
        "record_infusion",
        json!([{"coi": one.coi, "scanned_coi": one.coi, "scanned_din": ids.wrong_din}]),
        "IDENTITY MISMATCH",
    )?;
    let c = case(
        s,
        DR_NG,
        "record_infusion",
        json!([{"coi": one.coi, "scanned_coi": one.coi, "scanned_din": one.din}]),
    )?;
    expect_state(&c, "INFUSED", "record_infusion")?;
    let view = print_timeline(s, &one.coi)?;
    let events = view["timeline"].as_array().map_or(0, Vec::len);
    expect(
        events == 18,
        "get_case",
        &format!("patient one's timeline should have 18 events, has {events}"),
    )?;
    expect(
        view["custodian_msp"] == "HospitalAMSP",
        "get_case",
        "the site should hold the (infused) product",
    )?;

    // ---- patient two ----
    s.chapter("Patient two: a temperature excursion on the way to the CDMO");
    s.wait(DAY);
    order_to_courier(s, two)?;
    s.wait(17 * HOUR);
    let readings = logger(s, &two.coi, two.serial, 17 * HOUR, (3.1, 7.4, 11.6));
    let c = case(s, DRIVER_LEE, "record_shipment_condition", readings)?;
    expect_state(&c, "ON_HOLD", "record_shipment_condition")?;
    s.wait(5 * MINUTE);
    s.refused(
        DRIVER_LEE,
        PATIENT_BATCH,
        "propose_handover",
        json!([{"coi": two.coi, "to_msp": "CdmoMSP"}]),
        "ON_HOLD",
    )?;
    s.wait(HOUR);
    case(
        s,
        QA_ITO,
        "report_deviation",
        json!([{"coi": two.coi, "kind": "TEMPERATURE_EXCURSION", "hold": false,
        "description": "investigation DEV-2026-031 of the 11.6 °C excursion"}]),
    )?;
    s.wait(10 * MINUTE);
    let c = case(
        s,
        QA_ITO,
        "close_deviation",
        json!([{"coi": two.coi, "deviation_id": 1,
        "reason": "hold lifted: impact assessment IA-2026-031 allows manufacturing at risk; investigation continues as deviation 2"}]),
    )?;
    expect_state(&c, "IN_TRANSIT_TO_MFG", "close_deviation")?;
    cdmo_to_release(s, two, Some("condition record not clean"))?;
    s.wait(HOUR);
    case(
        s,
        QA_ITO,
        "close_deviation",
        json!([{"coi": two.coi, "deviation_id": 2,
        "reason": "DEV-2026-031 closed: QC within specification, no product impact"}]),
    )?;
    s.wait(10 * MINUTE);
    s.act(QA_ITO, RELEASE, "reevaluate", json!([two.coi]))?;
    certify_and_release(s, two)?;
    let view = print_timeline(s, &two.coi)?;
    expect(
        view["case"]["state"] == "RELEASED",
        "get_case",
        &format!(
            "patient two's case should be RELEASED, is {}",
            view["case"]["state"]
        ),
    )?;

    // ---- data ----
    s.chapter("Patient one's data: consent, access, withdrawal");
    s.wait(DAY);
    let step = s.step(&DR_NG, "link_patient");
    let out =
        s.l.submit(
            &DR_NG,
            DATA_SHARING,
            "link_patient",
            json!([one.coi]),
            Some(("patient_record_ref", "MRN-NG-0048213")),
        )
        .map_err(|e| unexpected(&step, e.to_string()))?;
    expect(
        !out.on_ledger.as_deref().unwrap_or("").contains("MRN-NG"),
        &step,
        "the patient link must stay out of the block",
    )?;
    s.print(
        &DR_NG,
        "link_patient",
        &format!(
            "stored in private collection {} (the block carries only its hash)",
            out.value["collection"]
        ),
        &out,
    );
    let expires = s.now() + 5 * 365 * DAY;
    s.act(DR_NG, DATA_SHARING, "register_consent", json!([{"consent_id": ids.consent_id, "coi": one.coi, "pseudonym": one.pseudonym,
        "permitted_uses": ["HMB", "IRB"], "recipients": ["SponsorMSP"], "expires_at": {"seconds": expires, "nanos": 0},
        "form_sha256": hash("consent-form-p1.pdf")}]))?;
    s.act(
        DR_NG,
        DATA_SHARING,
        "register_dataset",
        json!([{"dataset_id": ids.dataset_id, "root": hash("ds-p1 root"),
        "uri": format!("s3://northgate-research/cart19/{}", ids.dataset_id), "consents": [ids.consent_id]}]),
    )?;
    s.wait(DAY);
    let request = json!([{"datasets": [ids.dataset_id], "purpose": "HMB", "protocol_sha256": hash("protocol-CRS-prediction-v2.pdf")}]);
    let granted = s.act(QA_ITO, DATA_SHARING, "request_access", request.clone())?;
    expect(
        granted["decision"] == "Granted",
        "request_access",
        "the first request should be granted",
    )?;
    s.wait(3 * DAY);
    s.act(QA_ITO, DATA_SHARING, "record_training_run", json!([{"run_id": ids.training_run_id, "grants": [granted["grant_id"]],
        "dataset_roots": [{"dataset": ids.dataset_id, "root": hash("ds-p1 root")}], "model_sha256": hash("crs-model-v1.onnx")}]))?;
    s.wait(7 * DAY);
    s.act(
        DR_NG,
        DATA_SHARING,
        "withdraw_consent",
        json!([ids.consent_id]),
    )?;
    s.wait(HOUR);
    let refused = s.act(QA_ITO, DATA_SHARING, "request_access", request)?;
    expect(
        refused["decision"] == "Refused" && refused["reason"]["reason"] == "ConsentWithdrawn",
        "request_access",
        "after withdrawal the request should be refused on the consent",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use therapy_common::ids::{validate_coi, validate_din, validate_pseudonym, validate_sscc};

    #[test]
    fn fresh_ids_are_valid_and_differ_from_second_to_second() {
        let a = RunIds::fresh(1_790_000_000);
        let b = RunIds::fresh(1_790_000_001);
        for ids in [&a, &b, &RunIds::fixed()] {
            for p in &ids.patients {
                validate_coi(&p.coi).unwrap();
                validate_din(&p.din).unwrap();
                validate_pseudonym(&p.pseudonym).unwrap();
                validate_sscc(&sscc(p.serial)).unwrap();
            }
            validate_din(&ids.wrong_din).unwrap();
            validate_sscc(&sscc(ids.return_serial)).unwrap();
        }
        let all: Vec<&String> = [&a, &b]
            .iter()
            .flat_map(|i| i.patients.iter().flat_map(|p| [&p.coi, &p.din]))
            .chain([&a.wrong_din, &b.wrong_din])
            .collect();
        let mut unique = all.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), all.len(), "{all:?}");
        assert_ne!(a.consent_id, b.consent_id);
    }
}
