//! Offline verification of a block directory (`cellchain ledger verify`).
//!
//! Trust starts at block 0, which must be a valid genesis block; its channel
//! configuration says who the consenters are. Every later block must be intact on
//! disk, carry the next number, link to the previous header, have the Merkle root of
//! its envelopes as data hash, and carry at least one signature by a consenter.
//!
//! Configuration updates after genesis are not supported yet: only the genesis
//! configuration's consenters are trusted, and a block whose `last_config` names
//! any block but 0 is refused rather than checked against a configuration we do not
//! read.

use std::path::{Path, PathBuf};

use cellchain_core::config::{verify_genesis_block, ChannelConfig, GenesisError};
use cellchain_core::crypto::CryptoProvider;
use cellchain_core::identity::{IdentityError, MspSet, SerializedIdentity};
use cellchain_core::protocol::{Block, BlockSignature};
use cellchain_core::Hash32;

use crate::segment::{self, BlockFiles, TornTail};
use crate::StoreError;

/// What a successful verification covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Blocks verified, the genesis block included.
    pub blocks: u64,
    /// Envelopes in those blocks, the genesis configuration transaction included
    /// (valid or not: validation codes are the committer's verdict, not checked here).
    pub transactions: u64,
    /// Header hash of the last block.
    pub last_hash: Hash32,
    /// The channel named by the genesis block.
    pub channel: String,
}

/// The first rule a block directory breaks. Variants about a block carry its
/// `number`; [`VerifyError::block`] returns it for any variant that has one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The files cannot be read, or a record is damaged (CRC, magic, sequence,
    /// length, JSON): the [`StoreError`] names the block, file and offset.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The directory holds no block.
    #[error("{} holds no blocks (expected segment files blocks_000000.dat, ...)", dir.display())]
    Empty { dir: PathBuf },
    /// The last record is incomplete or fails its CRC, as a crash in the middle of
    /// an append leaves it. Every block before it verified.
    #[error("block {}: the last record, at {}:{}, is damaged ({}); the blocks before it verify. A node opening this store cuts it away as an interrupted append", .0.number, .0.file.display(), .0.offset, .0.reason)]
    TornTail(TornTail),
    /// Block 0 is not a valid genesis block.
    #[error("block 0 is not a valid genesis block: {0}")]
    Genesis(GenesisError),
    /// A block's previous hash is not the header hash of the block before it.
    #[error("block {number}: previous hash {found} does not match the hash of the block before it ({expected})")]
    BrokenChain {
        number: u64,
        expected: Hash32,
        found: Hash32,
    },
    /// A block's data hash is not the Merkle root of its envelopes.
    #[error(
        "block {number}: data hash {found} is not the Merkle root of its envelopes ({expected})"
    )]
    BadDataHash {
        number: u64,
        expected: Hash32,
        found: Hash32,
    },
    /// A block claims a configuration block other than genesis is in force.
    #[error("block {number}: last_config is {last_config}, but only the genesis configuration (block 0) is supported; configuration updates cannot be verified yet")]
    UnsupportedLastConfig { number: u64, last_config: u64 },
    /// A block carries no orderer signature.
    #[error("block {number} carries no orderer signature")]
    NoSignature { number: u64 },
    /// The signer's certificate is not a valid identity of the channel at the
    /// block's time.
    #[error("block {number}: signer {signer} is not a valid identity of the channel: {reason}")]
    BadSigner {
        number: u64,
        signer: String,
        reason: IdentityError,
    },
    /// The signer is a valid identity but not one of the channel's consenters.
    #[error("block {number}: signer {signer} is not a consenter of the channel; only the consenters listed in the genesis block sign blocks")]
    NotConsenter { number: u64, signer: String },
    /// A consenter's signature does not verify over the block.
    #[error(
        "block {number}: the signature of consenter {signer} does not verify over the block header"
    )]
    BadSignature { number: u64, signer: String },
}

impl VerifyError {
    /// The block this error is about, when it names one.
    pub fn block(&self) -> Option<u64> {
        match self {
            VerifyError::Store(e) => e.block(),
            VerifyError::Empty { .. } => None,
            VerifyError::TornTail(t) => Some(t.number),
            VerifyError::Genesis(_) => Some(0),
            VerifyError::BrokenChain { number, .. }
            | VerifyError::BadDataHash { number, .. }
            | VerifyError::UnsupportedLastConfig { number, .. }
            | VerifyError::NoSignature { number }
            | VerifyError::BadSigner { number, .. }
            | VerifyError::NotConsenter { number, .. }
            | VerifyError::BadSignature { number, .. } => Some(*number),
        }
    }
}

/// A consenter as the genesis configuration names it, reduced to what a block
/// signature is matched against.
struct TrustedConsenter {
    name: String,
    msp_id: String,
    /// SHA-256 of the certificate's DER, as [`MspSet::validate`] reports it, so a
    /// re-encoded PEM of the same certificate still matches.
    cert_hash: Hash32,
}

/// What every block after genesis is checked against.
struct Trust<'a> {
    msps: MspSet,
    consenters: Vec<TrustedConsenter>,
    genesis_time: i64,
    provider: &'a dyn CryptoProvider,
}

/// Verifies every block of the directory `dir`, read-only (a torn tail is reported,
/// not repaired). Stops at the first block that breaks a rule.
pub fn verify_ledger(
    dir: impl AsRef<Path>,
    provider: &dyn CryptoProvider,
) -> Result<VerifyReport, VerifyError> {
    let dir = dir.as_ref();
    let scan = segment::scan(dir)?;
    let files = BlockFiles {
        segments: scan.segments,
        index: scan.index,
    };
    let mut blocks = files.iter_from(0);
    let Some(genesis) = blocks.next().transpose()? else {
        // Nothing intact: a lone torn record is still worth naming.
        return Err(match scan.torn {
            Some(t) => VerifyError::TornTail(t),
            None => VerifyError::Empty {
                dir: dir.to_path_buf(),
            },
        });
    };
    let config = verify_genesis_block(&genesis, provider).map_err(VerifyError::Genesis)?;
    let trust = Trust::from_genesis(&genesis, &config, provider)?;

    let mut previous = genesis.hash();
    let mut transactions = genesis.data.envelopes.len() as u64;
    for block in blocks {
        let block = block?;
        check_block(&block, previous, &trust)?;
        previous = block.hash();
        transactions += block.data.envelopes.len() as u64;
    }
    // Reported after the intact blocks so that the first bad block is the one named.
    if let Some(t) = scan.torn {
        return Err(VerifyError::TornTail(t));
    }
    Ok(VerifyReport {
        blocks: files.height(),
        transactions,
        last_hash: previous,
        channel: config.channel_id,
    })
}

impl<'a> Trust<'a> {
    fn from_genesis(
        genesis: &Block,
        config: &ChannelConfig,
        provider: &'a dyn CryptoProvider,
    ) -> Result<Trust<'a>, VerifyError> {
        let genesis_time = genesis.data.envelopes[0]
            .parse_payload()
            .map_err(|e| VerifyError::Genesis(e.into()))?
            .header
            .timestamp
            .seconds;
        let msps = config
            .msp_set()
            .map_err(|e| VerifyError::Genesis(e.into()))?;
        let mut consenters = Vec::new();
        for c in &config.orderer.consenters {
            let id = SerializedIdentity {
                msp_id: c.msp_id.clone(),
                cert: c.cert.clone(),
            };
            // verify_genesis_block has checked these certificates at this very time,
            // so this only recovers their hashes.
            let identity = msps.validate(&id, genesis_time).map_err(|reason| {
                VerifyError::Genesis(GenesisError::BadSigner {
                    who: format!("consenter {}", c.name),
                    reason,
                })
            })?;
            consenters.push(TrustedConsenter {
                name: c.name.clone(),
                msp_id: c.msp_id.clone(),
                cert_hash: identity.cert_hash,
            });
        }
        Ok(Trust {
            msps,
            consenters,
            genesis_time,
            provider,
        })
    }

    /// The time at which the signers' certificates of `block` are judged.
    ///
    /// A block header has no timestamp (number, previous hash, data hash only), so
    /// the block's time is taken from its first envelope's header: the client set
    /// it before ordering, the data hash binds it to the header the orderer signed,
    /// and it cannot be changed afterwards without breaking that signature. As for
    /// genesis, judging at the block's time rather than today lets an old ledger
    /// verify after its orderers' certificates have expired. It is the client's
    /// clock, not a trusted one; blocks without envelopes (which the orderer does
    /// not cut) or whose first payload does not parse (the orderer refuses such
    /// envelopes) fall back to the genesis time, when the consenters' certificates
    /// were checked.
    fn block_time(&self, block: &Block) -> i64 {
        block
            .data
            .envelopes
            .first()
            .and_then(|e| e.parse_payload().ok())
            .map_or(self.genesis_time, |p| p.header.timestamp.seconds)
    }

    /// One signature: a valid identity of the channel at the block's time, one of
    /// the consenters, and a signature that verifies over the block.
    fn check_signature(
        &self,
        number: u64,
        at: i64,
        message: &[u8],
        s: &BlockSignature,
    ) -> Result<(), VerifyError> {
        let identity =
            self.msps
                .validate(&s.signer, at)
                .map_err(|reason| VerifyError::BadSigner {
                    number,
                    signer: describe(&s.signer),
                    reason,
                })?;
        let Some(consenter) = self
            .consenters
            .iter()
            .find(|c| c.cert_hash == identity.cert_hash && c.msp_id == identity.msp_id)
        else {
            return Err(VerifyError::NotConsenter {
                number,
                signer: format!("{} ({})", identity.common_name, describe(&s.signer)),
            });
        };
        self.provider
            .verify(&identity.public_key, message, &s.signature)
            .map_err(|_| VerifyError::BadSignature {
                number,
                signer: format!("{} ({})", consenter.name, describe(&s.signer)),
            })
    }
}

fn check_block(block: &Block, previous: Hash32, trust: &Trust<'_>) -> Result<(), VerifyError> {
    // The number itself was checked when the record was read (record and header).
    let number = block.header.number;
    if block.header.previous_hash != previous {
        return Err(VerifyError::BrokenChain {
            number,
            expected: previous,
            found: block.header.previous_hash,
        });
    }
    let data_hash = Block::data_hash_of(&block.data.envelopes);
    if data_hash != block.header.data_hash {
        return Err(VerifyError::BadDataHash {
            number,
            expected: data_hash,
            found: block.header.data_hash,
        });
    }
    if block.metadata.last_config != 0 {
        return Err(VerifyError::UnsupportedLastConfig {
            number,
            last_config: block.metadata.last_config,
        });
    }
    // One good consenter signature is enough (BFT-style quorums are not in the
    // design: Raft consenters trust each other). Extra signatures that fail are
    // ignored; when none is good, the first one's failure is reported.
    let at = trust.block_time(block);
    let message = block.signed_message();
    let mut first_error = None;
    for s in &block.metadata.signatures {
        match trust.check_signature(number, at, &message, s) {
            Ok(()) => return Ok(()),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.unwrap_or(VerifyError::NoSignature { number }))
}

/// A signer's MSP id and a short hash of its certificate text: unambiguous even when
/// the certificate does not parse.
fn describe(id: &SerializedIdentity) -> String {
    let hash = cellchain_core::bytes::sha256(id.cert.as_bytes()).to_hex();
    format!("{} cert {}", id.msp_id, &hash[..12])
}
