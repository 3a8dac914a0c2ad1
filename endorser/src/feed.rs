//! Following the committer's validated block feed to keep a replica current.
//!
//! `POST http://COMMITTER/v1/channels/CH/blocks` with a [`SignedDeliverRequest`]
//! (start = replica height, no stop, signed with the endorser's key; the
//! committer checks the channel's Readers ACL) answers NDJSON: one validated
//! [`Block`] per line, `metadata.validation_codes` and `metadata.commit_hash`
//! set, and stays open for new blocks. Each block is applied to the replica as
//! it arrives. When the stream ends or fails the follower logs why and
//! reconnects with exponential backoff from the replica's height.
//!
//! A block that wrote private values in collections this endorser's
//! organisation is a member of ([`Replica::private_needs`]) is applied with
//! them: before applying it the follower asks the committer
//! `POST http://COMMITTER/v1/channels/CH/query` with a [`SignedQuery`] of
//! [`Query::BlockPrivateData`] (signed with the endorser's key) and gets
//! [`PrivateData`]; the values are checked against the block's hashes
//! ([`checked_private_writes`]) and applied with the block in one batch. The
//! fetch runs outside the replica's locks: simulations go on meanwhile. Values
//! the committer does not offer (purged, missing) or that do not match are
//! logged and left out; a fetch that fails (network, HTTP status, an answer
//! that does not parse) fails the block like a broken stream: the follower
//! reconnects and retries from the replica's height.

use std::sync::Arc;
use std::time::Duration;

use cellchain_core::crypto::Signer;
use cellchain_core::identity::SerializedIdentity;
use cellchain_core::protocol::{
    Block, DeliverRequest, PrivateData, Query, QueryRequest, SignedDeliverRequest, SignedQuery,
};
use cellchain_core::Hash32;
use futures_util::StreamExt;
use tokio::sync::watch;

use crate::replica::{checked_private_writes, replica_updates, Applied, Replica};

/// First and longest wait between two connection attempts.
pub const BACKOFF_MIN: Duration = Duration::from_millis(100);
pub const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// Longest line accepted from the feed (a block).
const MAX_LINE: usize = 256 * 1024 * 1024;
/// Longest wait for the committer's answer to a private data query.
pub const PRIVATE_FETCH_TIMEOUT: Duration = Duration::from_secs(30);

/// Who follows the feed, and where.
#[derive(Clone)]
pub struct FeedClient {
    /// `host:port` of the committer.
    pub committer: String,
    pub identity: SerializedIdentity,
    pub signer: Arc<dyn Signer>,
    pub http: reqwest::Client,
}

impl FeedClient {
    pub fn new(
        committer: &str,
        identity: SerializedIdentity,
        signer: Arc<dyn Signer>,
    ) -> FeedClient {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            // A followed feed is quiet between blocks: TCP keepalive, not a
            // read timeout, notices a dead peer.
            .tcp_keepalive(Duration::from_secs(30))
            .build()
            .expect("HTTP client");
        FeedClient {
            committer: committer.to_string(),
            identity,
            signer,
            http,
        }
    }

    fn url(&self, channel: &str) -> String {
        format!("http://{}/v1/channels/{channel}/blocks", self.committer)
    }

    fn query_url(&self, channel: &str) -> String {
        format!("http://{}/v1/channels/{channel}/query", self.committer)
    }

    /// Asks the committer for the private values block `block` of `channel`
    /// wrote in the collections this endorser's organisation is a member of.
    /// An error says why (unreachable, an HTTP error status with the
    /// committer's message, an answer that is not [`PrivateData`]).
    pub async fn fetch_block_private_data(
        &self,
        channel: &str,
        block: u64,
    ) -> Result<PrivateData, String> {
        let request = QueryRequest {
            channel_id: channel.to_string(),
            creator: self.identity.clone(),
            timestamp: crate::endorse::now(),
            query: Query::BlockPrivateData { block },
        };
        let signed = SignedQuery::sign(&request, self.signer.as_ref())
            .map_err(|e| format!("cannot sign the private data query: {e}"))?;
        let response = self
            .http
            .post(self.query_url(channel))
            .timeout(PRIVATE_FETCH_TIMEOUT)
            .json(&signed)
            .send()
            .await
            .map_err(|e| format!("cannot fetch the private data of block {block}: {e}"))?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(format!(
                "the committer answered the private data query of block {block} with {status}: {body}"
            ));
        }
        response.json::<PrivateData>().await.map_err(|e| {
            format!("the committer's answer to the private data query of block {block} is not private data: {e}")
        })
    }
}

/// Why one connection ended.
enum Ended {
    /// The committer closed the stream (normal at its shutdown).
    Closed {
        applied: u64,
    },
    /// Shutdown of this endorser.
    Shutdown,
    Failed {
        applied: u64,
        reason: String,
    },
}

/// Follows the feed of `replica`'s channel until `shutdown` becomes true.
pub async fn follow(
    replica: Arc<Replica>,
    client: FeedClient,
    mut shutdown: watch::Receiver<bool>,
) {
    let channel = replica.channel.clone();
    let mut backoff = BACKOFF_MIN;
    loop {
        if *shutdown.borrow() {
            break;
        }
        let ended = tokio::select! {
            e = connection(&replica, &client) => e,
            _ = shutdown.changed() => Ended::Shutdown,
        };
        replica.set_connected(false);
        let applied = match ended {
            Ended::Shutdown => break,
            Ended::Closed { applied } => {
                tracing::info!(%channel, committer = %client.committer, applied, height = replica.height(), "block feed ended; reconnecting");
                applied
            }
            Ended::Failed { applied, reason } => {
                tracing::warn!(%channel, committer = %client.committer, applied, height = replica.height(), retry_ms = backoff.as_millis() as u64, %reason, "block feed failed; reconnecting");
                applied
            }
        };
        replica.count_feed_failure();
        if applied > 0 {
            backoff = BACKOFF_MIN;
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = shutdown.changed() => break,
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
    tracing::debug!(%channel, "block feed follower stopped");
}

/// One connection: request from the replica's height, apply blocks as they come.
async fn connection(replica: &Arc<Replica>, client: &FeedClient) -> Ended {
    let channel = &replica.channel;
    let request = DeliverRequest {
        channel_id: channel.clone(),
        start: replica.height(),
        stop: None,
        creator: client.identity.clone(),
        timestamp: crate::endorse::now(),
    };
    let signed = match SignedDeliverRequest::sign(&request, client.signer.as_ref()) {
        Ok(s) => s,
        Err(e) => {
            return Ended::Failed {
                applied: 0,
                reason: format!("cannot sign the deliver request: {e}"),
            }
        }
    };
    let response = match client
        .http
        .post(client.url(channel))
        .json(&signed)
        .send()
        .await
    {
        Ok(r) => r,
        Err(e) => {
            return Ended::Failed {
                applied: 0,
                reason: format!("cannot reach the committer: {e}"),
            }
        }
    };
    if !response.status().is_success() {
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        return Ended::Failed {
            applied: 0,
            reason: format!("the committer answered {status}: {body}"),
        };
    }
    replica.set_connected(true);
    tracing::info!(%channel, committer = %client.committer, from = request.start, "block feed connected");
    let mut stream = response.bytes_stream();
    let mut buffer: Vec<u8> = Vec::new();
    let mut applied = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                return Ended::Failed {
                    applied,
                    reason: format!("the stream broke: {e}"),
                }
            }
        };
        buffer.extend_from_slice(&chunk);
        while let Some(end) = buffer.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buffer.drain(..=end).collect();
            let line = &line[..line.len() - 1];
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match apply_line(replica, client, line.to_vec()).await {
                Ok(Applied::Applied) => applied += 1,
                Ok(Applied::AlreadyHad) => {}
                Err(reason) => return Ended::Failed { applied, reason },
            }
        }
        if buffer.len() > MAX_LINE {
            return Ended::Failed {
                applied,
                reason: format!("a line of the feed exceeds {MAX_LINE} bytes"),
            };
        }
    }
    Ended::Closed { applied }
}

/// Parses and applies one line of the feed: the block, with the private values
/// of its organisation's collections fetched from the committer first.
async fn apply_line(
    replica: &Arc<Replica>,
    client: &FeedClient,
    line: Vec<u8>,
) -> Result<Applied, String> {
    let r = replica.clone();
    let (block, updates, needs) = tokio::task::spawn_blocking(move || {
        let block: Block = serde_json::from_slice(&line)
            .map_err(|e| format!("the feed sent something that is not a block: {e}"))?;
        // Derived once, for the needs and the apply; not for a resent block.
        let updates = if block.header.number < r.height() {
            None
        } else {
            Some(
                replica_updates(&block)
                    .map_err(|e| format!("block {}: {e}", block.header.number))?,
            )
        };
        let needs = updates.as_ref().map(|u| r.needs_of(u)).unwrap_or_default();
        Ok::<_, String>((block, updates, needs))
    })
    .await
    .map_err(|e| format!("reading a block panicked: {e}"))??;
    let number = block.header.number;
    let channel = &replica.channel;
    // Outside every replica lock: simulations run while we wait.
    let data = if needs.is_empty() {
        None
    } else {
        Some(client.fetch_block_private_data(channel, number).await?)
    };
    let replica = replica.clone();
    tokio::task::spawn_blocking(move || {
        let channel = &replica.channel;
        let private = match data {
            None => Vec::new(),
            Some(data) => {
                let reader = replica.reader();
                let key_of = |ns: &str, coll: &str, key_hash: &Hash32| {
                    reader
                        .get_private_by_hash(ns, coll, key_hash)
                        .ok()
                        .flatten()
                        .map(|(key, _, _)| key)
                };
                let checked = checked_private_writes(channel, number, &needs, &data, &key_of);
                let left_out = (checked.missing + checked.mismatched) as u64;
                if left_out > 0 {
                    replica.count_private_missing(left_out);
                }
                tracing::debug!(%channel, number, needs = needs.len(), values = checked.writes.len(), missing = checked.missing, mismatched = checked.mismatched, "private values fetched for a block");
                checked.writes
            }
        };
        let applied = replica
            .apply_validated(&block, updates.as_ref(), &private)
            .map_err(|e| format!("block {number}: {e}"))?;
        if applied == Applied::Applied {
            tracing::debug!(%channel, number, txs = block.data.envelopes.len(), private_values = private.len(), "block applied to the replica");
        }
        Ok(applied)
    })
    .await
    .map_err(|e| format!("applying a block panicked: {e}"))?
}
