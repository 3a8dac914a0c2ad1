//! The chaincode lifecycle through real processes and the SDK: three Raft
//! orderers, and three writing organisations (Org1, Org2, Org3) each with a
//! committer and an endorser, so that the channel's `LifecycleEndorsement`
//! and `Endorsement` policies (MAJORITY Endorsement) need 2 of the 3. A
//! fourth endorser, of Org1, never gets the module.
//!
//! Install; one approval is not enough to commit (the error names the
//! organisations missing); an organisation approving another policy is
//! reported with the field that differs; two matching approvals commit;
//! the definition is queried and used: `OutOf(2, ...)` is planned as two
//! organisations and the transaction is valid. An upgrade to sequence 2
//! (new version, `OR` policy): a transaction endorsed before it commits as
//! `CHAINCODE_VERSION_CONFLICT`, new ones are valid and planned as one
//! organisation, also by a client that cached the old definition. An
//! endorser without the module refuses with `chaincode_not_installed`.

mod common;
#[path = "../../committer/tests/support/mod.rs"]
mod support;

use std::collections::BTreeMap;

use cellchain_sdk::{
    ChaincodeDefinition, ChaincodePackage, Gateway, Lifecycle, SdkError, TxValidationCode,
};
use common::*;
use serde_json::json;
use support::*;

const ORGS: [&str; 3] = ["Org1MSP", "Org2MSP", "Org3MSP"];

/// Panics with the error and the nodes' logs.
fn or_logs<T>(net: &Net) -> impl FnOnce(SdkError) -> T + '_ {
    move |e| panic!("{e}\n{}", net.logs())
}

/// Approves `def` as `admin`'s organisation and waits until every endorser
/// has the approval.
async fn approve(net: &Net, orgs: &[OrgNodes<'_>], admin: &Lifecycle, def: &ChaincodeDefinition) {
    let done = admin.approve(def).await.unwrap_or_else(or_logs(net));
    wait_block(net, orgs, CHANNEL, done.block).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn chaincode_is_installed_approved_committed_upgraded_and_planned_from_the_ledger() {
    let mut net = Net::new();
    make_org3_a_writer(&net);
    net.start_orderers();
    let committers: Vec<usize> = ORGS
        .iter()
        .enumerate()
        .map(|(i, org)| net.add_committer(&format!("committer{}", i + 1), org, &[CHANNEL], &[]))
        .collect();
    net.wait_leader(CHANNEL).await;
    for c in &committers {
        net.start_committer(*c);
    }
    net.wait_committed(committers[0], CHANNEL, 1).await;
    let peer3 = net.cas["Org3MSP"].member("Org3MSP", "endorser3", "peer");
    let bare_peer = net.cas["Org1MSP"].member("Org1MSP", "endorser1b", "peer");
    let peers = [&net.peer1, &net.peer2, &peer3];
    let mut endorsers: Vec<Proc> = ORGS
        .iter()
        .enumerate()
        .map(|(i, org)| {
            let name = format!("endorser{}", i + 1);
            add_endorser(&net, &name, org, peers[i], committers[i], CHANNEL)
        })
        .collect();
    let mut bare = add_endorser(
        &net,
        "endorser1b",
        "Org1MSP",
        &bare_peer,
        committers[0],
        CHANNEL,
    );
    for e in &mut endorsers {
        e.start();
    }
    bare.start();
    let mut all: Vec<&Proc> = endorsers.iter().collect();
    all.push(&bare);
    wait_until(&net, &all, CHANNEL, |s| s["height"].as_u64() >= Some(1)).await;

    let orgs: Vec<OrgNodes> = ORGS
        .iter()
        .enumerate()
        .map(|(i, org)| OrgNodes {
            msp_id: org,
            endorsers: vec![&endorsers[i]],
            committers: vec![committers[i]],
        })
        .collect();
    let profile = profile(&net, &orgs);
    let admins: Vec<Gateway> = ORGS
        .iter()
        .map(|org| gateway(admin(&net, org), &profile))
        .collect();
    let lifecycles: Vec<Lifecycle> = admins
        .iter()
        .map(|g| g.network(CHANNEL).lifecycle())
        .collect();
    let client = gateway(&net.client1, &profile);

    // 1. Install: each organisation's admin on its own endorser; installing
    //    again is harmless and says so.
    let package = kitchen_sink_package();
    let package_id = ChaincodePackage::from_bytes(&package).unwrap().package_id();
    for g in &admins {
        let done = g.install(&package).await.unwrap_or_else(or_logs(&net));
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].package_id, package_id);
        assert!(!done[0].already_installed, "{done:?}");
    }
    let again = admins[0]
        .install(&package)
        .await
        .unwrap_or_else(or_logs(&net));
    assert!(again[0].already_installed, "{again:?}");
    assert_eq!(
        again[0].endorser,
        format!("127.0.0.1:{}", endorsers[0].port)
    );
    let installed = admins[1]
        .query_installed()
        .await
        .unwrap_or_else(or_logs(&net));
    assert_eq!(installed.len(), 1, "Org2's one endorser");
    assert_eq!(installed[0].0, format!("127.0.0.1:{}", endorsers[1].port));
    let ids: Vec<&str> = installed[0]
        .1
        .iter()
        .map(|p| p.package_id.as_str())
        .collect();
    assert_eq!(ids, [package_id.as_str()]);
    // A client is not an admin: the endorser refuses its install.
    match client.install(&package).await {
        Err(SdkError::Rejected { status, .. }) => assert_eq!(status, 403),
        other => panic!("expected a refusal of a client's install, got {other:?}"),
    }

    // 2. Sequence 1, endorsed by any two of the three organisations.
    let out_of_2 = "OutOf(2, 'Org1MSP.peer', 'Org2MSP.peer', 'Org3MSP.peer')";
    let or = "OR('Org1MSP.peer', 'Org2MSP.peer', 'Org3MSP.peer')";
    let v1 = chaincode_definition(&package, "1.0", 1, signature(out_of_2), vec![]);
    approve(&net, &orgs, &lifecycles[0], &v1).await;
    match lifecycles[0].commit(&v1).await {
        Err(SdkError::NotReady(r)) => {
            assert!(!r.ready);
            assert_eq!(r.approved, ["Org1MSP"]);
            assert_eq!(r.missing, ["Org2MSP", "Org3MSP"]);
            let text = SdkError::NotReady(r).to_string();
            assert!(text.contains("not approved by: Org2MSP, Org3MSP"), "{text}");
        }
        other => panic!("expected NotReady, got {other:?}"),
    }

    // Org3 approves another policy: reported as differing, the field named.
    let mut v1_or = v1.clone();
    v1_or.endorsement_policy = signature(or);
    approve(&net, &orgs, &lifecycles[2], &v1_or).await;
    let r = lifecycles[0]
        .check_commit_readiness(&v1)
        .await
        .unwrap_or_else(or_logs(&net));
    assert!(!r.ready, "{r}");
    assert_eq!(r.approved, ["Org1MSP"]);
    assert_eq!(r.missing, ["Org2MSP"]);
    let diffs = &r.differing["Org3MSP"];
    assert_eq!(diffs.len(), 1, "{diffs:?}");
    assert!(diffs[0].starts_with("endorsement_policy: "), "{diffs:?}");
    match lifecycles[0].commit(&v1).await {
        Err(SdkError::NotReady(r)) => {
            let text = r.to_string();
            assert!(
                text.contains("Org3MSP approved a different definition (endorsement_policy: "),
                "{text}"
            );
        }
        other => panic!("expected NotReady, got {other:?}"),
    }
    let approved = client
        .network(CHANNEL)
        .lifecycle()
        .query_approved(CC)
        .await
        .unwrap_or_else(or_logs(&net));
    assert_eq!(
        approved,
        BTreeMap::from([
            ("Org1MSP".to_string(), v1.clone()),
            ("Org3MSP".to_string(), v1_or.clone())
        ])
    );
    let lifecycle = client.network(CHANNEL).lifecycle();
    assert_eq!(
        lifecycle
            .query_committed(CC)
            .await
            .unwrap_or_else(or_logs(&net)),
        None
    );

    // Org2 approves the same: 2 of 3, ready; committed.
    approve(&net, &orgs, &lifecycles[1], &v1).await;
    let r = lifecycles[0]
        .check_commit_readiness(&v1)
        .await
        .unwrap_or_else(or_logs(&net));
    assert!(r.ready, "{r}");
    assert_eq!(r.approved, ["Org1MSP", "Org2MSP"]);
    let committed = lifecycles[0]
        .commit(&v1)
        .await
        .unwrap_or_else(or_logs(&net));
    wait_block(&net, &orgs, CHANNEL, committed.block).await;
    assert_eq!(
        lifecycle
            .query_committed(CC)
            .await
            .unwrap_or_else(or_logs(&net)),
        Some(v1.clone())
    );
    assert_eq!(
        lifecycle
            .query_committed_all()
            .await
            .unwrap_or_else(or_logs(&net)),
        std::slice::from_ref(&v1)
    );

    // 3. The client plans from the ledger: OutOf(2) is two organisations, the
    //    caller's first; the transaction is valid.
    let contract = client.network(CHANNEL).contract(CC);
    assert_eq!(
        contract
            .plan()
            .await
            .unwrap_or_else(or_logs(&net))
            .msp_ids(),
        ["Org1MSP", "Org2MSP"]
    );
    let tx = contract
        .endorse("put", vec![json!("k1"), json!("v1")])
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
    let status = net.wait_tx(committers[2], CHANNEL, done.tx_id).await;
    assert_eq!(status["code"]["name"], "VALID", "{status}");

    // A second client of Org1 that planned (and cached) sequence 1.
    let cached = gateway(&net.client1, &profile)
        .network(CHANNEL)
        .contract(CC);
    assert_eq!(
        cached.plan().await.unwrap_or_else(or_logs(&net)).msp_ids(),
        ["Org1MSP", "Org2MSP"]
    );

    // 4. Endorsed under sequence 1, ordered after the upgrade below.
    let stale = contract
        .endorse("put", vec![json!("k2"), json!("stale")])
        .await
        .unwrap_or_else(or_logs(&net));

    // Upgrade: sequence 2, version 2.0, endorsed by any one organisation.
    let v2 = chaincode_definition(&package, "2.0", 2, signature(or), vec![]);
    approve(&net, &orgs, &lifecycles[0], &v2).await;
    approve(&net, &orgs, &lifecycles[1], &v2).await;
    let upgraded = lifecycles[1]
        .commit(&v2)
        .await
        .unwrap_or_else(or_logs(&net));
    wait_block(&net, &orgs, CHANNEL, upgraded.block).await;
    assert_eq!(
        lifecycle
            .query_committed(CC)
            .await
            .unwrap_or_else(or_logs(&net)),
        Some(v2.clone())
    );

    let commit = stale.submit().await.unwrap_or_else(or_logs(&net));
    match commit.status().await {
        Err(SdkError::Invalid { code, block, .. }) => {
            assert_eq!(code, TxValidationCode::ChaincodeVersionConflict);
            assert!(block > upgraded.block);
        }
        other => panic!("expected CHAINCODE_VERSION_CONFLICT, got {other:?}"),
    }

    // A new submit is planned from sequence 2's OR: the caller's organisation.
    assert_eq!(
        contract
            .plan()
            .await
            .unwrap_or_else(or_logs(&net))
            .msp_ids(),
        ["Org1MSP"]
    );
    let tx = contract
        .endorse("put", vec![json!("k2"), json!("fresh")])
        .await
        .unwrap_or_else(or_logs(&net));
    assert_eq!(tx.endorsers(), ["endorser1"]);
    let done = tx
        .submit()
        .await
        .unwrap_or_else(or_logs(&net))
        .status()
        .await
        .unwrap_or_else(or_logs(&net));
    let status = net.wait_tx(committers[1], CHANNEL, done.tx_id).await;
    assert_eq!(status["code"]["name"], "VALID", "{status}");
    assert_eq!(
        contract
            .evaluate("get", vec![json!("k2")])
            .await
            .unwrap_or_else(or_logs(&net)),
        br#""fresh""#
    );

    // The client that cached sequence 1 learns of the upgrade from the
    // endorsers' answers, reads the definition again, and commits valid.
    let done = cached
        .submit("put", vec![json!("k3"), json!("late")])
        .await
        .unwrap_or_else(or_logs(&net));
    let status = net.wait_tx(committers[0], CHANNEL, done.tx_id).await;
    assert_eq!(status["code"]["name"], "VALID", "{status}");
    assert_eq!(
        cached.plan().await.unwrap_or_else(or_logs(&net)).msp_ids(),
        ["Org1MSP"]
    );

    // 5. An endorser without the module: `chaincode_not_installed`, naming
    //    the module's hash.
    let (_, signed) = proposal(
        &net.client1,
        CHANNEL,
        "get",
        vec![json!("k1")],
        BTreeMap::new(),
    );
    let (status, body) = post(
        &net,
        bare.port,
        &format!("/v1/channels/{CHANNEL}/endorse"),
        &signed,
    )
    .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"], "chaincode_not_installed", "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains(&v2.wasm_hash.to_hex()) && message.contains("not installed"),
        "{message}"
    );
    // Through the SDK: the endorser is stepped over, and when it is the only
    // one, the error lists why.
    let bare_only = profile_of(&net, &bare, committers[0]);
    match gateway(&net.client1, &bare_only)
        .network(CHANNEL)
        .contract(CC)
        .evaluate("get", vec![json!("k1")])
        .await
    {
        Err(SdkError::Unavailable { attempts, .. }) => {
            assert_eq!(attempts.len(), 1, "{attempts:?}");
            assert!(
                attempts[0].reason.contains("chaincode_not_installed"),
                "{attempts:?}"
            );
        }
        other => panic!("expected the endorser to be unavailable, got {other:?}"),
    }

    kill_all(endorsers);
    kill_all(vec![bare]);
}

/// A profile with one endorser of Org1 (and its committer) only.
fn profile_of(net: &Net, endorser: &Proc, committer: usize) -> cellchain_sdk::ConnectionProfile {
    profile(
        net,
        &[OrgNodes {
            msp_id: "Org1MSP",
            endorsers: vec![endorser],
            committers: vec![committer],
        }],
    )
}
