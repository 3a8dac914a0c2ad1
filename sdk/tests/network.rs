//! The SDK against a real network: three Raft orderers, a committer and an
//! endorser for each of Org1 and Org2, chaincode `cc` (the kitchen-sink
//! contract) deployed through the SDK's lifecycle (each organisation's admin
//! installs and approves, Org1's commits) and endorsed by `AND(Org1, Org2)`,
//! a policy the SDK reads from the ledger. The client is Org1's `app1`; the
//! profile also lists an unreachable endorser and orderer, which the SDK must
//! step over. A second network endorses `cc` with `OR(Org1, Org2)` and a
//! key-level policy `AND(Org1, Org2)` on one key, which the SDK learns from the
//! endorsers.

#[path = "../../tests/tests/common/mod.rs"]
mod common;
#[path = "../../committer/tests/support/mod.rs"]
mod support;

use std::time::Duration;

use cellchain_sdk::{
    ConnectionProfile, Gateway, GatewayOptions, Identity, SdkError, TxValidationCode,
};
use common::*;
use serde_json::json;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sdk_submits_evaluates_reports_conflicts_and_follows_events() {
    let mut net = Net::new();
    let (c1, c2, endorsers) = start_two_orgs(&mut net).await;
    deploy_cc(&net, &endorsers, c1, c2, POLICY).await;

    // The client's files and connection profile, as an application has them.
    let home = net.dir.path().join("app1");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(home.join("cert.pem"), &net.client1.id.cert).unwrap();
    std::fs::write(home.join("key.pem"), &net.client1.key_pem).unwrap();
    let identity =
        Identity::from_files("Org1MSP", home.join("cert.pem"), home.join("key.pem")).unwrap();
    let dead = free_port();
    let orderers: Vec<String> = net
        .orderers
        .iter()
        .map(|o| format!("127.0.0.1:{}", o.port))
        .collect();
    let profile = format!(
        "name: sdk-test
organizations:
  - msp_id: Org1MSP
    endorsers: [{{name: dead-endorser, address: '127.0.0.1:{dead}'}}, {{name: endorser1, address: '127.0.0.1:{}'}}]
    committers: [{{name: committer1, address: '127.0.0.1:{}'}}]
  - msp_id: Org2MSP
    endorsers: [{{name: endorser2, address: '127.0.0.1:{}'}}]
    committers: [{{name: committer2, address: '127.0.0.1:{}'}}]
orderers: ['127.0.0.1:{dead}', {}]
",
        endorsers[0].port,
        net.committers[c1].port,
        endorsers[1].port,
        net.committers[c2].port,
        orderers.join(", "),
    );
    std::fs::write(home.join("connection.yaml"), profile).unwrap();
    let profile = ConnectionProfile::from_file(home.join("connection.yaml")).unwrap();
    let options = GatewayOptions {
        commit_timeout: Duration::from_secs(30),
        ..GatewayOptions::default()
    };
    let gateway = Gateway::connect_with(identity, profile, options).unwrap();
    let network = gateway.network(CHANNEL);
    let contract = network.contract(CC);
    assert_eq!(
        contract
            .plan()
            .await
            .unwrap_or_else(or_logs(&net))
            .msp_ids(),
        ["Org1MSP", "Org2MSP"],
        "planned from the committed definition's policy"
    );

    // 1. Submit: endorsed by both organisations, ordered, committed valid.
    let done = contract
        .submit("put", vec![json!("sdk-key"), json!("sdk-value")])
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", net.logs()));
    assert!(done.block >= 1);
    let status = net.wait_tx(c2, CHANNEL, done.tx_id).await;
    assert_eq!(status["code"]["name"], "VALID", "{status}");

    // 2. Evaluate on Org1's endorser: it reads the write just committed (the
    //    SDK waits for an endorser whose ledger has the block).
    let value = contract
        .evaluate("get", vec![json!("sdk-key")])
        .await
        .unwrap();
    assert_eq!(value, br#""sdk-value""#);

    // 3. A chaincode error is typed and names the endorser.
    match contract.evaluate("no_such_function", vec![]).await {
        Err(SdkError::Chaincode {
            endorser, message, ..
        }) => {
            assert_eq!(endorser, "endorser1");
            assert!(message.contains("unknown function"), "{message}");
        }
        other => panic!("expected a chaincode error, got {other:?}"),
    }

    // 4. Two read-modify-writes of the same keys, both endorsed before either is
    //    ordered: the first commits, the second is an MVCC read conflict.
    let first = contract
        .endorse("rw10", vec![json!("mvcc"), json!("a")])
        .await
        .unwrap();
    let second = contract
        .endorse("rw10", vec![json!("mvcc"), json!("b")])
        .await
        .unwrap();
    assert_eq!(first.endorsers(), ["endorser1", "endorser2"]);
    let first = first.submit().await.unwrap();
    let second = second.submit().await.unwrap();
    let ok = first.status().await.unwrap();
    assert_eq!(ok.payload, b"0", "no key existed before");
    match second.status().await {
        Err(SdkError::Invalid { tx_id, code, block }) => {
            assert_eq!(tx_id, second.tx_id());
            assert_eq!(code, TxValidationCode::MvccReadConflict);
            assert!(block >= ok.block);
        }
        other => panic!("expected an MVCC conflict, got {other:?}"),
    }

    // 5. submit_async, then chaincode events with a checkpoint file: a listener
    //    restarted from the file resumes after the last event it handled.
    let c1 = contract
        .submit_async("emit", vec![json!("evt1"), json!({"n": 1})])
        .await
        .unwrap();
    let c2 = contract
        .submit_async("emit", vec![json!("evt2"), json!({"n": 2})])
        .await
        .unwrap();
    c1.status().await.unwrap();
    c2.status().await.unwrap();
    let checkpoint = home.join("events.checkpoint");
    let mut events = network
        .chaincode_events(CC, 0)
        .with_checkpoint_file(&checkpoint)
        .unwrap();
    let e1 = events.next().await.unwrap().unwrap();
    assert_eq!((e1.event.name.as_str(), e1.tx_id), ("evt1", c1.tx_id()));
    events.commit().unwrap();
    drop(events);
    let mut events = network
        .chaincode_events(CC, 0)
        .with_checkpoint_file(&checkpoint)
        .unwrap();
    let e2 = events.next().await.unwrap().unwrap();
    assert_eq!((e2.event.name.as_str(), e2.tx_id), ("evt2", c2.tx_id()));
    assert_eq!(e2.event.payload.0, br#"{"n":2}"#);

    let mut blocks = network.block_events(0);
    let genesis = blocks.next().await.unwrap().unwrap();
    assert_eq!(genesis.header.number, 0);
    let next = blocks.next().await.unwrap().unwrap();
    assert_eq!(next.header.number, 1);
    assert_eq!(blocks.checkpoint().block, 2);

    kill_all(endorsers);
}

/// Panics with the error and the nodes' logs.
fn or_logs<T>(net: &Net) -> impl FnOnce(SdkError) -> T + '_ {
    move |e| panic!("{e}\n{}", net.logs())
}

/// `cc` on the test channel endorsed by both organisations.
const POLICY: &str = "AND('Org1MSP.peer', 'Org2MSP.peer')";

/// `cc` on the test channel endorsed by either organisation.
const OR_POLICY: &str = "OR('Org1MSP.peer', 'Org2MSP.peer')";

/// Deploys the kitchen-sink contract as `cc` with `policy`, through the SDK's
/// lifecycle, on the endorsers and committers of Org1 and Org2.
async fn deploy_cc(net: &Net, endorsers: &[Proc], c1: usize, c2: usize, policy: &str) {
    let package = kitchen_sink_package();
    let orgs = [
        OrgNodes {
            msp_id: "Org1MSP",
            endorsers: vec![&endorsers[0]],
            committers: vec![c1],
        },
        OrgNodes {
            msp_id: "Org2MSP",
            endorsers: vec![&endorsers[1]],
            committers: vec![c2],
        },
    ];
    let def = chaincode_definition(&package, "1.0", 1, signature(policy), vec![]);
    deploy(net, &orgs, CHANNEL, &package, &def).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sdk_asks_the_further_endorsers_a_key_level_policy_needs() {
    let mut net = Net::new();
    let (c1, c2, endorsers) = start_two_orgs(&mut net).await;
    let all: Vec<&Proc> = endorsers.iter().collect();
    deploy_cc(&net, &endorsers, c1, c2, OR_POLICY).await;

    let home = net.dir.path().join("app1");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(home.join("cert.pem"), &net.client1.id.cert).unwrap();
    std::fs::write(home.join("key.pem"), &net.client1.key_pem).unwrap();
    let identity =
        Identity::from_files("Org1MSP", home.join("cert.pem"), home.join("key.pem")).unwrap();
    let orderers: Vec<String> = net
        .orderers
        .iter()
        .map(|o| format!("127.0.0.1:{}", o.port))
        .collect();
    let profile = ConnectionProfile::parse(
        &format!(
            "name: sdk-key-policy-test
organizations:
  - msp_id: Org1MSP
    endorsers: [{{name: endorser1, address: '127.0.0.1:{}'}}]
    committers: [{{name: committer1, address: '127.0.0.1:{}'}}]
  - msp_id: Org2MSP
    endorsers: [{{name: endorser2, address: '127.0.0.1:{}'}}]
    committers: [{{name: committer2, address: '127.0.0.1:{}'}}]
orderers: [{}]
",
            endorsers[0].port,
            net.committers[c1].port,
            endorsers[1].port,
            net.committers[c2].port,
            orderers.join(", "),
        ),
        "key-policy profile",
    )
    .unwrap();
    let options = GatewayOptions {
        commit_timeout: Duration::from_secs(20),
        ..GatewayOptions::default()
    };
    let gateway = Gateway::connect_with(identity, profile, options).unwrap();
    let contract = gateway.network(CHANNEL).contract(CC);
    assert_eq!(
        contract
            .plan()
            .await
            .unwrap_or_else(or_logs(&net))
            .msp_ids(),
        ["Org1MSP"]
    );

    // The key and its policy, set by Org1 alone: the key has no policy yet,
    // so the chaincode's OR governs the write.
    let and = "AND('Org1MSP.peer', 'Org2MSP.peer')";
    let set = contract
        .clone()
        .with_endorsing_orgs(["Org1MSP"])
        .submit("set_key_policy", vec![json!("guarded"), json!(and)])
        .await
        .unwrap_or_else(or_logs(&net));
    // Both endorsers must have the policy before simulating again.
    wait_until(&net, &all, CHANNEL, |s| {
        s["height"].as_u64() > Some(set.block)
    })
    .await;

    // A plain write of the key, planned from OR: the endorsers report the
    // key's policy and the SDK asks Org2 too.
    let tx = contract
        .endorse("put", vec![json!("guarded"), json!("x")])
        .await
        .unwrap_or_else(or_logs(&net));
    assert_eq!(tx.endorsers(), ["endorser1", "endorser2"]);
    let done = tx
        .submit()
        .await
        .unwrap_or_else(or_logs(&net))
        .status()
        .await
        .unwrap_or_else(or_logs(&net));
    let status = net.wait_tx(c2, CHANNEL, done.tx_id).await;
    assert_eq!(status["code"]["name"], "VALID", "{status}");
    let value = contract
        .evaluate("get", vec![json!("guarded")])
        .await
        .unwrap();
    assert_eq!(value, br#""x""#);

    // Another key is still endorsed by the caller's organisation alone.
    let tx = contract
        .endorse("put", vec![json!("plain"), json!("x")])
        .await
        .unwrap_or_else(or_logs(&net));
    assert_eq!(tx.endorsers(), ["endorser1"]);

    // What the SDK did before: Org1 alone fails the key's policy at commit.
    match contract
        .clone()
        .with_endorsing_orgs(["Org1MSP"])
        .submit("put", vec![json!("guarded"), json!("y")])
        .await
    {
        Err(SdkError::Invalid { code, .. }) => {
            assert_eq!(code, TxValidationCode::EndorsementPolicyFailure)
        }
        other => panic!("expected an endorsement policy failure, got {other:?}"),
    }

    kill_all(endorsers);
}
