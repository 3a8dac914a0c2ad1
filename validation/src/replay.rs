//! The updates of a block that was validated before: what a committer replays
//! into its state on restart, and what an endorser applies to its replica from
//! its committer's validated block feed, without validating again.
//!
//! The result equals the `updates` [`crate::validate_block`] returned for that
//! block, so the commit hash computed from it is the same.

use cellchain_core::protocol::{
    decode, Block, PayloadData, ProposalResponsePayload, TxValidationCode as Code, Version,
};

use crate::validator::collect_updates;
use crate::{TxOutcome, UpdateBatch};

/// Why a validated block's updates cannot be derived.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    #[error("block {block} carries {codes} validation codes for {envelopes} envelopes: it was not validated")]
    NotValidated {
        block: u64,
        codes: usize,
        envelopes: usize,
    },
    #[error("block {block}, transaction {index} is marked valid but {reason}")]
    Inconsistent {
        block: u64,
        index: u32,
        reason: String,
    },
}

/// Codes of transactions whose tx id did not make it into the tx-id index:
/// failed checks 1-5 (the id is not the creator's own) and duplicates.
fn indexed(code: Code) -> bool {
    !matches!(
        code,
        Code::NilEnvelope
            | Code::BadPayload
            | Code::TargetChainNotFound
            | Code::BadProposalTxid
            | Code::BadCreatorSignature
            | Code::DuplicateTxid
    )
}

/// The update batch of a validated block, from its envelopes and the validation
/// codes in its metadata. The genesis block (block 0, the channel's
/// configuration) changes no state and indexes no tx id: the committer commits
/// it that way.
pub fn updates_from_block(block: &Block) -> Result<UpdateBatch, ReplayError> {
    let number = block.header.number;
    let codes = &block.metadata.validation_codes;
    if codes.len() != block.data.envelopes.len() {
        return Err(ReplayError::NotValidated {
            block: number,
            codes: codes.len(),
            envelopes: block.data.envelopes.len(),
        });
    }
    let mut updates = UpdateBatch {
        block: number,
        ..UpdateBatch::default()
    };
    if number == 0 {
        return Ok(updates);
    }
    for (i, (envelope, &code)) in block.data.envelopes.iter().zip(codes).enumerate() {
        let index = i as u32;
        let inconsistent = |reason: String| ReplayError::Inconsistent {
            block: number,
            index,
            reason,
        };
        if !indexed(code) {
            continue;
        }
        let payload = envelope
            .parse_payload()
            .map_err(|e| inconsistent(format!("its payload does not parse: {e}")))?;
        updates.transactions.push(TxOutcome {
            tx_id: payload.header.tx_id,
            index,
            code,
        });
        if code != Code::Valid {
            continue;
        }
        let PayloadData::Endorser(tx) = payload.data else {
            return Err(inconsistent("it is not an endorser transaction".into()));
        };
        let response: ProposalResponsePayload =
            decode("proposal response payload", &tx.response_payload)
                .map_err(|e| inconsistent(format!("its response payload does not parse: {e}")))?;
        collect_updates(
            &mut updates,
            &response.rwset,
            Version {
                block: number,
                tx: index,
            },
        );
    }
    Ok(updates)
}
