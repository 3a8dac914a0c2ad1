//! Faults of the ordering service as a committer sees them: an orderer that
//! stops answering (SIGSTOP: its connections stay open, nothing arrives) while
//! the other orderers go on ordering.

#[path = "../../committer/tests/support/mod.rs"]
mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use cellchain_core::protocol::{Envelope, KvWrite, NsRwSet, TxRwSet};
use cellchain_core::Bytes;
use support::*;

/// Sends SIGCONT to a stopped process when dropped, whatever the test did.
struct Stopped(u32);

impl Stopped {
    fn stop(pid: u32) -> Stopped {
        let ok = Command::new("kill")
            .args(["-STOP", &pid.to_string()])
            .status()
            .unwrap();
        assert!(ok.success(), "SIGSTOP {pid}");
        Stopped(pid)
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-CONT", &self.0.to_string()])
            .status();
    }
}

fn blind_write(key: &str) -> TxRwSet {
    TxRwSet {
        ns_rwsets: vec![NsRwSet {
            namespace: CC.into(),
            writes: vec![KvWrite {
                key: key.into(),
                is_delete: false,
                value: Bytes(b"v".to_vec()),
            }],
            ..NsRwSet::default()
        }],
    }
}

/// Broadcasts to the orderers in `to` only, with a short timeout per attempt,
/// until one orders it.
async fn broadcast_to(net: &Net, to: &[usize], e: &Envelope) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    for i in to.iter().cycle() {
        let url = format!(
            "http://127.0.0.1:{}/v1/channels/{CHANNEL}/broadcast",
            net.orderers[*i].port
        );
        if let Ok(r) = http.post(url).json(e).send().await {
            if r.status().as_u16() == 200 {
                return;
            }
        }
        assert!(Instant::now() < deadline, "not ordered:\n{}", net.logs());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_committer_fails_over_from_a_stalled_orderer_and_keeps_committing() {
    let mut net = Net::new();
    net.start_orderers();
    let endpoints: Vec<String> = net
        .orderers
        .iter()
        .map(|o| format!("127.0.0.1:{}", o.port))
        .collect();
    // The committer prefers orderer0 (stall_timeout is 2 s in the test topology).
    let c = net.add_committer("committer1", "Org1MSP", &[CHANNEL], &endpoints);
    net.wait_leader(CHANNEL).await;
    net.start_committer(c);
    net.wait_committed(c, CHANNEL, 1).await;
    net.deploy(c, CHANNEL, &cc_definition(CHANNEL)).await;
    let (tx_id, e) = net.tx(CHANNEL, blind_write("before"), &[&net.peer1, &net.peer2]);
    net.broadcast(CHANNEL, &e).await;
    net.wait_tx(c, CHANNEL, tx_id).await;
    let status = net.committer_status(c, CHANNEL).await.unwrap();
    assert_eq!(status["orderer"], endpoints[0].as_str(), "{status}");
    let failovers = status["failovers"].as_u64().unwrap();

    // orderer0 freezes: its deliver stream stays open and silent.
    let pid = net.orderers[0].child.as_ref().unwrap().id();
    let frozen = Stopped::stop(pid);
    let (tx_id, e) = net.tx(CHANNEL, blind_write("during"), &[&net.peer1, &net.peer2]);
    broadcast_to(&net, &[1, 2], &e).await;
    let s = net.wait_tx(c, CHANNEL, tx_id).await;
    assert_eq!(s["code"]["name"], "VALID", "{s}");
    let status = net.committer_status(c, CHANNEL).await.unwrap();
    assert_ne!(status["orderer"], endpoints[0].as_str(), "{status}");
    assert!(
        status["failovers"].as_u64().unwrap() > failovers,
        "the stall counted as a failover: {status}"
    );
    drop(frozen);

    // orderer0 thaws and catches up; the committer goes on committing.
    let (tx_id, e) = net.tx(CHANNEL, blind_write("after"), &[&net.peer1, &net.peer2]);
    net.broadcast(CHANNEL, &e).await;
    let s = net.wait_tx(c, CHANNEL, tx_id).await;
    assert_eq!(s["code"]["name"], "VALID", "{s}");
}
