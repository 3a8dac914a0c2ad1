//! Private data collections through real processes: a value written by an Org1
//! client into a collection of Org1 alone reaches the block only as hashes;
//! Org1's committer fetches it from Org1's endorser at commit and stores it,
//! Org2 stores the hashes only; Org1's endorser replica reads it; it is purged
//! after its block-to-live; and no block, log or Org2 file ever holds it. A
//! read of a collection only one organisation holds, endorsed by both, gives
//! different answers per endorser: the SDK reports it as non-determinism. The
//! chaincode and its collections are deployed through the lifecycle.

mod common;
#[path = "../../committer/tests/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cellchain_core::bytes::sha256;
use cellchain_core::protocol::{ProposalResponse, Query};
use cellchain_core::testing::TestMember;
use cellchain_core::Bytes;
use cellchain_sdk::{
    ChaincodeDefinition, CollectionConfig, ConnectionProfile, Gateway, Identity, SdkError,
};
use common::*;
use serde_json::{json, Value};
use support::*;

/// The collection of Org1 alone, kept for two blocks after the writing block.
const COLLECTION: &str = "org1-only";
const BLOCK_TO_LIVE: u64 = 2;
/// A collection of Org1 that anyone may read through the chaincode: only Org1's
/// endorser has the values, so endorsers of other organisations answer `null`.
const OPEN: &str = "org1-open";
/// The private value: unique bytes to scan the files for.
const SECRET: &str = "SECRET-patient-link-7f3a9c1e5b";

/// Chaincode `cc` endorsed by either organisation, with the two collections.
fn private_cc_definition(package: &[u8]) -> ChaincodeDefinition {
    let collection = |name: &str, member_only: bool, block_to_live: u64| CollectionConfig {
        name: name.into(),
        member_orgs: vec!["Org1MSP".into()],
        required_peer_count: 0,
        block_to_live,
        member_only_read: member_only,
        member_only_write: member_only,
    };
    chaincode_definition(
        package,
        "1.0",
        1,
        signature("OR('Org1MSP.peer', 'Org2MSP.peer')"),
        vec![
            collection(COLLECTION, true, BLOCK_TO_LIVE),
            collection(OPEN, false, 0),
        ],
    )
}

/// Every file under `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_containing(&path, needle));
        } else if let Ok(bytes) = std::fs::read(&path) {
            if bytes.windows(needle.len()).any(|w| w == needle) {
                found.push(path);
            }
        }
    }
    found
}

/// Evaluates `get_private` at `endorser` as `who`: status and answer.
async fn read_private(net: &Net, endorser: &Proc, who: &TestMember) -> (u16, Value) {
    let (_, query) = proposal(
        who,
        CHANNEL,
        "get_private",
        vec![json!(COLLECTION), json!("patient-7")],
        BTreeMap::new(),
    );
    post(
        net,
        endorser.port,
        &format!("/v1/channels/{CHANNEL}/evaluate"),
        &query,
    )
    .await
}

/// Commits a public write through `endorser`; returns its block number.
async fn put(net: &Net, endorser: &Proc, committer: usize, key: &str) -> u64 {
    let (header, signed) = proposal(
        &net.client1,
        CHANNEL,
        "put",
        vec![json!(key), json!("v")],
        BTreeMap::new(),
    );
    let tx_id = header.tx_id;
    let response = endorse(net, endorser, CHANNEL, &signed).await;
    net.broadcast(
        CHANNEL,
        &envelope(&net.client1, header, &signed, vec![response]),
    )
    .await;
    let status = net.wait_tx(committer, CHANNEL, tx_id).await;
    assert_eq!(status["code"]["name"], "VALID", "{status}");
    status["block"].as_u64().unwrap()
}

async fn private_get(net: &Net, committer: usize, who: &TestMember) -> Value {
    let (status, body) = net
        .query(
            committer,
            CHANNEL,
            who,
            Query::PrivateGet {
                namespace: CC.into(),
                collection: COLLECTION.into(),
                key: "patient-7".into(),
            },
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn private_values_reach_members_only_and_are_purged_after_their_block_to_live() {
    let mut net = Net::new();
    net.start_orderers();
    let c1 = net.add_committer("committer1", "Org1MSP", &[CHANNEL], &[]);
    let c2 = net.add_committer("committer2", "Org2MSP", &[CHANNEL], &[]);
    let mut e1 = add_endorser(&net, "endorser1", "Org1MSP", &net.peer1, c1, CHANNEL);
    let mut e2 = add_endorser(&net, "endorser2", "Org2MSP", &net.peer2, c2, CHANNEL);
    // Both committers know where private values are kept: Org1's endorser.
    for c in [c1, c2] {
        let config = &net.committers[c].config;
        let mut yaml = std::fs::read_to_string(config).unwrap();
        yaml += &format!("private_data_sources: [127.0.0.1:{}]\n", e1.port);
        std::fs::write(config, yaml).unwrap();
    }
    net.wait_leader(CHANNEL).await;
    net.start_committer(c1);
    net.start_committer(c2);
    net.wait_committed(c1, CHANNEL, 1).await;
    e1.start();
    e2.start();
    wait_until(&net, &[&e1, &e2], CHANNEL, |s| {
        s["height"].as_u64() >= Some(1)
    })
    .await;
    let package = kitchen_sink_package();
    let orgs = [
        OrgNodes {
            msp_id: "Org1MSP",
            endorsers: vec![&e1],
            committers: vec![c1],
        },
        OrgNodes {
            msp_id: "Org2MSP",
            endorsers: vec![&e2],
            committers: vec![c2],
        },
    ];
    deploy(
        &net,
        &orgs,
        CHANNEL,
        &package,
        &private_cc_definition(&package),
    )
    .await;

    // An Org2 client may not write Org1's member-only collection.
    let transient = BTreeMap::from([("value".to_string(), Bytes(SECRET.as_bytes().to_vec()))]);
    let args = vec![json!(COLLECTION), json!("patient-7")];
    let (_, refused) = proposal(
        &net.client2,
        CHANNEL,
        "put_private",
        args.clone(),
        transient.clone(),
    );
    let (status, body) = post(
        &net,
        e1.port,
        &format!("/v1/channels/{CHANNEL}/endorse"),
        &refused,
    )
    .await;
    assert_eq!(status, 403, "a non-member's client is refused: {body}");

    // The Org1 client writes it through Org1's endorser.
    let (header, signed) = proposal(&net.client1, CHANNEL, "put_private", args, transient);
    let tx_id = header.tx_id;
    let response = endorse(&net, &e1, CHANNEL, &signed).await;
    net.broadcast(
        CHANNEL,
        &envelope(&net.client1, header, &signed, vec![response]),
    )
    .await;
    let s1 = net.wait_tx(c1, CHANNEL, tx_id).await;
    let s2 = net.wait_tx(c2, CHANNEL, tx_id).await;
    assert_eq!(s1["code"]["name"], "VALID", "{s1}");
    assert_eq!(s1, s2);
    let written = s1["block"].as_u64().unwrap();

    // The member's committer has the value; the non-member's the hash only.
    let hash = sha256(SECRET.as_bytes()).to_string();
    let member = private_get(&net, c1, &net.client1).await;
    assert_eq!(member["member"], true, "{member}");
    assert_eq!(member["value"], json!(b64(SECRET)), "{member}");
    assert_eq!(member["value_hash"], json!(hash), "{member}");
    let outsider = private_get(&net, c2, &net.client2).await;
    assert_eq!(outsider["member"], false, "{outsider}");
    assert_eq!(outsider["value"], Value::Null, "{outsider}");
    assert_eq!(outsider["value_hash"], json!(hash), "{outsider}");
    // Org2's client asking Org1's committer gets the hash only too.
    let asked_elsewhere = private_get(&net, c1, &net.client2).await;
    assert_eq!(asked_elsewhere["value"], Value::Null, "{asked_elsewhere}");

    // Org1's endorser replica reads it for an Org1 client; Org2's client is
    // refused by the member-only-read rule.
    wait_until(&net, &[&e1, &e2], CHANNEL, |s| {
        s["height"].as_u64() > Some(written)
    })
    .await;
    let (status, body) = read_private(&net, &e1, &net.client1).await;
    assert_eq!(status, 200, "{body}");
    let answer: ProposalResponse = serde_json::from_value(body).unwrap();
    assert_eq!(
        answer.response.payload.0,
        json!(SECRET).to_string().as_bytes()
    );
    let (status, body) = read_private(&net, &e2, &net.client2).await;
    assert_eq!(status, 403, "{body}");

    // The scan finds the value where it belongs (so it can find it elsewhere).
    let needle = SECRET.as_bytes();
    assert!(
        !files_containing(&net.committers[c1].data.join(CHANNEL).join("state"), needle).is_empty(),
        "the member's state store holds the value"
    );

    // Purge: kept through block written + BLOCK_TO_LIVE, gone when the next applies.
    let mut last = written;
    while last < written + BLOCK_TO_LIVE {
        last = put(&net, &e1, c1, &format!("filler-{last}")).await;
    }
    let kept = private_get(&net, c1, &net.client1).await;
    assert_eq!(
        kept["value"],
        json!(b64(SECRET)),
        "still within block-to-live: {kept}"
    );
    while last < written + BLOCK_TO_LIVE + 1 {
        last = put(&net, &e1, c1, &format!("filler-{last}")).await;
    }
    let purged = private_get(&net, c1, &net.client1).await;
    assert_eq!(purged["value"], Value::Null, "purged: {purged}");
    assert_eq!(purged["purged"], true, "{purged}");
    assert_eq!(
        purged["value_hash"],
        json!(hash),
        "the hash stays: {purged}"
    );
    wait_until(&net, &[&e1], CHANNEL, |s| s["height"].as_u64() > Some(last)).await;
    let (status, body) = read_private(&net, &e1, &net.client1).await;
    assert_eq!(status, 200, "{body}");
    let answer: ProposalResponse = serde_json::from_value(body).unwrap();
    assert_eq!(
        answer.response.payload.0, b"null",
        "the replica purged it too"
    );

    // No block, no log line, no file of the non-member organisation holds it.
    let mut places: Vec<PathBuf> = vec![
        net.committers[c1].data.join(CHANNEL).join("blocks"),
        net.committers[c2].data.clone(),
        e2.data.clone(),
    ];
    places.extend(net.orderers.iter().map(|o| o.data.clone()));
    for dir in &places {
        let found = files_containing(dir, needle);
        assert!(found.is_empty(), "the private value leaked into {found:?}");
    }
    let logs: Vec<&Path> = net
        .orderers
        .iter()
        .chain(net.committers.iter())
        .chain([&e1, &e2])
        .map(|p| p.log.as_path())
        .collect();
    for log in logs {
        let text = std::fs::read(log).unwrap_or_default();
        assert!(
            !text.windows(needle.len()).any(|w| w == needle),
            "the private value is in the log {}",
            log.display()
        );
    }

    // Non-determinism: a read of a collection only Org1 holds, endorsed by both
    // organisations, answers the value at Org1 and null at Org2.
    let (header, signed) = proposal(
        &net.client1,
        CHANNEL,
        "put_private",
        vec![json!(OPEN), json!("patient-8")],
        BTreeMap::from([("value".to_string(), Bytes(b"open value".to_vec()))]),
    );
    let response = endorse(&net, &e1, CHANNEL, &signed).await;
    net.broadcast(
        CHANNEL,
        &envelope(&net.client1, header.clone(), &signed, vec![response]),
    )
    .await;
    let s = net.wait_tx(c1, CHANNEL, header.tx_id).await;
    let block = s["block"].as_u64().unwrap();
    wait_until(&net, &[&e1, &e2], CHANNEL, |s| {
        s["height"].as_u64() > Some(block)
    })
    .await;
    let contract = sdk_contract(&net, &e1, &e2, c1, c2).with_endorsing_orgs(["Org1MSP", "Org2MSP"]);
    match contract
        .submit("get_private", vec![json!(OPEN), json!("patient-8")])
        .await
    {
        Err(SdkError::NonDeterministic { endorsers }) => {
            let names: Vec<&str> = endorsers.iter().map(|(n, _)| n.as_str()).collect();
            assert_eq!(names, ["endorser1", "endorser2"], "{endorsers:?}");
            assert_ne!(endorsers[0].1, endorsers[1].1);
        }
        other => panic!("expected non-determinism, got {other:?}"),
    }
    kill_all(vec![e1, e2]);
}

/// An SDK contract for Org1's client over the test network.
fn sdk_contract(net: &Net, e1: &Proc, e2: &Proc, c1: usize, c2: usize) -> cellchain_sdk::Contract {
    let home = net.dir.path().join("app1");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(home.join("cert.pem"), &net.client1.id.cert).unwrap();
    std::fs::write(home.join("key.pem"), &net.client1.key_pem).unwrap();
    let identity =
        Identity::from_files("Org1MSP", home.join("cert.pem"), home.join("key.pem")).unwrap();
    let orderers: Vec<String> = net
        .orderers
        .iter()
        .map(|o| format!("'127.0.0.1:{}'", o.port))
        .collect();
    let profile = format!(
        "name: private-test\norganizations:\n  - msp_id: Org1MSP\n    endorsers: [{{name: endorser1, address: '127.0.0.1:{}'}}]\n    committers: [{{name: committer1, address: '127.0.0.1:{}'}}]\n  - msp_id: Org2MSP\n    endorsers: [{{name: endorser2, address: '127.0.0.1:{}'}}]\n    committers: [{{name: committer2, address: '127.0.0.1:{}'}}]\norderers: [{}]\n",
        e1.port,
        net.committers[c1].port,
        e2.port,
        net.committers[c2].port,
        orderers.join(", "),
    );
    let profile = ConnectionProfile::parse(&profile, "private-test").unwrap();
    Gateway::connect(identity, profile)
        .unwrap()
        .network(CHANNEL)
        .contract(CC)
}

fn b64(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}
