//! `cellchain network up|down|status` with the real node binaries: a small
//! topology (two organisations with an endorser and a committer each, three
//! orderers, one channel) comes up healthy with the three therapy contracts
//! deployed through the lifecycle, a killed committer alone is restarted (the
//! definitions stay at sequence 1), `down` stops everything and `up` resumes
//! the same ledgers. A second test upgrades a contract through the CLI's
//! lifecycle commands (package, install, approve, check-commit-readiness,
//! commit).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use cellchain_core::lifecycle::ChaincodePackage;
use common::{code, free_port, s, stderr, stdout, text, workspace, workspace_bin, Down};
use serde_json::Value;

/// The therapy contracts `network up` deploys by default.
const THERAPY: [&str; 3] = ["patient-batch", "release", "data-sharing"];

fn topology(orderers: usize) -> String {
    let mut y = String::from("name: network-test\norganizations:\n");
    for o in ["Org1MSP", "Org2MSP"] {
        y += &format!(
            "  - msp_id: {o}\n    name: {o}\n    nodes:\n      - {{ name: endorser0, kind: endorser }}\n      - {{ name: committer0, kind: committer }}\n    users:\n      - {{ name: admin, role: admin }}\n      - {{ name: app1 }}\n"
        );
    }
    y += "orderers:\n";
    for i in 0..orderers {
        let org = if i % 2 == 0 { "Org1MSP" } else { "Org2MSP" };
        y += &format!(
            "  - {{ name: orderer{i}, org: {org}, port: {} }}\n",
            free_port()
        );
    }
    let consenters: Vec<String> = (0..orderers).map(|i| format!("orderer{i}")).collect();
    y += &format!(
        "channels:\n  - name: testchannel\n    organizations: [Org1MSP, Org2MSP]\n    consenters: [{}]\n",
        consenters.join(", ")
    );
    y += "    batch:\n      batch_timeout: 200ms\n    raft:\n      tick_interval: 100ms\n      election_tick: 10\n      heartbeat_tick: 1\n";
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

/// Runs `cellchain ARGS --dir DIR` (any command), whatever its outcome.
fn cli(dir: &Path, args: &[&str]) -> std::process::Output {
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

/// As [`cli`], asserting exit 1 with one `error:` line and one `hint:` line;
/// returns the error line.
fn fails(dir: &Path, args: &[&str]) -> String {
    let out = cli(dir, args);
    assert_eq!(code(&out), 1, "{args:?}: {}", text(&out));
    let err = stderr(&out);
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("error: ") || l.starts_with("hint: "))
        .collect();
    assert_eq!(lines.len(), 2, "{args:?}: {}", text(&out));
    assert!(lines[0].starts_with("error: ") && lines[1].starts_with("hint: "));
    format!("{}\n{}", lines[0], lines[1])
}

/// The committed definitions by name (`chaincode query-committed --json`).
fn committed(dir: &Path) -> BTreeMap<String, Value> {
    let out = ok(dir, &["chaincode", "query-committed", "--json"]);
    let v: Value = serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("query-committed --json is JSON ({e}):\n{out}"));
    v.as_array()
        .expect("an array")
        .iter()
        .map(|d| (d["name"].as_str().unwrap().to_string(), d.clone()))
        .collect()
}

/// The package `network up` wrote for contract `name`.
fn package(dir: &Path, name: &str) -> ChaincodePackage {
    let path = dir.join(format!("chaincode/{name}.package.json"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    ChaincodePackage::from_bytes(&bytes).expect("a valid package")
}

/// Each therapy contract is committed at `sequence` with its package's module.
fn assert_therapy_committed(dir: &Path, sequence: u64) {
    let defs = committed(dir);
    for name in THERAPY {
        let d = defs
            .get(name)
            .unwrap_or_else(|| panic!("{name} is committed: {defs:#?}"));
        assert_eq!(d["sequence"], sequence, "{d}");
        let p = package(dir, name);
        assert_eq!(d["wasm_hash"], p.wasm_sha256.to_hex(), "{d}");
        assert_eq!(p.contract, name);
        assert_eq!(d["version"], p.contract_version.as_str(), "{d}");
    }
    assert_eq!(defs.len(), THERAPY.len(), "{defs:#?}");
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
    std::fs::write(&topo, topology(3)).unwrap();
    let dir = tmp.path().join("net");
    let _down = Down(dir.clone());
    let contracts: Vec<String> = THERAPY
        .iter()
        .map(|c| s(&workspace().join("chaincode/contracts").join(c)).to_string())
        .collect();
    let contracts = contracts.join(",");
    let up_args = [
        "up",
        "--topology",
        s(&topo),
        "--bin-dir",
        s(&bin_dir),
        "--contracts",
        &contracts,
        "--timeout",
        "60",
    ];

    let out = network(&dir, &up_args);
    assert!(out.contains("Org1MSP/committer0"), "{out}");
    for f in ["network.json", "testchannel.block", "connection.yaml"] {
        assert!(dir.join(f).is_file(), "{f}");
    }
    assert!(!dir.join("definitions.yaml").exists());
    assert!(dir.join("orderer0/orderer.yaml").is_file());
    assert!(dir.join("Org2MSP/endorser0/endorser.log").is_file());
    // Definitions come from the ledger: no node config names them or modules,
    // and the connection profile has no policies.
    for config in [
        "Org1MSP/endorser0/endorser.yaml",
        "Org1MSP/committer0/committer.yaml",
    ] {
        let text = std::fs::read_to_string(dir.join(config)).unwrap();
        assert!(
            !text.contains("definitions:") && !text.contains("chaincodes:"),
            "{config}:\n{text}"
        );
    }
    let profile = std::fs::read_to_string(dir.join("connection.yaml")).unwrap();
    assert!(!profile.contains("policies"), "{profile}");
    // Each contract went through the lifecycle.
    for name in THERAPY {
        for line in [
            format!("installing {name} on 2 endorsers"),
            format!("{name} sequence 1: approved by 2 of 2"),
            format!("committed {name} sequence 1"),
        ] {
            assert!(out.contains(&line), "{line}:\n{out}");
        }
    }
    assert_therapy_committed(&dir, 1);
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
    // The same modules are committed already: nothing is approved or committed.
    for name in THERAPY {
        let line = format!("{name} sequence 1 is already committed");
        assert!(out.contains(&line), "{line}:\n{out}");
    }
    assert!(!out.contains("approved by"), "{out}");
    assert!(!out.contains("committed patient-batch"), "{out}");
    assert_therapy_committed(&dir, 1);
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
    assert_therapy_committed(&dir, 1);
    eprintln!("network test took {:?}", started.elapsed());
}

/// A new version of a contract through the CLI's lifecycle commands: package,
/// install by each organisation's admin, approve by one, a commit refused for
/// the missing approval, approve by the other, commit, and the new definition
/// (sequence 2) in force.
#[test]
fn upgrade_a_contract_through_the_lifecycle_commands() {
    let bin_dir = workspace_bin("cellchain-orderer", "orderer")
        .parent()
        .unwrap()
        .to_path_buf();
    workspace_bin("cellchain-committer", "committer");
    workspace_bin("cellchain-endorser", "endorser");
    let tmp = tempfile::tempdir().unwrap();
    let topo = tmp.path().join("topology.yaml");
    std::fs::write(&topo, topology(1)).unwrap();
    let dir = tmp.path().join("net");
    let _down = Down(dir.clone());
    let kitchen_sink = workspace().join("chaincode/test-contracts/kitchen-sink");
    network(
        &dir,
        &[
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
    const CC: &str = "test-kitchen-sink";
    let first = committed(&dir)[CC].clone();
    assert_eq!(first["sequence"], 1, "{first}");

    // Package: the package id is LABEL:SHA256 of the module.
    let file = tmp.path().join("ks2.json");
    let out = common::cellchain(&[
        "chaincode",
        "package",
        s(&kitchen_sink),
        "--label",
        "ks_2.0",
        "--output",
        s(&file),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let out = stdout(&out);
    let pkg = ChaincodePackage::from_bytes(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(out.trim(), format!("ks_2.0:{}", pkg.wasm_sha256.to_hex()));
    assert_eq!(pkg.contract, CC);

    // Install with each organisation's admin (the default is Org1MSP's).
    let out = ok(&dir, &["chaincode", "install", s(&file)]);
    assert!(out.contains(&pkg.wasm_sha256.to_hex()), "{out}");
    assert_eq!(out.lines().count(), 1, "one endorser of Org1MSP: {out}");
    let out = ok(
        &dir,
        &[
            "chaincode",
            "install",
            s(&file),
            "--user",
            "Org2MSP/admin",
            "--json",
        ],
    );
    let installed: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(installed.as_array().unwrap().len(), 1, "{installed}");
    // `network up` installed the same module: the endorser had it already.
    assert_eq!(installed[0]["already_installed"], true, "{installed}");
    let listed = ok(&dir, &["chaincode", "query-installed", "--json"]);
    assert!(listed.contains(&pkg.wasm_sha256.to_hex()), "{listed}");

    // The new definition: version 2.0, sequence 2, both organisations must endorse.
    let policy = "AND('Org1MSP.peer', 'Org2MSP.peer')";
    let def = |cmd: &str| -> Vec<String> {
        [
            "chaincode",
            cmd,
            "--name",
            CC,
            "--version",
            "2.0",
            "--sequence",
            "2",
            "--package",
            s(&file),
            "--policy",
            policy,
        ]
        .map(String::from)
        .to_vec()
    };
    let with = |mut args: Vec<String>, extra: &[&str]| -> Vec<String> {
        args.extend(extra.iter().map(|x| x.to_string()));
        args
    };
    let call_ok = |v: Vec<String>| {
        let a: Vec<&str> = v.iter().map(String::as_str).collect();
        ok(&dir, &a)
    };
    let call_fails = |v: Vec<String>| {
        let a: Vec<&str> = v.iter().map(String::as_str).collect();
        fails(&dir, &a)
    };

    // Not an admin: refused.
    let err = call_fails(with(def("approve"), &["--user", "Org1MSP/app1"]));
    assert!(err.contains("admin"), "{err}");
    // A sequence that does not follow the committed one: refused.
    let mut wrong = def("approve");
    let at = wrong.iter().position(|a| a == "2").unwrap();
    wrong[at] = "5".into();
    let err = call_fails(wrong);
    assert!(err.contains("sequence"), "{err}");

    let out = call_ok(def("approve"));
    assert!(
        out.contains("approved test-kitchen-sink version 2.0 sequence 2"),
        "{out}"
    );
    assert!(out.contains("Org1MSP"), "{out}");

    let r: Value =
        serde_json::from_str(&call_ok(with(def("check-commit-readiness"), &["--json"]))).unwrap();
    assert_eq!(r["ready"], false, "{r}");
    assert_eq!(r["approved"], serde_json::json!(["Org1MSP"]), "{r}");
    assert_eq!(r["missing"], serde_json::json!(["Org2MSP"]), "{r}");

    // Commit before enough approvals: exit 1 naming the missing organisation.
    let err = call_fails(def("commit"));
    assert!(err.contains("not approved by: Org2MSP"), "{err}");
    assert!(err.contains("cellchain chaincode approve"), "{err}");
    assert_eq!(committed(&dir)[CC]["sequence"], 1);

    // Org2MSP approves something else first: the readiness names the field.
    let mut other = with(def("approve"), &["--user", "Org2MSP/admin"]);
    let at = other.iter().position(|a| a == "2.0").unwrap();
    other[at] = "2.1".into();
    call_ok(other);
    let text = call_ok(def("check-commit-readiness"));
    assert!(
        text.contains("Org1MSP") && text.contains("approved"),
        "{text}"
    );
    assert!(
        text.contains("Org2MSP") && text.contains("differs: version"),
        "{text}"
    );
    assert!(text.contains("not met"), "{text}");

    // Then the same definition: ready, committed.
    call_ok(with(def("approve"), &["--user", "Org2MSP/admin"]));
    let r: Value =
        serde_json::from_str(&call_ok(with(def("check-commit-readiness"), &["--json"]))).unwrap();
    assert_eq!(r["ready"], true, "{r}");
    let out = call_ok(def("commit"));
    assert!(
        out.contains("committed test-kitchen-sink version 2.0 sequence 2"),
        "{out}"
    );

    let now = ok(
        &dir,
        &["chaincode", "query-committed", "--name", CC, "--json"],
    );
    let now: Value = serde_json::from_str(&now).unwrap();
    assert_eq!(now["sequence"], 2, "{now}");
    assert_eq!(now["version"], "2.0", "{now}");
    assert_eq!(now["wasm_hash"], pkg.wasm_sha256.to_hex(), "{now}");
    assert_eq!(now["endorsement_policy"]["signature"], policy, "{now}");

    // The upgraded chaincode runs under its new definition.
    let done = ok(&dir, &["invoke", CC, "put", r#""k""#, r#""v""#, "--json"]);
    let done: Value = serde_json::from_str(&done).unwrap();
    assert_eq!(done["validation_code"], "VALID", "{done}");
    let got = ok(&dir, &["query", CC, "get", r#""k""#]);
    assert_eq!(got.trim(), r#""v""#);
    let err = fails(
        &dir,
        &["chaincode", "query-committed", "--name", "nothing-here"],
    );
    assert!(err.contains("not defined"), "{err}");
}
