//! HTTP/JSON calls to the nodes, with the nodes' error answers
//! (`{"error": kind, "message": text, "retryable": bool}`) decoded.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::error::{Attempt, SdkError};
use crate::profile::Endpoint;

/// How one call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CallError {
    /// No answer: connection refused or reset, or timed out.
    Connect(String),
    /// An HTTP error answer.
    Status {
        status: u16,
        kind: String,
        message: String,
        retryable: bool,
    },
    /// A 200 answer that does not decode.
    Decode(String),
}

impl CallError {
    /// Whether another node (or a later try) may succeed: no answer, or an answer
    /// the node marked retryable (503 and other overload or unavailability).
    pub fn is_retryable(&self) -> bool {
        match self {
            CallError::Connect(_) => true,
            CallError::Status {
                status, retryable, ..
            } => *retryable || *status == 503,
            CallError::Decode(_) => false,
        }
    }

    /// The node's error kind (`no_leader`, `forbidden`, ...) of an HTTP error.
    pub fn kind(&self) -> Option<&str> {
        match self {
            CallError::Status { kind, .. } => Some(kind),
            _ => None,
        }
    }

    pub fn attempt(&self, node: &Endpoint) -> Attempt {
        Attempt {
            node: node.name.clone(),
            reason: self.to_string(),
        }
    }

    /// The error for the caller when no other node is tried.
    pub fn into_sdk(self, role: &'static str, node: &Endpoint, request: &'static str) -> SdkError {
        match self {
            CallError::Status {
                status,
                kind,
                message,
                ..
            } => SdkError::Rejected {
                role,
                node: node.name.clone(),
                request,
                status,
                kind,
                message,
            },
            CallError::Decode(reason) => SdkError::BadAnswer {
                role,
                node: node.name.clone(),
                request,
                reason,
            },
            CallError::Connect(reason) => SdkError::Unavailable {
                role,
                scope: node.name.clone(),
                request,
                attempts: vec![Attempt {
                    node: node.name.clone(),
                    reason,
                }],
            },
        }
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Connect(r) => write!(f, "no answer: {r}"),
            CallError::Status {
                status,
                kind,
                message,
                ..
            } => write!(f, "{status} {kind}: {message}"),
            CallError::Decode(r) => write!(f, "bad answer: {r}"),
        }
    }
}

/// The HTTP client (each call passes its own timeout).
#[derive(Clone)]
pub(crate) struct Transport {
    pub http: reqwest::Client,
}

impl Transport {
    pub fn new(connect_timeout: Duration) -> Transport {
        let http = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .build()
            .expect("an HTTP client without TLS always builds");
        Transport { http }
    }

    /// POSTs `body` as JSON to `path` of `node`, decoding a 200 answer as `T`.
    pub async fn post<T: DeserializeOwned>(
        &self,
        node: &Endpoint,
        path: &str,
        body: &impl Serialize,
        timeout: Duration,
    ) -> Result<T, CallError> {
        let request = self.http.post(node.url(path)).json(body).timeout(timeout);
        Self::answer(request.send().await).await
    }

    /// GETs `path` of `node`, decoding a 200 answer as `T`.
    pub async fn get<T: DeserializeOwned>(
        &self,
        node: &Endpoint,
        path: &str,
        timeout: Duration,
    ) -> Result<T, CallError> {
        let request = self.http.get(node.url(path)).timeout(timeout);
        Self::answer(request.send().await).await
    }

    async fn answer<T: DeserializeOwned>(
        sent: reqwest::Result<reqwest::Response>,
    ) -> Result<T, CallError> {
        let response = sent.map_err(|e| CallError::Connect(describe(&e)))?;
        let status = response.status().as_u16();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| CallError::Connect(describe(&e)))?;
        if status == 200 {
            return serde_json::from_slice(&bytes).map_err(|e| CallError::Decode(e.to_string()));
        }
        Err(status_error(status, &bytes))
    }
}

/// Decodes a node's error answer (anything else is kept as text).
pub(crate) fn status_error(status: u16, body: &[u8]) -> CallError {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let kind = v["error"].as_str().unwrap_or("http_error").to_string();
    let message = match v["message"].as_str() {
        Some(m) => m.to_string(),
        None => String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned(),
    };
    CallError::Status {
        status,
        kind,
        message,
        retryable: v["retryable"].as_bool().unwrap_or(status == 503),
    }
}

/// reqwest's error with its causes (its own text omits "connection refused").
pub(crate) fn describe(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        "timed out".to_string()
    } else {
        e.to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text = format!("{text}: {s_text}");
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_error_answers_are_decoded() {
        let e = status_error(
            503,
            br#"{"error":"no_leader","message":"election","retryable":true}"#,
        );
        assert_eq!(e.to_string(), "503 no_leader: election");
        assert!(e.is_retryable());
        let e = status_error(
            403,
            br#"{"error":"forbidden","message":"no","retryable":false}"#,
        );
        assert!(!e.is_retryable());
        let e = status_error(502, b"bad gateway");
        assert_eq!(e.to_string(), "502 http_error: bad gateway");
        let node = Endpoint::new("o1:7050");
        let sdk = e.into_sdk("orderer", &node, "broadcast").to_string();
        assert_eq!(
            sdk,
            "orderer o1:7050 refused the broadcast (502 http_error): bad gateway"
        );
    }
}
