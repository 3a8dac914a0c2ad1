//! `bench-kv`: the contract of `cellchain bench` (the benchmark harness), in the
//! spirit of Hyperledger Caliper's `simple`/fixed-asset benchmarks.
//!
//! - `contract.rs`: the transactions: `put` (a blind write: no read),
//!   `seed` (many keys in one transaction, to prepare a round outside the
//!   measurement), `update` (a read-modify-write of an existing key), and the
//!   queries `get` and `range`;
//! - `error.rs`: the domain errors.
//!
//! Values are text (the benchmark sends ASCII of the configured size).

pub mod contract;
pub mod error;

pub use contract::BenchKv;
pub use error::BenchError;
