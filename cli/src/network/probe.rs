//! A node's health and per-channel status, read from its `GET /healthz` and
//! `GET /v1/channels/{ch}/status` (the JSON of each service's `channel_json`:
//! `height` everywhere, `leader_name`/`is_leader` from orderers, `commit_hash`
//! from committers).
//!
//! The JSON of `cellchain network status --json` is an array of [`NodeStatus`]:
//!
//! ```json
//! [{"name": "orderer0", "kind": "orderer", "org": "SponsorMSP", "pid": 4242,
//!   "url": "http://127.0.0.1:7050", "healthy": true, "height": {"atmp": 3},
//!   "raft_leader": {"atmp": "orderer1"}, "commit_hash": null},
//!  {"name": "HospitalAMSP/committer0", "kind": "committer", ..., "raft_leader": null,
//!   "commit_hash": {"atmp": "9f2c..."}}]
//! ```
//!
//! `pid` is null when the node is not running; `height` is `{}` when it does
//! not answer; `raft_leader` (orderers only, else null) maps each channel to the
//! leader's name as this orderer sees it (null while there is none);
//! `commit_hash` (committers only, else null) maps each channel to the hash
//! over its committed blocks (null before the first block after genesis).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use super::http::get_json;
use super::state::{Kind, Node};

const TIMEOUT: Duration = Duration::from_secs(2);

/// One entry of `status --json`.
#[derive(Debug, Clone, Serialize)]
pub struct NodeStatus {
    pub name: String,
    pub kind: Kind,
    pub org: String,
    pub pid: Option<u32>,
    pub url: String,
    pub healthy: bool,
    pub height: BTreeMap<String, u64>,
    pub raft_leader: Option<BTreeMap<String, Option<String>>>,
    pub commit_hash: Option<BTreeMap<String, Option<String>>>,
}

/// Reads `node`'s status; `pid` is the running process, if any.
pub fn probe(node: &Node, pid: Option<u32>) -> NodeStatus {
    let mut s = NodeStatus {
        name: node.name.clone(),
        kind: node.kind,
        org: node.org.clone(),
        pid,
        url: node.url(),
        healthy: false,
        height: BTreeMap::new(),
        raft_leader: (node.kind == Kind::Orderer).then(BTreeMap::new),
        commit_hash: (node.kind == Kind::Committer).then(BTreeMap::new),
    };
    if pid.is_none() {
        return s;
    }
    s.healthy = matches!(get_json(&node.address(), "/healthz", TIMEOUT), Ok((200, _)));
    if !s.healthy {
        return s;
    }
    for ch in &node.channels {
        let Ok((200, v)) = get_json(
            &node.address(),
            &format!("/v1/channels/{ch}/status"),
            TIMEOUT,
        ) else {
            continue;
        };
        if let Some(h) = v["height"].as_u64() {
            s.height.insert(ch.clone(), h);
        }
        if let Some(m) = s.raft_leader.as_mut() {
            m.insert(ch.clone(), leader(&v, &node.name));
        }
        if let Some(m) = s.commit_hash.as_mut() {
            m.insert(ch.clone(), v["commit_hash"].as_str().map(String::from));
        }
    }
    s
}

/// The leader's name in an orderer's channel status (its own name when it says
/// it leads).
fn leader(v: &Value, me: &str) -> Option<String> {
    if v["is_leader"].as_bool() == Some(true) {
        return Some(me.to_string());
    }
    v["leader_name"].as_str().map(String::from)
}

/// Whether `node` is ready for `up`: healthy, and per channel an orderer sees a
/// Raft leader, a committer has committed the genesis block and an endorser's
/// replica has applied it. `Err` says what
/// it still waits for.
pub fn ready(node: &Node, status: &NodeStatus) -> Result<(), String> {
    if !status.healthy {
        return Err("GET /healthz does not answer 200 yet".into());
    }
    for ch in &node.channels {
        let Some(&h) = status.height.get(ch) else {
            return Err(format!("no status for channel {ch} yet"));
        };
        match node.kind {
            Kind::Orderer => {
                let led = status
                    .raft_leader
                    .as_ref()
                    .and_then(|m| m.get(ch))
                    .is_some_and(Option::is_some);
                if !led {
                    return Err(format!("channel {ch} has no Raft leader yet"));
                }
            }
            Kind::Committer | Kind::Endorser if h < 1 => {
                return Err(format!("channel {ch} is at height {h}"));
            }
            _ => {}
        }
    }
    Ok(())
}
