//! Private data collections at the endorser: kept private writes served to
//! member committers' peers (`POST /v1/channels/{ch}/private`) and refused to
//! everyone else; collection membership enforced at endorsement and
//! evaluation; and the replica storing its organisation's private values,
//! checked against the block's hashes, fetched from the committer by the feed
//! follower.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use cellchain_core::bytes::{sha256, Bytes};
use cellchain_core::protocol::{
    Block, PrivateData, PrivateKv, ProposalResponse, Query, SignedProposal, Timestamp, TxId,
    Version,
};
use cellchain_core::testing::{TestCa, TestMember};
use cellchain_endorser::checks::Mode;
use cellchain_endorser::endorse::{now, Endorser};
use cellchain_endorser::feed::{follow, FeedClient};
use cellchain_endorser::private::{private_data_for, MAX_PRIVATE_TX_IDS};
use cellchain_endorser::replica::{checked_private_writes, Applied, ReplicaError};
use cellchain_storage::PrivateWrite;
use cellchain_validation::DefinitionSet;
use serde_json::{json, Value};
use support::fake_committer::FakeCommitter;
use support::*;
use tokio::sync::watch;

fn assert_refused(answer: (u16, Value), status: u16, kind: &str) -> String {
    let (got, body) = answer;
    assert_eq!(
        (got, body["error"].as_str()),
        (status, Some(kind)),
        "{body}"
    );
    body["message"].as_str().unwrap().to_string()
}

/// `who` proposes `put_private(collection, key)` with `value` in transient.
fn put_private(who: &TestMember, collection: &str, key: &str, value: &str) -> SignedProposal {
    let p = proposal(who, KS, "put_private", vec![json!(collection), json!(key)]);
    let transient: BTreeMap<String, Bytes> =
        [("value".to_string(), Bytes(value.as_bytes().to_vec()))].into();
    sign_with_transient(p, transient, who)
}

fn tx_id_of(signed: &SignedProposal) -> TxId {
    signed.parse().unwrap().header.tx_id
}

/// Endorses `put_private` and returns the tx id, the proposal and the response.
async fn endorse_private(
    e: &Arc<Endorser>,
    who: &TestMember,
    collection: &str,
    key: &str,
    value: &str,
) -> (TxId, SignedProposal, ProposalResponse) {
    let signed = put_private(who, collection, key, value);
    let r = endorse(e, &signed).await;
    assert_eq!(r.response.status, 200, "{:?}", r.response);
    assert!(r.endorsement.is_some());
    (tx_id_of(&signed), signed, r)
}

fn served(answer: (u16, Value)) -> PrivateData {
    let (status, body) = answer;
    assert_eq!(status, 200, "{body}");
    serde_json::from_value(body).unwrap()
}

/// (tx id, namespace, collection, key, value) of everything served.
fn flatten(data: &PrivateData) -> Vec<(TxId, String, String, String, Option<String>)> {
    data.txs
        .iter()
        .flat_map(|t| {
            t.collections.iter().flat_map(move |c| {
                c.writes.iter().map(move |w| {
                    (
                        t.tx_id,
                        t.namespace.clone(),
                        c.collection.clone(),
                        w.key.clone(),
                        w.value
                            .as_ref()
                            .map(|v| String::from_utf8(v.0.clone()).unwrap()),
                    )
                })
            })
        })
        .collect()
}

fn row(
    tx: TxId,
    coll: &str,
    key: &str,
    value: &str,
) -> (TxId, String, String, String, Option<String>) {
    (tx, KS.into(), coll.into(), key.into(), Some(value.into()))
}

fn org2_client(net: &Net) -> TestMember {
    net.ca("Org2MSP").member("Org2MSP", "app2", "client")
}

fn org3_peer(net: &Net) -> TestMember {
    net.ca("Org3MSP").member("Org3MSP", "peer0.org3", "peer")
}

// ---- serving kept private writes ---------------------------------------------

#[tokio::test]
async fn a_member_peer_is_served_the_values_of_its_collections_only() {
    let net = Net::new();
    let e = net.endorser();
    let (a, _, _) = endorse_private(&e, &net.client, "secret", "p1", "only-org1").await;
    let (b, _, _) = endorse_private(&e, &net.client, "shared", "p2", "org1-and-org2").await;
    let unknown = TxId(some_hash("never endorsed"));

    // Org1's peer (a committer of Org1): both collections, in the order asked;
    // the unknown tx id is left out, a repeated one served once.
    let ask = vec![b, unknown, a, b];
    let data = served(post_private(&e, CHANNEL, &private_query(&net.peer, ask.clone())).await);
    assert_eq!(
        flatten(&data),
        vec![
            row(b, "shared", "p2", "org1-and-org2"),
            row(a, "secret", "p1", "only-org1"),
        ]
    );
    // Org2's peer: only the collection Org2 is a member of.
    let data =
        served(post_private(&e, CHANNEL, &private_query(&net.other_peer, ask.clone())).await);
    assert_eq!(
        flatten(&data),
        vec![row(b, "shared", "p2", "org1-and-org2")]
    );
    // Org3's peer: a member of no collection; nothing, not even the tx ids.
    let data =
        served(post_private(&e, CHANNEL, &private_query(&org3_peer(&net), ask.clone())).await);
    assert_eq!(data, PrivateData::default());
    let (_, body) = post_private(&e, CHANNEL, &private_query(&org3_peer(&net), ask.clone())).await;
    assert!(!body.to_string().contains("only-org1"), "{body}");

    // Serving removes nothing: another committer of Org1 gets the same.
    let again = served(post_private(&e, CHANNEL, &private_query(&net.peer, vec![a])).await);
    assert_eq!(flatten(&again), vec![row(a, "secret", "p1", "only-org1")]);
    assert_eq!(e.private.len(), 2);
    assert_eq!(e.metrics.private_outcome(CHANNEL, "served"), 5);
    let (_, metrics) = call(&e, "GET", "/metrics", vec![]).await;
    let metrics = metrics.as_str().unwrap().to_string();
    assert!(
        metrics.contains(
            "cellchain_endorser_private_requests_total{channel=\"testchannel\",outcome=\"served\"} 5"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("cellchain_endorser_private_txs_served_total{channel=\"testchannel\"} 4"),
        "{metrics}"
    );
}

#[tokio::test]
async fn entries_of_another_channel_or_an_undefined_chaincode_are_not_served() {
    let net = Net::new();
    let e = net.endorser();
    let (a, _, _) = endorse_private(&e, &net.client, "secret", "p1", "v").await;
    let defs = &e.channels[CHANNEL].definitions();
    assert_eq!(
        private_data_for(&e.private, CHANNEL, defs, "Org1MSP", &[a])
            .txs
            .len(),
        1
    );
    // Same store, asked on behalf of another channel: nothing.
    assert!(
        private_data_for(&e.private, "otherchannel", defs, "Org1MSP", &[a])
            .txs
            .is_empty()
    );
    // The chaincode no longer defined: nothing.
    let mut without = DefinitionSet::clone(defs);
    without.0.remove(KS);
    assert!(
        private_data_for(&e.private, CHANNEL, &without, "Org1MSP", &[a])
            .txs
            .is_empty()
    );
}

#[tokio::test]
async fn clients_strangers_and_forged_signatures_are_refused_with_403() {
    let net = Net::new();
    let e = net.endorser();
    let (a, _, _) = endorse_private(&e, &net.client, "secret", "p1", "only-org1").await;

    // A client of a member organisation is not a committer.
    let m = assert_refused(
        post_private(&e, CHANNEL, &private_query(&net.client, vec![a])).await,
        403,
        "not_a_peer",
    );
    assert!(m.contains("app@Org1MSP") && m.contains("client"), "{m}");
    // A peer certificate from a CA the channel does not know, claiming Org1MSP.
    let stranger = TestCa::new("Elsewhere").member("Org1MSP", "peer9", "peer");
    assert_refused(
        post_private(&e, CHANNEL, &private_query(&stranger, vec![a])).await,
        403,
        "invalid_creator",
    );
    // Org1's peer named, Org2's peer's key signing.
    let mut forged = private_query(&net.peer, vec![a]);
    let other = private_query(&net.other_peer, vec![a]);
    forged.signature = other.signature;
    let m = assert_refused(
        post_private(&e, CHANNEL, &forged).await,
        403,
        "bad_signature",
    );
    assert!(m.contains("peer0.org1@Org1MSP"), "{m}");
    // A signature tampered with.
    let mut tampered = private_query(&net.peer, vec![a]);
    let last = tampered.signature.len() - 1;
    tampered.signature.0[last] ^= 1;
    let (status, body) = post_private(&e, CHANNEL, &tampered).await;
    assert_eq!(status, 403, "{body}");
    assert!(!body.to_string().contains("only-org1"));
    assert_eq!(e.metrics.private_outcome(CHANNEL, "served"), 0);
    assert_eq!(e.metrics.private_outcome(CHANNEL, "bad_signature"), 2);
}

#[tokio::test]
async fn malformed_misdirected_stale_and_oversized_requests_are_refused() {
    let net = Net::new();
    let e = net.endorser();
    let path = "/v1/channels/testchannel/private";
    let m = assert_refused(
        call(&e, "POST", path, b"{not json".to_vec()).await,
        400,
        "malformed",
    );
    assert!(m.contains("not a signed query"), "{m}");
    let junk = json!({"request": "AAAA", "signature": "AAAA"});
    assert_refused(
        call(&e, "POST", path, junk.to_string().into_bytes()).await,
        400,
        "malformed",
    );
    // Another query kind.
    let info = signed_query(&net.peer, CHANNEL, now(), Query::Info);
    let m = assert_refused(
        post_private(&e, CHANNEL, &info).await,
        400,
        "unsupported_query",
    );
    assert!(m.contains("info"), "{m}");
    let block = signed_query(
        &net.peer,
        CHANNEL,
        now(),
        Query::BlockPrivateData { block: 1 },
    );
    assert_refused(
        post_private(&e, CHANNEL, &block).await,
        400,
        "unsupported_query",
    );
    // Another channel in the request than in the path; a channel not served.
    let other = signed_query(
        &net.peer,
        "otherchannel",
        now(),
        Query::PrivateWrites { tx_ids: vec![] },
    );
    assert_refused(
        post_private(&e, CHANNEL, &other).await,
        400,
        "wrong_channel",
    );
    let m = assert_refused(
        post_private(&e, "otherchannel", &other).await,
        404,
        "unknown_channel",
    );
    assert!(m.contains("it serves: testchannel"), "{m}");
    // An old request (a replay).
    let an_hour_ago = Timestamp {
        seconds: now().seconds - 3600,
        nanos: 0,
    };
    let stale = signed_query(
        &net.peer,
        CHANNEL,
        an_hour_ago,
        Query::PrivateWrites { tx_ids: vec![] },
    );
    assert_refused(
        post_private(&e, CHANNEL, &stale).await,
        400,
        "stale_timestamp",
    );
    // Too many tx ids at once; the maximum is fine.
    let many = |n: usize| -> Vec<TxId> {
        (0..n)
            .map(|i| TxId(sha256(format!("tx{i}").as_bytes())))
            .collect()
    };
    let m = assert_refused(
        post_private(
            &e,
            CHANNEL,
            &private_query(&net.peer, many(MAX_PRIVATE_TX_IDS + 1)),
        )
        .await,
        413,
        "too_many_tx_ids",
    );
    assert!(m.contains("1001") && m.contains("1000"), "{m}");
    let data = served(
        post_private(
            &e,
            CHANNEL,
            &private_query(&net.peer, many(MAX_PRIVATE_TX_IDS)),
        )
        .await,
    );
    assert!(data.txs.is_empty());
}

// ---- collection access at endorsement -----------------------------------------

#[tokio::test]
async fn a_non_member_client_may_not_write_a_member_only_collection() {
    let net = Net::new();
    let e = net.endorser();
    let org2 = org2_client(&net);
    let signed = put_private(&org2, "secret", "k", "from org2");
    let tx_id = tx_id_of(&signed);
    let m = assert_refused(
        post(&e, CHANNEL, "endorse", &signed).await,
        403,
        "collection_access_denied",
    );
    assert!(
        m.contains("secret") && m.contains("Org2MSP") && m.contains("write"),
        "{m}"
    );
    assert!(
        e.private.get(&tx_id).is_none(),
        "nothing kept for a refusal"
    );
    assert_eq!(
        e.metrics
            .outcome(CHANNEL, Mode::Propose, "collection_access_denied"),
        1
    );
    // A member writes it; Org2 writes the collection it is a member of; Org1
    // writes a collection it is not a member of whose writes are open.
    endorse_private(&e, &net.client, "secret", "k", "v").await;
    endorse_private(&e, &org2, "shared", "k", "v").await;
    endorse_private(&e, &net.client, "open", "k", "v").await;
    // A collection the chaincode does not define.
    let m = assert_refused(
        post(
            &e,
            CHANNEL,
            "endorse",
            &put_private(&net.client, "nosuch", "k", "v"),
        )
        .await,
        403,
        "collection_access_denied",
    );
    assert!(m.contains("nosuch") && m.contains("not defined"), "{m}");
}

#[tokio::test]
async fn a_non_member_client_may_not_read_a_member_only_collection() {
    let net = Net::new();
    let e = net.endorser();
    let replica = &e.channels[CHANNEL].replica;
    let genesis = net.validated_genesis();
    replica.apply_block(&genesis).unwrap();
    // Org1's replica holds secret/k = "the value".
    let (_, signed, r) = endorse_private(&e, &net.client, "secret", "k", "the value").await;
    let block = net.block_of(&genesis, vec![net.envelope_of(&signed, &r, &net.client)]);
    let needs = replica.private_needs(&block).unwrap();
    let data = private_data_for(
        &e.private,
        CHANNEL,
        &e.channels[CHANNEL].definitions(),
        "Org1MSP",
        &[tx_id_of(&signed)],
    );
    let checked = checked_private_writes(CHANNEL, 1, &needs, &data, &no_keys);
    replica
        .apply_block_with_private(&block, &checked.writes)
        .unwrap();

    let get = |who: &TestMember, coll: &str| {
        sign(
            proposal(who, KS, "get_private", vec![json!(coll), json!("k")]),
            who,
        )
    };
    // Org3's auditor (a reader, not a member) may not read it; nor its hash.
    let m = assert_refused(
        post(&e, CHANNEL, "evaluate", &get(&net.reader, "secret")).await,
        403,
        "collection_access_denied",
    );
    assert!(m.contains("read") && m.contains("Org3MSP"), "{m}");
    let (status, body) = post(&e, CHANNEL, "evaluate", &get(&net.reader, "secret")).await;
    assert!(!body.to_string().contains("the value"), "{status} {body}");
    let hash = sign(
        proposal(
            &net.reader,
            KS,
            "private_hash",
            vec![json!("secret"), json!("k")],
        ),
        &net.reader,
    );
    assert_refused(
        post(&e, CHANNEL, "evaluate", &hash).await,
        403,
        "collection_access_denied",
    );
    // Nor may Org2's client, endorsing.
    let org2 = org2_client(&net);
    assert_refused(
        post(&e, CHANNEL, "endorse", &get(&org2, "secret")).await,
        403,
        "collection_access_denied",
    );
    assert_eq!(
        e.metrics
            .outcome(CHANNEL, Mode::Evaluate, "collection_access_denied"),
        3
    );
    // A member reads the value.
    let r = evaluate(&e, &get(&net.client, "secret")).await;
    assert_eq!(r.response.status, 200, "{:?}", r.response);
    assert_eq!(r.response.payload.0, br#""the value""#);
    // A non-member reads a collection whose reads are open (nothing there).
    let r = evaluate(&e, &get(&net.reader, "open")).await;
    assert_eq!(r.response.status, 200, "{:?}", r.response);
}

// ---- the replica's private values -----------------------------------------------

/// Org1's endorser with genesis applied, and block 1 of three transactions by
/// Org1's client: `secret/s` and `shared/h` (Org1 is a member) and `open/o`
/// (it is not). Returns the block and the three tx ids.
async fn block_with_private(net: &Net, e: &Arc<Endorser>) -> (Block, Block, [TxId; 3]) {
    let (a, pa, ra) = endorse_private(e, &net.client, "secret", "s", "secret value").await;
    let (b, pb, rb) = endorse_private(e, &net.client, "shared", "h", "shared value").await;
    let (c, pc, rc) = endorse_private(e, &net.client, "open", "o", "open value").await;
    let genesis = net.validated_genesis();
    let block = net.block_of(
        &genesis,
        vec![
            net.envelope_of(&pa, &ra, &net.client),
            net.envelope_of(&pb, &rb, &net.client),
            net.envelope_of(&pc, &rc, &net.client),
        ],
    );
    (genesis, block, [a, b, c])
}

async fn read_private(net: &Net, e: &Arc<Endorser>, coll: &str, key: &str) -> String {
    let p = proposal(
        &net.client,
        KS,
        "get_private",
        vec![json!(coll), json!(key)],
    );
    let r = evaluate(e, &sign(p, &net.client)).await;
    assert_eq!(r.response.status, 200, "{:?}", r.response);
    String::from_utf8(r.response.payload.0).unwrap()
}

#[tokio::test]
async fn the_replica_stores_matching_values_with_the_block_and_leaves_out_the_others() {
    let net = Net::new();
    let e = net.endorser();
    let replica = &e.channels[CHANNEL].replica;
    let (genesis, block, [a, b, c]) = block_with_private(&net, &e).await;
    assert!(replica.private_needs(&genesis).unwrap().is_empty());
    replica.apply_block(&genesis).unwrap();

    // Org1 needs its two collections, not "open".
    let needs = replica.private_needs(&block).unwrap();
    let needed: Vec<(TxId, &str, u64)> = needs
        .iter()
        .map(|n| (n.tx_id, n.collection.as_str(), n.block_to_live))
        .collect();
    assert_eq!(needed, vec![(a, "secret", 0), (b, "shared", 5)]);

    // What a committer of Org1 would offer: everything, with "shared" forged.
    let defs = &e.channels[CHANNEL].definitions();
    let mut offered = private_data_for(&e.private, CHANNEL, defs, "Org1MSP", &[a, b, c]);
    assert_eq!(offered.txs.len(), 2);
    offered.txs[1].collections[0].writes[0].value = Some(Bytes(b"forged".to_vec()));
    let checked = checked_private_writes(CHANNEL, 1, &needs, &offered, &no_keys);
    assert_eq!((checked.missing, checked.mismatched), (0, 1));
    assert_eq!(
        checked.writes,
        vec![PrivateWrite {
            namespace: KS.into(),
            collection: "secret".into(),
            key: "s".into(),
            value: Some(b"secret value".to_vec()),
            version: Version { block: 1, tx: 0 },
            block_to_live: 0,
        }]
    );

    // An unchecked value is refused with the whole block.
    let mut forged = checked.writes.clone();
    forged.push(PrivateWrite {
        namespace: KS.into(),
        collection: "shared".into(),
        key: "h".into(),
        value: Some(b"forged".to_vec()),
        version: Version { block: 1, tx: 1 },
        block_to_live: 5,
    });
    assert!(matches!(
        replica.apply_block_with_private(&block, &forged),
        Err(ReplicaError::UncheckedPrivate { block: 1, .. })
    ));
    assert_eq!(replica.height(), 1);

    assert_eq!(
        replica
            .apply_block_with_private(&block, &checked.writes)
            .unwrap(),
        Applied::Applied
    );
    assert_eq!(replica.height(), 2);
    assert_eq!(replica.private_stored(), 1);
    assert_eq!(
        read_private(&net, &e, "secret", "s").await,
        r#""secret value""#
    );
    // The forged value was not stored: no value, only its hash (every peer has it).
    assert_eq!(read_private(&net, &e, "shared", "h").await, "null");
    let p = proposal(
        &net.client,
        KS,
        "private_hash",
        vec![json!("shared"), json!("h")],
    );
    let r = evaluate(&e, &sign(p, &net.client)).await;
    assert_eq!(
        String::from_utf8(r.response.payload.0).unwrap(),
        format!("\"{}\"", sha256(b"shared value").to_hex())
    );

    // A need not offered at all is counted as missing.
    let none = checked_private_writes(CHANNEL, 1, &needs, &PrivateData::default(), &no_keys);
    assert_eq!(
        (none.writes.len(), none.missing, none.mismatched),
        (0, 2, 0)
    );
    // Already applied: no needs for a resent block.
    assert!(replica.private_needs(&block).unwrap().is_empty());
}

#[tokio::test]
async fn deletes_are_matched_and_applied_too() {
    let net = Net::new();
    let e = net.endorser();
    let replica = &e.channels[CHANNEL].replica;
    let (genesis, block, [a, _, _]) = block_with_private(&net, &e).await;
    replica.apply_block(&genesis).unwrap();
    let needs = replica.private_needs(&block).unwrap();
    let defs = e.channels[CHANNEL].definitions();
    let data = private_data_for(&e.private, CHANNEL, &defs, "Org1MSP", &[a]);
    let checked = checked_private_writes(CHANNEL, 1, &needs, &data, &no_keys);
    assert_eq!(checked.missing, 1, "shared not offered");
    replica
        .apply_block_with_private(&block, &checked.writes)
        .unwrap();
    assert_eq!(
        read_private(&net, &e, "secret", "s").await,
        r#""secret value""#
    );

    let p = proposal(
        &net.client,
        KS,
        "del_private",
        vec![json!("secret"), json!("s")],
    );
    let signed = sign(p, &net.client);
    let r = endorse(&e, &signed).await;
    let b2 = net.block_of(&block, vec![net.envelope_of(&signed, &r, &net.client)]);
    let needs = replica.private_needs(&b2).unwrap();
    assert_eq!(needs.len(), 1);
    let data = private_data_for(&e.private, CHANNEL, &defs, "Org1MSP", &[tx_id_of(&signed)]);
    assert_eq!(
        data.txs[0].collections[0].writes,
        vec![PrivateKv {
            key: "s".into(),
            value: None
        }]
    );
    let checked = checked_private_writes(CHANNEL, 2, &needs, &data, &no_keys);
    assert_eq!(checked.writes[0].value, None);
    // A committer cannot offer a delete (the key is gone from its store): the
    // replica finds the key of the value it holds by the key hash itself.
    let key_of = |ns: &str, coll: &str, key_hash: &cellchain_core::Hash32| {
        replica
            .reader()
            .get_private_by_hash(ns, coll, key_hash)
            .unwrap()
            .map(|(key, _, _)| key)
    };
    let resolved = checked_private_writes(CHANNEL, 2, &needs, &PrivateData::default(), &key_of);
    assert_eq!(resolved.writes, checked.writes);
    assert_eq!(resolved.missing, 0);
    let unknown = checked_private_writes(CHANNEL, 2, &needs, &PrivateData::default(), &no_keys);
    assert!(unknown.writes.is_empty(), "nothing held, nothing to delete");
    replica
        .apply_block_with_private(&b2, &checked.writes)
        .unwrap();
    assert_eq!(read_private(&net, &e, "secret", "s").await, "null");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_follower_fetches_a_blocks_private_values_from_the_committer_before_applying_it() {
    let net = Net::new();
    let e = net.endorser();
    let replica = e.channels[CHANNEL].replica.clone();
    let (genesis, block, [a, b, c]) = block_with_private(&net, &e).await;
    let fake = FakeCommitter::start(CHANNEL, net.config.msp_set().unwrap()).await;
    // The committer of Org1 offers both of Org1's collections; the first two
    // queries fail (the block waits, the follower reconnects and retries).
    let defs = e.channels[CHANNEL].definitions();
    fake.set_private(
        1,
        private_data_for(&e.private, CHANNEL, &defs, "Org1MSP", &[a, b, c]),
    );
    fake.fail_queries(2);
    let (stop, stop_rx) = watch::channel(false);
    let client = FeedClient::new(&fake.addr.to_string(), e.identity.clone(), e.signer());
    let task = tokio::spawn(follow(replica.clone(), client, stop_rx));
    fake.push(genesis.clone());
    wait_height(&e, 1).await;
    fake.push(block.clone());
    wait_height(&e, 2).await;
    assert_eq!(fake.queries(), vec![1, 1, 1], "genesis needs nothing");
    assert!(replica.feed_failures() >= 2);
    assert_eq!(replica.private_stored(), 2);
    assert_eq!(
        read_private(&net, &e, "secret", "s").await,
        r#""secret value""#
    );
    assert_eq!(
        read_private(&net, &e, "shared", "h").await,
        r#""shared value""#
    );

    // A block without private writes: no query. A block whose values the
    // committer does not have: applied without them.
    let b2 = net.block_writing(&block, KS, &[("k".into(), "v".into())]);
    fake.push(b2.clone());
    wait_height(&e, 3).await;
    let (_, signed, r) = endorse_private(&e, &net.client, "secret", "late", "purged").await;
    let b3 = net.block_of(&b2, vec![net.envelope_of(&signed, &r, &net.client)]);
    fake.push(b3);
    wait_height(&e, 4).await;
    assert_eq!(fake.queries(), vec![1, 1, 1, 3]);
    assert_eq!(read_private(&net, &e, "secret", "late").await, "null");
    assert_eq!(replica.private_missing(), 1);
    let (_, metrics) = call(&e, "GET", "/metrics", vec![]).await;
    let metrics = metrics.as_str().unwrap().to_string();
    assert!(
        metrics
            .contains("cellchain_endorser_private_values_stored_total{channel=\"testchannel\"} 2"),
        "{metrics}"
    );
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
    fake.stop();
}

/// A replica that holds no private values: no key is found by its hash.
fn no_keys(_: &str, _: &str, _: &cellchain_core::Hash32) -> Option<String> {
    None
}
