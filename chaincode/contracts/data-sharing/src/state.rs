//! The records of the data-sharing contract and the keys they live under
//! (composite keys, see `cellchain_contract::create_composite_key`):
//!
//! | key | record |
//! |---|---|
//! | `consent / consent id` | [`Consent`] |
//! | `dataset / dataset id` | [`Dataset`] |
//! | `access-request / tx id` | [`AccessRequest`]: every request with its decision (audit trail) |
//! | `grant / grant id (= tx id of the request)` | [`Grant`] |
//! | `consent~grant / consent id / grant id` | index marker: the grants resting on a consent, for withdrawal |
//! | `training-run / run id` | [`TrainingRun`] |
//!
//! Private, never in a block: collection `patient-links-<site MSP>` (e.g.
//! `patient-links-HospitalAMSP`), key = the case pseudonym, value
//! [`PatientLink`]. The collection's only member is that hospital (defined
//! with the chaincode definition).

use cellchain_contract::{create_composite_key, Result, Timestamp};
use serde::{Deserialize, Serialize};

pub const CONSENT: &str = "consent";
pub const DATASET: &str = "dataset";
pub const ACCESS_REQUEST: &str = "access-request";
pub const GRANT: &str = "grant";
pub const CONSENT_GRANT_INDEX: &str = "consent~grant";
pub const TRAINING_RUN: &str = "training-run";
pub const INDEX_MARKER: &[u8] = &[0];

/// Stored consent statuses; `EXPIRED` is computed from the proposal time.
pub mod consent_status {
    pub const ACTIVE: &str = "ACTIVE";
    pub const WITHDRAWN: &str = "WITHDRAWN";
    pub const EXPIRED: &str = "EXPIRED";
}

/// Grant statuses.
pub mod grant_status {
    pub const ACTIVE: &str = "ACTIVE";
    /// A consent it rests on was withdrawn: the grant stays on record (what
    /// was done before withdrawal stays lawful) but cannot be used again.
    pub const SUPERSEDED_BY_WITHDRAWAL: &str = "SUPERSEDED_BY_WITHDRAWAL";
}

/// The private data collection of a site's personal links.
pub fn patient_links_collection(site_msp: &str) -> String {
    format!("patient-links-{site_msp}")
}

pub fn consent_key(id: &str) -> Result<String> {
    create_composite_key(CONSENT, &[id])
}
pub fn dataset_key(id: &str) -> Result<String> {
    create_composite_key(DATASET, &[id])
}
pub fn request_key(id: &str) -> Result<String> {
    create_composite_key(ACCESS_REQUEST, &[id])
}
pub fn grant_key(id: &str) -> Result<String> {
    create_composite_key(GRANT, &[id])
}
pub fn consent_grant_key(consent: &str, grant: &str) -> Result<String> {
    create_composite_key(CONSENT_GRANT_INDEX, &[consent, grant])
}
pub fn training_run_key(id: &str) -> Result<String> {
    create_composite_key(TRAINING_RUN, &[id])
}

/// Who did something: certificate common name and organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub name: String,
    pub msp_id: String,
}

/// A withdrawal of consent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Withdrawal {
    pub by: Actor,
    pub at: Timestamp,
    /// Grants that rested on the consent, marked superseded.
    pub superseded_grants: Vec<String>,
}

/// A patient's consent to secondary use of their case's data. No personal
/// data: the case pseudonym and COI only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    pub id: String,
    pub coi: String,
    pub pseudonym: String,
    /// The controlling (treating) site.
    pub site_msp: String,
    /// DUO codes: permissions and modifiers.
    pub permitted_uses: Vec<String>,
    /// MSP ids that may receive the data.
    pub recipients: Vec<String>,
    pub expires_at: Timestamp,
    /// SHA-256 of the signed consent form (kept off-chain).
    pub form_sha256: String,
    /// `ACTIVE` or `WITHDRAWN` (see [`Consent::status_at`] for EXPIRED).
    pub status: String,
    pub registered_by: Actor,
    pub registered_at: Timestamp,
    pub withdrawal: Option<Withdrawal>,
}

impl Consent {
    /// The status at time `now`: WITHDRAWN, else EXPIRED from `expires_at`
    /// on, else ACTIVE.
    pub fn status_at(&self, now: Timestamp) -> &'static str {
        if self.status == consent_status::WITHDRAWN {
            consent_status::WITHDRAWN
        } else if now >= self.expires_at {
            consent_status::EXPIRED
        } else {
            consent_status::ACTIVE
        }
    }
}

/// A dataset held off-chain by its owner site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dataset {
    pub id: String,
    /// SHA-256 of the data, or the Merkle root of its parts (hex).
    pub root: String,
    pub uri: String,
    pub consents: Vec<String>,
    pub owner_msp: String,
    pub registered_by: Actor,
    pub registered_at: Timestamp,
}

/// Why a request was refused (data, not an error).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason")]
pub enum Refusal {
    ConsentWithdrawn {
        consent: String,
    },
    ConsentExpired {
        consent: String,
        expired_at: Timestamp,
    },
    PurposeNotPermitted {
        consent: String,
        purpose: String,
        permitted: Vec<String>,
    },
    RecipientNotListed {
        consent: String,
        recipient: String,
        recipients: Vec<String>,
    },
    /// The batch of the consent's case did not pass QC and release (status
    /// `NONE` when release has no batch for it).
    BatchNotReleased {
        coi: String,
        status: String,
    },
}

/// The contract's decision on an access request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision")]
pub enum Decision {
    Granted {
        request_id: String,
        grant_id: String,
        expires_at: Timestamp,
        /// DUO modifiers of the consents: conditions the grantee accepted.
        conditions: Vec<String>,
    },
    Refused {
        request_id: String,
        /// The consent the refusal is about.
        consent: String,
        reason: Refusal,
    },
}

/// An access request and its decision, recorded either way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRequest {
    pub id: String,
    pub requester_msp: String,
    pub requested_by: Actor,
    pub datasets: Vec<String>,
    pub purpose: String,
    pub protocol_sha256: String,
    pub requested_at: Timestamp,
    pub decision: Decision,
}

/// Permission to use datasets for one purpose under one protocol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub id: String,
    pub request_id: String,
    pub grantee_msp: String,
    pub datasets: Vec<String>,
    pub consents: Vec<String>,
    pub purpose: String,
    pub protocol_sha256: String,
    pub granted_at: Timestamp,
    /// The earliest expiry of its consents.
    pub expires_at: Timestamp,
    pub conditions: Vec<String>,
    pub status: String,
    /// Consents withdrawn since the grant (when superseded).
    pub withdrawn_consents: Vec<String>,
}

/// A dataset and the root the trainer used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetRoot {
    pub dataset: String,
    pub root: String,
}

/// The provenance of a model: grants, dataset roots, resulting model hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrainingRun {
    pub id: String,
    pub grantee_msp: String,
    pub recorded_by: Actor,
    pub grants: Vec<String>,
    pub dataset_roots: Vec<DatasetRoot>,
    pub model_sha256: String,
    pub recorded_at: Timestamp,
}

/// The private link from a case pseudonym to the hospital's patient record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatientLink {
    pub pseudonym: String,
    pub coi: String,
    pub patient_record_ref: String,
    pub linked_by: Actor,
    pub linked_at: Timestamp,
}
