//! The domain errors of patient-batch. Each variant is one rule; its message
//! is what the client sees (status 400), so it says what was wrong and what
//! to do. A refused call writes nothing.

use cellchain_contract::ContractError;

use crate::state::{Route, State};

fn states(s: &[State]) -> String {
    s.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CaseError {
    /// COI, DIN, SSCC, pseudonym and hashes follow their standards (therapy_common::ids).
    #[error("invalid {kind}: {reason}")]
    InvalidIdentifier { kind: &'static str, reason: String },
    /// Text fields are present where required and bounded.
    #[error("invalid {field}: {reason}")]
    InvalidField { field: &'static str, reason: String },
    /// A logger summary must be self-consistent.
    #[error("the reading summary is inconsistent: {reason}")]
    InvalidReadings { reason: String },
    /// Auditors read; they never write.
    #[error("{operation}: the AUDITOR role is read-only; use the queries")]
    ReadOnlyRole { operation: &'static str },
    /// Each operation is reserved to business roles (certificate attribute `role`).
    #[error(
        "{operation} needs role {} ; the caller has {}",
        required.join(" or "),
        caller_role.as_deref().unwrap_or("no role attribute")
    )]
    WrongRole {
        operation: &'static str,
        required: Vec<String>,
        caller_role: Option<String>,
    },
    /// Each operation is reserved to the organisation playing its part in the case.
    #[error("{operation} on {coi}: only {party} ({expected}) may do this; the caller is from {caller_msp}")]
    WrongOrganisation {
        operation: &'static str,
        coi: String,
        party: &'static str,
        expected: String,
        caller_msp: String,
    },
    /// The state machine of DOMAIN.md.
    #[error(
        "{operation} is not allowed for case {coi} in state {state}; it needs state {}",
        states(expected)
    )]
    IllegalTransition {
        coi: String,
        operation: &'static str,
        state: State,
        expected: Vec<State>,
    },
    /// A COI identifies one case.
    #[error("case {coi} already exists (site {site_msp}, state {state})")]
    CaseExists {
        coi: String,
        site_msp: String,
        state: State,
    },
    #[error("case {coi} does not exist")]
    CaseNotFound { coi: String },
    #[error("product {product_code} is not configured; QA must run configure_product first")]
    ProductNotFound { product_code: String },
    #[error("product {product_code} has no configuration version {version}")]
    ProductVersionNotFound { product_code: String, version: u32 },
    /// The manufacturer must be one the product's configuration allows.
    #[error("{manufacturer_msp} may not manufacture {product_code}; allowed: {}", allowed.join(", "))]
    ManufacturerNotAllowed {
        product_code: String,
        manufacturer_msp: String,
        allowed: Vec<String>,
    },
    /// A DIN identifies one collection of one case.
    #[error("DIN {din} is already used by case {coi}")]
    DinAlreadyUsed { din: String, coi: String },
    /// One handover at a time.
    #[error("case {coi} already has a handover pending from {from_msp} to {to_msp}; it must be accepted, rejected or cancelled first")]
    HandoverPending {
        coi: String,
        from_msp: String,
        to_msp: String,
    },
    #[error("case {coi} has no pending handover")]
    NoPendingHandover { coi: String },
    /// The receiver must be the next party of the chain.
    #[error("case {coi} in state {state} cannot be handed to {to_msp}; expected {expected}")]
    WrongReceiver {
        coi: String,
        state: State,
        to_msp: String,
        expected: String,
    },
    /// A shipment leg starts with its SSCC, logger and route.
    #[error("case {coi}: a handover in state {state} starts a shipment; give shipment {{sscc, logger_id, route: {route}}}")]
    ShipmentRequired {
        coi: String,
        state: State,
        route: Route,
    },
    /// The route follows the direction of travel.
    #[error("case {coi}: the shipment goes {expected}, not {route}")]
    WrongRoute {
        coi: String,
        route: Route,
        expected: Route,
    },
    /// A relay handover carries the shipment already under way.
    #[error("case {coi}: the shipment under way is SSCC {expected_sscc} with logger {expected_logger}; got SSCC {sscc} with logger {logger_id}")]
    ShipmentMismatch {
        coi: String,
        expected_sscc: String,
        expected_logger: String,
        sscc: String,
        logger_id: String,
    },
    /// A shipment ends only after its logger data was recorded.
    #[error("case {coi}: record the condition of shipment {sscc} (record_shipment_condition) before accepting it")]
    ConditionNotRecorded { coi: String, sscc: String },
    /// Condition records are for the logger travelling with the shipment.
    #[error("case {coi}: the shipment's logger is {expected}, not {logger_id}")]
    LoggerMismatch {
        coi: String,
        expected: String,
        logger_id: String,
    },
    /// Event times may not be in the future.
    #[error("event time {event_time} is later than the record time {record_time} plus {max_skew_seconds} s")]
    EventTimeInFuture {
        event_time: String,
        record_time: String,
        max_skew_seconds: i64,
    },
    /// Event times may not precede the case's previous event (back-dating).
    #[error("event time {event_time} is before case {coi}'s previous event at {previous}; back-dated entries are refused (use declare_correction to correct the record)")]
    EventTimeBeforePrevious {
        coi: String,
        event_time: String,
        previous: String,
    },
    #[error("invalid event time: {reason}")]
    InvalidEventTime { reason: String },
    /// The bedside scan must match the case.
    #[error("IDENTITY MISMATCH: case {coi} has DIN {}; scanned COI {scanned_coi}, DIN {scanned_din}. Do not infuse", din.as_deref().unwrap_or("none"))]
    IdentityMismatch {
        coi: String,
        din: Option<String>,
        scanned_coi: String,
        scanned_din: String,
    },
    #[error("case {coi} has no deviation {id}")]
    DeviationNotFound { coi: String, id: u32 },
    #[error("deviation {id} of case {coi} is already closed")]
    DeviationAlreadyClosed { coi: String, id: u32 },
    #[error("case {coi} has no timeline event {seq}")]
    EventNotFound { coi: String, seq: u64 },
    /// RELEASED comes only from the release contract's decision.
    #[error("release has no batch record for case {coi}; the batch must be released there first")]
    BatchSummaryMissing { coi: String },
    #[error("the batch of case {coi} is {status} in release; only RELEASED, EXCEPTIONAL_RELEASE or REJECTED can be recorded")]
    BatchNotDecided { coi: String, status: String },
    #[error("the batch of case {coi} was tested against specification {batch_spec}, the case needs {case_spec}")]
    BatchSpecMismatch {
        coi: String,
        case_spec: u32,
        batch_spec: u32,
    },
    /// A ledger access failed (a bad key, a record that is not the expected JSON).
    #[error(transparent)]
    Ledger(#[from] ContractError),
}
