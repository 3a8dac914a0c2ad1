//! The portable provider, on the pure-Rust `p256` crate.

use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::pkcs8::DecodePrivateKey;

use super::{parse_low_s, CryptoError, CryptoProvider, PublicKey, Signer};

/// ECDSA P-256 through the RustCrypto `p256` crate (RFC 6979 deterministic nonces).
#[derive(Debug, Default, Clone, Copy)]
pub struct P256Provider;

struct P256Signer {
    key: SigningKey,
    public: PublicKey,
}

impl Signer for P256Signer {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let sig: Signature = self
            .key
            .try_sign(msg)
            .map_err(|e| CryptoError::SigningFailed {
                reason: e.to_string(),
            })?;
        let sig = sig.normalize_s().unwrap_or(sig);
        Ok(sig.to_der().as_bytes().to_vec())
    }

    fn public_key(&self) -> PublicKey {
        self.public
    }
}

impl CryptoProvider for P256Provider {
    fn name(&self) -> &'static str {
        "p256"
    }

    fn signer_from_pkcs8_der(&self, der: &[u8]) -> Result<Box<dyn Signer>, CryptoError> {
        let key = SigningKey::from_pkcs8_der(der).map_err(|e| CryptoError::BadPrivateKey {
            reason: e.to_string(),
        })?;
        let point = key.verifying_key().to_encoded_point(false);
        let public = PublicKey::from_sec1(point.as_bytes())?;
        Ok(Box::new(P256Signer { key, public }))
    }

    fn verify(&self, key: &PublicKey, msg: &[u8], signature: &[u8]) -> Result<(), CryptoError> {
        let sig = parse_low_s(signature)?;
        let vk = VerifyingKey::from_sec1_bytes(key.as_bytes()).map_err(|_| {
            CryptoError::BadPublicKey {
                reason: "not on the curve".into(),
            }
        })?;
        vk.verify(msg, &sig).map_err(|_| CryptoError::BadSignature)
    }
}
