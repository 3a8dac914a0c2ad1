//! A starting CellChain contract: a sample registry of items owned by
//! organisations. `cellchain chaincode new NAME` copies this crate; rename the
//! types, keep the layout.
//!
//! The layout every CellChain contract follows:
//!
//! - `contract.rs`: the entry point: one function per transaction, marked
//!   `#[transaction]` (submitted, may write) or `#[transaction(evaluate)]`
//!   (a query), with its unit tests through the native harness;
//! - `msg.rs`: the typed requests clients send and the answers they get;
//! - `state.rs`: the records kept on the ledger and the keys they live under;
//! - `error.rs`: the domain errors, one variant per rule.
//!
//! Build the wasm module with `cellchain chaincode build` (or
//! `cargo build --lib --profile contract --target wasm32-unknown-unknown`).

pub mod contract;
pub mod error;
pub mod msg;
pub mod state;

pub use contract::SampleRegistry;
pub use error::RegistryError;
