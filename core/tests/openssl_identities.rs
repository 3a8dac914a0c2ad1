//! Interoperability of the MSP with certificates made by the real `openssl`
//! binary, the tool organisations actually use to run their CAs: if OpenSSL can
//! make it, CellChain must accept it or refuse it for the documented reason.
//!
//! These tests need `openssl` on the PATH (OpenSSL 3). They fail, never skip,
//! when it is missing: a silent skip would hide that interop went untested.

use std::path::PathBuf;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use cellchain_core::identity::{IdentityError, Msp, MspError, Revocation, Role};

const DAYS: i64 = 30;

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Extensions for member certificates (an `-extfile` with no section name).
const LEAF_EXT: &str = "basicConstraints = critical,CA:FALSE\n\
                        keyUsage = critical,digitalSignature\n\
                        subjectKeyIdentifier = hash\n\
                        authorityKeyIdentifier = keyid\n";

/// Extensions for CA certificates.
const CA_EXT: &str = "basicConstraints = critical,CA:TRUE\n\
                      keyUsage = critical,keyCertSign,cRLSign\n\
                      subjectKeyIdentifier = hash\n\
                      authorityKeyIdentifier = keyid\n";

/// `req` needs a config file; keep it minimal so the host's openssl.cnf (with its
/// default extensions) cannot change what we test.
const REQ_CNF: &str = "[ req ]\ndistinguished_name = req_dn\n[ req_dn ]\n\
                       [ v3_ca ]\nbasicConstraints = critical,CA:TRUE\n\
                       keyUsage = critical,keyCertSign,cRLSign\n\
                       subjectKeyIdentifier = hash\n";

enum KeyKind {
    P256,
    P384,
    Rsa,
}

/// A scratch directory where OpenSSL makes keys and certificates.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Pki {
        match Command::new("openssl").arg("version").output() {
            Ok(out) if out.status.success() => {}
            Ok(out) => panic!(
                "`openssl version` failed ({}): these interop tests need a working OpenSSL 3 \
                 binary; install it with `apt-get install openssl`",
                out.status
            ),
            Err(e) => panic!(
                "the `openssl` binary is required by these interop tests but could not be run \
                 ({e}); install it with `apt-get install openssl` (the project's test script \
                 does this)"
            ),
        }
        let pki = Pki {
            dir: tempfile::tempdir().unwrap(),
        };
        pki.write("req.cnf", REQ_CNF);
        pki
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.path(name), text).unwrap();
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap()
    }

    /// Runs `openssl` in the scratch directory with the words of `line` followed by
    /// `extra` (for arguments holding spaces); panics with its stderr on failure.
    fn openssl(&self, line: &str, extra: &[&str]) -> String {
        let args: Vec<&str> = line
            .split_whitespace()
            .chain(extra.iter().copied())
            .collect();
        let out = Command::new("openssl")
            .args(&args)
            .current_dir(self.dir.path())
            .output()
            .expect("run openssl");
        assert!(
            out.status.success(),
            "openssl {} failed:\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn key(&self, name: &str, kind: KeyKind) {
        let algorithm = match kind {
            KeyKind::P256 => "EC -pkeyopt ec_paramgen_curve:P-256",
            KeyKind::P384 => "EC -pkeyopt ec_paramgen_curve:P-384",
            KeyKind::Rsa => "RSA -pkeyopt rsa_keygen_bits:2048",
        };
        self.openssl(
            &format!("genpkey -algorithm {algorithm} -out {name}.key"),
            &[],
        );
    }

    /// A self-signed P-256 root CA: `name.key`, `name.pem`.
    fn root_ca(&self, name: &str, subj: &str) -> String {
        self.key(name, KeyKind::P256);
        self.openssl(
            &format!(
                "req -new -x509 -config req.cnf -extensions v3_ca -key {name}.key -days 3650 \
                 -sha256 -out {name}.pem"
            ),
            &["-subj", subj],
        );
        self.read(&format!("{name}.pem"))
    }

    /// A CSR for a fresh key of the given kind: `name.key`, `name.csr`.
    fn csr(&self, name: &str, subj: &str, kind: KeyKind) {
        self.key(name, kind);
        self.openssl(
            &format!("req -new -config req.cnf -key {name}.key -out {name}.csr"),
            &["-subj", subj],
        );
    }

    /// Signs `name.csr` with CA `ca` using `openssl x509 -req` and the given
    /// extensions and digest (`-sha256`); returns the PEM.
    fn sign(&self, name: &str, ca: &str, ext: &str, digest: &str) -> String {
        self.write(&format!("{name}.ext"), ext);
        self.openssl(
            &format!(
                "x509 -req -in {name}.csr -CA {ca}.pem -CAkey {ca}.key -CAcreateserial \
                 -days {DAYS} {digest} -extfile {name}.ext -out {name}.pem"
            ),
            &[],
        );
        self.read(&format!("{name}.pem"))
    }

    /// A P-256 member certificate signed with SHA-256.
    fn leaf(&self, name: &str, subj: &str, ca: &str) -> String {
        self.csr(name, subj, KeyKind::P256);
        self.sign(name, ca, LEAF_EXT, "-sha256")
    }

    /// The certificate's serial as `openssl x509 -serial` prints it (upper-case hex).
    fn serial(&self, name: &str) -> String {
        let out = self.openssl(&format!("x509 -in {name}.pem -noout -serial"), &[]);
        out.trim().strip_prefix("serial=").unwrap().to_string()
    }

    /// notBefore and notAfter as OpenSSL reads them, in Unix seconds.
    fn dates(&self, name: &str) -> (i64, i64) {
        let out = self.openssl(
            &format!("x509 -in {name}.pem -noout -dates -dateopt iso_8601"),
            &[],
        );
        let field = |key: &str| {
            let line = out.lines().find_map(|l| l.strip_prefix(key)).unwrap();
            iso_to_unix(line.trim())
        };
        (field("notBefore="), field("notAfter="))
    }

    /// Sets up `openssl ca` around CA `ca` (database, serial and, for v2 CRLs, a
    /// crlnumber file); returns the config file name.
    fn ca_config(&self, ca: &str, crl_v2: bool) -> String {
        let name = format!("{ca}-ca.cnf");
        std::fs::create_dir_all(self.path(&format!("{ca}-newcerts"))).unwrap();
        self.write(&format!("{ca}-index.txt"), "");
        self.write(&format!("{ca}-serial"), "1000\n");
        let crlnumber = if crl_v2 {
            self.write(&format!("{ca}-crlnumber"), "1000\n");
            format!("crlnumber = ./{ca}-crlnumber\n")
        } else {
            String::new()
        };
        self.write(
            &name,
            &format!(
                "[ ca ]\ndefault_ca = CA_default\n[ CA_default ]\n\
                 database = ./{ca}-index.txt\nnew_certs_dir = ./{ca}-newcerts\n\
                 certificate = ./{ca}.pem\nprivate_key = ./{ca}.key\nserial = ./{ca}-serial\n\
                 {crlnumber}default_md = sha256\ndefault_days = {DAYS}\ndefault_crl_days = 30\n\
                 policy = policy_any\nunique_subject = no\ncopy_extensions = none\n\
                 [ policy_any ]\norganizationName = supplied\n\
                 organizationalUnitName = optional\ncommonName = supplied\n\
                 [ leaf_ext ]\n{LEAF_EXT}"
            ),
        );
        name
    }
}

/// "2025-06-15 12:00:00Z" to Unix seconds (what `-dateopt iso_8601` prints).
fn iso_to_unix(s: &str) -> i64 {
    let s = s.trim_end_matches('Z');
    let (date, clock) = s.split_once(' ').unwrap();
    let d: Vec<i64> = date.split('-').map(|x| x.parse().unwrap()).collect();
    let t: Vec<u8> = clock.split(':').map(|x| x.parse().unwrap()).collect();
    let month = time::Month::try_from(d[1] as u8).unwrap();
    let date = time::Date::from_calendar_date(d[0] as i32, month, d[2] as u8).unwrap();
    date.with_hms(t[0], t[1], t[2])
        .unwrap()
        .assume_utc()
        .unix_timestamp()
}

fn msp(pems: &[String]) -> Msp {
    Msp::new("Org1MSP", pems, &Revocation::default()).unwrap()
}

#[test]
fn openssl_peer_certificate_is_accepted_with_org_role_name_and_dates() {
    let pki = Pki::new();
    let ca = pki.root_ca("ca", "/O=Org1/CN=ca.org1");
    let pem = pki.leaf("peer0", "/O=Org1/OU=peer/CN=peer0.org1", "ca");
    let id = msp(&[ca]).validate(&pem, now()).unwrap();
    assert_eq!(id.msp_id, "Org1MSP");
    assert_eq!(id.role, Role::Peer);
    assert_eq!(id.common_name, "peer0.org1");
    assert_eq!(id.subject, "CN=peer0.org1,OU=peer,O=Org1");
    assert_eq!(pki.dates("peer0"), (id.not_before, id.not_after));
    assert_eq!(id.not_after - id.not_before, DAYS * 86_400);
    assert_eq!(
        id.serial,
        pki.serial("peer0")
            .to_ascii_lowercase()
            .trim_start_matches('0')
    );
}

#[test]
fn openssl_certificate_outside_its_validity_is_expired_or_not_yet_valid() {
    let pki = Pki::new();
    let m = msp(&[pki.root_ca("ca", "/O=Org1/CN=ca.org1")]);
    let pem = pki.leaf("peer0", "/O=Org1/OU=peer/CN=peer0", "ca");
    let (not_before, not_after) = pki.dates("peer0");
    assert_eq!(
        m.validate(&pem, not_after + 1).unwrap_err(),
        IdentityError::Expired {
            not_after,
            now: not_after + 1
        }
    );
    assert_eq!(
        m.validate(&pem, not_before - 1).unwrap_err(),
        IdentityError::NotYetValid {
            not_before,
            now: not_before - 1
        }
    );
}

#[test]
fn openssl_certificate_from_same_named_other_ca_is_bad_signature() {
    let pki = Pki::new();
    let m = msp(&[pki.root_ca("ca", "/O=Org1/CN=ca.org1")]);
    pki.root_ca("impostor", "/O=Org1/CN=ca.org1");
    let pem = pki.leaf("peer0", "/O=Org1/OU=peer/CN=peer0", "impostor");
    assert_eq!(
        m.validate(&pem, now()).unwrap_err(),
        IdentityError::BadSignature {
            issuer: "CN=ca.org1,O=Org1".into()
        }
    );
}

#[test]
fn openssl_certificate_from_differently_named_ca_is_unknown_issuer() {
    let pki = Pki::new();
    let m = msp(&[pki.root_ca("ca", "/O=Org1/CN=ca.org1")]);
    pki.root_ca("other", "/O=Org2/CN=ca.org2");
    let pem = pki.leaf("peer0", "/O=Org2/OU=peer/CN=peer0", "other");
    assert_eq!(
        m.validate(&pem, now()).unwrap_err(),
        IdentityError::UnknownIssuer {
            issuer: "CN=ca.org2,O=Org2".into()
        }
    );
}

#[test]
fn openssl_ca_revoke_and_gencrl_revokes_the_certificate() {
    let pki = Pki::new();
    let ca = pki.root_ca("ca", "/O=Org1/CN=ca.org1");
    let cnf = pki.ca_config("ca", true);
    for name in ["revoked", "kept"] {
        pki.csr(name, &format!("/O=Org1/OU=client/CN={name}"), KeyKind::P256);
        // Without -notext: `openssl ca` writes a text dump before the PEM.
        pki.openssl(
            &format!("ca -batch -config {cnf} -extensions leaf_ext -in {name}.csr -out {name}.pem"),
            &[],
        );
    }
    pki.openssl(&format!("ca -config {cnf} -revoke revoked.pem"), &[]);
    pki.openssl(&format!("ca -config {cnf} -gencrl -out crl.pem"), &[]);
    let rev = Revocation {
        crls_pem: vec![pki.read("crl.pem")],
        ..Default::default()
    };
    let m = Msp::new("Org1MSP", &[ca], &rev).unwrap();
    assert_eq!(
        m.validate(&pki.read("revoked.pem"), now()).unwrap_err(),
        IdentityError::Revoked {
            serial: "1000".into()
        }
    );
    let kept = m.validate(&pki.read("kept.pem"), now()).unwrap();
    assert_eq!((kept.serial.as_str(), kept.role), ("1001", Role::Client));
}

#[test]
fn openssl_v1_crl_is_refused_with_a_hint() {
    let pki = Pki::new();
    let ca = pki.root_ca("ca", "/O=Org1/CN=ca.org1");
    let cnf = pki.ca_config("ca", false);
    pki.openssl(&format!("ca -config {cnf} -gencrl -out crl.pem"), &[]);
    let rev = Revocation {
        crls_pem: vec![pki.read("crl.pem")],
        ..Default::default()
    };
    match Msp::new("Org1MSP", &[ca], &rev).unwrap_err() {
        MspError::BadCrl { index: 0, reason } => assert!(reason.contains("crlnumber"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn openssl_serial_in_the_revocation_list_revokes() {
    let pki = Pki::new();
    let ca = pki.root_ca("ca", "/O=Org1/CN=ca.org1");
    let pem = pki.leaf("peer0", "/O=Org1/OU=peer/CN=peer0", "ca");
    let serial = pki.serial("peer0");
    let rev = Revocation {
        revoked_serials: vec![serial.clone()],
        ..Default::default()
    };
    let err = Msp::new("Org1MSP", &[ca], &rev)
        .unwrap()
        .validate(&pem, now())
        .unwrap_err();
    let expected = serial
        .to_ascii_lowercase()
        .trim_start_matches('0')
        .to_string();
    assert_eq!(err, IdentityError::Revoked { serial: expected });
}

#[test]
fn openssl_rsa_and_p384_leaves_are_not_p256() {
    let pki = Pki::new();
    let m = msp(&[pki.root_ca("ca", "/O=Org1/CN=ca.org1")]);
    pki.csr("rsa", "/O=Org1/OU=peer/CN=rsa", KeyKind::Rsa);
    let rsa = pki.sign("rsa", "ca", LEAF_EXT, "-sha256");
    assert_eq!(
        m.validate(&rsa, now()).unwrap_err(),
        IdentityError::NotP256Key {
            found: "rsaEncryption (1.2.840.113549.1.1.1)".into()
        }
    );
    pki.csr("p384", "/O=Org1/OU=peer/CN=p384", KeyKind::P384);
    let p384 = pki.sign("p384", "ca", LEAF_EXT, "-sha256");
    assert_eq!(
        m.validate(&p384, now()).unwrap_err(),
        IdentityError::NotP256Key {
            found: "id-ecPublicKey on secp384r1 (1.3.132.0.34)".into()
        }
    );
}

#[test]
fn openssl_sha384_signature_is_unsupported() {
    let pki = Pki::new();
    let m = msp(&[pki.root_ca("ca", "/O=Org1/CN=ca.org1")]);
    pki.csr("peer0", "/O=Org1/OU=peer/CN=peer0", KeyKind::P256);
    let pem = pki.sign("peer0", "ca", LEAF_EXT, "-sha384");
    assert_eq!(
        m.validate(&pem, now()).unwrap_err(),
        IdentityError::UnsupportedSignatureAlgorithm {
            oid: "1.2.840.10045.4.3.3".into()
        }
    );
}

#[test]
fn openssl_admin_with_fabric_attribute_extension_yields_attributes() {
    let pki = Pki::new();
    let m = msp(&[pki.root_ca("ca", "/O=Org1/CN=ca.org1")]);
    let json = r#"{"attrs":{"role":"QP","site":"Leiden"}}"#;
    let ext = format!("{LEAF_EXT}1.2.3.4.5.6.7.8.1 = DER:{}\n", hex::encode(json));
    pki.csr("qp", "/O=Org1/OU=admin/CN=Dr. Q. Person", KeyKind::P256);
    let pem = pki.sign("qp", "ca", &ext, "-sha256");
    let id = m.validate(&pem, now()).unwrap();
    assert_eq!(id.role, Role::Admin);
    assert_eq!(id.common_name, "Dr. Q. Person");
    assert_eq!(id.attributes.get("role").map(String::as_str), Some("QP"));
    assert_eq!(
        id.attributes.get("site").map(String::as_str),
        Some("Leiden")
    );
    assert_eq!(id.attributes.len(), 2);
}

#[test]
fn openssl_role_ous_must_name_exactly_one_role() {
    let pki = Pki::new();
    let m = msp(&[pki.root_ca("ca", "/O=Org1/CN=ca.org1")]);
    let two = pki.leaf("two", "/O=Org1/OU=peer/OU=admin/CN=two", "ca");
    assert_eq!(
        m.validate(&two, now()).unwrap_err(),
        IdentityError::AmbiguousRole {
            roles: vec![Role::Peer, Role::Admin]
        }
    );
    let none = pki.leaf("none", "/O=Org1/OU=finance/CN=none", "ca");
    assert_eq!(
        m.validate(&none, now()).unwrap_err(),
        IdentityError::NoRole {
            ous: vec!["finance".into()]
        }
    );
}

#[test]
fn openssl_intermediate_ca_chain_is_accepted() {
    let pki = Pki::new();
    let root = pki.root_ca("root", "/O=Org1/CN=root.org1");
    pki.csr("mid", "/O=Org1/CN=mid.org1", KeyKind::P256);
    let mid = pki.sign("mid", "root", CA_EXT, "-sha256");
    let pem = pki.leaf("peer0", "/O=Org1/OU=peer/CN=peer0", "mid");

    // OpenSSL agrees the chain is good.
    pki.openssl("verify -CAfile root.pem -untrusted mid.pem peer0.pem", &[]);
    let id = msp(&[root.clone(), mid.clone()])
        .validate(&pem, now())
        .unwrap();
    assert_eq!((id.role, id.common_name.as_str()), (Role::Peer, "peer0"));
    // The same chain as one bundle file.
    assert!(msp(&[format!("{root}{mid}")]).validate(&pem, now()).is_ok());
    // The intermediate alone is refused when the MSP is built.
    assert!(matches!(
        Msp::new("Org1MSP", &[mid], &Revocation::default()),
        Err(MspError::IntermediateDoesNotChain { index: 0, .. })
    ));
}
