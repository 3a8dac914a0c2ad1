//! The domain errors of the registry. Each variant is one rule; its message is
//! what the client sees (status 400), so it says what was wrong and what to do.

use cellchain_contract::ContractError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// Item ids are short, printable identifiers.
    #[error("invalid item id {id:?}: {reason}")]
    InvalidId { id: String, reason: &'static str },
    /// Descriptions are bounded so records stay small.
    #[error("the description has {len} characters; at most {max} are allowed")]
    DescriptionTooLong { len: usize, max: usize },
    /// An id is registered once.
    #[error("item {id} is already registered (owned by {owner})")]
    AlreadyRegistered { id: String, owner: String },
    /// The item must exist.
    #[error("item {id} is not registered")]
    NotFound { id: String },
    /// Only the owning organisation may transfer an item.
    #[error("item {id} is owned by {owner}; {caller} cannot transfer it")]
    NotOwner {
        id: String,
        owner: String,
        caller: String,
    },
    /// A transfer must change the owner.
    #[error("item {id} is already owned by {owner}")]
    SameOwner { id: String, owner: String },
    /// Organisation names are MSP ids, never empty.
    #[error("the new owner must be an organisation's MSP id, e.g. Org2MSP")]
    EmptyOwner,
    /// A ledger access failed (a bad key, a record that is not the expected JSON).
    #[error(transparent)]
    Ledger(#[from] ContractError),
}
