//! The state replica following a fake committer's validated block feed: blocks
//! are applied, `ledger_height` grows, simulations read the new versions, the
//! follower reconnects from its height, and a simulation never sees half a block.

mod support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cellchain_core::protocol::Version;
use cellchain_endorser::endorse::Endorser;
use cellchain_endorser::feed::{follow, FeedClient};
use cellchain_endorser::replica::{Applied, ReplicaError};
use serde_json::json;
use support::fake_committer::FakeCommitter;
use support::*;
use tokio::sync::watch;

struct Following {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

fn start_following(e: &Arc<Endorser>, fake: &FakeCommitter) -> Following {
    let (stop, stop_rx) = watch::channel(false);
    let client = FeedClient::new(&fake.addr.to_string(), e.identity.clone(), e.signer());
    let task = tokio::spawn(follow(e.channels[CHANNEL].replica.clone(), client, stop_rx));
    Following { stop, task }
}

impl Following {
    async fn stop(self) {
        self.stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .expect("the follower stops at shutdown")
            .unwrap();
    }
}

async fn get(net: &Net, e: &Arc<Endorser>, key: &str) -> (String, u64) {
    let p = proposal(&net.client, KS, "get", vec![json!(key)]);
    let r = evaluate(e, &sign(p, &net.client)).await;
    assert_eq!(r.response.status, 200, "{:?}", r.response);
    (
        String::from_utf8(r.response.payload.0).unwrap(),
        r.ledger_height,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_replica_follows_the_feed_and_simulations_read_the_new_versions() {
    let net = Net::new();
    let e = net.endorser();
    let fake = FakeCommitter::start(CHANNEL, net.config.msp_set().unwrap()).await;
    let following = start_following(&e, &fake);
    let genesis = net.validated_genesis();
    fake.push(genesis.clone());
    wait_height(&e, 1).await;
    assert_eq!(get(&net, &e, "k").await, ("null".into(), 1));

    let b1 = net.block_writing(&genesis, KS, &[("k".into(), "v1".into())]);
    fake.push(b1.clone());
    wait_height(&e, 2).await;
    assert_eq!(get(&net, &e, "k").await, ("\"v1\"".into(), 2));

    let b2 = net.block_writing(
        &b1,
        KS,
        &[("x".into(), "-".into()), ("k".into(), "v2".into())],
    );
    fake.push(b2.clone());
    wait_height(&e, 3).await;
    assert_eq!(get(&net, &e, "k").await, ("\"v2\"".into(), 3));
    // An endorsement reads the new version and reports the height it ran at.
    let p = proposal(
        &net.client,
        KS,
        "read_own_write",
        vec![json!("k"), json!("v3")],
    );
    let r = endorse(&e, &sign(p, &net.client)).await;
    assert_eq!(r.ledger_height, 3);
    let payload = r.parse_payload().unwrap().unwrap();
    assert_eq!(
        payload.rwset.ns_rwsets[0].reads[0].version,
        Some(Version { block: 2, tx: 1 })
    );

    // The committer drops the stream: the follower reconnects from its height.
    let (status, body) = call(&e, "GET", "/v1/channels/testchannel/status", vec![]).await;
    assert_eq!(
        (status, &body["feed_connected"]),
        (200, &json!(true)),
        "{body}"
    );
    assert_eq!(
        body["commit_hash"],
        json!(b2.metadata.commit_hash.unwrap().to_hex())
    );
    fake.drop_streams();
    let b3 = net.block_writing(&b2, KS, &[("k".into(), "v3".into())]);
    fake.push(b3);
    wait_height(&e, 4).await;
    assert_eq!(get(&net, &e, "k").await, ("\"v3\"".into(), 4));
    // The seeded replica starts at height 1 (block 0 holds the definitions).
    assert_eq!(fake.starts()[0], 1);
    assert_eq!(fake.starts()[1], 3, "reconnected from the replica height");
    assert_eq!(e.channels[CHANNEL].replica.blocks_applied(), 3);
    following.stop().await;
    fake.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_follower_retries_until_the_committer_is_up_and_resumes_after_a_restart() {
    let net = Net::new();
    let e = net.bare_endorser();
    // Nothing listens there yet.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (stop, stop_rx) = watch::channel(false);
    let client = FeedClient::new(&format!("127.0.0.1:{port}"), e.identity.clone(), e.signer());
    let task = tokio::spawn(follow(e.channels[CHANNEL].replica.clone(), client, stop_rx));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(e.channels[CHANNEL].replica.feed_failures() >= 2);
    assert!(!e.channels[CHANNEL].replica.is_connected());
    stop.send(true).unwrap();
    task.await.unwrap();

    // A committer that comes and goes.
    let fake = FakeCommitter::start(CHANNEL, net.config.msp_set().unwrap()).await;
    let genesis = net.validated_genesis();
    fake.push(genesis.clone());
    let following = start_following(&e, &fake);
    wait_height(&e, 1).await;
    following.stop().await;
    fake.stop();
    let fake = FakeCommitter::start(CHANNEL, net.config.msp_set().unwrap()).await;
    fake.push(genesis.clone());
    fake.push(net.block_writing(&genesis, KS, &[("k".into(), "v".into())]));
    let following = start_following(&e, &fake);
    wait_height(&e, 2).await;
    assert_eq!(fake.starts(), vec![1]);
    following.stop().await;
}

#[tokio::test]
async fn blocks_that_are_not_validated_do_not_follow_or_are_not_ours_are_refused() {
    let net = Net::new();
    let e = net.bare_endorser();
    let replica = &e.channels[CHANNEL].replica;
    // Not the genesis block this endorser knows.
    let other = Net::new();
    assert!(matches!(
        replica.apply_block(&other.validated_genesis()),
        Err(ReplicaError::NotOurGenesis { .. })
    ));
    // Not validated.
    assert!(matches!(
        replica.apply_block(&net.genesis),
        Err(ReplicaError::NotValidated { block: 0 })
    ));
    let genesis = net.validated_genesis();
    assert_eq!(replica.apply_block(&genesis).unwrap(), Applied::Applied);
    assert_eq!(replica.apply_block(&genesis).unwrap(), Applied::AlreadyHad);
    let b1 = net.block_writing(&genesis, KS, &[("k".into(), "v".into())]);
    let b2 = net.block_writing(&b1, KS, &[("k".into(), "w".into())]);
    assert!(matches!(
        replica.apply_block(&b2),
        Err(ReplicaError::Gap {
            expected: 1,
            got: 2
        })
    ));
    // A block 1 that links to another block 0.
    let forked = net.block_writing(&other.validated_genesis(), KS, &[("k".into(), "x".into())]);
    assert!(matches!(
        replica.apply_block(&forked),
        Err(ReplicaError::BrokenChain { block: 1 })
    ));
    assert_eq!(replica.height(), 1);
    replica.apply_block(&b1).unwrap();
    replica.apply_block(&b2).unwrap();
    assert_eq!(replica.height(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_simulation_never_sees_half_a_block() {
    const BLOCKS: u64 = 30;
    let net = Arc::new(Net::new());
    let e = net.endorser();
    let fake = Arc::new(FakeCommitter::start(CHANNEL, net.config.msp_set().unwrap()).await);
    let following = start_following(&e, &fake);
    let genesis = net.validated_genesis();
    fake.push(genesis.clone());
    wait_height(&e, 1).await;

    // Block k writes b{k}-0 .. b{k}-9, one key per transaction.
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (net, fake, e, done) = (net.clone(), fake.clone(), e.clone(), done.clone());
        tokio::spawn(async move {
            let mut previous = genesis;
            for k in 1..=BLOCKS {
                let writes: Vec<(String, String)> = (0..10)
                    .map(|i| (format!("b{k}-{i}"), format!("v{k}")))
                    .collect();
                let block = net.block_writing(&previous, KS, &writes);
                fake.push(block.clone());
                wait_height(&e, k + 1).await;
                previous = block;
            }
            done.store(true, Ordering::SeqCst);
        })
    };
    // rw10 reads b{k}-0 .. b{k}-9 and says how many exist: 0 or 10, never between.
    let (seen_all, seen_none) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut readers = Vec::new();
    for r in 0..3u64 {
        let (net, e, done) = (net.clone(), e.clone(), done.clone());
        let (seen_all, seen_none) = (seen_all.clone(), seen_none.clone());
        readers.push(tokio::spawn(async move {
            let mut i = 0u64;
            while !done.load(Ordering::SeqCst) {
                i += 1;
                let height = e.channels[CHANNEL].replica.height();
                // The block being applied next, or the last one applied.
                let k = if (i + r) % 2 == 0 { height } else { height - 1 }.max(1);
                let p = proposal(
                    &net.client,
                    KS,
                    "rw10",
                    vec![json!(format!("b{k}-")), json!("x")],
                );
                let resp = endorse(&e, &sign(p, &net.client)).await;
                let existed: u32 = serde_json::from_slice(&resp.response.payload).unwrap();
                let payload = resp.parse_payload().unwrap().unwrap();
                let versions: Vec<_> = payload.rwset.ns_rwsets[0]
                    .reads
                    .iter()
                    .map(|r| r.version.map(|v| v.block))
                    .collect();
                assert_eq!(versions.len(), 10);
                assert!(
                    versions.iter().all(|v| *v == versions[0]),
                    "a simulation saw part of block {k}: {versions:?}"
                );
                match existed {
                    0 => seen_none.fetch_add(1, Ordering::Relaxed),
                    10 => seen_all.fetch_add(1, Ordering::Relaxed),
                    n => panic!("a simulation saw {n} of the 10 keys of block {k}"),
                };
            }
        }));
    }
    tokio::time::timeout(Duration::from_secs(60), writer)
        .await
        .expect("all blocks applied")
        .unwrap();
    for r in readers {
        r.await.unwrap();
    }
    let (all, none) = (
        seen_all.load(Ordering::Relaxed),
        seen_none.load(Ordering::Relaxed),
    );
    assert!(
        all > 0 && none > 0,
        "saw whole blocks {all} times, none {none} times"
    );
    following.stop().await;
}
