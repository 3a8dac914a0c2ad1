//! Running one invocation: a fresh store from the installed module's
//! `InstancePre`, the host state around a [`TxSimulator`], and the mapping of
//! every way it can end to an [`InvokeOutcome`] or an [`InvokeError`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use cellchain_core::bytes::{Bytes, Hash32};
use cellchain_core::identity::{Identity, Role};
use cellchain_core::protocol::{ChaincodeResponse, Timestamp, TxId};
use cellchain_simulator::{SimulationOutput, StateError, StateView, TxSimulator, VersionedValue};
use serde::{Deserialize, Serialize};
use wasmtime::{InstancePre, Store, Trap, WasmBacktrace};

use crate::config::RuntimeConfig;
use crate::engine::{ModuleOrigin, Ticker};
use crate::error::{InstallError, InvokeError};
use crate::host::{HostAbort, HostState, Limiter};
use crate::validate::{INVOKE_EXPORT, MEMORY_EXPORT};

/// Who submitted the proposal, as the contract sees it (ABI.md's `caller`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallerInfo {
    pub msp_id: String,
    pub role: Role,
    pub attributes: BTreeMap<String, String>,
    pub common_name: String,
    pub subject: String,
    pub cert_hash: Hash32,
}

impl From<&Identity> for CallerInfo {
    fn from(id: &Identity) -> Self {
        CallerInfo {
            msp_id: id.msp_id.clone(),
            role: id.role,
            attributes: id.attributes.clone(),
            common_name: id.common_name.clone(),
            subject: id.subject.clone(),
            cert_hash: id.cert_hash,
        }
    }
}

/// One invocation of a chaincode function, from a verified proposal.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    /// The chaincode's name: the namespace its state lives in.
    pub chaincode: String,
    pub function: String,
    pub args: Vec<serde_json::Value>,
    pub tx_id: TxId,
    pub channel_id: String,
    pub timestamp: Timestamp,
    pub caller: CallerInfo,
    /// Private inputs: their keys are in the input JSON, their values come
    /// through `get_transient`.
    pub transient: BTreeMap<String, Bytes>,
}

/// ABI.md's input JSON, fields in ABI.md's order.
#[derive(Serialize)]
struct InputJson<'a> {
    function: &'a str,
    args: &'a [serde_json::Value],
    tx_id: &'a TxId,
    channel_id: &'a str,
    timestamp: &'a Timestamp,
    caller: &'a CallerInfo,
    transient_keys: Vec<&'a str>,
}

impl Invocation {
    /// The JSON the guest reads with `input`.
    pub fn input_json(&self) -> Vec<u8> {
        let json = InputJson {
            function: &self.function,
            args: &self.args,
            tx_id: &self.tx_id,
            channel_id: &self.channel_id,
            timestamp: &self.timestamp,
            caller: &self.caller,
            transient_keys: self.transient.keys().map(String::as_str).collect(),
        };
        // Serialising these types cannot fail: every map has string keys.
        serde_json::to_vec(&json).unwrap_or_default()
    }
}

/// A contract's log line (`log` import): level 0 error .. 4 trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub level: u8,
    pub message: String,
}

/// A completed simulation: what the endorser signs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvokeOutcome {
    /// 200 with the payload, or 400 with the contract's domain error message.
    pub response: ChaincodeResponse,
    /// The read/write set, foreign reads, private writes and events.
    pub output: SimulationOutput,
    /// Fuel consumed, host calls included: identical on every endorser.
    pub fuel_used: u64,
    pub logs: Vec<LogLine>,
    /// Log lines beyond `max_log_lines`, not kept.
    pub logs_dropped: usize,
}

/// A validated, compiled and pre-linked chaincode module. Cheap to invoke
/// from many threads at once; each invocation gets a fresh instance.
pub struct InstalledChaincode {
    pre: InstancePre<HostState>,
    sha256: Hash32,
    origin: ModuleOrigin,
    config: Arc<RuntimeConfig>,
    /// Keeps the wall-clock backstop running while this chaincode can run.
    _ticker: Arc<Ticker>,
}

/// The state of the install-time trial instantiation: nothing runs, so
/// nothing is read.
struct NoState;

impl StateView for NoState {
    fn get(&self, _: &str, _: &str) -> Result<Option<VersionedValue>, StateError> {
        Ok(None)
    }
    fn range(
        &self,
        _: &str,
        _: &str,
        _: &str,
        _: usize,
    ) -> Result<Vec<(String, VersionedValue)>, StateError> {
        Ok(Vec::new())
    }
    fn get_private(&self, _: &str, _: &str, _: &str) -> Result<Option<VersionedValue>, StateError> {
        Ok(None)
    }
    fn get_private_hash(
        &self,
        _: &str,
        _: &str,
        _: &str,
    ) -> Result<Option<(Hash32, cellchain_core::protocol::Version)>, StateError> {
        Ok(None)
    }
}

impl InstalledChaincode {
    pub(crate) fn new(
        pre: InstancePre<HostState>,
        sha256: Hash32,
        origin: ModuleOrigin,
        config: Arc<RuntimeConfig>,
        ticker: Arc<Ticker>,
    ) -> InstalledChaincode {
        InstalledChaincode {
            pre,
            sha256,
            origin,
            config,
            _ticker: ticker,
        }
    }

    /// SHA-256 of the module: the chaincode package's identity.
    pub fn sha256(&self) -> Hash32 {
        self.sha256
    }

    /// Whether install compiled the module or loaded it from the cache.
    pub fn origin(&self) -> ModuleOrigin {
        self.origin
    }

    fn store(
        &self,
        state: &'static dyn StateView,
        namespace: &str,
        input: Vec<u8>,
        transient: BTreeMap<String, Bytes>,
    ) -> Store<HostState> {
        let config = &self.config;
        let host = HostState {
            sim: TxSimulator::new(state, namespace, config.limits),
            memory: None,
            config: config.clone(),
            input,
            transient,
            result: None,
            response: None,
            panic_message: None,
            logs: Vec::new(),
            logs_dropped: 0,
            limiter: Limiter {
                memory_limit: config.memory_bytes as usize,
                table_limit: config.max_table_elements as usize,
                memory_hit: false,
                table_hit: false,
            },
        };
        let mut store = Store::new(self.pre.module().engine(), host);
        store.limiter(|h| &mut h.limiter);
        // Cannot fail: fuel is enabled on the engine.
        let _ = store.set_fuel(config.fuel);
        store.set_epoch_deadline(config.epoch_deadline_ticks());
        store.epoch_deadline_trap();
        store
    }

    pub(crate) fn trial_instantiate(&self) -> Result<(), InstallError> {
        let mut store = self.store(&NoState, "install-check", Vec::new(), BTreeMap::new());
        self.pre
            .instantiate(&mut store)
            .map(|_| ())
            .map_err(|e| InstallError::Instantiate {
                reason: format!("{e:#}"),
            })
    }

    /// Runs `invocation` against `state`. Every failure of the contract is an
    /// `Err` with its reason; the endorser and this chaincode stay usable.
    ///
    /// Call it from a thread whose stack exceeds `max_wasm_stack_bytes`
    /// comfortably (tokio's and std's 2 MiB are fine). A panic of the
    /// `StateView` itself (an endorser bug) propagates to the caller.
    pub fn invoke(
        &self,
        invocation: &Invocation,
        state: &dyn StateView,
    ) -> Result<InvokeOutcome, InvokeError> {
        let started = Instant::now();
        let result = self.run(invocation, state);
        match &result {
            Ok(o) => tracing::trace!(
                chaincode = %invocation.chaincode,
                function = %invocation.function,
                status = o.response.status,
                fuel = o.fuel_used,
                micros = started.elapsed().as_micros() as u64,
                "chaincode invoked"
            ),
            Err(e) => tracing::debug!(
                chaincode = %invocation.chaincode,
                function = %invocation.function,
                tx_id = %invocation.tx_id,
                error = %e,
                "chaincode invocation failed"
            ),
        }
        result
    }

    fn run(&self, inv: &Invocation, state: &dyn StateView) -> Result<InvokeOutcome, InvokeError> {
        let config = &self.config;
        let input = inv.input_json();
        let input_size = input.len() + inv.transient.values().map(Bytes::len).sum::<usize>();
        if input_size > config.max_input_bytes {
            return Err(InvokeError::InputTooLarge {
                size: input_size as u64,
                max: config.max_input_bytes as u64,
            });
        }
        // SAFETY: `Store<T>` requires `T: 'static`, but the simulator borrows
        // `state` for this call only. Extending the borrow is sound because
        // the store, which owns the only copy of the reference, is a local of
        // this function: it is either consumed by `into_data` (and the
        // simulator by `finish`, whose output owns its data) or dropped,
        // including on unwinding, before this function returns. Nothing
        // reachable from the store escapes: wasmtime hands `T` only to host
        // functions during `call`, and results leave as owned values.
        let state: &'static dyn StateView =
            unsafe { std::mem::transmute::<&dyn StateView, &'static dyn StateView>(state) };
        let mut store = self.store(state, &inv.chaincode, input, inv.transient.clone());

        let instance = match self.pre.instantiate(&mut store) {
            Ok(i) => i,
            Err(e) => {
                return Err(InvokeError::Instantiate {
                    reason: format!("{e:#}"),
                })
            }
        };
        // Validation guaranteed both exports and their types.
        let memory = instance.get_memory(&mut store, MEMORY_EXPORT);
        store.data_mut().memory = memory;
        let entry = instance
            .get_typed_func::<(), i32>(&mut store, INVOKE_EXPORT)
            .map_err(|e| InvokeError::AbiViolation {
                reason: format!("{INVOKE_EXPORT}: {e}"),
            })?;

        let result = entry.call(&mut store, ());
        let fuel_used = config.fuel - store.get_fuel().unwrap_or(0);
        match result {
            Ok(0) => {
                let host = store.into_data();
                let response = host.response.ok_or(InvokeError::NoResponse)?;
                Ok(InvokeOutcome {
                    response,
                    output: host.sim.finish(),
                    fuel_used,
                    logs: host.logs,
                    logs_dropped: host.logs_dropped,
                })
            }
            Ok(code) => Err(InvokeError::AbiViolation {
                reason: format!(
                    "{INVOKE_EXPORT} returned {code}; it must return 0 after set_response"
                ),
            }),
            Err(e) => Err(classify(&e, store.data(), config)),
        }
    }
}

/// Names the reason a call failed. Host-call failures carry their own error;
/// the limiter's flags say a limit was hit (its error text is not the reason);
/// then wasmtime's trap code; a trap after `panic_message` is a panic.
fn classify(e: &wasmtime::Error, host: &HostState, config: &RuntimeConfig) -> InvokeError {
    if let Some(HostAbort(err)) = e.downcast_ref::<HostAbort>() {
        return err.clone();
    }
    if host.limiter.memory_hit {
        return InvokeError::MemoryLimit {
            limit: config.memory_bytes,
        };
    }
    if host.limiter.table_hit {
        return InvokeError::Trap {
            message: format!(
                "grew a table beyond the limit of {} elements",
                config.max_table_elements
            ),
        };
    }
    let trap = e.downcast_ref::<Trap>().copied();
    match trap {
        Some(Trap::OutOfFuel) => {
            return InvokeError::OutOfFuel { limit: config.fuel };
        }
        Some(Trap::Interrupt) => {
            return InvokeError::Timeout {
                millis: config.wall_clock_ms,
            };
        }
        _ => {}
    }
    if let Some(message) = &host.panic_message {
        return InvokeError::Panic {
            message: message.clone(),
        };
    }
    let what = match trap {
        Some(t) => t.to_string(),
        None => e.to_string(),
    };
    let message = match e.downcast_ref::<WasmBacktrace>() {
        Some(bt) if !bt.frames().is_empty() => {
            let frames: Vec<String> = bt
                .frames()
                .iter()
                .take(3)
                .map(|f| {
                    let mut frame = format!("func {}", f.func_index());
                    if let Some(name) = f.func_name() {
                        frame.push_str(&format!(" ({name})"));
                    }
                    if let Some(off) = f.module_offset() {
                        frame.push_str(&format!(" at 0x{off:x}"));
                    }
                    frame
                })
                .collect();
            format!("{what} in {}", frames.join(" <- "))
        }
        _ => what,
    };
    InvokeError::Trap { message }
}
