//! Private data at commit (Fabric's "pull private data at commit"): a block holds
//! only the hashes of private keys and values; before a block is stored, the
//! committer of a member organisation of a collection fetches the values the
//! block's valid transactions wrote there from endorsers that kept them.
//!
//! For a prepared block, [`PrivateFetcher::fetch`] works out what this
//! organisation needs (`cellchain_validation::private_needs`: one entry per valid
//! transaction, namespace and member collection with hashed writes) and asks the
//! configured sources in order of preference (`private_data_sources`: the own
//! organisation's endorsers first, then other member organisations'):
//! `POST http://{source}/v1/channels/{channel}/private` with a [`SignedQuery`]
//! ([`Query::PrivateWrites`] for the transactions still missing, signed by this
//! committer), answered with [`PrivateData`]. An offer is believed only if every
//! key and value hashes to the block's hashes (`match_private`); an offer that
//! does not is logged (source, tx id, namespace, collection, the mismatch: never
//! a value), counted, and that source is not believed for that need again in this
//! block. Rounds over all sources repeat with a short backoff (100 ms doubling to
//! 1 s) until everything is found or `private_data_timeout` has passed; then the
//! block is committed with what was found, and every need still missing is logged
//! ("private data missing") and counted. The member then keeps only the hashes of
//! those writes, as a non-member does.
//!
//! Values never reach logs or `Debug` output: only key counts, tx ids, namespace
//! and collection names, key hashes and errors.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use cellchain_core::crypto::Signer;
use cellchain_core::identity::SerializedIdentity;
use cellchain_core::protocol::{PrivateData, Query, QueryRequest, SignedQuery, Timestamp, TxId};
use cellchain_storage::PrivateWrite;
use cellchain_validation::{
    match_private, offered_for, private_needs, Definitions, PrivateNeed, UpdateBatch,
};
use tokio::time::Instant;

use crate::puller::now_unix;

/// The longest a single request to a source may take (bounded by what is left
/// of the timeout), so that a hanging source does not starve the next one.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Fetches the private values of one channel's blocks for this organisation.
pub struct PrivateFetcher {
    channel: String,
    msp_id: String,
    sources: Vec<String>,
    timeout: Duration,
    identity: SerializedIdentity,
    signer: Arc<dyn Signer>,
    http: reqwest::Client,
}

/// What fetching found for one block.
#[derive(Default, Clone)]
pub struct Fetched {
    /// Checked private writes (values and deletes), in block order: store these.
    pub writes: Vec<PrivateWrite>,
    /// Needs (transaction, namespace, collection) this organisation had.
    pub needed: usize,
    /// Needs committed without their values.
    pub missing: usize,
    /// Offers that did not match the block's hashes.
    pub mismatches: u64,
}

/// Never shows a value.
impl std::fmt::Debug for Fetched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetched")
            .field("writes", &self.writes.len())
            .field("needed", &self.needed)
            .field("missing", &self.missing)
            .field("mismatches", &self.mismatches)
            .finish()
    }
}

impl PrivateFetcher {
    /// A fetcher for `channel` on behalf of organisation `msp_id`, asking
    /// `sources` (`host:port`, in order of preference) with requests signed by
    /// `signer` for `identity`.
    pub fn new(
        channel: impl Into<String>,
        msp_id: impl Into<String>,
        sources: Vec<String>,
        timeout: Duration,
        identity: SerializedIdentity,
        signer: Arc<dyn Signer>,
    ) -> PrivateFetcher {
        PrivateFetcher {
            channel: channel.into(),
            msp_id: msp_id.into(),
            sources,
            timeout,
            identity,
            signer,
            http: reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(2))
                .build()
                .expect("HTTP client"),
        }
    }

    /// The private writes this organisation needs for block `updates.block`
    /// (see the module docs); gives up on what is still missing after the
    /// timeout.
    pub async fn fetch<D: Definitions + Sync>(&self, updates: &UpdateBatch, defs: &D) -> Fetched {
        let needs = private_needs(updates, defs, &self.msp_id);
        self.fetch_needs(updates.block, needs).await
    }

    async fn fetch_needs(&self, block: u64, needs: Vec<PrivateNeed>) -> Fetched {
        let mut out = Fetched {
            needed: needs.len(),
            ..Fetched::default()
        };
        if needs.is_empty() {
            return out;
        }
        let mut found: Vec<Option<Vec<PrivateWrite>>> = vec![None; needs.len()];
        // (source, need) pairs whose offer did not match: not believed again.
        let mut distrusted: HashSet<(usize, usize)> = HashSet::new();
        // The last failure of each source, for the "missing" warning.
        let mut failures: BTreeMap<&str, String> = BTreeMap::new();
        let deadline = Instant::now() + self.timeout;
        let mut backoff = FIRST_BACKOFF;
        'rounds: while !self.sources.is_empty() {
            for (s, source) in self.sources.iter().enumerate() {
                if found.iter().all(Option::is_some) {
                    break 'rounds;
                }
                let wanted: Vec<usize> = (0..needs.len())
                    .filter(|&i| found[i].is_none() && !distrusted.contains(&(s, i)))
                    .collect();
                if wanted.is_empty() {
                    continue;
                }
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break 'rounds;
                }
                let mut tx_ids: Vec<TxId> = Vec::new();
                for &i in &wanted {
                    if !tx_ids.contains(&needs[i].tx_id) {
                        tx_ids.push(needs[i].tx_id);
                    }
                }
                let data = match self.ask(source, tx_ids, left.min(REQUEST_TIMEOUT)).await {
                    Ok(d) => d,
                    Err(reason) => {
                        tracing::debug!(block, %source, %reason, "private data source failed");
                        failures.insert(source, reason);
                        continue;
                    }
                };
                for i in wanted {
                    let need = &needs[i];
                    let Some(offered) = offered_for(&data, need) else {
                        continue;
                    };
                    match match_private(need, offered) {
                        Ok(matched) => {
                            found[i] = Some(
                                matched
                                    .into_iter()
                                    .map(|m| PrivateWrite {
                                        namespace: need.namespace.clone(),
                                        collection: need.collection.clone(),
                                        key: m.key,
                                        value: m.value,
                                        version: m.write.version,
                                        block_to_live: need.block_to_live,
                                    })
                                    .collect(),
                            );
                        }
                        Err(mismatch) => {
                            tracing::warn!(
                                block,
                                %source,
                                tx_id = %need.tx_id,
                                namespace = %need.namespace,
                                collection = %need.collection,
                                %mismatch,
                                "private data offered by a source does not match the block's hashes; not stored"
                            );
                            out.mismatches += 1;
                            distrusted.insert((s, i));
                        }
                    }
                }
            }
            // Done, or every source offered a mismatch for what is still missing.
            let hopeless = |i: usize| (0..self.sources.len()).all(|s| distrusted.contains(&(s, i)));
            if (0..needs.len()).all(|i| found[i].is_some() || hopeless(i)) {
                break;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            tokio::time::sleep(backoff.min(left)).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
        let sources = if self.sources.is_empty() {
            "none configured (private_data_sources)".to_string()
        } else if failures.is_empty() {
            self.sources.join(", ")
        } else {
            failures
                .iter()
                .map(|(s, e)| format!("{s}: {e}"))
                .collect::<Vec<_>>()
                .join("; ")
        };
        for (need, got) in needs.iter().zip(found) {
            match got {
                Some(writes) => out.writes.extend(writes),
                None => {
                    out.missing += 1;
                    tracing::warn!(
                        block,
                        tx_id = %need.tx_id,
                        namespace = %need.namespace,
                        collection = %need.collection,
                        keys = need.writes.len(),
                        timeout_ms = self.timeout.as_millis() as u64,
                        %sources,
                        "private data missing: committing the block with the hashes only"
                    );
                }
            }
        }
        out
    }

    /// One request to one source.
    async fn ask(
        &self,
        source: &str,
        tx_ids: Vec<TxId>,
        timeout: Duration,
    ) -> Result<PrivateData, String> {
        let request = QueryRequest {
            channel_id: self.channel.clone(),
            creator: self.identity.clone(),
            timestamp: Timestamp {
                seconds: now_unix(),
                nanos: 0,
            },
            query: Query::PrivateWrites { tx_ids },
        };
        let signed = SignedQuery::sign(&request, self.signer.as_ref())
            .map_err(|e| format!("cannot sign the request: {e}"))?;
        let url = format!("http://{source}/v1/channels/{}/private", self.channel);
        let response = self
            .http
            .post(&url)
            .json(&signed)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            let message = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["message"].as_str().map(str::to_string))
                .unwrap_or(body);
            return Err(format!("HTTP {status}: {message}"));
        }
        response
            .json::<PrivateData>()
            .await
            .map_err(|e| format!("the answer is not private data: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{block_with, definitions, fixture, now, private_tx};
    use crate::ledger::Ledger;
    use crate::pipeline::BlockTrust;
    use axum::body::Bytes as Body;
    use axum::extract::{Path, State};
    use axum::routing::post;
    use axum::{Json, Router};
    use cellchain_core::bytes::sha256;
    use cellchain_core::crypto::default_provider;
    use cellchain_core::protocol::{CollectionPrivateData, PrivateKv, TxPrivateData, Version};
    use cellchain_core::Bytes;
    use cellchain_validation::{HashedWrite, TxOutcome, Validator};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    /// What a mock endorser answers to `PrivateWrites`.
    #[derive(Clone)]
    enum Serve {
        Data(PrivateData),
        Status(u16),
    }

    struct Mock {
        serve: Serve,
        /// The tx ids of every request received.
        asked: Mutex<Vec<Vec<TxId>>>,
        requests: AtomicUsize,
    }

    /// An in-process endorser on a loopback port that serves
    /// `POST /v1/channels/{ch}/private` from `serve`; returns its address.
    async fn mock_endorser(serve: Serve) -> (String, Arc<Mock>) {
        async fn private(
            State(mock): State<Arc<Mock>>,
            Path(channel): Path<String>,
            body: Body,
        ) -> axum::response::Response {
            use axum::response::IntoResponse;
            mock.requests.fetch_add(1, Ordering::Relaxed);
            let signed: SignedQuery = serde_json::from_slice(&body).unwrap();
            let request = signed.parse().unwrap();
            assert_eq!(
                (request.channel_id.as_str(), channel.as_str()),
                ("ch", "ch")
            );
            let Query::PrivateWrites { tx_ids } = request.query else {
                panic!("not a PrivateWrites query");
            };
            mock.asked.lock().unwrap().push(tx_ids);
            match &mock.serve {
                Serve::Data(d) => Json(d.clone()).into_response(),
                Serve::Status(s) => cellchain_node::http::error(*s, "nope", "no", false),
            }
        }
        let mock = Arc::new(Mock {
            serve,
            asked: Mutex::new(Vec::new()),
            requests: AtomicUsize::new(0),
        });
        let app = Router::new()
            .route("/v1/channels/{channel}/private", post(private))
            .with_state(mock.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (addr, mock)
    }

    fn fetcher(sources: Vec<String>, timeout: Duration) -> PrivateFetcher {
        let f = fixture();
        PrivateFetcher::new(
            "ch",
            "Org1MSP",
            sources,
            timeout,
            f.peer.id.clone(),
            Arc::from(f.peer.signer),
        )
    }

    fn tx(n: u8) -> TxId {
        TxId(cellchain_core::Hash32([n; 32]))
    }

    /// Block 5: tx 0 writes secret/a = "va" and deletes secret/b, and theirs/c
    /// (Org2's); tx 1 writes secret/d = "vd".
    fn updates() -> UpdateBatch {
        let write = |tx: u32, coll: &str, key: &str, value: Option<&str>| HashedWrite {
            namespace: "cc".into(),
            collection: coll.into(),
            key_hash: sha256(key.as_bytes()),
            value_hash: value.map(|v| sha256(v.as_bytes())),
            version: Version { block: 5, tx },
        };
        UpdateBatch {
            block: 5,
            hashed_writes: vec![
                write(0, "secret", "a", Some("va")),
                write(0, "secret", "b", None),
                write(0, "theirs", "c", Some("vc")),
                write(1, "secret", "d", Some("vd")),
            ],
            transactions: (0..2)
                .map(|i| TxOutcome {
                    tx_id: tx(i as u8),
                    index: i,
                    code: cellchain_core::protocol::TxValidationCode::Valid,
                })
                .collect(),
            ..UpdateBatch::default()
        }
    }

    fn kv(key: &str, value: Option<&str>) -> PrivateKv {
        PrivateKv {
            key: key.into(),
            value: value.map(|v| Bytes(v.as_bytes().to_vec())),
        }
    }

    fn data(d_value: &str) -> PrivateData {
        let coll = |name: &str, writes| CollectionPrivateData {
            collection: name.into(),
            writes,
        };
        PrivateData {
            txs: vec![
                TxPrivateData {
                    tx_id: tx(0),
                    namespace: "cc".into(),
                    collections: vec![coll("secret", vec![kv("b", None), kv("a", Some("va"))])],
                },
                TxPrivateData {
                    tx_id: tx(1),
                    namespace: "cc".into(),
                    collections: vec![coll("secret", vec![kv("d", Some(d_value))])],
                },
            ],
        }
    }

    #[tokio::test]
    async fn values_from_the_first_source_are_checked_and_kept_in_block_order() {
        let (good, mock) = mock_endorser(Serve::Data(data("vd"))).await;
        let fetched = fetcher(vec![good], Duration::from_secs(5))
            .fetch(&updates(), &definitions())
            .await;
        assert_eq!(
            (fetched.needed, fetched.missing, fetched.mismatches),
            (2, 0, 0)
        );
        let got: Vec<_> = fetched
            .writes
            .iter()
            .map(|w| (w.key.as_str(), w.value.as_deref(), w.version.tx))
            .collect();
        assert_eq!(
            got,
            [
                ("a", Some(&b"va"[..]), 0),
                ("b", None, 0),
                ("d", Some(&b"vd"[..]), 1)
            ]
        );
        assert!(fetched.writes.iter().all(|w| w.collection == "secret"));
        // One request for both transactions; Org2's collection is not asked for.
        assert_eq!(*mock.asked.lock().unwrap(), vec![vec![tx(0), tx(1)]]);
        // Debug output shows no value.
        assert!(!format!("{fetched:?}").contains("va"));
    }

    #[tokio::test]
    async fn a_forged_offer_is_not_stored_and_the_next_source_is_asked() {
        let (forged, forger) = mock_endorser(Serve::Data(data("forged"))).await;
        let (good, honest) = mock_endorser(Serve::Data(data("vd"))).await;
        let forger_addr = forged.clone();
        let fetched = fetcher(vec![forged, good], Duration::from_secs(5))
            .fetch(&updates(), &definitions())
            .await;
        assert_eq!((fetched.missing, fetched.mismatches), (0, 1));
        let d = fetched.writes.iter().find(|w| w.key == "d").unwrap();
        assert_eq!(d.value.as_deref(), Some(&b"vd"[..]));
        assert_eq!(fetched.writes.len(), 3);
        // The forger's matching tx 0 was taken; only tx 1 was asked of the next.
        assert_eq!(forger.requests.load(Ordering::Relaxed), 1);
        assert_eq!(*honest.asked.lock().unwrap(), vec![vec![tx(1)]]);
        // Only the forger: tx 1 is missing, given up at once (no source left to
        // believe), without waiting for the timeout.
        let started = std::time::Instant::now();
        let fetched = fetcher(vec![forger_addr], Duration::from_secs(5))
            .fetch(&updates(), &definitions())
            .await;
        assert_eq!(
            (fetched.missing, fetched.mismatches, fetched.writes.len()),
            (1, 1, 2)
        );
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[tokio::test]
    async fn without_an_answer_the_block_is_committed_without_the_values_after_the_timeout() {
        let (empty, mock) = mock_endorser(Serve::Data(PrivateData::default())).await;
        let (refusing, _) = mock_endorser(Serve::Status(403)).await;
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().to_string()
        };
        let started = std::time::Instant::now();
        let fetched = fetcher(vec![empty, refusing, closed], Duration::from_millis(400))
            .fetch(&updates(), &definitions())
            .await;
        let took = started.elapsed();
        assert_eq!((fetched.needed, fetched.missing), (2, 2));
        assert!(fetched.writes.is_empty());
        assert!(took >= Duration::from_millis(400), "{took:?}");
        assert!(took < Duration::from_secs(3), "{took:?}");
        // Asked again after a backoff.
        assert!(mock.requests.load(Ordering::Relaxed) >= 2);
        // No sources at all: missing at once.
        let fetched = fetcher(vec![], Duration::from_secs(5))
            .fetch(&updates(), &definitions())
            .await;
        assert_eq!(fetched.missing, 2);
        // Nothing needed: nobody is asked.
        let (unused, mock) = mock_endorser(Serve::Status(500)).await;
        let mut none = updates();
        none.hashed_writes.retain(|w| w.collection == "theirs");
        let fetched = fetcher(vec![unused], Duration::from_secs(5))
            .fetch(&none, &definitions())
            .await;
        assert_eq!((fetched.needed, fetched.missing), (0, 0));
        assert_eq!(mock.requests.load(Ordering::Relaxed), 0);
    }

    /// Prepare, fetch from a mock endorser, finish: the member reads the value.
    #[tokio::test]
    async fn a_block_committed_with_fetched_values_stores_them() {
        let f = fixture();
        let dir = tempfile::tempdir().unwrap();
        let (mut ledger, _) = Ledger::open(dir.path(), &f.genesis).unwrap();
        let (envelope, tx_id) = private_tx(
            &f,
            &[
                ("secret", "k", Some(b"the value")),
                ("theirs", "t", Some(b"not ours")),
            ],
        );
        let block = block_with(&f, &f.genesis, vec![envelope]);
        let trust = BlockTrust::new(&f.config, f.config.msp_set().unwrap(), now()).unwrap();
        let validator = Validator::new(f.config.clone()).unwrap();
        let defs = definitions();
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
        let offer = PrivateData {
            txs: vec![TxPrivateData {
                tx_id,
                namespace: "cc".into(),
                collections: vec![CollectionPrivateData {
                    collection: "secret".into(),
                    writes: vec![kv("k", Some("the value"))],
                }],
            }],
        };
        let (source, _) = mock_endorser(Serve::Data(offer)).await;
        let fetched = PrivateFetcher::new(
            "ch",
            "Org1MSP",
            vec![source],
            Duration::from_secs(5),
            f.peer.id.clone(),
            Arc::from(f.peer.signer),
        )
        .fetch(&prepared.updates, &defs)
        .await;
        assert_eq!(
            (fetched.needed, fetched.missing, fetched.writes.len()),
            (1, 0, 1)
        );
        let committed = ledger.finish(prepared, &fetched.writes).unwrap();
        assert_eq!(committed.number, 1);
        let (value, version) = ledger
            .reader()
            .get_private("cc", "secret", "k")
            .unwrap()
            .unwrap();
        assert_eq!(value, b"the value");
        assert_eq!(version, Version { block: 1, tx: 0 });
        // Org2's collection: the hash only.
        assert!(ledger
            .reader()
            .get_private("cc", "theirs", "t")
            .unwrap()
            .is_none());
        assert!(ledger
            .reader()
            .get_private_hash("cc", "theirs", &sha256(b"t"))
            .unwrap()
            .is_some());
    }
}
