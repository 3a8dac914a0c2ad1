//! The endorser (step 2 of the flow): checks a signed proposal, runs the chaincode
//! in wasmtime against its state replica and returns a signed read/write set.
//! Endorsing changes no state; the replica follows the organisation's committer.
//!
//! The pieces, from the outside in:
//!
//! - [`service`]: the HTTP API (axum): endorse, evaluate, private writes for
//!   member committers, channel status, health and metrics (route table
//!   there). `router(endorser)` is testable without a socket;
//!   `run(listener, endorser, shutdown)` serves it.
//! - [`endorse`]: the [`Endorser`](endorse::Endorser): the checks that need the
//!   replica (replayed tx id, chaincode defined and installed), the simulation on
//!   one snapshot, the collection access check (membership of the creator's
//!   organisation for `member_only_write` / `member_only_read` collections),
//!   the response payload and its signature.
//! - [`checks`]: the pure checks of a proposal, in order (parse, channel,
//!   creator, signature, ACL, tx id, timestamp, transient digest), into a
//!   `VerifiedProposal`, and the collection access rule.
//! - [`replica`]: one channel's state replica (sled `StateStore`) fed with
//!   validated blocks, with the private values of the organisation's
//!   collections checked against each block's hashes, and the snapshot
//!   adapter the runtime reads through.
//! - [`feed`]: follows the committer's validated block feed, reconnecting with
//!   backoff, and fetches each block's private values from the committer
//!   before applying it.
//! - [`private`]: private writes kept per tx id (bounded, in memory) and served
//!   to member organisations' committers (`POST /v1/channels/{ch}/private`).
//!   `required_peer_count` (pushing values to other peers before endorsing) is
//!   not built.
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
