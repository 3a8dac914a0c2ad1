//! Why an organisation could not be set up ([`MspError`], a configuration
//! problem) and why a certificate is not an acceptable identity
//! ([`IdentityError`], a property of the certificate). One variant per rule.

use super::x509::{oid_text_label, utc};
use crate::identity::Role;

/// Why an [`Msp`](super::Msp) or [`MspSet`](super::MspSet) could not be built from
/// its CA certificates and revocation data. `index` counts certificates across all
/// CA PEM entries in the order given (an entry may hold several); for CRLs it is the
/// position in `crls_pem`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MspError {
    /// The MSP id is empty.
    #[error("the MSP id is empty: give every organisation a non-empty id such as Org1MSP")]
    EmptyMspId,
    /// No CA certificate at all: nothing could ever validate.
    #[error("MSP {msp_id:?} has no CA certificate: add the organisation's root CA (PEM)")]
    NoCaCertificates { msp_id: String },
    /// A CA entry is not PEM, not X.509, or fails a structural rule.
    #[error("CA certificate #{index} is unusable: {reason}")]
    BadCaCertificate { index: usize, reason: String },
    /// A CA's key is not EC P-256 (every signature in CellChain is P-256).
    #[error("CA certificate #{index} has a {found} key; CAs must use EC P-256 (prime256v1) keys")]
    CaNotP256 { index: usize, found: String },
    /// A certificate in the CA list lacks basicConstraints CA=true.
    #[error(
        "certificate #{index} ({subject}) is not a CA (basicConstraints CA=true is missing): \
         only CA certificates belong in an MSP's CA list"
    )]
    NotACa { index: usize, subject: String },
    /// An intermediate CA whose issuer is not in the list, or whose signature no CA
    /// of the list verifies (or which only chains in a loop).
    #[error(
        "intermediate CA #{index} ({subject}) does not chain to a root CA of this MSP: no CA \
         named {issuer:?} in the list verifies its signature; add its issuing CA up to a \
         self-signed root"
    )]
    IntermediateDoesNotChain {
        index: usize,
        subject: String,
        issuer: String,
    },
    /// An entry of `revoked_serials` is not hexadecimal.
    #[error("revoked serial {serial:?} is not hexadecimal (expected e.g. 1f3a or 1F:3A)")]
    BadRevokedSerial { serial: String },
    /// A CRL is not PEM/DER X.509 CRL, or uses an unsupported form.
    #[error("CRL #{index} is unusable: {reason}")]
    BadCrl { index: usize, reason: String },
    /// A CRL's issuer is not a CA of this MSP.
    #[error(
        "CRL #{index} is issued by {issuer:?}, which is not a CA of this MSP; a CRL must come \
         from one of the organisation's CAs"
    )]
    CrlUnknownIssuer { index: usize, issuer: String },
    /// A CRL names a CA of this MSP as issuer, but no such CA's key verifies it.
    #[error(
        "CRL #{index} claims issuer {issuer:?} but its signature does not verify with that \
         CA's key; regenerate it with the CA's own key"
    )]
    CrlBadSignature { index: usize, issuer: String },
    /// Two organisations of a channel share an MSP id.
    #[error("MSP id {msp_id:?} appears twice; every organisation needs its own MSP id")]
    DuplicateMspId { msp_id: String },
}

/// Why a certificate is not a valid identity of an organisation. Checks run in the
/// order of the variants below (after `UnknownMsp`) and the first failure is
/// returned; `Malformed` can also come from a later structural check (inner and
/// outer signature algorithms differ, an extension repeated or undecodable).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// The identity names an MSP that is not an organisation of the channel.
    #[error(
        "unknown MSP {msp_id:?}: no organisation of this channel has that MSP id; check the \
         identity's msp_id against the channel configuration"
    )]
    UnknownMsp { msp_id: String },
    /// Not PEM, not DER, not X.509, or internally inconsistent.
    #[error("malformed certificate: {reason}")]
    Malformed { reason: String },
    /// The subject key is not an EC P-256 key.
    #[error(
        "the certificate's key is {found}; identities need an EC P-256 (prime256v1) key: \
         reissue it with a key from `openssl ecparam -name prime256v1 -genkey`"
    )]
    NotP256Key { found: String },
    /// The issuer signed with an algorithm other than ecdsa-with-SHA256.
    #[error(
        "the certificate is signed with {}; only ecdsa-with-SHA256 is supported: have the CA \
         sign with SHA-256 (openssl -sha256)",
        oid_text_label(oid)
    )]
    UnsupportedSignatureAlgorithm { oid: String },
    /// No CA of the organisation has the issuer's name.
    #[error(
        "issuer {issuer:?} is not a CA of this organisation: use a certificate issued by one of \
         its CAs, or check the MSP id"
    )]
    UnknownIssuer { issuer: String },
    /// A CA with the issuer's name exists but its key does not verify the signature
    /// (another CA with the same name signed it, or the certificate was altered).
    #[error(
        "the signature does not verify with the key of CA {issuer:?}: the certificate was \
         signed by a different CA with the same name, or altered"
    )]
    BadSignature { issuer: String },
    /// The certificate's notBefore is in the future.
    #[error(
        "the certificate is not valid before {}, and the time checked is {}: wait, or check \
         the clocks",
        utc(*not_before), utc(*now)
    )]
    NotYetValid { not_before: i64, now: i64 },
    /// The certificate's notAfter has passed.
    #[error(
        "the certificate expired at {}, and the time checked is {}: renew it",
        utc(*not_after), utc(*now)
    )]
    Expired { not_after: i64, now: i64 },
    /// The issuing CA, or a CA above it, is outside its validity period.
    #[error(
        "issuing CA {issuer:?} is valid only from {} to {} (including the CAs above it), not at \
         {}: renew the CA",
        utc(*not_before), utc(*not_after), utc(*now)
    )]
    IssuerNotValid {
        issuer: String,
        not_before: i64,
        not_after: i64,
        now: i64,
    },
    /// The issuing CA, or a CA above it, is revoked.
    #[error(
        "CA {issuer:?} (serial {serial}) on this certificate's chain is revoked: reissue the \
         identity from a valid CA"
    )]
    IssuerRevoked { issuer: String, serial: String },
    /// The serial is revoked (explicit list or a CRL of the issuing CA).
    #[error("certificate serial {serial} is revoked: it can no longer act for its organisation")]
    Revoked { serial: String },
    /// A CA certificate was presented as a member identity.
    #[error(
        "{subject} is a CA certificate (basicConstraints CA=true): a CA issues identities but \
         cannot act as one; use a member certificate"
    )]
    IsCa { subject: String },
    /// A critical extension that CellChain does not process (RFC 5280 requires
    /// rejecting those).
    #[error(
        "the certificate has a critical extension {} that CellChain does not process; reissue it \
         without that extension or mark it non-critical",
        oid_text_label(oid)
    )]
    UnhandledCriticalExtension { oid: String },
    /// The subject has no common name, which names the signer on e-signatures.
    #[error("subject {subject:?} has no common name (CN): it names the signer, reissue with a CN")]
    NoCommonName { subject: String },
    /// No OU of the subject is a role.
    #[error(
        "no role: the subject's OUs are {ous:?}, but exactly one must be client, peer, admin or \
         orderer (lower case); reissue with e.g. OU=peer"
    )]
    NoRole { ous: Vec<String> },
    /// More than one OU of the subject is a role.
    #[error(
        "ambiguous role: the subject has role OUs {}, but exactly one of client, peer, admin, \
         orderer is allowed; reissue with a single role OU",
        join_roles(roles)
    )]
    AmbiguousRole { roles: Vec<Role> },
    /// The Fabric attribute extension is not `{"attrs":{...}}` with string values.
    #[error(
        "bad attribute extension (1.2.3.4.5.6.7.8.1): {reason}; expected raw JSON \
         {{\"attrs\":{{\"name\":\"value\",...}}}} with string values"
    )]
    BadAttributes { reason: String },
}

fn join_roles(roles: &[Role]) -> String {
    roles
        .iter()
        .map(Role::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}
