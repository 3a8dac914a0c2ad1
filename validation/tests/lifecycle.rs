//! Validation of `_lifecycle` transactions: who may approve for whom, whose
//! endorsements a commit needs, and what may be written in the namespace.

mod support;

use cellchain_core::bytes::sha256;
use cellchain_core::lifecycle::{
    approval_key, definition_key, encode_definition, ChaincodeDefinition, EndorsementPolicy,
    LIFECYCLE, LIFECYCLE_SEQUENCE, LIFECYCLE_VERSION,
};
use cellchain_core::protocol::{ChaincodeRef, KvWrite, TxRwSet, TxValidationCode as Code};
use support::*;

fn def(name: &str) -> ChaincodeDefinition {
    ChaincodeDefinition {
        name: name.into(),
        version: "2.0".into(),
        sequence: 2,
        wasm_hash: sha256(b"module"),
        endorsement_policy: EndorsementPolicy::Signature(
            "OR('Org1MSP.peer', 'Org2MSP.peer')".parse().unwrap(),
        ),
        collections: vec![],
    }
}

fn lifecycle_write(key: &str, value: Vec<u8>) -> TxRwSet {
    let mut n = ns(LIFECYCLE);
    n.writes.push(kv_write(key, &value));
    rwset(vec![n])
}

/// A `_lifecycle` transaction of `rwset`, by `creator`, endorsed by `endorsers`.
fn lifecycle_code(
    net: &Net,
    rwset: TxRwSet,
    creator: &TestMemberRef,
    endorsers: &[&TestMemberRef],
) -> Code {
    let mut tx = net.tx(rwset).creator(creator).endorsers(endorsers);
    tx.chaincode = ChaincodeRef {
        name: LIFECYCLE.into(),
        version: LIFECYCLE_VERSION.into(),
        sequence: LIFECYCLE_SEQUENCE,
    };
    net.validate(&MemState::at(5), vec![tx.envelope()]).codes[0]
}

type TestMemberRef = cellchain_core::testing::TestMember;

#[test]
fn an_admin_approves_for_its_own_organisation_with_its_own_peer() {
    let net = Net::new();
    let approve = lifecycle_write(
        &approval_key("cc", "Org1MSP"),
        encode_definition(&def("cc")),
    );
    assert_eq!(
        lifecycle_code(&net, approve.clone(), &net.admin1, &[&net.peer1]),
        Code::Valid
    );
    // The other organisation's peer does not speak for Org1.
    assert_eq!(
        lifecycle_code(&net, approve.clone(), &net.admin1, &[&net.peer2]),
        Code::EndorsementPolicyFailure
    );
    // An admin of Org2 cannot approve on Org1's behalf, nor can a client.
    assert_eq!(
        lifecycle_code(&net, approve.clone(), &net.admin2, &[&net.peer1]),
        Code::IllegalWriteset
    );
    assert_eq!(
        lifecycle_code(&net, approve, &net.client1, &[&net.peer1]),
        Code::IllegalWriteset
    );
}

#[test]
fn a_commit_needs_the_lifecycle_endorsement_policy() {
    let net = Net::new();
    let commit = lifecycle_write(&definition_key("cc"), encode_definition(&def("cc")));
    // MAJORITY Endorsement of two organisations is both.
    assert_eq!(
        lifecycle_code(&net, commit.clone(), &net.admin1, &[&net.peer1]),
        Code::EndorsementPolicyFailure
    );
    assert_eq!(
        lifecycle_code(&net, commit, &net.admin1, &[&net.peer1, &net.peer2]),
        Code::Valid
    );
}

#[test]
fn only_well_formed_definitions_may_be_written_in_the_lifecycle_namespace() {
    let net = Net::new();
    let both = [&net.peer1, &net.peer2];
    let cases: Vec<(&str, TxRwSet)> = vec![
        (
            "garbage value",
            lifecycle_write(&definition_key("cc"), b"{".to_vec()),
        ),
        (
            "definition of another chaincode",
            lifecycle_write(&definition_key("cc"), encode_definition(&def("other"))),
        ),
        (
            "unknown key",
            lifecycle_write("anything/else", encode_definition(&def("cc"))),
        ),
        ("delete", {
            let mut n = ns(LIFECYCLE);
            n.writes.push(KvWrite {
                key: definition_key("cc"),
                is_delete: true,
                value: Default::default(),
            });
            rwset(vec![n])
        }),
        ("metadata", {
            let mut n = ns(LIFECYCLE);
            n.metadata_writes
                .push(set_policy(&definition_key("cc"), "'Org1MSP.peer'"));
            rwset(vec![n])
        }),
    ];
    for (what, rw) in cases {
        assert_eq!(
            lifecycle_code(&net, rw, &net.admin1, &both),
            Code::IllegalWriteset,
            "{what}"
        );
    }
}

#[test]
fn a_contract_cannot_write_the_lifecycle_namespace_and_lifecycle_runs_only_as_builtin() {
    let net = Net::new();
    // Chaincode `cc` writing into `_lifecycle`.
    let rw = lifecycle_write(&definition_key("cc"), encode_definition(&def("cc")));
    let tx = net.tx(rw.clone()).creator(&net.admin1);
    assert_eq!(
        net.validate(&MemState::at(5), vec![tx.envelope()]).codes,
        [Code::IllegalWriteset]
    );
    // `_lifecycle` endorsed under another version.
    let mut tx = net.tx(rw).creator(&net.admin1);
    tx.chaincode = ChaincodeRef {
        name: LIFECYCLE.into(),
        version: "9".into(),
        sequence: LIFECYCLE_SEQUENCE,
    };
    assert_eq!(
        net.validate(&MemState::at(5), vec![tx.envelope()]).codes,
        [Code::ChaincodeVersionConflict]
    );
}
