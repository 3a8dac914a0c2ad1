//! The key layout of the state tree. Everything lives in one sled tree so that one
//! `apply_batch` covers it all; a one-byte tag says what an entry is.
//!
//! ```text
//! s | ns        | key                        -> block u64 | tx u32 | value
//! m | ns        | key                        -> metadata entries (see codec)
//! h | ns        | len(key) key | block | tx  -> tx id (32) | is_delete u8 | value
//! p | ns | coll | key hash (32)              -> block | tx | value hash (32)
//! v | ns | coll | key                        -> block | tx | expiry u64 | value
//! k | ns | coll | key hash (32)              -> key (UTF-8): index of `v` by key hash
//! x | expiry    | ns | coll | key            -> (empty): purge index
//! q | block u64                              -> staged private writes (see codec)
//! t | tx id (32)                             -> block | index u32 | code u8
//! #savepoint                                 -> height u64 | 0 or 1 | commit hash (32)?
//! #format                                    -> u32 format version (2; 1 had no `k`)
//! ```
//!
//! `ns` and `coll` are written as a u32 big-endian length then the UTF-8 bytes, so
//! no name is a prefix of another's encoding whatever characters it holds. A
//! public or private key comes last as its raw UTF-8 bytes: within one namespace
//! the byte order of UTF-8 is the code-point order of the keys, so composite keys
//! (which start and are separated by U+0000) sort before simple keys exactly as in
//! Fabric, and a range `[start, end)` is one contiguous scan. History keys need the
//! key's length too, because the version follows it (key `a` must not see the
//! entries of key `a\0b`). Integers are big-endian so that they sort numerically.
//!
//! A `k` entry exists exactly while its `v` entry does: `apply` writes and removes
//! both in the same batch (write, delete, purge), so a member can find the value
//! of a key it knows only by hash (`sha256(key)`, as blocks carry it). A `q` entry
//! holds the private writes staged for a block not yet applied
//! (`StateStore::stage_private`); the apply of that block removes it. No read but
//! `staged_private` looks at `q` entries.

use cellchain_core::bytes::sha256;

/// Tags of the entry kinds.
pub(crate) const STATE: u8 = b's';
pub(crate) const METADATA: u8 = b'm';
pub(crate) const HISTORY: u8 = b'h';
pub(crate) const HASHED: u8 = b'p';
pub(crate) const PRIVATE: u8 = b'v';
pub(crate) const PURGE: u8 = b'x';
pub(crate) const PRIVATE_INDEX: u8 = b'k';
pub(crate) const STAGED: u8 = b'q';
pub(crate) const TX: u8 = b't';

pub(crate) const SAVEPOINT: &[u8] = b"#savepoint";
pub(crate) const FORMAT: &[u8] = b"#format";

/// Appends a length-prefixed name.
fn push_name(out: &mut Vec<u8>, name: &str) {
    out.extend_from_slice(&(name.len() as u32).to_be_bytes());
    out.extend_from_slice(name.as_bytes());
}

/// `tag | ns`: the prefix of every entry of one kind in one namespace.
pub(crate) fn ns_prefix(tag: u8, ns: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + ns.len());
    out.push(tag);
    push_name(&mut out, ns);
    out
}

/// `tag | ns | coll`.
pub(crate) fn coll_prefix(tag: u8, ns: &str, coll: &str) -> Vec<u8> {
    let mut out = ns_prefix(tag, ns);
    push_name(&mut out, coll);
    out
}

pub(crate) fn state(ns: &str, key: &str) -> Vec<u8> {
    let mut out = ns_prefix(STATE, ns);
    out.extend_from_slice(key.as_bytes());
    out
}

pub(crate) fn metadata(ns: &str, key: &str) -> Vec<u8> {
    let mut out = ns_prefix(METADATA, ns);
    out.extend_from_slice(key.as_bytes());
    out
}

/// `h | ns | len(key) key`: the prefix of one key's history.
pub(crate) fn history_prefix(ns: &str, key: &str) -> Vec<u8> {
    let mut out = ns_prefix(HISTORY, ns);
    push_name(&mut out, key);
    out
}

pub(crate) fn history(ns: &str, key: &str, block: u64, tx: u32) -> Vec<u8> {
    let mut out = history_prefix(ns, key);
    out.extend_from_slice(&block.to_be_bytes());
    out.extend_from_slice(&tx.to_be_bytes());
    out
}

pub(crate) fn hashed(ns: &str, coll: &str, key_hash: &[u8; 32]) -> Vec<u8> {
    let mut out = coll_prefix(HASHED, ns, coll);
    out.extend_from_slice(key_hash);
    out
}

pub(crate) fn private(ns: &str, coll: &str, key: &str) -> Vec<u8> {
    let mut out = coll_prefix(PRIVATE, ns, coll);
    out.extend_from_slice(key.as_bytes());
    out
}

/// `k | ns | coll | key hash`: the index entry of the private values of a key.
pub(crate) fn private_index(ns: &str, coll: &str, key_hash: &[u8; 32]) -> Vec<u8> {
    let mut out = coll_prefix(PRIVATE_INDEX, ns, coll);
    out.extend_from_slice(key_hash);
    out
}

/// The index key (`k | ns | coll | sha256(key)`) of a private-value key (`v | ns |
/// coll | key`), and the key's bytes; `None` if `private_key` is not one.
pub(crate) fn index_of_private(private_key: &[u8]) -> Option<(Vec<u8>, &[u8])> {
    if private_key.first() != Some(&PRIVATE) {
        return None;
    }
    let mut at = 1;
    for _ in 0..2 {
        let len = u32::from_be_bytes(private_key.get(at..at + 4)?.try_into().ok()?) as usize;
        at = at.checked_add(4)?.checked_add(len)?;
        if at > private_key.len() {
            return None;
        }
    }
    let key = &private_key[at..];
    let mut out = Vec::with_capacity(at + 32);
    out.push(PRIVATE_INDEX);
    out.extend_from_slice(&private_key[1..at]);
    out.extend_from_slice(sha256(key).as_bytes());
    Some((out, key))
}

/// `q | block`: the private writes staged for `block`.
pub(crate) fn staged(block: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(9);
    out.push(STAGED);
    out.extend_from_slice(&block.to_be_bytes());
    out
}

/// `x | expiry | ns | coll | key`. The private key's own entry is this without the
/// expiry, under the `v` tag: see [`purge_target`].
pub(crate) fn purge(expiry: u64, ns: &str, coll: &str, key: &str) -> Vec<u8> {
    let target = private(ns, coll, key);
    let mut out = Vec::with_capacity(8 + target.len());
    out.push(PURGE);
    out.extend_from_slice(&expiry.to_be_bytes());
    out.extend_from_slice(&target[1..]);
    out
}

/// The expiry and the private-value key that a purge-index key points at.
pub(crate) fn purge_target(purge_key: &[u8]) -> Option<(u64, Vec<u8>)> {
    let expiry = u64::from_be_bytes(purge_key.get(1..9)?.try_into().ok()?);
    let mut target = vec![PRIVATE];
    target.extend_from_slice(&purge_key[9..]);
    Some((expiry, target))
}

pub(crate) fn tx(tx_id: &[u8; 32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(33);
    out.push(TX);
    out.extend_from_slice(tx_id);
    out
}

/// The smallest byte string greater than every string starting with `prefix`
/// (`None` when there is none: a prefix of only 0xFF bytes).
pub(crate) fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xFF {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composite_keys_sort_before_simple_keys_within_a_namespace() {
        let composite = state("cc", "\u{0}asset\u{0}1\u{0}");
        let simple = state("cc", "a");
        assert!(composite < simple);
        // A namespace that is a prefix of another does not interleave with it.
        assert!(!state("ccx", "").starts_with(&ns_prefix(STATE, "cc")));
    }

    #[test]
    fn history_of_a_key_does_not_include_longer_keys() {
        let prefix = history_prefix("cc", "a");
        assert!(!history("cc", "a\u{0}b", 1, 0).starts_with(&prefix));
        assert!(history("cc", "a", 1, 0).starts_with(&prefix));
    }

    #[test]
    fn purge_key_points_at_the_private_key() {
        let p = purge(42, "cc", "coll", "k\u{0}1");
        assert_eq!(
            purge_target(&p),
            Some((42, private("cc", "coll", "k\u{0}1")))
        );
    }

    #[test]
    fn index_key_of_a_private_key_hashes_the_key() {
        let key = "k\u{0}1";
        let p = private("cc", "coll", key);
        let (index, plain) = index_of_private(&p).unwrap();
        assert_eq!(
            index,
            private_index("cc", "coll", sha256(key.as_bytes()).as_bytes())
        );
        assert_eq!(plain, key.as_bytes());
        // The names are length-prefixed, so a key with a name's shape is only a key.
        let p = private("c", "", "coll");
        let (index, plain) = index_of_private(&p).unwrap();
        assert_eq!(index, private_index("c", "", sha256(b"coll").as_bytes()));
        assert_eq!(plain, b"coll");
        // Not a private key, or a truncated one.
        assert_eq!(index_of_private(&state("cc", "k")), None);
        let p = private("cc", "coll", "");
        assert_eq!(index_of_private(&p[..p.len() - 1]), None);
        assert_eq!(index_of_private(&[PRIVATE, 0, 0, 0]), None);
        assert_eq!(index_of_private(&[PRIVATE, 0xFF, 0xFF, 0xFF, 0xFF]), None);
    }

    #[test]
    fn staged_keys_sort_by_block() {
        assert!(staged(1) < staged(2));
        assert!(staged(255) < staged(256));
    }

    #[test]
    fn prefix_end_bounds_the_prefix() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(&[1, 0xFF]), Some(vec![2]));
        assert_eq!(prefix_end(&[0xFF]), None);
    }
}
