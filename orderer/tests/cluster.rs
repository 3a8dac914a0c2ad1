//! Three orderer processes on loopback: ordering, agreement, deliver, access.

mod support;

use std::collections::HashSet;

use support::{tx_ids, Cluster, Settings, CHANNEL, PRIVATE};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_orderers_order_concurrent_clients_into_identical_chains() {
    let mut c = Cluster::new(3, Settings::default());
    c.start_all();
    c.wait_leader(CHANNEL).await;

    // Four clients, each sending to a different orderer in turn (followers
    // forward to the leader).
    let clients = 4;
    let per_client = 60;
    let c = std::sync::Arc::new(c);
    let mut tasks = Vec::new();
    for k in 0..clients {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            let mut admitted = Vec::new();
            for n in 0..per_client {
                let e = c.envelope(&c.client, CHANNEL, 100);
                let tx = e.parse_payload().unwrap().header.tx_id.to_string();
                let node = (k + n) % 3;
                let (status, body) = c.broadcast(node, CHANNEL, &e).await;
                assert_eq!(status, 200, "broadcast to orderer{node}: {body}");
                assert_eq!(body["status"], "ORDERED");
                assert_eq!(body["tx_id"], tx.as_str());
                admitted.push(tx);
            }
            admitted
        }));
    }
    let mut admitted = Vec::new();
    for t in tasks {
        admitted.extend(t.await.unwrap());
    }
    assert_eq!(admitted.len(), clients * per_client);

    let height = c.height(0, CHANNEL).await;
    for i in 0..3 {
        c.wait_height(i, CHANNEL, height).await;
    }
    let mut c = std::sync::Arc::try_unwrap(c).ok().expect("tasks done");
    for i in 0..3 {
        c.stop(i);
    }
    let chains: Vec<_> = (0..3).map(|i| c.stored_blocks(i, CHANNEL)).collect();
    for i in 1..3 {
        assert_eq!(chains[i].len(), chains[0].len(), "same height");
        for (a, b) in chains[0].iter().zip(&chains[i]) {
            assert_eq!(a.hash(), b.hash(), "block {} differs", a.header.number);
            // Each orderer signed its own copy (genesis is signed by the admins).
            if b.header.number > 0 {
                assert_eq!(b.metadata.signatures.len(), 1);
            }
        }
    }
    let ordered = tx_ids(&chains[0]);
    let unique: HashSet<_> = ordered.iter().collect();
    assert_eq!(unique.len(), ordered.len(), "no envelope twice");
    let expected: HashSet<_> = admitted.iter().collect();
    assert_eq!(
        unique, expected,
        "every admitted envelope, and nothing else"
    );

    // The stores verify offline, signatures and all.
    for i in 0..3 {
        let dir = c.nodes[i].data.join(CHANNEL).join("blocks");
        let report =
            cellchain_storage::verify_ledger(&dir, cellchain_core::crypto::default_provider())
                .unwrap();
        assert_eq!(report.blocks, chains[0].len() as u64);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deliver_streams_blocks_to_readers_and_refuses_non_members_of_a_private_channel() {
    let mut c = Cluster::new(3, Settings::default());
    c.start_all();
    c.wait_leader(PRIVATE).await;
    for _ in 0..3 {
        let e = c.envelope(&c.client, PRIVATE, 10);
        assert_eq!(c.broadcast(1, PRIVATE, &e).await.0, 200);
    }
    let height = c.height(1, PRIVATE).await;
    assert!(height >= 2);

    let (status, blocks) = c.deliver(2, PRIVATE, &c.client, 0, Some(height - 1)).await;
    assert_eq!(status, 200);
    assert_eq!(blocks.len() as u64, height);
    for (n, b) in blocks.iter().enumerate() {
        assert_eq!(b.header.number, n as u64);
    }
    assert_eq!(tx_ids(&blocks).len(), 3);

    // Org3 is a member of the shared channel but not of the private one.
    let (status, blocks) = c.deliver(2, PRIVATE, &c.outsider, 0, None).await;
    assert_eq!(status, 403);
    assert!(blocks.is_empty());
    let (status, _) = c.deliver(2, CHANNEL, &c.outsider, 0, Some(0)).await;
    assert_eq!(status, 200, "Org3 reads the shared channel");
    // An identity from an unknown CA.
    assert_eq!(c.deliver(0, CHANNEL, &c.stranger, 0, Some(0)).await.0, 403);
    // Org3 cannot write to the private channel either.
    let e = c.envelope(&c.outsider, PRIVATE, 10);
    let (status, body) = c.broadcast(0, PRIVATE, &e).await;
    assert_eq!(status, 403, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deliver_follows_the_channel_as_new_blocks_are_cut() {
    let mut c = Cluster::new(3, Settings::default());
    c.start_all();
    c.wait_leader(CHANNEL).await;
    let c = std::sync::Arc::new(c);
    let reader = {
        let c = c.clone();
        tokio::spawn(async move { c.deliver(0, CHANNEL, &c.client, 1, Some(2)).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    for _ in 0..2 {
        let e = c.envelope(&c.client, CHANNEL, 10);
        assert_eq!(c.broadcast(2, CHANNEL, &e).await.0, 200);
    }
    let (status, blocks) = reader.await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(
        blocks.len(),
        2,
        "blocks 1 and 2, which did not exist when asked"
    );
}
