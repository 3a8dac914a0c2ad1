//! Endorser processes, proposals and waiting, and chaincode deployment through
//! the SDK's lifecycle (install, approve, commit), shared by the end-to-end
//! tests and the SDK's network tests (the orderer and committer topology is
//! `committer/tests/support`).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cellchain_core::config::{
    block_to_json, create_genesis_block, ConfigSigner, Materials, NetworkConfig, OrgMaterial,
};
use cellchain_core::crypto::{default_provider, random_nonce, signer_from_pkcs8_pem};
use cellchain_core::protocol::{
    EndorserTransaction, Envelope, Header, Payload, PayloadData, Proposal, ProposalResponse,
    SignedProposal,
};
use cellchain_core::testing::TestMember;
use cellchain_core::Bytes;
use cellchain_sdk::{
    ChaincodeDefinition, ChaincodePackage, CollectionConfig, ConnectionProfile, EndorsementPolicy,
    Gateway, GatewayOptions, Identity, SubmitResult,
};
use serde_json::Value;

use crate::support::*;

/// The kitchen-sink test contract, built to wasm (once per test binary).
pub fn kitchen_sink_wasm() -> std::path::PathBuf {
    cellchain_chaincode_build::build_contract(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../chaincode/test-contracts/kitchen-sink"),
    )
    .expect("kitchen-sink builds")
    .wasm_path
}

/// The kitchen-sink contract as a chaincode package file.
pub fn kitchen_sink_package() -> Vec<u8> {
    let wasm = std::fs::read(kitchen_sink_wasm()).unwrap();
    ChaincodePackage::new("kitchen-sink_0.1", "kitchen-sink", "0.1.0", wasm)
        .unwrap()
        .to_bytes()
}

/// The usual two-organisation network: three orderers, a committer and an
/// endorser for each of Org1 and Org2 on `CHANNEL`, started, with both
/// replicas holding the genesis block. Returns the committers' indices and the
/// endorsers (Org1's first).
pub async fn start_two_orgs(net: &mut Net) -> (usize, usize, Vec<Proc>) {
    net.start_orderers();
    let c1 = net.add_committer("committer1", "Org1MSP", &[CHANNEL], &[]);
    let c2 = net.add_committer("committer2", "Org2MSP", &[CHANNEL], &[]);
    net.wait_leader(CHANNEL).await;
    net.start_committer(c1);
    net.start_committer(c2);
    net.wait_committed(c1, CHANNEL, 1).await;
    let mut endorsers = vec![
        add_endorser(net, "endorser1", "Org1MSP", &net.peer1, c1, CHANNEL),
        add_endorser(net, "endorser2", "Org2MSP", &net.peer2, c2, CHANNEL),
    ];
    for e in &mut endorsers {
        e.start();
    }
    let all: Vec<&Proc> = endorsers.iter().collect();
    wait_until(net, &all, CHANNEL, |s| s["height"].as_u64() >= Some(1)).await;
    (c1, c2, endorsers)
}

/// An endorser process of `org` following committer `committer`, serving
/// `channel`. It has no chaincode until an admin installs one.
pub fn add_endorser(
    net: &Net,
    name: &str,
    org: &str,
    peer: &TestMember,
    committer: usize,
    channel: &str,
) -> Proc {
    let home = net.dir.path().join(name);
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(home.join("cert.pem"), &peer.id.cert).unwrap();
    std::fs::write(home.join("key.pem"), &peer.key_pem).unwrap();
    let port = free_port();
    let yaml = format!(
        "name: {name}\nlisten: 127.0.0.1:{port}\ndata_dir: data\nmsp_id: {org}\ncert: cert.pem\nkey: key.pem\ngenesis_blocks: [{}]\ncommitter: 127.0.0.1:{}\n",
        net.genesis[channel].display(),
        net.committers[committer].port,
    );
    let config = home.join("endorser.yaml");
    std::fs::write(&config, yaml).unwrap();
    Proc {
        name: name.to_string(),
        port,
        bin: workspace_bin("cellchain-endorser", "endorser"),
        config,
        log: home.join("endorser.log"),
        data: home.join("data"),
        child: None,
    }
}

/// POSTs JSON; returns the status and the JSON answer (Null if none).
pub async fn post(net: &Net, port: u16, path: &str, body: &impl serde::Serialize) -> (u16, Value) {
    let r = net
        .http
        .post(format!("http://127.0.0.1:{port}{path}"))
        .json(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// A signed proposal of `who` for chaincode `cc` on `channel`.
pub fn proposal(
    who: &TestMember,
    channel: &str,
    function: &str,
    args: Vec<Value>,
    transient: BTreeMap<String, Bytes>,
) -> (Header, SignedProposal) {
    let header = Header::new(channel, who.id.clone(), random_nonce(), now());
    let p = Proposal {
        header: header.clone(),
        chaincode: CC.into(),
        function: function.into(),
        args,
        transient_digest: None,
    };
    (
        header,
        SignedProposal::sign(p, transient, who.signer.as_ref()).unwrap(),
    )
}

/// Endorses `signed` at `endorser`, expecting success.
pub async fn endorse(
    net: &Net,
    endorser: &Proc,
    channel: &str,
    signed: &SignedProposal,
) -> ProposalResponse {
    let (status, body) = post(
        net,
        endorser.port,
        &format!("/v1/channels/{channel}/endorse"),
        signed,
    )
    .await;
    assert_eq!(
        status,
        200,
        "{}: {body}\n{}",
        endorser.name,
        std::fs::read_to_string(&endorser.log).unwrap_or_default()
    );
    let response: ProposalResponse = serde_json::from_value(body).unwrap();
    assert_eq!(response.response.status, 200, "{:?}", response.response);
    response
}

/// The envelope of `signed`, endorsed by `responses` (which agree), signed by `who`.
pub fn envelope(
    who: &TestMember,
    header: Header,
    signed: &SignedProposal,
    responses: Vec<ProposalResponse>,
) -> Envelope {
    let payload = responses[0].payload.clone().expect("payload");
    let endorsements = responses
        .into_iter()
        .map(|r| {
            assert_eq!(r.payload.as_ref(), Some(&payload), "endorsers agree");
            r.endorsement.expect("endorsed")
        })
        .collect();
    Envelope::sign(
        &Payload {
            header,
            data: PayloadData::Endorser(EndorserTransaction {
                proposal: signed.proposal.clone(),
                response_payload: payload,
                endorsements,
            }),
        },
        who.signer.as_ref(),
    )
    .unwrap()
}

/// Waits until every endorser's status of `channel` satisfies `ok`.
pub async fn wait_until(
    net: &Net,
    endorsers: &[&Proc],
    channel: &str,
    ok: impl Fn(&Value) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(60);
    for e in endorsers {
        loop {
            let status = net
                .http
                .get(format!(
                    "http://127.0.0.1:{}/v1/channels/{channel}/status",
                    e.port
                ))
                .send()
                .await;
            if let Ok(r) = status {
                if let Ok(v) = r.json::<Value>().await {
                    if ok(&v) {
                        break;
                    }
                }
            }
            assert!(
                Instant::now() < deadline,
                "{} did not get there:\n{}",
                e.name,
                std::fs::read_to_string(&e.log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Kills endorser processes (the committers and orderers stop with the `Net`).
pub fn kill_all(endorsers: Vec<Proc>) {
    for mut e in endorsers {
        if let Some(mut c) = e.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The admin of `org`.
pub fn admin<'a>(net: &'a Net, org: &str) -> &'a TestMember {
    &net.admins[org]
}

/// The SDK identity of a test member.
pub fn sdk_identity(m: &TestMember) -> Identity {
    let signer = signer_from_pkcs8_pem(default_provider(), &m.key_pem).unwrap();
    Identity::new(m.id.clone(), Arc::from(signer))
}

/// One organisation's nodes, as a connection profile lists them.
pub struct OrgNodes<'a> {
    pub msp_id: &'a str,
    pub endorsers: Vec<&'a Proc>,
    pub committers: Vec<usize>,
}

/// The connection profile of `orgs` and every orderer of `net`; nodes are
/// named as their processes.
pub fn profile(net: &Net, orgs: &[OrgNodes<'_>]) -> ConnectionProfile {
    let node = |name: &str, port: u16| format!("{{name: {name}, address: '127.0.0.1:{port}'}}");
    let mut yaml = String::from("name: e2e\norganizations:\n");
    for o in orgs {
        let endorsers: Vec<String> = o.endorsers.iter().map(|e| node(&e.name, e.port)).collect();
        let committers: Vec<String> = o
            .committers
            .iter()
            .map(|c| node(&net.committers[*c].name, net.committers[*c].port))
            .collect();
        yaml += &format!(
            "  - msp_id: {}\n    endorsers: [{}]\n    committers: [{}]\n",
            o.msp_id,
            endorsers.join(", "),
            committers.join(", ")
        );
    }
    let orderers: Vec<String> = net.orderers.iter().map(|o| node(&o.name, o.port)).collect();
    yaml += &format!("orderers: [{}]\n", orderers.join(", "));
    ConnectionProfile::parse(&yaml, "e2e profile").unwrap()
}

/// A gateway of `who` over `profile`.
pub fn gateway(who: &TestMember, profile: &ConnectionProfile) -> Gateway {
    let options = GatewayOptions {
        commit_timeout: Duration::from_secs(30),
        ..GatewayOptions::default()
    };
    Gateway::connect_with(sdk_identity(who), profile.clone(), options).unwrap()
}

/// A definition of chaincode `cc` for the module of `package`.
pub fn chaincode_definition(
    package: &[u8],
    version: &str,
    sequence: u64,
    policy: EndorsementPolicy,
    collections: Vec<CollectionConfig>,
) -> ChaincodeDefinition {
    ChaincodeDefinition {
        name: CC.into(),
        version: version.into(),
        sequence,
        wasm_hash: ChaincodePackage::from_bytes(package).unwrap().wasm_sha256,
        endorsement_policy: policy,
        collections,
    }
}

/// A signature endorsement policy.
pub fn signature(policy: &str) -> EndorsementPolicy {
    EndorsementPolicy::Signature(policy.parse().unwrap())
}

/// Waits until every endorser of `orgs` has block `block` of `channel`.
pub async fn wait_block(net: &Net, orgs: &[OrgNodes<'_>], channel: &str, block: u64) {
    let all: Vec<&Proc> = orgs.iter().flat_map(|o| o.endorsers.clone()).collect();
    wait_until(net, &all, channel, |s| s["height"].as_u64() > Some(block)).await;
}

/// Deploys `def` on `channel` the way organisations do, through the SDK: each
/// organisation's admin installs `package` on its endorsers and approves `def`;
/// then the first organisation's admin commits it. Returns once every endorser
/// has the commit's block. Panics with the nodes' logs on any error.
pub async fn deploy(
    net: &Net,
    orgs: &[OrgNodes<'_>],
    channel: &str,
    package: &[u8],
    def: &ChaincodeDefinition,
) -> SubmitResult {
    let profile = profile(net, orgs);
    let fail =
        |what: &str, e: cellchain_sdk::SdkError| -> ! { panic!("{what}: {e}\n{}", net.logs()) };
    for o in orgs {
        let admin = gateway(admin(net, o.msp_id), &profile);
        if let Err(e) = admin.install(package).await {
            fail(&format!("install by {}", o.msp_id), e)
        }
        let approved = admin
            .network(channel)
            .lifecycle()
            .approve(def)
            .await
            .unwrap_or_else(|e| fail(&format!("approve by {}", o.msp_id), e));
        wait_block(net, orgs, channel, approved.block).await;
    }
    let admin = gateway(admin(net, orgs[0].msp_id), &profile);
    let done = admin
        .network(channel)
        .lifecycle()
        .commit(def)
        .await
        .unwrap_or_else(|e| fail("commit", e));
    wait_block(net, orgs, channel, done.block).await;
    done
}

/// Writes a new genesis block of the shared test channel in which Org3 is a
/// writing (endorsing) member like Org1 and Org2: its `LifecycleEndorsement`
/// and `Endorsement` policies (MAJORITY Endorsement) then need 2 of the 3.
/// The orderers, committers and endorsers read it from the same file, so call
/// it before starting any of them.
pub fn make_org3_a_writer(net: &Net) {
    let orgs = ["Org1MSP", "Org2MSP", "Org3MSP"];
    let orderer_org = |i: usize| if i % 2 == 0 { "Org1MSP" } else { "Org2MSP" };
    let mut yaml = String::from("name: committer-test\norganizations:\n");
    for o in orgs {
        yaml += &format!(
            "  - msp_id: {o}\n    name: {o}\n    read_only: false\n    users:\n      - {{ name: admin, role: admin }}\n"
        );
    }
    yaml += "orderers:\n";
    for (i, o) in net.orderers.iter().enumerate() {
        yaml += &format!(
            "  - {{ name: {}, org: {}, host: 127.0.0.1, port: {} }}\n",
            o.name,
            orderer_org(i),
            o.port
        );
    }
    let consenters: Vec<&str> = net.orderers.iter().map(|o| o.name.as_str()).collect();
    yaml += &format!(
        "channels:\n  - name: {CHANNEL}\n    organizations: [Org1MSP, Org2MSP, Org3MSP]\n    consenters: [{}]\n    batch:\n      max_message_count: 50\n      preferred_max_bytes: 512 KiB\n      absolute_max_bytes: 1 MiB\n      batch_timeout: 300ms\n    raft:\n      tick_interval: 100ms\n      election_tick: 10\n      heartbeat_tick: 1\n      snapshot_interval_size: 16 MiB\n",
        consenters.join(", ")
    );
    let config = NetworkConfig::from_yaml(&yaml).expect("the three-writer network is valid");
    let mut materials = Materials::default();
    for o in orgs {
        materials.orgs.insert(
            o.to_string(),
            OrgMaterial {
                ca_certs: vec![net.cas[o].pem()],
                crls: vec![],
            },
        );
    }
    for (o, id) in net.orderers.iter().zip(&net.orderer_ids) {
        materials
            .orderer_certs
            .insert(o.name.clone(), id.id.cert.clone());
    }
    let t = now();
    let cfg = config
        .channel_config(CHANNEL, &materials, t.seconds)
        .unwrap();
    let signers: Vec<ConfigSigner> = orgs
        .iter()
        .map(|o| admin(net, o))
        .map(|a| ConfigSigner {
            identity: a.id.clone(),
            signer: a.signer.as_ref(),
        })
        .collect();
    let block =
        create_genesis_block(&cfg, &signers, default_provider(), t, random_nonce()).unwrap();
    std::fs::write(&net.genesis[CHANNEL], block_to_json(&block).0).unwrap();
}
