use std::collections::BTreeMap;

use super::*;
use crate::config::{Materials, NetworkConfig, OrgMaterial};
use crate::testing::TestCa;

const NET: &str = r#"
name: test
organizations:
  - { msp_id: HospMSP, name: Hospital, users: [{ name: admin, role: admin }] }
  - { msp_id: CdmoMSP, name: CDMO, users: [{ name: admin, role: admin }] }
  - { msp_id: SponsorMSP, name: Sponsor, users: [{ name: admin, role: admin }] }
  - { msp_id: AuditMSP, name: Auditor, read_only: true, users: [{ name: admin, role: admin }] }
orderers:
  - { name: o1, org: CdmoMSP, port: 7050 }
channels:
  - name: ch
    organizations: [HospMSP, CdmoMSP, SponsorMSP, AuditMSP]
    consenters: [o1]
"#;

fn channel() -> ChannelConfig {
    let net = NetworkConfig::from_yaml(NET).unwrap();
    let mut materials = Materials::default();
    let mut cas = BTreeMap::new();
    for o in &net.organizations {
        let ca = TestCa::new(&o.msp_id);
        materials.orgs.insert(
            o.msp_id.clone(),
            OrgMaterial {
                ca_certs: vec![ca.pem()],
                crls: vec![],
            },
        );
        cas.insert(o.msp_id.clone(), ca);
    }
    let m = cas["CdmoMSP"].member("CdmoMSP", "o1", "orderer");
    materials.orderer_certs.insert("o1".into(), m.id.cert);
    net.channel_config("ch", &materials, 1_790_000_000).unwrap()
}

fn def(seq: u64) -> ChaincodeDefinition {
    ChaincodeDefinition {
        name: "patient-batch".into(),
        version: "1.0".into(),
        sequence: seq,
        wasm_hash: crate::bytes::sha256(b"module"),
        endorsement_policy: EndorsementPolicy::Signature(
            "OR('HospMSP.peer', 'CdmoMSP.peer')".parse().unwrap(),
        ),
        collections: vec![],
    }
}

#[test]
fn keys_parse_and_refuse_anything_else() {
    assert_eq!(
        LifecycleKey::parse(&definition_key("patient-batch")),
        Some(LifecycleKey::Definition {
            chaincode: "patient-batch"
        })
    );
    assert_eq!(
        LifecycleKey::parse(&approval_key("patient-batch", "HospMSP")),
        Some(LifecycleKey::Approval {
            chaincode: "patient-batch",
            org: "HospMSP"
        })
    );
    for bad in [
        "definition/",
        "definition/a/b",
        "approval/a",
        "approval/a/",
        "approval/a/b/c",
        "definition/_lifecycle",
        "definition/Upper",
        "other/a",
        "",
    ] {
        assert_eq!(LifecycleKey::parse(bad), None, "{bad}");
    }
    assert_eq!(
        key_policy(&approval_key("cc", "HospMSP")).unwrap(),
        "'HospMSP.peer'"
    );
    assert_eq!(key_policy(&definition_key("cc")), None);
}

#[test]
fn a_definition_needs_the_next_sequence_and_known_organisations() {
    let ch = channel();
    check_definition(&ch, None, &def(1)).unwrap();
    let e = check_definition(&ch, None, &def(2)).unwrap_err();
    assert!(e.to_string().contains("must have sequence 1, not 2"), "{e}");
    check_definition(&ch, Some(&def(1)), &def(2)).unwrap();
    let e = check_definition(&ch, Some(&def(1)), &def(1)).unwrap_err();
    assert!(matches!(
        e,
        LifecycleError::WrongSequence {
            committed: 1,
            next: 2,
            ..
        }
    ));

    let mut d = def(1);
    d.endorsement_policy = EndorsementPolicy::Signature("'NopeMSP.peer'".parse().unwrap());
    assert!(check_definition(&ch, None, &d)
        .unwrap_err()
        .to_string()
        .contains("NopeMSP"));
    let mut d = def(1);
    d.endorsement_policy = EndorsementPolicy::Channel("Nope".into());
    assert!(check_definition(&ch, None, &d)
        .unwrap_err()
        .to_string()
        .contains("\"Nope\""));
    let mut d = def(1);
    d.name = "_mine".into();
    assert!(check_definition(&ch, None, &d).is_err());
    let mut d = def(1);
    d.collections = vec![CollectionConfig {
        name: "links".into(),
        member_orgs: vec!["GhostMSP".into()],
        required_peer_count: 0,
        block_to_live: 0,
        member_only_read: true,
        member_only_write: true,
    }];
    assert!(check_definition(&ch, None, &d)
        .unwrap_err()
        .to_string()
        .contains("GhostMSP"));
    // Collection names may carry MSP ids (upper case), but not spaces or slashes.
    d.collections[0].member_orgs = vec!["HospMSP".into()];
    d.collections[0].name = "patient-links-HospMSP".into();
    check_definition(&ch, None, &d).unwrap();
    for bad in ["a b", "a/b", "-lead", ""] {
        d.collections[0].name = bad.into();
        assert!(check_definition(&ch, None, &d).is_err(), "{bad:?}");
    }
}

#[test]
fn readiness_counts_matching_approvals_against_majority_and_names_differences() {
    let ch = channel();
    let proposed = def(1);
    let mut approvals = BTreeMap::new();
    approvals.insert("HospMSP".to_string(), proposed.clone());
    let r = readiness(&ch, &proposed, &approvals);
    assert!(!r.ready, "1 of 3 endorsing organisations is not a majority");
    assert_eq!(r.approved, vec!["HospMSP"]);
    assert_eq!(
        r.missing,
        vec!["CdmoMSP", "SponsorMSP"],
        "the read-only auditor is not counted"
    );

    let mut other = proposed.clone();
    other.version = "1.1".into();
    other.wasm_hash = crate::bytes::sha256(b"other module");
    approvals.insert("CdmoMSP".to_string(), other);
    let r = readiness(&ch, &proposed, &approvals);
    assert!(!r.ready);
    let diffs = &r.differing["CdmoMSP"];
    assert_eq!(diffs.len(), 2, "{diffs:?}");
    assert!(
        diffs[0].starts_with("version: approved 1.1, proposed 1.0"),
        "{diffs:?}"
    );
    assert!(diffs[1].starts_with("wasm_hash: approved "), "{diffs:?}");
    let text = r.to_string();
    assert!(
        text.contains("CdmoMSP approved a different definition (version: approved 1.1"),
        "{text}"
    );
    assert!(text.contains("not approved by: SponsorMSP"), "{text}");

    approvals.insert("SponsorMSP".to_string(), proposed.clone());
    let r = readiness(&ch, &proposed, &approvals);
    assert!(r.ready, "2 of 3 is a majority: {r}");

    // An approval of an older sequence counts as missing, not as different.
    let mut old = BTreeMap::new();
    old.insert("HospMSP".to_string(), def(1));
    let r = readiness(&ch, &def(2), &old);
    assert_eq!(r.missing.len(), 3);
}

#[test]
fn packages_round_trip_and_refuse_a_wrong_hash_or_label() {
    let wasm = b"\0asm\x01\0\0\0".to_vec();
    let p = ChaincodePackage::new("patient-batch_1.0", "patient-batch", "0.1.0", wasm).unwrap();
    assert_eq!(
        p.package_id(),
        format!("patient-batch_1.0:{}", p.wasm_sha256.to_hex())
    );
    assert_eq!(ChaincodePackage::from_bytes(&p.to_bytes()).unwrap(), p);

    let mut forged = p.clone();
    forged.wasm = crate::bytes::Bytes(b"\0asm\x01\0\0\x01".to_vec());
    let e = ChaincodePackage::from_bytes(&forged.to_bytes()).unwrap_err();
    assert!(e.to_string().contains("wasm_sha256"), "{e}");
    assert!(ChaincodePackage::new("bad label", "c", "1", b"\0asm".to_vec()).is_err());
    assert!(ChaincodePackage::new("l", "c", "1", b"not wasm".to_vec()).is_err());
    assert!(ChaincodePackage::from_bytes(b"{").is_err());
}

#[test]
fn definitions_round_trip_through_their_stored_form() {
    let d = def(3);
    assert_eq!(decode_definition(&encode_definition(&d)).unwrap(), d);
    assert!(decode_definition(b"{}").is_err());
}
