//! The records of patient-batch and the keys they live under.
//!
//! | key | value |
//! |---|---|
//! | `product / code / version(6 digits)` | [`ProductConfig`], one per version, never rewritten |
//! | `product-head / code` | [`ProductHead`]: the current version |
//! | `case / coi` | [`Case`] |
//! | `case-event / coi / seq(10 digits)` | [`CaseEvent`]: the timeline, in order by key |
//! | `site~state~case / site / state / coi` | index marker, moved on every state change |
//! | `din / din` | [`DinUse`]: a DIN belongs to one case only |
//! | `case-summary/{coi}` (plain key, [`therapy_common::case_summary_key`]) | [`therapy_common::CaseSummary`] |
//!
//! Zero-padded numbers keep key order equal to numeric order, so a range over
//! `case-event / coi` returns the timeline in sequence and the highest
//! product version is the last key.

use cellchain_contract::{create_composite_key, Result, Timestamp};
use serde::{Deserialize, Serialize};

/// Object type of product configuration versions.
pub const PRODUCT: &str = "product";
/// Object type of the pointer to a product's current configuration.
pub const PRODUCT_HEAD: &str = "product-head";
/// Object type of cases.
pub const CASE: &str = "case";
/// Object type of timeline events.
pub const CASE_EVENT: &str = "case-event";
/// Object type of the (site, state) index.
pub const SITE_STATE_INDEX: &str = "site~state~case";
/// Object type of the DIN registry.
pub const DIN: &str = "din";
/// The value of an index entry: the key carries everything.
pub const INDEX_MARKER: &[u8] = &[0];

/// The states of a case (DOMAIN.md), written upper-case on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum State {
    Ordered,
    SlotConfirmed,
    Collected,
    InTransitToMfg,
    ReceivedAtMfg,
    InManufacturing,
    QcPending,
    Released,
    InTransitToSite,
    ReceivedAtSite,
    Thawed,
    Infused,
    OnHold,
    Rejected,
    Destroyed,
    Cancelled,
    Recollect,
}

impl State {
    pub const ALL: [State; 17] = [
        State::Ordered,
        State::SlotConfirmed,
        State::Collected,
        State::InTransitToMfg,
        State::ReceivedAtMfg,
        State::InManufacturing,
        State::QcPending,
        State::Released,
        State::InTransitToSite,
        State::ReceivedAtSite,
        State::Thawed,
        State::Infused,
        State::OnHold,
        State::Rejected,
        State::Destroyed,
        State::Cancelled,
        State::Recollect,
    ];

    /// The name as written in DOMAIN.md and on the wire (`QC_PENDING`).
    pub fn as_str(self) -> &'static str {
        match self {
            State::Ordered => "ORDERED",
            State::SlotConfirmed => "SLOT_CONFIRMED",
            State::Collected => "COLLECTED",
            State::InTransitToMfg => "IN_TRANSIT_TO_MFG",
            State::ReceivedAtMfg => "RECEIVED_AT_MFG",
            State::InManufacturing => "IN_MANUFACTURING",
            State::QcPending => "QC_PENDING",
            State::Released => "RELEASED",
            State::InTransitToSite => "IN_TRANSIT_TO_SITE",
            State::ReceivedAtSite => "RECEIVED_AT_SITE",
            State::Thawed => "THAWED",
            State::Infused => "INFUSED",
            State::OnHold => "ON_HOLD",
            State::Rejected => "REJECTED",
            State::Destroyed => "DESTROYED",
            State::Cancelled => "CANCELLED",
            State::Recollect => "RECOLLECT",
        }
    }

    /// The state named `s` (upper-case, as [`State::as_str`]).
    pub fn parse(s: &str) -> Option<State> {
        State::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// No transition leaves these.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            State::Infused | State::Destroyed | State::Cancelled | State::Rejected
        )
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A shipment leg's direction; each has its own temperature range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    /// Site to manufacturer: fresh apheresis material (typically 2..8 °C).
    ToManufacturing,
    /// Manufacturer to site: cryopreserved product (LN2 vapour, about -150 °C or colder).
    ToSite,
}

impl std::fmt::Display for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Route::ToManufacturing => "to_manufacturing",
            Route::ToSite => "to_site",
        })
    }
}

/// An allowed temperature range in °C; a missing bound is open.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemperatureRange {
    pub min_c: Option<f64>,
    pub max_c: Option<f64>,
}

/// The allowed range of one route.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteLimits {
    pub route: Route,
    pub range: TemperatureRange,
}

/// One version of a product's configuration. A change is a new version; cases
/// keep the version they were created with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductConfig {
    pub product_code: String,
    /// Version of this configuration (1, 2, ...), assigned by the contract.
    pub version: u32,
    /// Version of the release specification batches are tested against.
    pub spec_version: u32,
    /// MSP ids of the manufacturers allowed to make this product.
    pub manufacturer_msps: Vec<String>,
    /// The sponsor organisation whose QA configured the product; its QA and QP
    /// act on the product's cases.
    pub sponsor_msp: String,
    pub routes: Vec<RouteLimits>,
    /// Longest time from collection to acceptance at the manufacturer.
    pub collection_to_receipt_max_hours: u32,
    /// Longest time from thaw to infusion.
    pub thaw_to_infusion_max_minutes: u32,
    /// Why this version was made (change control reference).
    pub reason: String,
    pub configured_by: Actor,
    pub configured_at: Timestamp,
}

impl ProductConfig {
    pub fn range(&self, route: Route) -> Option<TemperatureRange> {
        self.routes
            .iter()
            .find(|r| r.route == route)
            .map(|r| r.range)
    }
}

/// The current version of a product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductHead {
    pub product_code: String,
    pub version: u32,
}

/// Who did something (EPCIS "who"): the certificate's common name, its
/// organisation and its business role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub common_name: String,
    pub msp_id: String,
    pub role: Option<String>,
}

/// A collection of starting material under the case's COI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Collection {
    /// ISBT 128 DIN, with flags and check character.
    pub din: String,
    /// When the collection ended (event time, UTC).
    pub collected_at: Timestamp,
    pub recorded_by: Actor,
    /// False once a re-collection replaced it (kept for the record).
    pub current: bool,
}

/// A shipment leg in progress or done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shipment {
    /// GS1 SSCC of the shipping unit.
    pub sscc: String,
    /// The temperature logger travelling with it.
    pub logger_id: String,
    pub route: Route,
}

/// A summary of a logger's readings and the hash of the full file (kept off-chain).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConditionRecord {
    pub sscc: String,
    pub logger_id: String,
    pub route: Route,
    pub min_c: f64,
    pub max_c: f64,
    pub mean_c: f64,
    pub count: u32,
    pub first_reading: Timestamp,
    pub last_reading: Timestamp,
    pub logger_file_sha256: String,
    pub allowed: TemperatureRange,
    pub excursion: bool,
    pub recorded_by: Actor,
    pub event_seq: u64,
}

/// A proposed custody handover, waiting for the receiver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handover {
    pub from_msp: String,
    pub to_msp: String,
    pub proposed_by: Actor,
    /// The case state when proposed; accepting requires the same state.
    pub proposed_in: State,
    pub shipment: Option<Shipment>,
    pub proposed_at: Timestamp,
    pub event_seq: u64,
}

/// What a deviation is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeviationKind {
    /// A shipment's readings left the route's range (puts the case on hold).
    TemperatureExcursion,
    /// Collection to acceptance at the manufacturer took longer than configured.
    CollectionToReceiptWindow,
    /// Thaw to infusion took longer than configured.
    ThawToInfusionWindow,
    /// A custody discrepancy reported by QA or the manufacturer.
    Custody,
    /// Anything else QA or the manufacturer reports.
    Other,
}

impl DeviationKind {
    /// Counts against `condition_clean` in the case summary.
    pub fn affects_condition(self) -> bool {
        matches!(
            self,
            DeviationKind::TemperatureExcursion
                | DeviationKind::CollectionToReceiptWindow
                | DeviationKind::ThawToInfusionWindow
        )
    }
}

/// A deviation recorded against the case; closed by QA with a reason, never deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deviation {
    /// 1, 2, ... within the case.
    pub id: u32,
    pub kind: DeviationKind,
    pub description: String,
    /// True if it put the case on hold.
    pub holds: bool,
    pub opened_by: Actor,
    pub opened_at: Timestamp,
    pub opened_in_event: u64,
    pub closure: Option<Closure>,
}

/// How a deviation was closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Closure {
    pub reason: String,
    pub closed_by: Actor,
    pub closed_at: Timestamp,
    pub event_seq: u64,
}

/// A case: one patient's batch, from order to infusion. No personal data:
/// the patient is the random pseudonym.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    pub coi: String,
    pub pseudonym: String,
    pub site_msp: String,
    pub product_code: String,
    /// The product configuration version the case was created with.
    pub product_version: u32,
    pub spec_version: u32,
    pub manufacturer_msp: String,
    pub sponsor_msp: String,
    pub state: State,
    /// While ON_HOLD: the state to return to.
    pub held_from: Option<State>,
    /// The organisation responsible for the material now.
    pub custodian_msp: String,
    /// Every collection, oldest first; the last one is current.
    pub collections: Vec<Collection>,
    pub pending_handover: Option<Handover>,
    /// The shipment leg under way (set when a leg starts, cleared on arrival).
    pub shipment: Option<Shipment>,
    pub conditions: Vec<ConditionRecord>,
    pub deviations: Vec<Deviation>,
    pub thawed_at: Option<Timestamp>,
    /// Event time of the latest timeline event; later events may not precede it.
    pub last_event_time: Timestamp,
    /// Number of timeline events (the next event's sequence number).
    pub event_count: u64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Case {
    /// The DIN of the current collection.
    pub fn current_din(&self) -> Option<&str> {
        self.collections
            .iter()
            .rev()
            .find(|c| c.current)
            .map(|c| c.din.as_str())
    }

    pub fn open_deviations(&self) -> impl Iterator<Item = &Deviation> {
        self.deviations.iter().filter(|d| d.closure.is_none())
    }

    pub fn summary(&self) -> therapy_common::CaseSummary {
        therapy_common::CaseSummary {
            coi: self.coi.clone(),
            pseudonym: self.pseudonym.clone(),
            site_msp: self.site_msp.clone(),
            product_code: self.product_code.clone(),
            spec_version: self.spec_version,
            state: self.state.as_str().to_string(),
            custodian_msp: self.custodian_msp.clone(),
            din: self.current_din().map(str::to_string),
            custody_clean: self.pending_handover.is_none()
                && !self
                    .open_deviations()
                    .any(|d| d.kind == DeviationKind::Custody),
            condition_clean: !self.open_deviations().any(|d| d.kind.affects_condition()),
            open_deviations: self.open_deviations().count() as u32,
        }
    }
}

/// EPCIS "when": the event time as the client gave it and the record time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct When {
    /// The event time in UTC.
    pub event_time: Timestamp,
    /// The client's zone offset, `+HH:MM`.
    pub event_time_zone_offset: String,
    /// The transaction's timestamp.
    pub record_time: Timestamp,
    pub tx_id: String,
}

/// EPCIS "where" (GS1 SGLN or site-specific ids).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Where {
    pub read_point: Option<String>,
    pub biz_location: Option<String>,
}

/// EPCIS "why": CBV business step and disposition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Why {
    pub biz_step: String,
    pub disposition: String,
}

/// EPCIS "what": the operation and the identifiers it concerns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct What {
    /// The transaction that recorded it (`record_collection`, ...).
    pub operation: String,
    /// Identifiers involved, prefixed (`coi:..`, `din:..`, `sscc:..`).
    pub ids: Vec<String>,
    /// Free text given by the caller (a reason, a note).
    pub note: Option<String>,
    /// For condition records: the summary of readings.
    pub sensor: Option<ConditionRecord>,
    /// Deviations opened or closed by this event.
    pub deviations: Vec<u32>,
    /// For an error declaration: the sequence number of the event it corrects.
    pub corrects: Option<u64>,
}

/// One event of a case's timeline, appended and never edited.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseEvent {
    pub coi: String,
    pub seq: u64,
    pub what: What,
    pub when: When,
    #[serde(rename = "where")]
    pub where_: Where,
    pub why: Why,
    pub who: Actor,
    pub state_before: State,
    pub state_after: State,
    pub custodian_after: String,
}

/// Which case a DIN belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DinUse {
    pub din: String,
    pub coi: String,
}

pub fn product_key(code: &str, version: u32) -> Result<String> {
    create_composite_key(PRODUCT, &[code, &format!("{version:06}")])
}

pub fn product_head_key(code: &str) -> Result<String> {
    create_composite_key(PRODUCT_HEAD, &[code])
}

pub fn case_key(coi: &str) -> Result<String> {
    create_composite_key(CASE, &[coi])
}

pub fn event_key(coi: &str, seq: u64) -> Result<String> {
    create_composite_key(CASE_EVENT, &[coi, &format!("{seq:010}")])
}

pub fn site_state_key(site: &str, state: State, coi: &str) -> Result<String> {
    create_composite_key(SITE_STATE_INDEX, &[site, state.as_str(), coi])
}

pub fn din_key(din: &str) -> Result<String> {
    create_composite_key(DIN, &[din])
}
