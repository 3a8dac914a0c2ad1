//! The network a benchmark runs on: its nodes (and their pids), the channel,
//! the client identities of the workers, and helpers to seed keys and to wait
//! until every endorser has a block.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use cellchain_core::config::NetworkConfig;
use cellchain_core::identity::Role;
use cellchain_sdk::{ConnectionProfile, Contract, Gateway, GatewayOptions};
use serde_json::json;

use crate::client::load_identity;
use crate::network::process::running_pid;
use crate::network::state::{Kind, Node, State};

/// Keys per `seed` transaction.
const SEED_BATCH: u64 = 500;

pub struct Env {
    pub dir: PathBuf,
    pub channel: String,
    /// The key-value chaincode (bench-kv), when the workload names one.
    pub chaincode: Option<String>,
    pub profile: ConnectionProfile,
    pub topology: PathBuf,
    /// `MSP/user` and gateway of the client user of each writing organisation
    /// of the channel with an endorser.
    pub kv: Vec<(String, Gateway)>,
    pub nodes: Vec<Node>,
    /// Distinguishes this run's keys and cases from earlier runs'.
    pub run_id: String,
    http: reqwest::Client,
}

impl Env {
    pub fn open(dir: &Path, channel: &str, chaincode: Option<&str>) -> anyhow::Result<Env> {
        let st = State::require(dir)?;
        let text = std::fs::read_to_string(&st.topology)
            .with_context(|| format!("cannot read {}", st.topology.display()))?;
        let net = NetworkConfig::from_yaml(&text)
            .with_context(|| format!("in {}", st.topology.display()))?;
        let ch = net.channel(channel).with_context(|| {
            format!(
                "channel: the network in {} has no channel {channel}",
                dir.display()
            )
        })?;
        let profile = ConnectionProfile::from_file(dir.join("connection.yaml"))
            .context("reading the connection profile")?;
        let options = Env::gateway_options();
        let mut kv = Vec::new();
        for msp in &ch.organizations {
            let Some(org) = net.organization(msp) else {
                continue;
            };
            if org.read_only || profile.org(msp).is_none_or(|o| o.endorsers.is_empty()) {
                continue;
            }
            let Some(user) = org.users.iter().find(|u| u.role == Role::Client) else {
                continue;
            };
            let who = format!("{msp}/{}", user.name);
            let identity = load_identity(dir, &who)?;
            let gateway = Gateway::connect_with(identity, profile.clone(), options.clone())
                .with_context(|| format!("connecting as {who}"))?;
            kv.push((who, gateway));
        }
        if kv.is_empty() {
            bail!(
                "channel {channel} has no writing organisation with an endorser and a client \
                 user (add `{{ name: app1 }}` to an organisation's users in the topology)"
            );
        }
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Ok(Env {
            dir: dir.to_path_buf(),
            channel: channel.to_string(),
            chaincode: chaincode.map(String::from),
            profile,
            topology: st.topology.clone(),
            kv,
            nodes: st.nodes.clone(),
            run_id: format!("{secs:x}"),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(2))
                .build()
                .context("cannot make an HTTP client")?,
        })
    }

    pub fn gateway_options() -> GatewayOptions {
        GatewayOptions {
            request_timeout: Duration::from_secs(60),
            broadcast_timeout: Duration::from_secs(60),
            ..GatewayOptions::default()
        }
    }

    /// The gateway that follows the block feed.
    pub fn watcher_gateway(&self) -> &Gateway {
        &self.kv[0].1
    }

    /// The key-value contract for worker `w` (organisations in turn).
    pub fn kv_contract(&self, w: usize) -> Contract {
        let cc = self.chaincode.as_deref().unwrap_or("bench-kv");
        self.kv[w % self.kv.len()]
            .1
            .network(&self.channel)
            .contract(cc)
    }

    fn channel_nodes(&self, kind: Kind) -> impl Iterator<Item = &Node> {
        self.nodes
            .iter()
            .filter(move |n| n.kind == kind && n.channels.contains(&self.channel))
    }

    /// Every node of the network that runs, and this process:
    /// `(name, kind, pid)`.
    pub fn processes(&self) -> Vec<(String, String, u32)> {
        let mut out: Vec<(String, String, u32)> = self
            .nodes
            .iter()
            .filter_map(|n| {
                running_pid(n, &self.dir).map(|p| (n.name.clone(), n.kind.bin().to_string(), p))
            })
            .collect();
        out.push(("cellchain bench".into(), "bench".into(), std::process::id()));
        out
    }

    async fn status_height(&self, address: &str) -> Option<u64> {
        let url = format!("http://{address}/v1/channels/{}/status", self.channel);
        let r = self.http.get(url).send().await.ok()?;
        if !r.status().is_success() {
            return None;
        }
        let v: serde_json::Value = r.json().await.ok()?;
        v["height"].as_u64()
    }

    /// The channel's height: the highest its committers report.
    pub async fn height(&self) -> anyhow::Result<u64> {
        let mut best = None;
        for n in self.channel_nodes(Kind::Committer) {
            if let Some(h) = self.status_height(&n.address()).await {
                best = Some(best.map_or(h, |b: u64| b.max(h)));
            }
        }
        best.with_context(|| format!("no committer answers for channel {}", self.channel))
    }

    /// The lowest height among the channel's endorsers (an unreachable one
    /// counts as 0).
    pub async fn min_endorser_height(&self) -> u64 {
        let mut min = u64::MAX;
        for n in self.channel_nodes(Kind::Endorser) {
            let h = self.status_height(&n.address()).await.unwrap_or(0);
            min = min.min(h);
        }
        if min == u64::MAX {
            0
        } else {
            min
        }
    }

    /// Waits until every endorser of the channel has `height` blocks.
    pub async fn wait_endorsers(&self, height: u64, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let h = self.min_endorser_height().await;
            if h >= height {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "the endorsers of channel {} did not reach height {height} within {}s (the \
                     lowest is at {h})",
                    self.channel,
                    timeout.as_secs()
                );
            }
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    }

    /// Writes `keys` keys `<prefix><index>` with `value_size`-byte values
    /// (bench-kv `seed`, up to 500 keys per transaction, committed and seen by
    /// every endorser before it returns).
    pub async fn seed(&self, prefix: &str, keys: u64, value_size: usize) -> anyhow::Result<()> {
        let started = Instant::now();
        let contract = self.kv_contract(0);
        let mut tasks = tokio::task::JoinSet::new();
        let mut start = 0;
        while start < keys {
            let count = SEED_BATCH.min(keys - start);
            let c = contract.clone();
            let prefix = prefix.to_string();
            tasks.spawn(async move {
                c.submit(
                    "seed",
                    vec![json!(prefix), json!(start), json!(count), json!(value_size)],
                )
                .await
            });
            start += count;
        }
        let mut top = 0;
        while let Some(r) = tasks.join_next().await {
            let done = r
                .context("a seed task failed")?
                .map_err(|e| anyhow::anyhow!("seeding {keys} keys {prefix}*: {e}"))?;
            top = top.max(done.block);
        }
        self.wait_endorsers(top + 1, Duration::from_secs(60))
            .await?;
        println!(
            "  seeded {keys} keys of {value_size} bytes ({prefix}*) in {:.1}s",
            started.elapsed().as_secs_f64()
        );
        Ok(())
    }
}
