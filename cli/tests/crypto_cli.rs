//! `cellchain crypto generate` end to end: the material it writes is accepted by
//! OpenSSL and by CellChain's own MSP, with the roles and attributes asked for,
//! and a rerun keeps what exists.
//!
//! Needs the `openssl` binary; fails (does not skip) without it.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cellchain_core::crypto::{default_provider, signer_from_pkcs8_pem};
use cellchain_core::identity::{Identity, Role};

mod common;
use common::*;

const NETWORK: &str = r#"
name: test
organizations:
  - msp_id: Org1MSP
    name: Hospital One
    nodes:
      - { name: peer0, kind: endorser }
      - { name: peer1, kind: committer }
    users:
      - { name: admin1, role: admin }
      - name: qp1
        role: client
        attributes: { role: QP, site: Leiden }
  - msp_id: Org2MSP
    name: Manufacturer Two
    nodes:
      - { name: peer0, kind: endorser }
    users:
      - { name: alice }
orderers:
  - { name: orderer0, org: Org2MSP, port: 7050 }
channels:
  - { name: ch, organizations: [Org1MSP, Org2MSP], consenters: [orderer0] }
"#;

/// (msp id, relative directory, role, attributes) of every identity in NETWORK.
fn expected() -> Vec<(&'static str, &'static str, Role, BTreeMap<String, String>)> {
    let qp: BTreeMap<String, String> = [("role", "QP"), ("site", "Leiden")]
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .into();
    vec![
        ("Org1MSP", "nodes/peer0", Role::Peer, BTreeMap::new()),
        ("Org1MSP", "nodes/peer1", Role::Peer, BTreeMap::new()),
        ("Org1MSP", "users/admin1", Role::Admin, BTreeMap::new()),
        ("Org1MSP", "users/qp1", Role::Client, qp),
        ("Org2MSP", "nodes/peer0", Role::Peer, BTreeMap::new()),
        ("Org2MSP", "nodes/orderer0", Role::Orderer, BTreeMap::new()),
        ("Org2MSP", "users/alice", Role::Client, BTreeMap::new()),
    ]
}

/// Writes `yaml` and runs `crypto generate` into `dir/out`; returns the output.
fn generate(dir: &Path, yaml: &str) -> Output {
    crypto_generate(dir, yaml, "out", &[])
}

fn generate_ok(dir: &Path, yaml: &str) -> String {
    let out = generate(dir, yaml);
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8(out.stdout).unwrap()
}

fn openssl_verify(ca: &Path, cert: &Path) {
    let out = match Command::new("openssl")
        .args(["verify", "-CAfile", s(ca), s(cert)])
        .output()
    {
        Ok(out) => out,
        Err(e) => panic!(
            "the `openssl` binary is required by this test but could not be run ({e}); install \
             it with `apt-get install openssl`"
        ),
    };
    assert!(
        out.status.success(),
        "openssl verify {}:\n{}",
        cert.display(),
        text(&out)
    );
}

fn verify_json(ca: &Path, cert: &Path) -> Identity {
    let out = cellchain(&[
        "identity",
        "verify",
        "--ca",
        s(ca),
        "--cert",
        s(cert),
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn generate_writes_the_layout_with_private_keys() {
    let dir = tempfile::tempdir().unwrap();
    let stdout = generate_ok(dir.path(), NETWORK);
    let out = dir.path().join("out");
    for (msp, rel, role, _) in expected() {
        let idir = out.join(msp).join(rel);
        let key = fs::read_to_string(idir.join("key.pem")).unwrap();
        assert!(
            key.starts_with("-----BEGIN PRIVATE KEY-----"),
            "{rel}: not PKCS#8 PEM"
        );
        assert!(fs::read_to_string(idir.join("cert.pem"))
            .unwrap()
            .contains("BEGIN CERTIFICATE"));
        assert!(stdout.contains(&format!("role {role}")), "{stdout}");
    }
    for msp in ["Org1MSP", "Org2MSP"] {
        assert!(out.join(msp).join("ca/ca.pem").is_file());
        assert!(out.join(msp).join("ca/ca.key").is_file());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let keys = [
            out.join("Org1MSP/ca/ca.key"),
            out.join("Org2MSP/users/alice/key.pem"),
        ];
        for key in keys {
            let mode = fs::metadata(&key).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", key.display());
        }
    }
    // No temporary files are left behind.
    let leftovers: Vec<PathBuf> = walk(&out)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert!(stdout.contains("9 created, 0 kept"), "{stdout}");
}

#[test]
fn openssl_verifies_every_generated_certificate() {
    let dir = tempfile::tempdir().unwrap();
    generate_ok(dir.path(), NETWORK);
    let out = dir.path().join("out");
    let certs: Vec<PathBuf> = walk(&out)
        .into_iter()
        .filter(|p| {
            p.extension().is_some_and(|e| e == "pem") && p.file_name().unwrap() != "key.pem"
        })
        .collect();
    assert_eq!(certs.len(), 9, "{certs:?}");
    for cert in certs {
        let msp_dir = cert
            .ancestors()
            .find(|a| a.parent() == Some(out.as_path()))
            .unwrap();
        openssl_verify(&msp_dir.join("ca/ca.pem"), &cert);
    }
}

#[test]
fn every_generated_identity_verifies_with_its_role_and_attributes() {
    let dir = tempfile::tempdir().unwrap();
    generate_ok(dir.path(), NETWORK);
    let out = dir.path().join("out");
    for (msp, rel, role, attributes) in expected() {
        let ca = out.join(msp).join("ca/ca.pem");
        let idir = out.join(msp).join(rel);
        let id = verify_json(&ca, &idir.join("cert.pem"));
        let name = rel.rsplit('/').next().unwrap();
        assert_eq!(
            id.msp_id, msp,
            "msp id is taken from the OUT/<MSPID>/ca layout"
        );
        assert_eq!(id.role, role, "{rel}");
        assert_eq!(id.attributes, attributes, "{rel}");
        assert_eq!(id.common_name, name);
        // Two years by default.
        let days = (id.not_after - id.not_before) / 86_400;
        assert!((729..=731).contains(&days), "{rel}: {days} days");
        // The key file loads in the nodes' crypto provider and matches.
        let key = fs::read_to_string(idir.join("key.pem")).unwrap();
        let signer = signer_from_pkcs8_pem(default_provider(), &key).unwrap();
        assert_eq!(signer.public_key(), id.public_key, "{rel}");
    }
}

#[test]
fn days_flag_sets_the_validity() {
    let dir = tempfile::tempdir().unwrap();
    let run = crypto_generate(dir.path(), NETWORK, "out", &["--days", "10"]);
    assert!(run.status.success(), "{}", text(&run));
    let out = dir.path().join("out");
    let id = verify_json(
        &out.join("Org1MSP/ca/ca.pem"),
        &out.join("Org1MSP/nodes/peer0/cert.pem"),
    );
    assert!((10 * 86_400..=10 * 86_400 + 600).contains(&(id.not_after - id.not_before)));
}

#[test]
fn rerun_keeps_existing_material_and_creates_only_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    generate_ok(dir.path(), NETWORK);
    let out = dir.path().join("out");
    let snapshot = |paths: &[&str]| -> Vec<Vec<u8>> {
        paths
            .iter()
            .map(|p| fs::read(out.join(p)).unwrap())
            .collect()
    };
    let files = [
        "Org1MSP/ca/ca.pem",
        "Org1MSP/ca/ca.key",
        "Org2MSP/ca/ca.pem",
        "Org1MSP/users/qp1/cert.pem",
        "Org1MSP/users/qp1/key.pem",
    ];
    let before = snapshot(&files);

    let stdout = generate_ok(dir.path(), NETWORK);
    assert!(stdout.contains("0 created, 9 kept"), "{stdout}");
    assert_eq!(
        snapshot(&files),
        before,
        "a rerun must not touch existing files"
    );

    // A new user in an existing organisation is issued by the existing CA.
    let grown = NETWORK.replace(
        "      - { name: alice }",
        "      - { name: alice }\n      - { name: bob, role: admin }",
    );
    let stdout = generate_ok(dir.path(), &grown);
    assert!(stdout.contains("1 created, 9 kept"), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("created") && l.contains("user bob")),
        "{stdout}"
    );
    assert_eq!(snapshot(&files), before);
    let ca = out.join("Org2MSP/ca/ca.pem");
    let bob = out.join("Org2MSP/users/bob/cert.pem");
    openssl_verify(&ca, &bob);
    assert_eq!(verify_json(&ca, &bob).role, Role::Admin);
}

#[test]
fn rerun_with_a_changed_role_refuses_and_says_how_to_fix() {
    let dir = tempfile::tempdir().unwrap();
    generate_ok(dir.path(), NETWORK);
    let changed = NETWORK.replace(
        "{ name: admin1, role: admin }",
        "{ name: admin1, role: client }",
    );
    let out = generate(dir.path(), &changed);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("has role admin but the config says client"),
        "{err}"
    );
    assert!(err.contains("delete") && err.contains("admin1"), "{err}");
}

#[test]
fn bad_configs_fail_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            NETWORK.replace(
                "{ name: peer1, kind: committer }",
                "{ name: peer1, kind: gateway }",
            ),
            "unknown variant `gateway`",
        ),
        (
            NETWORK.replace("org: Org2MSP", "org: Org9MSP"),
            "unknown organization \"Org9MSP\"",
        ),
        (
            NETWORK.replace("{ name: alice }", "{ name: alice, role: boss }"),
            "unknown variant `boss`",
        ),
        (
            NETWORK.replace("{ name: alice }", "{ name: ../alice }"),
            "invalid user name \"../alice\"",
        ),
        (
            NETWORK.replace(
                "{ name: peer1, kind: committer }",
                "{ name: peer0, kind: committer }",
            ),
            "duplicate node \"Org1MSP/peer0\"",
        ),
        (
            NETWORK
                .replace(
                    "{ name: orderer0, org: Org2MSP",
                    "{ name: peer0, org: Org2MSP",
                )
                .replace("consenters: [orderer0]", "consenters: [peer0]"),
            "duplicate node \"Org2MSP/peer0\"",
        ),
    ];

    for (yaml, needle) in cases {
        assert_ne!(
            yaml, NETWORK,
            "case for {needle:?} did not change the config"
        );
        let out = generate(dir.path(), &yaml);
        assert_eq!(out.status.code(), Some(2), "{needle}: {}", text(&out));
        assert!(text(&out).contains(needle), "{needle}: {}", text(&out));
    }
    let missing = dir.path().join("nope.yaml");
    let out = cellchain(&[
        "crypto",
        "generate",
        "--config",
        s(&missing),
        "--output",
        s(dir.path()),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("nope.yaml"),
        "{}",
        text(&out)
    );
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files.sort();
    files
}
