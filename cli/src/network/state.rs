//! The nodes of a topology and the state file `DIR/network.json` that remembers
//! them between runs (above all the ports of committers and endorsers, chosen
//! once so that `down` then `up` keeps every address and every ledger).

use std::collections::BTreeSet;
use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use cellchain_core::config::{NetworkConfig, NodeKind};
use serde::{Deserialize, Serialize};

/// What a node process is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Orderer,
    Committer,
    Endorser,
}

impl Kind {
    /// The binary's name, which is also the stem of the node's files.
    pub fn bin(self) -> &'static str {
        match self {
            Kind::Orderer => "orderer",
            Kind::Committer => "committer",
            Kind::Endorser => "endorser",
        }
    }

    /// The workspace package that builds the binary.
    pub fn package(self) -> &'static str {
        match self {
            Kind::Orderer => "cellchain-orderer",
            Kind::Committer => "cellchain-committer",
            Kind::Endorser => "cellchain-endorser",
        }
    }
}

/// One node process of the network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// `orderer0` for an orderer, `<MSPID>/<node>` for a committer or endorser.
    pub name: String,
    pub kind: Kind,
    /// MSP id of the organisation running it.
    pub org: String,
    /// The crypto identity's name (`DIR/crypto/<org>/nodes/<identity>`).
    pub identity: String,
    pub host: String,
    pub port: u16,
    /// Channels it serves: an orderer's are those it is a consenter of, a peer's
    /// those its organisation is a member of.
    pub channels: Vec<String>,
}

impl Node {
    /// The node's directory relative to DIR (`orderer0`, `HospitalAMSP/committer0`).
    pub fn home_rel(&self) -> PathBuf {
        PathBuf::from(&self.name)
    }

    pub fn home(&self, dir: &Path) -> PathBuf {
        dir.join(self.home_rel())
    }

    pub fn config(&self, dir: &Path) -> PathBuf {
        self.home(dir).join(format!("{}.yaml", self.kind.bin()))
    }

    pub fn log(&self, dir: &Path) -> PathBuf {
        self.home(dir).join(format!("{}.log", self.kind.bin()))
    }

    pub fn pid_file(&self, dir: &Path) -> PathBuf {
        self.home(dir).join(format!("{}.pid", self.kind.bin()))
    }

    pub fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address())
    }
}

/// The contents of `DIR/network.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    /// The topology file (absolute).
    pub topology: PathBuf,
    /// The contract crates deployed (as given: absolute, or relative to the
    /// workspace root).
    pub contracts: Vec<String>,
    /// The channels the contracts are defined on.
    pub contract_channels: Vec<String>,
    /// Orderers first, then committers, then endorsers.
    pub nodes: Vec<Node>,
}

pub const STATE_FILE: &str = "network.json";

impl State {
    /// Reads `DIR/network.json`; `None` when there is none.
    pub fn load(dir: &Path) -> anyhow::Result<Option<State>> {
        let path = dir.join(STATE_FILE);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let state = serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is not a network state file (remove it to start afresh; data stays)",
                path.display()
            )
        })?;
        Ok(Some(state))
    }

    /// Reads `DIR/network.json`, or explains how to make one.
    pub fn require(dir: &Path) -> anyhow::Result<State> {
        State::load(dir)?.ok_or_else(|| {
            anyhow::anyhow!(
                "no network in {} (no {STATE_FILE}): start one with `cellchain network up --dir {}`",
                dir.display(),
                dir.display()
            )
        })
    }

    pub fn save(&self, dir: &Path) -> anyhow::Result<()> {
        let path = dir.join(STATE_FILE);
        let tmp = dir.join(format!("{STATE_FILE}.tmp"));
        fs::write(&tmp, serde_json::to_string_pretty(self)? + "\n")
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        fs::rename(&tmp, &path).with_context(|| format!("cannot write {}", path.display()))
    }
}

/// The nodes of `net`: its orderers on their topology ports, then a committer
/// and an endorser per organisation node, on the port `previous` gave the node
/// of the same name or else on a free loopback port. Nodes without a channel
/// are left out (they would have nothing to serve).
pub fn plan(net: &NetworkConfig, previous: &[Node]) -> anyhow::Result<Vec<Node>> {
    let mut nodes = Vec::new();
    for o in &net.orderers {
        let channels: Vec<String> = net
            .channels
            .iter()
            .filter(|c| c.consenters.contains(&o.name))
            .map(|c| c.name.clone())
            .collect();
        if channels.is_empty() {
            eprintln!(
                "note: orderer {} is a consenter of no channel; not started",
                o.name
            );
            continue;
        }
        nodes.push(Node {
            name: o.name.clone(),
            kind: Kind::Orderer,
            org: o.org.clone(),
            identity: o.name.clone(),
            host: o.host.clone(),
            port: o.port,
            channels,
        });
    }
    let mut taken: BTreeSet<u16> = nodes.iter().map(|n| n.port).collect();
    taken.extend(previous.iter().map(|n| n.port));
    // Listeners held until every new port is chosen, so no two nodes get one.
    let mut held = Vec::new();
    let mut peers = Vec::new();
    for kind in [NodeKind::Committer, NodeKind::Endorser] {
        for org in &net.organizations {
            let channels: Vec<String> = net
                .channels
                .iter()
                .filter(|c| c.organizations.contains(&org.msp_id))
                .map(|c| c.name.clone())
                .collect();
            for n in org.nodes.iter().filter(|n| n.kind == kind) {
                let name = format!("{}/{}", org.msp_id, n.name);
                if channels.is_empty() {
                    eprintln!(
                        "note: {name}: {} is a member of no channel; not started",
                        org.msp_id
                    );
                    continue;
                }
                let kind = match kind {
                    NodeKind::Committer => Kind::Committer,
                    NodeKind::Endorser => Kind::Endorser,
                };
                let port = match previous.iter().find(|p| p.name == name && p.kind == kind) {
                    Some(p) => p.port,
                    None => {
                        let (port, l) = free_port(&taken)?;
                        held.push(l);
                        port
                    }
                };
                taken.insert(port);
                peers.push(Node {
                    name,
                    kind,
                    org: org.msp_id.clone(),
                    identity: n.name.clone(),
                    host: "127.0.0.1".into(),
                    port,
                    channels: channels.clone(),
                });
            }
        }
    }
    nodes.extend(peers);
    for e in nodes.iter().filter(|n| n.kind == Kind::Endorser) {
        if !nodes
            .iter()
            .any(|c| c.kind == Kind::Committer && c.org == e.org)
        {
            bail!(
                "{} has no committer to follow: add a `{{ name: committer0, kind: committer }}` \
                 node to organisation {} in the topology",
                e.name,
                e.org
            );
        }
    }
    Ok(nodes)
}

fn free_port(taken: &BTreeSet<u16>) -> anyhow::Result<(u16, TcpListener)> {
    for _ in 0..100 {
        let l = TcpListener::bind("127.0.0.1:0").context("cannot find a free loopback port")?;
        let port = l.local_addr()?.port();
        if !taken.contains(&port) {
            return Ok((port, l));
        }
    }
    bail!("cannot find a free loopback port")
}
