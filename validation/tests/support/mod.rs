//! Fixtures for validation tests and benches: a two-organisation channel with
//! real certificates (`TestCa`), real signed envelopes, and test fakes of the
//! committer's traits (`MemState`, `MemDefinitions`).
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};

use cellchain_core::bytes::{sha256, Bytes, Hash32};
use cellchain_core::config::{
    default_acls, ChannelConfig, ChannelPolicies, OrdererConfig, OrgConfig, OrgPolicies,
};
use cellchain_core::crypto::{default_provider, CryptoProvider};
use cellchain_core::identity::{MspSet, Revocation};
use cellchain_core::policy::SignaturePolicy;
use cellchain_core::protocol::{
    encode, Block, ChaincodeRef, ChaincodeResponse, Endorsement, EndorserTransaction, Envelope,
    Header, KvMetadataWrite, KvRead, KvWrite, NsRwSet, Payload, PayloadData, Proposal,
    ProposalResponsePayload, RangeQueryInfo, Timestamp, TxId, TxRwSet, Version,
    VALIDATION_PARAMETER,
};
use cellchain_core::testing::{TestCa, TestMember};
use cellchain_validation::{
    validate_block, ChaincodeDefinition, CommittedState, Definitions, EndorsementPolicy,
    StateError, ValidatedBlock,
};

pub const CHANNEL: &str = "ch1";
pub const CC: &str = "cc";
pub const NOW: i64 = 1_790_000_000;
pub const AND_POLICY: &str = "AND('Org1MSP.peer', 'Org2MSP.peer')";

/// A channel of two organisations, each with a client and a peer (Org1 has two peers).
pub struct Net {
    pub org1: TestCa,
    pub org2: TestCa,
    pub client1: TestMember,
    pub client2: TestMember,
    pub peer1: TestMember,
    pub peer1b: TestMember,
    pub peer2: TestMember,
    pub admin1: TestMember,
    pub admin2: TestMember,
    pub channel: ChannelConfig,
    pub msps: MspSet,
    nonce: AtomicU64,
}

impl Net {
    pub fn new() -> Net {
        let org1 = TestCa::new("Org1MSP");
        let org2 = TestCa::new("Org2MSP");
        let org = |msp: &str, ca: &TestCa| OrgConfig {
            msp_id: msp.into(),
            name: msp.into(),
            read_only: false,
            ca_certs: vec![ca.pem()],
            revocation: Revocation::default(),
            policies: OrgPolicies::defaults_for(msp, false),
        };
        let channel = ChannelConfig {
            channel_id: CHANNEL.into(),
            sequence: 0,
            organizations: vec![org("Org1MSP", &org1), org("Org2MSP", &org2)],
            orderer: OrdererConfig {
                consenters: vec![],
                batch: Default::default(),
                raft: Default::default(),
            },
            policies: ChannelPolicies::default(),
            acls: default_acls(),
        };
        let msps = channel.msp_set().expect("channel MSPs");
        Net {
            client1: org1.member("Org1MSP", "client1", "client"),
            client2: org2.member("Org2MSP", "client2", "client"),
            peer1: org1.member("Org1MSP", "peer1", "peer"),
            peer1b: org1.member("Org1MSP", "peer1b", "peer"),
            peer2: org2.member("Org2MSP", "peer2", "peer"),
            admin1: org1.member("Org1MSP", "admin1", "admin"),
            admin2: org2.member("Org2MSP", "admin2", "admin"),
            org1,
            org2,
            channel,
            msps,
            nonce: AtomicU64::new(1),
        }
    }

    /// A transaction of `client1` invoking `cc` 1.0/1, endorsed by both peers.
    pub fn tx(&self, rwset: TxRwSet) -> Tx<'_> {
        let n = self.nonce.fetch_add(1, Ordering::Relaxed);
        let mut nonce = vec![7u8; 24];
        nonce[..8].copy_from_slice(&n.to_be_bytes());
        Tx {
            creator: &self.client1,
            channel: CHANNEL.into(),
            chaincode: ChaincodeRef {
                name: CC.into(),
                version: "1.0".into(),
                sequence: 1,
            },
            rwset,
            status: 200,
            endorsers: vec![&self.peer1, &self.peer2],
            nonce,
            timestamp: Timestamp {
                seconds: NOW,
                nanos: 0,
            },
        }
    }

    /// Validates with the default definitions (`cc` 1.0/1 under [`AND_POLICY`]).
    pub fn validate(&self, state: &MemState, envelopes: Vec<Envelope>) -> ValidatedBlock {
        self.validate_with(state, &MemDefinitions::standard(), envelopes, 1)
    }

    pub fn validate_with(
        &self,
        state: &MemState,
        defs: &MemDefinitions,
        envelopes: Vec<Envelope>,
        workers: usize,
    ) -> ValidatedBlock {
        let block = Block::new(state.height, Hash32::ZERO, envelopes, 0);
        validate_block(
            &block,
            &self.channel,
            &self.msps,
            state,
            defs,
            default_provider(),
            workers,
        )
        .expect("state readable")
    }
}

/// One transaction being built; every field can be bent by a test.
pub struct Tx<'a> {
    pub creator: &'a TestMember,
    pub channel: String,
    pub chaincode: ChaincodeRef,
    pub rwset: TxRwSet,
    pub status: u16,
    pub endorsers: Vec<&'a TestMember>,
    pub nonce: Vec<u8>,
    pub timestamp: Timestamp,
}

impl<'a> Tx<'a> {
    pub fn creator(mut self, m: &'a TestMember) -> Self {
        self.creator = m;
        self
    }
    pub fn endorsers(mut self, e: &[&'a TestMember]) -> Self {
        self.endorsers = e.to_vec();
        self
    }
    pub fn header(&self) -> Header {
        Header::new(
            &self.channel,
            self.creator.id.clone(),
            self.nonce.clone(),
            self.timestamp,
        )
    }
    pub fn tx_id(&self) -> TxId {
        self.header().tx_id
    }

    /// The payload with its proposal, response payload and endorsements.
    pub fn payload(&self) -> Payload {
        let header = self.header();
        let proposal = encode(&Proposal {
            header: header.clone(),
            chaincode: self.chaincode.name.clone(),
            function: "f".into(),
            args: vec![],
            transient_digest: None,
        });
        let response_payload = encode(&ProposalResponsePayload {
            proposal_hash: sha256(&proposal),
            chaincode: self.chaincode.clone(),
            rwset: self.rwset.clone(),
            events: vec![],
            response: ChaincodeResponse {
                status: self.status,
                message: String::new(),
                payload: Bytes::default(),
            },
        });
        let endorsements = self
            .endorsers
            .iter()
            .map(|m| Endorsement::sign(&response_payload, m.id.clone(), m.signer.as_ref()).unwrap())
            .collect();
        Payload {
            header,
            data: PayloadData::Endorser(EndorserTransaction {
                proposal,
                response_payload,
                endorsements,
            }),
        }
    }

    /// The envelope, signed by the creator.
    pub fn envelope(&self) -> Envelope {
        Envelope::sign(&self.payload(), self.creator.signer.as_ref()).unwrap()
    }
}

// ---- read/write set helpers ----

pub fn v(block: u64, tx: u32) -> Version {
    Version { block, tx }
}

pub fn ns(name: &str) -> NsRwSet {
    NsRwSet {
        namespace: name.into(),
        ..NsRwSet::default()
    }
}

pub fn rwset(nss: Vec<NsRwSet>) -> TxRwSet {
    TxRwSet { ns_rwsets: nss }
}

/// Blind write of `value` to `key` in `cc`.
pub fn write(key: &str, value: &[u8]) -> TxRwSet {
    rwset(vec![NsRwSet {
        writes: vec![kv_write(key, value)],
        ..ns(CC)
    }])
}

pub fn kv_write(key: &str, value: &[u8]) -> KvWrite {
    KvWrite {
        key: key.into(),
        is_delete: false,
        value: Bytes(value.to_vec()),
    }
}

pub fn kv_read(key: &str, version: Option<Version>) -> KvRead {
    KvRead {
        key: key.into(),
        version,
    }
}

/// Sets the key-level policy of `key` in `cc` (metadata write only).
pub fn set_policy(key: &str, policy: &str) -> KvMetadataWrite {
    KvMetadataWrite {
        key: key.into(),
        entries: BTreeMap::from([(
            VALIDATION_PARAMETER.to_string(),
            Bytes(policy.as_bytes().to_vec()),
        )]),
    }
}

pub fn range(start: &str, end: &str, exhausted: bool, reads: Vec<KvRead>) -> RangeQueryInfo {
    RangeQueryInfo {
        start_key: start.into(),
        end_key: end.into(),
        itr_exhausted: exhausted,
        reads,
    }
}

// ---- test fakes of the committer's traits ----

/// In-memory committed state (a test fake of the committer's store).
#[derive(Default)]
pub struct MemState {
    /// The number of the block being validated.
    pub height: u64,
    pub values: BTreeMap<(String, String), Version>,
    pub policies: HashMap<(String, String), String>,
    pub private: HashMap<(String, String, Hash32), Version>,
    pub committed: HashSet<TxId>,
}

impl MemState {
    pub fn at(height: u64) -> MemState {
        MemState {
            height,
            ..MemState::default()
        }
    }
    pub fn put(&mut self, ns: &str, key: &str, version: Version) {
        self.values.insert((ns.into(), key.into()), version);
    }
    pub fn set_policy(&mut self, ns: &str, key: &str, policy: &str) {
        self.policies.insert((ns.into(), key.into()), policy.into());
    }
}

impl CommittedState for MemState {
    fn version(&self, ns: &str, key: &str) -> Result<Option<Version>, StateError> {
        Ok(self.values.get(&(ns.into(), key.into())).copied())
    }
    fn range(
        &self,
        ns: &str,
        start: &str,
        end: &str,
        limit: usize,
    ) -> Result<Vec<(String, Version)>, StateError> {
        let rows = self
            .values
            .range((ns.to_string(), start.to_string())..)
            .take_while(|((n, k), _)| n == ns && (end.is_empty() || k.as_str() < end))
            .map(|((_, k), v)| (k.clone(), *v));
        Ok(if limit == 0 {
            rows.collect()
        } else {
            rows.take(limit).collect()
        })
    }
    fn key_policy(&self, ns: &str, key: &str) -> Result<Option<String>, StateError> {
        Ok(self.policies.get(&(ns.into(), key.into())).cloned())
    }
    fn private_version(
        &self,
        ns: &str,
        collection: &str,
        key_hash: &Hash32,
    ) -> Result<Option<Version>, StateError> {
        Ok(self
            .private
            .get(&(ns.into(), collection.into(), *key_hash))
            .copied())
    }
    fn is_committed(&self, tx_id: &TxId) -> Result<bool, StateError> {
        Ok(self.committed.contains(tx_id))
    }
}

/// Chaincode definitions by name (a test fake).
pub struct MemDefinitions(pub HashMap<String, ChaincodeDefinition>);

impl MemDefinitions {
    /// `cc` 1.0, sequence 1, under [`AND_POLICY`]; `other` likewise.
    pub fn standard() -> MemDefinitions {
        MemDefinitions::with_policy(EndorsementPolicy::Signature(
            SignaturePolicy::parse(AND_POLICY).unwrap(),
        ))
    }

    pub fn with_policy(policy: EndorsementPolicy) -> MemDefinitions {
        let def = |name: &str| ChaincodeDefinition {
            name: name.into(),
            version: "1.0".into(),
            sequence: 1,
            wasm_hash: cellchain_core::bytes::sha256(name.as_bytes()),
            endorsement_policy: policy.clone(),
            collections: vec![],
        };
        MemDefinitions(HashMap::from([
            (CC.to_string(), def(CC)),
            ("other".to_string(), def("other")),
        ]))
    }
}

impl Definitions for MemDefinitions {
    fn definition(&self, chaincode: &str) -> Option<ChaincodeDefinition> {
        self.0.get(chaincode).cloned()
    }
}

pub fn provider() -> &'static dyn CryptoProvider {
    default_provider()
}
