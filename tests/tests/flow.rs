//! The flow of one transaction through real processes: a client's signed
//! proposal is endorsed by the endorsers of two organisations (wasm contract,
//! state replica), assembled into an envelope, ordered by three Raft orderers,
//! validated and committed by both organisations' committers, and seen by the
//! endorsers' replicas through their committers' validated block feeds.

#[path = "../../committer/tests/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use cellchain_core::crypto::random_nonce;
use cellchain_core::protocol::{
    decode, EndorserTransaction, Envelope, Header, Payload, PayloadData, Proposal,
    ProposalResponse, ProposalResponsePayload, SignedProposal,
};
use cellchain_core::testing::TestMember;
use serde_json::{json, Value};
use support::*;

/// An endorser process of `org` following committer `committer`.
fn add_endorser(
    net: &Net,
    name: &str,
    org: &str,
    peer: &TestMember,
    committer: usize,
    wasm: &std::path::Path,
) -> Proc {
    let home = net.dir.path().join(name);
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(home.join("cert.pem"), &peer.id.cert).unwrap();
    std::fs::write(home.join("key.pem"), &peer.key_pem).unwrap();
    let port = free_port();
    let yaml = format!(
        "name: {name}\nlisten: 127.0.0.1:{port}\ndata_dir: data\nmsp_id: {org}\ncert: cert.pem\nkey: key.pem\ngenesis_blocks: [{}]\ndefinitions: {}\nchaincodes:\n  - {{channel: {CHANNEL}, name: {CC}, wasm: {}}}\ncommitter: 127.0.0.1:{}\n",
        net.genesis[CHANNEL].display(),
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

async fn post(net: &Net, port: u16, path: &str, body: &impl serde::Serialize) -> (u16, Value) {
    let r = net
        .http
        .post(format!("http://127.0.0.1:{port}{path}"))
        .json(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

fn proposal(who: &TestMember, function: &str, args: Vec<Value>) -> (Header, SignedProposal) {
    let header = Header::new(CHANNEL, who.id.clone(), random_nonce(), now());
    let p = Proposal {
        header: header.clone(),
        chaincode: CC.into(),
        function: function.into(),
        args,
        transient_digest: None,
    };
    (
        header,
        SignedProposal::sign(p, BTreeMap::new(), who.signer.as_ref()).unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_transaction_flows_from_proposal_through_endorsers_orderers_and_committers_to_the_replicas(
) {
    let mut net = Net::new();
    net.start_orderers();
    let c1 = net.add_committer("committer1", "Org1MSP", &[CHANNEL], &[]);
    let c2 = net.add_committer("committer2", "Org2MSP", &[CHANNEL], &[]);
    net.wait_leader(CHANNEL).await;
    net.start_committer(c1);
    net.start_committer(c2);
    net.wait_committed(c1, CHANNEL, 1).await;

    let built = cellchain_chaincode_build::build_contract(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../chaincode/test-contracts/kitchen-sink"),
    )
    .expect("kitchen-sink builds");
    let mut endorsers = vec![
        add_endorser(
            &net,
            "endorser1",
            "Org1MSP",
            &net.peer1,
            c1,
            &built.wasm_path,
        ),
        add_endorser(
            &net,
            "endorser2",
            "Org2MSP",
            &net.peer2,
            c2,
            &built.wasm_path,
        ),
    ];
    for e in &mut endorsers {
        e.start();
    }
    // Both replicas have the genesis block.
    wait_until(&net, &endorsers, |s| s["height"].as_u64() >= Some(1)).await;

    // 1. The client's proposal, endorsed by both organisations (AND policy).
    let (header, signed) = proposal(
        &net.client1,
        "put",
        vec![json!("flow-key"), json!("flow-value")],
    );
    let mut endorsements = Vec::new();
    let mut payloads = Vec::new();
    for e in &endorsers {
        let (status, body) = post(
            &net,
            e.port,
            &format!("/v1/channels/{CHANNEL}/endorse"),
            &signed,
        )
        .await;
        assert_eq!(
            status,
            200,
            "{}: {body}\n{}",
            e.name,
            std::fs::read_to_string(&e.log).unwrap_or_default()
        );
        let response: ProposalResponse = serde_json::from_value(body).unwrap();
        assert_eq!(response.response.status, 200);
        endorsements.push(response.endorsement.expect("endorsed"));
        payloads.push(response.payload.expect("payload"));
    }
    assert_eq!(
        payloads[0], payloads[1],
        "both endorsers simulated the same result"
    );
    let payload: ProposalResponsePayload = decode("payload", &payloads[0]).unwrap();
    assert_eq!(payload.rwset.ns_rwsets[0].writes[0].key, "flow-key");

    // 2. The envelope, ordered.
    let tx_id = header.tx_id;
    let envelope = Envelope::sign(
        &Payload {
            header,
            data: PayloadData::Endorser(EndorserTransaction {
                proposal: signed.proposal.clone(),
                response_payload: payloads[0].clone(),
                endorsements,
            }),
        },
        net.client1.signer.as_ref(),
    )
    .unwrap();
    net.broadcast(CHANNEL, &envelope).await;

    // 3. Both committers validate it as valid, at the same commit hash.
    let s1 = net.wait_tx(c1, CHANNEL, tx_id).await;
    let s2 = net.wait_tx(c2, CHANNEL, tx_id).await;
    assert_eq!(s1["code"]["name"], "VALID", "{s1}");
    assert_eq!(s1, s2);
    let height = s1["block"].as_u64().unwrap() + 1;

    // 4. The endorsers' replicas follow: a query sees the committed value, and a
    //    resubmitted proposal is refused as already committed.
    wait_until(&net, &endorsers, |s| s["height"].as_u64() >= Some(height)).await;
    for e in &endorsers {
        let (_, query) = proposal(&net.client2, "get", vec![json!("flow-key")]);
        let (status, body) = post(
            &net,
            e.port,
            &format!("/v1/channels/{CHANNEL}/evaluate"),
            &query,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let answer: ProposalResponse = serde_json::from_value(body).unwrap();
        assert_eq!(answer.response.status, 200);
        assert_eq!(answer.response.payload.0, b"\"flow-value\"", "{}", e.name);
        assert!(answer.endorsement.is_none(), "a query is not endorsed");
        let (status, body) = post(
            &net,
            e.port,
            &format!("/v1/channels/{CHANNEL}/endorse"),
            &signed,
        )
        .await;
        assert_eq!(
            status, 409,
            "{}: a committed tx id is refused: {body}",
            e.name
        );
    }
    for mut e in endorsers {
        if let Some(mut c) = e.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Waits until every endorser's channel status satisfies `ok`.
async fn wait_until(net: &Net, endorsers: &[Proc], ok: impl Fn(&Value) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    for e in endorsers {
        loop {
            let status = net
                .http
                .get(format!(
                    "http://127.0.0.1:{}/v1/channels/{CHANNEL}/status",
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
