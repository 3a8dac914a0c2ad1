//! The membership service provider: turns an X.509 certificate into a trusted
//! [`Identity`] of one organisation, or says which rule it breaks.
//!
//! Every node asks this question on its hot path: the endorser checks the creator
//! of each proposal, the committer checks every endorser of every transaction
//! (and the creator again), and the orderer checks the consenters and the clients
//! allowed to write to a channel. An [`MspSet`] holds a channel's organisations,
//! built once from the channel configuration; [`MspSet::validate`] is a pure
//! function of the certificate and the time the caller passes in, so a node can
//! cache its results by certificate and time window.
//!
//! Rules, in the order they are checked (the first failure is returned):
//! 1. the certificate is PEM/DER X.509 ([`IdentityError::Malformed`]);
//! 2. its key is EC P-256 and its issuer signed with ecdsa-with-SHA256;
//! 3. a CA of the organisation has the issuer's name and its key verifies the
//!    signature over the exact TBS bytes;
//! 4. the certificate is within its own validity; the CAs from its issuer up to
//!    the root are within theirs and not revoked; the certificate is not revoked;
//! 5. it is not a CA, has no critical extension we ignore, has a common name;
//! 6. exactly one subject OU is a [`Role`] (Fabric NodeOUs), and the Fabric CA
//!    attribute extension, if present, is `{"attrs":{...}}` with string values.
//!
//! Revocation: serials listed in [`Revocation::revoked_serials`] are revoked for
//! the whole MSP, whichever CA issued them (the list is typed in by people, who
//! know the serial but rarely the issuer); serials from a CRL are revoked only for
//! certificates issued by the CA that signed that CRL, since serials are unique
//! only per issuer.

mod error;
mod x509;

#[cfg(test)]
mod tests;

pub use error::{IdentityError, MspError};

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use der::Decode;
use p256::ecdsa::VerifyingKey;
use serde::{Deserialize, Serialize};
use x509_cert::crl::CertificateList;
use x509_cert::ext::pkix::BasicConstraints;
use x509_cert::name::Name;
use x509_cert::Certificate;

use self::x509::{
    ecdsa_signature, name_values, p256_key, pem_blocks, require_ecdsa_sha256, serial_hex,
    signed_part, to_public_key, unix, verifies, KeyProblem, BASIC_CONSTRAINTS, COMMON_NAME,
    FABRIC_ATTRIBUTES, HANDLED_CRITICAL, ORG_UNIT,
};
use super::{Identity, Role, SerializedIdentity};
use crate::bytes::sha256;

/// Revocation data of one organisation, as it appears in the channel config.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    /// Revoked serial numbers in hex (`1f3a`, `0x1F3A` and `1F:3A` are all
    /// accepted), revoked whichever CA of the MSP issued them.
    #[serde(default)]
    pub revoked_serials: Vec<String>,
    /// X.509 CRLs in PEM ("X509 CRL"), each signed by a CA of the MSP.
    #[serde(default)]
    pub crls_pem: Vec<String>,
}

/// The PEM certificates in `text` (a CA file may hold several, and text around
/// them is ignored), as DER. Fails if there is none.
pub fn parse_pem_certs(text: &str) -> Result<Vec<Vec<u8>>, IdentityError> {
    let certs =
        pem_blocks(text, "CERTIFICATE").map_err(|reason| IdentityError::Malformed { reason })?;
    if certs.is_empty() {
        return Err(IdentityError::Malformed {
            reason: "no -----BEGIN CERTIFICATE----- block found".into(),
        });
    }
    Ok(certs)
}

/// One CA of an organisation, checked and reduced to what validation needs.
#[derive(Clone)]
struct Ca {
    der: Vec<u8>,
    subject: Name,
    subject_text: String,
    key: VerifyingKey,
    /// The validity shared by this CA and every CA above it: a certificate is only
    /// as valid as its whole chain.
    path_not_before: i64,
    path_not_after: i64,
    /// Serials revoked by CRLs that this CA signed.
    crl_revoked: HashSet<String>,
    /// `(subject, serial)` of this CA or the first CA above it that is revoked.
    path_revoked: Option<(String, String)>,
}

/// One organisation: its CA certificates (roots and intermediates) and its
/// revocation data. Cheap to share behind an `Arc`; validation takes `&self`.
#[derive(Clone)]
pub struct Msp {
    id: String,
    cas: Vec<Ca>,
    revoked_serials: HashSet<String>,
}

impl fmt::Debug for Msp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Msp")
            .field("id", &self.id)
            .field(
                "cas",
                &self.cas.iter().map(|c| &c.subject_text).collect::<Vec<_>>(),
            )
            .field("revoked_serials", &self.revoked_serials.len())
            .finish()
    }
}

/// A CA certificate parsed in `Msp::from_der`, before chaining.
struct ParsedCa<'a> {
    cert: Certificate,
    signed: &'a [u8],
    key: VerifyingKey,
    serial: String,
}

impl Msp {
    /// Builds an organisation from its CA certificates in PEM (each entry may hold
    /// several certificates) and its revocation data.
    ///
    /// Every CA must have a P-256 key and basicConstraints CA=true; every CA that is
    /// not self-signed must chain, by verified signatures, to a self-signed root in
    /// the list. Every CRL must be signed by one of the CAs.
    pub fn new(
        msp_id: &str,
        ca_certs_pem: &[String],
        revocation: &Revocation,
    ) -> Result<Msp, MspError> {
        let mut ders = Vec::new();
        for (entry, text) in ca_certs_pem.iter().enumerate() {
            let bad = |reason: String| MspError::BadCaCertificate {
                index: ders.len(),
                reason: format!("CA entry {entry}: {reason}"),
            };
            let blocks = pem_blocks(text, "CERTIFICATE").map_err(bad)?;
            if blocks.is_empty() {
                return Err(bad("no -----BEGIN CERTIFICATE----- block found".into()));
            }
            ders.extend(blocks);
        }
        Msp::from_der(msp_id, &ders, revocation)
    }

    /// Same as [`Msp::new`] with the CA certificates already in DER.
    pub fn from_der(
        msp_id: &str,
        ca_certs_der: &[Vec<u8>],
        revocation: &Revocation,
    ) -> Result<Msp, MspError> {
        if msp_id.is_empty() {
            return Err(MspError::EmptyMspId);
        }
        if ca_certs_der.is_empty() {
            return Err(MspError::NoCaCertificates {
                msp_id: msp_id.to_string(),
            });
        }
        let parsed = ca_certs_der
            .iter()
            .enumerate()
            .map(|(index, der)| parse_ca(index, der))
            .collect::<Result<Vec<_>, _>>()?;
        let parents = chain_cas(&parsed)?;

        let mut revoked_serials = HashSet::new();
        for serial in &revocation.revoked_serials {
            let normal =
                x509::normalize_serial(serial).ok_or_else(|| MspError::BadRevokedSerial {
                    serial: serial.clone(),
                })?;
            revoked_serials.insert(normal);
        }
        let mut crl_revoked = vec![HashSet::new(); parsed.len()];
        for (index, pem) in revocation.crls_pem.iter().enumerate() {
            let (signer, serials) = read_crl(index, pem, &parsed)?;
            crl_revoked[signer].extend(serials);
        }

        // A CA is revoked by its parent's CRL or by the MSP-wide list.
        let revoked: Vec<bool> = (0..parsed.len())
            .map(|i| {
                let serial = &parsed[i].serial;
                parents[i].is_some_and(|p| crl_revoked[p].contains(serial))
                    || revoked_serials.contains(serial)
            })
            .collect();

        let mut cas = Vec::with_capacity(parsed.len());
        for (i, p) in parsed.iter().enumerate() {
            let (mut not_before, mut not_after) = (i64::MIN, i64::MAX);
            let mut path_revoked = None;
            let mut cur = Some(i);
            while let Some(c) = cur {
                let v = &parsed[c].cert.tbs_certificate.validity;
                not_before = not_before.max(unix(&v.not_before));
                not_after = not_after.min(unix(&v.not_after));
                if path_revoked.is_none() && revoked[c] {
                    path_revoked = Some((
                        parsed[c].cert.tbs_certificate.subject.to_string(),
                        parsed[c].serial.clone(),
                    ));
                }
                cur = parents[c];
            }
            cas.push(Ca {
                der: ca_certs_der[i].clone(),
                subject: p.cert.tbs_certificate.subject.clone(),
                subject_text: p.cert.tbs_certificate.subject.to_string(),
                key: p.key,
                path_not_before: not_before,
                path_not_after: not_after,
                crl_revoked: std::mem::take(&mut crl_revoked[i]),
                path_revoked,
            });
        }
        Ok(Msp {
            id: msp_id.to_string(),
            cas,
            revoked_serials,
        })
    }

    /// The organisation's MSP id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The CA certificates (DER), in the order given.
    pub fn ca_certs_der(&self) -> impl Iterator<Item = &[u8]> {
        self.cas.iter().map(|c| c.der.as_slice())
    }

    /// Validates a PEM certificate (exactly one CERTIFICATE block) at `now_unix`.
    pub fn validate(&self, cert_pem: &str, now_unix: i64) -> Result<Identity, IdentityError> {
        let mut certs = parse_pem_certs(cert_pem)?;
        if certs.len() != 1 {
            return Err(IdentityError::Malformed {
                reason: format!(
                    "expected exactly one certificate, found {}; send the member certificate \
                     alone (its CAs are in the channel configuration)",
                    certs.len()
                ),
            });
        }
        let der = certs.pop().unwrap_or_default();
        self.validate_der(&der, now_unix)
    }

    /// Validates a DER certificate at `now_unix` (seconds since the Unix epoch).
    pub fn validate_der(&self, der: &[u8], now_unix: i64) -> Result<Identity, IdentityError> {
        let malformed = |reason: String| IdentityError::Malformed { reason };
        let cert = Certificate::from_der(der)
            .map_err(|e| malformed(format!("not a DER X.509 certificate: {e}")))?;
        let signed = signed_part(der)
            .map_err(|e| malformed(format!("cannot locate TBSCertificate: {e}")))?;
        let tbs = &cert.tbs_certificate;

        // 2. Key and signature algorithm.
        let key = match p256_key(&tbs.subject_public_key_info) {
            Ok(key) => key,
            Err(KeyProblem::NotP256(found)) => return Err(IdentityError::NotP256Key { found }),
            Err(KeyProblem::BadPoint) => {
                return Err(malformed(
                    "the subject key is not a valid P-256 point".into(),
                ))
            }
        };
        require_ecdsa_sha256(&cert.signature_algorithm)
            .map_err(|oid| IdentityError::UnsupportedSignatureAlgorithm { oid })?;
        if tbs.signature != cert.signature_algorithm {
            return Err(malformed(
                "the inner and outer signature algorithms differ (RFC 5280 4.1.1.2)".into(),
            ));
        }

        // 3. Issuer and chain. Several CAs may share a name (a renewed CA keeps its
        // name), so every CA with the issuer's name is tried.
        let mut named = self
            .cas
            .iter()
            .filter(|ca| ca.subject == tbs.issuer)
            .peekable();
        if named.peek().is_none() {
            return Err(IdentityError::UnknownIssuer {
                issuer: tbs.issuer.to_string(),
            });
        }
        let signature = ecdsa_signature(&cert.signature);
        let ca = named
            .find(|ca| {
                signature
                    .as_ref()
                    .is_some_and(|s| verifies(&ca.key, signed, s))
            })
            .ok_or_else(|| IdentityError::BadSignature {
                issuer: tbs.issuer.to_string(),
            })?;
        // 4. Validity (inclusive at both ends, RFC 5280 4.1.2.5) and revocation, the
        // certificate's own dates first: when it and its CA are both out of date,
        // its own dates are what its holder can act on.
        let not_before = unix(&tbs.validity.not_before);
        let not_after = unix(&tbs.validity.not_after);
        if now_unix < not_before {
            return Err(IdentityError::NotYetValid {
                not_before,
                now: now_unix,
            });
        }
        if now_unix > not_after {
            return Err(IdentityError::Expired {
                not_after,
                now: now_unix,
            });
        }
        if now_unix < ca.path_not_before || now_unix > ca.path_not_after {
            return Err(IdentityError::IssuerNotValid {
                issuer: ca.subject_text.clone(),
                not_before: ca.path_not_before,
                not_after: ca.path_not_after,
                now: now_unix,
            });
        }
        if let Some((issuer, serial)) = &ca.path_revoked {
            return Err(IdentityError::IssuerRevoked {
                issuer: issuer.clone(),
                serial: serial.clone(),
            });
        }
        let serial = serial_hex(tbs.serial_number.as_bytes());
        if self.revoked_serials.contains(&serial) || ca.crl_revoked.contains(&serial) {
            return Err(IdentityError::Revoked { serial });
        }

        // 5. Extensions, in one pass; their errors are reported in rule order below.
        let mut is_ca = false;
        let mut attributes_ext = None;
        let mut unhandled_critical = None;
        let extensions = tbs.extensions.as_deref().unwrap_or(&[]);
        for (i, ext) in extensions.iter().enumerate() {
            if extensions[..i].iter().any(|e| e.extn_id == ext.extn_id) {
                return Err(malformed(format!(
                    "extension {} appears twice (RFC 5280 4.2)",
                    x509::oid_label(&ext.extn_id)
                )));
            }
            if ext.extn_id == BASIC_CONSTRAINTS {
                is_ca = BasicConstraints::from_der(ext.extn_value.as_bytes())
                    .map_err(|e| malformed(format!("bad basicConstraints: {e}")))?
                    .ca;
            } else if ext.extn_id == FABRIC_ATTRIBUTES {
                attributes_ext = Some(ext.extn_value.as_bytes());
            }
            if ext.critical
                && unhandled_critical.is_none()
                && !HANDLED_CRITICAL.contains(&ext.extn_id)
            {
                unhandled_critical = Some(ext.extn_id.to_string());
            }
        }
        let subject = tbs.subject.to_string();
        if is_ca {
            return Err(IdentityError::IsCa { subject });
        }
        if let Some(oid) = unhandled_critical {
            return Err(IdentityError::UnhandledCriticalExtension { oid });
        }
        // Go's crypto/x509 (and so Fabric) takes the last CN; do the same.
        let common_name = match name_values(&tbs.subject, COMMON_NAME).last() {
            Some(cn) => cn.to_string(),
            None => return Err(IdentityError::NoCommonName { subject }),
        };

        // 6. Role and attributes.
        let role = role_from_ous(&tbs.subject)?;
        let attributes = match attributes_ext {
            Some(json) => parse_attributes(json)?,
            None => BTreeMap::new(),
        };

        Ok(Identity {
            msp_id: self.id.clone(),
            role,
            attributes,
            common_name,
            subject,
            serial,
            not_before,
            not_after,
            public_key: to_public_key(&key),
            cert_hash: sha256(der),
        })
    }
}

/// Parses one CA certificate and checks the rules that need no other CA.
fn parse_ca(index: usize, der: &[u8]) -> Result<ParsedCa<'_>, MspError> {
    let bad = |reason: String| MspError::BadCaCertificate { index, reason };
    let cert =
        Certificate::from_der(der).map_err(|e| bad(format!("not a DER X.509 certificate: {e}")))?;
    let signed = signed_part(der).map_err(|e| bad(format!("cannot locate TBSCertificate: {e}")))?;
    let tbs = &cert.tbs_certificate;
    let key = match p256_key(&tbs.subject_public_key_info) {
        Ok(key) => key,
        Err(KeyProblem::NotP256(found)) => return Err(MspError::CaNotP256 { index, found }),
        Err(KeyProblem::BadPoint) => return Err(bad("its key is not a valid P-256 point".into())),
    };
    let is_ca = match tbs.get::<BasicConstraints>() {
        Ok(found) => found.is_some_and(|(_, bc)| bc.ca),
        Err(e) => return Err(bad(format!("bad or repeated basicConstraints: {e}"))),
    };
    if !is_ca {
        return Err(MspError::NotACa {
            index,
            subject: tbs.subject.to_string(),
        });
    }
    require_ecdsa_sha256(&cert.signature_algorithm).map_err(|oid| {
        bad(format!(
            "it is signed with {}; only ecdsa-with-SHA256 is supported",
            x509::oid_text_label(&oid)
        ))
    })?;
    let serial = serial_hex(tbs.serial_number.as_bytes());
    Ok(ParsedCa {
        cert,
        signed,
        key,
        serial,
    })
}

/// For each CA, the index of the CA that signed it, or None for a self-signed
/// root. Fails unless every CA reaches a root.
fn chain_cas(cas: &[ParsedCa<'_>]) -> Result<Vec<Option<usize>>, MspError> {
    let mut parents = vec![None; cas.len()];
    for (i, ca) in cas.iter().enumerate() {
        let tbs = &ca.cert.tbs_certificate;
        let signature =
            ecdsa_signature(&ca.cert.signature).ok_or_else(|| MspError::BadCaCertificate {
                index: i,
                reason: "its signature is not a DER ECDSA signature".into(),
            })?;
        let self_named = tbs.issuer == tbs.subject;
        if self_named && verifies(&ca.key, ca.signed, &signature) {
            continue;
        }
        let parent = cas.iter().enumerate().position(|(j, other)| {
            j != i
                && other.cert.tbs_certificate.subject == tbs.issuer
                && verifies(&other.key, ca.signed, &signature)
        });
        parents[i] = match parent {
            Some(j) => Some(j),
            None if self_named => {
                return Err(MspError::BadCaCertificate {
                    index: i,
                    reason: "it is self-issued but its signature does not verify with its own key"
                        .into(),
                })
            }
            None => {
                return Err(MspError::IntermediateDoesNotChain {
                    index: i,
                    subject: tbs.subject.to_string(),
                    issuer: tbs.issuer.to_string(),
                })
            }
        };
    }
    // Cross-signed CAs could point at each other without reaching a root.
    for i in 0..cas.len() {
        let (mut cur, mut steps) = (i, 0);
        while let Some(p) = parents[cur] {
            cur = p;
            steps += 1;
            if steps > cas.len() {
                let tbs = &cas[i].cert.tbs_certificate;
                return Err(MspError::IntermediateDoesNotChain {
                    index: i,
                    subject: tbs.subject.to_string(),
                    issuer: tbs.issuer.to_string(),
                });
            }
        }
    }
    Ok(parents)
}

/// Parses and verifies one CRL: returns the index of the CA that signed it and the
/// serials it revokes.
fn read_crl(
    index: usize,
    pem: &str,
    cas: &[ParsedCa<'_>],
) -> Result<(usize, Vec<String>), MspError> {
    let bad = |reason: String| MspError::BadCrl { index, reason };
    let mut blocks = pem_blocks(pem, "X509 CRL").map_err(bad)?;
    if blocks.len() != 1 {
        return Err(bad(format!(
            "expected one -----BEGIN X509 CRL----- block, found {}",
            blocks.len()
        )));
    }
    let der = blocks.pop().unwrap_or_default();
    let crl = CertificateList::from_der(&der).map_err(|e| {
        if x509::is_v1_crl(&der) {
            bad(
                "it is a version 1 CRL, which is not supported; generate a v2 CRL (with \
                 `openssl ca -gencrl`, give the CA a crlnumber file)"
                    .into(),
            )
        } else {
            bad(format!("not a DER X.509 CRL: {e}"))
        }
    })?;
    let signed = signed_part(&der).map_err(|e| bad(format!("cannot locate TBSCertList: {e}")))?;
    require_ecdsa_sha256(&crl.signature_algorithm).map_err(|oid| {
        bad(format!(
            "it is signed with {}; only ecdsa-with-SHA256 is supported",
            x509::oid_text_label(&oid)
        ))
    })?;
    let issuer = &crl.tbs_cert_list.issuer;
    let mut named = cas
        .iter()
        .enumerate()
        .filter(|(_, ca)| &ca.cert.tbs_certificate.subject == issuer)
        .peekable();
    if named.peek().is_none() {
        return Err(MspError::CrlUnknownIssuer {
            index,
            issuer: issuer.to_string(),
        });
    }
    let signature = ecdsa_signature(&crl.signature);
    let (signer, _) = named
        .find(|(_, ca)| {
            signature
                .as_ref()
                .is_some_and(|s| verifies(&ca.key, signed, s))
        })
        .ok_or_else(|| MspError::CrlBadSignature {
            index,
            issuer: issuer.to_string(),
        })?;
    let serials = crl
        .tbs_cert_list
        .revoked_certificates
        .iter()
        .flatten()
        .map(|r| serial_hex(r.serial_number.as_bytes()))
        .collect();
    Ok((signer, serials))
}

/// The single role among the subject's OUs. Other OUs (departments, Fabric's
/// affiliation OUs) are allowed and ignored.
fn role_from_ous(subject: &Name) -> Result<Role, IdentityError> {
    let mut roles = name_values(subject, ORG_UNIT).filter_map(|ou| ou.parse::<Role>().ok());
    match (roles.next(), roles.next()) {
        (Some(role), None) => Ok(role),
        (None, _) => Err(IdentityError::NoRole {
            ous: name_values(subject, ORG_UNIT).map(str::to_string).collect(),
        }),
        (Some(_), Some(_)) => Err(IdentityError::AmbiguousRole {
            roles: name_values(subject, ORG_UNIT)
                .filter_map(|ou| ou.parse().ok())
                .collect(),
        }),
    }
}

/// Parses the Fabric CA attribute extension: raw JSON `{"attrs":{"k":"v",...}}`.
fn parse_attributes(json: &[u8]) -> Result<BTreeMap<String, String>, IdentityError> {
    #[derive(Deserialize)]
    struct Doc {
        attrs: BTreeMap<String, serde_json::Value>,
    }
    let bad = |reason: String| IdentityError::BadAttributes { reason };
    let doc: Doc = serde_json::from_slice(json).map_err(|e| bad(format!("not valid JSON: {e}")))?;
    doc.attrs
        .into_iter()
        .map(|(name, value)| match value {
            serde_json::Value::String(s) => Ok((name, s)),
            other => Err(bad(format!(
                "attribute {name:?} has the non-string value {other}; only strings are supported"
            ))),
        })
        .collect()
}

/// A channel's organisations, by MSP id.
#[derive(Debug, Clone, Default)]
pub struct MspSet {
    msps: BTreeMap<String, Msp>,
}

impl MspSet {
    /// Fails if two organisations share an MSP id.
    pub fn new(msps: Vec<Msp>) -> Result<MspSet, MspError> {
        let mut map = BTreeMap::new();
        for msp in msps {
            let id = msp.id.clone();
            if map.insert(id.clone(), msp).is_some() {
                return Err(MspError::DuplicateMspId { msp_id: id });
            }
        }
        Ok(MspSet { msps: map })
    }

    pub fn get(&self, msp_id: &str) -> Option<&Msp> {
        self.msps.get(msp_id)
    }

    /// The MSP ids, sorted.
    pub fn msp_ids(&self) -> impl Iterator<Item = &str> {
        self.msps.keys().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.msps.len()
    }

    pub fn is_empty(&self) -> bool {
        self.msps.is_empty()
    }

    /// Validates an identity as it travels in messages: its MSP must be one of
    /// this set, then [`Msp::validate`] applies.
    pub fn validate(
        &self,
        identity: &SerializedIdentity,
        now_unix: i64,
    ) -> Result<Identity, IdentityError> {
        self.get(&identity.msp_id)
            .ok_or_else(|| IdentityError::UnknownMsp {
                msp_id: identity.msp_id.clone(),
            })?
            .validate(&identity.cert, now_unix)
    }
}
