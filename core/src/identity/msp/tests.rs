//! MSP rules on certificates made with rcgen (the OpenSSL interop cases are in
//! `core/tests/openssl_identities.rs`).

use rcgen::{
    BasicConstraints as RcBasicConstraints, CertificateParams, CertificateRevocationListParams,
    CustomExtension, DistinguishedName, DnType, IsCa, KeyIdMethod, KeyPair, KeyUsagePurpose,
    RevokedCertParams, SerialNumber, PKCS_ECDSA_P256_SHA256, PKCS_ECDSA_P384_SHA384,
};
use time::OffsetDateTime;

use super::*;

/// 2025-06-15: every certificate here is valid from a day before to a year after.
const NOW: i64 = 1_750_000_000;
const DAY: i64 = 86_400;

fn at(unix: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(unix).unwrap()
}

struct TestCa {
    cert: rcgen::Certificate,
    key: KeyPair,
}

impl TestCa {
    fn pem(&self) -> String {
        self.cert.pem()
    }
}

fn ca_params(org: &str, cn: &str) -> CertificateParams {
    let mut p = CertificateParams::default();
    // The default name already holds a CN, which would come first.
    p.distinguished_name = DistinguishedName::new();
    p.distinguished_name.push(DnType::OrganizationName, org);
    p.distinguished_name.push(DnType::CommonName, cn);
    p.is_ca = IsCa::Ca(RcBasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p.not_before = at(NOW - 10 * DAY);
    p.not_after = at(NOW + 3650 * DAY);
    p
}

fn root(org: &str, cn: &str) -> TestCa {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let cert = ca_params(org, cn).self_signed(&key).unwrap();
    TestCa { cert, key }
}

fn intermediate(parent: &TestCa, org: &str, cn: &str) -> TestCa {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let cert = ca_params(org, cn)
        .signed_by(&key, &parent.cert, &parent.key)
        .unwrap();
    TestCa { cert, key }
}

/// A member certificate: subject O=org, then each OU, then CN.
fn leaf_params(cn: &str, ous: &[&str]) -> CertificateParams {
    let mut p = CertificateParams::default();
    // The default name already holds a CN, which would come first.
    p.distinguished_name = DistinguishedName::new();
    p.distinguished_name.push(DnType::OrganizationName, "Org1");
    // rcgen keeps one value per attribute type, so extra OUs go in under the same
    // OID spelled as a custom type.
    assert!(ous.len() <= 2, "helper supports at most two OUs");
    for (i, ou) in ous.iter().enumerate() {
        let ty = if i == 0 {
            DnType::OrganizationalUnitName
        } else {
            DnType::CustomDnType(vec![2, 5, 4, 11])
        };
        p.distinguished_name.push(ty, *ou);
    }
    p.distinguished_name.push(DnType::CommonName, cn);
    p.serial_number = Some(SerialNumber::from_slice(&[0x00, 0x12, 0x34]));
    p.not_before = at(NOW - DAY);
    p.not_after = at(NOW + 365 * DAY);
    p
}

fn issue(params: CertificateParams, ca: &TestCa) -> (String, KeyPair) {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let cert = params.signed_by(&key, &ca.cert, &ca.key).unwrap();
    (cert.pem(), key)
}

fn msp(cas: &[&TestCa]) -> Msp {
    msp_with(cas, &Revocation::default())
}

fn msp_with(cas: &[&TestCa], revocation: &Revocation) -> Msp {
    let pems: Vec<String> = cas.iter().map(|c| c.pem()).collect();
    Msp::new("Org1MSP", &pems, revocation).unwrap()
}

fn crl(ca: &TestCa, serials: &[&[u8]]) -> String {
    CertificateRevocationListParams {
        this_update: at(NOW - DAY),
        next_update: at(NOW + 30 * DAY),
        crl_number: SerialNumber::from(1u64),
        issuing_distribution_point: None,
        revoked_certs: serials
            .iter()
            .map(|s| RevokedCertParams {
                serial_number: SerialNumber::from_slice(s),
                revocation_time: at(NOW - DAY),
                reason_code: None,
                invalidity_date: None,
            })
            .collect(),
        key_identifier_method: KeyIdMethod::Sha256,
    }
    .signed_by(&ca.cert, &ca.key)
    .unwrap()
    .pem()
    .unwrap()
}

fn attrs_ext(json: &str) -> CustomExtension {
    CustomExtension::from_oid_content(&[1, 2, 3, 4, 5, 6, 7, 8, 1], json.as_bytes().to_vec())
}

#[test]
fn peer_certificate_yields_every_identity_field() {
    let ca = root("Org1", "ca.org1");
    let (pem, key) = issue(leaf_params("peer0", &["peer"]), &ca);
    let id = msp(&[&ca]).validate(&pem, NOW).unwrap();
    let der = parse_pem_certs(&pem).unwrap().remove(0);
    assert_eq!(id.msp_id, "Org1MSP");
    assert_eq!(id.role, Role::Peer);
    assert_eq!(id.common_name, "peer0");
    assert_eq!(id.subject, "CN=peer0,OU=peer,O=Org1");
    assert_eq!(id.serial, "1234");
    assert_eq!(id.not_before, NOW - DAY);
    assert_eq!(id.not_after, NOW + 365 * DAY);
    assert_eq!(id.public_key.as_bytes().as_slice(), key.public_key_raw());
    assert_eq!(id.cert_hash, sha256(&der));
    assert!(id.attributes.is_empty());
}

#[test]
fn every_role_ou_is_recognised() {
    let ca = root("Org1", "ca.org1");
    let m = msp(&[&ca]);
    for role in Role::ALL {
        let (pem, _) = issue(leaf_params("x", &[role.as_str()]), &ca);
        assert_eq!(m.validate(&pem, NOW).unwrap().role, role);
    }
}

#[test]
fn non_role_ous_are_ignored_beside_one_role() {
    let ca = root("Org1", "ca.org1");
    let (pem, _) = issue(leaf_params("x", &["department1", "client"]), &ca);
    assert_eq!(msp(&[&ca]).validate(&pem, NOW).unwrap().role, Role::Client);
}

#[test]
fn garbage_and_non_pem_are_malformed() {
    let ca = root("Org1", "ca.org1");
    let m = msp(&[&ca]);
    assert!(matches!(
        m.validate("hello", NOW),
        Err(IdentityError::Malformed { .. })
    ));
    let bogus = "-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\n";
    let err = m.validate(bogus, NOW).unwrap_err();
    assert!(matches!(err, IdentityError::Malformed { .. }), "{err}");
    assert!(matches!(
        m.validate_der(&[0x30, 0x00], NOW),
        Err(IdentityError::Malformed { .. })
    ));
}

#[test]
fn two_certificates_in_one_identity_are_malformed() {
    let ca = root("Org1", "ca.org1");
    let (pem, _) = issue(leaf_params("x", &["peer"]), &ca);
    let err = msp(&[&ca])
        .validate(&format!("{pem}{}", ca.pem()), NOW)
        .unwrap_err();
    assert!(err.to_string().contains("exactly one certificate"), "{err}");
}

#[test]
fn pem_with_surrounding_text_is_accepted() {
    let ca = root("Org1", "ca.org1");
    let (pem, _) = issue(leaf_params("x", &["peer"]), &ca);
    let text = format!("Certificate:\n    Data: ...\n{pem}\n# trailing comment\n");
    assert_eq!(msp(&[&ca]).validate(&text, NOW).unwrap().common_name, "x");
}

#[test]
fn validity_bounds_are_inclusive() {
    let ca = root("Org1", "ca.org1");
    let (pem, _) = issue(leaf_params("x", &["peer"]), &ca);
    let m = msp(&[&ca]);
    let (nb, na) = (NOW - DAY, NOW + 365 * DAY);
    assert!(m.validate(&pem, nb).is_ok());
    assert!(m.validate(&pem, na).is_ok());
    assert_eq!(
        m.validate(&pem, nb - 1).unwrap_err(),
        IdentityError::NotYetValid {
            not_before: nb,
            now: nb - 1
        }
    );
    assert_eq!(
        m.validate(&pem, na + 1).unwrap_err(),
        IdentityError::Expired {
            not_after: na,
            now: na + 1
        }
    );
}

#[test]
fn certificate_of_another_ca_is_unknown_issuer() {
    let ca = root("Org1", "ca.org1");
    let other = root("Org2", "ca.org2");
    let (pem, _) = issue(leaf_params("x", &["peer"]), &other);
    assert_eq!(
        msp(&[&ca]).validate(&pem, NOW).unwrap_err(),
        IdentityError::UnknownIssuer {
            issuer: "CN=ca.org2,O=Org2".into()
        }
    );
}

#[test]
fn impostor_ca_with_the_same_name_is_bad_signature() {
    let ca = root("Org1", "ca.org1");
    let impostor = root("Org1", "ca.org1");
    let (pem, _) = issue(leaf_params("x", &["peer"]), &impostor);
    assert_eq!(
        msp(&[&ca]).validate(&pem, NOW).unwrap_err(),
        IdentityError::BadSignature {
            issuer: "CN=ca.org1,O=Org1".into()
        }
    );
}

#[test]
fn renewed_ca_with_the_same_name_validates_both_generations() {
    let old = root("Org1", "ca.org1");
    let new = root("Org1", "ca.org1");
    let m = msp(&[&old, &new]);
    for ca in [&old, &new] {
        let (pem, _) = issue(leaf_params("x", &["peer"]), ca);
        assert!(m.validate(&pem, NOW).is_ok());
    }
}

#[test]
fn tampered_certificate_fails_signature() {
    let ca = root("Org1", "ca.org1");
    let (pem, _) = issue(leaf_params("peer0", &["peer"]), &ca);
    let mut der = parse_pem_certs(&pem).unwrap().remove(0);
    let pos = der.windows(5).position(|w| w == b"peer0").unwrap();
    der[pos + 4] = b'9';
    assert!(matches!(
        msp(&[&ca]).validate_der(&der, NOW),
        Err(IdentityError::BadSignature { .. })
    ));
}

#[test]
fn serial_list_revokes_in_any_spelling() {
    let ca = root("Org1", "ca.org1");
    let (pem, _) = issue(leaf_params("x", &["peer"]), &ca);
    for spelling in ["1234", "0x1234", "00:12:34", "001234"] {
        let rev = Revocation {
            revoked_serials: vec![spelling.into()],
            ..Default::default()
        };
        assert_eq!(
            msp_with(&[&ca], &rev).validate(&pem, NOW).unwrap_err(),
            IdentityError::Revoked {
                serial: "1234".into()
            },
            "{spelling}"
        );
    }
}

#[test]
fn crl_of_the_issuer_revokes() {
    let ca = root("Org1", "ca.org1");
    let (pem, _) = issue(leaf_params("x", &["peer"]), &ca);
    let rev = Revocation {
        crls_pem: vec![crl(&ca, &[&[0x12, 0x34]])],
        ..Default::default()
    };
    assert_eq!(
        msp_with(&[&ca], &rev).validate(&pem, NOW).unwrap_err(),
        IdentityError::Revoked {
            serial: "1234".into()
        }
    );
    let other = Revocation {
        crls_pem: vec![crl(&ca, &[&[0x99]])],
        ..Default::default()
    };
    assert!(msp_with(&[&ca], &other).validate(&pem, NOW).is_ok());
}

#[test]
fn crl_serials_apply_only_to_the_ca_that_signed_the_crl() {
    // Two CAs of one MSP may both issue serial 1234; a CRL of one must not
    // revoke the other's certificate.
    let a = root("Org1", "ca-a.org1");
    let b = root("Org1", "ca-b.org1");
    let (pem_b, _) = issue(leaf_params("x", &["peer"]), &b);
    let rev = Revocation {
        crls_pem: vec![crl(&a, &[&[0x12, 0x34]])],
        ..Default::default()
    };
    assert!(msp_with(&[&a, &b], &rev).validate(&pem_b, NOW).is_ok());
}

#[test]
fn crl_from_outside_the_msp_is_refused() {
    let ca = root("Org1", "ca.org1");
    let stranger = root("Org2", "ca.org2");
    let impostor = root("Org1", "ca.org1");
    let pems = vec![ca.pem()];
    let rev = Revocation {
        crls_pem: vec![crl(&stranger, &[])],
        ..Default::default()
    };
    assert_eq!(
        Msp::new("Org1MSP", &pems, &rev).unwrap_err(),
        MspError::CrlUnknownIssuer {
            index: 0,
            issuer: "CN=ca.org2,O=Org2".into()
        }
    );
    let rev = Revocation {
        crls_pem: vec![crl(&impostor, &[])],
        ..Default::default()
    };
    assert_eq!(
        Msp::new("Org1MSP", &pems, &rev).unwrap_err(),
        MspError::CrlBadSignature {
            index: 0,
            issuer: "CN=ca.org1,O=Org1".into()
        }
    );
    let rev = Revocation {
        crls_pem: vec![ca.pem()],
        ..Default::default()
    };
    assert!(matches!(
        Msp::new("Org1MSP", &pems, &rev).unwrap_err(),
        MspError::BadCrl { index: 0, .. }
    ));
}

#[test]
fn bad_revoked_serial_is_refused() {
    let ca = root("Org1", "ca.org1");
    let rev = Revocation {
        revoked_serials: vec!["12zz".into()],
        ..Default::default()
    };
    assert_eq!(
        Msp::new("Org1MSP", &[ca.pem()], &rev).unwrap_err(),
        MspError::BadRevokedSerial {
            serial: "12zz".into()
        }
    );
}

#[test]
fn ca_certificate_cannot_act_as_identity() {
    let ca = root("Org1", "ca.org1");
    assert_eq!(
        msp(&[&ca]).validate(&ca.pem(), NOW).unwrap_err(),
        IdentityError::IsCa {
            subject: "CN=ca.org1,O=Org1".into()
        }
    );
}

#[test]
fn role_must_be_exactly_one_ou() {
    let ca = root("Org1", "ca.org1");
    let m = msp(&[&ca]);
    let (none, _) = issue(leaf_params("x", &["sales"]), &ca);
    assert_eq!(
        m.validate(&none, NOW).unwrap_err(),
        IdentityError::NoRole {
            ous: vec!["sales".into()]
        }
    );
    let (upper, _) = issue(leaf_params("x", &["Peer"]), &ca);
    assert!(matches!(
        m.validate(&upper, NOW),
        Err(IdentityError::NoRole { .. })
    ));
    let (two, _) = issue(leaf_params("x", &["peer", "admin"]), &ca);
    assert_eq!(
        m.validate(&two, NOW).unwrap_err(),
        IdentityError::AmbiguousRole {
            roles: vec![Role::Peer, Role::Admin]
        }
    );
}

#[test]
fn attributes_come_from_the_fabric_extension() {
    let ca = root("Org1", "ca.org1");
    let mut p = leaf_params("qp1", &["client"]);
    p.custom_extensions = vec![attrs_ext(
        r#"{"attrs":{"role":"QP","hf.EnrollmentID":"qp1","site":"Leiden"}}"#,
    )];
    let (pem, _) = issue(p, &ca);
    let id = msp(&[&ca]).validate(&pem, NOW).unwrap();
    let expected: BTreeMap<String, String> = [
        ("role", "QP"),
        ("hf.EnrollmentID", "qp1"),
        ("site", "Leiden"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(id.attributes, expected);
}

#[test]
fn bad_attribute_extensions_are_refused() {
    let ca = root("Org1", "ca.org1");
    let m = msp(&[&ca]);
    for (json, needle) in [
        ("not json", "not valid JSON"),
        (r#"{"other":{}}"#, "attrs"),
        (r#"{"attrs":{"level":3}}"#, "\"level\""),
    ] {
        let mut p = leaf_params("x", &["client"]);
        p.custom_extensions = vec![attrs_ext(json)];
        let (pem, _) = issue(p, &ca);
        match m.validate(&pem, NOW) {
            Err(IdentityError::BadAttributes { reason }) => {
                assert!(reason.contains(needle), "{json}: {reason}")
            }
            other => panic!("{json}: {other:?}"),
        }
    }
}

#[test]
fn unknown_critical_extension_is_refused() {
    let ca = root("Org1", "ca.org1");
    let mut p = leaf_params("x", &["client"]);
    let mut ext = CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 99999, 1], vec![5, 0]);
    ext.set_criticality(true);
    p.custom_extensions = vec![ext];
    let (pem, _) = issue(p, &ca);
    assert_eq!(
        msp(&[&ca]).validate(&pem, NOW).unwrap_err(),
        IdentityError::UnhandledCriticalExtension {
            oid: "1.3.6.1.4.1.99999.1".into()
        }
    );
}

#[test]
fn missing_common_name_is_refused() {
    let ca = root("Org1", "ca.org1");
    let mut p = leaf_params("x", &["client"]);
    p.distinguished_name.remove(DnType::CommonName);
    let (pem, _) = issue(p, &ca);
    assert!(matches!(
        msp(&[&ca]).validate(&pem, NOW),
        Err(IdentityError::NoCommonName { .. })
    ));
}

#[test]
fn p384_leaf_is_not_p256() {
    let ca = root("Org1", "ca.org1");
    let key = KeyPair::generate_for(&PKCS_ECDSA_P384_SHA384).unwrap();
    let pem = leaf_params("x", &["peer"])
        .signed_by(&key, &ca.cert, &ca.key)
        .unwrap()
        .pem();
    assert_eq!(
        msp(&[&ca]).validate(&pem, NOW).unwrap_err(),
        IdentityError::NotP256Key {
            found: "id-ecPublicKey on secp384r1 (1.3.132.0.34)".into()
        }
    );
}

#[test]
fn sha384_signature_is_unsupported() {
    let p384_key = KeyPair::generate_for(&PKCS_ECDSA_P384_SHA384).unwrap();
    let p384_ca = TestCa {
        cert: ca_params("Org1", "ca.org1").self_signed(&p384_key).unwrap(),
        key: p384_key,
    };
    let ca = root("Org1", "ca.org1");
    let (pem, _) = issue(leaf_params("x", &["peer"]), &p384_ca);
    let err = msp(&[&ca]).validate(&pem, NOW).unwrap_err();
    assert_eq!(
        err,
        IdentityError::UnsupportedSignatureAlgorithm {
            oid: "1.2.840.10045.4.3.3".into()
        }
    );
    assert!(err.to_string().contains("ecdsa-with-SHA384"), "{err}");
}

#[test]
fn intermediate_chain_validates_and_inherits_root_expiry() {
    let root_ca = root("Org1", "root.org1");
    let mid = intermediate(&root_ca, "Org1", "mid.org1");
    let (pem, _) = issue(leaf_params("x", &["peer"]), &mid);
    // Order in the list does not matter.
    let m = msp(&[&mid, &root_ca]);
    assert_eq!(m.validate(&pem, NOW).unwrap().role, Role::Peer);

    let mut short = ca_params("Org1", "root.org1");
    short.not_after = at(NOW + 10 * DAY);
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let short_root = TestCa {
        cert: short.self_signed(&key).unwrap(),
        key,
    };
    let mid = intermediate(&short_root, "Org1", "mid.org1");
    let (pem, _) = issue(leaf_params("x", &["peer"]), &mid);
    let m = msp(&[&short_root, &mid]);
    assert!(m.validate(&pem, NOW).is_ok());
    assert_eq!(
        m.validate(&pem, NOW + 20 * DAY).unwrap_err(),
        IdentityError::IssuerNotValid {
            issuer: "CN=mid.org1,O=Org1".into(),
            not_before: NOW - 10 * DAY,
            not_after: NOW + 10 * DAY,
            now: NOW + 20 * DAY,
        }
    );
}

#[test]
fn revoked_intermediate_invalidates_its_identities() {
    let root_ca = root("Org1", "root.org1");
    let mut p = ca_params("Org1", "mid.org1");
    p.serial_number = Some(SerialNumber::from_slice(&[0x77]));
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mid = TestCa {
        cert: p.signed_by(&key, &root_ca.cert, &root_ca.key).unwrap(),
        key,
    };
    let (pem, _) = issue(leaf_params("x", &["peer"]), &mid);
    let rev = Revocation {
        crls_pem: vec![crl(&root_ca, &[&[0x77]])],
        ..Default::default()
    };
    assert_eq!(
        msp_with(&[&root_ca, &mid], &rev)
            .validate(&pem, NOW)
            .unwrap_err(),
        IdentityError::IssuerRevoked {
            issuer: "CN=mid.org1,O=Org1".into(),
            serial: "77".into()
        }
    );
}

#[test]
fn intermediate_without_its_root_does_not_chain() {
    let root_ca = root("Org1", "root.org1");
    let mid = intermediate(&root_ca, "Org1", "mid.org1");
    assert_eq!(
        Msp::new("Org1MSP", &[mid.pem()], &Revocation::default()).unwrap_err(),
        MspError::IntermediateDoesNotChain {
            index: 0,
            subject: "CN=mid.org1,O=Org1".into(),
            issuer: "CN=root.org1,O=Org1".into(),
        }
    );
    let impostor_root = root("Org1", "root.org1");
    assert!(matches!(
        Msp::new(
            "Org1MSP",
            &[impostor_root.pem(), mid.pem()],
            &Revocation::default()
        ),
        Err(MspError::IntermediateDoesNotChain { index: 1, .. })
    ));
}

#[test]
fn ca_list_rules() {
    let ca = root("Org1", "ca.org1");
    let none = Revocation::default();
    assert_eq!(
        Msp::new("", &[ca.pem()], &none).unwrap_err(),
        MspError::EmptyMspId
    );
    assert_eq!(
        Msp::new("Org1MSP", &[], &none).unwrap_err(),
        MspError::NoCaCertificates {
            msp_id: "Org1MSP".into()
        }
    );
    assert!(matches!(
        Msp::new("Org1MSP", &["junk".into()], &none).unwrap_err(),
        MspError::BadCaCertificate { index: 0, .. }
    ));
    let (leaf, _) = issue(leaf_params("x", &["peer"]), &ca);
    assert_eq!(
        Msp::new("Org1MSP", &[ca.pem(), leaf], &none).unwrap_err(),
        MspError::NotACa {
            index: 1,
            subject: "CN=x,OU=peer,O=Org1".into()
        }
    );
    let key = KeyPair::generate_for(&PKCS_ECDSA_P384_SHA384).unwrap();
    let p384 = ca_params("Org1", "ca.org1")
        .self_signed(&key)
        .unwrap()
        .pem();
    assert_eq!(
        Msp::new("Org1MSP", &[p384], &none).unwrap_err(),
        MspError::CaNotP256 {
            index: 0,
            found: "id-ecPublicKey on secp384r1 (1.3.132.0.34)".into()
        }
    );
}

#[test]
fn one_pem_entry_may_hold_the_whole_chain() {
    let root_ca = root("Org1", "root.org1");
    let mid = intermediate(&root_ca, "Org1", "mid.org1");
    let bundle = format!("{}{}", root_ca.pem(), mid.pem());
    let m = Msp::new("Org1MSP", &[bundle], &Revocation::default()).unwrap();
    assert_eq!(m.ca_certs_der().count(), 2);
    let (pem, _) = issue(leaf_params("x", &["peer"]), &mid);
    assert!(m.validate(&pem, NOW).is_ok());
}

#[test]
fn msp_set_routes_by_msp_id() {
    let ca1 = root("Org1", "ca.org1");
    let ca2 = root("Org2", "ca.org2");
    let none = Revocation::default();
    let set = MspSet::new(vec![
        Msp::new("Org1MSP", &[ca1.pem()], &none).unwrap(),
        Msp::new("Org2MSP", &[ca2.pem()], &none).unwrap(),
    ])
    .unwrap();
    assert_eq!(set.msp_ids().collect::<Vec<_>>(), ["Org1MSP", "Org2MSP"]);
    let (pem, _) = issue(leaf_params("x", &["peer"]), &ca2);
    let good = SerializedIdentity {
        msp_id: "Org2MSP".into(),
        cert: pem.clone(),
    };
    assert_eq!(set.validate(&good, NOW).unwrap().msp_id, "Org2MSP");
    // Claiming the other organisation does not work: its CA did not issue it.
    let wrong = SerializedIdentity {
        msp_id: "Org1MSP".into(),
        cert: pem.clone(),
    };
    assert!(matches!(
        set.validate(&wrong, NOW),
        Err(IdentityError::UnknownIssuer { .. })
    ));
    let unknown = SerializedIdentity {
        msp_id: "Org9MSP".into(),
        cert: pem,
    };
    assert_eq!(
        set.validate(&unknown, NOW).unwrap_err(),
        IdentityError::UnknownMsp {
            msp_id: "Org9MSP".into()
        }
    );
}

#[test]
fn msp_set_refuses_duplicate_ids() {
    let ca = root("Org1", "ca.org1");
    let m = Msp::new("Org1MSP", &[ca.pem()], &Revocation::default()).unwrap();
    assert_eq!(
        MspSet::new(vec![m.clone(), m]).unwrap_err(),
        MspError::DuplicateMspId {
            msp_id: "Org1MSP".into()
        }
    );
}

#[test]
fn identity_round_trips_as_json() {
    let ca = root("Org1", "ca.org1");
    let (pem, _) = issue(leaf_params("x", &["peer"]), &ca);
    let id = msp(&[&ca]).validate(&pem, NOW).unwrap();
    let json = serde_json::to_string(&id).unwrap();
    assert_eq!(serde_json::from_str::<Identity>(&json).unwrap(), id);
}

#[test]
fn error_messages_say_what_to_do() {
    let e = IdentityError::Expired {
        not_after: 0,
        now: 1,
    };
    assert!(e.to_string().contains("1970-01-01T00:00:00Z") && e.to_string().contains("renew"));
    let e = IdentityError::AmbiguousRole {
        roles: vec![Role::Peer, Role::Admin],
    };
    assert!(e.to_string().contains("peer, admin"), "{e}");
}
