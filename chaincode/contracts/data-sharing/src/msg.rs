//! What clients send and receive, and the event payloads.

use cellchain_contract::Timestamp;
use serde::{Deserialize, Serialize};

use crate::state::{Consent, DatasetRoot, Refusal};

/// `register_consent` (SITE_CLIN of the case's site).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterConsent {
    pub consent_id: String,
    pub coi: String,
    /// Must equal the case's pseudonym in patient-batch.
    pub pseudonym: String,
    /// DUO codes, e.g. `["HMB", "IRB"]` or `["DS:MONDO:0005061"]`.
    pub permitted_uses: Vec<String>,
    /// MSP ids allowed to receive the data.
    pub recipients: Vec<String>,
    pub expires_at: Timestamp,
    pub form_sha256: String,
}

/// `register_dataset` (SITE_CLIN of the site controlling every consent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterDataset {
    pub dataset_id: String,
    /// SHA-256 or Merkle root of the off-chain data (64 lower-case hex).
    pub root: String,
    pub uri: String,
    pub consents: Vec<String>,
}

/// `request_access` (any organisation; the requester is the caller's MSP).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestAccess {
    pub datasets: Vec<String>,
    /// A DUO research purpose: GRU, HMB, DS:<disease> or POA.
    pub purpose: String,
    /// SHA-256 of the research protocol (kept off-chain).
    pub protocol_sha256: String,
}

/// `record_training_run` (the grantee).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordTrainingRun {
    pub run_id: String,
    pub grants: Vec<String>,
    pub dataset_roots: Vec<DatasetRoot>,
    pub model_sha256: String,
}

/// `get_consent`'s answer: the record and its status now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentView {
    pub consent: Consent,
    /// ACTIVE, WITHDRAWN or EXPIRED at the query's proposal time.
    pub status: String,
}

/// `link_patient`'s answer: where the link went (never the link itself: a
/// response is part of the transaction in the block).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkStored {
    pub collection: String,
    pub key: String,
}

/// `ConsentRegistered` and `ConsentWithdrawn`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentEvent {
    pub consent: String,
    pub coi: String,
    pub site_msp: String,
    /// For a withdrawal: the grants marked superseded.
    pub superseded_grants: Vec<String>,
}

/// `AccessGranted`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessGrantedEvent {
    pub request_id: String,
    pub grant_id: String,
    pub grantee_msp: String,
    pub purpose: String,
}

/// `AccessRefused`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRefusedEvent {
    pub request_id: String,
    pub requester_msp: String,
    pub consent: String,
    pub reason: Refusal,
}

/// `TrainingRunRecorded`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrainingRunEvent {
    pub run_id: String,
    pub grantee_msp: String,
    pub model_sha256: String,
}
