use super::*;
use p256::pkcs8::EncodePrivateKey;

/// A key and signature made by `openssl genpkey` / `openssl dgst -sha256 -sign`.
/// openssl does not normalise s, and this signature happens to be high-S.
const OPENSSL_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgiqNXOTv4sLpF0wVw
qQ+YdIz/sml2XTrCP8NLzqS95QqhRANCAASRAtHaNOhMoKFijeL6teWgTXcbBIxM
juEA/WSjg/a7Aab5f7thv/LEyi2JsA5SZhDncLl4G4QOpVBcXnTc9v3d
-----END PRIVATE KEY-----
";
const OPENSSL_MSG: &[u8] = b"cellchain test vector";
const OPENSSL_SIG_HIGH_S: &str = "3046022100e29b78dec63d71fd94bfd7797c30e833dc024b3435bb0cb6ac2b1fab0e04fa7b022100cdeff11146a6766e11543d30c5f3b130dda49ac8f9ca2dc2ca2b4fce7a8ccf9e";

fn providers() -> Vec<Box<dyn CryptoProvider>> {
    vec![Box::new(P256Provider), Box::new(RingProvider)]
}

fn fresh_pkcs8() -> Vec<u8> {
    let key = p256::ecdsa::SigningKey::random(&mut rand_core::OsRng);
    key.to_pkcs8_der().unwrap().as_bytes().to_vec()
}

#[test]
fn each_provider_verifies_the_others_signatures() {
    let der = fresh_pkcs8();
    for signer_p in providers() {
        let signer = signer_p.signer_from_pkcs8_der(&der).unwrap();
        let sig = signer.sign(b"block 7").unwrap();
        for verifier in providers() {
            verifier
                .verify(&signer.public_key(), b"block 7", &sig)
                .unwrap_or_else(|e| panic!("{} -> {}: {e}", signer_p.name(), verifier.name()));
            assert_eq!(
                verifier.verify(&signer.public_key(), b"block 8", &sig),
                Err(CryptoError::BadSignature),
                "{} must refuse a signature over another message",
                verifier.name()
            );
        }
    }
}

#[test]
fn both_providers_derive_the_same_public_key() {
    let der = fresh_pkcs8();
    let a = P256Provider
        .signer_from_pkcs8_der(&der)
        .unwrap()
        .public_key();
    let b = RingProvider
        .signer_from_pkcs8_der(&der)
        .unwrap()
        .public_key();
    assert_eq!(a, b);
}

#[test]
fn signatures_are_always_low_s() {
    let der = fresh_pkcs8();
    for p in providers() {
        let signer = p.signer_from_pkcs8_der(&der).unwrap();
        for i in 0..64u32 {
            let sig = signer.sign(&i.to_be_bytes()).unwrap();
            parse_low_s(&sig).unwrap_or_else(|e| panic!("{}: {e}", p.name()));
        }
    }
}

#[test]
fn openssl_vector_high_s_refused_normalised_accepted() {
    let sig = hex::decode(OPENSSL_SIG_HIGH_S).unwrap();
    let low = to_low_s_der(&sig).unwrap();
    assert_ne!(low, sig);
    for p in providers() {
        let signer = signer_from_pkcs8_pem(p.as_ref(), OPENSSL_KEY).unwrap();
        let pk = signer.public_key();
        assert_eq!(
            p.verify(&pk, OPENSSL_MSG, &sig),
            Err(CryptoError::HighS),
            "{}",
            p.name()
        );
        p.verify(&pk, OPENSSL_MSG, &low).unwrap();
    }
}

#[test]
fn malformed_signature_is_a_typed_error() {
    let der = fresh_pkcs8();
    for p in providers() {
        let pk = p.signer_from_pkcs8_der(&der).unwrap().public_key();
        assert_eq!(
            p.verify(&pk, b"m", b"\x30\x02junk"),
            Err(CryptoError::MalformedSignature)
        );
        assert_eq!(
            p.verify(&pk, b"m", b""),
            Err(CryptoError::MalformedSignature)
        );
    }
}

#[test]
fn bad_private_keys_are_refused_with_a_reason() {
    for p in providers() {
        assert!(matches!(
            p.signer_from_pkcs8_der(b"not a key"),
            Err(CryptoError::BadPrivateKey { .. })
        ));
    }
    let e = signer_from_pkcs8_pem(
        &RingProvider,
        "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n",
    )
    .err()
    .unwrap();
    assert!(e.to_string().contains("PKCS#8"), "{e}");
}

#[test]
fn public_key_rejects_points_off_the_curve() {
    let mut bad = [0u8; 65];
    bad[0] = 4;
    bad[1] = 1;
    assert!(matches!(
        PublicKey::from_sec1(&bad),
        Err(CryptoError::BadPublicKey { .. })
    ));
    assert!(matches!(
        PublicKey::from_sec1(&[4u8; 33]),
        Err(CryptoError::BadPublicKey { .. })
    ));
}
