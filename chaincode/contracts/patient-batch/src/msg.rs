//! What clients send and receive. Each submitted transaction takes one
//! request struct (send its fields as one JSON object). Unknown fields are
//! refused, so a misspelt optional field is an error rather than ignored.
//!
//! Most requests carry the EPCIS context of the event:
//! - `event_time`: when it happened, RFC 3339 with a zone
//!   (`2026-01-01T09:30:00+01:00`); absent means "now" (the proposal time).
//!   Refused if later than the proposal time plus [`crate::contract::MAX_CLOCK_SKEW_SECONDS`]
//!   or earlier than the case's previous event (back-dating);
//! - `location`: read point and business location (GS1 SGLN or local ids).

use serde::{Deserialize, Serialize};

use crate::state::{Case, CaseEvent, DeviationKind, Handover, RouteLimits, Shipment, State, Where};

/// `configure_product`: a new version of a product's configuration (QA).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigureProduct {
    pub product_code: String,
    pub spec_version: u32,
    pub manufacturer_msps: Vec<String>,
    /// One range per route; both `to_manufacturing` and `to_site` are required.
    pub routes: Vec<RouteLimits>,
    pub collection_to_receipt_max_hours: u32,
    pub thaw_to_infusion_max_minutes: u32,
    /// Why (a change-control reference); required.
    pub reason: String,
}

/// `create_case`: the treating site orders a batch for a patient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateCase {
    pub coi: String,
    /// 32 lower-case hex characters drawn at random by the site; its link to
    /// the patient stays off-chain.
    pub pseudonym: String,
    pub product_code: String,
    pub manufacturer_msp: String,
    pub event_time: Option<String>,
    pub location: Option<Where>,
}

/// Requests that name only the case and the event's context
/// (`confirm_slot`, `start_manufacturing`, `complete_manufacturing`,
/// `record_thaw`, `accept_handover`, `record_release_decision`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseStep {
    pub coi: String,
    /// A free-text note for the timeline (a slot reference, a batch record
    /// reference: never personal data).
    pub note: Option<String>,
    /// SHA-256 of an off-chain document (e.g. the batch record at
    /// `complete_manufacturing`).
    pub document_sha256: Option<String>,
    pub event_time: Option<String>,
    pub location: Option<Where>,
}

/// Requests that need a reason (`cancel_case`, `destroy`,
/// `request_recollection`, `reject_handover`, `cancel_handover`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseReason {
    pub coi: String,
    pub reason: String,
    pub event_time: Option<String>,
    pub location: Option<Where>,
}

/// `record_collection`: the apheresis unit records a collection and its DIN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordCollection {
    pub coi: String,
    /// ISBT 128 DIN with flags and check character (16 characters).
    pub din: String,
    /// When the collection ended; the start of the collection-to-receipt window.
    pub event_time: Option<String>,
    pub location: Option<Where>,
}

/// `propose_handover`: the custodian offers the material to the receiver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProposeHandover {
    pub coi: String,
    /// The receiving organisation.
    pub to_msp: String,
    /// Required when a shipment leg starts (site to courier, manufacturer to
    /// courier); on a later handover of the same leg it may be repeated and
    /// must then match.
    pub shipment: Option<Shipment>,
    pub event_time: Option<String>,
    pub location: Option<Where>,
}

/// `record_shipment_condition`: the courier in custody records the logger's
/// summary and the hash of its file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordCondition {
    pub coi: String,
    pub logger_id: String,
    pub min_c: f64,
    pub max_c: f64,
    pub mean_c: f64,
    pub count: u32,
    /// RFC 3339 with zone.
    pub first_reading: String,
    pub last_reading: String,
    pub logger_file_sha256: String,
    pub event_time: Option<String>,
    pub location: Option<Where>,
}

/// `report_deviation`: QA or the manufacturer records a deviation, optionally
/// putting the case on hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportDeviation {
    pub coi: String,
    pub kind: DeviationKind,
    pub description: String,
    pub hold: bool,
    pub event_time: Option<String>,
}

/// `close_deviation`: QA closes a deviation with a reason; when no holding
/// deviation stays open, an ON_HOLD case returns to its previous state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloseDeviation {
    pub coi: String,
    pub deviation_id: u32,
    pub reason: String,
    pub event_time: Option<String>,
}

/// `record_infusion`: the bedside scan of the product's COI and DIN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordInfusion {
    pub coi: String,
    pub scanned_coi: String,
    pub scanned_din: String,
    pub event_time: Option<String>,
    pub location: Option<Where>,
}

/// `declare_correction`: an EPCIS error declaration about an earlier event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclareCorrection {
    pub coi: String,
    /// The sequence number of the event being corrected.
    pub corrects: u64,
    /// What was wrong and what is right.
    pub reason: String,
}

/// `get_case`: the case, its timeline, its custodian and any pending handover.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseView {
    pub case: Case,
    pub timeline: Vec<CaseEvent>,
    pub custodian_msp: String,
    pub pending_handover: Option<Handover>,
    pub summary: therapy_common::CaseSummary,
}

/// Who is expected to act next on a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextStep {
    pub msp_id: String,
    pub roles: Vec<String>,
    pub operation: String,
}

/// Payload of `CaseStateChanged`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseStateChanged {
    pub coi: String,
    /// `None` when the case is created.
    pub from: Option<State>,
    pub to: State,
    pub custodian_msp: String,
    /// `None` in a terminal state.
    pub next: Option<NextStep>,
}

/// Payload of `HandoverProposed`, `HandoverAccepted`, `HandoverRejected`
/// and `HandoverCancelled`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandoverEvent {
    pub coi: String,
    pub from_msp: String,
    pub to_msp: String,
    pub shipment: Option<Shipment>,
}

/// Payload of `DeviationOpened` and `DeviationClosed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviationEvent {
    pub coi: String,
    pub deviation_id: u32,
    pub kind: DeviationKind,
    pub holds: bool,
    pub open_deviations: u32,
}
