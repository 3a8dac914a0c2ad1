//! Ledger queries: a signed request for committed state, served by committers
//! only to identities the channel's `ledger/Query` ACL admits (Readers by
//! default). Like deliver, the request travels as the exact signed bytes.

use serde::{Deserialize, Serialize};

use super::proposal::{Timestamp, TxId};
use super::{decode, encode, signing, ProtocolError};
use crate::bytes::Bytes;
use crate::crypto::{CryptoError, Signer};
use crate::identity::SerializedIdentity;

/// What a client asks of a committer's ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Query {
    /// Where a transaction was committed and its validation code.
    TxStatus { tx_id: TxId },
    /// The committed value and version of one public key.
    Get { namespace: String, key: String },
    /// Public keys in `[start, end)` (an empty `end`: to the end of the namespace),
    /// a page at a time; pass the answer's bookmark back for the next page.
    Range {
        namespace: String,
        start: String,
        #[serde(default)]
        end: String,
        /// 0: the server's default page size.
        #[serde(default)]
        page_size: u32,
        #[serde(default)]
        bookmark: Option<String>,
    },
    /// The writes of one key, newest first, a page at a time.
    History {
        namespace: String,
        key: String,
        #[serde(default)]
        page_size: u32,
        #[serde(default)]
        bookmark: Option<String>,
    },
    /// Height, last commit hash and last block hash of the channel.
    Info,
}

/// A query with who asks and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryRequest {
    pub channel_id: String,
    pub creator: SerializedIdentity,
    /// When the client made the request; servers refuse one too far from their
    /// clock, which bounds how long a captured request can be replayed.
    pub timestamp: Timestamp,
    pub query: Query,
}

/// A query as sent: the exact request bytes and the creator's signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedQuery {
    pub request: Bytes,
    /// Over [`signing::query_message`] of `request`.
    pub signature: Bytes,
}

impl SignedQuery {
    pub fn sign(request: &QueryRequest, signer: &dyn Signer) -> Result<Self, CryptoError> {
        let bytes = encode(request);
        let signature = signer.sign(&signing::query_message(&bytes))?;
        Ok(SignedQuery {
            request: bytes,
            signature: Bytes(signature),
        })
    }

    pub fn parse(&self) -> Result<QueryRequest, ProtocolError> {
        decode("query request", &self.request)
    }

    /// The bytes the signature covers.
    pub fn signed_message(&self) -> Vec<u8> {
        signing::query_message(&self.request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_have_a_tagged_json_form_with_defaults() {
        let q: Query =
            serde_json::from_str(r#"{"type":"range","namespace":"cc","start":"a"}"#).unwrap();
        assert_eq!(
            q,
            Query::Range {
                namespace: "cc".into(),
                start: "a".into(),
                end: String::new(),
                page_size: 0,
                bookmark: None
            }
        );
        let info = serde_json::to_string(&Query::Info).unwrap();
        assert_eq!(info, r#"{"type":"info"}"#);
        assert!(signing::query_message(b"x").starts_with(signing::QUERY));
    }
}
