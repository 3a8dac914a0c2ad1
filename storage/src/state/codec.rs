//! The encodings of the state tree's values (the layout is in `keys`): fixed-width
//! big-endian fields, then the variable part. Decoding returns `None` for bytes
//! that do not fit, which the reader reports as a corrupt entry.

use std::collections::BTreeMap;

use cellchain_core::protocol::{TxId, TxValidationCode, Version};
use cellchain_core::Hash32;

use super::PrivateWrite;

/// A little cursor over an entry's bytes.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }
    fn hash(&mut self) -> Option<Hash32> {
        Some(Hash32(self.take(32)?.try_into().ok()?))
    }
    fn version(&mut self) -> Option<Version> {
        Some(Version {
            block: self.u64()?,
            tx: self.u32()?,
        })
    }
    fn string(&mut self) -> Option<String> {
        let n = self.u32()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }
    fn rest(self) -> &'a [u8] {
        self.0
    }
    fn end(self) -> Option<()> {
        self.0.is_empty().then_some(())
    }
}

fn push_version(out: &mut Vec<u8>, v: Version) {
    out.extend_from_slice(&v.block.to_be_bytes());
    out.extend_from_slice(&v.tx.to_be_bytes());
}

/// Public value: `block | tx | value`.
pub(crate) fn encode_value(version: Version, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(12 + value.len());
    push_version(&mut out, version);
    out.extend_from_slice(value);
    out
}

pub(crate) fn decode_value(bytes: &[u8]) -> Option<(Version, &[u8])> {
    let mut r = Reader(bytes);
    let v = r.version()?;
    Some((v, r.rest()))
}

/// Metadata: `count u32 | (len u32 | name | len u32 | value)*`, names in order.
pub(crate) fn encode_metadata(entries: &BTreeMap<String, Vec<u8>>) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(entries.len() as u32).to_be_bytes());
    for (name, value) in entries {
        out.extend_from_slice(&(name.len() as u32).to_be_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&(value.len() as u32).to_be_bytes());
        out.extend_from_slice(value);
    }
    out
}

pub(crate) fn decode_metadata(bytes: &[u8]) -> Option<BTreeMap<String, Vec<u8>>> {
    let mut r = Reader(bytes);
    let count = r.u32()?;
    let mut entries = BTreeMap::new();
    for _ in 0..count {
        let name = r.string()?;
        let n = r.u32()? as usize;
        entries.insert(name, r.take(n)?.to_vec());
    }
    r.end()?;
    Some(entries)
}

/// History entry: `tx id | is_delete u8 | value` (empty for a delete).
pub(crate) fn encode_history(tx_id: &TxId, value: Option<&[u8]>) -> Vec<u8> {
    let mut out = Vec::with_capacity(33 + value.map_or(0, <[u8]>::len));
    out.extend_from_slice(tx_id.0.as_bytes());
    out.push(u8::from(value.is_none()));
    out.extend_from_slice(value.unwrap_or_default());
    out
}

pub(crate) fn decode_history(bytes: &[u8]) -> Option<(TxId, Option<Vec<u8>>)> {
    let mut r = Reader(bytes);
    let tx_id = TxId(r.hash()?);
    let value = match r.u8()? {
        0 => Some(r.rest().to_vec()),
        1 => r.end().map(|_| None)?,
        _ => return None,
    };
    Some((tx_id, value))
}

/// Hashed private entry: `block | tx | value hash`.
pub(crate) fn encode_hashed(version: Version, value_hash: &Hash32) -> Vec<u8> {
    let mut out = Vec::with_capacity(44);
    push_version(&mut out, version);
    out.extend_from_slice(value_hash.as_bytes());
    out
}

pub(crate) fn decode_hashed(bytes: &[u8]) -> Option<(Version, Hash32)> {
    let mut r = Reader(bytes);
    let v = r.version()?;
    let h = r.hash()?;
    r.end()?;
    Some((v, h))
}

/// Private value: `block | tx | expiry | value`.
pub(crate) fn encode_private(version: Version, expiry: u64, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(20 + value.len());
    push_version(&mut out, version);
    out.extend_from_slice(&expiry.to_be_bytes());
    out.extend_from_slice(value);
    out
}

pub(crate) fn decode_private(bytes: &[u8]) -> Option<(Version, u64, &[u8])> {
    let mut r = Reader(bytes);
    let v = r.version()?;
    let expiry = r.u64()?;
    Some((v, expiry, r.rest()))
}

fn push_string(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// Staged private writes: `count u32`, then per write `len u32 | namespace | len
/// u32 | collection | len u32 | key | 0 (deleted) or 1 | (len u64 | value if 1) |
/// block u64 | tx u32 | block_to_live u64`, in the order given.
pub(crate) fn encode_staged(writes: &[PrivateWrite]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(writes.len() as u32).to_be_bytes());
    for w in writes {
        push_string(&mut out, &w.namespace);
        push_string(&mut out, &w.collection);
        push_string(&mut out, &w.key);
        match &w.value {
            None => out.push(0),
            Some(value) => {
                out.push(1);
                out.extend_from_slice(&(value.len() as u64).to_be_bytes());
                out.extend_from_slice(value);
            }
        }
        push_version(&mut out, w.version);
        out.extend_from_slice(&w.block_to_live.to_be_bytes());
    }
    out
}

pub(crate) fn decode_staged(bytes: &[u8]) -> Option<Vec<PrivateWrite>> {
    let mut r = Reader(bytes);
    let count = r.u32()?;
    // Not `with_capacity(count)`: a damaged count must not allocate for it.
    let mut writes = Vec::new();
    for _ in 0..count {
        let namespace = r.string()?;
        let collection = r.string()?;
        let key = r.string()?;
        let value = match r.u8()? {
            0 => None,
            1 => {
                let n = usize::try_from(r.u64()?).ok()?;
                Some(r.take(n)?.to_vec())
            }
            _ => return None,
        };
        let version = r.version()?;
        let block_to_live = r.u64()?;
        writes.push(PrivateWrite {
            namespace,
            collection,
            key,
            value,
            version,
            block_to_live,
        });
    }
    r.end()?;
    Some(writes)
}

/// Tx-id index entry: `block | index u32 | code u8`.
pub(crate) fn encode_tx(block: u64, index: u32, code: TxValidationCode) -> Vec<u8> {
    let mut out = Vec::with_capacity(13);
    out.extend_from_slice(&block.to_be_bytes());
    out.extend_from_slice(&index.to_be_bytes());
    out.push(code.as_u8());
    out
}

pub(crate) fn decode_tx(bytes: &[u8]) -> Option<(u64, u32, TxValidationCode)> {
    let mut r = Reader(bytes);
    let block = r.u64()?;
    let index = r.u32()?;
    let code = TxValidationCode::from_u8(r.u8()?)?;
    r.end()?;
    Some((block, index, code))
}

/// Savepoint: `height | 0 or 1 | commit hash if 1`.
pub(crate) fn encode_savepoint(height: u64, commit_hash: Option<&Hash32>) -> Vec<u8> {
    let mut out = Vec::with_capacity(41);
    out.extend_from_slice(&height.to_be_bytes());
    match commit_hash {
        Some(h) => {
            out.push(1);
            out.extend_from_slice(h.as_bytes());
        }
        None => out.push(0),
    }
    out
}

pub(crate) fn decode_savepoint(bytes: &[u8]) -> Option<(u64, Option<Hash32>)> {
    let mut r = Reader(bytes);
    let height = r.u64()?;
    let hash = match r.u8()? {
        0 => None,
        1 => Some(r.hash()?),
        _ => return None,
    };
    r.end()?;
    Some((height, hash))
}

pub(crate) fn decode_format(bytes: &[u8]) -> Option<u32> {
    let mut r = Reader(bytes);
    let v = r.u32()?;
    r.end()?;
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip() {
        let v = Version { block: 7, tx: 3 };
        assert_eq!(decode_value(&encode_value(v, b"x")), Some((v, &b"x"[..])));
        let meta = BTreeMap::from([("A".to_string(), vec![1, 2]), ("B".to_string(), vec![])]);
        assert_eq!(decode_metadata(&encode_metadata(&meta)), Some(meta));
        let id = TxId(Hash32([9; 32]));
        assert_eq!(decode_history(&encode_history(&id, None)), Some((id, None)));
        assert_eq!(
            decode_history(&encode_history(&id, Some(b""))),
            Some((id, Some(vec![])))
        );
        let h = Hash32([4; 32]);
        assert_eq!(decode_hashed(&encode_hashed(v, &h)), Some((v, h)));
        assert_eq!(
            decode_private(&encode_private(v, 12, b"p")),
            Some((v, 12, &b"p"[..]))
        );
        let code = TxValidationCode::MvccReadConflict;
        assert_eq!(decode_tx(&encode_tx(5, 2, code)), Some((5, 2, code)));
        assert_eq!(
            decode_savepoint(&encode_savepoint(3, Some(&h))),
            Some((3, Some(h)))
        );
        assert_eq!(
            decode_savepoint(&encode_savepoint(0, None)),
            Some((0, None))
        );
    }

    fn staged_writes() -> Vec<PrivateWrite> {
        vec![
            PrivateWrite {
                namespace: "cc".into(),
                collection: "coll".into(),
                key: "\u{0}composite\u{0}é\u{0}".into(),
                value: Some(b"secret".to_vec()),
                version: Version { block: 7, tx: 3 },
                block_to_live: 2,
            },
            PrivateWrite {
                namespace: "cc".into(),
                collection: "".into(),
                key: "deleted".into(),
                value: None,
                version: Version { block: 7, tx: 4 },
                block_to_live: 0,
            },
            PrivateWrite {
                namespace: "".into(),
                collection: "c".into(),
                key: "".into(),
                value: Some(Vec::new()),
                version: Version {
                    block: u64::MAX,
                    tx: u32::MAX,
                },
                block_to_live: u64::MAX,
            },
        ]
    }

    #[test]
    fn staged_writes_round_trip() {
        let writes = staged_writes();
        assert_eq!(decode_staged(&encode_staged(&writes)), Some(writes));
        assert_eq!(decode_staged(&encode_staged(&[])), Some(vec![]));
        // An empty value and a delete are told apart.
        let bytes = encode_staged(&staged_writes()[1..2]);
        assert_eq!(decode_staged(&bytes).unwrap()[0].value, None);
    }

    #[test]
    fn damaged_staged_writes_do_not_decode() {
        let bytes = encode_staged(&staged_writes());
        // Every truncation, and trailing bytes.
        for len in 0..bytes.len() {
            assert_eq!(decode_staged(&bytes[..len]), None, "truncated to {len}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(decode_staged(&longer), None);
        // A count larger than the entries.
        let mut more = bytes.clone();
        more[3] += 1;
        assert_eq!(decode_staged(&more), None);
        // A value flag that is neither 0 nor 1 (after count and three names).
        let flag = 4 + (4 + 2) + (4 + 4) + (4 + "\u{0}composite\u{0}é\u{0}".len());
        assert_eq!(bytes[flag], 1);
        let mut bad = bytes.clone();
        bad[flag] = 2;
        assert_eq!(decode_staged(&bad), None);
        // A name that is not UTF-8.
        let mut bad = bytes.clone();
        bad[4 + 4] = 0xFF;
        assert_eq!(decode_staged(&bad), None);
        // A value length past the end, however large.
        let mut bad = bytes;
        bad[flag + 1..flag + 9].copy_from_slice(&u64::MAX.to_be_bytes());
        assert_eq!(decode_staged(&bad), None);
    }
}
