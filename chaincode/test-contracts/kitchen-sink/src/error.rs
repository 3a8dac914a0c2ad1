//! The kitchen sink's domain errors: each reaches the client as a 400 with
//! this message.

use cellchain_contract::ContractError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KitchenSinkError {
    /// `fail` always refuses, with the caller's reason.
    #[error("refused: {reason}")]
    Refused { reason: String },
    /// A function that needs a transient input was called without it.
    #[error("transient input {name:?} is required: pass it beside the proposal")]
    MissingTransient { name: String },
    /// The caller lacks the domain role a function asked for.
    #[error("the caller's role is {actual:?}, {required} is required")]
    WrongRole {
        required: String,
        actual: Option<String>,
    },
    /// Values of this contract are UTF-8 text.
    #[error("the value of {key:?} is not UTF-8 text")]
    NotText { key: String },
    /// A ledger access failed.
    #[error(transparent)]
    Ledger(#[from] ContractError),
}
