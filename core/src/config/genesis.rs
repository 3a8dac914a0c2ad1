//! Genesis blocks: block 0 of a channel, holding its configuration signed by the
//! administrators of its member organisations.
//!
//! The genesis block is the channel's root of trust: a node given the file (and,
//! out of band, its hash) learns the channel's organisations, CAs, orderers and
//! policies from it and from nothing else. [`verify_genesis_block`] checks that it
//! is well formed and that its administrators' signatures satisfy the channel's
//! own Admins policy. Certificates are checked as of the block's timestamp, so a
//! thirty-year-old ledger still verifies after its certificates have expired.

use super::channel::ChannelConfig;
use super::ConfigError;
use crate::bytes::{Bytes, Hash32};
use crate::crypto::{CryptoProvider, Signer};
use crate::identity::{Identity, IdentityError, Role, SerializedIdentity};
use crate::protocol::{
    decode, encode, Block, ConfigSignature, ConfigTransaction, Envelope, Header, Payload,
    PayloadData, ProtocolError, Timestamp,
};

/// An administrator signing a channel configuration.
pub struct ConfigSigner<'a> {
    pub identity: SerializedIdentity,
    pub signer: &'a dyn Signer,
}

/// Why a genesis block is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenesisError {
    /// Block 0 must have number 0 and a zero previous hash.
    #[error("not a genesis block: number {number}, previous hash {previous_hash}")]
    NotGenesis { number: u64, previous_hash: String },
    /// A genesis block carries exactly one envelope.
    #[error("a genesis block holds exactly one configuration envelope, found {count}")]
    EnvelopeCount { count: usize },
    /// The envelope is not a configuration transaction.
    #[error("the genesis envelope is not a configuration transaction")]
    NotConfig,
    /// The header names another channel than the configuration.
    #[error("header is for channel {header:?} but the configuration is for {config:?}")]
    ChannelMismatch { header: String, config: String },
    /// The genesis configuration must have sequence 0.
    #[error("genesis configuration has sequence {sequence}, expected 0")]
    NotFirstSequence { sequence: u64 },
    /// Decoding or structural checks failed.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// The configuration inside is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A signer's certificate is not a valid identity of the channel.
    #[error("signer {who}: {reason}")]
    BadSigner { who: String, reason: IdentityError },
    /// A configuration signer is not an administrator.
    #[error("signer {who} has role {role}; only admins sign channel configurations")]
    NotAdmin { who: String, role: Role },
    /// A signature does not verify.
    #[error("signature of {who} over the {what} does not verify")]
    BadSignature { who: String, what: &'static str },
    /// The same identity signed twice.
    #[error("{who} signed the configuration twice")]
    DuplicateSigner { who: String },
    /// The signatures do not satisfy the channel's Admins policy.
    #[error("the configuration signatures ({signers}) do not satisfy the channel's Admins policy ({policy})")]
    AdminsPolicyNotSatisfied { signers: String, policy: String },
}

/// Builds the genesis block of `config`, signed by `signers` (the first one also
/// signs the envelope as its creator). The result is checked with
/// [`verify_genesis_block`] before it is returned, so a block that would be refused
/// by the nodes is never written.
pub fn create_genesis_block(
    config: &ChannelConfig,
    signers: &[ConfigSigner<'_>],
    provider: &dyn CryptoProvider,
    timestamp: Timestamp,
    nonce: Vec<u8>,
) -> Result<Block, GenesisError> {
    let first = signers
        .first()
        .ok_or_else(|| GenesisError::AdminsPolicyNotSatisfied {
            signers: "none".into(),
            policy: config.policies.admins.to_string(),
        })?;
    let config_bytes = encode(config);
    let mut signatures = Vec::new();
    for s in signers {
        let sig =
            ConfigSignature::sign(&config_bytes, s.identity.clone(), s.signer).map_err(|_| {
                GenesisError::BadSignature {
                    who: who(&s.identity),
                    what: "configuration",
                }
            })?;
        signatures.push(sig);
    }
    let payload = Payload {
        header: Header::new(&config.channel_id, first.identity.clone(), nonce, timestamp),
        data: PayloadData::Config(ConfigTransaction {
            config: config_bytes,
            signatures,
        }),
    };
    let envelope =
        Envelope::sign(&payload, first.signer).map_err(|_| GenesisError::BadSignature {
            who: who(&first.identity),
            what: "envelope",
        })?;
    let block = Block::new(0, Hash32::ZERO, vec![envelope], 0);
    verify_genesis_block(&block, provider)?;
    Ok(block)
}

fn who(id: &SerializedIdentity) -> String {
    // The subject's CN would be nicer, but the certificate may not parse: the MSP id
    // and a short certificate hash identify the signer unambiguously.
    format!(
        "{} (cert {})",
        id.msp_id,
        &crate::bytes::sha256(id.cert.as_bytes()).to_hex()[..12]
    )
}

/// Checks a genesis block and returns the channel configuration it carries.
pub fn verify_genesis_block(
    block: &Block,
    provider: &dyn CryptoProvider,
) -> Result<ChannelConfig, GenesisError> {
    if block.header.number != 0 || block.header.previous_hash != Hash32::ZERO {
        return Err(GenesisError::NotGenesis {
            number: block.header.number,
            previous_hash: block.header.previous_hash.to_hex(),
        });
    }
    block.check_data_hash()?;
    let [envelope] = block.data.envelopes.as_slice() else {
        return Err(GenesisError::EnvelopeCount {
            count: block.data.envelopes.len(),
        });
    };
    let payload = envelope.parse_payload()?;
    payload.header.check_tx_id()?;
    let PayloadData::Config(tx) = &payload.data else {
        return Err(GenesisError::NotConfig);
    };
    let config: ChannelConfig = decode("channel configuration", &tx.config)?;
    if payload.header.channel_id != config.channel_id {
        return Err(GenesisError::ChannelMismatch {
            header: payload.header.channel_id.clone(),
            config: config.channel_id.clone(),
        });
    }
    if config.sequence != 0 {
        return Err(GenesisError::NotFirstSequence {
            sequence: config.sequence,
        });
    }
    // Certificates are judged at the time the block says it was made.
    let at = payload.header.timestamp.seconds;
    config.check_material(at)?;
    let msps = config.msp_set()?;

    let creator = msps
        .validate(&payload.header.creator, at)
        .map_err(|reason| GenesisError::BadSigner {
            who: who(&payload.header.creator),
            reason,
        })?;
    provider
        .verify(
            &creator.public_key,
            &envelope.signed_message(),
            &envelope.signature,
        )
        .map_err(|_| GenesisError::BadSignature {
            who: who(&payload.header.creator),
            what: "envelope",
        })?;

    let mut signers: Vec<Identity> = Vec::new();
    for s in &tx.signatures {
        let id = msps
            .validate(&s.signer, at)
            .map_err(|reason| GenesisError::BadSigner {
                who: who(&s.signer),
                reason,
            })?;
        if id.role != Role::Admin {
            return Err(GenesisError::NotAdmin {
                who: who(&s.signer),
                role: id.role,
            });
        }
        if signers.iter().any(|x| x.cert_hash == id.cert_hash) {
            return Err(GenesisError::DuplicateSigner {
                who: who(&s.signer),
            });
        }
        provider
            .verify(&id.public_key, &s.signed_message(&tx.config), &s.signature)
            .map_err(|_| GenesisError::BadSignature {
                who: who(&s.signer),
                what: "configuration",
            })?;
        signers.push(id);
    }
    if !config.evaluate_policy("Admins", &signers)? {
        return Err(GenesisError::AdminsPolicyNotSatisfied {
            signers: signers
                .iter()
                .map(|s| format!("{}.{}", s.msp_id, s.role))
                .collect::<Vec<_>>()
                .join(", "),
            policy: config.policies.admins.to_string(),
        });
    }
    Ok(config)
}

/// Reads a block from its JSON file form.
pub fn block_from_json(bytes: &[u8]) -> Result<Block, ProtocolError> {
    decode("block", bytes)
}

/// The JSON file form of a block (pretty, for people reading genesis files).
pub fn block_to_json(block: &Block) -> Bytes {
    Bytes(serde_json::to_vec_pretty(block).expect("blocks always serialise"))
}
