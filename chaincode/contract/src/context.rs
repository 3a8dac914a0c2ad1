//! [`Context`]: everything a transaction function can see and do.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::abi::{Caller, Input, LogLevel, Timestamp, MAX_LOG_BYTES};
use crate::composite::{self, EMPTY_KEY_SUBSTITUTE};
use crate::error::ContractError;
use crate::sys;
use crate::Result;

/// A key and its committed value, from a range or partial-key query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: Vec<u8>,
}

impl KeyValue {
    /// The value decoded from JSON; the error names the key.
    pub fn value_json<T: DeserializeOwned>(&self) -> Result<T> {
        decode_json(&self.key, &self.value)
    }
}

/// One page of a paginated query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    pub entries: Vec<KeyValue>,
    /// Pass it back to get the next page; `None` when the range is exhausted.
    /// It is the last key returned (the next page starts just after it).
    pub bookmark: Option<String>,
}

/// The transaction's view of the ledger and of its proposal, with Fabric's
/// semantics:
///
/// - reads see the **committed** state only, never this transaction's own
///   writes (a `put_state` followed by `get_state` of the same key returns the
///   old value);
/// - every read is recorded with the version it saw, and the transaction is
///   invalidated at commit if that version changed (MVCC); ranges are recorded
///   too (phantom check);
/// - the last write of a key wins; a delete is a write.
///
/// Reading methods take `&self`, writing methods `&mut self`: a function
/// declared `fn query(ctx: &Context, ..)` cannot write.
///
/// Errors are domain errors (400) for things the contract or its client got
/// wrong (an empty key, a value that is not the expected JSON). Limits the host
/// enforces (key and value sizes, total written, events) trap instead: the
/// invocation fails with status 500 and the host's message.
#[derive(Debug)]
pub struct Context {
    function: String,
    tx_id: String,
    channel_id: String,
    timestamp: Timestamp,
    caller: Caller,
    transient_keys: Vec<String>,
}

fn decode_json<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| {
        ContractError::new(format!(
            "the value of {key:?} is not the expected JSON: {e}"
        ))
    })
}

fn encode_json<T: Serialize + ?Sized>(what: &str, value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| {
        ContractError::new(format!("cannot encode the value for {what:?} as JSON: {e}"))
    })
}

fn check_key(key: &str) -> Result<()> {
    if key.is_empty() {
        return Err(ContractError::new(
            "empty key: state keys must not be empty",
        ));
    }
    Ok(())
}

fn check_collection(collection: &str) -> Result<()> {
    if collection.is_empty() {
        return Err(ContractError::new("empty private data collection name"));
    }
    Ok(())
}

/// The start key for resuming after `bookmark`: the smallest key above it.
fn after(bookmark: &str) -> String {
    let mut s = String::with_capacity(bookmark.len() + 1);
    s.push_str(bookmark);
    s.push('\u{0}');
    s
}

impl Context {
    pub(crate) fn new(input: Input) -> Context {
        Context {
            function: input.function,
            tx_id: input.tx_id,
            channel_id: input.channel_id,
            timestamp: input.timestamp,
            caller: input.caller,
            transient_keys: input.transient_keys,
        }
    }

    // ---- the proposal ------------------------------------------------------

    /// The function being called.
    pub fn function(&self) -> &str {
        &self.function
    }

    /// The transaction id (hex), unique on the channel.
    pub fn tx_id(&self) -> &str {
        &self.tx_id
    }

    pub fn channel_id(&self) -> &str {
        &self.channel_id
    }

    /// The proposal's timestamp: the same on every endorser, so contracts use
    /// it instead of a clock (there is none).
    pub fn timestamp(&self) -> Timestamp {
        self.timestamp
    }

    /// Who signed the proposal.
    pub fn caller(&self) -> &Caller {
        &self.caller
    }

    /// A transient input of the proposal: private data the client passed
    /// beside the signed proposal, never stored in a block.
    pub fn transient(&self, key: &str) -> Option<Vec<u8>> {
        sys::get_transient(key)
    }

    /// A transient input decoded from JSON (`Ok(None)` if absent).
    pub fn transient_json<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        self.transient(key)
            .map(|v| {
                serde_json::from_slice(&v).map_err(|e| {
                    ContractError::new(format!(
                        "transient input {key:?} is not the expected JSON: {e}"
                    ))
                })
            })
            .transpose()
    }

    /// The names of the transient inputs of the proposal.
    pub fn transient_keys(&self) -> &[String] {
        &self.transient_keys
    }

    // ---- public state ------------------------------------------------------

    /// The committed value of `key` in this contract's namespace.
    pub fn get_state(&self, key: &str) -> Result<Option<Vec<u8>>> {
        check_key(key)?;
        Ok(sys::get_state(key))
    }

    /// [`Context::get_state`] decoded from JSON.
    pub fn get_state_json<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        self.get_state(key)?
            .map(|v| decode_json(key, &v))
            .transpose()
    }

    /// Writes `value` under `key` when the transaction commits.
    pub fn put_state(&mut self, key: &str, value: &[u8]) -> Result<()> {
        check_key(key)?;
        sys::put_state(key, value);
        Ok(())
    }

    /// [`Context::put_state`] of the JSON of `value`.
    pub fn put_state_json<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result<()> {
        let bytes = encode_json(key, value)?;
        self.put_state(key, &bytes)
    }

    /// Deletes `key` when the transaction commits.
    pub fn del_state(&mut self, key: &str) -> Result<()> {
        check_key(key)?;
        sys::del_state(key);
        Ok(())
    }

    /// The committed value of `key` in another contract's namespace on the same
    /// channel. Read-only: a contract writes only its own namespace. The read
    /// is recorded, so the transaction fails at commit if that value changed.
    pub fn get_state_of(&self, namespace: &str, key: &str) -> Result<Option<Vec<u8>>> {
        if namespace.is_empty() {
            return Err(ContractError::new("empty namespace (chaincode name)"));
        }
        check_key(key)?;
        Ok(sys::get_state_of(namespace, key))
    }

    /// [`Context::get_state_of`] decoded from JSON.
    pub fn get_state_of_json<T: DeserializeOwned>(
        &self,
        namespace: &str,
        key: &str,
    ) -> Result<Option<T>> {
        self.get_state_of(namespace, key)?
            .map(|v| decode_json(key, &v))
            .transpose()
    }

    // ---- ranges ------------------------------------------------------------

    /// Every simple key in `[start, end)` with its value, in key order (`end`
    /// empty: to the end; `start` empty: from the first simple key). Composite
    /// keys are never included. The host returns pages of at most its cap (1000
    /// by default); this keeps asking, after the last key, until none remain.
    pub fn get_state_by_range(&self, start: &str, end: &str) -> Result<Vec<KeyValue>> {
        let start = simple_range_start(start, end)?;
        Ok(collect_range(&start, end))
    }

    /// One page of [`Context::get_state_by_range`]: at most `page_size` entries
    /// (0: the host's cap), starting after `bookmark` (`None`: from `start`).
    pub fn get_state_by_range_page(
        &self,
        start: &str,
        end: &str,
        page_size: u32,
        bookmark: Option<&str>,
    ) -> Result<Page> {
        let start = simple_range_start(start, end)?;
        Ok(range_page(&start, end, page_size, bookmark))
    }

    /// Builds a composite key (see [`crate::create_composite_key`]).
    pub fn create_composite_key(&self, object_type: &str, attributes: &[&str]) -> Result<String> {
        composite::create_composite_key(object_type, attributes)
    }

    /// Splits a composite key (see [`crate::split_composite_key`]).
    pub fn split_composite_key(&self, key: &str) -> Result<(String, Vec<String>)> {
        composite::split_composite_key(key)
    }

    /// Every composite key of `object_type` whose first attributes are
    /// `attributes`, with its value, in key order.
    pub fn get_state_by_partial_composite_key(
        &self,
        object_type: &str,
        attributes: &[&str],
    ) -> Result<Vec<KeyValue>> {
        let (start, end) = composite::partial_composite_key_range(object_type, attributes)?;
        Ok(collect_range(&start, &end))
    }

    /// One page of [`Context::get_state_by_partial_composite_key`].
    pub fn get_state_by_partial_composite_key_page(
        &self,
        object_type: &str,
        attributes: &[&str],
        page_size: u32,
        bookmark: Option<&str>,
    ) -> Result<Page> {
        let (start, end) = composite::partial_composite_key_range(object_type, attributes)?;
        Ok(range_page(&start, &end, page_size, bookmark))
    }

    // ---- private data ------------------------------------------------------

    /// A private value of `collection` (`None` if absent, or if this peer's
    /// organisation is not a member). The read is recorded by hash.
    pub fn get_private_data(&self, collection: &str, key: &str) -> Result<Option<Vec<u8>>> {
        check_collection(collection)?;
        check_key(key)?;
        Ok(sys::get_private(collection, key))
    }

    /// [`Context::get_private_data`] decoded from JSON.
    pub fn get_private_data_json<T: DeserializeOwned>(
        &self,
        collection: &str,
        key: &str,
    ) -> Result<Option<T>> {
        self.get_private_data(collection, key)?
            .map(|v| decode_json(key, &v))
            .transpose()
    }

    /// Writes a private value: it stays with the collection's members, the
    /// block carries only the hashes of key and value.
    pub fn put_private_data(&mut self, collection: &str, key: &str, value: &[u8]) -> Result<()> {
        check_collection(collection)?;
        check_key(key)?;
        sys::put_private(collection, key, value);
        Ok(())
    }

    /// [`Context::put_private_data`] of the JSON of `value`.
    pub fn put_private_data_json<T: Serialize + ?Sized>(
        &mut self,
        collection: &str,
        key: &str,
        value: &T,
    ) -> Result<()> {
        let bytes = encode_json(key, value)?;
        self.put_private_data(collection, key, &bytes)
    }

    pub fn del_private_data(&mut self, collection: &str, key: &str) -> Result<()> {
        check_collection(collection)?;
        check_key(key)?;
        sys::del_private(collection, key);
        Ok(())
    }

    /// SHA-256 of a private value; every channel member has it, so a
    /// non-member can check a value it was shown off-chain.
    pub fn get_private_data_hash(&self, collection: &str, key: &str) -> Result<Option<[u8; 32]>> {
        check_collection(collection)?;
        check_key(key)?;
        Ok(sys::get_private_hash(collection, key))
    }

    // ---- events and key policies --------------------------------------------

    /// Emits a chaincode event, delivered to clients when the transaction
    /// commits. Unlike Fabric (one event per transaction) several events are
    /// kept, in emission order, up to the host's limit (16 by default).
    pub fn set_event(&mut self, name: &str, payload: &[u8]) -> Result<()> {
        if name.is_empty() {
            return Err(ContractError::new("empty event name"));
        }
        sys::emit_event(name, payload);
        Ok(())
    }

    /// [`Context::set_event`] with the JSON of `payload`.
    pub fn set_event_json<T: Serialize + ?Sized>(&mut self, name: &str, payload: &T) -> Result<()> {
        let bytes = encode_json(name, payload)?;
        self.set_event(name, &bytes)
    }

    /// Sets the endorsement policy of one key (Fabric policy text, e.g.
    /// `AND('MfgMSP.peer', 'SponsorMSP.peer')`), overriding the chaincode's
    /// policy for later writes of that key. Empty text removes it. The host
    /// parses the policy; malformed text fails the invocation.
    pub fn set_key_endorsement_policy(&mut self, key: &str, policy: &str) -> Result<()> {
        check_key(key)?;
        sys::set_key_policy(key, policy);
        Ok(())
    }

    // ---- crypto and logs ---------------------------------------------------

    /// SHA-256, computed by the host (faster than in wasm, and metered).
    pub fn sha256(&self, data: &[u8]) -> [u8; 32] {
        sys::sha256(data)
    }

    /// True if `signature` (DER, ECDSA P-256 over SHA-256 of `message`) is valid
    /// under the SEC1-encoded public key `public_key`.
    pub fn verify_p256_signature(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> bool {
        sys::verify_p256(public_key, message, signature)
    }

    /// A line in the endorser's log (debugging only: clients never see it).
    pub fn log(&self, level: LogLevel, message: &str) {
        let mut end = message.len().min(MAX_LOG_BYTES);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        sys::log(level, &message[..end]);
    }

    pub fn log_error(&self, message: &str) {
        self.log(LogLevel::Error, message)
    }

    pub fn log_warn(&self, message: &str) {
        self.log(LogLevel::Warn, message)
    }

    pub fn log_info(&self, message: &str) {
        self.log(LogLevel::Info, message)
    }

    pub fn log_debug(&self, message: &str) {
        self.log(LogLevel::Debug, message)
    }

    pub fn log_trace(&self, message: &str) {
        self.log(LogLevel::Trace, message)
    }
}

/// Fabric's rules for a simple-key range: "" starts after the composite keys,
/// and neither bound may point into them.
fn simple_range_start(start: &str, end: &str) -> Result<String> {
    let start = if start.is_empty() {
        EMPTY_KEY_SUBSTITUTE
    } else {
        start
    };
    composite::validate_simple_key_bound("start", start)?;
    composite::validate_simple_key_bound("end", end)?;
    Ok(start.to_string())
}

fn into_entries(entries: Vec<(String, Vec<u8>)>) -> Vec<KeyValue> {
    entries
        .into_iter()
        .map(|(key, value)| KeyValue { key, value })
        .collect()
}

fn collect_range(start: &str, end: &str) -> Vec<KeyValue> {
    let mut all = Vec::new();
    let mut next = start.to_string();
    loop {
        let page = sys::get_state_range(&next, end, 0);
        let more = page.more;
        all.extend(into_entries(page.entries));
        match all.last() {
            // Continue just after the last key; each call is recorded as its
            // own range, so the committer's phantom check covers all of them.
            Some(last) if more => next = after(&last.key),
            _ => break,
        }
    }
    all
}

fn range_page(start: &str, end: &str, page_size: u32, bookmark: Option<&str>) -> Page {
    let from = match bookmark {
        Some(b) if !b.is_empty() => {
            let b = after(b);
            // A bookmark from another range must not widen this one.
            if b.as_str() > start {
                b
            } else {
                start.to_string()
            }
        }
        _ => start.to_string(),
    };
    let page = sys::get_state_range(&from, end, page_size);
    let entries = into_entries(page.entries);
    let bookmark = if page.more {
        entries.last().map(|kv| kv.key.clone())
    } else {
        None
    };
    Page { entries, bookmark }
}
