//! A **fake** committer for endorser tests: serves the validated block feed
//! (`POST /v1/channels/{channel}/blocks`, NDJSON) from blocks the test pushes,
//! with the same request and answer shapes as the real committer's, so the
//! endorser's tests do not depend on the committer. It checks only that the
//! request parses, names the channel and is signed by a member of the channel
//! (no ACL: that is the committer's business). `drop_streams` ends every open
//! stream, as a committer restart would.
//!
//! It also answers `POST /v1/channels/{channel}/query` with a `SignedQuery` of
//! `block_private_data { block }` (other queries: 400), from the
//! [`PrivateData`] the test set with `set_private` (none set: an empty
//! answer, as for purged or missing values); `fail_queries(n)` makes the next
//! `n` queries answer 503.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use cellchain_core::identity::MspSet;
use cellchain_core::protocol::{Block, PrivateData, Query, SignedDeliverRequest, SignedQuery};
use std::collections::HashMap;
use tokio::sync::watch;

struct Shared {
    channel: String,
    msps: MspSet,
    blocks: Mutex<Vec<Block>>,
    count: watch::Sender<usize>,
    /// Bumped to end every open stream.
    generation: watch::Sender<u64>,
    requests: AtomicU64,
    /// The `start` of every request received.
    starts: Mutex<Vec<u64>>,
    private: Mutex<HashMap<u64, PrivateData>>,
    /// The block of every private data query received.
    queries: Mutex<Vec<u64>>,
    /// Queries still to fail with 503.
    fail_queries: AtomicU64,
}

pub struct FakeCommitter {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl FakeCommitter {
    /// Starts serving `channel`, whose organisations are `msps`, on a free
    /// loopback port.
    pub async fn start(channel: &str, msps: MspSet) -> FakeCommitter {
        let shared = Arc::new(Shared {
            channel: channel.to_string(),
            msps,
            blocks: Mutex::new(Vec::new()),
            count: watch::Sender::new(0),
            generation: watch::Sender::new(0),
            requests: AtomicU64::new(0),
            starts: Mutex::new(Vec::new()),
            private: Mutex::new(HashMap::new()),
            queries: Mutex::new(Vec::new()),
            fail_queries: AtomicU64::new(0),
        });
        let app = Router::new()
            .route("/v1/channels/{channel}/blocks", post(blocks))
            .route("/v1/channels/{channel}/query", post(query))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeCommitter {
            addr,
            shared,
            server,
        }
    }

    /// Makes `block` available to every follower (blocks must come in order).
    pub fn push(&self, block: Block) {
        let mut blocks = self.shared.blocks.lock().unwrap();
        assert_eq!(
            block.header.number,
            blocks.len() as u64,
            "push blocks in order"
        );
        blocks.push(block);
        self.shared.count.send_replace(blocks.len());
    }

    /// Ends every open stream (followers must reconnect).
    pub fn drop_streams(&self) {
        self.shared.generation.send_modify(|g| *g += 1);
    }

    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }

    pub fn starts(&self) -> Vec<u64> {
        self.shared.starts.lock().unwrap().clone()
    }

    /// What `block_private_data` answers for `block`.
    pub fn set_private(&self, block: u64, data: PrivateData) {
        self.shared.private.lock().unwrap().insert(block, data);
    }

    /// The next `n` queries fail with 503.
    pub fn fail_queries(&self, n: u64) {
        self.shared.fail_queries.store(n, Ordering::SeqCst);
    }

    /// The block of every private data query received, in order.
    pub fn queries(&self) -> Vec<u64> {
        self.shared.queries.lock().unwrap().clone()
    }

    pub fn stop(self) {
        self.drop_streams();
        self.server.abort();
    }
}

async fn blocks(
    State(shared): State<Arc<Shared>>,
    Path(channel): Path<String>,
    body: Bytes,
) -> Response {
    shared.requests.fetch_add(1, Ordering::Relaxed);
    let Ok(signed) = serde_json::from_slice::<SignedDeliverRequest>(&body) else {
        return (StatusCode::BAD_REQUEST, "not a signed deliver request").into_response();
    };
    let Ok(request) = signed.parse() else {
        return (StatusCode::BAD_REQUEST, "malformed request").into_response();
    };
    if channel != shared.channel || request.channel_id != channel {
        return (StatusCode::NOT_FOUND, "unknown channel").into_response();
    }
    // The creator must be a member and its signature must verify.
    let now = cellchain_endorser::endorse::now().seconds;
    let Ok(creator) = shared.msps.validate(&request.creator, now) else {
        return (StatusCode::FORBIDDEN, "not a member").into_response();
    };
    if cellchain_core::crypto::default_provider()
        .verify(
            &creator.public_key,
            &signed.signed_message(),
            &signed.signature,
        )
        .is_err()
    {
        return (StatusCode::FORBIDDEN, "bad signature").into_response();
    }
    shared.starts.lock().unwrap().push(request.start);
    let state = StreamState {
        shared: shared.clone(),
        next: request.start as usize,
        count: shared.count.subscribe(),
        generation: shared.generation.subscribe(),
    };
    let stream = futures_util::stream::unfold(state, next_line);
    Response::builder()
        .header("content-type", "application/x-ndjson")
        .body(Body::from_stream(stream))
        .unwrap()
}

async fn query(
    State(shared): State<Arc<Shared>>,
    Path(channel): Path<String>,
    body: Bytes,
) -> Response {
    let Ok(signed) = serde_json::from_slice::<SignedQuery>(&body) else {
        return (StatusCode::BAD_REQUEST, "not a signed query").into_response();
    };
    let Ok(request) = signed.parse() else {
        return (StatusCode::BAD_REQUEST, "malformed request").into_response();
    };
    if channel != shared.channel || request.channel_id != channel {
        return (StatusCode::NOT_FOUND, "unknown channel").into_response();
    }
    let now = cellchain_endorser::endorse::now().seconds;
    let Ok(creator) = shared.msps.validate(&request.creator, now) else {
        return (StatusCode::FORBIDDEN, "not a member").into_response();
    };
    if cellchain_core::crypto::default_provider()
        .verify(
            &creator.public_key,
            &signed.signed_message(),
            &signed.signature,
        )
        .is_err()
    {
        return (StatusCode::FORBIDDEN, "bad signature").into_response();
    }
    let Query::BlockPrivateData { block } = request.query else {
        return (StatusCode::BAD_REQUEST, "unsupported query").into_response();
    };
    shared.queries.lock().unwrap().push(block);
    let failing = shared
        .fail_queries
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if failing {
        return (StatusCode::SERVICE_UNAVAILABLE, "try again").into_response();
    }
    let data = shared
        .private
        .lock()
        .unwrap()
        .get(&block)
        .cloned()
        .unwrap_or_default();
    axum::Json(data).into_response()
}

struct StreamState {
    shared: Arc<Shared>,
    next: usize,
    count: watch::Receiver<usize>,
    generation: watch::Receiver<u64>,
}

async fn next_line(mut s: StreamState) -> Option<(Result<Bytes, Infallible>, StreamState)> {
    loop {
        if *s.count.borrow_and_update() > s.next {
            break;
        }
        tokio::select! {
            changed = s.count.changed() => if changed.is_err() { return None },
            _ = s.generation.changed() => return None,
        }
    }
    if s.generation.has_changed().unwrap_or(true) {
        return None;
    }
    let block = s.shared.blocks.lock().unwrap()[s.next].clone();
    let mut line = serde_json::to_vec(&block).unwrap();
    line.push(b'\n');
    s.next += 1;
    Some((Ok(Bytes::from(line)), s))
}
