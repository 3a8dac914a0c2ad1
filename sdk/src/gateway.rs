//! [`Gateway`] (an identity and a connection profile) and [`Network`] (one
//! channel): which node to ask, and in which order.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cellchain_core::lifecycle::ChaincodeDefinition;
use cellchain_core::protocol::Timestamp;
use serde::Deserialize;

use crate::contract::Contract;
use crate::error::SdkError;
use crate::identity::Identity;
use crate::profile::{ConnectionProfile, Endpoint};
use crate::transport::Transport;

/// Timeouts and intervals of a [`Gateway`]. The defaults suit a LAN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayOptions {
    /// Establishing a TCP connection to a node.
    pub connect_timeout: Duration,
    /// One endorsement, evaluation, query or broadcast request.
    pub request_timeout: Duration,
    /// One `GET .../status` asked to rank endorsers by ledger height.
    pub status_timeout: Duration,
    /// How long a ledger height learned from an endorser is trusted before the
    /// endorser is asked again.
    pub height_refresh: Duration,
    /// Trying orderers (in turn, on connection errors and 503s) before giving up.
    pub broadcast_timeout: Duration,
    /// Waiting for an ordered transaction's commit status.
    pub commit_timeout: Duration,
    /// Between two commit status queries.
    pub commit_poll: Duration,
    /// Read-your-writes: how long an evaluation waits for an endorser whose
    /// ledger has every block this gateway saw its transactions committed in.
    /// After it, the freshest answer is returned.
    pub consistency_wait: Duration,
}

impl Default for GatewayOptions {
    fn default() -> Self {
        GatewayOptions {
            connect_timeout: Duration::from_secs(3),
            request_timeout: Duration::from_secs(30),
            status_timeout: Duration::from_secs(1),
            height_refresh: Duration::from_secs(2),
            broadcast_timeout: Duration::from_secs(30),
            commit_timeout: Duration::from_secs(60),
            commit_poll: Duration::from_millis(100),
            consistency_wait: Duration::from_secs(3),
        }
    }
}

/// A ledger height learned from an endorser (`None`: unreachable), and when.
type Seen = (Option<u64>, Instant);

pub(crate) struct Inner {
    pub identity: Identity,
    pub profile: ConnectionProfile,
    pub options: GatewayOptions,
    pub transport: Transport,
    /// `(channel, endorser name)` -> last ledger height seen (`None`: its status
    /// could not be read), and when.
    heights: Mutex<HashMap<(String, String), Seen>>,
    /// Channel -> the ledger height that includes every transaction this gateway
    /// saw committed (read-your-writes for evaluations).
    committed: Mutex<HashMap<String, u64>>,
    /// Round-robin start among the orderers.
    next_orderer: AtomicUsize,
    /// `(channel, chaincode)` -> its committed definition, as `query_committed`
    /// answered it (dropped when a transaction of it fails in a way a newer
    /// definition explains).
    definitions: Mutex<HashMap<(String, String), ChaincodeDefinition>>,
}

/// A client's connection to a network: its identity and where the nodes are.
/// Cheap to clone; share one per process.
#[derive(Clone)]
pub struct Gateway {
    pub(crate) inner: Arc<Inner>,
}

impl Gateway {
    /// A gateway with the default [`GatewayOptions`]. Nothing is contacted yet:
    /// nodes are asked as transactions need them, so a node that is down now is
    /// simply skipped later.
    pub fn connect(identity: Identity, profile: ConnectionProfile) -> Result<Gateway, SdkError> {
        Self::connect_with(identity, profile, GatewayOptions::default())
    }

    /// As [`Gateway::connect`], with explicit options.
    pub fn connect_with(
        identity: Identity,
        profile: ConnectionProfile,
        options: GatewayOptions,
    ) -> Result<Gateway, SdkError> {
        profile.check().map_err(|reason| SdkError::Profile {
            origin: if profile.name.is_empty() {
                "(unnamed)".into()
            } else {
                profile.name.clone()
            },
            reason,
        })?;
        let transport = Transport::new(options.connect_timeout);
        Ok(Gateway {
            inner: Arc::new(Inner {
                identity,
                profile,
                options,
                transport,
                heights: Mutex::new(HashMap::new()),
                committed: Mutex::new(HashMap::new()),
                next_orderer: AtomicUsize::new(0),
                definitions: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The channel `channel` of this network.
    pub fn network(&self, channel: &str) -> Network {
        Network {
            inner: self.inner.clone(),
            channel: channel.to_string(),
        }
    }

    pub fn identity(&self) -> &Identity {
        &self.inner.identity
    }

    pub fn profile(&self) -> &ConnectionProfile {
        &self.inner.profile
    }
}

/// One channel, seen through a [`Gateway`].
#[derive(Clone)]
pub struct Network {
    pub(crate) inner: Arc<Inner>,
    pub(crate) channel: String,
}

#[derive(Deserialize)]
struct NodeStatus {
    height: u64,
}

impl Network {
    /// The chaincode `name` on this channel.
    pub fn contract(&self, name: &str) -> Contract {
        Contract::new(self.clone(), name)
    }

    pub fn channel(&self) -> &str {
        &self.channel
    }

    /// The committed definition of `chaincode` this network cached, if any.
    pub(crate) fn cached_definition(&self, chaincode: &str) -> Option<ChaincodeDefinition> {
        let cache = self.inner.definitions.lock().expect("definitions lock");
        cache
            .get(&(self.channel.clone(), chaincode.to_string()))
            .cloned()
    }

    pub(crate) fn cache_definition(&self, def: &ChaincodeDefinition) {
        let mut cache = self.inner.definitions.lock().expect("definitions lock");
        cache.insert((self.channel.clone(), def.name.clone()), def.clone());
    }

    /// Forgets the cached definition of `chaincode`: the next plan asks again.
    pub(crate) fn forget_definition(&self, chaincode: &str) {
        let mut cache = self.inner.definitions.lock().expect("definitions lock");
        cache.remove(&(self.channel.clone(), chaincode.to_string()));
    }

    pub(crate) fn options(&self) -> &GatewayOptions {
        &self.inner.options
    }

    pub(crate) fn identity(&self) -> &Identity {
        &self.inner.identity
    }

    pub(crate) fn transport(&self) -> &Transport {
        &self.inner.transport
    }

    pub(crate) fn profile(&self) -> &ConnectionProfile {
        &self.inner.profile
    }

    /// The endorsers of `msp_id` (the profile's order).
    pub(crate) fn org_endorsers(&self, msp_id: &str) -> Vec<Endpoint> {
        self.profile()
            .org(msp_id)
            .map(|o| o.endorsers.clone())
            .unwrap_or_default()
    }

    /// Every endorser: the caller's organisation first, then the profile's order.
    pub(crate) fn all_endorsers_caller_first(&self) -> (Vec<Endpoint>, Vec<Endpoint>) {
        let own = self.identity().msp_id();
        let mut mine = Vec::new();
        let mut others = Vec::new();
        for org in &self.profile().organizations {
            let target = if org.msp_id == own {
                &mut mine
            } else {
                &mut others
            };
            target.extend(org.endorsers.iter().cloned());
        }
        (mine, others)
    }

    /// The committers: the caller's organisation's first, then the others.
    pub(crate) fn committers_caller_first(&self) -> Vec<Endpoint> {
        let own = self.identity().msp_id();
        let orgs = &self.profile().organizations;
        orgs.iter()
            .filter(|o| o.msp_id == own)
            .chain(orgs.iter().filter(|o| o.msp_id != own))
            .flat_map(|o| o.committers.iter().cloned())
            .collect()
    }

    /// The orderers, starting at the next one in round-robin order.
    pub(crate) fn orderers_rotated(&self) -> Vec<Endpoint> {
        let orderers = &self.profile().orderers;
        if orderers.is_empty() {
            return Vec::new();
        }
        let start = self.inner.next_orderer.fetch_add(1, Ordering::Relaxed) % orderers.len();
        orderers[start..]
            .iter()
            .chain(&orderers[..start])
            .cloned()
            .collect()
    }

    /// Records that a transaction of this gateway was committed in `block`.
    pub(crate) fn saw_commit(&self, block: u64) {
        let mut committed = self.inner.committed.lock().expect("committed lock");
        let h = committed.entry(self.channel.clone()).or_default();
        *h = (*h).max(block + 1);
    }

    /// The ledger height an endorser needs for read-your-writes.
    pub(crate) fn min_height(&self) -> u64 {
        let committed = self.inner.committed.lock().expect("committed lock");
        committed.get(&self.channel).copied().unwrap_or(0)
    }

    /// Records a ledger height an endorser reported.
    pub(crate) fn saw_height(&self, node: &Endpoint, height: u64) {
        self.note_height(node, Some(height));
    }

    fn note_height(&self, node: &Endpoint, height: Option<u64>) {
        let mut heights = self.inner.heights.lock().expect("heights lock");
        heights.insert(
            (self.channel.clone(), node.name.clone()),
            (height, Instant::now()),
        );
    }

    /// `nodes` ranked by ledger height, highest first (ties keep their order;
    /// unreachable ones last). Heights (and failures to learn them) older than
    /// `height_refresh` are asked again, in parallel.
    pub(crate) async fn rank_by_height(&self, nodes: Vec<Endpoint>) -> Vec<Endpoint> {
        if nodes.len() < 2 {
            return nodes;
        }
        let refresh = self.options().height_refresh;
        let cached = |n: &Endpoint| {
            let heights = self.inner.heights.lock().expect("heights lock");
            heights
                .get(&(self.channel.clone(), n.name.clone()))
                .filter(|(_, at)| at.elapsed() < refresh)
                .map(|(h, _)| *h)
        };
        let path = format!("/v1/channels/{}/status", self.channel);
        let asks = nodes.iter().map(|n| {
            let path = &path;
            async move {
                if let Some(h) = cached(n) {
                    return h;
                }
                let status: Option<NodeStatus> = self
                    .transport()
                    .get(n, path, self.options().status_timeout)
                    .await
                    .ok();
                let h = status.map(|s| s.height);
                self.note_height(n, h);
                h
            }
        });
        let heights = futures_util::future::join_all(asks).await;
        let mut ranked: Vec<(Option<u64>, Endpoint)> = heights.into_iter().zip(nodes).collect();
        ranked.sort_by_key(|(h, _)| std::cmp::Reverse(*h));
        ranked.into_iter().map(|(_, n)| n).collect()
    }
}

/// The current time for headers and signed requests.
pub(crate) fn now() -> Timestamp {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp {
        seconds: d.as_secs() as i64,
        nanos: d.subsec_nanos(),
    }
}
