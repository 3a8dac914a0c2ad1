//! The endorser (step 2 of the flow): checks a signed proposal, runs the chaincode
//! in wasmtime against its state replica and returns a signed read/write set.
//! Endorsing changes no state; the replica follows the organisation's committer.
//!
//! The pieces, from the outside in:
//!
//! - [`service`]: the HTTP API (axum): endorse, evaluate, channel status, health
//!   and metrics. `router(endorser)` is testable without a socket;
//!   `run(listener, endorser, shutdown)` serves it.
//! - [`endorse`]: the [`Endorser`](endorse::Endorser): the checks that need the
//!   replica (replayed tx id, chaincode defined and installed), the simulation on
//!   one snapshot, the response payload and its signature.
//! - [`checks`]: the pure checks of a proposal, in order (parse, channel,
//!   creator, signature, ACL, tx id, timestamp, transient digest), into a
//!   `VerifiedProposal`.
//! - [`replica`]: one channel's state replica (sled `StateStore`) fed with
//!   validated blocks, and the snapshot adapter the runtime reads through.
//! - [`feed`]: follows the committer's validated block feed, reconnecting with
//!   backoff.
//! - [`private`]: private writes kept per tx id for dissemination (bounded).
//! - [`config`], [`boot`], [`metrics`]: the configuration file, start-up, and
//!   Prometheus exposition.

pub mod boot;
pub mod checks;
pub mod config;
pub mod endorse;
pub mod feed;
pub mod metrics;
pub mod private;
pub mod replica;
pub mod service;
