//! Sign and verify with both crypto providers (the figures in docs/PERFORMANCE.md).
//!
//! cargo bench -p cellchain-core --bench crypto

use cellchain_core::crypto::{CryptoProvider, P256Provider, RingProvider};
use criterion::{criterion_group, criterion_main, Criterion};
use p256::pkcs8::EncodePrivateKey;

fn bench(c: &mut Criterion) {
    let key = p256::ecdsa::SigningKey::random(&mut rand_core::OsRng);
    let der = key.to_pkcs8_der().unwrap().as_bytes().to_vec();
    // A typical proposal response payload is a few hundred bytes to a few KB.
    let msg = vec![0x5au8; 1024];
    let providers: [&dyn CryptoProvider; 2] = [&P256Provider, &RingProvider];
    for p in providers {
        let signer = p.signer_from_pkcs8_der(&der).unwrap();
        let sig = signer.sign(&msg).unwrap();
        let pk = signer.public_key();
        c.bench_function(&format!("{}/sign_1KiB", p.name()), |b| {
            b.iter(|| signer.sign(&msg).unwrap())
        });
        c.bench_function(&format!("{}/verify_1KiB", p.name()), |b| {
            b.iter(|| p.verify(&pk, &msg, &sig).unwrap())
        });
    }
    c.bench_function("sha256_1KiB", |b| {
        b.iter(|| cellchain_core::bytes::sha256(&msg))
    });
    bench_identity(c);
}

/// Validating a certificate against its organisation's CA: parse, chain signature
/// (p256), validity, revocation, role. Nodes pay this once per new certificate.
fn bench_identity(c: &mut Criterion) {
    use cellchain_core::identity::{Msp, Revocation};
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};

    let ca_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name.push(DnType::CommonName, "ca.bench");
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = p.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name.push(DnType::CommonName, "peer0");
    p.distinguished_name
        .push(DnType::OrganizationalUnitName, "peer");
    let leaf = p.signed_by(&key, &ca, &ca_key).unwrap().pem();
    let msp = Msp::new("BenchMSP", &[ca.pem()], &Revocation::default()).unwrap();
    let now = 1_800_000_000;
    c.bench_function("msp/validate_pem", |b| {
        b.iter(|| msp.validate(&leaf, now).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
