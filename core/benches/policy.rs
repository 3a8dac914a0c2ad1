//! Policy parsing and evaluation: the committer evaluates the endorsement policy
//! of every transaction in a block, so evaluation is on the hot path.
//!
//! Run: `cargo bench -p cellchain-core --bench policy -- --warm-up-time 1 --measurement-time 3`

use cellchain_core::identity::Role;
use cellchain_core::policy::{SignaturePolicy, SignerRef};
use criterion::{black_box, criterion_group, criterion_main, Criterion};

/// A realistic endorsement policy: two manufacturers' peers, or a majority of
/// the three hospitals' peers together with the regulator's admin.
const REALISTIC: &str = "OR(AND('Manufacturer1MSP.peer', 'Manufacturer2MSP.peer'), \
     AND(OutOf(2, 'Hospital1MSP.peer', 'Hospital2MSP.peer', 'Hospital3MSP.peer'), 'RegulatorMSP.admin'))";

const THREE_OF_FIVE: &str = "OutOf(3, 'A.peer', 'B.peer', 'C.peer', 'D.peer', 'E.peer')";

fn peers(orgs: &[&'static str]) -> Vec<SignerRef<'static>> {
    orgs.iter().map(|o| SignerRef::new(o, Role::Peer)).collect()
}

fn bench_parse(c: &mut Criterion) {
    c.bench_function("policy/parse realistic", |b| {
        b.iter(|| SignaturePolicy::parse(black_box(REALISTIC)).unwrap())
    });
    c.bench_function("policy/parse 3-of-5", |b| {
        b.iter(|| SignaturePolicy::parse(black_box(THREE_OF_FIVE)).unwrap())
    });
}

fn bench_evaluate(c: &mut Criterion) {
    let policy = SignaturePolicy::parse(THREE_OF_FIVE).unwrap();
    let cases = [
        (
            "3-of-5, 3 signers (satisfied)",
            peers(&["A", "C", "E"]),
            true,
        ),
        (
            "3-of-5, 5 signers (satisfied)",
            peers(&["A", "B", "C", "D", "E"]),
            true,
        ),
        ("3-of-5, 2 signers (fails)", peers(&["B", "D"]), false),
    ];
    for (name, signers, expected) in &cases {
        assert_eq!(policy.evaluate(signers), *expected, "{name}");
        c.bench_function(&format!("policy/evaluate {name}"), |b| {
            b.iter(|| policy.evaluate(black_box(signers)))
        });
    }

    let realistic = SignaturePolicy::parse(REALISTIC).unwrap();
    let signers = vec![
        SignerRef::new("Hospital1MSP", Role::Peer),
        SignerRef::new("Hospital3MSP", Role::Peer),
        SignerRef::new("RegulatorMSP", Role::Admin),
    ];
    assert!(realistic.evaluate(&signers));
    c.bench_function("policy/evaluate realistic (satisfied)", |b| {
        b.iter(|| realistic.evaluate(black_box(&signers)))
    });

    // Organisations shared between branches, so demands carry coordinates.
    let shared = SignaturePolicy::parse(
        "AND(OR('A.member', 'B.peer'), OR('A.peer', 'B.member'), OutOf(2, 'A.admin', 'B.admin', 'C.peer'))",
    )
    .unwrap();
    let signers = vec![
        SignerRef::new("A", Role::Peer),
        SignerRef::new("B", Role::Peer),
        SignerRef::new("A", Role::Admin),
        SignerRef::new("C", Role::Peer),
    ];
    assert!(shared.evaluate(&signers));
    c.bench_function("policy/evaluate shared orgs (satisfied)", |b| {
        b.iter(|| shared.evaluate(black_box(&signers)))
    });
}

criterion_group!(benches, bench_parse, bench_evaluate);
criterion_main!(benches);
