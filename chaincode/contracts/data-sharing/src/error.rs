//! The domain errors of data-sharing: malformed input and wrong callers. A
//! refused access request is not an error (it is a recorded decision, see
//! `state::Decision`).

use cellchain_contract::{ContractError, Timestamp};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DataSharingError {
    /// Ids are short printable identifiers.
    #[error("invalid {what} {id:?}: {reason}")]
    InvalidId {
        what: &'static str,
        id: String,
        reason: &'static str,
    },
    /// COIs are ISBT 128 chain-of-identity ids.
    #[error("invalid COI {coi:?}: {reason}")]
    InvalidCoi { coi: String, reason: String },
    /// Hashes are 64 lower-case hex characters.
    #[error("{field} must be a SHA-256 in 64 lower-case hex characters, got {value:?}")]
    InvalidSha256 { field: &'static str, value: String },
    /// Lists that carry meaning are not empty.
    #[error("{field} must not be empty")]
    EmptyField { field: &'static str },
    /// A list names each item once.
    #[error("{field} names {item} more than once")]
    Duplicate { field: &'static str, item: String },
    /// Each transaction is reserved to business roles (certificate attribute `role`).
    #[error("{action} needs the role {required}; the caller has {caller_role}")]
    WrongRole {
        action: &'static str,
        required: &'static str,
        caller_role: String,
    },
    /// Auditors read; they do not request data or record runs.
    #[error("{action}: the AUDITOR role is read-only")]
    ReadOnlyCaller { action: &'static str },
    /// Consents are DUO codes.
    #[error("{code:?} is not a valid DUO code: {reason}")]
    InvalidDuoCode { code: String, reason: String },
    /// A consent has one primary DUO permission (NRES, GRU, HMB or POA) or
    /// one or more disease-specific ones.
    #[error("permitted uses need one DUO permission (NRES, GRU, HMB, POA) or DS:<disease> codes; got {permissions:?}")]
    PrimaryPermission { permissions: Vec<String> },
    /// A request's purpose is a DUO research purpose.
    #[error("invalid purpose {purpose:?}: {reason}")]
    InvalidPurpose { purpose: String, reason: String },
    /// The case must have a summary in patient-batch.
    #[error("no case summary for {coi} in patient-batch: is the case registered?")]
    CaseNotFound { coi: String },
    /// The consent's pseudonym is the case's.
    #[error("the pseudonym does not match case {coi}'s")]
    PseudonymMismatch { coi: String },
    /// Only the case's treating site registers and withdraws its consents and links.
    #[error("case {coi} belongs to {site}; {caller} cannot act for it")]
    NotTheSite {
        coi: String,
        site: String,
        caller: String,
    },
    /// An expiry lies in the future.
    #[error("the expiry {expires_at:?} is not after the proposal time {now:?}")]
    ExpiryInPast {
        expires_at: Timestamp,
        now: Timestamp,
    },
    /// A consent id is registered once.
    #[error("consent {id} is already registered")]
    ConsentExists { id: String },
    /// The consent must exist.
    #[error("consent {id} is not registered")]
    ConsentNotFound { id: String },
    /// A consent is withdrawn once.
    #[error("consent {id} was already withdrawn")]
    AlreadyWithdrawn { id: String },
    /// A dataset is registered by the site controlling every consent it covers.
    #[error("consent {consent} is controlled by {site}; {caller} cannot register data under it")]
    NotControllingSite {
        consent: String,
        site: String,
        caller: String,
    },
    /// A dataset id is registered once.
    #[error("dataset {id} is already registered")]
    DatasetExists { id: String },
    /// The dataset must exist.
    #[error("dataset {id} is not registered")]
    DatasetNotFound { id: String },
    /// The grant must exist.
    #[error("grant {id} does not exist")]
    GrantNotFound { id: String },
    /// A grant is used by its grantee only.
    #[error("grant {grant} was issued to {grantee}; {caller} cannot use it")]
    NotGrantee {
        grant: String,
        grantee: String,
        caller: String,
    },
    /// A grant is used while active.
    #[error("grant {grant} is {status}; request access again")]
    GrantNotActive { grant: String, status: String },
    /// A grant is used before it expires.
    #[error("grant {grant} expired at {expired_at:?}")]
    GrantExpired {
        grant: String,
        expired_at: Timestamp,
    },
    /// A training run uses only datasets its grants cover.
    #[error("dataset {dataset} is not covered by the grants {grants:?}")]
    DatasetNotGranted {
        dataset: String,
        grants: Vec<String>,
    },
    /// The data used is the data registered.
    #[error("dataset {dataset} has root {recorded}, not {given}: the data changed")]
    RootMismatch {
        dataset: String,
        recorded: String,
        given: String,
    },
    /// A training run id is recorded once.
    #[error("training run {id} is already recorded")]
    TrainingRunExists { id: String },
    /// The access request must exist.
    #[error("access request {id} does not exist")]
    RequestNotFound { id: String },
    /// The training run must exist.
    #[error("training run {id} is not recorded")]
    TrainingRunNotFound { id: String },
    /// The personal link comes as a transient input, never as an argument.
    #[error(
        "put the patient record reference in the transient input {key:?} (never in the arguments)"
    )]
    MissingTransient { key: &'static str },
    /// No link recorded for the case.
    #[error("no patient link for case {coi} in this site's collection")]
    LinkNotFound { coi: String },
    /// A ledger access failed (a bad key, a record that is not the expected JSON).
    #[error(transparent)]
    Ledger(#[from] ContractError),
}
