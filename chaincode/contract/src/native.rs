//! The native backend, **for tests**: run a contract as ordinary Rust code,
//! without wasm, against a host written in Rust.
//!
//! On `wasm32` the [`Context`](crate::Context) calls the imports of module
//! `cellchain`. Natively (this module exists only when the target is not
//! `wasm32`) the same calls go to the [`NativeHost`] installed with [`with_host`]
//! for the duration of one invocation on the current thread. The test harness
//! (`cellchain-chaincode-harness`) implements [`NativeHost`] over the very
//! transaction simulator the wasm runtime uses, so native tests record the same
//! read/write sets as the real endorser; tests of the contract crate itself use
//! small fakes.
//!
//! ```ignore
//! let mut host = MyHost::new(input_json);
//! let code = cellchain_contract::native::with_host(&mut host, || {
//!     cellchain_contract::run::<MyContract>()
//! });
//! ```
//!
//! A host refuses a call the way the wasm runtime traps: by returning
//! `Err(Trap)`. The guest side then unwinds with the [`Trap`] as the panic
//! payload (through `resume_unwind`, so no panic message is printed); the
//! harness catches it with `catch_unwind` and reports a failed invocation.

use std::cell::Cell;

use crate::abi::{LogLevel, RangeResult};

/// A host refusal: on wasm this is a trap with this message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trap {
    pub message: String,
}

impl Trap {
    pub fn new(message: impl Into<String>) -> Self {
        Trap {
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Trap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Trap {}

/// One method per import of ABI v1, with the same meaning (see
/// `chaincode/ABI.md`). Data the wasm host would leave in the result buffer is
/// returned directly, so there is no `take_result`; `None` stands for the ABI's
/// -1. `Err` is a trap.
pub trait NativeHost {
    /// The invocation as ABI JSON ([`crate::abi::Input`]).
    fn input(&mut self) -> Result<Vec<u8>, Trap>;
    /// Committed value of `key` in this chaincode's namespace (records the read).
    fn get_state(&mut self, key: &str) -> Result<Option<Vec<u8>>, Trap>;
    /// Committed value of `key` in another chaincode's namespace.
    fn get_state_of(&mut self, namespace: &str, key: &str) -> Result<Option<Vec<u8>>, Trap>;
    fn put_state(&mut self, key: &str, value: &[u8]) -> Result<(), Trap>;
    fn del_state(&mut self, key: &str) -> Result<(), Trap>;
    /// Keys in `[start, end)` (`end` empty: to the end), at most `limit` (0: the
    /// host's cap); records range info.
    fn get_state_range(&mut self, start: &str, end: &str, limit: u32) -> Result<RangeResult, Trap>;
    fn get_private(&mut self, collection: &str, key: &str) -> Result<Option<Vec<u8>>, Trap>;
    fn get_private_hash(&mut self, collection: &str, key: &str) -> Result<Option<[u8; 32]>, Trap>;
    fn put_private(&mut self, collection: &str, key: &str, value: &[u8]) -> Result<(), Trap>;
    fn del_private(&mut self, collection: &str, key: &str) -> Result<(), Trap>;
    fn get_transient(&mut self, key: &str) -> Result<Option<Vec<u8>>, Trap>;
    /// Fabric policy text; empty removes the key's policy; malformed traps.
    fn set_key_policy(&mut self, key: &str, policy: &str) -> Result<(), Trap>;
    fn emit_event(&mut self, name: &str, payload: &[u8]) -> Result<(), Trap>;
    fn sha256(&mut self, data: &[u8]) -> Result<[u8; 32], Trap>;
    /// True if `sig` (DER, ECDSA P-256/SHA-256) is valid for `msg` under the
    /// SEC1 key `pk`.
    fn verify_p256(&mut self, pk: &[u8], msg: &[u8], sig: &[u8]) -> Result<bool, Trap>;
    fn log(&mut self, level: LogLevel, message: &str) -> Result<(), Trap>;
    /// The invocation's result: 200 and the payload, or 400 and a UTF-8 message.
    fn set_response(&mut self, status: u16, payload: &[u8]) -> Result<(), Trap>;
    /// Called by the wasm panic hook only. Natively a panic unwinds to the host
    /// with its message as the payload, so this is never called by the guest;
    /// the method exists so a host covers the whole ABI.
    fn panic_message(&mut self, message: &str) -> Result<(), Trap> {
        let _ = message;
        Ok(())
    }
}

/// The installed host, with its lifetime erased; [`with_host`] guarantees it is
/// cleared before the borrow it came from ends.
type HostPtr = *mut (dyn NativeHost + 'static);

thread_local! {
    static CURRENT: Cell<Option<HostPtr>> = const { Cell::new(None) };
}

/// Restores the previous host when the call ends, also when it unwinds.
struct Restore(Option<HostPtr>);

impl Drop for Restore {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.0));
    }
}

/// Runs `f` with `host` serving this thread's host calls, e.g.
/// `with_host(&mut host, || cellchain_contract::run::<MyContract>())`.
pub fn with_host<'h, R>(host: &'h mut (dyn NativeHost + 'h), f: impl FnOnce() -> R) -> R {
    let ptr: *mut (dyn NativeHost + 'h) = host;
    // SAFETY: only the lifetime changes. The pointer is removed from the
    // thread-local by `Restore` before `with_host` returns or unwinds, so it is
    // never used after `'h` ends.
    let ptr: HostPtr = unsafe { std::mem::transmute::<*mut (dyn NativeHost + 'h), HostPtr>(ptr) };
    let previous = CURRENT.with(|c| c.replace(Some(ptr)));
    let _restore = Restore(previous);
    f()
}

/// Calls the installed host. A trap unwinds with the [`Trap`] as payload.
pub(crate) fn with_current<R>(call: impl FnOnce(&mut dyn NativeHost) -> Result<R, Trap>) -> R {
    // Take the host out while it runs, so that a host calling back into the
    // guest API finds none (and panics) instead of aliasing `&mut`.
    let ptr = CURRENT.with(|c| c.take()).expect(
        "no NativeHost installed: outside wasm, contract code runs only inside \
         cellchain_contract::native::with_host (the test harness does this)",
    );
    let _restore = Restore(Some(ptr));
    // SAFETY: the pointer was installed by `with_host`, whose borrow is still
    // live (we are inside its `f`), and it is not in the thread-local while this
    // exclusive reference exists.
    let result = call(unsafe { &mut *ptr });
    match result {
        Ok(r) => r,
        Err(trap) => std::panic::resume_unwind(Box::new(trap)),
    }
}
