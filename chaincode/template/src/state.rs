//! The records of the registry and the keys they live under.
//!
//! Keys are composite keys (see `cellchain_contract::create_composite_key`):
//! `item / id` holds the [`Item`], and the index `owner~item / owner / id`
//! holds an empty marker so that "items of an owner" is one partial-key range
//! instead of a scan of every item.

use cellchain_contract::{create_composite_key, Result, Timestamp};
use serde::{Deserialize, Serialize};

/// The object type of item records.
pub const ITEM: &str = "item";
/// The object type of the owner index.
pub const OWNER_INDEX: &str = "owner~item";
/// The value of an index entry: the key carries everything.
pub const INDEX_MARKER: &[u8] = &[0];

/// An item as stored on the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    pub id: String,
    pub description: String,
    /// The owning organisation (MSP id).
    pub owner: String,
    /// Who registered it (certificate common name and organisation).
    pub registered_by: String,
    /// Proposal time of the registration and of the last change.
    pub registered_at: Timestamp,
    pub updated_at: Timestamp,
}

/// The key of an item record.
pub fn item_key(id: &str) -> Result<String> {
    create_composite_key(ITEM, &[id])
}

/// The key of an owner index entry.
pub fn owner_index_key(owner: &str, id: &str) -> Result<String> {
    create_composite_key(OWNER_INDEX, &[owner, id])
}
