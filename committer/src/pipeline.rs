//! The pure steps of committing one block: is it the block we expect from the
//! channel's orderers, what does the genesis block commit, and how a block's
//! validation codes are summarised. No IO, no clock (time is passed in).
//!
//! # The commit hash chain
//!
//! Each block's metadata carries `commit_hash(previous, number, codes, updates)`
//! (`cellchain_validation::commit_hash`), where `previous` is the commit hash of
//! the block before. The chain starts at the genesis block, whose commit hash is
//! `commit_hash(ZERO, 0, [Valid], empty update batch of block 0)`: the genesis
//! configuration transaction is `Valid` by definition (the committer verified the
//! genesis block before trusting it) and changes no state. So every committer of a
//! channel starts from the same hash, and equal hashes at height `h` mean equal
//! verdicts and equal state updates for every block below `h`.

use std::collections::BTreeMap;

use cellchain_core::config::ChannelConfig;
use cellchain_core::crypto::CryptoProvider;
use cellchain_core::identity::{MspSet, SerializedIdentity};
use cellchain_core::protocol::{Block, TxValidationCode};
use cellchain_core::Hash32;
use cellchain_storage::{check_next, StoreError};
use cellchain_validation::{commit_hash, UpdateBatch};

/// Why a block from an orderer is refused: the committer logs it and pulls from
/// another orderer. Nothing of the block is kept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockRefused {
    /// It does not extend our chain (number, previous hash, data hash).
    #[error("block does not extend our chain: {0}")]
    Chain(StoreError),
    /// It carries no signature that verifies for one of the channel's consenters.
    #[error("block {number} carries no valid signature of a consenter of channel {channel} ({signatures} signatures checked)")]
    NoConsenterSignature {
        number: u64,
        channel: String,
        signatures: usize,
    },
}

/// A consenter as the genesis block names it, reduced to what a block signature
/// is matched against.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Consenter {
    msp_id: String,
    /// SHA-256 of the certificate's DER (from identity validation).
    cert_hash: Hash32,
}

/// Who may sign a channel's blocks: its consenters, from the genesis block.
#[derive(Debug, Clone)]
pub struct BlockTrust {
    channel: String,
    msps: MspSet,
    consenters: Vec<Consenter>,
}

impl BlockTrust {
    /// Validates every consenter certificate at `at` (the genesis time).
    pub fn new(config: &ChannelConfig, msps: MspSet, at: i64) -> Result<BlockTrust, String> {
        let mut consenters = Vec::new();
        for c in &config.orderer.consenters {
            let id = SerializedIdentity {
                msp_id: c.msp_id.clone(),
                cert: c.cert.clone(),
            };
            let identity = msps
                .validate(&id, at)
                .map_err(|e| format!("consenter {}: {e}", c.name))?;
            consenters.push(Consenter {
                msp_id: identity.msp_id,
                cert_hash: identity.cert_hash,
            });
        }
        Ok(BlockTrust {
            channel: config.channel_id.clone(),
            msps,
            consenters,
        })
    }

    /// A block from an orderer must extend our chain of `height` blocks ending in
    /// `last_hash`, and carry a valid signature of one of the consenters, their
    /// certificates judged at `now_unix` (as the orderer judges pulled blocks).
    pub fn check_block(
        &self,
        height: u64,
        last_hash: Option<Hash32>,
        block: &Block,
        provider: &dyn CryptoProvider,
        now_unix: i64,
    ) -> Result<(), BlockRefused> {
        check_next(height, last_hash, block).map_err(BlockRefused::Chain)?;
        let message = block.signed_message();
        let signed = block.metadata.signatures.iter().any(|s| {
            let Ok(id) = self.msps.validate(&s.signer, now_unix) else {
                return false;
            };
            self.consenters
                .iter()
                .any(|c| c.cert_hash == id.cert_hash && c.msp_id == id.msp_id)
                && provider
                    .verify(&id.public_key, &message, &s.signature)
                    .is_ok()
        });
        if !signed {
            return Err(BlockRefused::NoConsenterSignature {
                number: block.header.number,
                channel: self.channel.clone(),
                signatures: block.metadata.signatures.len(),
            });
        }
        Ok(())
    }
}

/// What the genesis block commits: one `Valid` code, no state update.
pub fn genesis_outcome() -> (Vec<TxValidationCode>, UpdateBatch, Hash32) {
    let codes = vec![TxValidationCode::Valid];
    let updates = UpdateBatch {
        block: 0,
        ..UpdateBatch::default()
    };
    let hash = commit_hash(&Hash32::ZERO, 0, &codes, &updates);
    (codes, updates, hash)
}

/// The genesis block as the committer stores it: with its code and commit hash.
pub fn committed_genesis(genesis: &Block) -> Block {
    let (codes, _, hash) = genesis_outcome();
    let mut block = genesis.clone();
    block.metadata.validation_codes = codes;
    block.metadata.commit_hash = Some(hash);
    block
}

/// Valid transactions and the count of each invalid code.
pub fn summarise(codes: &[TxValidationCode]) -> (usize, BTreeMap<TxValidationCode, usize>) {
    let mut invalid = BTreeMap::new();
    let mut valid = 0;
    for &c in codes {
        if c == TxValidationCode::Valid {
            valid += 1;
        } else {
            *invalid.entry(c).or_default() += 1;
        }
    }
    (valid, invalid)
}

/// `MVCC_READ_CONFLICT=2 DUPLICATE_TXID=1`, or `none`.
pub fn describe_invalid(invalid: &BTreeMap<TxValidationCode, usize>) -> String {
    if invalid.is_empty() {
        return "none".into();
    }
    invalid
        .iter()
        .map(|(c, n)| format!("{c}={n}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{block_after, fixture, now};
    use cellchain_core::crypto::default_provider;

    fn trust() -> (BlockTrust, crate::fixtures::Fixture) {
        let f = fixture();
        let msps = f.config.msp_set().unwrap();
        (BlockTrust::new(&f.config, msps, now()).unwrap(), f)
    }

    #[test]
    fn a_block_signed_by_a_consenter_that_extends_the_chain_is_accepted() {
        let (trust, f) = trust();
        let b1 = block_after(&f.genesis, Some(&f.orderer));
        trust
            .check_block(1, Some(f.genesis.hash()), &b1, default_provider(), now())
            .unwrap();
    }

    #[test]
    fn blocks_that_skip_fork_or_lack_a_consenter_signature_are_refused() {
        let (trust, f) = trust();
        let p = default_provider();
        let genesis = &f.genesis;
        let b1 = block_after(genesis, Some(&f.orderer));
        let e = trust.check_block(2, Some(genesis.hash()), &b1, p, now());
        assert!(matches!(
            e,
            Err(BlockRefused::Chain(StoreError::NotNext {
                expected: 2,
                got: 1
            }))
        ));
        let e = trust.check_block(1, Some(Hash32([9; 32])), &b1, p, now());
        assert!(matches!(
            e,
            Err(BlockRefused::Chain(StoreError::BrokenChain {
                number: 1,
                ..
            }))
        ));
        // Unsigned, signed by a valid non-consenter, or with a signature of another block.
        let unsigned = block_after(genesis, None);
        let rogue = block_after(genesis, Some(&f.rogue));
        let mut moved = block_after(genesis, None);
        moved.metadata.signatures = block_after(&b1, Some(&f.orderer)).metadata.signatures;
        for (b, n) in [(unsigned, 0), (rogue, 1), (moved, 1)] {
            assert_eq!(
                trust.check_block(1, Some(genesis.hash()), &b, p, now()),
                Err(BlockRefused::NoConsenterSignature {
                    number: 1,
                    channel: "ch".into(),
                    signatures: n
                })
            );
        }
    }

    #[test]
    fn the_genesis_commit_hash_is_fixed_and_stored_in_its_metadata() {
        let (codes, updates, hash) = genesis_outcome();
        assert_eq!(codes, vec![TxValidationCode::Valid]);
        assert_eq!(updates, UpdateBatch::default());
        assert_eq!(hash, commit_hash(&Hash32::ZERO, 0, &codes, &updates));
        let g = committed_genesis(&Block::new(0, Hash32::ZERO, vec![], 0));
        assert_eq!(g.metadata.commit_hash, Some(hash));
        assert_eq!(g.metadata.validation_codes, codes);
    }

    #[test]
    fn codes_are_summarised_by_kind() {
        use TxValidationCode::*;
        let (valid, invalid) = summarise(&[
            Valid,
            MvccReadConflict,
            Valid,
            MvccReadConflict,
            DuplicateTxid,
        ]);
        assert_eq!(valid, 2);
        assert_eq!(
            describe_invalid(&invalid),
            "DUPLICATE_TXID=1 MVCC_READ_CONFLICT=2"
        );
        assert_eq!(describe_invalid(&BTreeMap::new()), "none");
    }
}
