//! Every transaction and every refusal of data-sharing, each scenario run by
//! `both!` natively and as the built .wasm. The summaries patient-batch and
//! release would write are seeded into the committed state directly
//! (`seed_case_summary`, `seed_batch_summary`).

use cellchain_chaincode_harness::{
    both, caller, CallerBuilder, Harness, Invocation, NativeHarness, Outcome, Timestamp,
    WasmHarness,
};
use serde_json::{json, Value};
use therapy_common::{
    batch_status, batch_summary_key, case_summary_key, BatchSummary, CaseSummary, DATA_SHARING,
    PATIENT_BATCH, RELEASE,
};

use crate::contract::{
    DataSharing, EVENT_ACCESS_GRANTED, EVENT_ACCESS_REFUSED, EVENT_CONSENT_REGISTERED,
    EVENT_CONSENT_WITHDRAWN, EVENT_TRAINING_RUN,
};
use crate::msg::{AccessRefusedEvent, ConsentEvent, ConsentView, LinkStored};
use crate::state::{
    consent_grant_key, grant_key, grant_status, request_key, AccessRequest, Consent, Dataset,
    Decision, Grant, PatientLink, Refusal, TrainingRun,
};

const NS: &str = DATA_SHARING;
const COI: &str = "CHA123426000123";
const COI_B: &str = "CHB123426000777";
const PSEUDONYM: &str = "0123456789abcdef0123456789abcdef";
const PSEUDONYM_B: &str = "fedcba9876543210fedcba9876543210";
const ROOT: &str = "1111111111111111111111111111111111111111111111111111111111111111";
const FORM: &str = "2222222222222222222222222222222222222222222222222222222222222222";
const PROTOCOL: &str = "3333333333333333333333333333333333333333333333333333333333333333";
const MODEL: &str = "4444444444444444444444444444444444444444444444444444444444444444";
/// A year after the harness's default clock.
const EXPIRES: i64 = 1_767_225_600 + 365 * 86_400;

fn native() -> NativeHarness {
    let mut h = NativeHarness::new();
    h.deploy::<DataSharing>(NS);
    h
}

fn wasm() -> WasmHarness {
    let mut h = WasmHarness::new();
    h.deploy_crate(NS, env!("CARGO_MANIFEST_DIR"));
    h
}

both!(
    a_consent_is_registered_against_its_case,
    consent_refusals,
    datasets_are_registered_by_the_controlling_site,
    access_is_granted_when_every_consent_and_batch_allow_it,
    refusals_are_recorded_decisions_naming_consent_and_reason,
    malformed_requests_and_wrong_callers_are_errors,
    withdrawal_supersedes_grants_and_refuses_later_requests,
    training_runs_record_model_provenance,
    training_run_refusals,
    personal_links_stay_in_the_site_collection,
    queries_read_without_writing,
);

// ---- callers and set-up ---------------------------------------------------------

fn clinician() -> CallerBuilder {
    caller("HospitalAMSP")
        .role("SITE_CLIN")
        .common_name("clinician")
}
fn clinician_b() -> CallerBuilder {
    caller("HospitalBMSP")
        .role("SITE_CLIN")
        .common_name("clinician")
}
fn researcher() -> CallerBuilder {
    caller("SponsorMSP")
        .role("QA")
        .common_name("data-scientist")
}

fn call(h: &mut impl Harness, who: CallerBuilder, function: &str, args: Value) -> Outcome {
    h.submit_with(Invocation::new(NS, function, args).caller(who))
}

fn case(coi: &str, pseudonym: &str, site: &str) -> CaseSummary {
    CaseSummary {
        coi: coi.into(),
        pseudonym: pseudonym.into(),
        site_msp: site.into(),
        product_code: "CART-19".into(),
        spec_version: 1,
        state: "INFUSED".into(),
        custodian_msp: site.into(),
        din: None,
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

/// Commits a batch summary in release's namespace, as release would.
fn seed_batch_summary(h: &mut impl Harness, coi: &str, status: &str, qc_passed: bool) {
    let s = BatchSummary {
        coi: coi.into(),
        status: status.into(),
        spec_version: 1,
        qc_passed,
    };
    h.put_state(
        RELEASE,
        &batch_summary_key(coi),
        &serde_json::to_vec(&s).unwrap(),
    );
}

fn consent_args(id: &str, uses: Value, recipients: Value) -> Value {
    json!([{"consent_id": id, "coi": COI, "pseudonym": PSEUDONYM,
            "permitted_uses": uses, "recipients": recipients,
            "expires_at": {"seconds": EXPIRES, "nanos": 0}, "form_sha256": FORM}])
}

fn register_consent(h: &mut impl Harness, id: &str, uses: Value) -> Consent {
    call(
        h,
        clinician(),
        "register_consent",
        consent_args(id, uses, json!(["SponsorMSP"])),
    )
    .json()
}

fn register_dataset(h: &mut impl Harness, id: &str, consents: Value) -> Dataset {
    call(
        h,
        clinician(),
        "register_dataset",
        json!([{"dataset_id": id, "root": ROOT, "uri": "s3://northgate/ds1", "consents": consents}]),
    )
    .json()
}

/// Case A seeded, its batch released with QC passed, consent `c1` (HMB+IRB,
/// recipient SponsorMSP) and dataset `ds1` covering it.
fn world(h: &mut impl Harness) {
    seed_case_summary(h, &case(COI, PSEUDONYM, "HospitalAMSP"));
    seed_batch_summary(h, COI, batch_status::RELEASED, true);
    register_consent(h, "c1", json!(["HMB", "IRB"]));
    register_dataset(h, "ds1", json!(["c1"]));
}

fn request(h: &mut impl Harness, who: CallerBuilder, purpose: &str) -> Outcome {
    call(
        h,
        who,
        "request_access",
        json!([{"datasets": ["ds1"], "purpose": purpose, "protocol_sha256": PROTOCOL}]),
    )
}

fn granted(h: &mut impl Harness) -> String {
    match request(h, researcher(), "HMB").json::<Decision>() {
        Decision::Granted { grant_id, .. } => grant_id,
        other => panic!("expected a grant, got {other:?}"),
    }
}

fn refusal(out: &Outcome) -> (String, Refusal) {
    match out.json::<Decision>() {
        Decision::Refused {
            consent, reason, ..
        } => (consent, reason),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn event_names(out: &Outcome) -> Vec<&str> {
    out.events.iter().map(|e| e.name.as_str()).collect()
}

// ---- consents --------------------------------------------------------------------

fn a_consent_is_registered_against_its_case(h: &mut impl Harness) {
    seed_case_summary(h, &case(COI, PSEUDONYM, "HospitalAMSP"));
    let out = call(
        h,
        clinician(),
        "register_consent",
        consent_args(
            "c1",
            json!(["DS:MONDO:0005061", "IRB", "PUB"]),
            json!(["SponsorMSP"]),
        ),
    );
    let c: Consent = out.json();
    assert_eq!(c.status, "ACTIVE");
    assert_eq!(c.site_msp, "HospitalAMSP");
    assert_eq!(c.registered_by.name, "clinician");
    assert_eq!(
        out.ns(PATIENT_BATCH).unwrap().reads[0].key,
        case_summary_key(COI)
    );
    assert_eq!(event_names(&out), [EVENT_CONSENT_REGISTERED]);
    let e: ConsentEvent = serde_json::from_slice(&out.events[0].payload).unwrap();
    assert_eq!((e.consent.as_str(), e.coi.as_str()), ("c1", COI));

    let v: ConsentView = h.evaluate(NS, "get_consent", json!(["c1"])).json();
    assert_eq!(v.status, "ACTIVE");
    // Expiry is computed from the proposal time.
    h.set_timestamp(Timestamp::new(EXPIRES, 0));
    let v: ConsentView = h.evaluate(NS, "get_consent", json!(["c1"])).json();
    assert_eq!(v.status, "EXPIRED");
}

fn consent_refusals(h: &mut impl Harness) {
    let ok_args = || consent_args("c1", json!(["HMB"]), json!(["SponsorMSP"]));
    call(h, clinician(), "register_consent", ok_args())
        .assert_error(400, "no case summary for CHA123426000123 in patient-batch");
    seed_case_summary(h, &case(COI, PSEUDONYM, "HospitalAMSP"));
    call(h, researcher(), "register_consent", ok_args()).assert_error(
        400,
        "register_consent needs the role SITE_CLIN; the caller has QA",
    );
    call(h, clinician_b(), "register_consent", ok_args()).assert_error(
        400,
        "case CHA123426000123 belongs to HospitalAMSP; HospitalBMSP cannot act",
    );
    let mut args = ok_args();
    args[0]["pseudonym"] = json!(PSEUDONYM_B);
    call(h, clinician(), "register_consent", args)
        .assert_error(400, "the pseudonym does not match case CHA123426000123's");
    let mut args = ok_args();
    args[0]["coi"] = json!("CH-BAD");
    call(h, clinician(), "register_consent", args).assert_error(400, "invalid COI \"CH-BAD\"");
    for (uses, fragment) in [
        (json!(["NCTRL"]), "\"NCTRL\" is not a valid DUO code"),
        (json!(["DS"]), "DS needs its disease"),
        (json!(["DS:cancer"]), "must be an ontology id"),
        (json!(["GRU", "HMB"]), "need one DUO permission"),
        (json!(["IRB"]), "need one DUO permission"),
        (
            json!(["HMB", "DS:MONDO:0005061"]),
            "need one DUO permission",
        ),
        (json!([]), "permitted_uses must not be empty"),
        (
            json!(["HMB", "IRB", "IRB"]),
            "permitted_uses names IRB more than once",
        ),
    ] {
        call(
            h,
            clinician(),
            "register_consent",
            consent_args("c1", uses, json!(["SponsorMSP"])),
        )
        .assert_error(400, fragment);
    }
    call(
        h,
        clinician(),
        "register_consent",
        consent_args("c1", json!(["HMB"]), json!([])),
    )
    .assert_error(400, "recipients must not be empty");
    call(
        h,
        clinician(),
        "register_consent",
        consent_args("c1", json!(["HMB"]), json!(["Sponsor MSP"])),
    )
    .assert_error(400, "invalid recipient MSP id");
    let mut args = ok_args();
    args[0]["expires_at"] = json!({"seconds": 1_767_225_600i64, "nanos": 0});
    call(h, clinician(), "register_consent", args)
        .assert_error(400, "is not after the proposal time");
    let mut args = ok_args();
    args[0]["form_sha256"] = json!("ABC");
    call(h, clinician(), "register_consent", args)
        .assert_error(400, "form_sha256 must be a SHA-256");
    call(h, clinician(), "register_consent", ok_args()).assert_ok();
    call(h, clinician(), "register_consent", ok_args())
        .assert_error(400, "consent c1 is already registered");
    assert!(h
        .get_state(NS, &crate::state::consent_key("c1").unwrap())
        .is_some());
}

// ---- datasets ----------------------------------------------------------------------

fn datasets_are_registered_by_the_controlling_site(h: &mut impl Harness) {
    seed_case_summary(h, &case(COI, PSEUDONYM, "HospitalAMSP"));
    seed_case_summary(h, &case(COI_B, PSEUDONYM_B, "HospitalBMSP"));
    register_consent(h, "c1", json!(["GRU"]));
    call(
        h,
        clinician_b(),
        "register_consent",
        json!([{"consent_id": "c2", "coi": COI_B, "pseudonym": PSEUDONYM_B,
                "permitted_uses": ["GRU"], "recipients": ["SponsorMSP"],
                "expires_at": {"seconds": EXPIRES, "nanos": 0}, "form_sha256": FORM}]),
    )
    .assert_ok();

    let ds = |id: &str, root: &str, uri: &str, consents: Value| json!([{"dataset_id": id, "root": root, "uri": uri, "consents": consents}]);
    call(
        h,
        clinician(),
        "register_dataset",
        ds("ds1", ROOT, "s3://a", json!(["c1", "c2"])),
    )
    .assert_error(
        400,
        "consent c2 is controlled by HospitalBMSP; HospitalAMSP cannot register data under it",
    );
    call(
        h,
        clinician(),
        "register_dataset",
        ds("ds1", ROOT, "s3://a", json!(["c9"])),
    )
    .assert_error(400, "consent c9 is not registered");
    call(
        h,
        clinician(),
        "register_dataset",
        ds("ds1", "xyz", "s3://a", json!(["c1"])),
    )
    .assert_error(400, "root must be a SHA-256");
    call(
        h,
        clinician(),
        "register_dataset",
        ds("ds1", ROOT, " ", json!(["c1"])),
    )
    .assert_error(400, "uri must not be empty");
    call(
        h,
        clinician(),
        "register_dataset",
        ds("ds1", ROOT, "s3://a", json!([])),
    )
    .assert_error(400, "consents must not be empty");
    call(
        h,
        researcher(),
        "register_dataset",
        ds("ds1", ROOT, "s3://a", json!(["c1"])),
    )
    .assert_error(400, "register_dataset needs the role SITE_CLIN");
    let d: Dataset = call(
        h,
        clinician(),
        "register_dataset",
        ds("ds1", ROOT, "s3://a", json!(["c1"])),
    )
    .json();
    assert_eq!(d.owner_msp, "HospitalAMSP");
    assert_eq!(d.root, ROOT);
    call(
        h,
        clinician(),
        "register_dataset",
        ds("ds1", ROOT, "s3://a", json!(["c1"])),
    )
    .assert_error(400, "dataset ds1 is already registered");
}

// ---- access requests -------------------------------------------------------------

fn access_is_granted_when_every_consent_and_batch_allow_it(h: &mut impl Harness) {
    world(h);
    let out = request(h, researcher(), "DS:MONDO:0005061");
    let Decision::Granted {
        request_id,
        grant_id,
        expires_at,
        conditions,
    } = out.json::<Decision>()
    else {
        panic!("expected a grant: {:?}", out.value());
    };
    assert_eq!(expires_at, Timestamp::new(EXPIRES, 0));
    assert_eq!(conditions, ["IRB"]);
    assert_eq!(event_names(&out), [EVENT_ACCESS_GRANTED]);
    // release's BatchSummary was read cross-contract.
    assert_eq!(
        out.ns(RELEASE).unwrap().reads[0].key,
        batch_summary_key(COI)
    );

    let grant: Grant = h.evaluate(NS, "get_grant", json!([grant_id])).json();
    assert_eq!(grant.grantee_msp, "SponsorMSP");
    assert_eq!(grant.consents, ["c1"]);
    assert_eq!(grant.status, grant_status::ACTIVE);
    assert!(h
        .get_state(NS, &consent_grant_key("c1", &grant_id).unwrap())
        .is_some());
    let record: AccessRequest = h
        .evaluate(NS, "get_access_request", json!([request_id]))
        .json();
    assert_eq!(record.requester_msp, "SponsorMSP");
    assert_eq!(record.requested_by.name, "data-scientist");
    assert!(matches!(record.decision, Decision::Granted { .. }));
}

fn refusals_are_recorded_decisions_naming_consent_and_reason(h: &mut impl Harness) {
    world(h);
    // Purpose outside the consent (HMB does not cover ancestry research).
    let out = request(h, researcher(), "POA");
    assert_eq!(
        refusal(&out),
        (
            "c1".to_string(),
            Refusal::PurposeNotPermitted {
                consent: "c1".into(),
                purpose: "POA".into(),
                permitted: vec!["HMB".into(), "IRB".into()]
            }
        )
    );
    assert!(out.committed.is_some(), "a refusal is data: committed");
    assert_eq!(event_names(&out), [EVENT_ACCESS_REFUSED]);
    let e: AccessRefusedEvent = serde_json::from_slice(&out.events[0].payload).unwrap();
    assert_eq!(e.consent, "c1");
    let rw = out.ns(NS).unwrap();
    assert!(
        rw.writes.iter().all(|w| w.key.contains("access-request")),
        "no grant written"
    );
    let Decision::Refused { request_id, .. } = out.json::<Decision>() else {
        unreachable!()
    };
    let record: AccessRequest = h
        .get_state_json(NS, &request_key(&request_id).unwrap())
        .unwrap();
    assert!(matches!(record.decision, Decision::Refused { .. }));

    // A recipient the consent does not list.
    let out = request(h, caller("OtherPharmaMSP").role("QA"), "HMB");
    assert_eq!(
        refusal(&out).1,
        Refusal::RecipientNotListed {
            consent: "c1".into(),
            recipient: "OtherPharmaMSP".into(),
            recipients: vec!["SponsorMSP".into()]
        }
    );

    // The batch did not pass QC / was not released.
    seed_batch_summary(h, COI, batch_status::TESTING, false);
    assert_eq!(
        refusal(&request(h, researcher(), "HMB")).1,
        Refusal::BatchNotReleased {
            coi: COI.into(),
            status: "TESTING".into()
        }
    );
    seed_batch_summary(h, COI, batch_status::EXCEPTIONAL_RELEASE, false);
    assert_eq!(
        refusal(&request(h, researcher(), "HMB")).1,
        Refusal::BatchNotReleased {
            coi: COI.into(),
            status: "EXCEPTIONAL_RELEASE without QC passed".into()
        }
    );
    h.state_mut()
        .public
        .get_mut(RELEASE)
        .unwrap()
        .remove(&batch_summary_key(COI));
    assert_eq!(
        refusal(&request(h, researcher(), "HMB")).1,
        Refusal::BatchNotReleased {
            coi: COI.into(),
            status: "NONE".into()
        }
    );

    // An expired consent.
    seed_batch_summary(h, COI, batch_status::RELEASED, true);
    h.set_timestamp(Timestamp::new(EXPIRES + 1, 0));
    assert_eq!(
        refusal(&request(h, researcher(), "HMB")).1,
        Refusal::ConsentExpired {
            consent: "c1".into(),
            expired_at: Timestamp::new(EXPIRES, 0)
        }
    );
}

fn malformed_requests_and_wrong_callers_are_errors(h: &mut impl Harness) {
    world(h);
    for (purpose, fragment) in [
        ("NRES", "NRES describes data, not a research purpose"),
        ("IRB", "IRB is a DUO modifier"),
        ("XYZ", "not a DUO permission"),
        ("DS", "DS needs its disease"),
    ] {
        request(h, researcher(), purpose).assert_error(400, fragment);
    }
    request(h, caller("RegulatorMSP").role("AUDITOR"), "HMB")
        .assert_error(400, "request_access: the AUDITOR role is read-only");
    let req = |datasets: Value, protocol: &str| json!([{"datasets": datasets, "purpose": "HMB", "protocol_sha256": protocol}]);
    call(
        h,
        researcher(),
        "request_access",
        req(json!(["nope"]), PROTOCOL),
    )
    .assert_error(400, "dataset nope is not registered");
    call(h, researcher(), "request_access", req(json!([]), PROTOCOL))
        .assert_error(400, "datasets must not be empty");
    call(
        h,
        researcher(),
        "request_access",
        req(json!(["ds1", "ds1"]), PROTOCOL),
    )
    .assert_error(400, "datasets names ds1 more than once");
    call(h, researcher(), "request_access", req(json!(["ds1"]), "00"))
        .assert_error(400, "protocol_sha256 must be a SHA-256");
}

fn withdrawal_supersedes_grants_and_refuses_later_requests(h: &mut impl Harness) {
    world(h);
    let grant_id = granted(h);
    call(h, clinician_b(), "withdraw_consent", json!(["c1"]))
        .assert_error(400, "belongs to HospitalAMSP; HospitalBMSP cannot act");
    call(h, researcher(), "withdraw_consent", json!(["c1"]))
        .assert_error(400, "withdraw_consent needs the role SITE_CLIN");
    call(h, clinician(), "withdraw_consent", json!(["c9"]))
        .assert_error(400, "consent c9 is not registered");

    let out = call(h, clinician(), "withdraw_consent", json!(["c1"]));
    let c: Consent = out.json();
    assert_eq!(c.status, "WITHDRAWN");
    assert_eq!(c.withdrawal.unwrap().superseded_grants, [grant_id.as_str()]);
    assert_eq!(event_names(&out), [EVENT_CONSENT_WITHDRAWN]);
    let e: ConsentEvent = serde_json::from_slice(&out.events[0].payload).unwrap();
    assert_eq!(e.superseded_grants, [grant_id.as_str()]);
    // The grant stays on record, marked.
    let g: Grant = h
        .get_state_json(NS, &grant_key(&grant_id).unwrap())
        .unwrap();
    assert_eq!(g.status, grant_status::SUPERSEDED_BY_WITHDRAWAL);
    assert_eq!(g.withdrawn_consents, ["c1"]);

    // Future requests are refused, and the refusal is recorded.
    let out = request(h, researcher(), "HMB");
    assert_eq!(
        refusal(&out),
        (
            "c1".to_string(),
            Refusal::ConsentWithdrawn {
                consent: "c1".into()
            }
        )
    );
    assert_eq!(event_names(&out), [EVENT_ACCESS_REFUSED]);
    // The superseded grant can no longer be used.
    call(
        h,
        researcher(),
        "record_training_run",
        json!([{"run_id": "run-1", "grants": [grant_id],
                "dataset_roots": [{"dataset": "ds1", "root": ROOT}], "model_sha256": MODEL}]),
    )
    .assert_error(400, "is SUPERSEDED_BY_WITHDRAWAL; request access again");
    let v: ConsentView = h.evaluate(NS, "get_consent", json!(["c1"])).json();
    assert_eq!(v.status, "WITHDRAWN");
    call(h, clinician(), "withdraw_consent", json!(["c1"]))
        .assert_error(400, "consent c1 was already withdrawn");
}

// ---- training runs ---------------------------------------------------------------

fn run_args(run: &str, grant: &str, dataset: &str, root: &str, model: &str) -> Value {
    json!([{"run_id": run, "grants": [grant],
            "dataset_roots": [{"dataset": dataset, "root": root}], "model_sha256": model}])
}

fn training_runs_record_model_provenance(h: &mut impl Harness) {
    world(h);
    let grant_id = granted(h);
    let out = call(
        h,
        researcher(),
        "record_training_run",
        run_args("run-1", &grant_id, "ds1", ROOT, MODEL),
    );
    let run: TrainingRun = out.json();
    assert_eq!(run.grantee_msp, "SponsorMSP");
    assert_eq!(run.grants, [grant_id]);
    assert_eq!(run.model_sha256, MODEL);
    assert_eq!(event_names(&out), [EVENT_TRAINING_RUN]);
    let got: TrainingRun = h.evaluate(NS, "get_training_run", json!(["run-1"])).json();
    assert_eq!(got, run);
}

fn training_run_refusals(h: &mut impl Harness) {
    world(h);
    let g = granted(h);
    call(
        h,
        caller("OtherPharmaMSP").role("QA"),
        "record_training_run",
        run_args("r", &g, "ds1", ROOT, MODEL),
    )
    .assert_error(
        400,
        "was issued to SponsorMSP; OtherPharmaMSP cannot use it",
    );
    call(
        h,
        researcher(),
        "record_training_run",
        run_args("r", "nope", "ds1", ROOT, MODEL),
    )
    .assert_error(400, "grant nope does not exist");
    call(
        h,
        researcher(),
        "record_training_run",
        run_args("r", &g, "ds1", PROTOCOL, MODEL),
    )
    .assert_error(400, "the data changed");
    call(
        h,
        researcher(),
        "record_training_run",
        run_args("r", &g, "ds2", ROOT, MODEL),
    )
    .assert_error(400, "dataset ds2 is not covered by the grants");
    call(
        h,
        researcher(),
        "record_training_run",
        run_args("r", &g, "ds1", ROOT, "x"),
    )
    .assert_error(400, "model_sha256 must be a SHA-256");
    call(
        h,
        caller("RegulatorMSP").role("AUDITOR"),
        "record_training_run",
        run_args("r", &g, "ds1", ROOT, MODEL),
    )
    .assert_error(400, "the AUDITOR role is read-only");
    call(
        h,
        researcher(),
        "record_training_run",
        run_args("r", &g, "ds1", ROOT, MODEL),
    )
    .assert_ok();
    call(
        h,
        researcher(),
        "record_training_run",
        run_args("r", &g, "ds1", ROOT, MODEL),
    )
    .assert_error(400, "training run r is already recorded");
    h.set_timestamp(Timestamp::new(EXPIRES, 0));
    call(
        h,
        researcher(),
        "record_training_run",
        run_args("r2", &g, "ds1", ROOT, MODEL),
    )
    .assert_error(400, "expired at");
}

// ---- personal links ----------------------------------------------------------------

fn personal_links_stay_in_the_site_collection(h: &mut impl Harness) {
    seed_case_summary(h, &case(COI, PSEUDONYM, "HospitalAMSP"));
    let secret = "MRN-000042";
    let link = |who: CallerBuilder, value: Option<&str>| {
        let mut inv = Invocation::new(NS, "link_patient", json!([COI])).caller(who);
        if let Some(v) = value {
            inv = inv.transient("patient_record_ref", v);
        }
        inv
    };
    let out = h.submit_with(link(clinician(), Some(secret)));
    let stored: LinkStored = out.json();
    assert_eq!(stored.collection, "patient-links-HospitalAMSP");
    assert_eq!(stored.key, PSEUDONYM);
    // The value stays with the endorser; neither the block's read/write set,
    // the response nor the events carry it.
    let private = &out.private_writes["patient-links-HospitalAMSP"][PSEUDONYM];
    assert!(String::from_utf8_lossy(private.as_ref().unwrap()).contains(secret));
    let block_view = format!("{:?}{:?}{:?}", out.rwset, out.payload(), out.events);
    assert!(!block_view.contains(secret));
    assert!(out.ns(NS).unwrap().writes.is_empty());
    assert!(out.events.is_empty());

    let got: PatientLink = h
        .invoke_with(Invocation::new(NS, "get_patient_link", json!([COI])).caller(clinician()))
        .json();
    assert_eq!(got.patient_record_ref, secret);
    h.invoke_with(Invocation::new(NS, "get_patient_link", json!([COI])).caller(clinician_b()))
        .assert_error(400, "belongs to HospitalAMSP; HospitalBMSP cannot act");

    h.submit_with(link(clinician(), None)).assert_error(
        400,
        "put the patient record reference in the transient input \"patient_record_ref\"",
    );
    h.submit_with(link(clinician_b(), Some(secret)))
        .assert_error(400, "belongs to HospitalAMSP; HospitalBMSP cannot act");
    h.submit_with(link(researcher(), Some(secret)))
        .assert_error(400, "link_patient needs the role SITE_CLIN");
}

fn queries_read_without_writing(h: &mut impl Harness) {
    world(h);
    for (function, arg, fragment) in [
        ("get_consent", "nope", "consent nope is not registered"),
        ("get_dataset", "nope", "dataset nope is not registered"),
        ("get_grant", "nope", "grant nope does not exist"),
        (
            "get_access_request",
            "nope",
            "access request nope does not exist",
        ),
        (
            "get_training_run",
            "nope",
            "training run nope is not recorded",
        ),
    ] {
        h.evaluate(NS, function, json!([arg]))
            .assert_error(400, fragment);
    }
    let out = h.evaluate(NS, "get_dataset", json!(["ds1"]));
    assert!(out.rwset.is_read_only());
    assert_eq!(out.json::<Dataset>().consents, ["c1"]);
    let out = h.evaluate(NS, "get_consent", json!({"consent_id": "c1"}));
    assert!(out.rwset.is_read_only());
}

#[test]
fn metadata_records_the_transient_input_of_link_patient() {
    let m = native().metadata(NS);
    let f = m.function("link_patient").unwrap();
    assert_eq!(f.transient, ["patient_record_ref"]);
    let queries: Vec<&str> = m
        .functions
        .iter()
        .filter(|f| f.evaluate)
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(
        queries,
        [
            "get_patient_link",
            "get_consent",
            "get_dataset",
            "get_grant",
            "get_access_request",
            "get_training_run"
        ]
    );
}
