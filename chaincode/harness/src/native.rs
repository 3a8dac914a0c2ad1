//! Running contracts natively: [`NativeHarness`].
//!
//! The harness owns a [`Channel`] (the committed world state of a pretend
//! channel, and the proposal context tests choose: caller, timestamp, limits)
//! and a set of deployed contracts (each a Rust type implementing
//! `cellchain_contract::Contract`, under a chaincode name that is its
//! namespace). Each invocation runs `cellchain_contract::run` with a
//! [`NativeHost`] that serves every host call from a fresh `TxSimulator`,
//! exactly as the wasm runtime serves the imports, and turns the result into
//! an [`Outcome`]. `submit` then applies a successful invocation's writes as a
//! committer would for a valid transaction (block `n + 1`, tx 0); `invoke` and
//! `evaluate` leave the state alone.
//!
//! What differs from the wasm runtime ([`crate::WasmHarness`]), on purpose: no
//! fuel, memory or time limits and none of the runtime's own caps on host-call
//! arguments (hostile code is tested through wasm); a panic unwinds instead of
//! aborting, and is caught and reported as status 500 with its message (the
//! runtime's message wraps the same text); and a failed (500) invocation
//! still shows the read/write set it had recorded, which the runtime discards.

use std::any::Any;
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use cellchain_contract::abi::{Input, RangeResult, MAX_LOG_BYTES};
use cellchain_contract::native::{with_host, NativeHost, Trap};
use cellchain_contract::{Caller, Contract, ContractMetadata, LogLevel, Timestamp};
use cellchain_core::bytes::{sha256, Bytes};
use cellchain_core::crypto::{default_provider, PublicKey};
use cellchain_core::protocol::{ChaincodeResponse, Version};
use cellchain_simulator::{Limits, MemoryState, SimError, SimulationOutput, TxSimulator};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::{Backend, Channel, Harness, Invocation, LogLine, Outcome};

/// A deployed contract: its entry point and its metadata, as plain functions.
#[derive(Clone, Copy)]
struct Deployed {
    run: fn() -> i32,
    metadata: fn() -> ContractMetadata,
}

/// An in-memory channel running contracts natively. See the module docs.
///
/// Its methods are those of [`Harness`]; they are also inherent methods, so
/// tests that do not import the trait keep working.
pub struct NativeHarness {
    channel: Channel,
    contracts: BTreeMap<String, Deployed>,
}

impl Default for NativeHarness {
    fn default() -> Self {
        Self::new()
    }
}

impl Harness for NativeHarness {
    fn backend(&self) -> Backend {
        Backend::Native
    }

    fn channel(&self) -> &Channel {
        &self.channel
    }

    fn channel_mut(&mut self) -> &mut Channel {
        &mut self.channel
    }

    fn invoke_with(&mut self, invocation: Invocation) -> Outcome {
        self.simulate(invocation).0
    }

    fn submit_with(&mut self, invocation: Invocation) -> Outcome {
        let (mut outcome, output) = self.simulate(invocation);
        if outcome.is_ok() {
            outcome.committed = Some(self.channel.commit(&output));
        }
        outcome
    }
}

impl NativeHarness {
    /// An empty channel [`crate::DEFAULT_CHANNEL`] at height 0, the caller
    /// `caller("Org1MSP")`, the clock at [`crate::DEFAULT_TIMESTAMP`] and the
    /// host's default limits.
    pub fn new() -> Self {
        NativeHarness {
            channel: Channel::new(),
            contracts: BTreeMap::new(),
        }
    }

    /// Deploys contract `C` under the chaincode name `name` (replacing what was
    /// there, as an upgrade would; the state stays).
    pub fn deploy<C: Contract>(&mut self, name: &str) -> &mut Self {
        self.contracts.insert(
            name.to_string(),
            Deployed {
                run: cellchain_contract::run::<C>,
                metadata: C::metadata,
            },
        );
        self
    }

    /// The metadata of a deployed contract.
    pub fn metadata(&self, contract: &str) -> ContractMetadata {
        (self.deployed(contract).metadata)()
    }

    // The inherent twins of the `Harness` methods: existing tests call them
    // without importing the trait.

    /// See [`Harness::set_caller`].
    pub fn set_caller(&mut self, caller: impl Into<Caller>) -> &mut Self {
        Harness::set_caller(self, caller)
    }

    /// See [`Harness::caller`].
    pub fn caller(&self) -> &Caller {
        Harness::caller(self)
    }

    /// See [`Harness::set_channel_id`].
    pub fn set_channel_id(&mut self, channel_id: &str) -> &mut Self {
        Harness::set_channel_id(self, channel_id)
    }

    /// See [`Harness::set_timestamp`].
    pub fn set_timestamp(&mut self, timestamp: Timestamp) -> &mut Self {
        Harness::set_timestamp(self, timestamp)
    }

    /// See [`Harness::advance_time`].
    pub fn advance_time(&mut self, seconds: i64) -> &mut Self {
        Harness::advance_time(self, seconds)
    }

    /// See [`Harness::timestamp`].
    pub fn timestamp(&self) -> Timestamp {
        Harness::timestamp(self)
    }

    /// See [`Harness::set_limits`].
    pub fn set_limits(&mut self, limits: Limits) -> &mut Self {
        Harness::set_limits(self, limits)
    }

    /// See [`Harness::height`].
    pub fn height(&self) -> u64 {
        Harness::height(self)
    }

    /// See [`Harness::invoke`].
    pub fn invoke(&mut self, contract: &str, function: &str, args: Value) -> Outcome {
        Harness::invoke(self, contract, function, args)
    }

    /// See [`Harness::evaluate`].
    pub fn evaluate(&mut self, contract: &str, function: &str, args: Value) -> Outcome {
        Harness::evaluate(self, contract, function, args)
    }

    /// See [`Harness::submit`].
    pub fn submit(&mut self, contract: &str, function: &str, args: Value) -> Outcome {
        Harness::submit(self, contract, function, args)
    }

    /// See [`Harness::invoke_with`].
    pub fn invoke_with(&mut self, invocation: Invocation) -> Outcome {
        Harness::invoke_with(self, invocation)
    }

    /// See [`Harness::submit_with`].
    pub fn submit_with(&mut self, invocation: Invocation) -> Outcome {
        Harness::submit_with(self, invocation)
    }

    /// See [`Harness::state`].
    pub fn state(&self) -> &MemoryState {
        Harness::state(self)
    }

    /// See [`Harness::state_mut`].
    pub fn state_mut(&mut self) -> &mut MemoryState {
        Harness::state_mut(self)
    }

    /// See [`Harness::get_state`].
    pub fn get_state(&self, contract: &str, key: &str) -> Option<Vec<u8>> {
        Harness::get_state(self, contract, key)
    }

    /// See [`Harness::get_state_json`].
    #[track_caller]
    pub fn get_state_json<T: DeserializeOwned>(&self, contract: &str, key: &str) -> Option<T> {
        Harness::get_state_json(self, contract, key)
    }

    /// See [`Harness::version`].
    pub fn version(&self, contract: &str, key: &str) -> Option<Version> {
        Harness::version(self, contract, key)
    }

    /// See [`Harness::get_private`].
    pub fn get_private(&self, contract: &str, collection: &str, key: &str) -> Option<Vec<u8>> {
        Harness::get_private(self, contract, collection, key)
    }

    /// See [`Harness::put_state`].
    pub fn put_state(&mut self, contract: &str, key: &str, value: &[u8]) -> Version {
        Harness::put_state(self, contract, key, value)
    }

    /// See [`Harness::put_private`].
    pub fn put_private(
        &mut self,
        contract: &str,
        collection: &str,
        key: &str,
        value: &[u8],
    ) -> Version {
        Harness::put_private(self, contract, collection, key, value)
    }

    fn deployed(&self, contract: &str) -> Deployed {
        *self.contracts.get(contract).unwrap_or_else(|| {
            panic!(
                "no contract deployed as {contract:?}; deployed: {:?}",
                self.contracts.keys().collect::<Vec<_>>()
            )
        })
    }

    fn simulate(&mut self, inv: Invocation) -> (Outcome, SimulationOutput) {
        let deployed = self.deployed(&inv.contract);
        let p = self.channel.propose(inv);
        let input = Input {
            function: p.function,
            args: p.args,
            tx_id: p.tx_id,
            channel_id: p.channel_id,
            timestamp: p.timestamp,
            caller: p.caller,
            transient_keys: p.transient.keys().cloned().collect(),
        };
        let mut host = HarnessHost {
            sim: TxSimulator::new(self.channel.state(), &p.contract, self.channel.limits()),
            input: serde_json::to_vec(&input).expect("the input is plain JSON"),
            transient: &p.transient,
            response: None,
            logs: Vec::new(),
        };
        let result = catch_unwind(AssertUnwindSafe(|| with_host(&mut host, deployed.run)));
        let response = match result {
            Ok(0) => match host.response.take() {
                Some((200, payload)) => response(200, String::new(), payload),
                Some((status, message)) => response(
                    status,
                    String::from_utf8_lossy(&message).into_owned(),
                    Vec::new(),
                ),
                None => response(
                    500,
                    "the contract returned without calling set_response".into(),
                    Vec::new(),
                ),
            },
            Ok(code) => response(
                500,
                format!("cellchain_invoke returned {code} instead of 0"),
                Vec::new(),
            ),
            Err(payload) => response(500, panic_text(payload), Vec::new()),
        };
        let logs = std::mem::take(&mut host.logs);
        let output = host.sim.finish();
        let outcome = Outcome {
            response,
            rwset: output.tx_rwset(),
            private_writes: output.private_writes.clone(),
            events: output.events.clone(),
            logs,
            committed: None,
        };
        (outcome, output)
    }
}

fn response(status: u16, message: String, payload: Vec<u8>) -> ChaincodeResponse {
    ChaincodeResponse {
        status,
        message,
        payload: Bytes(payload),
    }
}

/// The message of a host refusal or of a panic.
fn panic_text(payload: Box<dyn Any + Send>) -> String {
    if let Some(t) = payload.downcast_ref::<Trap>() {
        t.message.clone()
    } else if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-text payload".to_string()
    }
}

/// Serves one invocation's host calls from a transaction simulator.
struct HarnessHost<'a> {
    sim: TxSimulator<'a, MemoryState>,
    input: Vec<u8>,
    transient: &'a BTreeMap<String, Vec<u8>>,
    response: Option<(u16, Vec<u8>)>,
    logs: Vec<LogLine>,
}

fn trap(e: SimError) -> Trap {
    Trap::new(e.to_string())
}

impl NativeHost for HarnessHost<'_> {
    fn input(&mut self) -> Result<Vec<u8>, Trap> {
        Ok(self.input.clone())
    }

    fn get_state(&mut self, key: &str) -> Result<Option<Vec<u8>>, Trap> {
        self.sim.get_state(key).map_err(trap)
    }

    fn get_state_of(&mut self, namespace: &str, key: &str) -> Result<Option<Vec<u8>>, Trap> {
        self.sim.get_state_of(namespace, key).map_err(trap)
    }

    fn put_state(&mut self, key: &str, value: &[u8]) -> Result<(), Trap> {
        self.sim.put_state(key, value).map_err(trap)
    }

    fn del_state(&mut self, key: &str) -> Result<(), Trap> {
        self.sim.del_state(key).map_err(trap)
    }

    fn get_state_range(&mut self, start: &str, end: &str, limit: u32) -> Result<RangeResult, Trap> {
        let (entries, more) = self
            .sim
            .get_state_range(start, end, limit as usize)
            .map_err(trap)?;
        Ok(RangeResult { entries, more })
    }

    fn get_private(&mut self, collection: &str, key: &str) -> Result<Option<Vec<u8>>, Trap> {
        self.sim.get_private(collection, key).map_err(trap)
    }

    fn get_private_hash(&mut self, collection: &str, key: &str) -> Result<Option<[u8; 32]>, Trap> {
        Ok(self
            .sim
            .get_private_hash(collection, key)
            .map_err(trap)?
            .map(|h| h.0))
    }

    fn put_private(&mut self, collection: &str, key: &str, value: &[u8]) -> Result<(), Trap> {
        self.sim.put_private(collection, key, value).map_err(trap)
    }

    fn del_private(&mut self, collection: &str, key: &str) -> Result<(), Trap> {
        self.sim.del_private(collection, key).map_err(trap)
    }

    fn get_transient(&mut self, key: &str) -> Result<Option<Vec<u8>>, Trap> {
        Ok(self.transient.get(key).cloned())
    }

    fn set_key_policy(&mut self, key: &str, policy: &str) -> Result<(), Trap> {
        self.sim.set_key_policy(key, policy).map_err(trap)
    }

    fn emit_event(&mut self, name: &str, payload: &[u8]) -> Result<(), Trap> {
        self.sim.emit_event(name, payload).map_err(trap)
    }

    fn sha256(&mut self, data: &[u8]) -> Result<[u8; 32], Trap> {
        Ok(sha256(data).0)
    }

    fn verify_p256(&mut self, pk: &[u8], msg: &[u8], sig: &[u8]) -> Result<bool, Trap> {
        // A malformed key is an invalid signature, not a trap: the key usually
        // comes from the client's arguments.
        Ok(PublicKey::from_sec1(pk)
            .map(|key| default_provider().verify(&key, msg, sig).is_ok())
            .unwrap_or(false))
    }

    fn log(&mut self, level: LogLevel, message: &str) -> Result<(), Trap> {
        let mut end = message.len().min(MAX_LOG_BYTES);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        self.logs.push(LogLine {
            level,
            message: message[..end].to_string(),
        });
        Ok(())
    }

    fn set_response(&mut self, status: u16, payload: &[u8]) -> Result<(), Trap> {
        if status != 200 && status != 400 {
            return Err(Trap::new(format!(
                "set_response status {status}: ABI v1 allows 200 or 400"
            )));
        }
        if self.response.is_some() {
            return Err(Trap::new("set_response called twice"));
        }
        self.response = Some((status, payload.to_vec()));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use cellchain_contract::{contract, Context, ContractError};
    use serde_json::json;

    use super::*;
    use crate::{caller, KvRead};

    struct Counter;

    #[contract]
    impl Counter {
        #[transaction]
        fn bump(ctx: &mut Context, key: String) -> Result<u64, ContractError> {
            let n: u64 = ctx.get_state_json(&key)?.unwrap_or(0) + 1;
            ctx.put_state_json(&key, &n)?;
            Ok(n)
        }

        #[transaction]
        fn bump_then_fail(ctx: &mut Context, key: String) -> Result<(), ContractError> {
            ctx.put_state_json(&key, &99)?;
            Err(ContractError::new("changed my mind"))
        }

        #[transaction]
        fn bump_then_panic(ctx: &mut Context, key: String) -> Result<(), ContractError> {
            ctx.put_state_json(&key, &99)?;
            let empty: Vec<u8> = std::hint::black_box(Vec::new());
            let _ = empty[key.len()];
            Ok(())
        }

        #[transaction(evaluate)]
        fn who(ctx: &Context) -> Result<(String, Option<String>), ContractError> {
            Ok((
                ctx.caller().msp_id.clone(),
                ctx.transient("t").map(|t| String::from_utf8(t).unwrap()),
            ))
        }
    }

    fn setup() -> NativeHarness {
        let mut h = NativeHarness::new();
        h.deploy::<Counter>("counter");
        h
    }

    #[test]
    fn submit_commits_at_the_next_block_and_invoke_does_not() {
        let mut h = setup();
        assert_eq!(h.invoke("counter", "bump", json!(["n"])).json::<u64>(), 1);
        assert_eq!(h.height(), 0);
        assert_eq!(h.get_state("counter", "n"), None);

        let out = h.submit("counter", "bump", json!(["n"]));
        assert_eq!(out.json::<u64>(), 1);
        assert_eq!(out.committed, Some(Version { block: 1, tx: 0 }));
        let out = h.submit("counter", "bump", json!(["n"]));
        assert_eq!(out.json::<u64>(), 2);
        assert_eq!(
            out.ns("counter").unwrap().reads,
            [KvRead {
                key: "n".into(),
                version: Some(Version { block: 1, tx: 0 })
            }]
        );
        assert_eq!(h.version("counter", "n"), Some(Version { block: 2, tx: 0 }));
        assert_eq!(h.get_state_json::<u64>("counter", "n"), Some(2));
    }

    #[test]
    fn failed_invocations_commit_nothing_but_show_what_they_did() {
        let mut h = setup();
        let out = h.submit("counter", "bump_then_fail", json!(["n"]));
        out.assert_error(400, "changed my mind");
        assert_eq!(out.ns("counter").unwrap().writes.len(), 1);
        assert_eq!(out.committed, None);

        let out = h.submit("counter", "bump_then_panic", json!(["n"]));
        out.assert_error(500, "index out of bounds: the len is 0 but the index is 1");
        assert_eq!(out.ns("counter").unwrap().writes.len(), 1);
        assert_eq!(h.height(), 0);
        assert_eq!(h.get_state("counter", "n"), None);
        // The harness is still usable after a panic.
        h.submit("counter", "bump", json!(["n"])).assert_ok();
    }

    #[test]
    fn caller_and_transient_inputs_can_be_set_per_invocation() {
        let mut h = setup();
        h.set_caller(caller("Org2MSP"));
        let who: (String, Option<String>) = h.evaluate("counter", "who", json!([])).json();
        assert_eq!(who, ("Org2MSP".to_string(), None));
        let out = h.invoke_with(
            Invocation::new("counter", "who", Value::Null)
                .caller(caller("Org3MSP"))
                .transient("t", "secret"),
        );
        assert_eq!(
            out.json::<(String, Option<String>)>(),
            ("Org3MSP".to_string(), Some("secret".to_string()))
        );
        // Neither the override nor the transient input sticks.
        let who: (String, Option<String>) = h.evaluate("counter", "who", json!([])).json();
        assert_eq!(who, ("Org2MSP".to_string(), None));
    }

    #[test]
    fn setup_writes_commit_in_new_blocks() {
        let mut h = setup();
        assert_eq!(
            h.put_state("counter", "n", b"41"),
            Version { block: 1, tx: 0 }
        );
        assert_eq!(
            h.put_private("counter", "c", "k", b"x"),
            Version { block: 2, tx: 0 }
        );
        assert_eq!(h.submit("counter", "bump", json!(["n"])).json::<u64>(), 42);
        assert_eq!(
            h.get_private("counter", "c", "k").as_deref(),
            Some(&b"x"[..])
        );
        assert_eq!(h.metadata("counter").functions.len(), 4);
    }

    #[test]
    #[should_panic(expected = "no contract deployed as \"nope\"; deployed: [\"counter\"]")]
    fn invoking_an_undeployed_contract_is_a_test_bug() {
        setup().invoke("nope", "bump", json!([]));
    }

    #[test]
    #[should_panic(expected = "expected status 400 with a message containing \"other\"")]
    fn assert_error_checks_the_message() {
        setup()
            .submit("counter", "bump_then_fail", json!(["n"]))
            .assert_error(400, "other");
    }
}
