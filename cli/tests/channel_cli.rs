//! `cellchain channel genesis` and `channel inspect` end to end, on material made
//! by `cellchain crypto generate`.

use std::fs;
use std::path::Path;
use std::process::Output;

mod common;
use common::*;

const NETWORK: &str = r#"
name: test
organizations:
  - msp_id: HospMSP
    name: Hospital
    nodes: [{ name: endorser0, kind: endorser }]
    users: [{ name: admin, role: admin }]
  - msp_id: CdmoMSP
    name: CDMO
    nodes: [{ name: endorser0, kind: endorser }]
    users: [{ name: admin, role: admin }]
  - msp_id: CourierMSP
    name: Courier
    users: [{ name: admin, role: admin }]
orderers:
  - { name: orderer0, org: CdmoMSP, port: 7050 }
channels:
  - { name: main, organizations: [HospMSP, CdmoMSP, CourierMSP], consenters: [orderer0] }
  - { name: private, organizations: [HospMSP, CdmoMSP], consenters: [orderer0] }
"#;

/// Network file and crypto material in a temporary directory.
fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    crypto_generate_ok(dir.path(), NETWORK, "crypto");
    dir
}

fn genesis(dir: &Path, channel: Option<&str>, block: &str) -> Output {
    let (net, crypto, output) = (
        dir.join("network.yaml"),
        dir.join("crypto"),
        dir.join(block),
    );
    let mut args = vec![
        "channel",
        "genesis",
        "--config",
        s(&net),
        "--crypto",
        s(&crypto),
        "--output",
        s(&output),
    ];
    if let Some(c) = channel {
        args.extend(["--channel", c]);
    }
    cellchain(&args)
}

#[test]
fn genesis_defaults_to_the_first_channel_and_inspects_valid() {
    let dir = setup();
    let out = genesis(dir.path(), None, "main.block");
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("channel main"), "{stdout}");
    assert!(
        stdout.contains("HospMSP/admin, CdmoMSP/admin, CourierMSP/admin"),
        "{stdout}"
    );

    let out = cellchain(&[
        "channel",
        "inspect",
        "--block",
        s(&dir.path().join("main.block")),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("genesis block valid"), "{stdout}");
    assert!(
        stdout.contains("orderer0") && stdout.contains("127.0.0.1:7050"),
        "{stdout}"
    );
    assert!(stdout.contains("MAJORITY Admins"), "{stdout}");
}

#[test]
fn private_channel_block_carries_only_its_members() {
    let dir = setup();
    let out = genesis(dir.path(), Some("private"), "private.block");
    assert!(out.status.success(), "{}", text(&out));
    let out = cellchain(&[
        "channel",
        "inspect",
        "--block",
        s(&dir.path().join("private.block")),
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let cfg: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let members: Vec<&str> = cfg["organizations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["msp_id"].as_str().unwrap())
        .collect();
    assert_eq!(members, ["HospMSP", "CdmoMSP"]);
    // The courier's CA is nowhere in the private channel's block.
    let courier_ca = fs::read_to_string(dir.path().join("crypto/CourierMSP/ca/ca.pem")).unwrap();
    let body: String = courier_ca
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let block = fs::read_to_string(dir.path().join("private.block")).unwrap();
    assert!(!block.replace("\\n", "").contains(&body[..60]));
}

#[test]
fn an_existing_genesis_block_is_not_overwritten() {
    let dir = setup();
    assert!(genesis(dir.path(), None, "main.block").status.success());
    let before = fs::read(dir.path().join("main.block")).unwrap();
    let out = genesis(dir.path(), None, "main.block");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--force"),
        "{}",
        text(&out)
    );
    assert_eq!(fs::read(dir.path().join("main.block")).unwrap(), before);
}

#[test]
fn a_tampered_genesis_block_is_reported_invalid() {
    let dir = setup();
    assert!(genesis(dir.path(), None, "main.block").status.success());
    let path = dir.path().join("main.block");
    let mut block: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    block["header"]["number"] = serde_json::json!(1);
    fs::write(&path, serde_json::to_vec(&block).unwrap()).unwrap();
    let out = cellchain(&["channel", "inspect", "--block", s(&path)]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("invalid: not a genesis block"),
        "{}",
        text(&out)
    );

    fs::write(&path, b"{ not json").unwrap();
    let out = cellchain(&["channel", "inspect", "--block", s(&path)]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is not a block"),
        "{}",
        text(&out)
    );
}

#[test]
fn unknown_channel_names_the_known_ones() {
    let dir = setup();
    let out = genesis(dir.path(), Some("nope"), "x.block");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("channels in this file: main, private"),
        "{}",
        text(&out)
    );
}

#[test]
fn without_a_majority_of_admin_keys_no_block_is_written() {
    let dir = setup();
    fs::remove_file(dir.path().join("crypto/HospMSP/users/admin/key.pem")).unwrap();
    fs::remove_file(dir.path().join("crypto/CourierMSP/users/admin/key.pem")).unwrap();
    let out = genesis(dir.path(), None, "main.block");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("do not satisfy the channel's Admins policy"),
        "{}",
        text(&out)
    );
    assert!(!dir.path().join("main.block").exists());
}

#[test]
fn ledger_verify_accepts_a_genesis_ledger_and_names_a_damaged_block() {
    use cellchain_storage::{BlockStore, FileBlockStore, StoreOptions};
    let dir = setup();
    assert!(genesis(dir.path(), None, "main.block").status.success());
    let block =
        cellchain_core::config::block_from_json(&fs::read(dir.path().join("main.block")).unwrap())
            .unwrap();
    let ledger = dir.path().join("ledger");
    {
        let (mut store, _) = FileBlockStore::open(&ledger, StoreOptions::default()).unwrap();
        store.append(&block).unwrap();
    }
    let out = cellchain(&["ledger", "verify", "--dir", s(&ledger)]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stdout(&out).contains("channel main verified: 1 blocks"),
        "{}",
        text(&out)
    );

    // Flip one byte inside the block's JSON: the CRC names block 0.
    let seg = fs::read_dir(&ledger)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut bytes = fs::read(&seg).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    fs::write(&seg, bytes).unwrap();
    let out = cellchain(&["ledger", "verify", "--dir", s(&ledger)]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(
        stdout(&out).contains("first bad block: 0"),
        "{}",
        text(&out)
    );
}
