//! The orderer's HTTP API (axum). `router(app)` is testable without a socket;
//! `run(listener, app, shutdown)` serves it.
//!
//! | route | who | what |
//! |---|---|---|
//! | `POST /v1/channels/{channel}/broadcast` | writers | an [`Envelope`] (JSON); 200 once ordered, 4xx with a reason, 503 retryable |
//! | `POST /v1/channels/{channel}/deliver` | readers | a [`SignedDeliverRequest`]; a stream of blocks, one JSON per line |
//! | `GET /v1/channels/{channel}/status` | anyone | height, leader, term |
//! | `POST /cluster/v1/step` | consenters | a signed [`ClusterBatch`] of Raft messages and forwarded envelopes |
//! | `POST /cluster/v1/pull` | consenters | a signed [`PullRequest`]; blocks for catch-up |
//! | `GET /healthz`, `GET /metrics` | operators | liveness and Prometheus metrics |
//!
//! Errors are JSON: `{"error": kind, "message": text, "retryable": bool}`.
//!
//! [`Envelope`]: cellchain_core::protocol::Envelope

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use cellchain_core::protocol::{SignedDeliverRequest, TxId};
use cellchain_storage::BlockStore;
use serde_json::json;
use tokio::sync::watch;

use cellchain_node::http::{block_stream, error, ReadBlock};

use crate::admission::Admitted;
use crate::cluster::{
    self, check_fresh, verify_request, ClusterAuthError, ClusterBatch, Outgoing, PullRequest,
    Transport, NODE_HEADER, SIGNATURE_HEADER,
};
use crate::node::{ChannelShared, NodeInput, WaitOutcome};

/// Everything the handlers share.
pub struct App {
    pub node_name: String,
    pub channels: HashMap<String, Arc<ChannelShared>>,
    pub transport: Arc<Transport>,
    pub broadcast_timeout: Duration,
    pub clock_skew: Duration,
    /// Refused cluster requests by reason.
    pub cluster_rejects: Mutex<BTreeMap<&'static str, u64>>,
    /// Becomes true at shutdown: open deliver streams end.
    pub shutdown: watch::Receiver<bool>,
}

/// Largest request body: cluster batches carry many envelopes.
const BODY_LIMIT: usize = 64 * 1024 * 1024;
/// Most bytes of blocks one pull answer carries.
const PULL_BYTES: usize = 16 * 1024 * 1024;

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/v1/channels/{channel}/broadcast", post(broadcast))
        .route("/v1/channels/{channel}/deliver", post(deliver))
        .route("/v1/channels/{channel}/status", get(channel_status))
        .route("/cluster/v1/step", post(cluster_step))
        .route("/cluster/v1/pull", post(cluster_pull))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(app)
}

/// Serves the API on `listener` until `shutdown` completes.
pub async fn run(
    listener: tokio::net::TcpListener,
    app: Arc<App>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(app))
        .with_graceful_shutdown(shutdown)
        .await
}

fn unknown_channel(app: &App, channel: &str) -> Response {
    let mut known: Vec<&str> = app.channels.keys().map(String::as_str).collect();
    known.sort();
    error(
        404,
        "unknown_channel",
        format!(
            "channel {channel} is not served by this orderer (it serves: {})",
            known.join(", ")
        ),
        false,
    )
}

fn now_unix() -> i64 {
    (cluster::now_ms() / 1000) as i64
}

async fn broadcast(
    State(app): State<Arc<App>>,
    Path(channel): Path<String>,
    body: Bytes,
) -> Response {
    let Some(ch) = app.channels.get(&channel) else {
        return unknown_channel(&app, &channel);
    };
    let admitted = match ch.trust.admit(&body, now_unix()) {
        Ok(a) => a,
        Err(e) => {
            ch.count_reject(e.kind());
            tracing::debug!(%channel, reason = %e, "envelope refused");
            return error(e.status(), e.kind(), e.to_string(), false);
        }
    };
    let tx_id = admitted.tx_id;
    if let Some(block) = ch.ordered_in(&tx_id) {
        return ordered(tx_id, block, true);
    }
    let waiter = ch.wait_for(tx_id);
    // Registered before this second look, so an ordering in between is not missed.
    if let Some(block) = ch.ordered_in(&tx_id) {
        ch.forget(&tx_id);
        return ordered(tx_id, block, true);
    }
    if let Some(response) = route(&app, ch, admitted) {
        ch.resolve(
            &tx_id,
            WaitOutcome::Retry {
                reason: String::new(),
            },
        );
        return response;
    }
    match tokio::time::timeout(app.broadcast_timeout, waiter).await {
        Ok(Ok(WaitOutcome::Ordered { block })) => ordered(tx_id, block, false),
        Ok(Ok(WaitOutcome::Retry { reason })) => error(503, "not_ordered", reason, true),
        Ok(Err(_)) => error(503, "not_ordered", "the orderer is shutting down", true),
        Err(_) => {
            ch.forget(&tx_id);
            error(
                503,
                "timeout",
                format!(
                    "the envelope was not ordered within {} ms; resubmit it (duplicates are recognised)",
                    app.broadcast_timeout.as_millis()
                ),
                true,
            )
        }
    }
}

fn ordered(tx_id: TxId, block: u64, already: bool) -> Response {
    let status = if already {
        "ALREADY_ORDERED"
    } else {
        "ORDERED"
    };
    Json(json!({"status": status, "tx_id": tx_id.to_string(), "block": block})).into_response()
}

/// Sends an admitted envelope to the leader: into our own loop, or forwarded.
/// Returns the answer for the client when it could not be routed.
fn route(app: &App, ch: &ChannelShared, admitted: Admitted) -> Option<Response> {
    match ch.leader() {
        None => Some(error(
            503,
            "no_leader",
            format!(
                "channel {} has no Raft leader right now (an election is under way or a quorum of orderers is down); retry shortly",
                ch.channel
            ),
            true,
        )),
        Some(id) if id == ch.my_id => {
            if ch.send(NodeInput::Envelopes(vec![admitted])) {
                None
            } else {
                Some(error(503, "stopping", "the orderer is shutting down", true))
            }
        }
        Some(id) => {
            let Some(peer) = ch.consenters.by_id(id) else {
                return Some(error(503, "no_leader", "the leader is unknown", true));
            };
            let item = Outgoing::Envelope {
                channel: ch.channel.clone(),
                tx_id: admitted.tx_id,
                envelope: admitted.envelope,
            };
            (!app.transport.send(&peer.name, item)).then(|| {
                error(
                    503,
                    "overloaded",
                    format!("the queue to the leader {} is full", peer.name),
                    true,
                )
            })
        }
    }
}

async fn deliver(
    State(app): State<Arc<App>>,
    Path(channel): Path<String>,
    body: Bytes,
) -> Response {
    let Some(ch) = app.channels.get(&channel).cloned() else {
        return unknown_channel(&app, &channel);
    };
    let signed: SignedDeliverRequest = match serde_json::from_slice(&body) {
        Ok(s) => s,
        Err(e) => {
            return error(
                400,
                "malformed",
                format!("not a signed deliver request: {e}"),
                false,
            )
        }
    };
    let request = match signed.parse() {
        Ok(r) => r,
        Err(e) => return error(400, "malformed", e.to_string(), false),
    };
    if request.channel_id != channel {
        return error(
            400,
            "wrong_channel",
            format!(
                "the request is for channel {}, sent to channel {channel}",
                request.channel_id
            ),
            false,
        );
    }
    let now = cluster::now_ms();
    let sent = request.timestamp.seconds.max(0) as u64 * 1000;
    if now.abs_diff(sent) > app.clock_skew.as_millis() as u64 {
        return error(
            400,
            "stale",
            "the request timestamp is too far from the orderer's clock; check the client's clock",
            false,
        );
    }
    if let Err(e) = ch.trust.authorise(
        &request.creator,
        "orderer/Deliver",
        &signed.signed_message(),
        &signed.signature,
        now_unix(),
    ) {
        tracing::info!(%channel, reason = %e, "deliver refused");
        return error(403, "forbidden", e.to_string(), false);
    }
    if request.stop.is_some_and(|stop| stop < request.start) {
        return error(400, "bad_range", "stop is before start", false);
    }
    let store = ch.clone();
    let read: ReadBlock = Arc::new(move |n| {
        store
            .store
            .read()
            .expect("block store lock")
            .get(n)
            .map_err(|e| e.to_string())
    });
    block_stream(
        channel,
        read,
        ch.height.subscribe(),
        request.start,
        request.stop,
        app.shutdown.clone(),
    )
}

async fn channel_status(State(app): State<Arc<App>>, Path(channel): Path<String>) -> Response {
    let Some(ch) = app.channels.get(&channel) else {
        return unknown_channel(&app, &channel);
    };
    Json(channel_json(ch)).into_response()
}

fn channel_json(ch: &ChannelShared) -> serde_json::Value {
    let s = &ch.status;
    let leader = s.leader.load(Ordering::Relaxed);
    json!({
        "channel": ch.channel,
        "node_id": ch.my_id,
        "height": ch.block_height(),
        "leader": leader,
        "leader_name": ch.consenters.by_id(leader).map(|p| p.name.clone()),
        "is_leader": s.is_leader.load(Ordering::Relaxed) == 1,
        "term": s.term.load(Ordering::Relaxed),
        "commit_index": s.commit_index.load(Ordering::Relaxed),
        "applied_index": s.applied_index.load(Ordering::Relaxed),
    })
}

async fn healthz(State(app): State<Arc<App>>) -> Response {
    let channels: Vec<_> = app.channels.values().map(|c| channel_json(c)).collect();
    Json(json!({"status": "ok", "node": app.node_name, "channels": channels})).into_response()
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    (
        [("content-type", "text/plain; version=0.0.4")],
        crate::metrics::render(&app),
    )
        .into_response()
}

fn cluster_reject(app: &App, e: &ClusterAuthError) -> Response {
    *app.cluster_rejects
        .lock()
        .expect("rejects lock")
        .entry(e.kind())
        .or_default() += 1;
    tracing::warn!(reason = %e, "cluster request refused");
    error(403, e.kind(), e.to_string(), false)
}

fn authenticate(
    app: &App,
    headers: &HeaderMap,
    body: &[u8],
    channels: &[&str],
) -> Result<String, ClusterAuthError> {
    let h = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let consenters = |c: &str| app.channels.get(c).map(|ch| ch.consenters.clone());
    let provider = cellchain_core::crypto::default_provider();
    verify_request(
        h(NODE_HEADER),
        h(SIGNATURE_HEADER),
        body,
        channels,
        &consenters,
        provider,
    )
}

async fn cluster_step(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    let batch: ClusterBatch = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => return cluster_reject(&app, &ClusterAuthError::Malformed(e.to_string())),
    };
    let channels: Vec<&str> = batch.items.iter().map(|i| i.channel.as_str()).collect();
    let node = match authenticate(&app, &headers, &body, &channels) {
        Ok(n) => n,
        Err(e) => return cluster_reject(&app, &e),
    };
    let checks = if batch.from != node {
        Err(ClusterAuthError::SenderMismatch {
            claimed: batch.from.clone(),
            node: node.clone(),
        })
    } else if batch.to != app.node_name {
        Err(ClusterAuthError::WrongRecipient {
            to: batch.to.clone(),
        })
    } else {
        check_fresh(batch.sent_at_ms, cluster::now_ms(), app.clock_skew)
    };
    if let Err(e) = checks {
        return cluster_reject(&app, &e);
    }
    for item in batch.items {
        let ch = &app.channels[&item.channel];
        let sender_id = ch.consenters.by_name(&node).map(|p| p.id).unwrap_or(0);
        for bytes in &item.raft {
            let message: raft::eraftpb::Message = match protobuf::Message::parse_from_bytes(bytes) {
                Ok(m) => m,
                Err(e) => {
                    return cluster_reject(
                        &app,
                        &ClusterAuthError::Malformed(format!("raft message: {e}")),
                    )
                }
            };
            // A consenter speaks for its own Raft id only.
            if message.from != sender_id || message.to != ch.my_id {
                return cluster_reject(
                    &app,
                    &ClusterAuthError::Malformed(format!(
                        "raft message from {} to {} sent by {node}",
                        message.from, message.to
                    )),
                );
            }
            ch.send(NodeInput::Raft(message));
        }
        if !item.envelopes.is_empty() {
            let mut admitted = Vec::with_capacity(item.envelopes.len());
            for envelope in item.envelopes {
                // Admitted by the forwarding consenter; only what the leader
                // needs is recovered here.
                let size = envelope.size();
                if size > ch.trust.absolute_max_bytes() {
                    continue;
                }
                if let Ok(p) = envelope.parse_payload() {
                    admitted.push(Admitted {
                        tx_id: p.header.tx_id,
                        envelope,
                        size,
                    });
                }
            }
            ch.send(NodeInput::Envelopes(admitted));
        }
    }
    StatusCode::OK.into_response()
}

async fn cluster_pull(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    let request: PullRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return cluster_reject(&app, &ClusterAuthError::Malformed(e.to_string())),
    };
    let node = match authenticate(&app, &headers, &body, &[request.channel.as_str()]) {
        Ok(n) => n,
        Err(e) => return cluster_reject(&app, &e),
    };
    if request.from_node != node {
        return cluster_reject(
            &app,
            &ClusterAuthError::SenderMismatch {
                claimed: request.from_node,
                node,
            },
        );
    }
    if let Err(e) = check_fresh(request.sent_at_ms, cluster::now_ms(), app.clock_skew) {
        return cluster_reject(&app, &e);
    }
    let ch = app.channels[&request.channel].clone();
    let blocks = tokio::task::spawn_blocking(move || {
        let store = ch.store.read().expect("store lock");
        let mut blocks = Vec::new();
        let mut bytes = 0usize;
        let to = request.to.min(store.height());
        for n in request.from..to {
            match store.get(n) {
                Ok(Some(b)) => {
                    bytes += b.data.envelopes.iter().map(|e| e.size()).sum::<usize>();
                    blocks.push(b);
                    if bytes > PULL_BYTES {
                        break;
                    }
                }
                _ => break,
            }
        }
        blocks
    })
    .await
    .unwrap_or_default();
    Json(blocks).into_response()
}
