//! Unit-test fixtures: a channel of two organisations (Org1 runs the orderer)
//! with a real consenter certificate and a real, signed genesis block; chaincode
//! definitions with private data collections (built directly, for in-process
//! tests); and really endorsed transactions that write private keys, public
//! keys, or commit a chaincode definition through `_lifecycle`.

use cellchain_core::bytes::sha256;
use cellchain_core::config::{
    create_genesis_block, default_acls, ChannelConfig, ChannelPolicies, ConfigSigner, Consenter,
    OrdererConfig, OrgConfig, OrgPolicies,
};
use cellchain_core::crypto::{default_provider, random_nonce};
use cellchain_core::identity::Revocation;
use cellchain_core::lifecycle::{
    definition_key, encode_definition, LIFECYCLE, LIFECYCLE_SEQUENCE, LIFECYCLE_VERSION,
};
use cellchain_core::policy::SignaturePolicy;
use cellchain_core::protocol::{
    encode, Block, ChaincodeRef, ChaincodeResponse, CollectionHashedRwSet, Endorsement,
    EndorserTransaction, Envelope, Header, KvWrite, KvWriteHash, NsRwSet, Payload, PayloadData,
    Proposal, ProposalResponsePayload, Timestamp, TxId, TxRwSet,
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
    /// Org1's admin (the creator of lifecycle commits) and Org2's peer.
    pub admin: TestMember,
    pub peer2: TestMember,
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
        peer2: ca2.member("Org2MSP", "peer2", "peer"),
        admin,
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
            wasm_hash: sha256(b"cc module"),
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
    endorsed_tx(f, &f.client, cc_ref("1.0", 1), rwset, &[&f.peer])
}

/// `cc` at `version`/`sequence`.
pub fn cc_ref(version: &str, sequence: u64) -> ChaincodeRef {
    ChaincodeRef {
        name: "cc".into(),
        version: version.into(),
        sequence,
    }
}

/// A transaction of Org1's client, endorsed by Org1's peer under `cc`
/// `version`/`sequence`, that writes the public key `key`.
pub fn public_tx(f: &Fixture, version: &str, sequence: u64, key: &str) -> (Envelope, TxId) {
    let rwset = TxRwSet {
        ns_rwsets: vec![NsRwSet {
            namespace: "cc".into(),
            writes: vec![KvWrite {
                key: key.into(),
                is_delete: false,
                value: Bytes(b"v".to_vec()),
            }],
            ..NsRwSet::default()
        }],
    };
    endorsed_tx(f, &f.client, cc_ref(version, sequence), rwset, &[&f.peer])
}

/// A `_lifecycle` commit of `def` by Org1's admin, endorsed by `endorsers`
/// (the channel's `LifecycleEndorsement` is both organisations' peers).
pub fn lifecycle_commit(
    f: &Fixture,
    def: &ChaincodeDefinition,
    endorsers: &[&TestMember],
) -> (Envelope, TxId) {
    let rwset = TxRwSet {
        ns_rwsets: vec![NsRwSet {
            namespace: LIFECYCLE.into(),
            writes: vec![KvWrite {
                key: definition_key(&def.name),
                is_delete: false,
                value: Bytes(encode_definition(def)),
            }],
            ..NsRwSet::default()
        }],
    };
    let lifecycle = ChaincodeRef {
        name: LIFECYCLE.into(),
        version: LIFECYCLE_VERSION.into(),
        sequence: LIFECYCLE_SEQUENCE,
    };
    endorsed_tx(f, &f.admin, lifecycle, rwset, endorsers)
}

/// A transaction of `creator` invoking `chaincode` with `rwset`, endorsed by
/// `endorsers`. Returns the envelope and its tx id.
pub fn endorsed_tx(
    f: &Fixture,
    creator: &TestMember,
    chaincode: ChaincodeRef,
    rwset: TxRwSet,
    endorsers: &[&TestMember],
) -> (Envelope, TxId) {
    let header = Header::new(
        &f.config.channel_id,
        creator.id.clone(),
        random_nonce(),
        Timestamp {
            seconds: now(),
            nanos: 0,
        },
    );
    let tx_id = header.tx_id;
    let proposal = encode(&Proposal {
        header: header.clone(),
        chaincode: chaincode.name.clone(),
        function: "f".into(),
        args: vec![],
        transient_digest: None,
    });
    let response_payload = encode(&ProposalResponsePayload {
        proposal_hash: sha256(&proposal),
        chaincode,
        rwset,
        events: vec![],
        response: ChaincodeResponse {
            status: 200,
            message: String::new(),
            payload: Bytes::default(),
        },
    });
    let endorsements = endorsers
        .iter()
        .map(|e| Endorsement::sign(&response_payload, e.id.clone(), e.signer.as_ref()).unwrap())
        .collect();
    let payload = Payload {
        header,
        data: PayloadData::Endorser(EndorserTransaction {
            proposal,
            response_payload,
            endorsements,
        }),
    };
    (
        Envelope::sign(&payload, creator.signer.as_ref()).unwrap(),
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
