//! The committer's HTTP API (axum). `router(app)` is testable without a socket;
//! `run(listener, app, shutdown)` serves it.
//!
//! | route | who | what |
//! |---|---|---|
//! | `POST /v1/channels/{channel}/blocks` | `event/Block` (Readers) | the **validated block feed**: a [`SignedDeliverRequest`]; blocks from `start` (to `stop`, or following the channel), one JSON per line, each with `metadata.validation_codes` and `metadata.commit_hash` |
//! | `POST /v1/channels/{channel}/query` | `ledger/Query` (Readers) | a [`SignedQuery`]: tx status, get, range, history, info; private data: `private_get` (value hash and version to every reader, the value to members of the collection) and `block_private_data` (the private values a committed block wrote in the requester's member collections, as [`PrivateData`]) |
//! | `GET /v1/channels/{channel}/status` | anyone | height, commit hash, orderer in use, last error |
//! | `GET /healthz`, `GET /metrics` | operators | liveness and Prometheus metrics |
//!
//! Errors are JSON: `{"error": kind, "message": text, "retryable": bool}`; 404 for
//! an unknown channel (or a tx id, key, collection or block that is not there),
//! 403 for a requester the ACL refuses (no data is sent), 400 for a malformed or
//! stale request, or one committers do not serve (`private_writes`: endorsers
//! serve it).
//!
//! Collection membership is judged with the channel's chaincode definitions in
//! force now (the cache validation uses, refreshed after each block that
//! changes a definition) against the requester's organisation (`creator.msp_id`,
//! validated). Private values are never logged.

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
use cellchain_core::bytes::sha256;
use cellchain_core::crypto::CryptoProvider;
use cellchain_core::identity::{Identity, SerializedIdentity};
use cellchain_core::protocol::{
    CollectionPrivateData, PrivateData, PrivateKv, Query, SignedDeliverRequest, SignedQuery,
    Timestamp, TxPrivateData,
};
use cellchain_core::Bytes as ValueBytes;
use cellchain_storage::{BlockStore, StateStoreError};
use cellchain_validation::{private_needs, updates_from_block, CollectionConfig};
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
) -> Result<Identity, ApiError> {
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
    ch.authorise(creator, resource, message, signature, app.provider, now)
        .map_err(|e| {
            tracing::info!(%channel, resource, reason = %e, "request refused");
            ApiError::new(403, "forbidden", e.to_string(), false)
        })
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
    let requester = match check_signed(
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
        Ok(identity) => identity,
        Err(r) => return r.into_response(),
    };
    tokio::task::spawn_blocking(move || answer(&ch, request.query, &requester.msp_id))
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

/// Answers one query of a requester of organisation `msp_id` from committed
/// state (blocking: sled reads).
fn answer(ch: &ChannelShared, query: Query, msp_id: &str) -> Response {
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
        Query::PrivateGet {
            namespace,
            collection,
            key,
        } => private_get(ch, &namespace, &collection, &key, msp_id),
        Query::BlockPrivateData { block } => block_private_data(ch, block, msp_id),
        Query::PrivateWrites { .. } => Err(ApiError::new(
            400,
            "unsupported_query",
            "private_writes is served by endorsers (POST /v1/channels/{channel}/private), not by committers; ask a committer for block_private_data",
            false,
        )),
    };
    match result {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

/// The collection `namespace`/`collection` as the channel's definitions define it.
fn collection_config(
    ch: &ChannelShared,
    namespace: &str,
    collection: &str,
) -> Result<CollectionConfig, ApiError> {
    let defs = ch.definitions.current();
    let Some(def) = defs.0.get(namespace) else {
        return Err(ApiError::new(
            404,
            "unknown_collection",
            format!(
                "chaincode {namespace} is not defined on channel {}",
                ch.channel
            ),
            false,
        ));
    };
    def.collections
        .iter()
        .find(|c| c.name == collection)
        .cloned()
        .ok_or_else(|| {
            let mut known: Vec<&str> = def.collections.iter().map(|c| c.name.as_str()).collect();
            known.sort();
            ApiError::new(
                404,
                "unknown_collection",
                format!(
                    "chaincode {namespace} on channel {} has no collection {collection} (its collections: {})",
                    ch.channel,
                    if known.is_empty() { "none".to_string() } else { known.join(", ") }
                ),
                false,
            )
        })
}

/// One private key: hash and version to every reader, the value to members.
fn private_get(
    ch: &ChannelShared,
    namespace: &str,
    collection: &str,
    key: &str,
    msp_id: &str,
) -> Result<Value, ApiError> {
    let config = collection_config(ch, namespace, collection)?;
    let member = config.member_orgs.iter().any(|m| m == msp_id);
    let key_hash = sha256(key.as_bytes());
    // One view: the hash and the value of the same height.
    let view = ch.state.view();
    let Some((value_hash, version)) = view
        .get_private_hash(namespace, collection, &key_hash)
        .map_err(state_error)?
    else {
        return Err(ApiError::new(
            404,
            "not_found",
            format!(
                "{namespace}/{collection}/{key:?} has no committed private write on channel {}",
                ch.channel
            ),
            false,
        ));
    };
    let mut answer = json!({
        "namespace": namespace,
        "collection": collection,
        "key": key,
        "value_hash": value_hash,
        "version": version,
        "member": member,
        "value": null,
    });
    if member {
        let stored = view
            .get_private(namespace, collection, key)
            .map_err(state_error)?;
        match stored {
            // Only the value of the current write (an older one is not it).
            Some((value, v)) if v == version => answer["value"] = json!(b64(&value)),
            _ => {
                let (height, _) = view.savepoint().map_err(state_error)?;
                let expired = config.block_to_live > 0
                    && height > version.block.saturating_add(config.block_to_live);
                if expired {
                    answer["purged"] = json!(true);
                } else {
                    // Never received: it was not obtained at commit.
                    answer["missing"] = json!(true);
                }
            }
        }
    }
    Ok(answer)
}

/// The private values committed block `block` wrote in the collections the
/// requester's organisation is a member of, still stored with that block's
/// version (a later write or a purge leaves a value out).
fn block_private_data(ch: &ChannelShared, block: u64, msp_id: &str) -> Result<Value, ApiError> {
    let (height, _) = ch.state.savepoint().map_err(state_error)?;
    if block >= height {
        return Err(ApiError::new(
            404,
            "not_found",
            format!(
                "block {block} is not committed yet on channel {} (height {height})",
                ch.channel
            ),
            false,
        ));
    }
    let stored = ch
        .blocks
        .read()
        .expect("block store lock")
        .get(block)
        .map_err(|e| ApiError::new(500, "blocks", e.to_string(), true))?
        .ok_or_else(|| {
            ApiError::new(
                404,
                "not_found",
                format!(
                    "block {block} is not in the block files of channel {}",
                    ch.channel
                ),
                false,
            )
        })?;
    let updates = updates_from_block(&stored).map_err(|e| {
        tracing::error!(block, error = %e, "a stored block does not replay");
        ApiError::new(500, "blocks", e.to_string(), false)
    })?;
    let needs = private_needs(&updates, ch.definitions.current().as_ref(), msp_id);
    let mut data = PrivateData::default();
    let view = ch.state.view();
    for need in needs {
        let mut writes = Vec::new();
        for w in &need.writes {
            let found = view
                .get_private_by_hash(&need.namespace, &need.collection, &w.key_hash)
                .map_err(state_error)?;
            if let Some((key, value, version)) = found {
                if version == w.version {
                    writes.push(PrivateKv {
                        key,
                        value: Some(ValueBytes(value)),
                    });
                }
            }
        }
        if writes.is_empty() {
            continue;
        }
        let collection = CollectionPrivateData {
            collection: need.collection,
            writes,
        };
        match data.txs.last_mut() {
            Some(t) if t.tx_id == need.tx_id && t.namespace == need.namespace => {
                t.collections.push(collection)
            }
            _ => data.txs.push(TxPrivateData {
                tx_id: need.tx_id,
                namespace: need.namespace,
                collections: vec![collection],
            }),
        }
    }
    Ok(serde_json::to_value(&data).expect("private data serialises"))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::Status;
    use crate::definitions::DefinitionCache;
    use crate::fixtures::{block_with, definitions, fixture, now, private_tx, Fixture, KeyWrite};
    use crate::ledger::Ledger;
    use crate::pipeline::BlockTrust;
    use cellchain_core::crypto::default_provider;
    use cellchain_core::protocol::{QueryRequest, Version};
    use cellchain_core::testing::TestMember;
    use cellchain_storage::PrivateWrite;
    use cellchain_validation::Validator;

    fn private(coll: &str, key: &str, value: &[u8], block: u64) -> PrivateWrite {
        PrivateWrite {
            namespace: "cc".into(),
            collection: coll.into(),
            key: key.into(),
            value: Some(value.to_vec()),
            version: Version { block, tx: 0 },
            block_to_live: 0,
        }
    }

    /// Block 1 writes secret/k, secret/j and Org2's theirs/t (its value stored
    /// too, to show who is served what); block 2 rewrites secret/j and writes
    /// secret/m, whose value was never received.
    fn app(f: &Fixture, dir: &std::path::Path) -> (Arc<App>, Ledger) {
        let (mut ledger, _) = Ledger::open(dir, &f.genesis).unwrap();
        let trust = BlockTrust::new(&f.config, f.config.msp_set().unwrap(), now()).unwrap();
        let validator = Validator::new(f.config.clone()).unwrap();
        let defs = definitions();
        let mut previous = f.genesis.clone();
        let blocks: [(Vec<KeyWrite<'_>>, Vec<PrivateWrite>); 2] = [
            (
                vec![
                    ("secret", "k", Some(b"v1")),
                    ("secret", "j", Some(b"j1")),
                    ("theirs", "t", Some(b"vt")),
                ],
                vec![
                    private("secret", "k", b"v1", 1),
                    private("secret", "j", b"j1", 1),
                    private("theirs", "t", b"vt", 1),
                ],
            ),
            (
                vec![("secret", "j", Some(b"j2")), ("secret", "m", Some(b"vm"))],
                vec![private("secret", "j", b"j2", 2)],
            ),
        ];
        for (writes, values) in blocks {
            let (envelope, _) = private_tx(f, &writes);
            let block = block_with(f, &previous, vec![envelope]);
            let prepared = ledger
                .prepare(
                    block,
                    &trust,
                    &validator,
                    &defs,
                    default_provider(),
                    1,
                    now(),
                )
                .unwrap();
            let c = ledger.finish(prepared, &values).unwrap();
            previous = ledger
                .blocks()
                .read()
                .unwrap()
                .get(c.number)
                .unwrap()
                .unwrap();
        }
        let (height, _) = watch::channel(ledger.height());
        let shared = Arc::new(ChannelShared {
            channel: "ch".into(),
            config: f.config.clone(),
            msps: f.config.msp_set().unwrap(),
            blocks: ledger.blocks(),
            state: ledger.reader(),
            definitions: Arc::new(DefinitionCache::new("ch", defs)),
            height,
            status: Status::default(),
        });
        let (_, shutdown) = watch::channel(false);
        let app = Arc::new(App {
            node_name: "c1".into(),
            channels: HashMap::from([("ch".to_string(), shared)]),
            clock_skew: Duration::from_secs(300),
            provider: default_provider(),
            shutdown,
        });
        (app, ledger)
    }

    /// Sends `q` signed by `who` through the query handler: (status, JSON body).
    async fn ask(app: &Arc<App>, who: &TestMember, q: Query) -> (u16, Value) {
        let request = QueryRequest {
            channel_id: "ch".into(),
            creator: who.id.clone(),
            timestamp: Timestamp {
                seconds: now(),
                nanos: 0,
            },
            query: q,
        };
        let signed = SignedQuery::sign(&request, who.signer.as_ref()).unwrap();
        let body = Bytes::from(serde_json::to_vec(&signed).unwrap());
        let response = query(State(app.clone()), Path("ch".to_string()), body).await;
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    fn get(coll: &str, key: &str) -> Query {
        Query::PrivateGet {
            namespace: "cc".into(),
            collection: coll.into(),
            key: key.into(),
        }
    }

    #[tokio::test]
    async fn private_get_serves_the_value_to_members_and_the_hash_to_every_reader() {
        let f = fixture();
        let dir = tempfile::tempdir().unwrap();
        let (app, _ledger) = app(&f, dir.path());
        let (status, member) = ask(&app, &f.client, get("secret", "k")).await;
        assert_eq!(status, 200, "{member}");
        assert_eq!(member["member"], true);
        assert_eq!(member["value"], b64(b"v1"));
        assert_eq!(member["version"], json!({"block": 1, "tx": 0}));
        assert_eq!(member["value_hash"], json!(sha256(b"v1")));
        assert!(member.get("purged").is_none() && member.get("missing").is_none());

        let (status, other) = ask(&app, &f.client2, get("secret", "k")).await;
        assert_eq!(status, 200, "{other}");
        assert_eq!(other["member"], false);
        assert_eq!(other["value"], Value::Null);
        assert_eq!(other["value_hash"], member["value_hash"]);
        assert_eq!(other["version"], member["version"]);
        assert!(!other.to_string().contains(&b64(b"v1")));

        // A member whose value never arrived: the hash, no value.
        let (status, m) = ask(&app, &f.client, get("secret", "m")).await;
        assert_eq!(status, 200, "{m}");
        assert_eq!(
            (m["value"].clone(), m["missing"].clone()),
            (Value::Null, json!(true))
        );
        assert_eq!(m["version"], json!({"block": 2, "tx": 0}));

        let (status, e) = ask(&app, &f.client, get("secret", "nope")).await;
        assert_eq!((status, e["error"].as_str()), (404, Some("not_found")));
        let (status, e) = ask(&app, &f.client, get("missing", "k")).await;
        assert_eq!(
            (status, e["error"].as_str()),
            (404, Some("unknown_collection"))
        );
        assert!(
            e["message"].as_str().unwrap().contains("secret, theirs"),
            "{e}"
        );
        let (status, e) = ask(
            &app,
            &f.client,
            Query::PrivateGet {
                namespace: "nocc".into(),
                collection: "secret".into(),
                key: "k".into(),
            },
        )
        .await;
        assert_eq!(
            (status, e["error"].as_str()),
            (404, Some("unknown_collection"))
        );
    }

    #[tokio::test]
    async fn block_private_data_serves_the_requesters_collections_as_that_block_wrote_them() {
        let f = fixture();
        let dir = tempfile::tempdir().unwrap();
        let (app, _ledger) = app(&f, dir.path());
        let data = |v: Value| -> Vec<(String, String, String)> {
            let d: PrivateData = serde_json::from_value(v).unwrap();
            d.txs
                .iter()
                .flat_map(|t| {
                    t.collections.iter().flat_map(|c| {
                        c.writes.iter().map(|w| {
                            let value = String::from_utf8(w.value.clone().unwrap().0).unwrap();
                            (c.collection.clone(), w.key.clone(), value)
                        })
                    })
                })
                .collect()
        };
        let s = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
        // Org1: its collection only; secret/j was rewritten by block 2.
        let (status, v) = ask(&app, &f.client, Query::BlockPrivateData { block: 1 }).await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(data(v), [s("secret", "k", "v1")]);
        // Org2: its collection only.
        let (status, v) = ask(&app, &f.client2, Query::BlockPrivateData { block: 1 }).await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(data(v), [s("theirs", "t", "vt")]);
        // Block 2: secret/m never arrived and is left out.
        let (_, v) = ask(&app, &f.client, Query::BlockPrivateData { block: 2 }).await;
        assert_eq!(data(v), [s("secret", "j", "j2")]);
        let (_, v) = ask(&app, &f.client2, Query::BlockPrivateData { block: 2 }).await;
        assert_eq!(v, json!({"txs": []}));
        let (_, v) = ask(&app, &f.client, Query::BlockPrivateData { block: 0 }).await;
        assert_eq!(v, json!({"txs": []}));
        let (status, e) = ask(&app, &f.client, Query::BlockPrivateData { block: 3 }).await;
        assert_eq!(status, 404);
        assert!(
            e["message"].as_str().unwrap().contains("not committed yet"),
            "{e}"
        );
        // Endorsers serve PrivateWrites.
        let (status, e) = ask(&app, &f.client, Query::PrivateWrites { tx_ids: vec![] }).await;
        assert_eq!(
            (status, e["error"].as_str()),
            (400, Some("unsupported_query"))
        );
        assert!(e["message"].as_str().unwrap().contains("endorsers"), "{e}");
    }
}
