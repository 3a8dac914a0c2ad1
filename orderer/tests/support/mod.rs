//! A named topology for orderer tests (in the spirit of Fabric's `nwo`): three
//! orgs with real certificates, N orderer processes on free loopback ports, the
//! genesis blocks of a shared channel and a private one, and clients to drive them.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cellchain_core::config::{
    block_to_json, create_genesis_block, ConfigSigner, Materials, NetworkConfig, OrgMaterial,
};
use cellchain_core::crypto::{default_provider, random_nonce};
use cellchain_core::protocol::{
    Block, DeliverRequest, EndorserTransaction, Envelope, Header, Payload, PayloadData,
    SignedDeliverRequest, Timestamp,
};
use cellchain_core::testing::{TestCa, TestMember};
use cellchain_core::Bytes;
use cellchain_storage::{BlockStore, FileBlockStore, StoreOptions};
use serde_json::Value;

pub const CHANNEL: &str = "testchannel";
pub const PRIVATE: &str = "private";

/// Batch and Raft settings of the test channel.
#[derive(Clone)]
pub struct Settings {
    pub max_message_count: u32,
    pub batch_timeout: &'static str,
    pub absolute_max_bytes: &'static str,
    pub preferred_max_bytes: &'static str,
    pub snapshot_interval_size: &'static str,
    pub broadcast_timeout: &'static str,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_message_count: 50,
            batch_timeout: "100ms",
            absolute_max_bytes: "256 KiB",
            preferred_max_bytes: "128 KiB",
            snapshot_interval_size: "16 MiB",
            broadcast_timeout: "5s",
        }
    }
}

pub struct Node {
    pub name: String,
    pub port: u16,
    pub config: PathBuf,
    pub log: PathBuf,
    pub data: PathBuf,
    pub child: Option<Child>,
}

pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub nodes: Vec<Node>,
    /// Org1 client: a writer and reader of both channels.
    pub client: TestMember,
    /// Org3 client: a read-only member of the shared channel, not of the private one.
    pub outsider: TestMember,
    /// An identity from a CA no channel knows.
    pub stranger: TestMember,
    /// Org3's orderer-role identity: valid member, not a consenter.
    pub rogue_orderer: TestMember,
    pub http: reqwest::Client,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Cluster {
    /// Writes certificates, genesis blocks and configurations for `n` orderers
    /// (not started).
    pub fn new(n: usize, s: Settings) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let orgs = ["Org1MSP", "Org2MSP", "Org3MSP"];
        let cas: BTreeMap<&str, TestCa> = orgs.iter().map(|o| (*o, TestCa::new(o))).collect();
        let ports: Vec<u16> = (0..n).map(|_| free_port()).collect();
        let names: Vec<String> = (0..n).map(|i| format!("orderer{i}")).collect();
        // Orderers alternate between Org1 and Org2 (members of both channels).
        let orderer_org = |i: usize| if i % 2 == 0 { "Org1MSP" } else { "Org2MSP" };
        let mut yaml = String::from("name: test-network\norganizations:\n");
        for o in orgs {
            // Org3 reads (an auditor): a member that may not write.
            let read_only = o == "Org3MSP";
            yaml += &format!("  - msp_id: {o}\n    name: {o}\n    read_only: {read_only}\n    users:\n      - {{ name: admin, role: admin }}\n");
        }
        yaml += "orderers:\n";
        for i in 0..n {
            yaml += &format!(
                "  - {{ name: {}, org: {}, host: 127.0.0.1, port: {} }}\n",
                names[i],
                orderer_org(i),
                ports[i]
            );
        }
        let consenters = names.join(", ");
        let channel = |name: &str, members: &str| {
            format!(
                "  - name: {name}\n    organizations: [{members}]\n    consenters: [{consenters}]\n    batch:\n      max_message_count: {}\n      preferred_max_bytes: {}\n      absolute_max_bytes: {}\n      batch_timeout: {}\n    raft:\n      tick_interval: 100ms\n      election_tick: 10\n      heartbeat_tick: 1\n      snapshot_interval_size: {}\n    policies:\n      readers: ANY Readers\n      writers: ANY Writers\n      admins: MAJORITY Admins\n",
                s.max_message_count, s.preferred_max_bytes, s.absolute_max_bytes, s.batch_timeout, s.snapshot_interval_size
            )
        };
        yaml += "channels:\n";
        yaml += &channel(CHANNEL, "Org1MSP, Org2MSP, Org3MSP");
        yaml += &channel(PRIVATE, "Org1MSP, Org2MSP");
        let net = NetworkConfig::from_yaml(&yaml).expect("test network file is valid");

        let mut materials = Materials::default();
        for o in orgs {
            materials.orgs.insert(
                o.to_string(),
                OrgMaterial {
                    ca_certs: vec![cas[o].pem()],
                    crls: vec![],
                },
            );
        }
        let orderers: Vec<TestMember> = (0..n)
            .map(|i| cas[orderer_org(i)].member(orderer_org(i), &names[i], "orderer"))
            .collect();
        for (i, o) in orderers.iter().enumerate() {
            materials
                .orderer_certs
                .insert(names[i].clone(), o.id.cert.clone());
        }
        let admins: Vec<TestMember> = orgs
            .iter()
            .map(|o| cas[o].member(o, "admin", "admin"))
            .collect();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let mut genesis_paths = Vec::new();
        for ch in [CHANNEL, PRIVATE] {
            let cfg = net.channel_config(ch, &materials, now).unwrap();
            let signers: Vec<ConfigSigner> = admins
                .iter()
                .filter(|a| cfg.is_member(&a.id.msp_id))
                .map(|a| ConfigSigner {
                    identity: a.id.clone(),
                    signer: a.signer.as_ref(),
                })
                .collect();
            let block = create_genesis_block(
                &cfg,
                &signers,
                default_provider(),
                Timestamp {
                    seconds: now,
                    nanos: 0,
                },
                random_nonce(),
            )
            .unwrap();
            let path = dir.path().join(format!("{ch}.block.json"));
            std::fs::write(&path, block_to_json(&block).0).unwrap();
            genesis_paths.push(path);
        }
        let mut nodes = Vec::new();
        for (i, o) in orderers.iter().enumerate() {
            let home = dir.path().join(&names[i]);
            std::fs::create_dir_all(&home).unwrap();
            std::fs::write(home.join("cert.pem"), &o.id.cert).unwrap();
            std::fs::write(home.join("key.pem"), &o.key_pem).unwrap();
            let config = home.join("orderer.yaml");
            std::fs::write(
                &config,
                format!(
                    "name: {}\nlisten: 127.0.0.1:{}\ndata_dir: data\nmsp_id: {}\ncert: cert.pem\nkey: key.pem\ngenesis_blocks: [{}, {}]\nbroadcast_timeout: {}\n",
                    names[i],
                    ports[i],
                    orderer_org(i),
                    genesis_paths[0].display(),
                    genesis_paths[1].display(),
                    s.broadcast_timeout,
                ),
            )
            .unwrap();
            nodes.push(Node {
                name: names[i].clone(),
                port: ports[i],
                config,
                log: home.join("orderer.log"),
                data: home.join("data"),
                child: None,
            });
        }
        Cluster {
            dir,
            nodes,
            client: cas["Org1MSP"].member("Org1MSP", "app", "client"),
            outsider: cas["Org3MSP"].member("Org3MSP", "app3", "client"),
            stranger: TestCa::new("Elsewhere").member("Org1MSP", "mallory", "client"),
            rogue_orderer: cas["Org3MSP"].member("Org3MSP", "orderer0", "orderer"),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
        }
    }

    pub fn start(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        assert!(node.child.is_none(), "{} already running", node.name);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&node.log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_orderer"))
            .arg("--config")
            .arg(&node.config)
            .env("CELLCHAIN_LOG", "info,raft=info")
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("orderer binary starts");
        node.child = Some(child);
    }

    pub fn start_all(&mut self) {
        for i in 0..self.nodes.len() {
            self.start(i);
        }
    }

    /// SIGKILL: no shutdown, no flush.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.nodes[i].child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    /// SIGTERM and wait for a clean exit.
    pub fn stop(&mut self, i: usize) {
        if let Some(mut c) = self.nodes[i].child.take() {
            unsafe_sigterm(c.id());
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                if let Some(status) = c.try_wait().unwrap() {
                    assert!(
                        status.success(),
                        "{} exited with {status}",
                        self.nodes[i].name
                    );
                    return;
                }
                if Instant::now() > deadline {
                    c.kill().unwrap();
                    panic!("{} did not stop on SIGTERM", self.nodes[i].name);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    pub fn url(&self, i: usize, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.nodes[i].port, path)
    }

    pub async fn status(&self, i: usize, channel: &str) -> Option<Value> {
        let r = self
            .http
            .get(self.url(i, &format!("/v1/channels/{channel}/status")))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .ok()?;
        r.json().await.ok()
    }

    /// Waits until the running nodes agree on a leader of `channel`; returns its index.
    pub async fn wait_leader(&self, channel: &str) -> usize {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let mut leaders = Vec::new();
            for (i, n) in self.nodes.iter().enumerate() {
                if n.child.is_none() {
                    continue;
                }
                if let Some(s) = self.status(i, channel).await {
                    if s["is_leader"] == true {
                        leaders.push(i);
                    }
                }
            }
            if leaders.len() == 1 {
                return leaders[0];
            }
            assert!(
                Instant::now() < deadline,
                "no leader for {channel} within 30 s:\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until node `i` has `height` blocks of `channel`.
    pub async fn wait_height(&self, i: usize, channel: &str, height: u64) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(s) = self.status(i, channel).await {
                if s["height"].as_u64().unwrap_or(0) >= height {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "{} did not reach height {height} of {channel}:\n{}",
                self.nodes[i].name,
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn height(&self, i: usize, channel: &str) -> u64 {
        self.status(i, channel).await.expect("status")["height"]
            .as_u64()
            .unwrap()
    }

    /// A fresh signed envelope from `who` on `channel`, with `filler` bytes of data.
    pub fn envelope(&self, who: &TestMember, channel: &str, filler: usize) -> Envelope {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        let header = Header::new(
            channel,
            who.id.clone(),
            random_nonce(),
            Timestamp {
                seconds: now.as_secs() as i64,
                nanos: now.subsec_nanos(),
            },
        );
        let payload = Payload {
            header,
            data: PayloadData::Endorser(EndorserTransaction {
                proposal: Bytes(vec![b'p'; filler]),
                response_payload: Bytes(vec![]),
                endorsements: vec![],
            }),
        };
        Envelope::sign(&payload, who.signer.as_ref()).unwrap()
    }

    /// POSTs raw bytes to node `i`'s broadcast; returns status and JSON body.
    pub async fn broadcast_raw(&self, i: usize, channel: &str, body: Vec<u8>) -> (u16, Value) {
        match self
            .http
            .post(self.url(i, &format!("/v1/channels/{channel}/broadcast")))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
        {
            Ok(r) => {
                let status = r.status().as_u16();
                let body = r.json().await.unwrap_or(Value::Null);
                (status, body)
            }
            // Connection refused or reset (the node was killed): retryable.
            Err(e) => (0, Value::String(e.to_string())),
        }
    }

    pub async fn broadcast(&self, i: usize, channel: &str, e: &Envelope) -> (u16, Value) {
        self.broadcast_raw(i, channel, serde_json::to_vec(e).unwrap())
            .await
    }

    /// Deliver blocks `[start, stop]` from node `i` as `who`: status and blocks.
    pub async fn deliver(
        &self,
        i: usize,
        channel: &str,
        who: &TestMember,
        start: u64,
        stop: Option<u64>,
    ) -> (u16, Vec<Block>) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let request = DeliverRequest {
            channel_id: channel.to_string(),
            start,
            stop,
            creator: who.id.clone(),
            timestamp: Timestamp {
                seconds: now,
                nanos: 0,
            },
        };
        let signed = SignedDeliverRequest::sign(&request, who.signer.as_ref()).unwrap();
        let r = self
            .http
            .post(self.url(i, &format!("/v1/channels/{channel}/deliver")))
            .json(&signed)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        if status != 200 {
            return (status, vec![]);
        }
        let blocks = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("a block per line"))
            .collect();
        (status, blocks)
    }

    /// The blocks in node `i`'s store (read from disk: stop the node first).
    pub fn stored_blocks(&self, i: usize, channel: &str) -> Vec<Block> {
        let dir = self.nodes[i].data.join(channel).join("blocks");
        let (store, _) = FileBlockStore::open(&dir, StoreOptions::default()).unwrap();
        store.iter_from(0).map(|b| b.unwrap()).collect()
    }

    pub async fn metrics(&self, i: usize) -> String {
        self.http
            .get(self.url(i, "/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Every node's log, for failure messages.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for n in &self.nodes {
            let text = std::fs::read_to_string(&n.log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(40).collect();
            out += &format!("--- {} (last 40 lines) ---\n", n.name);
            for l in tail.into_iter().rev() {
                out += l;
                out += "\n";
            }
        }
        out
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            if let Some(mut c) = n.child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}

fn unsafe_sigterm(pid: u32) {
    // `kill -TERM` rather than libc, to keep the tests free of unsafe code.
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status();
}

/// Tx ids of every envelope in `blocks` (after genesis).
pub fn tx_ids(blocks: &[Block]) -> Vec<String> {
    blocks
        .iter()
        .skip(1)
        .flat_map(|b| b.data.envelopes.iter())
        .map(|e| e.parse_payload().unwrap().header.tx_id.to_string())
        .collect()
}
