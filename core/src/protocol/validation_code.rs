//! The per-transaction verdict the committer stores in each block.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a transaction is valid or not. An invalid transaction is data, not an error:
/// it stays in the block with its code, and its writes are not applied.
///
/// The numbers are stable (they enter the commit hash) and follow Fabric's
/// `TxValidationCode` where Fabric has the same rule. JSON carries the names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[repr(u8)]
pub enum TxValidationCode {
    /// Valid: its writes are applied.
    Valid = 0,
    /// The envelope is empty.
    NilEnvelope = 1,
    /// The payload does not parse.
    BadPayload = 2,
    /// The header is malformed.
    BadCommonHeader = 3,
    /// The creator is not a valid identity of the channel or its signature fails.
    BadCreatorSignature = 4,
    /// The endorser transaction is malformed or inconsistent with its header.
    InvalidEndorserTransaction = 5,
    /// A configuration transaction is invalid.
    InvalidConfigTransaction = 6,
    /// The payload type is not supported.
    UnsupportedTxPayload = 7,
    /// The tx id is not SHA-256(nonce || creator).
    BadProposalTxid = 8,
    /// The tx id is already in the ledger or earlier in this block.
    DuplicateTxid = 9,
    /// The endorsements do not satisfy the chaincode or key-level policy.
    EndorsementPolicyFailure = 10,
    /// A key read has changed since the simulation.
    MvccReadConflict = 11,
    /// A range scanned by the simulation has gained or lost keys.
    PhantomReadConflict = 12,
    /// The transaction type is unknown.
    UnknownTxType = 13,
    /// The channel named in the header is not this channel.
    TargetChainNotFound = 14,
    /// A message could not be decoded.
    MarshalTxError = 15,
    /// No transaction action.
    NilTxaction = 16,
    /// The chaincode definition has expired.
    ExpiredChaincode = 17,
    /// Endorsed under a chaincode definition that is no longer current.
    ChaincodeVersionConflict = 18,
    /// A header extension is invalid.
    BadHeaderExtension = 19,
    /// The channel header is invalid.
    BadChannelHeader = 20,
    /// The proposal response payload is invalid or does not answer the proposal.
    BadResponsePayload = 21,
    /// The read/write set is malformed.
    BadRwset = 22,
    /// The write set touches something it may not (e.g. another chaincode's namespace).
    IllegalWriteset = 23,
    /// The write set is invalid.
    InvalidWriteset = 24,
    /// The chaincode is not defined on this channel.
    InvalidChaincode = 25,
    /// Private data for the transaction could not be obtained or does not match its hash
    /// (CellChain specific).
    BadPrivateData = 100,
    /// Not validated yet.
    NotValidated = 254,
    /// Invalid for another reason.
    InvalidOtherReason = 255,
}

impl TxValidationCode {
    pub const fn as_u8(self) -> u8 {
        self as u8
    }

    pub fn is_valid(self) -> bool {
        self == TxValidationCode::Valid
    }

    /// Every code, for tables and round-trip tests.
    pub const ALL: [TxValidationCode; 29] = {
        use TxValidationCode::*;
        [
            Valid,
            NilEnvelope,
            BadPayload,
            BadCommonHeader,
            BadCreatorSignature,
            InvalidEndorserTransaction,
            InvalidConfigTransaction,
            UnsupportedTxPayload,
            BadProposalTxid,
            DuplicateTxid,
            EndorsementPolicyFailure,
            MvccReadConflict,
            PhantomReadConflict,
            UnknownTxType,
            TargetChainNotFound,
            MarshalTxError,
            NilTxaction,
            ExpiredChaincode,
            ChaincodeVersionConflict,
            BadHeaderExtension,
            BadChannelHeader,
            BadResponsePayload,
            BadRwset,
            IllegalWriteset,
            InvalidWriteset,
            InvalidChaincode,
            BadPrivateData,
            NotValidated,
            InvalidOtherReason,
        ]
    };

    pub fn from_u8(v: u8) -> Option<TxValidationCode> {
        Self::ALL.iter().copied().find(|c| c.as_u8() == v)
    }

    /// Fabric's name, e.g. `MVCC_READ_CONFLICT`.
    pub fn name(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }
}

impl fmt::Display for TxValidationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}
