//! Test harness for CellChain contracts: run invocations against an in-memory
//! ledger and assert on responses, read/write sets, private data and events.
//!
//! Two harnesses run the same scenarios:
//!
//! - [`NativeHarness`] (module [`native`]) runs contracts as ordinary Rust,
//!   through the guest API's native backend, with every state access going
//!   through the same `cellchain_simulator::TxSimulator` the wasm runtime
//!   drives: a native test records the read/write set the endorser will. It is
//!   the quick inner loop (like CosmWasm's multi-test or Fabric's mock stub).
//! - [`WasmHarness`] (module [`wasm`]) builds the contract crate to `.wasm`
//!   and runs it through the endorser's real wasmtime runtime with the
//!   production [`RuntimeConfig`]: what native code cannot show (a wasm
//!   feature or import the runtime refuses, fuel, memory and size limits, a
//!   float difference) shows here, in `cargo test`.
//!
//! Both implement [`Harness`], and share the request and result shapes
//! [`Invocation`] and [`Outcome`], so a scenario is written once as
//! `fn scenario(h: &mut impl Harness)` and [`both!`] runs it both ways:
//!
//! ```ignore
//! use cellchain_chaincode_harness::{both, caller, Harness, NativeHarness, WasmHarness};
//!
//! fn native() -> NativeHarness {
//!     let mut h = NativeHarness::new();
//!     h.deploy::<SampleRegistry>("registry");
//!     h
//! }
//!
//! fn wasm() -> WasmHarness {
//!     let mut h = WasmHarness::new();
//!     h.deploy_crate("registry", env!("CARGO_MANIFEST_DIR"));
//!     h
//! }
//!
//! fn register_writes_the_item(h: &mut impl Harness) {
//!     h.set_caller(caller("Org1MSP").common_name("alice"));
//!     let out = h.submit("registry", "register", json!([{"id": "i1", "description": "pump"}]));
//!     out.assert_ok();
//!     assert_eq!(out.ns("registry").unwrap().writes.len(), 2);
//! }
//!
//! // The tests register_writes_the_item::native and register_writes_the_item::wasm.
//! both!(register_writes_the_item);
//! ```

pub mod native;
pub mod wasm;

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde_json::Value;

pub use cellchain_chaincode_runtime::{InstallError, RuntimeConfig};
pub use cellchain_contract::{Caller, ContractMetadata, LogLevel, Timestamp};
pub use cellchain_core::bytes::{sha256, Hash32};
pub use cellchain_core::protocol::{
    ChaincodeEvent, ChaincodeResponse, CollectionHashedRwSet, KvMetadataWrite, KvRead, KvReadHash,
    KvWrite, KvWriteHash, NsRwSet, RangeQueryInfo, TxRwSet, Version, VALIDATION_PARAMETER,
};
pub use cellchain_simulator::{Limits, MemoryState, PrivateWrites};
pub use native::NativeHarness;
pub use wasm::WasmHarness;

use cellchain_simulator::SimulationOutput;

/// The channel the harness pretends to run on.
pub const DEFAULT_CHANNEL: &str = "testchannel";
/// 2026-01-01T00:00:00Z: the default proposal timestamp (fixed, so tests are
/// reproducible; set another with `set_timestamp`).
pub const DEFAULT_TIMESTAMP: Timestamp = Timestamp::new(1_767_225_600, 0);

/// One call of a contract function, as a test describes it. Fields left `None`
/// are filled by the harness (its current caller, a fresh tx id, its clock).
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    /// The chaincode name the contract was deployed under (its namespace).
    pub contract: String,
    pub function: String,
    pub args: Vec<Value>,
    pub caller: Option<Caller>,
    /// Transient inputs of this proposal only.
    pub transient: BTreeMap<String, Vec<u8>>,
    pub tx_id: Option<String>,
    pub timestamp: Option<Timestamp>,
}

impl Invocation {
    /// `args` is a JSON array of positional arguments (`json!(["i1", 3])`), or
    /// a single object of named arguments (`json!({"id": "i1"})`), or `null`
    /// for none; any other single value is one positional argument.
    pub fn new(contract: &str, function: &str, args: Value) -> Invocation {
        let args = match args {
            Value::Array(a) => a,
            Value::Null => Vec::new(),
            other => vec![other],
        };
        Invocation {
            contract: contract.to_string(),
            function: function.to_string(),
            args,
            caller: None,
            transient: BTreeMap::new(),
            tx_id: None,
            timestamp: None,
        }
    }

    /// Signs this call as `caller` instead of the harness's current caller.
    pub fn caller(mut self, caller: impl Into<Caller>) -> Self {
        self.caller = Some(caller.into());
        self
    }

    /// Adds a transient input.
    pub fn transient(mut self, key: &str, value: impl Into<Vec<u8>>) -> Self {
        self.transient.insert(key.to_string(), value.into());
        self
    }

    /// The transaction id: 64 lower-case hex characters, as real tx ids are
    /// (the wasm runtime takes a `TxId`, so shared scenarios must use that
    /// form).
    pub fn tx_id(mut self, tx_id: &str) -> Self {
        self.tx_id = Some(tx_id.to_string());
        self
    }

    pub fn timestamp(mut self, timestamp: Timestamp) -> Self {
        self.timestamp = Some(timestamp);
        self
    }
}

/// A line the contract logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub level: LogLevel,
    pub message: String,
}

/// What an invocation produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// 200 with the JSON payload; 400 with the contract's error message; 500
    /// with the message of a panic or of a host refusal (a trap on wasm).
    pub response: ChaincodeResponse,
    /// The transaction's read/write set: the contract's namespace and any
    /// namespace it read from, as the endorser would sign it. Recorded for a
    /// 400 too (what the contract did before refusing), but only a 200 is
    /// ever committed. For a 500, [`NativeHarness`] still shows what the
    /// contract did up to the failure; [`WasmHarness`] shows an empty set,
    /// because the runtime discards the simulation of a failed invocation
    /// (as the endorser does).
    pub rwset: TxRwSet,
    /// Private values written (collection -> key -> value, `None` deletes):
    /// they stay with the endorser; `rwset` holds only their hashes.
    pub private_writes: PrivateWrites,
    /// Events in emission order.
    pub events: Vec<ChaincodeEvent>,
    /// Log lines, in order. On wasm the runtime keeps at most
    /// `RuntimeConfig::max_log_lines` of them.
    pub logs: Vec<LogLine>,
    /// The version the writes were committed at, for a successful `submit`.
    pub committed: Option<Version>,
}

impl Outcome {
    pub fn status(&self) -> u16 {
        self.response.status
    }

    pub fn is_ok(&self) -> bool {
        self.response.status == 200
    }

    /// The error message (empty on success).
    pub fn message(&self) -> &str {
        &self.response.message
    }

    pub fn payload(&self) -> &[u8] {
        &self.response.payload
    }

    /// Panics with the status and message unless the invocation succeeded.
    #[track_caller]
    pub fn assert_ok(&self) -> &Self {
        assert!(
            self.is_ok(),
            "expected success, got status {}: {}",
            self.response.status,
            self.response.message
        );
        self
    }

    /// Panics unless the invocation failed with `status` and a message
    /// containing `fragment`.
    #[track_caller]
    pub fn assert_error(&self, status: u16, fragment: &str) -> &Self {
        assert!(
            self.response.status == status && self.response.message.contains(fragment),
            "expected status {status} with a message containing {fragment:?}, got status {}: {:?}",
            self.response.status,
            self.response.message
        );
        self
    }

    /// The payload decoded from JSON; panics with the reason if the call failed
    /// or the payload is not a `T`.
    #[track_caller]
    pub fn json<T: DeserializeOwned>(&self) -> T {
        self.assert_ok();
        serde_json::from_slice(&self.response.payload).unwrap_or_else(|e| {
            panic!(
                "payload {:?} is not the expected JSON: {e}",
                String::from_utf8_lossy(&self.response.payload)
            )
        })
    }

    /// The payload as a JSON value.
    #[track_caller]
    pub fn value(&self) -> Value {
        self.json()
    }

    /// The read/write set of one namespace.
    pub fn ns(&self, namespace: &str) -> Option<&NsRwSet> {
        self.rwset
            .ns_rwsets
            .iter()
            .find(|ns| ns.namespace == namespace)
    }
}

/// Builds a [`Caller`] for tests: `caller("Org1MSP").attribute("role", "QP")`.
pub fn caller(msp_id: &str) -> CallerBuilder {
    CallerBuilder {
        msp_id: msp_id.to_string(),
        role: "client".to_string(),
        attributes: BTreeMap::new(),
        common_name: "user1".to_string(),
    }
}

/// See [`caller`]. Defaults: node role `client`, common name `user1`, no
/// attributes. The subject and certificate hash are derived, so distinct
/// identities get distinct hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerBuilder {
    msp_id: String,
    role: String,
    attributes: BTreeMap<String, String>,
    common_name: String,
}

impl CallerBuilder {
    /// The node role: `client` (default), `peer`, `admin` or `orderer` (the
    /// values of `cellchain_core::identity::Role`).
    pub fn node_role(mut self, role: &str) -> Self {
        self.role = role.to_string();
        self
    }

    /// The domain role, i.e. the certificate attribute `role`.
    pub fn role(self, role: &str) -> Self {
        self.attribute("role", role)
    }

    pub fn attribute(mut self, name: &str, value: &str) -> Self {
        self.attributes.insert(name.to_string(), value.to_string());
        self
    }

    pub fn common_name(mut self, common_name: &str) -> Self {
        self.common_name = common_name.to_string();
        self
    }

    pub fn build(self) -> Caller {
        let subject = format!("CN={},OU={},O={}", self.common_name, self.role, self.msp_id);
        let mut id = subject.clone();
        for (k, v) in &self.attributes {
            id.push_str(&format!(";{k}={v}"));
        }
        Caller {
            cert_hash: cellchain_core::bytes::sha256(id.as_bytes()).to_hex(),
            msp_id: self.msp_id,
            role: self.role,
            attributes: self.attributes,
            common_name: self.common_name,
            subject,
        }
    }
}

impl From<CallerBuilder> for Caller {
    fn from(b: CallerBuilder) -> Caller {
        b.build()
    }
}

// ---- the harness trait ---------------------------------------------------------

/// How a harness runs contracts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// As Rust code in the test process ([`NativeHarness`]).
    Native,
    /// As the built `.wasm` module in the endorser's runtime ([`WasmHarness`]).
    Wasm,
}

/// The pretend channel a harness runs on: the committed world state, the
/// block height, and the proposal context of the following invocations
/// (caller, channel id, clock, limits). Both harnesses hold one, so they number
/// transactions, commit blocks and fill in defaults identically: the same
/// scenario gives the same tx ids, versions and read/write sets either way.
/// Opaque: use the [`Harness`] methods.
#[derive(Debug, Clone)]
pub struct Channel {
    state: MemoryState,
    caller: Caller,
    channel_id: String,
    timestamp: Timestamp,
    limits: Limits,
    /// The number of the last committed block (0: only genesis).
    height: u64,
    /// Invocations so far, for default tx ids.
    seq: u64,
}

/// An [`Invocation`] with every default filled in by the [`Channel`].
pub(crate) struct Proposal {
    pub contract: String,
    pub function: String,
    pub args: Vec<Value>,
    /// 64 lower-case hex characters unless the test gave something else.
    pub tx_id: String,
    pub channel_id: String,
    pub timestamp: Timestamp,
    pub caller: Caller,
    pub transient: BTreeMap<String, Vec<u8>>,
}

impl Channel {
    /// An empty channel [`DEFAULT_CHANNEL`] at height 0, the caller
    /// `caller("Org1MSP")`, the clock at [`DEFAULT_TIMESTAMP`] and the host's
    /// default limits.
    pub(crate) fn new() -> Channel {
        Channel {
            state: MemoryState::new(),
            caller: caller("Org1MSP").build(),
            channel_id: DEFAULT_CHANNEL.to_string(),
            timestamp: DEFAULT_TIMESTAMP,
            limits: Limits::default(),
            height: 0,
            seq: 0,
        }
    }

    pub(crate) fn limits(&self) -> Limits {
        self.limits
    }

    pub(crate) fn state(&self) -> &MemoryState {
        &self.state
    }

    /// Fills in what the test left out. Each call is a new transaction: the
    /// default tx id is a hash of the channel and a counter, so it is fresh,
    /// deterministic, and the same on both harnesses.
    pub(crate) fn propose(&mut self, inv: Invocation) -> Proposal {
        self.seq += 1;
        Proposal {
            tx_id: inv.tx_id.unwrap_or_else(|| {
                sha256(format!("cellchain-harness/{}/{}", self.channel_id, self.seq).as_bytes())
                    .to_hex()
            }),
            contract: inv.contract,
            function: inv.function,
            args: inv.args,
            channel_id: self.channel_id.clone(),
            timestamp: inv.timestamp.unwrap_or(self.timestamp),
            caller: inv.caller.unwrap_or_else(|| self.caller.clone()),
            transient: inv.transient,
        }
    }

    /// Commits a successful simulation in the next block (tx 0), as a
    /// committer would for a valid transaction.
    pub(crate) fn commit(&mut self, output: &SimulationOutput) -> Version {
        let version = self.next_block();
        self.state.apply(output, version);
        version
    }

    fn next_block(&mut self) -> Version {
        self.height += 1;
        Version {
            block: self.height,
            tx: 0,
        }
    }
}

/// What scenarios need from a harness, implemented by [`NativeHarness`] and
/// [`WasmHarness`]: write a scenario as `fn s(h: &mut impl Harness)` and run
/// it both ways with [`both!`]. Deploying is not part of it (a native
/// contract is a type, a wasm one a crate): the set-up functions do that.
///
/// Only [`Harness::invoke_with`] and [`Harness::submit_with`] differ between
/// the two; everything else works on the shared [`Channel`].
pub trait Harness {
    /// How this harness runs contracts, for the few assertions that
    /// legitimately differ (say what and why where you branch on it).
    fn backend(&self) -> Backend;

    /// The channel the provided methods work on (plumbing: use them instead).
    fn channel(&self) -> &Channel;

    /// See [`Harness::channel`].
    fn channel_mut(&mut self) -> &mut Channel;

    /// Runs a fully described invocation and returns what it did, without
    /// committing anything.
    fn invoke_with(&mut self, invocation: Invocation) -> Outcome;

    /// Runs a fully described invocation and, if it succeeded (200), commits
    /// its writes at the next block, as a committer would for a valid
    /// transaction.
    fn submit_with(&mut self, invocation: Invocation) -> Outcome;

    // ---- invocations -------------------------------------------------------

    /// Runs `function` of `contract` with `args` (see [`Invocation::new`]) and
    /// returns what it did, without committing anything.
    fn invoke(&mut self, contract: &str, function: &str, args: Value) -> Outcome {
        self.invoke_with(Invocation::new(contract, function, args))
    }

    /// A query: the same as [`Harness::invoke`], named for readability.
    fn evaluate(&mut self, contract: &str, function: &str, args: Value) -> Outcome {
        self.invoke(contract, function, args)
    }

    /// Runs the function and, if it succeeded (200), commits its writes at the
    /// next block.
    fn submit(&mut self, contract: &str, function: &str, args: Value) -> Outcome {
        self.submit_with(Invocation::new(contract, function, args))
    }

    // ---- proposal context --------------------------------------------------

    /// Signs the following invocations as `caller` (see [`crate::caller`]).
    fn set_caller(&mut self, caller: impl Into<Caller>) -> &mut Self {
        self.channel_mut().caller = caller.into();
        self
    }

    /// Who signs the following invocations.
    fn caller(&self) -> &Caller {
        &self.channel().caller
    }

    /// The channel id the contract sees ([`DEFAULT_CHANNEL`] unless set).
    fn set_channel_id(&mut self, channel_id: &str) -> &mut Self {
        self.channel_mut().channel_id = channel_id.to_string();
        self
    }

    /// See [`Harness::set_channel_id`].
    fn channel_id(&self) -> &str {
        &self.channel().channel_id
    }

    /// The proposal timestamp of the following invocations.
    fn set_timestamp(&mut self, timestamp: Timestamp) -> &mut Self {
        self.channel_mut().timestamp = timestamp;
        self
    }

    /// Moves the clock of the following invocations forward.
    fn advance_time(&mut self, seconds: i64) -> &mut Self {
        self.channel_mut().timestamp.seconds += seconds;
        self
    }

    /// The proposal timestamp of the following invocations.
    fn timestamp(&self) -> Timestamp {
        self.channel().timestamp
    }

    /// The limits the simulator enforces (sizes, events, range pages); on
    /// wasm they become the runtime configuration's `limits`.
    fn set_limits(&mut self, limits: Limits) -> &mut Self {
        self.channel_mut().limits = limits;
        self
    }

    /// The number of the last committed block.
    fn height(&self) -> u64 {
        self.channel().height
    }

    // ---- state -------------------------------------------------------------

    /// The committed world state.
    fn state(&self) -> &MemoryState {
        &self.channel().state
    }

    /// The committed world state, for setups the helpers below do not cover.
    fn state_mut(&mut self) -> &mut MemoryState {
        &mut self.channel_mut().state
    }

    /// The committed value of `key` in namespace `contract`.
    fn get_state(&self, contract: &str, key: &str) -> Option<Vec<u8>> {
        self.state()
            .public
            .get(contract)
            .and_then(|m| m.get(key))
            .map(|(v, _)| v.clone())
    }

    /// [`Harness::get_state`] decoded from JSON (panics if it is not a `T`).
    #[track_caller]
    fn get_state_json<T: DeserializeOwned>(&self, contract: &str, key: &str) -> Option<T> {
        self.get_state(contract, key).map(|v| {
            serde_json::from_slice(&v).unwrap_or_else(|e| panic!("{key:?} holds no such JSON: {e}"))
        })
    }

    /// The version that last wrote `key`.
    fn version(&self, contract: &str, key: &str) -> Option<Version> {
        self.state()
            .public
            .get(contract)
            .and_then(|m| m.get(key))
            .map(|(_, ver)| *ver)
    }

    /// A committed private value.
    fn get_private(&self, contract: &str, collection: &str, key: &str) -> Option<Vec<u8>> {
        self.state()
            .private
            .get(&(contract.to_string(), collection.to_string()))
            .and_then(|m| m.get(key))
            .map(|(v, _)| v.clone())
    }

    /// Test setup: commits `value` under `key` in namespace `contract` in a new
    /// block, as if a transaction had written it.
    fn put_state(&mut self, contract: &str, key: &str, value: &[u8]) -> Version {
        let channel = self.channel_mut();
        let version = channel.next_block();
        channel.state.put(contract, key, value, version);
        version
    }

    /// Test setup: commits a private value in a new block.
    fn put_private(
        &mut self,
        contract: &str,
        collection: &str,
        key: &str,
        value: &[u8],
    ) -> Version {
        let channel = self.channel_mut();
        let version = channel.next_block();
        channel
            .state
            .put_private(contract, collection, key, value, version);
        version
    }
}

/// Runs each scenario natively and through the built `.wasm`.
///
/// For every `name` given, generates a module `name` with two tests,
/// `name::native` and `name::wasm`, which call the scenario function `name(h:
/// &mut impl Harness)` with `native()` and `wasm()`: set-up functions the
/// calling module defines (returning a [`NativeHarness`] and a [`WasmHarness`]
/// with the same contracts deployed). `cargo test name` runs both;
/// `cargo test ::wasm` every wasm run.
#[macro_export]
macro_rules! both {
    ($($scenario:ident),+ $(,)?) => {$(
        mod $scenario {
            #[test]
            fn native() {
                super::$scenario(&mut super::native());
            }

            #[test]
            fn wasm() {
                super::$scenario(&mut super::wasm());
            }
        }
    )+};
}
