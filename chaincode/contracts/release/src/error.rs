//! The domain errors of the release contract. Each variant is one rule; its
//! message is what the client sees (status 400): what was wrong and what to do.

use cellchain_contract::ContractError;

use crate::evidence::Missing;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReleaseError {
    /// Ids (product codes, test codes, COIs, result ids) are short printable identifiers.
    #[error("invalid {what} {id:?}: {reason}")]
    InvalidId {
        what: &'static str,
        id: String,
        reason: &'static str,
    },
    /// Free-text fields that carry meaning (reasons, descriptions) are not empty.
    #[error("{field} must not be empty")]
    EmptyField { field: &'static str },
    /// COIs are ISBT 128 chain-of-identity ids.
    #[error("invalid COI {coi:?}: {reason}")]
    InvalidCoi { coi: String, reason: String },
    /// Free text is bounded so records stay small.
    #[error("{field} is longer than {max} characters")]
    TextTooLong { field: &'static str, max: usize },
    /// Hashes are 64 lower-case hex characters.
    #[error("{field} must be a SHA-256 in 64 lower-case hex characters, got {value:?}")]
    InvalidSha256 { field: &'static str, value: String },
    /// Each transaction is reserved to business roles (certificate attribute `role`).
    #[error("{action} needs the role {required}; the caller has {caller_role}")]
    WrongRole {
        action: &'static str,
        required: String,
        caller_role: String,
    },
    /// Sponsor actions (deviations, OOS conclusion, certification) belong to the sponsor's QA/QP.
    #[error("{action} on batch {coi} is for {expected}; the caller is from {caller}")]
    WrongOrganisation {
        action: &'static str,
        coi: String,
        expected: String,
        caller: String,
    },
    /// Versions are numbered 1, 2, ... without gaps; a version is written once.
    #[error("product {product} takes version {expected} next, not {version}")]
    SpecVersionOutOfOrder {
        product: String,
        version: u32,
        expected: u32,
    },
    /// A specification has at least one test.
    #[error("a specification needs at least one test")]
    NoTests,
    /// Test codes are unique within a specification.
    #[error("test code {code} appears more than once")]
    DuplicateTestCode { code: String },
    /// Criteria make sense (min <= max; non-empty text).
    #[error("test {code}: {reason}")]
    BadCriterion { code: String, reason: &'static str },
    /// The specification version must exist.
    #[error("product {product} has no specification version {version}")]
    SpecNotFound { product: String, version: u32 },
    /// An approved version is immutable and signed once.
    #[error("specification {product} v{version} is already approved (by {by})")]
    SpecAlreadyApproved {
        product: String,
        version: u32,
        by: String,
    },
    /// Four eyes: the drafter does not approve their own specification.
    #[error("{signer} drafted this specification and cannot also approve it; another QA must")]
    SelfApproval { signer: String },
    /// A batch is tested only against an approved specification.
    #[error("specification {product} v{version} is not approved yet")]
    SpecNotApproved { product: String, version: u32 },
    /// An e-signature is bound to the exact record the signer reviewed.
    #[error(
        "the {record} record has SHA-256 {actual}, not {given}: it changed since you reviewed it; \
         review the current record and sign again"
    )]
    RecordHashMismatch {
        record: String,
        actual: String,
        given: String,
    },
    /// The case must have a summary in patient-batch.
    #[error("no case summary for {coi} in patient-batch: is the case registered?")]
    CaseNotFound { coi: String },
    /// A batch is opened while the case is in manufacturing or awaiting QC.
    #[error("case {coi} is {state}; a batch is opened in IN_MANUFACTURING or QC_PENDING")]
    CaseNotInManufacturing { coi: String, state: String },
    /// Only the manufacturer holding the material opens its batch.
    #[error("case {coi} is held by {custodian}; {caller} cannot open its batch")]
    NotManufacturer {
        coi: String,
        custodian: String,
        caller: String,
    },
    /// One batch per case.
    #[error("batch {coi} is already open (status {status})")]
    BatchExists { coi: String, status: String },
    /// The batch must exist.
    #[error("no batch for {coi}: open it first")]
    BatchNotFound { coi: String },
    /// RELEASED, EXCEPTIONAL_RELEASE and REJECTED are final.
    #[error("batch {coi} is {status}, a final status: nothing more can be recorded")]
    BatchClosed { coi: String, status: String },
    /// Each transaction applies in given statuses.
    #[error("{action} needs batch {coi} in {expected}; it is {status}")]
    WrongStatus {
        action: &'static str,
        coi: String,
        status: String,
        expected: &'static str,
    },
    /// Results are for tests of the batch's specification.
    #[error("specification {product} v{version} has no test {test}")]
    UnknownTest {
        test: String,
        product: String,
        version: u32,
    },
    /// Results are reported in the specification's unit (no silent conversion).
    #[error("test {test} is reported in {expected:?}, not {given:?}")]
    UnitMismatch {
        test: String,
        expected: String,
        given: String,
    },
    /// A numeric criterion takes a number, a qualitative one text.
    #[error("test {test} takes {expected} as its value")]
    ValueKindMismatch {
        test: String,
        expected: &'static str,
    },
    /// A test has one original result; further ones are retests of it.
    #[error("test {test} already has result {existing}: record a retest with retest_of")]
    DuplicateResult { test: String, existing: String },
    /// A retest names an existing original result of the same test.
    #[error("result {result} is not an original result of test {test} in this batch")]
    RetestTargetInvalid { result: String, test: String },
    /// The deviation must exist in the batch.
    #[error("batch {coi} has no deviation {id}")]
    DeviationNotFound { coi: String, id: String },
    /// A deviation is closed once.
    #[error("deviation {id} is already closed")]
    DeviationAlreadyClosed { id: String },
    /// Certification needs complete evidence; lists what is missing.
    #[error("batch {coi} cannot be released: missing {missing}")]
    EvidenceIncomplete { coi: String, missing: Missing },
    /// An OOS investigation closes as a laboratory error only once retests pass.
    #[error("batch {coi}: the latest results of {failing:?} still fail; retest them, or reject")]
    OosNotResolved { coi: String, failing: Vec<String> },
    /// A ledger access failed (a bad key, a record that is not the expected JSON).
    #[error(transparent)]
    Ledger(#[from] ContractError),
}
