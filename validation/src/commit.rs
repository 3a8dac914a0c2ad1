//! The commit hash: what a committer records with each block so that two
//! committers can show, block by block, that they decided and wrote the same.

use cellchain_core::bytes::Hash32;
use cellchain_core::protocol::{TxValidationCode, Version};
use sha2::{Digest, Sha256};

use crate::UpdateBatch;

/// Domain tag of the commit hash, as the signing tags of `cellchain-core`.
pub const COMMIT_HASH_TAG: &[u8] = b"cellchain/commit-hash/v1\0";

/// SHA-256 over a fixed binary layout, independent of JSON and of the platform.
/// Integers are big-endian; `str`/`bytes` are `u32 length || bytes`;
/// `opt<x>` is `0x00` or `0x01 || x`; `version` is `u64 block || u32 tx`;
/// `list<x>` is `u32 count || x...`; every update is framed as
/// `u32 length || record`:
///
/// ```text
/// COMMIT_HASH_TAG || previous (32 bytes) || block (u64)
/// || list<code (u8, the stable TxValidationCode number)>
/// || updates.block (u64)
/// || list<frame(write)>     write    = str namespace || str key || opt<bytes value> || version
/// || list<frame(metadata)>  metadata = str namespace || str key
///                                      || list<str name || bytes value> (name order) || version
/// || list<frame(hashed)>    hashed   = str namespace || str collection || key_hash (32)
///                                      || opt<value_hash (32)> || version
/// || list<frame(outcome)>   outcome  = tx_id (32) || u32 index || code (u8)
/// ```
pub fn commit_hash(
    previous: &Hash32,
    block: u64,
    codes: &[TxValidationCode],
    updates: &UpdateBatch,
) -> Hash32 {
    let mut h = Sha256::new();
    h.update(COMMIT_HASH_TAG);
    h.update(previous.0);
    h.update(block.to_be_bytes());
    h.update(count(codes.len()));
    h.update(codes.iter().map(|c| c.as_u8()).collect::<Vec<u8>>());
    h.update(updates.block.to_be_bytes());

    let mut rec = Vec::new();
    let frame = |h: &mut Sha256, rec: &mut Vec<u8>| {
        h.update(count(rec.len()));
        h.update(&rec);
        rec.clear();
    };

    h.update(count(updates.writes.len()));
    for w in &updates.writes {
        put_bytes(&mut rec, w.namespace.as_bytes());
        put_bytes(&mut rec, w.key.as_bytes());
        match &w.value {
            None => rec.push(0),
            Some(v) => {
                rec.push(1);
                put_bytes(&mut rec, v);
            }
        }
        put_version(&mut rec, &w.version);
        frame(&mut h, &mut rec);
    }

    h.update(count(updates.metadata.len()));
    for m in &updates.metadata {
        put_bytes(&mut rec, m.namespace.as_bytes());
        put_bytes(&mut rec, m.key.as_bytes());
        rec.extend_from_slice(&count(m.entries.len()));
        for (name, value) in &m.entries {
            put_bytes(&mut rec, name.as_bytes());
            put_bytes(&mut rec, value);
        }
        put_version(&mut rec, &m.version);
        frame(&mut h, &mut rec);
    }

    h.update(count(updates.hashed_writes.len()));
    for w in &updates.hashed_writes {
        put_bytes(&mut rec, w.namespace.as_bytes());
        put_bytes(&mut rec, w.collection.as_bytes());
        rec.extend_from_slice(&w.key_hash.0);
        match &w.value_hash {
            None => rec.push(0),
            Some(v) => {
                rec.push(1);
                rec.extend_from_slice(&v.0);
            }
        }
        put_version(&mut rec, &w.version);
        frame(&mut h, &mut rec);
    }

    h.update(count(updates.transactions.len()));
    for t in &updates.transactions {
        rec.extend_from_slice(&t.tx_id.0 .0);
        rec.extend_from_slice(&t.index.to_be_bytes());
        rec.push(t.code.as_u8());
        frame(&mut h, &mut rec);
    }
    Hash32(h.finalize().into())
}

/// A length or count as `u32` big-endian. Blocks are far below 4 GiB (the
/// orderer's byte limits); saturating keeps the function total.
fn count(n: usize) -> [u8; 4] {
    u32::try_from(n).unwrap_or(u32::MAX).to_be_bytes()
}

fn put_bytes(rec: &mut Vec<u8>, b: &[u8]) {
    rec.extend_from_slice(&count(b.len()));
    rec.extend_from_slice(b);
}

fn put_version(rec: &mut Vec<u8>, v: &Version) {
    rec.extend_from_slice(&v.block.to_be_bytes());
    rec.extend_from_slice(&v.tx.to_be_bytes());
}
