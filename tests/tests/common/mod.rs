//! Endorser processes, proposals and waiting, shared by the end-to-end tests
//! (the orderer and committer topology is `committer/tests/support`).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use cellchain_core::crypto::random_nonce;
use cellchain_core::protocol::{
    EndorserTransaction, Envelope, Header, Payload, PayloadData, Proposal, ProposalResponse,
    SignedProposal,
};
use cellchain_core::testing::TestMember;
use cellchain_core::Bytes;
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

/// An endorser process of `org` following committer `committer`, running `wasm`
/// as chaincode `cc` on `channel`.
pub fn add_endorser(
    net: &Net,
    name: &str,
    org: &str,
    peer: &TestMember,
    committer: usize,
    channel: &str,
    wasm: &Path,
) -> Proc {
    let home = net.dir.path().join(name);
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(home.join("cert.pem"), &peer.id.cert).unwrap();
    std::fs::write(home.join("key.pem"), &peer.key_pem).unwrap();
    let port = free_port();
    let yaml = format!(
        "name: {name}\nlisten: 127.0.0.1:{port}\ndata_dir: data\nmsp_id: {org}\ncert: cert.pem\nkey: key.pem\ngenesis_blocks: [{}]\ndefinitions: {}\nchaincodes:\n  - {{channel: {channel}, name: {CC}, wasm: {}}}\ncommitter: 127.0.0.1:{}\n",
        net.genesis[channel].display(),
        net.definitions.display(),
        wasm.display(),
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
