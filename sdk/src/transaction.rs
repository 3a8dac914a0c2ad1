//! An endorsed [`Transaction`], its ordering (broadcast) and its [`Commit`] status.

use std::time::{Duration, Instant};

use cellchain_core::protocol::{
    Envelope, Query, QueryRequest, SignedQuery, TxId, TxValidationCode,
};
use serde::Deserialize;

use crate::error::{Attempt, SdkError};
use crate::gateway::{now, Network};
use crate::transport::CallError;

/// Most failed attempts kept in an error (the latest ones).
const MAX_ATTEMPTS_KEPT: usize = 12;

/// A transaction endorsed as its policy requires and signed by the client, not
/// yet ordered.
pub struct Transaction {
    network: Network,
    chaincode: String,
    tx_id: TxId,
    envelope: Envelope,
    result: Vec<u8>,
    endorsers: Vec<String>,
}

/// A committed, valid transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmitResult {
    pub tx_id: TxId,
    /// The block it was committed in, and its position there.
    pub block: u64,
    pub index: u32,
    /// The chaincode's response payload (as the endorsers simulated it).
    pub payload: Vec<u8>,
}

/// The committer's answer to a `tx_status` query.
#[derive(Debug, Deserialize)]
struct TxStatusAnswer {
    block: u64,
    index: u32,
    code: CodeAnswer,
}

#[derive(Debug, Deserialize)]
struct CodeAnswer {
    name: String,
    number: u8,
}

#[derive(Debug, Deserialize)]
struct Ordered {
    block: u64,
}

impl Transaction {
    pub(crate) fn new(
        network: Network,
        chaincode: String,
        tx_id: TxId,
        envelope: Envelope,
        result: Vec<u8>,
        endorsers: Vec<String>,
    ) -> Transaction {
        Transaction {
            network,
            chaincode,
            tx_id,
            envelope,
            result,
            endorsers,
        }
    }

    pub fn tx_id(&self) -> TxId {
        self.tx_id
    }

    /// The chaincode's response payload, as simulated (not yet committed).
    pub fn result(&self) -> &[u8] {
        &self.result
    }

    /// The endorsers whose endorsements the envelope carries.
    pub fn endorsers(&self) -> &[String] {
        &self.endorsers
    }

    /// The signed envelope that will be broadcast.
    pub fn envelope(&self) -> &Envelope {
        &self.envelope
    }

    /// Broadcasts the envelope to the orderers: the next orderer is tried on a
    /// connection error or a 503 (no leader, overloaded, not ordered in time), for
    /// up to `broadcast_timeout`; any other answer is a refusal. Returns once the
    /// orderers have ordered it into a block (not yet validated).
    pub async fn submit(self) -> Result<Commit, SdkError> {
        let net = &self.network;
        let path = format!("/v1/channels/{}/broadcast", net.channel);
        let options = net.options();
        let deadline = Instant::now() + options.broadcast_timeout;
        let mut attempts: Vec<Attempt> = Vec::new();
        let mut pause = Duration::from_millis(100);
        loop {
            let orderers = net.orderers_rotated();
            if orderers.is_empty() {
                return Err(SdkError::Config {
                    reason: "the connection profile lists no orderer".into(),
                });
            }
            for orderer in &orderers {
                let left = deadline.saturating_duration_since(Instant::now());
                let timeout = options
                    .request_timeout
                    .min(left)
                    .max(Duration::from_secs(1));
                match net
                    .transport()
                    .post::<Ordered>(orderer, &path, &self.envelope, timeout)
                    .await
                {
                    Ok(o) => {
                        tracing::debug!(tx_id = %self.tx_id, orderer = %orderer, block = o.block, "ordered");
                        return Ok(Commit {
                            network: self.network.clone(),
                            chaincode: self.chaincode,
                            tx_id: self.tx_id,
                            ordered_block: o.block,
                            result: self.result,
                        });
                    }
                    Err(e) if e.is_retryable() => {
                        tracing::debug!(tx_id = %self.tx_id, orderer = %orderer, error = %e, "trying the next orderer");
                        attempts.push(e.attempt(orderer));
                    }
                    Err(CallError::Status {
                        status,
                        kind,
                        message,
                        ..
                    }) => {
                        return Err(SdkError::Broadcast {
                            orderer: orderer.name.clone(),
                            tx_id: self.tx_id,
                            status,
                            kind,
                            message,
                        })
                    }
                    Err(e) => return Err(e.into_sdk("orderer", orderer, "broadcast")),
                }
                if Instant::now() >= deadline {
                    let skip = attempts.len().saturating_sub(MAX_ATTEMPTS_KEPT);
                    return Err(SdkError::Unavailable {
                        role: "orderer",
                        scope: format!("channel {}", net.channel),
                        request: "broadcast",
                        attempts: attempts.split_off(skip),
                    });
                }
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(1));
        }
    }
}

/// An ordered transaction whose validation is awaited with [`Commit::status`].
#[derive(Clone)]
pub struct Commit {
    network: Network,
    chaincode: String,
    tx_id: TxId,
    ordered_block: u64,
    result: Vec<u8>,
}

impl Commit {
    pub fn tx_id(&self) -> TxId {
        self.tx_id
    }

    /// The block the orderers put the transaction in.
    pub fn ordered_block(&self) -> u64 {
        self.ordered_block
    }

    /// The chaincode's response payload, as simulated.
    pub fn result(&self) -> &[u8] {
        &self.result
    }

    /// Waits until a committer (the caller's organisation's first) reports the
    /// transaction committed: `Ok` when valid, [`SdkError::Invalid`] with its
    /// validation code otherwise, [`SdkError::CommitTimeout`] after
    /// `commit_timeout`.
    pub async fn status(&self) -> Result<SubmitResult, SdkError> {
        let net = &self.network;
        let committers = net.committers_caller_first();
        if committers.is_empty() {
            return Err(SdkError::Config {
                reason: "the connection profile lists no committer".into(),
            });
        }
        let options = net.options();
        let deadline = Instant::now() + options.commit_timeout;
        let path = format!("/v1/channels/{}/query", net.channel);
        let mut i = 0;
        loop {
            let committer = &committers[i % committers.len()];
            let request = QueryRequest {
                channel_id: net.channel.clone(),
                creator: net.identity().serialized().clone(),
                timestamp: now(),
                query: Query::TxStatus { tx_id: self.tx_id },
            };
            let signed =
                SignedQuery::sign(&request, net.identity().signer()).map_err(|source| {
                    SdkError::Sign {
                        what: "tx status query",
                        source,
                    }
                })?;
            let answer = net
                .transport()
                .post::<TxStatusAnswer>(committer, &path, &signed, options.request_timeout)
                .await;
            match answer {
                Ok(s) => return self.verdict(committer.name.clone(), s),
                // Not committed there yet: ask the same committer again.
                Err(CallError::Status {
                    status: 404,
                    ref kind,
                    ..
                }) if kind == "not_found" => {}
                Err(e) if e.is_retryable() => {
                    tracing::debug!(tx_id = %self.tx_id, committer = %committer, error = %e, "trying the next committer");
                    i += 1;
                }
                Err(e) => return Err(e.into_sdk("committer", committer, "tx status query")),
            }
            if Instant::now() >= deadline {
                return Err(SdkError::CommitTimeout {
                    tx_id: self.tx_id,
                    waited: options.commit_timeout,
                    committers: committers.iter().map(|c| c.name.clone()).collect(),
                });
            }
            tokio::time::sleep(options.commit_poll).await;
        }
    }

    fn verdict(&self, committer: String, s: TxStatusAnswer) -> Result<SubmitResult, SdkError> {
        let code = TxValidationCode::from_u8(s.code.number).ok_or_else(|| SdkError::BadAnswer {
            role: "committer",
            node: committer,
            request: "tx status query",
            reason: format!(
                "unknown validation code {} ({})",
                s.code.number, s.code.name
            ),
        })?;
        self.network.saw_commit(s.block);
        if matches!(
            code,
            TxValidationCode::ChaincodeVersionConflict | TxValidationCode::EndorsementPolicyFailure
        ) {
            // Endorsed under another definition than the one in force, or
            // planned from an outdated policy: the next plan asks the ledger.
            self.network.forget_definition(&self.chaincode);
        }
        if !code.is_valid() {
            return Err(SdkError::Invalid {
                tx_id: self.tx_id,
                code,
                block: s.block,
            });
        }
        Ok(SubmitResult {
            tx_id: self.tx_id,
            block: s.block,
            index: s.index,
            payload: self.result.clone(),
        })
    }
}
