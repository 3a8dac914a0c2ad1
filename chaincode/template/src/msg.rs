//! What clients send and receive. Each transaction takes one request struct,
//! so clients can send its fields as a JSON object:
//! `["register", {"id": "pump-7", "description": "infusion pump"}]`.

use serde::{Deserialize, Serialize};

/// `register`: a new item, owned by the caller's organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterItem {
    pub id: String,
    pub description: String,
}

/// `transfer`: hand an item to another organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferItem {
    pub id: String,
    /// The receiving organisation's MSP id.
    pub new_owner: String,
}

/// The payload of the `ItemRegistered` and `ItemTransferred` events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemEvent {
    pub id: String,
    /// The previous owner (`None` at registration).
    pub from: Option<String>,
    pub to: String,
}
