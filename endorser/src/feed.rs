//! Following the committer's validated block feed to keep a replica current.
//!
//! `POST http://COMMITTER/v1/channels/CH/blocks` with a [`SignedDeliverRequest`]
//! (start = replica height, no stop, signed with the endorser's key; the
//! committer checks the channel's Readers ACL) answers NDJSON: one validated
//! [`Block`] per line, `metadata.validation_codes` and `metadata.commit_hash`
//! set, and stays open for new blocks. Each block is applied to the replica as
//! it arrives. When the stream ends or fails the follower logs why and
//! reconnects with exponential backoff from the replica's height.

use std::sync::Arc;
use std::time::Duration;

use cellchain_core::crypto::Signer;
use cellchain_core::identity::SerializedIdentity;
use cellchain_core::protocol::{Block, DeliverRequest, SignedDeliverRequest};
use futures_util::StreamExt;
use tokio::sync::watch;

use crate::replica::{Applied, Replica};

/// First and longest wait between two connection attempts.
pub const BACKOFF_MIN: Duration = Duration::from_millis(100);
pub const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// Longest line accepted from the feed (a block).
const MAX_LINE: usize = 256 * 1024 * 1024;

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
            match apply_line(replica, line.to_vec()).await {
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

async fn apply_line(replica: &Arc<Replica>, line: Vec<u8>) -> Result<Applied, String> {
    let replica = replica.clone();
    tokio::task::spawn_blocking(move || {
        let block: Block = serde_json::from_slice(&line)
            .map_err(|e| format!("the feed sent something that is not a block: {e}"))?;
        let number = block.header.number;
        let applied = replica
            .apply_block(&block)
            .map_err(|e| format!("block {number}: {e}"))?;
        if applied == Applied::Applied {
            tracing::debug!(channel = %replica.channel, number, txs = block.data.envelopes.len(), "block applied to the replica");
        }
        Ok(applied)
    })
    .await
    .map_err(|e| format!("applying a block panicked: {e}"))?
}
