//! What clients send and receive. Each transaction takes one request struct
//! (send it positionally, `["record_result", {...}]`, or named).

use serde::{Deserialize, Serialize};
use therapy_common::BatchSummary;

use crate::state::{Batch, Decision, ESignature, QcValue, SpecBody, SpecTest};

/// `create_spec` (QA): draft the next version of a product's specification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateSpec {
    pub product_code: String,
    /// 1 for a new product, else the latest version + 1.
    pub version: u32,
    pub tests: Vec<SpecTest>,
}

/// `approve_spec` (QA, not the drafter): e-sign a drafted version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApproveSpec {
    pub product_code: String,
    pub version: u32,
    /// SHA-256 (hex) of the spec record the signer reviewed: `spec_sha256`
    /// from `get_spec`. Must match the stored record.
    pub spec_sha256: String,
}

/// `open_batch` (MFG of the case's custodian organisation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenBatch {
    pub coi: String,
}

/// `record_result` (QC): the contract computes pass/fail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordResult {
    pub coi: String,
    pub test_code: String,
    pub value: QcValue,
    pub unit: String,
    /// For a retest: the id of the original result (`R1`, ...).
    #[serde(default)]
    pub retest_of: Option<String>,
}

/// `open_deviation` (QA of the sponsor).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenDeviation {
    pub coi: String,
    pub description: String,
}

/// `close_deviation` (QA of the sponsor).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloseDeviation {
    pub coi: String,
    pub deviation_id: String,
    pub reason: String,
}

/// `certify` (QP of the sponsor): e-sign the release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certify {
    pub coi: String,
    /// SHA-256 (hex) of the batch record the QP reviewed (`batch_sha256`
    /// from `get_batch`). Must match the stored record.
    pub batch_record_sha256: String,
}

/// `reject` (QA or QP of the sponsor), with an e-signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reject {
    pub coi: String,
    pub reason: String,
    pub batch_record_sha256: String,
}

/// `exceptional_release` (QP of the sponsor), from OOS_INVESTIGATION.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExceptionalRelease {
    pub coi: String,
    pub reason: String,
    /// SHA-256 (hex) of the treating physician's request (kept off-chain).
    pub physician_request_sha256: String,
    /// SHA-256 (hex) of the risk assessment (kept off-chain).
    pub risk_assessment_sha256: String,
    pub batch_record_sha256: String,
}

/// `close_oos_investigation` (QA of the sponsor): the investigation found an
/// assignable laboratory error and the retests pass; the batch returns to
/// TESTING.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloseOosInvestigation {
    pub coi: String,
    pub reason: String,
}

/// `get_spec`'s answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpecView {
    pub spec: SpecBody,
    /// SHA-256 (hex) of the stored spec record: what an approver signs.
    pub spec_sha256: String,
    /// `DRAFT` or `APPROVED`.
    pub status: String,
    pub approval: Option<ESignature>,
}

/// `get_batch`'s answer: the batch with its results, deviations and history,
/// the decision record with its signature, and the summary others read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchView {
    pub batch: Batch,
    /// SHA-256 (hex) of the stored batch record: what a QP signs.
    pub batch_sha256: String,
    pub decision: Decision,
    pub summary: BatchSummary,
    /// Every e-signature bearing on the batch: the spec approval, then the
    /// decision's.
    pub signatures: Vec<ESignature>,
}

/// The payload of `BatchStatusChanged`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchStatusChanged {
    pub coi: String,
    pub from: Option<String>,
    pub to: String,
    pub reason: String,
}

/// The payload of `SpecApproved`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpecApproved {
    pub product_code: String,
    pub version: u32,
    pub spec_sha256: String,
    pub signer: String,
}
