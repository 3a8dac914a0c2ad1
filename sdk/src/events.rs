//! Events: validated blocks from a committer's feed (`POST .../blocks`), and the
//! chaincode events of their valid transactions, with an optional checkpoint file.
//!
//! A listener's position is a [`Checkpoint`]: the next block, and within it the
//! next transaction (and event) to hand out. Asking for the next item
//! ([`BlockEvents::next`], [`ChaincodeEvents::next`]) first records the item
//! handed out before as handled and saves the position; so after a crash or a
//! restart a listener with the same checkpoint file resumes right after the last
//! item it finished with: nothing missed, nothing repeated (an item being handled
//! when the process died is handed out again).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use cellchain_core::protocol::{
    decode, Block, ChaincodeEvent, DeliverRequest, PayloadData, ProposalResponsePayload,
    SignedDeliverRequest, TxId,
};
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use crate::error::{Attempt, SdkError};
use crate::gateway::{now, Network};
use crate::transport::{describe, status_error};

/// Chunks of a feed answer's body, or why reading failed.
type Chunks = BoxStream<'static, Result<Vec<u8>, String>>;

/// A listener's position: everything before transaction `tx_index` (and event
/// `event` of it) of block `block` has been handled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Checkpoint {
    pub block: u64,
    #[serde(default)]
    pub tx_index: u32,
    /// The next event of transaction `tx_index` (chaincode listeners only).
    #[serde(default)]
    pub event: u32,
}

impl Checkpoint {
    /// Reads a checkpoint file; `None` when it does not exist yet.
    pub fn load(path: &Path) -> Result<Option<Checkpoint>, SdkError> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| SdkError::File {
                    action: "parse",
                    what: "the event checkpoint",
                    path: path.to_path_buf(),
                    source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(SdkError::File {
                action: "read",
                what: "the event checkpoint",
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// Writes the checkpoint atomically (a temporary file renamed over it).
    pub fn save(&self, path: &Path) -> Result<(), SdkError> {
        let tmp = path.with_extension("tmp");
        let err = |source| SdkError::File {
            action: "write",
            what: "the event checkpoint",
            path: path.to_path_buf(),
            source,
        };
        std::fs::write(
            &tmp,
            serde_json::to_vec(self).expect("a checkpoint encodes"),
        )
        .map_err(err)?;
        std::fs::rename(&tmp, path).map_err(err)
    }
}

/// A chaincode event of a valid, committed transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChaincodeEventRecord {
    pub block: u64,
    pub tx_index: u32,
    /// Its position among the transaction's events of this chaincode.
    pub event_index: u32,
    pub tx_id: TxId,
    pub event: ChaincodeEvent,
}

/// A block and where it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockEvent {
    pub block: Block,
    /// The committer that served it.
    pub committer: String,
}

/// The validated blocks of a channel from `start` on, following the chain (see
/// [`Network::block_events`]).
pub struct BlockEvents {
    network: Network,
    /// Next block to read from the feed.
    next_block: u64,
    /// The position once the item handed out last is handled.
    position: Checkpoint,
    pending: Option<Checkpoint>,
    checkpoint_file: Option<PathBuf>,
    /// The committer read from, and its stream of NDJSON chunks.
    feed: Option<(String, Chunks)>,
    buffer: Vec<u8>,
    /// Which committer to use first next time one has to be connected.
    committer: usize,
}

impl Network {
    /// The channel's validated blocks from block `start` on, from a committer of
    /// the caller's organisation (another on failure). Nothing is contacted
    /// until the first [`BlockEvents::next`].
    pub fn block_events(&self, start: u64) -> BlockEvents {
        BlockEvents {
            network: self.clone(),
            next_block: start,
            position: Checkpoint {
                block: start,
                ..Checkpoint::default()
            },
            pending: None,
            checkpoint_file: None,
            feed: None,
            buffer: Vec::new(),
            committer: 0,
        }
    }

    /// The events chaincode `chaincode` emitted in valid transactions, from block
    /// `start` on.
    pub fn chaincode_events(&self, chaincode: &str, start: u64) -> ChaincodeEvents {
        ChaincodeEvents {
            blocks: self.block_events(start),
            chaincode: chaincode.to_string(),
            queue: VecDeque::new(),
            position: Checkpoint {
                block: start,
                ..Checkpoint::default()
            },
            pending: None,
            checkpoint_file: None,
        }
    }
}

impl BlockEvents {
    /// Keeps the position in `path`: when it exists, reading resumes there (the
    /// `start` given is ignored), and it is updated as blocks are handled.
    pub fn with_checkpoint_file(mut self, path: impl Into<PathBuf>) -> Result<Self, SdkError> {
        let path = path.into();
        if let Some(c) = Checkpoint::load(&path)? {
            self.position = Checkpoint {
                block: c.block,
                ..Checkpoint::default()
            };
            self.next_block = c.block;
        }
        self.checkpoint_file = Some(path);
        Ok(self)
    }

    /// The position: the next block to hand out once the last one is handled.
    pub fn checkpoint(&self) -> Checkpoint {
        self.pending.unwrap_or(self.position)
    }

    /// Records the block handed out last as handled (and saves the checkpoint file).
    pub fn commit(&mut self) -> Result<(), SdkError> {
        if let Some(p) = self.pending.take() {
            self.position = p;
            if let Some(path) = &self.checkpoint_file {
                p.save(path)?;
            }
        }
        Ok(())
    }

    /// The next block, waiting for it to be committed. `None` never happens while
    /// committers are reachable; an `Err` says which committers failed, and
    /// calling `next` again tries them again.
    pub async fn next(&mut self) -> Option<Result<Block, SdkError>> {
        if let Err(e) = self.commit() {
            return Some(Err(e));
        }
        Some(self.read().await.map(|event| {
            self.pending = Some(Checkpoint {
                block: event.block.header.number + 1,
                ..Checkpoint::default()
            });
            event.block
        }))
    }

    /// Reads the next block from the feed, (re)connecting as needed; does not
    /// move the checkpoint.
    async fn read(&mut self) -> Result<BlockEvent, SdkError> {
        let mut attempts = Vec::new();
        let committers = self.network.committers_caller_first();
        if committers.is_empty() {
            return Err(SdkError::Config {
                reason: "the connection profile lists no committer".into(),
            });
        }
        let mut tried = 0;
        loop {
            if self.feed.is_none() {
                if tried == committers.len() {
                    return Err(SdkError::Unavailable {
                        role: "committer",
                        scope: format!("channel {}", self.network.channel),
                        request: "block feed",
                        attempts,
                    });
                }
                let node = &committers[self.committer % committers.len()];
                tried += 1;
                match self.connect(node).await {
                    Ok(stream) => self.feed = Some((node.name.clone(), stream)),
                    Err(reason) => {
                        attempts.push(Attempt {
                            node: node.name.clone(),
                            reason,
                        });
                        self.committer += 1;
                        continue;
                    }
                }
            }
            let name = self.feed.as_ref().expect("connected above").0.clone();
            if let Some(end) = self.buffer.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buffer.drain(..=end).collect();
                let block: Block = match serde_json::from_slice(&line) {
                    Ok(b) => b,
                    Err(e) => {
                        return Err(SdkError::BadAnswer {
                            role: "committer",
                            node: name,
                            request: "block feed",
                            reason: format!("a line that is not a block: {e}"),
                        })
                    }
                };
                if block.header.number != self.next_block {
                    let reason = format!(
                        "block {} sent where block {} was expected",
                        block.header.number, self.next_block
                    );
                    self.feed = None;
                    self.buffer.clear();
                    return Err(SdkError::BadAnswer {
                        role: "committer",
                        node: name.clone(),
                        request: "block feed",
                        reason,
                    });
                }
                self.next_block += 1;
                return Ok(BlockEvent {
                    block,
                    committer: name.clone(),
                });
            }
            let stream = &mut self.feed.as_mut().expect("connected above").1;
            match stream.next().await {
                Some(Ok(chunk)) => self.buffer.extend_from_slice(&chunk),
                end => {
                    let reason = match end {
                        Some(Err(e)) => e,
                        _ => "the feed ended (committer stopping)".into(),
                    };
                    tracing::debug!(committer = %name, %reason, "block feed lost, reconnecting");
                    attempts.push(Attempt {
                        node: name.clone(),
                        reason,
                    });
                    self.feed = None;
                    self.buffer.clear();
                    self.committer += 1;
                }
            }
        }
    }

    async fn connect(&self, node: &crate::profile::Endpoint) -> Result<Chunks, String> {
        let net = &self.network;
        let request = DeliverRequest {
            channel_id: net.channel.clone(),
            start: self.next_block,
            stop: None,
            creator: net.identity().serialized().clone(),
            timestamp: now(),
        };
        let signed = SignedDeliverRequest::sign(&request, net.identity().signer())
            .map_err(|e| format!("cannot sign the deliver request: {e}"))?;
        let response = net
            .transport()
            .http
            .post(node.url(&format!("/v1/channels/{}/blocks", net.channel)))
            .json(&signed)
            .send()
            .await
            .map_err(|e| describe(&e))?;
        let status = response.status().as_u16();
        if status != 200 {
            let body = response.bytes().await.unwrap_or_default();
            return Err(status_error(status, &body).to_string());
        }
        Ok(response
            .bytes_stream()
            .map(|r| r.map(|b| b.to_vec()).map_err(|e| describe(&e)))
            .boxed())
    }
}

/// The chaincode events of valid transactions (see [`Network::chaincode_events`]).
pub struct ChaincodeEvents {
    blocks: BlockEvents,
    chaincode: String,
    queue: VecDeque<ChaincodeEventRecord>,
    position: Checkpoint,
    pending: Option<Checkpoint>,
    checkpoint_file: Option<PathBuf>,
}

impl ChaincodeEvents {
    /// Keeps the position in `path` (block, transaction and event): when it
    /// exists, reading resumes right after the last event handled.
    pub fn with_checkpoint_file(mut self, path: impl Into<PathBuf>) -> Result<Self, SdkError> {
        let path = path.into();
        if let Some(c) = Checkpoint::load(&path)? {
            self.position = c;
            self.blocks = self.blocks.network.block_events(c.block);
        }
        self.checkpoint_file = Some(path);
        Ok(self)
    }

    /// The position once the event handed out last is handled.
    pub fn checkpoint(&self) -> Checkpoint {
        self.pending.unwrap_or(self.position)
    }

    /// Records the event handed out last as handled (and saves the checkpoint file).
    pub fn commit(&mut self) -> Result<(), SdkError> {
        if let Some(p) = self.pending.take() {
            self.position = p;
            if let Some(path) = &self.checkpoint_file {
                p.save(path)?;
            }
        }
        Ok(())
    }

    /// The next event, waiting for blocks as needed.
    pub async fn next(&mut self) -> Option<Result<ChaincodeEventRecord, SdkError>> {
        if let Err(e) = self.commit() {
            return Some(Err(e));
        }
        loop {
            if let Some(record) = self.queue.pop_front() {
                // Once this one is handled: the rest of its block, or the next block.
                let next = if self.queue.is_empty() {
                    Checkpoint {
                        block: record.block + 1,
                        ..Checkpoint::default()
                    }
                } else {
                    Checkpoint {
                        block: record.block,
                        tx_index: record.tx_index,
                        event: record.event_index + 1,
                    }
                };
                self.pending = Some(next);
                return Some(Ok(record));
            }
            let block = match self.blocks.read().await {
                Ok(e) => e.block,
                Err(e) => return Some(Err(e)),
            };
            let from = self.position;
            self.queue = chaincode_events(&block, &self.chaincode)
                .into_iter()
                .filter(|r| {
                    let here = Checkpoint {
                        block: r.block,
                        tx_index: r.tx_index,
                        event: r.event_index,
                    };
                    here >= from
                })
                .collect();
            if self.queue.is_empty() {
                // Nothing to hand out in this block: move past it.
                self.pending = Some(Checkpoint {
                    block: block.header.number + 1,
                    ..Checkpoint::default()
                });
                if let Err(e) = self.commit() {
                    return Some(Err(e));
                }
            }
        }
    }
}

/// The events of `chaincode` in the valid transactions of a validated block, in
/// order. Transactions whose payload does not parse are skipped (a valid one
/// always parses).
pub fn chaincode_events(block: &Block, chaincode: &str) -> Vec<ChaincodeEventRecord> {
    let mut out = Vec::new();
    for (i, envelope) in block.data.envelopes.iter().enumerate() {
        let valid = block
            .metadata
            .validation_codes
            .get(i)
            .is_some_and(|c| c.is_valid());
        if !valid {
            continue;
        }
        let Ok(payload) = envelope.parse_payload() else {
            continue;
        };
        let PayloadData::Endorser(tx) = payload.data else {
            continue;
        };
        let Ok(response) =
            decode::<ProposalResponsePayload>("proposal response payload", &tx.response_payload)
        else {
            continue;
        };
        let events = response
            .events
            .into_iter()
            .filter(|e| e.chaincode == chaincode);
        for (n, event) in events.enumerate() {
            out.push(ChaincodeEventRecord {
                block: block.header.number,
                tx_index: i as u32,
                event_index: n as u32,
                tx_id: payload.header.tx_id,
                event,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use cellchain_core::bytes::sha256;
    use cellchain_core::crypto::random_nonce;
    use cellchain_core::protocol::{
        encode, ChaincodeRef, ChaincodeResponse, EndorserTransaction, Envelope, Header, Payload,
        Timestamp, TxRwSet, TxValidationCode,
    };
    use cellchain_core::testing::TestCa;
    use cellchain_core::{Bytes, Hash32};

    fn tx(events: &[(&str, &str)]) -> (TxId, Envelope) {
        let m = TestCa::new("Org1MSP").member("Org1MSP", "app", "client");
        let header = Header::new("ch", m.id.clone(), random_nonce(), Timestamp::default());
        let response = ProposalResponsePayload {
            proposal_hash: sha256(b"p"),
            chaincode: ChaincodeRef {
                name: "cc".into(),
                version: "1".into(),
                sequence: 1,
            },
            rwset: TxRwSet::default(),
            events: events
                .iter()
                .map(|(cc, name)| ChaincodeEvent {
                    chaincode: cc.to_string(),
                    name: name.to_string(),
                    payload: Bytes::default(),
                })
                .collect(),
            response: ChaincodeResponse {
                status: 200,
                message: String::new(),
                payload: Bytes::default(),
            },
        };
        let payload = Payload {
            header: header.clone(),
            data: PayloadData::Endorser(EndorserTransaction {
                proposal: Bytes(b"p".to_vec()),
                response_payload: encode(&response),
                endorsements: vec![],
            }),
        };
        (
            header.tx_id,
            Envelope::sign(&payload, m.signer.as_ref()).unwrap(),
        )
    }

    #[test]
    fn chaincode_events_come_from_valid_transactions_of_the_chaincode_only() {
        let (t0, e0) = tx(&[("cc", "a"), ("other", "x"), ("cc", "b")]);
        let (_, e1) = tx(&[("cc", "lost")]);
        let (t2, e2) = tx(&[("cc", "c")]);
        let mut block = Block::new(3, Hash32::ZERO, vec![e0, e1, e2], 0);
        block.metadata.validation_codes = vec![
            TxValidationCode::Valid,
            TxValidationCode::MvccReadConflict,
            TxValidationCode::Valid,
        ];
        let got: Vec<(u64, u32, u32, TxId, String)> = chaincode_events(&block, "cc")
            .into_iter()
            .map(|r| (r.block, r.tx_index, r.event_index, r.tx_id, r.event.name))
            .collect();
        assert_eq!(
            got,
            vec![
                (3, 0, 0, t0, "a".to_string()),
                (3, 0, 1, t0, "b".to_string()),
                (3, 2, 0, t2, "c".to_string()),
            ]
        );
    }

    #[test]
    fn checkpoints_round_trip_through_their_file_and_order_by_position() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("listener.checkpoint");
        assert_eq!(Checkpoint::load(&path).unwrap(), None);
        let c = Checkpoint {
            block: 7,
            tx_index: 2,
            event: 1,
        };
        c.save(&path).unwrap();
        assert_eq!(Checkpoint::load(&path).unwrap(), Some(c));
        // A file with only the block (as Fabric-style checkpoints have) is read too.
        std::fs::write(&path, br#"{"block": 9}"#).unwrap();
        assert_eq!(
            Checkpoint::load(&path).unwrap(),
            Some(Checkpoint {
                block: 9,
                tx_index: 0,
                event: 0
            })
        );
        assert!(
            Checkpoint {
                block: 3,
                tx_index: 5,
                event: 0
            } < Checkpoint {
                block: 4,
                tx_index: 0,
                event: 0
            }
        );
        std::fs::write(&path, b"garbage").unwrap();
        let e = Checkpoint::load(&path).unwrap_err().to_string();
        assert!(e.starts_with("cannot parse the event checkpoint "), "{e}");
    }
}
