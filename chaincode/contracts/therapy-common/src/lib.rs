//! What the three therapy contracts (patient-batch, release, data-sharing)
//! share: their chaincode names, the roles of DOMAIN.md, the identifier
//! formats, and the two read models one contract reads from another.
//!
//! The boundary between the contracts: each contract writes only its own
//! namespace, so each keeps its own endorsement policy and key-level
//! policies. Where one needs the other's facts it reads a small, stable
//! summary record through a cross-contract read (`Context::get_state_of`),
//! which the committer's MVCC check covers like any other read:
//!
//! - patient-batch keeps a [`CaseSummary`] at [`case_summary_key`]; release
//!   reads it to decide EVIDENCE_COMPLETE (custody and condition clean), and
//!   data-sharing reads it to tie a consent's pseudonym to its case.
//! - release keeps a [`BatchSummary`] at [`batch_summary_key`]; patient-batch
//!   reads it to move a case to RELEASED (or REJECTED), and data-sharing reads
//!   it to check that the batch data passed QC.
//!
//! A summary is written in the same transaction as the record it summarises,
//! so it is never stale relative to it.

pub mod ids;

use serde::{Deserialize, Serialize};

/// Chaincode name (and state namespace) of the chain-of-identity/custody contract.
pub const PATIENT_BATCH: &str = "patient-batch";
/// Chaincode name of the batch release contract.
pub const RELEASE: &str = "release";
/// Chaincode name of the consent-gated data-sharing contract.
pub const DATA_SHARING: &str = "data-sharing";

/// The certificate attribute that carries a user's business role.
pub const ROLE_ATTRIBUTE: &str = "role";

/// Business roles, from the caller certificate's `role` attribute.
pub mod roles {
    /// Treating-site clinician (orders, receives, thaws, infuses).
    pub const SITE_CLIN: &str = "SITE_CLIN";
    /// Apheresis unit (collects the starting material).
    pub const APHERESIS: &str = "APHERESIS";
    /// Courier (carries shipments, records their condition).
    pub const COURIER: &str = "COURIER";
    /// Manufacturer (receives material, manufactures the product).
    pub const MFG: &str = "MFG";
    /// Quality-control laboratory (records test results).
    pub const QC: &str = "QC";
    /// Quality assurance (approves specifications, closes deviations).
    pub const QA: &str = "QA";
    /// Qualified person (certifies batches for release).
    pub const QP: &str = "QP";
    /// Auditor or regulator: reads only.
    pub const AUDITOR: &str = "AUDITOR";
}

/// Key of the [`CaseSummary`] of a case, in patient-batch's namespace.
pub fn case_summary_key(coi: &str) -> String {
    format!("case-summary/{coi}")
}

/// Key of the [`BatchSummary`] of a case's batch, in release's namespace.
pub fn batch_summary_key(coi: &str) -> String {
    format!("batch-summary/{coi}")
}

/// What other contracts may know about a case: no personal data, only the
/// facts they decide on. Written by patient-batch on every change of the case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseSummary {
    /// ISBT 128 chain-of-identity id.
    pub coi: String,
    /// The case's random pseudonym (32 lower-case hex characters).
    pub pseudonym: String,
    /// MSP id of the treating site.
    pub site_msp: String,
    /// Product code (the product's configuration in patient-batch).
    pub product_code: String,
    /// Version of the product specification the batch is tested against.
    pub spec_version: u32,
    /// The case state, upper-case as in DOMAIN.md (`QC_PENDING`, `ON_HOLD`, ...).
    pub state: String,
    /// MSP id of the organisation holding custody now.
    pub custodian_msp: String,
    /// DIN of the collection in use (the latest, after a re-collection).
    pub din: Option<String>,
    /// No custody gap: every handover was proposed by the holder and accepted
    /// by the named receiver, and none is pending.
    pub custody_clean: bool,
    /// No unresolved temperature excursion or missed time window.
    pub condition_clean: bool,
    /// Deviations recorded by patient-batch and not yet closed.
    pub open_deviations: u32,
}

/// Batch dispositions, as release records them.
pub mod batch_status {
    /// Specification assigned, QC testing in progress.
    pub const TESTING: &str = "TESTING";
    /// Every required test passed, deviations closed, case clean.
    pub const EVIDENCE_COMPLETE: &str = "EVIDENCE_COMPLETE";
    /// Certified by a QP.
    pub const RELEASED: &str = "RELEASED";
    /// An out-of-specification result is under investigation.
    pub const OOS_INVESTIGATION: &str = "OOS_INVESTIGATION";
    /// Released despite an OOS result, on a physician's request.
    pub const EXCEPTIONAL_RELEASE: &str = "EXCEPTIONAL_RELEASE";
    /// Not to be used.
    pub const REJECTED: &str = "REJECTED";
}

/// What other contracts may know about a batch's release. Written by release
/// on every change of the batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchSummary {
    /// The case (and batch: one patient, one batch) this is about.
    pub coi: String,
    /// One of [`batch_status`].
    pub status: String,
    /// The specification version the batch was tested against.
    pub spec_version: u32,
    /// True when every required test passed on its latest result (retests
    /// count, the original they replace does not).
    pub qc_passed: bool,
}

impl BatchSummary {
    /// The product may go to the patient: released, normally or exceptionally.
    pub fn is_released(&self) -> bool {
        self.status == batch_status::RELEASED || self.status == batch_status::EXCEPTIONAL_RELEASE
    }
}
