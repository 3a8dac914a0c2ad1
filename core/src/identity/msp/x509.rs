//! X.509 plumbing under the MSP: PEM blocks, the exact signed bytes, P-256 keys
//! and the few name and time conversions the rules need.
//!
//! Parsing is done by `x509-cert`; this module only adds what that crate leaves to
//! its callers. Signatures are checked over the TBS bytes sliced out of the
//! original DER rather than over a re-encoding, so a certificate whose encoding we
//! would normalise differently still verifies exactly as its issuer signed it.

use std::time::Duration;

use der::asn1::ObjectIdentifier;
use der::{Decode, Header, Reader, SliceReader, Tag, Tagged};
use p256::ecdsa::{Signature, VerifyingKey};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::name::Name;
use x509_cert::time::Time;

use crate::crypto::PublicKey;

pub(super) const ID_EC_PUBLIC_KEY: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
pub(super) const PRIME256V1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
pub(super) const ECDSA_WITH_SHA256: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
pub(super) const COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
pub(super) const ORG_UNIT: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.11");
pub(super) const BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
/// Fabric CA's attribute extension: its value is raw JSON `{"attrs":{...}}`.
pub(super) const FABRIC_ATTRIBUTES: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.3.4.5.6.7.8.1");

/// Extensions an identity may mark critical. RFC 5280 says a certificate with a
/// critical extension the verifier does not process must be rejected; these are
/// the ones that only constrain uses we either check (basicConstraints) or that
/// matter to TLS rather than to signing transactions (key usages, names).
pub(super) const HANDLED_CRITICAL: [ObjectIdentifier; 7] = [
    BASIC_CONSTRAINTS,
    ObjectIdentifier::new_unwrap("2.5.29.15"), // keyUsage
    ObjectIdentifier::new_unwrap("2.5.29.37"), // extendedKeyUsage
    ObjectIdentifier::new_unwrap("2.5.29.17"), // subjectAltName
    ObjectIdentifier::new_unwrap("2.5.29.14"), // subjectKeyIdentifier
    ObjectIdentifier::new_unwrap("2.5.29.35"), // authorityKeyIdentifier
    FABRIC_ATTRIBUTES,
];

/// The DER of every PEM block labelled `label` in `text`, in order.
///
/// Text outside the blocks is skipped, as OpenSSL does: `openssl ca` writes a
/// human-readable dump before the PEM unless told `-notext`, and CA bundles often
/// carry comments. Blocks with other labels (a key pasted into the same file) are
/// skipped too; only the wanted kind is decoded.
pub(super) fn pem_blocks(text: &str, label: &str) -> Result<Vec<Vec<u8>>, String> {
    const BEGIN: &str = "-----BEGIN ";
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let block = &rest[start..];
        let label_end = block[BEGIN.len()..]
            .find("-----")
            .ok_or("a -----BEGIN line is not terminated by -----")?
            + BEGIN.len();
        let found = &block[BEGIN.len()..label_end];
        let end_line = format!("-----END {found}-----");
        let end = block
            .find(&end_line)
            .ok_or_else(|| format!("PEM block {found:?} has no {end_line} line"))?
            + end_line.len();
        if found == label {
            let (_, der) = der::pem::decode_vec(&block.as_bytes()[..end])
                .map_err(|e| format!("PEM block {found:?} is not valid base64 PEM: {e}"))?;
            out.push(der);
        }
        rest = &block[end..];
    }
    Ok(out)
}

/// The complete first element (tag, length and value) inside the outer SEQUENCE:
/// the TBSCertificate of a certificate, the TBSCertList of a CRL. These are the
/// bytes the issuer signed.
pub(super) fn signed_part(der: &[u8]) -> der::Result<&[u8]> {
    let mut reader = SliceReader::new(der)?;
    Header::decode(&mut reader)?.tag.assert_eq(Tag::Sequence)?;
    reader.tlv_bytes()
}

/// True when a CRL's TBSCertList starts with its signature AlgorithmIdentifier
/// rather than a version INTEGER, i.e. a v1 CRL. `x509-cert` 0.2 requires the
/// version, so we detect v1 to explain the failure instead of saying "malformed".
pub(super) fn is_v1_crl(der: &[u8]) -> bool {
    let peek = || -> der::Result<Tag> {
        let mut tbs = SliceReader::new(signed_part(der)?)?;
        Header::decode(&mut tbs)?;
        Ok(tbs.peek_header()?.tag)
    };
    matches!(peek(), Ok(Tag::Sequence))
}

/// Why a subject public key is not usable as a P-256 identity key.
pub(super) enum KeyProblem {
    /// Another algorithm or curve; the text names it.
    NotP256(String),
    /// P-256 by its OIDs, but the point bytes are not a point on the curve.
    BadPoint,
}

/// The P-256 key of a SubjectPublicKeyInfo, or what it is instead.
pub(super) fn p256_key(spki: &SubjectPublicKeyInfoOwned) -> Result<VerifyingKey, KeyProblem> {
    if spki.algorithm.oid != ID_EC_PUBLIC_KEY {
        return Err(KeyProblem::NotP256(oid_label(&spki.algorithm.oid)));
    }
    let curve = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
    match curve {
        Some(c) if c == PRIME256V1 => {}
        Some(c) => {
            return Err(KeyProblem::NotP256(format!(
                "id-ecPublicKey on {}",
                oid_label(&c)
            )));
        }
        None => {
            return Err(KeyProblem::NotP256(
                "id-ecPublicKey with explicit or missing curve parameters (not a named curve)"
                    .into(),
            ));
        }
    }
    let bits = spki
        .subject_public_key
        .as_bytes()
        .ok_or(KeyProblem::BadPoint)?;
    VerifyingKey::from_sec1_bytes(bits).map_err(|_| KeyProblem::BadPoint)
}

/// The key in the uncompressed form the rest of CellChain uses, whichever SEC1
/// form the certificate carried.
pub(super) fn to_public_key(key: &VerifyingKey) -> PublicKey {
    let point = key.to_encoded_point(false);
    let mut bytes = [0u8; 65];
    bytes.copy_from_slice(point.as_bytes());
    PublicKey(bytes)
}

/// Checks that a signature algorithm is ecdsa-with-SHA256; otherwise returns its
/// dotted OID. Parameters are not inspected: RFC 5758 says they are absent, and
/// some encoders write NULL, which changes nothing about the algorithm.
pub(super) fn require_ecdsa_sha256(alg: &AlgorithmIdentifierOwned) -> Result<(), String> {
    if alg.oid == ECDSA_WITH_SHA256 {
        Ok(())
    } else {
        Err(alg.oid.to_string())
    }
}

/// Parses the outer signature BIT STRING as a DER ECDSA signature.
///
/// High-S signatures are accepted here (unlike transaction signatures, see
/// [`crate::crypto`]): OpenSSL and other CAs do not normalise S, and a
/// certificate's signature is checked against a CA key we already trust, so
/// malleability buys an attacker nothing but a different `cert_hash`.
pub(super) fn ecdsa_signature(bits: &der::asn1::BitString) -> Option<Signature> {
    Signature::from_der(bits.as_bytes()?).ok()
}

/// Verifies an issuer's signature over the exact signed bytes. Through `ring`,
/// about five times faster than the `p256` crate (validation of a new certificate
/// is on the endorser's and committer's path); either form of S is accepted, as
/// certificates signed by OpenSSL are not normalised.
pub(super) fn verifies(key: &VerifyingKey, signed: &[u8], signature: &Signature) -> bool {
    use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_ASN1};
    let point = key.to_encoded_point(false);
    let der = signature.to_der();
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, point.as_bytes())
        .verify(signed, der.as_bytes())
        .is_ok()
}

/// "name (dotted.oid)" when the OID database knows the name, else the dotted OID.
pub(crate) fn oid_label(oid: &ObjectIdentifier) -> String {
    match der::oid::db::DB.by_oid(oid) {
        Some(name) => format!("{name} ({oid})"),
        None => oid.to_string(),
    }
}

/// Same, from a dotted string as stored in error values.
pub(crate) fn oid_text_label(oid: &str) -> String {
    match ObjectIdentifier::new(oid) {
        Ok(parsed) => oid_label(&parsed),
        Err(_) => oid.to_string(),
    }
}

/// The text of a directory string value (UTF8String, PrintableString, IA5String or
/// TeletexString, the ones CAs use), or None for other encodings.
pub(super) fn attr_str(atv: &AttributeTypeAndValue) -> Option<&str> {
    match atv.value.tag() {
        Tag::Utf8String | Tag::PrintableString | Tag::Ia5String | Tag::TeletexString => {
            std::str::from_utf8(atv.value.value()).ok()
        }
        _ => None,
    }
}

/// Every string value of attribute `oid` in a name, in encoding order.
pub(super) fn name_values<'a>(
    name: &'a Name,
    oid: ObjectIdentifier,
) -> impl Iterator<Item = &'a str> + 'a {
    name.0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .filter(move |atv| atv.oid == oid)
        .filter_map(attr_str)
}

/// Seconds since the Unix epoch.
pub(super) fn unix(t: &Time) -> i64 {
    i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
}

/// Lower-case hex of a serial number's big-endian bytes, without leading zeros
/// (the DER INTEGER carries a 00 byte before a high bit; "0" for zero).
pub(super) fn serial_hex(bytes: &[u8]) -> String {
    let hex = hex::encode(bytes);
    match hex.trim_start_matches('0') {
        "" => "0".to_string(),
        trimmed => trimmed.to_string(),
    }
}

/// A serial as people write it (`0x1F`, `1f`, `01:1F` as OpenSSL prints it) in the
/// form of [`serial_hex`], or None if it is not hexadecimal.
pub(super) fn normalize_serial(text: &str) -> Option<String> {
    let t = text.trim();
    let t = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    let digits: String = t.chars().filter(|c| *c != ':').collect();
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let lower = digits.to_ascii_lowercase();
    Some(match lower.trim_start_matches('0') {
        "" => "0".to_string(),
        trimmed => trimmed.to_string(),
    })
}

/// A Unix time as an RFC 3339 UTC date for messages, falling back to the number.
pub(crate) fn utc(t: i64) -> String {
    u64::try_from(t)
        .ok()
        .and_then(|s| der::DateTime::from_unix_duration(Duration::from_secs(s)).ok())
        .map(|d| d.to_string())
        .unwrap_or_else(|| format!("unix time {t}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials_normalise_like_openssl_prints_them() {
        assert_eq!(normalize_serial("0x0A1b").as_deref(), Some("a1b"));
        assert_eq!(normalize_serial("01:1F").as_deref(), Some("11f"));
        assert_eq!(normalize_serial("000").as_deref(), Some("0"));
        assert_eq!(normalize_serial("xyz"), None);
        assert_eq!(normalize_serial(""), None);
        assert_eq!(serial_hex(&[0x00, 0x8f, 0x01]), "8f01");
        assert_eq!(serial_hex(&[0x00]), "0");
    }

    #[test]
    fn oid_labels_name_known_algorithms() {
        let rsa = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
        assert_eq!(oid_label(&rsa), "rsaEncryption (1.2.840.113549.1.1.1)");
        assert_eq!(oid_text_label("1.3.132.0.34"), "secp384r1 (1.3.132.0.34)");
        assert_eq!(oid_text_label("1.2.3.999"), "1.2.3.999");
    }

    #[test]
    fn utc_formats_rfc3339() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(utc(-5), "unix time -5");
    }

    #[test]
    fn pem_blocks_skip_text_and_other_labels() {
        let text = "Certificate:\n  dump...\n-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n\
                    -----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\ntrailer\n";
        assert_eq!(
            pem_blocks(text, "CERTIFICATE").unwrap(),
            vec![vec![1u8, 2, 3]]
        );
        assert!(
            pem_blocks("-----BEGIN CERTIFICATE-----\nAQID\n", "CERTIFICATE")
                .unwrap_err()
                .contains("-----END CERTIFICATE-----")
        );
        assert!(pem_blocks("no pem here", "CERTIFICATE").unwrap().is_empty());
    }
}
