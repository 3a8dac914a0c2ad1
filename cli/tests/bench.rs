//! `cellchain bench` with the real node binaries: a tiny two-round workload
//! (blind writes at a fixed low rate, then read-modify-writes of seeded keys)
//! on a fresh two-organisation network that the bench starts itself, with
//! `--json` and `--html`; and malformed workload files, refused with exit 1
//! and a one-line error naming the field.

mod common;

use std::path::Path;

use common::{code, free_port, s, stderr, text, workspace, workspace_bin, Down};
use serde_json::Value;

fn topology() -> String {
    let mut y = String::from("name: bench-test\norganizations:\n");
    for o in ["Org1MSP", "Org2MSP"] {
        y += &format!(
            "  - msp_id: {o}\n    name: {o}\n    nodes:\n      - {{ name: endorser0, kind: endorser }}\n      - {{ name: committer0, kind: committer }}\n    users:\n      - {{ name: admin, role: admin }}\n      - {{ name: app1 }}\n"
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
    y += "channels:\n  - name: bench\n    organizations: [Org1MSP, Org2MSP]\n    consenters: [orderer0, orderer1, orderer2]\n";
    y += "    batch:\n      batch_timeout: 100ms\n    raft:\n      tick_interval: 100ms\n      election_tick: 10\n      heartbeat_tick: 1\n";
    y
}

fn workload(topology: &Path) -> String {
    let bench_kv = workspace().join("chaincode/contracts/bench-kv");
    format!(
        r#"name: tiny
description: two small rounds
network:
  topology: {}
  contracts: [{}]
channel: bench
chaincode: {{ name: bench-kv, policy: "OR('Org1MSP.peer', 'Org2MSP.peer')" }}
rounds:
  - name: blind
    workload: {{ kind: blind_write, value_size: 100 }}
    workers: 2
    rate: {{ fixed_tps: 20 }}
    tx_count: 40
  - name: rmw
    workload: {{ kind: read_modify_write, value_size: 50, keys: 8 }}
    workers: 2
    rate: {{ max_in_flight: 4 }}
    tx_count: 20
"#,
        topology.display(),
        bench_kv.display()
    )
}

fn bench(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_cellchain"))
        .arg("bench")
        .args(args)
        .current_dir(workspace())
        .output()
        .expect("run cellchain")
}

#[test]
fn a_tiny_workload_commits_everything_and_reports_it() {
    for (package, bin) in [
        ("cellchain-orderer", "orderer"),
        ("cellchain-committer", "committer"),
        ("cellchain-endorser", "endorser"),
    ] {
        workspace_bin(package, bin);
    }
    let tmp = tempfile::tempdir().unwrap();
    let topo = tmp.path().join("topology.yaml");
    std::fs::write(&topo, topology()).unwrap();
    let file = tmp.path().join("tiny.yaml");
    std::fs::write(&file, workload(&topo)).unwrap();
    let dir = tmp.path().join("net");
    let _down = Down(dir.clone());
    let json = tmp.path().join("out.json");
    let html = tmp.path().join("out.html");
    let out = bench(&[
        "--workload",
        s(&file),
        "--dir",
        s(&dir),
        "--json",
        s(&json),
        "--html",
        s(&html),
    ]);
    assert!(out.status.success(), "{}", text(&out));

    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let rounds = report.as_array().expect("an array of rounds");
    assert_eq!(rounds.len(), 2, "{report:#}");
    for (r, (name, count)) in rounds.iter().zip([("blind", 40), ("rmw", 20)]) {
        assert_eq!(r["name"], name, "{r:#}");
        assert_eq!(r["submitted"], count, "{r:#}");
        assert_eq!(r["committed"], r["submitted"], "{r:#}");
        assert_eq!(r["failed"], serde_json::json!({}), "{r:#}");
        assert_eq!(r["timed_out"], 0, "{r:#}");
        assert!(r["tps"].as_f64().unwrap() > 0.0, "{r:#}");
        let (p50, p90, p99, max) = (
            r["p50_ms"].as_f64().unwrap(),
            r["p90_ms"].as_f64().unwrap(),
            r["p99_ms"].as_f64().unwrap(),
            r["max_ms"].as_f64().unwrap(),
        );
        assert!(p50 > 0.0 && p50 <= p90 && p90 <= p99 && p99 <= max, "{r:#}");
        let nodes = r["nodes"].as_array().unwrap();
        // 3 orderers, 2 committers, 2 endorsers and the bench itself.
        assert_eq!(nodes.len(), 8, "{r:#}");
        for n in nodes {
            assert!(n["pid"].as_u64().unwrap() > 0, "{n}");
            assert!(n["cpu_share"].as_f64().unwrap() >= 0.0, "{n}");
            assert!(n["rss_mb"].as_f64().unwrap() > 0.0, "{n}");
        }
        for name in ["orderer0", "Org1MSP/committer0", "Org2MSP/endorser0"] {
            assert!(nodes.iter().any(|n| n["name"] == name), "{name}: {r:#}");
        }
        let cpu: f64 = nodes
            .iter()
            .map(|n| n["cpu_seconds"].as_f64().unwrap())
            .sum();
        assert!(cpu > 0.0, "the processes used CPU: {r:#}");
    }
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<svg") && page.contains("polyline"), "{page}");
    assert!(page.contains("blind") && page.contains("rmw"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("in flight"), "progress lines: {stdout}");
    assert!(stdout.contains("COMMITTED"), "the table: {stdout}");
}

#[test]
fn malformed_workloads_exit_1_naming_the_field() {
    let tmp = tempfile::tempdir().unwrap();
    let good = workload(Path::new("topology.yaml"));
    for (bad, field) in [
        (
            good.replace("kind: blind_write", "kind: blind_rite"),
            "rounds[0].workload",
        ),
        (good[..good.find("rounds:").unwrap()].to_string(), "rounds"),
        (good.replace("tx_count: 20", ""), "rounds[1]"),
    ] {
        let file = tmp.path().join("bad.yaml");
        std::fs::write(&file, &bad).unwrap();
        let out = bench(&["--workload", s(&file), "--dir", s(&tmp.path().join("net"))]);
        assert_eq!(code(&out), 1, "{}", text(&out));
        let err = stderr(&out);
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 1, "one line: {err}");
        assert!(
            lines[0].starts_with("error: ") && lines[0].contains(field),
            "{field}: {err}"
        );
    }
}
