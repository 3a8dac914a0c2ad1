//! One test per validation rule, over real certificates and signed envelopes.

mod support;

use std::collections::BTreeMap;

use cellchain_core::bytes::{sha256, Bytes, Hash32};
use cellchain_core::policy::SignaturePolicy;
use cellchain_core::protocol::{
    decode, encode, CollectionHashedRwSet, ConfigTransaction, Envelope, KvReadHash, KvWrite,
    NsRwSet, Payload, PayloadData, ProposalResponsePayload, TxId, TxValidationCode as Code,
};
use cellchain_validation::{
    commit_hash, EndorsementPolicy, HashedWrite, MetadataWrite, StateWrite, TxOutcome, UpdateBatch,
    Validator,
};
use support::*;

fn codes(net: &Net, state: &MemState, envelopes: Vec<Envelope>) -> Vec<Code> {
    net.validate(state, envelopes).codes
}

fn endorser_tx(p: &mut Payload) -> &mut cellchain_core::protocol::EndorserTransaction {
    match &mut p.data {
        PayloadData::Endorser(e) => e,
        PayloadData::Config(_) => unreachable!(),
    }
}

// ---- well-formedness, channel, tx id, creator ----

#[test]
fn endorsed_transaction_is_valid() {
    let net = Net::new();
    let out = net.validate(&MemState::at(3), vec![net.tx(write("k", b"v")).envelope()]);
    assert_eq!(out.codes, [Code::Valid]);
}

#[test]
fn nil_envelope_and_unparseable_payload_are_refused() {
    let net = Net::new();
    let garbage = Envelope {
        payload: Bytes(b"not json".to_vec()),
        signature: Bytes(vec![1, 2, 3]),
    };
    let empty = Envelope {
        payload: Bytes::default(),
        signature: Bytes::default(),
    };
    let out = net.validate(&MemState::at(1), vec![garbage, empty]);
    assert_eq!(out.codes, [Code::BadPayload, Code::NilEnvelope]);
    assert!(out.updates.transactions.is_empty());
}

#[test]
fn transaction_for_another_channel_is_target_chain_not_found() {
    let net = Net::new();
    let mut tx = net.tx(write("k", b"v"));
    tx.channel = "elsewhere".into();
    assert_eq!(
        codes(&net, &MemState::at(1), vec![tx.envelope()]),
        [Code::TargetChainNotFound]
    );
}

#[test]
fn tx_id_not_derived_from_nonce_and_creator_is_bad_proposal_txid() {
    let net = Net::new();
    let tx = net.tx(write("k", b"v"));
    let mut p = tx.payload();
    p.header.tx_id = TxId(sha256(b"someone else's"));
    let env = Envelope::sign(&p, net.client1.signer.as_ref()).unwrap();
    let out = net.validate(&MemState::at(1), vec![env]);
    assert_eq!(out.codes, [Code::BadProposalTxid]);
    assert!(
        out.updates.transactions.is_empty(),
        "an unauthenticated tx id is not recorded"
    );
}

#[test]
fn forged_creator_signature_is_bad_creator_signature() {
    let net = Net::new();
    let tx = net.tx(write("k", b"v"));
    // Signed by someone else's key under client1's certificate.
    let env = Envelope::sign(&tx.payload(), net.peer1.signer.as_ref()).unwrap();
    let out = net.validate(&MemState::at(1), vec![env]);
    assert_eq!(out.codes, [Code::BadCreatorSignature]);
    assert!(out.updates.transactions.is_empty());
}

#[test]
fn creator_from_unknown_ca_is_bad_creator_signature() {
    let net = Net::new();
    let rogue = cellchain_core::testing::TestCa::new("Rogue");
    let mallory = rogue.member("Org1MSP", "mallory", "client");
    let tx = net.tx(write("k", b"v")).creator(&mallory);
    assert_eq!(
        codes(&net, &MemState::at(1), vec![tx.envelope()]),
        [Code::BadCreatorSignature]
    );
}

#[test]
fn creator_certificate_is_judged_at_the_transaction_time() {
    let net = Net::new();
    let expired = net.org1.member_until("Org1MSP", "old", "client", NOW - 10);
    let expiring = net.org1.member_until("Org1MSP", "late", "client", NOW + 10);
    let a = net.tx(write("a", b"v")).creator(&expired).envelope();
    let b = net.tx(write("b", b"v")).creator(&expiring).envelope();
    assert_eq!(
        codes(&net, &MemState::at(1), vec![a, b]),
        [Code::BadCreatorSignature, Code::Valid]
    );
}

#[test]
fn duplicate_within_block_is_duplicate_txid_and_recorded_once() {
    let net = Net::new();
    let env = net.tx(write("k", b"v")).envelope();
    let out = net.validate(&MemState::at(1), vec![env.clone(), env]);
    assert_eq!(out.codes, [Code::Valid, Code::DuplicateTxid]);
    assert_eq!(out.updates.transactions.len(), 1);
    assert_eq!(out.updates.writes.len(), 1);
}

#[test]
fn forged_copy_of_a_tx_id_does_not_make_the_real_one_a_duplicate() {
    let net = Net::new();
    let tx = net.tx(write("k", b"v"));
    let forged = Envelope::sign(&tx.payload(), net.peer1.signer.as_ref()).unwrap();
    assert_eq!(
        codes(&net, &MemState::at(1), vec![forged, tx.envelope()]),
        [Code::BadCreatorSignature, Code::Valid]
    );
}

#[test]
fn duplicate_of_committed_transaction_is_duplicate_txid() {
    let net = Net::new();
    let tx = net.tx(write("k", b"v"));
    let mut state = MemState::at(2);
    state.committed.insert(tx.tx_id());
    let out = net.validate(&state, vec![tx.envelope()]);
    assert_eq!(out.codes, [Code::DuplicateTxid]);
    assert!(out.updates.transactions.is_empty());
}

#[test]
fn config_transaction_in_a_normal_block_is_unsupported() {
    let net = Net::new();
    let tx = net.tx(write("k", b"v"));
    let p = Payload {
        header: tx.header(),
        data: PayloadData::Config(ConfigTransaction {
            config: encode(&net.channel),
            signatures: vec![],
        }),
    };
    let env = Envelope::sign(&p, net.client1.signer.as_ref()).unwrap();
    assert_eq!(
        codes(&net, &MemState::at(1), vec![env]),
        [Code::UnsupportedTxPayload]
    );
}

// ---- the endorser transaction ----

#[test]
fn proposal_header_differing_from_payload_header_is_invalid_endorser_transaction() {
    let net = Net::new();
    let a = net.tx(write("k", b"v"));
    let b = net.tx(write("k", b"v"));
    // b's header around a's proposal and response.
    let mut p = a.payload();
    p.header = b.header();
    let env = Envelope::sign(&p, net.client1.signer.as_ref()).unwrap();
    assert_eq!(
        codes(&net, &MemState::at(1), vec![env]),
        [Code::InvalidEndorserTransaction]
    );
}

#[test]
fn response_for_another_proposal_is_bad_response_payload() {
    let net = Net::new();
    let a = net.tx(write("k", b"v"));
    let mut p = a.payload();
    // Same header, but the proposal bytes re-encoded with another function.
    let etx = endorser_tx(&mut p);
    let mut proposal: cellchain_core::protocol::Proposal =
        decode("proposal", &etx.proposal).unwrap();
    proposal.function = "g".into();
    etx.proposal = encode(&proposal);
    let env = Envelope::sign(&p, net.client1.signer.as_ref()).unwrap();
    assert_eq!(
        codes(&net, &MemState::at(1), vec![env]),
        [Code::BadResponsePayload]
    );
}

#[test]
fn failed_chaincode_response_is_invalid_endorser_transaction() {
    let net = Net::new();
    let mut tx = net.tx(write("k", b"v"));
    tx.status = 500;
    assert_eq!(
        codes(&net, &MemState::at(1), vec![tx.envelope()]),
        [Code::InvalidEndorserTransaction]
    );
}

#[test]
fn undefined_chaincode_is_invalid_chaincode() {
    let net = Net::new();
    let mut tx = net.tx(rwset(vec![NsRwSet {
        writes: vec![kv_write("k", b"v")],
        ..ns("nope")
    }]));
    tx.chaincode.name = "nope".into();
    assert_eq!(
        codes(&net, &MemState::at(1), vec![tx.envelope()]),
        [Code::InvalidChaincode]
    );
}

#[test]
fn stale_version_or_sequence_is_chaincode_version_conflict() {
    let net = Net::new();
    let mut old_version = net.tx(write("a", b"v"));
    old_version.chaincode.version = "0.9".into();
    let mut old_sequence = net.tx(write("b", b"v"));
    old_sequence.chaincode.sequence = 0;
    assert_eq!(
        codes(
            &net,
            &MemState::at(1),
            vec![old_version.envelope(), old_sequence.envelope()]
        ),
        [
            Code::ChaincodeVersionConflict,
            Code::ChaincodeVersionConflict
        ]
    );
}

#[test]
fn write_into_another_namespace_is_illegal_writeset() {
    let net = Net::new();
    let tx = net.tx(rwset(vec![
        NsRwSet {
            writes: vec![kv_write("k", b"v")],
            ..ns(CC)
        },
        NsRwSet {
            writes: vec![kv_write("theirs", b"v")],
            ..ns("other")
        },
    ]));
    assert_eq!(
        codes(&net, &MemState::at(1), vec![tx.envelope()]),
        [Code::IllegalWriteset]
    );
}

#[test]
fn cross_contract_read_is_allowed_and_checked() {
    let net = Net::new();
    let mut state = MemState::at(4);
    state.put("other", "summary", v(2, 0));
    let read = |version| {
        net.tx(rwset(vec![
            NsRwSet {
                writes: vec![kv_write("k", b"v")],
                ..ns(CC)
            },
            NsRwSet {
                reads: vec![kv_read("summary", Some(version))],
                ..ns("other")
            },
        ]))
        .envelope()
    };
    assert_eq!(
        codes(&net, &state, vec![read(v(2, 0)), read(v(1, 0))]),
        [Code::Valid, Code::MvccReadConflict]
    );
}

#[test]
fn repeated_namespace_and_repeated_key_are_refused() {
    let net = Net::new();
    let twice_ns = net.tx(rwset(vec![ns(CC), ns(CC)]));
    let twice_key = net.tx(rwset(vec![NsRwSet {
        writes: vec![kv_write("k", b"1"), kv_write("k", b"2")],
        ..ns(CC)
    }]));
    assert_eq!(
        codes(
            &net,
            &MemState::at(1),
            vec![twice_ns.envelope(), twice_key.envelope()]
        ),
        [Code::BadRwset, Code::InvalidWriteset]
    );
}

// ---- endorsements and the chaincode policy ----

#[test]
fn one_endorser_for_an_and_policy_is_endorsement_policy_failure() {
    let net = Net::new();
    let tx = net.tx(write("k", b"v")).endorsers(&[&net.peer1]);
    assert_eq!(
        codes(&net, &MemState::at(1), vec![tx.envelope()]),
        [Code::EndorsementPolicyFailure]
    );
}

#[test]
fn same_endorser_twice_counts_once() {
    let net = Net::new();
    let tx = net
        .tx(write("k", b"v"))
        .endorsers(&[&net.peer1, &net.peer1]);
    let or_two_org1 = MemDefinitions::with_policy(EndorsementPolicy::Signature(
        SignaturePolicy::parse("OutOf(2, 'Org1MSP.peer', 'Org1MSP.peer')").unwrap(),
    ));
    let out = net.validate_with(&MemState::at(1), &or_two_org1, vec![tx.envelope()], 1);
    assert_eq!(out.codes, [Code::EndorsementPolicyFailure]);
    let tx = net
        .tx(write("k", b"v"))
        .endorsers(&[&net.peer1, &net.peer1b]);
    let out = net.validate_with(&MemState::at(1), &or_two_org1, vec![tx.envelope()], 1);
    assert_eq!(out.codes, [Code::Valid]);
}

#[test]
fn write_set_tampered_after_endorsement_fails_the_policy() {
    let net = Net::new();
    let tx = net.tx(write("k", b"v"));
    let mut p = tx.payload();
    let etx = endorser_tx(&mut p);
    let mut rp: ProposalResponsePayload =
        decode("proposal response payload", &etx.response_payload).unwrap();
    rp.rwset.ns_rwsets[0].writes[0].value = Bytes(b"stolen".to_vec());
    etx.response_payload = encode(&rp);
    // The creator signs the tampered transaction: only the endorsements break.
    let env = Envelope::sign(&p, net.client1.signer.as_ref()).unwrap();
    assert_eq!(
        codes(&net, &MemState::at(1), vec![env]),
        [Code::EndorsementPolicyFailure]
    );
}

#[test]
fn bad_endorsement_counts_as_missing_not_as_fatal() {
    let net = Net::new();
    let tx = net.tx(write("k", b"v"));
    let mut p = tx.payload();
    let etx = endorser_tx(&mut p);
    let mut bad = etx.endorsements[0].clone();
    bad.signature = etx.endorsements[1].signature.clone();
    etx.endorsements.push(bad);
    let extra = Envelope::sign(&p, net.client1.signer.as_ref()).unwrap();
    // Only the bad one from Org1: missing Org1.
    let mut p = net.tx(write("k2", b"v")).payload();
    let etx = endorser_tx(&mut p);
    etx.endorsements[0].signature = etx.endorsements[1].signature.clone();
    let only_bad = Envelope::sign(&p, net.client1.signer.as_ref()).unwrap();
    assert_eq!(
        codes(&net, &MemState::at(1), vec![extra, only_bad]),
        [Code::Valid, Code::EndorsementPolicyFailure]
    );
}

#[test]
fn endorser_that_is_not_a_peer_does_not_count() {
    let net = Net::new();
    let tx = net
        .tx(write("k", b"v"))
        .endorsers(&[&net.client1, &net.peer2]);
    assert_eq!(
        codes(&net, &MemState::at(1), vec![tx.envelope()]),
        [Code::EndorsementPolicyFailure]
    );
}

#[test]
fn channel_endorsement_policy_is_evaluated_by_name() {
    let net = Net::new();
    // MAJORITY Endorsement of two organisations: both.
    let defs = MemDefinitions::with_policy(EndorsementPolicy::Channel("Endorsement".into()));
    let both = net.tx(write("a", b"v")).envelope();
    let one = net.tx(write("b", b"v")).endorsers(&[&net.peer2]).envelope();
    let out = net.validate_with(&MemState::at(1), &defs, vec![both, one], 1);
    assert_eq!(out.codes, [Code::Valid, Code::EndorsementPolicyFailure]);
    let unknown = MemDefinitions::with_policy(EndorsementPolicy::Channel("NoSuch".into()));
    let out = net.validate_with(
        &MemState::at(1),
        &unknown,
        vec![net.tx(write("c", b"v")).envelope()],
        1,
    );
    assert_eq!(out.codes, [Code::EndorsementPolicyFailure]);
}

#[test]
fn read_only_transaction_needs_the_chaincode_policy() {
    let net = Net::new();
    let query = || {
        rwset(vec![NsRwSet {
            reads: vec![kv_read("k", None)],
            ..ns(CC)
        }])
    };
    let out = net.validate(
        &MemState::at(1),
        vec![
            net.tx(query()).envelope(),
            net.tx(query()).endorsers(&[&net.peer1]).envelope(),
        ],
    );
    assert_eq!(out.codes, [Code::Valid, Code::EndorsementPolicyFailure]);
}

// ---- key-level (state-based) endorsement ----

#[test]
fn key_level_policy_overrides_the_chaincode_policy() {
    let net = Net::new();
    let mut state = MemState::at(5);
    state.set_policy(CC, "k", "'Org1MSP.peer'");
    let by_org1 = net.tx(write("k", b"1")).endorsers(&[&net.peer1]);
    let by_org2 = net.tx(write("k", b"2")).endorsers(&[&net.peer2]);
    // A second key without a key-level policy brings the chaincode policy back.
    let mixed = net
        .tx(rwset(vec![NsRwSet {
            writes: vec![kv_write("k", b"3"), kv_write("free", b"3")],
            ..ns(CC)
        }]))
        .endorsers(&[&net.peer1]);
    assert_eq!(
        codes(
            &net,
            &state,
            vec![by_org1.envelope(), by_org2.envelope(), mixed.envelope()]
        ),
        [
            Code::Valid,
            Code::EndorsementPolicyFailure,
            Code::EndorsementPolicyFailure
        ]
    );
}

#[test]
fn setting_a_key_level_policy_must_satisfy_the_one_in_force() {
    let net = Net::new();
    let mut state = MemState::at(5);
    state.set_policy(CC, "guarded", "'Org2MSP.peer'");
    let meta = |key: &str, policy: &str| {
        rwset(vec![NsRwSet {
            metadata_writes: vec![set_policy(key, policy)],
            ..ns(CC)
        }])
    };
    // Org1 alone may not take over a key guarded by Org2 ...
    let takeover = net
        .tx(meta("guarded", "'Org1MSP.peer'"))
        .endorsers(&[&net.peer1]);
    // ... Org2 may hand it over ...
    let handover = net
        .tx(meta("guarded", "'Org1MSP.peer'"))
        .endorsers(&[&net.peer2]);
    // ... and guarding a fresh key needs the chaincode policy.
    let fresh_one = net
        .tx(meta("fresh", "'Org1MSP.peer'"))
        .endorsers(&[&net.peer1]);
    let fresh_both = net.tx(meta("fresh2", "'Org1MSP.peer'"));
    let bad_policy = net.tx(meta("fresh3", "AND("));
    let out = net.validate(
        &state,
        vec![
            takeover.envelope(),
            handover.envelope(),
            fresh_one.envelope(),
            fresh_both.envelope(),
            bad_policy.envelope(),
        ],
    );
    assert_eq!(
        out.codes,
        [
            Code::EndorsementPolicyFailure,
            Code::Valid,
            Code::EndorsementPolicyFailure,
            Code::Valid,
            Code::InvalidWriteset
        ]
    );
}

#[test]
fn key_level_policy_set_earlier_in_the_block_applies_to_a_later_transaction() {
    let net = Net::new();
    let state = MemState::at(5);
    let guard = net.tx(rwset(vec![NsRwSet {
        metadata_writes: vec![set_policy("k", "'Org2MSP.peer'")],
        ..ns(CC)
    }]));
    // Endorsed by both organisations: passes the chaincode policy in force when
    // endorsed, but the key now needs Org2 only, which it has.
    let org2_only = net.tx(write("k", b"v")).endorsers(&[&net.peer2]);
    assert_eq!(
        codes(&net, &state, vec![org2_only.envelope()]),
        [Code::EndorsementPolicyFailure],
        "without the guard, the chaincode policy applies"
    );
    let org2_only = net.tx(write("k", b"v")).endorsers(&[&net.peer2]);
    let org1_only = net.tx(write("k", b"w")).endorsers(&[&net.peer1]);
    assert_eq!(
        codes(
            &net,
            &state,
            vec![guard.envelope(), org2_only.envelope(), org1_only.envelope()]
        ),
        [Code::Valid, Code::Valid, Code::EndorsementPolicyFailure]
    );
}

#[test]
fn key_level_policy_replaced_earlier_in_the_block_no_longer_admits() {
    let net = Net::new();
    let mut state = MemState::at(5);
    state.set_policy(CC, "k", "'Org1MSP.peer'");
    let handover = net
        .tx(rwset(vec![NsRwSet {
            metadata_writes: vec![set_policy("k", "'Org2MSP.peer'")],
            ..ns(CC)
        }]))
        .endorsers(&[&net.peer1]);
    let org1_write = net.tx(write("k", b"v")).endorsers(&[&net.peer1]);
    assert_eq!(
        codes(
            &net,
            &state,
            vec![handover.envelope(), org1_write.envelope()]
        ),
        [Code::Valid, Code::EndorsementPolicyFailure]
    );
}

#[test]
fn delete_removes_the_key_level_policy_for_later_transactions() {
    let net = Net::new();
    let mut state = MemState::at(5);
    state.put(CC, "k", v(1, 0));
    state.set_policy(CC, "k", "'Org1MSP.peer'");
    let delete = net
        .tx(rwset(vec![NsRwSet {
            writes: vec![KvWrite {
                key: "k".into(),
                is_delete: true,
                value: Bytes::default(),
            }],
            ..ns(CC)
        }]))
        .endorsers(&[&net.peer1]);
    // After the delete the chaincode policy (both) applies again.
    let org1_again = net.tx(write("k", b"v")).endorsers(&[&net.peer1]);
    assert_eq!(
        codes(&net, &state, vec![delete.envelope(), org1_again.envelope()]),
        [Code::Valid, Code::EndorsementPolicyFailure]
    );
}

// ---- MVCC and phantoms ----

#[test]
fn mvcc_conflict_within_block() {
    let net = Net::new();
    let mut state = MemState::at(7);
    state.put(CC, "k", v(3, 1));
    let rw = || {
        rwset(vec![NsRwSet {
            reads: vec![kv_read("k", Some(v(3, 1)))],
            writes: vec![kv_write("k", b"new")],
            ..ns(CC)
        }])
    };
    let out = net.validate(
        &state,
        vec![net.tx(rw()).envelope(), net.tx(rw()).envelope()],
    );
    assert_eq!(out.codes, [Code::Valid, Code::MvccReadConflict]);
    assert_eq!(out.updates.writes.len(), 1);
}

#[test]
fn read_of_a_key_updated_in_committed_state_is_mvcc_conflict() {
    let net = Net::new();
    let mut state = MemState::at(7);
    state.put(CC, "k", v(6, 0));
    let stale = net.tx(rwset(vec![NsRwSet {
        reads: vec![kv_read("k", Some(v(3, 1)))],
        writes: vec![kv_write("k", b"new")],
        ..ns(CC)
    }]));
    let absent = net.tx(rwset(vec![NsRwSet {
        reads: vec![kv_read("k", None)],
        writes: vec![kv_write("j", b"new")],
        ..ns(CC)
    }]));
    assert_eq!(
        codes(&net, &state, vec![stale.envelope(), absent.envelope()]),
        [Code::MvccReadConflict, Code::MvccReadConflict]
    );
}

#[test]
fn private_read_of_a_changed_key_hash_is_mvcc_conflict() {
    let net = Net::new();
    let mut state = MemState::at(7);
    let kh = sha256(b"secret");
    state
        .private
        .insert((CC.into(), "coll".into(), kh), v(6, 0));
    let read = |version| {
        net.tx(rwset(vec![NsRwSet {
            collections: vec![CollectionHashedRwSet {
                collection: "coll".into(),
                hashed_reads: vec![KvReadHash {
                    key_hash: kh,
                    version: Some(version),
                }],
                hashed_writes: vec![],
                pvt_rwset_hash: Hash32::ZERO,
            }],
            ..ns(CC)
        }]))
        .envelope()
    };
    assert_eq!(
        codes(&net, &state, vec![read(v(6, 0)), read(v(5, 0))]),
        [Code::Valid, Code::MvccReadConflict]
    );
}

#[test]
fn range_whose_result_changed_is_phantom_read_conflict() {
    let net = Net::new();
    let mut state = MemState::at(9);
    state.put(CC, "a", v(1, 0));
    state.put(CC, "b", v(8, 0)); // inserted after the simulation
    state.put(CC, "z", v(1, 0)); // outside the range
    let scan = |exhausted| {
        net.tx(rwset(vec![NsRwSet {
            range_queries: vec![range(
                "a",
                "c",
                exhausted,
                vec![kv_read("a", Some(v(1, 0)))],
            )],
            writes: vec![kv_write("out", b"1")],
            ..ns(CC)
        }]))
        .envelope()
    };
    // A paginated scan that stopped at "a" is only checked up to "a".
    assert_eq!(
        codes(&net, &state, vec![scan(true), scan(false)]),
        [Code::PhantomReadConflict, Code::Valid]
    );
}

#[test]
fn range_changed_by_an_earlier_transaction_of_the_block_is_phantom_read_conflict() {
    let net = Net::new();
    let mut state = MemState::at(9);
    state.put(CC, "a", v(1, 0));
    state.put(CC, "b", v(1, 1));
    let scan = || {
        net.tx(rwset(vec![NsRwSet {
            range_queries: vec![range(
                "a",
                "",
                true,
                vec![kv_read("a", Some(v(1, 0))), kv_read("b", Some(v(1, 1)))],
            )],
            writes: vec![kv_write("zz", b"1")],
            ..ns(CC)
        }]))
        .envelope()
    };
    let delete_b = net.tx(rwset(vec![NsRwSet {
        writes: vec![KvWrite {
            key: "b".into(),
            is_delete: true,
            value: Bytes::default(),
        }],
        ..ns(CC)
    }]));
    // "zz" written by the first scan is inside the second scan's open range.
    assert_eq!(
        codes(&net, &state, vec![scan(), scan()]),
        [Code::Valid, Code::PhantomReadConflict]
    );
    assert_eq!(
        codes(&net, &state, vec![delete_b.envelope(), scan()]),
        [Code::Valid, Code::PhantomReadConflict]
    );
}

// ---- results ----

#[test]
fn update_batch_holds_the_valid_writes_with_block_and_tx_versions() {
    let net = Net::new();
    let mut state = MemState::at(12);
    state.put(CC, "gone", v(2, 0));
    let t0 = net.tx(rwset(vec![NsRwSet {
        writes: vec![kv_write("k1", b"v1")],
        metadata_writes: vec![set_policy("k1", "'Org1MSP.peer'")],
        collections: vec![CollectionHashedRwSet {
            collection: "coll".into(),
            hashed_reads: vec![],
            hashed_writes: vec![cellchain_core::protocol::KvWriteHash {
                key_hash: sha256(b"pk"),
                is_delete: false,
                value_hash: Some(sha256(b"pv")),
            }],
            pvt_rwset_hash: Hash32::ZERO,
        }],
        ..ns(CC)
    }]));
    let t1 = net.tx(write("k2", b"v2")).endorsers(&[&net.peer1]);
    let t2 = net.tx(rwset(vec![NsRwSet {
        writes: vec![KvWrite {
            key: "gone".into(),
            is_delete: true,
            value: Bytes::default(),
        }],
        ..ns(CC)
    }]));
    let ids = [t0.tx_id(), t1.tx_id(), t2.tx_id()];
    let mut defs = MemDefinitions::standard();
    defs.0.get_mut(CC).unwrap().collections = vec![cellchain_validation::CollectionConfig {
        name: "coll".into(),
        member_orgs: vec!["Org1MSP".into()],
        required_peer_count: 0,
        block_to_live: 0,
        member_only_read: true,
        member_only_write: true,
    }];
    let out = net.validate_with(
        &state,
        &defs,
        vec![t0.envelope(), t1.envelope(), t2.envelope()],
        1,
    );
    assert_eq!(
        out.codes,
        [Code::Valid, Code::EndorsementPolicyFailure, Code::Valid]
    );
    let expected = UpdateBatch {
        block: 12,
        writes: vec![
            StateWrite {
                namespace: CC.into(),
                key: "k1".into(),
                value: Some(b"v1".to_vec()),
                version: v(12, 0),
            },
            StateWrite {
                namespace: CC.into(),
                key: "gone".into(),
                value: None,
                version: v(12, 2),
            },
        ],
        metadata: vec![MetadataWrite {
            namespace: CC.into(),
            key: "k1".into(),
            entries: BTreeMap::from([(
                "VALIDATION_PARAMETER".to_string(),
                b"'Org1MSP.peer'".to_vec(),
            )]),
            version: v(12, 0),
        }],
        hashed_writes: vec![HashedWrite {
            namespace: CC.into(),
            collection: "coll".into(),
            key_hash: sha256(b"pk"),
            value_hash: Some(sha256(b"pv")),
            version: v(12, 0),
        }],
        transactions: vec![
            TxOutcome {
                tx_id: ids[0],
                index: 0,
                code: Code::Valid,
            },
            TxOutcome {
                tx_id: ids[1],
                index: 1,
                code: Code::EndorsementPolicyFailure,
            },
            TxOutcome {
                tx_id: ids[2],
                index: 2,
                code: Code::Valid,
            },
        ],
    };
    assert_eq!(out.updates, expected);
}

#[test]
fn private_write_to_an_undefined_collection_is_illegal_writeset() {
    let net = Net::new();
    let tx = net.tx(rwset(vec![NsRwSet {
        collections: vec![CollectionHashedRwSet {
            collection: "nope".into(),
            hashed_reads: vec![],
            hashed_writes: vec![cellchain_core::protocol::KvWriteHash {
                key_hash: sha256(b"pk"),
                is_delete: false,
                value_hash: Some(sha256(b"pv")),
            }],
            pvt_rwset_hash: Hash32::ZERO,
        }],
        ..ns(CC)
    }]));
    assert_eq!(
        codes(&net, &MemState::at(1), vec![tx.envelope()]),
        [Code::IllegalWriteset]
    );
}

fn sample_batch() -> UpdateBatch {
    UpdateBatch {
        block: 4,
        writes: vec![StateWrite {
            namespace: "cc".into(),
            key: "ab".into(),
            value: Some(b"c".to_vec()),
            version: v(4, 0),
        }],
        metadata: vec![MetadataWrite {
            namespace: "cc".into(),
            key: "ab".into(),
            entries: BTreeMap::from([("VALIDATION_PARAMETER".to_string(), b"p".to_vec())]),
            version: v(4, 0),
        }],
        hashed_writes: vec![HashedWrite {
            namespace: "cc".into(),
            collection: "c".into(),
            key_hash: sha256(b"k"),
            value_hash: Some(sha256(b"v")),
            version: v(4, 1),
        }],
        transactions: vec![TxOutcome {
            tx_id: TxId(sha256(b"t")),
            index: 0,
            code: Code::Valid,
        }],
    }
}

#[test]
fn commit_hash_is_deterministic_and_sensitive_to_every_input() {
    let prev = sha256(b"prev");
    let codes = [Code::Valid, Code::MvccReadConflict];
    let base_batch = sample_batch();
    let base = commit_hash(&prev, 4, &codes, &base_batch);
    assert_eq!(base, commit_hash(&prev, 4, &codes, &sample_batch()));
    // The documented layout, written out by hand: a protocol, not an
    // implementation detail.
    assert_eq!(base, sha256(&documented_layout(&prev)));
    assert_eq!(base.to_hex(), PINNED_COMMIT_HASH);

    let mut variants: Vec<Hash32> = vec![
        commit_hash(&sha256(b"other"), 4, &codes, &base_batch),
        commit_hash(&prev, 5, &codes, &base_batch),
        commit_hash(
            &prev,
            4,
            &[Code::Valid, Code::PhantomReadConflict],
            &base_batch,
        ),
        commit_hash(&prev, 4, &[Code::Valid], &base_batch),
    ];
    type Edit = Box<dyn Fn(&mut UpdateBatch)>;
    let mut edits: Vec<Edit> = vec![
        Box::new(|b| b.block = 5),
        Box::new(|b| b.writes[0].namespace = "cd".into()),
        // Moving a byte between fields must change the hash (length framing).
        Box::new(|b| {
            b.writes[0].key = "a".into();
            b.writes[0].value = Some(b"bc".to_vec());
        }),
        Box::new(|b| b.writes[0].value = None),
        Box::new(|b| b.writes[0].version = v(4, 1)),
        Box::new(|b| b.writes.clear()),
        Box::new(|b| b.metadata[0].key = "ac".into()),
        Box::new(|b| {
            b.metadata[0]
                .entries
                .insert("VALIDATION_PARAMETER".into(), b"q".to_vec());
        }),
        Box::new(|b| b.metadata[0].entries.clear()),
        Box::new(|b| b.metadata[0].version = v(5, 0)),
        Box::new(|b| b.hashed_writes[0].collection = "d".into()),
        Box::new(|b| b.hashed_writes[0].key_hash = sha256(b"k2")),
        Box::new(|b| b.hashed_writes[0].value_hash = None),
        Box::new(|b| b.hashed_writes[0].version = v(4, 2)),
        Box::new(|b| b.transactions[0].tx_id = TxId(sha256(b"u"))),
        Box::new(|b| b.transactions[0].index = 1),
        Box::new(|b| b.transactions[0].code = Code::MvccReadConflict),
        Box::new(|b| b.transactions.clear()),
    ];
    for edit in edits.drain(..) {
        let mut b = sample_batch();
        edit(&mut b);
        variants.push(commit_hash(&prev, 4, &codes, &b));
    }
    let mut all = variants.clone();
    all.push(base);
    all.sort();
    all.dedup();
    assert_eq!(
        all.len(),
        variants.len() + 1,
        "every change gives its own hash"
    );
}

const PINNED_COMMIT_HASH: &str = "6002cd2b3cb2a1c567651d825e2147a4208c7e7f3f6302027c7fc4249df2531b";

/// `commit_hash(prev, 4, [Valid, MvccReadConflict], sample_batch())` input bytes.
fn documented_layout(prev: &Hash32) -> Vec<u8> {
    fn s(out: &mut Vec<u8>, b: &[u8]) {
        out.extend_from_slice(&(b.len() as u32).to_be_bytes());
        out.extend_from_slice(b);
    }
    fn ver(out: &mut Vec<u8>, block: u64, tx: u32) {
        out.extend_from_slice(&block.to_be_bytes());
        out.extend_from_slice(&tx.to_be_bytes());
    }
    let mut m = b"cellchain/commit-hash/v1\0".to_vec();
    m.extend_from_slice(&prev.0);
    m.extend_from_slice(&4u64.to_be_bytes());
    m.extend_from_slice(&[0, 0, 0, 2, 0, 11]);
    m.extend_from_slice(&4u64.to_be_bytes());
    // writes
    let mut r = Vec::new();
    s(&mut r, b"cc");
    s(&mut r, b"ab");
    r.push(1);
    s(&mut r, b"c");
    ver(&mut r, 4, 0);
    m.extend_from_slice(&1u32.to_be_bytes());
    s(&mut m, &r);
    // metadata
    let mut r = Vec::new();
    s(&mut r, b"cc");
    s(&mut r, b"ab");
    r.extend_from_slice(&1u32.to_be_bytes());
    s(&mut r, b"VALIDATION_PARAMETER");
    s(&mut r, b"p");
    ver(&mut r, 4, 0);
    m.extend_from_slice(&1u32.to_be_bytes());
    s(&mut m, &r);
    // hashed writes
    let mut r = Vec::new();
    s(&mut r, b"cc");
    s(&mut r, b"c");
    r.extend_from_slice(&sha256(b"k").0);
    r.push(1);
    r.extend_from_slice(&sha256(b"v").0);
    ver(&mut r, 4, 1);
    m.extend_from_slice(&1u32.to_be_bytes());
    s(&mut m, &r);
    // outcomes
    let mut r = Vec::new();
    r.extend_from_slice(&sha256(b"t").0);
    r.extend_from_slice(&0u32.to_be_bytes());
    r.push(0);
    m.extend_from_slice(&1u32.to_be_bytes());
    s(&mut m, &r);
    m
}

/// A block mixing every kind of outcome.
fn mixed_block(net: &Net) -> (MemState, Vec<Envelope>) {
    let mut state = MemState::at(20);
    state.put(CC, "hot", v(3, 0));
    state.set_policy(CC, "org1key", "'Org1MSP.peer'");
    let mut envs = Vec::new();
    for i in 0..6 {
        envs.push(net.tx(write(&format!("k{i}"), b"v")).envelope());
    }
    let rw = || {
        rwset(vec![NsRwSet {
            reads: vec![kv_read("hot", Some(v(3, 0)))],
            writes: vec![kv_write("hot", b"x")],
            ..ns(CC)
        }])
    };
    envs.push(net.tx(rw()).envelope());
    envs.push(net.tx(rw()).envelope());
    envs.push(
        net.tx(write("org1key", b"v"))
            .endorsers(&[&net.peer1])
            .envelope(),
    );
    envs.push(net.tx(write("x", b"v")).endorsers(&[&net.peer2]).envelope());
    let dup = net.tx(write("d", b"v")).envelope();
    envs.push(dup.clone());
    envs.push(
        Envelope::sign(
            &net.tx(write("f", b"v")).payload(),
            net.peer2.signer.as_ref(),
        )
        .unwrap(),
    );
    envs.push(dup);
    (state, envs)
}

#[test]
fn one_and_two_workers_give_identical_results() {
    let net = Net::new();
    let (state, envs) = mixed_block(&net);
    let defs = MemDefinitions::standard();
    let one = net.validate_with(&state, &defs, envs.clone(), 1);
    let two = net.validate_with(&state, &defs, envs.clone(), 2);
    let many = net.validate_with(&state, &defs, envs, 5);
    assert_eq!(one, two);
    assert_eq!(one, many);
    assert_eq!(
        one.codes,
        [
            Code::Valid,
            Code::Valid,
            Code::Valid,
            Code::Valid,
            Code::Valid,
            Code::Valid,
            Code::Valid,
            Code::MvccReadConflict,
            Code::Valid,
            Code::EndorsementPolicyFailure,
            Code::Valid,
            Code::BadCreatorSignature,
            Code::DuplicateTxid,
        ]
    );
}

#[test]
fn validator_keeps_its_identity_cache_across_blocks() {
    let net = Net::new();
    let validator = Validator::with_msps(net.channel.clone(), net.msps.clone());
    let defs = MemDefinitions::standard();
    let (state, envs) = mixed_block(&net);
    let block = cellchain_core::protocol::Block::new(20, Hash32::ZERO, envs.clone(), 0);
    let first = validator
        .validate_block(&block, &state, &defs, provider(), 2)
        .unwrap();
    assert_eq!(validator.cached_identities(), 3, "client1, peer1, peer2");
    let again = validator
        .validate_block(&block, &state, &defs, provider(), 1)
        .unwrap();
    assert_eq!(first, again);
    assert_eq!(first, net.validate_with(&state, &defs, envs, 1));
}

#[test]
fn cached_certificate_is_still_judged_at_each_transaction_time() {
    let net = Net::new();
    let validator = Validator::with_msps(net.channel.clone(), net.msps.clone());
    let defs = MemDefinitions::standard();
    let short = net
        .org1
        .member_until("Org1MSP", "short", "client", NOW + 10);
    let state = MemState::at(1);
    let run = |seconds: i64| {
        let mut tx = net.tx(write("k", b"v")).creator(&short);
        tx.timestamp.seconds = seconds;
        let block = cellchain_core::protocol::Block::new(1, Hash32::ZERO, vec![tx.envelope()], 0);
        validator
            .validate_block(&block, &state, &defs, provider(), 1)
            .unwrap()
            .codes[0]
    };
    assert_eq!(run(NOW), Code::Valid);
    assert_eq!(run(NOW + 20), Code::BadCreatorSignature);
    assert_eq!(run(NOW + 5), Code::Valid);
}

// ---- replay ----

#[test]
fn updates_from_a_validated_block_equal_those_of_validation() {
    let net = Net::new();
    let mut state = MemState::at(7);
    state.put("cc", "k", v(3, 0));
    let valid = net.tx(write("a", b"1")).envelope();
    let conflicting = {
        let mut rw = write("k", b"2");
        rw.ns_rwsets[0].reads.push(kv_read("k", Some(v(2, 0))));
        net.tx(rw).envelope()
    };
    let mut with_policy = write("b", b"3");
    with_policy.ns_rwsets[0]
        .metadata_writes
        .push(set_policy("b", "OR('Org1MSP.peer')"));
    let with_policy = net.tx(with_policy).envelope();
    let duplicate = valid.clone();
    let garbage = Envelope {
        payload: Bytes(b"junk".to_vec()),
        signature: Bytes(vec![]),
    };
    let envelopes = vec![valid, conflicting, with_policy, duplicate, garbage];
    let validated = net.validate(&state, envelopes.clone());
    assert_eq!(
        validated.codes,
        [
            Code::Valid,
            Code::MvccReadConflict,
            Code::Valid,
            Code::DuplicateTxid,
            Code::BadPayload
        ]
    );
    let mut block = cellchain_core::protocol::Block::new(7, Hash32::ZERO, envelopes, 0);
    assert!(matches!(
        cellchain_validation::updates_from_block(&block),
        Err(cellchain_validation::ReplayError::NotValidated { .. })
    ));
    block.metadata.validation_codes = validated.codes.clone();
    let replayed = cellchain_validation::updates_from_block(&block).unwrap();
    assert_eq!(replayed, validated.updates);
    assert_eq!(
        commit_hash(&Hash32::ZERO, 7, &validated.codes, &replayed),
        commit_hash(&Hash32::ZERO, 7, &validated.codes, &validated.updates)
    );
}

#[test]
fn private_write_by_a_non_member_client_to_a_member_only_collection_is_illegal_writeset() {
    let net = Net::new();
    let private_tx = || {
        net.tx(rwset(vec![NsRwSet {
            collections: vec![CollectionHashedRwSet {
                collection: "coll".into(),
                hashed_reads: vec![],
                hashed_writes: vec![cellchain_core::protocol::KvWriteHash {
                    key_hash: sha256(b"pk"),
                    is_delete: false,
                    value_hash: Some(sha256(b"pv")),
                }],
                pvt_rwset_hash: Hash32::ZERO,
            }],
            ..ns(CC)
        }]))
    };
    let member = private_tx().creator(&net.client1);
    let outsider = private_tx().creator(&net.client2);
    let mut defs = MemDefinitions::standard();
    let coll = |member_only_write| cellchain_validation::CollectionConfig {
        name: "coll".into(),
        member_orgs: vec!["Org1MSP".into()],
        required_peer_count: 0,
        block_to_live: 0,
        member_only_read: true,
        member_only_write,
    };
    defs.0.get_mut(CC).unwrap().collections = vec![coll(true)];
    let state = MemState::at(3);
    let out = net.validate_with(
        &state,
        &defs,
        vec![member.envelope(), outsider.envelope()],
        1,
    );
    assert_eq!(out.codes, [Code::Valid, Code::IllegalWriteset]);
    // Without member-only-write, a non-member's client may write it.
    defs.0.get_mut(CC).unwrap().collections = vec![coll(false)];
    let outsider = private_tx().creator(&net.client2);
    let out = net.validate_with(&state, &defs, vec![outsider.envelope()], 1);
    assert_eq!(out.codes, [Code::Valid]);
}
