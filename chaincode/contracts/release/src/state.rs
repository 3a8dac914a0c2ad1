//! The records of the release contract and the keys they live under.
//!
//! | key | record | written |
//! |---|---|---|
//! | `spec / product / version (6 digits)` | [`SpecBody`] | once, at drafting: the exact bytes QA signs |
//! | `spec-approval / product / version` | [`SpecApproval`] | once, at approval (makes the version immutable and usable) |
//! | `spec-latest / product` | the latest version number | at each new version |
//! | `batch / coi` | [`Batch`] with results, deviations, status history | every batch change (key-level policy) |
//! | `decision / coi` | [`Decision`]: PENDING, then the signed certification/rejection | open, then once (key-level policy) |
//! | `batch-summary/<coi>` ([`therapy_common::batch_summary_key`]) | [`therapy_common::BatchSummary`] | every batch change (key-level policy) |
//!
//! Keys other than the summary are composite keys (see
//! `cellchain_contract::create_composite_key`).

use cellchain_contract::{create_composite_key, Result, Timestamp};
use serde::{Deserialize, Serialize};

pub const SPEC: &str = "spec";
pub const SPEC_APPROVAL: &str = "spec-approval";
pub const SPEC_LATEST: &str = "spec-latest";
pub const BATCH: &str = "batch";
pub const DECISION: &str = "decision";

/// The decision record's status before any decision.
pub const PENDING: &str = "PENDING";

/// E-signature meanings (21 CFR 11.50(a)(3)).
pub mod meaning {
    pub const APPROVED: &str = "approved";
    pub const RELEASED: &str = "released";
    pub const EXCEPTIONALLY_RELEASED: &str = "released (exceptional release)";
    pub const REJECTED: &str = "rejected";
}

pub fn spec_key(product_code: &str, version: u32) -> Result<String> {
    create_composite_key(SPEC, &[product_code, &format!("{version:06}")])
}

pub fn spec_approval_key(product_code: &str, version: u32) -> Result<String> {
    create_composite_key(SPEC_APPROVAL, &[product_code, &format!("{version:06}")])
}

pub fn spec_latest_key(product_code: &str) -> Result<String> {
    create_composite_key(SPEC_LATEST, &[product_code])
}

pub fn batch_key(coi: &str) -> Result<String> {
    create_composite_key(BATCH, &[coi])
}

pub fn decision_key(coi: &str) -> Result<String> {
    create_composite_key(DECISION, &[coi])
}

/// Who did something: the certificate's common name and organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub name: String,
    pub msp_id: String,
}

/// An electronic signature (21 CFR 11.50/11.70, Annex 11 §14): the signer's
/// name, organisation and certificate, the time (the proposal timestamp), the
/// meaning, and the SHA-256 of the exact stored bytes of the record signed,
/// which the signer supplied and the contract checked: the signature is bound
/// to that record and cannot be moved to another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ESignature {
    pub signer: String,
    pub msp_id: String,
    /// SHA-256 of the signer's certificate (a stable id of the identity).
    pub cert_hash: String,
    pub signed_at: Timestamp,
    pub meaning: String,
    /// Which record was signed, e.g. `spec CART-19 v1` or `batch CHA123426000123`.
    pub record: String,
    /// Lower-case hex SHA-256 of the record's stored bytes.
    pub record_sha256: String,
    pub tx_id: String,
}

/// An acceptance criterion. Numbers are compared as IEEE doubles; the bounds
/// are inclusive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Criterion {
    /// value >= min
    AtLeast { min: f64 },
    /// value <= max
    AtMost { max: f64 },
    /// min <= value <= max
    Between { min: f64, max: f64 },
    /// A qualitative result, e.g. `negative` or `no growth` (exact match).
    Equals { value: String },
}

/// A QC value: a number, or text for qualitative tests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum QcValue {
    Number(f64),
    Text(String),
}

impl Criterion {
    /// Whether `value` meets the criterion; `None` when the value is of the
    /// wrong kind (text for a numeric criterion or the reverse).
    pub fn accepts(&self, value: &QcValue) -> Option<bool> {
        match (self, value) {
            (Criterion::AtLeast { min }, QcValue::Number(v)) => Some(v >= min),
            (Criterion::AtMost { max }, QcValue::Number(v)) => Some(v <= max),
            (Criterion::Between { min, max }, QcValue::Number(v)) => Some(min <= v && v <= max),
            (Criterion::Equals { value: want }, QcValue::Text(got)) => Some(want == got),
            _ => None,
        }
    }

    /// What kind of value the criterion takes.
    pub fn value_kind(&self) -> &'static str {
        match self {
            Criterion::Equals { .. } => "text",
            _ => "a number",
        }
    }
}

/// One test of a specification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpecTest {
    /// Short code, e.g. `VIAB`.
    pub code: String,
    pub name: String,
    /// The analytical method (e.g. `flow cytometry, 7-AAD`).
    pub method: String,
    /// The unit results must be reported in (`%`, `EU/mL`, `n/a` for text).
    pub unit: String,
    pub criterion: Criterion,
    /// Required for release (an informational test is not).
    pub required: bool,
}

/// A specification version as drafted: the record QA signs, stored once and
/// never rewritten, so its SHA-256 is stable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpecBody {
    pub product_code: String,
    pub version: u32,
    pub tests: Vec<SpecTest>,
    pub drafted_by: Actor,
    pub drafted_at: Timestamp,
}

impl SpecBody {
    pub fn test(&self, code: &str) -> Option<&SpecTest> {
        self.tests.iter().find(|t| t.code == code)
    }
}

/// The approval of a specification version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpecApproval {
    pub product_code: String,
    pub version: u32,
    pub signature: ESignature,
}

/// A QC result. `passed` is computed by the contract from the specification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QcResult {
    /// `R1`, `R2`, ... in recording order within the batch.
    pub id: String,
    pub test_code: String,
    pub value: QcValue,
    pub unit: String,
    pub passed: bool,
    /// For a retest: the id of the original result it repeats.
    pub retest_of: Option<String>,
    pub recorded_by: Actor,
    pub recorded_at: Timestamp,
    pub tx_id: String,
}

/// A release deviation, opened and closed by the sponsor's QA.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deviation {
    /// `D1`, `D2`, ... within the batch.
    pub id: String,
    pub description: String,
    pub opened_by: Actor,
    pub opened_at: Timestamp,
    pub closure: Option<Closure>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Closure {
    pub reason: String,
    pub by: Actor,
    pub at: Timestamp,
}

/// One status change, appended (never edited).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    pub from: Option<String>,
    pub to: String,
    pub at: Timestamp,
    pub by: Actor,
    pub reason: String,
    pub tx_id: String,
}

/// The batch record: one per case (batch size one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    pub coi: String,
    pub product_code: String,
    pub spec_version: u32,
    /// One of `therapy_common::batch_status`.
    pub status: String,
    /// The manufacturer (the case's custodian when the batch was opened).
    pub manufacturer_msp: String,
    /// The sponsor: the organisation of the QA who approved the spec.
    pub sponsor_msp: String,
    pub opened_by: Actor,
    pub opened_at: Timestamp,
    pub results: Vec<QcResult>,
    pub deviations: Vec<Deviation>,
    pub history: Vec<StatusChange>,
}

/// The release decision record: `PENDING` from opening (so that the key
/// exists and carries its key-level policy before the decision is written),
/// then the e-signed decision, written once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub coi: String,
    /// `PENDING`, `RELEASED`, `EXCEPTIONAL_RELEASE` or `REJECTED`.
    pub status: String,
    pub signature: Option<ESignature>,
    pub reason: Option<String>,
    /// Exceptional release: SHA-256 of the treating physician's request.
    pub physician_request_sha256: Option<String>,
    /// Exceptional release: SHA-256 of the risk assessment.
    pub risk_assessment_sha256: Option<String>,
}
