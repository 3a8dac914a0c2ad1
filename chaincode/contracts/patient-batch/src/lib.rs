//! patient-batch: the chain of identity and chain of custody of autologous
//! cell-therapy batches (DOMAIN.md, contract 1). One case per patient batch,
//! keyed by its ISBT 128 COI; the patient appears only as a random
//! pseudonym. Every change appends an EPCIS-shaped event to the case's
//! timeline (corrections are new events), keeps a (site, state) index, and
//! rewrites the [`therapy_common::CaseSummary`] other contracts read.
//!
//! # The boundary with release
//!
//! Each contract writes only its own namespace. RELEASED is never set from
//! a request's say-so: `record_release_decision` reads release's
//! [`therapy_common::BatchSummary`] through a cross-contract read
//! (`Context::get_state_of`), which goes into this transaction's read set
//! under release's namespace; the committer's MVCC check invalidates the
//! transaction if release changed that record before it commits. In the
//! other direction release reads our `CaseSummary` (custody and condition
//! clean) the same way.
//!
//! # Layout
//!
//! - `contract.rs`: one function per transaction, and the checks and the
//!   commit step they share;
//! - `msg.rs`: requests, query answers and event payloads;
//! - `state.rs`: records and keys (the key table is there);
//! - `error.rs`: one error variant per rule;
//! - `time.rs`: RFC 3339 event times (EPCIS `eventTime` with its zone offset),
//!   pure functions used by both msg handling and the checks.

pub mod contract;
pub mod error;
pub mod msg;
pub mod state;
pub mod time;

pub use contract::PatientBatch;
pub use error::CaseError;

#[cfg(test)]
mod tests;
