//! The guest API CellChain contracts are written against.
//!
//! A contract ("chaincode") is a Rust crate compiled to `wasm32-unknown-unknown`
//! and run by the endorser's wasmtime runtime. This crate is the guest side of
//! `chaincode/ABI.md`: it reads the invocation through the `cellchain` imports,
//! gives the contract a [`Context`] with Fabric's state semantics, dispatches to
//! the function the client named, and reports the result with `set_response`.
//! It is compiled into every contract module, so it depends on serde and
//! serde_json only.
//!
//! # A complete contract
//!
//! ```
//! use cellchain_contract::{contract, Context, ContractError};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize)]
//! pub struct Item {
//!     pub owner: String,
//! }
//!
//! pub struct Registry;
//!
//! #[contract]
//! impl Registry {
//!     /// Registers an item owned by the caller's organisation.
//!     #[transaction]
//!     pub fn register(ctx: &mut Context, id: String) -> Result<Item, ContractError> {
//!         if ctx.get_state(&id)?.is_some() {
//!             return Err(ContractError::new(format!("item {id} already exists")));
//!         }
//!         let item = Item { owner: ctx.caller().msp_id.clone() };
//!         ctx.put_state_json(&id, &item)?;
//!         ctx.set_event_json("Registered", &id)?;
//!         Ok(item)
//!     }
//!
//!     /// Reads an item (a query: `&Context` cannot write).
//!     #[transaction(evaluate)]
//!     pub fn get(ctx: &Context, id: String) -> Result<Option<Item>, ContractError> {
//!         ctx.get_state_json(&id)
//!     }
//! }
//! ```
//!
//! `#[contract]` generates `impl Contract for Registry` (a `match` on the
//! function name that decodes the JSON arguments, see [`Args`]) and, when the
//! crate is built for wasm as the package being built, the exports
//! `cellchain_abi_v1` and `cellchain_invoke`. A transaction returns
//! `Result<T, E>` with `T: Serialize` (the response payload is its JSON) and
//! `E: Display` (the message of a status-400 response). A panic fails the
//! invocation with the panic's message (status 500 in the host).
//!
//! # Natively
//!
//! Off wasm, the host calls go to a [`native::NativeHost`] installed for the
//! current thread: that is how `cellchain-chaincode-harness` runs contracts in
//! ordinary `cargo test`, recording the same read/write sets as the endorser.
//! The native backend exists for tests; production runs the wasm module.

extern crate self as cellchain_contract;

pub mod abi;
mod args;
pub mod composite;
mod context;
mod error;
pub mod hex;
mod metadata;
#[cfg(not(target_arch = "wasm32"))]
pub mod native;
mod sys;

pub use abi::{Caller, LogLevel, Timestamp};
pub use args::{unknown_function, Args, Param};
pub use composite::{create_composite_key, split_composite_key};
pub use context::{Context, KeyValue, Page};
pub use error::{ContractError, IntoContractError};
pub use metadata::{ContractMetadata, FunctionMetadata, ParamMetadata};

/// Marks an `impl` block as a contract; see the crate docs.
///
/// Each method marked `#[transaction]` (submitted for ordering),
/// `#[transaction(evaluate)]` (a read-only query) becomes a function clients
/// can call. Options, comma-separated: `evaluate`; `name = "createItem"` to
/// call it by another name; `transient = "patient_link"` (repeatable, or a
/// comma-separated list) to record in the metadata which transient inputs it
/// reads. Methods without the attribute stay ordinary helpers.
///
/// A transaction's shape is `fn name(ctx: &mut Context, a: A, ..) -> Result<T, E>`
/// (`ctx: &Context` is allowed too and makes the function read-only), with
/// `A: DeserializeOwned`, `T: Serialize`, `E: Display`. The macro refuses
/// `self` receivers, a missing context parameter, a non-`Result` return,
/// borrowed or generic parameters and duplicate names, with an error at the
/// offending code.
///
/// One `#[contract]` per crate. The wasm exports are generated only for the
/// package Cargo was asked to build (`CARGO_PRIMARY_PACKAGE` at expansion
/// time), not for a contract used as a library dependency, so a contract can
/// reuse another's types and code. Cargo does not fingerprint that variable
/// (rust-lang/cargo#14678), so a contract that depends on another contract
/// must be built on its own, in a target directory the other contract is not
/// built in as the primary package; one cargo invocation naming both fails
/// with "duplicate symbol: cellchain_invoke".
pub use cellchain_contract_macros::contract;
/// Marks a method of a `#[contract]` impl block as a transaction (see
/// [`contract`]); it is an error anywhere else.
pub use cellchain_contract_macros::transaction;

/// `Result` with [`ContractError`] as the default error.
pub type Result<T, E = ContractError> = core::result::Result<T, E>;

/// What `#[contract]` implements: dispatch by function name, and the list of
/// functions. Implement it by hand only for unusual needs (use [`Args`] to
/// decode arguments the same way).
pub trait Contract {
    /// Runs `function` with `args` (the JSON arguments of the call); `Ok` is the
    /// JSON of the result.
    fn dispatch(
        ctx: &mut Context,
        function: &str,
        args: Vec<serde_json::Value>,
    ) -> core::result::Result<Vec<u8>, ContractError>;

    /// The contract's functions, for tools and clients.
    fn metadata() -> ContractMetadata;
}

/// Runs one invocation of contract `C`: reads the input, dispatches, and sets
/// the response (200 and the JSON result, or 400 and the error message).
/// Returns 0, as `cellchain_invoke` must. The export generated by `#[contract]`
/// calls this; the native harness calls it inside [`native::with_host`].
pub fn run<C: Contract>() -> i32 {
    #[cfg(target_arch = "wasm32")]
    install_panic_hook();
    let input = sys::input();
    // A host that sends malformed input breaks the ABI: fail loudly (a trap)
    // rather than blame the client with a 400.
    let input: abi::Input = serde_json::from_slice(&input)
        .unwrap_or_else(|e| panic!("the host's invocation input is not ABI v1 JSON: {e}"));
    let function = input.function.clone();
    let args = input.args.clone();
    let mut ctx = Context::new(input);
    match C::dispatch(&mut ctx, &function, args) {
        Ok(payload) => sys::set_response(200, &payload),
        Err(e) => sys::set_response(e.status(), e.message().as_bytes()),
    }
    0
}

/// On wasm a panic aborts (the `contract` profile has `panic = "abort"`), which
/// is a trap with no message; this hook hands the message to the host first.
#[cfg(target_arch = "wasm32")]
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let message = if let Some(s) = payload.downcast_ref::<&str>() {
            s
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.as_str()
        } else {
            "panic with a non-text payload"
        };
        sys::panic_message(message);
    }));
}

/// Used by the code `#[contract]` generates; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use serde_json;

    use crate::{ContractError, IntoContractError};

    /// The response payload of a transaction's result.
    pub fn respond<T: serde::Serialize, E: core::fmt::Display>(
        result: core::result::Result<T, E>,
    ) -> core::result::Result<Vec<u8>, ContractError> {
        match result {
            Ok(value) => serde_json::to_vec(&value)
                .map_err(|e| ContractError::new(format!("cannot encode the result as JSON: {e}"))),
            Err(e) => Err(e.into_contract_error()),
        }
    }
}
