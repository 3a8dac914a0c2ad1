//! [`WasmLedger`]: the story on an in-memory channel, the three contracts
//! built to .wasm and run in the endorser's real wasmtime runtime with the
//! production configuration (`WasmHarness`). Every successful transaction is
//! committed in a block of its own; the clock is simulated and starts at
//! [`START`].

use cellchain_chaincode_harness::{
    caller, CallerBuilder, Harness, Invocation, Timestamp, WasmHarness,
};
use serde_json::Value;
use therapy_common::{DATA_SHARING, PATIENT_BATCH, RELEASE};

use crate::{Committed, Failure, Ledger, Person};

/// 2026-02-23T08:00:00Z: the sponsor sets the product up.
pub const START: i64 = 1_771_833_600;

pub struct WasmLedger {
    h: WasmHarness,
}

impl WasmLedger {
    /// Builds the three contracts (cached) and installs them.
    pub fn new() -> WasmLedger {
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
        WasmLedger { h }
    }

    /// Blocks committed so far.
    pub fn blocks(&self) -> u64 {
        self.h.height()
    }
}

impl Default for WasmLedger {
    fn default() -> Self {
        WasmLedger::new()
    }
}

fn builder(who: &Person) -> CallerBuilder {
    caller(who.msp).role(who.role).common_name(who.name)
}

fn failure(status: u16, message: &str) -> Failure {
    if status == 400 {
        Failure::Refused {
            status,
            message: message.to_string(),
        }
    } else {
        Failure::Error(format!("status {status}: {message}"))
    }
}

impl Ledger for WasmLedger {
    fn submit(
        &mut self,
        who: &Person,
        contract: &str,
        function: &str,
        args: Value,
        transient: Option<(&str, &str)>,
    ) -> Result<Committed, Failure> {
        let mut inv = Invocation::new(contract, function, args).caller(builder(who));
        if let Some((k, v)) = transient {
            inv = inv.transient(k, v);
        }
        let out = self.h.submit_with(inv);
        if !out.is_ok() {
            return Err(failure(out.status(), out.message()));
        }
        let value = serde_json::from_slice(out.payload())
            .map_err(|e| Failure::Error(format!("the answer is not JSON: {e}")))?;
        Ok(Committed {
            value,
            events: out
                .events
                .iter()
                .map(|e| {
                    let payload = serde_json::from_slice(&e.payload.0).unwrap_or(Value::Null);
                    (e.name.clone(), payload)
                })
                .collect(),
            tx: None,
            on_ledger: Some(serde_json::to_string(&out.rwset).unwrap_or_default()),
        })
    }

    fn evaluate(
        &mut self,
        who: &Person,
        contract: &str,
        function: &str,
        args: Value,
    ) -> Result<Value, Failure> {
        let out = self
            .h
            .invoke_with(Invocation::new(contract, function, args).caller(builder(who)));
        if !out.is_ok() {
            return Err(failure(out.status(), out.message()));
        }
        serde_json::from_slice(out.payload())
            .map_err(|e| Failure::Error(format!("the answer is not JSON: {e}")))
    }

    fn wait(&mut self, seconds: i64) {
        self.h.advance_time(seconds);
    }

    fn now(&self) -> i64 {
        self.h.timestamp().seconds
    }

    fn height(&self) -> Option<u64> {
        Some(self.h.height())
    }
}
