//! Data shapes of ABI v1 (`chaincode/ABI.md`) that are not plain bytes: the
//! invocation input the host hands over through `input`, the range result
//! encoding of `get_state_range`, and the log levels of `log`.
//!
//! They are public so that hosts (the native test harness, and anyone checking
//! the wasm runtime against the guest) produce exactly what the guest parses.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The ABI version this crate speaks (the `cellchain_abi_v1` export).
pub const ABI_VERSION: u32 = 1;

/// The invocation, as the JSON document returned by the `input` import.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Input {
    /// The function name the client asked for.
    pub function: String,
    /// Arguments, each a JSON value (see [`crate::Args`] for how they bind to
    /// parameters).
    #[serde(default)]
    pub args: Vec<serde_json::Value>,
    /// The transaction id, 64 lower-case hex characters on a real network.
    pub tx_id: String,
    pub channel_id: String,
    /// The proposal's timestamp as the client set it (the endorser checks it
    /// lies within its tolerance); the same on every endorser, unlike a clock.
    pub timestamp: Timestamp,
    /// The identity that signed the proposal, as the endorser validated it.
    pub caller: Caller,
    /// Names of the transient inputs of the proposal (values via `get_transient`).
    #[serde(default)]
    pub transient_keys: Vec<String>,
}

/// A point in time: seconds and nanoseconds since the Unix epoch (UTC).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Timestamp {
    pub seconds: i64,
    pub nanos: u32,
}

impl Timestamp {
    pub const fn new(seconds: i64, nanos: u32) -> Self {
        Timestamp { seconds, nanos }
    }
}

/// Who signed the proposal: the validated certificate, reduced to what a
/// contract decides on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caller {
    /// The organisation, e.g. `HospitalMSP`.
    pub msp_id: String,
    /// The node role from the certificate's OU: `client`, `peer`, `admin` or
    /// `orderer` (Fabric NodeOUs). Domain roles are attributes, see
    /// [`Caller::has_role`].
    pub role: String,
    /// Fabric CA attributes of the certificate, e.g. `role` -> `QP`.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// The subject's common name (the signer's name on e-signatures).
    pub common_name: String,
    /// The whole subject, RFC 4514 style (`CN=...,OU=client,O=...`).
    pub subject: String,
    /// SHA-256 of the certificate's DER, lower-case hex: a stable id for this
    /// exact identity.
    pub cert_hash: String,
}

impl Caller {
    /// The value of a certificate attribute.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.get(name).map(String::as_str)
    }

    /// True when the certificate's `role` attribute is exactly `role` (the domain
    /// role, e.g. `QP` or `COURIER`; not the node role in [`Caller::role`]).
    pub fn has_role(&self, role: &str) -> bool {
        self.attribute("role") == Some(role)
    }

    /// True when the certificate has attribute `name` with exactly `value`.
    pub fn has_attribute(&self, name: &str, value: &str) -> bool {
        self.attribute(name) == Some(value)
    }
}

/// Levels of the `log` import (its `level` argument).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Error = 0,
    Warn = 1,
    Info = 2,
    Debug = 3,
    Trace = 4,
}

impl LogLevel {
    /// The level for an ABI number; numbers above 4 are `Trace`.
    pub fn from_i32(level: i32) -> LogLevel {
        match level {
            i32::MIN..=0 => LogLevel::Error,
            1 => LogLevel::Warn,
            2 => LogLevel::Info,
            3 => LogLevel::Debug,
            _ => LogLevel::Trace,
        }
    }
}

/// The host truncates log lines to this many bytes; the guest truncates first
/// so the bytes it would lose do not cost fuel.
pub const MAX_LOG_BYTES: usize = 1024;

/// One page of `get_state_range`: entries in ascending key order, and whether
/// the host stopped at the limit (or its cap) with more keys in the range.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeResult {
    pub entries: Vec<(String, Vec<u8>)>,
    pub more: bool,
}

/// Encodes a range result as ABI.md says: little-endian `u32 count`, then per
/// entry `u32 key_len, key, u32 value_len, value`, then `u8 more`.
pub fn encode_range_result(result: &RangeResult) -> Vec<u8> {
    let size: usize = result
        .entries
        .iter()
        .map(|(k, v)| 8 + k.len() + v.len())
        .sum();
    let mut out = Vec::with_capacity(5 + size);
    out.extend_from_slice(&(result.entries.len() as u32).to_le_bytes());
    for (k, v) in &result.entries {
        out.extend_from_slice(&(k.len() as u32).to_le_bytes());
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(&(v.len() as u32).to_le_bytes());
        out.extend_from_slice(v);
    }
    out.push(u8::from(result.more));
    out
}

/// Decodes [`encode_range_result`]'s format; the error names what is wrong (a
/// host bug, so the guest panics with it).
pub fn decode_range_result(bytes: &[u8]) -> Result<RangeResult, String> {
    struct Reader<'a> {
        bytes: &'a [u8],
        pos: usize,
    }
    impl<'a> Reader<'a> {
        fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
            let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
            let end = end.ok_or_else(|| {
                format!(
                    "range result truncated: {what} needs {n} bytes at offset {}, {} left",
                    self.pos,
                    self.bytes.len() - self.pos
                )
            })?;
            let s = &self.bytes[self.pos..end];
            self.pos = end;
            Ok(s)
        }
        fn u32(&mut self, what: &str) -> Result<usize, String> {
            let b = self.take(4, what)?;
            Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
        }
    }
    let mut r = Reader { bytes, pos: 0 };
    let count = r.u32("the entry count")?;
    // Each entry takes at least 8 bytes: bound the allocation by the input size
    // rather than trusting the count.
    let mut entries = Vec::with_capacity(count.min(bytes.len() / 8));
    for _ in 0..count {
        let klen = r.u32("a key length")?;
        let key = r.take(klen, "a key")?;
        let key = std::str::from_utf8(key)
            .map_err(|e| format!("range result key is not UTF-8: {e}"))?
            .to_string();
        let vlen = r.u32("a value length")?;
        let value = r.take(vlen, "a value")?.to_vec();
        entries.push((key, value));
    }
    let more = match r.take(1, "the more flag")? {
        [0] => false,
        [1] => true,
        [b] => return Err(format!("range result `more` flag is {b}, not 0 or 1")),
        _ => unreachable!("take(1) returns one byte"),
    };
    if r.pos != bytes.len() {
        return Err(format!(
            "range result has {} trailing bytes",
            bytes.len() - r.pos
        ));
    }
    Ok(RangeResult { entries, more })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_result_round_trips_in_the_documented_layout() {
        let r = RangeResult {
            entries: vec![("a".into(), vec![1, 2]), ("bc".into(), vec![])],
            more: true,
        };
        let bytes = encode_range_result(&r);
        assert_eq!(
            bytes,
            [
                2, 0, 0, 0, // count
                1, 0, 0, 0, b'a', 2, 0, 0, 0, 1, 2, // a -> [1, 2]
                2, 0, 0, 0, b'b', b'c', 0, 0, 0, 0, // bc -> []
                1, // more
            ]
        );
        assert_eq!(decode_range_result(&bytes).unwrap(), r);
        let empty = RangeResult::default();
        assert_eq!(encode_range_result(&empty), [0, 0, 0, 0, 0]);
        assert_eq!(
            decode_range_result(&encode_range_result(&empty)).unwrap(),
            empty
        );
    }

    #[test]
    fn malformed_range_results_are_refused_with_a_reason() {
        let e = decode_range_result(&[1, 0, 0, 0, 5, 0, 0, 0, b'a']).unwrap_err();
        assert!(e.contains("truncated") && e.contains("a key"), "{e}");
        let e = decode_range_result(&[0, 0, 0, 0, 2]).unwrap_err();
        assert!(e.contains("flag is 2"), "{e}");
        let e = decode_range_result(&[0, 0, 0, 0, 0, 9]).unwrap_err();
        assert!(e.contains("trailing"), "{e}");
        let e = decode_range_result(&[1, 0, 0, 0, 1, 0, 0, 0, 0xff, 0, 0, 0, 0, 0]).unwrap_err();
        assert!(e.contains("UTF-8"), "{e}");
        // A huge count must not allocate before the data runs out.
        let e = decode_range_result(&[0xff, 0xff, 0xff, 0xff]).unwrap_err();
        assert!(e.contains("truncated"), "{e}");
    }

    #[test]
    fn input_parses_the_documented_json() {
        let json = r#"{"function":"f","args":[1,"x"],"tx_id":"ab","channel_id":"ch",
            "timestamp":{"seconds":1767225600,"nanos":5},
            "caller":{"msp_id":"Org1MSP","role":"client","attributes":{"role":"QP"},
                      "common_name":"alice","subject":"CN=alice,OU=client,O=Org1",
                      "cert_hash":"00"},
            "transient_keys":["k"]}"#;
        let i: Input = serde_json::from_str(json).unwrap();
        assert_eq!(i.function, "f");
        assert_eq!(i.args.len(), 2);
        assert_eq!(i.timestamp, Timestamp::new(1767225600, 5));
        assert!(i.caller.has_role("QP"));
        assert!(
            !i.caller.has_role("client"),
            "node role is not a domain role"
        );
        assert_eq!(i.caller.attribute("missing"), None);
        assert_eq!(i.transient_keys, ["k"]);
    }

    #[test]
    fn log_levels_follow_the_abi_numbers() {
        assert_eq!(LogLevel::from_i32(0), LogLevel::Error);
        assert_eq!(LogLevel::from_i32(2), LogLevel::Info);
        assert_eq!(LogLevel::from_i32(4), LogLevel::Trace);
        assert_eq!(LogLevel::from_i32(99), LogLevel::Trace);
        assert_eq!(LogLevel::Debug as i32, 3);
    }
}
