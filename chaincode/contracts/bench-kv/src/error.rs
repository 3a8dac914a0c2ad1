//! The domain errors of `bench-kv` (status 400 to the client).

use cellchain_contract::ContractError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BenchError {
    /// Keys are non-empty and do not start with the composite-key marker.
    #[error("invalid key {key:?}: {reason}")]
    InvalidKey { key: String, reason: &'static str },
    /// A read-modify-write needs the key to exist (seed it first).
    #[error("key {key} does not exist: seed it before updating it")]
    NotFound { key: String },
    /// `seed` writes a bounded number of keys per transaction.
    #[error("seed writes at most {max} keys per transaction, not {count}")]
    TooMany { count: u64, max: u64 },
    /// Values are bounded so a mistaken size cannot fill the ledger.
    #[error("a value of {size} bytes is too large; at most {max}")]
    TooLarge { size: u64, max: u64 },
    #[error(transparent)]
    Ledger(#[from] ContractError),
}
