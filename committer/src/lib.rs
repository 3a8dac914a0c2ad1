//! The committer (step 5 of the flow): pulls blocks from the channel's orderers,
//! checks each is the next block of the chain and signed by a consenter,
//! validates its transactions (`cellchain-validation`: signatures, endorsement
//! policies, MVCC, phantoms, duplicates), writes one validation code per
//! transaction and the commit hash into the block, and commits it: block files
//! first (fsynced), then the state (one atomic sled batch). It is the
//! organisation's ledger of record and serves the **validated block feed** that
//! the organisation's endorsers and clients follow, and ledger queries.
//!
//! The pieces, from the outside in:
//!
//! - [`service`]: the HTTP API (axum): the validated block feed, signed queries
//!   (private data to members of the collections only), status, health and
//!   metrics. `router(app)` is testable without a socket;
//!   `run(listener, app, shutdown)` serves it.
//! - [`puller`]: one task per channel following an orderer's deliver stream, with
//!   failover to the next orderer; the channel's single writer.
//! - [`ledger`]: block files and state of one channel: open with recovery
//!   (replay, refusal of a state ahead of the blocks, private values staged
//!   before a crash applied), commit one block in two steps (prepare, finish).
//! - [`private`]: private data dissemination at commit: the values of the
//!   collections this organisation is a member of, fetched from endorsers
//!   (`private_data_sources`) and checked against the block's hashes before the
//!   block is stored; what cannot be fetched within `private_data_timeout` is
//!   committed as hashes only, logged and counted.
//! - [`pipeline`]: the pure checks of a block from an orderer, the genesis commit
//!   hash, summaries of validation codes.
//! - [`definitions`]: the chaincode definitions in force per channel, a cache
//!   of the `_lifecycle` namespace loaded from the state at start (after
//!   recovery) and refreshed after each block that writes a definition.
//! - [`channel`]: what the puller and the handlers share; request authorisation.
//! - [`config`]: the committer's own configuration file. [`metrics`]: Prometheus.
//!
//! Not done here: channel configuration updates, reconciliation of private
//! values missing at commit (they stay missing; `block_private_data` serves only
//! what was stored), pushing private data to other peers (endorsers do that).

pub mod boot;
pub mod channel;
pub mod config;
pub mod definitions;
pub mod ledger;
pub mod metrics;
pub mod pipeline;
pub mod private;
pub mod puller;
pub mod service;

#[cfg(test)]
mod fixtures;
