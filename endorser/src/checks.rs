//! The checks a signed proposal passes before anything runs, as plain functions
//! over the channel's configuration (no IO; the clock is passed in). "Parse, then
//! trust": [`ChannelTrust::verify`] turns a decoded proposal into a
//! [`VerifiedProposal`], and code downstream never re-checks it.
//!
//! In order, the first failure deciding the answer:
//!
//! | # | rule | error | HTTP |
//! |---|---|---|---|
//! | 1 | the body is a `SignedProposal` and its proposal bytes a `Proposal` | `malformed` | 400 |
//! | 2 | the proposal names the channel of the path | `wrong_channel` | 400 |
//! | 3 | the channel is served by this endorser | `unknown_channel` | 404 |
//! | 4 | the creator is a valid identity of the channel's organisations now | `invalid_creator` | 403 |
//! | 5 | the creator's signature over `signing::proposal_message` verifies | `bad_signature` | 403 |
//! | 6 | the channel's ACL (`peer/Propose` or `peer/Evaluate`) admits the creator | `access_denied` | 403 |
//! | 7 | tx id = SHA-256(nonce \|\| creator) | `bad_tx_id` | 400 |
//! | 8 | the timestamp is within `proposal_skew` of the endorser's clock | `stale_timestamp` | 400 |
//! | 9 | the transient map matches the signed transient digest | `transient_mismatch` | 400 |
//! | 10 | the tx id is not committed (replica's tx-id index) | `duplicate_tx_id` | 409 |
//! | 11 | the chaincode is defined on the channel (`_lifecycle` always is) | `chaincode_not_defined` | 404 |
//! | 12 | this endorser has installed the module whose SHA-256 the definition names | `chaincode_not_installed` | 404 |
//! | 13 | after the simulation: the collections touched are defined, and the creator's organisation is a member of those it writes (`member_only_write`) or reads (`member_only_read`) | `collection_access_denied` | 403 |
//!
//! Rules 1-9 are here; 10-13 need the replica, the installed modules and the
//! simulation and are applied by [`crate::endorse`] (13 also in evaluate mode,
//! for reads; a chaincode error response is checked for reads too, as its
//! message may carry what was read). The creator's signature is checked before
//! the tx id and the transient digest so that only an authenticated client
//! learns why its proposal is inconsistent.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use cellchain_core::bytes::sha256;
use cellchain_core::config::ChannelConfig;
use cellchain_core::crypto::CryptoProvider;
use cellchain_core::identity::{Identity, MspSet};
use cellchain_core::protocol::{
    decode, transient_digest, NsRwSet, Proposal, SignedProposal, Timestamp, TxId,
};
use cellchain_core::Hash32;
use cellchain_validation::ChaincodeDefinition;

/// Which door a proposal came through: each has its own ACL resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `endorse`: simulate and sign (ACL `peer/Propose`, Writers by default).
    Propose,
    /// `evaluate`: a read-only query, nothing signed (ACL `peer/Evaluate`, Readers).
    Evaluate,
}

impl Mode {
    pub fn acl_resource(self) -> &'static str {
        match self {
            Mode::Propose => "peer/Propose",
            Mode::Evaluate => "peer/Evaluate",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Propose => "endorse",
            Mode::Evaluate => "evaluate",
        }
    }
}

/// Why a proposal was refused (nothing ran). Each says what was wrong and what
/// to do; [`ProposalError::status`] maps it to HTTP, [`ProposalError::kind`]
/// names it for clients and metrics.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProposalError {
    /// The body is not a signed proposal, or its proposal bytes do not decode.
    #[error("malformed proposal: {reason}")]
    Malformed { reason: String },
    /// The proposal names another channel than the one in the path.
    #[error("the proposal is for channel {found}, but was sent to channel {expected}")]
    WrongChannel { expected: String, found: String },
    /// This endorser does not serve the channel.
    #[error("channel {channel} is not served by this endorser (it serves: {served})")]
    UnknownChannel { channel: String, served: String },
    /// The creator's certificate is not a valid identity of a channel member now.
    #[error("the creator is not a valid identity of channel {channel}: {reason}")]
    InvalidCreator { channel: String, reason: String },
    /// The creator's signature over the proposal bytes does not verify.
    #[error("the proposal signature does not verify for its creator {creator}: sign the exact proposal bytes with the creator's key")]
    BadSignature { creator: String },
    /// The creator is valid but the channel's ACL does not admit it.
    #[error("{creator} may not use {resource} on channel {channel}: the policy {policy} is not satisfied")]
    AccessDenied {
        creator: String,
        channel: String,
        resource: &'static str,
        policy: String,
    },
    /// The tx id is not SHA-256(nonce || creator).
    #[error("the transaction id {found} is not SHA-256(nonce || creator) = {expected}")]
    BadTxId { expected: String, found: String },
    /// The timestamp is too far from the endorser's clock (a replay, or a
    /// client with a wrong clock).
    #[error("the proposal timestamp is {off_ms} ms from the endorser's clock, more than the accepted {skew_ms} ms: check the client's clock and send a fresh proposal")]
    StaleTimestamp { off_ms: u64, skew_ms: u64 },
    /// The transient map does not match the digest the creator signed.
    #[error("the transient data does not match the transient digest in the signed proposal: send the same transient map that was signed")]
    TransientMismatch,
    /// The tx id is already committed: a replay.
    #[error("transaction {tx_id} is already committed (block {block}, position {index}): make a new proposal with a fresh nonce")]
    DuplicateTxId {
        tx_id: String,
        block: u64,
        index: u32,
    },
    /// No definition of the chaincode on the channel.
    #[error("chaincode {chaincode} is not defined on channel {channel}")]
    UndefinedChaincode { chaincode: String, channel: String },
    /// The chaincode is defined but the module its definition names is not
    /// installed on this endorser.
    #[error("chaincode {chaincode} sequence {sequence} needs the module with SHA-256 {wasm_hash}, which is not installed on this endorser (cellchain chaincode install)")]
    NotInstalled {
        chaincode: String,
        sequence: u64,
        wasm_hash: String,
    },
    /// The state replica could not be read: not the proposal's fault.
    #[error("the endorser's state replica cannot be read: {reason}; retry later")]
    StateUnavailable { reason: String },
    /// No chaincode instance was free (too many simulations at once).
    #[error("the endorser is overloaded: {reason}; retry shortly")]
    Overloaded { reason: String },
    /// The endorser could not sign its endorsement (a broken key provider).
    #[error("the endorser could not sign the endorsement: {reason}")]
    SigningFailed { reason: String },
    /// The simulation touched a private data collection the chaincode does not
    /// define, or one whose values the creator's organisation may not write or
    /// read (`member_only_write`, `member_only_read`): nothing is answered.
    #[error("chaincode {chaincode}, collection {collection}: {reason}")]
    CollectionAccessDenied {
        chaincode: String,
        collection: String,
        reason: String,
    },
}

impl ProposalError {
    /// The HTTP status for this refusal.
    pub fn status(&self) -> u16 {
        match self {
            ProposalError::UnknownChannel { .. }
            | ProposalError::UndefinedChaincode { .. }
            | ProposalError::NotInstalled { .. } => 404,
            ProposalError::InvalidCreator { .. }
            | ProposalError::BadSignature { .. }
            | ProposalError::AccessDenied { .. }
            | ProposalError::CollectionAccessDenied { .. } => 403,
            ProposalError::DuplicateTxId { .. } => 409,
            ProposalError::StateUnavailable { .. } | ProposalError::Overloaded { .. } => 503,
            ProposalError::SigningFailed { .. } => 500,
            _ => 400,
        }
    }

    /// A short stable name, for clients' matching and metrics labels.
    pub fn kind(&self) -> &'static str {
        match self {
            ProposalError::Malformed { .. } => "malformed",
            ProposalError::WrongChannel { .. } => "wrong_channel",
            ProposalError::UnknownChannel { .. } => "unknown_channel",
            ProposalError::InvalidCreator { .. } => "invalid_creator",
            ProposalError::BadSignature { .. } => "bad_signature",
            ProposalError::AccessDenied { .. } => "access_denied",
            ProposalError::BadTxId { .. } => "bad_tx_id",
            ProposalError::StaleTimestamp { .. } => "stale_timestamp",
            ProposalError::TransientMismatch => "transient_mismatch",
            ProposalError::DuplicateTxId { .. } => "duplicate_tx_id",
            ProposalError::UndefinedChaincode { .. } => "chaincode_not_defined",
            ProposalError::NotInstalled { .. } => "chaincode_not_installed",
            ProposalError::StateUnavailable { .. } => "state_unavailable",
            ProposalError::Overloaded { .. } => "overloaded",
            ProposalError::SigningFailed { .. } => "signing_failed",
            ProposalError::CollectionAccessDenied { .. } => "collection_access_denied",
        }
    }

    /// Whether the same request may succeed later.
    pub fn retryable(&self) -> bool {
        self.status() == 503
    }
}

/// A proposal that passed checks 1-9: authentic, admitted, consistent.
#[derive(Debug, Clone)]
pub struct VerifiedProposal {
    /// The exact signed proposal bytes (their hash goes in the response payload).
    pub bytes: cellchain_core::Bytes,
    pub proposal: Proposal,
    pub transient: std::collections::BTreeMap<String, cellchain_core::Bytes>,
    pub creator: Identity,
    pub tx_id: TxId,
}

/// Check 1: decodes the request body and the proposal bytes inside it.
pub fn parse(body: &[u8]) -> Result<(SignedProposal, Proposal), ProposalError> {
    let signed: SignedProposal =
        serde_json::from_slice(body).map_err(|e| ProposalError::Malformed {
            reason: format!("not a signed proposal: {e}"),
        })?;
    let proposal: Proposal =
        decode("proposal", &signed.proposal).map_err(|e| ProposalError::Malformed {
            reason: e.to_string(),
        })?;
    Ok((signed, proposal))
}

/// Check 13, after a simulation of `definition`'s chaincode whose namespace
/// read/write set is `rwset`, for a creator of organisation `creator_msp`:
/// every collection touched is defined by the chaincode; if `check_writes`, a
/// `member_only_write` collection written (hashed writes present) needs the
/// creator's organisation among its members; a `member_only_read` collection
/// read (hashed reads present) too. Reading a value's hash also records a
/// hashed read, so it counts as a read here.
pub fn check_collection_access(
    definition: &ChaincodeDefinition,
    rwset: &NsRwSet,
    creator_msp: &str,
    check_writes: bool,
) -> Result<(), ProposalError> {
    for touched in &rwset.collections {
        let denied = |reason: String| ProposalError::CollectionAccessDenied {
            chaincode: definition.name.clone(),
            collection: touched.collection.clone(),
            reason,
        };
        let Some(config) = definition
            .collections
            .iter()
            .find(|c| c.name == touched.collection)
        else {
            return Err(denied(format!(
                "the collection is not defined for the chaincode (sequence {}); define it before using it",
                definition.sequence
            )));
        };
        let member = config.member_orgs.iter().any(|m| m == creator_msp);
        if member {
            continue;
        }
        if check_writes && !touched.hashed_writes.is_empty() && config.member_only_write {
            return Err(denied(format!(
                "only its member organisations ({}) may write it, and the creator's organisation {creator_msp} is not one",
                config.member_orgs.join(", ")
            )));
        }
        if !touched.hashed_reads.is_empty() && config.member_only_read {
            return Err(denied(format!(
                "only its member organisations ({}) may read it, and the creator's organisation {creator_msp} is not one",
                config.member_orgs.join(", ")
            )));
        }
    }
    Ok(())
}

/// How many validated certificates a channel remembers.
const IDENTITY_CACHE_LIMIT: usize = 4096;

/// What one channel's proposals are judged by: its configuration and MSPs, and a
/// cache of certificates already validated (parsing X.509 and checking the chain
/// costs more than the signature itself).
pub struct ChannelTrust {
    pub config: ChannelConfig,
    msps: MspSet,
    provider: &'static dyn CryptoProvider,
    /// By SHA-256 of the certificate PEM.
    cache: Mutex<HashMap<Hash32, Identity>>,
}

impl ChannelTrust {
    pub fn new(
        config: ChannelConfig,
        provider: &'static dyn CryptoProvider,
    ) -> Result<ChannelTrust, String> {
        let msps = config.msp_set().map_err(|e| e.to_string())?;
        Ok(ChannelTrust {
            config,
            msps,
            provider,
            cache: Mutex::new(HashMap::new()),
        })
    }

    pub fn channel_id(&self) -> &str {
        &self.config.channel_id
    }

    pub fn msps(&self) -> &MspSet {
        &self.msps
    }

    /// Checks 4-9 on a proposal already decoded (check 1) and matched to this
    /// channel (checks 2-3), at `now` with the accepted `skew`.
    pub fn verify(
        &self,
        signed: SignedProposal,
        proposal: Proposal,
        mode: Mode,
        now: Timestamp,
        skew: Duration,
    ) -> Result<VerifiedProposal, ProposalError> {
        let header = &proposal.header;
        let creator = self.authenticate(
            &header.creator,
            &signed.signed_message(),
            &signed.signature,
            now.seconds,
        )?;
        let who = format!("{}@{}", creator.common_name, creator.msp_id);
        let resource = mode.acl_resource();
        let admitted = self
            .config
            .check_acl(resource, std::slice::from_ref(&creator))
            .unwrap_or(false);
        if !admitted {
            return Err(ProposalError::AccessDenied {
                creator: who,
                channel: self.config.channel_id.clone(),
                resource,
                policy: self
                    .config
                    .acls
                    .get(resource)
                    .cloned()
                    .unwrap_or_else(|| "(no ACL entry)".into()),
            });
        }
        let expected = TxId::compute(&header.nonce, &header.creator);
        if expected != header.tx_id {
            return Err(ProposalError::BadTxId {
                expected: expected.to_string(),
                found: header.tx_id.to_string(),
            });
        }
        let off = now
            .as_unix_nanos()
            .abs_diff(header.timestamp.as_unix_nanos());
        if off > skew.as_nanos() {
            return Err(ProposalError::StaleTimestamp {
                off_ms: u64::try_from(off / 1_000_000).unwrap_or(u64::MAX),
                skew_ms: skew.as_millis() as u64,
            });
        }
        let digest = (!signed.transient.is_empty()).then(|| transient_digest(&signed.transient));
        if digest != proposal.transient_digest {
            return Err(ProposalError::TransientMismatch);
        }
        let tx_id = header.tx_id;
        Ok(VerifiedProposal {
            bytes: signed.proposal,
            proposal,
            transient: signed.transient,
            creator,
            tx_id,
        })
    }

    /// Checks 4 and 5 for any signed request: `creator` is a valid identity of
    /// the channel's organisations at `now_unix` (`InvalidCreator`) and
    /// `signature` over `message` verifies with its key (`BadSignature`).
    pub fn authenticate(
        &self,
        creator: &cellchain_core::identity::SerializedIdentity,
        message: &[u8],
        signature: &[u8],
        now_unix: i64,
    ) -> Result<Identity, ProposalError> {
        let identity = self.identity(creator, now_unix)?;
        self.provider
            .verify(&identity.public_key, message, signature)
            .map_err(|_| ProposalError::BadSignature {
                creator: format!("{}@{}", identity.common_name, identity.msp_id),
            })?;
        Ok(identity)
    }

    /// Validates a certificate (through the cache). Validity dates are checked
    /// against `now_unix` on every call, cached or not.
    fn identity(
        &self,
        creator: &cellchain_core::identity::SerializedIdentity,
        now_unix: i64,
    ) -> Result<Identity, ProposalError> {
        let invalid = |reason: String| ProposalError::InvalidCreator {
            channel: self.config.channel_id.clone(),
            reason,
        };
        let key = sha256(creator.cert.as_bytes());
        let cached = self.cache.lock().expect("cache lock").get(&key).cloned();
        let identity = match cached {
            Some(id) if id.msp_id == creator.msp_id => id,
            _ => {
                let id = self
                    .msps
                    .validate(creator, now_unix)
                    .map_err(|e| invalid(e.to_string()))?;
                let mut cache = self.cache.lock().expect("cache lock");
                if cache.len() >= IDENTITY_CACHE_LIMIT {
                    cache.clear();
                }
                cache.insert(key, id.clone());
                id
            }
        };
        if now_unix < identity.not_before || now_unix > identity.not_after {
            return Err(invalid(format!(
                "the certificate of {} is not valid now (valid from {} to {}, Unix seconds)",
                identity.common_name, identity.not_before, identity.not_after
            )));
        }
        Ok(identity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cellchain_core::protocol::{CollectionHashedRwSet, KvReadHash, KvWriteHash};
    use cellchain_validation::{CollectionConfig, EndorsementPolicy};

    fn definition() -> ChaincodeDefinition {
        let coll = |name: &str, read: bool, write: bool| CollectionConfig {
            name: name.into(),
            member_orgs: vec!["Org1MSP".into()],
            required_peer_count: 0,
            block_to_live: 0,
            member_only_read: read,
            member_only_write: write,
        };
        ChaincodeDefinition {
            name: "cc".into(),
            version: "1".into(),
            sequence: 1,
            wasm_hash: sha256(b"module"),
            endorsement_policy: EndorsementPolicy::Signature(
                cellchain_core::policy::SignaturePolicy::parse("OR('Org1MSP.peer')").unwrap(),
            ),
            collections: vec![
                coll("closed", true, true),
                coll("read_open", false, true),
                coll("write_open", true, false),
            ],
        }
    }

    fn touching(collection: &str, read: bool, write: bool) -> NsRwSet {
        let h = sha256(b"k");
        NsRwSet {
            namespace: "cc".into(),
            collections: vec![CollectionHashedRwSet {
                collection: collection.into(),
                hashed_reads: if read {
                    vec![KvReadHash {
                        key_hash: h,
                        version: None,
                    }]
                } else {
                    vec![]
                },
                hashed_writes: if write {
                    vec![KvWriteHash {
                        key_hash: h,
                        is_delete: false,
                        value_hash: Some(h),
                    }]
                } else {
                    vec![]
                },
                pvt_rwset_hash: h,
            }],
            ..NsRwSet::default()
        }
    }

    #[test]
    fn collection_access_follows_membership_and_the_member_only_flags() {
        let def = definition();
        let check = |coll: &str, read: bool, write: bool, msp: &str, writes: bool| {
            check_collection_access(&def, &touching(coll, read, write), msp, writes)
                .map_err(|e| e.kind())
        };
        let denied = Err("collection_access_denied");
        // A member may do anything.
        assert_eq!(check("closed", true, true, "Org1MSP", true), Ok(()));
        // A non-member: refused where the flags say members only.
        assert_eq!(check("closed", false, true, "Org2MSP", true), denied);
        assert_eq!(check("closed", true, false, "Org2MSP", true), denied);
        assert_eq!(check("read_open", true, false, "Org2MSP", true), Ok(()));
        assert_eq!(check("read_open", false, true, "Org2MSP", true), denied);
        assert_eq!(check("write_open", false, true, "Org2MSP", true), Ok(()));
        assert_eq!(check("write_open", true, true, "Org2MSP", true), denied);
        // Writes are not judged when nothing is signed (evaluate), reads are.
        assert_eq!(check("closed", false, true, "Org2MSP", false), Ok(()));
        assert_eq!(check("closed", true, false, "Org2MSP", false), denied);
        // An undefined collection, whoever asks.
        assert_eq!(check("nosuch", true, false, "Org1MSP", false), denied);
    }
}
