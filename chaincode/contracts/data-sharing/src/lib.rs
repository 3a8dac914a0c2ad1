//! The data-sharing contract: consent-gated use of cell-therapy data for AI
//! and federated learning.
//!
//! Where it sits in the flow: the treating site registers a patient's consent
//! (DUO codes, recipients, expiry, hash of the signed form) against the case
//! that patient-batch knows (its pseudonym and site, read cross-contract) and
//! the datasets it holds off-chain (root hash and URI). A requesting
//! organisation asks for access for a DUO purpose; the contract alone decides,
//! from the consents and from the release contract's `BatchSummary` (the
//! batch passed QC and was released), and records the request and its
//! decision either way. The grantee records training runs (grants used,
//! dataset roots, model hash): the provenance of a model. Personal links
//! (pseudonym -> patient record) stay in the treating hospital's private data
//! collection.
//!
//! Layout: `contract.rs` (one function per transaction), `msg.rs`,
//! `state.rs` (records and keys), `duo.rs` (the Data Use Ontology codes and
//! their matching), `error.rs`.

pub mod contract;
pub mod duo;
pub mod error;
pub mod msg;
pub mod state;

#[cfg(test)]
mod tests;

pub use contract::DataSharing;
pub use error::DataSharingError;
