//! ABI.md in code: the import table with its exact signatures (checked at
//! install, registered by the linker, compared with ABI.md by a test) and the
//! range result encoding.

/// The import module of ABI.md.
pub(crate) const MODULE: &str = "cellchain";

/// Value types of the ABI's signatures (wasm32: pointers and lengths are i32).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AbiType {
    I32,
    I64,
}

/// One import of ABI.md with its exact signature.
pub(crate) struct AbiImport {
    pub name: &'static str,
    pub params: &'static [AbiType],
    pub results: &'static [AbiType],
}

use AbiType::{I32, I64};

/// The imports of ABI.md: install-time validation checks modules against this
/// table, and `host::link` registers exactly these (a test checks they agree).
pub(crate) const IMPORTS: &[AbiImport] = &[
    imp("input", &[], &[I64]),
    imp("take_result", &[I32], &[]),
    imp("get_state", &[I32, I32], &[I64]),
    imp("get_state_of", &[I32, I32, I32, I32], &[I64]),
    imp("put_state", &[I32, I32, I32, I32], &[]),
    imp("del_state", &[I32, I32], &[]),
    imp("get_state_range", &[I32, I32, I32, I32, I32], &[I64]),
    imp("get_private", &[I32, I32, I32, I32], &[I64]),
    imp("get_private_hash", &[I32, I32, I32, I32], &[I64]),
    imp("put_private", &[I32, I32, I32, I32, I32, I32], &[]),
    imp("del_private", &[I32, I32, I32, I32], &[]),
    imp("get_transient", &[I32, I32], &[I64]),
    imp("set_key_policy", &[I32, I32, I32, I32], &[]),
    imp("emit_event", &[I32, I32, I32, I32], &[]),
    imp("sha256", &[I32, I32, I32], &[]),
    imp("verify_p256", &[I32, I32, I32, I32, I32, I32], &[I32]),
    imp("log", &[I32, I32, I32], &[]),
    imp("set_response", &[I32, I32, I32], &[]),
    imp("panic_message", &[I32, I32], &[]),
];

const fn imp(
    name: &'static str,
    params: &'static [AbiType],
    results: &'static [AbiType],
) -> AbiImport {
    AbiImport {
        name,
        params,
        results,
    }
}

impl AbiType {
    pub(crate) fn name(self) -> &'static str {
        match self {
            I32 => "i32",
            I64 => "i64",
        }
    }
}

/// Formats a signature as ABI.md writes it: `(i32, i32) -> (i64)`.
pub(crate) fn signature_text<S: AsRef<str>>(params: &[S], results: &[S]) -> String {
    let list = |ts: &[S]| ts.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(", ");
    format!("({}) -> ({})", list(params), list(results))
}

/// ABI.md's range encoding: `u32 count`, then `u32 key_len, key, u32
/// value_len, value` per entry, then `u8 more`; little-endian.
pub(crate) fn encode_range(rows: &[(String, Vec<u8>)], more: bool) -> Vec<u8> {
    let size = 5 + rows
        .iter()
        .map(|(k, v)| 8 + k.len() + v.len())
        .sum::<usize>();
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(&(rows.len() as u32).to_le_bytes());
    for (k, v) in rows {
        out.extend_from_slice(&(k.len() as u32).to_le_bytes());
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(&(v.len() as u32).to_le_bytes());
        out.extend_from_slice(v);
    }
    out.push(u8::from(more));
    out
}
