//! The ordering service (step 4 of the flow): admits signed envelopes, orders them
//! through one Raft group per channel (raft-rs) and cuts them into signed blocks that
//! every orderer appends to its own block store and serves through deliver.
//!
//! The pieces, from the outside in:
//!
//! - [`service`]: the HTTP API (axum): broadcast, deliver, the cluster endpoints
//!   other orderers call, health and metrics. `router(state)` is testable without a
//!   socket; `run(listener, shutdown)` serves it.
//! - [`admission`]: decides whether an envelope may be ordered (parse, creator
//!   signature, the channel's Writers policy, size). Pure.
//! - [`cluster`]: authenticated traffic between consenters: signed batches of Raft
//!   messages and forwarded envelopes, one queue and one sender task per peer.
//! - [`node`]: one channel's Raft group: the ready loop, applying committed blocks
//!   to the block store, leadership and the waiters of broadcast calls.
//! - [`cutter`]: block cutting rules (count, preferred bytes, timeout). Pure.
//! - [`raft_log`]: the durable Raft log (entries, hard state, snapshots) on sled.
//! - [`config`]: the orderer's own configuration file.
//! - [`metrics`]: Prometheus text exposition.

pub mod admission;
pub mod boot;
pub mod cluster;
pub mod config;
pub mod cutter;
pub mod metrics;
pub mod node;
pub mod raft_log;
pub mod service;
