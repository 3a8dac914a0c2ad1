//! A named topology for endorser tests: three organisations with real
//! certificates (Org1 and Org2 write, Org3 only reads), one channel and its
//! genesis block, chaincode definitions, the test contracts built to wasm and
//! packaged, and helpers to make proposals, install requests and validated
//! blocks.
//!
//! [`Net::endorser`] gives Org1's endorser with the kitchen-sink and hostile
//! packages installed (through [`PackageStore::install`], in a fresh package
//! directory) and its replica seeded with the definitions of
//! [`test_definitions`]: as a shortcut, the seed is applied straight to the
//! replica's store as block 0 (in place of the genesis block, which writes no
//! state), so the replica starts at height 1 with the definitions committed.
//! The real path (a block of `_lifecycle` writes from the feed) is
//! [`Net::definitions_block`] with [`Net::bare_endorser`].

#![allow(dead_code)]

pub mod fake_committer;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use cellchain_chaincode_build::build_contract;
use cellchain_chaincode_runtime::{Runtime, RuntimeConfig};
use cellchain_core::bytes::{sha256, Bytes, Hash32};
use cellchain_core::config::{
    create_genesis_block, ChannelConfig, ConfigSigner, Materials, NetworkConfig, OrgMaterial,
};
use cellchain_core::crypto::{default_provider, random_nonce};
use cellchain_core::lifecycle::{
    definition_key, encode_definition, ChaincodeDefinition, ChaincodePackage, CollectionConfig,
    EndorsementPolicy, InstallRequest, SignedInstall, LIFECYCLE,
};
use cellchain_core::policy::SignaturePolicy;
use cellchain_core::protocol::Version;
use cellchain_core::protocol::{
    decode, encode, Block, ChaincodeRef, ChaincodeResponse, EndorserTransaction, Envelope, Header,
    KvWrite, NsRwSet, Payload, PayloadData, Proposal, ProposalResponse, ProposalResponsePayload,
    Query, QueryRequest, SignedProposal, SignedQuery, Timestamp, TxId, TxRwSet, TxValidationCode,
};
use cellchain_core::testing::{TestCa, TestMember};
use cellchain_endorser::endorse::{now, ChannelSetup, Endorser, EndorserSetup};
use cellchain_endorser::install::PackageStore;
use cellchain_storage::StateStore;
use cellchain_validation::{DefinitionSet, StateWrite, TxOutcome, UpdateBatch};
use serde_json::Value;
use tower::ServiceExt;

pub const CHANNEL: &str = "testchannel";
pub const KS: &str = "ks";
pub const HOSTILE: &str = "hostile";
/// Defined on the channel, but no endorser has its module.
pub const GHOST: &str = "ghost";

/// The definitions the seeded replica holds: kitchen-sink (`ks`, sequence 3,
/// with three collections), hostile, and `ghost`, whose module no endorser has.
pub fn test_definitions() -> Vec<ChaincodeDefinition> {
    let coll = |name: &str, members: &[&str], btl: u64, member_only: bool| CollectionConfig {
        name: name.into(),
        member_orgs: members.iter().map(|m| m.to_string()).collect(),
        required_peer_count: 0,
        block_to_live: btl,
        member_only_read: member_only,
        member_only_write: member_only,
    };
    vec![
        ChaincodeDefinition {
            name: KS.into(),
            version: "1.2".into(),
            sequence: 3,
            wasm_hash: sha256(&kitchen_sink_wasm()),
            endorsement_policy: EndorsementPolicy::Signature(
                SignaturePolicy::parse("OR('Org1MSP.peer', 'Org2MSP.peer')").unwrap(),
            ),
            collections: vec![
                coll("secret", &["Org1MSP"], 0, true),
                coll("shared", &["Org1MSP", "Org2MSP"], 5, true),
                coll("open", &["Org2MSP"], 0, false),
            ],
        },
        ChaincodeDefinition {
            name: HOSTILE.into(),
            version: "1.0".into(),
            sequence: 1,
            wasm_hash: sha256(&hostile_wasm()),
            endorsement_policy: EndorsementPolicy::Channel("Endorsement".into()),
            collections: vec![],
        },
        ChaincodeDefinition {
            name: GHOST.into(),
            version: "1.0".into(),
            sequence: 1,
            wasm_hash: ghost_hash(),
            endorsement_policy: EndorsementPolicy::Channel("Endorsement".into()),
            collections: vec![],
        },
    ]
}

/// The module hash `ghost`'s definition names: nobody has that module.
pub fn ghost_hash() -> Hash32 {
    sha256(b"the module of ghost, which no endorser has")
}

/// Fuel of the tests' runtime: enough for every honest call, small enough that
/// the hostile spin runs out quickly.
pub const TEST_FUEL: u64 = 20_000_000;

/// The crate directory of a contract of this repository.
pub fn contract_dir(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative)
}

/// The module of a contract crate, built once per process.
pub fn wasm(relative: &str) -> Arc<Vec<u8>> {
    static BUILT: LazyLock<Mutex<HashMap<String, Arc<Vec<u8>>>>> = LazyLock::new(Default::default);
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    built
        .entry(relative.to_string())
        .or_insert_with(|| {
            let b = build_contract(&contract_dir(relative))
                .unwrap_or_else(|e| panic!("building {relative}: {e}"));
            Arc::new(b.wasm)
        })
        .clone()
}

pub fn kitchen_sink_wasm() -> Arc<Vec<u8>> {
    wasm("chaincode/test-contracts/kitchen-sink")
}

pub fn hostile_wasm() -> Arc<Vec<u8>> {
    wasm("chaincode/test-contracts/hostile")
}

/// The package file of kitchen-sink (label `ks_1.2`).
pub fn ks_package() -> Vec<u8> {
    ChaincodePackage::new(
        "ks_1.2",
        "kitchen-sink",
        "0.1.0",
        kitchen_sink_wasm().to_vec(),
    )
    .unwrap()
    .to_bytes()
}

/// The package file of hostile (label `hostile_1.0`).
pub fn hostile_package() -> Vec<u8> {
    ChaincodePackage::new("hostile_1.0", "hostile", "0.1.0", hostile_wasm().to_vec())
        .unwrap()
        .to_bytes()
}

/// An install request for `package` by `who` at `timestamp`, signed by `who`.
pub fn signed_install(who: &TestMember, package: &[u8], timestamp: Timestamp) -> SignedInstall {
    let request = InstallRequest {
        creator: who.id.clone(),
        timestamp,
        package: Bytes(package.to_vec()),
    };
    SignedInstall::sign(&request, who.signer.as_ref()).unwrap()
}

/// POSTs `body` to `/v1/chaincode/install`.
pub async fn post_install(endorser: &Arc<Endorser>, body: Vec<u8>) -> (u16, Value) {
    call(endorser, "POST", "/v1/chaincode/install", body).await
}

/// The Cargo target directory's module cache (as the harness finds it).
fn cache_dir() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    exe.ancestors()
        .find(|dir| dir.join("CACHEDIR.TAG").is_file())
        .map(|target| target.join("chaincode-cache"))
}

/// The process's runtime: a small instance pool (each slot reserves address
/// space) and [`TEST_FUEL`].
pub fn runtime() -> Arc<Runtime> {
    static RUNTIME: LazyLock<Arc<Runtime>> = LazyLock::new(|| {
        let config = RuntimeConfig {
            fuel: TEST_FUEL,
            max_concurrent_instances: 32,
            ..RuntimeConfig::default()
        };
        Arc::new(Runtime::new(config, cache_dir()).expect("test runtime"))
    });
    RUNTIME.clone()
}

/// A package store in `dir` with `packages` installed.
pub fn package_store(dir: &Path, packages: &[Vec<u8>]) -> Arc<PackageStore> {
    let store = PackageStore::open(dir, runtime()).expect("the package store opens");
    for p in packages {
        store.install(p).expect("the test package installs");
    }
    Arc::new(store)
}

pub struct Net {
    pub dir: tempfile::TempDir,
    pub genesis: Block,
    pub config: ChannelConfig,
    /// What the seeded replica holds.
    pub definitions: DefinitionSet,
    /// Org1's endorsing peer.
    pub peer: TestMember,
    /// Org1 client: a writer and reader.
    pub client: TestMember,
    /// Org3 client: a reader that may not write (so may evaluate, not endorse).
    pub reader: TestMember,
    /// A certificate from a CA no channel knows, claiming Org1MSP.
    pub stranger: TestMember,
    /// Org2's peer (another endorser's identity).
    pub other_peer: TestMember,
    /// Org1's admin: installs, approves and commits for Org1.
    pub admin: TestMember,
    /// Org2's admin.
    pub other_admin: TestMember,
    pub genesis_path: PathBuf,
    cas: BTreeMap<String, TestCa>,
}

fn unix_now() -> i64 {
    now().seconds
}

impl Net {
    pub fn new() -> Net {
        let dir = tempfile::tempdir().unwrap();
        let orgs = ["Org1MSP", "Org2MSP", "Org3MSP"];
        let cas: BTreeMap<String, TestCa> = orgs
            .iter()
            .map(|o| (o.to_string(), TestCa::new(o)))
            .collect();
        let mut yaml = String::from("name: endorser-test\norganizations:\n");
        for o in orgs {
            let read_only = o == "Org3MSP";
            yaml += &format!("  - msp_id: {o}\n    name: {o}\n    read_only: {read_only}\n    users:\n      - {{ name: admin, role: admin }}\n");
        }
        yaml += "orderers:\n  - { name: orderer0, org: Org1MSP, host: 127.0.0.1, port: 7050 }\n";
        yaml += &format!(
            "channels:\n  - name: {CHANNEL}\n    organizations: [Org1MSP, Org2MSP, Org3MSP]\n    consenters: [orderer0]\n    policies:\n      readers: ANY Readers\n      writers: ANY Writers\n      admins: MAJORITY Admins\n"
        );
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
        let orderer = cas["Org1MSP"].member("Org1MSP", "orderer0", "orderer");
        materials
            .orderer_certs
            .insert("orderer0".into(), orderer.id.cert.clone());
        let admins: Vec<TestMember> = orgs
            .iter()
            .map(|o| cas[*o].member(o, "admin", "admin"))
            .collect();
        let now = unix_now();
        let config = net.channel_config(CHANNEL, &materials, now).unwrap();
        let signers: Vec<ConfigSigner> = admins
            .iter()
            .map(|a| ConfigSigner {
                identity: a.id.clone(),
                signer: a.signer.as_ref(),
            })
            .collect();
        let genesis = create_genesis_block(
            &config,
            &signers,
            default_provider(),
            Timestamp {
                seconds: now,
                nanos: 0,
            },
            random_nonce(),
        )
        .unwrap();
        let genesis_path = dir.path().join("genesis.block.json");
        std::fs::write(
            &genesis_path,
            cellchain_core::config::block_to_json(&genesis).0,
        )
        .unwrap();
        let definitions = DefinitionSet(
            test_definitions()
                .into_iter()
                .map(|d| (d.name.clone(), d))
                .collect(),
        );
        Net {
            genesis,
            config,
            definitions,
            peer: cas["Org1MSP"].member("Org1MSP", "peer0.org1", "peer"),
            client: cas["Org1MSP"].member("Org1MSP", "app", "client"),
            reader: cas["Org3MSP"].member("Org3MSP", "auditor", "client"),
            stranger: TestCa::new("Elsewhere").member("Org1MSP", "mallory", "client"),
            other_peer: cas["Org2MSP"].member("Org2MSP", "peer0.org2", "peer"),
            admin: cas["Org1MSP"].member("Org1MSP", "admin1", "admin"),
            other_admin: cas["Org2MSP"].member("Org2MSP", "admin2", "admin"),
            genesis_path,
            cas,
            dir,
        }
    }

    pub fn ca(&self, msp: &str) -> &TestCa {
        &self.cas[msp]
    }

    /// A fresh directory under the network's.
    pub fn fresh_dir(&self, prefix: &str) -> PathBuf {
        tempfile::Builder::new()
            .prefix(prefix)
            .tempdir_in(self.dir.path())
            .unwrap()
            .keep()
    }

    /// A package store in a fresh directory with kitchen-sink and hostile installed.
    pub fn packages(&self) -> Arc<PackageStore> {
        package_store(
            &self.fresh_dir("packages"),
            &[ks_package(), hostile_package()],
        )
    }

    /// An endorser (Org1's peer) with the test contracts installed, its
    /// replica in a fresh directory seeded with [`test_definitions`] (height
    /// 1), not following any feed.
    pub fn endorser(&self) -> Arc<Endorser> {
        self.endorser_with(self.packages(), Duration::from_secs(300), true)
    }

    /// As [`Net::endorser`], but the replica is empty (height 0, nothing defined).
    pub fn bare_endorser(&self) -> Arc<Endorser> {
        self.endorser_with(self.packages(), Duration::from_secs(300), false)
    }

    /// Org1's endorser with `packages`, accepting `skew`, its replica in a
    /// fresh directory, seeded with [`test_definitions`] if `seeded`.
    pub fn endorser_with(
        &self,
        packages: Arc<PackageStore>,
        skew: Duration,
        seeded: bool,
    ) -> Arc<Endorser> {
        let state_dir = self.fresh_dir("replica");
        if seeded {
            self.seed(&state_dir);
        }
        Arc::new(
            Endorser::new(EndorserSetup {
                name: "peer0.org1".into(),
                identity: self.peer.id.clone(),
                signer: Arc::from(
                    cellchain_core::crypto::signer_from_pkcs8_pem(
                        default_provider(),
                        &self.peer.key_pem,
                    )
                    .unwrap(),
                ),
                proposal_skew: skew,
                channels: vec![ChannelSetup {
                    genesis: self.genesis.clone(),
                    config: self.config.clone(),
                    state_dir,
                }],
                packages,
            })
            .unwrap(),
        )
    }

    /// Writes [`test_definitions`] into the state store in `state_dir` as
    /// block 0 (one transaction writing every `definition/NAME` key), with the
    /// validated genesis block's commit hash.
    fn seed(&self, state_dir: &Path) {
        let mut store = StateStore::open(state_dir).unwrap();
        let version = Version { block: 0, tx: 0 };
        let updates = UpdateBatch {
            block: 0,
            writes: test_definitions()
                .iter()
                .map(|d| StateWrite {
                    namespace: LIFECYCLE.into(),
                    key: definition_key(&d.name),
                    value: Some(encode_definition(d)),
                    version,
                })
                .collect(),
            transactions: vec![TxOutcome {
                tx_id: TxId::compute(&random_nonce(), &self.admin.id),
                index: 0,
                code: TxValidationCode::Valid,
            }],
            ..UpdateBatch::default()
        };
        let commit_hash = self.validated_genesis().metadata.commit_hash.unwrap();
        store.apply(&updates, commit_hash, &[]).unwrap();
    }

    /// A validated block after `previous` writing each definition into
    /// `_lifecycle` (one transaction each), as a committed lifecycle commit would.
    pub fn definitions_block(&self, previous: &Block, defs: &[ChaincodeDefinition]) -> Block {
        let writes: Vec<(String, String)> = defs
            .iter()
            .map(|d| {
                (
                    definition_key(&d.name),
                    String::from_utf8(encode_definition(d)).unwrap(),
                )
            })
            .collect();
        self.block_writing(previous, LIFECYCLE, &writes)
    }

    /// The genesis block as the committer's feed serves it: validated.
    pub fn validated_genesis(&self) -> Block {
        let mut b = self.genesis.clone();
        b.metadata.validation_codes = vec![TxValidationCode::Valid];
        b.metadata.commit_hash = Some(sha256(b"commit-0"));
        b
    }

    /// A validated block after `previous` with one valid transaction per
    /// `(key, value)` write in namespace `ns`.
    pub fn block_writing(&self, previous: &Block, ns: &str, writes: &[(String, String)]) -> Block {
        let envelopes = writes
            .iter()
            .map(|(k, v)| self.envelope(ns, vec![(k.clone(), v.clone())]))
            .collect();
        self.block_of(previous, envelopes)
    }

    /// A validated block after `previous` with the given envelopes, all valid.
    pub fn block_of(&self, previous: &Block, envelopes: Vec<Envelope>) -> Block {
        let number = previous.header.number + 1;
        let n = envelopes.len();
        let mut b = Block::new(number, previous.hash(), envelopes, 0);
        b.metadata.validation_codes = vec![TxValidationCode::Valid; n];
        b.metadata.commit_hash = Some(sha256(format!("commit-{number}").as_bytes()));
        b
    }

    /// An endorser transaction by the client writing `writes` in `ns`.
    pub fn envelope(&self, ns: &str, writes: Vec<(String, String)>) -> Envelope {
        let header = Header::new(CHANNEL, self.client.id.clone(), random_nonce(), now());
        self.envelope_with_header(header, ns, writes)
    }

    /// The envelope a client would submit for an endorsed proposal: the
    /// proposal bytes, the response payload and its endorsement, signed by `who`.
    pub fn envelope_of(
        &self,
        signed: &SignedProposal,
        response: &ProposalResponse,
        who: &TestMember,
    ) -> Envelope {
        let proposal: Proposal = decode("proposal", &signed.proposal).unwrap();
        Envelope::sign(
            &Payload {
                header: proposal.header,
                data: PayloadData::Endorser(EndorserTransaction {
                    proposal: signed.proposal.clone(),
                    response_payload: response.payload.clone().expect("an endorsed response"),
                    endorsements: vec![response.endorsement.clone().expect("an endorsement")],
                }),
            },
            who.signer.as_ref(),
        )
        .unwrap()
    }

    pub fn envelope_with_header(
        &self,
        header: Header,
        ns: &str,
        writes: Vec<(String, String)>,
    ) -> Envelope {
        let proposal = Proposal {
            header: header.clone(),
            chaincode: ns.into(),
            function: "put".into(),
            args: vec![],
            transient_digest: None,
        };
        let proposal_bytes = encode(&proposal);
        let response = ChaincodeResponse {
            status: 200,
            message: String::new(),
            payload: Bytes::default(),
        };
        let payload = ProposalResponsePayload {
            proposal_hash: sha256(&proposal_bytes),
            chaincode: ChaincodeRef {
                name: ns.into(),
                version: "1.2".into(),
                sequence: 3,
            },
            rwset: TxRwSet {
                ns_rwsets: vec![NsRwSet {
                    namespace: ns.into(),
                    writes: writes
                        .into_iter()
                        .map(|(key, v)| KvWrite {
                            key,
                            is_delete: false,
                            value: Bytes(v.into_bytes()),
                        })
                        .collect(),
                    ..NsRwSet::default()
                }],
            },
            events: vec![],
            response,
        };
        Envelope::sign(
            &Payload {
                header,
                data: PayloadData::Endorser(EndorserTransaction {
                    proposal: proposal_bytes,
                    response_payload: encode(&payload),
                    endorsements: vec![],
                }),
            },
            self.client.signer.as_ref(),
        )
        .unwrap()
    }
}

impl Default for Net {
    fn default() -> Self {
        Net::new()
    }
}

/// A proposal by `who` for `chaincode.function(args)` on the test channel, now.
pub fn proposal(who: &TestMember, chaincode: &str, function: &str, args: Vec<Value>) -> Proposal {
    Proposal {
        header: Header::new(CHANNEL, who.id.clone(), random_nonce(), now()),
        chaincode: chaincode.into(),
        function: function.into(),
        args,
        transient_digest: None,
    }
}

pub fn sign(p: Proposal, who: &TestMember) -> SignedProposal {
    SignedProposal::sign(p, BTreeMap::new(), who.signer.as_ref()).unwrap()
}

pub fn sign_with_transient(
    p: Proposal,
    transient: BTreeMap<String, Bytes>,
    who: &TestMember,
) -> SignedProposal {
    SignedProposal::sign(p, transient, who.signer.as_ref()).unwrap()
}

/// A query by `who` on `channel` at `timestamp`, signed with `who`'s key.
pub fn signed_query(
    who: &TestMember,
    channel: &str,
    timestamp: Timestamp,
    query: Query,
) -> SignedQuery {
    let request = QueryRequest {
        channel_id: channel.into(),
        creator: who.id.clone(),
        timestamp,
        query,
    };
    SignedQuery::sign(&request, who.signer.as_ref()).unwrap()
}

/// A request for the private writes of `tx_ids` by `who`, now.
pub fn private_query(who: &TestMember, tx_ids: Vec<TxId>) -> SignedQuery {
    signed_query(who, CHANNEL, now(), Query::PrivateWrites { tx_ids })
}

/// POSTs `query` to `/v1/channels/{channel}/private`.
pub async fn post_private(
    endorser: &Arc<Endorser>,
    channel: &str,
    query: &SignedQuery,
) -> (u16, Value) {
    call(
        endorser,
        "POST",
        &format!("/v1/channels/{channel}/private"),
        serde_json::to_vec(query).unwrap(),
    )
    .await
}

/// Sends one request through the router, without a socket.
pub async fn call(
    endorser: &Arc<Endorser>,
    method: &str,
    uri: &str,
    body: Vec<u8>,
) -> (u16, Value) {
    let app = cellchain_endorser::service::router(endorser.clone());
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, value)
}

/// POSTs a signed proposal to `/v1/channels/{channel}/{op}`.
pub async fn post(
    endorser: &Arc<Endorser>,
    channel: &str,
    op: &str,
    signed: &SignedProposal,
) -> (u16, Value) {
    call(
        endorser,
        "POST",
        &format!("/v1/channels/{channel}/{op}"),
        serde_json::to_vec(signed).unwrap(),
    )
    .await
}

/// Endorses and decodes a 200 answer.
pub async fn endorse(endorser: &Arc<Endorser>, signed: &SignedProposal) -> ProposalResponse {
    let (status, body) = post(endorser, CHANNEL, "endorse", signed).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_value(body).unwrap()
}

pub async fn evaluate(endorser: &Arc<Endorser>, signed: &SignedProposal) -> ProposalResponse {
    let (status, body) = post(endorser, CHANNEL, "evaluate", signed).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_value(body).unwrap()
}

/// Waits until the endorser's replica of the test channel reaches `height`.
pub async fn wait_height(endorser: &Arc<Endorser>, height: u64) {
    let mut rx = endorser.channels[CHANNEL].replica.subscribe();
    tokio::time::timeout(Duration::from_secs(20), rx.wait_for(|h| *h >= height))
        .await
        .unwrap_or_else(|_| {
            panic!(
                "the replica did not reach height {height} (at {})",
                endorser.channels[CHANNEL].replica.height()
            )
        })
        .unwrap();
}

/// The hash used when a test needs some value of one.
pub fn some_hash(s: &str) -> Hash32 {
    sha256(s.as_bytes())
}
