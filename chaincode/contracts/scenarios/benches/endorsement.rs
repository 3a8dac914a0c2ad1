//! Endorsement cost of each therapy contract's most frequent write: the
//! built .wasm invoked through the endorser's runtime (production
//! configuration, a fresh instance per invocation, compiled code cached)
//! against a ledger state prepared by the vein-to-vein story. Nothing is
//! committed, so every iteration simulates the same proposal. Prints the fuel
//! of each operation once.
//!
//! - patient-batch `propose_handover`: the most frequent case write. Every
//!   case has at least four custody handovers (site -> courier -> CDMO ->
//!   courier -> site), each a proposal and an acceptance, and more with
//!   courier relays, against at least two condition records (one per leg).
//!   `record_shipment_condition` is measured too: it is the heaviest of the
//!   transit writes (product configuration read, range check).
//! - release `record_result`: one per test per batch (three here).
//! - data-sharing `request_access`: every research request, granted or not.
//!
//! cargo bench -p therapy-scenarios -- --measurement-time 3 --warm-up-time 1

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use cellchain_chaincode_harness::wasm::{build_once, cache_dir};
use cellchain_chaincode_harness::{
    CallerBuilder, Harness, MemoryState, NativeHarness, DEFAULT_CHANNEL,
};
use cellchain_chaincode_runtime::{
    CallerInfo, InstalledChaincode, Invocation, Runtime, RuntimeConfig,
};
use cellchain_core::bytes::{sha256, Hash32};
use cellchain_core::identity::Role;
use cellchain_core::protocol::{Timestamp, TxId};
use criterion::{criterion_group, criterion_main, Criterion};
use data_sharing::DataSharing;
use patient_batch::PatientBatch;
use release::Release;
use serde_json::{json, Value};
use therapy_common::{DATA_SHARING, PATIENT_BATCH, RELEASE};

use support::*;

/// A proposal as the endorser receives it, at the harness's clock.
fn proposal(
    h: &impl Harness,
    chaincode: &str,
    who: CallerBuilder,
    function: &str,
    args: Value,
) -> Invocation {
    let c = who.build();
    Invocation {
        chaincode: chaincode.into(),
        function: function.into(),
        args: args.as_array().unwrap().clone(),
        tx_id: TxId(sha256(function.as_bytes())),
        channel_id: DEFAULT_CHANNEL.into(),
        timestamp: Timestamp {
            seconds: h.timestamp().seconds,
            nanos: 0,
        },
        caller: CallerInfo {
            msp_id: c.msp_id,
            role: c.role.parse::<Role>().unwrap(),
            attributes: c.attributes,
            common_name: c.common_name,
            subject: c.subject,
            cert_hash: Hash32::from_hex(&c.cert_hash).unwrap(),
        },
        transient: BTreeMap::new(),
    }
}

struct Case {
    name: &'static str,
    chaincode: &'static str,
    state: MemoryState,
    invocation: Invocation,
}

/// Runs the story natively (the state is the same as on wasm: both drive the
/// same simulator) and keeps the state at the point of each operation.
fn prepare() -> Vec<Case> {
    let mut h = NativeHarness::new();
    h.deploy::<PatientBatch>(PATIENT_BATCH)
        .deploy::<Release>(RELEASE)
        .deploy::<DataSharing>(DATA_SHARING);
    configure_product_and_spec(&mut h);
    let mut p = Patient::one();
    h.set_timestamp(ts(SETUP_TIME + 7 * DAY));
    order(&mut h, &mut p);
    collect(&mut h, &mut p);
    hand_to_courier(&mut h, &mut p);
    h.advance_time(17 * HOUR);
    let mut cases = Vec::new();
    // In transit to the CDMO, the courier in custody.
    let logger = p.logger_in.clone();
    let readings = json!([{
        "coi": p.coi, "logger_id": logger, "min_c": 3.2, "max_c": 6.8, "mean_c": 4.9,
        "count": 204, "first_reading": utc_time(h.timestamp().seconds - 17 * HOUR),
        "last_reading": utc_time(h.timestamp().seconds - 5 * MINUTE),
        "logger_file_sha256": doc_hash("logger.csv")
    }]);
    cases.push(Case {
        name: "patient-batch/record_shipment_condition",
        chaincode: PATIENT_BATCH,
        state: h.state().clone(),
        invocation: proposal(
            &h,
            PATIENT_BATCH,
            driver_lee(),
            "record_shipment_condition",
            readings,
        ),
    });
    record_condition(&mut h, &mut p, &logger, 17 * HOUR, (3.2, 4.9, 6.8));
    h.advance_time(5 * MINUTE);
    cases.push(Case {
        name: "patient-batch/propose_handover",
        chaincode: PATIENT_BATCH,
        state: h.state().clone(),
        invocation: proposal(
            &h,
            PATIENT_BATCH,
            driver_lee(),
            "propose_handover",
            json!([{"coi": p.coi, "to_msp": CDMO}]),
        ),
    });
    deliver_to_cdmo(&mut h, &mut p);
    manufacture(&mut h, &mut p);
    open_batch(&mut h, &p);
    h.advance_time(4 * DAY);
    cases.push(Case {
        name: "release/record_result",
        chaincode: RELEASE,
        state: h.state().clone(),
        invocation: proposal(
            &h,
            RELEASE,
            analyst_sato(),
            "record_result",
            json!([{"coi": p.coi, "test_code": "VIAB", "value": 91.5, "unit": "%"}]),
        ),
    });
    qc_results(&mut h, &p, 91.5);
    certify(&mut h, &p).assert_ok();
    record_release_decision(&mut h, &mut p);
    h.advance_time(DAY);
    let now = h.timestamp().seconds;
    submit(
        &mut h,
        dr_ng(),
        DATA_SHARING,
        "register_consent",
        json!([{
            "consent_id": "consent-p1", "coi": p.coi, "pseudonym": p.pseudonym,
            "permitted_uses": ["HMB", "IRB"], "recipients": [SPONSOR],
            "expires_at": {"seconds": now + 5 * 365 * DAY, "nanos": 0},
            "form_sha256": doc_hash("consent-form-p1.pdf")
        }]),
    )
    .assert_ok();
    submit(
        &mut h,
        dr_ng(),
        DATA_SHARING,
        "register_dataset",
        json!([{"dataset_id": "ds-p1", "root": doc_hash("ds-p1 root"),
                "uri": "s3://northgate-research/cart19/ds-p1", "consents": ["consent-p1"]}]),
    )
    .assert_ok();
    h.advance_time(HOUR);
    cases.push(Case {
        name: "data-sharing/request_access",
        chaincode: DATA_SHARING,
        state: h.state().clone(),
        invocation: proposal(
            &h,
            DATA_SHARING,
            qa_ito(),
            "request_access",
            json!([{"datasets": ["ds-p1"], "purpose": "HMB", "protocol_sha256": doc_hash("protocol")}]),
        ),
    });
    cases
}

fn install(runtime: &Runtime, dir: &str) -> Arc<InstalledChaincode> {
    let crate_dir = format!("{}/../{dir}", env!("CARGO_MANIFEST_DIR"));
    runtime
        .install(&build_once(crate_dir.as_ref()).wasm)
        .unwrap()
}

fn bench(c: &mut Criterion) {
    let runtime = Runtime::new(RuntimeConfig::default(), cache_dir()).unwrap();
    let modules: BTreeMap<&str, Arc<InstalledChaincode>> = [PATIENT_BATCH, RELEASE, DATA_SHARING]
        .into_iter()
        .map(|name| (name, install(&runtime, name)))
        .collect();
    let cases = prepare();

    println!("\nfuel per invocation (guest code and host calls), production RuntimeConfig:");
    for case in &cases {
        let out = modules[case.chaincode]
            .invoke(&case.invocation, &case.state)
            .unwrap();
        assert_eq!(
            out.response.status, 200,
            "{}: {:?}",
            case.name, out.response
        );
        let rwset = out.output.tx_rwset();
        let (reads, writes): (usize, usize) = rwset.ns_rwsets.iter().fold((0, 0), |(r, w), ns| {
            (r + ns.reads.len(), w + ns.writes.len())
        });
        println!(
            "  {:42} {:>9} fuel  ({reads} reads, {writes} writes, {} events)",
            case.name,
            out.fuel_used,
            out.output.events.len()
        );
    }
    println!();

    let mut g = c.benchmark_group("endorse");
    for case in &cases {
        let module = &modules[case.chaincode];
        g.bench_function(case.name, |b| {
            b.iter(|| module.invoke(&case.invocation, &case.state).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
