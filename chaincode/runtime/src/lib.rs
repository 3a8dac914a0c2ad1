//! The endorser's wasmtime runtime for CellChain chaincode.
//!
//! In the flow this is step 2: an endorser runs the chaincode named by a
//! verified proposal against its state replica, and this crate runs it. A
//! contract is Rust compiled to `wasm32-unknown-unknown` that speaks the ABI of
//! `chaincode/ABI.md`; its state accesses go through the simulator
//! (`cellchain-simulator`), which records the read/write set the endorser
//! signs.
//!
//! - [`Runtime::install`] validates a module against the ABI and the caps of
//!   [`RuntimeConfig`] (refusing it with an [`InstallError`] naming the rule),
//!   then compiles it once, or loads it from the on-disk cache, and
//!   pre-links it: compilation stays off the request path.
//! - [`InstalledChaincode::invoke`] runs one [`Invocation`] in a fresh
//!   instance from the pooling allocator and returns an [`InvokeOutcome`]
//!   (response, read/write set, events, fuel used) or an [`InvokeError`].
//!
//! Endorsers must agree, so execution is deterministic: fuel is the work
//! limit (host calls are charged too), NaNs are canonicalised, threads and
//! SIMD are off, and the only imports are the ABI's. The same module, input and
//! state give byte-identical outcomes and the same `fuel_used` everywhere. A
//! wall-clock backstop (epoch interruption) only guards the endorser against a
//! stuck invocation. Whatever a contract does (loop, grow memory, trap,
//! panic, misuse the ABI) ends as an `InvokeError`, never as a crash or hang of
//! the endorser.

mod abi;
mod cache;
mod config;
mod engine;
mod error;
mod host;
mod invoke;
mod validate;

pub use cellchain_simulator::{Limits, SimError, SimulationOutput, StateError, StateView};
pub use config::{RuntimeConfig, WASM_PAGE};
pub use engine::{ModuleOrigin, Runtime};
pub use error::{InstallError, InvokeError, RuntimeError};
pub use invoke::{CallerInfo, InstalledChaincode, Invocation, InvokeOutcome, LogLine};
pub use validate::{allowed_features, ABI_MARKER, INVOKE_EXPORT, MEMORY_EXPORT};

/// Names of the host imports of ABI.md (module `cellchain`), in ABI.md's order.
pub fn abi_imports() -> impl Iterator<Item = &'static str> {
    abi::IMPORTS.iter().map(|i| i.name)
}

#[cfg(test)]
mod tests;
