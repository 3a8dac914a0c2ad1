//! Endorsing real contracts built to wasm: the read/write set, the response and
//! a signature that verifies; contract errors, traps and fuel exhaustion as
//! unsigned error responses while the endorser keeps serving; evaluate; private
//! data kept off the response.

mod support;

use std::collections::BTreeMap;

use cellchain_core::bytes::{sha256, Bytes};
use cellchain_core::crypto::default_provider;
use cellchain_core::protocol::{signing, KeyPolicy, KvWrite, ProposalResponse, Version};
use cellchain_endorser::checks::Mode;
use serde_json::json;
use support::*;

/// Checks the endorsement the way a committer would: a valid peer of the
/// channel whose signature over the payload bytes verifies.
fn assert_endorsement_verifies(net: &Net, r: &ProposalResponse) {
    let payload = r.payload.as_ref().expect("a payload");
    let e = r.endorsement.as_ref().expect("an endorsement");
    assert_eq!(e.endorser, net.peer.id);
    let msps = net.config.msp_set().unwrap();
    let peer = msps
        .validate(&e.endorser, cellchain_endorser::endorse::now().seconds)
        .unwrap();
    default_provider()
        .verify(
            &peer.public_key,
            &signing::endorsement_message(payload, &e.endorser),
            &e.signature,
        )
        .expect("the endorsement signature verifies");
    // And not for other bytes.
    let mut other = payload.0.clone();
    other.push(b' ');
    assert!(default_provider()
        .verify(
            &peer.public_key,
            &signing::endorsement_message(&other, &e.endorser),
            &e.signature
        )
        .is_err());
}

#[tokio::test]
async fn a_put_is_endorsed_with_its_write_set_and_a_signature_that_verifies() {
    let net = Net::new();
    let e = net.endorser();
    let p = proposal(&net.client, KS, "put", vec![json!("color"), json!("blue")]);
    let signed = sign(p, &net.client);
    let r = endorse(&e, &signed).await;
    assert_eq!(r.response.status, 200, "{:?}", r.response);
    // The seeded replica: block 0 holds the definitions.
    assert_eq!(r.ledger_height, 1);
    assert_endorsement_verifies(&net, &r);
    let payload = r.parse_payload().unwrap().unwrap();
    assert_eq!(payload.proposal_hash, sha256(&signed.proposal));
    assert_eq!(payload.chaincode.name, KS);
    assert_eq!(payload.chaincode.version, "1.2");
    assert_eq!(payload.chaincode.sequence, 3);
    assert_eq!(payload.response, r.response);
    let [ns] = payload.rwset.ns_rwsets.as_slice() else {
        panic!("one namespace: {:?}", payload.rwset)
    };
    assert_eq!(ns.namespace, KS);
    assert!(ns.reads.is_empty());
    assert_eq!(
        ns.writes,
        vec![KvWrite {
            key: "color".into(),
            is_delete: false,
            value: Bytes(b"blue".to_vec()),
        }]
    );
    assert_eq!(e.metrics.outcome(CHANNEL, Mode::Propose, "endorsed"), 1);
}

#[tokio::test]
async fn events_and_reads_of_committed_state_go_into_the_payload() {
    let net = Net::new();
    let e = net.endorser();
    let replica = &e.channels[CHANNEL].replica;
    let genesis = net.validated_genesis();
    replica.apply_block(&genesis).unwrap();
    let b1 = net.block_writing(&genesis, KS, &[("k".into(), "committed".into())]);
    replica.apply_block(&b1).unwrap();

    // read_own_write puts, then reads: it sees the committed value, with its version.
    let p = proposal(
        &net.client,
        KS,
        "read_own_write",
        vec![json!("k"), json!("new")],
    );
    let r = endorse(&e, &sign(p, &net.client)).await;
    assert_eq!(r.ledger_height, 2);
    assert_eq!(r.response.payload.0, br#""committed""#);
    let payload = r.parse_payload().unwrap().unwrap();
    let ns = &payload.rwset.ns_rwsets[0];
    assert_eq!(ns.reads[0].version, Some(Version { block: 1, tx: 0 }));
    assert_eq!(ns.writes[0].value.0, b"new");

    let p = proposal(
        &net.client,
        KS,
        "emit",
        vec![json!("shipped"), json!({"n": 1})],
    );
    let r = endorse(&e, &sign(p, &net.client)).await;
    let payload = r.parse_payload().unwrap().unwrap();
    assert_eq!(payload.events.len(), 1);
    assert_eq!(payload.events[0].name, "shipped");
    assert_eq!(payload.events[0].chaincode, KS);
}

#[tokio::test]
async fn a_contract_error_is_an_unsigned_response_with_its_status() {
    let net = Net::new();
    let e = net.endorser();
    let p = proposal(&net.client, KS, "fail", vec![json!("no stock")]);
    let r = endorse(&e, &sign(p, &net.client)).await;
    assert_eq!(r.response.status, 400, "{:?}", r.response);
    assert!(r.response.message.contains("no stock"), "{:?}", r.response);
    assert!(r.payload.is_none() && r.endorsement.is_none());
    // An unknown function is the contract's refusal too.
    let p = proposal(&net.client, KS, "no_such_function", vec![]);
    let r = endorse(&e, &sign(p, &net.client)).await;
    assert!(!r.response.is_success(), "{:?}", r.response);
    assert!(r.endorsement.is_none());
    assert_eq!(
        e.metrics.outcome(CHANNEL, Mode::Propose, "chaincode_error"),
        2
    );
}

#[tokio::test]
async fn hostile_contracts_fail_with_500_and_the_endorser_keeps_serving() {
    let net = Net::new();
    let e = net.endorser();
    for (function, expect) in [
        ("trap", "trapped"),
        ("spin", "ran out of fuel"),
        ("panic_message", "panicked"),
        ("huge_value", "limit"),
        ("deep", ""),
    ] {
        let p = proposal(&net.client, HOSTILE, function, vec![]);
        let r = endorse(&e, &sign(p, &net.client)).await;
        assert_eq!(r.response.status, 500, "{function}: {:?}", r.response);
        assert!(
            r.response.message.contains(expect),
            "{function}: {}",
            r.response.message
        );
        assert!(r.payload.is_none() && r.endorsement.is_none(), "{function}");
    }
    // Still serving, the hostile contract included.
    let p = proposal(&net.client, HOSTILE, "ping", vec![]);
    assert_eq!(
        evaluate(&e, &sign(p, &net.client)).await.response.status,
        200
    );
    let p = proposal(&net.client, KS, "put", vec![json!("k"), json!("v")]);
    assert!(endorse(&e, &sign(p, &net.client))
        .await
        .endorsement
        .is_some());
}

#[tokio::test]
async fn evaluate_runs_read_only_and_signs_nothing() {
    let net = Net::new();
    let e = net.endorser();
    let p = proposal(&net.client, KS, "echo", vec![json!({"a": [1, 2]})]);
    let r = evaluate(&e, &sign(p, &net.client)).await;
    assert_eq!(r.response.status, 200);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&r.response.payload).unwrap(),
        json!({"a": [1, 2]})
    );
    assert!(r.payload.is_none() && r.endorsement.is_none());
    // A writing function evaluated: answered, nothing to order.
    let p = proposal(&net.client, KS, "put", vec![json!("k"), json!("v")]);
    let r = evaluate(&e, &sign(p, &net.client)).await;
    assert_eq!(r.response.status, 200);
    assert!(r.payload.is_none() && r.endorsement.is_none());
    assert_eq!(e.metrics.outcome(CHANNEL, Mode::Evaluate, "evaluated"), 2);
}

#[tokio::test]
async fn private_writes_are_hashed_in_the_payload_and_kept_aside_by_tx_id() {
    let net = Net::new();
    let e = net.endorser();
    let secret = b"patient 42: HLA-A*02:01".to_vec();
    let transient: BTreeMap<String, Bytes> = [("value".to_string(), Bytes(secret.clone()))].into();
    let p = proposal(
        &net.client,
        KS,
        "put_private",
        vec![json!("secret"), json!("p42")],
    );
    let tx_id = p.header.tx_id;
    let r = endorse(&e, &sign_with_transient(p, transient, &net.client)).await;
    assert_eq!(r.response.status, 200, "{:?}", r.response);
    assert_endorsement_verifies(&net, &r);
    let payload_bytes = r.payload.clone().unwrap().0;
    assert!(
        !payload_bytes.windows(secret.len()).any(|w| w == secret),
        "the private value must not be in the payload"
    );
    let payload = r.parse_payload().unwrap().unwrap();
    let coll = &payload.rwset.ns_rwsets[0].collections[0];
    assert_eq!(coll.collection, "secret");
    assert_eq!(coll.hashed_writes[0].key_hash, sha256(b"p42"));
    assert_eq!(coll.hashed_writes[0].value_hash, Some(sha256(&secret)));
    let kept = e.private.get(&tx_id).expect("private writes kept");
    assert_eq!(kept.chaincode, KS);
    assert_eq!(kept.writes["secret"]["p42"], Some(secret));
}

#[tokio::test]
async fn the_committed_key_level_policies_of_written_keys_are_reported_outside_the_payload() {
    let net = Net::new();
    let e = net.endorser();
    let replica = &e.channels[CHANNEL].replica;
    let genesis = net.validated_genesis();
    replica.apply_block(&genesis).unwrap();
    let and = "AND('Org1MSP.peer', 'Org2MSP.peer')";

    // A key's first policy: the chaincode policy governs it, nothing reported.
    let set = sign(
        proposal(
            &net.client,
            KS,
            "set_key_policy",
            vec![json!("guarded"), json!(and)],
        ),
        &net.client,
    );
    let r = endorse(&e, &set).await;
    assert_eq!(r.response.status, 200, "{:?}", r.response);
    assert!(r.key_policies.is_empty(), "{:?}", r.key_policies);
    let json = serde_json::to_value(&r).unwrap();
    assert!(json.get("key_policies").is_none(), "{json}");
    let put = sign(
        proposal(&net.client, KS, "put", vec![json!("guarded"), json!("v")]),
        &net.client,
    );
    let written = endorse(&e, &put).await;
    let b1 = net.block_of(
        &genesis,
        vec![
            net.envelope_of(&put, &written, &net.client),
            net.envelope_of(&set, &r, &net.client),
        ],
    );
    replica.apply_block(&b1).unwrap();

    let expected = vec![KeyPolicy {
        namespace: KS.into(),
        key: "guarded".into(),
        policy: and.into(),
    }];
    // A value write, a delete and a policy change all report the policy in force.
    for (function, args) in [
        ("put", vec![json!("guarded"), json!("x")]),
        ("del", vec![json!("guarded")]),
        (
            "set_key_policy",
            vec![json!("guarded"), json!("'Org1MSP.peer'")],
        ),
    ] {
        let p = sign(proposal(&net.client, KS, function, args), &net.client);
        let r = endorse(&e, &p).await;
        assert_eq!(r.response.status, 200, "{function}: {:?}", r.response);
        assert_eq!(r.key_policies, expected, "{function}");
        // Not part of what is signed.
        assert_endorsement_verifies(&net, &r);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["key_policies"][0]["key"], "guarded", "{json}");
    }
    // Other keys, a read and an evaluation report nothing.
    let p = sign(
        proposal(&net.client, KS, "put", vec![json!("plain"), json!("x")]),
        &net.client,
    );
    assert!(endorse(&e, &p).await.key_policies.is_empty());
    let p = sign(
        proposal(&net.client, KS, "get", vec![json!("guarded")]),
        &net.client,
    );
    assert!(endorse(&e, &p).await.key_policies.is_empty());
    let p = sign(
        proposal(&net.client, KS, "put", vec![json!("guarded"), json!("y")]),
        &net.client,
    );
    let r = evaluate(&e, &p).await;
    assert_eq!(r.response.status, 200);
    assert!(r.key_policies.is_empty());
}
