//! The crypto provider: the one door through which CellChain signs, verifies and
//! hashes (Fabric calls it the BCCSP).
//!
//! Every signature in the system is ECDSA over P-256 with SHA-256, DER-encoded, in
//! "low-S" form: of the two valid `s` values of a signature only the smaller is
//! accepted, so a third party cannot re-encode a signed transaction into a second
//! valid one (Fabric rejects high-S signatures for the same reason). Both providers
//! sign low-S and both refuse high-S on verification, so they agree on every input.
//!
//! Two implementations: [`P256Provider`] (the pure-Rust `p256` crate, portable) and
//! [`RingProvider`] (`ring`, assembly-optimised, about five times faster). Nodes use
//! [`default_provider`], which is `ring`.

mod p256_provider;
mod ring_provider;

pub use p256_provider::P256Provider;
pub use ring_provider::RingProvider;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::bytes::{sha256, Hash32};

/// A P-256 public key as its 65-byte SEC1 uncompressed point (`04 || X || Y`).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey(pub [u8; 65]);

impl PublicKey {
    /// Checks the encoding and that the point lies on the curve.
    pub fn from_sec1(bytes: &[u8]) -> Result<Self, CryptoError> {
        let arr: [u8; 65] = bytes.try_into().map_err(|_| CryptoError::BadPublicKey {
            reason: format!(
                "a P-256 public key has 65 bytes (uncompressed point), got {}",
                bytes.len()
            ),
        })?;
        p256::ecdsa::VerifyingKey::from_sec1_bytes(&arr).map_err(|_| {
            CryptoError::BadPublicKey {
                reason: "the point is not on the P-256 curve".into(),
            }
        })?;
        Ok(PublicKey(arr))
    }

    pub fn as_bytes(&self) -> &[u8; 65] {
        &self.0
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({}..)", hex::encode(&self.0[..9]))
    }
}

impl Serialize for PublicKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(self.0))
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let v = hex::decode(&s).map_err(serde::de::Error::custom)?;
        PublicKey::from_sec1(&v).map_err(serde::de::Error::custom)
    }
}

/// Why a signature could not be made or was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// The private key file is not a PKCS#8 P-256 key.
    #[error("not a PKCS#8 P-256 private key: {reason}")]
    BadPrivateKey { reason: String },
    /// The public key is not a valid P-256 point.
    #[error("invalid P-256 public key: {reason}")]
    BadPublicKey { reason: String },
    /// The signature bytes are not a DER-encoded ECDSA signature.
    #[error("malformed signature: not a DER-encoded ECDSA P-256 signature")]
    MalformedSignature,
    /// The signature is in high-S form; only low-S signatures are accepted.
    #[error("signature is not in low-S form (malleable encodings are refused)")]
    HighS,
    /// The signature does not match the message and key.
    #[error("signature verification failed")]
    BadSignature,
    /// The underlying library failed to sign.
    #[error("signing failed: {reason}")]
    SigningFailed { reason: String },
}

/// A private key loaded into a provider, ready to sign.
pub trait Signer: Send + Sync {
    /// Signs `msg` (hashed with SHA-256 inside) and returns a low-S DER signature.
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, CryptoError>;
    /// The matching public key.
    fn public_key(&self) -> PublicKey;
}

/// Sign, verify and hash: everything the nodes need from cryptography.
pub trait CryptoProvider: Send + Sync {
    /// A short name for logs and benchmarks ("ring", "p256").
    fn name(&self) -> &'static str;
    /// Loads a PKCS#8 (DER) P-256 private key.
    fn signer_from_pkcs8_der(&self, der: &[u8]) -> Result<Box<dyn Signer>, CryptoError>;
    /// Verifies a DER signature over `msg` (hashed with SHA-256 inside). Refuses
    /// high-S signatures.
    fn verify(&self, key: &PublicKey, msg: &[u8], signature: &[u8]) -> Result<(), CryptoError>;
    /// SHA-256.
    fn hash(&self, data: &[u8]) -> Hash32 {
        sha256(data)
    }
}

/// The provider nodes use on the hot path: `ring`.
pub fn default_provider() -> &'static dyn CryptoProvider {
    static RING: RingProvider = RingProvider;
    &RING
}

/// Loads a PKCS#8 private key from PEM text ("-----BEGIN PRIVATE KEY-----").
pub fn signer_from_pkcs8_pem(
    provider: &dyn CryptoProvider,
    pem_text: &str,
) -> Result<Box<dyn Signer>, CryptoError> {
    let (label, der) =
        der::pem::decode_vec(pem_text.as_bytes()).map_err(|e| CryptoError::BadPrivateKey {
            reason: format!("not PEM: {e}"),
        })?;
    if label != "PRIVATE KEY" {
        return Err(CryptoError::BadPrivateKey {
            reason: format!(
                "expected a PEM block labelled PRIVATE KEY (PKCS#8), found {label:?}; \
                 convert with `openssl pkcs8 -topk8 -nocrypt`"
            ),
        });
    }
    provider.signer_from_pkcs8_der(&der)
}

/// Parses a DER signature strictly and refuses high-S: the rule both providers share.
pub(crate) fn parse_low_s(signature: &[u8]) -> Result<p256::ecdsa::Signature, CryptoError> {
    let sig =
        p256::ecdsa::Signature::from_der(signature).map_err(|_| CryptoError::MalformedSignature)?;
    if sig.normalize_s().is_some() {
        return Err(CryptoError::HighS);
    }
    Ok(sig)
}

/// Rewrites a signature into low-S form (DER in, DER out).
pub(crate) fn to_low_s_der(signature: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let sig =
        p256::ecdsa::Signature::from_der(signature).map_err(|_| CryptoError::MalformedSignature)?;
    let sig = sig.normalize_s().unwrap_or(sig);
    Ok(sig.to_der().as_bytes().to_vec())
}

#[cfg(test)]
mod tests;

/// A fresh 24-byte nonce from the operating system's random source, for tx ids.
pub fn random_nonce() -> Vec<u8> {
    use rand_core::RngCore;
    let mut n = vec![0u8; 24];
    rand_core::OsRng.fill_bytes(&mut n);
    n
}
