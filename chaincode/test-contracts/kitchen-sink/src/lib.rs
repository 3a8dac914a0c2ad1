//! Test contract exercising every call of the chaincode API, one transaction
//! per call, plus `put`, `rw10` and `echo` for benchmarks. The runtime's tests
//! and the native harness's tests run it; it also shows the layout every
//! contract follows (`contract.rs`, `msg.rs`, `state.rs`, `error.rs`).

pub mod contract;
pub mod error;
pub mod msg;
pub mod state;

pub use contract::KitchenSink;
pub use error::KitchenSinkError;

#[cfg(test)]
mod tests;
