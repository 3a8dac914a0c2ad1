//! The release contract: batch release of an autologous cell therapy.
//!
//! Where it sits in the flow: patient-batch carries the case to
//! `QC_PENDING` and publishes a [`therapy_common::CaseSummary`]; this
//! contract opens the case's batch against an approved, e-signed product
//! specification, records QC results (pass/fail computed here, never given by
//! the caller) and release deviations, sets `EVIDENCE_COMPLETE` itself in the
//! transaction that completes the evidence, and records the QP's e-signed
//! certification (or the OOS path: rejection or exceptional release). Every
//! batch change rewrites the [`therapy_common::BatchSummary`] that
//! patient-batch and data-sharing read.
//!
//! Layout: `contract.rs` (one function per transaction), `msg.rs` (requests
//! and answers), `state.rs` (records and keys), `evidence.rs` (the pure rule
//! that decides completeness), `error.rs` (one variant per rule).

pub mod contract;
pub mod error;
pub mod evidence;
pub mod msg;
pub mod state;

#[cfg(test)]
mod tests;

pub use contract::Release;
pub use error::ReleaseError;
