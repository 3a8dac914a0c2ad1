//! The host calls, one safe function per ABI import.
//!
//! On `wasm32` these are the `extern "C"` imports of module `cellchain` plus the
//! result-buffer protocol of ABI.md: a call that produces data returns its length
//! (or -1 for none), the guest allocates that many bytes and calls `take_result`
//! to have them copied in. Everywhere else the same functions forward to the
//! [`NativeHost`](crate::native::NativeHost) installed for the current thread,
//! which is how the native test harness runs contracts without wasm.
//!
//! A host refusal (a key above the limit, too many events, a malformed key
//! policy) traps on wasm and never returns; natively it unwinds with a
//! [`Trap`](crate::native::Trap), so in both cases the contract code after the
//! call does not run.

use crate::abi::{LogLevel, RangeResult};

#[cfg(target_arch = "wasm32")]
mod imp {
    use super::*;

    /// The raw imports. Pointers and lengths are `i32` in wasm32, which is what
    /// `*const u8` and `usize` lower to.
    mod ffi {
        #[link(wasm_import_module = "cellchain")]
        extern "C" {
            pub fn input() -> i64;
            pub fn take_result(dst: *mut u8);
            pub fn get_state(key_ptr: *const u8, key_len: usize) -> i64;
            pub fn get_state_of(
                ns_ptr: *const u8,
                ns_len: usize,
                key_ptr: *const u8,
                key_len: usize,
            ) -> i64;
            pub fn put_state(
                key_ptr: *const u8,
                key_len: usize,
                val_ptr: *const u8,
                val_len: usize,
            );
            pub fn del_state(key_ptr: *const u8, key_len: usize);
            pub fn get_state_range(
                start_ptr: *const u8,
                start_len: usize,
                end_ptr: *const u8,
                end_len: usize,
                limit: i32,
            ) -> i64;
            pub fn get_private(
                coll_ptr: *const u8,
                coll_len: usize,
                key_ptr: *const u8,
                key_len: usize,
            ) -> i64;
            pub fn get_private_hash(
                coll_ptr: *const u8,
                coll_len: usize,
                key_ptr: *const u8,
                key_len: usize,
            ) -> i64;
            pub fn put_private(
                coll_ptr: *const u8,
                coll_len: usize,
                key_ptr: *const u8,
                key_len: usize,
                val_ptr: *const u8,
                val_len: usize,
            );
            pub fn del_private(
                coll_ptr: *const u8,
                coll_len: usize,
                key_ptr: *const u8,
                key_len: usize,
            );
            pub fn get_transient(key_ptr: *const u8, key_len: usize) -> i64;
            pub fn set_key_policy(
                key_ptr: *const u8,
                key_len: usize,
                pol_ptr: *const u8,
                pol_len: usize,
            );
            pub fn emit_event(
                name_ptr: *const u8,
                name_len: usize,
                payload_ptr: *const u8,
                payload_len: usize,
            );
            pub fn sha256(ptr: *const u8, len: usize, out_ptr: *mut u8);
            pub fn verify_p256(
                pk_ptr: *const u8,
                pk_len: usize,
                msg_ptr: *const u8,
                msg_len: usize,
                sig_ptr: *const u8,
                sig_len: usize,
            ) -> i32;
            pub fn log(level: i32, ptr: *const u8, len: usize);
            pub fn set_response(status: i32, ptr: *const u8, len: usize);
            pub fn panic_message(ptr: *const u8, len: usize);
        }
    }

    /// Collects the result of a call that returned `n` (ABI "R"): -1 is none,
    /// otherwise exactly `n` bytes are pending and `take_result` copies them.
    fn take(n: i64) -> Option<Vec<u8>> {
        if n < 0 {
            return None;
        }
        let n = usize::try_from(n).expect("the host returned a length above the address space");
        let mut buf = Vec::<u8>::with_capacity(n);
        // SAFETY: the host writes exactly `n` bytes (the pending result's length
        // it just returned) at the start of this allocation of capacity `n`.
        unsafe {
            ffi::take_result(buf.as_mut_ptr());
            buf.set_len(n);
        }
        Some(buf)
    }

    // SAFETY (all calls below): every pointer/length pair comes from a live
    // slice or str, which the host only reads (or, for `sha256`, writes 32
    // bytes into a 32-byte array).

    pub fn input() -> Vec<u8> {
        take(unsafe { ffi::input() }).expect("the host returned no input")
    }

    pub fn get_state(key: &str) -> Option<Vec<u8>> {
        take(unsafe { ffi::get_state(key.as_ptr(), key.len()) })
    }

    pub fn get_state_of(ns: &str, key: &str) -> Option<Vec<u8>> {
        take(unsafe { ffi::get_state_of(ns.as_ptr(), ns.len(), key.as_ptr(), key.len()) })
    }

    pub fn put_state(key: &str, value: &[u8]) {
        unsafe { ffi::put_state(key.as_ptr(), key.len(), value.as_ptr(), value.len()) }
    }

    pub fn del_state(key: &str) {
        unsafe { ffi::del_state(key.as_ptr(), key.len()) }
    }

    pub fn get_state_range(start: &str, end: &str, limit: u32) -> RangeResult {
        let limit = i32::try_from(limit).unwrap_or(i32::MAX);
        let n = unsafe {
            ffi::get_state_range(start.as_ptr(), start.len(), end.as_ptr(), end.len(), limit)
        };
        let bytes = take(n).unwrap_or_default();
        crate::abi::decode_range_result(&bytes).unwrap_or_else(|e| panic!("host bug: {e}"))
    }

    pub fn get_private(coll: &str, key: &str) -> Option<Vec<u8>> {
        take(unsafe { ffi::get_private(coll.as_ptr(), coll.len(), key.as_ptr(), key.len()) })
    }

    pub fn get_private_hash(coll: &str, key: &str) -> Option<[u8; 32]> {
        let n =
            unsafe { ffi::get_private_hash(coll.as_ptr(), coll.len(), key.as_ptr(), key.len()) };
        take(n).map(|h| {
            h.try_into()
                .unwrap_or_else(|h: Vec<u8>| panic!("host bug: a hash of {} bytes", h.len()))
        })
    }

    pub fn put_private(coll: &str, key: &str, value: &[u8]) {
        unsafe {
            ffi::put_private(
                coll.as_ptr(),
                coll.len(),
                key.as_ptr(),
                key.len(),
                value.as_ptr(),
                value.len(),
            )
        }
    }

    pub fn del_private(coll: &str, key: &str) {
        unsafe { ffi::del_private(coll.as_ptr(), coll.len(), key.as_ptr(), key.len()) }
    }

    pub fn get_transient(key: &str) -> Option<Vec<u8>> {
        take(unsafe { ffi::get_transient(key.as_ptr(), key.len()) })
    }

    pub fn set_key_policy(key: &str, policy: &str) {
        unsafe { ffi::set_key_policy(key.as_ptr(), key.len(), policy.as_ptr(), policy.len()) }
    }

    pub fn emit_event(name: &str, payload: &[u8]) {
        unsafe { ffi::emit_event(name.as_ptr(), name.len(), payload.as_ptr(), payload.len()) }
    }

    pub fn sha256(data: &[u8]) -> [u8; 32] {
        let mut out = [0u8; 32];
        unsafe { ffi::sha256(data.as_ptr(), data.len(), out.as_mut_ptr()) };
        out
    }

    pub fn verify_p256(pk: &[u8], msg: &[u8], sig: &[u8]) -> bool {
        let r = unsafe {
            ffi::verify_p256(
                pk.as_ptr(),
                pk.len(),
                msg.as_ptr(),
                msg.len(),
                sig.as_ptr(),
                sig.len(),
            )
        };
        r == 1
    }

    pub fn log(level: LogLevel, msg: &str) {
        unsafe { ffi::log(level as i32, msg.as_ptr(), msg.len()) }
    }

    pub fn set_response(status: u16, payload: &[u8]) {
        unsafe { ffi::set_response(i32::from(status), payload.as_ptr(), payload.len()) }
    }

    pub fn panic_message(msg: &str) {
        unsafe { ffi::panic_message(msg.as_ptr(), msg.len()) }
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use super::*;
    use crate::native::with_current;

    pub fn input() -> Vec<u8> {
        with_current(|h| h.input())
    }

    pub fn get_state(key: &str) -> Option<Vec<u8>> {
        with_current(|h| h.get_state(key))
    }

    pub fn get_state_of(ns: &str, key: &str) -> Option<Vec<u8>> {
        with_current(|h| h.get_state_of(ns, key))
    }

    pub fn put_state(key: &str, value: &[u8]) {
        with_current(|h| h.put_state(key, value))
    }

    pub fn del_state(key: &str) {
        with_current(|h| h.del_state(key))
    }

    pub fn get_state_range(start: &str, end: &str, limit: u32) -> RangeResult {
        with_current(|h| h.get_state_range(start, end, limit))
    }

    pub fn get_private(coll: &str, key: &str) -> Option<Vec<u8>> {
        with_current(|h| h.get_private(coll, key))
    }

    pub fn get_private_hash(coll: &str, key: &str) -> Option<[u8; 32]> {
        with_current(|h| h.get_private_hash(coll, key))
    }

    pub fn put_private(coll: &str, key: &str, value: &[u8]) {
        with_current(|h| h.put_private(coll, key, value))
    }

    pub fn del_private(coll: &str, key: &str) {
        with_current(|h| h.del_private(coll, key))
    }

    pub fn get_transient(key: &str) -> Option<Vec<u8>> {
        with_current(|h| h.get_transient(key))
    }

    pub fn set_key_policy(key: &str, policy: &str) {
        with_current(|h| h.set_key_policy(key, policy))
    }

    pub fn emit_event(name: &str, payload: &[u8]) {
        with_current(|h| h.emit_event(name, payload))
    }

    pub fn sha256(data: &[u8]) -> [u8; 32] {
        with_current(|h| h.sha256(data))
    }

    pub fn verify_p256(pk: &[u8], msg: &[u8], sig: &[u8]) -> bool {
        with_current(|h| h.verify_p256(pk, msg, sig))
    }

    pub fn log(level: LogLevel, msg: &str) {
        with_current(|h| h.log(level, msg))
    }

    pub fn set_response(status: u16, payload: &[u8]) {
        with_current(|h| h.set_response(status, payload))
    }
}

pub(crate) use imp::*;
