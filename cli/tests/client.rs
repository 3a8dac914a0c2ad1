//! The client commands (`invoke`, `query`, `tx show`, `block show`, `events`)
//! of the real `cellchain` binary against a small network started with
//! `cellchain network up` (two organisations with an endorser and a committer
//! each, one orderer, one channel, the kitchen-sink contract).

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::Instant;

use common::{code, free_port, s, stderr, stdout, text, workspace, workspace_bin, Down};
use serde_json::Value;

const CC: &str = "test-kitchen-sink";

fn topology() -> String {
    let mut y = String::from("name: client-test\norganizations:\n");
    for o in ["Org1MSP", "Org2MSP"] {
        y += &format!(
            "  - msp_id: {o}\n    name: {o}\n    nodes:\n      - {{ name: endorser0, kind: endorser }}\n      - {{ name: committer0, kind: committer }}\n    users:\n      - {{ name: admin, role: admin }}\n      - {{ name: app1 }}\n"
        );
    }
    y += &format!(
        "orderers:\n  - {{ name: orderer0, org: Org1MSP, port: {} }}\n",
        free_port()
    );
    y += "channels:\n  - name: testchannel\n    organizations: [Org1MSP, Org2MSP]\n    consenters: [orderer0]\n    batch:\n      batch_timeout: 100ms\n    raft:\n      tick_interval: 100ms\n      election_tick: 10\n      heartbeat_tick: 1\n";
    y
}

/// Runs `cellchain ARGS --dir DIR`.
fn cli(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cellchain"))
        .args(args)
        .args(["--dir", s(dir)])
        .output()
        .expect("run cellchain")
}

/// As [`cli`], asserting success; returns stdout.
fn ok(dir: &Path, args: &[&str]) -> String {
    let out = cli(dir, args);
    assert!(out.status.success(), "{args:?}: {}", text(&out));
    stdout(&out)
}

fn json(dir: &Path, args: &[&str]) -> Value {
    let out = ok(dir, args);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?} prints JSON ({e}):\n{out}"))
}

/// As [`cli`], asserting exit code 1 with an `error:` line and a `hint:` line;
/// returns stderr.
fn fails(dir: &Path, args: &[&str]) -> String {
    let out = cli(dir, args);
    assert_eq!(code(&out), 1, "{args:?}: {}", text(&out));
    let err = stderr(&out);
    assert!(err.starts_with("error: "), "{args:?}: {}", text(&out));
    assert!(err.contains("\nhint: "), "{args:?}: {}", text(&out));
    err
}

#[test]
fn invoke_query_tx_block_and_events_against_a_local_network() {
    let started = Instant::now();
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
    ok(
        &dir,
        &[
            "network",
            "up",
            "--topology",
            s(&topo),
            "--bin-dir",
            s(&bin_dir),
            "--contracts",
            s(&kitchen_sink),
            "--timeout",
            "60",
        ],
    );
    let up = started.elapsed();

    // Invoke (default user Org1MSP/app1, default channel testchannel).
    let done = json(&dir, &["invoke", CC, "put", r#""k""#, r#""v""#, "--json"]);
    assert_eq!(done["validation_code"], "VALID", "{done}");
    assert_eq!(done["channel"], "testchannel", "{done}");
    let tx_id = done["tx_id"].as_str().expect("a tx id").to_string();
    assert_eq!(tx_id.len(), 64);
    let block = done["block"].as_u64().expect("a block number");
    assert!(block >= 1, "{done}");

    // Query reads it back.
    let got = ok(&dir, &["query", CC, "get", r#""k""#]);
    assert_eq!(got.trim(), r#""v""#);

    // tx show: committed, valid, with its details.
    let tx = json(&dir, &["tx", "show", &tx_id, "--json"]);
    assert_eq!(tx["validation_code"], "VALID", "{tx}");
    assert_eq!(tx["block"], block, "{tx}");
    let t = &tx["transaction"];
    assert_eq!(t["tx_id"], tx_id.as_str(), "{tx}");
    assert_eq!(t["creator_msp"], "Org1MSP", "{tx}");
    assert_eq!(t["chaincode"], CC, "{tx}");
    assert_eq!(t["function"], "put", "{tx}");
    assert_eq!(t["writes"], 1, "{tx}");
    let mut endorsers: Vec<&str> = t["endorsers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    endorsers.sort();
    assert_eq!(endorsers, ["Org1MSP", "Org2MSP"], "{tx}");
    let readable = ok(&dir, &["tx", "show", &tx_id, "--user", "Org2MSP/app1"]);
    assert!(readable.contains("VALID"), "{readable}");
    assert!(readable.contains(&format!("{CC} (version")), "{readable}");

    // block show: the raw block plus decoded transactions.
    let n = block.to_string();
    let b = ok(&dir, &["block", "show", &n, "--json"]);
    assert!(b.contains(&tx_id), "{b}");
    let b: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(b["header"]["number"], block);
    assert!(b["metadata"]["commit_hash"].is_string(), "{b}");
    let readable = ok(&dir, &["block", "show", &n, "--channel", "testchannel"]);
    for want in ["hash", "previous hash", "data hash", "commit hash", &tx_id] {
        assert!(readable.contains(want), "{want}: {readable}");
    }
    let genesis = ok(&dir, &["block", "show", "0"]);
    assert!(genesis.contains("config"), "{genesis}");

    // Events: the block, then with a checkpoint the next one (a chaincode event).
    let ev = ok(&dir, &["events", "--count", "1", "--from", &n]);
    assert!(ev.contains(&tx_id) && ev.contains("VALID"), "{ev}");
    let emitted = ok(&dir, &["invoke", CC, "emit", r#""hello""#, r#"{"n":1}"#]);
    assert!(emitted.contains("validation  VALID"), "{emitted}");
    let checkpoint = tmp.path().join("listener.json");
    let c = s(&checkpoint);
    let first = ok(
        &dir,
        &["events", "--from", &n, "--count", "1", "--checkpoint", c],
    );
    assert!(first.contains(&tx_id), "{first}");
    let second = ok(&dir, &["events", "--count", "1", "--checkpoint", c]);
    assert!(
        !second.contains(&tx_id) && second.contains("emit"),
        "{second}"
    );
    let ev = ok(
        &dir,
        &["events", "--chaincode", CC, "--from", &n, "--count", "1"],
    );
    assert!(ev.contains(r#"hello  {"n":1}"#), "{ev}");

    // Bad input: one error line, a hint, exit 1.
    let err = fails(&dir, &["invoke", CC, "no_such_function"]);
    assert!(err.contains("unknown function no_such_function"), "{err}");
    let err = fails(&dir, &["query", CC, "get", "--user", "Org1MSP/nobody"]);
    let path = dir.join("crypto/Org1MSP/users/nobody");
    assert!(err.contains(s(&path)), "{err}");
    assert!(
        err.contains("Org1MSP/app1"),
        "the hint lists the users: {err}"
    );
    let err = fails(&dir, &["query", CC, "get", "k"]);
    assert!(err.contains("not JSON"), "{err}");
    let err = fails(&dir, &["block", "show", "999"]);
    assert!(err.contains("does not exist"), "{err}");
    let err = fails(&tmp.path().join("nothing"), &["query", CC, "get", r#""k""#]);
    assert!(err.contains("connection.yaml missing"), "{err}");
    assert!(err.contains("cellchain network up"), "{err}");

    eprintln!(
        "client test took {:?} (network up {up:?})",
        started.elapsed()
    );
}
