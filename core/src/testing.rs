//! Test fixtures with real certificates: an organisation's CA and its members,
//! made with rcgen. For tests only: compiled for this crate's own tests and, in
//! other crates, through the `test-support` feature (as a dev-dependency).

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};

use crate::crypto::{signer_from_pkcs8_pem, RingProvider, Signer};
use crate::identity::SerializedIdentity;

/// An organisation's certificate authority (P-256, self-signed).
pub struct TestCa {
    cert: rcgen::Certificate,
    key: KeyPair,
}

/// A member identity and its signing key.
pub struct TestMember {
    pub id: SerializedIdentity,
    pub signer: Box<dyn Signer>,
    /// The signing key, PKCS#8 PEM, for tests that hand it to a process.
    pub key_pem: String,
}

impl TestCa {
    /// A CA with subject `CN=ca.<name>, O=<name>`.
    pub fn new(name: &str) -> TestCa {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("P-256 key");
        let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
        p.distinguished_name
            .push(DnType::CommonName, format!("ca.{name}"));
        p.distinguished_name.push(DnType::OrganizationName, name);
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = p.self_signed(&key).expect("self-signed CA");
        TestCa { cert, key }
    }

    /// The CA certificate, PEM.
    pub fn pem(&self) -> String {
        self.cert.pem()
    }

    /// A member of `msp_id` with common name `cn` and role OU `role`.
    pub fn member(&self, msp_id: &str, cn: &str, role: &str) -> TestMember {
        self.issue(msp_id, cn, role, None)
    }

    /// As [`TestCa::member`], valid until `not_after` (Unix seconds).
    pub fn member_until(&self, msp_id: &str, cn: &str, role: &str, not_after: i64) -> TestMember {
        self.issue(msp_id, cn, role, Some(not_after))
    }

    fn issue(&self, msp_id: &str, cn: &str, role: &str, not_after: Option<i64>) -> TestMember {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("P-256 key");
        let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
        p.distinguished_name.push(DnType::CommonName, cn);
        p.distinguished_name
            .push(DnType::OrganizationalUnitName, role);
        p.distinguished_name.push(DnType::OrganizationName, msp_id);
        if let Some(t) = not_after {
            p.not_after = time::OffsetDateTime::from_unix_timestamp(t).expect("valid time");
        }
        let cert = p
            .signed_by(&key, &self.cert, &self.key)
            .expect("signed by the CA");
        TestMember {
            id: SerializedIdentity {
                msp_id: msp_id.into(),
                cert: cert.pem(),
            },
            signer: signer_from_pkcs8_pem(&RingProvider, &key.serialize_pem()).expect("key loads"),
            key_pem: key.serialize_pem(),
        }
    }
}
