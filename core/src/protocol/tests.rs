use std::collections::BTreeMap;

use p256::pkcs8::EncodePrivateKey;

use super::*;
use crate::bytes::{sha256, Hash32};
use crate::crypto::{CryptoProvider, P256Provider, RingProvider, Signer};
use crate::identity::SerializedIdentity;

fn signer() -> Box<dyn Signer> {
    let key = p256::ecdsa::SigningKey::random(&mut rand_core::OsRng);
    RingProvider
        .signer_from_pkcs8_der(key.to_pkcs8_der().unwrap().as_bytes())
        .unwrap()
}

fn creator() -> SerializedIdentity {
    SerializedIdentity {
        msp_id: "HospitalAMSP".into(),
        cert: "-----BEGIN CERTIFICATE-----\n...".into(),
    }
}

fn proposal() -> Proposal {
    Proposal {
        header: Header::new(
            "atmp",
            creator(),
            vec![7u8; 24],
            Timestamp {
                seconds: 1_790_000_000,
                nanos: 5,
            },
        ),
        chaincode: "patient-batch".into(),
        function: "create_case".into(),
        args: vec![serde_json::json!("CHA123426000123")],
        transient_digest: None,
    }
}

fn endorsed_envelope(s: &dyn Signer) -> (Envelope, Payload) {
    let sp = SignedProposal::sign(proposal(), BTreeMap::new(), s).unwrap();
    let p = sp.parse().unwrap();
    let prp = ProposalResponsePayload {
        proposal_hash: sha256(&sp.proposal),
        chaincode: ChaincodeRef {
            name: "patient-batch".into(),
            version: "1.0".into(),
            sequence: 1,
        },
        rwset: TxRwSet {
            ns_rwsets: vec![NsRwSet {
                namespace: "patient-batch".into(),
                reads: vec![KvRead {
                    key: "case~CHA123426000123".into(),
                    version: None,
                }],
                writes: vec![KvWrite {
                    key: "case~CHA123426000123".into(),
                    is_delete: false,
                    value: Bytes(b"{}".to_vec()),
                }],
                ..Default::default()
            }],
        },
        events: vec![],
        response: ChaincodeResponse {
            status: 200,
            message: String::new(),
            payload: Bytes::default(),
        },
    };
    let prp_bytes = encode(&prp);
    let endorsement = Endorsement::sign(&prp_bytes, creator(), s).unwrap();
    let payload = Payload {
        header: p.header.clone(),
        data: PayloadData::Endorser(EndorserTransaction {
            proposal: sp.proposal.clone(),
            response_payload: prp_bytes,
            endorsements: vec![endorsement],
        }),
    };
    (Envelope::sign(&payload, s).unwrap(), payload)
}

#[test]
fn tx_id_is_sha256_of_nonce_and_creator() {
    let h = proposal().header;
    h.check_tx_id().unwrap();
    let mut other = h.clone();
    other.nonce = Bytes(vec![8u8; 24]);
    assert!(matches!(
        other.check_tx_id(),
        Err(ProtocolError::TxIdMismatch { .. })
    ));
    let mut other = h;
    other.creator.msp_id = "CdmoMSP".into();
    assert!(matches!(
        other.check_tx_id(),
        Err(ProtocolError::TxIdMismatch { .. })
    ));
}

#[test]
fn signed_proposal_carries_the_exact_signed_bytes() {
    let s = signer();
    let sp = SignedProposal::sign(proposal(), BTreeMap::new(), s.as_ref()).unwrap();
    // The wire form round-trips byte for byte, and the signature covers those bytes.
    let wire = serde_json::to_vec(&sp).unwrap();
    let back: SignedProposal = serde_json::from_slice(&wire).unwrap();
    assert_eq!(back.proposal, sp.proposal);
    P256Provider
        .verify(&s.public_key(), &back.signed_message(), &back.signature)
        .unwrap();
    assert_eq!(back.parse().unwrap(), proposal());

    let mut tampered = back.clone();
    let text = String::from_utf8(tampered.proposal.0.clone())
        .unwrap()
        .replace("create_case", "cancel_case");
    tampered.proposal = Bytes(text.into_bytes());
    assert!(P256Provider
        .verify(
            &s.public_key(),
            &tampered.signed_message(),
            &tampered.signature
        )
        .is_err());
}

#[test]
fn transient_inputs_are_bound_by_digest_but_not_in_the_proposal() {
    let s = signer();
    let mut t = BTreeMap::new();
    t.insert("patient_link".to_string(), Bytes(b"MRN-0042".to_vec()));
    let sp = SignedProposal::sign(proposal(), t, s.as_ref()).unwrap();
    let p = sp.parse().unwrap();
    assert!(p.transient_digest.is_some());
    assert!(!String::from_utf8_lossy(&sp.proposal).contains("MRN-0042"));

    let mut swapped = sp.clone();
    swapped
        .transient
        .insert("patient_link".into(), Bytes(b"MRN-9999".to_vec()));
    assert_eq!(swapped.parse(), Err(ProtocolError::TransientDigestMismatch));
    let mut dropped = sp;
    dropped.transient.clear();
    assert_eq!(dropped.parse(), Err(ProtocolError::TransientDigestMismatch));
}

#[test]
fn malformed_proposal_is_a_typed_error() {
    let sp = SignedProposal {
        proposal: Bytes(b"{not json".to_vec()),
        signature: Bytes::default(),
        transient: BTreeMap::new(),
    };
    assert!(matches!(
        sp.parse(),
        Err(ProtocolError::Malformed {
            what: "proposal",
            ..
        })
    ));
}

#[test]
fn a_signature_is_valid_for_one_kind_of_message_only() {
    let s = signer();
    let bytes = b"{\"some\":\"bytes\"}";
    let sig = s.sign(&signing::proposal_message(bytes)).unwrap();
    let pk = s.public_key();
    RingProvider
        .verify(&pk, &signing::proposal_message(bytes), &sig)
        .unwrap();
    assert!(RingProvider
        .verify(&pk, &signing::envelope_message(bytes), &sig)
        .is_err());
    assert!(RingProvider.verify(&pk, bytes, &sig).is_err());
}

#[test]
fn endorser_transaction_checks_header_and_proposal_hash() {
    let s = signer();
    let (env, payload) = endorsed_envelope(s.as_ref());
    let parsed = env.parse_payload().unwrap();
    assert_eq!(parsed, payload);
    let PayloadData::Endorser(tx) = &parsed.data else {
        panic!("endorser tx expected")
    };
    let (p, prp) = tx.parse(&parsed.header).unwrap();
    assert_eq!(p.function, "create_case");
    assert_eq!(prp.response.status, 200);
    // The endorsement verifies over payload bytes bound to the endorser identity.
    let e = &tx.endorsements[0];
    RingProvider
        .verify(
            &s.public_key(),
            &e.signed_message(&tx.response_payload),
            &e.signature,
        )
        .unwrap();
    let mut other_id = e.clone();
    other_id.endorser.msp_id = "CdmoMSP".into();
    assert!(RingProvider
        .verify(
            &s.public_key(),
            &other_id.signed_message(&tx.response_payload),
            &e.signature
        )
        .is_err());

    let mut h = parsed.header.clone();
    h.channel_id = "other".into();
    assert_eq!(
        tx.parse(&h).unwrap_err(),
        ProtocolError::HeaderMismatch {
            field: "channel_id"
        }
    );

    let mut swapped = tx.clone();
    let other = SignedProposal::sign(
        Proposal {
            function: "other".into(),
            ..proposal()
        },
        BTreeMap::new(),
        s.as_ref(),
    )
    .unwrap();
    swapped.proposal = other.proposal;
    assert_eq!(
        swapped.parse(&parsed.header).unwrap_err(),
        ProtocolError::ProposalHashMismatch
    );
}

#[test]
fn block_hash_chain_data_hash_and_signature() {
    let s = signer();
    let envs: Vec<Envelope> = (0..5).map(|_| endorsed_envelope(s.as_ref()).0).collect();
    let genesis = Block::new(0, Hash32::ZERO, vec![envs[0].clone()], 0);
    let mut b1 = Block::new(1, genesis.hash(), envs[1..].to_vec(), 0);
    b1.check_data_hash().unwrap();
    assert_ne!(genesis.hash(), b1.hash());

    b1.sign(creator(), s.as_ref()).unwrap();
    let wire = serde_json::to_vec(&b1).unwrap();
    let back: Block = serde_json::from_slice(&wire).unwrap();
    assert_eq!(back, b1);
    let sig = &back.metadata.signatures[0];
    RingProvider
        .verify(&s.public_key(), &back.signed_message(), &sig.signature)
        .unwrap();

    // Swapping two transactions changes the data hash: the header no longer matches.
    let mut reordered = back.clone();
    reordered.data.envelopes.swap(0, 1);
    assert!(matches!(
        reordered.check_data_hash(),
        Err(ProtocolError::DataHashMismatch { number: 1, .. })
    ));
    // Changing last_config invalidates the orderer signature.
    let mut moved = back.clone();
    moved.metadata.last_config = 9;
    assert!(RingProvider
        .verify(&s.public_key(), &moved.signed_message(), &sig.signature)
        .is_err());
}

#[test]
fn inclusion_of_one_transaction_is_provable_from_the_header() {
    let s = signer();
    let envs: Vec<Envelope> = (0..6).map(|_| endorsed_envelope(s.as_ref()).0).collect();
    let b = Block::new(3, Hash32::ZERO, envs.clone(), 0);
    for (i, e) in envs.iter().enumerate() {
        let proof = b.inclusion_proof(i).unwrap();
        assert!(crate::merkle::verify(
            &e.leaf_hash(),
            &proof,
            &b.header.data_hash
        ));
    }
    let stranger = endorsed_envelope(s.as_ref()).0;
    let proof = b.inclusion_proof(2).unwrap();
    assert!(!crate::merkle::verify(
        &stranger.leaf_hash(),
        &proof,
        &b.header.data_hash
    ));
}

#[test]
fn validation_codes_keep_fabric_numbers_and_names() {
    use TxValidationCode::*;
    assert_eq!(Valid.as_u8(), 0);
    assert_eq!(BadCreatorSignature.as_u8(), 4);
    assert_eq!(DuplicateTxid.as_u8(), 9);
    assert_eq!(EndorsementPolicyFailure.as_u8(), 10);
    assert_eq!(MvccReadConflict.as_u8(), 11);
    assert_eq!(PhantomReadConflict.as_u8(), 12);
    assert_eq!(InvalidOtherReason.as_u8(), 255);
    assert_eq!(MvccReadConflict.to_string(), "MVCC_READ_CONFLICT");
    assert_eq!(
        serde_json::to_string(&DuplicateTxid).unwrap(),
        "\"DUPLICATE_TXID\""
    );
    let mut seen = std::collections::BTreeSet::new();
    for c in TxValidationCode::ALL {
        assert!(seen.insert(c.as_u8()), "duplicate number for {c}");
        assert_eq!(TxValidationCode::from_u8(c.as_u8()), Some(c));
        let j = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<TxValidationCode>(&j).unwrap(), c);
    }
    assert_eq!(TxValidationCode::from_u8(42), None);
}

#[test]
fn timestamps_convert_both_ways_including_before_1970() {
    for n in [
        0i128,
        1,
        999_999_999,
        1_000_000_000,
        -1,
        -1_500_000_000,
        1_790_000_000_123_456_789,
    ] {
        assert_eq!(Timestamp::from_unix_nanos(n).as_unix_nanos(), n);
    }
    assert_eq!(
        Timestamp::from_unix_nanos(-1),
        Timestamp {
            seconds: -1,
            nanos: 999_999_999
        }
    );
}
