//! The committer's HTTP API (axum). `router(app)` is testable without a socket;
//! `run(listener, app, shutdown)` serves it.
//!
//! | route | who | what |
//! |---|---|---|
//! | `POST /v1/channels/{channel}/blocks` | `event/Block` (Readers) | the **validated block feed**: a [`SignedDeliverRequest`]; blocks from `start` (to `stop`, or following the channel), one JSON per line, each with `metadata.validation_codes` and `metadata.commit_hash` |
//! | `POST /v1/channels/{channel}/query` | `ledger/Query` (Readers) | a [`SignedQuery`]: tx status, get, range, history, info |
//! | `GET /v1/channels/{channel}/status` | anyone | height, commit hash, orderer in use, last error |
//! | `GET /healthz`, `GET /metrics` | operators | liveness and Prometheus metrics |
//!
//! Errors are JSON: `{"error": kind, "message": text, "retryable": bool}`; 404 for
//! an unknown channel (or a tx id or key that is not there), 403 for a requester
//! the ACL refuses (no data is sent), 400 for a malformed or stale request.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use cellchain_core::crypto::CryptoProvider;
use cellchain_core::identity::SerializedIdentity;
use cellchain_core::protocol::{Query, SignedDeliverRequest, SignedQuery, Timestamp};
use cellchain_storage::{BlockStore, StateStoreError};
use serde_json::{json, Value};
use tokio::sync::watch;

use cellchain_node::http::{block_stream, error, ReadBlock};

use crate::channel::ChannelShared;
use crate::puller::now_unix;

/// Everything the handlers share.
pub struct App {
    pub node_name: String,
    pub channels: HashMap<String, Arc<ChannelShared>>,
    pub clock_skew: Duration,
    pub provider: &'static dyn CryptoProvider,
    /// Becomes true at shutdown: open feed streams end.
    pub shutdown: watch::Receiver<bool>,
}

const BODY_LIMIT: usize = 1024 * 1024;
/// Page size of range and history queries that ask for none, and the most any may ask.
pub const DEFAULT_PAGE: usize = 100;
pub const MAX_PAGE: usize = 1000;

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/v1/channels/{channel}/blocks", post(blocks))
        .route("/v1/channels/{channel}/query", post(query))
        .route("/v1/channels/{channel}/status", get(channel_status))
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

/// An error answer, built where a `Result` carries it (a `Response` is large).
struct ApiError {
    status: u16,
    kind: &'static str,
    message: String,
    retryable: bool,
}

impl ApiError {
    fn new(status: u16, kind: &'static str, message: impl Into<String>, retryable: bool) -> Self {
        ApiError {
            status,
            kind,
            message: message.into(),
            retryable,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        error(self.status, self.kind, self.message, self.retryable)
    }
}

fn unknown_channel(app: &App, channel: &str) -> Response {
    let mut known: Vec<&str> = app.channels.keys().map(String::as_str).collect();
    known.sort();
    error(
        404,
        "unknown_channel",
        format!(
            "channel {channel} is not served by this committer (it serves: {})",
            known.join(", ")
        ),
        false,
    )
}

fn state_error(e: StateStoreError) -> ApiError {
    match e {
        StateStoreError::BadBookmark { .. } => {
            ApiError::new(400, "bad_bookmark", e.to_string(), false)
        }
        e => {
            tracing::error!(error = %e, "query failed");
            ApiError::new(500, "state", e.to_string(), true)
        }
    }
}

/// The checks every signed request passes: its channel, its age, its signature
/// and the ACL `resource`.
#[allow(clippy::too_many_arguments)]
fn check_signed(
    app: &App,
    ch: &ChannelShared,
    channel: &str,
    request_channel: &str,
    timestamp: &Timestamp,
    creator: &SerializedIdentity,
    resource: &str,
    message: &[u8],
    signature: &[u8],
) -> Result<(), ApiError> {
    if request_channel != channel {
        return Err(ApiError::new(
            400,
            "wrong_channel",
            format!("the request is for channel {request_channel}, sent to channel {channel}"),
            false,
        ));
    }
    let now = now_unix();
    if now.abs_diff(timestamp.seconds) > app.clock_skew.as_secs() {
        return Err(ApiError::new(
            400,
            "stale",
            format!(
                "the request timestamp is more than {} s from the committer's clock; check the client's clock",
                app.clock_skew.as_secs()
            ),
            false,
        ));
    }
    if let Err(e) = ch.authorise(creator, resource, message, signature, app.provider, now) {
        tracing::info!(%channel, resource, reason = %e, "request refused");
        return Err(ApiError::new(403, "forbidden", e.to_string(), false));
    }
    Ok(())
}

async fn blocks(State(app): State<Arc<App>>, Path(channel): Path<String>, body: Bytes) -> Response {
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
    if let Err(r) = check_signed(
        &app,
        &ch,
        &channel,
        &request.channel_id,
        &request.timestamp,
        &request.creator,
        "event/Block",
        &signed.signed_message(),
        &signed.signature,
    ) {
        return r.into_response();
    }
    if request.stop.is_some_and(|stop| stop < request.start) {
        return error(400, "bad_range", "stop is before start", false);
    }
    let store = ch.clone();
    let read: ReadBlock = Arc::new(move |n| {
        store
            .blocks
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

async fn query(State(app): State<Arc<App>>, Path(channel): Path<String>, body: Bytes) -> Response {
    let Some(ch) = app.channels.get(&channel).cloned() else {
        return unknown_channel(&app, &channel);
    };
    let signed: SignedQuery = match serde_json::from_slice(&body) {
        Ok(s) => s,
        Err(e) => return error(400, "malformed", format!("not a signed query: {e}"), false),
    };
    let request = match signed.parse() {
        Ok(r) => r,
        Err(e) => return error(400, "malformed", e.to_string(), false),
    };
    if let Err(r) = check_signed(
        &app,
        &ch,
        &channel,
        &request.channel_id,
        &request.timestamp,
        &request.creator,
        "ledger/Query",
        &signed.signed_message(),
        &signed.signature,
    ) {
        return r.into_response();
    }
    tokio::task::spawn_blocking(move || answer(&ch, request.query))
        .await
        .unwrap_or_else(|_| error(500, "internal", "the query failed", true))
}

fn page_size(asked: u32) -> usize {
    match asked as usize {
        0 => DEFAULT_PAGE,
        n => n.min(MAX_PAGE),
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Answers one query from committed state (blocking: sled reads).
fn answer(ch: &ChannelShared, query: Query) -> Response {
    let result: Result<Value, ApiError> = match query {
        Query::TxStatus { tx_id } => match ch.state.tx_status(&tx_id) {
            Ok(Some(s)) => Ok(json!({
                "tx_id": tx_id.to_string(),
                "block": s.block,
                "index": s.index,
                "code": {"name": s.code.name(), "number": s.code.as_u8()},
            })),
            Ok(None) => Err(ApiError::new(
                404,
                "not_found",
                format!(
                    "transaction {tx_id} is not committed on channel {} (yet)",
                    ch.channel
                ),
                false,
            )),
            Err(e) => Err(state_error(e)),
        },
        Query::Get { namespace, key } => match ch.state.get(&namespace, &key) {
            Ok(Some((value, version))) => Ok(json!({
                "namespace": namespace, "key": key, "value": b64(&value), "version": version,
            })),
            Ok(None) => Err(ApiError::new(
                404,
                "not_found",
                format!(
                    "{namespace}/{key:?} has no committed value on channel {}",
                    ch.channel
                ),
                false,
            )),
            Err(e) => Err(state_error(e)),
        },
        Query::Range {
            namespace,
            start,
            end,
            page_size: size,
            bookmark,
        } => match ch.state.range(
            &namespace,
            &start,
            &end,
            page_size(size),
            bookmark.as_deref(),
        ) {
            Ok(page) => Ok(json!({
                "items": page.items.iter().map(|(k, v, ver)| json!({
                    "key": k, "value": b64(v), "version": ver,
                })).collect::<Vec<_>>(),
                "bookmark": page.bookmark,
            })),
            Err(e) => Err(state_error(e)),
        },
        Query::History {
            namespace,
            key,
            page_size: size,
            bookmark,
        } => match ch
            .state
            .history(&namespace, &key, page_size(size), bookmark.as_deref())
        {
            Ok(page) => Ok(json!({
                "items": page.items.iter().map(|h| json!({
                    "tx_id": h.tx_id.to_string(), "version": h.version,
                    "is_delete": h.is_delete, "value": b64(&h.value),
                })).collect::<Vec<_>>(),
                "bookmark": page.bookmark,
            })),
            Err(e) => Err(state_error(e)),
        },
        Query::Info => info(ch),
        Query::PrivateGet { .. } | Query::BlockPrivateData { .. } | Query::PrivateWrites { .. } => {
            Err(ApiError::new(400, "unsupported_query", "not served yet", false))
        }
    };
    match result {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

fn info(ch: &ChannelShared) -> Result<Value, ApiError> {
    let (height, commit_hash) = ch.state.savepoint().map_err(state_error)?;
    let last = match height.checked_sub(1) {
        None => None,
        Some(n) => ch
            .blocks
            .read()
            .expect("block store lock")
            .get(n)
            .map_err(|e| ApiError::new(500, "blocks", e.to_string(), true))?
            .map(|b| b.hash()),
    };
    Ok(json!({
        "channel": ch.channel,
        "height": height,
        "commit_hash": commit_hash,
        "last_block_hash": last,
    }))
}

fn channel_json(ch: &ChannelShared) -> Value {
    let s = &ch.status;
    json!({
        "channel": ch.channel,
        "height": ch.block_height(),
        "commit_hash": *s.commit_hash.lock().expect("status lock"),
        "orderer": *s.orderer.lock().expect("status lock"),
        "last_error": *s.last_error.lock().expect("status lock"),
        "blocks_committed": s.blocks_committed.load(Ordering::Relaxed),
        "failovers": s.failovers.load(Ordering::Relaxed),
    })
}

async fn channel_status(State(app): State<Arc<App>>, Path(channel): Path<String>) -> Response {
    let Some(ch) = app.channels.get(&channel) else {
        return unknown_channel(&app, &channel);
    };
    Json(channel_json(ch)).into_response()
}

async fn healthz(State(app): State<Arc<App>>) -> Response {
    let mut channels: Vec<_> = app.channels.values().map(|c| channel_json(c)).collect();
    channels.sort_by(|a, b| a["channel"].as_str().cmp(&b["channel"].as_str()));
    Json(json!({"status": "ok", "node": app.node_name, "channels": channels})).into_response()
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    (
        [("content-type", "text/plain; version=0.0.4")],
        crate::metrics::render(&app),
    )
        .into_response()
}
