//! `cellchain identity verify` end to end: what it prints for a valid identity,
//! `invalid: <reason>` with exit 1 for each kind of refusal, exit 2 for inputs it
//! cannot read.

use std::fs;
use std::path::PathBuf;
use std::process::Output;

use cellchain_core::identity::{Identity, Role};
use rcgen::{
    CertificateParams, CertificateRevocationListParams, KeyIdMethod, KeyPair, RevokedCertParams,
    SerialNumber,
};
use time::OffsetDateTime;

mod common;
use common::*;

const NETWORK: &str = r#"
name: test
organizations:
  - msp_id: Org1MSP
    name: Hospital One
    nodes: [{ name: peer0, kind: endorser }]
    users: [{ name: qp1, role: admin, attributes: { role: QP } }]
  - msp_id: Org2MSP
    name: Manufacturer Two
    nodes: [{ name: peer0, kind: committer }]
orderers:
  - { name: orderer0, org: Org2MSP, port: 7050 }
channels:
  - { name: ch, organizations: [Org1MSP, Org2MSP], consenters: [orderer0] }
"#;

/// Crypto material made once per test by `cellchain crypto generate`.
struct Net {
    _dir: tempfile::TempDir,
    out: PathBuf,
}

impl Net {
    fn new() -> Net {
        let dir = tempfile::tempdir().unwrap();
        let out = crypto_generate_ok(dir.path(), NETWORK, "out");
        Net { _dir: dir, out }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.out.join(rel)
    }

    fn verify(&self, ca: &str, cert: &str, extra: &[&str]) -> Output {
        let (ca, cert) = (self.path(ca), self.path(cert));
        let mut args = vec!["identity", "verify", "--ca", s(&ca), "--cert", s(&cert)];
        args.extend_from_slice(extra);
        cellchain(&args)
    }

    fn identity(&self, ca: &str, cert: &str) -> Identity {
        let out = self.verify(ca, cert, &["--json"]);
        assert!(out.status.success(), "{}", text(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

const CA1: &str = "Org1MSP/ca/ca.pem";
const QP1: &str = "Org1MSP/users/qp1/cert.pem";
const PEER2: &str = "Org2MSP/nodes/peer0/cert.pem";

/// Asserts exit 1 with `invalid: ...` containing `needle`.
fn assert_invalid(out: &Output, needle: &str) {
    assert_eq!(out.status.code(), Some(1), "{}", text(out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("invalid: "), "{}", text(out));
    assert!(
        stdout.contains(needle),
        "expected {needle:?} in:\n{}",
        text(out)
    );
}

#[test]
fn valid_identity_prints_its_fields_and_exits_zero() {
    let net = Net::new();
    let out = net.verify(CA1, QP1, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let id = net.identity(CA1, QP1);
    let expires = OffsetDateTime::from_unix_timestamp(id.not_after)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    for line in [
        "valid identity".to_string(),
        "msp id:       Org1MSP".into(),
        "role:         admin".into(),
        "common name:  qp1".into(),
        "subject:      CN=qp1,OU=admin,O=Hospital One".into(),
        "attributes:   role=QP".into(),
        format!("serial:       {}", id.serial),
        format!("expires:      {expires}"),
    ] {
        assert!(stdout.contains(&line), "missing {line:?} in:\n{stdout}");
    }
    assert!(expires.ends_with('Z'), "{expires}");
}

#[test]
fn json_output_is_the_identity() {
    let net = Net::new();
    let id = net.identity(CA1, QP1);
    assert_eq!(id.msp_id, "Org1MSP");
    assert_eq!(id.role, Role::Admin);
    assert_eq!(id.attributes.get("role").map(String::as_str), Some("QP"));
    let out = net.verify(CA1, QP1, &["--json", "--msp-id", "HospitalMSP"]);
    let renamed: Identity = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(renamed.msp_id, "HospitalMSP");
    assert_eq!(renamed.cert_hash, id.cert_hash);
}

#[test]
fn certificate_of_another_organisation_is_invalid() {
    let net = Net::new();
    assert_invalid(
        &net.verify(CA1, PEER2, &[]),
        "issuer \"CN=ca.manufacturer-two,O=Manufacturer Two\" is not a CA of this organisation",
    );
}

#[test]
fn time_outside_the_validity_is_invalid() {
    let net = Net::new();
    let id = net.identity(CA1, QP1);
    let after = (id.not_after + 1).to_string();
    assert_invalid(&net.verify(CA1, QP1, &["--at", &after]), "expired");
    let before = (id.not_before - 1).to_string();
    assert_invalid(
        &net.verify(CA1, QP1, &["--at", &before]),
        "not valid before",
    );
}

#[test]
fn revoked_serial_is_invalid() {
    let net = Net::new();
    let id = net.identity(CA1, QP1);
    let upper = id.serial.to_ascii_uppercase();
    assert_invalid(
        &net.verify(CA1, QP1, &["--revoked-serial", &upper]),
        &format!("serial {} is revoked", id.serial),
    );
    let out = net.verify(CA1, QP1, &["--revoked-serial", "not-hex"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

#[test]
fn crl_of_the_ca_revokes() {
    let net = Net::new();
    let id = net.identity(CA1, QP1);
    // Sign a CRL with the generated CA's key, as an operator's CA tooling would.
    let ca_pem = fs::read_to_string(net.path(CA1)).unwrap();
    let ca_key =
        KeyPair::from_pem(&fs::read_to_string(net.path("Org1MSP/ca/ca.key")).unwrap()).unwrap();
    let issuer = CertificateParams::from_ca_cert_pem(&ca_pem)
        .unwrap()
        .self_signed(&ca_key)
        .unwrap();
    let now = OffsetDateTime::now_utc();
    let crl = CertificateRevocationListParams {
        this_update: now,
        next_update: now + time::Duration::days(30),
        crl_number: SerialNumber::from(1u64),
        issuing_distribution_point: None,
        revoked_certs: vec![RevokedCertParams {
            serial_number: SerialNumber::from_slice(&hex_bytes(&id.serial)),
            revocation_time: now,
            reason_code: None,
            invalidity_date: None,
        }],
        key_identifier_method: KeyIdMethod::Sha256,
    }
    .signed_by(&issuer, &ca_key)
    .unwrap();
    let crl_path = net.path("crl.pem");
    fs::write(&crl_path, crl.pem().unwrap()).unwrap();
    assert_invalid(
        &net.verify(CA1, QP1, &["--crl", s(&crl_path)]),
        "is revoked",
    );
    // The peer of the same organisation is not on the CRL.
    let peer = net.verify(
        CA1,
        "Org1MSP/nodes/peer0/cert.pem",
        &["--crl", s(&crl_path)],
    );
    assert_eq!(peer.status.code(), Some(0), "{}", text(&peer));
    // A CRL signed by another organisation's CA is a setup error.
    let out = net.verify("Org2MSP/ca/ca.pem", PEER2, &["--crl", s(&crl_path)]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("not a CA of this MSP"),
        "{}",
        text(&out)
    );
}

#[test]
fn ca_certificate_and_garbage_are_invalid() {
    let net = Net::new();
    assert_invalid(&net.verify(CA1, CA1, &[]), "is a CA certificate");
    let junk = net.path("junk.pem");
    fs::write(&junk, "not a certificate").unwrap();
    let out = cellchain(&[
        "identity",
        "verify",
        "--ca",
        s(&net.path(CA1)),
        "--cert",
        s(&junk),
    ]);
    assert_invalid(&out, "malformed certificate");
}

#[test]
fn unreadable_files_exit_2_naming_the_path() {
    let net = Net::new();
    let missing = net.path("does-not-exist.pem");
    let cases: [(&str, &str); 2] = [("--cert", CA1), ("--ca", QP1)];
    for (flag, other) in cases {
        let other = net.path(other);
        let (ca, cert) = if flag == "--cert" {
            (&other, &missing)
        } else {
            (&missing, &other)
        };
        let out = cellchain(&["identity", "verify", "--ca", s(ca), "--cert", s(cert)]);
        assert_eq!(out.status.code(), Some(2), "{flag}: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("does-not-exist.pem"),
            "{flag}: {}",
            text(&out)
        );
    }
    // A CA file that is readable but not a CA is a setup error too.
    let out = net.verify(QP1, QP1, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("not a CA"), "{}", text(&out));
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    let padded = if hex.len() % 2 == 1 {
        format!("0{hex}")
    } else {
        hex.to_string()
    };
    (0..padded.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&padded[i..i + 2], 16).unwrap())
        .collect()
}
