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
}

criterion_group!(benches, bench);
criterion_main!(benches);
