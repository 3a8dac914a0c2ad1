//! Private data collections at the endorser: the private values written by
//! endorsed simulations, kept in memory per tx id, and served to the member
//! organisations' committers, which fetch them when they commit the block that
//! carries only their hashes.
//!
//! ## Keeping
//!
//! [`PrivateStore`] maps a tx id to the [`PrivateEntry`] of its endorsement
//! (channel, chaincode, the simulation's private writes). It is bounded: the
//! oldest entries go first ([`PrivateStore::evicted`] counts them). Serving
//! an entry does not remove it, since every member committer fetches the same
//! transaction; there is no transient store on disk, so a restarted endorser
//! has nothing to serve for what it endorsed before.
//!
//! ## Serving: `POST /v1/channels/{channel}/private`
//!
//! The body is a [`SignedQuery`] whose query is
//! [`Query::PrivateWrites`]; the answer is [`PrivateData`] JSON. For each
//! requested tx id this endorser holds on this channel, only the collections
//! whose current definition (the entry's chaincode) lists the requester's
//! organisation in `member_orgs`; a transaction with none of those, and an
//! unknown tx id, are left out. Who asked and how many transactions and keys
//! were served is logged; values never are (`Debug` of the entries shows only
//! their shape).
//!
//! The request's checks, the first failure deciding the answer:
//!
//! | # | rule | error | HTTP |
//! |---|---|---|---|
//! | 1 | the body is a `SignedQuery` and its request bytes a `QueryRequest` | `malformed` | 400 |
//! | 2 | the request names the channel of the path | `wrong_channel` | 400 |
//! | 3 | the channel is served by this endorser | `unknown_channel` | 404 |
//! | 4 | the creator is a valid identity of the channel's organisations now | `invalid_creator` | 403 |
//! | 5 | the creator's signature over `signing::query_message` verifies | `bad_signature` | 403 |
//! | 6 | the creator's role is peer (committers and endorsers) | `not_a_peer` | 403 |
//! | 7 | the timestamp is within the endorser's `proposal_skew` | `stale_timestamp` | 400 |
//! | 8 | the query is `private_writes` | `unsupported_query` | 400 |
//! | 9 | at most [`MAX_PRIVATE_TX_IDS`] tx ids | `too_many_tx_ids` | 413 |
//!
//! ## Not built
//!
//! A collection's `required_peer_count` (pushing the values to that many other
//! member peers before endorsing, as Fabric does) is not implemented: the
//! endorsement does not wait for dissemination, and the values exist off the
//! block only at this endorser until a member committer fetched them.
//!
//! [`SignedQuery`]: cellchain_core::protocol::SignedQuery

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use cellchain_core::identity::Role;
use cellchain_core::protocol::{
    CollectionPrivateData, PrivateData, PrivateKv, Query, SignedQuery, Timestamp, TxId,
    TxPrivateData,
};
use cellchain_core::Bytes;
use cellchain_simulator::PrivateWrites;
use cellchain_validation::DefinitionSet;

use crate::checks::ProposalError;
use crate::endorse::Endorser;

/// Most tx ids one request for private writes may name.
pub const MAX_PRIVATE_TX_IDS: usize = 1000;

/// The private writes of one endorsed transaction.
#[derive(Clone, PartialEq, Eq)]
pub struct PrivateEntry {
    pub channel: String,
    pub chaincode: String,
    /// The replica height the simulation ran at.
    pub height: u64,
    pub writes: PrivateWrites,
}

impl fmt::Debug for PrivateEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: usize = self.writes.values().map(|c| c.len()).sum();
        f.debug_struct("PrivateEntry")
            .field("channel", &self.channel)
            .field("chaincode", &self.chaincode)
            .field("height", &self.height)
            .field("collections", &self.writes.keys().collect::<Vec<_>>())
            .field("keys", &keys)
            .finish_non_exhaustive()
    }
}

/// A bounded map from tx id to private writes.
pub struct PrivateStore {
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    map: HashMap<TxId, PrivateEntry>,
    order: VecDeque<TxId>,
    evicted: u64,
}

impl PrivateStore {
    pub fn new(capacity: usize) -> PrivateStore {
        PrivateStore {
            capacity: capacity.max(1),
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Keeps `entry` for `tx_id` (replacing an earlier one of the same tx id),
    /// evicting the oldest entries beyond the capacity.
    pub fn insert(&self, tx_id: TxId, entry: PrivateEntry) {
        let mut inner = self.inner.lock().expect("private store lock");
        if inner.map.insert(tx_id, entry).is_none() {
            inner.order.push_back(tx_id);
        }
        while inner.map.len() > self.capacity {
            let Some(old) = inner.order.pop_front() else {
                break;
            };
            if inner.map.remove(&old).is_some() {
                inner.evicted += 1;
            }
        }
    }

    pub fn get(&self, tx_id: &TxId) -> Option<PrivateEntry> {
        self.inner
            .lock()
            .expect("private store lock")
            .map
            .get(tx_id)
            .cloned()
    }

    /// Removes and returns the entry (once disseminated or committed).
    pub fn take(&self, tx_id: &TxId) -> Option<PrivateEntry> {
        let mut inner = self.inner.lock().expect("private store lock");
        let entry = inner.map.remove(tx_id)?;
        inner.order.retain(|t| t != tx_id);
        Some(entry)
    }

    pub fn len(&self) -> usize {
        self.inner.lock().expect("private store lock").map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entries dropped because the store was full.
    pub fn evicted(&self) -> u64 {
        self.inner.lock().expect("private store lock").evicted
    }
}

/// Why a request for private writes was refused (nothing served). Each says
/// what was wrong; [`PrivateRequestError::status`] maps it to HTTP,
/// [`PrivateRequestError::kind`] names it for clients and metrics.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrivateRequestError {
    /// The body is not a signed query, or its request bytes do not decode.
    #[error("malformed request: {reason}")]
    Malformed { reason: String },
    /// The request names another channel than the one in the path.
    #[error("the request is for channel {found}, but was sent to channel {expected}")]
    WrongChannel { expected: String, found: String },
    /// This endorser does not serve the channel.
    #[error("channel {channel} is not served by this endorser (it serves: {served})")]
    UnknownChannel { channel: String, served: String },
    /// The creator's certificate is not a valid identity of a channel member now.
    #[error("the creator is not a valid identity of channel {channel}: {reason}")]
    InvalidCreator { channel: String, reason: String },
    /// The creator's signature over the request bytes does not verify.
    #[error("the request signature does not verify for its creator {creator}: sign the exact request bytes with the creator's key")]
    BadSignature { creator: String },
    /// Only peers (the member organisations' committers) are served.
    #[error("{creator} has role {role}: private writes are served to peers (committers) only")]
    NotAPeer { creator: String, role: &'static str },
    /// The timestamp is too far from the endorser's clock.
    #[error("the request timestamp is {off_ms} ms from the endorser's clock, more than the accepted {skew_ms} ms: check the requester's clock and send a fresh request")]
    StaleTimestamp { off_ms: u64, skew_ms: u64 },
    /// Another query than `private_writes`.
    #[error("this route answers only the private_writes query, not {query}; ask a committer's /query route for the others")]
    UnsupportedQuery { query: &'static str },
    /// More tx ids than [`MAX_PRIVATE_TX_IDS`] in one request.
    #[error("the request names {count} tx ids, more than the {max} accepted at once: split it into several requests")]
    TooManyTxIds { count: usize, max: usize },
}

impl PrivateRequestError {
    /// The HTTP status for this refusal.
    pub fn status(&self) -> u16 {
        match self {
            PrivateRequestError::UnknownChannel { .. } => 404,
            PrivateRequestError::InvalidCreator { .. }
            | PrivateRequestError::BadSignature { .. }
            | PrivateRequestError::NotAPeer { .. } => 403,
            PrivateRequestError::TooManyTxIds { .. } => 413,
            _ => 400,
        }
    }

    /// A short stable name, for clients' matching and metrics labels.
    pub fn kind(&self) -> &'static str {
        match self {
            PrivateRequestError::Malformed { .. } => "malformed",
            PrivateRequestError::WrongChannel { .. } => "wrong_channel",
            PrivateRequestError::UnknownChannel { .. } => "unknown_channel",
            PrivateRequestError::InvalidCreator { .. } => "invalid_creator",
            PrivateRequestError::BadSignature { .. } => "bad_signature",
            PrivateRequestError::NotAPeer { .. } => "not_a_peer",
            PrivateRequestError::StaleTimestamp { .. } => "stale_timestamp",
            PrivateRequestError::UnsupportedQuery { .. } => "unsupported_query",
            PrivateRequestError::TooManyTxIds { .. } => "too_many_tx_ids",
        }
    }
}

fn query_name(q: &Query) -> &'static str {
    match q {
        Query::TxStatus { .. } => "tx_status",
        Query::Get { .. } => "get",
        Query::Range { .. } => "range",
        Query::History { .. } => "history",
        Query::Info => "info",
        Query::PrivateGet { .. } => "private_get",
        Query::BlockPrivateData { .. } => "block_private_data",
        Query::PrivateWrites { .. } => "private_writes",
    }
}

/// Checks 1-9 of a request for private writes (see the module docs), at `now`
/// with the accepted `skew`: the requester's organisation and the tx ids asked.
fn check_request(
    endorser: &Endorser,
    channel: &str,
    body: &[u8],
    now: Timestamp,
    skew: Duration,
) -> Result<(String, String, Vec<TxId>), PrivateRequestError> {
    let signed: SignedQuery =
        serde_json::from_slice(body).map_err(|e| PrivateRequestError::Malformed {
            reason: format!("not a signed query: {e}"),
        })?;
    let request = signed.parse().map_err(|e| PrivateRequestError::Malformed {
        reason: e.to_string(),
    })?;
    if request.channel_id != channel {
        return Err(PrivateRequestError::WrongChannel {
            expected: channel.to_string(),
            found: request.channel_id,
        });
    }
    let Some(ch) = endorser.channels.get(channel) else {
        return Err(PrivateRequestError::UnknownChannel {
            channel: channel.to_string(),
            served: endorser
                .channels
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
        });
    };
    let creator = ch
        .trust
        .authenticate(
            &request.creator,
            &signed.signed_message(),
            &signed.signature,
            now.seconds,
        )
        .map_err(|e| match e {
            ProposalError::BadSignature { creator } => {
                PrivateRequestError::BadSignature { creator }
            }
            ProposalError::InvalidCreator { channel, reason } => {
                PrivateRequestError::InvalidCreator { channel, reason }
            }
            other => PrivateRequestError::InvalidCreator {
                channel: channel.to_string(),
                reason: other.to_string(),
            },
        })?;
    let who = format!("{}@{}", creator.common_name, creator.msp_id);
    if creator.role != Role::Peer {
        return Err(PrivateRequestError::NotAPeer {
            creator: who,
            role: creator.role.as_str(),
        });
    }
    let off = now
        .as_unix_nanos()
        .abs_diff(request.timestamp.as_unix_nanos());
    if off > skew.as_nanos() {
        return Err(PrivateRequestError::StaleTimestamp {
            off_ms: u64::try_from(off / 1_000_000).unwrap_or(u64::MAX),
            skew_ms: skew.as_millis() as u64,
        });
    }
    let Query::PrivateWrites { tx_ids } = request.query else {
        return Err(PrivateRequestError::UnsupportedQuery {
            query: query_name(&request.query),
        });
    };
    if tx_ids.len() > MAX_PRIVATE_TX_IDS {
        return Err(PrivateRequestError::TooManyTxIds {
            count: tx_ids.len(),
            max: MAX_PRIVATE_TX_IDS,
        });
    }
    Ok((who, creator.msp_id, tx_ids))
}

impl Endorser {
    /// Answers one request for private writes to `channel` (the path's) at
    /// `now`: the checks of the module docs, then [`private_data_for`] the
    /// requester's organisation. Counted in the metrics; values never logged.
    pub fn handle_private(
        &self,
        channel: &str,
        body: &[u8],
        now: Timestamp,
    ) -> Result<PrivateData, PrivateRequestError> {
        let label = if self.channels.contains_key(channel) {
            channel
        } else {
            "(unknown)"
        };
        let (who, msp_id, tx_ids) = match check_request(
            self,
            channel,
            body,
            now,
            self.proposal_skew,
        ) {
            Ok(checked) => checked,
            Err(e) => {
                if e.status() == 403 {
                    tracing::info!(%channel, reason = %e, "request for private writes refused");
                } else {
                    tracing::debug!(%channel, reason = %e, "request for private writes refused");
                }
                self.metrics.count_private(label, e.kind(), 0);
                return Err(e);
            }
        };
        let ch = &self.channels[channel];
        let data = private_data_for(&self.private, channel, &ch.definitions(), &msp_id, &tx_ids);
        let keys: usize = data
            .txs
            .iter()
            .flat_map(|t| &t.collections)
            .map(|c| c.writes.len())
            .sum();
        tracing::info!(
            %channel,
            requester = %who,
            asked = tx_ids.len(),
            served_txs = data.txs.len(),
            served_keys = keys,
            "private writes served"
        );
        self.metrics
            .count_private(label, "served", data.txs.len() as u64);
        Ok(data)
    }
}

/// The private writes `store` holds for `tx_ids` on `channel`, in the
/// collections whose definition in `definitions` lists `msp_id` among its
/// member organisations, in the order asked (each tx id once). Transactions
/// held for another channel, unknown, or with no such collection are left out.
pub fn private_data_for(
    store: &PrivateStore,
    channel: &str,
    definitions: &DefinitionSet,
    msp_id: &str,
    tx_ids: &[TxId],
) -> PrivateData {
    let mut seen = HashSet::new();
    let mut txs = Vec::new();
    for tx_id in tx_ids {
        if !seen.insert(*tx_id) {
            continue;
        }
        let Some(entry) = store.get(tx_id) else {
            continue;
        };
        if entry.channel != channel {
            continue;
        }
        let Some(definition) = definitions.0.get(&entry.chaincode) else {
            continue;
        };
        let collections: Vec<CollectionPrivateData> = entry
            .writes
            .into_iter()
            .filter(|(name, _)| {
                definition
                    .collections
                    .iter()
                    .any(|c| &c.name == name && c.member_orgs.iter().any(|m| m == msp_id))
            })
            .map(|(collection, writes)| CollectionPrivateData {
                collection,
                writes: writes
                    .into_iter()
                    .map(|(key, value)| PrivateKv {
                        key,
                        value: value.map(Bytes),
                    })
                    .collect(),
            })
            .collect();
        if collections.is_empty() {
            continue;
        }
        txs.push(TxPrivateData {
            tx_id: *tx_id,
            namespace: entry.chaincode,
            collections,
        });
    }
    PrivateData { txs }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cellchain_core::Hash32;

    fn tx(n: u8) -> TxId {
        TxId(Hash32([n; 32]))
    }

    fn entry(value: &str) -> PrivateEntry {
        let mut writes = PrivateWrites::new();
        writes
            .entry("secret".into())
            .or_default()
            .insert("k".into(), Some(value.as_bytes().to_vec()));
        PrivateEntry {
            channel: "ch".into(),
            chaincode: "cc".into(),
            height: 1,
            writes,
        }
    }

    #[test]
    fn the_oldest_entries_are_evicted_beyond_the_capacity() {
        let store = PrivateStore::new(2);
        store.insert(tx(1), entry("a"));
        store.insert(tx(2), entry("b"));
        store.insert(tx(3), entry("c"));
        assert_eq!(store.len(), 2);
        assert_eq!(store.evicted(), 1);
        assert!(store.get(&tx(1)).is_none());
        assert_eq!(store.take(&tx(2)), Some(entry("b")));
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn debug_output_never_shows_values() {
        let text = format!("{:?}", entry("top-secret-value"));
        assert!(!text.contains("top-secret-value"), "{text}");
        assert!(text.contains("secret"), "{text}");
    }
}
