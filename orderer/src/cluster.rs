//! Traffic between the consenters of a channel: Raft messages and envelopes a
//! follower forwards to its leader, and block pulls for catch-up.
//!
//! **Authentication: signed message batches**, not mutual TLS. Every request one
//! orderer sends another carries its node name and an ECDSA signature over
//! `cellchain/cluster/v1\0 || body`, made with its orderer key; the receiver
//! verifies it against that consenter's certificate from the channel's genesis
//! block (every channel the batch touches must list the sender as a consenter with
//! that same certificate), checks that the batch is addressed to it and that its
//! timestamp is within the configured skew. Why not mTLS: the consenter
//! certificates are already the trust anchor, signing reuses the crypto provider
//! everything else uses (about 13 us per batch with ring, amortised over a batch),
//! and it needs no TLS-specific certificate fields (SANs for loopback ports). What
//! it does not give is confidentiality on the wire: run the cluster on a private
//! network or behind TLS termination. A replayed batch within the skew window is
//! harmless: Raft discards stale messages and the leader drops envelopes it has
//! already ordered.
//!
//! Sending: one bounded queue and one task per peer. The task drains whatever is
//! queued into one batch (grouped by channel), signs it and POSTs it with a pooled
//! HTTP client; a failed send is dropped (Raft retransmits) and reported back to
//! the channel so snapshot sends and forwarded envelopes do not wait in vain.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use cellchain_core::bytes::Bytes;
use cellchain_core::config::ChannelConfig;
use cellchain_core::crypto::{CryptoProvider, PublicKey, Signer};
use cellchain_core::identity::{MspSet, SerializedIdentity};
use cellchain_core::protocol::{signing, Block, Envelope, TxId};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

/// Header naming the sending orderer.
pub const NODE_HEADER: &str = "x-cellchain-node";
/// Header carrying the base64 signature over the body.
pub const SIGNATURE_HEADER: &str = "x-cellchain-signature";

/// The traffic for one channel inside a batch.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ChannelTraffic {
    pub channel: String,
    /// Raft messages, each protobuf-encoded.
    #[serde(default)]
    pub raft: Vec<Bytes>,
    /// Admitted envelopes forwarded to the leader.
    #[serde(default)]
    pub envelopes: Vec<Envelope>,
}

/// A batch of traffic from one orderer to another.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClusterBatch {
    pub from: String,
    pub to: String,
    /// Unix milliseconds when it was sent.
    pub sent_at_ms: u64,
    pub items: Vec<ChannelTraffic>,
}

/// A request for blocks `[from, to)` of a channel, from a consenter catching up.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PullRequest {
    pub from_node: String,
    pub channel: String,
    pub from: u64,
    pub to: u64,
    pub sent_at_ms: u64,
}

/// Why a cluster request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClusterAuthError {
    #[error("missing or malformed header {0}")]
    MissingHeader(&'static str),
    #[error("{node} is not a consenter of channel {channel}")]
    NotConsenter { node: String, channel: String },
    #[error("the channel {channel} is not served here")]
    UnknownChannel { channel: String },
    #[error("the signature of {node} does not verify")]
    BadSignature { node: String },
    #[error("the request is addressed to {to}, not to this node")]
    WrongRecipient { to: String },
    #[error("the request names sender {claimed} but was signed as {node}")]
    SenderMismatch { claimed: String, node: String },
    #[error("the request timestamp is {skew_ms} ms away from this node's clock")]
    Stale { skew_ms: u64 },
    #[error("malformed cluster request: {0}")]
    Malformed(String),
}

impl ClusterAuthError {
    pub fn kind(&self) -> &'static str {
        match self {
            ClusterAuthError::MissingHeader(_) => "missing_header",
            ClusterAuthError::NotConsenter { .. } => "not_consenter",
            ClusterAuthError::UnknownChannel { .. } => "unknown_channel",
            ClusterAuthError::BadSignature { .. } => "bad_signature",
            ClusterAuthError::WrongRecipient { .. } => "wrong_recipient",
            ClusterAuthError::SenderMismatch { .. } => "sender_mismatch",
            ClusterAuthError::Stale { .. } => "stale",
            ClusterAuthError::Malformed(_) => "malformed",
        }
    }
}

/// One consenter of one channel, as the cluster layer knows it.
#[derive(Debug, Clone)]
pub struct Peer {
    pub id: u64,
    pub name: String,
    pub endpoint: String,
    pub key: PublicKey,
}

/// The consenters of a channel with their keys, from its genesis block.
#[derive(Debug, Clone)]
pub struct ConsenterSet {
    pub peers: Vec<Peer>,
}

impl ConsenterSet {
    /// Validates every consenter certificate at `at` (the genesis time) and keeps its key.
    pub fn from_config(config: &ChannelConfig, msps: &MspSet, at: i64) -> Result<Self, String> {
        let mut peers = Vec::new();
        for c in &config.orderer.consenters {
            let id = SerializedIdentity {
                msp_id: c.msp_id.clone(),
                cert: c.cert.clone(),
            };
            let identity = msps
                .validate(&id, at)
                .map_err(|e| format!("consenter {}: {e}", c.name))?;
            peers.push(Peer {
                id: c.id,
                name: c.name.clone(),
                endpoint: c.endpoint.clone(),
                key: identity.public_key,
            });
        }
        Ok(ConsenterSet { peers })
    }

    pub fn by_name(&self, name: &str) -> Option<&Peer> {
        self.peers.iter().find(|p| p.name == name)
    }

    pub fn by_id(&self, id: u64) -> Option<&Peer> {
        self.peers.iter().find(|p| p.id == id)
    }
}

/// Checks a signed cluster request: the sender header, the signature against the
/// sender's consenter key in every channel named, and returns the sender's name.
pub fn verify_request(
    node_header: Option<&str>,
    signature_header: Option<&str>,
    body: &[u8],
    channels: &[&str],
    consenters: &dyn Fn(&str) -> Option<Arc<ConsenterSet>>,
    provider: &dyn CryptoProvider,
) -> Result<String, ClusterAuthError> {
    let node = node_header.ok_or(ClusterAuthError::MissingHeader(NODE_HEADER))?;
    let signature = signature_header
        .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
        .ok_or(ClusterAuthError::MissingHeader(SIGNATURE_HEADER))?;
    let message = signing::cluster_message(body);
    let mut verified: Vec<[u8; 65]> = Vec::new();
    for channel in channels {
        let set = consenters(channel).ok_or_else(|| ClusterAuthError::UnknownChannel {
            channel: channel.to_string(),
        })?;
        let peer = set
            .by_name(node)
            .ok_or_else(|| ClusterAuthError::NotConsenter {
                node: node.to_string(),
                channel: channel.to_string(),
            })?;
        if verified.contains(peer.key.as_bytes()) {
            continue;
        }
        provider
            .verify(&peer.key, &message, &signature)
            .map_err(|_| ClusterAuthError::BadSignature {
                node: node.to_string(),
            })?;
        verified.push(*peer.key.as_bytes());
    }
    Ok(node.to_string())
}

/// Checks a request timestamp against this node's clock.
pub fn check_fresh(sent_at_ms: u64, now_ms: u64, skew: Duration) -> Result<(), ClusterAuthError> {
    let skew_ms = now_ms.abs_diff(sent_at_ms);
    if skew_ms > skew.as_millis() as u64 {
        return Err(ClusterAuthError::Stale { skew_ms });
    }
    Ok(())
}

/// Something queued for a peer.
pub enum Outgoing {
    Raft {
        channel: String,
        message: raft::eraftpb::Message,
    },
    Envelope {
        channel: String,
        envelope: Envelope,
        tx_id: TxId,
    },
}

/// What the sender tells a channel after a send.
#[derive(Debug)]
pub enum SendReport {
    /// A snapshot message was (or was not) delivered to raft node `to`.
    Snapshot { to: u64, ok: bool },
    /// Forwarded envelopes that did not reach the leader.
    ForwardFailed { tx_ids: Vec<TxId>, reason: String },
}

/// How a channel receives send reports.
pub type ReportSink = Arc<dyn Fn(&str, SendReport) + Send + Sync>;

/// How many items a peer's queue holds before new ones are dropped.
const QUEUE_LIMIT: usize = 20_000;
/// How many items one batch takes from the queue at most.
const BATCH_LIMIT: usize = 2_000;

/// Counters of the cluster layer, for /metrics.
#[derive(Debug, Default)]
pub struct ClusterCounters {
    pub batches_sent: AtomicU64,
    pub send_failures: AtomicU64,
    pub queue_drops: AtomicU64,
}

/// The sending side: a queue and a task per peer (by node name).
pub struct Transport {
    queues: HashMap<String, mpsc::Sender<Outgoing>>,
    pub counters: Arc<ClusterCounters>,
}

impl Transport {
    /// Starts one sender task per peer in `peers` (name -> endpoint), on the
    /// current tokio runtime.
    pub fn start(
        self_name: String,
        peers: BTreeMap<String, String>,
        signer: Arc<dyn Signer>,
        reports: ReportSink,
    ) -> Transport {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .connect_timeout(Duration::from_secs(2))
            .pool_max_idle_per_host(4)
            .build()
            .expect("HTTP client");
        let counters = Arc::new(ClusterCounters::default());
        let mut queues = HashMap::new();
        for (name, endpoint) in peers {
            let (tx, rx) = mpsc::channel(QUEUE_LIMIT);
            queues.insert(name.clone(), tx);
            tokio::spawn(send_loop(SendLoop {
                from: self_name.clone(),
                to: name,
                url: format!("http://{endpoint}/cluster/v1/step"),
                client: client.clone(),
                signer: signer.clone(),
                reports: reports.clone(),
                counters: counters.clone(),
                rx,
            }));
        }
        Transport { queues, counters }
    }

    /// Queues `item` for `peer`. Never blocks: when the queue is full (or the
    /// peer unknown) the item is dropped and `false` returned; Raft retransmits,
    /// and the caller of a dropped envelope answers retryable.
    pub fn send(&self, peer: &str, item: Outgoing) -> bool {
        let Some(q) = self.queues.get(peer) else {
            return false;
        };
        let queued = q.try_send(item).is_ok();
        if !queued {
            self.counters.queue_drops.fetch_add(1, Ordering::Relaxed);
        }
        queued
    }
}

struct SendLoop {
    from: String,
    to: String,
    url: String,
    client: reqwest::Client,
    signer: Arc<dyn Signer>,
    reports: ReportSink,
    counters: Arc<ClusterCounters>,
    rx: mpsc::Receiver<Outgoing>,
}

async fn send_loop(mut s: SendLoop) {
    let mut failures_in_a_row = 0u32;
    while let Some(first) = s.rx.recv().await {
        let mut items = vec![first];
        while items.len() < BATCH_LIMIT {
            match s.rx.try_recv() {
                Ok(i) => items.push(i),
                Err(_) => break,
            }
        }
        // Group by channel, remembering what needs a report.
        let mut by_channel: BTreeMap<String, ChannelTraffic> = BTreeMap::new();
        let mut snapshots: Vec<(String, u64)> = Vec::new();
        let mut forwarded: BTreeMap<String, Vec<TxId>> = BTreeMap::new();
        for item in items {
            match item {
                Outgoing::Raft { channel, message } => {
                    if message.get_msg_type() == raft::eraftpb::MessageType::MsgSnapshot {
                        snapshots.push((channel.clone(), message.to));
                    }
                    let bytes =
                        protobuf::Message::write_to_bytes(&message).expect("raft messages encode");
                    entry(&mut by_channel, &channel).raft.push(Bytes(bytes));
                }
                Outgoing::Envelope {
                    channel,
                    envelope,
                    tx_id,
                } => {
                    forwarded.entry(channel.clone()).or_default().push(tx_id);
                    entry(&mut by_channel, &channel).envelopes.push(envelope);
                }
            }
        }
        let batch = ClusterBatch {
            from: s.from.clone(),
            to: s.to.clone(),
            sent_at_ms: now_ms(),
            items: by_channel.into_values().collect(),
        };
        let result = post_signed(&s.client, &s.url, &s.from, s.signer.as_ref(), &batch).await;
        let ok = result.is_ok();
        match result {
            Ok(_) => {
                s.counters.batches_sent.fetch_add(1, Ordering::Relaxed);
                if failures_in_a_row > 0 {
                    tracing::info!(peer = %s.to, "cluster link restored");
                }
                failures_in_a_row = 0;
            }
            Err(reason) => {
                s.counters.send_failures.fetch_add(1, Ordering::Relaxed);
                // One line when a link goes down, then one every 50 failures.
                if failures_in_a_row % 50 == 0 {
                    tracing::warn!(peer = %s.to, %reason, "cluster send failed");
                }
                failures_in_a_row += 1;
                for (channel, tx_ids) in forwarded {
                    (s.reports)(
                        &channel,
                        SendReport::ForwardFailed {
                            tx_ids,
                            reason: format!("the leader {} is unreachable: {reason}", s.to),
                        },
                    );
                }
            }
        }
        for (channel, to) in snapshots {
            (s.reports)(&channel, SendReport::Snapshot { to, ok });
        }
    }
}

fn entry<'a>(
    map: &'a mut BTreeMap<String, ChannelTraffic>,
    channel: &str,
) -> &'a mut ChannelTraffic {
    map.entry(channel.to_string())
        .or_insert_with(|| ChannelTraffic {
            channel: channel.to_string(),
            ..Default::default()
        })
}

/// POSTs `body` as JSON, signed as node `from`. Returns the response bytes on 2xx.
pub async fn post_signed<T: Serialize>(
    client: &reqwest::Client,
    url: &str,
    from: &str,
    signer: &dyn Signer,
    body: &T,
) -> Result<Vec<u8>, String> {
    let bytes = serde_json::to_vec(body).expect("cluster messages encode");
    let signature = signer
        .sign(&signing::cluster_message(&bytes))
        .map_err(|e| format!("cannot sign: {e}"))?;
    let response = client
        .post(url)
        .header(NODE_HEADER, from)
        .header(
            SIGNATURE_HEADER,
            base64::engine::general_purpose::STANDARD.encode(signature),
        )
        .header("content-type", "application/json")
        .body(bytes)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let body = response.bytes().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!(
            "HTTP {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(300)])
        ));
    }
    Ok(body.to_vec())
}

/// Pulls blocks `[from, to)` of `channel` from the peer at `endpoint`.
pub async fn pull_blocks(
    client: &reqwest::Client,
    endpoint: &str,
    request: &PullRequest,
    signer: &dyn Signer,
) -> Result<Vec<Block>, String> {
    let url = format!("http://{endpoint}/cluster/v1/pull");
    let body = post_signed(client, &url, &request.from_node, signer, request).await?;
    serde_json::from_slice(&body).map_err(|e| format!("malformed pull response: {e}"))
}

/// Unix milliseconds now.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
