//! Test harness for CellChain contracts: run invocations against an in-memory
//! ledger and assert on responses, read/write sets, private data and events.
//!
//! [`NativeHarness`] (module [`native`]) runs contracts as ordinary Rust, through
//! the guest API's native backend, with every state access going through the
//! same `cellchain_simulator::TxSimulator` the wasm runtime drives: a native
//! test records the read/write set the endorser will. It is the quick inner
//! loop (like CosmWasm's multi-test or Fabric's mock stub). Running the same
//! scenarios through the real wasm runtime shares the request and result shapes
//! defined here, [`Invocation`] and [`Outcome`].
//!
//! ```ignore
//! let mut h = NativeHarness::new();
//! h.deploy::<SampleRegistry>("registry");
//! h.set_caller(caller("Org1MSP").common_name("alice"));
//! let out = h.submit("registry", "register", json!([{"id": "i1", "description": "pump"}]));
//! out.assert_ok();
//! assert_eq!(out.ns("registry").unwrap().writes.len(), 2);
//! ```

pub mod native;

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde_json::Value;

pub use cellchain_contract::{Caller, ContractMetadata, LogLevel, Timestamp};
pub use cellchain_core::bytes::{sha256, Hash32};
pub use cellchain_core::protocol::{
    ChaincodeEvent, ChaincodeResponse, CollectionHashedRwSet, KvMetadataWrite, KvRead, KvReadHash,
    KvWrite, KvWriteHash, NsRwSet, RangeQueryInfo, TxRwSet, Version, VALIDATION_PARAMETER,
};
pub use cellchain_simulator::{Limits, MemoryState, PrivateWrites};
pub use native::NativeHarness;

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
    /// namespace it read from, as the endorser would sign it. Recorded even
    /// when the invocation failed (what it did up to the failure), but only a
    /// 200 is ever committed.
    pub rwset: TxRwSet,
    /// Private values written (collection -> key -> value, `None` deletes):
    /// they stay with the endorser; `rwset` holds only their hashes.
    pub private_writes: PrivateWrites,
    /// Events in emission order.
    pub events: Vec<ChaincodeEvent>,
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
