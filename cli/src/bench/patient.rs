//! The `patient_batch` workload: the vein-to-vein happy path of one patient,
//! from case creation to infusion, as the story of examples/vein-to-vein
//! tells it for patient one (without its deliberate refusals): 22
//! transactions of the patient-batch and release contracts, each signed by
//! the story's person of the right organisation and role (the cast of
//! `cellchain demo`, [`crate::demo::people`]).
//!
//! Each worker runs one case at a time: a step is endorsed and broadcast
//! like any benchmark transaction, its commit is seen on the round's block
//! feed, and the next step starts once every endorser has that block (a
//! shared poller watches the endorsers' heights). A step that fails abandons
//! the case; the worker starts a new one. Every step counts as a transaction.
//!
//! Before the round (not measured) the sponsor configures the product with a
//! new specification version and QA drafts and approves its release
//! specification, as the story's set-up does.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, Context as _};
use cellchain_sdk::{Gateway, Identity};
use serde_json::{json, Value};
use therapy_common::ids::{din_check_character, gs1_check_digit};
use therapy_common::{PATIENT_BATCH, RELEASE};
use tokio::sync::{oneshot, watch};
use tokio::task::AbortHandle;
use vein_to_vein_example::{
    hash, utc, Person, ANALYST_SATO, DRIVER_LEE, DR_NG, HOUR, NURSE_OKAFOR, PEOPLE, PRODUCT,
    QA_BERG, QA_ITO, QP_VARGA, TECH_RUIZ,
};

use super::env::Env;
use super::runner::{endorse_and_submit, RoundCtx};
use crate::cmd_crypto;
use crate::demo::people;

/// Release calls name the organisations of the contract's key-level policy
/// (as `cellchain demo` does).
const RELEASE_ENDORSERS: [&str; 2] = ["CdmoMSP", "SponsorMSP"];
/// How long a step waits for its commit, and for the endorsers to catch up.
const STEP_WAIT: Duration = Duration::from_secs(60);

pub struct Patients {
    gateways: HashMap<&'static str, Gateway>,
    channel: String,
    /// The lowest endorser height, kept fresh by a poller.
    heights: watch::Receiver<u64>,
    poller: AbortHandle,
    /// Unix seconds at set-up: with `next`, makes each case's identifiers.
    base: u64,
    next: AtomicU64,
}

enum Stop {
    /// The round is over.
    Done,
    /// The step failed (counted): abandon the case.
    Failed,
}

impl Patients {
    /// Maps the story's people to the network's users and configures the
    /// product and its release specification (not measured).
    pub async fn setup(env: &Env) -> anyhow::Result<Patients> {
        let spec = cmd_crypto::spec_from_config(&env.topology)?;
        let cast = people::cast(&PEOPLE, &spec, &env.dir.join("crypto")).map_err(|e| {
            anyhow!(
                "workload patient_batch needs the therapy consortium's organisations and roles \
                 (channel-configs/atmp-network.yaml or examples/bench/topology-atmp.yaml): {e}"
            )
        })?;
        let mut gateways = HashMap::new();
        for c in &cast {
            let id = Identity::from_files(c.person.msp, c.cert(), c.key())?;
            let gw = Gateway::connect_with(id, env.profile.clone(), Env::gateway_options())?;
            gateways.insert(c.person.name, gw);
        }
        // The endorsers' lowest height, polled while the round runs.
        let (tx, heights) = watch::channel(0u64);
        let endorsers: Vec<String> = env
            .nodes
            .iter()
            .filter(|n| {
                n.kind == crate::network::state::Kind::Endorser && n.channels.contains(&env.channel)
            })
            .map(|n| format!("http://{}/v1/channels/{}/status", n.address(), env.channel))
            .collect();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()?;
        let poller = tokio::spawn(async move {
            loop {
                let mut min = u64::MAX;
                for url in &endorsers {
                    let h = match http.get(url).send().await {
                        Ok(r) => r
                            .json::<Value>()
                            .await
                            .ok()
                            .and_then(|v| v["height"].as_u64()),
                        Err(_) => None,
                    };
                    min = min.min(h.unwrap_or(0));
                }
                if min != u64::MAX && min > *tx.borrow() {
                    let _ = tx.send(min);
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        })
        .abort_handle();
        let p = Patients {
            gateways,
            channel: env.channel.clone(),
            heights,
            poller,
            base: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            next: AtomicU64::new(0),
        };
        p.configure_product().await?;
        Ok(p)
    }

    pub fn stop(&self) {
        self.poller.abort();
    }

    fn gateway(&self, who: &Person) -> &Gateway {
        self.gateways
            .get(who.name)
            .expect("every person has a gateway")
    }

    fn contract(&self, who: &Person, contract: &str) -> cellchain_sdk::Contract {
        let c = self.gateway(who).network(&self.channel).contract(contract);
        if contract == RELEASE {
            c.with_endorsing_orgs(RELEASE_ENDORSERS)
        } else {
            c
        }
    }

    async fn wait_height(&self, height: u64) -> bool {
        let mut rx = self.heights.clone();
        tokio::time::timeout(STEP_WAIT, rx.wait_for(|h| *h >= height))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// A set-up transaction (SDK submit, waiting for its commit); returns
    /// its payload once every endorser has it.
    async fn setup_step(
        &self,
        who: &Person,
        contract: &str,
        function: &str,
        args: Value,
    ) -> anyhow::Result<Value> {
        let done = self
            .contract(who, contract)
            .submit(function, vec![args])
            .await
            .map_err(|e| anyhow!("set-up {contract}.{function} as {}: {e}", who.name))?;
        if !self.wait_height(done.block + 1).await {
            anyhow::bail!("the endorsers did not reach block {}", done.block);
        }
        serde_json::from_slice(&done.payload).context("the answer is not JSON")
    }

    /// The story's set-up: the sponsor configures the product with its next
    /// specification version, QA drafts and a second QA approves the release
    /// specification.
    async fn configure_product(&self) -> anyhow::Result<()> {
        let eval = |contract: &'static str, function: &'static str, args: Vec<Value>| {
            let c = self.contract(&QA_BERG, contract);
            async move { c.evaluate(function, args).await }
        };
        let current = eval(
            PATIENT_BATCH,
            "get_product",
            vec![json!(PRODUCT), Value::Null],
        )
        .await
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|p| p["spec_version"].as_u64())
        .unwrap_or(0);
        let mut version = current + 1;
        while eval(RELEASE, "get_spec", vec![json!(PRODUCT), json!(version)])
            .await
            .is_ok()
        {
            version += 1;
        }
        self.setup_step(
            &QA_BERG,
            PATIENT_BATCH,
            "configure_product",
            json!({
            "product_code": PRODUCT, "spec_version": version, "manufacturer_msps": ["CdmoMSP"],
            "routes": [{"route": "to_manufacturing", "range": {"min_c": 2.0, "max_c": 8.0}},
                       {"route": "to_site", "range": {"max_c": -150.0}}],
            "collection_to_receipt_max_hours": 48, "thaw_to_infusion_max_minutes": 30,
            "reason": "cellchain bench set-up"}),
        )
        .await?;
        let tests = json!([
            {"code": "VIAB", "name": "Viability", "method": "flow cytometry", "unit": "%", "criterion": {"kind": "at_least", "min": 70.0}, "required": true},
            {"code": "STER", "name": "Sterility", "method": "Ph. Eur. 2.6.27", "unit": "n/a", "criterion": {"kind": "equals", "value": "no growth"}, "required": true},
            {"code": "VCN", "name": "Vector copy number", "method": "ddPCR", "unit": "copies/cell", "criterion": {"kind": "between", "min": 0.5, "max": 5.0}, "required": true}]);
        let draft = self
            .setup_step(
                &QA_BERG,
                RELEASE,
                "create_spec",
                json!({"product_code": PRODUCT, "version": version, "tests": tests}),
            )
            .await?;
        self.setup_step(
            &QA_ITO,
            RELEASE,
            "approve_spec",
            json!({"product_code": PRODUCT, "version": version, "spec_sha256": draft["spec_sha256"]}),
        )
        .await?;
        println!(
            "  set up {PRODUCT} specification version {version} (configure_product, create_spec, \
             approve_spec)"
        );
        Ok(())
    }

    /// Runs cases until the round is over.
    pub async fn worker(self: Arc<Self>, _w: usize, rc: Arc<RoundCtx>) {
        loop {
            match self.case(&rc).await {
                Ok(()) | Err(Stop::Failed) => {}
                Err(Stop::Done) => return,
            }
        }
    }

    /// One step: endorse, broadcast, commit seen on the feed, endorsers
    /// caught up. Returns the contract's answer.
    async fn step(
        &self,
        rc: &RoundCtx,
        who: &Person,
        contract: &str,
        function: &str,
        args: Value,
    ) -> Result<Value, Stop> {
        let Some((slot, start, _)) = rc.gate(None).await else {
            return Err(Stop::Done);
        };
        let c = self.contract(who, contract);
        let (tx, rx) = oneshot::channel();
        let payload = endorse_and_submit(rc, &c, function, vec![args], slot, start, Some(tx))
            .await
            .map_err(|()| Stop::Failed)?;
        let outcome = match tokio::time::timeout(STEP_WAIT, rx).await {
            Ok(Ok(o)) => o,
            _ => return Err(Stop::Done),
        };
        if !outcome.valid || !self.wait_height(outcome.block + 1).await {
            return Err(Stop::Failed);
        }
        Ok(serde_json::from_slice(&payload).unwrap_or(Value::Null))
    }

    /// Fresh identifiers for a case: COI, pseudonym, DIN, two SSCCs.
    fn ids(&self) -> CaseIds {
        let k = self.next.fetch_add(1, Ordering::SeqCst);
        let u = self.base * 1000 + k % 1000 + (k / 1000) * 1_000_000_000;
        let now = self.base as i64;
        let yy = utc(now)[2..4].to_string();
        const B36: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
        let p6 = 36u64.pow(6);
        let mut n = u % p6;
        let mut stamp = String::new();
        for _ in 0..6 {
            stamp.insert(0, B36[(n % 36) as usize] as char);
            n /= 36;
        }
        let coi = format!("CHB{:04}{yy}{stamp}", (u / p6) % 10_000);
        let fin = format!(
            "{}{:04}",
            char::from(b'B' + ((u / 10_000_000_000) % 25) as u8),
            (u / 1_000_000) % 10_000
        );
        let base = format!("{fin}{yy}{:06}", u % 1_000_000);
        let din = format!("{base}00{}", din_check_character(&base));
        let sscc = |j: u64| {
            let v = 2 * u + j;
            let data = format!(
                "{}0614141{:09}",
                (v / 1_000_000_000) % 10,
                v % 1_000_000_000
            );
            let check = gs1_check_digit(&data).expect("digits");
            (format!("{data}{check}"), v % 1_000_000_000)
        };
        CaseIds {
            pseudonym: hash(&format!("pseudonym of {coi}"))[..32].to_string(),
            coi,
            din,
            out: sscc(0),
            back: sscc(1),
        }
    }

    fn logger(coi: &str, serial: u64, leg: i64, (min, mean, max): (f64, f64, f64)) -> Value {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        json!({"coi": coi, "logger_id": format!("LOG-{serial}"), "min_c": min, "max_c": max,
               "mean_c": mean, "count": leg / 300, "first_reading": utc(now - leg),
               "last_reading": utc(now - 300),
               "logger_file_sha256": hash(&format!("LOG-{serial}.csv"))})
    }

    /// Patient one's path of the story, case creation to infusion.
    async fn case(&self, rc: &RoundCtx) -> Result<(), Stop> {
        let ids = self.ids();
        let coi = ids.coi.as_str();
        let pb = PATIENT_BATCH;
        self.step(
            rc,
            &DR_NG,
            pb,
            "create_case",
            json!({"coi": coi, "pseudonym": ids.pseudonym,
            "product_code": PRODUCT, "manufacturer_msp": "CdmoMSP"}),
        )
        .await?;
        self.step(
            rc,
            &TECH_RUIZ,
            pb,
            "confirm_slot",
            json!({"coi": coi, "note": "slot HX-BENCH"}),
        )
        .await?;
        self.step(
            rc,
            &NURSE_OKAFOR,
            pb,
            "record_collection",
            json!({"coi": coi, "din": ids.din}),
        )
        .await?;
        self.step(
            rc,
            &DR_NG,
            pb,
            "propose_handover",
            json!({"coi": coi, "to_msp": "CourierMSP",
            "shipment": {"sscc": ids.out.0, "logger_id": format!("LOG-{}", ids.out.1),
                         "route": "to_manufacturing"}}),
        )
        .await?;
        self.step(rc, &DRIVER_LEE, pb, "accept_handover", json!({"coi": coi}))
            .await?;
        let readings = Self::logger(coi, ids.out.1, 17 * HOUR, (3.2, 4.9, 6.8));
        self.step(rc, &DRIVER_LEE, pb, "record_shipment_condition", readings)
            .await?;
        self.step(
            rc,
            &DRIVER_LEE,
            pb,
            "propose_handover",
            json!({"coi": coi, "to_msp": "CdmoMSP"}),
        )
        .await?;
        self.step(rc, &TECH_RUIZ, pb, "accept_handover", json!({"coi": coi}))
            .await?;
        self.step(
            rc,
            &TECH_RUIZ,
            pb,
            "start_manufacturing",
            json!({"coi": coi}),
        )
        .await?;
        self.step(
            rc,
            &TECH_RUIZ,
            pb,
            "complete_manufacturing",
            json!({"coi": coi, "document_sha256": hash("batch record")}),
        )
        .await?;
        self.step(rc, &TECH_RUIZ, RELEASE, "open_batch", json!({"coi": coi}))
            .await?;
        for (code, value, unit) in [
            ("VIAB", json!(91.5), "%"),
            ("VCN", json!(2.1), "copies/cell"),
            ("STER", json!("no growth"), "n/a"),
        ] {
            self.step(
                rc,
                &ANALYST_SATO,
                RELEASE,
                "record_result",
                json!({"coi": coi, "test_code": code, "value": value, "unit": unit}),
            )
            .await?;
        }
        // The QP reviews the batch record (a query, not counted).
        let batch = self
            .contract(&QP_VARGA, RELEASE)
            .evaluate("get_batch", vec![json!(coi)])
            .await
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .ok_or(Stop::Failed)?;
        self.step(
            rc,
            &QP_VARGA,
            RELEASE,
            "certify",
            json!({"coi": coi, "batch_record_sha256": batch["batch_sha256"]}),
        )
        .await?;
        self.step(
            rc,
            &QP_VARGA,
            pb,
            "record_release_decision",
            json!({"coi": coi}),
        )
        .await?;
        self.step(
            rc,
            &TECH_RUIZ,
            pb,
            "propose_handover",
            json!({"coi": coi, "to_msp": "CourierMSP",
            "shipment": {"sscc": ids.back.0, "logger_id": format!("LOG-{}", ids.back.1),
                         "route": "to_site"}}),
        )
        .await?;
        self.step(rc, &DRIVER_LEE, pb, "accept_handover", json!({"coi": coi}))
            .await?;
        let readings = Self::logger(coi, ids.back.1, 7 * HOUR, (-187.5, -181.0, -176.2));
        self.step(rc, &DRIVER_LEE, pb, "record_shipment_condition", readings)
            .await?;
        self.step(
            rc,
            &DRIVER_LEE,
            pb,
            "propose_handover",
            json!({"coi": coi, "to_msp": "HospitalAMSP"}),
        )
        .await?;
        self.step(rc, &DR_NG, pb, "accept_handover", json!({"coi": coi}))
            .await?;
        self.step(rc, &DR_NG, pb, "record_thaw", json!({"coi": coi}))
            .await?;
        self.step(
            rc,
            &DR_NG,
            pb,
            "record_infusion",
            json!({"coi": coi, "scanned_coi": coi, "scanned_din": ids.din}),
        )
        .await?;
        Ok(())
    }
}

struct CaseIds {
    coi: String,
    pseudonym: String,
    din: String,
    /// SSCC and serial of the shipment to manufacturing, and back to the site.
    out: (String, u64),
    back: (String, u64),
}

#[cfg(test)]
mod tests {
    use therapy_common::ids::{validate_coi, validate_din, validate_pseudonym, validate_sscc};

    use super::*;

    #[test]
    fn case_ids_are_valid_and_distinct() {
        let (tx, heights) = watch::channel(0);
        drop(tx);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let poller = rt.spawn(async {}).abort_handle();
        let p = Patients {
            gateways: HashMap::new(),
            channel: "c".into(),
            heights,
            poller,
            base: 1_790_000_000,
            next: AtomicU64::new(0),
        };
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..1500 {
            let ids = p.ids();
            validate_coi(&ids.coi).unwrap();
            validate_din(&ids.din).unwrap();
            validate_pseudonym(&ids.pseudonym).unwrap();
            validate_sscc(&ids.out.0).unwrap();
            validate_sscc(&ids.back.0).unwrap();
            assert!(seen.insert(ids.coi.clone()), "{}", ids.coi);
            assert!(seen.insert(ids.din.clone()), "{}", ids.din);
            assert!(seen.insert(ids.out.0.clone()));
            assert!(seen.insert(ids.back.0.clone()));
        }
    }
}
