//! Pulling a channel's blocks from its orderers and committing them, one task per
//! channel: the single writer of the channel's ledger.
//!
//! The puller asks one orderer at a time for every block from our height on
//! (the orderer's deliver API, a signed request following the channel) and commits
//! each block as it arrives. It **fails over** to the next endpoint, in order,
//! when the connection fails, the orderer refuses the request, the stream ends,
//! a block is refused (does not extend our chain, no valid consenter signature)
//! or the stream **stalls**: nothing arrived for `stall_timeout` while some
//! orderer reports more blocks than we have. Each failover is logged with the
//! endpoint and the reason and counted; after a round without progress it backs
//! off (200 ms doubling to 5 s).
//!
//! Each block is committed in three steps: [`Ledger::prepare`] (checks and
//! validation, on a blocking thread), [`PrivateFetcher::fetch`] (the private
//! values of this organisation's collections, from the endorsers; see
//! [`crate::private`]) and [`Ledger::finish`] (values staged, block appended,
//! state applied, on a blocking thread). All three use the chaincode
//! definitions in force at the start of the block (one snapshot of the
//! channel's [`DefinitionCache`]); when the block wrote a definition, the cache
//! is refreshed right after the block is stored, under the ledger lock, so the
//! next block is validated under the new definitions.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cellchain_core::crypto::{CryptoProvider, Signer};
use cellchain_core::identity::SerializedIdentity;
use cellchain_core::protocol::{Block, DeliverRequest, SignedDeliverRequest, Timestamp};
use cellchain_validation::{ChaincodeDefinition, Validator};
use futures_util::StreamExt;
use tokio::sync::watch;
use tracing::Instrument;

use crate::channel::ChannelShared;
use crate::definitions::{definition_writes, DefinitionCache, DefinitionChange};
use crate::ledger::{CommitError, Committed, Ledger, LedgerError, Prepared};
use crate::pipeline::{describe_invalid, summarise, BlockTrust};
use crate::private::{Fetched, PrivateFetcher};

/// Everything one channel's puller needs.
pub struct Puller {
    pub shared: Arc<ChannelShared>,
    pub ledger: Arc<Mutex<Ledger>>,
    pub trust: Arc<BlockTrust>,
    pub validator: Arc<Validator>,
    /// The channel's chaincode definitions (the same cache the handlers read).
    pub definitions: Arc<DefinitionCache>,
    /// This organisation, and whether private data sources are configured: to
    /// warn when a new definition makes us a member of a collection we cannot
    /// fetch values for.
    pub msp_id: String,
    pub has_private_sources: bool,
    pub provider: &'static dyn CryptoProvider,
    pub workers: usize,
    /// Orderer endpoints (`host:port`), in order of preference.
    pub endpoints: Vec<String>,
    pub identity: SerializedIdentity,
    pub signer: Arc<dyn Signer>,
    pub stall_timeout: Duration,
    /// Fetches the private values of each block before it is stored.
    pub private: Arc<PrivateFetcher>,
    pub node: String,
    pub shutdown: watch::Receiver<bool>,
}

/// Why following one orderer ended.
enum Ended {
    Shutdown,
    /// Try the next orderer; the reason is logged.
    Failover(String),
    Fatal(LedgerError),
}

pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl Puller {
    /// Runs until shutdown (`Ok`) or a ledger failure (`Err`: stop the node).
    pub async fn run(mut self) -> Result<(), LedgerError> {
        let span =
            tracing::info_span!("committer", channel = %self.shared.channel, node = %self.node);
        async move {
            let http = reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(3))
                .build()
                .expect("HTTP client");
            let mut index = 0usize;
            let mut fruitless = 0u32;
            loop {
                if *self.shutdown.borrow() {
                    return Ok(());
                }
                let endpoint = self.endpoints[index % self.endpoints.len()].clone();
                *self.shared.status.orderer.lock().expect("status lock") = Some(endpoint.clone());
                let before = self.shared.block_height();
                tracing::info!(orderer = %endpoint, from = before, "pulling blocks");
                let ended = self.follow(&http, &endpoint).await;
                let progressed = self.shared.block_height() > before;
                match ended {
                    Ended::Shutdown => return Ok(()),
                    Ended::Fatal(e) => {
                        self.shared.set_error(e.to_string());
                        return Err(e);
                    }
                    Ended::Failover(reason) => {
                        index += 1;
                        let next = &self.endpoints[index % self.endpoints.len()];
                        tracing::warn!(orderer = %endpoint, %reason, next = %next, "failing over to the next orderer");
                        self.shared.set_error(format!("orderer {endpoint}: {reason}"));
                        self.shared.status.failovers.fetch_add(1, Ordering::Relaxed);
                    }
                }
                fruitless = if progressed { 0 } else { fruitless + 1 };
                if fruitless > 0 {
                    let delay = Duration::from_millis(200u64 << fruitless.min(5)).min(Duration::from_secs(5));
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = self.shutdown.changed() => return Ok(()),
                    }
                }
            }
        }
        .instrument(span)
        .await
    }

    /// Follows one orderer's deliver stream from our height, committing blocks.
    async fn follow(&mut self, http: &reqwest::Client, endpoint: &str) -> Ended {
        let channel = self.shared.channel.clone();
        let request = DeliverRequest {
            channel_id: channel.clone(),
            start: self.shared.block_height(),
            stop: None,
            creator: self.identity.clone(),
            timestamp: Timestamp {
                seconds: now_unix(),
                nanos: 0,
            },
        };
        let signed = match SignedDeliverRequest::sign(&request, self.signer.as_ref()) {
            Ok(s) => s,
            Err(e) => return Ended::Failover(format!("cannot sign the deliver request: {e}")),
        };
        let url = format!("http://{endpoint}/v1/channels/{channel}/deliver");
        // Only the wait for the answer's headers is bounded here: a client
        // timeout would also cut the (endless) stream; silence after that is the
        // stall check's business.
        let response = tokio::select! {
            r = tokio::time::timeout(Duration::from_secs(10), http.post(&url).json(&signed).send()) => r,
            _ = self.shutdown.changed() => return Ended::Shutdown,
        };
        let response = match response {
            Err(_) => return Ended::Failover("no answer within 10 s".into()),
            Ok(Err(e)) => return Ended::Failover(format!("cannot connect: {e}")),
            Ok(Ok(r)) if !r.status().is_success() => return Ended::Failover(refusal(r).await),
            Ok(Ok(r)) => r,
        };
        let mut stream = response.bytes_stream();
        let mut buffer: Vec<u8> = Vec::new();
        let mut scanned = 0usize;
        loop {
            let next = tokio::select! {
                n = tokio::time::timeout(self.stall_timeout, stream.next()) => n,
                _ = self.shutdown.changed() => return Ended::Shutdown,
            };
            match next {
                Err(_) => {
                    if let Some(reason) = self.stalled(http, endpoint).await {
                        return Ended::Failover(reason);
                    }
                }
                Ok(None) => return Ended::Failover("the orderer closed the block stream".into()),
                Ok(Some(Err(e))) => return Ended::Failover(format!("the block stream broke: {e}")),
                Ok(Some(Ok(chunk))) => {
                    buffer.extend_from_slice(&chunk);
                    while let Some(pos) = buffer[scanned..].iter().position(|b| *b == b'\n') {
                        let end = scanned + pos;
                        let block: Result<Block, _> = serde_json::from_slice(&buffer[..end]);
                        buffer.drain(..=end);
                        scanned = 0;
                        let block = match block {
                            Ok(b) => b,
                            Err(e) => {
                                return Ended::Failover(format!(
                                    "the orderer sent a line that is not a block: {e}"
                                ))
                            }
                        };
                        if let Some(ended) = self.commit(block).await {
                            return ended;
                        }
                    }
                    scanned = buffer.len();
                }
            }
        }
    }

    /// Commits one block: prepares it on a blocking thread, fetches its private
    /// values, finishes it on a blocking thread. `Some` when following must end.
    async fn commit(&self, block: Block) -> Option<Ended> {
        let number = block.header.number;
        let txs = block.data.envelopes.len();
        let ledger = self.ledger.clone();
        let trust = self.trust.clone();
        let validator = self.validator.clone();
        // The definitions in force at the start of this block, for all its steps.
        let defs = self.definitions.current();
        let provider = self.provider;
        let workers = self.workers;
        let prepare_defs = defs.clone();
        let prepared = tokio::task::spawn_blocking(move || {
            ledger.lock().expect("ledger lock").prepare(
                block,
                &trust,
                &validator,
                &prepare_defs,
                provider,
                workers,
                now_unix(),
            )
        })
        .await
        .unwrap_or_else(|p| std::panic::resume_unwind(p.into_panic()));
        let prepared = match prepared {
            Ok(p) => p,
            Err(e) => return Some(self.refused(number, e)),
        };
        // Nothing is stored yet: at shutdown the block is simply pulled again.
        let mut shutdown = self.shutdown.clone();
        let fetched = tokio::select! {
            f = self.private.fetch(&prepared.updates, defs.as_ref()) => f,
            _ = shutdown.changed() => return Some(Ended::Shutdown),
        };
        let ledger = self.ledger.clone();
        let cache = self.definitions.clone();
        let (result, fetched) = tokio::task::spawn_blocking(move || {
            let r = store(&ledger, &cache, prepared, &fetched);
            (r, fetched)
        })
        .await
        .unwrap_or_else(|p| std::panic::resume_unwind(p.into_panic()));
        match result {
            Ok((c, changes)) => {
                self.committed(&c, txs, &fetched);
                self.check_collections(&changes);
                None
            }
            Err(e) => Some(self.refused(number, e)),
        }
    }

    /// Warns when a definition now in force makes this organisation a member
    /// of a collection while no private data sources are configured.
    fn check_collections(&self, changes: &[DefinitionChange]) {
        if self.has_private_sources {
            return;
        }
        for change in changes {
            if let DefinitionChange::InForce(def) = change {
                if member_of_collections(def, &self.msp_id) {
                    tracing::warn!(chaincode = %def.name, msp_id = %self.msp_id, "this organisation is a member of private data collections of the chaincode but no private_data_sources are configured: only the hashes of private writes will be kept");
                }
            }
        }
    }

    fn committed(&self, c: &Committed, txs: usize, fetched: &Fetched) {
        self.shared.private_fetched(fetched);
        self.shared.committed(c);
        let (valid, invalid) = summarise(&c.codes);
        tracing::info!(
            block = c.number,
            txs,
            valid,
            invalid = %describe_invalid(&invalid),
            private_stored = fetched.writes.len(),
            private_missing = fetched.missing,
            validation_ms = %format_args!("{:.3}", c.validation_time.as_secs_f64() * 1e3),
            commit_ms = %format_args!("{:.3}", c.commit_time.as_secs_f64() * 1e3),
            commit_hash = %c.commit_hash,
            "block committed"
        );
    }

    fn refused(&self, number: u64, e: CommitError) -> Ended {
        match e {
            CommitError::Refused(reason) => {
                tracing::error!(block = number, %reason, "block refused");
                self.shared
                    .status
                    .blocks_refused
                    .fetch_add(1, Ordering::Relaxed);
                Ended::Failover(format!("block {number} refused: {reason}"))
            }
            CommitError::Fatal(e) => Ended::Fatal(e),
        }
    }

    /// Nothing arrived for a while: stalled if some orderer has more blocks.
    async fn stalled(&self, http: &reqwest::Client, current: &str) -> Option<String> {
        let ours = self.shared.block_height();
        for endpoint in &self.endpoints {
            let url = format!(
                "http://{endpoint}/v1/channels/{}/status",
                self.shared.channel
            );
            let status = async {
                let r = http
                    .get(&url)
                    .timeout(Duration::from_secs(2))
                    .send()
                    .await
                    .ok()?;
                r.json::<serde_json::Value>().await.ok()
            };
            if let Some(height) = status.await.and_then(|s| s["height"].as_u64()) {
                if height > ours {
                    return Some(format!(
                        "stalled: nothing from {current} for {} ms while {endpoint} has {height} blocks and we have {ours}",
                        self.stall_timeout.as_millis()
                    ));
                }
            }
        }
        None
    }
}

/// Stores a prepared block ([`Ledger::finish`]) and, when it wrote chaincode
/// definitions, refreshes `cache` before the ledger lock is released: the next
/// block is validated under the new definitions. A definition that cannot be
/// applied is a fatal ledger failure (the block is stored; a restart loads the
/// definitions from the state and reports the damaged one).
pub fn store(
    ledger: &Mutex<Ledger>,
    cache: &DefinitionCache,
    prepared: Prepared,
    fetched: &Fetched,
) -> Result<(Committed, Vec<DefinitionChange>), CommitError> {
    let writes = definition_writes(&prepared.updates);
    let mut ledger = ledger.lock().expect("ledger lock");
    let committed = ledger.finish(prepared, &fetched.writes)?;
    let changes = cache
        .apply(committed.number, &writes)
        .map_err(|e| CommitError::Fatal(LedgerError::Definitions(e)))?;
    Ok((committed, changes))
}

/// Whether `msp_id` is a member of any private data collection of `def`.
pub fn member_of_collections(def: &ChaincodeDefinition, msp_id: &str) -> bool {
    def.collections
        .iter()
        .any(|c| c.member_orgs.iter().any(|m| m == msp_id))
}

/// A refusal's status and message, for the log.
async fn refusal(r: reqwest::Response) -> String {
    let status = r.status();
    let body = r.text().await.unwrap_or_default();
    let message = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_string))
        .unwrap_or(body);
    format!("deliver refused with HTTP {status}: {message}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{block_with, definitions, fixture, lifecycle_commit, now, public_tx};
    use cellchain_core::crypto::default_provider;
    use cellchain_core::protocol::TxValidationCode as Code;
    use cellchain_storage::BlockStore;
    use cellchain_validation::Definitions;

    /// Prepares a block of `envelopes` after the ledger's last block under the
    /// definitions in force and stores it: its codes and definition changes.
    fn commit(
        f: &crate::fixtures::Fixture,
        ledger: &Mutex<Ledger>,
        cache: &DefinitionCache,
        envelopes: Vec<cellchain_core::protocol::Envelope>,
    ) -> (Vec<Code>, Vec<DefinitionChange>) {
        let trust = BlockTrust::new(&f.config, f.config.msp_set().unwrap(), now()).unwrap();
        let validator = Validator::new(f.config.clone()).unwrap();
        let prepared = {
            let l = ledger.lock().unwrap();
            let last = l
                .blocks()
                .read()
                .unwrap()
                .get(l.height() - 1)
                .unwrap()
                .unwrap();
            let block = block_with(f, &last, envelopes);
            l.prepare(
                block,
                &trust,
                &validator,
                &cache.current(),
                default_provider(),
                2,
                now(),
            )
            .unwrap()
        };
        let (c, changes) = store(ledger, cache, prepared, &Fetched::default()).unwrap();
        (c.codes, changes)
    }

    #[test]
    fn a_committed_definition_governs_from_the_next_block_on_and_survives_a_reopen() {
        let f = fixture();
        let dir = tempfile::tempdir().unwrap();
        let (ledger, _) = Ledger::open(dir.path(), &f.genesis).unwrap();
        let cache = DefinitionCache::load("ch", &ledger.reader()).unwrap();
        assert!(cache.current().0.is_empty());
        assert!(cache.current().definition("_lifecycle").is_some());
        let ledger = Mutex::new(ledger);
        let both = [&f.peer, &f.peer2];
        let v1 = definitions().0["cc"].clone();
        let mut v2 = v1.clone();
        v2.version = "2.0".into();
        v2.sequence = 2;

        // Block 1: the commit and a transaction of cc, which is not defined yet.
        let (codes, changes) = commit(
            &f,
            &ledger,
            &cache,
            vec![
                lifecycle_commit(&f, &v1, &both).0,
                public_tx(&f, "1.0", 1, "a").0,
            ],
        );
        assert_eq!(codes, [Code::Valid, Code::InvalidChaincode]);
        assert_eq!(changes, [DefinitionChange::InForce(Box::new(v1.clone()))]);
        assert_eq!(cache.current().0["cc"], v1);

        // Block 2: the upgrade, and a transaction endorsed under sequence 1 in
        // the same block, judged under the definition in force at its start.
        let (codes, changes) = commit(
            &f,
            &ledger,
            &cache,
            vec![
                lifecycle_commit(&f, &v2, &both).0,
                public_tx(&f, "1.0", 1, "b").0,
            ],
        );
        assert_eq!(codes, [Code::Valid, Code::Valid]);
        assert_eq!(changes, [DefinitionChange::InForce(Box::new(v2.clone()))]);

        // Block 3: sequence 1 is stale now; sequence 2 is in force.
        let (codes, changes) = commit(
            &f,
            &ledger,
            &cache,
            vec![
                public_tx(&f, "1.0", 1, "c").0,
                public_tx(&f, "2.0", 2, "d").0,
            ],
        );
        assert_eq!(codes, [Code::ChaincodeVersionConflict, Code::Valid]);
        assert!(changes.is_empty());

        // Block 4: a commit endorsed by one organisation changes nothing.
        let mut v3 = v2.clone();
        v3.sequence = 3;
        let (codes, changes) = commit(
            &f,
            &ledger,
            &cache,
            vec![lifecycle_commit(&f, &v3, &[&f.peer]).0],
        );
        assert_eq!(codes, [Code::EndorsementPolicyFailure]);
        assert!(changes.is_empty());
        assert_eq!(cache.current().0["cc"], v2);

        // Reopened: the definitions come back from the state.
        drop(ledger);
        let (ledger, _) = Ledger::open(dir.path(), &f.genesis).unwrap();
        let loaded = DefinitionCache::load("ch", &ledger.reader()).unwrap();
        assert_eq!(*loaded.current(), *cache.current());
    }
}
