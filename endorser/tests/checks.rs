//! Every refusal of a proposal, through the router without a socket: each with
//! its HTTP status, its kind and a message saying what was wrong; nothing runs.

mod support;

use std::collections::BTreeMap;

use cellchain_core::bytes::Bytes;
use cellchain_core::crypto::random_nonce;
use cellchain_core::protocol::{encode, Header, Timestamp, TxId};
use cellchain_endorser::checks::Mode;
use serde_json::{json, Value};
use support::*;

fn assert_refused(answer: (u16, Value), status: u16, kind: &str) -> String {
    let (got, body) = answer;
    assert_eq!(
        (got, body["error"].as_str()),
        (status, Some(kind)),
        "{body}"
    );
    assert_eq!(body["retryable"], json!(false), "{body}");
    body["message"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn malformed_bodies_and_proposals_are_refused() {
    let net = Net::new();
    let e = net.endorser();
    let m = assert_refused(
        call(
            &e,
            "POST",
            "/v1/channels/testchannel/endorse",
            b"{not json".to_vec(),
        )
        .await,
        400,
        "malformed",
    );
    assert!(m.contains("not a signed proposal"), "{m}");
    let junk = json!({"proposal": "AAAA", "signature": "AAAA"});
    let m = assert_refused(
        call(
            &e,
            "POST",
            "/v1/channels/testchannel/endorse",
            junk.to_string().into_bytes(),
        )
        .await,
        400,
        "malformed",
    );
    assert!(m.contains("proposal"), "{m}");
}

#[tokio::test]
async fn a_proposal_for_another_channel_or_an_unserved_channel_is_refused() {
    let net = Net::new();
    let e = net.endorser();
    let mut p = proposal(&net.client, KS, "put", vec![json!("k"), json!("v")]);
    p.header = Header::new(
        "otherchannel",
        net.client.id.clone(),
        random_nonce(),
        p.header.timestamp,
    );
    let signed = sign(p, &net.client);
    let m = assert_refused(
        post(&e, CHANNEL, "endorse", &signed).await,
        400,
        "wrong_channel",
    );
    assert!(m.contains("otherchannel") && m.contains(CHANNEL), "{m}");
    let m = assert_refused(
        post(&e, "otherchannel", "endorse", &signed).await,
        404,
        "unknown_channel",
    );
    assert!(m.contains("it serves: testchannel"), "{m}");
}

#[tokio::test]
async fn a_forged_signature_is_refused() {
    let net = Net::new();
    let e = net.endorser();
    let mut signed = sign(
        proposal(&net.client, KS, "put", vec![json!("k"), json!("v")]),
        &net.client,
    );
    let last = signed.signature.len() - 1;
    signed.signature.0[last] ^= 1;
    assert_refused(
        post(&e, CHANNEL, "endorse", &signed).await,
        403,
        "bad_signature",
    );
    // Signed by someone else's key under the client's name.
    let p = proposal(&net.client, KS, "put", vec![json!("k"), json!("v")]);
    let forged = sign(p, &net.other_peer);
    let m = assert_refused(
        post(&e, CHANNEL, "endorse", &forged).await,
        403,
        "bad_signature",
    );
    assert!(m.contains("app@Org1MSP"), "{m}");
    // The proposal bytes changed after signing.
    let mut signed = sign(
        proposal(&net.client, KS, "put", vec![json!("k"), json!("v")]),
        &net.client,
    );
    let mut p: cellchain_core::protocol::Proposal =
        serde_json::from_slice(&signed.proposal).unwrap();
    p.args = vec![json!("k"), json!("other")];
    signed.proposal = encode(&p);
    assert_refused(
        post(&e, CHANNEL, "endorse", &signed).await,
        403,
        "bad_signature",
    );
}

#[tokio::test]
async fn a_creator_that_is_not_a_member_is_refused_before_anything_else() {
    let net = Net::new();
    let e = net.endorser();
    // The stranger's proposal also carries a bad tx id: the creator is judged first.
    let mut p = proposal(&net.stranger, KS, "put", vec![json!("k"), json!("v")]);
    p.header.tx_id = TxId(some_hash("not the tx id"));
    let m = assert_refused(
        post(&e, CHANNEL, "endorse", &sign(p, &net.stranger)).await,
        403,
        "invalid_creator",
    );
    assert!(m.contains(CHANNEL), "{m}");
    // An MSP the channel does not have.
    let mut p = proposal(&net.client, KS, "put", vec![json!("k"), json!("v")]);
    p.header = Header::new(
        CHANNEL,
        cellchain_core::identity::SerializedIdentity {
            msp_id: "NoSuchMSP".into(),
            cert: net.client.id.cert.clone(),
        },
        random_nonce(),
        p.header.timestamp,
    );
    assert_refused(
        post(&e, CHANNEL, "endorse", &sign(p, &net.client)).await,
        403,
        "invalid_creator",
    );
}

#[tokio::test]
async fn the_acl_decides_who_may_endorse_and_who_may_evaluate() {
    let net = Net::new();
    let e = net.endorser();
    // Org3 reads but may not write: no endorsement (peer/Propose = Writers)...
    let p = proposal(&net.reader, KS, "put", vec![json!("k"), json!("v")]);
    let m = assert_refused(
        post(&e, CHANNEL, "endorse", &sign(p, &net.reader)).await,
        403,
        "access_denied",
    );
    assert!(m.contains("peer/Propose") && m.contains("Writers"), "{m}");
    // ...but it may evaluate (peer/Evaluate = Readers).
    let p = proposal(&net.reader, KS, "get", vec![json!("k")]);
    let r = evaluate(&e, &sign(p, &net.reader)).await;
    assert_eq!(r.response.status, 200, "{:?}", r.response);
    assert!(r.endorsement.is_none() && r.payload.is_none());
}

#[tokio::test]
async fn a_tx_id_that_is_not_the_hash_of_nonce_and_creator_is_refused() {
    let net = Net::new();
    let e = net.endorser();
    let mut p = proposal(&net.client, KS, "put", vec![json!("k"), json!("v")]);
    p.header.tx_id = TxId(some_hash("chosen tx id"));
    let m = assert_refused(
        post(&e, CHANNEL, "endorse", &sign(p, &net.client)).await,
        400,
        "bad_tx_id",
    );
    assert!(m.contains("SHA-256(nonce || creator)"), "{m}");
}

#[tokio::test]
async fn a_timestamp_outside_the_skew_is_refused_either_way() {
    let net = Net::new();
    let e = net.endorser();
    for offset in [-600i64, 600] {
        let mut p = proposal(&net.client, KS, "put", vec![json!("k"), json!("v")]);
        p.header.timestamp = Timestamp {
            seconds: p.header.timestamp.seconds + offset,
            nanos: 0,
        };
        let m = assert_refused(
            post(&e, CHANNEL, "endorse", &sign(p, &net.client)).await,
            400,
            "stale_timestamp",
        );
        assert!(m.contains("300000 ms"), "{m}");
    }
    // Inside the skew: accepted.
    let mut p = proposal(&net.client, KS, "put", vec![json!("k"), json!("v")]);
    p.header.timestamp.seconds -= 60;
    let r = endorse(&e, &sign(p, &net.client)).await;
    assert!(r.endorsement.is_some());
}

#[tokio::test]
async fn transient_data_that_does_not_match_the_signed_digest_is_refused() {
    let net = Net::new();
    let e = net.endorser();
    let transient: BTreeMap<String, Bytes> =
        [("value".to_string(), Bytes(b"private".to_vec()))].into();
    let p = proposal(
        &net.client,
        KS,
        "put_private",
        vec![json!("secret"), json!("k")],
    );
    let mut signed = sign_with_transient(p, transient, &net.client);
    signed
        .transient
        .insert("value".into(), Bytes(b"swapped".to_vec()));
    assert_refused(
        post(&e, CHANNEL, "endorse", &signed).await,
        400,
        "transient_mismatch",
    );
    // Transient data sent with a proposal that signed none.
    let p = proposal(&net.client, KS, "put", vec![json!("k"), json!("v")]);
    let mut signed = sign(p, &net.client);
    signed
        .transient
        .insert("extra".into(), Bytes(b"x".to_vec()));
    assert_refused(
        post(&e, CHANNEL, "endorse", &signed).await,
        400,
        "transient_mismatch",
    );
}

#[tokio::test]
async fn a_committed_tx_id_is_refused_as_a_replay() {
    let net = Net::new();
    let e = net.endorser();
    let p = proposal(&net.client, KS, "put", vec![json!("k"), json!("v")]);
    let signed = sign(p.clone(), &net.client);
    // The first time it is endorsed...
    endorse(&e, &signed).await;
    // ...then a block committing that very transaction reaches the replica.
    let replica = &e.channels[CHANNEL].replica;
    let genesis = net.validated_genesis();
    replica.apply_block(&genesis).unwrap();
    let envelope = net.envelope_with_header(p.header.clone(), KS, vec![("k".into(), "v".into())]);
    replica
        .apply_block(&net.block_of(&genesis, vec![envelope]))
        .unwrap();
    let m = assert_refused(
        post(&e, CHANNEL, "endorse", &signed).await,
        409,
        "duplicate_tx_id",
    );
    assert!(m.contains("block 1, position 0"), "{m}");
    // Evaluate refuses it too: the same checks.
    assert_refused(
        post(&e, CHANNEL, "evaluate", &signed).await,
        409,
        "duplicate_tx_id",
    );
}

#[tokio::test]
async fn undefined_and_uninstalled_chaincodes_are_refused() {
    let net = Net::new();
    let e = net.endorser();
    let p = proposal(&net.client, "nosuch", "put", vec![]);
    let m = assert_refused(
        post(&e, CHANNEL, "endorse", &sign(p, &net.client)).await,
        404,
        "chaincode_not_defined",
    );
    assert!(m.contains("nosuch"), "{m}");
    let p = proposal(&net.client, GHOST, "put", vec![]);
    let m = assert_refused(
        post(&e, CHANNEL, "endorse", &sign(p, &net.client)).await,
        404,
        "chaincode_not_installed",
    );
    assert_eq!(
        m,
        format!(
            "chaincode ghost sequence 1 needs the module with SHA-256 {}, which is not installed on this endorser (cellchain chaincode install)",
            ghost_hash().to_hex()
        )
    );
}

#[tokio::test]
async fn refusals_are_counted_and_status_health_and_metrics_answer() {
    let net = Net::new();
    let e = net.endorser();
    let p = proposal(&net.reader, KS, "put", vec![json!("k"), json!("v")]);
    post(&e, CHANNEL, "endorse", &sign(p, &net.reader)).await;
    let p = proposal(&net.client, KS, "put", vec![json!("k"), json!("v")]);
    endorse(&e, &sign(p, &net.client)).await;
    assert_eq!(
        e.metrics.outcome(CHANNEL, Mode::Propose, "access_denied"),
        1
    );
    assert_eq!(e.metrics.outcome(CHANNEL, Mode::Propose, "endorsed"), 1);

    let (status, body) = call(&e, "GET", "/v1/channels/testchannel/status", vec![]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["height"], 1, "the seeded replica");
    assert_eq!(body["feed_connected"], false);
    assert_eq!(body["defined"], json!(["ghost", "hostile", "ks"]));
    assert_eq!(body["chaincodes"], json!(["hostile", "ks"]));
    let (status, body) = call(&e, "GET", "/v1/channels/nope/status", vec![]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("unknown_channel"))
    );
    let (status, body) = call(&e, "GET", "/healthz", vec![]).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
    let (status, body) = call(&e, "GET", "/metrics", vec![]).await;
    assert_eq!(status, 200);
    let text = body.as_str().unwrap();
    for line in [
        "cellchain_endorser_proposals_total{channel=\"testchannel\",mode=\"endorse\",outcome=\"access_denied\"} 1",
        "cellchain_endorser_proposals_total{channel=\"testchannel\",mode=\"endorse\",outcome=\"endorsed\"} 1",
        "cellchain_endorser_simulation_seconds_count 1",
        "cellchain_endorser_replica_height{channel=\"testchannel\"} 1",
    ] {
        assert!(text.contains(line), "{line} missing from\n{text}");
    }
}
