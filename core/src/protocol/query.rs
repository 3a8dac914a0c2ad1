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
    /// One private key of a collection: its value hash and version to every
    /// reader, its value only to members of the collection (while not purged).
    PrivateGet {
        namespace: String,
        collection: String,
        key: String,
    },
    /// The private values block `block` wrote, in the collections the asking
    /// organisation is a member of (committers; answers [`PrivateData`]).
    /// Endorsers ask their own committer to keep their replica's private values.
    BlockPrivateData { block: u64 },
    /// The private writes an endorser kept for these transactions when it
    /// endorsed them, in the collections the asking organisation is a member of
    /// (endorsers, `POST /v1/channels/{ch}/private`; answers [`PrivateData`]).
    /// Member committers ask at commit.
    PrivateWrites { tx_ids: Vec<TxId> },
}

/// Private values, as served to a member organisation of their collections.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivateData {
    pub txs: Vec<TxPrivateData>,
}

/// The private writes of one transaction in one chaincode namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxPrivateData {
    pub tx_id: TxId,
    pub namespace: String,
    pub collections: Vec<CollectionPrivateData>,
}

/// The private writes of one collection: key and value (`None`: deleted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectionPrivateData {
    pub collection: String,
    pub writes: Vec<PrivateKv>,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivateKv {
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Bytes>,
}

/// Never shows the value: private values stay out of logs.
impl std::fmt::Debug for PrivateKv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivateKv")
            .field("key", &self.key)
            .field("value_len", &self.value.as_ref().map(|v| v.0.len()))
            .finish()
    }
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
        let kv = PrivateKv {
            key: "k".into(),
            value: Some(Bytes(b"top-secret".to_vec())),
        };
        assert!(!format!("{kv:?}").contains("top-secret"));
        let q: Query = serde_json::from_str(r#"{"type":"block_private_data","block":4}"#).unwrap();
        assert_eq!(q, Query::BlockPrivateData { block: 4 });
        let info = serde_json::to_string(&Query::Info).unwrap();
        assert_eq!(info, r#"{"type":"info"}"#);
        assert!(signing::query_message(b"x").starts_with(signing::QUERY));
    }
}
