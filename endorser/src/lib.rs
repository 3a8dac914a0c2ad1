//! The endorser (step 2 of the flow): checks a signed proposal, runs the chaincode
//! against its state replica and returns a signed read/write set. Endorsing
//! changes no state; the replica follows the organisation's committer.
//!
//! Which chaincodes exist is on the ledger: each channel's `_lifecycle`
//! namespace holds the definitions its organisations approved and committed.
//! Which modules this endorser can run is what an admin of its organisation
//! installed. A contract runs when both agree: its definition names the
//! SHA-256 of a module installed here.
//!
//! The pieces, from the outside in:
//!
//! - [`service`]: the HTTP API (axum): endorse, evaluate, private writes for
//!   member committers, chaincode install and the installed list, channel
//!   status, health and metrics (route table there). `router(endorser)` is
//!   testable without a socket; `run(listener, endorser, shutdown)` serves it.
//! - [`endorse`]: the [`Endorser`](endorse::Endorser): the checks that need the
//!   replica (replayed tx id, chaincode defined, its module installed), the
//!   simulation on one snapshot, the collection access check (membership of
//!   the creator's organisation for `member_only_write` / `member_only_read`
//!   collections), the response payload and its signature.
//! - [`lifecycle`]: the built-in `_lifecycle` chaincode, run natively through
//!   the same simulator: approve, commit, check_commit_readiness,
//!   query_committed, query_approved.
//! - [`install`]: the installed chaincode packages: kept on disk under
//!   `data_dir/chaincode/packages`, compiled at install and again at start,
//!   found by the SHA-256 of their module; the checks of an install request
//!   (an admin of this endorser's organisation, signed, fresh).
//! - [`checks`]: the pure checks of a proposal, in order (parse, channel,
//!   creator, signature, ACL, tx id, timestamp, transient digest), into a
//!   `VerifiedProposal`, and the collection access rule.
//! - [`replica`]: one channel's state replica (sled `StateStore`) fed with
//!   validated blocks, with the private values of the organisation's
//!   collections checked against each block's hashes, the cache of the
//!   chaincode definitions in force (refreshed after each block that changes
//!   one), and the snapshot adapter the runtime reads through.
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
pub mod install;
pub mod lifecycle;
pub mod metrics;
pub mod private;
pub mod replica;
pub mod service;
