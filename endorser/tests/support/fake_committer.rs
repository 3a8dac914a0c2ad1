//! A **fake** committer for endorser tests: serves the validated block feed
//! (`POST /v1/channels/{channel}/blocks`, NDJSON) from blocks the test pushes,
//! with the same request and answer shapes as the real committer's, so the
//! endorser's tests do not depend on the committer. It checks only that the
//! request parses, names the channel and is signed by a member of the channel
//! (no ACL: that is the committer's business). `drop_streams` ends every open
//! stream, as a committer restart would.

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
use cellchain_core::protocol::{Block, SignedDeliverRequest};
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
        });
        let app = Router::new()
            .route("/v1/channels/{channel}/blocks", post(blocks))
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
