//! The endorser's HTTP API (axum). `router(endorser)` is testable without a
//! socket; `run(listener, endorser, shutdown)` serves it.
//!
//! | route | who | what |
//! |---|---|---|
//! | `POST /v1/channels/{channel}/endorse` | `peer/Propose` (Writers) | a [`SignedProposal`]; 200 with a [`ProposalResponse`] (endorsed, or the chaincode's error unsigned), 4xx/5xx with a reason |
//! | `POST /v1/channels/{channel}/evaluate` | `peer/Evaluate` (Readers) | the same, run read-only: the response, never a payload or endorsement |
//! | `POST /v1/channels/{channel}/private` | peers of the channel's organisations (member committers) | a [`SignedQuery`] of `private_writes { tx_ids }` (at most 1000); 200 with [`PrivateData`]: the private writes this endorser kept for those transactions, in the collections the requester's organisation is a member of (see [`crate::private`]) |
//! | `POST /v1/chaincode/install` | admins of the endorser's organisation | a [`SignedInstall`] (at most 16 MiB, 413 over); 200 with `{package_id, label, contract, contract_version, wasm_sha256, already_installed}` (see [`crate::install`]) |
//! | `GET /v1/chaincode/installed` | anyone | the installed packages: `[{package_id, label, contract, contract_version, wasm_sha256}]` |
//! | `GET /v1/channels/{channel}/status` | anyone | replica height, commit hash, feed connected, the chaincodes defined and those of them this endorser can run |
//! | `GET /healthz`, `GET /metrics` | operators | liveness and Prometheus metrics |
//!
//! Errors are JSON: `{"error": kind, "message": text, "retryable": bool}`.
//!
//! [`SignedProposal`]: cellchain_core::protocol::SignedProposal
//! [`ProposalResponse`]: cellchain_core::protocol::ProposalResponse
//! [`SignedQuery`]: cellchain_core::protocol::SignedQuery
//! [`PrivateData`]: cellchain_core::protocol::PrivateData
//! [`SignedInstall`]: cellchain_core::lifecycle::SignedInstall

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::StreamExt;
use serde_json::json;

use cellchain_node::http::error;

use crate::checks::Mode;
use crate::endorse::{now, Endorser};
use crate::install::{InstallRequestError, INSTALL_BODY_LIMIT};

/// Largest request body: a proposal with its arguments and transient data
/// (the runtime's input cap is 1 MiB by default).
const BODY_LIMIT: usize = 8 * 1024 * 1024;

pub fn router(endorser: Arc<Endorser>) -> Router {
    Router::new()
        .route("/v1/channels/{channel}/endorse", post(endorse))
        .route("/v1/channels/{channel}/evaluate", post(evaluate))
        .route("/v1/channels/{channel}/private", post(private_writes))
        .route("/v1/channels/{channel}/status", get(channel_status))
        .route("/v1/chaincode/install", post(install))
        .route("/v1/chaincode/installed", get(installed))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(endorser)
}

/// Serves the API on `listener` until `shutdown` completes.
pub async fn run(
    listener: tokio::net::TcpListener,
    endorser: Arc<Endorser>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(endorser))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn endorse(
    State(endorser): State<Arc<Endorser>>,
    Path(channel): Path<String>,
    body: Bytes,
) -> Response {
    answer(endorser, channel, body, Mode::Propose).await
}

async fn evaluate(
    State(endorser): State<Arc<Endorser>>,
    Path(channel): Path<String>,
    body: Bytes,
) -> Response {
    answer(endorser, channel, body, Mode::Evaluate).await
}

/// Runs the checks and the simulation on the blocking pool (wasm execution and
/// signature checks are CPU-bound; the replica view may wait for a block).
async fn answer(endorser: Arc<Endorser>, channel: String, body: Bytes, mode: Mode) -> Response {
    let result =
        tokio::task::spawn_blocking(move || endorser.handle(&channel, &body, mode, now())).await;
    match result {
        Ok(Ok(response)) => Json(response).into_response(),
        Ok(Err(e)) => error(e.status(), e.kind(), e.to_string(), e.retryable()),
        Err(e) => {
            tracing::error!(error = %e, "the endorsement task failed");
            error(500, "internal", "the endorsement task failed", true)
        }
    }
}

/// Serves kept private writes to a member committer (signature checks on the
/// blocking pool, like proposals).
async fn private_writes(
    State(endorser): State<Arc<Endorser>>,
    Path(channel): Path<String>,
    body: Bytes,
) -> Response {
    let result =
        tokio::task::spawn_blocking(move || endorser.handle_private(&channel, &body, now())).await;
    match result {
        Ok(Ok(data)) => Json(data).into_response(),
        Ok(Err(e)) => error(e.status(), e.kind(), e.to_string(), false),
        Err(e) => {
            tracing::error!(error = %e, "the private writes task failed");
            error(500, "internal", "the private writes task failed", true)
        }
    }
}

/// Reads the install body itself (to answer 413 in the error shape), then
/// checks, compiles and stores on the blocking pool.
async fn install(State(endorser): State<Arc<Endorser>>, body: Body) -> Response {
    let too_large = || {
        let e = InstallRequestError::TooLarge {
            limit: INSTALL_BODY_LIMIT,
        };
        error(e.status(), e.kind(), e.to_string(), false)
    };
    let mut bytes = Vec::new();
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else {
            return error(
                400,
                "bad_request",
                "the install request body could not be read",
                false,
            );
        };
        if bytes.len() + chunk.len() > INSTALL_BODY_LIMIT {
            return too_large();
        }
        bytes.extend_from_slice(&chunk);
    }
    let result = tokio::task::spawn_blocking(move || endorser.handle_install(&bytes, now())).await;
    match result {
        Ok(Ok(answer)) => Json(answer).into_response(),
        Ok(Err(e)) => error(e.status(), e.kind(), e.to_string(), e.retryable()),
        Err(e) => {
            tracing::error!(error = %e, "the install task failed");
            error(500, "internal", "the install task failed", true)
        }
    }
}

async fn installed(State(endorser): State<Arc<Endorser>>) -> Response {
    Json(endorser.packages.list()).into_response()
}

async fn channel_status(
    State(endorser): State<Arc<Endorser>>,
    Path(channel): Path<String>,
) -> Response {
    let Some(ch) = endorser.channels.get(&channel) else {
        let served: Vec<&str> = endorser.channels.keys().map(String::as_str).collect();
        return error(
            404,
            "unknown_channel",
            format!(
                "channel {channel} is not served by this endorser (it serves: {})",
                served.join(", ")
            ),
            false,
        );
    };
    Json(channel_json(&channel, ch, &endorser.packages)).into_response()
}

/// A channel's status: `defined` lists the chaincodes defined on it,
/// `chaincodes` those of them whose module is installed here (name order).
fn channel_json(
    name: &str,
    ch: &crate::endorse::Channel,
    packages: &crate::install::PackageStore,
) -> serde_json::Value {
    let r = &ch.replica;
    let definitions = ch.definitions();
    let defined: Vec<&str> = definitions.0.keys().map(String::as_str).collect();
    let chaincodes: Vec<&str> = definitions
        .0
        .values()
        .filter(|d| packages.get(&d.wasm_hash).is_some())
        .map(|d| d.name.as_str())
        .collect();
    json!({
        "channel": name,
        "height": r.height(),
        "commit_hash": r.commit_hash().map(|h| h.to_hex()),
        "feed_connected": r.is_connected(),
        "blocks_applied": r.blocks_applied(),
        "defined": defined,
        "chaincodes": chaincodes,
    })
}

async fn healthz(State(endorser): State<Arc<Endorser>>) -> Response {
    let channels: Vec<_> = endorser
        .channels
        .iter()
        .map(|(name, ch)| channel_json(name, ch, &endorser.packages))
        .collect();
    Json(json!({"status": "ok", "node": endorser.name, "channels": channels})).into_response()
}

async fn metrics(State(endorser): State<Arc<Endorser>>) -> Response {
    (
        [("content-type", "text/plain; version=0.0.4")],
        crate::metrics::render(&endorser),
    )
        .into_response()
}
