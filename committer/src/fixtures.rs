//! Unit-test fixtures: a channel of two organisations (Org1 runs the orderer)
//! with a real consenter certificate and a real, signed genesis block; chaincode
//! definitions with private data collections; and really endorsed transactions
//! that write private keys.

use cellchain_core::bytes::sha256;
use cellchain_core::config::{
    create_genesis_block, default_acls, ChannelConfig, ChannelPolicies, ConfigSigner, Consenter,
    OrdererConfig, OrgConfig, OrgPolicies,
};
use cellchain_core::crypto::{default_provider, random_nonce};
use cellchain_core::identity::Revocation;
use cellchain_core::policy::SignaturePolicy;
use cellchain_core::protocol::{
    encode, Block, ChaincodeRef, ChaincodeResponse, CollectionHashedRwSet, Endorsement,
    EndorserTransaction, Envelope, Header, KvWriteHash, NsRwSet, Payload, PayloadData, Proposal,
    ProposalResponsePayload, Timestamp, TxId, TxRwSet,
};
use cellchain_core::testing::{TestCa, TestMember};
use cellchain_core::{Bytes, Hash32};
use cellchain_validation::{
    ChaincodeDefinition, CollectionConfig, DefinitionSet, EndorsementPolicy,
};

pub struct Fixture {
    pub config: ChannelConfig,
    pub genesis: Block,
    pub orderer: TestMember,
    /// A valid member of the channel with the orderer role, not a consenter.
    pub rogue: TestMember,
    /// Org1's client and peer (the endorser of [`private_tx`]).
    pub client: TestMember,
    pub peer: TestMember,
    /// Org2's client.
    pub client2: TestMember,
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
    let ca2 = TestCa::new("Org2MSP");
    let admin2 = ca2.member("Org2MSP", "admin", "admin");
    let org = |msp: &str, ca: &TestCa| OrgConfig {
        msp_id: msp.into(),
        name: msp.trim_end_matches("MSP").into(),
        read_only: false,
        ca_certs: vec![ca.pem()],
        revocation: Revocation::default(),
        policies: OrgPolicies::defaults_for(msp, false),
    };
    let config = ChannelConfig {
        channel_id: "ch".into(),
        sequence: 0,
        organizations: vec![org("Org1MSP", &ca), org("Org2MSP", &ca2)],
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
        &[
            ConfigSigner {
                identity: admin.id.clone(),
                signer: admin.signer.as_ref(),
            },
            ConfigSigner {
                identity: admin2.id.clone(),
                signer: admin2.signer.as_ref(),
            },
        ],
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
        client: ca.member("Org1MSP", "client1", "client"),
        peer: ca.member("Org1MSP", "peer1", "peer"),
        client2: ca2.member("Org2MSP", "client2", "client"),
    }
}

/// Chaincode `cc` 1.0/1, endorsed by any Org1 peer, with two private data
/// collections: `secret` (members: Org1, kept for ever) and `theirs` (members:
/// Org2, written by anyone).
pub fn definitions() -> DefinitionSet {
    let collection = |name: &str, member: &str| CollectionConfig {
        name: name.into(),
        member_orgs: vec![member.into()],
        required_peer_count: 0,
        block_to_live: 0,
        member_only_read: true,
        member_only_write: false,
    };
    let mut set = DefinitionSet::default();
    set.0.insert(
        "cc".into(),
        ChaincodeDefinition {
            name: "cc".into(),
            version: "1.0".into(),
            sequence: 1,
            endorsement_policy: EndorsementPolicy::Signature(
                SignaturePolicy::parse("OR('Org1MSP.peer')").unwrap(),
            ),
            collections: vec![
                collection("secret", "Org1MSP"),
                collection("theirs", "Org2MSP"),
            ],
        },
    );
    set
}

/// A private write of a test transaction: collection, key, value (`None`: delete).
pub type KeyWrite<'a> = (&'a str, &'a str, Option<&'a [u8]>);

/// A transaction of Org1's client, endorsed by Org1's peer, that writes the
/// private keys `writes` (collection, key, value; `None` deletes) of `cc` as
/// hashes. Returns the envelope and its tx id.
pub fn private_tx(f: &Fixture, writes: &[KeyWrite<'_>]) -> (Envelope, TxId) {
    let mut collections: Vec<CollectionHashedRwSet> = Vec::new();
    for (coll, key, value) in writes {
        let write = KvWriteHash {
            key_hash: sha256(key.as_bytes()),
            is_delete: value.is_none(),
            value_hash: value.map(sha256),
        };
        match collections.iter_mut().find(|c| c.collection == *coll) {
            Some(c) => c.hashed_writes.push(write),
            None => collections.push(CollectionHashedRwSet {
                collection: coll.to_string(),
                hashed_reads: vec![],
                hashed_writes: vec![write],
                pvt_rwset_hash: Hash32::ZERO,
            }),
        }
    }
    let rwset = TxRwSet {
        ns_rwsets: vec![NsRwSet {
            namespace: "cc".into(),
            collections,
            ..NsRwSet::default()
        }],
    };
    let header = Header::new(
        "ch",
        f.client.id.clone(),
        random_nonce(),
        Timestamp {
            seconds: now(),
            nanos: 0,
        },
    );
    let tx_id = header.tx_id;
    let proposal = encode(&Proposal {
        header: header.clone(),
        chaincode: "cc".into(),
        function: "put".into(),
        args: vec![],
        transient_digest: None,
    });
    let response_payload = encode(&ProposalResponsePayload {
        proposal_hash: sha256(&proposal),
        chaincode: ChaincodeRef {
            name: "cc".into(),
            version: "1.0".into(),
            sequence: 1,
        },
        rwset,
        events: vec![],
        response: ChaincodeResponse {
            status: 200,
            message: String::new(),
            payload: Bytes::default(),
        },
    });
    let endorsement =
        Endorsement::sign(&response_payload, f.peer.id.clone(), f.peer.signer.as_ref()).unwrap();
    let payload = Payload {
        header,
        data: PayloadData::Endorser(EndorserTransaction {
            proposal,
            response_payload,
            endorsements: vec![endorsement],
        }),
    };
    (
        Envelope::sign(&payload, f.client.signer.as_ref()).unwrap(),
        tx_id,
    )
}

/// A block after `previous` holding `envelopes`, signed by the consenter.
pub fn block_with(f: &Fixture, previous: &Block, envelopes: Vec<Envelope>) -> Block {
    let mut b = Block::new(previous.header.number + 1, previous.hash(), envelopes, 0);
    b.sign(f.orderer.id.clone(), f.orderer.signer.as_ref())
        .unwrap();
    b
}

/// An empty block after `previous`, signed by `signer` when given.
pub fn block_after(previous: &Block, signer: Option<&TestMember>) -> Block {
    let mut b = Block::new(previous.header.number + 1, previous.hash(), vec![], 0);
    if let Some(s) = signer {
        b.sign(s.id.clone(), s.signer.as_ref()).unwrap();
    }
    b
}
