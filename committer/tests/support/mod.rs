//! A named topology for committer tests (in the spirit of Fabric's `nwo`): three
//! organisations with real certificates, three orderer processes and committer
//! processes on free loopback ports, the genesis blocks of a shared channel and a
//! private one, and clients that build really endorsed transactions (no
//! endorser process needed), lifecycle transactions included: chaincode
//! definitions are deployed through the ledger ([`Net::deploy`]), approved by
//! each organisation's admin and committed, as the endorsers would build them.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use cellchain_core::bytes::sha256;
use cellchain_core::config::{
    block_to_json, create_genesis_block, ConfigSigner, Materials, NetworkConfig, OrgMaterial,
};
use cellchain_core::crypto::{default_provider, random_nonce};
use cellchain_core::lifecycle::{
    approval_key, definition_key, encode_definition, functions, ChaincodeDefinition,
    CollectionConfig, EndorsementPolicy, LIFECYCLE, LIFECYCLE_SEQUENCE, LIFECYCLE_VERSION,
};
use cellchain_core::protocol::{
    encode, Block, ChaincodeRef, ChaincodeResponse, DeliverRequest, Endorsement,
    EndorserTransaction, Envelope, Header, KvRead, KvWrite, NsRwSet, Payload, PayloadData,
    Proposal, ProposalResponsePayload, Query, QueryRequest, SignedDeliverRequest, SignedQuery,
    Timestamp, TxId, TxRwSet, Version,
};
use cellchain_core::testing::{TestCa, TestMember};
use cellchain_core::Bytes;
use serde_json::Value;

pub const CHANNEL: &str = "testchannel";
pub const PRIVATE: &str = "private";
pub const CC: &str = "cc";

/// The orderer binary, built once per test process next to our own binaries
/// (another package's `CARGO_BIN_EXE_*` is not available to this crate's tests).
pub fn orderer_bin() -> PathBuf {
    workspace_bin("cellchain-orderer", "orderer")
}

/// The committer binary: this package's own when these helpers run in its tests,
/// built on demand otherwise (the end-to-end tests include this module).
pub fn committer_bin() -> PathBuf {
    match option_env!("CARGO_BIN_EXE_committer") {
        Some(p) => PathBuf::from(p),
        None => workspace_bin("cellchain-committer", "committer"),
    }
}

/// Builds binary `bin` of workspace package `package` (once per test process)
/// and returns its path in the target directory of the running test.
pub fn workspace_bin(package: &str, bin: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<BTreeMap<String, PathBuf>>> = OnceLock::new();
    let mut built = BUILT
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    built
        .entry(bin.to_string())
        .or_insert_with(|| {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
            let status = Command::new(cargo)
                .args(["build", "-p", package, "--bin", bin])
                .current_dir(workspace)
                .status()
                .expect("cargo runs");
            assert!(status.success(), "building {bin} failed");
            // target/debug/deps/<test binary>: the binary is in target/debug.
            std::env::current_exe()
                .unwrap()
                .ancestors()
                .map(|d| d.join(bin))
                .find(|p| p.is_file())
                .unwrap_or_else(|| panic!("target/debug/{bin} next to the test binary"))
        })
        .clone()
}

pub fn now() -> Timestamp {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    Timestamp {
        seconds: d.as_secs() as i64,
        nanos: d.subsec_nanos(),
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One process of the topology.
pub struct Proc {
    pub name: String,
    pub port: u16,
    pub bin: PathBuf,
    pub config: PathBuf,
    pub log: PathBuf,
    pub data: PathBuf,
    pub child: Option<Child>,
}

impl Proc {
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "{} already running", self.name);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        self.child = Some(
            Command::new(&self.bin)
                .arg("--config")
                .arg(&self.config)
                .env("CELLCHAIN_LOG", "info,raft=warn")
                .stdout(Stdio::from(log.try_clone().unwrap()))
                .stderr(Stdio::from(log))
                .spawn()
                .expect("binary starts"),
        );
    }

    /// SIGKILL: no shutdown, no flush.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    /// SIGTERM and wait for a clean exit.
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(c.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                if let Some(status) = c.try_wait().unwrap() {
                    assert!(status.success(), "{} exited with {status}", self.name);
                    return;
                }
                if Instant::now() > deadline {
                    c.kill().unwrap();
                    panic!("{} did not stop on SIGTERM", self.name);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    fn tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let from = lines.len().saturating_sub(n);
        format!(
            "--- {} (last {n} lines) ---\n{}\n",
            self.name,
            lines[from..].join("\n")
        )
    }
}

pub struct Net {
    pub dir: tempfile::TempDir,
    pub orderers: Vec<Proc>,
    pub committers: Vec<Proc>,
    pub cas: BTreeMap<&'static str, TestCa>,
    /// The orderers' identities (consenters of both channels).
    pub orderer_ids: Vec<TestMember>,
    pub genesis: BTreeMap<&'static str, PathBuf>,
    /// The admins of Org1, Org2 and Org3 (they signed the genesis blocks and
    /// create lifecycle transactions).
    pub admins: BTreeMap<&'static str, TestMember>,
    /// Org1 and Org2 clients: writers and readers of both channels.
    pub client1: TestMember,
    pub client2: TestMember,
    /// Org3 client: a read-only member of the shared channel, not of the private one.
    pub outsider: TestMember,
    /// Endorsing peers of Org1 and Org2.
    pub peer1: TestMember,
    pub peer2: TestMember,
    pub http: reqwest::Client,
}

/// The organisations that approve and endorse lifecycle transactions on both
/// channels (Org3 is a read-only member of the shared channel).
pub const WRITERS: [&str; 2] = ["Org1MSP", "Org2MSP"];

/// The definition of chaincode `name` at `version`/`sequence` that the tests
/// deploy: endorsed by both Org1 and Org2, no collections.
pub fn definition(name: &str, version: &str, sequence: u64) -> ChaincodeDefinition {
    ChaincodeDefinition {
        name: name.into(),
        version: version.into(),
        sequence,
        wasm_hash: sha256(format!("{name} module {version}").as_bytes()),
        endorsement_policy: EndorsementPolicy::Signature(
            "AND('Org1MSP.peer', 'Org2MSP.peer')".parse().unwrap(),
        ),
        collections: vec![],
    }
}

/// The chaincode `cc` 1.0/1 of [`Net::tx`], endorsed by both Org1 and Org2; on
/// the shared channel with the private data collection `secret` (members: Org1).
pub fn cc_definition(channel: &str) -> ChaincodeDefinition {
    let mut def = definition(CC, "1.0", 1);
    if channel == CHANNEL {
        def.collections.push(CollectionConfig {
            name: "secret".into(),
            member_orgs: vec!["Org1MSP".into()],
            required_peer_count: 0,
            block_to_live: 0,
            member_only_read: true,
            member_only_write: true,
        });
    }
    def
}

/// The chaincode reference lifecycle transactions are endorsed under.
pub fn lifecycle_ref() -> ChaincodeRef {
    ChaincodeRef {
        name: LIFECYCLE.into(),
        version: LIFECYCLE_VERSION.into(),
        sequence: LIFECYCLE_SEQUENCE,
    }
}

impl Net {
    /// Certificates, genesis blocks and configurations of three orderers (not started).
    pub fn new() -> Net {
        let dir = tempfile::tempdir().unwrap();
        let orgs = ["Org1MSP", "Org2MSP", "Org3MSP"];
        let cas: BTreeMap<&str, TestCa> = orgs.iter().map(|o| (*o, TestCa::new(o))).collect();
        let n = 3;
        let ports: Vec<u16> = (0..n).map(|_| free_port()).collect();
        let names: Vec<String> = (0..n).map(|i| format!("orderer{i}")).collect();
        let orderer_org = |i: usize| if i % 2 == 0 { "Org1MSP" } else { "Org2MSP" };
        let mut yaml = String::from("name: committer-test\norganizations:\n");
        for o in orgs {
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
                "  - name: {name}\n    organizations: [{members}]\n    consenters: [{consenters}]\n    batch:\n      max_message_count: 50\n      preferred_max_bytes: 512 KiB\n      absolute_max_bytes: 1 MiB\n      batch_timeout: 300ms\n    raft:\n      tick_interval: 100ms\n      election_tick: 10\n      heartbeat_tick: 1\n      snapshot_interval_size: 16 MiB\n    policies:\n      readers: ANY Readers\n      writers: ANY Writers\n      admins: MAJORITY Admins\n"
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
        let orderer_ids: Vec<TestMember> = (0..n)
            .map(|i| cas[orderer_org(i)].member(orderer_org(i), &names[i], "orderer"))
            .collect();
        for (i, o) in orderer_ids.iter().enumerate() {
            materials
                .orderer_certs
                .insert(names[i].clone(), o.id.cert.clone());
        }
        let admins: BTreeMap<&'static str, TestMember> = orgs
            .iter()
            .map(|o| (*o, cas[o].member(o, "admin", "admin")))
            .collect();
        let t = now();
        let mut genesis = BTreeMap::new();
        for ch in [CHANNEL, PRIVATE] {
            let cfg = net.channel_config(ch, &materials, t.seconds).unwrap();
            let signers: Vec<ConfigSigner> = admins
                .values()
                .filter(|a| cfg.is_member(&a.id.msp_id))
                .map(|a| ConfigSigner {
                    identity: a.id.clone(),
                    signer: a.signer.as_ref(),
                })
                .collect();
            let block = create_genesis_block(&cfg, &signers, default_provider(), t, random_nonce())
                .unwrap();
            let path = dir.path().join(format!("{ch}.block.json"));
            std::fs::write(&path, block_to_json(&block).0).unwrap();
            genesis.insert(ch, path);
        }
        let bin = orderer_bin();
        let mut orderers = Vec::new();
        for (i, o) in orderer_ids.iter().enumerate() {
            let home = dir.path().join(&names[i]);
            std::fs::create_dir_all(&home).unwrap();
            std::fs::write(home.join("cert.pem"), &o.id.cert).unwrap();
            std::fs::write(home.join("key.pem"), &o.key_pem).unwrap();
            let config = home.join("orderer.yaml");
            std::fs::write(
                &config,
                format!(
                    "name: {}\nlisten: 127.0.0.1:{}\ndata_dir: data\nmsp_id: {}\ncert: cert.pem\nkey: key.pem\ngenesis_blocks: [{}, {}]\nbroadcast_timeout: 5s\n",
                    names[i],
                    ports[i],
                    orderer_org(i),
                    genesis[CHANNEL].display(),
                    genesis[PRIVATE].display(),
                ),
            )
            .unwrap();
            orderers.push(Proc {
                name: names[i].clone(),
                port: ports[i],
                bin: bin.clone(),
                config,
                log: home.join("orderer.log"),
                data: home.join("data"),
                child: None,
            });
        }
        Net {
            client1: cas["Org1MSP"].member("Org1MSP", "app1", "client"),
            client2: cas["Org2MSP"].member("Org2MSP", "app2", "client"),
            outsider: cas["Org3MSP"].member("Org3MSP", "app3", "client"),
            peer1: cas["Org1MSP"].member("Org1MSP", "endorser1", "peer"),
            peer2: cas["Org2MSP"].member("Org2MSP", "endorser2", "peer"),
            dir,
            orderers,
            committers: Vec::new(),
            cas,
            orderer_ids,
            genesis,
            admins,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
        }
    }

    /// Adds a committer of `org` (a peer certificate) for `channels`; `orderers`
    /// overrides the consenters' endpoints. Returns its index (not started).
    pub fn add_committer(
        &mut self,
        name: &str,
        org: &str,
        channels: &[&str],
        orderers: &[String],
    ) -> usize {
        let member = self.cas[org].member(org, name, "peer");
        let home = self.dir.path().join(name);
        std::fs::create_dir_all(&home).unwrap();
        std::fs::write(home.join("cert.pem"), &member.id.cert).unwrap();
        std::fs::write(home.join("key.pem"), &member.key_pem).unwrap();
        let port = free_port();
        let genesis: Vec<String> = channels
            .iter()
            .map(|c| self.genesis[c].display().to_string())
            .collect();
        let mut yaml = format!(
            "name: {name}\nlisten: 127.0.0.1:{port}\ndata_dir: data\nmsp_id: {org}\ncert: cert.pem\nkey: key.pem\ngenesis_blocks: [{}]\nvalidation_workers: 2\nstall_timeout: 2s\n",
            genesis.join(", "),
        );
        if !orderers.is_empty() {
            yaml += &format!("orderers: [{}]\n", orderers.join(", "));
        }
        let config = home.join("committer.yaml");
        std::fs::write(&config, yaml).unwrap();
        self.committers.push(Proc {
            name: name.to_string(),
            port,
            bin: committer_bin(),
            config,
            log: home.join("committer.log"),
            data: home.join("data"),
            child: None,
        });
        self.committers.len() - 1
    }

    /// Appends `yaml` (whole lines) to committer `i`'s configuration file.
    pub fn configure_committer(&self, i: usize, yaml: &str) {
        let path = &self.committers[i].config;
        let mut text = std::fs::read_to_string(path).unwrap();
        text += yaml;
        std::fs::write(path, text).unwrap();
    }

    pub fn start_orderers(&mut self) {
        for o in &mut self.orderers {
            o.start();
        }
    }
    pub fn start_committer(&mut self, i: usize) {
        self.committers[i].start();
    }
    pub fn kill_committer(&mut self, i: usize) {
        self.committers[i].kill();
    }
    pub fn stop_committer(&mut self, i: usize) {
        self.committers[i].stop();
    }

    pub fn blocks_dir(&self, committer: usize, channel: &str) -> PathBuf {
        self.committers[committer].data.join(channel).join("blocks")
    }

    pub fn logs(&self) -> String {
        self.orderers
            .iter()
            .chain(&self.committers)
            .map(|p| p.tail(30))
            .collect()
    }

    fn orderer_url(&self, i: usize, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.orderers[i].port, path)
    }
    fn committer_url(&self, i: usize, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.committers[i].port, path)
    }

    async fn get_json(&self, url: String) -> Option<Value> {
        let r = self
            .http
            .get(url)
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .ok()?;
        r.json().await.ok()
    }

    /// Waits until the orderers agree on a leader of `channel`.
    pub async fn wait_leader(&self, channel: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let mut leaders = 0;
            for i in 0..self.orderers.len() {
                let url = self.orderer_url(i, &format!("/v1/channels/{channel}/status"));
                if let Some(s) = self.get_json(url).await {
                    if s["is_leader"] == true {
                        leaders += 1;
                    }
                }
            }
            if leaders == 1 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no leader for {channel}:\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn orderer_height(&self, i: usize, channel: &str) -> u64 {
        let url = self.orderer_url(i, &format!("/v1/channels/{channel}/status"));
        self.get_json(url).await.expect("orderer status")["height"]
            .as_u64()
            .unwrap()
    }

    pub async fn committer_status(&self, i: usize, channel: &str) -> Option<Value> {
        self.get_json(self.committer_url(i, &format!("/v1/channels/{channel}/status")))
            .await
    }

    /// Waits until committer `i` has committed `height` blocks of `channel`.
    pub async fn wait_committed(&self, i: usize, channel: &str, height: u64) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(s) = self.committer_status(i, channel).await {
                if s["height"].as_u64().unwrap_or(0) >= height {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "{} did not reach height {height} of {channel}:\n{}",
                self.committers[i].name,
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn metrics(&self, i: usize) -> String {
        self.http
            .get(self.committer_url(i, "/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Broadcasts until ordered (retrying 503s and dead orderers); returns the block.
    pub async fn broadcast(&self, channel: &str, e: &Envelope) -> u64 {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut i = 0;
        loop {
            let r = self
                .http
                .post(self.orderer_url(
                    i % self.orderers.len(),
                    &format!("/v1/channels/{channel}/broadcast"),
                ))
                .json(e)
                .send()
                .await;
            if let Ok(r) = r {
                let status = r.status().as_u16();
                let body: Value = r.json().await.unwrap_or(Value::Null);
                if status == 200 {
                    return body["block"].as_u64().unwrap();
                }
                assert!(status == 503, "broadcast refused: {status} {body}");
            }
            assert!(
                Instant::now() < deadline,
                "not ordered in 30 s:\n{}",
                self.logs()
            );
            i += 1;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Deliver from orderer `i` (raw blocks) or the committer feed, as `who`.
    pub async fn orderer_blocks(
        &self,
        i: usize,
        channel: &str,
        who: &TestMember,
        start: u64,
        stop: u64,
    ) -> Vec<Block> {
        let (status, blocks) = self
            .stream(
                self.orderer_url(i, &format!("/v1/channels/{channel}/deliver")),
                channel,
                who,
                start,
                Some(stop),
            )
            .await;
        assert_eq!(status, 200);
        blocks
    }

    /// The committer's validated block feed `[start, stop]` as `who`: status and blocks.
    pub async fn feed(
        &self,
        i: usize,
        channel: &str,
        who: &TestMember,
        start: u64,
        stop: u64,
    ) -> (u16, Vec<Block>) {
        self.stream(
            self.committer_url(i, &format!("/v1/channels/{channel}/blocks")),
            channel,
            who,
            start,
            Some(stop),
        )
        .await
    }

    async fn stream(
        &self,
        url: String,
        channel: &str,
        who: &TestMember,
        start: u64,
        stop: Option<u64>,
    ) -> (u16, Vec<Block>) {
        let request = DeliverRequest {
            channel_id: channel.to_string(),
            start,
            stop,
            creator: who.id.clone(),
            timestamp: now(),
        };
        let signed = SignedDeliverRequest::sign(&request, who.signer.as_ref()).unwrap();
        let r = self.http.post(url).json(&signed).send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        if status != 200 {
            assert!(
                !text.contains("\"header\""),
                "a refusal carries no block: {text}"
            );
            return (status, vec![]);
        }
        let blocks = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("a block per line"))
            .collect();
        (status, blocks)
    }

    /// A signed query to committer `i` as `who`: status and JSON answer.
    pub async fn query(
        &self,
        i: usize,
        channel: &str,
        who: &TestMember,
        query: Query,
    ) -> (u16, Value) {
        let request = QueryRequest {
            channel_id: channel.to_string(),
            creator: who.id.clone(),
            timestamp: now(),
            query,
        };
        let signed = SignedQuery::sign(&request, who.signer.as_ref()).unwrap();
        let r = self
            .http
            .post(self.committer_url(i, &format!("/v1/channels/{channel}/query")))
            .json(&signed)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Waits until committer `i` knows `tx_id`; returns its status answer.
    pub async fn wait_tx(&self, i: usize, channel: &str, tx_id: TxId) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (status, body) = self
                .query(i, channel, &self.client1, Query::TxStatus { tx_id })
                .await;
            if status == 200 {
                return body;
            }
            assert_eq!(status, 404, "{body}");
            assert!(
                Instant::now() < deadline,
                "{tx_id} not committed:\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A transaction of `client1` invoking `cc` with `rwset`, endorsed by `endorsers`.
    pub fn tx(&self, channel: &str, rwset: TxRwSet, endorsers: &[&TestMember]) -> (TxId, Envelope) {
        self.tx_with(channel, rwset, endorsers, |_| {})
    }

    /// As [`Net::tx`], with `tamper` applied to the response payload after the
    /// endorsers signed it (the creator signs the tampered envelope).
    pub fn tx_with(
        &self,
        channel: &str,
        rwset: TxRwSet,
        endorsers: &[&TestMember],
        tamper: impl FnOnce(&mut ProposalResponsePayload),
    ) -> (TxId, Envelope) {
        let cc = ChaincodeRef {
            name: CC.into(),
            version: "1.0".into(),
            sequence: 1,
        };
        let call = Call {
            creator: &self.client1,
            chaincode: cc,
            function: "f",
            args: vec![],
            payload: Bytes::default(),
        };
        self.endorsed(channel, call, rwset, endorsers, tamper)
    }

    /// A transaction of `client1` invoking `chaincode` (name, version and
    /// sequence it was endorsed under) with `rwset`, endorsed by `endorsers`.
    pub fn tx_as(
        &self,
        channel: &str,
        chaincode: ChaincodeRef,
        rwset: TxRwSet,
        endorsers: &[&TestMember],
    ) -> (TxId, Envelope) {
        let call = Call {
            creator: &self.client1,
            chaincode,
            function: "f",
            args: vec![],
            payload: Bytes::default(),
        };
        self.endorsed(channel, call, rwset, endorsers, |_| {})
    }

    /// The endorsed transaction of `call` with `rwset`.
    fn endorsed(
        &self,
        channel: &str,
        call: Call<'_>,
        rwset: TxRwSet,
        endorsers: &[&TestMember],
        tamper: impl FnOnce(&mut ProposalResponsePayload),
    ) -> (TxId, Envelope) {
        let creator = call.creator;
        let header = Header::new(channel, creator.id.clone(), random_nonce(), now());
        let proposal = encode(&Proposal {
            header: header.clone(),
            chaincode: call.chaincode.name.clone(),
            function: call.function.into(),
            args: call.args,
            transient_digest: None,
        });
        let mut response = ProposalResponsePayload {
            proposal_hash: sha256(&proposal),
            chaincode: call.chaincode,
            rwset,
            events: vec![],
            response: ChaincodeResponse {
                status: 200,
                message: String::new(),
                payload: call.payload,
            },
        };
        let endorsed = encode(&response);
        let endorsements = endorsers
            .iter()
            .map(|m| Endorsement::sign(&endorsed, m.id.clone(), m.signer.as_ref()).unwrap())
            .collect();
        tamper(&mut response);
        let payload = Payload {
            header: header.clone(),
            data: PayloadData::Endorser(EndorserTransaction {
                proposal,
                response_payload: encode(&response),
                endorsements,
            }),
        };
        (
            header.tx_id,
            Envelope::sign(&payload, creator.signer.as_ref()).unwrap(),
        )
    }

    /// The endorsing peer of a writing organisation.
    pub fn peer(&self, org: &str) -> &TestMember {
        match org {
            "Org1MSP" => &self.peer1,
            "Org2MSP" => &self.peer2,
            _ => panic!("{org} has no endorsing peer in this topology"),
        }
    }

    /// The committed version of `namespace`/`key` at committer `i`, `None`
    /// when the key has no value.
    pub async fn committed_version(
        &self,
        i: usize,
        channel: &str,
        namespace: &str,
        key: &str,
    ) -> Option<Version> {
        let query = Query::Get {
            namespace: namespace.into(),
            key: key.into(),
        };
        let (status, body) = self.query(i, channel, &self.client1, query).await;
        match status {
            200 => Some(serde_json::from_value(body["version"].clone()).unwrap()),
            404 => None,
            _ => panic!("get {namespace}/{key}: {status} {body}"),
        }
    }

    /// A `_lifecycle` transaction of `function(def)` by `creator`, endorsed by
    /// `endorsers`, as an endorser answers it (the definition JSON as payload).
    pub fn lifecycle_tx(
        &self,
        channel: &str,
        creator: &TestMember,
        function: &str,
        def: &ChaincodeDefinition,
        ns: NsRwSet,
        endorsers: &[&TestMember],
    ) -> (TxId, Envelope) {
        let call = Call {
            creator,
            chaincode: lifecycle_ref(),
            function,
            args: vec![serde_json::to_value(def).unwrap()],
            payload: Bytes(encode_definition(def)),
        };
        let rwset = TxRwSet {
            ns_rwsets: vec![ns],
        };
        self.endorsed(channel, call, rwset, endorsers, |_| {})
    }

    /// `org`'s approval of `def` as its endorser builds it: created by `org`'s
    /// admin, endorsed by `org`'s peer, reading `definition/NAME` at the version
    /// committer `i` has and writing `approval/NAME/ORG`.
    pub async fn approval(
        &self,
        i: usize,
        channel: &str,
        org: &str,
        def: &ChaincodeDefinition,
    ) -> (TxId, Envelope) {
        let key = definition_key(&def.name);
        let ns = NsRwSet {
            namespace: LIFECYCLE.into(),
            reads: vec![KvRead {
                version: self.committed_version(i, channel, LIFECYCLE, &key).await,
                key,
            }],
            writes: vec![KvWrite {
                key: approval_key(&def.name, org),
                is_delete: false,
                value: Bytes(encode_definition(def)),
            }],
            ..NsRwSet::default()
        };
        self.lifecycle_tx(
            channel,
            &self.admins[org],
            functions::APPROVE,
            def,
            ns,
            &[self.peer(org)],
        )
    }

    /// The commit of `def` as the endorsers build it: created by Org1's admin,
    /// endorsed by the peers of `endorsing` organisations, reading
    /// `definition/NAME` and every writing organisation's approval at the
    /// versions committer `i` has, and writing `definition/NAME`.
    pub async fn commit_definition(
        &self,
        i: usize,
        channel: &str,
        def: &ChaincodeDefinition,
        endorsing: &[&str],
    ) -> (TxId, Envelope) {
        let mut reads = Vec::new();
        let key = definition_key(&def.name);
        for k in std::iter::once(key.clone())
            .chain(WRITERS.iter().map(|org| approval_key(&def.name, org)))
        {
            reads.push(KvRead {
                version: self.committed_version(i, channel, LIFECYCLE, &k).await,
                key: k,
            });
        }
        let ns = NsRwSet {
            namespace: LIFECYCLE.into(),
            reads,
            writes: vec![KvWrite {
                key,
                is_delete: false,
                value: Bytes(encode_definition(def)),
            }],
            ..NsRwSet::default()
        };
        let endorsers: Vec<&TestMember> = endorsing.iter().map(|o| self.peer(o)).collect();
        self.lifecycle_tx(
            channel,
            &self.admins["Org1MSP"],
            functions::COMMIT,
            def,
            ns,
            &endorsers,
        )
    }

    /// Orders `e` and waits until committer `i` has committed it; asserts its
    /// code and returns the block it is in.
    pub async fn submit(&self, i: usize, channel: &str, tx: (TxId, Envelope), code: &str) -> u64 {
        let (tx_id, e) = tx;
        self.broadcast(channel, &e).await;
        let s = self.wait_tx(i, channel, tx_id).await;
        assert_eq!(s["code"]["name"], code, "{s}");
        s["block"].as_u64().unwrap()
    }

    /// Deploys `def` on `channel` through the ledger: an approval of each
    /// writing organisation (ordered together), then the commit endorsed by
    /// both organisations' peers; waits until committer `i` has committed each
    /// and asserts they are valid. Returns the block of the commit: the
    /// definition is in force from the next block on.
    pub async fn deploy(&self, i: usize, channel: &str, def: &ChaincodeDefinition) -> u64 {
        let mut approvals = Vec::new();
        for org in WRITERS {
            approvals.push(self.approval(i, channel, org, def).await);
        }
        for (tx_id, e) in &approvals {
            self.broadcast(channel, e).await;
            let _ = tx_id;
        }
        for (tx_id, _) in &approvals {
            let s = self.wait_tx(i, channel, *tx_id).await;
            assert_eq!(s["code"]["name"], "VALID", "approval of {}: {s}", def.name);
        }
        let commit = self.commit_definition(i, channel, def, &WRITERS).await;
        self.submit(i, channel, commit, "VALID").await
    }
}

/// What a transaction invokes, and what its endorsers answered.
struct Call<'a> {
    creator: &'a TestMember,
    chaincode: ChaincodeRef,
    function: &'a str,
    args: Vec<Value>,
    payload: Bytes,
}

impl Drop for Net {
    fn drop(&mut self) {
        for p in self.orderers.iter_mut().chain(self.committers.iter_mut()) {
            if let Some(mut c) = p.child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}
