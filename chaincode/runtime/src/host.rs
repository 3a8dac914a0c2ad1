//! The host side of ABI.md: the `cellchain` imports, one function each.
//!
//! Every function follows the same order, so that a failure is always the
//! clearest one and always the same on every endorser:
//! 1. size caps on the lengths the guest passed (nothing is read yet),
//! 2. fuel: ABI.md's charge for the call,
//! 3. bounds and UTF-8 checks while reading guest memory (no copies: the
//!    simulator reads straight from the guest's memory),
//! 4. the operation on the [`TxSimulator`],
//! 5. for calls that return data (ABI.md's `R`), the result goes to the
//!    host-side result buffer and its bytes are charged.
//!
//! A failure returns a [`HostAbort`] carrying the [`InvokeError`]; wasmtime
//! unwinds the guest and `invoke` reports that error unchanged.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use cellchain_core::bytes::Bytes;
use cellchain_core::crypto::{default_provider, PublicKey};
use cellchain_core::protocol::ChaincodeResponse;
use cellchain_simulator::{SimError, StateView, TxSimulator};
use wasmtime::{Caller, Linker, Memory, ResourceLimiter, Result};

use crate::abi::{encode_range, MODULE};
use crate::config::RuntimeConfig;
use crate::error::InvokeError;
use crate::invoke::LogLine;

/// Every call's base cost (ABI.md "Fuel charged by host calls").
const BASE_FUEL: u64 = 1_000;
/// `verify_p256`'s cost, plus one unit per 4 bytes of message (see
/// [`verify_p256`] for why the message is charged).
const VERIFY_FUEL: u64 = 100_000;
/// Log lines are truncated to this many bytes (ABI.md).
const MAX_LOG_BYTES: usize = 1024;
/// Public keys and signatures are small; anything larger is refused unread.
const MAX_CRYPTO_ARG_BYTES: usize = 1024;

/// A host call's failure, carried through wasmtime's error to `invoke`.
#[derive(Debug)]
pub(crate) struct HostAbort(pub InvokeError);

impl fmt::Display for HostAbort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for HostAbort {}

fn abort(e: InvokeError) -> wasmtime::Error {
    wasmtime::Error::new(HostAbort(e))
}

fn abi(reason: String) -> wasmtime::Error {
    abort(InvokeError::AbiViolation { reason })
}

fn sim_err(e: SimError) -> wasmtime::Error {
    abort(e.into())
}

/// Enforces the memory limit with an error (not a quiet `memory.grow` = -1),
/// so that a contract hitting it fails with [`InvokeError::MemoryLimit`]
/// instead of an allocator abort with no explanation.
pub(crate) struct Limiter {
    pub memory_limit: usize,
    pub table_limit: usize,
    pub memory_hit: bool,
    pub table_hit: bool,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> Result<bool> {
        if desired > self.memory_limit {
            self.memory_hit = true;
            return Err(wasmtime::Error::msg("memory limit reached"));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> Result<bool> {
        if desired > self.table_limit {
            self.table_hit = true;
            return Err(wasmtime::Error::msg("table limit reached"));
        }
        Ok(true)
    }
}

/// The per-invocation state of one store.
pub(crate) struct HostState {
    /// The simulator over the caller's state view. The `'static` is a lie told
    /// to satisfy `Store<T: 'static>`; `invoke` keeps it true by dropping the
    /// store before the borrowed view goes away (see the SAFETY note there).
    pub sim: TxSimulator<'static, dyn StateView>,
    /// The guest's `memory` export, set right after instantiation.
    pub memory: Option<Memory>,
    pub config: Arc<RuntimeConfig>,
    /// The input JSON of ABI.md.
    pub input: Vec<u8>,
    pub transient: BTreeMap<String, Bytes>,
    /// The host-side result buffer: data waiting for `take_result`.
    pub result: Option<Vec<u8>>,
    pub response: Option<ChaincodeResponse>,
    pub panic_message: Option<String>,
    pub logs: Vec<LogLine>,
    pub logs_dropped: usize,
    pub limiter: Limiter,
}

type Ctx<'a> = Caller<'a, HostState>;

/// Takes `cost` fuel, or fails with out-of-fuel leaving none: the same rule as
/// wasm code, so host work is metered like guest work.
fn charge(c: &mut Ctx<'_>, cost: u64) -> Result<()> {
    let fuel = c.get_fuel()?;
    if fuel < cost {
        c.set_fuel(0)?;
        return Err(abort(InvokeError::OutOfFuel {
            limit: c.data().config.fuel,
        }));
    }
    c.set_fuel(fuel - cost)
}

/// A guest length, read as unsigned (ABI.md).
fn ulen(len: i32) -> usize {
    len as u32 as usize
}

/// The guest's memory and the host state, borrowed apart.
fn split<'a>(c: &'a mut Ctx<'_>) -> Result<(&'a mut [u8], &'a mut HostState)> {
    let memory = c
        .data()
        .memory
        .ok_or_else(|| abi("the module has no memory export".into()))?;
    Ok(memory.data_and_store_mut(c))
}

fn range(mem_len: usize, ptr: i32, len: usize, what: &str) -> Result<std::ops::Range<usize>> {
    let start = ptr as u32 as usize;
    match start.checked_add(len) {
        Some(end) if end <= mem_len => Ok(start..end),
        _ => Err(abi(format!(
            "{what} at {start} with length {len} is outside the guest memory of {mem_len} bytes"
        ))),
    }
}

fn bytes<'m>(mem: &'m [u8], ptr: i32, len: i32, what: &str) -> Result<&'m [u8]> {
    Ok(&mem[range(mem.len(), ptr, ulen(len), what)?])
}

fn text<'m>(mem: &'m [u8], ptr: i32, len: i32, what: &str) -> Result<&'m str> {
    std::str::from_utf8(bytes(mem, ptr, len, what)?)
        .map_err(|e| abi(format!("the {what} is not valid UTF-8 ({e})")))
}

fn check_key_len(c: &Ctx<'_>, len: i32) -> Result<()> {
    let max = c.data().config.limits.max_key_bytes;
    if ulen(len) > max {
        return Err(sim_err(SimError::KeyTooLarge {
            len: ulen(len),
            max,
        }));
    }
    Ok(())
}

fn check_arg_len(what: &str, len: i32, max: usize) -> Result<()> {
    if ulen(len) > max {
        return Err(abort(InvokeError::ArgumentTooLarge {
            what: what.to_string(),
            size: ulen(len) as u64,
            max: max as u64,
        }));
    }
    Ok(())
}

fn check_name_len(c: &Ctx<'_>, what: &str, len: i32) -> Result<()> {
    check_arg_len(what, len, c.data().config.max_name_bytes)
}

/// A value above the limit is refused before it is read or charged, with the
/// simulator's own error (which names the key).
fn check_value_len(c: &mut Ctx<'_>, key_ptr: i32, key_len: i32, len: i32) -> Result<()> {
    let max = c.data().config.limits.max_value_bytes;
    if ulen(len) > max {
        let (mem, _) = split(c)?;
        let key = String::from_utf8_lossy(bytes(mem, key_ptr, key_len, "key")?).into_owned();
        return Err(sim_err(SimError::ValueTooLarge {
            key,
            len: ulen(len),
            max,
        }));
    }
    Ok(())
}

/// Puts `data` in the result buffer (replacing anything untaken) and charges
/// its bytes; `None` clears the buffer and returns -1.
fn produce(c: &mut Ctx<'_>, data: Option<Vec<u8>>) -> Result<i64> {
    let Some(data) = data else {
        c.data_mut().result = None;
        return Ok(-1);
    };
    let max = c.data().config.max_result_bytes;
    if data.len() > max {
        return Err(abort(InvokeError::ResultTooLarge {
            size: data.len() as u64,
            max: max as u64,
        }));
    }
    charge(c, data.len() as u64)?;
    let n = data.len() as i64;
    c.data_mut().result = Some(data);
    Ok(n)
}

/// Registers every import of [`crate::abi::IMPORTS`].
pub(crate) fn link(linker: &mut Linker<HostState>) -> Result<()> {
    linker.func_wrap(MODULE, "input", input)?;
    linker.func_wrap(MODULE, "take_result", take_result)?;
    linker.func_wrap(MODULE, "get_state", get_state)?;
    linker.func_wrap(MODULE, "get_state_of", get_state_of)?;
    linker.func_wrap(MODULE, "put_state", put_state)?;
    linker.func_wrap(MODULE, "del_state", del_state)?;
    linker.func_wrap(MODULE, "get_state_range", get_state_range)?;
    linker.func_wrap(MODULE, "get_private", get_private)?;
    linker.func_wrap(MODULE, "get_private_hash", get_private_hash)?;
    linker.func_wrap(MODULE, "put_private", put_private)?;
    linker.func_wrap(MODULE, "del_private", del_private)?;
    linker.func_wrap(MODULE, "get_transient", get_transient)?;
    linker.func_wrap(MODULE, "set_key_policy", set_key_policy)?;
    linker.func_wrap(MODULE, "emit_event", emit_event)?;
    linker.func_wrap(MODULE, "sha256", sha256)?;
    linker.func_wrap(MODULE, "verify_p256", verify_p256)?;
    linker.func_wrap(MODULE, "log", log)?;
    linker.func_wrap(MODULE, "set_response", set_response)?;
    linker.func_wrap(MODULE, "panic_message", panic_message)?;
    Ok(())
}

fn input(mut c: Ctx<'_>) -> Result<i64> {
    charge(&mut c, BASE_FUEL)?;
    let data = c.data().input.clone();
    produce(&mut c, Some(data))
}

fn take_result(mut c: Ctx<'_>, dst: i32) -> Result<()> {
    charge(&mut c, BASE_FUEL)?;
    let (mem, st) = split(&mut c)?;
    let Some(data) = st.result.take() else {
        return Err(abi(
            "take_result called with no pending result (call it once after a call that returned a length >= 0)".into(),
        ));
    };
    let r = range(mem.len(), dst, data.len(), "take_result destination")?;
    mem[r].copy_from_slice(&data);
    Ok(())
}

fn get_state(mut c: Ctx<'_>, kp: i32, kl: i32) -> Result<i64> {
    check_key_len(&c, kl)?;
    charge(&mut c, BASE_FUEL + ulen(kl) as u64)?;
    let (mem, st) = split(&mut c)?;
    let key = text(mem, kp, kl, "key")?;
    let value = st.sim.get_state(key).map_err(sim_err)?;
    produce(&mut c, value)
}

fn get_state_of(mut c: Ctx<'_>, np: i32, nl: i32, kp: i32, kl: i32) -> Result<i64> {
    check_name_len(&c, "namespace", nl)?;
    check_key_len(&c, kl)?;
    charge(&mut c, BASE_FUEL + (ulen(nl) + ulen(kl)) as u64)?;
    let (mem, st) = split(&mut c)?;
    let ns = text(mem, np, nl, "namespace")?;
    let key = text(mem, kp, kl, "key")?;
    let value = st.sim.get_state_of(ns, key).map_err(sim_err)?;
    produce(&mut c, value)
}

fn put_state(mut c: Ctx<'_>, kp: i32, kl: i32, vp: i32, vl: i32) -> Result<()> {
    check_key_len(&c, kl)?;
    check_value_len(&mut c, kp, kl, vl)?;
    charge(&mut c, BASE_FUEL + (ulen(kl) + ulen(vl)) as u64)?;
    let (mem, st) = split(&mut c)?;
    let key = text(mem, kp, kl, "key")?;
    let value = bytes(mem, vp, vl, "value")?;
    st.sim.put_state(key, value).map_err(sim_err)
}

fn del_state(mut c: Ctx<'_>, kp: i32, kl: i32) -> Result<()> {
    check_key_len(&c, kl)?;
    charge(&mut c, BASE_FUEL + ulen(kl) as u64)?;
    let (mem, st) = split(&mut c)?;
    let key = text(mem, kp, kl, "key")?;
    st.sim.del_state(key).map_err(sim_err)
}

fn get_state_range(mut c: Ctx<'_>, sp: i32, sl: i32, ep: i32, el: i32, limit: i32) -> Result<i64> {
    check_key_len(&c, sl)?;
    check_key_len(&c, el)?;
    if limit < 0 {
        return Err(abi(format!(
            "get_state_range limit {limit} is negative (0 means the host cap)"
        )));
    }
    charge(&mut c, BASE_FUEL + (ulen(sl) + ulen(el)) as u64)?;
    let (mem, st) = split(&mut c)?;
    let start = text(mem, sp, sl, "range start key")?;
    let end = text(mem, ep, el, "range end key")?;
    let (rows, more) = st
        .sim
        .get_state_range(start, end, limit as usize)
        .map_err(sim_err)?;
    produce(&mut c, Some(encode_range(&rows, more)))
}

fn get_private(mut c: Ctx<'_>, cp: i32, cl: i32, kp: i32, kl: i32) -> Result<i64> {
    check_name_len(&c, "collection name", cl)?;
    check_key_len(&c, kl)?;
    charge(&mut c, BASE_FUEL + (ulen(cl) + ulen(kl)) as u64)?;
    let (mem, st) = split(&mut c)?;
    let coll = text(mem, cp, cl, "collection name")?;
    let key = text(mem, kp, kl, "key")?;
    let value = st.sim.get_private(coll, key).map_err(sim_err)?;
    produce(&mut c, value)
}

fn get_private_hash(mut c: Ctx<'_>, cp: i32, cl: i32, kp: i32, kl: i32) -> Result<i64> {
    check_name_len(&c, "collection name", cl)?;
    check_key_len(&c, kl)?;
    charge(&mut c, BASE_FUEL + (ulen(cl) + ulen(kl)) as u64)?;
    let (mem, st) = split(&mut c)?;
    let coll = text(mem, cp, cl, "collection name")?;
    let key = text(mem, kp, kl, "key")?;
    let hash = st.sim.get_private_hash(coll, key).map_err(sim_err)?;
    produce(&mut c, hash.map(|h| h.0.to_vec()))
}

fn put_private(mut c: Ctx<'_>, cp: i32, cl: i32, kp: i32, kl: i32, vp: i32, vl: i32) -> Result<()> {
    check_name_len(&c, "collection name", cl)?;
    check_key_len(&c, kl)?;
    check_value_len(&mut c, kp, kl, vl)?;
    charge(&mut c, BASE_FUEL + (ulen(cl) + ulen(kl) + ulen(vl)) as u64)?;
    let (mem, st) = split(&mut c)?;
    let coll = text(mem, cp, cl, "collection name")?;
    let key = text(mem, kp, kl, "key")?;
    let value = bytes(mem, vp, vl, "value")?;
    st.sim.put_private(coll, key, value).map_err(sim_err)
}

fn del_private(mut c: Ctx<'_>, cp: i32, cl: i32, kp: i32, kl: i32) -> Result<()> {
    check_name_len(&c, "collection name", cl)?;
    check_key_len(&c, kl)?;
    charge(&mut c, BASE_FUEL + (ulen(cl) + ulen(kl)) as u64)?;
    let (mem, st) = split(&mut c)?;
    let coll = text(mem, cp, cl, "collection name")?;
    let key = text(mem, kp, kl, "key")?;
    st.sim.del_private(coll, key).map_err(sim_err)
}

fn get_transient(mut c: Ctx<'_>, kp: i32, kl: i32) -> Result<i64> {
    check_key_len(&c, kl)?;
    charge(&mut c, BASE_FUEL + ulen(kl) as u64)?;
    let (mem, st) = split(&mut c)?;
    let key = text(mem, kp, kl, "transient key")?;
    let value = st.transient.get(key).map(|v| v.0.clone());
    produce(&mut c, value)
}

fn set_key_policy(mut c: Ctx<'_>, kp: i32, kl: i32, pp: i32, pl: i32) -> Result<()> {
    check_key_len(&c, kl)?;
    check_arg_len("key-level policy", pl, c.data().config.max_policy_bytes)?;
    charge(&mut c, BASE_FUEL + (ulen(kl) + ulen(pl)) as u64)?;
    let (mem, st) = split(&mut c)?;
    let key = text(mem, kp, kl, "key")?;
    let policy = text(mem, pp, pl, "key-level policy")?;
    st.sim.set_key_policy(key, policy).map_err(sim_err)
}

fn emit_event(mut c: Ctx<'_>, np: i32, nl: i32, pp: i32, pl: i32) -> Result<()> {
    check_name_len(&c, "event name", nl)?;
    let max = c.data().config.limits.max_event_bytes;
    if ulen(pl) > max {
        let (mem, _) = split(&mut c)?;
        let name = String::from_utf8_lossy(bytes(mem, np, nl, "event name")?).into_owned();
        return Err(sim_err(SimError::EventTooLarge {
            name,
            len: ulen(pl),
            max,
        }));
    }
    charge(&mut c, BASE_FUEL + (ulen(nl) + ulen(pl)) as u64)?;
    let (mem, st) = split(&mut c)?;
    let name = text(mem, np, nl, "event name")?;
    let payload = bytes(mem, pp, pl, "event payload")?;
    st.sim.emit_event(name, payload).map_err(sim_err)
}

fn sha256(mut c: Ctx<'_>, p: i32, l: i32, out: i32) -> Result<()> {
    check_arg_len("sha256 input", l, c.data().config.max_hash_input_bytes)?;
    charge(&mut c, BASE_FUEL + ulen(l) as u64 / 4)?;
    let (mem, _) = split(&mut c)?;
    let digest = default_provider().hash(bytes(mem, p, l, "sha256 input")?);
    let r = range(mem.len(), out, 32, "sha256 output")?;
    mem[r].copy_from_slice(&digest.0);
    Ok(())
}

/// ABI.md prices a verification at 100,000; the message is hashed inside, so
/// it is also charged like `sha256` (1 per 4 bytes): otherwise a contract
/// could hash megabytes per call for a flat price and reach the wall-clock
/// backstop (a non-deterministic failure) before the fuel limit.
fn verify_p256(
    mut c: Ctx<'_>,
    kp: i32,
    kl: i32,
    mp: i32,
    ml: i32,
    sp: i32,
    sl: i32,
) -> Result<i32> {
    check_arg_len("public key", kl, MAX_CRYPTO_ARG_BYTES)?;
    check_arg_len("signature", sl, MAX_CRYPTO_ARG_BYTES)?;
    check_arg_len("signed message", ml, c.data().config.max_hash_input_bytes)?;
    charge(&mut c, VERIFY_FUEL + ulen(ml) as u64 / 4)?;
    let (mem, _) = split(&mut c)?;
    let key = bytes(mem, kp, kl, "public key")?;
    let msg = bytes(mem, mp, ml, "signed message")?;
    let sig = bytes(mem, sp, sl, "signature")?;
    // A malformed key or signature is an invalid signature, not a misuse:
    // contracts verify data supplied by their callers.
    let valid = PublicKey::from_sec1(key)
        .and_then(|key| default_provider().verify(&key, msg, sig))
        .is_ok();
    Ok(i32::from(valid))
}

fn log(mut c: Ctx<'_>, level: i32, p: i32, l: i32) -> Result<()> {
    // A debug aid, not worth failing a transaction over: levels outside
    // 0 (error) .. 4 (trace) are clamped, as the guest crate does.
    let level = level.clamp(0, 4) as u8;
    let kept = ulen(l).min(MAX_LOG_BYTES);
    charge(&mut c, BASE_FUEL + kept as u64)?;
    let (mem, st) = split(&mut c)?;
    let line = bytes(mem, p, l, "log line")?;
    let message = String::from_utf8_lossy(&line[..kept]).into_owned();
    emit_trace(st.sim.namespace(), level, &message);
    if st.logs.len() < st.config.max_log_lines {
        st.logs.push(LogLine { level, message });
    } else {
        st.logs_dropped += 1;
    }
    Ok(())
}

/// A contract's log line in the endorser's log, at the contract's level.
fn emit_trace(chaincode: &str, level: u8, message: &str) {
    const TARGET: &str = "cellchain::chaincode";
    match level {
        0 => tracing::error!(target: TARGET, chaincode, "{message}"),
        1 => tracing::warn!(target: TARGET, chaincode, "{message}"),
        2 => tracing::info!(target: TARGET, chaincode, "{message}"),
        3 => tracing::debug!(target: TARGET, chaincode, "{message}"),
        _ => tracing::trace!(target: TARGET, chaincode, "{message}"),
    }
}

fn set_response(mut c: Ctx<'_>, status: i32, p: i32, l: i32) -> Result<()> {
    if status != 200 && status != 400 {
        return Err(abi(format!(
            "set_response status {status}: only 200 (success) and 400 (domain error) are allowed"
        )));
    }
    let max = c.data().config.max_response_bytes;
    if ulen(l) > max {
        return Err(abort(InvokeError::ResponseTooLarge {
            size: ulen(l) as u64,
            max: max as u64,
        }));
    }
    if c.data().response.is_some() {
        return Err(abi("set_response called twice".into()));
    }
    charge(&mut c, BASE_FUEL + ulen(l) as u64)?;
    let (mem, st) = split(&mut c)?;
    let response = if status == 200 {
        ChaincodeResponse {
            status: 200,
            message: String::new(),
            payload: Bytes(bytes(mem, p, l, "response payload")?.to_vec()),
        }
    } else {
        ChaincodeResponse {
            status: 400,
            message: text(mem, p, l, "error message")?.to_string(),
            payload: Bytes::default(),
        }
    };
    st.response = Some(response);
    Ok(())
}

fn panic_message(mut c: Ctx<'_>, p: i32, l: i32) -> Result<()> {
    let kept = ulen(l).min(c.data().config.max_panic_message_bytes);
    charge(&mut c, BASE_FUEL + kept as u64)?;
    let (mem, st) = split(&mut c)?;
    let msg = bytes(mem, p, l, "panic message")?;
    st.panic_message = Some(String::from_utf8_lossy(&msg[..kept]).into_owned());
    Ok(())
}
