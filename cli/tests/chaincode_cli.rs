//! `cellchain chaincode build|simulate|new` end to end, on the shipped test
//! contracts built to wasm the same way the command builds them.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use cellchain_chaincode_build::{build_contract, workspace_crate};

mod common;
use common::*;

/// Builds a test contract once per test process and returns its module path.
fn module(rel: &str) -> PathBuf {
    static BUILT: OnceLock<std::sync::Mutex<std::collections::BTreeMap<String, PathBuf>>> =
        OnceLock::new();
    let map = BUILT.get_or_init(Default::default);
    let mut map = map.lock().unwrap();
    map.entry(rel.to_string())
        .or_insert_with(|| {
            build_contract(&workspace_crate(rel))
                .expect("build")
                .wasm_path
        })
        .clone()
}

fn kitchen() -> PathBuf {
    module("chaincode/test-contracts/kitchen-sink")
}

fn simulate(wasm: &Path, function: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["chaincode", "simulate", "--wasm", s(wasm), "--fn", function];
    args.extend_from_slice(extra);
    cellchain(&args)
}

#[test]
fn build_prints_the_modules_sha256() {
    let dir = workspace_crate("chaincode/test-contracts/kitchen-sink");
    let out = cellchain(&["chaincode", "build", s(&dir)]);
    assert!(out.status.success(), "{}", text(&out));
    let wasm = fs::read(kitchen()).unwrap();
    let digest = cellchain_core::bytes::sha256(&wasm).to_hex();
    assert!(stdout(&out).starts_with(&digest), "{}", text(&out));
}

#[test]
fn simulate_put_prints_the_write_set_and_fuel() {
    let out = simulate(
        &kitchen(),
        "put",
        &["--args", r#"["case-1", "hello"]"#, "--json"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["status"], 200);
    let ns = &doc["rwset"]["ns_rwsets"][0];
    assert_eq!(ns["namespace"], "cc");
    assert_eq!(ns["writes"][0]["key"], "case-1");
    assert_eq!(ns["writes"][0]["value"], "aGVsbG8="); // base64 of "hello"
    assert!(doc["fuel_used"].as_u64().unwrap() > 0);
}

#[test]
fn simulate_reads_the_state_file_with_versions() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    fs::write(&state, r#"{"public": {"cc": {"a": "base64:eA=="}}}"#).unwrap();
    let out = simulate(
        &kitchen(),
        "get",
        &["--args", r#"["a"]"#, "--state", s(&state), "--json"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["payload"], "x");
    assert_eq!(
        doc["rwset"]["ns_rwsets"][0]["reads"][0]["version"]["block"],
        1
    );
}

#[test]
fn simulate_reports_a_domain_error_and_exits_1() {
    let out = simulate(&kitchen(), "fail", &["--args", r#"["not today"]"#]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(
        stdout(&out).contains("400") && stdout(&out).contains("not today"),
        "{}",
        text(&out)
    );
}

#[test]
fn simulate_reports_fuel_exhaustion_and_panics_cleanly() {
    let hostile = module("chaincode/test-contracts/hostile");
    let out = simulate(&hostile, "spin", &[]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(stdout(&out).contains("ran out of fuel"), "{}", text(&out));
    let out = simulate(&hostile, "panic_message", &[]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(
        stdout(&out).contains("the batch record is inconsistent"),
        "{}",
        text(&out)
    );
}

#[test]
fn simulate_refuses_a_module_importing_a_clock() {
    let out = simulate(&module("chaincode/test-contracts/wants-time"), "now", &[]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(stdout(&out).contains("env::now"), "{}", text(&out));
}

#[test]
fn simulate_takes_the_caller_from_a_certificate() {
    let dir = tempfile::tempdir().unwrap();
    const NET: &str = r#"
name: t
organizations:
  - msp_id: SponsorMSP
    name: Sponsor
    users: [{ name: qp, role: client, attributes: { role: QP } }]
orderers: [{ name: o0, org: SponsorMSP, port: 7050 }]
channels: [{ name: ch, organizations: [SponsorMSP], consenters: [o0] }]
"#;
    let crypto = crypto_generate_ok(dir.path(), NET, "crypto");
    let cert = crypto.join("SponsorMSP/users/qp/cert.pem");
    let out = simulate(&kitchen(), "whoami", &["--caller", s(&cert), "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["payload"]["msp_id"], "SponsorMSP");
    assert_eq!(doc["payload"]["attributes"]["role"], "QP");
    assert_eq!(doc["payload"]["common_name"], "qp");
}

#[test]
fn simulate_bad_arguments_exit_2() {
    let out = simulate(&kitchen(), "put", &["--args", "[not json"]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(
        stderr(&out).contains("--args is not JSON"),
        "{}",
        text(&out)
    );
    let out = cellchain(&[
        "chaincode",
        "simulate",
        "--wasm",
        "/nonexistent.wasm",
        "--fn",
        "x",
    ]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(stderr(&out).contains("/nonexistent.wasm"), "{}", text(&out));
}

#[test]
fn new_contract_outside_the_checkout_builds_to_wasm() {
    let dir = tempfile::tempdir().unwrap();
    let checkout = workspace_crate("");
    let out = cellchain(&[
        "chaincode",
        "new",
        "cold-chain-audit",
        "--dir",
        s(dir.path()),
        "--cellchain-path",
        s(&checkout),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let crate_dir = dir.path().join("cold-chain-audit");
    assert!(crate_dir.join("src/contract.rs").is_file());
    // Build it through the same builder, sharing this workspace's target
    // directory so the dependencies are not compiled again.
    let target = kitchen().ancestors().nth(3).unwrap().to_path_buf();
    std::env::set_var("CARGO_TARGET_DIR", &target);
    let built = build_contract(&crate_dir).expect("the new contract builds");
    assert_eq!(built.package, "cold-chain-audit");
    let out = simulate(
        &built.wasm_path,
        "register",
        &[
            "--args",
            r#"[{"id": "pump-1", "description": "infusion pump"}]"#,
        ],
    );
    assert!(out.status.success(), "{}", text(&out));

    let out = cellchain(&["chaincode", "new", "Bad Name", "--dir", s(dir.path())]);
    assert_eq!(code(&out), 2, "{}", text(&out));
}

#[test]
fn package_writes_a_package_of_the_built_module_and_prints_its_id() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("ks.json");
    let dir = workspace_crate("chaincode/test-contracts/kitchen-sink");
    let out = cellchain(&[
        "chaincode",
        "package",
        s(&dir),
        "--label",
        "ks_1",
        "--output",
        s(&file),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let wasm = fs::read(kitchen()).unwrap();
    let digest = cellchain_core::bytes::sha256(&wasm);
    assert_eq!(stdout(&out).trim(), format!("ks_1:{}", digest.to_hex()));
    let pkg = cellchain_core::lifecycle::ChaincodePackage::from_bytes(&fs::read(&file).unwrap())
        .expect("a valid package");
    assert_eq!(pkg.label, "ks_1");
    assert_eq!(pkg.contract, "test-kitchen-sink");
    assert_eq!(pkg.contract_version, env!("CARGO_PKG_VERSION"));
    assert_eq!(pkg.wasm_sha256, digest);
    assert_eq!(pkg.wasm.0, wasm);

    // A bad label: one error line and a hint, nothing written.
    let bad = tmp.path().join("bad.json");
    let out = cellchain(&[
        "chaincode",
        "package",
        s(&dir),
        "--label",
        "no spaces",
        "--output",
        s(&bad),
    ]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(stderr(&out).contains("label"), "{}", text(&out));
    assert!(!bad.exists());
}

#[test]
fn approve_with_an_unparseable_policy_is_a_one_line_error() {
    let tmp = tempfile::tempdir().unwrap();
    let hash = "0".repeat(64);
    let out = cellchain(&[
        "chaincode",
        "approve",
        "--name",
        "patient-batch",
        "--version",
        "1.1",
        "--wasm-hash",
        &hash,
        "--policy",
        "AND('Org1MSP.peer',",
        "--dir",
        s(tmp.path()),
    ]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "an error line and a hint: {}", text(&out));
    assert!(
        lines[0].starts_with("error: --policy") && lines[0].contains("not a signature policy"),
        "{err}"
    );
    assert!(lines[1].starts_with("hint: "), "{err}");
    // Checked before the network is looked for (there is none in this dir).
    assert!(!err.contains("connection.yaml"), "{err}");

    // Neither --package nor --wasm-hash: clap refuses it.
    let out = cellchain(&[
        "chaincode",
        "approve",
        "--name",
        "cc",
        "--version",
        "1",
        "--dir",
        s(tmp.path()),
    ]);
    assert_eq!(code(&out), 2, "{}", text(&out));
}
