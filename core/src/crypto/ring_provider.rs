//! The fast provider, on `ring`.

use ring::rand::SystemRandom;
use ring::signature::{
    EcdsaKeyPair, KeyPair, UnparsedPublicKey, ECDSA_P256_SHA256_ASN1,
    ECDSA_P256_SHA256_ASN1_SIGNING,
};

use super::{parse_low_s, to_low_s_der, CryptoError, CryptoProvider, PublicKey, Signer};

/// ECDSA P-256 through `ring` (random nonces, assembly field arithmetic).
#[derive(Debug, Default, Clone, Copy)]
pub struct RingProvider;

struct RingSigner {
    key: EcdsaKeyPair,
    rng: SystemRandom,
    public: PublicKey,
}

impl Signer for RingSigner {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let sig = self
            .key
            .sign(&self.rng, msg)
            .map_err(|_| CryptoError::SigningFailed {
                reason: "ring refused to sign".into(),
            })?;
        // ring does not normalise s; about half of its signatures need the flip.
        to_low_s_der(sig.as_ref())
    }

    fn public_key(&self) -> PublicKey {
        self.public
    }
}

impl CryptoProvider for RingProvider {
    fn name(&self) -> &'static str {
        "ring"
    }

    fn signer_from_pkcs8_der(&self, der: &[u8]) -> Result<Box<dyn Signer>, CryptoError> {
        let rng = SystemRandom::new();
        let key =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, der, &rng).map_err(|e| {
                CryptoError::BadPrivateKey {
                    reason: e.to_string(),
                }
            })?;
        let public = PublicKey::from_sec1(key.public_key().as_ref())?;
        Ok(Box::new(RingSigner { key, rng, public }))
    }

    fn verify(&self, key: &PublicKey, msg: &[u8], signature: &[u8]) -> Result<(), CryptoError> {
        parse_low_s(signature)?;
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, key.as_bytes())
            .verify(msg, signature)
            .map_err(|_| CryptoError::BadSignature)
    }
}
