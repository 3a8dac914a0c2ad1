//! Unit-test fixtures: a one-organisation channel with a real consenter
//! certificate and a real, signed genesis block.

use cellchain_core::config::{
    create_genesis_block, default_acls, ChannelConfig, ChannelPolicies, ConfigSigner, Consenter,
    OrdererConfig, OrgConfig, OrgPolicies,
};
use cellchain_core::crypto::{default_provider, random_nonce};
use cellchain_core::identity::Revocation;
use cellchain_core::protocol::{Block, Timestamp};
use cellchain_core::testing::{TestCa, TestMember};

pub struct Fixture {
    pub config: ChannelConfig,
    pub genesis: Block,
    pub orderer: TestMember,
    /// A valid member of the channel with the orderer role, not a consenter.
    pub rogue: TestMember,
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub fn fixture() -> Fixture {
    let ca = TestCa::new("Org1MSP");
    let orderer = ca.member("Org1MSP", "orderer0", "orderer");
    let rogue = ca.member("Org1MSP", "orderer9", "orderer");
    let admin = ca.member("Org1MSP", "admin", "admin");
    let config = ChannelConfig {
        channel_id: "ch".into(),
        sequence: 0,
        organizations: vec![OrgConfig {
            msp_id: "Org1MSP".into(),
            name: "Org1".into(),
            read_only: false,
            ca_certs: vec![ca.pem()],
            revocation: Revocation::default(),
            policies: OrgPolicies::defaults_for("Org1MSP", false),
        }],
        orderer: OrdererConfig {
            consenters: vec![Consenter {
                id: 1,
                name: "orderer0".into(),
                msp_id: "Org1MSP".into(),
                endpoint: "127.0.0.1:1".into(),
                cert: orderer.id.cert.clone(),
            }],
            batch: Default::default(),
            raft: Default::default(),
        },
        policies: ChannelPolicies::default(),
        acls: default_acls(),
    };
    let genesis = create_genesis_block(
        &config,
        &[ConfigSigner {
            identity: admin.id.clone(),
            signer: admin.signer.as_ref(),
        }],
        default_provider(),
        Timestamp {
            seconds: now(),
            nanos: 0,
        },
        random_nonce(),
    )
    .unwrap();
    Fixture {
        config,
        genesis,
        orderer,
        rogue,
    }
}

/// An empty block after `previous`, signed by `signer` when given.
pub fn block_after(previous: &Block, signer: Option<&TestMember>) -> Block {
    let mut b = Block::new(previous.header.number + 1, previous.hash(), vec![], 0);
    if let Some(s) = signer {
        b.sign(s.id.clone(), s.signer.as_ref()).unwrap();
    }
    b
}
