//! `cellchain network up|down|status` with the real node binaries: a small
//! topology (two organisations with an endorser and a committer each, three
//! orderers, one channel) comes up healthy, a killed committer alone is
//! restarted, `down` stops everything and `up` resumes the same ledgers.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use common::{free_port, s, text, workspace, workspace_bin, Down};
use serde_json::Value;

fn topology() -> String {
    let mut y = String::from("name: network-test\norganizations:\n");
    for o in ["Org1MSP", "Org2MSP"] {
        y += &format!(
            "  - msp_id: {o}\n    name: {o}\n    nodes:\n      - {{ name: endorser0, kind: endorser }}\n      - {{ name: committer0, kind: committer }}\n    users:\n      - {{ name: admin, role: admin }}\n"
        );
    }
    y += "orderers:\n";
    for i in 0..3 {
        let org = if i % 2 == 0 { "Org1MSP" } else { "Org2MSP" };
        y += &format!(
            "  - {{ name: orderer{i}, org: {org}, port: {} }}\n",
            free_port()
        );
    }
    y += "channels:\n  - name: testchannel\n    organizations: [Org1MSP, Org2MSP]\n    consenters: [orderer0, orderer1, orderer2]\n    batch:\n      batch_timeout: 200ms\n    raft:\n      tick_interval: 100ms\n      election_tick: 10\n      heartbeat_tick: 1\n";
    y
}

/// Runs `cellchain network ARGS --dir DIR`, asserting success; returns stdout.
fn network(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_cellchain"))
        .arg("network")
        .args(args)
        .args(["--dir", s(dir)])
        .output()
        .expect("run cellchain");
    assert!(out.status.success(), "network {args:?}: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn status(dir: &Path) -> Vec<Value> {
    let out = network(dir, &["status", "--json"]);
    serde_json::from_str::<Value>(&out)
        .unwrap_or_else(|e| panic!("status --json is JSON ({e}):\n{out}"))
        .as_array()
        .expect("an array")
        .clone()
}

fn pids(st: &[Value]) -> BTreeMap<String, Value> {
    st.iter()
        .map(|n| (n["name"].as_str().unwrap().to_string(), n["pid"].clone()))
        .collect()
}

fn heights(st: &[Value]) -> BTreeMap<String, Value> {
    st.iter()
        .map(|n| (n["name"].as_str().unwrap().to_string(), n["height"].clone()))
        .collect()
}

/// Every node healthy at height >= 1 and one Raft leader per channel.
fn assert_all_up(st: &[Value]) {
    assert_eq!(
        st.len(),
        7,
        "3 orderers, 2 committers, 2 endorsers: {st:#?}"
    );
    let mut leaders: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for n in st {
        assert_eq!(n["healthy"], true, "{n}");
        assert!(n["pid"].is_u64(), "{n}");
        assert!(n["url"].as_str().unwrap().starts_with("http://127.0.0.1:"));
        let h = n["height"]["testchannel"].as_u64();
        assert!(h.is_some_and(|h| h >= 1), "{n}");
        match n["kind"].as_str().unwrap() {
            "orderer" => {
                let l = n["raft_leader"]["testchannel"].as_str().expect("a leader");
                leaders
                    .entry("testchannel".into())
                    .or_default()
                    .insert(l.into());
                assert!(n["commit_hash"].is_null());
            }
            "committer" => {
                assert!(n["commit_hash"].is_object(), "{n}");
                assert!(n["raft_leader"].is_null());
            }
            "endorser" => assert!(n["raft_leader"].is_null() && n["commit_hash"].is_null()),
            k => panic!("kind {k}"),
        }
    }
    assert_eq!(leaders.len(), 1);
    for (ch, names) in leaders {
        assert_eq!(names.len(), 1, "exactly one leader on {ch}: {names:?}");
    }
}

#[test]
fn network_up_restart_down_and_resume() {
    let started = std::time::Instant::now();
    let bin_dir = workspace_bin("cellchain-orderer", "orderer")
        .parent()
        .unwrap()
        .to_path_buf();
    workspace_bin("cellchain-committer", "committer");
    workspace_bin("cellchain-endorser", "endorser");
    let tmp = tempfile::tempdir().unwrap();
    let topo = tmp.path().join("topology.yaml");
    std::fs::write(&topo, topology()).unwrap();
    let dir = tmp.path().join("net");
    let _down = Down(dir.clone());
    let kitchen_sink = workspace().join("chaincode/test-contracts/kitchen-sink");
    let up_args = [
        "up",
        "--topology",
        s(&topo),
        "--bin-dir",
        s(&bin_dir),
        "--contracts",
        s(&kitchen_sink),
        "--timeout",
        "60",
    ];

    let out = network(&dir, &up_args);
    assert!(out.contains("Org1MSP/committer0"), "{out}");
    for f in [
        "network.json",
        "definitions.yaml",
        "testchannel.block",
        "connection.yaml",
    ] {
        assert!(dir.join(f).is_file(), "{f}");
    }
    assert!(dir.join("orderer0/orderer.yaml").is_file());
    assert!(dir.join("Org2MSP/endorser0/endorser.log").is_file());
    let st = status(&dir);
    assert_all_up(&st);
    let before = pids(&st);

    // A killed committer alone is started again; the others keep their pids.
    let victim = st
        .iter()
        .find(|n| n["name"] == "Org1MSP/committer0")
        .expect("the committer");
    let pid = victim["pid"].as_u64().unwrap().to_string();
    assert!(Command::new("kill")
        .args(["-KILL", &pid])
        .status()
        .unwrap()
        .success());
    let st = {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let st = status(&dir);
            let v = st
                .iter()
                .find(|n| n["name"] == "Org1MSP/committer0")
                .unwrap();
            if v["pid"].is_null() {
                assert_eq!(v["healthy"], false);
                break st;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the committer still runs"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    };
    assert_eq!(st.iter().filter(|n| n["pid"].is_null()).count(), 1);
    let out = network(&dir, &up_args);
    assert!(out.contains("started  Org1MSP/committer0"), "{out}");
    assert_eq!(out.matches("  started  ").count(), 1, "{out}");
    let st = status(&dir);
    assert_all_up(&st);
    let after = pids(&st);
    for (name, pid) in &before {
        if name == "Org1MSP/committer0" {
            assert_ne!(&after[name], pid);
        } else {
            assert_eq!(&after[name], pid, "{name} kept running");
        }
    }
    let heights_before = heights(&st);

    // Down stops everything; data stays.
    let out = network(&dir, &["down"]);
    assert_eq!(out.matches("  stopped  ").count(), 7, "{out}");
    let st = status(&dir);
    for n in &st {
        assert!(n["pid"].is_null() && n["healthy"] == false, "{n}");
    }
    assert!(dir.join("Org1MSP/committer0/data").is_dir());

    // Up again (the topology and contracts are remembered): same heights.
    let out = network(&dir, &["up", "--bin-dir", s(&bin_dir), "--timeout", "60"]);
    assert_eq!(out.matches("  started  ").count(), 7, "{out}");
    let st = status(&dir);
    assert_all_up(&st);
    let heights_after = heights(&st);
    for (name, h) in &heights_before {
        let (a, b) = (
            h["testchannel"].as_u64().unwrap(),
            heights_after[name]["testchannel"].as_u64().unwrap(),
        );
        assert_eq!(a, b, "{name}: height {a} before down, {b} after up");
    }
    eprintln!("network test took {:?}", started.elapsed());
}
