//! The built-in `_lifecycle` chaincode at the endorser: who may approve and
//! commit, the sequence rule, readiness (the text naming missing and differing
//! organisations), the queries, and definitions reaching the replica through
//! blocks, after which the endorser runs the installed module they name.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use cellchain_core::bytes::{sha256, Bytes};
use cellchain_core::lifecycle::{
    approval_key, definition_key, encode_definition, ChaincodeDefinition, EndorsementPolicy,
    Readiness, LIFECYCLE, LIFECYCLE_SEQUENCE, LIFECYCLE_VERSION,
};
use cellchain_core::protocol::{Block, KvRead, KvWrite, ProposalResponse, SignedProposal};
use cellchain_core::testing::TestMember;
use cellchain_endorser::endorse::Endorser;
use serde_json::{json, Value};
use support::*;

/// A new chaincode running kitchen-sink's module.
fn newcc(version: &str) -> ChaincodeDefinition {
    ChaincodeDefinition {
        name: "newcc".into(),
        version: version.into(),
        sequence: 1,
        wasm_hash: sha256(&kitchen_sink_wasm()),
        endorsement_policy: EndorsementPolicy::Channel("Endorsement".into()),
        collections: vec![],
    }
}

fn lc(who: &TestMember, function: &str, args: Vec<Value>) -> SignedProposal {
    sign(proposal(who, LIFECYCLE, function, args), who)
}

fn arg(def: &ChaincodeDefinition) -> Vec<Value> {
    vec![serde_json::to_value(def).unwrap()]
}

/// A chaincode error answer: status and message, nothing signed.
fn chaincode_error(r: &ProposalResponse) -> (u16, &str) {
    assert!(r.endorsement.is_none() && r.payload.is_none(), "{r:?}");
    (r.response.status, r.response.message.as_str())
}

/// Applies the next block to the endorser's replica.
fn apply(e: &Arc<Endorser>, block: &Block) {
    e.channels[CHANNEL].replica.apply_block(block).unwrap();
}

/// The seeded replica's last block is block 0, which the tests never built:
/// a stand-in with its number, for `block_of` (the replica checks the chain
/// only between blocks it applied itself).
fn block_zero(net: &Net) -> Block {
    net.validated_genesis()
}

#[tokio::test]
async fn approve_is_for_an_admin_of_the_endorsers_organisation_and_writes_its_approval() {
    let net = Net::new();
    let e = net.endorser();
    let def = newcc("1.0");
    let refusal = "approve must be sent by an admin of Org1MSP and endorsed by Org1MSP's peer";
    // A client of Org1, and Org2's admin at Org1's endorser.
    for who in [&net.client, &net.other_admin] {
        let r = endorse(&e, &lc(who, "approve", arg(&def))).await;
        assert_eq!(chaincode_error(&r), (403, refusal));
    }
    // The proposal checks still apply: a read-only organisation may not endorse.
    let (status, body) = post(
        &e,
        CHANNEL,
        "endorse",
        &lc(&net.reader, "approve", arg(&def)),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("access_denied"))
    );

    // Org1's admin: endorsed, under the built-in definition.
    let r = endorse(&e, &lc(&net.admin, "approve", arg(&def))).await;
    assert_eq!(r.response.status, 200, "{:?}", r.response);
    assert!(r.endorsement.is_some());
    assert_eq!(
        serde_json::from_slice::<ChaincodeDefinition>(&r.response.payload).unwrap(),
        def
    );
    let payload = r.parse_payload().unwrap().unwrap();
    assert_eq!(payload.chaincode.name, LIFECYCLE);
    assert_eq!(payload.chaincode.version, LIFECYCLE_VERSION);
    assert_eq!(payload.chaincode.sequence, LIFECYCLE_SEQUENCE);
    let [ns] = payload.rwset.ns_rwsets.as_slice() else {
        panic!("one namespace: {:?}", payload.rwset)
    };
    assert_eq!(ns.namespace, LIFECYCLE);
    assert_eq!(
        ns.reads,
        vec![KvRead {
            key: definition_key("newcc"),
            version: None
        }]
    );
    assert_eq!(
        ns.writes,
        vec![KvWrite {
            key: approval_key("newcc", "Org1MSP"),
            is_delete: false,
            value: Bytes(encode_definition(&def)),
        }]
    );
    // Approving the same definition again is allowed.
    let r = endorse(&e, &lc(&net.admin, "approve", arg(&def))).await;
    assert_eq!(r.response.status, 200, "{:?}", r.response);
}

#[tokio::test]
async fn a_definition_with_the_wrong_sequence_or_invalid_fields_is_refused_with_the_reason() {
    let net = Net::new();
    let e = net.endorser();
    let mut def = newcc("1.0");
    def.sequence = 2;
    let r = endorse(&e, &lc(&net.admin, "approve", arg(&def))).await;
    assert_eq!(
        chaincode_error(&r),
        (400, "chaincode newcc is at sequence 0 on this channel; the next definition must have sequence 1, not 2")
    );
    // ks is committed at sequence 3 (the seeded replica).
    let mut ks = test_definitions().remove(0);
    ks.version = "1.3".into();
    let r = endorse(&e, &lc(&net.admin, "approve", arg(&ks))).await;
    assert_eq!(
        chaincode_error(&r),
        (400, "chaincode ks is at sequence 3 on this channel; the next definition must have sequence 4, not 3")
    );
    ks.sequence = 4;
    let r = endorse(&e, &lc(&net.admin, "approve", arg(&ks))).await;
    assert_eq!(r.response.status, 200, "{:?}", r.response);
    // A collection of an organisation that is not a member.
    let mut bad = newcc("1.0");
    bad.collections =
        vec![serde_json::from_value(json!({"name": "c", "member_orgs": ["NopeMSP"]})).unwrap()];
    let r = endorse(&e, &lc(&net.admin, "approve", arg(&bad))).await;
    let (status, message) = chaincode_error(&r);
    assert_eq!(status, 400);
    assert!(
        message.contains("names NopeMSP, which is not a member"),
        "{message}"
    );
    // Not a definition at all; an unknown function.
    let r = endorse(&e, &lc(&net.admin, "approve", vec![json!({"name": "x"})])).await;
    let (status, message) = chaincode_error(&r);
    assert_eq!(status, 400);
    assert!(message.contains("not a chaincode definition"), "{message}");
    let r = endorse(&e, &lc(&net.admin, "install", vec![])).await;
    let (status, message) = chaincode_error(&r);
    assert_eq!(status, 400);
    assert!(message.contains("no function \"install\""), "{message}");
}

#[tokio::test]
async fn commit_needs_the_approvals_names_who_is_missing_or_differs_then_the_module_runs() {
    let net = Net::new();
    let e = net.endorser();
    let def = newcc("1.0");
    // Org1's approval, endorsed here and committed in block 1.
    let signed = lc(&net.admin, "approve", arg(&def));
    let r = endorse(&e, &signed).await;
    let b1 = net.block_of(
        &block_zero(&net),
        vec![net.envelope_of(&signed, &r, &net.admin)],
    );
    apply(&e, &b1);

    // Only Org1 approved: not ready, and the text says who is missing.
    let r = endorse(&e, &lc(&net.admin, "commit", arg(&def))).await;
    let (status, message) = chaincode_error(&r);
    assert_eq!(status, 400);
    assert!(message.starts_with("chaincode newcc sequence 1: approvals do not satisfy the channel's LifecycleEndorsement policy"), "{message}");
    assert!(message.contains("approved: Org1MSP"), "{message}");
    assert!(message.ends_with("; not approved by: Org2MSP"), "{message}");
    assert!(
        !message.contains("Org3MSP"),
        "read-only organisations do not approve: {message}"
    );

    // Org2 approved another version (written by its own endorsement elsewhere).
    let b2 = net.block_writing(
        &b1,
        LIFECYCLE,
        &[(
            approval_key("newcc", "Org2MSP"),
            String::from_utf8(encode_definition(&newcc("2.0"))).unwrap(),
        )],
    );
    apply(&e, &b2);
    let r = endorse(&e, &lc(&net.admin, "commit", arg(&def))).await;
    let (status, message) = chaincode_error(&r);
    assert_eq!(status, 400);
    assert!(
        message.ends_with(
            "; Org2MSP approved a different definition (version: approved 2.0, proposed 1.0)"
        ),
        "{message}"
    );
    // check_commit_readiness answers the same as JSON, with 200.
    let r = evaluate(&e, &lc(&net.client, "check_commit_readiness", arg(&def))).await;
    assert_eq!(r.response.status, 200, "{:?}", r.response);
    let readiness: Readiness = serde_json::from_slice(&r.response.payload).unwrap();
    assert!(!readiness.ready);
    assert_eq!(readiness.approved, vec!["Org1MSP".to_string()]);
    assert_eq!(
        readiness.differing,
        BTreeMap::from([(
            "Org2MSP".to_string(),
            vec!["version: approved 2.0, proposed 1.0".to_string()]
        )])
    );
    assert!(readiness.missing.is_empty());
    assert_eq!(readiness.to_string(), message);
    // query_approved shows both approvals.
    let r = evaluate(&e, &lc(&net.client, "query_approved", vec![json!("newcc")])).await;
    let approved: BTreeMap<String, ChaincodeDefinition> =
        serde_json::from_slice(&r.response.payload).unwrap();
    assert_eq!(
        approved,
        BTreeMap::from([
            ("Org1MSP".to_string(), def.clone()),
            ("Org2MSP".to_string(), newcc("2.0"))
        ])
    );

    // Org2 approves the same definition: ready.
    let b3 = net.block_writing(
        &b2,
        LIFECYCLE,
        &[(
            approval_key("newcc", "Org2MSP"),
            String::from_utf8(encode_definition(&def)).unwrap(),
        )],
    );
    apply(&e, &b3);
    let r = evaluate(&e, &lc(&net.client, "check_commit_readiness", arg(&def))).await;
    let readiness: Readiness = serde_json::from_slice(&r.response.payload).unwrap();
    assert!(readiness.ready, "{readiness}");
    // A client may not commit; an admin may.
    let r = endorse(&e, &lc(&net.client, "commit", arg(&def))).await;
    assert_eq!(
        chaincode_error(&r),
        (
            403,
            "commit must be sent by an admin of a member organisation of channel testchannel"
        )
    );
    // Not defined yet.
    let (status, body) = post(
        &e,
        CHANNEL,
        "endorse",
        &sign(
            proposal(&net.client, "newcc", "put", vec![json!("k"), json!("v")]),
            &net.client,
        ),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("chaincode_not_defined"))
    );
    let signed = lc(&net.admin, "commit", arg(&def));
    let r = endorse(&e, &signed).await;
    assert_eq!(r.response.status, 200, "{:?}", r.response);
    let payload = r.parse_payload().unwrap().unwrap();
    let ns = &payload.rwset.ns_rwsets[0];
    let read_keys: Vec<&str> = ns.reads.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(
        read_keys,
        vec![
            "approval/newcc/Org1MSP",
            "approval/newcc/Org2MSP",
            "definition/newcc"
        ]
    );
    assert_eq!(ns.writes[0].key, definition_key("newcc"));
    assert_eq!(ns.writes[0].value.0, encode_definition(&def));

    // Committed: the replica's definitions change, and the module runs.
    let b4 = net.block_of(&b3, vec![net.envelope_of(&signed, &r, &net.admin)]);
    apply(&e, &b4);
    assert_eq!(e.channels[CHANNEL].definitions().0.get("newcc"), Some(&def));
    let r = endorse(
        &e,
        &sign(
            proposal(&net.client, "newcc", "put", vec![json!("k"), json!("v")]),
            &net.client,
        ),
    )
    .await;
    assert_eq!(r.response.status, 200, "{:?}", r.response);
    let payload = r.parse_payload().unwrap().unwrap();
    assert_eq!(
        (
            payload.chaincode.name.as_str(),
            payload.chaincode.version.as_str(),
            payload.chaincode.sequence
        ),
        ("newcc", "1.0", 1)
    );
    // Committing sequence 1 again is now the wrong sequence.
    let r = endorse(&e, &lc(&net.admin, "commit", arg(&def))).await;
    let (status, message) = chaincode_error(&r);
    assert_eq!(status, 400);
    assert!(message.contains("must have sequence 2, not 1"), "{message}");
}

#[tokio::test]
async fn queries_answer_json_and_an_unknown_chaincode_is_404() {
    let net = Net::new();
    let e = net.endorser();
    let r = evaluate(&e, &lc(&net.client, "query_committed", vec![])).await;
    assert_eq!(r.response.status, 200, "{:?}", r.response);
    let all: Vec<ChaincodeDefinition> = serde_json::from_slice(&r.response.payload).unwrap();
    let mut want = test_definitions();
    want.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(all, want);
    let r = evaluate(&e, &lc(&net.reader, "query_committed", vec![json!("ks")])).await;
    assert_eq!(r.response.status, 200, "{:?}", r.response);
    let ks: ChaincodeDefinition = serde_json::from_slice(&r.response.payload).unwrap();
    assert_eq!(ks, test_definitions()[0]);
    let r = evaluate(
        &e,
        &lc(&net.client, "query_committed", vec![json!("nosuch")]),
    )
    .await;
    assert_eq!(
        (r.response.status, r.response.message.as_str()),
        (
            404,
            "chaincode nosuch is not defined on channel testchannel"
        )
    );
    let r = evaluate(&e, &lc(&net.client, "query_approved", vec![json!("ks")])).await;
    assert_eq!(
        (r.response.status, r.response.payload.0.as_slice()),
        (200, b"{}".as_slice())
    );
    let r = evaluate(&e, &lc(&net.client, "query_approved", vec![])).await;
    assert_eq!(r.response.status, 400, "{:?}", r.response);
}

#[tokio::test]
async fn definitions_reach_the_endorser_through_blocks_and_name_the_module_it_runs() {
    let net = Net::new();
    let e = net.bare_endorser();
    let put = || {
        sign(
            proposal(&net.client, KS, "put", vec![json!("k"), json!("v")]),
            &net.client,
        )
    };
    // Installed, not defined.
    let (status, body) = post(&e, CHANNEL, "endorse", &put()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("chaincode_not_defined")),
        "{body}"
    );

    let genesis = net.validated_genesis();
    apply(&e, &genesis);
    let ks = test_definitions().remove(0);
    let b1 = net.definitions_block(&genesis, std::slice::from_ref(&ks));
    apply(&e, &b1);
    let r = endorse(&e, &put()).await;
    assert_eq!(r.response.status, 200, "{:?}", r.response);
    let payload = r.parse_payload().unwrap().unwrap();
    assert_eq!(
        (
            payload.chaincode.version.as_str(),
            payload.chaincode.sequence
        ),
        ("1.2", 3)
    );
    let (_, status) = call(&e, "GET", "/v1/channels/testchannel/status", vec![]).await;
    assert_eq!(status["defined"], json!(["ks"]));

    // An upgrade to a module this endorser does not have.
    let mut upgrade = ks.clone();
    upgrade.sequence = 4;
    upgrade.version = "2.0".into();
    upgrade.wasm_hash = ghost_hash();
    let b2 = net.definitions_block(&b1, std::slice::from_ref(&upgrade));
    apply(&e, &b2);
    let (status, body) = post(&e, CHANNEL, "endorse", &put()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("chaincode_not_installed")),
        "{body}"
    );
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("chaincode ks sequence 4 needs the module with SHA-256"),
        "{body}"
    );
    let (_, status) = call(&e, "GET", "/v1/channels/testchannel/status", vec![]).await;
    assert_eq!(status["chaincodes"], json!([]));

    // Back to kitchen-sink's module at sequence 5: it runs again.
    let mut back = upgrade.clone();
    back.sequence = 5;
    back.wasm_hash = sha256(&kitchen_sink_wasm());
    let b3 = net.definitions_block(&b2, std::slice::from_ref(&back));
    apply(&e, &b3);
    let r = endorse(&e, &put()).await;
    let payload = r.parse_payload().unwrap().unwrap();
    assert_eq!(
        (
            payload.chaincode.version.as_str(),
            payload.chaincode.sequence
        ),
        ("2.0", 5)
    );
}
