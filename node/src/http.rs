//! HTTP pieces every node serves alike.

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use cellchain_core::protocol::Block;
use serde_json::json;
use tokio::sync::watch;

/// An error answer: `{"error": kind, "message": text, "retryable": bool}` with
/// `status`, and `Retry-After: 1` when retrying may succeed.
pub fn error(status: u16, kind: &str, message: impl Into<String>, retryable: bool) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (
        status,
        Json(json!({"error": kind, "message": message.into(), "retryable": retryable})),
    )
        .into_response();
    if retryable {
        response
            .headers_mut()
            .insert("retry-after", "1".parse().expect("header value"));
    }
    response
}

/// Reads block `n` of a channel's store (`None` past its height).
pub type ReadBlock = Arc<dyn Fn(u64) -> Result<Option<Block>, String> + Send + Sync>;

/// A stream of blocks `start..=stop` (or following the chain when `stop` is
/// `None`) as NDJSON, one block per line as stored. A block is sent once
/// `height` passes its number; the stream ends at `stop`, at shutdown, or on a
/// read error (logged with `channel`).
pub fn block_stream(
    channel: String,
    read: ReadBlock,
    height: watch::Receiver<u64>,
    start: u64,
    stop: Option<u64>,
    shutdown: watch::Receiver<bool>,
) -> Response {
    let state = StreamState {
        channel,
        read,
        height,
        next: start,
        stop,
        shutdown,
    };
    Response::builder()
        .header("content-type", "application/x-ndjson")
        .body(Body::from_stream(futures_util::stream::unfold(
            state, next_block,
        )))
        .expect("response")
}

struct StreamState {
    channel: String,
    read: ReadBlock,
    height: watch::Receiver<u64>,
    next: u64,
    stop: Option<u64>,
    shutdown: watch::Receiver<bool>,
}

async fn next_block(mut s: StreamState) -> Option<(Result<Bytes, Infallible>, StreamState)> {
    if s.stop.is_some_and(|stop| s.next > stop) || *s.shutdown.borrow() {
        return None;
    }
    while *s.height.borrow_and_update() <= s.next {
        tokio::select! {
            changed = s.height.changed() => if changed.is_err() { return None },
            _ = s.shutdown.changed() => return None,
        }
    }
    let block = (s.read)(s.next);
    let mut line = match block {
        Ok(Some(b)) => serde_json::to_vec(&b).expect("blocks encode"),
        Ok(None) => return None,
        Err(e) => {
            tracing::error!(channel = %s.channel, number = s.next, error = %e, "cannot read a block to stream");
            return None;
        }
    };
    line.push(b'\n');
    s.next += 1;
    Some((Ok(Bytes::from(line)), s))
}
