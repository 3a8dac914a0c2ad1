//! The flow of one transaction through real processes: chaincode deployed
//! through the lifecycle, then a client's signed
//! proposal is endorsed by the endorsers of two organisations (wasm contract,
//! state replica), assembled into an envelope, ordered by three Raft orderers,
//! validated and committed by both organisations' committers, and seen by the
//! endorsers' replicas through their committers' validated block feeds.

mod common;
#[path = "../../committer/tests/support/mod.rs"]
mod support;

use std::collections::BTreeMap;

use cellchain_core::protocol::{decode, ProposalResponse, ProposalResponsePayload};
use common::*;
use serde_json::json;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_transaction_flows_from_proposal_through_endorsers_orderers_and_committers_to_the_replicas(
) {
    let mut net = Net::new();
    let (c1, c2, endorsers) = start_two_orgs(&mut net).await;
    let all: Vec<&Proc> = endorsers.iter().collect();

    // 0. Chaincode `cc` deployed through the lifecycle, endorsed by both
    //    organisations.
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
    let def = chaincode_definition(
        &package,
        "1.0",
        1,
        signature("AND('Org1MSP.peer', 'Org2MSP.peer')"),
        vec![],
    );
    deploy(&net, &orgs, CHANNEL, &package, &def).await;

    // 1. The client's proposal, endorsed by both organisations (AND policy).
    let (header, signed) = proposal(
        &net.client1,
        CHANNEL,
        "put",
        vec![json!("flow-key"), json!("flow-value")],
        BTreeMap::new(),
    );
    let mut responses = Vec::new();
    for e in &endorsers {
        responses.push(endorse(&net, e, CHANNEL, &signed).await);
    }
    let payload: ProposalResponsePayload =
        decode("payload", responses[0].payload.as_ref().unwrap()).unwrap();
    assert_eq!(payload.rwset.ns_rwsets[0].writes[0].key, "flow-key");

    // 2. The envelope (both endorsers simulated the same result), ordered.
    let tx_id = header.tx_id;
    let envelope = envelope(&net.client1, header, &signed, responses);
    net.broadcast(CHANNEL, &envelope).await;

    // 3. Both committers validate it as valid, at the same commit hash.
    let s1 = net.wait_tx(c1, CHANNEL, tx_id).await;
    let s2 = net.wait_tx(c2, CHANNEL, tx_id).await;
    assert_eq!(s1["code"]["name"], "VALID", "{s1}");
    assert_eq!(s1, s2);
    let height = s1["block"].as_u64().unwrap() + 1;

    // 4. The endorsers' replicas follow: a query sees the committed value, and a
    //    resubmitted proposal is refused as already committed.
    wait_until(&net, &all, CHANNEL, |s| {
        s["height"].as_u64() >= Some(height)
    })
    .await;
    for e in &endorsers {
        let (_, query) = proposal(
            &net.client2,
            CHANNEL,
            "get",
            vec![json!("flow-key")],
            BTreeMap::new(),
        );
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
    kill_all(endorsers);
}
