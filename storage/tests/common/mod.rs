//! Helpers shared by the storage tests: chains of plain blocks, raw access to the
//! record format, and a channel with real certificates (rcgen) for verification.

#![allow(dead_code)] // each test file uses a different part

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use cellchain_core::config::{
    create_genesis_block, ConfigSigner, Materials, NetworkConfig, OrgMaterial,
};
use cellchain_core::crypto::RingProvider;
use cellchain_core::protocol::{
    encode, Block, EndorserTransaction, Envelope, Header, Payload, PayloadData, Timestamp,
};
use cellchain_core::{Bytes, Hash32};

// ---------------------------------------------------------------- plain chains

/// An envelope the store does not look into (it never validates transactions).
pub fn envelope(i: u64) -> Envelope {
    Envelope {
        payload: Bytes(format!("{{\"tx\":{i}}}").into_bytes()),
        signature: Bytes(vec![i as u8; 8]),
    }
}

/// The block after `prev` (or block 0) holding `count` envelopes.
pub fn next_block(prev: Option<&Block>, count: u64) -> Block {
    let (number, previous_hash) = match prev {
        Some(p) => (p.header.number + 1, p.hash()),
        None => (0, Hash32::ZERO),
    };
    let envelopes = (0..count).map(|i| envelope(number * 1000 + i)).collect();
    Block::new(number, previous_hash, envelopes, 0)
}

/// `n` chained blocks of `per_block` envelopes each.
pub fn chain(n: u64, per_block: u64) -> Vec<Block> {
    let mut blocks: Vec<Block> = Vec::new();
    for _ in 0..n {
        let b = next_block(blocks.last(), per_block);
        blocks.push(b);
    }
    blocks
}

// ---------------------------------------------------------------- raw records

pub fn segment(dir: &Path, id: u32) -> PathBuf {
    dir.join(format!("blocks_{id:06}.dat"))
}

/// One record as found in a segment file.
#[derive(Debug, Clone, Copy)]
pub struct RawRecord {
    pub offset: u64,
    pub number: u64,
    pub len: u32,
}

/// Parses the records of an intact segment file (test-side reading of the format).
pub fn records(path: &Path) -> Vec<RawRecord> {
    let data = std::fs::read(path).unwrap();
    let mut out = Vec::new();
    let mut off = 0usize;
    while off + 20 <= data.len() {
        assert_eq!(&data[off..off + 4], b"CCB1", "record magic at {off}");
        let number = u64::from_be_bytes(data[off + 4..off + 12].try_into().unwrap());
        let len = u32::from_be_bytes(data[off + 12..off + 16].try_into().unwrap());
        out.push(RawRecord {
            offset: off as u64,
            number,
            len,
        });
        off += 20 + len as usize;
    }
    out
}

/// Appends a record for `block` without any of the store's checks: how a forger or
/// a buggy writer would put a bad block on disk.
pub fn write_raw(path: &Path, block: &Block) {
    let bytes = encode(block).0;
    let mut rec = Vec::new();
    rec.extend_from_slice(b"CCB1");
    rec.extend_from_slice(&block.header.number.to_be_bytes());
    rec.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    rec.extend_from_slice(&crc32fast::hash(&bytes).to_be_bytes());
    rec.extend_from_slice(&bytes);
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(&rec).unwrap();
}

/// Flips the low bit of the byte at `offset`.
pub fn flip_byte(path: &Path, offset: u64) {
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let mut b = [0u8; 1];
    f.seek(SeekFrom::Start(offset)).unwrap();
    f.read_exact(&mut b).unwrap();
    b[0] ^= 1;
    f.seek(SeekFrom::Start(offset)).unwrap();
    f.write_all(&b).unwrap();
}

pub fn append_bytes(path: &Path, bytes: &[u8]) {
    let mut f = OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(bytes).unwrap();
}

pub fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).unwrap().len()
}

pub fn truncate(path: &Path, len: u64) {
    OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len)
        .unwrap();
}

// ---------------------------------------------------------------- a real channel

/// The time the genesis block is made.
pub const NOW: i64 = 1_790_000_000;

const NET: &str = r#"
name: test
organizations:
  - { msp_id: HospMSP, name: Hospital, users: [{ name: admin, role: admin }, { name: nurse, role: client }] }
  - { msp_id: CdmoMSP, name: CDMO, users: [{ name: admin, role: admin }] }
orderers:
  - { name: o1, org: CdmoMSP, port: 7050 }
  - { name: o2, org: HospMSP, port: 7051 }
  - { name: o3, org: CdmoMSP, port: 7052 }
channels:
  - name: ch
    organizations: [HospMSP, CdmoMSP]
    consenters: [o1, o2]
"#;

pub use cellchain_core::testing::{TestCa as Org, TestMember as Member};

/// Channel `ch` of HospMSP and CdmoMSP, ordered by consenters o1 (CdmoMSP) and o2
/// (HospMSP); o3 is a valid orderer of CdmoMSP that is not a consenter.
pub struct Channel {
    pub genesis: Block,
    /// o1's certificate expires at [`O1_NOT_AFTER`].
    pub o1: Member,
    pub o2: Member,
    pub o3: Member,
    pub nurse: Member,
}

/// When consenter o1's certificate expires.
pub const O1_NOT_AFTER: i64 = NOW + 100_000;

impl Channel {
    pub fn new() -> Channel {
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
        let o1 = orgs["CdmoMSP"].member_until("CdmoMSP", "o1", "orderer", O1_NOT_AFTER);
        let o2 = orgs["HospMSP"].member("HospMSP", "o2", "orderer");
        let o3 = orgs["CdmoMSP"].member("CdmoMSP", "o3", "orderer");
        for (name, m) in [("o1", &o1), ("o2", &o2), ("o3", &o3)] {
            materials
                .orderer_certs
                .insert(name.to_string(), m.id.cert.clone());
        }
        let config = net.channel_config("ch", &materials, NOW).unwrap();
        let admins: Vec<Member> = ["HospMSP", "CdmoMSP"]
            .iter()
            .map(|m| orgs[*m].member(m, &format!("admin.{m}"), "admin"))
            .collect();
        let signers: Vec<ConfigSigner> = admins
            .iter()
            .map(|m| ConfigSigner {
                identity: m.id.clone(),
                signer: m.signer.as_ref(),
            })
            .collect();
        let genesis = create_genesis_block(
            &config,
            &signers,
            &RingProvider,
            Timestamp {
                seconds: NOW,
                nanos: 0,
            },
            vec![1; 24],
        )
        .unwrap();
        let nurse = orgs["HospMSP"].member("HospMSP", "nurse", "client");
        Channel {
            genesis,
            o1,
            o2,
            o3,
            nurse,
        }
    }

    /// A transaction by the nurse made at `seconds`. Its content is not validated by
    /// the store or by `verify_ledger`; its timestamp is the block's time.
    pub fn tx(&self, seconds: i64, i: u8) -> Envelope {
        let payload = Payload {
            header: Header::new(
                "ch",
                self.nurse.id.clone(),
                vec![i; 24],
                Timestamp { seconds, nanos: 0 },
            ),
            data: PayloadData::Endorser(EndorserTransaction {
                proposal: Bytes(b"{}".to_vec()),
                response_payload: Bytes(b"{}".to_vec()),
                endorsements: vec![],
            }),
        };
        Envelope::sign(&payload, self.nurse.signer.as_ref()).unwrap()
    }

    /// The block after `prev` with two transactions at `seconds`, signed by `by`.
    pub fn block_at(&self, prev: &Block, seconds: i64, by: &[&Member]) -> Block {
        let n = prev.header.number as u8;
        let mut b = Block::new(
            prev.header.number + 1,
            prev.hash(),
            vec![self.tx(seconds, 2 * n), self.tx(seconds, 2 * n + 1)],
            0,
        );
        for m in by {
            b.sign(m.id.clone(), m.signer.as_ref()).unwrap();
        }
        b
    }

    /// `n` blocks after genesis, each signed by o1, an hour apart.
    pub fn signed_chain(&self, n: u64) -> Vec<Block> {
        let mut blocks = vec![self.genesis.clone()];
        for i in 1..=n {
            let b = self.block_at(blocks.last().unwrap(), NOW + 3600 * i as i64, &[&self.o1]);
            blocks.push(b);
        }
        blocks
    }
}

impl Default for Channel {
    fn default() -> Self {
        Channel::new()
    }
}
