//! Answers of the kitchen sink's functions.

use std::collections::BTreeMap;

use cellchain_contract::Timestamp;
use serde::{Deserialize, Serialize};

/// A key and its text value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub key: String,
    pub value: String,
}

/// One page of a paginated query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryPage {
    pub entries: Vec<Entry>,
    pub bookmark: Option<String>,
}

/// An entry found by its tag (a composite key `tag~id / tag / id`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tagged {
    pub tag: String,
    pub id: String,
    pub value: String,
}

/// Everything the proposal tells a contract about itself and its caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallerInfo {
    pub msp_id: String,
    pub role: String,
    pub attributes: BTreeMap<String, String>,
    pub common_name: String,
    pub subject: String,
    pub cert_hash: String,
    pub tx_id: String,
    pub channel_id: String,
    pub timestamp: Timestamp,
    pub function: String,
    pub transient_keys: Vec<String>,
}

/// A transient input and the names of all of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransientInfo {
    pub value: Option<String>,
    pub keys: Vec<String>,
}

/// A summary of sensor readings (e.g. temperatures in °C). Floats are fine in
/// contracts: the runtime canonicalises NaN, and a NaN is stored as JSON
/// `null`, so every endorser writes the same bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    pub count: usize,
    /// `null` (NaN) for no readings.
    pub mean: f64,
    pub min: f64,
    pub max: f64,
    /// The square root of the mean: NaN (`null`) for a negative mean, as in
    /// cryogenic storage.
    pub sqrt_mean: f64,
    /// Which of the fields above are NaN.
    pub nan_fields: Vec<String>,
}
