//! Broadcast admission: the checks an envelope passes before it may be ordered,
//! as plain functions over the channel's configuration (no IO, time passed in).
//!
//! An envelope is admitted when it parses, names this channel, carries a
//! transaction id that matches its nonce and creator, is signed by its creator,
//! whose certificate is valid for a member of the channel that satisfies the
//! channel's Writers policy (ACL `orderer/Broadcast`), and is no larger than the
//! channel's absolute maximum. Configuration transactions are refused: channel
//! updates are not supported yet. The orderer does not look inside the
//! transaction (endorsements are the committer's business), as in Fabric.

use std::collections::HashMap;
use std::sync::Mutex;

use cellchain_core::config::ChannelConfig;
use cellchain_core::crypto::CryptoProvider;
use cellchain_core::identity::{Identity, MspSet};
use cellchain_core::protocol::{Envelope, PayloadData, TxId};
use cellchain_core::{bytes::sha256, Hash32};

/// An envelope that passed admission, with what the orderer needs from it.
#[derive(Debug, Clone)]
pub struct Admitted {
    pub envelope: Envelope,
    pub tx_id: TxId,
    /// [`Envelope::size`], for the cutter's byte rules.
    pub size: usize,
}

/// Why an envelope was refused. Each says what was wrong; `status` maps it to HTTP.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdmissionError {
    /// The request body is not an envelope, or its payload does not parse.
    #[error("malformed envelope: {reason}")]
    Malformed { reason: String },
    /// The envelope names another channel than the one it was sent to.
    #[error("the envelope is for channel {found}, but was sent to channel {expected}")]
    WrongChannel { expected: String, found: String },
    /// The tx id is not SHA-256(nonce || creator).
    #[error("the transaction id {tx_id} does not match the header's nonce and creator")]
    BadTxId { tx_id: String },
    /// A configuration transaction: channel updates are not supported.
    #[error(
        "configuration transactions cannot be broadcast: channel updates are not supported yet"
    )]
    ConfigNotSupported,
    /// Bigger than the channel's absolute maximum.
    #[error("the envelope is {size} bytes, above the channel's absolute maximum of {max} bytes")]
    TooLarge { size: usize, max: usize },
    /// The creator's certificate is not a valid identity of a channel member.
    #[error("the creator is not a valid identity of channel {channel}: {reason}")]
    InvalidCreator { channel: String, reason: String },
    /// The creator's signature does not verify.
    #[error("the envelope signature does not verify for its creator {creator}")]
    BadSignature { creator: String },
    /// The creator is valid but the channel's Writers policy does not admit it.
    #[error("{creator} may not write to channel {channel}: the policy {policy} is not satisfied")]
    NotWriter {
        creator: String,
        channel: String,
        policy: String,
    },
}

impl AdmissionError {
    /// The HTTP status for this refusal.
    pub fn status(&self) -> u16 {
        match self {
            AdmissionError::TooLarge { .. } => 413,
            AdmissionError::BadSignature { .. }
            | AdmissionError::InvalidCreator { .. }
            | AdmissionError::NotWriter { .. } => 403,
            _ => 400,
        }
    }

    /// A short stable name, for metrics labels and clients' matching.
    pub fn kind(&self) -> &'static str {
        match self {
            AdmissionError::Malformed { .. } => "malformed",
            AdmissionError::WrongChannel { .. } => "wrong_channel",
            AdmissionError::BadTxId { .. } => "bad_tx_id",
            AdmissionError::ConfigNotSupported => "config_not_supported",
            AdmissionError::TooLarge { .. } => "too_large",
            AdmissionError::InvalidCreator { .. } => "invalid_creator",
            AdmissionError::BadSignature { .. } => "bad_signature",
            AdmissionError::NotWriter { .. } => "not_writer",
        }
    }
}

/// How many validated certificates a channel remembers.
const IDENTITY_CACHE_LIMIT: usize = 4096;

/// What one channel's admission is decided on: its configuration and MSPs, and a
/// cache of certificates already validated (parsing X.509 and checking the chain
/// costs more than the signature itself).
pub struct ChannelTrust {
    pub config: ChannelConfig,
    msps: MspSet,
    provider: &'static dyn CryptoProvider,
    /// By SHA-256 of the certificate PEM: the identity and whether it may write.
    cache: Mutex<HashMap<Hash32, (Identity, bool)>>,
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

    pub fn absolute_max_bytes(&self) -> usize {
        self.config.orderer.batch.absolute_max_bytes.0 as usize
    }

    pub fn msps(&self) -> &MspSet {
        &self.msps
    }

    pub fn provider(&self) -> &'static dyn CryptoProvider {
        self.provider
    }

    /// Decides whether the envelope in `body` may be ordered on this channel at
    /// `now_unix` (seconds).
    pub fn admit(&self, body: &[u8], now_unix: i64) -> Result<Admitted, AdmissionError> {
        let max = self.absolute_max_bytes();
        // A body far above the limit is refused before it is parsed.
        if body.len() > max.saturating_mul(2).saturating_add(1024) {
            return Err(AdmissionError::TooLarge {
                size: body.len(),
                max,
            });
        }
        let envelope: Envelope =
            serde_json::from_slice(body).map_err(|e| AdmissionError::Malformed {
                reason: e.to_string(),
            })?;
        self.admit_envelope(envelope, now_unix)
    }

    /// As [`ChannelTrust::admit`], for an envelope already decoded.
    pub fn admit_envelope(
        &self,
        envelope: Envelope,
        now_unix: i64,
    ) -> Result<Admitted, AdmissionError> {
        let size = envelope.size();
        let max = self.absolute_max_bytes();
        if size > max {
            return Err(AdmissionError::TooLarge { size, max });
        }
        let payload = envelope
            .parse_payload()
            .map_err(|e| AdmissionError::Malformed {
                reason: e.to_string(),
            })?;
        let header = &payload.header;
        if header.channel_id != self.config.channel_id {
            return Err(AdmissionError::WrongChannel {
                expected: self.config.channel_id.clone(),
                found: header.channel_id.clone(),
            });
        }
        if TxId::compute(&header.nonce, &header.creator) != header.tx_id {
            return Err(AdmissionError::BadTxId {
                tx_id: header.tx_id.to_string(),
            });
        }
        if matches!(payload.data, PayloadData::Config(_)) {
            return Err(AdmissionError::ConfigNotSupported);
        }
        let (identity, writer) = self.identity(&header.creator, now_unix)?;
        let creator = format!("{}@{}", identity.common_name, identity.msp_id);
        self.provider
            .verify(
                &identity.public_key,
                &envelope.signed_message(),
                &envelope.signature,
            )
            .map_err(|_| AdmissionError::BadSignature {
                creator: creator.clone(),
            })?;
        if !writer {
            return Err(AdmissionError::NotWriter {
                creator,
                channel: self.config.channel_id.clone(),
                policy: self
                    .config
                    .acls
                    .get("orderer/Broadcast")
                    .cloned()
                    .unwrap_or_else(|| "Writers".into()),
            });
        }
        Ok(Admitted {
            tx_id: header.tx_id,
            envelope,
            size,
        })
    }

    /// Validates a certificate (through the cache) and says whether its holder
    /// satisfies the Broadcast ACL. Validity dates are checked against `now_unix`
    /// on every call, cached or not.
    fn identity(
        &self,
        creator: &cellchain_core::identity::SerializedIdentity,
        now_unix: i64,
    ) -> Result<(Identity, bool), AdmissionError> {
        let key = sha256(creator.cert.as_bytes());
        let cached = self.cache.lock().expect("cache lock").get(&key).cloned();
        let (identity, writer) = match cached {
            Some(entry) if entry.0.msp_id == creator.msp_id => entry,
            _ => {
                let identity = self.msps.validate(creator, now_unix).map_err(|e| {
                    AdmissionError::InvalidCreator {
                        channel: self.config.channel_id.clone(),
                        reason: e.to_string(),
                    }
                })?;
                let writer = self
                    .config
                    .check_acl("orderer/Broadcast", std::slice::from_ref(&identity))
                    .unwrap_or(false);
                let mut cache = self.cache.lock().expect("cache lock");
                if cache.len() >= IDENTITY_CACHE_LIMIT {
                    cache.clear();
                }
                cache.insert(key, (identity.clone(), writer));
                (identity, writer)
            }
        };
        if now_unix < identity.not_before || now_unix > identity.not_after {
            return Err(AdmissionError::InvalidCreator {
                channel: self.config.channel_id.clone(),
                reason: format!(
                    "the certificate of {} is not valid now (valid from {} to {}, Unix seconds)",
                    identity.common_name, identity.not_before, identity.not_after
                ),
            });
        }
        Ok((identity, writer))
    }

    /// Validates a signed request's creator and checks an ACL resource
    /// (`orderer/Deliver`) for it. Returns the identity or the reason it is refused.
    pub fn authorise(
        &self,
        creator: &cellchain_core::identity::SerializedIdentity,
        resource: &str,
        message: &[u8],
        signature: &[u8],
        now_unix: i64,
    ) -> Result<Identity, AuthError> {
        let identity =
            self.msps
                .validate(creator, now_unix)
                .map_err(|e| AuthError::InvalidCreator {
                    reason: e.to_string(),
                })?;
        self.provider
            .verify(&identity.public_key, message, signature)
            .map_err(|_| AuthError::BadSignature)?;
        let allowed = self
            .config
            .check_acl(resource, std::slice::from_ref(&identity))
            .map_err(|e| AuthError::InvalidCreator {
                reason: e.to_string(),
            })?;
        if !allowed {
            return Err(AuthError::Forbidden {
                who: format!("{}@{}", identity.common_name, identity.msp_id),
                resource: resource.to_string(),
                channel: self.config.channel_id.clone(),
            });
        }
        Ok(identity)
    }
}

/// Why a signed request (deliver) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("the requester is not a valid identity of this channel: {reason}")]
    InvalidCreator { reason: String },
    #[error("the request signature does not verify")]
    BadSignature,
    #[error("{who} may not use {resource} on channel {channel}")]
    Forbidden {
        who: String,
        resource: String,
        channel: String,
    },
}
