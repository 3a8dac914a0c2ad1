//! Genesis blocks over real certificates (made with rcgen).

use std::collections::BTreeMap;

use crate::config::*;
use crate::crypto::{CryptoProvider, RingProvider};
use crate::identity::{Identity, Role};
use crate::protocol::{encode, PayloadData, Timestamp};
use crate::testing::{TestCa as Org, TestMember as Member};

const NOW: i64 = 1_790_000_000;

const NET: &str = r#"
name: test
organizations:
  - { msp_id: HospMSP, name: Hospital, users: [{ name: admin, role: admin }, { name: nurse, role: client }] }
  - { msp_id: CdmoMSP, name: CDMO, users: [{ name: admin, role: admin }] }
  - { msp_id: SponsorMSP, name: Sponsor, users: [{ name: admin, role: admin }] }
  - { msp_id: AuditMSP, name: Auditor, read_only: true, users: [{ name: admin, role: admin }, { name: inspector, role: client }] }
orderers:
  - { name: o1, org: CdmoMSP, port: 7050 }
  - { name: o2, org: SponsorMSP, port: 7051 }
channels:
  - name: ch
    organizations: [HospMSP, CdmoMSP, SponsorMSP, AuditMSP]
    consenters: [o1, o2]
"#;

struct Fixture {
    net: NetworkConfig,
    orgs: BTreeMap<String, Org>,
    materials: Materials,
}

fn fixture() -> Fixture {
    let net = NetworkConfig::from_yaml(NET).unwrap();
    let mut orgs = BTreeMap::new();
    let mut materials = Materials::default();
    for o in &net.organizations {
        let org = Org::new(&o.msp_id);
        materials.orgs.insert(
            o.msp_id.clone(),
            OrgMaterial {
                ca_certs: vec![org.pem()],
                crls: vec![],
            },
        );
        orgs.insert(o.msp_id.clone(), org);
    }
    for o in &net.orderers {
        let m = orgs[&o.org].member(&o.org, &o.name, "orderer");
        materials.orderer_certs.insert(o.name.clone(), m.id.cert);
    }
    Fixture {
        net,
        orgs,
        materials,
    }
}

impl Fixture {
    fn config(&self) -> ChannelConfig {
        self.net.channel_config("ch", &self.materials, NOW).unwrap()
    }
    fn admin(&self, msp: &str) -> Member {
        self.orgs[msp].member(msp, &format!("admin.{msp}"), "admin")
    }
}

fn ts() -> Timestamp {
    Timestamp {
        seconds: NOW,
        nanos: 0,
    }
}

fn build(cfg: &ChannelConfig, members: &[&Member]) -> Result<crate::protocol::Block, GenesisError> {
    let signers: Vec<ConfigSigner> = members
        .iter()
        .map(|m| ConfigSigner {
            identity: m.id.clone(),
            signer: m.signer.as_ref(),
        })
        .collect();
    create_genesis_block(cfg, &signers, &RingProvider, ts(), vec![1; 24])
}

#[test]
fn genesis_block_signed_by_all_admins_verifies_and_round_trips() {
    let f = fixture();
    let cfg = f.config();
    let admins: Vec<Member> = ["HospMSP", "CdmoMSP", "SponsorMSP", "AuditMSP"]
        .iter()
        .map(|m| f.admin(m))
        .collect();
    let block = build(&cfg, &admins.iter().collect::<Vec<_>>()).unwrap();
    let file = block_to_json(&block);
    let back = block_from_json(&file).unwrap();
    assert_eq!(back.hash(), block.hash());
    let verified = verify_genesis_block(&back, &RingProvider).unwrap();
    assert_eq!(verified, cfg);
    assert_eq!(
        verified
            .orderer
            .consenters
            .iter()
            .map(|c| c.id)
            .collect::<Vec<_>>(),
        [1, 2]
    );
}

#[test]
fn majority_of_admins_is_enough_and_one_is_not() {
    let f = fixture();
    let cfg = f.config();
    let (a, b, c) = (
        f.admin("HospMSP"),
        f.admin("CdmoMSP"),
        f.admin("SponsorMSP"),
    );
    // MAJORITY of four organisations is three.
    build(&cfg, &[&a, &b, &c]).unwrap();
    let e = build(&cfg, &[&a, &b]).unwrap_err();
    assert!(
        matches!(e, GenesisError::AdminsPolicyNotSatisfied { .. }),
        "{e}"
    );
}

#[test]
fn a_client_cannot_sign_a_channel_configuration() {
    let f = fixture();
    let cfg = f.config();
    let nurse = f.orgs["HospMSP"].member("HospMSP", "nurse", "client");
    let (b, c) = (f.admin("CdmoMSP"), f.admin("SponsorMSP"));
    let e = build(&cfg, &[&b, &c, &nurse]).unwrap_err();
    assert!(
        matches!(
            e,
            GenesisError::NotAdmin {
                role: Role::Client,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn signer_from_a_foreign_ca_is_refused() {
    let f = fixture();
    let cfg = f.config();
    let impostor = Org::new("HospMSP").member("HospMSP", "admin.HospMSP", "admin");
    let (b, c) = (f.admin("CdmoMSP"), f.admin("SponsorMSP"));
    let e = build(&cfg, &[&b, &c, &impostor]).unwrap_err();
    assert!(matches!(e, GenesisError::BadSigner { .. }), "{e}");
}

#[test]
fn the_same_admin_twice_counts_once() {
    let f = fixture();
    let cfg = f.config();
    let (a, b) = (f.admin("HospMSP"), f.admin("CdmoMSP"));
    let e = build(&cfg, &[&a, &b, &a]).unwrap_err();
    assert!(matches!(e, GenesisError::DuplicateSigner { .. }), "{e}");
}

#[test]
fn tampering_with_the_configuration_is_detected() {
    let f = fixture();
    let cfg = f.config();
    let admins: Vec<Member> = ["HospMSP", "CdmoMSP", "SponsorMSP"]
        .iter()
        .map(|m| f.admin(m))
        .collect();
    let block = build(&cfg, &admins.iter().collect::<Vec<_>>()).unwrap();

    // Rewrite the batch size inside the config and re-sign the envelope as the
    // creator: the admins' configuration signatures no longer match.
    let mut payload = block.data.envelopes[0].parse_payload().unwrap();
    let PayloadData::Config(tx) = &mut payload.data else {
        panic!()
    };
    let mut changed = cfg.clone();
    changed.orderer.batch.max_message_count = 1;
    tx.config = encode(&changed);
    let env = crate::protocol::Envelope::sign(&payload, admins[0].signer.as_ref()).unwrap();
    let forged = crate::protocol::Block::new(0, crate::bytes::Hash32::ZERO, vec![env], 0);
    let e = verify_genesis_block(&forged, &RingProvider).unwrap_err();
    assert!(
        matches!(
            e,
            GenesisError::BadSignature {
                what: "configuration",
                ..
            }
        ),
        "{e}"
    );

    // Changing the envelope without re-signing breaks the data hash first.
    let mut broken = block.clone();
    broken.data.envelopes[0].payload.0[10] ^= 1;
    assert!(matches!(
        verify_genesis_block(&broken, &RingProvider),
        Err(GenesisError::Protocol(_))
    ));

    let mut later = block;
    later.header.number = 1;
    assert!(matches!(
        verify_genesis_block(&later, &RingProvider),
        Err(GenesisError::NotGenesis { number: 1, .. })
    ));
}

#[test]
fn consenter_certificate_must_have_the_orderer_role() {
    let mut f = fixture();
    let peer = f.orgs["CdmoMSP"].member("CdmoMSP", "o1", "peer");
    f.materials.orderer_certs.insert("o1".into(), peer.id.cert);
    let e = f.net.channel_config("ch", &f.materials, NOW).unwrap_err();
    assert!(
        matches!(&e, ConfigError::Material { reason, .. } if reason.contains("orderer")),
        "{e}"
    );
}

#[test]
fn unknown_channel_lists_the_known_ones() {
    let f = fixture();
    let e = f.net.channel_config("nope", &f.materials, NOW).unwrap_err();
    assert_eq!(
        e,
        ConfigError::UnknownChannel {
            name: "nope".into(),
            known: "ch".into()
        }
    );
}

#[test]
fn read_only_member_reads_but_never_writes() {
    let f = fixture();
    let cfg = f.config();
    let msps = cfg.msp_set().unwrap();
    let id = |m: &Member| -> Identity { msps.validate(&m.id, NOW).unwrap() };
    let inspector = id(&f.orgs["AuditMSP"].member("AuditMSP", "inspector", "client"));
    let nurse = id(&f.orgs["HospMSP"].member("HospMSP", "nurse", "client"));
    let peer = id(&f.orgs["HospMSP"].member("HospMSP", "peer0", "peer"));

    assert!(cfg
        .check_acl("orderer/Deliver", std::slice::from_ref(&inspector))
        .unwrap());
    assert!(!cfg
        .check_acl("orderer/Broadcast", std::slice::from_ref(&inspector))
        .unwrap());
    assert!(!cfg
        .check_acl("peer/Propose", std::slice::from_ref(&inspector))
        .unwrap());
    assert!(cfg
        .check_acl("peer/Propose", std::slice::from_ref(&nurse))
        .unwrap());
    // A peer is a member (reads) but by default not a writer.
    assert!(cfg
        .check_acl("event/Block", std::slice::from_ref(&peer))
        .unwrap());
    assert!(!cfg
        .check_acl("orderer/Broadcast", std::slice::from_ref(&peer))
        .unwrap());
    assert!(cfg.check_acl("no/Such", &[nurse]).is_err());
}

#[test]
fn endorsement_majority_counts_only_organisations_that_endorse() {
    let f = fixture();
    let cfg = f.config();
    let msps = cfg.msp_set().unwrap();
    let peer = |msp: &str| {
        msps.validate(&f.orgs[msp].member(msp, "peer0", "peer").id, NOW)
            .unwrap()
    };
    // Three organisations endorse (the auditor does not): MAJORITY is two.
    assert!(cfg
        .evaluate_policy("Endorsement", &[peer("HospMSP"), peer("CdmoMSP")])
        .unwrap());
    assert!(!cfg
        .evaluate_policy("Endorsement", &[peer("HospMSP")])
        .unwrap());
    let _ = RingProvider.name();
}
